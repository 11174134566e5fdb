// Which partitions of an internal topic (`__consumer_offsets`, `__transaction_state`) this broker
// leads now, and the reconciliation both coordinator drivers make after every metadata image: a
// partition whose leadership was lost, or whose replica or leader epoch changed, is unloaded; a newly
// led one starts loading. The drivers differ only in what loading and unloading do.
//
// A broker without the leader lease leads nothing here: a coordinator cut off from the quorum
// would otherwise go on answering OffsetFetch and commits from its memory while a new leader of
// the same partition, on the majority side, takes commits it never sees (committed offsets would
// go backwards for a client that asks the old one). The drivers reconcile again when the lease
// lapses and when it is held again, so they unload at the lapse and reload from the log after.

import type { TopicImage } from '@gregor/metadata';
import type { Partition } from './partition.js';
import type { ReplicaManager } from './replica-manager.js';

/** A partition a coordinator owns: the replica it leads and the leader epoch it loaded in. */
export interface LedPartition {
  readonly partition: Partition;
  readonly leaderEpoch: number;
}

export interface LedPartitionsReconciliation<Owned extends LedPartition> {
  readonly owned: ReadonlyMap<number, Owned>;
  unload(partitionIndex: number, why: string): void;
  startLoad(partitionIndex: number, partition: Partition): void;
}

/**
 * The partitions of `topic` this broker leads (the image says so, its replica is leader, and it
 * holds the leader lease).
 */
export function ledPartitions(
  topic: TopicImage | undefined,
  replicaManager: ReplicaManager,
  brokerId: number,
): Map<number, Partition> {
  const leading = new Map<number, Partition>();
  if (!replicaManager.leaseHeld()) return leading;
  topic?.partitions.forEach((state, index) => {
    const local = replicaManager.partition(topic.name, index);
    if (state.leader === brokerId && local !== undefined && local.role === 'leader') {
      leading.set(index, local);
    }
  });
  return leading;
}

/** Unloads what is no longer led as it was loaded, then starts loading what is newly led. */
export function reconcileLedPartitions<Owned extends LedPartition>(
  leading: ReadonlyMap<number, Partition>,
  coordinator: LedPartitionsReconciliation<Owned>,
): void {
  for (const [partitionIndex, owned] of [...coordinator.owned]) {
    const local = leading.get(partitionIndex);
    if (local !== owned.partition || local.leaderEpoch !== owned.leaderEpoch) {
      coordinator.unload(partitionIndex, local === undefined ? 'leadership lost' : 'new leader epoch');
    }
  }
  for (const [partitionIndex, local] of leading) {
    if (!coordinator.owned.has(partitionIndex)) coordinator.startLoad(partitionIndex, local);
  }
}

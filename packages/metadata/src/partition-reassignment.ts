// Partition reassignment decisions (KIP-455; Kafka's PartitionReassignmentReplicas and
// PartitionReassignmentRevert), as pure functions of one partition's state. A reassignment moves a
// partition from its replicas to a target set in three steps, each one PartitionChangeRecord:
//   1. start: the replica set becomes target ∪ current (target first, so elections prefer it), with
//      `addingReplicas` = target − current and `removingReplicas` = current − target; ISR and leader
//      stay. The added replicas start fetching and the leader brings them into the ISR as they catch
//      up (AlterPartition), as for any follower.
//   2. complete, on the first change after which every added replica is in the ISR: the replica set
//      becomes the target, the ISR loses the removed replicas, and a removed leader hands over to an
//      in-sync target replica. The removed replicas see they are no longer replicas and delete their
//      partition directory.
//   3. or cancel: back to the replicas before step 1 (minus the added ones, in and out of the ISR).
// Safety beyond Kafka's own rule (never an empty ISR): a reassignment completes only when the new
// ISR keeps min(min.insync.replicas, target size) members and has an eligible leader, so a move never
// leaves a partition with fewer caught-up replicas than acks=all producers were promised.

import { isReassigning, type MetadataView, type PartitionState } from './image.js';
import { electLeader, type IsActive } from './partition-election.js';
import { type BrokerId, noLeader, type PartitionChangeRecord, type TopicId } from './records.js';

/** The replica fields of a partition a reassignment step sets. */
export interface ReplicaSetState {
  readonly replicas: readonly BrokerId[];
  readonly isr: readonly BrokerId[];
  readonly leader: BrokerId;
  readonly addingReplicas: readonly BrokerId[];
  readonly removingReplicas: readonly BrokerId[];
}

function stateOf(partition: PartitionState): ReplicaSetState {
  const { replicas, isr, leader, addingReplicas, removingReplicas } = partition;
  return { replicas, isr, leader, addingReplicas, removingReplicas };
}

/**
 * Step 1: the partition moving to `target` (distinct brokers, checked by the caller). A target that
 * replaces a reassignment in progress starts from the current replica set, as Kafka's controller
 * does: added replicas the new target drops are removed again.
 */
export function startReassignment(current: PartitionState, target: readonly BrokerId[]): ReplicaSetState {
  const adding = target.filter((id) => !current.replicas.includes(id));
  const removing = current.replicas.filter((id) => !target.includes(id));
  return {
    ...stateOf(current),
    replicas: [...target, ...removing],
    addingReplicas: adding,
    removingReplicas: removing,
  };
}

/**
 * Step 2, when it may happen: `state` after its latest change, with the partition's
 * min.insync.replicas. Null while an added replica is not in the ISR yet, or when completing would
 * leave the ISR below min(minInsyncReplicas, target size) or without an eligible leader.
 */
export function completeReassignmentIfCaughtUp(
  state: ReplicaSetState,
  minInsyncReplicas: number,
  isEligible: IsActive,
): ReplicaSetState | null {
  if (state.addingReplicas.length === 0 && state.removingReplicas.length === 0) return null;
  if (!state.addingReplicas.every((id) => state.isr.includes(id))) return null;
  const target = state.replicas.filter((id) => !state.removingReplicas.includes(id));
  const isr = state.isr.filter((id) => target.includes(id));
  if (isr.length === 0 || isr.length < Math.min(minInsyncReplicas, target.length)) return null;
  const leader = target.includes(state.leader)
    ? state.leader
    : (target.find((id) => isr.includes(id) && isEligible(id)) ?? noLeader);
  if (leader === noLeader) return null;
  return { replicas: target, isr, leader, addingReplicas: [], removingReplicas: [] };
}

/**
 * Step 3: back to the replicas before the reassignment (in the order of the current list, as
 * Kafka's PartitionReassignmentRevert keeps it: [3, 2, 1] adding 3 reverts to [2, 1]), or null when no ISR member would be left
 * (every original replica fell out of the ISR: reverting would take an unclean election). A leader
 * that was being added hands over to an original ISR member; none eligible leaves it offline.
 */
export function revertReassignment(current: PartitionState, isEligible: IsActive): ReplicaSetState | null {
  const original = current.replicas.filter((id) => !current.addingReplicas.includes(id));
  const isr = current.isr.filter((id) => original.includes(id));
  if (isr.length === 0) return null;
  const kept = { ...stateOf(current), replicas: original, isr };
  const { leader } = electLeader({ ...current, replicas: original }, isr, isEligible, false);
  return { ...kept, leader, addingReplicas: [], removingReplicas: [] };
}

function sameList(a: readonly BrokerId[], b: readonly BrokerId[]): boolean {
  return a.length === b.length && a.every((id, index) => b[index] === id);
}

function sameMembers(a: readonly BrokerId[], b: readonly BrokerId[]): boolean {
  return a.length === b.length && a.every((id) => b.includes(id));
}

/** The change record taking `current` to `next` (replica fields included), or null if none. */
export function replicaSetChange(
  topicId: TopicId,
  partitionIndex: number,
  current: PartitionState,
  next: ReplicaSetState,
): PartitionChangeRecord | null {
  const leader = next.leader === current.leader ? null : next.leader;
  const isr = sameMembers(next.isr, current.isr) ? null : [...next.isr];
  const replicas = sameList(next.replicas, current.replicas) ? null : [...next.replicas];
  const addingReplicas = sameList(next.addingReplicas, current.addingReplicas)
    ? null
    : [...next.addingReplicas];
  const removingReplicas = sameList(next.removingReplicas, current.removingReplicas)
    ? null
    : [...next.removingReplicas];
  if (
    leader === null &&
    isr === null &&
    replicas === null &&
    addingReplicas === null &&
    removingReplicas === null
  )
    return null;
  return {
    type: 'partitionChange',
    topicId,
    partitionIndex,
    leader,
    isr,
    ...(replicas === null && addingReplicas === null && removingReplicas === null
      ? {}
      : { replicas, addingReplicas, removingReplicas }),
  };
}

/** One partition's reassignment as ListPartitionReassignments reports it. */
export interface OngoingReassignment {
  readonly topicName: string;
  readonly partitionIndex: number;
  readonly replicas: readonly BrokerId[];
  readonly addingReplicas: readonly BrokerId[];
  readonly removingReplicas: readonly BrokerId[];
}

/** A topic and the partitions of it to list; null partitions: all of them. */
export interface ReassignmentListing {
  readonly topicName: string;
  readonly partitionIndexes: readonly number[] | null;
}

/**
 * ListPartitionReassignments (Kafka's ReplicationControlManager.listPartitionReassignments): the
 * reassignments in progress, of every partition (`topics` null) or of the ones named. Topics and
 * partitions that do not exist, or are not being reassigned, are left out, as Kafka leaves them out.
 */
export function listPartitionReassignments(
  image: MetadataView,
  topics: readonly ReassignmentListing[] | null,
): OngoingReassignment[] {
  const listings =
    topics ?? [...image.topicNames()].sort().map((topicName) => ({ topicName, partitionIndexes: null }));
  const ongoing: OngoingReassignment[] = [];
  for (const { topicName, partitionIndexes } of listings) {
    const topic = image.topic(topicName);
    if (topic === undefined) continue;
    const indexes = partitionIndexes ?? topic.partitions.map((_, index) => index);
    for (const partitionIndex of new Set(indexes)) {
      const partition = topic.partitions[partitionIndex];
      if (partition === undefined || !isReassigning(partition)) continue;
      const { replicas, addingReplicas, removingReplicas } = partition;
      ongoing.push({ topicName, partitionIndex, replicas, addingReplicas, removingReplicas });
    }
  }
  return ongoing;
}

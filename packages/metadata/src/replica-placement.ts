// Replica placement without racks, as Kafka's `AdminUtils.assignReplicasToBrokersRackUnaware`:
// partition p's first replica (its preferred leader) is broker (p + start) mod n, so leaders go round
// robin; the followers are shifted by a per-round offset so that losing one broker spreads its
// followers' load across the others instead of doubling it on one neighbour.

import type { Random } from '@gregor/ground';
import { invariant } from '@gregor/ground';
import type { BrokerId } from './records.js';

export interface PlacementRequest {
  /** Live brokers, each once; sorted here so placement does not depend on map order. */
  readonly brokerIds: readonly BrokerId[];
  readonly partitionCount: number;
  readonly replicationFactor: number;
  /** Index of the first partition to place (the current count when adding partitions). */
  readonly firstPartitionIndex: number;
  /** Where to start in the sorted broker list; null picks at random (Kafka's `fixedStartIndex` -1). */
  readonly fixedStartIndex: number | null;
}

/** The replica list of each new partition, in partition order. */
export function assignReplicas(request: PlacementRequest, random: Random): BrokerId[][] {
  const brokers = [...request.brokerIds].sort((a, b) => a - b);
  const brokerCount = brokers.length;
  const { partitionCount, replicationFactor, firstPartitionIndex, fixedStartIndex } = request;
  invariant(new Set(brokers).size === brokerCount, 'placement brokers repeat');
  invariant(
    replicationFactor >= 1 && replicationFactor <= brokerCount,
    () => `replication factor ${replicationFactor} with ${brokerCount} live broker(s)`,
  );
  invariant(partitionCount >= 0 && firstPartitionIndex >= 0, 'placement counts are not negative');
  const startIndex = fixedStartIndex ?? random.nextInt(brokerCount);
  let replicaShift = fixedStartIndex ?? random.nextInt(brokerCount);
  const assignment: BrokerId[][] = [];
  for (let partition = firstPartitionIndex; partition < firstPartitionIndex + partitionCount; partition++) {
    if (partition > 0 && partition % brokerCount === 0) replicaShift += 1;
    const firstReplicaIndex = (partition + startIndex) % brokerCount;
    const replicas = [brokers[firstReplicaIndex]!];
    for (let j = 0; j < replicationFactor - 1; j++) {
      const shift = 1 + ((replicaShift + j) % (brokerCount - 1));
      replicas.push(brokers[(firstReplicaIndex + shift) % brokerCount]!);
    }
    assignment.push(replicas);
  }
  return assignment;
}

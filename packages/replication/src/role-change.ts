// A partition's role change as the metadata image asks for it (Kafka's makeLeader / makeFollower).
// A new leader's epoch is assigned at its log end and made durable in the leader-epoch checkpoint
// before the Partition leads, so no record of that epoch can be appended while a crash could still
// forget where the epoch starts.

import type { Partition, PartitionRegistration } from './partition.js';

export async function changeRole(
  partition: Partition,
  state: PartitionRegistration,
  nowMs: number,
  persistEpochCache: () => Promise<void>,
): Promise<void> {
  if (state.leader === partition.localBrokerId) {
    if (partition.role !== 'leader' || partition.leaderEpoch !== state.leaderEpoch) {
      partition.epochCache.assign(state.leaderEpoch, partition.logEndOffset);
      await persistEpochCache();
    }
    partition.makeLeader(state, nowMs);
  } else {
    partition.makeFollower(state);
  }
}

// The pure replication core, for code outside the broker that runs it without the broker's I/O
// (packages/sim drives it over an in-memory log, a simulated network and a simulated clock).
// Exported as `@gregor/broker/replica-core`; nothing here touches a disk, a socket or the clock.

export { divergingEpoch, followerTruncationOffset } from './divergence.js';
export {
  type EpochEndOffset,
  type EpochEntry,
  LeaderEpochCache,
  undefinedEpoch,
  undefinedEpochOffset,
} from './leader-epoch-cache.js';
export {
  Partition,
  type PartitionLogView,
  type PartitionOptions,
  type PartitionRegistration,
  type PartitionRole,
  type PendingIsrChange,
} from './partition.js';

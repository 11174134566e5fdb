export {
  DEFAULT_LIMITS,
  FAST_FAILOVER_TIMEOUTS,
  KRAFT_DEFAULT_TIMEOUTS,
  makeRaftConfig,
  type RaftConfig,
  type RaftConfigInput,
  type RaftLimits,
  type RaftTimeouts,
} from './core/config.js';
export { InvariantError, invariant } from './core/invariant.js';
export type { EpochEnd } from './core/log.js';
export type {
  BeginQuorumEpoch,
  FetchError,
  FetchRequest,
  FetchResponse,
  FetchSnapshotRequest,
  FetchSnapshotResponse,
  RaftMessage,
  VoteRequest,
  VoteResponse,
} from './core/messages.js';
export {
  type Advanced,
  type CreateSnapshotResult,
  type MessageRejection,
  type OutboundMessage,
  type ProposeResult,
  RaftNode,
  type RaftNodeOptions,
  type RaftStatus,
  type Ready,
  type StepOutcome,
} from './core/node.js';
export type { Random } from './core/random.js';
export type { Role } from './core/roles.js';
export {
  EMPTY_SNAPSHOT_ID,
  type EntryType,
  type HardState,
  type LogEntry,
  type PersistedState,
  type Snapshot,
  type SnapshotId,
} from './core/types.js';
export {
  parseQuorumVoters,
  type QuorumVoter,
  type QuorumVotersParseError,
  type QuorumVotersParseResult,
} from './core/voters.js';
export { LevelRaftStore, RaftStoreCorruptionError } from './storage/level-raft-store.js';
export type { RaftStore } from './storage/raft-store.js';

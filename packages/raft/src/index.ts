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
  type QuorumDescription,
  type QuorumReplicaState,
  RaftNode,
  type RaftNodeOptions,
  type RaftStatus,
  type Ready,
  type StepOutcome,
} from './core/node.js';
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
export {
  type CreateRaftDriverOptions,
  createRaftDriver,
  OWNED_SERVER_SHUTDOWN_GRACE_MS,
} from './create-raft-driver.js';
export {
  NotLeaderError,
  type ProposalError,
  ProposalLostError,
  ProposalOutcomeUnknownError,
  ProposalTimeoutError,
  ProposalTooLargeError,
  RaftDriverClosedError,
  RaftOverloadedError,
} from './driver/errors.js';
export { InMemoryRaftNetwork, type RaftMessageReceiver } from './driver/in-memory-transport.js';
export {
  type CommittedProposal,
  DEFAULT_SNAPSHOT_POLICY,
  type LeaderChange,
  type LeaderChangeListener,
  PROPOSAL_TIMEOUT_MS_DEFAULT,
  type ProposeOptions,
  RaftDriver,
  type RaftDriverOptions,
  raftConfigFor,
  type SnapshotPolicy,
} from './driver/raft-driver.js';
export { REFUSAL_LOG_INTERVAL_MS, REFUSAL_LOG_KEYS_MAX } from './driver/refusal-log.js';
export {
  type RaftInboundRefusal,
  type RaftInboundVerdict,
  type RaftLogger,
  type RaftStateMachine,
  type RaftTransport,
  type StateMachineSnapshot,
  silentLogger,
} from './driver/types.js';
export { findRaftProtoPath, RAFT_PROTO_FILE } from './grpc/proto-path.js';
export { decodeRaftEnvelope, encodeRaftEnvelope, type WireEnvelope } from './grpc/raft-codec.js';
export {
  grpcTarget,
  type PeerSendStats,
  RAFT_GRPC_TRANSPORT_DEFAULTS,
  RaftGrpcTransport,
  type RaftGrpcTransportOptions,
} from './grpc/raft-grpc-transport.js';
export {
  loadRaftQuorumDefinition,
  type RaftMessageHandler,
  type RaftQuorumDefinition,
  type RaftServiceOptions,
  registerRaftService,
  unregisterRaftService,
} from './grpc/raft-service.js';
export {
  LevelRaftStore,
  RaftStoreCorruptionError,
  RaftStoreLockedError,
  RaftStoreNotFoundError,
} from './storage/level-raft-store.js';
export type { RaftStore } from './storage/raft-store.js';

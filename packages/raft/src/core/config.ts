import { invariant } from '@gregor/ground';

/**
 * Timing and limits of one Raft node. Timeouts follow KRaft's names and defaults
 * (controller.quorum.election.timeout.ms = 1000, controller.quorum.fetch.timeout.ms = 2000); see the
 * README for the faster values recommended to meet the "commit within 2 s of a leader kill" aim.
 */
export interface RaftTimeouts {
  /** An unattached voter or a failed candidate waits a random time in [T, 2T) before campaigning. */
  readonly electionTimeoutMs: number;
  /** A follower that has not fetched from its leader for this long starts a pre-vote. */
  readonly fetchTimeoutMs: number;
  /** The leader parks a fetch that has nothing new for at most this long (long poll). */
  readonly fetchMaxWaitMs: number;
  /** A request without a response after this long is sent again (messages may be lost). */
  readonly requestTimeoutMs: number;
  /** A candidate that learns it lost waits a random time in [0, this) before trying again. */
  readonly electionBackoffMaxMs: number;
}

export interface RaftLimits {
  /** Entries in one fetch response. */
  readonly fetchEntriesMax: number;
  /** Payload bytes in one fetch response (at least one entry is always sent, as KIP-74). */
  readonly fetchBytesMax: number;
  /** Bytes in one FetchSnapshot chunk. */
  readonly snapshotChunkBytesMax: number;
  /** Bytes of one proposed payload. */
  readonly proposalBytesMax: number;
  /** Entries the leader holds above the high watermark before it refuses proposals. */
  readonly uncommittedEntriesMax: number;
  /** Messages waiting for the driver; beyond it new messages are dropped (Raft tolerates loss). */
  readonly outboxMessagesMax: number;
  /** Committed entries handed to the driver per advance(). */
  readonly applyEntriesMax: number;
}

export interface RaftConfig extends RaftTimeouts, RaftLimits {
  readonly nodeId: number;
  readonly clusterId: string;
  /** The static voter set (controller.quorum.voters), including nodeId. */
  readonly voterIds: readonly number[];
}

export const KRAFT_DEFAULT_TIMEOUTS: RaftTimeouts = Object.freeze({
  electionTimeoutMs: 1000,
  fetchTimeoutMs: 2000,
  fetchMaxWaitMs: 500,
  requestTimeoutMs: 1000,
  electionBackoffMaxMs: 1000,
});

/** Recommended for Gregor: a killed leader is replaced and committing well within 2 s (see README). */
export const FAST_FAILOVER_TIMEOUTS: RaftTimeouts = Object.freeze({
  electionTimeoutMs: 500,
  fetchTimeoutMs: 1000,
  fetchMaxWaitMs: 200,
  requestTimeoutMs: 300,
  electionBackoffMaxMs: 250,
});

export const DEFAULT_LIMITS: RaftLimits = Object.freeze({
  fetchEntriesMax: 512,
  fetchBytesMax: 1024 * 1024,
  snapshotChunkBytesMax: 1024 * 1024,
  proposalBytesMax: 1024 * 1024,
  uncommittedEntriesMax: 10_000,
  outboxMessagesMax: 10_000,
  applyEntriesMax: 1024,
});

export interface RaftConfigInput extends Partial<RaftTimeouts>, Partial<RaftLimits> {
  readonly nodeId: number;
  readonly clusterId: string;
  readonly voterIds: readonly number[];
}

/** Fills defaults and checks the relations the core relies on; a bad config is a programming error. */
export function makeRaftConfig(input: RaftConfigInput): RaftConfig {
  const config: RaftConfig = { ...KRAFT_DEFAULT_TIMEOUTS, ...DEFAULT_LIMITS, ...input };
  invariant(config.clusterId.length > 0, 'clusterId must not be empty');
  invariant(new Set(config.voterIds).size === config.voterIds.length, 'voterIds must be unique');
  invariant(config.voterIds.includes(config.nodeId), `node ${config.nodeId} is not in the voter set`);
  invariant(config.electionTimeoutMs > 0, 'electionTimeoutMs must be positive');
  // A follower must be able to lose one fetch and retry before it gives up on its leader.
  invariant(
    config.fetchMaxWaitMs < config.requestTimeoutMs && config.requestTimeoutMs < config.fetchTimeoutMs,
    'need fetchMaxWaitMs < requestTimeoutMs < fetchTimeoutMs',
  );
  invariant(config.electionBackoffMaxMs > 0, 'electionBackoffMaxMs must be positive');
  for (const key of Object.keys(DEFAULT_LIMITS) as (keyof RaftLimits)[]) {
    invariant(config[key] >= 1, `${key} must be at least 1`);
  }
  return config;
}

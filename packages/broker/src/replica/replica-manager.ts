// The partitions this broker holds, driven by the metadata image: it creates their logs, makes each
// one leader, follower or neither as the image says, deletes logs of topics that are gone, and
// serves the data path of the Kafka APIs (append with acks, fetch with long polling, offset lookups).
//
// Waiting never polls: a Produce with acks=all, a Fetch short of min_bytes and a follower's long
// poll park in DelayedOperations under the partition's key, which is notified whenever the
// partition's log end, high watermark or leadership changes.
//
// Replication (issue 5): as leader it serves follower fetches (learning each follower's LEO, moving
// the high watermark, proposing ISR changes to the controller); as follower it applies what its
// fetcher brought (append with the leader's offsets, truncate where the logs diverged, follow the
// leader's high watermark). Every follower-side log change and every role change of a partition
// runs in that partition's exclusive section, so a fetch response can never write into a log that
// has just become leader, and a new leader's epoch is in its leader-epoch-checkpoint before it
// appends a single record of that epoch.
//
// A failed log dir (the LogDirFailureChannel; Kafka's ReplicaManager.handleLogDirFailure) takes
// every replica on it offline here: it answers KAFKA_STORAGE_ERROR, follows no leader, and is
// reported to the controller (offline-replicas.ts) until the process restarts.

import { dirname } from 'node:path';
import { MetadataImage, type PartitionState, type TopicImage } from '@gregor/metadata';
import { decodeRecordBatch, ErrorCode, errorName, KafkaError, readBatchHeader } from '@gregor/protocol';
import {
  type Clock,
  type ConfigProps,
  isCompacted,
  isIoError,
  isNoSpaceError,
  KafkaStorageError,
  LogClosedError,
  type LogConfig,
  LogConfigError,
  type LogDirFailureChannel,
  logConfigDefinitions,
  parseLogConfig,
  readCheckpointFile,
  UnexpectedAppendOffsetError,
  writeCheckpointFile,
} from '@gregor/storage';
import type { DelayedOperations } from '../delayed/delayed-operations.js';
import type { Logger } from '../logging.js';
import { divergingEpoch, followerTruncationOffset } from './divergence.js';
import type { EpochEndOffset } from './leader-epoch-cache.js';
import { loadLeaderEpochCache, writeLeaderEpochCheckpoint } from './leader-epoch-checkpoint-file.js';
import type { LogStore } from './log-store.js';
import { OfflineReplicas } from './offline-replicas.js';
import { Partition } from './partition.js';
import { ProducerStateManager } from './producer-state.js';
import { IdempotentLeaderAppends, type LeaderAppendOutcome } from './producer-state-append.js';
import {
  applyRecordSet,
  rebuildProducerState,
  syncProducerStateAfterTruncation,
} from './producer-state-log.js';
import { recompressRecordSet, stampLogAppendTime, validateRecordSet } from './record-set.js';

/** Kafka's `log.retention.check.interval.ms` default. */
export const retentionCheckIntervalMsDefault = 300_000;
/** Kafka's `log.flush.offset.checkpoint.interval.ms` default. */
export const recoveryPointCheckpointIntervalMsDefault = 60_000;

/** Kafka's `replica.lag.time.max.ms` default. */
export const replicaLagTimeMaxMsDefault = 30_000;
/** Kafka's `replica.high.watermark.checkpoint.interval.ms` default. */
export const highWatermarkCheckpointIntervalMsDefault = 5_000;
/** Kafka's per-log-dir high-watermark checkpoint file. */
export const highWatermarkCheckpointName = 'replication-offset-checkpoint';
/** After a refused or failed AlterPartition, the partition's next proposal waits this long. */
export const isrChangeRetryBackoffMs = 500;
/** Partitions a follower fetch may name; more is a broken peer, not load. */
export const replicaFetchPartitionsMax = 100_000;

/** One line of an offset checkpoint file (storage's format). */
interface CheckpointEntry {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

/** Kafka's isolation levels: without transactions both read up to the high watermark. */
export const IsolationLevel = { readUncommitted: 0, readCommitted: 1 } as const;

const storageTopicKeys = new Set(logConfigDefinitions.map((definition) => definition.topicKey));

export interface ReplicaManagerOptions {
  readonly brokerId: number;
  readonly logStore: LogStore;
  /** Topic defaults from the broker's `log.*` keys; topic configs from the image apply over them. */
  readonly brokerLogConfig: LogConfig;
  readonly clock: Clock;
  readonly delayedOperations: DelayedOperations;
  readonly logger: Logger;
  readonly retentionCheckIntervalMs?: number;
  readonly recoveryPointCheckpointIntervalMs?: number;
  readonly replicaLagTimeMaxMs?: number;
  readonly highWatermarkCheckpointIntervalMs?: number;
  /** Proposes an ISR change to the controller; absent, the ISR never changes (single-node tests). */
  readonly alterPartition?: (request: AlterPartitionProposal) => Promise<AlterPartitionOutcome>;
  /** Called after each image took effect, so the fetchers follow the new set of followed partitions. */
  readonly onFollowersChanged?: () => void;
  /** `producer.id.expiration.ms`: idempotent producers idle this long are forgotten (Kafka's default, 1 day). */
  readonly producerIdExpirationMs?: number;
  /**
   * The channel the logs report failed dirs to (the LogManager's): the replicas on a failed dir go
   * offline, and I/O failures of the broker's own files there (leader-epoch and high-watermark
   * checkpoints) are reported to it.
   */
  readonly logDirFailureChannel?: LogDirFailureChannel;
}

export interface AlterPartitionProposal {
  readonly topicId: string;
  readonly partitionIndex: number;
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
  readonly newIsr: readonly number[];
}

/**
 * AlterPartition answers that do not say whether the change committed (no controller reached, a
 * timeout, a controller that lost its quorum while proposing): the proposal is sent again as is.
 */
const alterPartitionOutcomeUnknown: ReadonlySet<number> = new Set([
  ErrorCode.REQUEST_TIMED_OUT,
  ErrorCode.NOT_CONTROLLER,
  ErrorCode.UNKNOWN_SERVER_ERROR,
  ErrorCode.THROTTLING_QUOTA_EXCEEDED,
]);

export interface AlterPartitionOutcome {
  /** NONE when committed; otherwise the controller's (or the transport's) error. */
  readonly errorCode: number;
  /** The partition epoch the change committed with, -1 on error. */
  readonly partitionEpoch: number;
}

/** A partition this broker follows, as its fetcher needs it. */
export interface FollowedPartition {
  readonly topic: string;
  readonly partition: number;
  readonly leaderId: number;
  readonly leaderEpoch: number;
}

export interface ReplicaFetchPartitionRequest {
  readonly topic: string;
  readonly partition: number;
  readonly currentLeaderEpoch: number;
  /** The follower's log end offset. */
  readonly fetchOffset: number;
  /** Epoch of the follower's last batch, -1 when it has none. */
  readonly lastFetchedEpoch: number;
  readonly partitionMaxBytes: number;
}

export interface ReplicaFetchRequest {
  readonly replicaId: number;
  readonly brokerEpoch: number;
  readonly maxWaitMs: number;
  readonly minBytes: number;
  readonly maxBytes: number;
  readonly partitions: readonly ReplicaFetchPartitionRequest[];
}

export interface ReplicaFetchPartitionResult {
  readonly topic: string;
  readonly partition: number;
  readonly errorCode: number;
  readonly highWatermark: number;
  readonly logStartOffset: number;
  readonly logEndOffset: number;
  readonly divergingEpoch: EpochEndOffset | undefined;
  readonly leaderEpoch: number;
  readonly records: Buffer;
}

/** What the follower asked for, so a late response is applied only to the log it was meant for. */
export interface FollowerFetchContext {
  readonly leaderId: number;
  readonly leaderEpoch: number;
  readonly fetchOffset: number;
}

export interface LeaderAndEpoch {
  readonly leaderId: number;
  readonly leaderEpoch: number;
}

const noLeaderAndEpoch: LeaderAndEpoch = { leaderId: -1, leaderEpoch: -1 };

export interface AppendRequest {
  readonly topic: string;
  readonly partition: number;
  readonly records: Buffer | null;
}

export interface AppendResult {
  readonly topic: string;
  readonly partition: number;
  readonly errorCode: number;
  readonly errorMessage: string | null;
  /** -1 on error. */
  readonly baseOffset: number;
  /** The append time under LogAppendTime, -1 under CreateTime or on error. */
  readonly logAppendTimeMs: number;
  /** -1 on error. */
  readonly logStartOffset: number;
}

export interface FetchPartitionRequest {
  readonly topic: string;
  readonly partition: number;
  readonly fetchOffset: number;
  /** -1: no check. */
  readonly currentLeaderEpoch: number;
  readonly partitionMaxBytes: number;
}

export interface FetchRequest {
  readonly maxWaitMs: number;
  readonly minBytes: number;
  readonly maxBytes: number;
  readonly isolationLevel: number;
  readonly partitions: readonly FetchPartitionRequest[];
}

export interface FetchPartitionResult {
  readonly topic: string;
  readonly partition: number;
  readonly errorCode: number;
  /** -1 on error, as Kafka's INVALID_HIGH_WATERMARK. */
  readonly highWatermark: number;
  readonly lastStableOffset: number;
  readonly logStartOffset: number;
  /** Whole batches; empty (never null) when there is nothing to return. */
  readonly records: Buffer;
  /** Who leads, per the image, so a client with an error can go there (Fetch v12+). */
  readonly currentLeader: LeaderAndEpoch;
}

export interface ListOffsetRequest {
  readonly topic: string;
  readonly partition: number;
  /** -1 latest, -2 earliest, otherwise a timestamp in ms. */
  readonly timestamp: number;
  readonly currentLeaderEpoch: number;
}

export interface ListOffsetResult {
  readonly topic: string;
  readonly partition: number;
  readonly errorCode: number;
  /** -1 when no offset is found or on error. */
  readonly offset: number;
  readonly timestamp: number;
  /** The leader epoch that wrote `offset` (its leader-epoch cache), -1 when unknown or on error. */
  readonly leaderEpoch: number;
}

type LeaderLookup =
  | { readonly ok: true; readonly partition: Partition; readonly currentLeader: LeaderAndEpoch }
  | { readonly ok: false; readonly errorCode: number; readonly currentLeader: LeaderAndEpoch };

/**
 * Storage finds the first batch whose max timestamp reaches `timestampMs`; Kafka answers with the
 * first record in it whose own timestamp does (clients start consuming exactly there), so decode
 * that one batch. Read-only and off the produce path.
 */
async function firstRecordAtOrAfter(
  log: Partition['log'],
  batchHit: { readonly offset: number; readonly timestamp: number },
  timestampMs: number,
): Promise<{ offset: number; timestamp: number }> {
  const read = await log.read(batchHit.offset, 1);
  if (read.errorCode !== ErrorCode.NONE || read.records.length === 0) return batchHit;
  const batch = decodeRecordBatch(read.records, 0, { verifyCrc: false });
  const record = batch.records.find(
    (candidate) => candidate.offset >= batchHit.offset && candidate.timestamp >= timestampMs,
  );
  return record === undefined ? batchHit : { offset: record.offset, timestamp: record.timestamp };
}

export class ReplicaManager {
  private readonly partitions = new Map<string, Partition>();
  /** The topic configs each partition's log was last configured from (image maps are shared when unchanged). */
  private readonly appliedConfigs = new Map<string, ReadonlyMap<string, string>>();
  private imageValue: MetadataImage = MetadataImage.empty;
  private metadataQueue: Promise<void> = Promise.resolve();
  private nextRetentionMs: number;
  private nextRecoveryCheckpointMs: number;
  private nextHighWatermarkCheckpointMs: number;
  private closed = false;
  /** Per partition key: the tail of its exclusive section (role changes, follower log writes). */
  private readonly exclusiveTails = new Map<string, Promise<void>>();
  /** Per partition key: the epoch-cache version last written to its leader-epoch-checkpoint. */
  private readonly persistedEpochVersions = new Map<string, number>();
  /** Per log dir: the high watermarks of replication-offset-checkpoint, read once at start. */
  private readonly checkpointedHighWatermarks = new Map<string, Promise<Map<string, CheckpointEntry>>>();
  /** Per partition key: no ISR proposal before this time (after a refusal). */
  private readonly isrRetryNotBeforeMs = new Map<string, number>();
  private highWatermarkCheckpointing: Promise<void> = Promise.resolve();
  /** Called after each image took effect (the group coordinator follows its offsets-partition leaderships). */
  private readonly imageAppliedListeners: ((image: MetadataImage) => void)[] = [];
  /** Leader appends of idempotent producers: checked, appended and remembered in order per partition. */
  private readonly idempotentAppends = new IdempotentLeaderAppends();
  /** Replicas whose log dir failed: out of `partitions`, never created again until a restart. */
  private readonly offline = new OfflineReplicas();

  constructor(private readonly options: ReplicaManagerOptions) {
    options.logDirFailureChannel?.onLogDirFailure(({ logDir, reason }) =>
      this.handleLogDirFailure(logDir, reason),
    );
    const nowMs = options.clock.nowMs();
    this.nextRetentionMs = nowMs + (options.retentionCheckIntervalMs ?? retentionCheckIntervalMsDefault);
    this.nextRecoveryCheckpointMs =
      nowMs + (options.recoveryPointCheckpointIntervalMs ?? recoveryPointCheckpointIntervalMsDefault);
    this.nextHighWatermarkCheckpointMs =
      nowMs + (options.highWatermarkCheckpointIntervalMs ?? highWatermarkCheckpointIntervalMsDefault);
  }

  get brokerId(): number {
    return this.options.brokerId;
  }

  /** Calls `listener` after every image that took effect, in order, once the local replicas match it. */
  onImageApplied(listener: (image: MetadataImage) => void): void {
    this.imageAppliedListeners.push(listener);
  }

  /** The last image applied: what the data path answers from. */
  get image(): MetadataImage {
    return this.imageValue;
  }

  partition(topic: string, index: number): Partition | undefined {
    return this.partitions.get(`${topic}-${index}`);
  }

  /**
   * Makes the local replicas match `image`: creates missing logs, applies leadership and ISR changes
   * newer than what each partition holds, updates log configs, deletes partitions that are gone.
   * Calls are serialized; each resolves once its image is in effect.
   */
  applyMetadata(image: MetadataImage): Promise<void> {
    const run = this.metadataQueue.then(() => this.applyMetadataNow(image));
    this.metadataQueue = run.catch(() => undefined);
    return run;
  }

  private async applyMetadataNow(image: MetadataImage): Promise<void> {
    if (this.closed) return;
    const nowMs = this.options.clock.nowMs();
    const wanted = new Set<string>();
    for (const topic of image.topics.values()) {
      const topicConfigs = image.topicConfigs(topic.name);
      for (let index = 0; index < topic.partitions.length; index++) {
        const state = topic.partitions[index]!;
        if (!state.replicas.includes(this.options.brokerId)) continue;
        const key = `${topic.name}-${index}`;
        wanted.add(key);
        await this.applyPartition(topic, index, state, topicConfigs, nowMs);
      }
    }
    for (const [key, partition] of [...this.partitions]) {
      if (!wanted.has(key)) await this.removePartition(partition);
    }
    // A deleted partition that was offline here: its files stay on the failed dir until a restart.
    for (const key of [...this.offline.keys()]) if (!wanted.has(key)) this.offline.delete(key);
    this.imageValue = image;
    this.options.onFollowersChanged?.();
    for (const listener of this.imageAppliedListeners) listener(image);
  }

  /** Runs `operation` after every earlier exclusive operation of `key` (chained, never concurrent). */
  private exclusive<T>(key: string, operation: () => Promise<T>): Promise<T> {
    const previous = this.exclusiveTails.get(key) ?? Promise.resolve();
    const run = previous.then(operation);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.exclusiveTails.set(key, tail);
    void tail.then(() => {
      if (this.exclusiveTails.get(key) === tail) this.exclusiveTails.delete(key);
    });
    return run;
  }

  /**
   * Writes the partition's leader-epoch-checkpoint if its cache changed since the last write. Any
   * I/O failure takes the log dir offline: a leader whose epoch is not durable must not append.
   */
  private async persistEpochCache(partition: Partition): Promise<void> {
    const version = partition.epochCache.version;
    if (this.persistedEpochVersions.get(partition.key) === version) return;
    try {
      await writeLeaderEpochCheckpoint(partition.log.dir, partition.epochCache.entries);
    } catch (error) {
      if (!isIoError(error)) throw error;
      const reason = `${partition.key}: writing leader-epoch-checkpoint failed: ${error.code}`;
      this.reportLogDirFailure(partition.log.logDir, reason);
      throw new KafkaStorageError(partition.log.logDir, reason);
    }
    this.persistedEpochVersions.set(partition.key, version);
  }

  private reportLogDirFailure(logDir: string, reason: string): void {
    if (this.options.logDirFailureChannel !== undefined) {
      this.options.logDirFailureChannel.maybeAddOfflineLogDir(logDir, reason);
    } else {
      this.handleLogDirFailure(logDir, reason);
    }
  }

  /**
   * Kafka's handleLogDirFailure: every replica on `logDir` goes offline. Waiters wake (and answer
   * KAFKA_STORAGE_ERROR), the fetchers stop following those partitions, and the heartbeat reports
   * them until the metadata lists them as offline.
   */
  handleLogDirFailure(logDir: string, reason: string): void {
    const failed = [...this.partitions.values()].filter((partition) => partition.log.logDir === logDir);
    for (const partition of failed) this.takeOffline(partition.key, partition.topicId, partition.index);
    this.options.logger.error(
      { logDir, reason, offlineReplicas: failed.map((partition) => partition.key) },
      'log dir failed: its replicas are offline until a restart',
    );
    if (failed.length > 0) this.options.onFollowersChanged?.();
  }

  private takeOffline(key: string, topicId: string, index: number): void {
    this.partitions.delete(key);
    this.appliedConfigs.delete(key);
    this.persistedEpochVersions.delete(key);
    this.isrRetryNotBeforeMs.delete(key);
    this.offline.add({ key, topicId, partitionIndex: index });
    this.options.delayedOperations.notify(key);
  }

  /** Offline replicas the image does not list as offline on this broker yet (for the heartbeat). */
  unreportedOfflineReplicas(max: number): { topicId: string; partitionIndex: number }[] {
    return this.offline.unreported(this.imageValue, this.options.brokerId, max);
  }

  /** Whether this broker's replica of the partition is offline (its log dir failed). */
  isOffline(topic: string, index: number): boolean {
    return this.offline.has(`${topic}-${index}`);
  }

  private checkpointedHighWatermark(
    topic: string,
    index: number,
    logDir: string,
  ): Promise<number | undefined> {
    let loading = this.checkpointedHighWatermarks.get(logDir);
    if (loading === undefined) {
      loading = readCheckpointFile(logDir, highWatermarkCheckpointName);
      this.checkpointedHighWatermarks.set(logDir, loading);
    }
    return loading.then((entries) => entries.get(`${topic}-${index}`)?.offset);
  }

  private async applyPartition(
    topic: TopicImage,
    index: number,
    state: PartitionState,
    topicConfigs: ReadonlyMap<string, string>,
    nowMs: number,
  ): Promise<void> {
    const key = `${topic.name}-${index}`;
    if (this.offline.has(key, topic.topicId)) return;
    // A topic made again under the name of one that was offline here is a new partition.
    this.offline.delete(key);
    let partition = this.partitions.get(key);
    if (partition !== undefined && partition.topicId !== topic.topicId) {
      // The topic was deleted and created again under the same name between two images.
      await this.removePartition(partition);
      partition = undefined;
    }
    const changedConfigs = partition === undefined || this.appliedConfigs.get(key) !== topicConfigs;
    const overrides = changedConfigs
      ? validStorageOverrides(topicConfigs, this.options.brokerLogConfig, (name, problem) =>
          this.options.logger.warn(
            { partition: key, config: name, problem },
            'topic config ignored by storage',
          ),
        )
      : {};
    if (partition === undefined) {
      let log: Partition['log'];
      // New to this broker (not in the image it last acted on, and not the first image at start):
      // only such a replica may be created while a log dir is offline (Kafka's isNew).
      const isNew =
        this.imageValue !== MetadataImage.empty &&
        this.imageValue.topicById(topic.topicId)?.partitions[index] === undefined;
      try {
        log = await this.options.logStore.getOrCreateLog(topic.name, index, overrides, { isNew });
      } catch (error) {
        if (error instanceof KafkaStorageError) {
          // On a failed dir, or possibly there: offline, and reported as such.
          this.options.logger.error({ partition: key, err: error }, 'local replica is offline');
          this.takeOffline(key, topic.topicId, index);
          return;
        }
        // Any failure to open one log (a storage error, or EMFILE with too many partitions for the
        // process's file limit) takes that replica offline here, not the whole broker: it is absent
        // from this broker, so the partition answers NOT_LEADER_OR_FOLLOWER / stays out of the ISR.
        this.options.logger.error({ partition: key, err: error }, 'cannot open the log of a local replica');
        return;
      }
      // A log opened at start-up carries whatever config it was opened with: the image decides.
      log.updateConfig(parseLogConfig(overrides, this.options.brokerLogConfig));
      const epochCache = await loadLeaderEpochCache(log);
      const producerState = new ProducerStateManager(
        this.options.producerIdExpirationMs === undefined
          ? {}
          : { producerIdExpirationMs: this.options.producerIdExpirationMs },
      );
      await rebuildProducerState(log, producerState, this.options.clock.nowMs());
      const initialHighWatermark = await this.checkpointedHighWatermark(topic.name, index, dirname(log.dir));
      const created = new Partition(topic.name, topic.topicId, index, log, this.options.brokerId, state, {
        epochCache,
        producerState,
        ...(initialHighWatermark === undefined ? {} : { initialHighWatermark }),
      });
      this.partitions.set(key, created);
      this.appliedConfigs.set(key, topicConfigs);
      await this.exclusive(key, () => this.transitionOrOffline(created, state, nowMs, true));
      return;
    }
    if (changedConfigs) {
      partition.log.updateConfig(parseLogConfig(overrides, this.options.brokerLogConfig));
      this.appliedConfigs.set(key, topicConfigs);
    }
    const existing = partition;
    if (existing.isNewer(state))
      await this.exclusive(key, () => this.transitionOrOffline(existing, state, nowMs));
  }

  /** A role change whose leader-epoch checkpoint cannot be written leaves the replica offline. */
  private async transitionOrOffline(
    partition: Partition,
    state: PartitionState,
    nowMs: number,
    initial = false,
  ): Promise<void> {
    try {
      await this.transition(partition, state, nowMs, initial);
    } catch (error) {
      if (!(error instanceof KafkaStorageError)) throw error;
      this.options.logger.error(
        { partition: partition.key, err: error },
        'role change failed: replica offline',
      );
    }
  }

  /** Runs in the partition's exclusive section: no follower write is in progress on its log. */
  private async transition(
    partition: Partition,
    state: PartitionState,
    nowMs: number,
    initial = false,
  ): Promise<void> {
    if (this.partitions.get(partition.key) !== partition) return;
    if (!initial && !partition.isNewer(state)) return;
    const before = partition.role;
    if (state.leader === this.options.brokerId) {
      if (partition.role !== 'leader' || partition.leaderEpoch !== state.leaderEpoch) {
        // The new epoch is durable before the first record of it can be appended (see makeLeader).
        partition.epochCache.assign(state.leaderEpoch, partition.log.logEndOffset);
        await this.persistEpochCache(partition);
      }
      partition.makeLeader(state, nowMs);
    } else {
      partition.makeFollower(state);
    }
    if (before !== partition.role) {
      this.options.logger.info(
        { partition: partition.key, role: partition.role, leaderEpoch: state.leaderEpoch },
        'replica role changed',
      );
    }
    // Waiters re-check: a leadership change completes them, a high watermark change may satisfy them.
    this.options.delayedOperations.notify(partition.key);
  }

  private async removePartition(partition: Partition): Promise<void> {
    this.partitions.delete(partition.key);
    this.appliedConfigs.delete(partition.key);
    this.persistedEpochVersions.delete(partition.key);
    this.isrRetryNotBeforeMs.delete(partition.key);
    // A follower write in progress finishes (or fails on the closed log) before the log goes.
    await this.exclusive(partition.key, async () => undefined);
    this.options.delayedOperations.notify(partition.key);
    await this.options.logStore.deleteLog(partition.topic, partition.index, partition.topicId);
    this.options.logger.info({ partition: partition.key }, 'replica deleted');
  }

  private lookupLeader(topicName: string, index: number): LeaderLookup {
    const topic = this.imageValue.topic(topicName);
    const state = topic?.partitions[index];
    if (topic === undefined || state === undefined) {
      return { ok: false, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, currentLeader: noLeaderAndEpoch };
    }
    const currentLeader = { leaderId: state.leader, leaderEpoch: state.leaderEpoch };
    if (this.offline.has(`${topicName}-${index}`, topic.topicId)) {
      return { ok: false, errorCode: ErrorCode.KAFKA_STORAGE_ERROR, currentLeader };
    }
    const partition = this.partitions.get(`${topicName}-${index}`);
    if (this.closed || partition === undefined || partition.role !== 'leader') {
      return { ok: false, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, currentLeader };
    }
    return { ok: true, partition, currentLeader };
  }

  /** Whether `partition` still leads in `leaderEpoch` (it may have changed during an await). */
  private stillLeads(partition: Partition, leaderEpoch: number): boolean {
    return (
      !this.closed &&
      this.partitions.get(partition.key) === partition &&
      partition.role === 'leader' &&
      partition.leaderEpoch === leaderEpoch
    );
  }

  /** Why a partition this broker led stopped leading: its log dir failed, or leadership moved. */
  private lostLeadershipError(partition: Partition): number {
    return this.offline.has(partition.key, partition.topicId)
      ? ErrorCode.KAFKA_STORAGE_ERROR
      : ErrorCode.NOT_LEADER_OR_FOLLOWER;
  }

  // --- Produce ------------------------------------------------------------------------------------

  /**
   * Appends each record set as leader. acks=-1 waits (up to `timeoutMs`) until the high watermark
   * covers the appended records; acks 0 and 1 answer once the local append is done. `acks` must be
   * 0, 1 or -1 (the Produce handler answers INVALID_REQUIRED_ACKS otherwise).
   */
  async appendRecords(
    requests: readonly AppendRequest[],
    acks: number,
    timeoutMs: number,
  ): Promise<AppendResult[]> {
    return Promise.all(requests.map((request) => this.appendOne(request, acks, timeoutMs)));
  }

  private async appendOne(request: AppendRequest, acks: number, timeoutMs: number): Promise<AppendResult> {
    const failed = (errorCode: number, errorMessage: string | null = null): AppendResult => ({
      topic: request.topic,
      partition: request.partition,
      errorCode,
      errorMessage,
      baseOffset: -1,
      logAppendTimeMs: -1,
      logStartOffset: -1,
    });
    const lookup = this.lookupLeader(request.topic, request.partition);
    if (!lookup.ok) return failed(lookup.errorCode);
    const partition = lookup.partition;
    const config = partition.log.config;
    if (request.records === null) return failed(ErrorCode.CORRUPT_MESSAGE, 'null record set');
    const lagMaxMs = this.options.replicaLagTimeMaxMs ?? replicaLagTimeMaxMsDefault;
    const liveIsr = partition.liveIsrSize(this.options.clock.nowMs(), lagMaxMs);
    if (acks === -1 && liveIsr < config.minInsyncReplicas) {
      return failed(
        ErrorCode.NOT_ENOUGH_REPLICAS,
        `${liveIsr} of ISR ${JSON.stringify(partition.isr)} in sync, below min.insync.replicas ${config.minInsyncReplicas}`,
      );
    }
    const leaderEpoch = partition.leaderEpoch;
    let logAppendTimeMs = -1;
    let appended: LeaderAppendOutcome;
    try {
      // The cleaner keeps the last record per key: on a compacted topic a keyless one is
      // INVALID_RECORD, as in Kafka (checked in the same pass as the records themselves).
      validateRecordSet(request.records, config.maxMessageBytes, { requireKeys: isCompacted(config) });
      const records = recompressRecordSet(request.records, config.compressionType, config.maxMessageBytes);
      if (config.messageTimestampType === 'LogAppendTime') {
        logAppendTimeMs = this.options.clock.nowMs();
        stampLogAppendTime(records, logAppendTimeMs);
      }
      appended = await this.idempotentAppends.append(
        partition,
        records,
        leaderEpoch,
        this.options.clock.nowMs(),
      );
    } catch (error) {
      if (error instanceof KafkaError) return failed(error.code, error.message);
      // The partition was deleted or moved while the append waited for the log.
      if (error instanceof LogClosedError) return failed(ErrorCode.NOT_LEADER_OR_FOLLOWER);
      throw error;
    }
    if (!this.stillLeads(partition, leaderEpoch)) return failed(this.lostLeadershipError(partition));
    partition.onLeaderAppend();
    this.options.delayedOperations.notify(partition.key);
    const success: AppendResult = {
      topic: request.topic,
      partition: request.partition,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      baseOffset: appended.baseOffset,
      logAppendTimeMs,
      logStartOffset: appended.logStartOffset,
    };
    if (acks !== -1) return success;
    const requiredHighWatermark = appended.lastOffset + 1;
    const covered = await this.options.delayedOperations.waitUntil(
      [partition.key],
      timeoutMs,
      () => !this.stillLeads(partition, leaderEpoch) || partition.highWatermark >= requiredHighWatermark,
    );
    if (!this.stillLeads(partition, leaderEpoch)) return failed(this.lostLeadershipError(partition));
    if (!covered) return failed(ErrorCode.REQUEST_TIMED_OUT, 'the ISR did not replicate the records in time');
    if (partition.liveIsrSize(this.options.clock.nowMs(), lagMaxMs) < config.minInsyncReplicas) {
      return failed(
        ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
        `ISR shrank to ${partition.isr.length}, below min.insync.replicas ${config.minInsyncReplicas}`,
      );
    }
    return success;
  }

  // --- Replication: the leader side --------------------------------------------------------------

  /**
   * Follower `replicaId` fetched `topic-partition` from `fetchOffset`: it holds everything below.
   * Wakes the acks=all produces, consumer fetches and follower long polls the moved high watermark
   * satisfies, and proposes adding the follower to the ISR once it caught up.
   */
  recordFollowerFetch(topic: string, partition: number, replicaId: number, fetchOffset: number): void {
    const local = this.partitions.get(`${topic}-${partition}`);
    if (local === undefined) return;
    const nowMs = this.options.clock.nowMs();
    if (local.recordFollowerFetch(replicaId, fetchOffset, nowMs)) {
      this.options.delayedOperations.notify(local.key);
    }
    const expanded = local.maybeExpandIsr(replicaId);
    if (expanded !== undefined) this.proposeIsr(local, expanded, nowMs, 'expand');
  }

  /**
   * Serves a follower's fetch: per partition, the leader-epoch checks, the divergence check, then the
   * batches from fetchOffset (up to the log end, not the high watermark: followers copy everything),
   * with the high watermark as it stands after this fetch counted. Waits up to maxWaitMs while there
   * are fewer than minBytes, waking when a requested partition's log end or high watermark moves.
   */
  async fetchForFollower(request: ReplicaFetchRequest): Promise<ReplicaFetchPartitionResult[]> {
    if (request.partitions.length > replicaFetchPartitionsMax) {
      return request.partitions.map((wanted) =>
        failedReplicaFetch(wanted.topic, wanted.partition, ErrorCode.INVALID_REQUEST),
      );
    }
    const registered = this.imageValue.broker(request.replicaId);
    if (registered !== undefined && registered.brokerEpoch > request.brokerEpoch) {
      // A fetch from an earlier incarnation of that broker (it restarted since): its offsets are stale.
      return request.partitions.map((wanted) =>
        failedReplicaFetch(wanted.topic, wanted.partition, ErrorCode.STALE_BROKER_EPOCH),
      );
    }
    const deadlineMs = this.options.clock.nowMs() + Math.max(0, request.maxWaitMs);
    for (;;) {
      const { results, watched } = await this.readForFollower(request);
      const bytes = results.reduce((sum, result) => sum + result.records.length, 0);
      const answerNow = results.some(
        (result) => result.errorCode !== ErrorCode.NONE || result.divergingEpoch !== undefined,
      );
      const remainingMs = deadlineMs - this.options.clock.nowMs();
      if (bytes >= Math.max(1, request.minBytes) || answerNow || remainingMs <= 0 || watched.length === 0) {
        return results;
      }
      const changed = await this.options.delayedOperations.waitUntil(
        watched.map((entry) => entry.partition.key),
        remainingMs,
        () =>
          watched.some(
            (entry) =>
              !this.stillLeads(entry.partition, entry.leaderEpoch) ||
              entry.partition.logEndOffset > entry.fetchOffset ||
              entry.partition.highWatermark !== entry.highWatermark,
          ),
      );
      if (!changed) return (await this.readForFollower(request)).results;
    }
  }

  private async readForFollower(request: ReplicaFetchRequest): Promise<{
    results: ReplicaFetchPartitionResult[];
    watched: { partition: Partition; leaderEpoch: number; highWatermark: number; fetchOffset: number }[];
  }> {
    const results: ReplicaFetchPartitionResult[] = [];
    const watched: {
      partition: Partition;
      leaderEpoch: number;
      highWatermark: number;
      fetchOffset: number;
    }[] = [];
    let remainingBytes = request.maxBytes;
    // KIP-74, as for consumers: the first partition with data returns at least one whole batch.
    let firstWithData = true;
    for (const wanted of request.partitions) {
      const failed = (errorCode: number) => failedReplicaFetch(wanted.topic, wanted.partition, errorCode);
      const lookup = this.lookupLeader(wanted.topic, wanted.partition);
      if (!lookup.ok) {
        results.push(failed(lookup.errorCode));
        continue;
      }
      const partition = lookup.partition;
      if (!partition.replicas.includes(request.replicaId) || request.replicaId === this.options.brokerId) {
        results.push(failed(ErrorCode.NOT_LEADER_OR_FOLLOWER));
        continue;
      }
      const epochError = partition.checkCurrentLeaderEpoch(wanted.currentLeaderEpoch);
      if (epochError !== ErrorCode.NONE) {
        results.push(failed(epochError));
        continue;
      }
      const leaderEpoch = partition.leaderEpoch;
      const logEndOffset = partition.logEndOffset;
      const diverging = divergingEpoch(
        partition.epochCache,
        logEndOffset,
        wanted.fetchOffset,
        wanted.lastFetchedEpoch,
      );
      if (diverging !== undefined) {
        // Nothing about the follower's LEO is learnt: the offsets it holds past the split are not ours.
        results.push({
          ...failed(ErrorCode.NONE),
          highWatermark: partition.highWatermark,
          logStartOffset: partition.logStartOffset,
          logEndOffset,
          divergingEpoch: diverging,
          leaderEpoch,
        });
        continue;
      }
      if (wanted.fetchOffset < partition.logStartOffset || wanted.fetchOffset > logEndOffset) {
        results.push({
          ...failed(ErrorCode.OFFSET_OUT_OF_RANGE),
          logStartOffset: partition.logStartOffset,
          logEndOffset,
          leaderEpoch,
        });
        continue;
      }
      this.recordFollowerFetch(wanted.topic, wanted.partition, request.replicaId, wanted.fetchOffset);
      const highWatermark = partition.highWatermark;
      const limitBytes = Math.max(0, Math.min(wanted.partitionMaxBytes, remainingBytes));
      let read: Awaited<ReturnType<Partition['log']['read']>>;
      try {
        read = await partition.log.read(wanted.fetchOffset, limitBytes);
      } catch (error) {
        if (error instanceof LogClosedError) {
          results.push(failed(ErrorCode.NOT_LEADER_OR_FOLLOWER));
          continue;
        }
        if (error instanceof KafkaStorageError) {
          results.push(failed(ErrorCode.KAFKA_STORAGE_ERROR));
          continue;
        }
        throw error;
      }
      if (read.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) {
        results.push({
          ...failed(ErrorCode.OFFSET_OUT_OF_RANGE),
          logStartOffset: read.logStartOffset,
          logEndOffset: read.logEndOffset,
          leaderEpoch,
        });
        continue;
      }
      let records = read.records;
      if (records.length > limitBytes && !firstWithData) records = Buffer.alloc(0);
      if (records.length > 0) firstWithData = false;
      remainingBytes -= records.length;
      watched.push({ partition, leaderEpoch, highWatermark, fetchOffset: wanted.fetchOffset });
      results.push({
        topic: wanted.topic,
        partition: wanted.partition,
        errorCode: ErrorCode.NONE,
        highWatermark,
        logStartOffset: read.logStartOffset,
        logEndOffset: read.logEndOffset,
        divergingEpoch: undefined,
        leaderEpoch,
        records,
      });
    }
    return { results, watched };
  }

  /** Proposes `newIsr` for `partition` unless a proposal is in flight or recently failed. */
  private proposeIsr(partition: Partition, newIsr: readonly number[], nowMs: number, why: string): void {
    const alterPartition = this.options.alterPartition;
    if (alterPartition === undefined || this.closed) return;
    if ((this.isrRetryNotBeforeMs.get(partition.key) ?? 0) > nowMs) return;
    const pending = partition.beginIsrChange(newIsr);
    const leaderEpoch = partition.leaderEpoch;
    this.options.logger.info(
      { partition: partition.key, isr: partition.isr, proposedIsr: newIsr, why },
      'proposing an ISR change',
    );
    const send = (): void => {
      alterPartition({
        topicId: partition.topicId,
        partitionIndex: partition.index,
        leaderEpoch,
        partitionEpoch: pending.partitionEpoch,
        newIsr,
      }).then(settle, (error: unknown) => {
        this.options.logger.warn({ partition: partition.key, err: error }, 'AlterPartition failed');
        settle({ errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, partitionEpoch: -1 });
      });
    };
    const settle = (outcome: AlterPartitionOutcome): void => {
      if (outcome.errorCode === ErrorCode.NONE && outcome.partitionEpoch > partition.partitionEpoch) {
        // Committed; it takes effect when the image carries it (makeLeader clears the pending change).
        return;
      }
      if (alterPartitionOutcomeUnknown.has(outcome.errorCode)) {
        // No answer, or the controller lost its quorum mid-commit: the change may have committed.
        // Reverting now would let the HW stop waiting for a member the controller may already list
        // in the ISR (and may elect) — the replication simulation lost acknowledged batches that
        // way. Keep the change pending and send the same proposal again; the image settles it.
        setTimeout(() => {
          if (this.closed || partition.pendingIsrChange !== pending || partition.leaderEpoch !== leaderEpoch)
            return;
          send();
        }, isrChangeRetryBackoffMs).unref();
        return;
      }
      if (outcome.errorCode !== ErrorCode.NONE) {
        this.options.logger.info(
          { partition: partition.key, proposedIsr: newIsr, error: errorName(outcome.errorCode) },
          'ISR change refused',
        );
        this.isrRetryNotBeforeMs.set(partition.key, this.options.clock.nowMs() + isrChangeRetryBackoffMs);
      }
      if (partition.isrChangeFailed(pending)) this.options.delayedOperations.notify(partition.key);
    };
    send();
  }

  /**
   * The ISR-expiration check (Kafka runs it every replica.lag.time.max.ms / 2): proposes removing
   * followers that have not caught up for the lag time. Returns how many proposals were sent.
   */
  shrinkLaggingIsrs(nowMs: number): number {
    if (this.closed) return 0;
    const lagMaxMs = this.options.replicaLagTimeMaxMs ?? replicaLagTimeMaxMsDefault;
    let proposals = 0;
    for (const partition of this.partitions.values()) {
      const shrunk = partition.maybeShrinkIsr(nowMs, lagMaxMs);
      if (shrunk === undefined) continue;
      this.proposeIsr(partition, shrunk, nowMs, 'shrink');
      if (partition.pendingIsrChange !== undefined) proposals++;
    }
    return proposals;
  }

  // --- Replication: the follower side ------------------------------------------------------------

  /** The partitions this broker follows, each with the leader to fetch from. */
  followedPartitions(): FollowedPartition[] {
    const followed: FollowedPartition[] = [];
    if (this.closed) return followed;
    for (const partition of this.partitions.values()) {
      if (partition.role !== 'follower') continue;
      followed.push({
        topic: partition.topic,
        partition: partition.index,
        leaderId: partition.leaderId,
        leaderEpoch: partition.leaderEpoch,
      });
    }
    return followed;
  }

  /** What the next fetch for `topic-partition` asks for; undefined when this broker does not follow it. */
  followerFetchPosition(
    topic: string,
    index: number,
  ): { fetchOffset: number; lastFetchedEpoch: number; leaderEpoch: number; leaderId: number } | undefined {
    const partition = this.partitions.get(`${topic}-${index}`);
    if (partition === undefined || partition.role !== 'follower' || this.closed) return undefined;
    return {
      fetchOffset: partition.logEndOffset,
      lastFetchedEpoch: partition.epochCache.latestEpoch,
      leaderEpoch: partition.leaderEpoch,
      leaderId: partition.leaderId,
    };
  }

  /**
   * Applies one partition of a fetch response from this broker's leader, in the partition's
   * exclusive section: truncate on divergence (or out of range), else append the batches as they
   * are, then follow the leader's high watermark. Returns the error code the fetcher backs off on
   * (NONE when the partition may be fetched again at once). A response for a fetch the partition has
   * moved past (new epoch, new leader, log changed) is dropped.
   */
  applyFollowerFetch(context: FollowerFetchContext, result: ReplicaFetchPartitionResult): Promise<number> {
    const key = `${result.topic}-${result.partition}`;
    return this.exclusive(key, async () => {
      const partition = this.partitions.get(key);
      if (
        this.closed ||
        partition === undefined ||
        partition.role !== 'follower' ||
        partition.leaderId !== context.leaderId ||
        partition.leaderEpoch !== context.leaderEpoch ||
        partition.logEndOffset !== context.fetchOffset
      ) {
        return ErrorCode.NONE;
      }
      try {
        return await this.applyFollowerFetchNow(partition, result);
      } catch (error) {
        if (error instanceof LogClosedError) return ErrorCode.NOT_LEADER_OR_FOLLOWER;
        // A full disk, or a dir that just failed (the channel took the replica offline).
        if (error instanceof KafkaError && error.code === ErrorCode.KAFKA_STORAGE_ERROR) {
          this.options.logger.warn({ partition: key, err: error }, 'fetched records not stored');
          return ErrorCode.KAFKA_STORAGE_ERROR;
        }
        if (error instanceof UnexpectedAppendOffsetError || error instanceof KafkaError) {
          this.options.logger.warn({ partition: key, err: error }, 'fetched records not appended');
          return ErrorCode.CORRUPT_MESSAGE;
        }
        throw error;
      }
    });
  }

  private async applyFollowerFetchNow(
    partition: Partition,
    result: ReplicaFetchPartitionResult,
  ): Promise<number> {
    const log = partition.log;
    if (result.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) {
      if (log.logEndOffset > result.logEndOffset) {
        // Ahead of the leader with no epoch to compare (an empty cache, or an unclean election):
        // what the leader lacks cannot be committed.
        await log.truncateTo(result.logEndOffset);
      } else {
        // Behind the leader's log start: start over from there (Kafka's truncateFullyAndStartAt).
        await log.truncateFullyAndStartAt(result.logStartOffset);
      }
      partition.onFollowerTruncation();
      await syncProducerStateAfterTruncation(log, partition.producerState, this.options.clock.nowMs());
      await this.persistEpochCache(partition);
      this.logTruncation(partition, 'offset out of range');
      return ErrorCode.NONE;
    }
    if (result.errorCode !== ErrorCode.NONE) return result.errorCode;
    if (result.divergingEpoch !== undefined) {
      const target = followerTruncationOffset(result.divergingEpoch, partition.epochCache, log.logEndOffset);
      await log.truncateTo(target);
      partition.onFollowerTruncation();
      await syncProducerStateAfterTruncation(log, partition.producerState, this.options.clock.nowMs());
      await this.persistEpochCache(partition);
      this.logTruncation(partition, `diverging epoch ${result.divergingEpoch.epoch}`);
      return ErrorCode.NONE;
    }
    if (result.records.length > 0) {
      // The epochs are durable first: a crash after the append then still knows them (entries past
      // the log end are dropped on load), so the next lastFetchedEpoch is never an older one.
      let position = 0;
      while (position < result.records.length) {
        const header = readBatchHeader(result.records, position);
        partition.assignEpochFromBatch(header.partitionLeaderEpoch, header.baseOffset);
        position += header.sizeBytes;
      }
      await this.persistEpochCache(partition);
      await log.appendAsFollower(result.records);
      applyRecordSet(partition.producerState, result.records, this.options.clock.nowMs());
    }
    partition.updateFollowerHighWatermark(result.highWatermark);
    this.options.delayedOperations.notify(partition.key);
    return ErrorCode.NONE;
  }

  private logTruncation(partition: Partition, why: string): void {
    this.options.logger.info(
      {
        partition: partition.key,
        logEndOffset: partition.logEndOffset,
        leaderEpoch: partition.leaderEpoch,
        why,
      },
      'follower truncated its log',
    );
  }

  // --- High-watermark checkpoint ------------------------------------------------------------------

  /**
   * Writes every partition's high watermark to its log dir's replication-offset-checkpoint (Kafka's
   * format). Runs on the maintenance timer every replica.high.watermark.checkpoint.interval.ms and
   * on clean shutdown; writes are serialized.
   */
  checkpointHighWatermarks(): Promise<void> {
    const run = this.highWatermarkCheckpointing.then(async () => {
      const byDir = new Map<string, CheckpointEntry[]>();
      for (const partition of this.partitions.values()) {
        const logDir = dirname(partition.log.dir);
        let entries = byDir.get(logDir);
        if (entries === undefined) {
          entries = [];
          byDir.set(logDir, entries);
        }
        entries.push({ topic: partition.topic, partition: partition.index, offset: partition.highWatermark });
      }
      let firstFailure: unknown;
      for (const [logDir, entries] of byDir) {
        try {
          await writeCheckpointFile(logDir, highWatermarkCheckpointName, entries);
        } catch (error) {
          // A full disk leaves the previous checkpoint (the write is atomic): try again next time.
          // Any other I/O failure takes the dir offline. Either way the other dirs are written.
          firstFailure ??= error;
          if (isIoError(error) && !isNoSpaceError(error)) {
            this.reportLogDirFailure(
              logDir,
              `${logDir}: writing ${highWatermarkCheckpointName} failed: ${error.code}`,
            );
          }
        }
      }
      if (firstFailure !== undefined) throw firstFailure;
    });
    this.highWatermarkCheckpointing = run.catch(() => undefined);
    return run;
  }

  // --- Fetch --------------------------------------------------------------------------------------

  /**
   * A consumer fetch: reads below the high watermark, and waits up to `maxWaitMs` for `minBytes`.
   * Each time one of the partitions changes, the whole fetch is read again; an error on any
   * partition answers at once, as Kafka does.
   */
  async fetchRecords(request: FetchRequest): Promise<FetchPartitionResult[]> {
    const deadlineMs = this.options.clock.nowMs() + Math.max(0, request.maxWaitMs);
    for (;;) {
      const { results, watched } = await this.readOnce(request);
      const bytes = results.reduce((sum, result) => sum + result.records.length, 0);
      const anyError = results.some((result) => result.errorCode !== ErrorCode.NONE);
      const remainingMs = deadlineMs - this.options.clock.nowMs();
      if (bytes >= request.minBytes || anyError || remainingMs <= 0 || watched.length === 0) return results;
      const changed = await this.options.delayedOperations.waitUntil(
        watched.map((entry) => entry.partition.key),
        remainingMs,
        () =>
          watched.some(
            (entry) =>
              !this.stillLeads(entry.partition, entry.leaderEpoch) ||
              entry.partition.highWatermark !== entry.highWatermark,
          ),
      );
      if (!changed) return (await this.readOnce(request)).results;
    }
  }

  private async readOnce(request: FetchRequest): Promise<{
    results: FetchPartitionResult[];
    watched: { partition: Partition; leaderEpoch: number; highWatermark: number }[];
  }> {
    const results: FetchPartitionResult[] = [];
    const watched: { partition: Partition; leaderEpoch: number; highWatermark: number }[] = [];
    let remainingBytes = request.maxBytes;
    // KIP-74: the first partition that has data returns at least one whole batch, whatever its size.
    let firstWithData = true;
    for (const wanted of request.partitions) {
      const failed = (errorCode: number, currentLeader: LeaderAndEpoch): FetchPartitionResult => ({
        topic: wanted.topic,
        partition: wanted.partition,
        errorCode,
        highWatermark: -1,
        lastStableOffset: -1,
        logStartOffset: -1,
        records: Buffer.alloc(0),
        currentLeader,
      });
      const lookup = this.lookupLeader(wanted.topic, wanted.partition);
      if (!lookup.ok) {
        results.push(failed(lookup.errorCode, lookup.currentLeader));
        continue;
      }
      const partition = lookup.partition;
      const epochError = partition.checkCurrentLeaderEpoch(wanted.currentLeaderEpoch);
      if (epochError !== ErrorCode.NONE) {
        results.push(failed(epochError, lookup.currentLeader));
        continue;
      }
      const leaderEpoch = partition.leaderEpoch;
      const highWatermark = partition.highWatermark;
      const limitBytes = Math.max(0, Math.min(wanted.partitionMaxBytes, remainingBytes));
      let read: Awaited<ReturnType<Partition['log']['read']>>;
      try {
        read = await partition.log.read(wanted.fetchOffset, limitBytes, {
          maxOffsetExclusive: highWatermark,
        });
      } catch (error) {
        if (error instanceof LogClosedError) {
          results.push(failed(ErrorCode.NOT_LEADER_OR_FOLLOWER, lookup.currentLeader));
          continue;
        }
        if (error instanceof KafkaStorageError) {
          results.push(failed(ErrorCode.KAFKA_STORAGE_ERROR, lookup.currentLeader));
          continue;
        }
        throw error;
      }
      if (read.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) {
        results.push(failed(ErrorCode.OFFSET_OUT_OF_RANGE, lookup.currentLeader));
        continue;
      }
      let records = read.records;
      if (records.length > limitBytes && !firstWithData) records = Buffer.alloc(0);
      if (records.length > 0) firstWithData = false;
      remainingBytes -= records.length;
      watched.push({ partition, leaderEpoch, highWatermark });
      results.push({
        topic: wanted.topic,
        partition: wanted.partition,
        errorCode: ErrorCode.NONE,
        highWatermark,
        // Without transactions the last stable offset is the high watermark, for both isolation levels.
        lastStableOffset: highWatermark,
        logStartOffset: read.logStartOffset,
        records,
        currentLeader: lookup.currentLeader,
      });
    }
    return { results, watched };
  }

  // --- ListOffsets --------------------------------------------------------------------------------

  /** Earliest (-2), latest (-1, the high watermark for a consumer) or the first offset at a timestamp. */
  async listOffsets(requests: readonly ListOffsetRequest[]): Promise<ListOffsetResult[]> {
    const results: ListOffsetResult[] = [];
    for (const request of requests) {
      const failed = (errorCode: number): ListOffsetResult => ({
        topic: request.topic,
        partition: request.partition,
        errorCode,
        offset: -1,
        timestamp: -1,
        leaderEpoch: -1,
      });
      const lookup = this.lookupLeader(request.topic, request.partition);
      if (!lookup.ok) {
        results.push(failed(lookup.errorCode));
        continue;
      }
      const partition = lookup.partition;
      const epochError = partition.checkCurrentLeaderEpoch(request.currentLeaderEpoch);
      if (epochError !== ErrorCode.NONE) {
        results.push(failed(epochError));
        continue;
      }
      const availableError = partition.checkOffsetsAvailable();
      if (availableError !== ErrorCode.NONE) {
        results.push(failed(availableError));
        continue;
      }
      // The epoch that wrote the offset (v4+), from the leader-epoch cache; "latest" answers the
      // current epoch, as Kafka does.
      const found = (
        offset: number,
        timestamp: number,
        leaderEpoch = offset < 0 ? -1 : partition.epochCache.epochForOffset(offset),
      ): ListOffsetResult => ({
        topic: request.topic,
        partition: request.partition,
        errorCode: ErrorCode.NONE,
        offset,
        timestamp,
        leaderEpoch,
      });
      if (request.timestamp === -2) {
        results.push(found(partition.log.earliestOffset(), -1));
      } else if (request.timestamp === -1) {
        results.push(found(partition.highWatermark, -1, partition.epochCache.latestEpoch));
      } else if (request.timestamp < 0) {
        // -3 (max timestamp) arrived with ListOffsets v7, beyond the versions Gregor speaks.
        results.push(failed(ErrorCode.INVALID_REQUEST));
      } else {
        const highWatermark = partition.highWatermark;
        let lookupResult: Awaited<ReturnType<Partition['log']['offsetForTimestamp']>>;
        try {
          lookupResult = await partition.log.offsetForTimestamp(request.timestamp);
          if (lookupResult !== null)
            lookupResult = await firstRecordAtOrAfter(partition.log, lookupResult, request.timestamp);
        } catch (error) {
          if (error instanceof LogClosedError) {
            results.push(failed(ErrorCode.NOT_LEADER_OR_FOLLOWER));
            continue;
          }
          if (error instanceof KafkaStorageError) {
            results.push(failed(ErrorCode.KAFKA_STORAGE_ERROR));
            continue;
          }
          throw error;
        }
        // A consumer may only be pointed at records it can read: below the high watermark.
        if (lookupResult === null || lookupResult.offset >= highWatermark) results.push(found(-1, -1));
        else results.push(found(lookupResult.offset, lookupResult.timestamp));
      }
    }
    return results;
  }

  // --- Housekeeping -------------------------------------------------------------------------------

  /** The node calls this on a timer: retention when due, due flushes, recovery-point checkpoints. */
  async maintenance(nowMs: number): Promise<void> {
    if (this.closed) return;
    if (nowMs >= this.nextRetentionMs) {
      this.nextRetentionMs =
        nowMs + (this.options.retentionCheckIntervalMs ?? retentionCheckIntervalMsDefault);
      const deletedSegments = await this.options.logStore.runRetention(
        (topic, index) => this.partitions.get(`${topic}-${index}`)?.highWatermark,
      );
      if (deletedSegments > 0) {
        this.options.logger.info({ deletedSegments }, 'retention deleted segments');
        for (const partition of [...this.partitions.values()]) {
          await this.exclusive(partition.key, async () => {
            if (this.partitions.get(partition.key) !== partition) return;
            partition.onLogStartOffsetMoved();
            await this.persistEpochCache(partition);
          });
        }
      }
    }
    if (nowMs >= this.nextHighWatermarkCheckpointMs) {
      this.nextHighWatermarkCheckpointMs =
        nowMs + (this.options.highWatermarkCheckpointIntervalMs ?? highWatermarkCheckpointIntervalMsDefault);
      await this.checkpointHighWatermarks();
    }
    await this.options.logStore.flushDueLogs();
    if (nowMs >= this.nextRecoveryCheckpointMs) {
      this.nextRecoveryCheckpointMs =
        nowMs + (this.options.recoveryPointCheckpointIntervalMs ?? recoveryPointCheckpointIntervalMsDefault);
      await this.options.logStore.checkpointRecoveryPoints();
    }
  }

  /** Stops serving: every parked request completes now (with errors); logs stay open for the owner to close. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const key of this.partitions.keys()) this.options.delayedOperations.notify(key);
  }
}

function failedReplicaFetch(
  topic: string,
  partition: number,
  errorCode: number,
): ReplicaFetchPartitionResult {
  return {
    topic,
    partition,
    errorCode,
    highWatermark: -1,
    logStartOffset: -1,
    logEndOffset: -1,
    divergingEpoch: undefined,
    leaderEpoch: -1,
    records: Buffer.alloc(0),
  };
}

/**
 * The image's topic configs that storage acts on (others, like unclean.leader.election.enable, are
 * not log configs), key by key: a value the controller accepted but storage refuses (e.g. a
 * segment.bytes below storage's minimum) is left out, so the broker default applies, and reported.
 */
export function validStorageOverrides(
  topicConfigs: ReadonlyMap<string, string>,
  defaults: LogConfig,
  onIgnored: (name: string, problem: string) => void,
): ConfigProps {
  const overrides: Record<string, string> = {};
  for (const [name, value] of topicConfigs) {
    if (!storageTopicKeys.has(name)) continue;
    try {
      parseLogConfig({ [name]: value }, defaults);
      overrides[name] = value;
    } catch (error) {
      if (!(error instanceof LogConfigError)) throw error;
      onIgnored(name, error.message);
    }
  }
  return overrides;
}

// The partitions this broker holds, driven by the metadata image: it creates their logs, makes each
// one leader, follower or neither as the image says, deletes logs of topics that are gone, and
// serves the data path of the Kafka APIs (append with acks, fetch with long polling, offset lookups).
//
// Waiting never polls: a Produce with acks=all and a Fetch short of min_bytes park in
// DelayedOperations under the partition's key, which is notified whenever the partition's log end,
// high watermark or leadership changes.

import { MetadataImage, type PartitionState, type TopicImage } from '@gregor/metadata';
import { ErrorCode, KafkaError } from '@gregor/protocol';
import {
  type Clock,
  type ConfigProps,
  LogClosedError,
  type LogConfig,
  LogConfigError,
  logConfigDefinitions,
  parseLogConfig,
} from '@gregor/storage';
import type { DelayedOperations } from '../delayed/delayed-operations.js';
import type { Logger } from '../logging.js';
import type { LogStore } from './log-store.js';
import { Partition } from './partition.js';
import { stampLogAppendTime, validateRecordSet } from './record-set.js';

/** Kafka's `log.retention.check.interval.ms` default. */
export const retentionCheckIntervalMsDefault = 300_000;
/** Kafka's `log.flush.offset.checkpoint.interval.ms` default. */
export const recoveryPointCheckpointIntervalMsDefault = 60_000;

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
  /** -1 (unknown) until issue 5's leader-epoch cache can name the epoch of an offset. */
  readonly leaderEpoch: number;
}

type LeaderLookup =
  | { readonly ok: true; readonly partition: Partition; readonly currentLeader: LeaderAndEpoch }
  | { readonly ok: false; readonly errorCode: number; readonly currentLeader: LeaderAndEpoch };

export class ReplicaManager {
  private readonly partitions = new Map<string, Partition>();
  /** The topic configs each partition's log was last configured from (image maps are shared when unchanged). */
  private readonly appliedConfigs = new Map<string, ReadonlyMap<string, string>>();
  private imageValue: MetadataImage = MetadataImage.empty;
  private metadataQueue: Promise<void> = Promise.resolve();
  private nextRetentionMs: number;
  private nextRecoveryCheckpointMs: number;
  private closed = false;

  constructor(private readonly options: ReplicaManagerOptions) {
    const nowMs = options.clock.nowMs();
    this.nextRetentionMs = nowMs + (options.retentionCheckIntervalMs ?? retentionCheckIntervalMsDefault);
    this.nextRecoveryCheckpointMs =
      nowMs + (options.recoveryPointCheckpointIntervalMs ?? recoveryPointCheckpointIntervalMsDefault);
  }

  get brokerId(): number {
    return this.options.brokerId;
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
    this.imageValue = image;
  }

  private async applyPartition(
    topic: TopicImage,
    index: number,
    state: PartitionState,
    topicConfigs: ReadonlyMap<string, string>,
    nowMs: number,
  ): Promise<void> {
    const key = `${topic.name}-${index}`;
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
      try {
        log = await this.options.logStore.getOrCreateLog(topic.name, index, overrides);
      } catch (error) {
        if (!(error instanceof KafkaError)) throw error;
        this.options.logger.error({ partition: key, err: error }, 'cannot open the log of a local replica');
        return;
      }
      // A log opened at start-up carries whatever config it was opened with: the image decides.
      log.updateConfig(parseLogConfig(overrides, this.options.brokerLogConfig));
      partition = new Partition(topic.name, topic.topicId, index, log, this.options.brokerId, state);
      this.partitions.set(key, partition);
      this.appliedConfigs.set(key, topicConfigs);
      this.transition(partition, state, nowMs);
      return;
    }
    if (changedConfigs) {
      partition.log.updateConfig(parseLogConfig(overrides, this.options.brokerLogConfig));
      this.appliedConfigs.set(key, topicConfigs);
    }
    if (partition.isNewer(state)) this.transition(partition, state, nowMs);
  }

  private transition(partition: Partition, state: PartitionState, nowMs: number): void {
    const before = partition.role;
    if (state.leader === this.options.brokerId) partition.makeLeader(state, nowMs);
    else partition.makeFollower(state);
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
    if (acks === -1 && partition.isr.length < config.minInsyncReplicas) {
      return failed(
        ErrorCode.NOT_ENOUGH_REPLICAS,
        `ISR ${partition.isr.length} is below min.insync.replicas ${config.minInsyncReplicas}`,
      );
    }
    const leaderEpoch = partition.leaderEpoch;
    let logAppendTimeMs = -1;
    let appended: Awaited<ReturnType<Partition['log']['append']>>;
    try {
      validateRecordSet(request.records, config.maxMessageBytes);
      if (config.messageTimestampType === 'LogAppendTime') {
        logAppendTimeMs = this.options.clock.nowMs();
        stampLogAppendTime(request.records, logAppendTimeMs);
      }
      appended = await partition.log.append(request.records, leaderEpoch);
    } catch (error) {
      if (error instanceof KafkaError) return failed(error.code, error.message);
      // The partition was deleted or moved while the append waited for the log.
      if (error instanceof LogClosedError) return failed(ErrorCode.NOT_LEADER_OR_FOLLOWER);
      throw error;
    }
    if (!this.stillLeads(partition, leaderEpoch)) return failed(ErrorCode.NOT_LEADER_OR_FOLLOWER);
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
    if (!this.stillLeads(partition, leaderEpoch)) return failed(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    if (!covered) return failed(ErrorCode.REQUEST_TIMED_OUT, 'the ISR did not replicate the records in time');
    if (partition.isr.length < config.minInsyncReplicas) {
      return failed(
        ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
        `ISR shrank to ${partition.isr.length}, below min.insync.replicas ${config.minInsyncReplicas}`,
      );
    }
    return success;
  }

  // --- Replication (issue 5 drives this from its gRPC follower fetches) --------------------------

  /**
   * Follower `replicaId` fetched `topic-partition` from `fetchOffset`: it holds everything below.
   * Wakes the acks=all produces and consumer fetches the moved high watermark satisfies.
   */
  recordFollowerFetch(topic: string, partition: number, replicaId: number, fetchOffset: number): void {
    const local = this.partitions.get(`${topic}-${partition}`);
    if (local === undefined) return;
    if (local.recordFollowerFetch(replicaId, fetchOffset, this.options.clock.nowMs())) {
      this.options.delayedOperations.notify(local.key);
    }
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
      const found = (offset: number, timestamp: number): ListOffsetResult => ({
        topic: request.topic,
        partition: request.partition,
        errorCode: ErrorCode.NONE,
        offset,
        timestamp,
        leaderEpoch: -1,
      });
      if (request.timestamp === -2) {
        results.push(found(partition.log.earliestOffset(), -1));
      } else if (request.timestamp === -1) {
        results.push(found(partition.highWatermark, -1));
      } else if (request.timestamp < 0) {
        // -3 (max timestamp) arrived with ListOffsets v7, beyond the versions Gregor speaks.
        results.push(failed(ErrorCode.INVALID_REQUEST));
      } else {
        const highWatermark = partition.highWatermark;
        let lookupResult: Awaited<ReturnType<Partition['log']['offsetForTimestamp']>>;
        try {
          lookupResult = await partition.log.offsetForTimestamp(request.timestamp);
        } catch (error) {
          if (error instanceof LogClosedError) {
            results.push(failed(ErrorCode.NOT_LEADER_OR_FOLLOWER));
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
      const deletedSegments = await this.options.logStore.runRetention();
      if (deletedSegments > 0) this.options.logger.info({ deletedSegments }, 'retention deleted segments');
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

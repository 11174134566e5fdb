// Reads of the leader's local logs for clients: a consumer's Fetch, below the high watermark and
// long-polled in the purgatory until min_bytes (Kafka's DelayedFetch), and ListOffsets (earliest,
// latest, or the first offset at a timestamp).

import type { Clock } from '@gregor/ground';
import { decodeRecordBatch, ErrorCode, KafkaError } from '@gregor/protocol';
import { LogClosedError } from '@gregor/storage';
import type { DelayedOperations } from '../delayed/delayed-operations.js';
import type { LeaderAndEpoch, LocalReplicas } from './local-replicas.js';
import type { Partition } from './partition.js';

/**
 * Kafka's isolation levels: read_uncommitted reads up to the high watermark, read_committed up to
 * the last stable offset (below every open transaction), with the aborted transactions listed.
 */
export const IsolationLevel = { readUncommitted: 0, readCommitted: 1 } as const;

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
  /** read_committed: the aborted transactions the returned range may hold; null for read_uncommitted. */
  readonly abortedTransactions: readonly { producerId: number; firstOffset: number }[] | null;
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

export interface EpochEndOffsetRequest {
  readonly topic: string;
  readonly partition: number;
  /** The leader epoch the client knows (-1: unchecked). */
  readonly currentLeaderEpoch: number;
  /** The epoch whose end offset is wanted. */
  readonly leaderEpoch: number;
}

export interface EpochEndOffsetResult {
  readonly errorCode: number;
  /** The largest epoch <= the requested one that the leader has, -1 when none. */
  readonly leaderEpoch: number;
  /** Where that epoch ends (the log end offset for the latest), -1 when unknown. */
  readonly endOffset: number;
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

export interface LocalReadsOptions {
  readonly replicas: LocalReplicas;
  readonly clock: Clock;
  readonly delayedOperations: DelayedOperations;
}

interface Watched {
  readonly partition: Partition;
  readonly leaderEpoch: number;
  readonly highWatermark: number;
}

type LogRead = Awaited<ReturnType<Partition['log']['read']>>;

export class LocalReads {
  constructor(private readonly options: LocalReadsOptions) {}

  /**
   * A consumer fetch: reads below the high watermark, and waits up to `maxWaitMs` for `minBytes`.
   * Each time one of the partitions changes, the whole fetch is read again; an error on any
   * partition answers at once, as Kafka does.
   */
  async fetchRecords(request: FetchRequest): Promise<FetchPartitionResult[]> {
    const { clock, delayedOperations, replicas } = this.options;
    const deadlineMs = clock.nowMs() + Math.max(0, request.maxWaitMs);
    for (;;) {
      const { results, watched } = await this.readOnce(request);
      const bytes = results.reduce((sum, result) => sum + result.records.length, 0);
      const anyError = results.some((result) => result.errorCode !== ErrorCode.NONE);
      const remainingMs = deadlineMs - clock.nowMs();
      if (bytes >= request.minBytes || anyError || remainingMs <= 0 || watched.length === 0) return results;
      const changed = await delayedOperations.waitUntil(
        watched.map((entry) => entry.partition.key),
        remainingMs,
        () =>
          watched.some(
            (entry) =>
              !replicas.stillLeadsForClients(entry.partition, entry.leaderEpoch) ||
              entry.partition.highWatermark !== entry.highWatermark,
          ),
      );
      if (!changed) return (await this.readOnce(request)).results;
    }
  }

  private async readOnce(
    request: FetchRequest,
  ): Promise<{ results: FetchPartitionResult[]; watched: Watched[] }> {
    const { replicas } = this.options;
    const results: FetchPartitionResult[] = [];
    const watched: Watched[] = [];
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
        abortedTransactions: null,
        records: Buffer.alloc(0),
        currentLeader,
      });
      const lookup = replicas.lookupLeader(wanted.topic, wanted.partition);
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
      const lastStableOffset = partition.producerState.lastStableOffset(highWatermark);
      const readCommitted = request.isolationLevel === IsolationLevel.readCommitted;
      const upperBoundOffset = readCommitted ? lastStableOffset : highWatermark;
      const limitBytes = Math.max(0, Math.min(wanted.partitionMaxBytes, remainingBytes));
      const read = await this.read(partition, () =>
        partition.log.read(wanted.fetchOffset, limitBytes, { maxOffsetExclusive: upperBoundOffset }),
      );
      if (typeof read === 'number') {
        results.push(failed(read, lookup.currentLeader));
        continue;
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
        lastStableOffset,
        logStartOffset: read.logStartOffset,
        abortedTransactions: readCommitted
          ? partition.producerState
              .abortedTransactions(wanted.fetchOffset, upperBoundOffset)
              .map(({ producerId, firstOffset }) => ({ producerId, firstOffset }))
          : null,
        records,
        currentLeader: lookup.currentLeader,
      });
    }
    return { results, watched };
  }

  /**
   * OffsetForLeaderEpoch from a consumer (Kafka's Partition.lastOffsetForLeaderEpoch): at the
   * leader, after the client's current epoch is checked, the largest epoch <= the requested one and
   * the offset where it ends, so a consumer can detect that the log it read was truncated (after an
   * unclean election). An epoch newer than the leader's latest is unknown (-1, -1), as in Kafka.
   */
  epochEndOffsets(requests: readonly EpochEndOffsetRequest[]): EpochEndOffsetResult[] {
    return requests.map((request) => {
      const failed = (errorCode: number): EpochEndOffsetResult => ({
        errorCode,
        leaderEpoch: -1,
        endOffset: -1,
      });
      const lookup = this.options.replicas.lookupLeader(request.topic, request.partition);
      if (!lookup.ok) return failed(lookup.errorCode);
      const partition = lookup.partition;
      const epochError = partition.checkCurrentLeaderEpoch(request.currentLeaderEpoch);
      if (epochError !== ErrorCode.NONE) return failed(epochError);
      if (request.leaderEpoch > partition.epochCache.latestEpoch) return failed(ErrorCode.NONE);
      const found = partition.epochCache.endOffsetFor(request.leaderEpoch, partition.log.logEndOffset);
      return found.endOffset < 0
        ? failed(ErrorCode.NONE)
        : { errorCode: ErrorCode.NONE, leaderEpoch: found.epoch, endOffset: found.endOffset };
    });
  }

  /**
   * Earliest (-2), latest (-1: the high watermark, or for read_committed the last stable offset), the
   * record with the largest timestamp (-3), earliest local (-4: the log start offset, all of the log
   * being local), latest tiered (-5: offset -1, as Kafka answers without remote storage) or the first
   * offset at a timestamp. Everything but -1, -2 and -4 must lie below that same bound, as in Kafka's
   * Partition.fetchOffsetForTimestamp, else offset -1.
   */
  async listOffsets(
    requests: readonly ListOffsetRequest[],
    isolationLevel: number = IsolationLevel.readUncommitted,
  ): Promise<ListOffsetResult[]> {
    const results: ListOffsetResult[] = [];
    for (const request of requests) results.push(await this.listOffset(request, isolationLevel));
    return results;
  }

  private async listOffset(request: ListOffsetRequest, isolationLevel: number): Promise<ListOffsetResult> {
    const failed = (errorCode: number): ListOffsetResult => ({
      topic: request.topic,
      partition: request.partition,
      errorCode,
      offset: -1,
      timestamp: -1,
      leaderEpoch: -1,
    });
    const lookup = this.options.replicas.lookupLeader(request.topic, request.partition);
    if (!lookup.ok) return failed(lookup.errorCode);
    const partition = lookup.partition;
    const epochError = partition.checkCurrentLeaderEpoch(request.currentLeaderEpoch);
    if (epochError !== ErrorCode.NONE) return failed(epochError);
    const availableError = partition.checkOffsetsAvailable();
    if (availableError !== ErrorCode.NONE) return failed(availableError);
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
    const readableEnd =
      isolationLevel === IsolationLevel.readCommitted
        ? partition.producerState.lastStableOffset(partition.highWatermark)
        : partition.highWatermark;
    if (
      request.timestamp === ListOffsetsTimestamp.earliest ||
      request.timestamp === ListOffsetsTimestamp.earliestLocal
    ) {
      return found(partition.log.earliestOffset(), -1);
    }
    if (request.timestamp === ListOffsetsTimestamp.latest) {
      return found(readableEnd, -1, partition.epochCache.latestEpoch);
    }
    if (request.timestamp === ListOffsetsTimestamp.latestTiered) return found(-1, -1);
    if (request.timestamp === ListOffsetsTimestamp.maxTimestamp) {
      const max = partition.log.maxTimestamp();
      if (max === null) return found(-1, -1);
      const hit = await this.read(partition, () => firstRecordWithTimestamp(partition.log, max));
      if (typeof hit === 'number') return failed(hit);
      if (hit.offset >= readableEnd) return found(-1, -1);
      return found(hit.offset, hit.timestamp);
    }
    if (request.timestamp < 0) return failed(ErrorCode.INVALID_REQUEST);
    const hit = await this.read(partition, async () => {
      const batchHit = await partition.log.offsetForTimestamp(request.timestamp);
      return batchHit === null ? null : firstRecordAtOrAfter(partition.log, batchHit, request.timestamp);
    });
    if (typeof hit === 'number') return failed(hit);
    // A consumer may only be pointed at records it can read: below the high watermark (or the LSO).
    if (hit === null || hit.offset >= readableEnd) return found(-1, -1);
    return found(hit.offset, hit.timestamp);
  }

  /**
   * Runs a read of `partition`'s log; a failure is the error code to answer: the log closed under
   * it (deleted, or moved), a failed log dir (KafkaStorageError) or no descriptor left.
   */
  private async read<T>(partition: Partition, reading: () => Promise<T>): Promise<T | number> {
    try {
      return await reading();
    } catch (error) {
      if (error instanceof LogClosedError) return ErrorCode.NOT_LEADER_OR_FOLLOWER;
      if (error instanceof KafkaError) {
        this.options.replicas.onStorageError(partition, error);
        return error.code;
      }
      throw error;
    }
  }
}

/** The special timestamps of ListOffsets (Kafka's ListOffsetsRequest constants). */
export const ListOffsetsTimestamp = {
  latest: -1,
  earliest: -2,
  /** v7+ (KIP-734): the record with the largest timestamp. */
  maxTimestamp: -3,
  /** v8+ (KIP-405): the first offset still in local storage. */
  earliestLocal: -4,
  /** v9+ (KIP-1005): the last offset in remote storage. */
  latestTiered: -5,
} as const;

/**
 * MAX_TIMESTAMP: storage knows the largest timestamp and the last offset of the first batch that has
 * it; Kafka answers the first record of that batch whose own timestamp is it (under LogAppendTime,
 * the batch's first record), so decode that one batch.
 */
async function firstRecordWithTimestamp(
  log: Partition['log'],
  max: { readonly offset: number; readonly timestamp: number },
): Promise<{ offset: number; timestamp: number }> {
  const read: LogRead = await log.read(max.offset, 1);
  if (read.errorCode !== ErrorCode.NONE || read.records.length === 0) return max;
  const batch = decodeRecordBatch(read.records, 0, { verifyCrc: false });
  const record = batch.records.find((candidate) => candidate.timestamp === max.timestamp);
  return record === undefined ? max : { offset: record.offset, timestamp: record.timestamp };
}

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
  const read: LogRead = await log.read(batchHit.offset, 1);
  if (read.errorCode !== ErrorCode.NONE || read.records.length === 0) return batchHit;
  const batch = decodeRecordBatch(read.records, 0, { verifyCrc: false });
  const record = batch.records.find(
    (candidate) => candidate.offset >= batchHit.offset && candidate.timestamp >= timestampMs,
  );
  return record === undefined ? batchHit : { offset: record.offset, timestamp: record.timestamp };
}

// The log of one partition (Kafka's UnifiedLog): its segments in `<log dir>/<topic>-<partition>/`
// (local-log.ts, Kafka's LocalLog), loaded and recovered after a crash by log-loader.ts (Kafka's
// LogLoader), and the log start offset with its checkpoint. It assigns offsets, rolls segments,
// serves reads and offset lookups, applies retention and DeleteRecords, runs the cleaner's swaps and
// truncates for replication.
//
// Concurrency: every operation that changes the log (append, truncate, retention, roll, flush,
// close) runs on one SerialQueue, so they never interleave. Reads do not queue: they work on a
// snapshot of the segment list and of each segment's size, which only ever moves between batch
// boundaries after a write completed, so a read sees whole batches only.
//
// An I/O failure inside an operation stops the log and takes its log dir offline, with two
// exceptions: a full disk on an append, and running out of file descriptors (log-io-failures.ts).
//
// File descriptors: none of its own. Every segment file is opened through the broker-wide
// FileHandleCache on first use and may be closed whenever it is idle; a segment keeps its size, next
// offset and index entries in memory, so a closed file costs nothing until it is read or written.

import { dirname } from 'node:path';
import type { Clock } from '@gregor/ground';
import { invariant } from '@gregor/ground';
import { setBatchBaseOffsetAndEpoch } from '@gregor/protocol';
import { leaderFrames, type ValidatedBatchFrame, validateRecords } from './append-validation.js';
import { LogClosedError, UnexpectedAppendOffsetError } from './errors.js';
import { FileHandleCache } from './file-handle-cache.js';
import { type BatchSummary, int32Max } from './file-records.js';
import { LocalLog, type LogReadResult, type ReadOptions, type TimestampLookupResult } from './local-log.js';
import { type CleanableLog, type CompactionResult, type CompactOptions, compactLog } from './log-cleaner.js';
import type { SwapStepObserver } from './log-cleaner-swap.js';
import type { LogConfig } from './log-config.js';
import { isIoError, type LogDirFailureChannel } from './log-dir-failure-channel.js';
import { LogIoFailures } from './log-io-failures.js';
import { loadLog } from './log-loader.js';
import { type RetentionOptions, retentionDeleteCount } from './log-retention.js';
import type { LogSegment } from './log-segment.js';
import { SerialQueue } from './serial-queue.js';

// The types of its reads and of a leader's validated batches are part of this API.
export type { ValidatedBatchFrame } from './append-validation.js';
export type { LogReadResult, ReadOptions, TimestampLookupResult } from './local-log.js';
export type { RetentionOptions } from './log-retention.js';

/** Mutating operations allowed to wait on one partition before callers are refused. */
export const partitionQueueDepthMax = 1024;

/** Persists per-log-dir checkpoints; LogManager implements it for the partitions of each dir. */
export interface LogCheckpointListener {
  /** The log start offset changed: persist it before the deleted segments' files are unlinked. */
  logStartOffsetChanged(log: PartitionLog): Promise<void>;
  /** The recovery point moved back (truncation): persist it so recovery re-validates new data. */
  recoveryPointLowered(log: PartitionLog): Promise<void>;
}

export interface PartitionLogOptions {
  /** The partition directory, `<log dir>/<topic>-<partition>`; created if missing. */
  readonly dir: string;
  readonly topic: string;
  readonly partition: number;
  readonly config: LogConfig;
  readonly clock: Clock;
  /** Offset below which data is known to be flushed (from recovery-point-offset-checkpoint). */
  readonly recoveryPoint: number;
  /** From log-start-offset-checkpoint, when the partition is in it. */
  readonly logStartOffset: number | undefined;
  /** The log dir had a clean-shutdown marker: no segment needs re-validation. */
  readonly hadCleanShutdown: boolean;
  readonly checkpoints: LogCheckpointListener;
  /** The broker's descriptor budget; a log opened on its own gets a private one of default size. */
  readonly files?: FileHandleCache;
  /** Where an I/O failure of this log takes its log dir offline; without one, only the log fails. */
  readonly logDirFailureChannel?: LogDirFailureChannel;
}

export interface AppendResult {
  readonly baseOffset: number;
  readonly lastOffset: number;
  /** Clock time of the append (what LogAppendTime topics report). */
  readonly logAppendTimeMs: number;
  readonly logStartOffset: number;
}

export interface AppendOptions {
  /**
   * The caller validated the record set just before (framing, magic, CRC, max.message.bytes: the
   * broker's LogValidator) and has not changed its bytes since: these are its batches, in order, so
   * the set is not read again. They must tile the set exactly (checked from the frames alone).
   */
  readonly validatedBatches?: readonly ValidatedBatchFrame[];
}

export class PartitionLog {
  private readonly local: LocalLog;
  private logStartOffsetValue: number;
  private closed = false;
  private readonly ioFailures: LogIoFailures;
  private compacting = false;
  private readonly queue: SerialQueue;
  private configValue: LogConfig;

  private constructor(
    private readonly options: PartitionLogOptions,
    private readonly files: FileHandleCache,
    segments: readonly LogSegment[],
    logStartOffset: number,
  ) {
    this.local = new LocalLog(
      `${options.topic}-${options.partition}`,
      options.dir,
      files,
      options.clock,
      segments,
    );
    this.ioFailures = new LogIoFailures(this.name, options.dir, this.logDir, options.logDirFailureChannel);
    this.logStartOffsetValue = logStartOffset;
    this.configValue = options.config;
    this.queue = new SerialQueue(this.name, partitionQueueDepthMax);
    this.checkInvariants();
  }

  get topic(): string {
    return this.options.topic;
  }

  get partition(): number {
    return this.options.partition;
  }

  get dir(): string {
    return this.options.dir;
  }

  get name(): string {
    return `${this.options.topic}-${this.options.partition}`;
  }

  get config(): LogConfig {
    return this.configValue;
  }

  get logStartOffset(): number {
    return this.logStartOffsetValue;
  }

  /** The offset the next appended record gets. */
  get logEndOffset(): number {
    return this.local.logEndOffset;
  }

  /** Everything below this offset is known to be on disk (fsynced). */
  get recoveryPoint(): number {
    return this.local.recoveryPoint;
  }

  get sizeBytes(): number {
    return this.local.sizeBytes;
  }

  segmentBaseOffsets(): number[] {
    return this.local.segments.map((s) => s.baseOffset);
  }

  /** Opens (or creates) the log in `options.dir`, recovered after a crash as log-loader.ts says. */
  static async open(options: PartitionLogOptions): Promise<PartitionLog> {
    const files = options.files ?? new FileHandleCache();
    const { segments, logStartOffset } = await loadLog(options, files);
    return new PartitionLog(options, files, segments, logStartOffset);
  }

  private checkInvariants(): void {
    const segments = this.local.segments;
    invariant(this.logStartOffsetValue <= this.logEndOffset, () => `${this.name}: log start beyond log end`);
    invariant(this.recoveryPoint <= this.logEndOffset, () => `${this.name}: recovery point beyond log end`);
    invariant(
      this.logStartOffsetValue >= segments[0]!.baseOffset,
      () => `${this.name}: log start below the first segment`,
    );
    for (let i = 1; i < segments.length; i++) {
      invariant(
        segments[i]!.baseOffset >= segments[i - 1]!.nextOffset,
        () => `${this.name}: segment ${segments[i]!.baseOffset} overlaps its predecessor`,
      );
    }
  }

  /** The log dir holding this partition (`log.dirs` entry). */
  get logDir(): string {
    return dirname(this.options.dir);
  }

  /** Whether an I/O failure (here or elsewhere in its log dir) stopped this log for good. */
  get isOffline(): boolean {
    return this.ioFailures.isOffline;
  }

  /**
   * Whether an operation ran out of file descriptors halfway: the log refuses everything until the
   * LogManager opens it again from its files (getOrCreateLog does).
   */
  get needsReopen(): boolean {
    return this.ioFailures.needsReopen;
  }

  private ensureOpen(): void {
    this.ioFailures.throwIfStopped();
    if (this.closed) throw new LogClosedError(this.name);
  }

  /** What an operation that failed with `error` throws (see LogIoFailures.failed). */
  private failed(operation: string, error: unknown, leavesStateUnknown = false): unknown {
    return this.ioFailures.failed(operation, error, leavesStateUnknown);
  }

  /**
   * Runs `task` on the queue (after every earlier operation); an I/O failure stops the log, and so
   * does running out of descriptors in an operation that `leavesStateUnknown` when interrupted.
   */
  private runExclusive<T>(operation: string, task: () => Promise<T>, leavesStateUnknown = false): Promise<T> {
    return this.queue
      .run(() => {
        this.ensureOpen();
        return task();
      })
      .catch((error: unknown) => {
        throw this.failed(operation, error, leavesStateUnknown);
      });
  }

  /**
   * After its log dir went offline: stops the log and closes its files without writing anything
   * (the disk may not take it). Reads in flight finish first.
   */
  async closeAfterFailure(reason: string): Promise<void> {
    this.ioFailures.stop(reason);
    await this.closeWithoutWriting();
  }

  /**
   * Stops the log and gives its descriptors back without writing anything (no index entries, no
   * trim, no flush): after its log dir failed, or when the log is to be opened again from its files
   * (`needsReopen`). Reads in flight finish first on the descriptors they hold.
   */
  async closeWithoutWriting(): Promise<void> {
    await this.queue
      .run(async () => {
        if (this.closed) return;
        this.closed = true;
        await this.local.closeWithoutWriting();
      })
      .catch(() => undefined);
  }

  /** Applies a new topic configuration (AlterConfigs); takes effect for the next operations. */
  updateConfig(config: LogConfig): void {
    this.configValue = config;
  }

  /**
   * Leader append. `records` is a produce request's record set: one or more RecordBatch v2. All are
   * validated before anything is written (a bad one throws KafkaError CORRUPT_MESSAGE, or
   * MESSAGE_TOO_LARGE above max.message.bytes, and nothing is stored), unless the caller passes the
   * batches its own validation found (`validatedBatches`). Offsets are assigned by
   * rewriting baseOffset and partitionLeaderEpoch IN PLACE in `records` (outside the CRC), then the
   * whole set is written with one write.
   */
  async append(records: Buffer, leaderEpoch: number, options: AppendOptions = {}): Promise<AppendResult> {
    this.ensureOpen();
    const frames = leaderFrames(records, this.configValue.maxMessageBytes, options.validatedBatches);
    // Not an async closure: it returns appendAssigned's promise directly (no extra promise hops).
    return this.queue.run(() => {
      this.ensureOpen();
      let nextOffset = this.logEndOffset;
      const assigned = frames.map((frame): BatchSummary => {
        setBatchBaseOffsetAndEpoch(records, frame.position, nextOffset, leaderEpoch);
        const lastOffset = nextOffset + frame.lastOffsetDelta;
        const summary = {
          position: frame.position,
          sizeBytes: frame.sizeBytes,
          baseOffset: nextOffset,
          lastOffset,
          maxTimestamp: frame.maxTimestamp,
        };
        nextOffset = lastOffset + 1;
        return summary;
      });
      return this.appendAssigned(records, assigned);
    });
  }

  /**
   * Follower append (replication): the batches keep their offsets and epochs. The first must start at
   * or after the log end offset and offsets must increase; otherwise UnexpectedAppendOffsetError
   * (replication must truncate first). Gaps between record sets are allowed, as in Kafka; a gap
   * starts a new segment. Inside one record set the batches must be contiguous.
   */
  async appendAsFollower(records: Buffer): Promise<AppendResult> {
    this.ensureOpen();
    // Followers copy what the leader accepted, so max.message.bytes is not applied again.
    const batches = validateRecords(records, int32Max);
    return this.queue.run(async () => {
      this.ensureOpen();
      let expected = this.logEndOffset;
      for (const [i, batch] of batches.entries()) {
        const ok = i === 0 ? batch.baseOffset >= expected : batch.baseOffset === expected;
        if (!ok) throw new UnexpectedAppendOffsetError(batch.baseOffset, expected);
        expected = batch.lastOffset + 1;
      }
      return this.appendAssigned(records, batches);
    });
  }

  private async appendAssigned(records: Buffer, batches: readonly BatchSummary[]): Promise<AppendResult> {
    try {
      return await this.appendAssignedUnguarded(records, batches);
    } catch (error) {
      throw this.failed('append', error);
    }
  }

  private async appendAssignedUnguarded(
    records: Buffer,
    batches: readonly BatchSummary[],
  ): Promise<AppendResult> {
    const nowMs = this.options.clock.nowMs();
    const first = batches[0]!;
    const last = batches[batches.length - 1]!;
    invariant(first.baseOffset >= this.logEndOffset, () => `${this.name}: append below the log end offset`);
    for (let i = 1; i < batches.length; i++) {
      invariant(
        batches[i]!.baseOffset === batches[i - 1]!.lastOffset + 1,
        () => `${this.name}: gap inside a record set`,
      );
    }
    const rollDue = this.local.shouldRoll(
      this.configValue,
      records.length,
      first.baseOffset,
      last.lastOffset,
      batches.length,
      nowMs,
    );
    if (rollDue) {
      try {
        await this.rollLocked(first.baseOffset);
      } catch (error) {
        throw this.failed('roll', error, true);
      }
    }
    const active = this.local.activeSegment;
    invariant(
      last.lastOffset - active.baseOffset <= int32Max,
      () => `${this.name}: relative offset overflow`,
    );
    await active.append(records, batches, nowMs);
    invariant(
      this.logEndOffset === last.lastOffset + 1,
      () => `${this.name}: log end offset did not advance`,
    );
    if (this.local.flushDue(this.configValue, nowMs)) await this.local.flush();
    return {
      baseOffset: first.baseOffset,
      lastOffset: last.lastOffset,
      logAppendTimeMs: nowMs,
      logStartOffset: this.logStartOffsetValue,
    };
  }

  /** Rolls now (an admin or test action); no-op on an empty active segment. */
  async roll(): Promise<void> {
    this.ensureOpen();
    await this.runExclusive(
      'roll',
      async () => {
        if (!this.local.activeSegment.isEmpty) await this.rollLocked(this.logEndOffset);
      },
      true,
    );
  }

  /** A new active segment at `newBaseOffset` (see LocalLog.roll). */
  private async rollLocked(newBaseOffset: number): Promise<void> {
    await this.local.roll(newBaseOffset, this.configValue, () => {
      // An empty log that jumps ahead has nothing below the new base: the log starts there, as it
      // would after a reopen (the log start is never below the first segment's base).
      if (this.local.segments.length === 1)
        this.logStartOffsetValue = Math.max(this.logStartOffsetValue, newBaseOffset);
    });
    this.checkInvariants();
  }

  /** fsyncs the active segment and advances the recovery point to the log end offset. */
  async flush(): Promise<void> {
    this.ensureOpen();
    await this.runExclusive('flush', () => this.local.flush());
  }

  private async maybeFlush(nowMs: number): Promise<boolean> {
    if (!this.local.flushDue(this.configValue, nowMs)) return false;
    await this.local.flush();
    return true;
  }

  /** For a periodic scheduler (flush.ms without appends): flushes if due; returns whether it did. */
  async flushIfDue(): Promise<boolean> {
    this.ensureOpen();
    return this.runExclusive('flush', () => this.maybeFlush(this.options.clock.nowMs()));
  }

  /**
   * Whole batches from the one that contains `offset`, up to `maxBytes` in total but always at least
   * one complete batch (KIP-74), and only batches whose last offset is below `maxOffsetExclusive`.
   * Reads may span segments. `offset` == log end offset gives no records; below the log start or
   * beyond the log end gives OFFSET_OUT_OF_RANGE. The bytes come from the file, not from a cache.
   */
  async read(offset: number, maxBytes: number, options: ReadOptions = {}): Promise<LogReadResult> {
    this.ensureOpen();
    try {
      return await this.local.read(offset, maxBytes, this.logStartOffsetValue, options);
    } catch (error) {
      throw this.readFailed('read', error);
    }
  }

  /**
   * A read that failed after the log was closed (deleted, or set aside for a reopen) under it: its
   * files may be gone or renamed, which says nothing about the disk.
   */
  private readFailed(operation: string, error: unknown): unknown {
    if (this.closed && !this.isOffline && isIoError(error)) return new LogClosedError(this.name);
    return this.failed(operation, error);
  }

  /** ListOffsets "earliest". */
  earliestOffset(): number {
    return this.logStartOffsetValue;
  }

  /** ListOffsets "latest". */
  latestOffset(): number {
    return this.logEndOffset;
  }

  /**
   * ListOffsets by timestamp, at batch granularity (storage never decodes records): the first batch
   * in offset order whose maxTimestamp is >= `timestampMs`; returns its base offset (or the log start
   * offset if that is inside it) and its maxTimestamp, or null when no batch qualifies. A consumer
   * seeking there may see a few earlier-timestamped records of that batch first.
   */
  async offsetForTimestamp(timestampMs: number): Promise<TimestampLookupResult | null> {
    this.ensureOpen();
    try {
      return await this.local.offsetForTimestamp(timestampMs, this.logStartOffsetValue);
    } catch (error) {
      throw this.readFailed('offset lookup', error);
    }
  }

  /**
   * Retention: deletes whole non-active segments, oldest first, while their largest timestamp is older
   * than now - retention.ms, then while the log stays at or above retention.bytes without them
   * (Kafka's rule). Returns how many segments were deleted; none when cleanup.policy lacks "delete".
   */
  async deleteOldSegments(options: RetentionOptions = {}): Promise<number> {
    this.ensureOpen();
    return this.runExclusive('retention', async () => {
      const deleteCount = retentionDeleteCount(
        this.local.segments,
        this.configValue,
        this.logStartOffsetValue,
        this.options.clock.nowMs(),
        options,
      );
      if (deleteCount > 0) await this.deleteOldestSegments(deleteCount);
      return deleteCount;
    });
  }

  /**
   * DeleteRecords (Kafka's maybeIncrementLogStartOffset): moves the log start offset up to `offset`
   * and makes it durable in log-start-offset-checkpoint before it resolves; reads below it answer
   * OFFSET_OUT_OF_RANGE at once, and the whole segments below it go at the next retention run.
   * `offset` must not pass the log end (the caller holds it at or below the high watermark). Returns
   * whether the log start moved; a lower `offset` changes nothing.
   */
  async incrementLogStartOffset(offset: number): Promise<boolean> {
    this.ensureOpen();
    if (!Number.isSafeInteger(offset) || offset < 0)
      throw new RangeError(`incrementLogStartOffset(${offset})`);
    return this.runExclusive('log start offset increment', async () => {
      invariant(
        offset <= this.logEndOffset,
        () => `${this.name}: log start offset ${offset} beyond the log end ${this.logEndOffset}`,
      );
      if (offset <= this.logStartOffsetValue) return false;
      this.logStartOffsetValue = offset;
      await this.options.checkpoints.logStartOffsetChanged(this);
      this.checkInvariants();
      return true;
    });
  }

  /**
   * Crash-safe delete of the `count` oldest segments: rename their files to `.deleted`, persist the
   * new log start offset, then unlink. A crash at any point leaves either the segment (fully named)
   * or `.deleted` files that the next open removes; the log start offset never points into data that
   * is gone without the checkpoint saying so.
   */
  private async deleteOldestSegments(count: number): Promise<void> {
    const doomed = this.local.removeOldest(count);
    this.logStartOffsetValue = Math.max(this.logStartOffsetValue, this.local.segments[0]!.baseOffset);
    await this.local.deleteSegmentFiles(doomed, () => this.options.checkpoints.logStartOffsetChanged(this));
    this.checkInvariants();
  }

  /**
   * Log compaction (log-cleaner.ts): cleans the inactive segments below `upperBoundOffset` and keeps
   * the latest record per key. Reading and rewriting run beside appends and reads; only each swap
   * runs on the queue. One compaction at a time per log (LogManager.runCleaner serializes them).
   */
  async compact(options: CompactOptions): Promise<CompactionResult> {
    this.ensureOpen();
    invariant(!this.compacting, () => `${this.name}: compaction already running`);
    this.compacting = true;
    try {
      return await compactLog(this.cleanableView(), options);
    } catch (error) {
      throw this.failed('compaction', error);
    } finally {
      this.compacting = false;
    }
  }

  private cleanableView(): CleanableLog {
    return {
      name: this.name,
      dir: this.dir,
      config: this.configValue,
      logStartOffset: this.logStartOffsetValue,
      files: this.files,
      segments: () => this.local.segments,
      replaceSegments: (group, sizes, nowMs, onStep) =>
        this.replaceWithCleanedSegment(group, sizes, nowMs, onStep),
    };
  }

  /** The cleaner's swap (see LocalLog.replaceWithCleanedSegment), on the queue. */
  private async replaceWithCleanedSegment(
    group: readonly LogSegment[],
    groupSizesBytes: readonly number[],
    nowMs: number,
    onStep: SwapStepObserver | undefined,
  ): Promise<boolean> {
    return this.queue
      .run(async () => {
        if (this.closed) return false;
        this.ensureOpen();
        const swapped = await this.local.replaceWithCleanedSegment(
          group,
          groupSizesBytes,
          this.configValue,
          nowMs,
          onStep,
        );
        if (swapped) this.checkInvariants();
        return swapped;
      })
      .catch((error: unknown) => {
        throw this.failed('cleaner swap', error, true);
      });
  }

  /**
   * Replication truncation: drops every batch at or after `offset`, with index entries and later
   * segments. If `offset` falls inside a batch, that whole batch goes and the log end offset becomes
   * its base offset (a batch is the unit of storage; the leader resends it). No-op when `offset` >=
   * the log end offset; at or below the log start offset the log is emptied and restarts at `offset`.
   */
  async truncateTo(offset: number): Promise<void> {
    this.ensureOpen();
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`truncateTo(${offset})`);
    await this.runExclusive(
      'truncation',
      async () => {
        if (offset >= this.logEndOffset) return;
        if (offset <= this.logStartOffsetValue) {
          await this.truncateFullyLocked(offset);
          return;
        }
        await this.local.truncateTo(offset);
        this.logStartOffsetValue = Math.min(this.logStartOffsetValue, this.logEndOffset);
        await this.lowerRecoveryPoint();
        this.checkInvariants();
      },
      true,
    );
  }

  /** Empties the log and restarts it at `offset` (log start = log end = `offset`). */
  async truncateFullyAndStartAt(offset: number): Promise<void> {
    this.ensureOpen();
    if (!Number.isSafeInteger(offset) || offset < 0)
      throw new RangeError(`truncateFullyAndStartAt(${offset})`);
    await this.runExclusive('truncation', () => this.truncateFullyLocked(offset), true);
  }

  private async truncateFullyLocked(offset: number): Promise<void> {
    await this.local.truncateFullyAndStartAt(offset, this.configValue, async () => {
      this.logStartOffsetValue = offset;
      await this.options.checkpoints.logStartOffsetChanged(this);
      await this.lowerRecoveryPoint();
    });
    this.checkInvariants();
  }

  private async lowerRecoveryPoint(): Promise<void> {
    if (this.local.lowerRecoveryPointToLogEnd()) await this.options.checkpoints.recoveryPointLowered(this);
  }

  /** Flushes and closes the files. The log object cannot be used afterwards. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.runExclusive(
      'close',
      async () => {
        if (this.closed) return;
        await this.local.flush();
        this.closed = true;
        await this.local.close();
      },
      true,
    );
  }
}

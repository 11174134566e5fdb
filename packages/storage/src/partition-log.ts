// The log of one partition (Kafka's UnifiedLog): its segments in `<log dir>/<topic>-<partition>/`
// (local-log.ts, Kafka's LocalLog), loaded and recovered after a crash by log-loader.ts (Kafka's
// LogLoader), and the log start offset with its checkpoint. It assigns offsets, rolls segments,
// serves reads and offset lookups, applies retention and DeleteRecords, runs the cleaner's swaps and
// truncates for replication.
//
// Concurrency and failures (log-operations.ts): every operation that changes the log runs on one
// queue, reads do not queue, and an I/O failure inside an operation stops the log and takes its log
// dir offline, with two exceptions: a full disk on an append, and running out of file descriptors.
//
// File descriptors: none of its own. Every segment file is opened through the broker-wide
// FileHandleCache on first use and may be closed whenever it is idle; a segment keeps its size, next
// offset and index entries in memory, so a closed file costs nothing until it is read or written.

import { copyFile, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { invariant } from '@gregor/ground';
import {
  type AppendOptions,
  type AppendResult,
  assignOffsets,
  checkFollowerOffsets,
  leaderFrames,
  validateRecords,
} from './append-validation.js';
import { FileHandleCache } from './file-handle-cache.js';
import { type BatchSummary, int32Max } from './file-records.js';
import { LocalLog, type LogReadResult, type ReadOptions, type TimestampLookupResult } from './local-log.js';
import { type CleanableLog, type CompactionResult, type CompactOptions, compactLog } from './log-cleaner.js';
import type { SwapStepObserver } from './log-cleaner-swap.js';
import type { LogConfig } from './log-config.js';
import { inTargetLogDir, TargetLogDirError } from './log-dir-failure-channel.js';
import { type LogCheckpointListener, loadLog, type PartitionLogOptions } from './log-loader.js';
import { LogOperations } from './log-operations.js';
import { type RetentionOptions, retentionDeleteCount } from './log-retention.js';
import type { LogSegment } from './log-segment.js';
import {
  indexFileSuffix,
  leftoverFileSuffixes,
  logFileSuffix,
  timeIndexFileSuffix,
} from './segment-files.js';
import { SerialQueue } from './serial-queue.js';

// The types of its opening, appends and reads are part of this API.
export type { AppendOptions, AppendResult, ValidatedBatchFrame } from './append-validation.js';
export type { LogReadResult, ReadOptions, TimestampLookupResult } from './local-log.js';
export type { LogCheckpointListener, PartitionLogOptions } from './log-loader.js';
export { partitionQueueDepthMax } from './log-operations.js';
export type { RetentionOptions } from './log-retention.js';

/**
 * Uses of the partition directory's other files (withPartitionDir) allowed to wait per log: the
 * broker writes its leader-epoch-checkpoint from the partition's exclusive section, one at a time.
 */
export const partitionDirUsesPendingMax = 64;

/**
 * How a future replica (AlterReplicaLogDirs, log-dir-move.ts) replaces a log, step by step, on the
 * log's queue: nothing is appended, truncated or deleted from the log meanwhile.
 */
export interface FutureLogSwap {
  /** Copies what the future log still lacks, up to this log's end. */
  readonly catchUp: () => Promise<void>;
  /**
   * Renames the directories on disk, after the future log was flushed and closed. A failure in the
   * target dir is a TargetLogDirError, and leaves the directories as they were.
   */
  readonly moveDirs: () => Promise<void>;
  /** Renames them back, when the log cannot be opened in the target dir. */
  readonly moveDirsBack: () => Promise<void>;
  /** The future log's directory once renamed: `<target log dir>/<topic>-<partition>`. */
  readonly targetDir: string;
  /** The target log dir's checkpoints. */
  readonly checkpoints: LogCheckpointListener;
  /** Called once this log reads and writes in `targetDir` (still on the queue). */
  readonly onSwapped: () => void;
}

/** What truncations did to a log since a future replica last looked (takeTruncationFloor). */
export interface TruncationFloor {
  /** The lowest offset cut at: everything at or above it may have changed. */
  readonly offset: number;
  /** A truncation emptied the log (the log now starts at or above `offset`). */
  readonly full: boolean;
}

export class PartitionLog {
  private local: LocalLog;
  /** The lowest offset a truncation cut at since the last takeTruncationFloor(). */
  private truncationFloor: TruncationFloor | undefined;
  /** Set while a future replica's swap waits for or runs on the queue (reads retry after it). */
  private relocating: Promise<void> | undefined;
  /**
   * Whether the swap has begun renaming this log's directory: only from then on may a read fail for
   * the swap's sake. A read that fails before (the swap's own catch-up reads among them) fails as
   * any read does; waiting for the swap there would wait for the read the swap is waiting for.
   */
  private dirsMoving = false;
  /**
   * Counts the swaps' directory moves, up when one starts renaming and up again when it is done:
   * odd while the log's files may be under either directory. A reader of the files by path
   * (the broker's producer-state rebuild) saw one consistent directory only if it is even and
   * unchanged across its reads (filesRelocationCount, afterRelocation).
   */
  private relocationCount = 0;
  private logStartOffsetValue: number;
  /** The queue of operations, the closed flag and what I/O failures do. */
  private readonly ops: LogOperations;
  /** The compaction running (compact()), settled when it is done, whether it worked or not. */
  private compaction: Promise<void> | undefined;
  /**
   * A future replica's swap is waiting for the compaction under way or running: no compaction
   * starts (the cleaner skips the log) until the log lives in its new directory, as Kafka's
   * cleaning is paused for a partition whose future replica is swapped in.
   */
  private swapPending = false;
  /** Cleaned segments swapped in so far (a log dir move's copy is exact only if none came meanwhile). */
  private cleanerSwapsValue = 0;
  private configValue: LogConfig;
  /**
   * The broker's files in the partition directory (leader-epoch-checkpoint) are used on this queue,
   * and a future replica's swap holds it from the copy of those files until the log lives in the
   * target directory: a write in between would land in the old directory after its copy (and be
   * lost with it) or, once it is renamed, fail ENOENT and take the dir offline.
   */
  private readonly partitionDirUses: SerialQueue;

  private constructor(
    private options: PartitionLogOptions,
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
      (error) => this.rollSyncFailed(error),
    );
    this.ops = new LogOperations(
      this.name,
      options.dir,
      this.logDir,
      options.logDirFailureChannel,
      options.fullDiskStopsLogOnly === true,
    );
    this.logStartOffsetValue = logStartOffset;
    this.configValue = options.config;
    this.partitionDirUses = new SerialQueue(`${this.name} partition files`, partitionDirUsesPendingMax);
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

  /**
   * Odd while a future replica's swap renames this log's directory, and one up at each start and
   * end of that: whoever reads the segment files by path (`dir` and segmentBaseOffsets) read one
   * directory throughout only if this was even when it started and is the same when it is done.
   */
  get filesRelocationCount(): number {
    return this.relocationCount;
  }

  /**
   * Runs `use` with the partition directory, for the files in it that are not the log's (the
   * broker's leader-epoch-checkpoint): never while a future replica's swap copies those files and
   * renames the directory, so what it writes is in the directory the log lives in afterwards. Uses
   * run one at a time; I/O failures are the caller's to handle.
   */
  withPartitionDir<T>(use: (dir: string) => Promise<T>): Promise<T> {
    return this.partitionDirUses.run(() => use(this.dir));
  }

  /** Settles once a future replica's swap under way (if any) is done, whether it worked or not. */
  async afterRelocation(): Promise<void> {
    await this.relocating;
  }

  /** Opens (or creates) the log in `options.dir`, recovered after a crash as log-loader.ts says. */
  static async open(options: PartitionLogOptions): Promise<PartitionLog> {
    const files = options.files ?? new FileHandleCache();
    const { segments, logStartOffset } = await loadLog(options, files);
    return new PartitionLog(options, files, segments, logStartOffset);
  }

  private checkInvariants(): void {
    this.local.checkInvariants(this.logStartOffsetValue);
  }

  /** The log dir holding this partition (`log.dirs` entry). */
  get logDir(): string {
    return dirname(this.options.dir);
  }

  /** Whether an I/O failure (here or elsewhere in its log dir) stopped this log for good. */
  get isOffline(): boolean {
    return this.ops.isOffline;
  }

  /**
   * Whether an operation ran out of file descriptors halfway: the log refuses everything until the
   * LogManager opens it again from its files (getOrCreateLog does).
   */
  get needsReopen(): boolean {
    return this.ops.needsReopen;
  }

  /**
   * After its log dir went offline: stops the log and closes its files without writing anything
   * (the disk may not take it). Reads in flight finish first.
   */
  async closeAfterFailure(reason: string): Promise<void> {
    this.ops.stop(reason);
    await this.closeWithoutWriting();
  }

  /**
   * Stops the log and gives its descriptors back without writing anything (no index entries, no
   * trim, no flush): after its log dir failed, or when the log is to be opened again from its files
   * (`needsReopen`). Reads in flight finish first on the descriptors they hold.
   */
  closeWithoutWriting(): Promise<void> {
    return this.ops.closeWithoutWriting(() => this.local.closeWithoutWriting());
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
    this.ops.ensureOpen();
    const frames = leaderFrames(records, this.configValue.maxMessageBytes, options.validatedBatches);
    // Not an async closure: it returns appendAssigned's promise directly (no extra promise hops).
    return this.ops.queue.run(() => {
      this.ops.ensureOpen();
      return this.appendAssigned(records, assignOffsets(records, frames, this.logEndOffset, leaderEpoch));
    });
  }

  /**
   * Follower append (replication): the batches keep their offsets and epochs. The first must start at
   * or after the log end offset and offsets must increase; otherwise UnexpectedAppendOffsetError
   * (replication must truncate first). Gaps between record sets are allowed, as in Kafka; a gap
   * starts a new segment. Inside one record set the batches must be contiguous.
   */
  async appendAsFollower(records: Buffer): Promise<AppendResult> {
    this.ops.ensureOpen();
    // Followers copy what the leader accepted, so max.message.bytes is not applied again.
    const batches = validateRecords(records, int32Max);
    return this.ops.queue.run(async () => {
      this.ops.ensureOpen();
      checkFollowerOffsets(batches, this.logEndOffset);
      return this.appendAssigned(records, batches);
    });
  }

  private async appendAssigned(records: Buffer, batches: readonly BatchSummary[]): Promise<AppendResult> {
    try {
      return await this.appendAssignedUnguarded(records, batches);
    } catch (error) {
      throw this.ops.failed('append', error);
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
        throw this.ops.failed('roll', error, true);
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
    this.ops.ensureOpen();
    await this.ops.run(
      'roll',
      async () => {
        if (!this.local.activeSegment.isEmpty) await this.rollLocked(this.logEndOffset);
      },
      true,
    );
  }

  /**
   * A rolled segment's fsync, which runs after the append that rolled (off the queue), failed: as a
   * failed flush, the log stops (and an I/O error takes its dir offline). The recovery point stays
   * below that segment, so a restart recovers it. Out of descriptors, the log waits to be reopened:
   * the syncs behind the failed one never run.
   */
  private rollSyncFailed(error: unknown): void {
    // Closed under it without writing (deleted, or set aside for a reopen): its directory may have
    // been renamed or removed meanwhile, which says nothing about the disk (as for a read), and the
    // recovery point, which never moved past the segment, makes a reopen recover it.
    if (this.ops.closed) return;
    this.ops.failed('fsync of a rolled segment', error, true);
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

  /**
   * Settles once the fsyncs of the segments rolled so far completed (each runs after the append
   * that rolled, then moves the recovery point past its segment); rejects as the log stops if one
   * failed.
   */
  async rolledSegmentsSynced(): Promise<void> {
    await this.local.rollSyncsDone();
  }

  /**
   * fsyncs the active segment and every rolled one not synced yet, and advances the recovery point
   * to the log end offset.
   */
  async flush(): Promise<void> {
    this.ops.ensureOpen();
    await this.ops.run('flush', () => this.local.flush());
  }

  private async maybeFlush(nowMs: number): Promise<boolean> {
    if (!this.local.flushDue(this.configValue, nowMs)) return false;
    await this.local.flush();
    return true;
  }

  /** For a periodic scheduler (flush.ms without appends): flushes if due; returns whether it did. */
  async flushIfDue(): Promise<boolean> {
    this.ops.ensureOpen();
    return this.ops.run('flush', () => this.maybeFlush(this.options.clock.nowMs()));
  }

  /**
   * Whole batches from the one that contains `offset`, up to `maxBytes` in total but always at least
   * one complete batch (KIP-74), and only batches whose last offset is below `maxOffsetExclusive`.
   * Reads may span segments. `offset` == log end offset gives no records; below the log start or
   * beyond the log end gives OFFSET_OUT_OF_RANGE. The bytes come from the file, not from a cache.
   */
  read(offset: number, maxBytes: number, options: ReadOptions = {}): Promise<LogReadResult> {
    return this.ops.read('read', () =>
      this.onCurrentLocal((local) => local.read(offset, maxBytes, this.logStartOffsetValue, options)),
    );
  }

  /**
   * Runs a read on the current segments. A read that fails while a future replica is swapped in
   * (its files were renamed or closed under it) is run again on the new segments: it says nothing
   * about the disk.
   */
  private async onCurrentLocal<T>(task: (local: LocalLog) => Promise<T>): Promise<T> {
    const local = this.local;
    try {
      return await task(local);
    } catch (error) {
      if (!this.dirsMoving && local === this.local) throw error;
      await this.relocating;
      return task(this.local);
    }
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
  offsetForTimestamp(timestampMs: number): Promise<TimestampLookupResult | null> {
    return this.ops.read('offset lookup', () =>
      this.onCurrentLocal((local) => local.offsetForTimestamp(timestampMs, this.logStartOffsetValue)),
    );
  }

  /**
   * ListOffsets MAX_TIMESTAMP (-3, KIP-734): the largest timestamp in the log and the last offset of
   * the first batch that carries it (the record within it is the reader's to find), or null when no
   * batch has a timestamp. From the segments' in-memory maxima: no I/O.
   */
  maxTimestamp(): TimestampLookupResult | null {
    this.ops.ensureOpen();
    return this.local.maxTimestamp(this.logStartOffsetValue);
  }

  /**
   * Retention: deletes whole non-active segments, oldest first, while their largest timestamp is older
   * than now - retention.ms, then while the log stays at or above retention.bytes without them
   * (Kafka's rule). Returns how many segments were deleted; none when cleanup.policy lacks "delete".
   */
  async deleteOldSegments(options: RetentionOptions = {}): Promise<number> {
    this.ops.ensureOpen();
    return this.ops.run('retention', async () => {
      const deleteCount = retentionDeleteCount(
        this.local.segments,
        this.configValue,
        this.logStartOffsetValue,
        this.options.clock.nowMs(),
        options,
      );
      if (deleteCount > 0) {
        // A rolled segment's deferred fsync completes before any segment is deleted.
        await this.local.rollSyncsDone();
        await this.deleteOldestSegments(deleteCount);
      }
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
    this.ops.ensureOpen();
    if (!Number.isSafeInteger(offset) || offset < 0)
      throw new RangeError(`incrementLogStartOffset(${offset})`);
    return this.ops.run('log start offset increment', async () => {
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
    this.ops.ensureOpen();
    invariant(this.compaction === undefined, () => `${this.name}: compaction already running`);
    invariant(!this.swapPending, () => `${this.name}: compaction while a future replica is swapped in`);
    let ended = (): void => undefined;
    this.compaction = new Promise((resolve) => {
      ended = resolve;
    });
    try {
      return await compactLog(this.cleanableView(), options);
    } catch (error) {
      throw this.ops.failed('compaction', error);
    } finally {
      this.compaction = undefined;
      ended();
    }
  }

  /**
   * How many cleaned segment groups the cleaner swapped in since the log was opened. A log dir
   * move's copy of segments the cleaner then rewrote keeps the uncleaned batches (same offsets,
   * more records): the cleaner's bookmark for the log does not hold for that copy.
   */
  get cleanerSwaps(): number {
    return this.cleanerSwapsValue;
  }

  /**
   * Whether the cleaner must leave the log alone for now: a future replica's swap is about to
   * rename its directory (a compaction reads and writes its files by path there).
   */
  get cleaningPaused(): boolean {
    return this.swapPending;
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
    const swap = async (): Promise<boolean> => {
      const swapped = await this.local.replaceWithCleanedSegment(
        group,
        groupSizesBytes,
        this.configValue,
        nowMs,
        onStep,
      );
      if (swapped) {
        this.cleanerSwapsValue += 1;
        this.checkInvariants();
      }
      return swapped;
    };
    return this.ops.runUnlessClosed('cleaner swap', swap, false, true);
  }

  /**
   * Replication truncation: drops every batch at or after `offset`, with index entries and later
   * segments. If `offset` falls inside a batch, that whole batch goes and the log end offset becomes
   * its base offset (a batch is the unit of storage; the leader resends it). No-op when `offset` >=
   * the log end offset; at or below the log start offset the log is emptied and restarts at `offset`.
   */
  async truncateTo(offset: number): Promise<void> {
    this.ops.ensureOpen();
    if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`truncateTo(${offset})`);
    await this.ops.run(
      'truncation',
      async () => {
        if (offset >= this.logEndOffset) return;
        if (offset <= this.logStartOffsetValue) {
          await this.truncateFullyLocked(offset);
          return;
        }
        this.noteTruncation(offset, false);
        await this.local.truncateTo(offset);
        this.noteTruncation(offset, false);
        this.logStartOffsetValue = Math.min(this.logStartOffsetValue, this.logEndOffset);
        await this.lowerRecoveryPoint();
        this.checkInvariants();
      },
      true,
    );
  }

  /** Empties the log and restarts it at `offset` (log start = log end = `offset`). */
  async truncateFullyAndStartAt(offset: number): Promise<void> {
    this.ops.ensureOpen();
    if (!Number.isSafeInteger(offset) || offset < 0)
      throw new RangeError(`truncateFullyAndStartAt(${offset})`);
    await this.ops.run('truncation', () => this.truncateFullyLocked(offset), true);
  }

  private async truncateFullyLocked(offset: number): Promise<void> {
    this.noteTruncation(offset, true);
    await this.local.truncateFullyAndStartAt(offset, this.configValue, async () => {
      this.logStartOffsetValue = offset;
      await this.options.checkpoints.logStartOffsetChanged(this);
      await this.lowerRecoveryPoint();
    });
    this.noteTruncation(offset, true);
    this.checkInvariants();
  }

  /**
   * Noted before the segments change and again after: a copy step that reads while they change
   * may copy batches the truncation then removes, and the floor noted after cuts them again.
   */
  private noteTruncation(offset: number, full: boolean): void {
    const earlier = this.truncationFloor;
    this.truncationFloor = {
      offset: Math.min(earlier?.offset ?? offset, offset),
      full: full || earlier?.full === true,
    };
  }

  /**
   * The lowest offset a truncation cut at since the previous call, and whether one emptied the log
   * (truncateFullyAndStartAt); undefined when none did. A future replica copying this log
   * truncates itself the same way (Kafka's ReplicaAlterLogDirsThread truncates the future log).
   */
  takeTruncationFloor(): TruncationFloor | undefined {
    const floor = this.truncationFloor;
    this.truncationFloor = undefined;
    return floor;
  }

  /** Settles once the operations queued so far (a truncation under way) are done. */
  async afterQueuedOperations(): Promise<void> {
    await this.ops.queue.run(() => Promise.resolve()).catch(() => undefined);
  }

  /**
   * AlterReplicaLogDirs' swap (Kafka's LogManager.replaceCurrentWithFutureLog), on the queue, so no
   * append (leader or follower), truncation or retention runs meanwhile: the future log catches up
   * to the log end, takes the log start offset and the partition's other files (the leader-epoch
   * checkpoint), is flushed and closed; the directories are renamed; then this log reopens its
   * segments from the target directory and from then on lives there, as the same object, so every
   * holder of it (the broker's Partition, appends queued behind the swap) goes on with it. The old
   * segments' descriptors close after the swap; the caller removes the old directory.
   */
  async replaceWithFuture(future: PartitionLog, swap: FutureLogSwap): Promise<void> {
    this.ops.ensureOpen();
    let oldLocal: LocalLog | undefined;
    let relocated = (): void => undefined;
    this.relocating = new Promise((resolve) => {
      relocated = resolve;
    });
    this.swapPending = true;
    try {
      // A compaction under way reads and writes by the old directory's path: it ends first (it
      // needs the queue for its own swaps, so it is waited for outside it).
      await this.compaction;
      await this.ops.run(
        'future replica swap',
        async () => {
          // A rolled segment's fsync still under way would reopen its file by the old path.
          await this.rolledSegmentsSynced();
          await swap.catchUp();
          invariant(
            future.logEndOffset === this.logEndOffset,
            () => `${this.name}: future log ends at ${future.logEndOffset}, the log at ${this.logEndOffset}`,
          );
          // What fails in the target dir (the future log, the copied files, the renames and the
          // reopen there) is a TargetLogDirError: it fails the move, this log goes on where it is.
          const targetLogDir = dirname(swap.targetDir);
          await inTargetLogDir(targetLogDir, 'future log start', async () => {
            if (future.logStartOffset < this.logStartOffsetValue) {
              await future.incrementLogStartOffset(this.logStartOffsetValue);
            }
          });
          // From the copy of the partition's other files until the log lives in the target dir,
          // nobody else uses them (withPartitionDir).
          await this.partitionDirUses.run(async () => {
            await copyPartitionFiles(this.dir, future.dir);
            await inTargetLogDir(targetLogDir, 'future log close', () => future.close());
            this.dirsMoving = true;
            this.relocationCount += 1;
            await swap.moveDirs();
            const moved: PartitionLogOptions = {
              ...this.options,
              dir: swap.targetDir,
              checkpoints: swap.checkpoints,
              recoveryPoint: this.logEndOffset,
              logStartOffset: this.logStartOffsetValue,
              hadCleanShutdown: true,
            };
            let segments: readonly LogSegment[];
            try {
              ({ segments } = await loadLog(moved, this.files));
            } catch (error) {
              await swap.moveDirsBack();
              throw new TargetLogDirError(targetLogDir, 'open of the moved log', error);
            }
            oldLocal = this.local;
            this.local = new LocalLog(this.name, moved.dir, this.files, moved.clock, segments, (error) =>
              this.rollSyncFailed(error),
            );
            this.options = moved;
            this.ops.relocate(moved.dir, this.logDir);
          });
          this.checkInvariants();
          invariant(
            this.logEndOffset === future.logEndOffset,
            () => `${this.name}: the swapped-in log ends at ${this.logEndOffset}`,
          );
          swap.onSwapped();
        },
        true,
      );
    } finally {
      this.swapPending = false;
      if (this.dirsMoving) this.relocationCount += 1;
      this.relocating = undefined;
      this.dirsMoving = false;
      relocated();
    }
    await oldLocal?.closeWithoutWriting();
  }

  private async lowerRecoveryPoint(): Promise<void> {
    if (this.local.lowerRecoveryPointToLogEnd()) await this.options.checkpoints.recoveryPointLowered(this);
  }

  /** Flushes and closes the files. The log object cannot be used afterwards. */
  async close(): Promise<void> {
    if (this.ops.closed) return;
    await this.ops.run(
      'close',
      async () => {
        if (this.ops.closed) return;
        await this.local.flush();
        this.ops.closed = true;
        await this.local.close();
      },
      true,
    );
  }
}

/** Files of a partition directory that are not segments: the broker's own (leader-epoch-checkpoint). */
async function copyPartitionFiles(fromDir: string, toDir: string): Promise<void> {
  const entries = await readdir(fromDir, { withFileTypes: true });
  const segmentSuffixes = [logFileSuffix, indexFileSuffix, timeIndexFileSuffix, ...leftoverFileSuffixes];
  for (const entry of entries) {
    if (!entry.isFile() || segmentSuffixes.some((suffix) => entry.name.endsWith(suffix))) continue;
    await inTargetLogDir(dirname(toDir), `copy of ${entry.name}`, () =>
      copyFile(join(fromDir, entry.name), join(toDir, entry.name)),
    );
  }
}

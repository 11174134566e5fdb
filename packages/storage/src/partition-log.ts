// The log of one partition: an ordered list of segments in `<log dir>/<topic>-<partition>/`, the last
// one active. It assigns offsets, rolls segments, serves reads and offset lookups, applies retention,
// truncates for replication and recovers after a crash.
//
// Concurrency: every operation that changes the log (append, truncate, retention, roll, flush,
// close) runs on one SerialQueue, so they never interleave. Reads do not queue: they work on a
// snapshot of the segment list and of each segment's size, which only ever moves between batch
// boundaries after a write completed, so a read sees whole batches only.
//
// An I/O failure inside an operation (a roll, an fsync, a truncation, a read) leaves the log in a
// state nobody knows: the log refuses everything from then on with KAFKA_STORAGE_ERROR and reports
// its log dir to the LogDirFailureChannel, which takes the whole dir offline (Kafka's
// maybeHandleIOException). Two failures are exceptions: a full disk on an append (the segment cuts
// what it wrote and refuses that append alone), and running out of file descriptors (EMFILE/ENFILE,
// TooManyOpenFilesError): the process is short of descriptors, the disk is fine, so only that
// operation fails and the log goes on.
//
// File descriptors: none of its own. Every segment file is opened through the broker-wide
// FileHandleCache on first use and may be closed whenever it is idle; a segment keeps its size, next
// offset and index entries in memory, so a closed file costs nothing until it is read or written.

import { mkdir, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Clock } from '@gregor/ground';
import { invariant } from '@gregor/ground';
import { ErrorCode, KafkaError, setBatchBaseOffsetAndEpoch, validateBatch } from '@gregor/protocol';
import { fsyncDirectory } from './checkpoint-file.js';
import { LogClosedError, UnexpectedAppendOffsetError } from './errors.js';
import { asTooManyOpenFiles, FileHandleCache, type TooManyOpenFilesError } from './file-handle-cache.js';
import { type CleanableLog, type CompactionResult, type CompactOptions, compactLog } from './log-cleaner.js';
import { completeInterruptedSwaps, type SwapStepObserver, swapInCleanedSegment } from './log-cleaner-swap.js';
import type { LogConfig } from './log-config.js';
import { neverLong } from './log-config.js';
import { isIoError, KafkaStorageError, type LogDirFailureChannel } from './log-dir-failure-channel.js';
import {
  type BatchSummary,
  int32Max,
  LogSegment,
  type SegmentLimits,
  summarizeBatch,
  unlinkIfExists,
} from './log-segment.js';
import { offsetIndexEntryBytes } from './offset-index.js';
import {
  indexFileSuffix,
  leftoverFileSuffixes,
  logFileSuffix,
  parseSegmentFileName,
  segmentFileName,
  timeIndexFileSuffix,
} from './segment-files.js';
import { SerialQueue } from './serial-queue.js';
import { timeIndexEntryBytes } from './time-index.js';

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

export type LogReadResult =
  | {
      readonly errorCode: typeof ErrorCode.NONE;
      /** Whole batches, back to back; empty when there is nothing to return. */
      readonly records: Buffer;
      /** Base offset of the first returned batch, or -1 when `records` is empty. */
      readonly firstBatchBaseOffset: number;
      readonly logStartOffset: number;
      readonly logEndOffset: number;
    }
  | {
      readonly errorCode: typeof ErrorCode.OFFSET_OUT_OF_RANGE;
      readonly logStartOffset: number;
      readonly logEndOffset: number;
    };

/**
 * One batch of a leader's record set, as the caller's validation found it: where it lies in the set
 * and what the log needs to place and index it.
 */
export interface ValidatedBatchFrame {
  readonly position: number;
  readonly sizeBytes: number;
  /** lastOffset - baseOffset. */
  readonly lastOffsetDelta: number;
  readonly maxTimestamp: number;
}

export interface AppendOptions {
  /**
   * The caller validated the record set just before (framing, magic, CRC, max.message.bytes: the
   * broker's LogValidator) and has not changed its bytes since: these are its batches, in order, so
   * the set is not read again. They must tile the set exactly (checked from the frames alone).
   */
  readonly validatedBatches?: readonly ValidatedBatchFrame[];
}

export interface RetentionOptions {
  /** Delete only segments that end at or below this offset (the partition's high watermark). */
  readonly highWatermark?: number;
}

export interface ReadOptions {
  /** Only batches whose last offset is below this (the high watermark) are returned. */
  readonly maxOffsetExclusive?: number;
}

export interface TimestampLookupResult {
  readonly offset: number;
  readonly timestamp: number;
}

/** Header summaries of every batch in `records`, validated (length, magic, CRC) before any write. */
function validateRecords(records: Buffer, maxBatchBytes: number): BatchSummary[] {
  const batches: BatchSummary[] = [];
  let position = 0;
  while (position < records.length) {
    const header = validateBatch(records, position, records.length);
    if (header.sizeBytes > maxBatchBytes) {
      throw new KafkaError(
        ErrorCode.MESSAGE_TOO_LARGE,
        `record batch of ${header.sizeBytes} bytes exceeds max.message.bytes ${maxBatchBytes}`,
      );
    }
    batches.push({
      position,
      sizeBytes: header.sizeBytes,
      baseOffset: header.baseOffset,
      lastOffset: header.lastOffset,
      maxTimestamp: header.maxTimestamp,
    });
    position += header.sizeBytes;
  }
  if (batches.length === 0) throw new KafkaError(ErrorCode.CORRUPT_MESSAGE, 'record set holds no batch');
  return batches;
}

/** The frames of a leader append: the caller's, checked to tile the set, or found by validating it. */
function leaderFrames(
  records: Buffer,
  maxBatchBytes: number,
  validated: readonly ValidatedBatchFrame[] | undefined,
): readonly ValidatedBatchFrame[] {
  if (validated === undefined) {
    return validateRecords(records, maxBatchBytes).map((batch) => ({
      position: batch.position,
      sizeBytes: batch.sizeBytes,
      lastOffsetDelta: batch.lastOffset - batch.baseOffset,
      maxTimestamp: batch.maxTimestamp,
    }));
  }
  let position = 0;
  for (const frame of validated) {
    invariant(
      frame.position === position && frame.sizeBytes > 0 && frame.lastOffsetDelta >= 0,
      () => `validated batches do not tile the record set at ${position}`,
    );
    position += frame.sizeBytes;
  }
  invariant(
    validated.length > 0 && position === records.length,
    () => `validated batches cover ${position} of ${records.length} bytes`,
  );
  return validated;
}

function segmentLimits(config: LogConfig): SegmentLimits {
  return {
    indexIntervalBytes: config.indexIntervalBytes,
    offsetIndexEntriesMax: Math.floor(config.segmentIndexBytes / offsetIndexEntryBytes),
    timeIndexEntriesMax: Math.floor(config.segmentIndexBytes / timeIndexEntryBytes),
  };
}

export class PartitionLog {
  private segments: readonly LogSegment[];
  private logStartOffsetValue: number;
  private recoveryPointValue: number;
  private lastFlushMs: number;
  private closed = false;
  /** Why the log stopped: an I/O failure left it in an unknown state, or its log dir went offline. */
  private offlineReason: string | undefined;
  /**
   * An operation that changes several files (a roll, a truncation, a cleaner swap, a close) ran out
   * of file descriptors halfway: the disk is fine, but what is in memory may no longer match the
   * files. The log refuses everything with this error until the LogManager opens it again from disk.
   */
  private interruptedBy: TooManyOpenFilesError | undefined;
  private compacting = false;
  private readonly queue: SerialQueue;
  private configValue: LogConfig;

  private constructor(
    private readonly options: PartitionLogOptions,
    private readonly files: FileHandleCache,
    segments: readonly LogSegment[],
    logStartOffset: number,
  ) {
    this.segments = segments;
    this.logStartOffsetValue = logStartOffset;
    this.recoveryPointValue = this.logEndOffset;
    this.lastFlushMs = options.clock.nowMs();
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
    return this.activeSegment.nextOffset;
  }

  /** Everything below this offset is known to be on disk (fsynced). */
  get recoveryPoint(): number {
    return this.recoveryPointValue;
  }

  get sizeBytes(): number {
    let total = 0;
    for (const segment of this.segments) total += segment.sizeBytes;
    return total;
  }

  segmentBaseOffsets(): number[] {
    return this.segments.map((s) => s.baseOffset);
  }

  private get activeSegment(): LogSegment {
    return this.segments[this.segments.length - 1]!;
  }

  /**
   * Opens (or creates) the log in `options.dir`. An interrupted cleaner swap (`.log.swap`) is
   * completed first; leftover `.deleted`/`.cleaned`/`.swap`/`.tmp` files are removed, index files
   * without a `.log` too. Without a clean shutdown, the segments from the one holding the recovery
   * point onwards are re-validated batch by batch; the first torn or corrupt batch and everything
   * after it (later segments included) are dropped. Any segment whose index files fail the sanity
   * check is recovered the same way.
   */
  static async open(options: PartitionLogOptions): Promise<PartitionLog> {
    const { dir, config, clock } = options;
    const files = options.files ?? new FileHandleCache();
    await mkdir(dir, { recursive: true });
    // A cleaned segment whose swap a crash interrupted replaces the segments it was made from.
    await completeInterruptedSwaps(dir, files);
    const limits = segmentLimits(config);
    const names = await files.withTransientDescriptor(dir, () => readdir(dir));
    const logBases = new Set<number>();
    for (const name of names) {
      if (leftoverFileSuffixes.some((suffix) => name.endsWith(suffix))) {
        await unlinkIfExists(join(dir, name));
        continue;
      }
      const base = parseSegmentFileName(name, logFileSuffix);
      if (base !== undefined) logBases.add(base);
    }
    for (const name of names) {
      const base =
        parseSegmentFileName(name, indexFileSuffix) ?? parseSegmentFileName(name, timeIndexFileSuffix);
      if (base !== undefined && !logBases.has(base)) await unlinkIfExists(join(dir, name));
    }
    const bases = [...logBases].sort((a, b) => a - b);
    const nowMs = clock.nowMs();
    const segments: LogSegment[] = [];
    if (bases.length === 0) {
      segments.push(
        await LogSegment.create(dir, Math.max(options.logStartOffset ?? 0, 0), limits, nowMs, files),
      );
      await fsyncDirectory(dir, files);
    } else {
      // Segments below the one holding the recovery point were flushed whole when they were rolled.
      let firstToRecover = options.hadCleanShutdown ? bases.length : 0;
      if (!options.hadCleanShutdown) {
        for (let i = 0; i < bases.length; i++) if (bases[i]! <= options.recoveryPoint) firstToRecover = i;
      }
      let dropFrom = bases.length;
      for (let i = 0; i < bases.length; i++) {
        const isLast = i === bases.length - 1;
        const loaded = await LogSegment.load(
          dir,
          bases[i]!,
          limits,
          nowMs,
          i >= firstToRecover,
          files,
          isLast,
        );
        segments.push(loaded.segment);
        const nextBase = bases[i + 1];
        if (nextBase !== undefined && loaded.segment.nextOffset > nextBase) {
          // Overlapping segments cannot come from our own writes; keep the earlier data.
          await loaded.segment.truncateTo(nextBase);
        }
        // An empty segment is never rolled (it is replaced), so one followed by another segment lost
        // its batches to a crash or a bad disk: the log ends there, as after a torn batch.
        if (loaded.truncated || (loaded.segment.isEmpty && nextBase !== undefined)) {
          dropFrom = i + 1;
          break;
        }
        if (i < bases.length - 1) await loaded.segment.sealTimeIndex();
      }
      // A torn or corrupt batch ends the log: later segments would leave a hole in the offsets.
      for (const base of bases.slice(dropFrom)) {
        for (const suffix of [logFileSuffix, indexFileSuffix, timeIndexFileSuffix]) {
          await unlinkIfExists(join(dir, segmentFileName(base, suffix)));
        }
      }
      await segments[segments.length - 1]!.activate();
      if (dropFrom < bases.length) await fsyncDirectory(dir, files);
    }
    const firstBase = segments[0]!.baseOffset;
    const logEndOffset = segments[segments.length - 1]!.nextOffset;
    const logStartOffset = Math.min(Math.max(options.logStartOffset ?? firstBase, firstBase), logEndOffset);
    return new PartitionLog(options, files, segments, logStartOffset);
  }

  private checkInvariants(): void {
    invariant(this.logStartOffsetValue <= this.logEndOffset, () => `${this.name}: log start beyond log end`);
    invariant(
      this.recoveryPointValue <= this.logEndOffset,
      () => `${this.name}: recovery point beyond log end`,
    );
    invariant(
      this.logStartOffsetValue >= this.segments[0]!.baseOffset,
      () => `${this.name}: log start below the first segment`,
    );
    for (let i = 1; i < this.segments.length; i++) {
      invariant(
        this.segments[i]!.baseOffset >= this.segments[i - 1]!.nextOffset,
        () => `${this.name}: segment ${this.segments[i]!.baseOffset} overlaps its predecessor`,
      );
    }
  }

  /** The log dir holding this partition (`log.dirs` entry). */
  get logDir(): string {
    return dirname(this.options.dir);
  }

  /** Whether an I/O failure (here or elsewhere in its log dir) stopped this log for good. */
  get isOffline(): boolean {
    return (
      this.offlineReason !== undefined || this.options.logDirFailureChannel?.isOffline(this.logDir) === true
    );
  }

  /**
   * Whether an operation ran out of file descriptors halfway (see `interruptedBy`): the log refuses
   * everything until the LogManager opens it again from its files (getOrCreateLog does).
   */
  get needsReopen(): boolean {
    return this.interruptedBy !== undefined;
  }

  private ensureOpen(): void {
    if (this.isOffline) {
      throw new KafkaStorageError(
        this.logDir,
        this.offlineReason ?? `${this.name}: log dir ${this.logDir} is offline`,
      );
    }
    if (this.interruptedBy !== undefined) throw this.interruptedBy;
    if (this.closed) throw new LogClosedError(this.name);
  }

  /**
   * What an operation that failed with `error` throws. No file descriptor left (EMFILE/ENFILE) is
   * the process's limit, not the disk: that operation fails with TooManyOpenFilesError and the log
   * dir stays online; an operation that changes several files (`leavesStateUnknown`) also stops
   * the log until it is reopened. Any other I/O failure stops the log and takes its dir offline, and
   * becomes KAFKA_STORAGE_ERROR; anything else (a Kafka error, a bug) is unchanged.
   */
  private failed(operation: string, error: unknown, leavesStateUnknown = false): unknown {
    const exhaustion = asTooManyOpenFiles(error, this.dir);
    if (exhaustion !== undefined) {
      if (leavesStateUnknown) this.interruptedBy ??= exhaustion;
      return exhaustion;
    }
    if (!isIoError(error)) return error;
    const reason = `${this.name}: ${operation} failed: ${error.code} (${error.message})`;
    this.offlineReason ??= reason;
    this.options.logDirFailureChannel?.maybeAddOfflineLogDir(this.logDir, reason);
    return new KafkaStorageError(this.logDir, reason);
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
    this.offlineReason ??= reason;
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
        for (const segment of this.segments) await segment.closeWithoutWriting();
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
    if (this.shouldRoll(records.length, first.baseOffset, last.lastOffset, batches.length, nowMs)) {
      try {
        await this.rollLocked(first.baseOffset);
      } catch (error) {
        throw this.failed('roll', error, true);
      }
    }
    const active = this.activeSegment;
    invariant(
      last.lastOffset - active.baseOffset <= int32Max,
      () => `${this.name}: relative offset overflow`,
    );
    await active.append(records, batches, nowMs);
    invariant(
      this.logEndOffset === last.lastOffset + 1,
      () => `${this.name}: log end offset did not advance`,
    );
    if (this.flushDue(nowMs)) await this.flushLocked();
    return {
      baseOffset: first.baseOffset,
      lastOffset: last.lastOffset,
      logAppendTimeMs: nowMs,
      logStartOffset: this.logStartOffsetValue,
    };
  }

  private shouldRoll(
    incomingBytes: number,
    firstOffset: number,
    lastOffset: number,
    batchCount: number,
    nowMs: number,
  ): boolean {
    const active = this.activeSegment;
    const offsetOverflow = lastOffset - active.baseOffset > int32Max;
    // Offsets inside a segment are contiguous, so recovery can tell a damaged baseOffset (outside the
    // CRC) from a real one; a follower offset gap therefore starts a new segment.
    const offsetGap = firstOffset !== active.nextOffset;
    // An empty segment takes any append (a batch above segment.bytes gets a segment of its own),
    // except one it cannot hold contiguously: then it is replaced.
    if (active.isEmpty) return offsetOverflow || offsetGap;
    const { segmentBytes, segmentMs } = this.configValue;
    return (
      active.sizeBytes + incomingBytes > segmentBytes ||
      (active.rollBaseMs !== undefined && nowMs - active.rollBaseMs >= segmentMs) ||
      active.indexesCouldOverflow(batchCount) ||
      offsetOverflow ||
      offsetGap
    );
  }

  /** Rolls now (an admin or test action); no-op on an empty active segment. */
  async roll(): Promise<void> {
    this.ensureOpen();
    await this.runExclusive(
      'roll',
      async () => {
        if (!this.activeSegment.isEmpty) await this.rollLocked(this.logEndOffset);
      },
      true,
    );
  }

  /**
   * Makes a new active segment at `newBaseOffset`. The old one is synced whole (as Kafka flushes on
   * roll), so the recovery point moves to its end and only the new segment can need recovery.
   */
  private async rollLocked(newBaseOffset: number): Promise<void> {
    const old = this.activeSegment;
    invariant(
      newBaseOffset >= old.nextOffset,
      () => `${this.name}: roll to ${newBaseOffset} below the log end`,
    );
    const limits = segmentLimits(this.configValue);
    if (old.isEmpty) {
      // Nothing to keep: replace the empty segment (only happens on a follower offset jump).
      await old.close();
      for (const path of [old.logPath, old.indexPath, old.timeIndexPath]) await unlinkIfExists(path);
      const created = await LogSegment.create(
        this.dir,
        newBaseOffset,
        limits,
        this.options.clock.nowMs(),
        this.files,
      );
      this.segments = [...this.segments.slice(0, -1), created];
      // An empty log that jumps ahead has nothing below the new base: the log starts there, as it
      // would after a reopen (the log start is never below the first segment's base).
      if (this.segments.length === 1)
        this.logStartOffsetValue = Math.max(this.logStartOffsetValue, newBaseOffset);
    } else {
      await old.deactivate();
      this.recoveryPointValue = Math.max(this.recoveryPointValue, old.nextOffset);
      const created = await LogSegment.create(
        this.dir,
        newBaseOffset,
        limits,
        this.options.clock.nowMs(),
        this.files,
      );
      this.segments = [...this.segments, created];
    }
    // The new file's directory entry must be durable before data in it can count as flushed.
    await fsyncDirectory(this.dir, this.files);
    this.checkInvariants();
  }

  /** fsyncs the active segment and advances the recovery point to the log end offset. */
  async flush(): Promise<void> {
    this.ensureOpen();
    await this.runExclusive('flush', () => this.flushLocked());
  }

  private async flushLocked(): Promise<void> {
    const target = this.logEndOffset;
    await this.activeSegment.flush();
    this.recoveryPointValue = Math.max(this.recoveryPointValue, target);
    this.lastFlushMs = this.options.clock.nowMs();
  }

  /** Whether flush.messages or flush.ms asks for a flush now (checked without a promise per append). */
  private flushDue(nowMs: number): boolean {
    const unflushed = this.logEndOffset - this.recoveryPointValue;
    if (unflushed <= 0) return false;
    const { flushMessages, flushMs } = this.configValue;
    return unflushed >= flushMessages || (flushMs !== neverLong && nowMs - this.lastFlushMs >= flushMs);
  }

  private async maybeFlush(nowMs: number): Promise<boolean> {
    if (!this.flushDue(nowMs)) return false;
    await this.flushLocked();
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
      return await this.readUnguarded(offset, maxBytes, options);
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

  private async readUnguarded(
    offset: number,
    maxBytes: number,
    options: ReadOptions,
  ): Promise<LogReadResult> {
    const logStartOffset = this.logStartOffsetValue;
    const logEndOffset = this.logEndOffset;
    if (offset < logStartOffset || offset > logEndOffset) {
      return { errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, logStartOffset, logEndOffset };
    }
    const empty = {
      errorCode: ErrorCode.NONE,
      records: Buffer.alloc(0),
      firstBatchBaseOffset: -1,
      logStartOffset,
      logEndOffset,
    } as const;
    const maxOffsetExclusive = Math.min(options.maxOffsetExclusive ?? logEndOffset, logEndOffset);
    if (offset >= maxOffsetExclusive) return empty;

    const segments = this.segments;
    const parts: Buffer[] = [];
    let totalBytes = 0;
    let firstBatchBaseOffset = -1;
    let budgetBytes = maxBytes;
    for (let i = floorSegmentIndex(segments, offset); i < segments.length; i++) {
      const segment = segments[i]!;
      if (!(await segment.retain())) break;
      try {
        const segmentEnd = segment.sizeBytes;
        let start = 0;
        if (parts.length === 0) {
          const first = await segment.findBatch(offset, segmentEnd);
          if (first === undefined) continue; // `offset` is in a gap after this segment's last batch
          if (first.lastOffset >= maxOffsetExclusive) return empty;
          start = first.position;
          budgetBytes = Math.max(maxBytes, first.sizeBytes);
          firstBatchBaseOffset = first.baseOffset;
        }
        const wanted = Math.min(budgetBytes - totalBytes, segmentEnd - start);
        if (wanted < 0) break;
        const bytes = await segment.readBytes(start, wanted);
        const { usableBytes, stoppedEarly } = wholeBatchesBelow(bytes, maxOffsetExclusive);
        if (usableBytes > 0) {
          parts.push(bytes.subarray(0, usableBytes));
          totalBytes += usableBytes;
        }
        // Continue into the next segment only if this one was read to its end.
        if (stoppedEarly || start + usableBytes < segmentEnd) break;
      } finally {
        segment.release();
      }
    }
    if (parts.length === 0) return empty;
    return {
      errorCode: ErrorCode.NONE,
      records: parts.length === 1 ? parts[0]! : Buffer.concat(parts, totalBytes),
      firstBatchBaseOffset,
      logStartOffset,
      logEndOffset,
    };
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
      return await this.offsetForTimestampUnguarded(timestampMs);
    } catch (error) {
      throw this.readFailed('offset lookup', error);
    }
  }

  private async offsetForTimestampUnguarded(timestampMs: number): Promise<TimestampLookupResult | null> {
    const logStartOffset = this.logStartOffsetValue;
    for (const segment of this.segments) {
      if (segment.maxTimestampMs < timestampMs || segment.nextOffset <= logStartOffset) continue;
      if (!(await segment.retain())) continue;
      try {
        const batch = await segment.findBatchByTimestamp(timestampMs, logStartOffset);
        if (batch !== undefined) {
          return { offset: Math.max(batch.baseOffset, logStartOffset), timestamp: batch.maxTimestamp };
        }
      } finally {
        segment.release();
      }
    }
    return null;
  }

  /**
   * Retention: deletes whole non-active segments, oldest first, while their largest timestamp is older
   * than now - retention.ms, then while the log stays at or above retention.bytes without them
   * (Kafka's rule). Returns how many segments were deleted; none when cleanup.policy lacks "delete".
   */
  async deleteOldSegments(options: RetentionOptions = {}): Promise<number> {
    this.ensureOpen();
    return this.runExclusive('retention', async () => {
      const { retentionMs, retentionBytes } = this.configValue;
      const nowMs = this.options.clock.nowMs();
      // Only segments wholly below the high watermark: data a replica may still need (or that a
      // new leader could still lose) is never deleted by retention, as in Kafka.
      const highWatermark = options.highWatermark ?? Number.POSITIVE_INFINITY;
      const candidates = this.segments
        .slice(0, -1)
        .filter((_segment, index) => this.segments[index + 1]!.baseOffset <= highWatermark);
      // Kafka's deleteLogStartOffsetBreachedSegments, whatever the cleanup policy: a segment whose
      // records all lie below the log start offset (DeleteRecords moved it) holds nothing readable.
      let deleteCount = 0;
      while (
        deleteCount < candidates.length &&
        this.segments[deleteCount + 1]!.baseOffset <= this.logStartOffsetValue
      ) {
        deleteCount += 1;
      }
      // Kafka: a compact-only topic has no time or size retention; its size is the cleaner's business.
      if (!this.configValue.cleanupPolicy.includes('delete')) {
        if (deleteCount > 0) await this.deleteOldestSegments(deleteCount);
        return deleteCount;
      }
      if (retentionMs >= 0) {
        while (
          deleteCount < candidates.length &&
          candidates[deleteCount]!.retentionTimestampMs < nowMs - retentionMs
        ) {
          deleteCount += 1;
        }
      }
      if (retentionBytes >= 0) {
        let excessBytes = this.sizeBytes - retentionBytes;
        for (let i = 0; i < deleteCount; i++) excessBytes -= candidates[i]!.sizeBytes;
        while (deleteCount < candidates.length && excessBytes - candidates[deleteCount]!.sizeBytes >= 0) {
          excessBytes -= candidates[deleteCount]!.sizeBytes;
          deleteCount += 1;
        }
      }
      if (deleteCount === 0) return 0;
      await this.deleteOldestSegments(deleteCount);
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
    const doomed = this.segments.slice(0, count);
    this.segments = this.segments.slice(count);
    this.logStartOffsetValue = Math.max(this.logStartOffsetValue, this.segments[0]!.baseOffset);
    for (const segment of doomed) await segment.renameToDeleted();
    await fsyncDirectory(this.dir, this.files);
    await this.options.checkpoints.logStartOffsetChanged(this);
    for (const segment of doomed) await segment.unlinkDeleted();
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
      segments: () => this.segments,
      replaceSegments: (group, sizes, nowMs, onStep) =>
        this.replaceWithCleanedSegment(group, sizes, nowMs, onStep),
    };
  }

  /**
   * The cleaner's swap, on the queue: replaces `group` by its cleaned segment in one assignment of
   * the segment list, so a read sees either the old segments or the new one. Refused (false) when
   * retention, truncation or close changed the group since the cleaner read it.
   */
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
        return this.swapLocked(group, groupSizesBytes, nowMs, onStep);
      })
      .catch((error: unknown) => {
        throw this.failed('cleaner swap', error, true);
      });
  }

  private async swapLocked(
    group: readonly LogSegment[],
    groupSizesBytes: readonly number[],
    nowMs: number,
    onStep: SwapStepObserver | undefined,
  ): Promise<boolean> {
    const start = this.segments.indexOf(group[0]!);
    const unchanged =
      start >= 0 &&
      start + group.length < this.segments.length &&
      group.every(
        (segment, i) =>
          this.segments[start + i] === segment &&
          !segment.isActive &&
          segment.sizeBytes === groupSizesBytes[i],
      );
    if (!unchanged) return false;
    const cleaned = await swapInCleanedSegment(
      this.dir,
      group,
      segmentLimits(this.configValue),
      nowMs,
      onStep,
      this.files,
    );
    this.segments = [...this.segments.slice(0, start), cleaned, ...this.segments.slice(start + group.length)];
    // Reads in flight keep the old files open until they finish.
    for (const segment of group) await segment.unlinkDeleted();
    this.checkInvariants();
    return true;
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
        const keepCount = floorSegmentIndex(this.segments, offset) + 1;
        const doomed = this.segments.slice(keepCount);
        const kept = this.segments.slice(0, keepCount);
        const target = kept[kept.length - 1]!;
        // Later segments go first: a crash in between leaves a longer log (replication truncates
        // again), never a log with a hole.
        if (doomed.length > 0) {
          this.segments = kept;
          for (const segment of doomed) await segment.renameToDeleted();
          await fsyncDirectory(this.dir, this.files);
          for (const segment of doomed) await segment.unlinkDeleted();
        }
        await target.truncateTo(offset);
        if (!target.isActive) await target.activate();
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
    const doomed = this.segments;
    for (const segment of doomed) await segment.renameToDeleted();
    const created = await LogSegment.create(
      this.dir,
      offset,
      segmentLimits(this.configValue),
      this.options.clock.nowMs(),
      this.files,
    );
    this.segments = [created];
    await fsyncDirectory(this.dir, this.files);
    this.logStartOffsetValue = offset;
    await this.options.checkpoints.logStartOffsetChanged(this);
    await this.lowerRecoveryPoint();
    for (const segment of doomed) await segment.unlinkDeleted();
    this.checkInvariants();
  }

  private async lowerRecoveryPoint(): Promise<void> {
    if (this.recoveryPointValue <= this.logEndOffset) return;
    this.recoveryPointValue = this.logEndOffset;
    await this.options.checkpoints.recoveryPointLowered(this);
  }

  /** Flushes and closes the files. The log object cannot be used afterwards. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.runExclusive(
      'close',
      async () => {
        if (this.closed) return;
        await this.flushLocked();
        this.closed = true;
        for (const segment of this.segments) await segment.close();
      },
      true,
    );
  }
}

/** Index of the last segment whose base offset is <= `offset` (0 when none is). */
function floorSegmentIndex(segments: readonly LogSegment[], offset: number): number {
  let low = 0;
  let high = segments.length - 1;
  let found = 0;
  while (low <= high) {
    const mid = (low + high) >>> 1;
    if (segments[mid]!.baseOffset <= offset) {
      found = mid;
      low = mid + 1;
    } else {
      high = mid - 1;
    }
  }
  return found;
}

/**
 * How many leading bytes of `bytes` are complete batches with lastOffset < `maxOffsetExclusive`;
 * `stoppedEarly` when a batch at or beyond that offset ended the walk.
 */
function wholeBatchesBelow(
  bytes: Buffer,
  maxOffsetExclusive: number,
): { usableBytes: number; stoppedEarly: boolean } {
  let at = 0;
  while (true) {
    const batch = summarizeBatch(bytes, at, at);
    if (batch === undefined || at + batch.sizeBytes > bytes.length)
      return { usableBytes: at, stoppedEarly: false };
    if (batch.lastOffset >= maxOffsetExclusive) return { usableBytes: at, stoppedEarly: true };
    at += batch.sizeBytes;
  }
}

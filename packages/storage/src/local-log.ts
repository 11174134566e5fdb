// A partition's segments on disk (Kafka's LocalLog): the ordered list of segments, the last one
// active; the recovery point and when the log was last flushed; rolling; reads and offset lookups
// over a snapshot of the list; and the segment-level steps of retention, truncation and the
// cleaner's swap. It knows nothing of the log start offset's checkpoint, the operation queue or I/O
// failures: PartitionLog (the API, Kafka's UnifiedLog) runs every change on its queue and handles
// those.

import type { Clock } from '@gregor/ground';
import { invariant } from '@gregor/ground';
import { batchHeaderBytes, ErrorCode } from '@gregor/protocol';
import { fsyncDirectory } from './checkpoint-file.js';
import { CorruptRecordError } from './errors.js';
import type { FileHandleCache } from './file-handle-cache.js';
import { int32Max, summarizeBatch, unlinkIfExists } from './file-records.js';
import { type SwapStepObserver, swapInCleanedSegment } from './log-cleaner-swap.js';
import type { LogConfig } from './log-config.js';
import { neverLong } from './log-config.js';
import { LogSegment } from './log-segment.js';
import { offsetIndexEntryBytes } from './offset-index.js';
import type { SegmentLimits } from './segment-index-files.js';
import { timeIndexEntryBytes } from './time-index.js';

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

export interface ReadOptions {
  /** Only batches whose last offset is below this (the high watermark) are returned. */
  readonly maxOffsetExclusive?: number;
}

export interface TimestampLookupResult {
  readonly offset: number;
  readonly timestamp: number;
}

/** The index limits a new segment of a log with `config` gets. */
export function segmentLimits(config: LogConfig): SegmentLimits {
  return {
    indexIntervalBytes: config.indexIntervalBytes,
    offsetIndexEntriesMax: Math.floor(config.segmentIndexBytes / offsetIndexEntryBytes),
    timeIndexEntriesMax: Math.floor(config.segmentIndexBytes / timeIndexEntryBytes),
  };
}

export class LocalLog {
  private segmentList: readonly LogSegment[];
  private recoveryPointValue: number;
  private lastFlushMs: number;
  /**
   * The fsyncs of rolled segments (Kafka's deferred "flush-log" on roll), one after the other: each
   * moves the recovery point to its segment's end when it completes, so the recovery point only
   * ever covers a prefix of segments all synced. It settles when the last one scheduled did; a
   * failed one rejects it, and every later one (they never run past a failure). Operations that
   * delete, cut or replace segments, move the directory, flush or close wait for it first, so a
   * deferred fsync never races a change of the segments it syncs.
   */
  private rollSyncs: Promise<void> = Promise.resolve();
  /** How many rolled segments' fsyncs were scheduled and have not completed yet. */
  private rollSyncsPendingCount = 0;
  private rollSyncFailureReported = false;

  constructor(
    /** `<topic>-<partition>`, for messages. */
    private readonly name: string,
    readonly dir: string,
    readonly files: FileHandleCache,
    private readonly clock: Clock,
    segments: readonly LogSegment[],
    /**
     * A rolled segment's deferred fsync failed (it runs off the operation queue, so no operation
     * gets the error): the log must stop as a failed flush stops it.
     */
    private readonly onRollSyncFailure: (error: unknown) => void,
  ) {
    this.segmentList = segments;
    this.recoveryPointValue = this.logEndOffset;
    this.lastFlushMs = clock.nowMs();
  }

  /**
   * Checks the log's offsets against each other: log start <= log end, recovery point <= log end,
   * the log start not below the first segment, segments not overlapping.
   */
  checkInvariants(logStartOffset: number): void {
    const segments = this.segmentList;
    invariant(logStartOffset <= this.logEndOffset, () => `${this.name}: log start beyond log end`);
    invariant(this.recoveryPoint <= this.logEndOffset, () => `${this.name}: recovery point beyond log end`);
    invariant(
      logStartOffset >= segments[0]!.baseOffset,
      () => `${this.name}: log start below the first segment`,
    );
    for (let i = 1; i < segments.length; i++) {
      invariant(
        segments[i]!.baseOffset >= segments[i - 1]!.nextOffset,
        () => `${this.name}: segment ${segments[i]!.baseOffset} overlaps its predecessor`,
      );
    }
  }

  /** The segments, oldest first; a read works on the list it took, whatever replaces it meanwhile. */
  get segments(): readonly LogSegment[] {
    return this.segmentList;
  }

  get activeSegment(): LogSegment {
    return this.segmentList[this.segmentList.length - 1]!;
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
    for (const segment of this.segmentList) total += segment.sizeBytes;
    return total;
  }

  /** Whether an append of these batches starts a new active segment first. */
  shouldRoll(
    config: LogConfig,
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
    const { segmentBytes, segmentMs } = config;
    return (
      active.sizeBytes + incomingBytes > segmentBytes ||
      (active.rollBaseMs !== undefined && nowMs - active.rollBaseMs >= segmentMs) ||
      active.indexesCouldOverflow(batchCount) ||
      offsetOverflow ||
      offsetGap
    );
  }

  /**
   * Makes a new active segment at `newBaseOffset`. The old one is sealed (index entries written,
   * `.log` trimmed) and its fsync scheduled, not awaited: the append that rolled goes on while the
   * whole segment reaches the disk, and the recovery point moves to its end only once it has (as
   * Kafka's UnifiedLog.roll schedules flushUptoOffsetExclusive). Until then a crash recovers it. An
   * empty active segment is replaced instead; `onEmptyReplaced` runs as soon as the new list is in
   * place.
   */
  async roll(newBaseOffset: number, config: LogConfig, onEmptyReplaced: () => void): Promise<void> {
    const old = this.activeSegment;
    invariant(
      newBaseOffset >= old.nextOffset,
      () => `${this.name}: roll to ${newBaseOffset} below the log end`,
    );
    const limits = segmentLimits(config);
    if (old.isEmpty) {
      // Nothing to keep: replace the empty segment (only happens on a follower offset jump).
      await old.close();
      for (const path of [old.logPath, old.indexPath, old.timeIndexPath]) await unlinkIfExists(path);
      const created = await LogSegment.create(
        this.dir,
        newBaseOffset,
        limits,
        this.clock.nowMs(),
        this.files,
      );
      this.segmentList = [...this.segmentList.slice(0, -1), created];
      onEmptyReplaced();
    } else {
      await old.deactivate();
      const created = await LogSegment.create(
        this.dir,
        newBaseOffset,
        limits,
        this.clock.nowMs(),
        this.files,
      );
      this.segmentList = [...this.segmentList, created];
    }
    // The new file's directory entry must be durable before data in it can count as flushed. After
    // a real roll that fsync runs first in the rolled segment's deferred one (a flush waits for
    // those), so the append does not wait for the journal commit either (Kafka defers it too).
    if (old.isEmpty) await fsyncDirectory(this.dir, this.files);
    else this.scheduleRollSync(old);
  }

  /** Queues the fsync of a segment just rolled behind those of earlier rolls (see rollSyncs). */
  private scheduleRollSync(rolled: LogSegment): void {
    const endOffset = rolled.nextOffset;
    this.rollSyncsPendingCount += 1;
    const sync = this.rollSyncs.then(async () => {
      // The roll's directory fsync first: the new segment's entry is durable before the recovery
      // point can pass into it (see roll).
      const synced = await rolled.syncRolled(() => fsyncDirectory(this.dir, this.files));
      this.rollSyncsPendingCount -= 1;
      // Closed without writing meanwhile (the log was given up): nothing to record.
      if (!synced) return;
      // Nothing that cuts or removes segments ran meanwhile (they wait for rollSyncs), so the log
      // end is still at or beyond the rolled segment's end.
      invariant(
        endOffset <= this.logEndOffset,
        () => `${this.name}: rolled segment ends at ${endOffset}, beyond the log end ${this.logEndOffset}`,
      );
      this.recoveryPointValue = Math.max(this.recoveryPointValue, endOffset);
    });
    this.rollSyncs = sync;
    // Reported once: the syncs scheduled after a failed one fail with its error without running.
    sync.catch((error: unknown) => {
      if (this.rollSyncFailureReported) return;
      this.rollSyncFailureReported = true;
      this.onRollSyncFailure(error);
    });
  }

  /**
   * Settles once every rolled segment's fsync scheduled so far completed; throws the error of one
   * that failed (the log is stopped then).
   */
  async rollSyncsDone(): Promise<void> {
    await this.rollSyncs;
  }

  /**
   * fsyncs every rolled segment not synced yet (waits for their deferred fsyncs) and the active
   * segment, and advances the recovery point to the log end offset.
   */
  async flush(): Promise<void> {
    await this.rollSyncs;
    const target = this.logEndOffset;
    await this.activeSegment.flush();
    this.recoveryPointValue = Math.max(this.recoveryPointValue, target);
    this.lastFlushMs = this.clock.nowMs();
  }

  /** Whether flush.messages or flush.ms asks for a flush now (checked without a promise per append). */
  flushDue(config: LogConfig, nowMs: number): boolean {
    const unflushed = this.logEndOffset - this.recoveryPointValue;
    if (unflushed <= 0) return false;
    const { flushMessages, flushMs } = config;
    return unflushed >= flushMessages || (flushMs !== neverLong && nowMs - this.lastFlushMs >= flushMs);
  }

  /** Truncation moved the log end below the recovery point: lowers it; returns whether it moved. */
  lowerRecoveryPointToLogEnd(): boolean {
    if (this.recoveryPointValue <= this.logEndOffset) return false;
    this.recoveryPointValue = this.logEndOffset;
    return true;
  }

  /**
   * Whole batches from the one that contains `offset`, up to `maxBytes` in total but always at least
   * one complete batch (KIP-74), and only batches whose last offset is below `maxOffsetExclusive`;
   * they may span segments (see PartitionLog.read).
   */
  async read(
    offset: number,
    maxBytes: number,
    logStartOffset: number,
    options: ReadOptions,
  ): Promise<LogReadResult> {
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

    const segments = this.segmentList;
    const parts: Buffer[] = [];
    let totalBytes = 0;
    let firstBatchBaseOffset = -1;
    let budgetBytes = maxBytes;
    for (let i = floorSegmentIndex(segments, offset); i < segments.length; i++) {
      const segment = segments[i]!;
      if (!(await segment.retain())) break;
      try {
        // Taken in one tick: findBatch tells damage on disk (CorruptRecordError, which the broker
        // answers CORRUPT_MESSAGE) from bytes a truncation cut since this end was taken.
        const segmentEnd = segment.sizeBytes;
        const cutsAtEnd = segment.cutCount;
        let start = 0;
        if (parts.length === 0) {
          const first = await segment.findBatch(offset, segmentEnd);
          if (first === undefined) {
            // A truncation cut this segment meanwhile: the next read sees the log it left.
            if (segment.cutCount !== cutsAtEnd) break;
            continue; // `offset` is in a gap after this segment's last batch (a follower's)
          }
          if (first.lastOffset >= maxOffsetExclusive) return empty;
          start = first.position;
          budgetBytes = Math.max(maxBytes, first.sizeBytes);
          firstBatchBaseOffset = first.baseOffset;
        }
        const wanted = Math.min(budgetBytes - totalBytes, segmentEnd - start);
        if (wanted < 0) break;
        const bytes = await segment.readBytes(start, wanted);
        const { usableBytes, stoppedEarly } = wholeBatchesBelow(bytes, maxOffsetExclusive);
        if (parts.length === 0 && usableBytes === 0 && !stoppedEarly && segment.cutCount === cutsAtEnd) {
          // findBatch vouched for this batch (from the file, or from the header an append kept) and
          // `bytes` hold all of it: its bytes on disk are not what was written.
          throw new CorruptRecordError(segment.logPath, start, 'the batch found there is not whole');
        }
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

  /** The first batch at or after `logStartOffset` whose maxTimestamp is >= `timestampMs`. */
  async offsetForTimestamp(
    timestampMs: number,
    logStartOffset: number,
  ): Promise<TimestampLookupResult | null> {
    for (const segment of this.segmentList) {
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
   * ListOffsets MAX_TIMESTAMP: the largest batch maxTimestamp of the segments not wholly below
   * `logStartOffset`, and the last offset of the first batch that had it (the first such segment on
   * a tie, as Kafka's maxBy picks); null when no batch has a timestamp.
   */
  maxTimestamp(logStartOffset: number): TimestampLookupResult | null {
    let best: LogSegment | undefined;
    for (const segment of this.segmentList) {
      if (segment.nextOffset <= logStartOffset || segment.maxTimestampMs < 0) continue;
      if (best === undefined || segment.maxTimestampMs > best.maxTimestampMs) best = segment;
    }
    return best === undefined ? null : { offset: best.offsetOfMaxTimestamp, timestamp: best.maxTimestampMs };
  }

  /**
   * Takes the `count` oldest segments out of the list (their files stay: see deleteSegmentFiles).
   * The caller waited for rollSyncsDone(): a deferred fsync never runs on a deleted segment.
   */
  removeOldest(count: number): readonly LogSegment[] {
    invariant(
      this.rollSyncsPendingCount === 0,
      () => `${this.name}: deleting segments whose fsync is pending`,
    );
    const doomed = this.segmentList.slice(0, count);
    this.segmentList = this.segmentList.slice(count);
    return doomed;
  }

  /**
   * Crash-safe removal of segments already out of the list: their files renamed to `.deleted` (which
   * the next open removes), the directory synced, `beforeUnlink` (what must be durable first), then
   * the files unlinked. Reads in flight keep the files open until they finish.
   */
  async deleteSegmentFiles(
    doomed: readonly LogSegment[],
    beforeUnlink: () => Promise<void> = async () => undefined,
  ): Promise<void> {
    for (const segment of doomed) await segment.renameToDeleted();
    await fsyncDirectory(this.dir, this.files);
    await beforeUnlink();
    for (const segment of doomed) await segment.unlinkDeleted();
  }

  /**
   * Drops every batch at or after `offset` (a whole batch if `offset` falls inside one), with index
   * entries and later segments; `offset` lies above the first segment's base and below the log end.
   */
  async truncateTo(offset: number): Promise<void> {
    // A rolled segment's fsync must not race its cut, nor move the recovery point past the new end.
    await this.rollSyncs;
    const keepCount = floorSegmentIndex(this.segmentList, offset) + 1;
    const doomed = this.segmentList.slice(keepCount);
    const kept = this.segmentList.slice(0, keepCount);
    const target = kept[kept.length - 1]!;
    // Later segments go first: a crash in between leaves a longer log (replication truncates
    // again), never a log with a hole.
    if (doomed.length > 0) {
      this.segmentList = kept;
      await this.deleteSegmentFiles(doomed);
    }
    await target.truncateTo(offset);
    if (!target.isActive) await target.activate();
  }

  /**
   * Replaces every segment by one empty segment at `offset`: the old files renamed to `.deleted`, the
   * new one created and its directory entry synced, `beforeUnlink` run, then the old files unlinked.
   */
  async truncateFullyAndStartAt(
    offset: number,
    config: LogConfig,
    beforeUnlink: () => Promise<void>,
  ): Promise<void> {
    await this.rollSyncs;
    const doomed = this.segmentList;
    for (const segment of doomed) await segment.renameToDeleted();
    const created = await LogSegment.create(
      this.dir,
      offset,
      segmentLimits(config),
      this.clock.nowMs(),
      this.files,
    );
    this.segmentList = [created];
    await fsyncDirectory(this.dir, this.files);
    await beforeUnlink();
    for (const segment of doomed) await segment.unlinkDeleted();
  }

  /**
   * The cleaner's swap: replaces `group` by its cleaned segment in one assignment of the segment
   * list, so a read sees either the old segments or the new one. Refused (false) when retention,
   * truncation or close changed the group since the cleaner read it.
   */
  async replaceWithCleanedSegment(
    group: readonly LogSegment[],
    groupSizesBytes: readonly number[],
    config: LogConfig,
    nowMs: number,
    onStep: SwapStepObserver | undefined,
  ): Promise<boolean> {
    // The group may hold a segment just rolled: its fsync completes before its files are replaced.
    await this.rollSyncs;
    const segments = this.segmentList;
    const start = segments.indexOf(group[0]!);
    const unchanged =
      start >= 0 &&
      start + group.length < segments.length &&
      group.every(
        (segment, i) =>
          segments[start + i] === segment && !segment.isActive && segment.sizeBytes === groupSizesBytes[i],
      );
    if (!unchanged) return false;
    const cleaned = await swapInCleanedSegment(
      this.dir,
      group,
      segmentLimits(config),
      nowMs,
      onStep,
      this.files,
    );
    this.segmentList = [
      ...this.segmentList.slice(0, start),
      cleaned,
      ...this.segmentList.slice(start + group.length),
    ];
    // Reads in flight keep the old files open until they finish.
    for (const segment of group) await segment.unlinkDeleted();
    return true;
  }

  /** Closes every segment's files (writing its last index entries), once rolled ones are synced. */
  async close(): Promise<void> {
    await this.rollSyncs;
    for (const segment of this.segmentList) await segment.close();
  }

  /**
   * Closes every segment's files without writing anything (after a failure, or for a reopen). A
   * rolled segment's fsync under way is not waited for (the disk may not answer): it stops before
   * its next file (LogSegment.syncRolled) and moves nothing.
   */
  async closeWithoutWriting(): Promise<void> {
    for (const segment of this.segmentList) await segment.closeWithoutWriting();
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
    // A size below a header's is a damaged length field (a clean open does not scan the files): a
    // size of 0 would never end this walk. The read returns the whole batches before it; the next
    // one, at the damaged batch, gets CorruptRecordError from findBatch's scan.
    if (batch === undefined || batch.sizeBytes < batchHeaderBytes || at + batch.sizeBytes > bytes.length)
      return { usableBytes: at, stoppedEarly: false };
    if (batch.lastOffset >= maxOffsetExclusive) return { usableBytes: at, stoppedEarly: true };
    at += batch.sizeBytes;
  }
}

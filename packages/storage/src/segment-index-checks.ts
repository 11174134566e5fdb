// Where a segment's lookups start, through index entries that may have been read from disk. Opening
// a segment without recovery checks only that its index files are sane, as Kafka does, so a damaged
// entry that still increases (one flipped byte) would send a read into the middle of a batch or a
// lookup by timestamp past its answer. Each entry read from disk is therefore checked against the
// `.log` once, when a lookup first starts from it: the batch at an offset entry's position must end
// at its offset, the batch a time entry names must have its timestamp. A wrong one has an inactive
// segment's indexes rebuilt from the `.log` and rewritten; the active segment's lookups scan from
// its start instead until the next open. Entries added later (by appends) need no check.

import { batchHeaderBytes } from '@gregor/protocol';
import { type BatchSummary, summarizeBatch } from './file-records.js';
import { OffsetIndex } from './offset-index.js';
import type { SegmentIndexFiles, SegmentLimits } from './segment-index-files.js';
import { noTimestamp, TimeIndex } from './time-index.js';

/** What the checks read of the segment, and the largest timestamp a rebuild recomputes. */
export interface IndexCheckedSegment {
  readonly baseOffset: number;
  readonly sizeBytes: number;
  readonly isActive: boolean;
  maxTimestampMs: number;
  offsetOfMaxTimestamp: number;
  readBytes(position: number, length: number): Promise<Buffer>;
  scanBatches(from: number, to: number): AsyncGenerator<BatchSummary>;
}

export class SegmentIndexChecks {
  /** Index entries read from disk and not yet checked against the `.log` (1 = unchecked). */
  private unchecked: { offset: Uint8Array; time: Uint8Array } | undefined;
  /**
   * A wrong entry found in the active segment's indexes, which appends change under a rebuild: its
   * lookups scan from the segment's start instead, until the next open recovers or rebuilds them.
   */
  private setAside = false;
  /** Why a lookup found the indexes wrong and rebuilt (or set aside) them, if one did. */
  rebuiltBecause: string | undefined;

  constructor(
    private readonly segment: IndexCheckedSegment,
    private readonly indexes: SegmentIndexFiles,
    private readonly limits: SegmentLimits,
  ) {}

  /** After the index files were loaded from disk: every entry is to be checked on first use. */
  startChecking(): void {
    this.unchecked = {
      offset: new Uint8Array(this.indexes.offsetIndex.entries).fill(1),
      time: new Uint8Array(this.indexes.timeIndex.entries).fill(1),
    };
  }

  /** After recovery rebuilt the indexes from validated batches: nothing is left to check. */
  forget(): void {
    this.unchecked = undefined;
    this.setAside = false;
  }

  /**
   * At open: the segment's largest timestamp comes from the last time index entry, and retention and
   * lookups by timestamp trust it, so it must be that of the batch it names (checked by one scan from
   * the last offset entry, with the `.log` ending at `end`). Returns why it is wrong, if it is.
   */
  async lastTimeEntryMismatch(end: number): Promise<string | undefined> {
    const entries = this.indexes.timeIndex.entries;
    if (this.unchecked === undefined || entries === 0) return undefined;
    if (await this.timeIndexEntryMatches(entries - 1, end)) return undefined;
    return 'last .timeindex entry does not match its batch';
  }

  /**
   * Where a scan for `relativeOffset` starts: the position of the floor offset index entry. An entry
   * read from disk is checked (once) to start the batch whose last offset it names; a wrong one has
   * the indexes rebuilt from the `.log`.
   */
  async scanStart(relativeOffset: number): Promise<number> {
    if (this.setAside) return 0;
    const offsetIndex = this.indexes.offsetIndex;
    const entry = offsetIndex.floorEntry(relativeOffset);
    if (entry < 0) return 0;
    const unchecked = this.unchecked;
    if (unchecked?.offset[entry] !== 1) return offsetIndex.positionAt(entry);
    const batch = await this.batchStartingAt(offsetIndex.positionAt(entry), this.segment.sizeBytes);
    if (batch?.lastOffset === this.segment.baseOffset + offsetIndex.relativeOffsetAt(entry)) {
      unchecked.offset[entry] = 0;
      return offsetIndex.positionAt(entry);
    }
    await this.rebuild(`.index entry ${entry} does not point at its batch`);
    return this.setAside ? 0 : this.indexes.offsetIndex.lookupPosition(relativeOffset);
  }

  /**
   * Where a scan for the first batch reaching `timestampMs` and ending at or after `minOffset`
   * starts: at the floor time index entry's offset (the segment's base offset without one), or
   * `minOffset` if later, looked up through scanStart. A time entry read from disk is checked (once)
   * to name a batch with its timestamp; a wrong one has the indexes rebuilt from the `.log`.
   */
  async timestampScanStart(timestampMs: number, minOffset: number): Promise<number> {
    let entry = this.setAside ? -1 : this.indexes.timeIndex.floorEntry(timestampMs);
    const unchecked = this.unchecked;
    if (entry >= 0 && unchecked?.time[entry] === 1) {
      if (await this.timeIndexEntryMatches(entry, this.segment.sizeBytes)) unchecked.time[entry] = 0;
      else {
        await this.rebuild(`.timeindex entry ${entry} does not match its batch`);
        entry = this.setAside ? -1 : this.indexes.timeIndex.floorEntry(timestampMs);
      }
    }
    const baseOffset = this.segment.baseOffset;
    const fromOffset = entry < 0 ? baseOffset : baseOffset + this.indexes.timeIndex.relativeOffsetAt(entry);
    return this.scanStart(Math.max(fromOffset, minOffset) - baseOffset);
  }

  /** The batch summary at `position` if a whole header fits before `end`; undefined if unreadable. */
  private async batchStartingAt(position: number, end: number): Promise<BatchSummary | undefined> {
    if (position < 0 || position + batchHeaderBytes > end) return undefined;
    const header = await this.segment.readBytes(position, batchHeaderBytes);
    try {
      return summarizeBatch(header, 0, position);
    } catch {
      return undefined; // a field out of range: not a batch start
    }
  }

  /**
   * Whether time index entry `entry` names the last offset of a batch (before `end`) whose
   * maxTimestamp is the entry's timestamp. The scan starts at the offset index's floor entry, which
   * is not checked here: a wrong one makes this false (nothing matches from a wrong place), and
   * rebuilding is the safe answer to that too.
   */
  private async timeIndexEntryMatches(entry: number, end: number): Promise<boolean> {
    const { offsetIndex, timeIndex } = this.indexes;
    const relativeOffset = timeIndex.relativeOffsetAt(entry);
    const lastOffset = this.segment.baseOffset + relativeOffset;
    const start = this.setAside ? 0 : offsetIndex.lookupPosition(relativeOffset);
    try {
      for await (const batch of this.segment.scanBatches(start, end)) {
        if (batch.lastOffset >= lastOffset) {
          return batch.lastOffset === lastOffset && batch.maxTimestamp === timeIndex.timestampAt(entry);
        }
      }
    } catch {
      // a field out of range: the scan did not start at a batch
    }
    return false;
  }

  /**
   * Rebuilds both indexes of an inactive segment from its `.log` (whose batches the open trusted) by
   * Kafka's interval rule, sealed with the largest timestamp as a roll leaves them, and rewrites the
   * index files. A failed write is left for the next open: the indexes in memory are right.
   */
  private async rebuild(reason: string): Promise<void> {
    this.unchecked = undefined;
    this.rebuiltBecause = reason;
    if (this.segment.isActive) {
      this.setAside = true;
      return;
    }
    const { baseOffset, sizeBytes } = this.segment;
    const offsetIndex = new OffsetIndex(this.limits.offsetIndexEntriesMax);
    const timeIndex = new TimeIndex(this.limits.timeIndexEntriesMax);
    let maxTimestampMs = noTimestamp;
    let offsetOfMaxTimestamp = baseOffset;
    let bytesSinceLastEntry = 0;
    try {
      for await (const batch of this.segment.scanBatches(0, sizeBytes)) {
        if (batch.maxTimestamp > maxTimestampMs) {
          maxTimestampMs = batch.maxTimestamp;
          offsetOfMaxTimestamp = batch.lastOffset;
        }
        if (
          bytesSinceLastEntry > this.limits.indexIntervalBytes &&
          !offsetIndex.isFull &&
          !timeIndex.isFull
        ) {
          offsetIndex.add(batch.lastOffset - baseOffset, batch.position);
          timeIndex.maybeAdd(maxTimestampMs, offsetOfMaxTimestamp - baseOffset);
          bytesSinceLastEntry = 0;
        }
        bytesSinceLastEntry += batch.sizeBytes;
      }
    } catch (error) {
      // A damaged batch (CorruptRecordError, the lookup's answer): the wrong entries are not
      // trusted again; lookups scan from the segment's start, until the next open.
      this.setAside = true;
      throw error;
    }
    timeIndex.maybeAdd(maxTimestampMs, offsetOfMaxTimestamp - baseOffset, true);
    this.indexes.replaceEntries(offsetIndex, timeIndex);
    this.segment.maxTimestampMs = maxTimestampMs;
    this.segment.offsetOfMaxTimestamp = offsetOfMaxTimestamp;
    this.unchecked = undefined;
    try {
      await this.indexes.rewriteFiles();
    } catch {
      // Written again by the next open, which finds them wrong too.
    }
  }
}

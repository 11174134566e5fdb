// Log compaction for `cleanup.policy=compact`, as Kafka's LogCleaner does it, one log at a time:
//
//   [ clean section          | dirty section                 | uncleanable ... | active ]
//   log start      first dirty offset          first uncleanable offset
//
// 1. Plan. The cleanable segments are the inactive ones before the first that is still within
//    `min.compaction.lag.ms` or reaches `upperBoundOffset` (the high watermark). The dirty ratio is
//    dirty bytes / cleanable bytes; below the threshold nothing happens.
// 2. Offset map. The dirty section is read in offset order and every keyed record's key is mapped to
//    its offset, so the map ends up holding each key's latest offset. A batch goes in whole or not at
//    all; when the map is full, this cleaning covers only the dirty offsets mapped so far (the map end)
//    and the next one continues from there.
// 3. Rewrite. Every cleanable segment that starts below the map end is rewritten, oldest first, in
//    groups of consecutive segments that together fit `segment.bytes` (small cleaned segments merge).
//    A record is kept unless: its key maps to a later offset (superseded), or it is a tombstone (null
//    value) below the map end whose batch timestamp is older than now - `delete.retention.ms`, or it
//    has no key (Kafka's cleaner drops those too; produce refuses them, see log-cleaner-produce-check).
//    Control batches are kept whole.
// 4. Swap (log-cleaner-swap.ts), crash-safe, on the log's queue, one group at a time.
// Steps 2 and 3 read segments through log-cleaner-segment-reader.ts; step 3 is log-cleaner-rewrite.ts.
//
// Offsets are preserved: records keep their absolute offsets. Batches are re-encoded with the same
// codec, timestamp type, producer fields and leader epoch, and each keeps its last offset. Inside a
// segment, batches stay contiguous (recovery and follower appends rely on it): a batch that lost every
// record is dropped and the next kept batch starts right after the previous kept one (its baseOffset
// goes down, its first record's offsetDelta up; baseSequence moves with it so that its last sequence
// stays the original's). A batch that lost every record is kept as a header-only batch when it is the
// last of its group (so the cleaned segment ends exactly where the old ones did) or the last batch of
// an idempotent producer in the group (so producer state can be rebuilt from the log).
//
// Why dropping is safe: a record is only removed when a later record of its key exists in the log
// below the upper bound, or when it is a tombstone whose key was in an offset map (so every older
// record of the key was dropped in that same cleaning, in an earlier or the same group; groups swap
// oldest first). Tombstones at or above the map end are never removed, and records are only ever
// dropped, never moved. A first dirty offset that is too low only costs work; one that is too high
// could let a tombstone go before its older records, so the checkpoint only moves after a whole
// cleaning and goes down with truncation (LogManager).

import { BatchField, readInt64AsNumber } from '@gregor/protocol';
import type { FileHandleCache } from './file-handle-cache.js';
import { int32Max, unlinkIfExists } from './file-records.js';
import type { OffsetMap } from './log-cleaner-offset-map.js';
import { type RecordCounts, writeCleanedGroup } from './log-cleaner-rewrite.js';
import { decodeAt, forEachBatch, isControlBatch, SegmentGoneError } from './log-cleaner-segment-reader.js';
import { cleanedLogPath, type SwapStepObserver } from './log-cleaner-swap.js';
import type { LogConfig } from './log-config.js';
import type { LogSegment } from './log-segment.js';

/** Bytes read per read while cleaning when the caller does not say (Kafka's log.cleaner.io.buffer.size). */
export const cleanerReadChunkBytesDefault = 512 * 1024;

/** What the cleaner needs from a PartitionLog (which builds this view over its private state). */
export interface CleanableLog {
  readonly name: string;
  readonly dir: string;
  readonly config: LogConfig;
  readonly logStartOffset: number;
  /** The broker's descriptor budget: the `.cleaned` file is opened through it too. */
  readonly files: FileHandleCache;
  /** The segment list now; the array is replaced, never changed, so it is a snapshot. */
  segments(): readonly LogSegment[];
  /**
   * On the log's queue: if `group` is still in the log unchanged (same objects, inactive, sizes as
   * given), swaps the fsynced `.cleaned` file in for it and returns true; otherwise returns false and
   * changes nothing.
   */
  replaceSegments(
    group: readonly LogSegment[],
    groupSizesBytes: readonly number[],
    nowMs: number,
    onStep: SwapStepObserver | undefined,
  ): Promise<boolean>;
}

export interface CompactOptions {
  /** The clean time: tombstone expiry and min.compaction.lag.ms are measured from it. */
  readonly nowMs: number;
  /** Nothing at or above this offset is cleaned or used to supersede (the high watermark). */
  readonly upperBoundOffset?: number;
  /** The cleaner checkpoint (first dirty offset); the log start offset when absent (all dirty). */
  readonly firstDirtyOffset?: number;
  /** Clean only if dirty bytes / cleanable bytes reaches this; 0 when absent (always clean). */
  readonly minDirtyRatio?: number;
  /** The key → offset map to use (cleared first); its size bounds the dirty offsets one cleaning covers. */
  readonly offsetMap: OffsetMap;
  readonly readChunkBytes?: number;
  /** Tests: called after each swap step; throwing there leaves the files as a crash would. */
  readonly onSwapStep?: SwapStepObserver;
}

export interface CompactionResult {
  /** False when nothing was rewritten (nothing dirty, ratio below the threshold, or every swap lost). */
  readonly cleaned: boolean;
  readonly firstDirtyOffset: number;
  /** Where the next cleaning's dirty section starts: checkpoint this. */
  readonly nextDirtyOffset: number;
  /** End (exclusive) of the cleanable section: the first uncleanable offset. */
  readonly cleanableEndOffset: number;
  readonly dirtyRatio: number;
  readonly segmentsBefore: number;
  readonly segmentsAfter: number;
  readonly bytesBefore: number;
  readonly bytesAfter: number;
  readonly recordsKept: number;
  /** Superseded, expired tombstones and keyless records together. */
  readonly recordsRemoved: number;
  readonly tombstonesRemoved: number;
  /** Groups not swapped because retention or truncation changed them meanwhile. */
  readonly groupsAbandoned: number;
}

/** The cleaner cannot make progress: one batch has more keys than the whole offset map holds. */
export class CleanerBufferTooSmallError extends Error {
  override readonly name = 'CleanerBufferTooSmallError';
  constructor(
    readonly partition: string,
    readonly entriesMax: number,
  ) {
    super(`${partition}: a batch holds more keys than the cleaner's offset map (${entriesMax} entries)`);
  }
}

export async function compactLog(log: CleanableLog, options: CompactOptions): Promise<CompactionResult> {
  const { nowMs, offsetMap: map } = options;
  const config = log.config;
  const chunkBytes = options.readChunkBytes ?? cleanerReadChunkBytesDefault;
  const segments = log.segments();
  const cleanable: LogSegment[] = [];
  for (const segment of segments.slice(0, -1)) {
    if (segment.isActive) break;
    if (options.upperBoundOffset !== undefined && segment.nextOffset > options.upperBoundOffset) break;
    // Only with a lag: a producer clock running ahead must not stall cleaning of lag-free topics.
    if (config.minCompactionLagMs > 0 && segment.maxTimestampMs > nowMs - config.minCompactionLagMs) break;
    cleanable.push(segment);
  }
  const cleanableEndOffset = cleanable[cleanable.length - 1]?.nextOffset ?? segments[0]?.baseOffset ?? 0;
  const firstDirtyOffset = Math.min(
    Math.max(options.firstDirtyOffset ?? log.logStartOffset, log.logStartOffset),
    Math.max(cleanableEndOffset, log.logStartOffset),
  );
  let cleanBytes = 0;
  let dirtyBytes = 0;
  for (const segment of cleanable) {
    if (segment.nextOffset <= firstDirtyOffset) cleanBytes += segment.sizeBytes;
    else dirtyBytes += segment.sizeBytes;
  }
  const dirtyRatio = dirtyBytes === 0 ? 0 : dirtyBytes / (cleanBytes + dirtyBytes);
  const idle: CompactionResult = {
    cleaned: false,
    firstDirtyOffset,
    nextDirtyOffset: firstDirtyOffset,
    cleanableEndOffset,
    dirtyRatio,
    segmentsBefore: 0,
    segmentsAfter: 0,
    bytesBefore: 0,
    bytesAfter: 0,
    recordsKept: 0,
    recordsRemoved: 0,
    tombstonesRemoved: 0,
    groupsAbandoned: 0,
  };
  if (dirtyBytes === 0 || dirtyRatio < (options.minDirtyRatio ?? 0)) return idle;

  let mapEndOffset: number;
  try {
    mapEndOffset = await buildOffsetMap(log.name, cleanable, firstDirtyOffset, map, chunkBytes);
  } catch (error) {
    if (error instanceof SegmentGoneError) return idle;
    throw error;
  }
  const toRewrite = cleanable.filter((segment) => segment.baseOffset < mapEndOffset);
  const groups = groupSegmentsBySize(toRewrite, config.segmentBytes);
  const counts: RecordCounts = { kept: 0, removed: 0, tombstonesRemoved: 0 };
  const tombstoneHorizonMs = nowMs - config.deleteRetentionMs;
  let bytesBefore = 0;
  let bytesAfter = 0;
  let segmentsAfter = 0;
  let groupsAbandoned = 0;
  for (const group of groups) {
    const sizes = group.map((segment) => segment.sizeBytes);
    const path = cleanedLogPath(log.dir, group[0]!.baseOffset);
    let cleanedBytes: number;
    const groupCounts: RecordCounts = { kept: 0, removed: 0, tombstonesRemoved: 0 };
    try {
      cleanedBytes = await writeCleanedGroup(group, path, log.files, {
        map,
        mapEndOffset,
        tombstoneHorizonMs,
        chunkBytes,
        counts: groupCounts,
      });
    } catch (error) {
      await unlinkIfExists(path);
      if (!(error instanceof SegmentGoneError)) throw error;
      groupsAbandoned += 1;
      continue;
    }
    options.onSwapStep?.('cleaned-written');
    if (!(await log.replaceSegments(group, sizes, nowMs, options.onSwapStep))) {
      await unlinkIfExists(path);
      groupsAbandoned += 1;
      continue;
    }
    bytesBefore += sizes.reduce((a, b) => a + b, 0);
    bytesAfter += cleanedBytes;
    segmentsAfter += 1;
    counts.kept += groupCounts.kept;
    counts.removed += groupCounts.removed;
    counts.tombstonesRemoved += groupCounts.tombstonesRemoved;
  }
  const swapped = groups.length - groupsAbandoned;
  return {
    ...idle,
    cleaned: swapped > 0,
    // A group left out may hold records the map never saw cleaned: start from the same place again.
    nextDirtyOffset: groupsAbandoned === 0 ? mapEndOffset : firstDirtyOffset,
    segmentsBefore: groups.reduce((n, g) => n + g.length, 0),
    segmentsAfter,
    bytesBefore,
    bytesAfter,
    recordsKept: counts.kept,
    recordsRemoved: counts.removed,
    tombstonesRemoved: counts.tombstonesRemoved,
    groupsAbandoned,
  };
}

/**
 * Maps every key of the dirty section to its latest offset. Returns the map end: the offset up to
 * which (exclusive) the dirty section was mapped; the cleanable end when everything fit.
 */
async function buildOffsetMap(
  partition: string,
  cleanable: readonly LogSegment[],
  firstDirtyOffset: number,
  map: OffsetMap,
  chunkBytes: number,
): Promise<number> {
  map.clear();
  let mapEndOffset: number | undefined;
  for (const segment of cleanable) {
    if (segment.nextOffset <= firstDirtyOffset) continue;
    await forEachBatch(segment, chunkBytes, (buffer, at, sizeBytes) => {
      if (mapEndOffset !== undefined) return;
      const baseOffset = readInt64AsNumber(buffer, at + BatchField.baseOffset);
      const lastOffset = baseOffset + buffer.readInt32BE(at + BatchField.lastOffsetDelta);
      if (lastOffset < firstDirtyOffset || isControlBatch(buffer, at)) return;
      const { records } = decodeAt(buffer, at, sizeBytes);
      let keyed = 0;
      for (const record of records) if (record.key !== null) keyed += 1;
      if (!map.hasRoomFor(keyed)) {
        mapEndOffset = baseOffset;
        return;
      }
      for (const record of records) if (record.key !== null) map.put(record.key, record.offset);
    });
    if (mapEndOffset !== undefined) break;
  }
  const end = mapEndOffset ?? cleanable[cleanable.length - 1]!.nextOffset;
  if (end <= firstDirtyOffset) throw new CleanerBufferTooSmallError(partition, map.entriesMax);
  return end;
}

/**
 * Consecutive segments whose sizes add up to at most `segmentBytes` and whose offsets fit int32
 * relative offsets (Kafka's groupSegmentsBySize); a segment alone may be larger.
 */
export function groupSegmentsBySize(segments: readonly LogSegment[], segmentBytes: number): LogSegment[][] {
  const groups: LogSegment[][] = [];
  let current: LogSegment[] = [];
  let currentBytes = 0;
  for (const segment of segments) {
    const first = current[0];
    const fits =
      first !== undefined &&
      currentBytes + segment.sizeBytes <= segmentBytes &&
      segment.nextOffset - 1 - first.baseOffset <= int32Max;
    if (!fits && current.length > 0) {
      groups.push(current);
      current = [];
      currentBytes = 0;
    }
    current.push(segment);
    currentBytes += segment.sizeBytes;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

// A segment's recovery and validation (Kafka's LogSegment.recover and its sanity check): the scan
// that re-validates every batch of a `.log` after an unclean shutdown, and the check that the index
// entries loaded after a clean one agree with the batches after the last offset index entry. What
// the segment does with the answers (cut a torn tail, rebuild its indexes, fall back to recovery)
// stays in log-segment.ts.

import { BatchField, batchHeaderBytes, batchLogOverheadBytes, validateBatch } from '@gregor/protocol';
import { CorruptRecordError } from './errors.js';
import type { CachedFile } from './file-handle-cache.js';
import { type BatchSummary, int32Max, readAt } from './file-records.js';
import type { OffsetIndex } from './offset-index.js';
import type { TimeIndex } from './time-index.js';

/** Bytes read per syscall when re-validating batches during recovery. */
export const recoveryReadChunkBytes = 1024 * 1024;

/** Receives each batch that passed validation, in order. */
export type ValidBatchVisitor = (
  baseOffset: number,
  lastOffset: number,
  maxTimestamp: number,
  position: number,
  sizeBytes: number,
) => void;

/**
 * Recovery's scan of the whole `.log` of `fileSizeBytes` of the segment at `segmentBaseOffset`
 * (Kafka's LogSegment.recover over FileRecords.batches()): every batch from the start is
 * re-validated (length, magic, CRC-32C, offsets continuing the previous batch's),
 * recoveryReadChunkBytes at a time, up to the first incomplete or bad one. Returns the position
 * where the valid batches end.
 */
export async function scanValidBatches(
  file: CachedFile,
  fileSizeBytes: number,
  segmentBaseOffset: number,
  visit: ValidBatchVisitor,
): Promise<number> {
  let buffer: Buffer = Buffer.alloc(0);
  let bufferPosition = 0;
  const ensure = async (position: number, length: number): Promise<boolean> => {
    if (position >= bufferPosition && position + length <= bufferPosition + buffer.length) return true;
    if (position + length > fileSizeBytes) return false;
    const readLength = Math.min(Math.max(length, recoveryReadChunkBytes), fileSizeBytes - position);
    buffer = await readAt(file, position, readLength);
    bufferPosition = position;
    return buffer.length >= length;
  };

  let position = 0;
  let nextOffset = segmentBaseOffset;
  const endLimit = Math.min(fileSizeBytes, int32Max);
  while (position < endLimit) {
    if (!(await ensure(position, batchLogOverheadBytes))) break;
    const sizeBytes =
      buffer.readInt32BE(position - bufferPosition + BatchField.batchLength) + batchLogOverheadBytes;
    if (sizeBytes < batchHeaderBytes || position + sizeBytes > endLimit) break;
    if (!(await ensure(position, sizeBytes))) break;
    const at = position - bufferPosition;
    let lastOffset: number;
    let baseOffset: number;
    let maxTimestamp: number;
    try {
      const header = validateBatch(buffer, at, at + sizeBytes);
      baseOffset = header.baseOffset;
      lastOffset = header.lastOffset;
      maxTimestamp = header.maxTimestamp;
    } catch {
      break; // corrupt: everything from here on is dropped
    }
    // Offsets inside a segment are contiguous (a gap always starts a new segment), so a damaged
    // baseOffset, which the CRC does not cover, is caught here.
    if (baseOffset !== nextOffset || lastOffset - segmentBaseOffset > int32Max) break;
    visit(baseOffset, lastOffset, maxTimestamp, position, sizeBytes);
    nextOffset = lastOffset + 1;
    position += sizeBytes;
  }
  return position;
}

/** What a segment derives from its last batches: the rest is in its indexes. */
export interface SegmentTailState {
  readonly nextOffset: number;
  readonly maxTimestampMs: number;
  readonly offsetOfMaxTimestamp: number;
  readonly bytesSinceLastIndexEntry: number;
}

/**
 * Recomputes a segment's next offset, largest timestamp and the bytes since the last index entry by
 * scanning the batches after the last offset index entry (at most about index.interval.bytes plus a
 * batch) of a `.log` of `sizeBytes`. The largest timestamp up to that entry is in the time index: an
 * entry is written with every offset index entry whenever the maximum grew. Returns why the indexes
 * and the batches disagree, if they do.
 */
export async function scanTailState(
  baseOffset: number,
  sizeBytes: number,
  offsetIndex: OffsetIndex,
  timeIndex: TimeIndex,
  scanBatches: (from: number, to: number) => AsyncGenerator<BatchSummary>,
): Promise<SegmentTailState | string> {
  const last = offsetIndex.entries - 1;
  const startPosition = last < 0 ? 0 : offsetIndex.positionAt(last);
  let maxTimestampMs = timeIndex.lastTimestamp;
  let offsetOfMaxTimestamp =
    timeIndex.entries === 0 ? baseOffset : baseOffset + timeIndex.relativeOffsetAt(timeIndex.entries - 1);
  let nextOffset = baseOffset;
  let position = startPosition;
  let first = true;
  try {
    for await (const batch of scanBatches(startPosition, sizeBytes)) {
      if (first && last >= 0 && batch.lastOffset !== baseOffset + offsetIndex.relativeOffsetAt(last)) {
        return `last .index entry does not point at its batch`;
      }
      // The scan starts at an indexed batch whose base offset only the batch itself knows.
      if (first) nextOffset = batch.baseOffset;
      first = false;
      if (batch.baseOffset !== nextOffset || batch.lastOffset - baseOffset > int32Max) {
        return `batch at ${batch.position} has offsets out of order`;
      }
      if (batch.maxTimestamp > maxTimestampMs) {
        maxTimestampMs = batch.maxTimestamp;
        offsetOfMaxTimestamp = batch.lastOffset;
      }
      nextOffset = batch.lastOffset + 1;
      position = batch.position + batch.sizeBytes;
    }
  } catch (error) {
    // A torn or damaged tail: the open recovers the segment (cuts it at the last valid batch).
    if (error instanceof CorruptRecordError)
      return `.log does not end at a batch boundary (${error.message})`;
    throw error;
  }
  if (position !== sizeBytes) return `.log does not end at a batch boundary (${position})`;
  if (timeIndex.entries > 0 && offsetOfMaxTimestamp >= nextOffset) {
    return 'last .timeindex entry is beyond the segment';
  }
  return {
    nextOffset,
    maxTimestampMs,
    offsetOfMaxTimestamp,
    bytesSinceLastIndexEntry: sizeBytes - startPosition,
  };
}

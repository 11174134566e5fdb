// How the cleaner reads a segment (Kafka's Cleaner with its log.cleaner.io.buffer.size reads): batch
// by batch, a chunk at a time, with the segment pinned so a concurrent delete cannot close its file
// under the read; a segment deleted before the read starts is a SegmentGoneError, which ends the
// cleaning (or the group) without harm.

import { invariant } from '@gregor/ground';
import {
  BatchAttribute,
  BatchField,
  batchHeaderBytes,
  batchLogOverheadBytes,
  type DecodedBatch,
  decodeRecordBatch,
} from '@gregor/protocol';
import type { LogSegment } from './log-segment.js';

/** A segment was deleted (retention, truncation, close) while the cleaner read it. */
export class SegmentGoneError extends Error {
  override readonly name = 'SegmentGoneError';
}

/**
 * Calls `visit` for every batch of `segment`, in order, reading `chunkBytes` at a time (a larger
 * batch is read whole). The buffer passed to `visit` is only valid during the call. After each chunk
 * `afterChunk` runs, so a writer can flush without an await per batch.
 */
export async function forEachBatch(
  segment: LogSegment,
  chunkBytes: number,
  visit: (buffer: Buffer, at: number, sizeBytes: number) => void,
  afterChunk: () => Promise<void> = async () => {},
): Promise<void> {
  if (!(await segment.retain())) throw new SegmentGoneError(`segment ${segment.baseOffset} is gone`);
  try {
    const endPosition = segment.sizeBytes;
    let position = 0;
    while (position < endPosition) {
      const chunk = await segment.readBytes(position, Math.min(chunkBytes, endPosition - position));
      invariant(chunk.length >= batchLogOverheadBytes, () => `segment ${segment.baseOffset} is short`);
      let at = 0;
      while (chunk.length - at >= batchLogOverheadBytes) {
        const sizeBytes = chunk.readInt32BE(at + BatchField.batchLength) + batchLogOverheadBytes;
        invariant(sizeBytes >= batchHeaderBytes, () => `segment ${segment.baseOffset}: bad batch length`);
        if (at + sizeBytes > chunk.length) break;
        visit(chunk, at, sizeBytes);
        at += sizeBytes;
      }
      if (at === 0) {
        // One batch larger than the chunk.
        const sizeBytes = chunk.readInt32BE(BatchField.batchLength) + batchLogOverheadBytes;
        const whole = await segment.readBytes(position, sizeBytes);
        invariant(whole.length === sizeBytes, () => `segment ${segment.baseOffset} is short`);
        visit(whole, 0, sizeBytes);
        at = sizeBytes;
      }
      position += at;
      await afterChunk();
    }
  } finally {
    segment.release();
  }
}

export function decodeAt(buffer: Buffer, at: number, sizeBytes: number): DecodedBatch {
  return decodeRecordBatch(buffer.subarray(0, at + sizeBytes), at);
}

export function isControlBatch(buffer: Buffer, at: number): boolean {
  return (buffer.readInt16BE(at + BatchField.attributes) & BatchAttribute.controlBit) !== 0;
}

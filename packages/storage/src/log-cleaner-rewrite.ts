// The rewrite step of a cleaning (Kafka's Cleaner.cleanSegments and cleanInto): one group of
// segments is read batch by batch and written, without the records the offset map supersedes and
// the expired tombstones, to a `.cleaned` file that the swap (log-cleaner-swap.ts) puts in its place.
// Which records go, and why that is safe, is explained in log-cleaner.ts.

import { invariant } from '@gregor/ground';
import {
  BatchField,
  type DecodedBatch,
  encodeRecordBatch,
  noSequence,
  type RecordInput,
  readInt64AsNumber,
  TimestampType,
} from '@gregor/protocol';
import type { FileHandleCache } from './file-handle-cache.js';
import { int32Max } from './file-records.js';
import type { OffsetMap } from './log-cleaner-offset-map.js';
import { decodeAt, forEachBatch } from './log-cleaner-segment-reader.js';
import type { LogSegment } from './log-segment.js';

/** Cleaned bytes held in memory before they are written to the `.cleaned` file. */
export const cleanerWriteBufferBytes = 1024 * 1024;

export interface RecordCounts {
  kept: number;
  removed: number;
  tombstonesRemoved: number;
}

export interface RewriteContext {
  readonly map: OffsetMap;
  readonly mapEndOffset: number;
  readonly tombstoneHorizonMs: number;
  readonly chunkBytes: number;
  readonly counts: RecordCounts;
}

/** Kafka's DefaultRecordBatch sequence arithmetic: sequences wrap from int32 max to 0. */
function decrementSequence(sequence: number, decrement: number): number {
  return sequence < decrement ? int32Max - (decrement - sequence) + 1 : sequence - decrement;
}

function incrementSequence(sequence: number, increment: number): number {
  return sequence > int32Max - increment ? increment - (int32Max - sequence) - 1 : sequence + increment;
}

/**
 * Writes the cleaned form of `group` to `path` and fsyncs it; returns its size in bytes. The first
 * batch written starts at the group's base offset and the last ends at the group's last offset.
 */
export async function writeCleanedGroup(
  group: readonly LogSegment[],
  path: string,
  files: FileHandleCache,
  context: RewriteContext,
): Promise<number> {
  const { map, mapEndOffset, tombstoneHorizonMs, chunkBytes, counts } = context;
  // Last offset of each idempotent producer's last batch in the group: its batch stays, even empty.
  const lastBatchOfProducer = new Map<number, number>();
  for (const segment of group) {
    await forEachBatch(segment, chunkBytes, (buffer, at) => {
      const producerId = readInt64AsNumber(buffer, at + BatchField.producerId);
      if (producerId < 0) return;
      const baseOffset = readInt64AsNumber(buffer, at + BatchField.baseOffset);
      lastBatchOfProducer.set(producerId, baseOffset + buffer.readInt32BE(at + BatchField.lastOffsetDelta));
    });
  }
  const groupLastOffset = group[group.length - 1]!.nextOffset - 1;
  // Opened per write through the cache (not held): the cleaner also pins the segment it reads.
  const cleanedFile = files.file(path, 'r+', 'w');
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let writtenBytes = 0;
  const writePending = async (): Promise<void> => {
    if (pendingBytes === 0) return;
    const data = Buffer.concat(pending, pendingBytes);
    const at = writtenBytes;
    await cleanedFile.use(async (handle) => {
      let done = 0;
      while (done < data.length) {
        const { bytesWritten } = await handle.write(data, done, data.length - done, at + done);
        done += bytesWritten;
      }
    });
    writtenBytes += data.length;
    pending = [];
    pendingBytes = 0;
  };
  let nextBaseOffset = group[0]!.baseOffset;
  try {
    await cleanedFile.use(async () => undefined); // creates (or empties) the file
    for (const segment of group) {
      await forEachBatch(
        segment,
        chunkBytes,
        (buffer, at, sizeBytes) => {
          const batch = decodeAt(buffer, at, sizeBytes);
          const { header } = batch;
          const kept = header.isControl
            ? batch.records
            : batch.records.filter((record) => {
                const latest = record.key === null ? -1 : map.get(record.key);
                const keep =
                  record.key !== null &&
                  record.offset >= latest &&
                  !(
                    record.value === null &&
                    record.offset < mapEndOffset &&
                    batchTimestampMs(header.maxTimestamp, segment) < tombstoneHorizonMs
                  );
                if (!keep && record.key !== null && record.value === null && record.offset >= latest) {
                  counts.tombstonesRemoved += 1;
                }
                return keep;
              });
          counts.kept += kept.length;
          counts.removed += batch.records.length - kept.length;
          if (
            kept.length === 0 &&
            header.lastOffset !== groupLastOffset &&
            !(header.producerId >= 0 && lastBatchOfProducer.get(header.producerId) === header.lastOffset)
          ) {
            return; // its offsets go to the next kept batch
          }
          if (kept.length === header.recordsCount && header.baseOffset === nextBaseOffset) {
            const copy = Buffer.from(buffer.subarray(at, at + sizeBytes));
            pending.push(copy);
            pendingBytes += copy.length;
          } else {
            const encoded = reencode(batch, kept, nextBaseOffset);
            pending.push(encoded);
            pendingBytes += encoded.length;
          }
          nextBaseOffset = header.lastOffset + 1;
        },
        async () => {
          if (pendingBytes >= cleanerWriteBufferBytes) await writePending();
        },
      );
    }
    invariant(nextBaseOffset === groupLastOffset + 1, () => `cleaned group ends at ${nextBaseOffset - 1}`);
    await writePending();
    await cleanedFile.use((handle) => handle.datasync());
  } finally {
    await cleanedFile.discard();
  }
  return writtenBytes;
}

/** A batch without a timestamp (-1) counts from the segment's last change, as retention does. */
function batchTimestampMs(maxTimestamp: number, segment: LogSegment): number {
  return maxTimestamp >= 0 ? maxTimestamp : segment.lastModifiedMs;
}

/** The batch with only `kept` records, starting at `baseOffset` and ending at its original last offset. */
function reencode(batch: DecodedBatch, kept: DecodedBatch['records'], baseOffset: number): Buffer {
  const { header } = batch;
  const lastOffsetDelta = header.lastOffset - baseOffset;
  const records: RecordInput[] = kept.map((record) => ({
    key: record.key,
    value: record.value,
    headers: record.headers,
    timestamp: record.timestamp,
    offsetDelta: record.offset - baseOffset,
  }));
  // The last sequence (what producer state keeps) stays the original's.
  const baseSequence =
    header.baseSequence === noSequence
      ? noSequence
      : decrementSequence(incrementSequence(header.baseSequence, header.lastOffsetDelta), lastOffsetDelta);
  return encodeRecordBatch({
    baseOffset,
    partitionLeaderEpoch: header.partitionLeaderEpoch,
    records,
    compression: header.compression,
    timestampType: header.timestampType,
    ...(header.timestampType === TimestampType.LogAppendTime ? { logAppendTime: header.maxTimestamp } : {}),
    producerId: header.producerId,
    producerEpoch: header.producerEpoch,
    baseSequence,
    isTransactional: header.isTransactional,
    isControl: header.isControl,
    lastOffsetDelta,
  });
}

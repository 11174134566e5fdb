// The bytes of a segment's `.log` (Kafka's FileRecords): positioned reads and writes through the
// broker-wide descriptor cache, and the forward scan of batch headers that a lookup does from an
// index entry. What the bytes mean for the segment (offsets, indexes, which reads are synchronous)
// stays in log-segment.ts; the validating scan of recovery is in segment-recovery.ts.

import { readSync } from 'node:fs';
import { type FileHandle, rename, unlink } from 'node:fs/promises';
import {
  BatchField,
  batchHeaderBytes,
  batchLogOverheadBytes,
  ErrorCode,
  KafkaError,
  readInt64AsNumber,
} from '@gregor/protocol';
import { CorruptRecordError } from './errors.js';
import type { CachedFile } from './file-handle-cache.js';
import { isNoSpaceError } from './log-dir-failure-channel.js';

/** Relative offsets and positions are int32 in the index formats. */
export const int32Max = 0x7fff_ffff;
/** Bytes read per syscall when scanning batch headers forward from an index entry. */
export const headerScanChunkBytes = 16 * 1024;

/** What the log needs to know about one batch, from its header. */
export interface BatchSummary {
  readonly position: number;
  readonly sizeBytes: number;
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly maxTimestamp: number;
}

/** Reads the summary of the batch at `at` in `buffer`; undefined if the header is not complete. */
export function summarizeBatch(buffer: Buffer, at: number, filePosition: number): BatchSummary | undefined {
  if (buffer.length - at < batchHeaderBytes) return undefined;
  const baseOffset = readInt64AsNumber(buffer, at + BatchField.baseOffset);
  return {
    position: filePosition,
    sizeBytes: buffer.readInt32BE(at + BatchField.batchLength) + batchLogOverheadBytes,
    baseOffset,
    lastOffset: baseOffset + buffer.readInt32BE(at + BatchField.lastOffsetDelta),
    maxTimestamp: readInt64AsNumber(buffer, at + BatchField.maxTimestamp),
  };
}

async function readFully(handle: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await handle.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) break; // end of file: a concurrent truncation; the caller sees fewer bytes
    filled += bytesRead;
  }
  return filled === length ? buffer : buffer.subarray(0, filled);
}

export async function writeFully(handle: FileHandle, buffer: Buffer, position: number): Promise<void> {
  let written = 0;
  while (written < buffer.length) {
    const { bytesWritten } = await handle.write(buffer, written, buffer.length - written, position + written);
    written += bytesWritten;
  }
}

/**
 * After a write of an append at `startPosition` failed (the append did not happen): cuts off
 * whatever part of it reached the file, so no torn bytes sit past the segment's end (a clean restart
 * trusts the file size), and returns what to throw. On a full disk that is all: the append is
 * refused with Kafka's retriable storage error and the log goes on. If the cut fails too, or the
 * write failed for another reason (EIO: the disk itself), the I/O error goes up and the partition
 * log takes its dir offline.
 */
export async function cutFailedWrite(
  handle: FileHandle,
  startPosition: number,
  error: unknown,
  path: string,
): Promise<unknown> {
  await handle.truncate(startPosition);
  if (!isNoSpaceError(error)) return error;
  return new KafkaError(
    ErrorCode.KAFKA_STORAGE_ERROR,
    `cannot write to ${path}: ${(error as NodeJS.ErrnoException).code}`,
  );
}

/** Reads `length` bytes at `position` through the cache (fewer if the file is shorter). */
export function readAt(file: CachedFile, position: number, length: number): Promise<Buffer> {
  return file.use((handle) => readFully(handle, position, length));
}

/** readAt for the active segment: one synchronous read while the descriptor is pinned. */
export async function readActiveAt(file: CachedFile, position: number, length: number): Promise<Buffer> {
  const handle = file.pinIfOpen() ?? (await file.pin());
  try {
    const buffer = Buffer.allocUnsafe(length);
    let filled = 0;
    while (filled < length) {
      const bytesRead = readSync(handle.fd, buffer, filled, length - filled, position + filled);
      if (bytesRead === 0) break; // end of file: a concurrent truncation; the caller sees fewer bytes
      filled += bytesRead;
    }
    return filled === length ? buffer : buffer.subarray(0, filled);
  } finally {
    file.unpin();
  }
}

/** What a scan of batch headers reads, and how it tells damage from a truncation racing it. */
export interface BatchScanSource {
  /** The `.log`, for the error's message. */
  readonly path: string;
  read(position: number, length: number): Promise<Buffer>;
  /**
   * Whether the file was cut (replication truncation) since the scan's end was taken: bytes past
   * the cut may be gone or belong to a later append, so what looks damaged may be that race.
   */
  cutSinceScanStarted(): boolean;
}

/**
 * Yields batch summaries from `from` (a batch start) until `to`, the segment's written size,
 * reading headerScanChunkBytes at a time. The batches must run back to back up to exactly `to`:
 * a length below a header's (0 would never end a walk), a batch that runs past `to`, a tail
 * shorter than a header, a header field out of range, or a file that ends before `to` is damage
 * and throws CorruptRecordError (Kafka's CorruptRecordException), unless the file was cut since
 * the scan started; then the scan just ends, as a read racing a truncation always did.
 */
export async function* scanBatchHeaders(
  source: BatchScanSource,
  from: number,
  to: number,
): AsyncGenerator<BatchSummary> {
  const damaged = (position: number, reason: string): undefined => {
    if (source.cutSinceScanStarted()) return undefined;
    throw new CorruptRecordError(source.path, position, reason);
  };
  let position = from;
  while (position < to) {
    if (position + batchHeaderBytes > to)
      return damaged(position, `${to - position} bytes left, less than a header`);
    const wanted = Math.min(headerScanChunkBytes, to - position);
    const chunk = await source.read(position, wanted);
    if (chunk.length < batchHeaderBytes) return damaged(position, `the file ends before ${to}`);
    let at = 0;
    while (true) {
      let batch: BatchSummary | undefined;
      try {
        batch = summarizeBatch(chunk, at, position + at);
      } catch (error) {
        if (!(error instanceof KafkaError)) throw error;
        return damaged(position + at, error.message); // an offset beyond 2^53
      }
      if (batch === undefined) break;
      if (batch.sizeBytes < batchHeaderBytes) {
        return damaged(batch.position, `batch length ${batch.sizeBytes - batchLogOverheadBytes}`);
      }
      if (batch.position + batch.sizeBytes > to) {
        return damaged(batch.position, `batch of ${batch.sizeBytes} bytes runs past ${to}`);
      }
      yield batch;
      at += batch.sizeBytes;
    }
    // A header cut by the chunk's end is read again at the start of the next chunk.
    if (at === 0) return damaged(position, `the file ends before ${to}`);
    position += at;
  }
}

export async function renameIfExists(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

export async function unlinkIfExists(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}

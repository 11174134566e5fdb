// Producer state from the log: the batches of a record set, and the rebuild of a partition's state
// from its segment files (at start-up, and after a truncation that cannot be undone in memory).
//
// The rebuild reads batch HEADERS only: it follows the batch lengths through each `.log` file with
// positional reads of `producerStateScanChunkBytes`, so small batches cost one read per chunk and a
// batch larger than a chunk costs one 61-byte read. A 1 GiB log of 16 KiB batches is ~65k headers,
// about 4 MiB read in ~65k small reads (a few hundred ms on an SSD), once per partition at start-up.
// Kafka bounds this with `<offset>.snapshot` files written at each segment roll; Gregor does not
// write snapshots yet (see the replication README), so the cost grows with the log.
//
// Concurrency: the caller runs the rebuild when nothing else writes the log (a partition being
// opened, or a follower inside its exclusive section). Retention or the cleaner may still remove or
// replace a segment file while it is read: a file that is gone is skipped (its batches are below the
// new log start, or a cleaned copy keeps the same headers for the batches it kept), and the scan
// stops at the log end offset it started with. A log dir move (AlterReplicaLogDirs) may rename the
// directory under it: a scan that overlapped that is done again in the new directory.

import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { invariant } from '@gregor/ground';
import {
  batchHeaderBytes,
  currentMagic,
  isCommitMarkerBatch,
  markerBatchCoordinatorEpoch,
  readBatchHeader,
} from '@gregor/protocol';
import { logFileSuffix, type PartitionLog, segmentFileName } from '@gregor/storage';
import type { ProducerStateManager, StoredProducerBatch } from './producer-state.js';

/** Bytes read at a time while following batch headers through a segment file. */
export const producerStateScanChunkBytes = 64 * 1024;

/** The producer-relevant header fields of every batch of a (validated) record set, in order. */
export function storedBatchesOf(records: Buffer): StoredProducerBatch[] {
  const batches: StoredProducerBatch[] = [];
  let position = 0;
  while (position < records.length) {
    const header = readBatchHeader(records, position);
    batches.push(header);
    position += header.sizeBytes;
  }
  return batches;
}

/** Remembers every batch of `records`, a record set now in the log with its final offsets. */
export function applyRecordSet(state: ProducerStateManager, records: Buffer, nowMs: number): void {
  let position = 0;
  while (position < records.length) {
    const header = readBatchHeader(records, position);
    if (isTransactionMarker(header)) {
      state.applyMarker(
        header,
        isCommitMarkerBatch(records, position),
        markerBatchCoordinatorEpoch(records, position),
      );
    } else state.applyBatch(header, nowMs);
    position += header.sizeBytes;
  }
}

/** Transaction markers are control batches of a producer; other control batches carry no state. */
function isTransactionMarker(header: StoredProducerBatch): boolean {
  return header.isControl && header.producerId >= 0;
}

/** A marker batch is one small record; a larger "marker" is read as far as this. */
export const markerBatchBytesMax = 1024;

export interface ProducerStateScan {
  readonly batchesScanned: number;
  readonly bytesRead: number;
}

/**
 * Clears `state` and fills it from every batch of `log` between its log start and log end offsets,
 * then drops expired producers.
 */
export async function rebuildProducerState(
  log: PartitionLog,
  state: ProducerStateManager,
  nowMs: number,
): Promise<ProducerStateScan> {
  for (let attempt = 1; ; attempt++) {
    // A future replica's swap (AlterReplicaLogDirs) renames the log's directory: a scan that
    // overlapped the renames may have skipped files that were only moved, so it is done again
    // in the directory the log lives in now.
    await log.afterRelocation();
    const relocations = log.filesRelocationCount;
    const scan = await scanSegmentFiles(log, state, nowMs);
    if (log.filesRelocationCount === relocations) return scan;
    invariant(
      attempt < producerStateRebuildAttemptsMax,
      () => `${log.name}: the log moved between log dirs during ${attempt} producer state rebuilds in a row`,
    );
  }
}

/**
 * Rebuilds in a row that a log dir move may make a rebuild start again (each move of one log
 * waits for the previous one, and takes far longer than a scan of headers).
 */
export const producerStateRebuildAttemptsMax = 10;

async function scanSegmentFiles(
  log: PartitionLog,
  state: ProducerStateManager,
  nowMs: number,
): Promise<ProducerStateScan> {
  state.clear();
  const logStartOffset = log.logStartOffset;
  const logEndOffset = log.logEndOffset;
  const dir = log.dir;
  let batchesScanned = 0;
  let bytesRead = 0;
  for (const baseOffset of log.segmentBaseOffsets()) {
    if (baseOffset >= logEndOffset) break;
    const path = join(dir, segmentFileName(baseOffset, logFileSuffix));
    let file: Awaited<ReturnType<typeof open>>;
    try {
      file = await open(path, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw error;
    }
    try {
      const chunk = Buffer.alloc(producerStateScanChunkBytes);
      let chunkStart = 0;
      let chunkLength = 0;
      let position = 0;
      let lastBatchBytes = 0;
      for (;;) {
        if (position + batchHeaderBytes > chunkStart + chunkLength) {
          // A large batch is followed by a header-sized read; small ones share a chunk.
          const wanted = lastBatchBytes >= producerStateScanChunkBytes ? batchHeaderBytes : chunk.length;
          const { bytesRead: got } = await file.read(chunk, 0, wanted, position);
          bytesRead += got;
          chunkStart = position;
          chunkLength = got;
          if (got < batchHeaderBytes) break;
        }
        const at = position - chunkStart;
        if (chunk.readInt8(at + 16) !== currentMagic) break;
        const header = readBatchHeader(chunk, at);
        if (header.sizeBytes < batchHeaderBytes || header.baseOffset >= logEndOffset) break;
        if (header.lastOffset >= logStartOffset) {
          if (isTransactionMarker(header)) {
            // The marker's type is in its record: read the (small) batch whole.
            let bytes = chunk.subarray(at, at + header.sizeBytes);
            if (at + header.sizeBytes > chunkLength) {
              bytes = Buffer.alloc(Math.min(header.sizeBytes, markerBatchBytesMax));
              const { bytesRead: got } = await file.read(bytes, 0, bytes.length, position);
              bytesRead += got;
            }
            state.applyMarker(header, isCommitMarkerBatch(bytes), markerBatchCoordinatorEpoch(bytes));
          } else {
            state.applyBatch(header, nowMs);
          }
          batchesScanned++;
        }
        position += header.sizeBytes;
        lastBatchBytes = header.sizeBytes;
      }
    } finally {
      await file.close();
    }
  }
  state.expire(nowMs);
  return { batchesScanned, bytesRead };
}

/**
 * A follower's log was truncated (or emptied and restarted): the state forgets what the log lost,
 * in memory when it can, otherwise by a rebuild from the log. Returns the rebuild's scan, or
 * undefined when none was needed.
 */
export async function syncProducerStateAfterTruncation(
  log: PartitionLog,
  state: ProducerStateManager,
  nowMs: number,
): Promise<ProducerStateScan | undefined> {
  state.removeBelow(log.logStartOffset);
  if (state.truncateTo(log.logEndOffset)) return undefined;
  return rebuildProducerState(log, state, nowMs);
}

// The files of a cleaning and the crash-safe swap that puts a cleaned segment in place of the group of
// segments it was made from, as Kafka's LogCleaner and LogLoader do it:
//
//   1. the cleaner writes `<base>.log.cleaned` and fsyncs it        crash: open deletes `.cleaned`
//   2. `.cleaned` is renamed to `<base>.log.swap`, dir fsynced      crash: open completes the swap
//   3. each old segment's files are renamed to `*.deleted`, fsync   crash: open completes the swap
//   4. `.swap` is renamed to `<base>.log`, dir fsynced              crash: `.deleted` are removed,
//                                                                   the indexes rebuilt
//   5. the indexes of the new segment are built from it (fsynced)
//
// `<base>` is the first old segment's base offset. The cleaned segment covers exactly the offsets of
// the old ones (its last batch ends where the last old segment ended), so on open a `.swap` file
// replaces every segment whose base offset lies in [its base, its next offset). Only the `.log` goes
// through `.cleaned`/`.swap`: missing index files make open rebuild them. A `.swap` that does not
// validate to its end cannot come from step 2 (the file was fsynced before the rename); it is deleted
// and the old segments, still whole then, stay.

import { type FileHandle, readdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { invariant } from '@gregor/ground';
import { batchHeaderBytes, batchLogOverheadBytes, validateBatch } from '@gregor/protocol';
import { fsyncDirectory } from './checkpoint-file.js';
import type { FileHandleCache } from './file-handle-cache.js';
import { unlinkIfExists } from './file-records.js';
import { LogSegment } from './log-segment.js';
import {
  indexFileSuffix,
  logFileSuffix,
  parseSegmentFileName,
  segmentFileName,
  timeIndexFileSuffix,
} from './segment-files.js';
import type { SegmentLimits } from './segment-index-files.js';

export const cleanedFileSuffix = '.cleaned';
export const swapFileSuffix = '.swap';
/** Bytes read per read when validating a `.swap` file on open. */
const swapValidationChunkBytes = 1024 * 1024;

/** The steps of a swap, in order; tests stop at each one to simulate a crash. */
export type SwapStep =
  | 'cleaned-written'
  | 'renamed-to-swap'
  | 'old-segment-renamed-to-deleted'
  | 'swap-renamed-into-place'
  | 'indexes-rebuilt';

/** Called after each step; a test throws from it to leave the files as a crash there would. */
export type SwapStepObserver = (step: SwapStep) => void;

export function cleanedLogPath(dir: string, baseOffset: number): string {
  return join(dir, segmentFileName(baseOffset, logFileSuffix + cleanedFileSuffix));
}

export function swapLogPath(dir: string, baseOffset: number): string {
  return join(dir, segmentFileName(baseOffset, logFileSuffix + swapFileSuffix));
}

/**
 * Steps 2 to 5: replaces `oldSegments` (consecutive, inactive, the first at the cleaned file's base)
 * by the fsynced `<base>.log.cleaned`. Returns the new segment, loaded and indexed; the old segments'
 * files are `*.deleted` and their objects are left to the caller (readers may still use them).
 */
export async function swapInCleanedSegment(
  dir: string,
  oldSegments: readonly LogSegment[],
  limits: SegmentLimits,
  nowMs: number,
  onStep: SwapStepObserver | undefined,
  files: FileHandleCache,
): Promise<LogSegment> {
  const first = oldSegments[0];
  invariant(first !== undefined, 'swap of no segment');
  const baseOffset = first.baseOffset;
  const swapPath = swapLogPath(dir, baseOffset);
  await rename(cleanedLogPath(dir, baseOffset), swapPath);
  await fsyncDirectory(dir, files);
  onStep?.('renamed-to-swap');
  for (const segment of oldSegments) {
    await segment.renameToDeleted();
    onStep?.('old-segment-renamed-to-deleted');
  }
  await fsyncDirectory(dir, files);
  await rename(swapPath, join(dir, segmentFileName(baseOffset, logFileSuffix)));
  await fsyncDirectory(dir, files);
  onStep?.('swap-renamed-into-place');
  // Recovery builds (and fsyncs) both indexes from the batches and checks every one of them.
  const loaded = await LogSegment.load(dir, baseOffset, limits, nowMs, true, files);
  invariant(!loaded.truncated, () => `cleaned segment ${baseOffset} did not validate`);
  await loaded.segment.sealTimeIndex();
  const last = oldSegments[oldSegments.length - 1]!;
  invariant(
    loaded.segment.nextOffset === last.nextOffset,
    () => `cleaned segment ${baseOffset} ends at ${loaded.segment.nextOffset}, not ${last.nextOffset}`,
  );
  // Retention of segments without timestamps uses the last change of the data, not of the file.
  loaded.segment.lastModifiedMs = Math.max(...oldSegments.map((s) => s.lastModifiedMs));
  onStep?.('indexes-rebuilt');
  return loaded.segment;
}

/**
 * On open, before anything else reads the directory: finishes swaps a crash interrupted. For each
 * valid `<base>.log.swap`, the segments it replaces (base offsets in [base, its next offset)) are
 * removed and the swap file takes the `<base>.log` name; the new segment's indexes are then missing
 * and open rebuilds them. Invalid `.swap` files are deleted. Returns how many swaps were completed.
 */
export async function completeInterruptedSwaps(dir: string, files: FileHandleCache): Promise<number> {
  const names = await files.withTransientDescriptor(dir, () => readdir(dir));
  const swapSuffix = logFileSuffix + swapFileSuffix;
  let completed = 0;
  for (const name of names) {
    const baseOffset = parseSegmentFileName(name, swapSuffix);
    if (baseOffset === undefined) continue;
    const swapPath = join(dir, name);
    const nextOffset = await validatedNextOffset(swapPath, baseOffset, files);
    if (nextOffset === undefined) {
      await unlinkIfExists(swapPath);
      continue;
    }
    for (const other of names) {
      const otherBase =
        parseSegmentFileName(other, logFileSuffix) ??
        parseSegmentFileName(other, indexFileSuffix) ??
        parseSegmentFileName(other, timeIndexFileSuffix);
      if (otherBase !== undefined && otherBase >= baseOffset && otherBase < nextOffset) {
        await unlinkIfExists(join(dir, other));
      }
    }
    await fsyncDirectory(dir, files);
    await rename(swapPath, join(dir, segmentFileName(baseOffset, logFileSuffix)));
    await fsyncDirectory(dir, files);
    completed += 1;
  }
  return completed;
}

/**
 * The next offset of a segment file whose batches must all be valid (length, magic, CRC) and
 * contiguous from `baseOffset` up to the end of the file; undefined when it is empty or is not.
 */
async function validatedNextOffset(
  path: string,
  baseOffset: number,
  files: FileHandleCache,
): Promise<number | undefined> {
  try {
    return await files.withFile(path, 'r', (handle) => validatedNextOffsetOf(handle, baseOffset));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

async function validatedNextOffsetOf(handle: FileHandle, baseOffset: number): Promise<number | undefined> {
  const fileSizeBytes = (await handle.stat()).size;
  let position = 0;
  let nextOffset = baseOffset;
  while (position < fileSizeBytes) {
    if (fileSizeBytes - position < batchHeaderBytes) return undefined;
    const head = Buffer.alloc(batchLogOverheadBytes);
    await handle.read(head, 0, head.length, position);
    const sizeBytes = head.readInt32BE(8) + batchLogOverheadBytes;
    if (sizeBytes < batchHeaderBytes || position + sizeBytes > fileSizeBytes) return undefined;
    const batch = Buffer.alloc(sizeBytes);
    let filled = 0;
    while (filled < sizeBytes) {
      const length = Math.min(swapValidationChunkBytes, sizeBytes - filled);
      const { bytesRead } = await handle.read(batch, filled, length, position + filled);
      if (bytesRead === 0) return undefined;
      filled += bytesRead;
    }
    let header: ReturnType<typeof validateBatch>;
    try {
      header = validateBatch(batch, 0, sizeBytes);
    } catch {
      return undefined;
    }
    if (header.baseOffset !== nextOffset) return undefined;
    nextOffset = header.lastOffset + 1;
    position += sizeBytes;
  }
  return nextOffset === baseOffset ? undefined : nextOffset;
}

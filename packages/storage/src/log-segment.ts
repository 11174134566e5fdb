// One segment: a `.log` of record batches back to back plus its sparse `.index` and `.timeindex`.
// The segment knows byte positions and relative offsets; PartitionLog decides when to roll, what to
// delete and which offsets are valid. Batch data is never cached here: reads go to the file (the OS
// page cache does the caching) and only the sparse index entries are kept in memory, with the
// headers of the active segment's last few batches, so a read at the tail (a follower's or a
// caught-up consumer's fetch) finds its first batch without a scan of the file.
//
// Reads of what the active segment was written last are synchronous system calls: those pages sit
// in the page cache, where a read of a batch costs a few microseconds, less than the thread-pool
// round trip of an asynchronous call (two thread wake-ups, which on a busy machine each wait for a
// core). Older bytes may be cold on disk and are read asynchronously. Appends stay asynchronous: a
// write can be throttled by the kernel's dirty-page limits, and the event loop must not wait then.
//
// File descriptors come from the broker-wide FileHandleCache: each of the three files is opened on
// first use and may be closed again whenever it is idle, so a segment holds no descriptor of its own.
// Everything the segment needs between I/Os (size, next offset, index entries, largest timestamp)
// is in memory; a closed file is reopened by name.

import { readSync } from 'node:fs';
import { type FileHandle, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { invariant } from '@gregor/ground';
import {
  BatchField,
  batchHeaderBytes,
  batchLogOverheadBytes,
  ErrorCode,
  KafkaError,
  readInt64AsNumber,
  validateBatch,
} from '@gregor/protocol';
import type { CachedFile, FileHandleCache } from './file-handle-cache.js';
import { isNoSpaceError } from './log-dir-failure-channel.js';
import { OffsetIndex, offsetIndexEntryBytes } from './offset-index.js';
import {
  deletedFileSuffix,
  indexFileSuffix,
  logFileSuffix,
  segmentFileName,
  timeIndexFileSuffix,
} from './segment-files.js';
import { noTimestamp, TimeIndex, timeIndexEntryBytes } from './time-index.js';

/** Relative offsets and positions are int32 in the index formats. */
export const int32Max = 0x7fff_ffff;
/** Bytes read per syscall when scanning batch headers forward from an index entry. */
export const headerScanChunkBytes = 16 * 1024;
/** Bytes read per syscall when re-validating batches during recovery. */
export const recoveryReadChunkBytes = 1024 * 1024;
/**
 * Index entries kept unwritten before they are written out: one write per index file per this many
 * entries instead of two extra writes per indexed append. Unwritten entries only matter after a crash,
 * and then the active segment's indexes are rebuilt anyway. 1024 entries = 8 KiB + 12 KiB of memory.
 */
export const indexUnwrittenEntriesMax = 1024;
/**
 * Summaries of the active segment's most recent batches kept in memory (40 bytes each); a fetch
 * from an offset among them skips the index lookup and the header scan.
 */
export const recentBatchesMax = 64;
/**
 * Reads that start within this many bytes of the active segment's end are synchronous: bytes
 * written that recently are in the page cache. Reads further back may go to the disk and stay
 * asynchronous, so a consumer reading old data never stalls the event loop on a disk read.
 */
export const recentlyWrittenBytesMax = 4 * 1024 * 1024;

export interface SegmentLimits {
  readonly indexIntervalBytes: number;
  readonly offsetIndexEntriesMax: number;
  readonly timeIndexEntriesMax: number;
}

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

async function writeFully(handle: FileHandle, buffer: Buffer, position: number): Promise<void> {
  let written = 0;
  while (written < buffer.length) {
    const { bytesWritten } = await handle.write(buffer, written, buffer.length - written, position + written);
    written += bytesWritten;
  }
}

async function readOptionalFile(files: FileHandleCache, path: string): Promise<Buffer | undefined> {
  try {
    return await files.withFile(path, 'r', (handle) => handle.readFile());
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Replaces the file's content; `sync` fsyncs it (an empty new index file needs no sync). */
async function writeWholeFile(
  files: FileHandleCache,
  path: string,
  data: Buffer,
  sync = true,
): Promise<void> {
  await files.withFile(path, 'w', async (handle) => {
    await writeFully(handle, data, 0);
    if (sync) await handle.datasync();
  });
}

/** Reads `length` bytes at `position` through the cache (fewer if the file is shorter). */
function readAt(file: CachedFile, position: number, length: number): Promise<Buffer> {
  return file.use((handle) => readFully(handle, position, length));
}

/** readAt for the active segment: one synchronous read while the descriptor is pinned. */
async function readActiveAt(file: CachedFile, position: number, length: number): Promise<Buffer> {
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

export interface SegmentLoadResult {
  readonly segment: LogSegment;
  /** True when recovery cut a torn or corrupt tail off the `.log`. */
  readonly truncated: boolean;
  /** Why the indexes were rebuilt, if they were. */
  readonly rebuiltBecause: string | undefined;
}

export class LogSegment {
  /** Bytes of complete batches in the `.log`; reads never go beyond it. */
  sizeBytes = 0;
  /** Offset after the last batch (the base offset while empty). */
  nextOffset: number;
  /** Largest batch maxTimestamp in the segment, and the last offset of the first batch that had it. */
  maxTimestampMs = noTimestamp;
  offsetOfMaxTimestamp: number;
  private bytesSinceLastIndexEntry = 0;
  /** When the segment.ms roll clock started: the first append (or the open of a non-empty segment). */
  rollBaseMs: number | undefined;
  /** Clock time of the last change, for retention of segments without timestamps. */
  lastModifiedMs: number;

  /** Only the active segment appends and writes index entries. */
  private active = false;
  /** The index files may hold bytes past the entries in use (padding, a cut): trimmed on activate. */
  private indexFilesNeedTrim = false;
  private readonly logFile: CachedFile;
  private readonly indexFile: CachedFile;
  private readonly timeIndexFile: CachedFile;
  /** Reads in flight; each pins the `.log` descriptor, which closes only when none are left. */
  private readers = 0;
  private retired = false;
  /**
   * The last appended batches, in order and contiguous up to nextOffset (absolute positions); at
   * most recentBatchesMax after an append, emptied by a truncation.
   */
  private recentBatches: BatchSummary[] = [];
  /**
   * Index entries read from disk and not yet checked against the `.log` (1 = unchecked), for a
   * segment opened without recovery. Opening checks only that the files are sane, as Kafka does, so
   * a damaged entry that still increases (one flipped byte) would send lookups to the wrong place:
   * each lookup checks the entry it starts from once, and a wrong one has the indexes rebuilt.
   * Entries added later (by appends) are past these arrays and need no check.
   */
  private uncheckedEntries: { offset: Uint8Array; time: Uint8Array } | undefined;
  /**
   * A wrong entry found in the active segment's indexes, which appends change under a rebuild: its
   * lookups scan from the segment's start instead, until the next open recovers or rebuilds them.
   */
  private indexesSetAside = false;
  /** Why a lookup found the indexes wrong and rebuilt (or set aside) them, if one did. */
  indexesRebuiltBecause: string | undefined;

  private constructor(
    readonly dir: string,
    readonly baseOffset: number,
    private readonly limits: SegmentLimits,
    private readonly files: FileHandleCache,
    private offsetIndex: OffsetIndex,
    private timeIndex: TimeIndex,
    nowMs: number,
    createLog: boolean,
  ) {
    this.nextOffset = baseOffset;
    this.offsetOfMaxTimestamp = baseOffset;
    this.lastModifiedMs = nowMs;
    this.logFile = files.file(this.logPath, 'r+', createLog ? 'w+' : undefined);
    this.indexFile = files.file(this.indexPath);
    this.timeIndexFile = files.file(this.timeIndexPath);
  }

  get logPath(): string {
    return join(this.dir, segmentFileName(this.baseOffset, logFileSuffix));
  }

  get indexPath(): string {
    return join(this.dir, segmentFileName(this.baseOffset, indexFileSuffix));
  }

  get timeIndexPath(): string {
    return join(this.dir, segmentFileName(this.baseOffset, timeIndexFileSuffix));
  }

  get isEmpty(): boolean {
    return this.sizeBytes === 0;
  }

  get isActive(): boolean {
    return this.active;
  }

  /** Whether the `.log` descriptor is open now (it may be closed whenever it is idle). */
  get hasOpenLogFile(): boolean {
    return this.logFile.isOpen;
  }

  get offsetIndexEntries(): number {
    return this.offsetIndex.entries;
  }

  get timeIndexEntries(): number {
    return this.timeIndex.entries;
  }

  /** True when `batchCount` more batches might not fit in the indexes (the segment must roll). */
  indexesCouldOverflow(batchCount: number): boolean {
    return (
      this.offsetIndex.entries + batchCount > this.limits.offsetIndexEntriesMax ||
      this.timeIndex.entries + batchCount > this.limits.timeIndexEntriesMax
    );
  }

  /** The largest timestamp for retention; Kafka falls back to the modification time without one. */
  get retentionTimestampMs(): number {
    return this.maxTimestampMs >= 0 ? this.maxTimestampMs : this.lastModifiedMs;
  }

  /** Creates a new, empty, active segment (replacing leftover files of the same name). */
  static async create(
    dir: string,
    baseOffset: number,
    limits: SegmentLimits,
    nowMs: number,
    files: FileHandleCache,
  ): Promise<LogSegment> {
    const segment = new LogSegment(
      dir,
      baseOffset,
      limits,
      files,
      new OffsetIndex(limits.offsetIndexEntriesMax),
      new TimeIndex(limits.timeIndexEntriesMax),
      nowMs,
      true,
    );
    // Creates (or empties) the `.log` now: the caller fsyncs the directory next. The new active
    // segment is appended to next, so its descriptor stays in the cache.
    await segment.logFile.use(async () => undefined);
    // Empty index files need no fsync: a lost one is rebuilt on open, and the active segment is
    // always recovered after a crash anyway.
    await writeWholeFile(files, segment.indexPath, Buffer.alloc(0), false);
    await writeWholeFile(files, segment.timeIndexPath, Buffer.alloc(0), false);
    await segment.activate();
    return segment;
  }

  /**
   * Opens an existing segment (inactive). With `recover`, every batch is re-validated, a torn or
   * corrupt tail is cut off and the indexes are rebuilt. Without it, the index files are loaded and
   * sanity-checked against the `.log`; a failed check falls back to recovery. `lastSegment`: rebuilt
   * index files are written but not fsynced, since the active segment is recovered after every
   * unclean shutdown anyway (its `.log` still is).
   */
  static async load(
    dir: string,
    baseOffset: number,
    limits: SegmentLimits,
    nowMs: number,
    recover: boolean,
    files: FileHandleCache,
    lastSegment = false,
  ): Promise<SegmentLoadResult> {
    const segment = new LogSegment(
      dir,
      baseOffset,
      limits,
      files,
      new OffsetIndex(limits.offsetIndexEntriesMax),
      new TimeIndex(limits.timeIndexEntriesMax),
      nowMs,
      false,
    );
    const fileSizeBytes = (await segment.logFile.use((handle) => handle.stat())).size;
    let reason = recover ? 'unflushed segment after an unclean shutdown' : undefined;
    if (reason === undefined) reason = await segment.loadIndexes(fileSizeBytes);
    let truncated = false;
    if (reason !== undefined) truncated = await segment.recover(fileSizeBytes, !lastSegment);
    if (!segment.isEmpty) segment.rollBaseMs = nowMs;
    return { segment, truncated, rebuiltBecause: reason };
  }

  /** Loads and checks the index files; returns why they cannot be used, or undefined. */
  private async loadIndexes(fileSizeBytes: number): Promise<string | undefined> {
    if (fileSizeBytes > int32Max) return `.log of ${fileSizeBytes} bytes exceeds int32 positions`;
    const indexBytes = await readOptionalFile(this.files, this.indexPath);
    const timeIndexBytes = await readOptionalFile(this.files, this.timeIndexPath);
    if (indexBytes === undefined) return '.index is missing';
    if (timeIndexBytes === undefined) return '.timeindex is missing';
    const offsetIndex = OffsetIndex.parse(indexBytes, this.limits.offsetIndexEntriesMax, fileSizeBytes);
    if (typeof offsetIndex === 'string') return `.index: ${offsetIndex}`;
    const timeIndex = TimeIndex.parse(timeIndexBytes, this.limits.timeIndexEntriesMax);
    if (typeof timeIndex === 'string') return `.timeindex: ${timeIndex}`;
    // Every offset index entry comes with a time index entry unless no batch had a timestamp, so an
    // empty time index beside a non-empty offset index was most likely lost; rebuilding is cheap.
    if (timeIndex.entries === 0 && offsetIndex.entries > 0) return '.timeindex is empty';
    this.offsetIndex = offsetIndex;
    this.timeIndex = timeIndex;
    this.uncheckedEntries = {
      offset: new Uint8Array(offsetIndex.entries).fill(1),
      time: new Uint8Array(timeIndex.entries).fill(1),
    };
    this.sizeBytes = fileSizeBytes;
    this.indexFilesNeedTrim =
      indexBytes.length !== offsetIndex.writtenCount * offsetIndexEntryBytes ||
      timeIndexBytes.length !== timeIndex.writtenCount * timeIndexEntryBytes;
    return this.restoreTailState();
  }

  /**
   * Recomputes nextOffset, the largest timestamp and the bytes since the last index entry by scanning
   * the batches after the last offset index entry (at most about index.interval.bytes plus a batch).
   * The largest timestamp up to that entry is in the time index: an entry is written with every
   * offset index entry whenever the maximum grew. Returns why the state is inconsistent, if it is.
   */
  private async restoreTailState(): Promise<string | undefined> {
    const last = this.offsetIndex.entries - 1;
    const startPosition = last < 0 ? 0 : this.offsetIndex.positionAt(last);
    let maxTimestampMs = this.timeIndex.lastTimestamp;
    let offsetOfMaxTimestamp =
      this.timeIndex.entries === 0
        ? this.baseOffset
        : this.baseOffset + this.timeIndex.relativeOffsetAt(this.timeIndex.entries - 1);
    let nextOffset = this.baseOffset;
    let position = startPosition;
    let first = true;
    for await (const batch of this.scanBatches(startPosition, this.sizeBytes)) {
      if (
        first &&
        last >= 0 &&
        batch.lastOffset !== this.baseOffset + this.offsetIndex.relativeOffsetAt(last)
      ) {
        return `last .index entry does not point at its batch`;
      }
      // The scan starts at an indexed batch whose base offset only the batch itself knows.
      if (first) nextOffset = batch.baseOffset;
      first = false;
      if (batch.baseOffset !== nextOffset || batch.lastOffset - this.baseOffset > int32Max) {
        return `batch at ${batch.position} has offsets out of order`;
      }
      if (batch.maxTimestamp > maxTimestampMs) {
        maxTimestampMs = batch.maxTimestamp;
        offsetOfMaxTimestamp = batch.lastOffset;
      }
      nextOffset = batch.lastOffset + 1;
      position = batch.position + batch.sizeBytes;
    }
    if (position !== this.sizeBytes) return `.log does not end at a batch boundary (${position})`;
    if (this.timeIndex.entries > 0 && offsetOfMaxTimestamp >= nextOffset) {
      return 'last .timeindex entry is beyond the segment';
    }
    // The segment's largest timestamp comes from the last time index entry, and retention and
    // lookups by timestamp trust it: it must be that of the batch it names.
    if (
      this.uncheckedEntries !== undefined &&
      this.timeIndex.entries > 0 &&
      !(await this.timeIndexEntryMatches(this.timeIndex.entries - 1, position))
    ) {
      return 'last .timeindex entry does not match its batch';
    }
    this.nextOffset = nextOffset;
    this.maxTimestampMs = maxTimestampMs;
    this.offsetOfMaxTimestamp = offsetOfMaxTimestamp;
    this.bytesSinceLastIndexEntry = this.sizeBytes - startPosition;
    return undefined;
  }

  /**
   * Re-validates every batch (length, magic, CRC, increasing offsets), cuts the `.log` at the first
   * bad one and rebuilds both indexes from what is left, then syncs the files. Returns true when a
   * tail was cut.
   */
  private async recover(fileSizeBytes: number, syncIndexes: boolean): Promise<boolean> {
    this.offsetIndex.clear();
    this.timeIndex.clear();
    this.nextOffset = this.baseOffset;
    this.maxTimestampMs = noTimestamp;
    this.offsetOfMaxTimestamp = this.baseOffset;
    this.bytesSinceLastIndexEntry = 0;

    let buffer: Buffer = Buffer.alloc(0);
    let bufferPosition = 0;
    const ensure = async (position: number, length: number): Promise<boolean> => {
      if (position >= bufferPosition && position + length <= bufferPosition + buffer.length) return true;
      if (position + length > fileSizeBytes) return false;
      const readLength = Math.min(Math.max(length, recoveryReadChunkBytes), fileSizeBytes - position);
      buffer = await readAt(this.logFile, position, readLength);
      bufferPosition = position;
      return buffer.length >= length;
    };

    let position = 0;
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
      if (baseOffset !== this.nextOffset || lastOffset - this.baseOffset > int32Max) break;
      this.indexBatch(baseOffset, lastOffset, maxTimestamp, position, sizeBytes);
      position += sizeBytes;
    }
    this.sizeBytes = position;
    this.uncheckedEntries = undefined;
    this.indexesSetAside = false;
    const truncated = position < fileSizeBytes;
    await this.logFile.use(async (handle) => {
      if (truncated) await handle.truncate(position);
      await handle.datasync();
    });
    await writeWholeFile(this.files, this.indexPath, this.offsetIndex.encode(), syncIndexes);
    await writeWholeFile(this.files, this.timeIndexPath, this.timeIndex.encode(), syncIndexes);
    this.offsetIndex.writtenCount = this.offsetIndex.entries;
    this.timeIndex.writtenCount = this.timeIndex.entries;
    this.indexFilesNeedTrim = false;
    return truncated;
  }

  /** Kafka's per-batch index rule (LogSegment.append): an entry once more than the interval was appended. */
  private indexBatch(
    baseOffset: number,
    lastOffset: number,
    maxTimestamp: number,
    position: number,
    sizeBytes: number,
  ): void {
    invariant(
      baseOffset === this.nextOffset,
      () => `batch ${baseOffset} does not continue the segment at ${this.nextOffset}`,
    );
    if (maxTimestamp > this.maxTimestampMs) {
      this.maxTimestampMs = maxTimestamp;
      this.offsetOfMaxTimestamp = lastOffset;
    }
    // Entries are added in pairs (or not at all) so that the last offset index entry always has the
    // largest timestamp up to it in the time index; restoreTailState relies on that.
    if (
      this.bytesSinceLastIndexEntry > this.limits.indexIntervalBytes &&
      !this.offsetIndex.isFull &&
      !this.timeIndex.isFull
    ) {
      this.offsetIndex.add(lastOffset - this.baseOffset, position);
      this.timeIndex.maybeAdd(this.maxTimestampMs, this.offsetOfMaxTimestamp - this.baseOffset);
      this.bytesSinceLastIndexEntry = 0;
    }
    this.bytesSinceLastIndexEntry += sizeBytes;
    this.nextOffset = lastOffset + 1;
  }

  /**
   * For a segment that is not the last one: makes sure the time index ends with the segment's largest
   * timestamp, as deactivate() leaves it (a rebuilt index lacks that final entry).
   */
  async sealTimeIndex(): Promise<void> {
    invariant(!this.active, 'sealing the active segment');
    const from = this.timeIndex.writtenCount;
    if (!this.timeIndex.maybeAdd(this.maxTimestampMs, this.offsetOfMaxTimestamp - this.baseOffset, true))
      return;
    const entries = this.timeIndex.encode(from);
    await this.timeIndexFile.use(async (handle) => {
      await writeFully(handle, entries, from * timeIndexEntryBytes);
      await handle.datasync();
    });
    this.timeIndex.writtenCount = this.timeIndex.entries;
    await this.timeIndexFile.closeIfIdle();
  }

  /** Makes this the segment appends go to; the index files are trimmed to the entries in use. */
  async activate(): Promise<void> {
    invariant(!this.active, 'segment is already active');
    // Cut trailing bytes (padding or entries beyond what is valid) so appends continue cleanly.
    if (this.indexFilesNeedTrim) {
      const offsetBytes = this.offsetIndex.writtenCount * offsetIndexEntryBytes;
      const timeBytes = this.timeIndex.writtenCount * timeIndexEntryBytes;
      await this.indexFile.use((handle) => handle.truncate(offsetBytes));
      await this.timeIndexFile.use((handle) => handle.truncate(timeBytes));
      this.indexFilesNeedTrim = false;
    }
    this.active = true;
  }

  /**
   * Appends batches already validated and offset-assigned. `batches` positions are relative to
   * `records`. Written with one write at the end of the `.log`; in-memory state changes only after
   * the write succeeded, so readers never see a partial append.
   */
  async append(records: Buffer, batches: readonly BatchSummary[], nowMs: number): Promise<void> {
    invariant(this.active, 'append to an inactive segment');
    invariant(this.sizeBytes + records.length <= int32Max, 'segment would exceed int32 positions');
    const startPosition = this.sizeBytes;
    // Without a descriptor (none left: TooManyOpenFilesError) nothing was written; that error is
    // already a KAFKA_STORAGE_ERROR and goes to the caller as it is.
    // The hot path: pinned without a closure or an extra promise when the descriptor is open.
    const handle = this.logFile.pinIfOpen() ?? (await this.logFile.pin());
    try {
      // One write; the loop in writeFully only runs for a short write (rare on regular files).
      const { bytesWritten } = await handle.write(records, 0, records.length, startPosition);
      if (bytesWritten < records.length) {
        await writeFully(handle, records.subarray(bytesWritten), startPosition + bytesWritten);
      }
    } catch (error) {
      // The append did not happen. Cut off whatever part of it reached the file, so no torn bytes
      // sit past the segment's end (a clean restart trusts the file size). On a full disk that is
      // all: the append is refused with Kafka's retriable storage error and the log goes on. If the
      // cut fails too, or the write failed for another reason (EIO: the disk itself), the I/O error
      // goes up and the partition log takes its dir offline.
      await handle.truncate(startPosition);
      if (!isNoSpaceError(error)) throw error;
      throw new KafkaError(
        ErrorCode.KAFKA_STORAGE_ERROR,
        `cannot write to ${this.logPath}: ${(error as NodeJS.ErrnoException).code}`,
      );
    } finally {
      this.logFile.unpin();
    }
    for (const batch of batches) {
      this.indexBatch(
        batch.baseOffset,
        batch.lastOffset,
        batch.maxTimestamp,
        startPosition + batch.position,
        batch.sizeBytes,
      );
      this.recentBatches.push({ ...batch, position: startPosition + batch.position });
    }
    // Trimmed in steps, not on every append.
    if (this.recentBatches.length >= 2 * recentBatchesMax) {
      this.recentBatches = this.recentBatches.slice(-recentBatchesMax);
    }
    this.sizeBytes = startPosition + records.length;
    this.rollBaseMs ??= nowMs;
    this.lastModifiedMs = nowMs;
    if (
      this.offsetIndex.entries - this.offsetIndex.writtenCount >= indexUnwrittenEntriesMax ||
      this.timeIndex.entries - this.timeIndex.writtenCount >= indexUnwrittenEntriesMax
    ) {
      // The records are in the log: failing the append now would make the producer send them
      // again. Index entries not written stay in memory and are written later; after a crash the
      // indexes are rebuilt from the log anyway.
      await this.writeIndexEntries().catch(() => undefined);
    }
  }

  /** Writes index entries that are only in memory so far (one write per index file). */
  private async writeIndexEntries(): Promise<void> {
    invariant(this.active, 'inactive segment');
    const offsetFrom = this.offsetIndex.writtenCount;
    const offsetTo = this.offsetIndex.entries;
    if (offsetFrom < offsetTo) {
      const entries = this.offsetIndex.encode(offsetFrom);
      await this.indexFile.use((handle) => writeFully(handle, entries, offsetFrom * offsetIndexEntryBytes));
      this.offsetIndex.writtenCount = offsetTo;
    }
    const timeFrom = this.timeIndex.writtenCount;
    const timeTo = this.timeIndex.entries;
    if (timeFrom < timeTo) {
      const entries = this.timeIndex.encode(timeFrom);
      await this.timeIndexFile.use((handle) => writeFully(handle, entries, timeFrom * timeIndexEntryBytes));
      this.timeIndex.writtenCount = timeTo;
    }
  }

  /**
   * fsyncs the `.log`. Index files are written but not synced: after an unclean shutdown the active
   * segment is always recovered and its indexes rebuilt, so their durability does not matter.
   */
  async flush(): Promise<void> {
    await this.writeIndexEntries();
    await this.logFile.use((handle) => handle.datasync());
  }

  /**
   * Stops being the active segment (on roll): records the largest timestamp as a final time index
   * entry (as Kafka does), writes and syncs all three files and closes the index handles. Afterwards
   * the segment is durable, so the recovery point can move past it.
   */
  async deactivate(): Promise<void> {
    invariant(this.active, 'segment is not active');
    this.recentBatches = [];
    this.timeIndex.maybeAdd(this.maxTimestampMs, this.offsetOfMaxTimestamp - this.baseOffset, true);
    await this.writeIndexEntries();
    const sizeBytes = this.sizeBytes;
    await this.logFile.use(async (handle) => {
      await handle.truncate(sizeBytes);
      await handle.datasync();
    });
    await this.indexFile.use((handle) => handle.datasync());
    await this.timeIndexFile.use((handle) => handle.datasync());
    this.active = false;
    // An inactive segment's index files are only read again on open: give their descriptors back.
    await this.indexFile.closeIfIdle();
    await this.timeIndexFile.closeIfIdle();
  }

  /** Reads `length` bytes at `position` (fewer if the file is shorter). */
  readBytes(position: number, length: number): Promise<Buffer> {
    return (this.recentlyWritten(position) ? readActiveAt : readAt)(this.logFile, position, length);
  }

  /** Yields batch summaries from `from` (a batch start) until `to`; stops at an incomplete batch. */
  async *scanBatches(from: number, to: number): AsyncGenerator<BatchSummary> {
    let position = from;
    while (position + batchHeaderBytes <= to) {
      const chunk = await (this.recentlyWritten(position) ? readActiveAt : readAt)(
        this.logFile,
        position,
        Math.min(headerScanChunkBytes, to - position),
      );
      let at = 0;
      while (true) {
        const batch = summarizeBatch(chunk, at, position + at);
        if (batch === undefined) break;
        if (batch.sizeBytes < batchHeaderBytes || batch.position + batch.sizeBytes > to) return;
        yield batch;
        at += batch.sizeBytes;
      }
      if (at === 0) return; // the header did not fit the chunk: the file is shorter than expected
      position += at;
    }
  }

  /** The first batch whose last offset is >= `offset`, found through the index and a forward scan. */
  async findBatch(offset: number, endPosition = this.sizeBytes): Promise<BatchSummary | undefined> {
    const recent = this.recentBatchAt(offset);
    if (recent !== undefined && recent.position + recent.sizeBytes <= endPosition) return recent;
    const start = await this.scanStart(offset - this.baseOffset);
    for await (const batch of this.scanBatches(start, endPosition)) {
      if (batch.lastOffset >= offset) return batch;
    }
    return undefined;
  }

  /**
   * Where a scan for `relativeOffset` starts: the position of the floor offset index entry. An entry
   * read from disk is checked (once) to start the batch whose last offset it names; a wrong one has
   * the indexes rebuilt from the `.log`.
   */
  private async scanStart(relativeOffset: number): Promise<number> {
    if (this.indexesSetAside) return 0;
    const entry = this.offsetIndex.floorEntry(relativeOffset);
    if (entry < 0) return 0;
    if (this.uncheckedEntries?.offset[entry] !== 1) return this.offsetIndex.positionAt(entry);
    const batch = await this.batchStartingAt(this.offsetIndex.positionAt(entry), this.sizeBytes);
    if (batch?.lastOffset === this.baseOffset + this.offsetIndex.relativeOffsetAt(entry)) {
      this.uncheckedEntries.offset[entry] = 0;
      return this.offsetIndex.positionAt(entry);
    }
    await this.rebuildIndexes(`.index entry ${entry} does not point at its batch`);
    return this.indexesSetAside ? 0 : this.offsetIndex.lookupPosition(relativeOffset);
  }

  /** The batch summary at `position` if a whole header fits before `end`; undefined if unreadable. */
  private async batchStartingAt(position: number, end: number): Promise<BatchSummary | undefined> {
    if (position < 0 || position + batchHeaderBytes > end) return undefined;
    const header = await this.readBytes(position, batchHeaderBytes);
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
    const relativeOffset = this.timeIndex.relativeOffsetAt(entry);
    const lastOffset = this.baseOffset + relativeOffset;
    const start = this.indexesSetAside ? 0 : this.offsetIndex.lookupPosition(relativeOffset);
    try {
      for await (const batch of this.scanBatches(start, end)) {
        if (batch.lastOffset >= lastOffset) {
          return batch.lastOffset === lastOffset && batch.maxTimestamp === this.timeIndex.timestampAt(entry);
        }
      }
    } catch {
      // a field out of range: the scan did not start at a batch
    }
    return false;
  }

  /**
   * Rebuilds both indexes of this inactive segment from its `.log` (whose batches the open trusted)
   * by Kafka's interval rule, sealed with the largest timestamp as a roll leaves them, and rewrites
   * the index files. A failed write is left for the next open: the indexes in memory are right.
   */
  private async rebuildIndexes(reason: string): Promise<void> {
    this.uncheckedEntries = undefined;
    this.indexesRebuiltBecause = reason;
    if (this.active) {
      this.indexesSetAside = true;
      return;
    }
    const offsetIndex = new OffsetIndex(this.limits.offsetIndexEntriesMax);
    const timeIndex = new TimeIndex(this.limits.timeIndexEntriesMax);
    let maxTimestampMs = noTimestamp;
    let offsetOfMaxTimestamp = this.baseOffset;
    let bytesSinceLastEntry = 0;
    for await (const batch of this.scanBatches(0, this.sizeBytes)) {
      if (batch.maxTimestamp > maxTimestampMs) {
        maxTimestampMs = batch.maxTimestamp;
        offsetOfMaxTimestamp = batch.lastOffset;
      }
      if (bytesSinceLastEntry > this.limits.indexIntervalBytes && !offsetIndex.isFull && !timeIndex.isFull) {
        offsetIndex.add(batch.lastOffset - this.baseOffset, batch.position);
        timeIndex.maybeAdd(maxTimestampMs, offsetOfMaxTimestamp - this.baseOffset);
        bytesSinceLastEntry = 0;
      }
      bytesSinceLastEntry += batch.sizeBytes;
    }
    timeIndex.maybeAdd(maxTimestampMs, offsetOfMaxTimestamp - this.baseOffset, true);
    this.offsetIndex = offsetIndex;
    this.timeIndex = timeIndex;
    this.maxTimestampMs = maxTimestampMs;
    this.offsetOfMaxTimestamp = offsetOfMaxTimestamp;
    this.uncheckedEntries = undefined;
    try {
      await writeWholeFile(this.files, this.indexPath, offsetIndex.encode());
      await writeWholeFile(this.files, this.timeIndexPath, timeIndex.encode());
      offsetIndex.writtenCount = offsetIndex.entries;
      timeIndex.writtenCount = timeIndex.entries;
      this.indexFilesNeedTrim = false;
    } catch {
      // Written again by the next open, which finds them wrong too.
    }
  }

  /** Whether a read at `position` is served synchronously (see recentlyWrittenBytesMax). */
  private recentlyWritten(position: number): boolean {
    return this.active && position >= this.sizeBytes - recentlyWrittenBytesMax;
  }

  /** Among the recent batches, the first whose last offset is >= `offset`; undefined if not among them. */
  private recentBatchAt(offset: number): BatchSummary | undefined {
    const recent = this.recentBatches;
    if (recent.length === 0 || offset < recent[0]!.baseOffset || offset >= this.nextOffset) return undefined;
    let low = 0;
    let high = recent.length - 1;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (recent[middle]!.lastOffset >= offset) high = middle;
      else low = middle + 1;
    }
    return recent[low];
  }

  /**
   * The first batch, in offset order, whose maxTimestamp is >= `timestampMs` and that ends at or
   * after `minOffset`. The time index gives the last batch that first reached a smaller or equal
   * timestamp; every batch before it has a smaller maxTimestamp, so the scan can start there.
   */
  async findBatchByTimestamp(timestampMs: number, minOffset: number): Promise<BatchSummary | undefined> {
    let entry = this.indexesSetAside ? -1 : this.timeIndex.floorEntry(timestampMs);
    if (entry >= 0 && this.uncheckedEntries?.time[entry] === 1) {
      if (await this.timeIndexEntryMatches(entry, this.sizeBytes)) this.uncheckedEntries.time[entry] = 0;
      else {
        await this.rebuildIndexes(`.timeindex entry ${entry} does not match its batch`);
        entry = this.indexesSetAside ? -1 : this.timeIndex.floorEntry(timestampMs);
      }
    }
    const fromOffset = entry < 0 ? this.baseOffset : this.baseOffset + this.timeIndex.relativeOffsetAt(entry);
    const start = await this.scanStart(Math.max(fromOffset, minOffset) - this.baseOffset);
    for await (const batch of this.scanBatches(start, this.sizeBytes)) {
      if (batch.maxTimestamp >= timestampMs && batch.lastOffset >= minOffset) return batch;
    }
    return undefined;
  }

  /**
   * Drops every batch whose last offset is >= `offset` (a batch containing `offset` goes entirely),
   * with its index entries, and syncs the cut. Returns the new next offset.
   */
  async truncateTo(offset: number): Promise<number> {
    const cut = await this.findBatch(offset);
    if (cut === undefined) return this.nextOffset;
    this.recentBatches = [];
    this.offsetIndex.truncateToRelativeOffset(cut.baseOffset - this.baseOffset);
    this.timeIndex.truncateToRelativeOffset(cut.baseOffset - this.baseOffset);
    this.sizeBytes = cut.position;
    await this.logFile.use(async (handle) => {
      await handle.truncate(cut.position);
      await handle.datasync();
    });
    if (this.active && !this.indexFilesNeedTrim) {
      const offsetBytes = this.offsetIndex.writtenCount * offsetIndexEntryBytes;
      const timeBytes = this.timeIndex.writtenCount * timeIndexEntryBytes;
      await this.indexFile.use((handle) => handle.truncate(offsetBytes));
      await this.timeIndexFile.use((handle) => handle.truncate(timeBytes));
    } else {
      await writeWholeFile(this.files, this.indexPath, this.offsetIndex.encode());
      await writeWholeFile(this.files, this.timeIndexPath, this.timeIndex.encode());
      this.offsetIndex.writtenCount = this.offsetIndex.entries;
      this.timeIndex.writtenCount = this.timeIndex.entries;
      this.indexFilesNeedTrim = false;
    }
    const problem = await this.restoreTailState();
    invariant(
      problem === undefined,
      () => `segment ${this.baseOffset} inconsistent after truncation: ${problem}`,
    );
    if (this.isEmpty) this.rollBaseMs = undefined;
    return this.nextOffset;
  }

  /**
   * Marks a read in flight and pins the `.log` descriptor (opening it if needed), so the file stays
   * readable until release() even if the segment is deleted meanwhile. Returns false when the
   * segment was already deleted or closed under a concurrent truncation, retention or close.
   */
  async retain(): Promise<boolean> {
    if (this.retired) return false;
    this.readers += 1;
    try {
      await this.logFile.pin();
    } catch (error) {
      this.readers -= 1;
      throw error;
    }
    return true;
  }

  release(): void {
    this.readers -= 1;
    this.logFile.unpin();
  }

  /** Closes the files (now, or when the last read in flight finishes). */
  async close(): Promise<void> {
    if (this.active) {
      await this.writeIndexEntries();
      const sizeBytes = this.sizeBytes;
      await this.logFile.use((handle) => handle.truncate(sizeBytes));
      this.active = false;
    }
    this.retired = true;
    await this.closeFiles();
  }

  /**
   * Closes the files without writing index entries or trimming the log: its log dir failed and
   * the disk may take nothing more. Reads in flight keep their descriptor until they finish; every
   * other cached descriptor of the segment goes back to the budget now.
   */
  async closeWithoutWriting(): Promise<void> {
    this.active = false;
    this.retired = true;
    await this.closeFiles();
  }

  /** Gives the descriptors back to the cache (now, or when the last pin on each goes). */
  private async closeFiles(): Promise<void> {
    await this.logFile.discard();
    await this.indexFile.discard();
    await this.timeIndexFile.discard();
  }

  /** First step of a crash-safe delete: give every file the `.deleted` suffix. */
  async renameToDeleted(): Promise<void> {
    const files = [this.logFile, this.indexFile, this.timeIndexFile];
    for (const [i, path] of [this.logPath, this.indexPath, this.timeIndexPath].entries()) {
      await renameIfExists(path, path + deletedFileSuffix);
      // A read in flight that has to reopen the file finds it under its new name.
      files[i]!.renamed(path + deletedFileSuffix);
    }
  }

  /** Last step of a delete: close and unlink the renamed files. */
  async unlinkDeleted(): Promise<void> {
    await this.close();
    for (const path of [this.logPath, this.indexPath, this.timeIndexPath]) {
      await unlinkIfExists(path + deletedFileSuffix);
    }
  }
}

async function renameIfExists(from: string, to: string): Promise<void> {
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

// A segment's two indexes, `.index` and `.timeindex`: their entries in memory (offset-index.ts,
// time-index.ts) and their files, which Kafka's LogSegment leaves to its OffsetIndex and TimeIndex:
// loading with the sanity check, writing new entries in groups, trimming, truncation, the final
// time index entry of a rolled segment, syncing, closing and the renames of a delete. When an entry
// is added (Kafka's per-batch rule) is the segment's decision (log-segment.ts); the check of entries
// read from disk on their first use, and the rebuild a wrong one calls for, segment-index-checks.ts.

import { join } from 'node:path';
import type { CachedFile, FileHandleCache } from './file-handle-cache.js';
import { renameIfExists, unlinkIfExists, writeFully } from './file-records.js';
import { OffsetIndex, offsetIndexEntryBytes } from './offset-index.js';
import { deletedFileSuffix, indexFileSuffix, segmentFileName, timeIndexFileSuffix } from './segment-files.js';
import { TimeIndex, timeIndexEntryBytes } from './time-index.js';

/**
 * Index entries kept unwritten before they are written out: one write per index file per this many
 * entries instead of two extra writes per indexed append. Unwritten entries only matter after a crash,
 * and then the active segment's indexes are rebuilt anyway. 1024 entries = 8 KiB + 12 KiB of memory.
 */
export const indexUnwrittenEntriesMax = 1024;

/** How many entries each index holds at most, and Kafka's index.interval.bytes between entries. */
export interface SegmentLimits {
  readonly indexIntervalBytes: number;
  readonly offsetIndexEntriesMax: number;
  readonly timeIndexEntriesMax: number;
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

export class SegmentIndexFiles {
  offsetIndex: OffsetIndex;
  timeIndex: TimeIndex;
  readonly indexPath: string;
  readonly timeIndexPath: string;
  /** The index files may hold bytes past the entries in use (padding, a cut): trimmed on activate. */
  private filesNeedTrim = false;
  private readonly indexFile: CachedFile;
  private readonly timeIndexFile: CachedFile;

  constructor(
    dir: string,
    baseOffset: number,
    private readonly limits: SegmentLimits,
    private readonly files: FileHandleCache,
  ) {
    this.offsetIndex = new OffsetIndex(limits.offsetIndexEntriesMax);
    this.timeIndex = new TimeIndex(limits.timeIndexEntriesMax);
    this.indexPath = join(dir, segmentFileName(baseOffset, indexFileSuffix));
    this.timeIndexPath = join(dir, segmentFileName(baseOffset, timeIndexFileSuffix));
    this.indexFile = files.file(this.indexPath);
    this.timeIndexFile = files.file(this.timeIndexPath);
  }

  /** True when `batchCount` more batches might not fit in the indexes (the segment must roll). */
  couldOverflow(batchCount: number): boolean {
    return (
      this.offsetIndex.entries + batchCount > this.limits.offsetIndexEntriesMax ||
      this.timeIndex.entries + batchCount > this.limits.timeIndexEntriesMax
    );
  }

  /** Whether either index has indexUnwrittenEntriesMax entries waiting to be written. */
  get unwrittenGroupFull(): boolean {
    return (
      this.offsetIndex.entries - this.offsetIndex.writtenCount >= indexUnwrittenEntriesMax ||
      this.timeIndex.entries - this.timeIndex.writtenCount >= indexUnwrittenEntriesMax
    );
  }

  /** Empty files for a new segment. They need no fsync: a lost one is rebuilt on open. */
  async createEmptyFiles(): Promise<void> {
    await writeWholeFile(this.files, this.indexPath, Buffer.alloc(0), false);
    await writeWholeFile(this.files, this.timeIndexPath, Buffer.alloc(0), false);
  }

  /**
   * Loads both files and sanity-checks them against a `.log` of `logSizeBytes` (Kafka's
   * LogSegment.sanityCheck); returns why they cannot be used, or undefined once they are loaded.
   */
  async load(logSizeBytes: number): Promise<string | undefined> {
    const indexBytes = await readOptionalFile(this.files, this.indexPath);
    const timeIndexBytes = await readOptionalFile(this.files, this.timeIndexPath);
    if (indexBytes === undefined) return '.index is missing';
    if (timeIndexBytes === undefined) return '.timeindex is missing';
    const offsetIndex = OffsetIndex.parse(indexBytes, this.limits.offsetIndexEntriesMax, logSizeBytes);
    if (typeof offsetIndex === 'string') return `.index: ${offsetIndex}`;
    const timeIndex = TimeIndex.parse(timeIndexBytes, this.limits.timeIndexEntriesMax);
    if (typeof timeIndex === 'string') return `.timeindex: ${timeIndex}`;
    // Every offset index entry comes with a time index entry unless no batch had a timestamp, so an
    // empty time index beside a non-empty offset index was most likely lost; rebuilding is cheap.
    if (timeIndex.entries === 0 && offsetIndex.entries > 0) return '.timeindex is empty';
    this.offsetIndex = offsetIndex;
    this.timeIndex = timeIndex;
    this.filesNeedTrim =
      indexBytes.length !== offsetIndex.writtenCount * offsetIndexEntryBytes ||
      timeIndexBytes.length !== timeIndex.writtenCount * timeIndexEntryBytes;
    return undefined;
  }

  /** Puts entries rebuilt from the `.log` in place of these (rewriteFiles follows). */
  replaceEntries(offsetIndex: OffsetIndex, timeIndex: TimeIndex): void {
    this.offsetIndex = offsetIndex;
    this.timeIndex = timeIndex;
  }

  clear(): void {
    this.offsetIndex.clear();
    this.timeIndex.clear();
  }

  /** Replaces both files with the entries in memory; `sync` fsyncs them. */
  async rewriteFiles(sync = true): Promise<void> {
    await writeWholeFile(this.files, this.indexPath, this.offsetIndex.encode(), sync);
    await writeWholeFile(this.files, this.timeIndexPath, this.timeIndex.encode(), sync);
    this.offsetIndex.writtenCount = this.offsetIndex.entries;
    this.timeIndex.writtenCount = this.timeIndex.entries;
    this.filesNeedTrim = false;
  }

  /** Writes entries that are only in memory so far (one write per index file). */
  async writeNewEntries(): Promise<void> {
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

  /** Before appends continue: cuts trailing bytes (padding, entries beyond what is valid). */
  async trimFiles(): Promise<void> {
    if (!this.filesNeedTrim) return;
    await this.cutFilesToWrittenEntries();
    this.filesNeedTrim = false;
  }

  private async cutFilesToWrittenEntries(): Promise<void> {
    const offsetBytes = this.offsetIndex.writtenCount * offsetIndexEntryBytes;
    const timeBytes = this.timeIndex.writtenCount * timeIndexEntryBytes;
    await this.indexFile.use((handle) => handle.truncate(offsetBytes));
    await this.timeIndexFile.use((handle) => handle.truncate(timeBytes));
  }

  /** Drops the entries at or after `relativeOffset` (in memory; truncateFiles follows). */
  truncateEntriesTo(relativeOffset: number): void {
    this.offsetIndex.truncateToRelativeOffset(relativeOffset);
    this.timeIndex.truncateToRelativeOffset(relativeOffset);
  }

  /**
   * The files after truncateEntriesTo: the active segment's are cut to the entries written (the
   * others are still to come), any other segment's are rewritten and synced.
   */
  async truncateFiles(active: boolean): Promise<void> {
    if (active && !this.filesNeedTrim) {
      await this.cutFilesToWrittenEntries();
    } else {
      await this.rewriteFiles();
    }
  }

  /**
   * Ends the time index with the segment's largest timestamp, written and synced, unless it already
   * does (a rebuilt index lacks that final entry); then the file is closed if idle.
   */
  async sealTimeIndex(maxTimestampMs: number, relativeOffsetOfMaxTimestamp: number): Promise<void> {
    const from = this.timeIndex.writtenCount;
    if (!this.timeIndex.maybeAdd(maxTimestampMs, relativeOffsetOfMaxTimestamp, true)) return;
    const entries = this.timeIndex.encode(from);
    await this.timeIndexFile.use(async (handle) => {
      await writeFully(handle, entries, from * timeIndexEntryBytes);
      await handle.datasync();
    });
    this.timeIndex.writtenCount = this.timeIndex.entries;
    await this.timeIndexFile.closeIfIdle();
  }

  /** fsyncs both files; stops (false) before either one once `stop()` says so. */
  async syncFiles(stop: () => boolean = () => false): Promise<boolean> {
    if (stop()) return false;
    await this.indexFile.use((handle) => handle.datasync());
    if (stop()) return false;
    await this.timeIndexFile.use((handle) => handle.datasync());
    return true;
  }

  /** An inactive segment's index files are only read again on open: gives their descriptors back. */
  async closeFilesIfIdle(): Promise<void> {
    await this.indexFile.closeIfIdle();
    await this.timeIndexFile.closeIfIdle();
  }

  /** Gives the descriptors back to the cache (now, or when the last pin on each goes). */
  async discardFiles(): Promise<void> {
    await this.indexFile.discard();
    await this.timeIndexFile.discard();
  }

  /** A step of a crash-safe delete: both files get the `.deleted` suffix. */
  async renameToDeleted(): Promise<void> {
    await renameIfExists(this.indexPath, this.indexPath + deletedFileSuffix);
    this.indexFile.renamed(this.indexPath + deletedFileSuffix);
    await renameIfExists(this.timeIndexPath, this.timeIndexPath + deletedFileSuffix);
    this.timeIndexFile.renamed(this.timeIndexPath + deletedFileSuffix);
  }

  async unlinkDeleted(): Promise<void> {
    await unlinkIfExists(this.indexPath + deletedFileSuffix);
    await unlinkIfExists(this.timeIndexPath + deletedFileSuffix);
  }
}

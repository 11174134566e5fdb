// One segment: a `.log` of record batches back to back plus its sparse `.index` and `.timeindex`.
// The segment knows byte positions and relative offsets; PartitionLog decides when to roll, what to
// delete and which offsets are valid. Batch data is never cached here: reads go to the file (the OS
// page cache does the caching) and only the sparse index entries are kept in memory, with the
// headers of the active segment's last few batches, so a read at the tail (a follower's or a
// caught-up consumer's fetch) finds its first batch without a scan of the file, and reads of what
// it wrote last are synchronous (recent-batches.ts). Appends stay asynchronous: a write can be
// throttled by the kernel's dirty-page limits, and the event loop must not wait then.
//
// Kafka's division: the bytes of the `.log` are file-records.ts (FileRecords), the two index files
// segment-index-files.ts (entries read from disk checked on first use: segment-index-checks.ts),
// recovery and the index sanity check segment-recovery.ts.
//
// File descriptors come from the broker-wide FileHandleCache: each of the three files is opened on
// first use and may be closed again whenever it is idle, so a segment holds no descriptor of its own.
// Everything the segment needs between I/Os (size, next offset, index entries, largest timestamp)
// is in memory; a closed file is reopened by name.

import { join } from 'node:path';
import { invariant } from '@gregor/ground';
import type { CachedFile, FileHandleCache } from './file-handle-cache.js';
import {
  type BatchSummary,
  cutFailedWrite,
  int32Max,
  readActiveAt,
  readAt,
  renameIfExists,
  scanBatchHeaders,
  unlinkIfExists,
  writeFully,
} from './file-records.js';
import { RecentBatches, recentlyWrittenBytesMax } from './recent-batches.js';
import { deletedFileSuffix, logFileSuffix, segmentFileName } from './segment-files.js';
import { SegmentIndexChecks } from './segment-index-checks.js';
import { SegmentIndexFiles, type SegmentLimits } from './segment-index-files.js';
import { scanTailState, scanValidBatches } from './segment-recovery.js';
import { noTimestamp } from './time-index.js';

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
  private readonly logFile: CachedFile;
  /** The `.index` and `.timeindex`, in memory and on disk. */
  private readonly indexes: SegmentIndexFiles;
  /** Where lookups start, each index entry read from disk checked against the `.log` on first use. */
  private readonly indexChecks: SegmentIndexChecks;
  /** Reads in flight; each pins the `.log` descriptor, which closes only when none are left. */
  private readers = 0;
  private retired = false;
  /**
   * In-place cuts of the `.log` (truncateTo). A read takes its end position and this count in the
   * same tick; bytes it then finds damaged below that end are a truncation racing it if the count
   * moved (they were cut, or rewritten by a later append), and damage on disk if it did not.
   */
  private cuts = 0;
  /** The headers of the active segment's last batches. */
  private readonly recentBatches = new RecentBatches();

  private constructor(
    readonly dir: string,
    readonly baseOffset: number,
    private readonly limits: SegmentLimits,
    files: FileHandleCache,
    nowMs: number,
    createLog: boolean,
  ) {
    this.nextOffset = baseOffset;
    this.offsetOfMaxTimestamp = baseOffset;
    this.lastModifiedMs = nowMs;
    this.logFile = files.file(this.logPath, 'r+', createLog ? 'w+' : undefined);
    this.indexes = new SegmentIndexFiles(dir, baseOffset, limits, files);
    this.indexChecks = new SegmentIndexChecks(this, this.indexes, limits);
  }

  get logPath(): string {
    return join(this.dir, segmentFileName(this.baseOffset, logFileSuffix));
  }

  get indexPath(): string {
    return this.indexes.indexPath;
  }

  get timeIndexPath(): string {
    return this.indexes.timeIndexPath;
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
    return this.indexes.offsetIndex.entries;
  }

  get timeIndexEntries(): number {
    return this.indexes.timeIndex.entries;
  }

  /** Why a lookup found the indexes wrong and rebuilt (or set aside) them, if one did. */
  get indexesRebuiltBecause(): string | undefined {
    return this.indexChecks.rebuiltBecause;
  }

  /** True when `batchCount` more batches might not fit in the indexes (the segment must roll). */
  indexesCouldOverflow(batchCount: number): boolean {
    return this.indexes.couldOverflow(batchCount);
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
    const segment = new LogSegment(dir, baseOffset, limits, files, nowMs, true);
    // Creates (or empties) the `.log` now: the caller fsyncs the directory next. The new active
    // segment is appended to next, so its descriptor stays in the cache.
    await segment.logFile.use(async () => undefined);
    // The active segment is always recovered after a crash anyway.
    await segment.indexes.createEmptyFiles();
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
    const segment = new LogSegment(dir, baseOffset, limits, files, nowMs, false);
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
    const problem = await this.indexes.load(fileSizeBytes);
    if (problem !== undefined) return problem;
    this.indexChecks.startChecking();
    this.sizeBytes = fileSizeBytes;
    return this.restoreTailState();
  }

  /**
   * Recomputes nextOffset, the largest timestamp and the bytes since the last index entry from the
   * indexes and the batches after the last offset index entry (segment-recovery.ts). Returns why the
   * state is inconsistent, if it is.
   */
  private async restoreTailState(): Promise<string | undefined> {
    const { offsetIndex, timeIndex } = this.indexes;
    const tail = await scanTailState(this.baseOffset, this.sizeBytes, offsetIndex, timeIndex, (from, to) =>
      this.scanBatches(from, to),
    );
    if (typeof tail === 'string') return tail;
    const mismatch = await this.indexChecks.lastTimeEntryMismatch(this.sizeBytes);
    if (mismatch !== undefined) return mismatch;
    this.nextOffset = tail.nextOffset;
    this.maxTimestampMs = tail.maxTimestampMs;
    this.offsetOfMaxTimestamp = tail.offsetOfMaxTimestamp;
    this.bytesSinceLastIndexEntry = tail.bytesSinceLastIndexEntry;
    return undefined;
  }

  /**
   * Re-validates every batch (length, magic, CRC, increasing offsets), cuts the `.log` at the first
   * bad one and rebuilds both indexes from what is left, then syncs the files. Returns true when a
   * tail was cut.
   */
  private async recover(fileSizeBytes: number, syncIndexes: boolean): Promise<boolean> {
    this.indexes.clear();
    this.nextOffset = this.baseOffset;
    this.maxTimestampMs = noTimestamp;
    this.offsetOfMaxTimestamp = this.baseOffset;
    this.bytesSinceLastIndexEntry = 0;
    const position = await scanValidBatches(
      this.logFile,
      fileSizeBytes,
      this.baseOffset,
      (base, last, maxTimestamp, at, size) => this.indexBatch(base, last, maxTimestamp, at, size),
    );
    this.sizeBytes = position;
    this.indexChecks.forget();
    const truncated = position < fileSizeBytes;
    await this.logFile.use(async (handle) => {
      if (truncated) await handle.truncate(position);
      await handle.datasync();
    });
    await this.indexes.rewriteFiles(syncIndexes);
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
    const { offsetIndex, timeIndex } = this.indexes;
    if (
      this.bytesSinceLastIndexEntry > this.limits.indexIntervalBytes &&
      !offsetIndex.isFull &&
      !timeIndex.isFull
    ) {
      offsetIndex.add(lastOffset - this.baseOffset, position);
      timeIndex.maybeAdd(this.maxTimestampMs, this.offsetOfMaxTimestamp - this.baseOffset);
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
    await this.indexes.sealTimeIndex(this.maxTimestampMs, this.offsetOfMaxTimestamp - this.baseOffset);
  }

  /** Makes this the segment appends go to; the index files are trimmed to the entries in use. */
  async activate(): Promise<void> {
    invariant(!this.active, 'segment is already active');
    await this.indexes.trimFiles();
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
      // The append did not happen: whatever part of it reached the file is cut off.
      throw await cutFailedWrite(handle, startPosition, error, this.logPath);
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
      this.recentBatches.add(batch, startPosition + batch.position);
    }
    this.recentBatches.trim();
    this.sizeBytes = startPosition + records.length;
    this.rollBaseMs ??= nowMs;
    this.lastModifiedMs = nowMs;
    if (this.indexes.unwrittenGroupFull) {
      // The records are in the log: failing the append now would make the producer send them
      // again. Index entries not written stay in memory and are written later; after a crash the
      // indexes are rebuilt from the log anyway.
      await this.writeIndexEntries().catch(() => undefined);
    }
  }

  /** Writes index entries that are only in memory so far (one write per index file). */
  private writeIndexEntries(): Promise<void> {
    invariant(this.active, 'inactive segment');
    return this.indexes.writeNewEntries();
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
   * entry (as Kafka does), writes the index entries and trims the `.log` to its size, and closes the
   * index handles. Nothing is synced here: the roll's append must not wait for the whole segment to
   * reach the disk. syncRolled() does that afterwards (Kafka's deferred flush on roll), and only then
   * may the recovery point move past the segment.
   */
  async deactivate(): Promise<void> {
    invariant(this.active, 'segment is not active');
    this.recentBatches.clear();
    this.indexes.timeIndex.maybeAdd(this.maxTimestampMs, this.offsetOfMaxTimestamp - this.baseOffset, true);
    await this.writeIndexEntries();
    const sizeBytes = this.sizeBytes;
    await this.logFile.use((handle) => handle.truncate(sizeBytes));
    this.active = false;
    await this.indexes.closeFilesIfIdle();
  }

  /**
   * fsyncs a rolled segment whole (`.log`, `.index`, `.timeindex`) after deactivate(); afterwards it
   * is durable and the recovery point can move past it. The index files' descriptors are given back
   * again (they are only read on the next open). Returns false, having stopped before its next
   * file, when the segment was closed meanwhile (its log given up without writing): its files are
   * not reopened (nor recreated) for a sync nobody waits for. `first` runs before the segment's
   * own files, under the same condition (the roll's directory fsync).
   */
  async syncRolled(first: () => Promise<void> = async () => undefined): Promise<boolean> {
    invariant(!this.active, 'syncing the active segment as a rolled one');
    if (this.retired) return false;
    await first();
    if (this.retired) return false;
    await this.logFile.use((handle) => handle.datasync());
    if (!(await this.indexes.syncFiles(() => this.retired))) return false;
    await this.indexes.closeFilesIfIdle();
    return true;
  }

  /** Reads `length` bytes at `position` (fewer if the file is shorter). */
  readBytes(position: number, length: number): Promise<Buffer> {
    return (this.recentlyWritten(position) ? readActiveAt : readAt)(this.logFile, position, length);
  }

  /** How many times the `.log` was cut in place so far (see `cuts`). */
  get cutCount(): number {
    return this.cuts;
  }

  /**
   * Yields batch summaries from `from` (a batch start) until `to`, a size of this segment taken
   * when the segment had been cut `cutsAtEnd` times. Bytes that are not a batch where one must
   * start throw CorruptRecordError, unless a cut since then explains them: the scan ends there.
   */
  scanBatches(from: number, to: number, cutsAtEnd = this.cuts): AsyncGenerator<BatchSummary> {
    return scanBatchHeaders(
      {
        path: this.logPath,
        read: (position, length) => this.readBytes(position, length),
        cutSinceScanStarted: () => this.cuts !== cutsAtEnd,
      },
      from,
      to,
    );
  }

  /**
   * The first batch whose last offset is >= `offset`, found through the index and a forward scan
   * up to `endPosition` (a size of this segment taken in the same tick as the call); undefined when
   * the segment's batches end below `offset`, or a truncation cut the segment meanwhile. Damaged
   * bytes on the way throw CorruptRecordError.
   */
  async findBatch(offset: number, endPosition = this.sizeBytes): Promise<BatchSummary | undefined> {
    const cutsAtEnd = this.cuts;
    const recent = this.recentBatches.find(offset, this.nextOffset);
    if (recent !== undefined && recent.position + recent.sizeBytes <= endPosition) return recent;
    const start = await this.indexChecks.scanStart(offset - this.baseOffset);
    for await (const batch of this.scanBatches(start, endPosition, cutsAtEnd)) {
      if (batch.lastOffset >= offset) return batch;
    }
    return undefined;
  }

  /** Whether a read at `position` is served synchronously (see recentlyWrittenBytesMax). */
  private recentlyWritten(position: number): boolean {
    return this.active && position >= this.sizeBytes - recentlyWrittenBytesMax;
  }

  /**
   * The first batch, in offset order, whose maxTimestamp is >= `timestampMs` and that ends at or
   * after `minOffset`. The time index gives the last batch that first reached a smaller or equal
   * timestamp; every batch before it has a smaller maxTimestamp, so the scan can start there.
   */
  async findBatchByTimestamp(timestampMs: number, minOffset: number): Promise<BatchSummary | undefined> {
    const cutsAtEnd = this.cuts;
    const endPosition = this.sizeBytes;
    const start = await this.indexChecks.timestampScanStart(timestampMs, minOffset);
    for await (const batch of this.scanBatches(start, endPosition, cutsAtEnd)) {
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
    this.recentBatches.clear();
    this.indexes.truncateEntriesTo(cut.baseOffset - this.baseOffset);
    this.cuts += 1;
    this.sizeBytes = cut.position;
    await this.logFile.use(async (handle) => {
      await handle.truncate(cut.position);
      await handle.datasync();
    });
    await this.indexes.truncateFiles(this.active);
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
    await this.indexes.discardFiles();
  }

  /** First step of a crash-safe delete: give every file the `.deleted` suffix. */
  async renameToDeleted(): Promise<void> {
    await renameIfExists(this.logPath, this.logPath + deletedFileSuffix);
    // A read in flight that has to reopen the file finds it under its new name.
    this.logFile.renamed(this.logPath + deletedFileSuffix);
    await this.indexes.renameToDeleted();
  }

  /** Last step of a delete: close and unlink the renamed files. */
  async unlinkDeleted(): Promise<void> {
    await this.close();
    await unlinkIfExists(this.logPath + deletedFileSuffix);
    await this.indexes.unlinkDeleted();
  }
}

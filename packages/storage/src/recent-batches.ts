// What the active segment keeps about its tail for fetches at the end of the log (a follower's, a
// caught-up consumer's): the headers of its last batches, so the first batch of such a read is found
// without an index lookup and a scan of the file, and the rule that reads of what was written last
// are synchronous system calls. Those pages sit in the page cache, where a read of a batch costs a
// few microseconds, less than the thread-pool round trip of an asynchronous call (two thread
// wake-ups, which on a busy machine each wait for a core). Older bytes may be cold on disk and are
// read asynchronously.

import type { BatchSummary } from './file-records.js';

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

/**
 * The last appended batches, in order and contiguous up to the segment's next offset (absolute
 * positions); at most recentBatchesMax after an append, emptied by a truncation or a roll.
 */
export class RecentBatches {
  private batches: BatchSummary[] = [];

  /** A batch appended at `position` of the `.log`. */
  add(batch: BatchSummary, position: number): void {
    this.batches.push({ ...batch, position });
  }

  /** After an append: trimmed in steps, not on every append. */
  trim(): void {
    if (this.batches.length >= 2 * recentBatchesMax) this.batches = this.batches.slice(-recentBatchesMax);
  }

  clear(): void {
    this.batches = [];
  }

  /**
   * The first batch whose last offset is >= `offset`, or undefined when it is not among them;
   * `nextOffset` is the segment's.
   */
  find(offset: number, nextOffset: number): BatchSummary | undefined {
    const recent = this.batches;
    if (recent.length === 0 || offset < recent[0]!.baseOffset || offset >= nextOffset) return undefined;
    let low = 0;
    let high = recent.length - 1;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (recent[middle]!.lastOffset >= offset) high = middle;
      else low = middle + 1;
    }
    return recent[low];
  }
}

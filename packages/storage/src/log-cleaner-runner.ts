// One pass of the log cleaner over a broker's logs (Kafka's LogCleaner with its one CleanerThread):
// every log whose cleanup.policy includes "compact" and whose dirty ratio reaches its
// min.cleanable.dirty.ratio is compacted, one after the other, with one key → offset map for all,
// then each dir's cleaner-offset-checkpoint is written. The broker's timer starts each pass through
// LogManager.runCleaner; passes never overlap.

import { LogClosedError } from './errors.js';
import { asTooManyOpenFiles } from './file-handle-cache.js';
import type { CompactionResult } from './log-cleaner.js';
import { OffsetMap } from './log-cleaner-offset-map.js';
import { isCompacted } from './log-cleaner-produce-check.js';
import type { LogCleanerConfig } from './log-config.js';
import type { LogDirectory } from './log-directory.js';
import type { PartitionLog } from './partition-log.js';

export interface CleanerRunOptions {
  /** The clean time (tombstone expiry, min.compaction.lag.ms); the clock's time when absent. */
  readonly nowMs?: number;
  /** Highest offset (exclusive) the cleaner may use for a log: its high watermark. No bound when absent. */
  readonly upperBoundOffset?: (log: PartitionLog) => number | undefined;
}

export interface CleanerRunStats {
  /** Logs cleaned in this run. */
  readonly cleaned: readonly { readonly log: string; readonly result: CompactionResult }[];
  readonly bytesBefore: number;
  readonly bytesAfter: number;
  readonly recordsKept: number;
  readonly recordsRemoved: number;
}

export interface CleanerPassOptions {
  /** Highest offset (exclusive) the cleaner may use for a log; no bound when absent. */
  readonly upperBoundOffset?: ((log: PartitionLog) => number | undefined) | undefined;
  /** Whether the LogManager closed meanwhile: the pass stops cleaning. */
  readonly isClosed: () => boolean;
}

export class LogCleanerRunner {
  /** The cleaner's key → offset map (log.cleaner.dedupe.buffer.size), made on the first cleaning. */
  private offsetMap: OffsetMap | undefined;
  private cleaning = false;

  static nothingCleaned(): CleanerRunStats {
    return { cleaned: [], bytesBefore: 0, bytesAfter: 0, recordsKept: 0, recordsRemoved: 0 };
  }

  /**
   * Cleans the logs of `dirs` as of `nowMs`. A log closed meanwhile, or one that ran out of file
   * descriptors, is skipped until the next pass; a call while a pass is running returns no cleanings.
   */
  async run(
    dirs: readonly LogDirectory[],
    cleanerConfig: LogCleanerConfig,
    nowMs: number,
    options: CleanerPassOptions,
  ): Promise<CleanerRunStats> {
    const stats = {
      cleaned: [] as { log: string; result: CompactionResult }[],
      bytesBefore: 0,
      bytesAfter: 0,
    };
    const totals = { recordsKept: 0, recordsRemoved: 0 };
    if (this.cleaning) return { ...stats, ...totals };
    this.cleaning = true;
    try {
      this.offsetMap ??= new OffsetMap(cleanerConfig.dedupeBufferBytes, cleanerConfig.dedupeBufferLoadFactor);
      for (const dir of dirs) {
        let changed = false;
        for (const [key, log] of dir.logs) {
          // A log whose future replica is being swapped in is cleaned at the next pass, in its new dir.
          if (!isCompacted(log.config) || log.cleaningPaused || options.isClosed()) continue;
          const upperBoundOffset = options.upperBoundOffset?.(log);
          let result: CompactionResult;
          try {
            result = await log.compact({
              nowMs,
              firstDirtyOffset: dir.firstDirtyOffsets.get(key),
              minDirtyRatio: log.config.minCleanableDirtyRatio,
              offsetMap: this.offsetMap,
              readChunkBytes: cleanerConfig.ioBufferBytes,
              ...(upperBoundOffset === undefined ? {} : { upperBoundOffset }),
            });
          } catch (error) {
            // Closed or deleted meanwhile, or no descriptor left: the next run tries again.
            if (error instanceof LogClosedError || asTooManyOpenFiles(error, log.dir) !== undefined) continue;
            throw error;
          }
          if (result.nextDirtyOffset !== dir.firstDirtyOffsets.get(key)) {
            dir.firstDirtyOffsets.set(key, result.nextDirtyOffset);
            changed = true;
          }
          if (!result.cleaned) continue;
          stats.cleaned.push({ log: log.name, result });
          stats.bytesBefore += result.bytesBefore;
          stats.bytesAfter += result.bytesAfter;
          totals.recordsKept += result.recordsKept;
          totals.recordsRemoved += result.recordsRemoved;
        }
        if (changed) await dir.writeCleanerOffsets();
      }
    } finally {
      this.cleaning = false;
    }
    return { ...stats, ...totals };
  }
}

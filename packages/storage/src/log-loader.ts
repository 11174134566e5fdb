// Opening a partition's log from its directory (Kafka's LogLoader): an interrupted cleaner swap
// completed, leftover files removed, every segment loaded, and, without a clean shutdown, the
// segments from the one holding the recovery point onwards re-validated batch by batch. The first
// torn or corrupt batch ends the log: it and everything after it (later segments included) are
// dropped, so the log holds every valid batch up to the crash and never a hole in its offsets.

import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '@gregor/ground';
import { fsyncDirectory } from './checkpoint-file.js';
import type { FileHandleCache } from './file-handle-cache.js';
import { unlinkIfExists } from './file-records.js';
import { segmentLimits } from './local-log.js';
import { completeInterruptedSwaps } from './log-cleaner-swap.js';
import type { LogConfig } from './log-config.js';
import type { LogDirFailureChannel } from './log-dir-failure-channel.js';
import { LogSegment } from './log-segment.js';
import type { PartitionLog } from './partition-log.js';
import {
  indexFileSuffix,
  leftoverFileSuffixes,
  logFileSuffix,
  parseSegmentFileName,
  segmentFileName,
  timeIndexFileSuffix,
} from './segment-files.js';

/** Persists per-log-dir checkpoints; LogManager implements it for the partitions of each dir. */
export interface LogCheckpointListener {
  /** The log start offset changed: persist it before the deleted segments' files are unlinked. */
  logStartOffsetChanged(log: PartitionLog): Promise<void>;
  /** The recovery point moved back (truncation): persist it so recovery re-validates new data. */
  recoveryPointLowered(log: PartitionLog): Promise<void>;
}

/** What opening a partition log takes: where it is, its config and its checkpointed offsets. */
export interface PartitionLogOptions {
  /** The partition directory, `<log dir>/<topic>-<partition>`; created if missing. */
  readonly dir: string;
  readonly topic: string;
  readonly partition: number;
  readonly config: LogConfig;
  readonly clock: Clock;
  /** Offset below which data is known to be flushed (from recovery-point-offset-checkpoint). */
  readonly recoveryPoint: number;
  /** From log-start-offset-checkpoint, when the partition is in it. */
  readonly logStartOffset: number | undefined;
  /** The log dir had a clean-shutdown marker: no segment needs re-validation. */
  readonly hadCleanShutdown: boolean;
  readonly checkpoints: LogCheckpointListener;
  /** The broker's descriptor budget; a log opened on its own gets a private one of default size. */
  readonly files?: FileHandleCache;
  /** Where an I/O failure of this log takes its log dir offline; without one, only the log fails. */
  readonly logDirFailureChannel?: LogDirFailureChannel;
  /**
   * A future replica's log (AlterReplicaLogDirs): a full disk (ENOSPC, EDQUOT) in any of its
   * operations, a roll included, stops it without taking its dir offline; the move fails and
   * removes it. Other I/O errors take the dir offline as for any log.
   */
  readonly fullDiskStopsLogOnly?: boolean;
}

export interface LoadedLog {
  /** Oldest first; the last one is active. */
  readonly segments: readonly LogSegment[];
  readonly logStartOffset: number;
}

/**
 * Loads (or creates) the log in `options.dir`. An interrupted cleaner swap (`.log.swap`) is
 * completed first; leftover `.deleted`/`.cleaned`/`.swap`/`.tmp` files are removed, index files
 * without a `.log` too. Without a clean shutdown, the segments from the one holding the recovery
 * point onwards are re-validated batch by batch; the first torn or corrupt batch and everything
 * after it (later segments included) are dropped. Any segment whose index files fail the sanity
 * check is recovered the same way.
 */
export async function loadLog(options: PartitionLogOptions, files: FileHandleCache): Promise<LoadedLog> {
  const { dir, config, clock } = options;
  await mkdir(dir, { recursive: true });
  // A cleaned segment whose swap a crash interrupted replaces the segments it was made from.
  await completeInterruptedSwaps(dir, files);
  const limits = segmentLimits(config);
  const names = await files.withTransientDescriptor(dir, () => readdir(dir));
  const logBases = new Set<number>();
  for (const name of names) {
    if (leftoverFileSuffixes.some((suffix) => name.endsWith(suffix))) {
      await unlinkIfExists(join(dir, name));
      continue;
    }
    const base = parseSegmentFileName(name, logFileSuffix);
    if (base !== undefined) logBases.add(base);
  }
  for (const name of names) {
    const base =
      parseSegmentFileName(name, indexFileSuffix) ?? parseSegmentFileName(name, timeIndexFileSuffix);
    if (base !== undefined && !logBases.has(base)) await unlinkIfExists(join(dir, name));
  }
  const bases = [...logBases].sort((a, b) => a - b);
  const nowMs = clock.nowMs();
  const segments: LogSegment[] = [];
  if (bases.length === 0) {
    segments.push(
      await LogSegment.create(dir, Math.max(options.logStartOffset ?? 0, 0), limits, nowMs, files),
    );
    await fsyncDirectory(dir, files);
  } else {
    // Segments below the one holding the recovery point were flushed whole after they were rolled.
    let firstToRecover = options.hadCleanShutdown ? bases.length : 0;
    if (!options.hadCleanShutdown) {
      for (let i = 0; i < bases.length; i++) if (bases[i]! <= options.recoveryPoint) firstToRecover = i;
    }
    let dropFrom = bases.length;
    for (let i = 0; i < bases.length; i++) {
      const isLast = i === bases.length - 1;
      const loaded = await LogSegment.load(dir, bases[i]!, limits, nowMs, i >= firstToRecover, files, isLast);
      segments.push(loaded.segment);
      const nextBase = bases[i + 1];
      if (nextBase !== undefined && loaded.segment.nextOffset > nextBase) {
        // Overlapping segments cannot come from our own writes; keep the earlier data.
        await loaded.segment.truncateTo(nextBase);
      }
      // An empty segment is never rolled (it is replaced), so one followed by another segment lost
      // its batches to a crash or a bad disk: the log ends there, as after a torn batch.
      if (loaded.truncated || (loaded.segment.isEmpty && nextBase !== undefined)) {
        dropFrom = i + 1;
        break;
      }
      if (i < bases.length - 1) await loaded.segment.sealTimeIndex();
    }
    // A torn or corrupt batch ends the log: later segments would leave a hole in the offsets.
    for (const base of bases.slice(dropFrom)) {
      for (const suffix of [logFileSuffix, indexFileSuffix, timeIndexFileSuffix]) {
        await unlinkIfExists(join(dir, segmentFileName(base, suffix)));
      }
    }
    await segments[segments.length - 1]!.activate();
    if (dropFrom < bases.length) await fsyncDirectory(dir, files);
  }
  const firstBase = segments[0]!.baseOffset;
  const logEndOffset = segments[segments.length - 1]!.nextOffset;
  const logStartOffset = Math.min(Math.max(options.logStartOffset ?? firstBase, firstBase), logEndOffset);
  return { segments, logStartOffset };
}

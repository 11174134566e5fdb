// The partition logs of one broker across its `log.dirs`. It finds existing partitions on open,
// places new ones on the log dir holding the fewest partitions, and owns the per-log-dir files:
//   recovery-point-offset-checkpoint   what is known flushed, per partition (bounds recovery work)
//   log-start-offset-checkpoint        log start offsets, per partition
//   cleaner-offset-checkpoint          first dirty offset of each compacted partition (log cleaner)
//   .kafka_cleanshutdown               present only between a clean close and the next open
//
// Scheduling stays with the caller (the broker): it calls runRetention(), runCleaner(),
// flushDueLogs() and checkpointRecoveryPoints() from its timers, so this module never reads the clock on its own.
//
// Descriptors: every file of every log goes through one FileHandleCache of `openFilesMax` handles.
// A partition that cannot be opened because the process ran out of descriptors (EMFILE/ENFILE) is
// left unopened, reported to `onLogOpenFailure` and opened again on its next getOrCreateLog: the
// other partitions open and serve. Its checkpoint entries are kept as they were, and its log dir
// gets no clean-shutdown marker while it is unopened (its files were never checked).

import { access, mkdir, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, KafkaError } from '@gregor/protocol';
import { forEachConcurrently } from './bounded-concurrency.js';
import {
  cleanerOffsetCheckpointName,
  fsyncDirectory,
  logStartOffsetCheckpointName,
  partitionKey,
  readCheckpointFile,
  recoveryPointCheckpointName,
  writeCheckpointFile,
  writeFileAtomically,
} from './checkpoint-file.js';
import type { Clock } from './clock.js';
import { LogClosedError } from './errors.js';
import { FileHandleCache, type FileHandleCacheStats, TooManyOpenFilesError } from './file-handle-cache.js';
import { invariant } from './invariant.js';
import type { CompactionResult } from './log-cleaner.js';
import { OffsetMap } from './log-cleaner-offset-map.js';
import { isCompacted } from './log-cleaner-produce-check.js';
import {
  type BrokerLogConfig,
  type ConfigProps,
  defaultLogCleanerConfig,
  type LogCleanerConfig,
  parseLogConfig,
} from './log-config.js';
import { type LogCheckpointListener, PartitionLog, type PartitionLogOptions } from './partition-log.js';
import { parsePartitionDirName } from './segment-files.js';
import { SerialQueue } from './serial-queue.js';

export const cleanShutdownFileName = '.kafka_cleanshutdown';
/**
 * Partitions opened at once per log dir at start-up: their reads, index checks and recovery fsyncs
 * overlap (Kafka's num.recovery.threads.per.data.dir does the same with threads).
 */
export const logOpenConcurrencyPerDir = 16;
/** Checkpoint writes allowed to wait per log dir; each one rewrites the whole file. */
const checkpointQueueDepthMax = 4096;
/** Kafka's legal topic names. */
const topicNamePattern = /^[a-zA-Z0-9._-]{1,249}$/;
/**
 * The metadata quorum's Raft log (`__cluster_metadata-0`, a LevelDB) may live in a log dir, as in
 * KRaft; it is not a partition log, and re-validating its files as segments after an unclean
 * shutdown destroys it. Kafka's LogManager skips it the same way.
 */
export const metadataTopicName = '__cluster_metadata';

export interface LogManagerOptions {
  readonly config: BrokerLogConfig;
  readonly clock: Clock;
  /** Topic-level overrides (topic keys) for a topic, from the cluster metadata; none by default. */
  readonly topicOverrides?: (topic: string) => ConfigProps;
  /** File descriptors storage may hold open at once (the broker sizes it from `ulimit -n`). */
  readonly openFilesMax?: number;
  /** A partition could not be opened at start-up for lack of descriptors; it stays unopened. */
  readonly onLogOpenFailure?: (partition: string, error: TooManyOpenFilesError) => void;
}

/** A partition found on disk whose log could not be opened yet, with what its open needs. */
interface UnopenedLog {
  readonly topic: string;
  readonly partition: number;
  readonly recoveryPoint: number;
  readonly logStartOffset: number | undefined;
  readonly hadCleanShutdown: boolean;
}

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

/** One entry of `log.dirs`: its partitions and its checkpoint files. */
class LogDirectory implements LogCheckpointListener {
  readonly logs = new Map<string, PartitionLog>();
  /** Partitions on disk here that could not be opened yet (no descriptor left at the time). */
  readonly unopened = new Map<string, UnopenedLog>();
  /** Partitions being created here, counted so concurrent creations spread over the dirs. */
  creating = 0;
  /** The cleaner checkpoint: first dirty offset per compacted partition key. */
  readonly firstDirtyOffsets = new Map<string, number>();
  private readonly queue: SerialQueue;

  constructor(
    readonly path: string,
    private readonly files: FileHandleCache,
  ) {
    this.queue = new SerialQueue(`log dir ${path}`, checkpointQueueDepthMax);
  }

  get partitionCount(): number {
    return this.logs.size + this.unopened.size + this.creating;
  }

  logStartOffsetChanged(): Promise<void> {
    return this.writeLogStartOffsets();
  }

  async recoveryPointLowered(log: PartitionLog): Promise<void> {
    await this.writeRecoveryPoints();
    // A truncation below the cleaner checkpoint makes the new data there dirty (see log-cleaner.ts:
    // a checkpoint above never-mapped records could let a tombstone go before its older records).
    const key = partitionKey(log.topic, log.partition);
    const firstDirty = this.firstDirtyOffsets.get(key);
    if (firstDirty !== undefined && firstDirty > log.logEndOffset) {
      this.firstDirtyOffsets.set(key, log.logEndOffset);
      await this.writeCleanerOffsets();
    }
  }

  writeCleanerOffsets(): Promise<void> {
    return this.queue.run(() =>
      writeCheckpointFile(
        this.path,
        cleanerOffsetCheckpointName,
        [...this.firstDirtyOffsets].flatMap(([key, offset]) => {
          const log = this.logs.get(key) ?? this.unopened.get(key);
          return log === undefined ? [] : [{ topic: log.topic, partition: log.partition, offset }];
        }),
        this.files,
      ),
    );
  }

  writeLogStartOffsets(): Promise<void> {
    return this.queue.run(() =>
      writeCheckpointFile(
        this.path,
        logStartOffsetCheckpointName,
        [
          ...[...this.logs.values()].map((log) => ({
            topic: log.topic,
            partition: log.partition,
            offset: log.logStartOffset,
          })),
          ...[...this.unopened.values()].flatMap((log) =>
            log.logStartOffset === undefined
              ? []
              : [{ topic: log.topic, partition: log.partition, offset: log.logStartOffset }],
          ),
        ],
        this.files,
      ),
    );
  }

  writeRecoveryPoints(): Promise<void> {
    return this.queue.run(() =>
      writeCheckpointFile(
        this.path,
        recoveryPointCheckpointName,
        [
          ...[...this.logs.values()].map((log) => ({
            topic: log.topic,
            partition: log.partition,
            offset: log.recoveryPoint,
          })),
          ...[...this.unopened.values()].map((log) => ({
            topic: log.topic,
            partition: log.partition,
            offset: log.recoveryPoint,
          })),
        ],
        this.files,
      ),
    );
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

function openOptions(
  dir: LogDirectory,
  entry: UnopenedLog,
  config: BrokerLogConfig,
  options: LogManagerOptions,
  files: FileHandleCache,
): PartitionLogOptions {
  return {
    dir: join(dir.path, partitionKey(entry.topic, entry.partition)),
    topic: entry.topic,
    partition: entry.partition,
    config: parseLogConfig(options.topicOverrides?.(entry.topic) ?? {}, config.defaults),
    clock: options.clock,
    recoveryPoint: entry.recoveryPoint,
    logStartOffset: entry.logStartOffset,
    hadCleanShutdown: entry.hadCleanShutdown,
    checkpoints: dir,
    files,
  };
}

export class LogManager {
  private readonly dirs: LogDirectory[];
  private readonly pending = new Map<string, Promise<PartitionLog>>();
  private closed = false;
  /** The cleaner's key → offset map (log.cleaner.dedupe.buffer.size), made on the first cleaning. */
  private offsetMap: OffsetMap | undefined;
  private cleaning = false;

  private constructor(
    private readonly options: LogManagerOptions,
    dirs: LogDirectory[],
    private readonly files: FileHandleCache,
  ) {
    this.dirs = dirs;
  }

  /**
   * Opens every log dir and every partition in it. A dir with the clean-shutdown marker skips
   * re-validation; the marker is removed once all logs are open, so a crash from now on is unclean.
   */
  static async open(options: LogManagerOptions): Promise<LogManager> {
    const files = new FileHandleCache(options.openFilesMax);
    const dirs = options.config.logDirs.map((path) => new LogDirectory(path, files));
    const seen = new Map<string, string>();
    for (const dir of dirs) {
      await mkdir(dir.path, { recursive: true });
      const hadCleanShutdown = await exists(join(dir.path, cleanShutdownFileName));
      const recoveryPoints = await readCheckpointFile(dir.path, recoveryPointCheckpointName, files);
      const logStartOffsets = await readCheckpointFile(dir.path, logStartOffsetCheckpointName, files);
      const cleanerOffsets = await readCheckpointFile(dir.path, cleanerOffsetCheckpointName, files);
      for (const [key, entry] of cleanerOffsets) dir.firstDirtyOffsets.set(key, entry.offset);
      const entries = await files.withTransientDescriptor(dir.path, () =>
        readdir(dir.path, { withFileTypes: true }),
      );
      const toOpen: UnopenedLog[] = [];
      for (const entry of entries) {
        if (!entry.isDirectory()) continue;
        const parsed = parsePartitionDirName(entry.name);
        if (parsed === undefined || !topicNamePattern.test(parsed.topic)) continue;
        if (parsed.topic === metadataTopicName) continue;
        const key = partitionKey(parsed.topic, parsed.partition);
        const other = seen.get(key);
        if (other !== undefined) {
          throw new Error(`partition ${key} is in two log dirs: ${other} and ${dir.path}`);
        }
        seen.set(key, dir.path);
        toOpen.push({
          topic: parsed.topic,
          partition: parsed.partition,
          recoveryPoint: recoveryPoints.get(key)?.offset ?? 0,
          logStartOffset: logStartOffsets.get(key)?.offset,
          hadCleanShutdown,
        });
      }
      await forEachConcurrently(toOpen, logOpenConcurrencyPerDir, async (unopened) => {
        const key = partitionKey(unopened.topic, unopened.partition);
        try {
          dir.logs.set(
            key,
            await PartitionLog.open(openOptions(dir, unopened, options.config, options, files)),
          );
        } catch (error) {
          if (!(error instanceof TooManyOpenFilesError)) throw error;
          dir.unopened.set(key, unopened);
          options.onLogOpenFailure?.(key, error);
        }
      });
    }
    for (const dir of dirs) {
      const marker = join(dir.path, cleanShutdownFileName);
      if (await exists(marker)) {
        await unlink(marker);
        await fsyncDirectory(dir.path, files);
      }
    }
    return new LogManager(options, dirs, files);
  }

  /** The descriptor budget's counters (open now, capacity, opens, evictions, waits). */
  get fileHandleStats(): FileHandleCacheStats {
    return this.files.stats;
  }

  /** Closes every idle descriptor now (they reopen on demand); pinned ones stay open. */
  closeIdleFiles(): Promise<void> {
    return this.files.closeIdle();
  }

  /** Partitions on disk whose log could not be opened yet (for lack of descriptors). */
  unopenedLogs(): string[] {
    return this.dirs.flatMap((dir) => [...dir.unopened.keys()]);
  }

  get logDirs(): readonly string[] {
    return this.dirs.map((d) => d.path);
  }

  getLog(topic: string, partition: number): PartitionLog | undefined {
    const key = partitionKey(topic, partition);
    for (const dir of this.dirs) {
      const log = dir.logs.get(key);
      if (log !== undefined) return log;
    }
    return undefined;
  }

  allLogs(): PartitionLog[] {
    return this.dirs.flatMap((d) => [...d.logs.values()]);
  }

  /** Which log dir holds each partition count; new partitions go to the smallest. */
  partitionCountsByDir(): Map<string, number> {
    return new Map(this.dirs.map((d) => [d.path, d.partitionCount]));
  }

  /**
   * The partition's log, created on the log dir with the fewest partitions if it does not exist.
   * `topicOverrides` (topic keys) apply when it is created; bad ones throw LogConfigError.
   */
  async getOrCreateLog(
    topic: string,
    partition: number,
    topicOverrides: ConfigProps = {},
  ): Promise<PartitionLog> {
    if (this.closed) throw new Error('log manager is closed');
    if (!topicNamePattern.test(topic) || topic === '.' || topic === '..') {
      throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, `illegal topic name '${topic}'`);
    }
    if (!Number.isSafeInteger(partition) || partition < 0 || partition > 0x7fff_ffff) {
      throw new KafkaError(ErrorCode.INVALID_PARTITIONS, `illegal partition ${partition}`);
    }
    const existing = this.getLog(topic, partition);
    if (existing !== undefined) return existing;
    const key = partitionKey(topic, partition);
    const inFlight = this.pending.get(key);
    if (inFlight !== undefined) return inFlight;
    const unopenedIn = this.dirs.find((dir) => dir.unopened.has(key));
    if (unopenedIn !== undefined) return this.reopen(unopenedIn, key, topicOverrides);
    const config = parseLogConfig(topicOverrides, this.options.config.defaults);
    let target = this.dirs[0]!;
    for (const dir of this.dirs) {
      if (dir.partitionCount < target.partitionCount) target = dir;
    }
    target.creating += 1;
    const creation = (async () => {
      try {
        const log = await PartitionLog.open({
          dir: join(target.path, key),
          topic,
          partition,
          config,
          clock: this.options.clock,
          recoveryPoint: 0,
          logStartOffset: undefined,
          hadCleanShutdown: false,
          checkpoints: target,
          files: this.files,
        });
        // The partition directory itself must survive a crash once the log is in use.
        await fsyncDirectory(target.path, this.files);
        target.logs.set(key, log);
        return log;
      } finally {
        target.creating -= 1;
        this.pending.delete(key);
      }
    })();
    this.pending.set(key, creation);
    return creation;
  }

  /**
   * Opens a partition that was left unopened at start-up, in its own log dir and from its own
   * checkpoints (never a new, empty log elsewhere). Failing again, it stays unopened.
   */
  private reopen(dir: LogDirectory, key: string, topicOverrides: ConfigProps): Promise<PartitionLog> {
    const entry = dir.unopened.get(key)!;
    const opening = (async () => {
      try {
        const options = openOptions(dir, entry, this.options.config, this.options, this.files);
        const log = await PartitionLog.open({
          ...options,
          config: parseLogConfig(topicOverrides, this.options.config.defaults),
        });
        dir.unopened.delete(key);
        dir.logs.set(key, log);
        return log;
      } finally {
        this.pending.delete(key);
      }
    })();
    this.pending.set(key, opening);
    return opening;
  }

  /** Retention over every log; `highWatermarkOf` bounds each log (see PartitionLog.deleteOldSegments). */
  async runRetention(
    highWatermarkOf: (log: PartitionLog) => number | undefined = () => undefined,
  ): Promise<number> {
    let deleted = 0;
    for (const log of this.allLogs()) {
      const highWatermark = highWatermarkOf(log);
      deleted += await log.deleteOldSegments(highWatermark === undefined ? {} : { highWatermark });
    }
    return deleted;
  }

  get cleanerConfig(): LogCleanerConfig {
    return this.options.config.cleaner ?? defaultLogCleanerConfig;
  }

  /**
   * The log cleaner (Kafka's LogCleaner, one thread): compacts every log whose cleanup.policy includes
   * "compact" and whose dirty ratio reaches its min.cleanable.dirty.ratio, one after the other, then
   * writes each dir's cleaner-offset-checkpoint. A log closed meanwhile is skipped. The broker calls this every log.cleaner.backoff.ms; a call
   * while one is running returns no cleanings.
   */
  async runCleaner(options: CleanerRunOptions = {}): Promise<CleanerRunStats> {
    const stats = {
      cleaned: [] as { log: string; result: CompactionResult }[],
      bytesBefore: 0,
      bytesAfter: 0,
    };
    const totals = { recordsKept: 0, recordsRemoved: 0 };
    const cleanerConfig = this.cleanerConfig;
    if (!cleanerConfig.enable || this.cleaning || this.closed) return { ...stats, ...totals };
    this.cleaning = true;
    try {
      const nowMs = options.nowMs ?? this.options.clock.nowMs();
      this.offsetMap ??= new OffsetMap(cleanerConfig.dedupeBufferBytes, cleanerConfig.dedupeBufferLoadFactor);
      for (const dir of this.dirs) {
        let changed = false;
        for (const [key, log] of dir.logs) {
          if (!isCompacted(log.config) || this.closed) continue;
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
            if (error instanceof LogClosedError) continue;
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

  /** Flushes every log whose flush.ms (or flush.messages) is due; returns how many flushed. */
  async flushDueLogs(): Promise<number> {
    let flushed = 0;
    for (const log of this.allLogs()) if (await log.flushIfDue()) flushed += 1;
    return flushed;
  }

  /** Writes every dir's recovery-point checkpoint (Kafka does this every 60 s by default). */
  async checkpointRecoveryPoints(): Promise<void> {
    for (const dir of this.dirs) await dir.writeRecoveryPoints();
  }

  async checkpointLogStartOffsets(): Promise<void> {
    for (const dir of this.dirs) await dir.writeLogStartOffsets();
  }

  /**
   * Clean shutdown: flush and close every log, write both checkpoints, then the marker. The marker is
   * written last, so a crash during close is an unclean shutdown.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.pending.values()].map((p) => p.catch(() => undefined)));
    for (const dir of this.dirs) {
      for (const log of dir.logs.values()) await log.close();
      await dir.writeRecoveryPoints();
      await dir.writeLogStartOffsets();
      for (const log of dir.logs.values()) {
        invariant(log.recoveryPoint === log.logEndOffset, () => `${log.name}: closed with unflushed data`);
      }
      // A partition never opened was never checked: its state is whatever the last run left.
      if (dir.unopened.size === 0) await writeFileAtomically(dir.path, cleanShutdownFileName, '', this.files);
    }
  }
}

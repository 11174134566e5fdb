// The partition logs of one broker across its `log.dirs`. It finds existing partitions on open,
// places new ones on the log dir holding the fewest partitions, and owns the per-log-dir files:
//   recovery-point-offset-checkpoint   what is known flushed, per partition (bounds recovery work)
//   log-start-offset-checkpoint        log start offsets, per partition
//   cleaner-offset-checkpoint          first dirty offset of each compacted partition (log cleaner)
//   .kafka_cleanshutdown               present only between a clean close and the next open
//
// A log dir whose I/O fails in a way that leaves a log in an unknown state goes offline (see
// log-dir-failure-channel.ts): its logs are closed without writing, it gets no new partitions and no
// checkpoints, and a restart tries it again. Opening skips a dir that cannot be read the same way.
//
// Scheduling stays with the caller (the broker): it calls runRetention(), runCleaner(),
// flushDueLogs() and checkpointRecoveryPoints() from its timers, so this module never reads the clock on its own.

import { access, mkdir, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, KafkaError } from '@gregor/protocol';
import {
  type CheckpointEntry,
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
import {
  isIoError,
  isNoSpaceError,
  KafkaStorageError,
  LogDirFailureChannel,
} from './log-dir-failure-channel.js';
import { type LogCheckpointListener, PartitionLog } from './partition-log.js';
import { parsePartitionDirName } from './segment-files.js';
import { SerialQueue } from './serial-queue.js';

export const cleanShutdownFileName = '.kafka_cleanshutdown';
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
  /** Where failed log dirs are reported (the broker listens there); a private one when absent. */
  readonly logDirFailureChannel?: LogDirFailureChannel;
}

export interface GetOrCreateLogOptions {
  /**
   * The partition is new to this broker (Kafka's `isNew`): it may be created even while a log dir
   * is offline. A replica that should already exist is not created again elsewhere while a dir is
   * offline: its data may be on that dir, and an empty log in its place could be elected.
   */
  readonly isNew?: boolean;
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
  /** Partitions being created here, counted so concurrent creations spread over the dirs. */
  creating = 0;
  /** The cleaner checkpoint: first dirty offset per compacted partition key. */
  readonly firstDirtyOffsets = new Map<string, number>();
  private readonly queue: SerialQueue;

  constructor(
    readonly path: string,
    private readonly failures: LogDirFailureChannel,
  ) {
    this.queue = new SerialQueue(`log dir ${path}`, checkpointQueueDepthMax);
  }

  get isOffline(): boolean {
    return this.failures.isOffline(this.path);
  }

  /**
   * Rewrites a checkpoint file (atomically: tmp file, fsync, rename). On a full disk the old file
   * still stands, so only this write is refused; any other I/O failure takes the dir offline.
   */
  private writeCheckpoint(name: string, entries: () => readonly CheckpointEntry[]): Promise<void> {
    return this.queue.run(async () => {
      if (this.isOffline) throw new KafkaStorageError(this.path, `log dir ${this.path} is offline`);
      try {
        await writeCheckpointFile(this.path, name, entries());
      } catch (error) {
        if (!isIoError(error)) throw error;
        const reason = `${this.path}: writing ${name} failed: ${error.code} (${error.message})`;
        if (!isNoSpaceError(error)) this.failures.maybeAddOfflineLogDir(this.path, reason);
        throw new KafkaStorageError(this.path, reason);
      }
    });
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
    return this.writeCheckpoint(cleanerOffsetCheckpointName, () =>
      [...this.firstDirtyOffsets].flatMap(([key, offset]) => {
        const log = this.logs.get(key);
        return log === undefined ? [] : [{ topic: log.topic, partition: log.partition, offset }];
      }),
    );
  }

  writeLogStartOffsets(): Promise<void> {
    return this.writeCheckpoint(logStartOffsetCheckpointName, () =>
      [...this.logs.values()].map((log) => ({
        topic: log.topic,
        partition: log.partition,
        offset: log.logStartOffset,
      })),
    );
  }

  writeRecoveryPoints(): Promise<void> {
    return this.writeCheckpoint(recoveryPointCheckpointName, () =>
      [...this.logs.values()].map((log) => ({
        topic: log.topic,
        partition: log.partition,
        offset: log.recoveryPoint,
      })),
    );
  }
}

/** Runs `write` on every dir, even after one failed (a full dir must not stop the others), then throws the first failure. */
async function eachDir(
  dirs: readonly LogDirectory[],
  write: (dir: LogDirectory) => Promise<void>,
): Promise<void> {
  let firstFailure: unknown;
  for (const dir of dirs) {
    try {
      await write(dir);
    } catch (error) {
      firstFailure ??= error;
    }
  }
  if (firstFailure !== undefined) throw firstFailure;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
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
    readonly logDirFailureChannel: LogDirFailureChannel,
  ) {
    this.dirs = dirs;
    logDirFailureChannel.onLogDirFailure(({ logDir, reason }) => {
      void this.handleLogDirFailure(logDir, reason);
    });
  }

  /**
   * Kafka's LogManager.handleLogDirFailure: the dir's logs stop and close without writing (they stay
   * known, so their partitions are not created again elsewhere); retention, flushes, checkpoints and
   * placement skip the dir from now on.
   */
  private async handleLogDirFailure(logDir: string, reason: string): Promise<void> {
    const dir = this.dirs.find((candidate) => candidate.path === logDir);
    if (dir === undefined) return;
    for (const log of dir.logs.values()) await log.closeAfterFailure(reason);
  }

  private liveDirs(): LogDirectory[] {
    return this.dirs.filter((dir) => !dir.isOffline);
  }

  /** The `log.dirs` entries that failed, with what failed first. */
  get offlineLogDirs(): readonly { readonly logDir: string; readonly reason: string }[] {
    return this.logDirFailureChannel.offlineLogDirs;
  }

  /**
   * Opens every log dir and every partition in it. A dir with the clean-shutdown marker skips
   * re-validation; the marker is removed once all logs are open, so a crash from now on is unclean.
   */
  static async open(options: LogManagerOptions): Promise<LogManager> {
    const failures = options.logDirFailureChannel ?? new LogDirFailureChannel();
    const dirs = options.config.logDirs.map((path) => new LogDirectory(path, failures));
    const seen = new Map<string, string>();
    for (const dir of dirs) {
      try {
        await LogManager.openDir(options, dir, seen, failures);
      } catch (error) {
        if (!isIoError(error)) throw error;
        // A dir that cannot be read is offline from the start (Kafka loads the others); the logs
        // it did open are closed, and its partitions are unknown to this broker until a restart.
        const reason = `${dir.path}: loading failed: ${error.code} (${error.message})`;
        failures.maybeAddOfflineLogDir(dir.path, reason);
        for (const log of dir.logs.values()) await log.closeAfterFailure(reason);
        for (const key of dir.logs.keys()) seen.delete(key);
        dir.logs.clear();
      }
    }
    if (dirs.every((dir) => dir.isOffline)) {
      throw new Error(
        `every log dir failed: ${failures.offlineLogDirs.map((failure) => failure.reason).join('; ')}`,
      );
    }
    for (const dir of dirs) {
      if (dir.isOffline) continue;
      const marker = join(dir.path, cleanShutdownFileName);
      if (await exists(marker)) {
        await unlink(marker);
        await fsyncDirectory(dir.path);
      }
    }
    return new LogManager(options, dirs, failures);
  }

  private static async openDir(
    options: LogManagerOptions,
    dir: LogDirectory,
    seen: Map<string, string>,
    failures: LogDirFailureChannel,
  ): Promise<void> {
    await mkdir(dir.path, { recursive: true });
    const hadCleanShutdown = await exists(join(dir.path, cleanShutdownFileName));
    const recoveryPoints = await readCheckpointFile(dir.path, recoveryPointCheckpointName);
    const logStartOffsets = await readCheckpointFile(dir.path, logStartOffsetCheckpointName);
    const cleanerOffsets = await readCheckpointFile(dir.path, cleanerOffsetCheckpointName);
    for (const [key, entry] of cleanerOffsets) dir.firstDirtyOffsets.set(key, entry.offset);
    const entries = await readdir(dir.path, { withFileTypes: true });
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
      const log = await PartitionLog.open({
        dir: join(dir.path, entry.name),
        topic: parsed.topic,
        partition: parsed.partition,
        config: parseLogConfig(options.topicOverrides?.(parsed.topic) ?? {}, options.config.defaults),
        clock: options.clock,
        recoveryPoint: recoveryPoints.get(key)?.offset ?? 0,
        logStartOffset: logStartOffsets.get(key)?.offset,
        hadCleanShutdown,
        checkpoints: dir,
        logDirFailureChannel: failures,
      });
      dir.logs.set(key, log);
    }
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

  /** The logs of every log dir that is online. */
  allLogs(): PartitionLog[] {
    return this.liveDirs().flatMap((d) => [...d.logs.values()]);
  }

  /** Which online log dir holds each partition count; new partitions go to the smallest. */
  partitionCountsByDir(): Map<string, number> {
    return new Map(this.liveDirs().map((d) => [d.path, d.logs.size + d.creating]));
  }

  /**
   * The partition's log, created on the log dir with the fewest partitions if it does not exist.
   * `topicOverrides` (topic keys) apply when it is created; bad ones throw LogConfigError. A log in
   * an offline dir, or one to create while no dir is online (or, unless `isNew`, while any dir is
   * offline), throws KafkaStorageError.
   */
  async getOrCreateLog(
    topic: string,
    partition: number,
    topicOverrides: ConfigProps = {},
    options: GetOrCreateLogOptions = {},
  ): Promise<PartitionLog> {
    if (this.closed) throw new Error('log manager is closed');
    if (!topicNamePattern.test(topic) || topic === '.' || topic === '..') {
      throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, `illegal topic name '${topic}'`);
    }
    if (!Number.isSafeInteger(partition) || partition < 0 || partition > 0x7fff_ffff) {
      throw new KafkaError(ErrorCode.INVALID_PARTITIONS, `illegal partition ${partition}`);
    }
    const existing = this.getLog(topic, partition);
    if (existing?.isOffline) {
      throw new KafkaStorageError(existing.logDir, `${existing.name}: log dir ${existing.logDir} is offline`);
    }
    if (existing !== undefined) return existing;
    const key = partitionKey(topic, partition);
    const inFlight = this.pending.get(key);
    if (inFlight !== undefined) return inFlight;
    const config = parseLogConfig(topicOverrides, this.options.config.defaults);
    const live = this.liveDirs();
    const offline = this.logDirFailureChannel.offlineLogDirs;
    if (live.length === 0 || (offline.length > 0 && options.isNew === false)) {
      throw new KafkaStorageError(
        offline[0]?.logDir ?? '',
        `${key}: not created while log dir(s) ${offline.map((failure) => failure.logDir).join(', ')} are offline`,
      );
    }
    let target = live[0]!;
    for (const dir of live) {
      if (dir.logs.size + dir.creating < target.logs.size + target.creating) target = dir;
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
          logDirFailureChannel: this.logDirFailureChannel,
        });
        // The partition directory itself must survive a crash once the log is in use.
        await fsyncDirectory(target.path);
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

  /** Applies retention to every log; returns the number of segments deleted. */
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
      for (const dir of this.liveDirs()) {
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
    if (this.closed) return;
    await eachDir(this.liveDirs(), (dir) => dir.writeRecoveryPoints());
  }

  async checkpointLogStartOffsets(): Promise<void> {
    if (this.closed) return;
    await eachDir(this.liveDirs(), (dir) => dir.writeLogStartOffsets());
  }

  /**
   * Closes every log as a crash leaves it: nothing flushed, no checkpoint written, no clean-shutdown
   * marker, so the next open recovers every log as after kill -9. An operation already under way on
   * a log finishes first (its files cannot close under it); anything asked afterwards fails. For a
   * node killed inside a process shared with others (in-process test clusters); close() is the
   * shutdown.
   */
  async abandon(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.pending.values()].map((p) => p.catch(() => undefined)));
    for (const dir of this.dirs) {
      for (const log of dir.logs.values()) await log.closeAfterFailure('the node was killed');
    }
  }

  /**
   * Clean shutdown: flush and close every log, write both checkpoints, then the marker. The marker is
   * written last, so a crash during close is an unclean shutdown.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.pending.values()].map((p) => p.catch(() => undefined)));
    // An offline dir gets no checkpoint and no marker: the next start recovers what it can there.
    for (const dir of this.liveDirs()) {
      for (const log of dir.logs.values()) await log.close();
      await dir.writeRecoveryPoints();
      await dir.writeLogStartOffsets();
      for (const log of dir.logs.values()) {
        invariant(log.recoveryPoint === log.logEndOffset, () => `${log.name}: closed with unflushed data`);
      }
      await writeFileAtomically(dir.path, cleanShutdownFileName, '');
    }
  }
}

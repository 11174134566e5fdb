// The partition logs of one broker across its `log.dirs`. It finds existing partitions on open
// (log-dirs-loader.ts), places new ones on the log dir holding the fewest partitions, deletes
// partitions, runs retention, flushes and the cleaner over every log, and owns the per-log-dir
// files (log-directory.ts):
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
//
// Descriptors: every file of every log goes through one FileHandleCache of `openFilesMax` handles.
// A partition that cannot be opened because the process ran out of descriptors (EMFILE/ENFILE) is
// left unopened, reported to `onLogOpenFailure` and opened again on its next getOrCreateLog: the
// other partitions open and serve. Its checkpoint entries are kept as they were, and its log dir
// gets no clean-shutdown marker while it is unopened (its files were never checked).

import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock, TimerScheduler } from '@gregor/ground';
import { invariant, systemTimers } from '@gregor/ground';
import { ErrorCode, KafkaError } from '@gregor/protocol';
import { ConcurrencyLimit, forEachConcurrently } from './bounded-concurrency.js';
import { fsyncDirectory, partitionKey, writeFileAtomically } from './checkpoint-file.js';
import {
  asTooManyOpenFiles,
  FileHandleCache,
  type FileHandleCacheStats,
  type FileOpener,
  type TooManyOpenFilesError,
} from './file-handle-cache.js';
import { type CleanerRunOptions, type CleanerRunStats, LogCleanerRunner } from './log-cleaner-runner.js';
import {
  type BrokerLogConfig,
  type ConfigProps,
  defaultLogCleanerConfig,
  type LogCleanerConfig,
  parseLogConfig,
} from './log-config.js';
import { LogDirCopyPacer } from './log-dir-copy-pacer.js';
import { isIoError, KafkaStorageError, LogDirFailureChannel } from './log-dir-failure-channel.js';
import { type LogDirCopyThrottle, LogDirMove } from './log-dir-move.js';
import { eachDir, type LogDirectory } from './log-directory.js';
import {
  cleanShutdownFileName,
  type InterruptedMove,
  loadLogDirs,
  openOptions,
  topicNamePattern,
} from './log-dirs-loader.js';
import { PartitionLog } from './partition-log.js';
import { deletedDirSuffix } from './segment-files.js';

export { cleanShutdownFileName, logOpenConcurrencyPerDir, metadataTopicName } from './log-dirs-loader.js';
/** Logs closed, renamed or removed at once when partitions are deleted. */
export const logDeleteConcurrency = 16;

export type { CleanerRunOptions, CleanerRunStats } from './log-cleaner-runner.js';

export interface LogManagerOptions {
  readonly config: BrokerLogConfig;
  readonly clock: Clock;
  /** Topic-level overrides (topic keys) for a topic, from the cluster metadata; none by default. */
  readonly topicOverrides?: (topic: string) => ConfigProps;
  /** File descriptors storage may hold open at once (the broker sizes it from `ulimit -n`). */
  readonly openFilesMax?: number;
  /** Tests: how a file is opened (a fault injector); fs.promises.open by default. */
  readonly openFile?: FileOpener;
  /** A partition could not be opened at start-up for lack of descriptors; it stays unopened. */
  readonly onLogOpenFailure?: (partition: string, error: TooManyOpenFilesError) => void;
  /** Where failed log dirs are reported (the broker listens there); a private one when absent. */
  readonly logDirFailureChannel?: LogDirFailureChannel;
  /** Bytes a log dir move copies per step (log-dir-move.ts); logDirMoveReadBytesMax by default. */
  readonly logDirMoveReadBytesMax?: number;
  /**
   * What paces a log dir move's copy (replica.alter.log.dirs.io.max.bytes.per.second, from the
   * broker's dynamic config); unpaced when absent.
   */
  readonly logDirCopyThrottle?: LogDirCopyThrottle;
  /** Where a paced copy waits; systemTimers by default. */
  readonly timers?: TimerScheduler;
  /**
   * Tests: how a log dir move renames directories (a pause or a crash between its renames);
   * fs.promises.rename by default.
   */
  readonly renameDir?: (from: string, to: string) => Promise<void>;
}

/** What AlterReplicaLogDirs asked of one partition came to (LogManager.moveLogDir). */
export type LogDirMoveStart =
  | { readonly errorCode: typeof ErrorCode.NONE; readonly moving: false }
  | { readonly errorCode: typeof ErrorCode.NONE; readonly moving: true; readonly done: Promise<void> }
  | {
      readonly errorCode:
        | typeof ErrorCode.LOG_DIR_NOT_FOUND
        | typeof ErrorCode.KAFKA_STORAGE_ERROR
        | typeof ErrorCode.REPLICA_NOT_AVAILABLE;
      readonly message: string;
    };

/** A future replica (log-dir-move.ts) while it copies: DescribeLogDirs reports it with isFuture. */
export interface FutureLogInfo {
  readonly logDir: string;
  readonly topic: string;
  readonly partition: number;
  readonly sizeBytes: number;
  /** How far it is behind the current log's end (Kafka's offsetLag of a future replica). */
  readonly offsetLag: number;
}

/** A partition to delete, and what makes its renamed directory unique (Kafka: the topic id). */
export interface LogToDelete {
  readonly topic: string;
  readonly partition: number;
  readonly suffix: string;
}

export interface GetOrCreateLogOptions {
  /**
   * The partition is new to this broker (Kafka's `isNew`): it may be created even while a log dir
   * is offline. A replica that should already exist is not created again elsewhere while a dir is
   * offline: its data may be on that dir, and an empty log in its place could be elected.
   */
  readonly isNew?: boolean;
}

export class LogManager {
  private readonly dirs: LogDirectory[];
  private readonly pending = new Map<string, Promise<PartitionLog>>();
  private closed = false;
  private readonly cleanerRunner = new LogCleanerRunner();
  /** Partitions moving to another log dir (AlterReplicaLogDirs), by partition key. */
  private readonly moves = new Map<string, LogDirMove>();
  /**
   * Per move, the end of it as callers see it: once its checkpoints were written too. A request that
   * joins a move under way (a resumed one included) waits for that, and close() for every one, so no
   * checkpoint write of a move outlives the manager.
   */
  private readonly moveEnds = new Map<LogDirMove, Promise<void>>();
  /**
   * What every move shares: one pace for the broker's copy throttle, and as many copy steps at once
   * as there are log dirs (Kafka's num.replica.alter.log.dirs.threads default).
   */
  private readonly moveShared: { readonly pacer: LogDirCopyPacer; readonly copySteps: ConcurrencyLimit };
  /**
   * Per partition, the end of the moveLogDir requests before (each waits for the one before it to
   * have started its move, or not): two requests that both saw the same move running and waited for
   * its cancellation would otherwise both start one, copying the same log side by side.
   */
  private readonly moveRequests = new Map<string, Promise<unknown>>();

  private constructor(
    private readonly options: LogManagerOptions,
    dirs: LogDirectory[],
    private readonly files: FileHandleCache,
    readonly logDirFailureChannel: LogDirFailureChannel,
  ) {
    this.dirs = dirs;
    this.moveShared = {
      pacer: new LogDirCopyPacer(),
      copySteps: new ConcurrencyLimit(Math.max(1, dirs.length)),
    };
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
   * Opens every log dir and every partition in it (log-dirs-loader.ts): a dir with the clean-shutdown
   * marker skips re-validation, and the markers are removed once every log is open.
   */
  static async open(options: LogManagerOptions): Promise<LogManager> {
    const files = new FileHandleCache(options.openFilesMax, options.openFile);
    const failures = options.logDirFailureChannel ?? new LogDirFailureChannel();
    const { dirs, interruptedMoves } = await loadLogDirs(options, files, failures);
    const manager = new LogManager(options, dirs, files, failures);
    await manager.resumeInterruptedMoves(interruptedMoves);
    return manager;
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

  /** The logs of every log dir that is online. */
  allLogs(): PartitionLog[] {
    return this.liveDirs().flatMap((d) => [...d.logs.values()]);
  }

  /** Which online log dir holds each partition count; new partitions go to the smallest. */
  partitionCountsByDir(): Map<string, number> {
    return new Map(this.liveDirs().map((d) => [d.path, d.partitionCount]));
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
    const key = partitionKey(topic, partition);
    const inFlight = this.pending.get(key);
    if (inFlight !== undefined) return inFlight;
    if (existing?.needsReopen) {
      const holder = this.dirs.find((dir) => dir.logs.get(key) === existing)!;
      return this.reopen(holder, key, topicOverrides, this.setAsideForReopen(holder, key, existing));
    }
    if (existing !== undefined) return existing;
    const unopenedIn = this.dirs.find((dir) => dir.unopened.has(key));
    if (unopenedIn?.isOffline) {
      throw new KafkaStorageError(unopenedIn.path, `${key}: log dir ${unopenedIn.path} is offline`);
    }
    if (unopenedIn !== undefined) return this.reopen(unopenedIn, key, topicOverrides);
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
          logDirFailureChannel: this.logDirFailureChannel,
        });
        // The partition directory itself must survive a crash once the log is in use.
        await fsyncDirectory(target.path, this.files);
        // A new log is all dirty: no bookmark an earlier log of that name left here applies.
        target.firstDirtyOffsets.delete(key);
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
   * A log whose operation ran out of descriptors halfway (`needsReopen`): it closes without writing
   * and waits as unopened, to be opened again from its files, recovered from its recovery point as
   * after a crash. The maps change at once; the returned promise is the close.
   */
  private setAsideForReopen(dir: LogDirectory, key: string, log: PartitionLog): Promise<void> {
    dir.logs.delete(key);
    dir.unopened.set(key, {
      topic: log.topic,
      partition: log.partition,
      recoveryPoint: log.recoveryPoint,
      logStartOffset: log.logStartOffset,
      hadCleanShutdown: false,
    });
    return log.closeWithoutWriting();
  }

  /**
   * Opens a partition that was left unopened (at start-up, or set aside after running out of
   * descriptors), in its own log dir and from its own checkpoints (never a new, empty log
   * elsewhere), once `closing` (the old log's close) is done. Failing again, it stays unopened.
   */
  private reopen(
    dir: LogDirectory,
    key: string,
    topicOverrides: ConfigProps,
    closing: Promise<void> = Promise.resolve(),
  ): Promise<PartitionLog> {
    const entry = dir.unopened.get(key)!;
    const opening = (async () => {
      try {
        await closing;
        const options = openOptions(
          dir,
          entry,
          this.options.config,
          this.options,
          this.files,
          this.logDirFailureChannel,
        );
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

  /**
   * AlterReplicaLogDirs for one partition (Kafka's ReplicaManager.alterReplicaLogDirs): `logDir`
   * must be one of `log.dirs` (LOG_DIR_NOT_FOUND) and online (KAFKA_STORAGE_ERROR); a partition
   * without a log here is REPLICA_NOT_AVAILABLE. Already there, nothing is done (a move elsewhere
   * under way is cancelled); otherwise a future replica starts copying there (log-dir-move.ts) and
   * `done` settles when it is swapped in, cancelled or failed. A move to the same dir already under
   * way goes on. `uniqueId` names the future directory (Kafka: a random UUID). Requests for one
   * partition are taken one at a time, in order.
   */
  moveLogDir(topic: string, partition: number, logDir: string, uniqueId: string): Promise<LogDirMoveStart> {
    const key = partitionKey(topic, partition);
    const before = this.moveRequests.get(key) ?? Promise.resolve();
    const request = before.then(() => this.moveLogDirNow(topic, partition, logDir, uniqueId));
    const settled = request.catch(() => undefined);
    this.moveRequests.set(key, settled);
    void settled.then(() => {
      if (this.moveRequests.get(key) === settled) this.moveRequests.delete(key);
    });
    return request;
  }

  private async moveLogDirNow(
    topic: string,
    partition: number,
    logDir: string,
    uniqueId: string,
  ): Promise<LogDirMoveStart> {
    const target = this.dirs.find((dir) => dir.path === logDir);
    if (target === undefined) {
      return { errorCode: ErrorCode.LOG_DIR_NOT_FOUND, message: `${logDir} is not one of log.dirs` };
    }
    if (target.isOffline || this.closed) {
      return { errorCode: ErrorCode.KAFKA_STORAGE_ERROR, message: `log dir ${logDir} is offline` };
    }
    const key = partitionKey(topic, partition);
    const log = this.getLog(topic, partition);
    if (log === undefined) {
      return { errorCode: ErrorCode.REPLICA_NOT_AVAILABLE, message: `${key} has no replica on this broker` };
    }
    if (log.isOffline) {
      return {
        errorCode: ErrorCode.KAFKA_STORAGE_ERROR,
        message: `${key}: log dir ${log.logDir} is offline`,
      };
    }
    const running = this.moves.get(key);
    if (running?.targetLogDir === logDir)
      return { errorCode: ErrorCode.NONE, moving: true, done: this.moveEnds.get(running) ?? running.done };
    await running?.cancel();
    if (this.getLog(topic, partition) !== log || log.logDir === logDir)
      return { errorCode: ErrorCode.NONE, moving: false };
    // Kafka creates no future replica while a dir is offline: one could exist there already.
    if (this.logDirFailureChannel.offlineLogDirs.length > 0) {
      return {
        errorCode: ErrorCode.KAFKA_STORAGE_ERROR,
        message: `${key}: not moved while a log dir is offline`,
      };
    }
    const source = this.dirs.find((dir) => dir.logs.get(key) === log)!;
    return {
      errorCode: ErrorCode.NONE,
      moving: true,
      done: this.startMove(log, source, target, uniqueId, false),
    };
  }

  /**
   * The future replicas a restart found (as Kafka resumes them): each one whose partition's log is
   * open in another online dir, with no dir offline, is reopened (its log checked as any log after
   * an unclean shutdown) and its copy goes on from its end (log-dir-move.ts keeps only what matches
   * the log); any other (the partition is gone, unopened, in that same dir, a second future of it)
   * is removed.
   */
  private async resumeInterruptedMoves(interrupted: readonly InterruptedMove[]): Promise<void> {
    for (const { dir: target, name, topic, partition, uniqueId } of interrupted) {
      const key = partitionKey(topic, partition);
      const log = this.getLog(topic, partition);
      const source = this.dirs.find((dir) => dir.logs.get(key) === log);
      if (
        log === undefined ||
        source === undefined ||
        source === target ||
        this.moves.has(key) ||
        this.logDirFailureChannel.offlineLogDirs.length > 0
      ) {
        const doomed = join(target.path, name);
        await this.files.withTransientDescriptor(doomed, () => rm(doomed, { recursive: true, force: true }));
        continue;
      }
      this.startMove(log, source, target, uniqueId, true);
    }
  }

  /** Starts a move (resuming its future directory or not); the promise settles when it ended. */
  private startMove(
    log: PartitionLog,
    source: LogDirectory,
    target: LogDirectory,
    uniqueId: string,
    resume: boolean,
  ): Promise<void> {
    const key = partitionKey(log.topic, log.partition);
    const move = new LogDirMove({
      source: log,
      target,
      uniqueId,
      resume,
      clock: this.options.clock,
      files: this.files,
      logDirFailureChannel: this.logDirFailureChannel,
      ...(this.options.logDirMoveReadBytesMax === undefined
        ? {}
        : { readBytesMax: this.options.logDirMoveReadBytesMax }),
      ...(this.options.logDirCopyThrottle === undefined ? {} : { throttle: this.options.logDirCopyThrottle }),
      timers: this.options.timers ?? systemTimers,
      ...(this.options.renameDir === undefined ? {} : { renameDir: this.options.renameDir }),
      shared: this.moveShared,
      onSwapped: (exactCopy) => {
        source.logs.delete(key);
        target.logs.set(key, log);
        // The cleaner's bookmark goes with the log only when the log is the one it was kept for:
        // a copy of segments the cleaner rewrote meanwhile is uncleaned there, and a bookmark above
        // uncleaned records could let a tombstone go before its older records (log-cleaner.ts).
        // Without one the next cleaning starts at the log start. Nothing of another log of that
        // name stays in the target dir.
        const firstDirty = source.firstDirtyOffsets.get(key);
        source.firstDirtyOffsets.delete(key);
        target.firstDirtyOffsets.delete(key);
        if (firstDirty !== undefined && exactCopy) target.firstDirtyOffsets.set(key, firstDirty);
      },
    });
    this.moves.set(key, move);
    const done = move.done.finally(async () => {
      if (this.moves.get(key) === move) this.moves.delete(key);
      if (this.closed) return;
      // Both dirs' checkpoints without the moved partition, or with it.
      await eachDir(
        [source, target].filter((dir) => !dir.isOffline),
        async (dir) => {
          await dir.writeRecoveryPoints();
          await dir.writeLogStartOffsets();
          await dir.writeCleanerOffsets();
        },
      ).catch(() => undefined);
    });
    this.moveEnds.set(move, done);
    const forget = () => {
      this.moveEnds.delete(move);
    };
    done.then(forget, forget);
    return done;
  }

  /** The future replicas copying now (DescribeLogDirs). */
  futureLogs(): FutureLogInfo[] {
    return [...this.moves.values()].flatMap((move) => {
      const future = move.future;
      const current = future === undefined ? undefined : this.getLog(future.topic, future.partition);
      if (future === undefined || current === undefined) return [];
      return [
        {
          logDir: move.targetLogDir,
          topic: future.topic,
          partition: future.partition,
          sizeBytes: future.sizeBytes,
          offsetLag: Math.max(0, current.logEndOffset - future.logEndOffset),
        },
      ];
    });
  }

  private async cancelMoves(): Promise<void> {
    await Promise.all([...this.moves.values()].map((move) => move.cancel()));
    // A move that ended just before may still be writing its checkpoints.
    await Promise.all([...this.moveEnds.values()].map((end) => end.catch(() => undefined)));
  }

  /** Deletes one partition's log (see deleteLogs). */
  deleteLog(topic: string, partition: number, suffix: string): Promise<void> {
    return this.deleteLogs([{ topic, partition, suffix }]);
  }

  /**
   * Deletes partitions' logs, as Kafka's LogManager.asyncDelete: each log closes without writing
   * (its data is going), its directory is renamed to `<topic>-<partition>.<suffix>-delete` (which
   * `open` never loads) and forgotten; then each dir's checkpoints are written once for the whole
   * batch (a topic of 10,000 partitions is deleted with one checkpoint write per dir, not 10,000),
   * and the files are removed. The partitions can be created again at once (a topic deleted and made
   * again under its name; `suffix`, e.g. the old topic id, keeps the renamed directories apart). On
   * an offline dir the files stay until a restart. A rename that fails takes its dir offline; the
   * others still go, and the first failure is thrown at the end.
   */
  async deleteLogs(doomedLogs: readonly LogToDelete[]): Promise<void> {
    const renamedDirs = new Set<LogDirectory>();
    const cleanerCheckpointDirs = new Set<LogDirectory>();
    const renamed: string[] = [];
    let firstFailure: unknown;
    await forEachConcurrently(doomedLogs, logDeleteConcurrency, async ({ topic, partition, suffix }) => {
      const key = partitionKey(topic, partition);
      await this.pending.get(key)?.catch(() => undefined);
      await this.moves.get(key)?.cancel();
      const dir = this.dirs.find((candidate) => candidate.logs.has(key) || candidate.unopened.has(key));
      if (dir === undefined) return;
      const log = dir.logs.get(key);
      dir.logs.delete(key);
      dir.unopened.delete(key);
      if (dir.firstDirtyOffsets.delete(key)) cleanerCheckpointDirs.add(dir);
      await log?.closeWithoutWriting();
      if (dir.isOffline) return;
      const path = join(dir.path, key);
      const doomed = `${path}${deletedDirSuffix(suffix)}`;
      try {
        await rename(path, doomed);
        renamedDirs.add(dir);
        renamed.push(doomed);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // nothing on disk
        if (!isIoError(error)) {
          firstFailure ??= error;
          return;
        }
        // The directory keeps its name: a log created again here would find the old data.
        const reason = `${key}: renaming it for deletion failed: ${error.code} (${error.message})`;
        this.logDirFailureChannel.maybeAddOfflineLogDir(dir.path, reason);
        firstFailure ??= new KafkaStorageError(dir.path, reason);
      }
    });
    // The partitions are gone from here on; what fails now leaves renamed directories that the next
    // start removes, and checkpoints the next checkpoint run writes (a failed dir was reported).
    const settle = (error: unknown): void => {
      if (!isIoError(error) && !(error instanceof KafkaError)) throw error;
    };
    for (const dir of renamedDirs) {
      if (dir.isOffline) continue;
      await fsyncDirectory(dir.path, this.files).catch(settle);
      await dir.writeRecoveryPoints().catch(settle);
      await dir.writeLogStartOffsets().catch(settle);
    }
    for (const dir of cleanerCheckpointDirs) {
      if (!dir.isOffline) await dir.writeCleanerOffsets().catch(settle);
    }
    await forEachConcurrently(renamed, logDeleteConcurrency, (doomed) =>
      this.files
        .withTransientDescriptor(doomed, () => rm(doomed, { recursive: true, force: true }))
        .catch(settle),
    );
    if (firstFailure !== undefined) throw firstFailure;
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
   * The log cleaner (Kafka's LogCleaner, one thread) over the logs of the live dirs: see
   * log-cleaner-runner.ts. The broker calls this every log.cleaner.backoff.ms; a call while one is
   * running returns no cleanings.
   */
  async runCleaner(options: CleanerRunOptions = {}): Promise<CleanerRunStats> {
    const cleanerConfig = this.cleanerConfig;
    if (!cleanerConfig.enable || this.closed) return LogCleanerRunner.nothingCleaned();
    return this.cleanerRunner.run(
      this.liveDirs(),
      cleanerConfig,
      options.nowMs ?? this.options.clock.nowMs(),
      {
        upperBoundOffset: options.upperBoundOffset,
        isClosed: () => this.closed,
      },
    );
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
    await this.cancelMoves();
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
    await this.cancelMoves();
    await Promise.all([...this.pending.values()].map((p) => p.catch(() => undefined)));
    // An offline dir gets no checkpoint and no marker: the next start recovers what it can there.
    for (const dir of this.liveDirs()) {
      for (const [key, log] of [...dir.logs]) {
        try {
          if (!log.needsReopen) await log.close();
        } catch (error) {
          if (asTooManyOpenFiles(error, log.dir) === undefined) throw error;
        }
        // A log an operation left halfway for lack of descriptors is recovered on the next start.
        if (log.needsReopen) await this.setAsideForReopen(dir, key, log);
      }
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

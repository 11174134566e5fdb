// The partition logs the ReplicaManager needs, as a narrow interface over storage's LogManager.
//
// Deleting partitions is storage's LogManager.deleteLogs (close, rename to `.<suffix>-delete`,
// checkpoints once per dir, remove): the same partition name can be created again in the same
// process, as when a topic is deleted and made again under its name.

import type {
  ConfigProps,
  FutureLogInfo,
  GetOrCreateLogOptions,
  LogDirMoveStart,
  LogManager,
  LogToDelete,
  PartitionLog,
} from '@gregor/storage';
import { KafkaStorageError, LogClosedError, TooManyOpenFilesError } from '@gregor/storage';

export interface LogStore {
  getLog(topic: string, partition: number): PartitionLog | undefined;
  /**
   * The partition's log, created with these topic-level overrides if it does not exist. A log on an
   * offline dir, or (unless `isNew`) a missing one while a dir is offline, throws KafkaStorageError.
   */
  getOrCreateLog(
    topic: string,
    partition: number,
    topicOverrides: ConfigProps,
    options?: GetOrCreateLogOptions,
  ): Promise<PartitionLog>;
  /** Closes and removes partitions' logs; `suffix` makes each renamed directory unique (topic id). */
  deleteLogs(logs: readonly LogToDelete[]): Promise<void>;
  /**
   * Retention over every log, each bounded by its high watermark (segments at or above it are
   * kept); returns the number of segments deleted.
   */
  runRetention(highWatermarkOf: (topic: string, partition: number) => number | undefined): Promise<number>;
  /** Flushes every log whose flush.ms / flush.messages is due; returns how many flushed. */
  flushDueLogs(): Promise<number>;
  checkpointRecoveryPoints(): Promise<void>;
  /** Every `log.dirs` entry in order: whether it failed, and the logs it holds if it did not. */
  logDirs(): readonly LogDirContents[];
  /** AlterReplicaLogDirs: moves a partition's log to `logDir` (storage's LogManager.moveLogDir). */
  moveLogDir(topic: string, partition: number, logDir: string, uniqueId: string): Promise<LogDirMoveStart>;
}

export interface LogDirContents {
  readonly logDir: string;
  readonly offline: boolean;
  readonly logs: readonly PartitionLog[];
  /** Future replicas copying into this dir (AlterReplicaLogDirs), reported with isFuture. */
  readonly futures: readonly FutureLogInfo[];
}

export class LogManagerStore implements LogStore {
  constructor(private readonly logManager: LogManager) {}

  getLog(topic: string, partition: number): PartitionLog | undefined {
    return this.logManager.getLog(topic, partition);
  }

  logDirs(): readonly LogDirContents[] {
    const offline = new Set(this.logManager.offlineLogDirs.map((failure) => failure.logDir));
    const online = this.logManager.allLogs();
    const futures = this.logManager.futureLogs();
    return this.logManager.logDirs.map((logDir) => ({
      logDir,
      offline: offline.has(logDir),
      logs: offline.has(logDir) ? [] : online.filter((log) => log.logDir === logDir),
      futures: offline.has(logDir) ? [] : futures.filter((future) => future.logDir === logDir),
    }));
  }

  moveLogDir(topic: string, partition: number, logDir: string, uniqueId: string): Promise<LogDirMoveStart> {
    return this.logManager.moveLogDir(topic, partition, logDir, uniqueId);
  }

  getOrCreateLog(
    topic: string,
    partition: number,
    topicOverrides: ConfigProps,
    options: GetOrCreateLogOptions = {},
  ): Promise<PartitionLog> {
    return this.logManager.getOrCreateLog(topic, partition, topicOverrides, options);
  }

  deleteLogs(logs: readonly LogToDelete[]): Promise<void> {
    return this.logManager.deleteLogs(logs);
  }

  async runRetention(
    highWatermarkOf: (topic: string, partition: number) => number | undefined,
  ): Promise<number> {
    let deletedSegments = 0;
    for (const log of this.logManager.allLogs()) {
      const highWatermark = highWatermarkOf(log.topic, log.partition);
      deletedSegments += await skipIfUnavailable(
        () => log.deleteOldSegments(highWatermark === undefined ? {} : { highWatermark }),
        0,
      );
    }
    return deletedSegments;
  }

  async flushDueLogs(): Promise<number> {
    let flushed = 0;
    for (const log of this.logManager.allLogs()) {
      if (await skipIfUnavailable(() => log.flushIfDue(), false)) flushed += 1;
    }
    return flushed;
  }

  checkpointRecoveryPoints(): Promise<void> {
    return this.logManager.checkpointRecoveryPoints();
  }
}

/**
 * Maintenance skips a log that cannot take it now: one deleted while maintenance walks the list is
 * closed under it; one whose log dir failed refuses everything (the failure went to the
 * LogDirFailureChannel); one short of descriptors (TooManyOpenFilesError) is tried again on the
 * next run, and the other logs are still maintained.
 */
async function skipIfUnavailable<T>(operation: () => Promise<T>, whenUnavailable: T): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof LogClosedError) return whenUnavailable;
    if (error instanceof KafkaStorageError) return whenUnavailable;
    if (error instanceof TooManyOpenFilesError) return whenUnavailable;
    throw error;
  }
}

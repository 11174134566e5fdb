// The partition logs the ReplicaManager needs, as a narrow interface over storage's LogManager.
//
// LogManager has no way to delete a partition yet (asked of storage: `LogManager.deleteLog`). Until
// it has, this adapter deletes the way Kafka does (close the log, rename its directory to
// `<topic>-<partition>.<suffix>-delete`, which LogManager.open never loads, then remove it) and
// remembers the deleted partitions: LogManager still holds their closed PartitionLog objects, so the
// adapter skips them in retention and flushing (which would throw on a closed log) and refuses to
// hand one out again. Re-creating a deleted partition name in the same process therefore fails with
// KAFKA_STORAGE_ERROR until the broker restarts; a LogManager.deleteLog removes that limit.

import { rename, rm } from 'node:fs/promises';
import { ErrorCode, KafkaError } from '@gregor/protocol';
import type { ConfigProps, GetOrCreateLogOptions, LogManager, PartitionLog } from '@gregor/storage';
import { KafkaStorageError, LogClosedError, partitionKey, TooManyOpenFilesError } from '@gregor/storage';

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
  /** Closes and removes the partition's log; `suffix` makes the renamed directory unique (topic id). */
  deleteLog(topic: string, partition: number, suffix: string): Promise<void>;
  /**
   * Retention over every log, each bounded by its high watermark (segments at or above it are
   * kept); returns the number of segments deleted.
   */
  runRetention(highWatermarkOf: (topic: string, partition: number) => number | undefined): Promise<number>;
  /** Flushes every log whose flush.ms / flush.messages is due; returns how many flushed. */
  flushDueLogs(): Promise<number>;
  checkpointRecoveryPoints(): Promise<void>;
}

export class LogManagerStore implements LogStore {
  private readonly deleted = new Set<string>();

  constructor(private readonly logManager: LogManager) {}

  getLog(topic: string, partition: number): PartitionLog | undefined {
    if (this.deleted.has(partitionKey(topic, partition))) return undefined;
    return this.logManager.getLog(topic, partition);
  }

  async getOrCreateLog(
    topic: string,
    partition: number,
    topicOverrides: ConfigProps,
    options: GetOrCreateLogOptions = {},
  ): Promise<PartitionLog> {
    const key = partitionKey(topic, partition);
    if (this.deleted.has(key)) {
      throw new KafkaError(
        ErrorCode.KAFKA_STORAGE_ERROR,
        `${key} was deleted in this process; it can be created again after a restart`,
      );
    }
    return this.logManager.getOrCreateLog(topic, partition, topicOverrides, options);
  }

  async deleteLog(topic: string, partition: number, suffix: string): Promise<void> {
    const key = partitionKey(topic, partition);
    const log = this.getLog(topic, partition);
    this.deleted.add(key);
    if (log === undefined) return;
    await log.close();
    const doomed = `${log.dir}.${suffix}-delete`;
    await rename(log.dir, doomed);
    await rm(doomed, { recursive: true, force: true });
  }

  async runRetention(
    highWatermarkOf: (topic: string, partition: number) => number | undefined,
  ): Promise<number> {
    let deletedSegments = 0;
    for (const log of this.liveLogs()) {
      const highWatermark = highWatermarkOf(log.topic, log.partition);
      deletedSegments += await skipIfClosed(
        () => log.deleteOldSegments(highWatermark === undefined ? {} : { highWatermark }),
        0,
      );
    }
    return deletedSegments;
  }

  async flushDueLogs(): Promise<number> {
    let flushed = 0;
    for (const log of this.liveLogs()) if (await skipIfClosed(() => log.flushIfDue(), false)) flushed += 1;
    return flushed;
  }

  checkpointRecoveryPoints(): Promise<void> {
    return this.logManager.checkpointRecoveryPoints();
  }

  private liveLogs(): PartitionLog[] {
    return this.logManager
      .allLogs()
      .filter((log) => !this.deleted.has(partitionKey(log.topic, log.partition)));
  }
}

/**
 * A log deleted while maintenance walks the list is closed under it, and one whose log dir failed
 * refuses everything (the failure went to the LogDirFailureChannel): nothing left to maintain there.
 * One short of descriptors (TooManyOpenFilesError) is tried again on the next run, and the other
 * logs are still maintained.
 */
async function skipIfClosed<T>(operation: () => Promise<T>, whenClosed: T): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    if (error instanceof LogClosedError) return whenClosed;
    if (error instanceof KafkaStorageError) return whenClosed;
    if (error instanceof TooManyOpenFilesError) return whenClosed;
    throw error;
  }
}

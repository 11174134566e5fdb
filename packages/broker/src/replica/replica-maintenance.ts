// The housekeeping of the local replicas, run by the node's maintenance timer: retention when its
// interval is due (never past a partition's high watermark), due flushes, recovery-point
// checkpoints, and the high-watermark checkpoint (Kafka's replication-offset-checkpoint, one per
// log dir, also written on clean shutdown).

import { dirname } from 'node:path';
import { isIoError, isNoSpaceError, writeCheckpointFile } from '@gregor/storage';
import type { Logger } from '../logging.js';
import { descriptorsExhausted, type LocalReplicas } from './local-replicas.js';
import type { LogStore } from './log-store.js';

/** Kafka's `log.retention.check.interval.ms` default. */
export const retentionCheckIntervalMsDefault = 300_000;
/** Kafka's `log.flush.offset.checkpoint.interval.ms` default. */
export const recoveryPointCheckpointIntervalMsDefault = 60_000;
/** Kafka's `replica.high.watermark.checkpoint.interval.ms` default. */
export const highWatermarkCheckpointIntervalMsDefault = 5_000;
/** Kafka's per-log-dir high-watermark checkpoint file. */
export const highWatermarkCheckpointName = 'replication-offset-checkpoint';

/** One line of an offset checkpoint file (storage's format). */
export interface CheckpointEntry {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

export interface ReplicaMaintenanceOptions {
  readonly replicas: LocalReplicas;
  readonly logStore: LogStore;
  readonly logger: Logger;
  readonly startMs: number;
  readonly retentionCheckIntervalMs?: number;
  readonly recoveryPointCheckpointIntervalMs?: number;
  readonly highWatermarkCheckpointIntervalMs?: number;
  /** Tries the set-aside replicas again (the ImageReconciler's). */
  readonly retrySetAsideReplicas: () => Promise<void>;
}

export class ReplicaMaintenance {
  private nextRetentionMs: number;
  private nextRecoveryCheckpointMs: number;
  private nextHighWatermarkCheckpointMs: number;
  private highWatermarkCheckpointing: Promise<void> = Promise.resolve();

  constructor(private readonly options: ReplicaMaintenanceOptions) {
    this.nextRetentionMs = options.startMs + this.retentionCheckIntervalMs;
    this.nextRecoveryCheckpointMs = options.startMs + this.recoveryPointCheckpointIntervalMs;
    this.nextHighWatermarkCheckpointMs = options.startMs + this.highWatermarkCheckpointIntervalMs;
  }

  private get retentionCheckIntervalMs(): number {
    return this.options.retentionCheckIntervalMs ?? retentionCheckIntervalMsDefault;
  }

  private get recoveryPointCheckpointIntervalMs(): number {
    return this.options.recoveryPointCheckpointIntervalMs ?? recoveryPointCheckpointIntervalMsDefault;
  }

  private get highWatermarkCheckpointIntervalMs(): number {
    return this.options.highWatermarkCheckpointIntervalMs ?? highWatermarkCheckpointIntervalMsDefault;
  }

  /** The node calls this on a timer: retention when due, due flushes, recovery-point checkpoints. */
  async maintenance(nowMs: number): Promise<void> {
    const { replicas, logStore } = this.options;
    if (replicas.closed) return;
    // Logs that maintenance or a reader left needing a reopen (no descriptor halfway through).
    for (const partition of [...replicas.partitions.values()]) {
      if (partition.log.needsReopen) replicas.setAsideIfLogNeedsReopen(partition, 'log needs a reopen');
    }
    await this.options.retrySetAsideReplicas();
    if (nowMs >= this.nextRetentionMs) {
      this.nextRetentionMs = nowMs + this.retentionCheckIntervalMs;
      await this.runRetention();
    }
    if (nowMs >= this.nextHighWatermarkCheckpointMs) {
      this.nextHighWatermarkCheckpointMs = nowMs + this.highWatermarkCheckpointIntervalMs;
      await this.checkpointHighWatermarks();
    }
    await logStore.flushDueLogs();
    if (nowMs >= this.nextRecoveryCheckpointMs) {
      this.nextRecoveryCheckpointMs = nowMs + this.recoveryPointCheckpointIntervalMs;
      await logStore.checkpointRecoveryPoints();
    }
  }

  private async runRetention(): Promise<void> {
    const { replicas, logStore, logger } = this.options;
    const deletedSegments = await logStore.runRetention(
      (topic, index) => replicas.get(`${topic}-${index}`)?.highWatermark,
    );
    if (deletedSegments === 0) return;
    logger.info({ deletedSegments }, 'retention deleted segments');
    for (const partition of [...replicas.partitions.values()]) {
      await replicas.exclusive(partition.key, async () => {
        if (replicas.get(partition.key) !== partition) return;
        partition.onLogStartOffsetMoved();
        try {
          await replicas.persistEpochCache(partition);
        } catch (error) {
          // Out of descriptors: set aside, the retry reloads its epochs from the checkpoint.
          if (!descriptorsExhausted(error)) throw error;
          replicas.setReplicaAside(partition.key, partition.topicId, error);
        }
      });
    }
  }

  /**
   * Writes every partition's high watermark to its log dir's replication-offset-checkpoint (Kafka's
   * format). Runs on the maintenance timer every replica.high.watermark.checkpoint.interval.ms and
   * on clean shutdown; writes are serialized.
   */
  checkpointHighWatermarks(): Promise<void> {
    const { replicas } = this.options;
    const run = this.highWatermarkCheckpointing.then(async () => {
      const byDir = new Map<string, CheckpointEntry[]>();
      for (const partition of replicas.partitions.values()) {
        const logDir = dirname(partition.log.dir);
        let entries = byDir.get(logDir);
        if (entries === undefined) {
          entries = [];
          byDir.set(logDir, entries);
        }
        entries.push({ topic: partition.topic, partition: partition.index, offset: partition.highWatermark });
      }
      let firstFailure: unknown;
      for (const [logDir, entries] of byDir) {
        try {
          await writeCheckpointFile(logDir, highWatermarkCheckpointName, entries);
        } catch (error) {
          // A full disk leaves the previous checkpoint (the write is atomic): try again next time;
          // so does no descriptor left (the process's limit, not the disk). Any other I/O failure
          // takes the dir offline. Either way the other dirs are written.
          firstFailure ??= error;
          if (isIoError(error) && !isNoSpaceError(error) && !descriptorsExhausted(error)) {
            replicas.reportLogDirFailure(
              logDir,
              `${logDir}: writing ${highWatermarkCheckpointName} failed: ${error.code}`,
            );
          }
        }
      }
      if (firstFailure !== undefined) throw firstFailure;
    });
    this.highWatermarkCheckpointing = run.catch(() => undefined);
    return run;
  }
}

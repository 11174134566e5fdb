// One entry of `log.dirs` as the LogManager keeps it: the partition logs placed there, those found
// on disk that could not be opened yet, and the dir's checkpoint files, written one at a time
// (recovery-point-offset-checkpoint, log-start-offset-checkpoint, cleaner-offset-checkpoint). A
// checkpoint write that fails for a reason other than a full disk or the process's descriptor
// limit takes the dir offline (see log-dir-failure-channel.ts).

import { join } from 'node:path';
import {
  type CheckpointEntry,
  cleanerOffsetCheckpointName,
  logStartOffsetCheckpointName,
  partitionKey,
  recoveryPointCheckpointName,
  writeCheckpointFile,
} from './checkpoint-file.js';
import { asTooManyOpenFiles, type FileHandleCache } from './file-handle-cache.js';
import {
  isIoError,
  isNoSpaceError,
  KafkaStorageError,
  type LogDirFailureChannel,
} from './log-dir-failure-channel.js';
import type { LogCheckpointListener, PartitionLog } from './partition-log.js';
import { SerialQueue } from './serial-queue.js';

/** Checkpoint writes allowed to wait per log dir; each one rewrites the whole file. */
const checkpointQueueDepthMax = 4096;

/** A partition found on disk whose log could not be opened yet, with what its open needs. */
export interface UnopenedLog {
  readonly topic: string;
  readonly partition: number;
  readonly recoveryPoint: number;
  readonly logStartOffset: number | undefined;
  readonly hadCleanShutdown: boolean;
}

/** One entry of `log.dirs`: its partitions and its checkpoint files. */
export class LogDirectory implements LogCheckpointListener {
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
    private readonly failures: LogDirFailureChannel,
  ) {
    this.queue = new SerialQueue(`log dir ${path}`, checkpointQueueDepthMax);
  }

  get partitionCount(): number {
    return this.logs.size + this.unopened.size + this.creating;
  }

  get isOffline(): boolean {
    return this.failures.isOffline(this.path);
  }

  /**
   * Rewrites a checkpoint file (atomically: tmp file, fsync, rename). On a full disk the old file
   * still stands, so only this write is refused; so it is when no file descriptor is left
   * (TooManyOpenFilesError, the process's limit, not the disk). Any other I/O failure takes the dir
   * offline.
   */
  private writeCheckpoint(name: string, entries: () => readonly CheckpointEntry[]): Promise<void> {
    return this.queue.run(async () => {
      if (this.isOffline) throw new KafkaStorageError(this.path, `log dir ${this.path} is offline`);
      try {
        await writeCheckpointFile(this.path, name, entries(), this.files);
      } catch (error) {
        const exhaustion = asTooManyOpenFiles(error, join(this.path, name));
        if (exhaustion !== undefined) throw exhaustion;
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
        const log = this.logs.get(key) ?? this.unopened.get(key);
        return log === undefined ? [] : [{ topic: log.topic, partition: log.partition, offset }];
      }),
    );
  }

  /**
   * The log-start checkpoint of every log here, and `incoming` too when given: a future replica's
   * log about to be renamed into this dir (log-dir-move.ts). Written before the rename, a crash right
   * after it finds the moved log's start here instead of taking its first segment's base offset,
   * which would serve again records retention or DeleteRecords had removed (an entry whose directory
   * never arrived is ignored at start-up and dropped by the next write).
   */
  writeLogStartOffsets(incoming?: CheckpointEntry): Promise<void> {
    return this.writeCheckpoint(logStartOffsetCheckpointName, () => [
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
      ...(incoming === undefined ? [] : [incoming]),
    ]);
  }

  writeRecoveryPoints(): Promise<void> {
    return this.writeCheckpoint(recoveryPointCheckpointName, () => [
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
    ]);
  }
}

/** Runs `write` on every dir, even after one failed (a full dir must not stop the others), then throws the first failure. */
export async function eachDir(
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

// Moving a partition's log to another of the broker's log dirs (AlterReplicaLogDirs, KIP-113;
// Kafka's future replica and its ReplicaAlterLogDirsThread). A future log is created in the target
// dir as `<topic>-<partition>.<uniqueId>-future`; it copies the current log from its log start,
// batch by batch with their offsets and epochs (follower appends), following the current log's
// truncations, while appends go on; once a copy reached the log end, the current log swaps it in on
// its own queue (PartitionLog.replaceWithFuture): the rest is copied with no append possible, the
// future log is flushed and closed, the directories are renamed, and the log goes on from the
// target dir. The old directory is removed afterwards.
//
// Renames, so that a crash at any point leaves one complete copy under the partition's name:
//   1. <source>/<topic>-<partition>            -> <source>/<topic>-<partition>.<id>-moved
//   2. <target>/<topic>-<partition>.<id>-future -> <target>/<topic>-<partition>
//   3. <source>/<topic>-<partition>.<id>-moved  -> <source>/<topic>-<partition>.<id>-delete, removed
// Open (log-dirs-loader.ts) gives a `-moved` directory its name back when step 2 did not happen,
// and removes it when it did; then (log-manager.ts) a `-future` directory's move is resumed, as
// Kafka resumes it: the future log is reopened and re-validated as after an unclean shutdown, kept
// if its last batch is the log's batch at that offset, and the copy goes on from its end.

import { rename as renameDir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock, TimerHandle, TimerScheduler } from '@gregor/ground';
import { invariant } from '@gregor/ground';
import { ErrorCode } from '@gregor/protocol';
import { validateRecords } from './append-validation.js';
import type { ConcurrencyLimit } from './bounded-concurrency.js';
import { fsyncDirectory, partitionKey } from './checkpoint-file.js';
import type { FileHandleCache } from './file-handle-cache.js';
import { int32Max } from './file-records.js';
import type { LogDirCopyPacer } from './log-dir-copy-pacer.js';
import { inTargetLogDir, type LogDirFailureChannel, TargetLogDirError } from './log-dir-failure-channel.js';
import type { LogDirectory } from './log-directory.js';
import type { LogCheckpointListener } from './log-loader.js';
import { PartitionLog, type TruncationFloor } from './partition-log.js';
import { deletedDirSuffix, futureDirSuffix, movedDirSuffix } from './segment-files.js';

/** Bytes read from the current log per copy step, by default. */
export const logDirMoveReadBytesMax = 1024 * 1024;

/**
 * Copy steps in a row that may find the future log beyond the current log's end (each waits for
 * the truncation under way); more is a bug, not a race.
 */
export const logDirMoveStepsBeyondEndMax = 100;

/** A future log is in no log dir's checkpoints: a restart re-validates it whole. */
const noCheckpoints: LogCheckpointListener = {
  logStartOffsetChanged: () => Promise.resolve(),
  recoveryPointLowered: () => Promise.resolve(),
};

/**
 * The bound on a copy's reads (replica.alter.log.dirs.io.max.bytes.per.second, as it is at each
 * step) and where the bytes copied are counted (the broker's AlterLogDirsReplication byte rate).
 */
export interface LogDirCopyThrottle {
  /** Bytes/s; 2^63 (Kafka's Long.MAX_VALUE default) or Infinity is unbounded. */
  rateBytesPerSecond(): number;
  recordCopied(bytes: number): void;
}

export interface LogDirMoveOptions {
  readonly source: PartitionLog;
  readonly target: LogDirectory;
  /** Makes the future, moved and deleted directory names unique. */
  readonly uniqueId: string;
  /** The future directory exists (a restart interrupted the move): reopen it and copy on from its end. */
  readonly resume?: boolean;
  readonly clock: Clock;
  readonly files: FileHandleCache;
  readonly logDirFailureChannel: LogDirFailureChannel;
  /** Bytes read from the current log per copy step (logDirMoveReadBytesMax by default). */
  readonly readBytesMax?: number;
  /** Paces the copy before the swap (log-dir-copy-pacer.ts); the swap's catch-up is never held back. */
  readonly throttle?: LogDirCopyThrottle;
  /** Where a paced copy waits. */
  readonly timers: TimerScheduler;
  /** Tests: how directories are renamed (fs.promises.rename when absent). */
  readonly renameDir?: (from: string, to: string) => Promise<void>;
  /**
   * Shared by every move of the broker: the throttle is one broker-wide rate (Kafka's quota), not
   * one per move, and at most so many copy steps run at once, each holding up to `readBytesMax` of
   * read records (a request naming every partition would otherwise copy them all at once).
   */
  readonly shared: { readonly pacer: LogDirCopyPacer; readonly copySteps: ConcurrencyLimit };
  /**
   * On the source log's queue, once the log lives in the target dir. `exactCopy`: the moved log is
   * the source's segments byte for byte (the cleaner swapped none in since the copy began, and the
   * copy did not start before a restart), so the source's cleaner bookmark holds for it.
   */
  readonly onSwapped: (exactCopy: boolean) => void;
}

/** The copy was cancelled (the partition was deleted, the broker closes, another move replaced it). */
class MoveCancelled extends Error {}

export class LogDirMove {
  private cancelled = false;
  private futureLog: PartitionLog | undefined;
  private swapping = false;
  private stepsBeyondEnd = 0;
  /** A paced copy's wait, ended early by cancel(). */
  private pause: { readonly timer: TimerHandle; readonly wake: () => void } | undefined;
  /** Settles when the move ended: swapped, cancelled, or failed (then it rejects). */
  readonly done: Promise<void>;

  constructor(private readonly options: LogDirMoveOptions) {
    this.done = this.run();
    // The owner awaits `done`; an unawaited rejection must not take the process down meanwhile.
    this.done.catch(() => undefined);
  }

  get targetLogDir(): string {
    return this.options.target.path;
  }

  /** The future log while it exists (DescribeLogDirs reports it with isFuture). */
  get future(): PartitionLog | undefined {
    return this.futureLog;
  }

  private get key(): string {
    return partitionKey(this.options.source.topic, this.options.source.partition);
  }

  private get futureDir(): string {
    return join(this.options.target.path, `${this.key}${futureDirSuffix(this.options.uniqueId)}`);
  }

  /** Stops the copy and removes the future log; a swap already under way finishes. */
  async cancel(): Promise<void> {
    this.cancelled = true;
    this.pause?.timer.cancel();
    this.pause?.wake();
    await this.done.catch(() => undefined);
  }

  private async run(): Promise<void> {
    const { source, target, files } = this.options;
    const rename = this.options.renameDir ?? renameDir;
    const futureDir = this.futureDir;
    const resuming = this.options.resume === true;
    if (!resuming) await rm(futureDir, { recursive: true, force: true });
    // A resumed future log is checked as any log after an unclean shutdown (every batch
    // re-validated from the start, a torn tail cut).
    const future = await PartitionLog.open({
      dir: futureDir,
      topic: source.topic,
      partition: source.partition,
      config: source.config,
      clock: this.options.clock,
      recoveryPoint: 0,
      logStartOffset: undefined,
      hadCleanShutdown: false,
      checkpoints: noCheckpoints,
      files,
      logDirFailureChannel: this.options.logDirFailureChannel,
      fullDiskStopsLogOnly: true,
    });
    this.futureLog = future;
    source.takeTruncationFloor();
    const cleanerSwapsBefore = source.cleanerSwaps;
    try {
      if (resuming) await this.keepWhatMatches(future);
      // Copy without holding the log until a step reaches its end; the swap copies the rest.
      const step = () => {
        // A move cancelled while it waited for its turn gives the turn back at once.
        this.throwIfCancelled();
        return this.copyStep(future, false);
      };
      while (!(await this.options.shared.copySteps.run(step))) this.throwIfCancelled();
      this.throwIfCancelled();
      this.swapping = true;
      const sourceDir = source.dir;
      const movedDir = `${sourceDir}${movedDirSuffix(this.options.uniqueId)}`;
      const targetDir = join(target.path, this.key);
      // After a failure in the target dir the log goes on from the source dir. Should the target
      // not even give the future directory back (its dir goes offline), a restart finds the
      // partition in both dirs only if that dir works again.
      const renameBack = async (): Promise<void> => {
        await rename(movedDir, sourceDir);
        await fsyncDirectory(join(sourceDir, '..'), files);
      };
      const moveDirsBack = async (): Promise<void> => {
        await rename(targetDir, futureDir).catch(() => undefined);
        await renameBack();
      };
      await source.replaceWithFuture(future, {
        catchUp: async () => {
          while (!(await this.copyStep(future, true))) {
            // Nothing is appended meanwhile: each step gets closer to the end.
          }
        },
        moveDirs: async () => {
          await inTargetLogDir(target.path, 'log start checkpoint', () =>
            target.writeLogStartOffsets({
              topic: source.topic,
              partition: source.partition,
              offset: source.logStartOffset,
            }),
          );
          // The source dir's own steps fail as the log's (its dir goes offline).
          await rename(sourceDir, movedDir);
          await fsyncDirectory(join(sourceDir, '..'), files);
          try {
            await inTargetLogDir(target.path, 'rename of the future log', () => rename(futureDir, targetDir));
          } catch (error) {
            await renameBack();
            throw error;
          }
          try {
            await inTargetLogDir(target.path, 'fsync', () => fsyncDirectory(target.path, files));
          } catch (error) {
            await moveDirsBack();
            throw error;
          }
        },
        moveDirsBack: () => moveDirsBack(),
        targetDir,
        checkpoints: target,
        onSwapped: () => this.options.onSwapped(!resuming && source.cleanerSwaps === cleanerSwapsBefore),
      });
      this.futureLog = undefined;
      const doomed = `${sourceDir}${deletedDirSuffix(this.options.uniqueId)}`;
      await rename(movedDir, doomed);
      await rm(doomed, { recursive: true, force: true });
    } catch (error) {
      // A failure in the target dir fails the move; an I/O error there (not a full disk) takes
      // that dir offline, as it would any log's failure there. The log's own dir stays online.
      if (error instanceof TargetLogDirError && error.takesDirOffline) {
        this.options.logDirFailureChannel.maybeAddOfflineLogDir(target.path, `${this.key}: ${error.message}`);
      }
      if (this.futureLog !== undefined) {
        this.futureLog = undefined;
        await future.closeWithoutWriting();
        await rm(futureDir, { recursive: true, force: true }).catch(() => undefined);
      }
      if (!(error instanceof MoveCancelled)) throw error;
    }
  }

  private throwIfCancelled(): void {
    if (this.cancelled && !this.swapping) throw new MoveCancelled(`${this.key}: move cancelled`);
  }

  /**
   * A resumed copy goes on from its end only if its last batch is the log's batch there, byte for
   * byte: the same offset and leader epoch mean the same log up to it (the log matching property
   * replication keeps). Otherwise (the log was truncated and took other batches while the copy was
   * not following it) the copy starts again from the log start.
   */
  private async keepWhatMatches(future: PartitionLog): Promise<void> {
    const { source } = this.options;
    if (future.logEndOffset === future.logStartOffset) return;
    const last = future.logEndOffset - 1;
    const [copied, original] = [await future.read(last, 1), await source.read(last, 1)];
    const matches =
      copied.errorCode === ErrorCode.NONE &&
      original.errorCode === ErrorCode.NONE &&
      original.records.equals(copied.records);
    if (!matches) await future.truncateFullyAndStartAt(source.logStartOffset);
  }

  /** The bytes the next copy step may read, once the throttle lets it (at once when unthrottled). */
  private async pacedReadBytesMax(): Promise<number> {
    const readBytesMax = this.options.readBytesMax ?? logDirMoveReadBytesMax;
    const { throttle, clock, timers } = this.options;
    if (throttle === undefined) return readBytesMax;
    for (;;) {
      const pace = this.options.shared.pacer.next(clock.nowMs(), throttle.rateBytesPerSecond(), readBytesMax);
      if (pace.kind === 'read') return pace.readBytesMax;
      await new Promise<void>((wake) => {
        this.pause = { timer: timers.schedule(wake, pace.waitMs), wake };
      });
      this.pause = undefined;
      this.throwIfCancelled();
    }
  }

  private async followTruncation(future: PartitionLog, floor: TruncationFloor | undefined): Promise<void> {
    if (floor?.full === true) await future.truncateFullyAndStartAt(floor.offset);
    else if (floor !== undefined && floor.offset < future.logEndOffset) await future.truncateTo(floor.offset);
  }

  /**
   * One step of the copy: the future log follows the current log's truncations, then takes the
   * batches after its end. Returns whether the future log reached the end the read saw. Outside
   * the log's queue a truncation may land at any point of a step: whatever the future log copied
   * above it goes at the next step, which takes the truncation's floor first.
   */
  private async copyStep(future: PartitionLog, underLock: boolean): Promise<boolean> {
    const { source } = this.options;
    await this.followTruncation(future, source.takeTruncationFloor());
    const readBytesMax = underLock
      ? (this.options.readBytesMax ?? logDirMoveReadBytesMax)
      : await this.pacedReadBytesMax();
    const from = future.logEndOffset;
    const result = await source.read(from, readBytesMax);
    if (result.errorCode !== ErrorCode.NONE) {
      if (from >= result.logStartOffset) {
        // Beyond the log end: a truncation is under way, or done since this step took the floor;
        // once it is done, its floor is there for the next step. Under the log's queue nothing
        // truncates.
        this.stepsBeyondEnd += 1;
        invariant(
          !underLock && this.stepsBeyondEnd <= logDirMoveStepsBeyondEndMax,
          () => `${this.key}: future log end ${from} beyond the log end ${result.logEndOffset}`,
        );
        await source.afterQueuedOperations();
        return false;
      }
      this.stepsBeyondEnd = 0;
      // Retention or DeleteRecords moved the log start past the copy: it starts again there.
      await future.truncateFullyAndStartAt(result.logStartOffset);
      return false;
    }
    this.stepsBeyondEnd = 0;
    if (result.records.length === 0) return true;
    this.options.shared.pacer.record(result.records.length, this.options.clock.nowMs());
    this.options.throttle?.recordCopied(result.records.length);
    if (result.firstBatchBaseOffset < from) {
      if (future.logEndOffset === future.logStartOffset) {
        // An empty future log starting inside a batch (a log start set by DeleteRecords): it
        // starts at the batch instead, and takes the log start offset at the swap.
        await future.truncateFullyAndStartAt(result.firstBatchBaseOffset);
      } else {
        // The cleaner removed the batch(es) just below the copy's end and gave their offsets to
        // the next batch it kept (log-cleaner-rewrite.ts): the future log drops what it copied
        // from that batch's base on, and the next step copies the kept batch whole. A cut inside
        // one of the future's batches takes that whole batch, and the next step goes lower still.
        await future.truncateTo(result.firstBatchBaseOffset);
        return false;
      }
    }
    for (const run of appendableRuns(result.records, future.config.segmentBytes)) {
      await future.appendAsFollower(run);
    }
    return future.logEndOffset >= result.logEndOffset;
  }
}

/**
 * The record set split where offsets jump (a read spanning segments of a compacted log: a follower
 * append takes gaps between record sets, not inside one) and into appends of at most
 * `appendBytesMax` (segment.bytes; a single larger batch alone), so the copy rolls its segments as
 * the log did rather than writing each read into one segment.
 */
function appendableRuns(records: Buffer, appendBytesMax: number): Buffer[] {
  const batches = validateRecords(records, int32Max);
  const runs: Buffer[] = [];
  let runStart = 0;
  for (let i = 1; i <= batches.length; i++) {
    const batch = batches[i];
    const start = batches[runStart]!.position;
    if (
      batch !== undefined &&
      batch.baseOffset === batches[i - 1]!.lastOffset + 1 &&
      batch.position + batch.sizeBytes - start <= appendBytesMax
    ) {
      continue;
    }
    runs.push(records.subarray(start, batch === undefined ? records.length : batch.position));
    runStart = i;
  }
  return runs;
}

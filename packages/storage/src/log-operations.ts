// How operations run on one partition's log (Kafka's UnifiedLog lock with its
// maybeHandleIOException). Every operation that changes the log (append, truncate, retention, roll,
// flush, close, a cleaner swap) runs on one SerialQueue, so they never interleave; reads do not
// queue (they work on a snapshot of the segment list and of each segment's size, which only ever
// moves between batch boundaries after a write completed, so a read sees whole batches only).
// Once the log is closed, or stopped by a failure, every operation is refused. An I/O failure
// inside an operation stops the log and takes its log dir offline, with two exceptions: a full
// disk on an append, and running out of file descriptors (log-io-failures.ts).

import { LogClosedError } from './errors.js';
import { isIoError, type LogDirFailureChannel } from './log-dir-failure-channel.js';
import { LogIoFailures } from './log-io-failures.js';
import { SerialQueue } from './serial-queue.js';

/** Mutating operations allowed to wait on one partition before callers are refused. */
export const partitionQueueDepthMax = 1024;

export class LogOperations {
  /** The log was closed (with or without writing); it never opens again. */
  closed = false;
  /** The operations that change the log, one at a time. */
  readonly queue: SerialQueue;
  private readonly ioFailures: LogIoFailures;

  constructor(
    /** `<topic>-<partition>`, for messages. */
    private readonly name: string,
    /** The partition directory. */
    dir: string,
    /** The log dir holding it (`log.dirs` entry). */
    logDir: string,
    channel: LogDirFailureChannel | undefined,
    /** See PartitionLogOptions.fullDiskStopsLogOnly. */
    fullDiskStopsLogOnly = false,
  ) {
    this.ioFailures = new LogIoFailures(name, dir, logDir, channel, fullDiskStopsLogOnly);
    this.queue = new SerialQueue(name, partitionQueueDepthMax);
  }

  /** Whether an I/O failure (here or elsewhere in its log dir) stopped this log for good. */
  get isOffline(): boolean {
    return this.ioFailures.isOffline;
  }

  /** Whether an operation ran out of file descriptors halfway (see LogIoFailures). */
  get needsReopen(): boolean {
    return this.ioFailures.needsReopen;
  }

  /** The log now lives in `dir` of `logDir` (see LogIoFailures.relocate). */
  relocate(dir: string, logDir: string): void {
    this.ioFailures.relocate(dir, logDir);
  }

  /** The log stops for `reason` (its log dir went offline), unless it stopped already. */
  stop(reason: string): void {
    this.ioFailures.stop(reason);
  }

  /** Throws unless operations may run: the log is neither stopped nor closed. */
  ensureOpen(): void {
    this.ioFailures.throwIfStopped();
    if (this.closed) throw new LogClosedError(this.name);
  }

  /** What an operation that failed with `error` throws (see LogIoFailures.failed). */
  failed(operation: string, error: unknown, leavesStateUnknown = false): unknown {
    return this.ioFailures.failed(operation, error, leavesStateUnknown);
  }

  /**
   * What a read that failed with `error` throws. After the log was closed (deleted, or set aside
   * for a reopen) under it, its files may be gone or renamed, which says nothing about the disk.
   */
  private readFailed(operation: string, error: unknown): unknown {
    if (this.closed && !this.isOffline && isIoError(error)) return new LogClosedError(this.name);
    return this.failed(operation, error);
  }

  /**
   * Runs `task` on the queue (after every earlier operation); an I/O failure stops the log, and so
   * does running out of descriptors in an operation that `leavesStateUnknown` when interrupted.
   */
  run<T>(operation: string, task: () => Promise<T>, leavesStateUnknown = false): Promise<T> {
    return this.queue
      .run(() => {
        this.ensureOpen();
        return task();
      })
      .catch((error: unknown) => {
        throw this.failed(operation, error, leavesStateUnknown);
      });
  }

  /**
   * run() for an operation that has nothing to do once the log is closed (a cleaner swap of a log
   * deleted meanwhile): it answers `closedValue` then.
   */
  runUnlessClosed<T>(
    operation: string,
    task: () => Promise<T>,
    closedValue: T,
    leavesStateUnknown = false,
  ): Promise<T> {
    return this.queue
      .run(async () => {
        if (this.closed) return closedValue;
        this.ensureOpen();
        return task();
      })
      .catch((error: unknown) => {
        throw this.failed(operation, error, leavesStateUnknown);
      });
  }

  /** A read: it does not queue, but is refused and fails like the other operations (readFailed). */
  async read<T>(operation: string, task: () => Promise<T>): Promise<T> {
    this.ensureOpen();
    try {
      return await task();
    } catch (error) {
      throw this.readFailed(operation, error);
    }
  }

  /**
   * Closes the log on the queue (after the operations before it) with `closeFiles`, unless it is
   * closed already; never fails (the log is being given up).
   */
  async closeWithoutWriting(closeFiles: () => Promise<void>): Promise<void> {
    await this.queue
      .run(async () => {
        if (this.closed) return;
        this.closed = true;
        await closeFiles();
      })
      .catch(() => undefined);
  }
}

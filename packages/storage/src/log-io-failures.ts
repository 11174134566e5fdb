// What I/O failures do to one partition's log (Kafka's maybeHandleIOException). A failure inside an
// operation (a roll, an fsync, a truncation, a read) leaves the log in a state nobody knows: the log
// refuses everything from then on with KAFKA_STORAGE_ERROR and reports its log dir to the
// LogDirFailureChannel, which takes the whole dir offline. Two failures are exceptions: a full disk
// on an append (the segment cuts what it wrote and refuses that append alone), and running out of
// file descriptors (EMFILE/ENFILE, TooManyOpenFilesError): the process is short of descriptors, the
// disk is fine, so only that operation fails and the log goes on, unless the operation changes
// several files and was interrupted halfway: then the log waits to be opened again from its files.
// A future replica's log (AlterReplicaLogDirs) also stops alone on a full disk: its move fails and
// removes it, so the dir need not go offline for the state it was left in.

import { asTooManyOpenFiles, type TooManyOpenFilesError } from './file-handle-cache.js';
import {
  isIoError,
  isNoSpaceError,
  KafkaStorageError,
  type LogDirFailureChannel,
} from './log-dir-failure-channel.js';

export class LogIoFailures {
  /** Why the log stopped: an I/O failure left it in an unknown state, or its log dir went offline. */
  private offlineReason: string | undefined;
  /**
   * An operation that changes several files (a roll, a truncation, a cleaner swap, a close) ran out
   * of file descriptors halfway: the disk is fine, but what is in memory may no longer match the
   * files. The log refuses everything with this error until the LogManager opens it again from disk.
   */
  private interruptedBy: TooManyOpenFilesError | undefined;

  constructor(
    /** `<topic>-<partition>`, for messages. */
    private readonly name: string,
    /** The partition directory. */
    private dir: string,
    /** The log dir holding it (`log.dirs` entry). */
    private logDir: string,
    private readonly channel: LogDirFailureChannel | undefined,
    /**
     * A future replica's log (AlterReplicaLogDirs): a full disk stops it without taking its dir
     * offline, since the move that fails with it removes the log, whatever state it was left in.
     */
    private readonly fullDiskStopsLogOnly = false,
  ) {}

  /** The log now lives in `dir` of `logDir` (AlterReplicaLogDirs swapped its future replica in). */
  relocate(dir: string, logDir: string): void {
    this.dir = dir;
    this.logDir = logDir;
  }

  /** Whether an I/O failure (here or elsewhere in its log dir) stopped this log for good. */
  get isOffline(): boolean {
    return this.offlineReason !== undefined || this.channel?.isOffline(this.logDir) === true;
  }

  /** Whether an operation ran out of file descriptors halfway (see `interruptedBy`). */
  get needsReopen(): boolean {
    return this.interruptedBy !== undefined;
  }

  /** The log stops for `reason` (its log dir went offline), unless it stopped already. */
  stop(reason: string): void {
    this.offlineReason ??= reason;
  }

  /** Throws what a log stopped by a failure answers every operation with. */
  throwIfStopped(): void {
    if (this.isOffline) {
      throw new KafkaStorageError(
        this.logDir,
        this.offlineReason ?? `${this.name}: log dir ${this.logDir} is offline`,
      );
    }
    if (this.interruptedBy !== undefined) throw this.interruptedBy;
  }

  /**
   * What an operation that failed with `error` throws. No file descriptor left (EMFILE/ENFILE) is
   * the process's limit, not the disk: that operation fails with TooManyOpenFilesError and the log
   * dir stays online; an operation that changes several files (`leavesStateUnknown`) also stops
   * the log until it is reopened. Any other I/O failure stops the log and takes its dir offline, and
   * becomes KAFKA_STORAGE_ERROR; anything else (a Kafka error, a bug) is unchanged.
   */
  failed(operation: string, error: unknown, leavesStateUnknown = false): unknown {
    const exhaustion = asTooManyOpenFiles(error, this.dir);
    if (exhaustion !== undefined) {
      if (leavesStateUnknown) this.interruptedBy ??= exhaustion;
      return exhaustion;
    }
    if (!isIoError(error)) return error;
    const reason = `${this.name}: ${operation} failed: ${error.code} (${error.message})`;
    this.offlineReason ??= reason;
    if (!(this.fullDiskStopsLogOnly && isNoSpaceError(error)))
      this.channel?.maybeAddOfflineLogDir(this.logDir, reason);
    return new KafkaStorageError(this.logDir, reason);
  }
}

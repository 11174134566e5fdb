// Kafka's LogDirFailureChannel: where an I/O failure that leaves a log in an unknown state (a failed
// roll, fsync, truncation, checkpoint rename or read) is reported. Its log dir goes offline for the
// rest of the process's life, as in Kafka: every log in it refuses further operations with
// KAFKA_STORAGE_ERROR, the LogManager places no new partition there, and the broker (listening
// here) takes the dir's replicas offline and tells the controller. A restart brings the dir back if
// it works again.
//
// A full disk on an append is NOT reported here: the segment cuts the torn bytes and refuses the
// append cleanly (KAFKA_STORAGE_ERROR), the log stays consistent and takes appends again once
// there is space. Only when that clean-up fails does the dir go offline.

import { ErrorCode, KafkaError } from '@gregor/protocol';

/** KAFKA_STORAGE_ERROR (56): the partition's log dir failed, or this append did not fit on the disk. */
export class KafkaStorageError extends KafkaError {
  constructor(
    readonly logDir: string,
    message: string,
  ) {
    super(ErrorCode.KAFKA_STORAGE_ERROR, message);
  }
}

/** A failure of the file system (it carries an errno and the syscall), as opposed to a bug. */
export function isIoError(error: unknown): error is NodeJS.ErrnoException {
  return (
    error instanceof Error &&
    typeof (error as NodeJS.ErrnoException).code === 'string' &&
    typeof (error as NodeJS.ErrnoException).syscall === 'string'
  );
}

/** The disk is full (or the quota is used up): nothing was changed that a retry cannot redo. */
export function isNoSpaceError(error: unknown): boolean {
  return isIoError(error) && (error.code === 'ENOSPC' || error.code === 'EDQUOT');
}

/**
 * A failure in the log dir a future replica moves into, during its swap (AlterReplicaLogDirs: the
 * copy of the partition's files, the target's checkpoint, renames and fsyncs there, the reopen
 * there). It fails the move, not the log being moved: the log's own dir stays online. The move
 * takes the target dir offline for an I/O error other than a full disk (targetTakesDirOffline).
 */
export class TargetLogDirError extends Error {
  constructor(
    readonly logDir: string,
    readonly operation: string,
    readonly error: unknown,
  ) {
    super(`${operation} in ${logDir} failed: ${error instanceof Error ? error.message : String(error)}`);
  }

  /** Whether the target dir goes offline for it: an I/O error, but neither a full disk nor EMFILE. */
  get takesDirOffline(): boolean {
    const code = isIoError(this.error) ? this.error.code : undefined;
    return code !== undefined && !isNoSpaceError(this.error) && code !== 'EMFILE' && code !== 'ENFILE';
  }
}

/** Runs a step of a future replica's swap in the target dir `logDir`: what it throws is a TargetLogDirError. */
export async function inTargetLogDir<T>(
  logDir: string,
  operation: string,
  task: () => Promise<T>,
): Promise<T> {
  try {
    return await task();
  } catch (error) {
    throw error instanceof TargetLogDirError ? error : new TargetLogDirError(logDir, operation, error);
  }
}

export interface OfflineLogDir {
  readonly logDir: string;
  /** What failed first, e.g. `orders-0: roll failed: ENOSPC`. */
  readonly reason: string;
}

export type LogDirFailureListener = (failure: OfflineLogDir) => void;

export class LogDirFailureChannel {
  private readonly offline = new Map<string, string>();
  private readonly listeners: LogDirFailureListener[] = [];

  /**
   * Takes `logDir` offline (once: later failures there are the same failure). Listeners run
   * synchronously, so nothing else touches the dir before they have seen it go.
   */
  maybeAddOfflineLogDir(logDir: string, reason: string): void {
    if (this.offline.has(logDir)) return;
    this.offline.set(logDir, reason);
    for (const listener of this.listeners) listener({ logDir, reason });
  }

  isOffline(logDir: string): boolean {
    return this.offline.has(logDir);
  }

  get offlineLogDirs(): OfflineLogDir[] {
    return [...this.offline].map(([logDir, reason]) => ({ logDir, reason }));
  }

  /** Calls `listener` for every dir that goes offline from now on. */
  onLogDirFailure(listener: LogDirFailureListener): void {
    this.listeners.push(listener);
  }
}

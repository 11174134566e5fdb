// The file descriptors storage may hold open, as one budget for the whole broker: a least-recently
// used cache of segment file handles plus room for short-lived opens (checkpoints, directory fsyncs,
// index rewrites). A broker with tens of thousands of partitions keeps at most `capacity`
// descriptors open, whatever the partition count; a segment whose handle was closed keeps everything
// it knows in memory (base offset, size, index entries) and reopens its file by name when it is next
// read or written.
//
// Rules:
// - A handle is open, opening or closed. An open handle is either pinned (an I/O is in flight, or a
//   read holds the segment) or idle. Only idle handles are closed to make room; a pinned one never
//   is, so no I/O ever runs on a closed descriptor.
// - Opening past the capacity first closes the least recently used idle handle. When every handle is
//   pinned, the open waits (FIFO) until one is unpinned. No operation waits for a slot while it holds
//   a pin on another file, except the log cleaner (one at a time), so waiting cannot deadlock with a
//   capacity of 2 or more.
// - EMFILE/ENFILE on open (the process ran out of descriptors elsewhere: sockets, other files):
//   every idle handle is closed and the open tried once more; if it still fails the caller gets a
//   TooManyOpenFilesError (KAFKA_STORAGE_ERROR) for that one operation.

import { type FileHandle, open } from 'node:fs/promises';
import { invariant } from '@gregor/ground';
import { ErrorCode, KafkaError } from '@gregor/protocol';

/** Smallest usable capacity: one file pinned by the cleaner plus one for anyone else. */
export const openFilesMaxMin = 2;
/** Capacity when the caller gives none (tests, tools); the broker sizes it from `ulimit -n`. */
export const openFilesMaxDefault = 1024;
/** Operations allowed to wait for a descriptor at once; beyond it an open fails at once. */
export const openFileWaitersMax = 65_536;

/** The process has no descriptor left (EMFILE) or the system has none (ENFILE). */
export class TooManyOpenFilesError extends KafkaError {
  constructor(
    readonly path: string,
    readonly errno: 'EMFILE' | 'ENFILE',
  ) {
    super(
      ErrorCode.KAFKA_STORAGE_ERROR,
      `cannot open ${path}: ${errno} (too many open files${errno === 'ENFILE' ? ' in the system' : ''})`,
    );
  }
}

export function isDescriptorExhaustion(error: unknown): error is NodeJS.ErrnoException {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EMFILE' || code === 'ENFILE';
}

/**
 * `error` as a TooManyOpenFilesError when it is one, or a raw EMFILE/ENFILE from an fs call made
 * outside the cache (about `path` unless the error names its own); undefined for any other error.
 */
export function asTooManyOpenFiles(error: unknown, path: string): TooManyOpenFilesError | undefined {
  if (error instanceof TooManyOpenFilesError) return error;
  if (!isDescriptorExhaustion(error)) return undefined;
  return new TooManyOpenFilesError(error.path ?? path, error.code === 'ENFILE' ? 'ENFILE' : 'EMFILE');
}

/** Counters for benchmarks and tests. */
export interface FileHandleCacheStats {
  /** Descriptors open (or being opened) now, short-lived ones included. */
  readonly open: number;
  readonly capacity: number;
  readonly opens: number;
  readonly evictions: number;
  readonly waits: number;
  readonly descriptorExhaustions: number;
}

/** How the cache opens a file: fs.promises.open, or a test's fault injector. */
export type FileOpener = (path: string, flags: string) => Promise<FileHandle>;

export class FileHandleCache {
  private openCount = 0;
  /** Idle open files, least recently used first (an intrusive list through CachedFile). */
  private idleHead: CachedFile | undefined;
  private idleTail: CachedFile | undefined;
  /** Callers waiting for a slot; each is handed one when a descriptor is closed. */
  private readonly waiters: (() => void)[] = [];
  private waitersHead = 0;
  private opens = 0;
  private evictions = 0;
  private waits = 0;
  private descriptorExhaustions = 0;

  constructor(
    readonly capacity: number = openFilesMaxDefault,
    private readonly opener: FileOpener = (path, flags) => open(path, flags),
  ) {
    invariant(
      Number.isSafeInteger(capacity) && capacity >= openFilesMaxMin,
      () => `open file capacity ${capacity} is below ${openFilesMaxMin}`,
    );
  }

  get stats(): FileHandleCacheStats {
    return {
      open: this.openCount,
      capacity: this.capacity,
      opens: this.opens,
      evictions: this.evictions,
      waits: this.waits,
      descriptorExhaustions: this.descriptorExhaustions,
    };
  }

  /**
   * A file opened on first use and kept open while the cache has room. `createFlags` (e.g. 'w+')
   * are used for the first open only, so a new segment file is created (and truncated) once.
   */
  file(path: string, flags = 'r+', createFlags?: string): CachedFile {
    return new CachedFile(this, path, flags, createFlags);
  }

  /** Runs `operation` on a descriptor of its own (opened and closed around it), inside the budget. */
  async withFile<T>(path: string, flags: string, operation: (handle: FileHandle) => Promise<T>): Promise<T> {
    const handle = await this.openCounted(path, flags);
    try {
      return await operation(handle);
    } finally {
      await handle.close().finally(() => this.releaseSlot());
    }
  }

  /**
   * Runs an fs call that opens and closes a descriptor internally (readdir, readFile, truncate by
   * name) inside the budget, with the same EMFILE/ENFILE handling as an open.
   */
  async withTransientDescriptor<T>(path: string, operation: () => Promise<T>): Promise<T> {
    await this.acquireSlot();
    try {
      return await this.retryOnExhaustion(path, operation);
    } finally {
      this.releaseSlot();
    }
  }

  /** Closes every idle handle (pinned ones close when unpinned if discarded). */
  async closeIdle(): Promise<void> {
    while (this.idleHead !== undefined) await this.evict(this.idleHead, false);
  }

  // --- internals used by CachedFile ------------------------------------------------------------

  /** Takes a slot and opens `path`; the caller owns the slot until it closes the handle. */
  async openCounted(path: string, flags: string): Promise<FileHandle> {
    await this.acquireSlot();
    try {
      const handle = await this.retryOnExhaustion(path, () => this.opener(path, flags));
      this.opens += 1;
      return handle;
    } catch (error) {
      this.releaseSlot();
      throw error;
    }
  }

  private async retryOnExhaustion<T>(path: string, operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      if (!isDescriptorExhaustion(error)) throw error;
      this.descriptorExhaustions += 1;
      // Descriptors ran out outside this cache's count: give back every idle one and try again.
      await this.closeIdle();
      try {
        return await operation();
      } catch (again) {
        if (!isDescriptorExhaustion(again)) throw again;
        throw new TooManyOpenFilesError(path, again.code === 'ENFILE' ? 'ENFILE' : 'EMFILE');
      }
    }
  }

  private async acquireSlot(): Promise<void> {
    if (this.openCount < this.capacity) {
      this.openCount += 1;
      return;
    }
    const victim = this.idleHead;
    if (victim !== undefined) {
      // The slot passes from the victim to the caller once its descriptor is really closed.
      await this.evict(victim, true);
      return;
    }
    if (this.waiters.length - this.waitersHead >= openFileWaitersMax) {
      throw new KafkaError(
        ErrorCode.KAFKA_STORAGE_ERROR,
        `more than ${openFileWaitersMax} storage operations wait for a file descriptor`,
      );
    }
    this.waits += 1;
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** A descriptor was closed: its slot goes to the first waiter, or back to the pool. */
  releaseSlot(): void {
    if (this.waitersHead < this.waiters.length) {
      const next = this.waiters[this.waitersHead]!;
      this.waitersHead += 1;
      if (this.waitersHead === this.waiters.length) {
        this.waiters.length = 0;
        this.waitersHead = 0;
      }
      next();
      return;
    }
    this.openCount -= 1;
    invariant(this.openCount >= 0, 'file handle cache released more slots than it took');
  }

  get hasWaiters(): boolean {
    return this.waitersHead < this.waiters.length;
  }

  /** Closes an idle file's handle; with `keepSlot`, the slot stays with the caller. */
  private async evict(file: CachedFile, keepSlot: boolean): Promise<void> {
    this.removeIdle(file);
    this.evictions += 1;
    await file.dropHandle();
    if (!keepSlot) this.releaseSlot();
  }

  addIdle(file: CachedFile): void {
    file.idlePrev = this.idleTail;
    file.idleNext = undefined;
    if (this.idleTail === undefined) this.idleHead = file;
    else this.idleTail.idleNext = file;
    this.idleTail = file;
    file.idle = true;
  }

  removeIdle(file: CachedFile): void {
    if (!file.idle) return;
    if (file.idlePrev === undefined) this.idleHead = file.idleNext;
    else file.idlePrev.idleNext = file.idleNext;
    if (file.idleNext === undefined) this.idleTail = file.idlePrev;
    else file.idleNext.idlePrev = file.idlePrev;
    file.idlePrev = undefined;
    file.idleNext = undefined;
    file.idle = false;
  }

  /** Closes an idle handle now when someone waits for a descriptor (called on unpin). */
  handOverIfWaited(file: CachedFile): void {
    if (!this.hasWaiters || !file.idle) return;
    this.removeIdle(file);
    this.evictions += 1;
    void file.dropHandle().finally(() => this.releaseSlot());
  }
}

/**
 * One file through the cache: `use` runs an I/O on its handle (opening it if needed) and keeps it
 * pinned for the duration; `pin`/`unpin` hold it open across several I/Os (a read of a segment).
 */
export class CachedFile {
  private handle: FileHandle | undefined;
  private opening: Promise<FileHandle> | undefined;
  private closing: Promise<void> | undefined;
  private pins = 0;
  private discarded = false;
  /** @internal links of the cache's idle list */
  idle = false;
  idlePrev: CachedFile | undefined;
  idleNext: CachedFile | undefined;

  constructor(
    private readonly cache: FileHandleCache,
    private pathValue: string,
    private readonly flags: string,
    private createFlags: string | undefined,
  ) {}

  get path(): string {
    return this.pathValue;
  }

  /** Whether a descriptor is open for this file now (tests and stats). */
  get isOpen(): boolean {
    return this.handle !== undefined;
  }

  /** The file was renamed (`.deleted`, a swap): a later reopen uses the new name. */
  renamed(path: string): void {
    this.pathValue = path;
  }

  /**
   * Runs `operation` with the open handle, pinned until the returned promise settles. The fast path
   * (handle already open) adds no promise hop: the caller awaits `operation`'s own promise.
   */
  use<T>(operation: (handle: FileHandle) => Promise<T>): Promise<T> {
    const handle = this.handle;
    if (handle === undefined || this.closing !== undefined) return this.useSlow(operation);
    this.pinOpen();
    let result: Promise<T>;
    try {
      result = operation(handle);
    } catch (error) {
      this.unpin();
      return Promise.reject(error);
    }
    const unpin = (): void => this.unpin();
    result.then(unpin, unpin);
    return result;
  }

  /** Pins and returns the handle if it is open now (no await); undefined otherwise. */
  pinIfOpen(): FileHandle | undefined {
    const handle = this.handle;
    if (handle === undefined || this.closing !== undefined) return undefined;
    this.pinOpen();
    return handle;
  }

  private async useSlow<T>(operation: (handle: FileHandle) => Promise<T>): Promise<T> {
    const handle = await this.pin();
    try {
      return await operation(handle);
    } finally {
      this.unpin();
    }
  }

  /** Opens the file if needed and pins it; every pin must be matched by one unpin. */
  async pin(): Promise<FileHandle> {
    invariant(!this.discarded || this.pins > 0, () => `${this.pathValue} is closed`);
    this.pins += 1;
    this.cache.removeIdle(this);
    try {
      while (this.closing !== undefined) await this.closing;
      if (this.handle !== undefined) return this.handle;
      if (this.opening === undefined) {
        const flags = this.createFlags ?? this.flags;
        this.opening = this.cache.openCounted(this.pathValue, flags).then(
          (handle) => {
            this.createFlags = undefined;
            this.handle = handle;
            this.opening = undefined;
            return handle;
          },
          (error: unknown) => {
            this.opening = undefined;
            throw error;
          },
        );
      }
      return await this.opening;
    } catch (error) {
      this.unpin();
      throw error;
    }
  }

  private pinOpen(): void {
    this.pins += 1;
    if (this.idle) this.cache.removeIdle(this);
  }

  unpin(): void {
    invariant(this.pins > 0, () => `${this.pathValue} unpinned more often than pinned`);
    this.pins -= 1;
    if (this.pins > 0 || this.handle === undefined) return;
    if (this.discarded) {
      void this.closeAndRelease();
      return;
    }
    this.cache.addIdle(this);
    this.cache.handOverIfWaited(this);
  }

  /** Closes the handle now if nobody uses it (a segment that stopped being active). */
  async closeIfIdle(): Promise<void> {
    if (this.pins > 0 || this.handle === undefined || !this.idle) return;
    this.cache.removeIdle(this);
    await this.closeAndRelease();
  }

  /**
   * No further use: the handle closes now, or when the last pin goes (a read in flight on a deleted
   * segment finishes on its open descriptor).
   */
  async discard(): Promise<void> {
    this.discarded = true;
    if (this.pins > 0) return;
    this.cache.removeIdle(this);
    await this.closeAndRelease();
  }

  private async closeAndRelease(): Promise<void> {
    if (this.handle === undefined) return;
    await this.dropHandle();
    this.cache.releaseSlot();
  }

  /** Closes the descriptor; the slot accounting is the caller's. */
  async dropHandle(): Promise<void> {
    const handle = this.handle;
    if (handle === undefined) return;
    this.handle = undefined;
    const closing = handle.close().catch(() => undefined);
    this.closing = closing;
    await closing;
    if (this.closing === closing) this.closing = undefined;
  }
}

// How fast a log dir move's copy may read (replica.alter.log.dirs.io.max.bytes.per.second, Kafka's
// ReplicationQuotaManager for QuotaType.AlterLogDirsReplication): over any `windowMs` the copy reads
// at most the window's allowance, rate × windowMs / 1000 bytes. Each step asks `next`: read up to
// so many bytes now, or wait so long first. A read is only allowed once a whole chunk (the allowance
// split into equal reads of at most the step's read size) fits in what the last window left, so the
// copy does not creep along in slivers, and a read that returns whole batches of at most the chunk
// never takes the window past its allowance. A record batch larger than the chunk is still read whole (a batch
// cannot be split): a window then holds that one batch, and it stays in the window for as many
// windows as it fills, so the average stays at the bound.
//
// Kafka checks its measured rate before each fetch, which lets a burst of several windows through
// first (the rate divides by the windows elapsed); this sliding window never does.
//
// Pure: the caller passes the time (milliseconds on any monotonic scale) to every call.

import { invariant } from '@gregor/ground';

/** Kafka's replication.quota.window.size.seconds (1 s), the span the allowance is counted over. */
export const logDirCopyWindowMsDefault = 1_000;
/** Reads remembered in the window; more are merged into the newest (which only ever slows the copy). */
export const logDirCopyReadsRememberedMax = 64;

export type LogDirCopyPace =
  | { readonly kind: 'read'; readonly readBytesMax: number }
  | { readonly kind: 'wait'; readonly waitMs: number };

interface CopiedRead {
  atMs: number;
  bytes: number;
}

export class LogDirCopyPacer {
  private readonly reads: CopiedRead[] = [];

  constructor(private readonly windowMs = logDirCopyWindowMsDefault) {
    invariant(windowMs > 0, () => `bad copy window ${windowMs} ms`);
  }

  /**
   * What the copy may do at `nowMs` under a bound of `rateBytesPerSecond` (Infinity, or anything of
   * 2^53 and more, is none) with reads of `readBytesMax` at most.
   */
  next(nowMs: number, rateBytesPerSecond: number, readBytesMax: number): LogDirCopyPace {
    if (!(rateBytesPerSecond < Number.MAX_SAFE_INTEGER)) {
      this.forgetExpired(nowMs, Number.POSITIVE_INFINITY);
      return { kind: 'read', readBytesMax };
    }
    const allowanceBytes = Math.max(1, Math.floor((rateBytesPerSecond * this.windowMs) / 1000));
    this.forgetExpired(nowMs, allowanceBytes);
    // Equal chunks that fill the allowance: reads of readBytesMax would leave a remainder unread
    // in every window (4 reads of 1 MiB in a 5 MB allowance), and the copy would run below the bound.
    const chunkBytes = Math.floor(allowanceBytes / Math.ceil(allowanceBytes / Math.max(1, readBytesMax)));
    let freeBytes = allowanceBytes;
    for (const read of this.reads) freeBytes -= read.bytes;
    if (freeBytes >= chunkBytes) return { kind: 'read', readBytesMax: chunkBytes };
    // Wait for the reads to leave the window, earliest first, until a chunk fits. The clock may
    // have gone back (a wall clock): never wait more than a window at a time.
    const byExpiry = this.reads
      .map((read) => ({ bytes: read.bytes, expiresMs: this.expiresMs(read, allowanceBytes) }))
      .sort((a, b) => a.expiresMs - b.expiresMs);
    for (const read of byExpiry) {
      freeBytes += read.bytes;
      if (freeBytes >= chunkBytes) {
        return {
          kind: 'wait',
          waitMs: Math.min(this.windowMs, Math.max(1, Math.ceil(read.expiresMs - nowMs))),
        };
      }
    }
    invariant(false, () => `copy pacer: the reads in the window free no chunk of ${chunkBytes} bytes`);
  }

  /** The copy read `bytes` at `nowMs`. */
  record(bytes: number, nowMs: number): void {
    if (bytes <= 0) return;
    const newest = this.reads.at(-1);
    if (newest !== undefined && (newest.atMs >= nowMs || this.reads.length >= logDirCopyReadsRememberedMax)) {
      newest.bytes += bytes;
      newest.atMs = Math.max(newest.atMs, nowMs);
      return;
    }
    this.reads.push({ atMs: nowMs, bytes });
  }

  /**
   * When a read leaves the window: a window after it, or as many windows as its bytes fill when it
   * is larger than the allowance (a whole batch), so that the average stays at the bound.
   */
  private expiresMs(read: CopiedRead, allowanceBytes: number): number {
    return read.atMs + this.windowMs * Math.max(1, read.bytes / allowanceBytes);
  }

  private forgetExpired(nowMs: number, allowanceBytes: number): void {
    let kept = 0;
    for (const read of this.reads)
      if (this.expiresMs(read, allowanceBytes) > nowMs) this.reads[kept++] = read;
    this.reads.length = kept;
  }
}

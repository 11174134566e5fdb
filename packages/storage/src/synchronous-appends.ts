// Whether an append to the active segment writes with one synchronous system call or through the
// thread pool. A buffered write of a small append only copies bytes into the page cache (a few
// microseconds); through the thread pool the same write costs two thread wake-ups and a promise,
// and on a busy machine each wake-up waits for a core. On a replicated write that cost is paid
// twice in series, the leader's append and then the follower's, before the high watermark can
// move: in the timeline of one acks=all round (issue 13, session s10, 2 shared cores) the
// thread-pool write of a 100-byte record took 82 us of wall time on the leader and 140-180 us on
// each follower, against 9 us synchronously, and one such round (request read to response written
// on the leader) went from 879 to 683 us. Kafka writes in its request handler threads the same way.
//
// Tried twice before and reverted (sessions s7 and s10) over NOT_LEADER_OR_FOLLOWER answers in
// loaded bench:replication runs. Traced in s14 (packages/replication/README.md): leader leases that
// lapsed while the controller fenced no one, because heartbeat answers slowed by event loops starved
// of CPU delayed the next heartbeat (fixed in the broker's heartbeat-pacer.ts), not writes that
// blocked: no broker's main thread was caught waiting on the disk, and no synchronous append took
// longer than the scheduler's preemptions. Appends above synchronousAppendBytesMax (64 KiB) still go
// to the thread pool, so the event loop never copies more than that at once.
//
// The risk is the one that kept appends asynchronous before: the kernel throttles a writer when
// too many dirty pages wait for the disk, and a synchronous write stalls the whole event loop then
// (Raft heartbeats included). So a synchronous write that takes longer than
// synchronousAppendStallMsMax turns synchronous appends off for synchronousAppendPauseMs: the
// process is back to the thread pool, which absorbs the throttling, while the disk is the
// bottleneck.
//
// One policy per process: the event loop a stall blocks is the process's.

import { writeSync } from 'node:fs';

/**
 * Appends up to this size may be written synchronously: a produce request's batch of one partition
 * (16 KiB is the producers' default batch.size), a follower's append of what a caught-up fetch
 * brought. Larger ones (a follower catching up, 1 MiB per fetch) stay on the thread pool.
 */
export const synchronousAppendBytesMax = 64 * 1024;
/**
 * A synchronous write slower than this is taken for throttling by the kernel (or a slow disk). Not
 * lower: on a machine whose cores are oversubscribed the thread is often preempted in the middle of
 * a write for 20 ms and more (load 14-26 on 2 cores tripped a 20 ms limit all the time), which
 * is no reason to give up synchronous writes. A throttled writer waits up to 200 ms per pause.
 */
export const synchronousAppendStallMsMax = 50;
/**
 * How long appends use the thread pool after such a stall: while throttling lasts, the event loop
 * then stalls once per pause at most; a false alarm (preemption) costs only this long.
 */
export const synchronousAppendPauseMs = 5_000;

export class SynchronousAppends {
  private pausedUntilMs = Number.NEGATIVE_INFINITY;
  private stallCount = 0;

  /** `monotonicNowMs`: a clock that only measures durations (performance.now, or a test's). */
  constructor(private readonly monotonicNowMs: () => number = () => performance.now()) {}

  /** Synchronous writes that were slow enough to pause synchronous appends, since start. */
  get stalls(): number {
    return this.stallCount;
  }

  /**
   * Writes all of `buffer` at `position` of `fd` synchronously and returns true, or returns false
   * without writing when the caller must write through the thread pool (too large, or paused after
   * a stall). A failed write throws as the asynchronous one rejects; part of it may be in the file.
   */
  tryWrite(fd: number, buffer: Buffer, position: number): boolean {
    if (buffer.length > synchronousAppendBytesMax) return false;
    const startMs = this.monotonicNowMs();
    if (startMs < this.pausedUntilMs) return false;
    let written = 0;
    // Loops only for a short write (rare on regular files).
    while (written < buffer.length) {
      written += writeSync(fd, buffer, written, buffer.length - written, position + written);
    }
    const endMs = this.monotonicNowMs();
    if (endMs - startMs > synchronousAppendStallMsMax) {
      this.stallCount++;
      this.pausedUntilMs = endMs + synchronousAppendPauseMs;
    }
    return true;
  }
}

/** The process's policy, used by every LogSegment. */
export const synchronousAppends = new SynchronousAppends();

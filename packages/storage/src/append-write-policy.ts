// Whether a small append is written with one synchronous system call on the event loop or through
// the thread pool, decided from how busy the event loop has been lately (issue 13).
//
// Why both: a buffered write of a small append only copies bytes into the page cache (9 us for
// 100 B), while through the thread pool it costs two thread wake-ups and a promise (82 us on the
// leader, 140-180 us on each follower in series, in the timeline of one acks=all round, session
// s10: the round went 879 -> 683 us synchronously). But on a saturated machine the writes on the
// event loop made its stops longer (s14: p99 of the longest stop per second 113 -> 295 ms, 1 KiB
// RF 3 acks=all tails worse): with the thread pool the main thread goes back to epoll between the
// parts of a request. So: synchronous while the loop is quiet, the thread pool while it is busy.
//
// Inputs, all cheap: every sample window (the driver's timer, ~100 ms) brings the event loop's
// utilization over the window (performance.eventLoopUtilization: the share of wall time not idle
// in epoll) and how late the window's timer fired (a stop of the loop of at least that long, or
// the process waiting for a core); and every synchronous write brings how long it took.
// Busy at once when one window is busy (utilization or lateness at or above the busy limits) or
// one synchronous write was slow (the kernel throttling a writer, or the thread preempted in the
// middle of it). Quiet again only after `quietHoldMs` of windows all below the quiet limits, which
// are lower than the busy ones (hysteresis: a loop at the edge does not flip every window).
// Starts busy (the thread pool, as before) until the first quiet hold has passed.
//
// Pure: no clock, no timer, no I/O; the driver (synchronous-appends.ts) passes the time and the
// measurements in.

import { invariant } from '@gregor/ground';

export interface AppendWritePolicyLimits {
  /** Appends larger than this always go to the thread pool (a follower catching up: 1 MiB fetches). */
  readonly synchronousBytesMax: number;
  /** A window whose utilization is at least this makes the loop busy. */
  readonly busyUtilizationMin: number;
  /** A window whose timer fired at least this late makes the loop busy. */
  readonly busyLateMsMin: number;
  /** A synchronous write that took at least this long makes the loop busy. */
  readonly slowWriteMsMin: number;
  /** A window counts as quiet when its utilization is below this... */
  readonly quietUtilizationMax: number;
  /** ...and its timer fired less late than this. */
  readonly quietLateMsMax: number;
  /** How long windows must stay quiet, without a slow write, before writes are synchronous again. */
  readonly quietHoldMs: number;
}

export const appendWritePolicyLimitsDefault: AppendWritePolicyLimits = Object.freeze({
  // A produce request's batch of one partition (16 KiB is the producers' default batch.size), or a
  // follower's append of what a caught-up fetch brought.
  synchronousBytesMax: 64 * 1024,
  busyUtilizationMin: 0.6,
  // The timer of an idle loop fires within a millisecond or two; 20 ms late is a loop that stopped
  // (a long task, a GC) or a process that waited for a core.
  busyLateMsMin: 20,
  // A 64 KiB copy into the page cache takes tens of microseconds; 5 ms is throttling or preemption.
  slowWriteMsMin: 5,
  quietUtilizationMax: 0.4,
  quietLateMsMax: 10,
  quietHoldMs: 1_000,
});

/** One sample window of the event loop, as the driver measured it. */
export interface EventLoopWindow {
  /** When the window ended (any monotonic scale, the same as the writes'). */
  readonly endMs: number;
  /** Share of the window's wall time the loop was not idle, 0..1. */
  readonly utilization: number;
  /** How late the window's timer fired, ms (0 when on time). */
  readonly lateMs: number;
}

export type AppendWriteMode = 'synchronous' | 'thread-pool';

export class AppendWritePolicy {
  private modeNow: AppendWriteMode = 'thread-pool';
  /** Since when every window was quiet and no write slow; undefined while the last one was not. */
  private quietSinceMs: number | undefined;
  private switchesToThreadPool = 0;
  private switchesToSynchronous = 0;

  constructor(readonly limits: AppendWritePolicyLimits = appendWritePolicyLimitsDefault) {
    invariant(limits.quietUtilizationMax <= limits.busyUtilizationMin, 'quiet utilization above busy');
    invariant(limits.quietLateMsMax <= limits.busyLateMsMin, 'quiet lateness above busy');
    invariant(limits.quietHoldMs >= 0, 'negative quiet hold');
  }

  get mode(): AppendWriteMode {
    return this.modeNow;
  }

  /** Times the policy went from synchronous writes to the thread pool, and back. */
  get switches(): { readonly toThreadPool: number; readonly toSynchronous: number } {
    return { toThreadPool: this.switchesToThreadPool, toSynchronous: this.switchesToSynchronous };
  }

  /** Whether an append of `bytes` is written synchronously now. */
  writesSynchronously(bytes: number): boolean {
    return this.modeNow === 'synchronous' && bytes <= this.limits.synchronousBytesMax;
  }

  /** A sample window ended. */
  onWindow(window: EventLoopWindow): void {
    const { limits } = this;
    if (window.utilization >= limits.busyUtilizationMin || window.lateMs >= limits.busyLateMsMin) {
      this.becomeBusy();
      return;
    }
    const quiet = window.utilization < limits.quietUtilizationMax && window.lateMs < limits.quietLateMsMax;
    if (!quiet) {
      // Between the limits: no evidence either way; a quiet hold in progress starts over.
      this.quietSinceMs = undefined;
      return;
    }
    // The hold counts from the end of the first quiet window (its start is not passed in): the
    // cautious reading, one window longer than the quiet actually lasted.
    if (this.quietSinceMs === undefined) this.quietSinceMs = window.endMs;
    if (this.modeNow === 'thread-pool' && window.endMs - this.quietSinceMs >= limits.quietHoldMs) {
      this.modeNow = 'synchronous';
      this.switchesToSynchronous++;
    }
  }

  /** A synchronous write of the append path took `durationMs`. */
  onSynchronousWrite(durationMs: number): void {
    if (durationMs >= this.limits.slowWriteMsMin) this.becomeBusy();
  }

  private becomeBusy(): void {
    this.quietSinceMs = undefined;
    if (this.modeNow === 'synchronous') {
      this.modeNow = 'thread-pool';
      this.switchesToThreadPool++;
    }
  }
}

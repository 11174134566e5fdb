// Timers enter Gregor's code only through a TimerScheduler: production passes systemTimers, tests
// pass ManualTimers, which fire only when the test moves its clock (a long poll times out exactly
// when the test says, never because a machine was slow).

import type { ManualClock } from './clock.js';

export interface TimerHandle {
  /** Stops the timer; a no-op once it fired or was cancelled. */
  cancel(): void;
}

export interface TimerScheduler {
  /** Runs `callback` once, `delayMs` from now (a negative delay runs it as soon as possible). */
  schedule(callback: () => void, delayMs: number): TimerHandle;
}

/** setTimeout's delay is a signed 32-bit number of ms; a longer delay would fire at once. */
export const timerDelayMsMax = 2_147_483_647;

export const systemTimers: TimerScheduler = Object.freeze({
  schedule(callback: () => void, delayMs: number): TimerHandle {
    const timer = setTimeout(callback, Math.min(Math.max(0, delayMs), timerDelayMsMax));
    return { cancel: () => clearTimeout(timer) };
  },
});

interface PendingTimer {
  readonly atMs: number;
  readonly seq: number;
  readonly callback: () => void;
}

/** Timers tied to a ManualClock: they fire in `advanceMs`, earliest first (ties in schedule order). */
export class ManualTimers implements TimerScheduler {
  private readonly timers = new Map<number, PendingTimer>();
  private nextSeq = 1;

  constructor(readonly clock: ManualClock) {}

  schedule(callback: () => void, delayMs: number): TimerHandle {
    const seq = this.nextSeq++;
    this.timers.set(seq, { atMs: this.clock.nowMs() + Math.max(0, delayMs), seq, callback });
    return { cancel: () => this.timers.delete(seq) };
  }

  get pendingCount(): number {
    return this.timers.size;
  }

  /** Moves the clock forward and fires every timer that is due, earliest first. */
  advanceMs(deltaMs: number): void {
    this.clock.advanceMs(deltaMs);
    const due = [...this.timers.values()]
      .filter((timer) => timer.atMs <= this.clock.nowMs())
      .sort((a, b) => a.atMs - b.atMs || a.seq - b.seq);
    for (const timer of due) {
      // A callback may have cancelled a later timer of this same round.
      if (!this.timers.delete(timer.seq)) continue;
      timer.callback();
    }
  }
}

// Timers that fire only when a test moves time, tied to a ManualClock: long polls and acks=all
// waits time out exactly when the test says, never because a machine was slow.

import type { ManualClock } from '@gregor/storage';
import type { TimerScheduler } from '../delayed/delayed-operations.js';

interface PendingTimer {
  readonly atMs: number;
  readonly callback: () => void;
}

export class ManualTimers implements TimerScheduler {
  private readonly timers = new Map<number, PendingTimer>();
  private nextId = 1;

  constructor(readonly clock: ManualClock) {}

  setTimeout(callback: () => void, delayMs: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { atMs: this.clock.nowMs() + delayMs, callback });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  get pendingCount(): number {
    return this.timers.size;
  }

  /** Moves the clock forward and fires every timer that is due, earliest first. */
  advanceMs(deltaMs: number): void {
    this.clock.advanceMs(deltaMs);
    const due = [...this.timers]
      .filter(([, timer]) => timer.atMs <= this.clock.nowMs())
      .sort(([, a], [, b]) => a.atMs - b.atMs);
    for (const [id, timer] of due) {
      this.timers.delete(id);
      timer.callback();
    }
  }
}

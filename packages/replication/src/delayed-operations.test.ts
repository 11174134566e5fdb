import { describe, expect, it } from 'vitest';
import { DelayedOperations } from './delayed-operations.js';
import type { TimerScheduler } from './time.js';

class ManualTimers implements TimerScheduler {
  nowMs = 0;
  private timers = new Map<number, { atMs: number; callback: () => void }>();
  private nextId = 1;
  setTimeout(callback: () => void, delayMs: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { atMs: this.nowMs + delayMs, callback });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }
  advance(ms: number): void {
    this.nowMs += ms;
    for (const [id, timer] of [...this.timers]) {
      if (timer.atMs <= this.nowMs) {
        this.timers.delete(id);
        timer.callback();
      }
    }
  }
  get pending(): number {
    return this.timers.size;
  }
}

describe('DelayedOperations', () => {
  it('completes at once when already satisfied', async () => {
    const ops = new DelayedOperations(new ManualTimers());
    expect(await ops.waitUntil(['t-0'], 1000, () => true)).toBe(true);
    expect(ops.size).toBe(0);
  });

  it('wakes a waiter when its key is notified and the condition holds', async () => {
    const timers = new ManualTimers();
    const ops = new DelayedOperations(timers);
    let bytes = 0;
    const waiting = ops.waitUntil(['t-0', 't-1'], 1000, () => bytes >= 10);
    ops.notify('t-1');
    expect(ops.size).toBe(1);
    bytes = 10;
    ops.notify('t-0');
    expect(await waiting).toBe(true);
    expect(ops.size).toBe(0);
    expect(timers.pending).toBe(0);
  });

  it('does not re-check waiters on other keys', async () => {
    const ops = new DelayedOperations(new ManualTimers());
    let checks = 0;
    void ops.waitUntil(['a'], 1000, () => {
      checks++;
      return false;
    });
    ops.notify('b');
    expect(checks).toBe(1);
  });

  it('times out with false and cleans up', async () => {
    const timers = new ManualTimers();
    const ops = new DelayedOperations(timers);
    const waiting = ops.waitUntil(['a'], 500, () => false);
    timers.advance(499);
    expect(ops.size).toBe(1);
    timers.advance(1);
    expect(await waiting).toBe(false);
    expect(ops.size).toBe(0);
  });

  it('expireKey completes waiters with their current condition', async () => {
    const ops = new DelayedOperations(new ManualTimers());
    const waiting = ops.waitUntil(['a'], 500, () => false);
    ops.expireKey('a');
    expect(await waiting).toBe(false);
    expect(ops.size).toBe(0);
  });
});

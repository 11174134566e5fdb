import { ManualClock, ManualTimers } from '@gregor/ground';
import { describe, expect, it } from 'vitest';
import { DelayedOperations } from './delayed-operations.js';

function manualTimers(): ManualTimers {
  return new ManualTimers(new ManualClock());
}

describe('DelayedOperations', () => {
  it('completes at once when already satisfied', async () => {
    const ops = new DelayedOperations(manualTimers());
    expect(await ops.waitUntil(['t-0'], 1000, () => true)).toBe(true);
    expect(ops.size).toBe(0);
  });

  it('wakes a waiter when its key is notified and the condition holds', async () => {
    const timers = manualTimers();
    const ops = new DelayedOperations(timers);
    let bytes = 0;
    const waiting = ops.waitUntil(['t-0', 't-1'], 1000, () => bytes >= 10);
    ops.notify('t-1');
    expect(ops.size).toBe(1);
    bytes = 10;
    ops.notify('t-0');
    expect(await waiting).toBe(true);
    expect(ops.size).toBe(0);
    expect(timers.pendingCount).toBe(0);
  });

  it('does not re-check waiters on other keys', async () => {
    const ops = new DelayedOperations(manualTimers());
    let checks = 0;
    void ops.waitUntil(['a'], 1000, () => {
      checks++;
      return false;
    });
    ops.notify('b');
    expect(checks).toBe(1);
  });

  it('times out with false and cleans up', async () => {
    const timers = manualTimers();
    const ops = new DelayedOperations(timers);
    const waiting = ops.waitUntil(['a'], 500, () => false);
    timers.advanceMs(499);
    expect(ops.size).toBe(1);
    timers.advanceMs(1);
    expect(await waiting).toBe(false);
    expect(ops.size).toBe(0);
  });

  it('expireKey completes waiters with their current condition', async () => {
    const ops = new DelayedOperations(manualTimers());
    const waiting = ops.waitUntil(['a'], 500, () => false);
    ops.expireKey('a');
    expect(await waiting).toBe(false);
    expect(ops.size).toBe(0);
  });
});

import { ManualClock } from '@gregor/ground';
import { describe, expect, it } from 'vitest';
import {
  type AppendWriteBudget,
  AppendWritePolicy,
  appendWriteBudgetDefault,
} from './append-write-policy.js';

/** A policy on a manual clock whose "next turn" runs only when the test calls `nextTurn()`. */
function harness(budget: AppendWriteBudget = appendWriteBudgetDefault) {
  const clock = new ManualClock(1_000);
  const pending: (() => void)[] = [];
  const policy = new AppendWritePolicy(clock, (reset) => pending.push(reset), budget);
  return {
    clock,
    policy,
    pending,
    /** A write of `bytes` that takes `ms` on the clock; whether it was written synchronously. */
    write(bytes: number, ms = 0.01): boolean {
      return policy.tryWrite(bytes, () => clock.advanceMs(ms));
    },
    nextTurn(): void {
      for (const reset of pending.splice(0)) reset();
    },
  };
}

const kib = 1024;

describe('AppendWritePolicy: synchronous appends within a per-turn budget', () => {
  it('writes synchronously until the turn has used its bytes, then sends appends to the thread pool', () => {
    const h = harness();
    // 256 KiB: four 64 KiB appends fit (the budget is checked before each write).
    for (let i = 0; i < 4; i++) expect(h.write(64 * kib)).toBe(true);
    expect(h.write(100)).toBe(false);
    expect(h.write(16 * kib)).toBe(false);
    expect(h.policy.counts).toEqual({ synchronous: 4, overBudget: 2, turnsExhausted: 1 });
  });

  it('lets a write start while the turn is below its budget, so one write may take the turn past it', () => {
    const h = harness();
    for (let i = 0; i < 3; i++) expect(h.write(64 * kib)).toBe(true);
    expect(h.write(63 * kib)).toBe(true);
    expect(h.write(64 * kib)).toBe(true); // 255 KiB used before it: below 256 KiB, so it goes
    expect(h.write(1)).toBe(false); // 319 KiB used
  });

  it('sends appends to the thread pool once the turn has used 1 ms of write time', () => {
    const h = harness();
    for (let i = 0; i < 9; i++) expect(h.write(100, 0.1)).toBe(true);
    expect(h.write(100, 0.1)).toBe(true); // 0.9 ms used before it: still below
    expect(h.write(100, 0.1)).toBe(false); // 1.0 ms used
    expect(h.policy.counts.overBudget).toBe(1);
  });

  it('a single slow write uses up the time budget of its turn', () => {
    const h = harness();
    expect(h.write(100, 7)).toBe(true); // the kernel throttled it, or the thread was preempted
    expect(h.write(100)).toBe(false);
    expect(h.policy.writesSynchronously(1)).toBe(false);
  });

  it('the first synchronous write of a turn schedules one reset, and the next turn starts with the whole budget', () => {
    const h = harness();
    expect(h.pending).toHaveLength(0); // nothing scheduled before a synchronous write
    expect(h.write(100, 2)).toBe(true);
    expect(h.pending).toHaveLength(1);
    expect(h.write(100)).toBe(false);
    expect(h.pending).toHaveLength(1); // not one per write
    h.nextTurn();
    expect(h.pending).toHaveLength(0);
    for (let i = 0; i < 4; i++) expect(h.write(64 * kib)).toBe(true);
    expect(h.pending).toHaveLength(1);
    expect(h.write(1)).toBe(false);
    h.nextTurn();
    expect(h.write(1)).toBe(true);
    expect(h.policy.counts).toEqual({ synchronous: 6, overBudget: 2, turnsExhausted: 2 });
  });

  it('a turn with no synchronous write schedules nothing: appends too large for it go to the thread pool', () => {
    const h = harness();
    expect(h.write(64 * kib + 1)).toBe(false);
    expect(h.write(1024 * kib)).toBe(false);
    expect(h.pending).toHaveLength(0);
    expect(h.policy.counts).toEqual({ synchronous: 0, overBudget: 0, turnsExhausted: 0 });
  });

  it('counts a write that throws against the turn and passes the throw on', () => {
    const h = harness();
    expect(() =>
      h.policy.tryWrite(100, () => {
        h.clock.advanceMs(3);
        throw new Error('ENOSPC');
      }),
    ).toThrow('ENOSPC');
    expect(h.policy.counts.synchronous).toBe(1);
    expect(h.write(100)).toBe(false); // its 3 ms used the turn's budget
    h.nextTurn();
    expect(h.write(100)).toBe(true);
  });

  it('follows the budget it is given', () => {
    const h = harness({ synchronousBytesMax: 10, turnWriteMsMax: 5, turnBytesMax: 25 });
    expect(h.write(11)).toBe(false); // larger than synchronousBytesMax
    expect(h.write(10, 4.9)).toBe(true);
    expect(h.write(10, 0.05)).toBe(true); // 4.9 ms, 10 B used
    expect(h.write(10, 0)).toBe(true); // 4.95 ms, 20 B used
    expect(h.write(1, 0)).toBe(false); // 30 B used
    h.nextTurn();
    expect(h.write(10, 5)).toBe(true);
    expect(h.write(1, 0)).toBe(false); // 5 ms used, 10 B
  });
});

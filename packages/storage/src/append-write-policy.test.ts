import { describe, expect, it } from 'vitest';
import {
  AppendWritePolicy,
  type AppendWritePolicyLimits,
  appendWritePolicyLimitsDefault,
} from './append-write-policy.js';

const limits: AppendWritePolicyLimits = appendWritePolicyLimitsDefault;
const windowMs = 100;

/** Feeds windows of `windowMs` from `fromMs` until (and including) the one ending at `untilMs`. */
function feed(
  policy: AppendWritePolicy,
  fromMs: number,
  untilMs: number,
  utilization: number,
  lateMs = 0,
): void {
  for (let endMs = fromMs + windowMs; endMs <= untilMs; endMs += windowMs) {
    policy.onWindow({ endMs, utilization, lateMs });
  }
}

/** A policy that has been quiet long enough to write synchronously (its clock at 2,000 ms). */
function quietPolicy(): AppendWritePolicy {
  const policy = new AppendWritePolicy();
  feed(policy, 0, 2_000, 0.05);
  expect(policy.mode).toBe('synchronous');
  return policy;
}

describe('AppendWritePolicy', () => {
  it('starts on the thread pool and writes synchronously only after a whole quiet hold', () => {
    const policy = new AppendWritePolicy();
    expect(policy.mode).toBe('thread-pool');
    expect(policy.writesSynchronously(100)).toBe(false);
    // The hold counts from the end of the first quiet window (100 ms): not yet at 1,000 ms...
    feed(policy, 0, 1_000, 0.1);
    expect(policy.mode).toBe('thread-pool');
    // ...at 1,100 ms it has lasted quietHoldMs.
    feed(policy, 1_000, 1_100, 0.1);
    expect(policy.mode).toBe('synchronous');
    expect(policy.writesSynchronously(100)).toBe(true);
    expect(policy.switches).toEqual({ toThreadPool: 0, toSynchronous: 1 });
  });

  it('never writes an append larger than synchronousBytesMax synchronously', () => {
    const policy = quietPolicy();
    expect(policy.writesSynchronously(limits.synchronousBytesMax)).toBe(true);
    expect(policy.writesSynchronously(limits.synchronousBytesMax + 1)).toBe(false);
  });

  it('goes to the thread pool at once on a busy window (utilization at the busy limit)', () => {
    const policy = quietPolicy();
    policy.onWindow({ endMs: 2_100, utilization: limits.busyUtilizationMin - 0.01, lateMs: 0 });
    expect(policy.mode).toBe('synchronous');
    policy.onWindow({ endMs: 2_200, utilization: limits.busyUtilizationMin, lateMs: 0 });
    expect(policy.mode).toBe('thread-pool');
    expect(policy.writesSynchronously(100)).toBe(false);
    expect(policy.switches).toEqual({ toThreadPool: 1, toSynchronous: 1 });
  });

  it('goes to the thread pool at once when the window timer fired late (a stopped or starved loop)', () => {
    const policy = quietPolicy();
    policy.onWindow({ endMs: 2_100, utilization: 0.05, lateMs: limits.busyLateMsMin - 1 });
    expect(policy.mode).toBe('synchronous');
    policy.onWindow({ endMs: 2_200, utilization: 0.05, lateMs: limits.busyLateMsMin });
    expect(policy.mode).toBe('thread-pool');
  });

  it('goes to the thread pool at once after a slow synchronous write, and not after a fast one', () => {
    const policy = quietPolicy();
    policy.onSynchronousWrite(0.009);
    policy.onSynchronousWrite(limits.slowWriteMsMin - 0.001);
    expect(policy.mode).toBe('synchronous');
    policy.onSynchronousWrite(limits.slowWriteMsMin);
    expect(policy.mode).toBe('thread-pool');
  });

  it('comes back to synchronous writes after a quiet hold following the busy period, not before', () => {
    const policy = quietPolicy();
    feed(policy, 2_000, 5_000, 0.9); // busy for 3 s
    expect(policy.mode).toBe('thread-pool');
    feed(policy, 5_000, 6_000, 0.1); // quiet windows ending 5,100 .. 6,000: 900 ms of hold
    expect(policy.mode).toBe('thread-pool');
    feed(policy, 6_000, 6_100, 0.1);
    expect(policy.mode).toBe('synchronous');
    expect(policy.switches).toEqual({ toThreadPool: 1, toSynchronous: 2 });
  });

  it('a slow write during the quiet hold starts the hold over', () => {
    const policy = quietPolicy();
    policy.onSynchronousWrite(limits.slowWriteMsMin + 10); // to the thread pool at 2,000
    feed(policy, 2_000, 2_500, 0.1);
    policy.onSynchronousWrite(limits.slowWriteMsMin); // one already under way when it switched
    feed(policy, 2_500, 3_500, 0.1); // 2,600 .. 3,500: 900 ms since the hold started again
    expect(policy.mode).toBe('thread-pool');
    feed(policy, 3_500, 3_600, 0.1);
    expect(policy.mode).toBe('synchronous');
  });

  it('hysteresis: windows between the quiet and busy limits neither switch nor count as quiet', () => {
    const between = (limits.quietUtilizationMax + limits.busyUtilizationMin) / 2;
    const synchronous = quietPolicy();
    feed(synchronous, 2_000, 10_000, between);
    expect(synchronous.mode).toBe('synchronous'); // not busy: stays

    const threadPool = quietPolicy();
    threadPool.onWindow({ endMs: 2_100, utilization: 1, lateMs: 0 });
    // Quiet, then one window between the limits, then quiet: the hold starts over after it.
    feed(threadPool, 2_100, 2_900, 0.1);
    threadPool.onWindow({ endMs: 3_000, utilization: between, lateMs: 0 });
    feed(threadPool, 3_000, 3_900, 0.1);
    expect(threadPool.mode).toBe('thread-pool');
    feed(threadPool, 3_900, 4_100, 0.1);
    expect(threadPool.mode).toBe('synchronous');
    // A window late by between the limits does the same as a utilization between them.
    threadPool.onWindow({ endMs: 4_200, utilization: 0.1, lateMs: limits.quietLateMsMax });
    expect(threadPool.mode).toBe('synchronous');
  });

  it('a loop that alternates busy and quiet windows stays on the thread pool', () => {
    const policy = quietPolicy();
    for (let endMs = 2_100; endMs <= 20_000; endMs += windowMs) {
      policy.onWindow({ endMs, utilization: (endMs / windowMs) % 2 === 0 ? 0.95 : 0.05, lateMs: 0 });
    }
    expect(policy.mode).toBe('thread-pool');
    expect(policy.switches).toEqual({ toThreadPool: 1, toSynchronous: 1 });
  });

  it('refuses limits whose quiet side is above their busy side', () => {
    expect(
      () => new AppendWritePolicy({ ...limits, quietUtilizationMax: 0.7, busyUtilizationMin: 0.6 }),
    ).toThrow();
    expect(() => new AppendWritePolicy({ ...limits, quietLateMsMax: 30, busyLateMsMin: 20 })).toThrow();
  });
});

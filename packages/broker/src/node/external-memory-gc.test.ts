import { ManualClock } from '@gregor/ground';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  collectExternalMemoryGarbage,
  ExternalMemoryGcPolicy,
  externalMemoryGrowthBytesMeasured,
  externalMemorySampleIntervalMs,
} from './external-memory-gc.js';

const mib = 1024 * 1024;

describe('ExternalMemoryGcPolicy', () => {
  it('collects once external memory is the growth above its lowest reading, not before', () => {
    const policy = new ExternalMemoryGcPolicy(16 * mib, 1_000);
    expect(policy.sample(0, 10 * mib)).toBe(false);
    expect(policy.sample(100, 4 * mib)).toBe(false); // a collection of V8's own lowered it
    expect(policy.sample(200, 19 * mib)).toBe(false); // 15 MiB above the lowest
    expect(policy.sample(300, 20 * mib)).toBe(true);
  });

  it('collects at most once per interval, however much it grows', () => {
    const policy = new ExternalMemoryGcPolicy(16 * mib, 1_000);
    policy.sample(0, 0);
    expect(policy.sample(100, 20 * mib)).toBe(true);
    expect(policy.sample(200, 0)).toBe(false);
    expect(policy.sample(300, 40 * mib)).toBe(false);
    expect(policy.sample(1_099, 80 * mib)).toBe(false);
    expect(policy.sample(1_100, 80 * mib)).toBe(true);
  });

  it('takes what is left after a collection as the new floor, so memory that stays live starts none', () => {
    const policy = new ExternalMemoryGcPolicy(16 * mib, 1_000);
    policy.sample(0, 0);
    expect(policy.sample(100, 30 * mib)).toBe(true);
    // 30 MiB were live: the collection freed nothing, and they do not start another.
    expect(policy.sample(200, 30 * mib)).toBe(false);
    expect(policy.sample(5_000, 45 * mib)).toBe(false);
    expect(policy.sample(5_100, 46 * mib)).toBe(true);
  });
});

describe('collectExternalMemoryGarbage', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('collects when Buffers allocated since the last reading reach the growth', () => {
    vi.useFakeTimers();
    const collect = vi.fn();
    const watch = collectExternalMemoryGarbage(
      externalMemoryGrowthBytesMeasured,
      new ManualClock(0),
      collect,
    );
    try {
      vi.advanceTimersByTime(externalMemorySampleIntervalMs); // the floor
      // The floor can count dead ArrayBuffers (of earlier test files in this worker) that V8's
      // concurrent sweeper releases only after it was read, which hides that much of the growth
      // (CI, 2026-12-07): so the test grows external memory, held, until the watch collects, at
      // most a few times. Five readings are 500 ms, within one forced-collection interval, so a
      // second collection would be a bug, not the retries.
      const held: Buffer[] = [];
      for (let attempt = 0; attempt < 5 && collect.mock.calls.length === 0; attempt++) {
        held.push(Buffer.alloc(externalMemoryGrowthBytesMeasured + mib));
        vi.advanceTimersByTime(externalMemorySampleIntervalMs);
      }
      expect(collect).toHaveBeenCalledTimes(1);
      expect(watch.stats().count).toBe(1);
      // Once collected, the floor restarts: the Buffers still held start no second collection.
      vi.advanceTimersByTime(5 * externalMemorySampleIntervalMs);
      expect(collect).toHaveBeenCalledTimes(1);
      expect(held.length).toBeGreaterThan(0);
    } finally {
      watch.stop();
    }
  });

  it("uses V8's own gc(), which frees Buffers no longer referenced", async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const watch = collectExternalMemoryGarbage(externalMemoryGrowthBytesMeasured, new ManualClock(0));
    try {
      vi.advanceTimersByTime(externalMemorySampleIntervalMs); // the floor
      // The floor can count dead ArrayBuffers that V8's concurrent sweeper releases only later
      // (on a loaded machine, after the next reading), which hides that much of the growth: so
      // the test grows external memory until the watch collects, at most a few times.
      const garbage: WeakRef<Buffer>[] = [];
      for (let attempt = 0; attempt < 5 && watch.stats().count === 0; attempt++) {
        let held: Buffer | undefined = Buffer.alloc(externalMemoryGrowthBytesMeasured + 4 * mib, 1);
        garbage.push(new WeakRef(held));
        // A WeakRef holds its target until the turn that created it ends; held strongly across
        // that end, so no collection of V8's own frees it before the watch reads the growth.
        await new Promise((resolve) => setImmediate(resolve));
        held = undefined;
        vi.advanceTimersByTime(externalMemorySampleIntervalMs);
      }
      expect(watch.stats().count).toBe(1);
      // Counted, not compared: a failed comparison would print 20 MiB Buffers.
      expect(garbage.filter((ref) => ref.deref() !== undefined).length).toBe(0);
    } finally {
      watch.stop();
    }
  });
});

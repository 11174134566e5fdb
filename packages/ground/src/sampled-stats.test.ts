import { describe, expect, it } from 'vitest';
import { bucketUpperBoundMs, SampledAvgMax, SampledPercentiles, SampledRate } from './sampled-stats.js';

const windows = { windowMs: 1_000, samples: 2 };

describe('SampledAvgMax', () => {
  it('is NaN before anything is recorded, as Kafka reports it', () => {
    const stat = new SampledAvgMax(windows);
    expect(stat.measure(0)).toEqual({ avg: Number.NaN, max: Number.NaN });
  });

  it('averages and maximises over the live samples only', () => {
    const stat = new SampledAvgMax(windows);
    stat.record(10, 0);
    stat.record(30, 500);
    expect(stat.measure(900)).toEqual({ avg: 20, max: 30 });
    // A second window: the first still counts (2 samples of 1 s).
    stat.record(2, 1_200);
    expect(stat.measure(1_300)).toEqual({ avg: 14, max: 30 });
    // The first window is 2 s old at 2 000: only the second counts.
    expect(stat.measure(2_000)).toEqual({ avg: 2, max: 2 });
    // Recording in a third window reuses (and clears) the first sample.
    stat.record(7, 2_300);
    expect(stat.measure(2_400)).toEqual({ avg: 4.5, max: 7 });
    expect(stat.measure(10_000)).toEqual({ avg: Number.NaN, max: Number.NaN });
  });

  it('refuses sample windows that cannot work', () => {
    expect(() => new SampledAvgMax({ windowMs: 0, samples: 2 })).toThrow(/bad sample windows/);
    expect(() => new SampledAvgMax({ windowMs: 1000, samples: 0 })).toThrow(/bad sample windows/);
  });
});

describe('SampledPercentiles', () => {
  const fractions = [0.5, 0.9, 0.99, 0.999];

  it('is NaN for every fraction before anything is recorded', () => {
    expect(new SampledPercentiles(windows).measure(fractions, 0)).toEqual(fractions.map(() => Number.NaN));
  });

  it('finds each percentile within 9% above the true value', () => {
    const stat = new SampledPercentiles(windows);
    // 1..1000 ms, each once: the p-th percentile is p × 1000.
    for (let value = 1; value <= 1000; value++) stat.record(value, 10);
    const measured = stat.measure(fractions, 20);
    fractions.forEach((fraction, index) => {
      const truth = fraction * 1000;
      expect(measured[index]).toBeGreaterThanOrEqual(truth);
      expect(measured[index]).toBeLessThanOrEqual(truth * 1.091);
    });
  });

  it('tells sub-millisecond times apart and clamps the extremes', () => {
    const stat = new SampledPercentiles(windows);
    stat.record(0, 0);
    stat.record(0.05, 0);
    stat.record(1e12, 0);
    const [low, middle, high] = stat.measure([0.1, 0.5, 1], 0);
    expect(low).toBe(bucketUpperBoundMs(0));
    expect(middle).toBeGreaterThanOrEqual(0.05);
    expect(middle).toBeLessThan(0.055);
    expect(high).toBeGreaterThan(60 * 60 * 1000);
  });

  it('forgets values older than the sample windows', () => {
    const stat = new SampledPercentiles(windows);
    stat.record(500, 0);
    stat.record(1, 1_500);
    expect(stat.measure([1], 1_600)[0]).toBeGreaterThanOrEqual(500);
    expect(stat.measure([1], 2_100)[0]).toBeLessThan(1.1);
  });
});

/** replication.quota.window.num × replication.quota.window.size.seconds, Kafka's defaults. */
const replicationWindows = { windowMs: 1_000, samples: 11 };

describe('SampledRate (Kafka Rate; here over 11 one-second windows, as replication quotas use it)', () => {
  it('spreads a first burst over windows-1 full windows', () => {
    const rate = new SampledRate(replicationWindows);
    rate.record(10_000, 0);
    expect(rate.measure(0)).toBe(1_000);
    expect(rate.measure(500)).toBe(10_000 / 10.5);
  });

  it('measures over the time the live windows span once past windows-1 of them', () => {
    const rate = new SampledRate(replicationWindows);
    for (let second = 0; second < 11; second++) rate.record(1_000, second * 1_000);
    expect(rate.measure(10_999)).toBeCloseTo(11_000 / 10.999, 6);
  });

  it('forgets a window 11 windows old', () => {
    const rate = new SampledRate(replicationWindows);
    rate.record(5_000, 0);
    rate.record(1_000, 10_500);
    expect(rate.measure(10_999)).toBeCloseTo(6_000 / 10.999, 6);
    expect(rate.measure(11_000)).toBe(1_000 / 10.5);
  });
});

import { describe, expect, it } from 'vitest';
import {
  parseThrottledReplicas,
  ReplicationQuota,
  ReplicationRate,
  replicationThrottleRateUnlimited,
} from './replication-quota.js';

describe('ReplicationRate (Kafka Rate over 11 one-second windows)', () => {
  it('spreads a first burst over windows-1 full windows', () => {
    const rate = new ReplicationRate();
    rate.record(10_000, 0);
    expect(rate.measure(0)).toBe(1_000);
    expect(rate.measure(500)).toBe(10_000 / 10.5);
  });

  it('measures over the time the live windows span once past windows-1 of them', () => {
    const rate = new ReplicationRate();
    for (let second = 0; second < 11; second++) rate.record(1_000, second * 1_000);
    expect(rate.measure(10_999)).toBeCloseTo(11_000 / 10.999, 6);
  });

  it('forgets a window 11 windows old', () => {
    const rate = new ReplicationRate();
    rate.record(5_000, 0);
    rate.record(1_000, 10_500);
    expect(rate.measure(10_999)).toBeCloseTo(6_000 / 10.999, 6);
    expect(rate.measure(11_000)).toBe(1_000 / 10.5);
  });
});

describe('ReplicationQuota', () => {
  it('is exceeded while the rate is above the bound, and never without a bound', () => {
    const quota = new ReplicationQuota();
    quota.record(1_000_000, 0);
    expect(quota.isQuotaExceeded(0)).toBe(false);
    quota.setRate(100_000);
    expect(quota.isQuotaExceeded(0)).toBe(false);
    quota.setRate(99_999);
    expect(quota.isQuotaExceeded(0)).toBe(true);
    expect(quota.isQuotaExceeded(11_000)).toBe(false);
    quota.setRate(replicationThrottleRateUnlimited);
    expect(quota.isQuotaExceeded(0)).toBe(false);
  });

  it('throttles the listed partitions of a topic, or all of them for *', () => {
    const quota = new ReplicationQuota();
    expect(quota.active).toBe(false);
    quota.markThrottled('a', parseThrottledReplicas('0:1,1:2,2:1', 1));
    quota.markThrottled('b', parseThrottledReplicas('*', 1));
    expect(quota.active).toBe(true);
    expect([0, 1, 2].map((p) => quota.isThrottled('a', p))).toEqual([true, false, true]);
    expect(quota.isThrottled('b', 7)).toBe(true);
    expect(quota.isThrottled('c', 0)).toBe(false);
    quota.retainTopics(new Set(['b']));
    expect(quota.isThrottled('a', 0)).toBe(false);
    quota.markThrottled('b', parseThrottledReplicas('', 1));
    expect(quota.active).toBe(false);
  });

  it('parses only the entries naming this broker', () => {
    expect(parseThrottledReplicas('0:2, 3:2', 2)).toEqual(new Set([0, 3]));
    expect(parseThrottledReplicas('0:2,3:2', 1)).toBeUndefined();
    expect(parseThrottledReplicas(' * ', 9)).toBe('*');
  });
});

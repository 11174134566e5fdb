import { describe, expect, it } from 'vitest';
import {
  parseThrottledReplicas,
  ReplicationQuota,
  replicationThrottleRateUnlimited,
} from './replication-quota.js';

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

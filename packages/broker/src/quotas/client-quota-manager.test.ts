import type { ClientQuotaState, QuotaEntity } from '@gregor/metadata';
import { quotaEntityKey } from '@gregor/metadata';
import { describe, expect, it } from 'vitest';
import {
  ClientQuotaManager,
  kafkaQuotaWindows,
  quotaSensorInactiveMsMax,
  resolveQuota,
  throttleTimeMsMax,
} from './client-quota-manager.js';

type Setting = [entity: [type: string, name: string | null][], key: string, value: number];

function quotas(settings: Setting[]): Map<string, ClientQuotaState> {
  const map = new Map<string, ClientQuotaState>();
  for (const [pairs, key, value] of settings) {
    const entity: QuotaEntity = pairs.map(([entityType, entityName]) => ({ entityType, entityName }));
    const entityKey = quotaEntityKey(entity);
    const values = new Map(map.get(entityKey)?.values ?? []);
    values.set(key, value);
    map.set(entityKey, { entity, values });
  }
  return map;
}

const alice = { user: 'alice', clientId: 'app' };

describe('which quota applies (Kafka precedence)', () => {
  const levels: Setting[] = [
    [
      [
        ['user', 'alice'],
        ['client-id', 'app'],
      ],
      'producer_byte_rate',
      1,
    ],
    [
      [
        ['user', 'alice'],
        ['client-id', null],
      ],
      'producer_byte_rate',
      2,
    ],
    [[['user', 'alice']], 'producer_byte_rate', 3],
    [
      [
        ['user', null],
        ['client-id', 'app'],
      ],
      'producer_byte_rate',
      4,
    ],
    [
      [
        ['user', null],
        ['client-id', null],
      ],
      'producer_byte_rate',
      5,
    ],
    [[['user', null]], 'producer_byte_rate', 6],
    [[['client-id', 'app']], 'producer_byte_rate', 7],
    [[['client-id', null]], 'producer_byte_rate', 8],
  ];
  const tags = [
    ['alice', 'app'],
    ['alice', 'app'],
    ['alice', ''],
    ['alice', 'app'],
    ['alice', 'app'],
    ['alice', ''],
    ['', 'app'],
    ['', 'app'],
  ];

  it('takes the most specific entity that sets the key, and shares the rate as that entity says', () => {
    for (let level = 0; level < levels.length; level++) {
      const resolved = resolveQuota(quotas(levels.slice(level)), 'producer_byte_rate', alice);
      expect(resolved, `level ${level + 1}`).toEqual({
        bound: level + 1,
        user: tags[level]![0],
        clientId: tags[level]![1],
      });
    }
  });

  it('ignores entities that set other keys, other users and other client ids', () => {
    const map = quotas([
      [[['user', 'alice']], 'consumer_byte_rate', 100],
      [[['user', 'bob']], 'producer_byte_rate', 200],
      [[['client-id', 'other']], 'producer_byte_rate', 300],
    ]);
    expect(resolveQuota(map, 'producer_byte_rate', alice)).toBeNull();
    expect(resolveQuota(map, 'consumer_byte_rate', alice)?.bound).toBe(100);
  });
});

describe('ClientQuotaManager', () => {
  const windows = kafkaQuotaWindows; // 11 samples of 1 s

  it('throttles only above the quota, by (rate - quota) / quota x the measured window', () => {
    const manager = new ClientQuotaManager('producer_byte_rate', windows, () =>
      quotas([[[['client-id', 'app']], 'producer_byte_rate', 1000]]),
    );
    // A fresh rate is measured over (samples - 1) windows: 10 s.
    expect(manager.recordAndGetThrottleTimeMs(alice, 9_000, 0)).toBe(0);
    expect(manager.measuredRate(alice, 0)).toBe(900);
    expect(manager.recordAndGetThrottleTimeMs(alice, 7_000, 0)).toBe(6_000); // 1600 B/s: 0.6 x 10 s
    // The bytes counted although throttled; once the window has moved past them the rate is free.
    expect(manager.measuredRate(alice, 5_000)).toBe(1600);
    expect(manager.recordAndGetThrottleTimeMs(alice, 500, 11_000)).toBe(0);
    expect(manager.measuredRate(alice, 11_000)).toBe(50);
  });

  it('does not count a client without a quota, and picks up a quota set later', () => {
    let current = quotas([]);
    const manager = new ClientQuotaManager('producer_byte_rate', windows, () => current);
    expect(manager.recordAndGetThrottleTimeMs(alice, 1_000_000, 0)).toBe(0);
    expect(manager.sensorCount).toBe(0);
    current = quotas([[[['user', 'alice']], 'producer_byte_rate', 100]]);
    expect(manager.recordAndGetThrottleTimeMs(alice, 2_000, 1)).toBe(10_000); // 200 B/s: 1 x 10 s
    current = quotas([]);
    expect(manager.recordAndGetThrottleTimeMs(alice, 1_000_000, 2)).toBe(0);
  });

  it('throttles past the sampled window when the overshoot needs it, and a zero quota as long as the field holds', () => {
    const manager = new ClientQuotaManager('consumer_byte_rate', windows, () =>
      quotas([
        [[['client-id', 'app']], 'consumer_byte_rate', 1000],
        [[['client-id', 'none']], 'consumer_byte_rate', 0],
      ]),
    );
    expect(manager.recordAndGetThrottleTimeMs(alice, 40_000, 0)).toBe(30_000); // 4 kB/s: 3 x 10 s
    expect(manager.recordAndGetThrottleTimeMs({ user: 'u', clientId: 'none' }, 1, 0)).toBe(throttleTimeMsMax);
  });

  it('unrecords the bytes of a response it did not send', () => {
    const manager = new ClientQuotaManager('consumer_byte_rate', windows, () =>
      quotas([[[['client-id', 'app']], 'consumer_byte_rate', 1000]]),
    );
    expect(manager.recordAndGetThrottleTimeMs(alice, 20_000, 0)).toBeGreaterThan(0);
    manager.unrecord(alice, 20_000, 0);
    expect(manager.measuredRate(alice, 0)).toBe(0);
  });

  it('records without throttling, and the next record pays for it', () => {
    const manager = new ClientQuotaManager('request_percentage', windows, () =>
      quotas([[[['client-id', 'app']], 'request_percentage', 1]]),
    );
    // 1 % over a fresh 10 s window is 10 percent-seconds: 12 is over it, but nobody is throttled yet.
    manager.recordNoThrottle(alice, 12, 0);
    expect(manager.measuredRate(alice, 0)).toBe(1.2);
    expect(manager.recordAndGetThrottleTimeMs(alice, 0, 0)).toBe(2_000); // (1.2 - 1) / 1 x 10 s
    manager.recordNoThrottle({ user: 'u', clientId: 'none' }, 12, 0);
    expect(manager.sensorCount).toBe(1);
  });

  it("shares a user-level rate between the user's clients", () => {
    const manager = new ClientQuotaManager('producer_byte_rate', windows, () =>
      quotas([[[['user', 'alice']], 'producer_byte_rate', 1000]]),
    );
    expect(manager.recordAndGetThrottleTimeMs({ user: 'alice', clientId: 'a' }, 8_000, 0)).toBe(0);
    expect(manager.recordAndGetThrottleTimeMs({ user: 'alice', clientId: 'b' }, 8_000, 0)).toBe(6_000);
    expect(manager.sensorCount).toBe(1);
  });

  it('drops rates unused for an hour', () => {
    const manager = new ClientQuotaManager('producer_byte_rate', windows, () =>
      quotas([[[['client-id', null]], 'producer_byte_rate', 1000]]),
    );
    manager.recordAndGetThrottleTimeMs({ user: 'u', clientId: 'old' }, 1, 0);
    manager.recordAndGetThrottleTimeMs({ user: 'u', clientId: 'new' }, 1, quotaSensorInactiveMsMax - 1);
    expect(manager.sensorCount).toBe(2);
    manager.recordAndGetThrottleTimeMs({ user: 'u', clientId: 'new' }, 1, quotaSensorInactiveMsMax);
    expect(manager.sensorCount).toBe(1);
  });
});

describe('request_percentage (the time requests take, as a percentage of one thread)', () => {
  const windows = kafkaQuotaWindows; // 11 samples of 1 s
  // What ClientQuotas records for `ms` of request time: percent-seconds of one thread.
  const percentSeconds = (ms: number) => ms / 10;

  it('measures request time over the window as a percentage and throttles by at most one window', () => {
    const manager = new ClientQuotaManager(
      'request_percentage',
      windows,
      () => quotas([[[['user', 'alice']], 'request_percentage', 10]]),
      windows.windowMs,
    );
    // 900 ms of work in a fresh 10 s window: 9 % of one thread, within 10 %.
    expect(manager.recordAndGetThrottleTimeMs(alice, percentSeconds(900), 0)).toBe(0);
    expect(manager.measuredRate(alice, 0)).toBeCloseTo(9);
    // Another 200 ms: 11 %, (11 - 10) / 10 x 10 s = 1 s, which is also the bound.
    expect(manager.recordAndGetThrottleTimeMs(alice, percentSeconds(200), 0)).toBe(1_000);
    // Far over (31 %): (31 - 10) / 10 x 10 s = 21 s, bounded to one window (quota.window.size.seconds).
    expect(manager.recordAndGetThrottleTimeMs(alice, percentSeconds(2_000), 0)).toBe(1_000);
    // The work was counted: once the window has moved past it, the client is free again.
    expect(manager.recordAndGetThrottleTimeMs(alice, percentSeconds(1), 11_000)).toBe(0);
  });

  it('under a smaller overshoot throttles less than the bound', () => {
    const manager = new ClientQuotaManager(
      'request_percentage',
      windows,
      () => quotas([[[['client-id', 'app']], 'request_percentage', 50]]),
      windows.windowMs,
    );
    // 5.5 s of work in 10 s: 55 % against 50 %: 0.1 x 10 s.
    expect(manager.recordAndGetThrottleTimeMs(alice, percentSeconds(5_500), 0)).toBe(1_000);
    const other = new ClientQuotaManager(
      'request_percentage',
      windows,
      () => quotas([[[['client-id', 'app']], 'request_percentage', 50]]),
      windows.windowMs,
    );
    // 5.1 s: 51 %: 0.02 x 10 s.
    expect(other.recordAndGetThrottleTimeMs(alice, percentSeconds(5_100), 0)).toBe(200);
  });

  it('follows the same precedence as the byte rates and ignores them', () => {
    const map = quotas([
      [[['user', 'alice']], 'producer_byte_rate', 1],
      [[['user', null]], 'request_percentage', 25],
      [[['client-id', 'app']], 'request_percentage', 75],
    ]);
    // The default user is above client-id=app in Kafka's order.
    expect(resolveQuota(map, 'request_percentage', alice)).toEqual({
      bound: 25,
      user: 'alice',
      clientId: '',
    });
  });
});

import { type ClientQuotaState, quotaEntityKey } from '@gregor/metadata';
import { describe, expect, it } from 'vitest';
import { kafkaQuotaWindows } from './client-quota-manager.js';
import {
  type ConnectionLimits,
  ConnectionQuotas,
  canonicalIp,
  ipConnectionRateInactiveMsMax,
  ipConnectionRateOf,
  noConnectionLimits,
} from './connection-quotas.js';

const windows = kafkaQuotaWindows; // 11 samples of 1 s: a fresh rate is measured over 10 s

function quotas(limits: Partial<ConnectionLimits>, ipRates: Record<string, number> = {}) {
  return new ConnectionQuotas({ ...noConnectionLimits, ...limits }, windows, (ip) => ipRates[ip]);
}

describe('ConnectionQuotas', () => {
  it('refuses a connection past max.connections.per.ip, and takes the IP override over it', () => {
    const limits = quotas({
      maxConnectionsPerIp: 2,
      maxConnectionsPerIpOverrides: new Map([['10.0.0.9', 3]]),
    });
    expect(limits.admit('PLAINTEXT', '10.0.0.1', 0)).toEqual({ kind: 'admitted' });
    expect(limits.admit('PLAINTEXT', '10.0.0.1', 0)).toEqual({ kind: 'admitted' });
    expect(limits.admit('PLAINTEXT', '10.0.0.1', 0)).toEqual({ kind: 'refused', limit: 2 });
    // Other addresses are not affected, and the override allows its IP one more.
    expect(limits.admit('PLAINTEXT', '10.0.0.2', 0)).toEqual({ kind: 'admitted' });
    for (let i = 0; i < 3; i++) expect(limits.admit('PLAINTEXT', '10.0.0.9', 0).kind).toBe('admitted');
    expect(limits.admit('PLAINTEXT', '10.0.0.9', 0)).toEqual({ kind: 'refused', limit: 3 });
    // A closed connection gives its slot back.
    limits.closed('PLAINTEXT', '10.0.0.1');
    expect(limits.openConnections('10.0.0.1')).toBe(1);
    expect(limits.admit('PLAINTEXT', '10.0.0.1', 0)).toEqual({ kind: 'admitted' });
    expect(limits.openConnections()).toBe(6);
  });

  it('has no slot past max.connections or the listener max.connections', () => {
    const limits = quotas({ maxConnections: 3, listenerMaxConnections: new Map([['INTERNAL', 1]]) });
    expect(limits.slotAvailable('INTERNAL')).toBe(true);
    limits.admit('INTERNAL', '10.0.0.1', 0);
    expect(limits.slotAvailable('INTERNAL')).toBe(false);
    expect(limits.slotAvailable('PLAINTEXT')).toBe(true);
    limits.admit('PLAINTEXT', '10.0.0.1', 0);
    limits.admit('PLAINTEXT', '10.0.0.2', 0);
    expect(limits.slotAvailable('PLAINTEXT')).toBe(false);
    limits.closed('INTERNAL', '10.0.0.1');
    expect(limits.slotAvailable('PLAINTEXT')).toBe(true);
    expect(limits.slotAvailable('INTERNAL')).toBe(true);
  });

  it('throttles an IP over its connection_creation_rate, takes the connection back from every rate, and leaves other IPs alone', () => {
    const limits = quotas(
      { maxConnectionCreationRate: 100 },
      { '127.0.0.1': 1 }, // 1 a second over a fresh 10 s window: 10 connections
    );
    for (let i = 0; i < 10; i++) {
      expect(limits.recordAccept('PLAINTEXT', 0)).toBe(0);
      expect(limits.admit('PLAINTEXT', '127.0.0.1', 0), `connection ${i + 1}`).toEqual({ kind: 'admitted' });
    }
    limits.recordAccept('PLAINTEXT', 0);
    // 11 over 10 s is 1.1/s: (1.1 - 1) / 1 x 10 s = 1 s, also the bound (one quota window).
    expect(limits.admit('PLAINTEXT', '127.0.0.1', 0)).toEqual({
      kind: 'throttled',
      throttleTimeMs: 1_000,
      rate: 1,
    });
    expect(limits.openConnections('127.0.0.1')).toBe(10);
    // Another IP has no quota; the throttled connection did not count in the broker's rate either.
    for (let i = 0; i < 990; i++) {
      expect(limits.recordAccept('PLAINTEXT', 0)).toBe(0);
      expect(limits.admit('PLAINTEXT', '127.0.0.2', 0).kind).toBe('admitted');
    }
    // 1001 over 10 s is above max.connection.creation.rate = 100/s.
    expect(limits.recordAccept('PLAINTEXT', 0)).toBe(10);
    // Once the window has moved past them, the IP may connect again.
    limits.recordAccept('PLAINTEXT', 11_000);
    expect(limits.admit('PLAINTEXT', '127.0.0.1', 11_000)).toEqual({ kind: 'admitted' });
  });

  it('delays accepts over max.connection.creation.rate or the listener rate, the longer, by at most one window', () => {
    const limits = quotas({
      maxConnectionCreationRate: 2,
      listenerMaxConnectionCreationRate: new Map([['SLOW', 1]]),
    });
    for (let i = 0; i < 10; i++) expect(limits.recordAccept('SLOW', 0)).toBe(0);
    // The listener: 11 over 10 s against 1/s: 1 s. The broker: 1.1/s, within 2/s.
    expect(limits.recordAccept('SLOW', 0)).toBe(1_000);
    for (let i = 0; i < 8; i++) limits.recordAccept('PLAINTEXT', 0);
    expect(limits.recordAccept('PLAINTEXT', 0)).toBe(0); // 20 over 10 s: 2/s
    // 21 over 10 s: 2.1/s against 2/s: 0.05 x 10 s.
    expect(limits.recordAccept('PLAINTEXT', 0)).toBe(500);
  });

  it('a zero connection_creation_rate throttles every connection for one window; an unused IP rate is dropped after an hour', () => {
    const rates: Record<string, number> = { '10.0.0.5': 0 };
    const limits = quotas({}, rates);
    expect(limits.admit('PLAINTEXT', '10.0.0.5', 0)).toEqual({
      kind: 'throttled',
      throttleTimeMs: 1_000,
      rate: 0,
    });
    rates['10.0.0.5'] = 1;
    rates['10.0.0.6'] = 1;
    for (let i = 0; i < 10; i++) limits.admit('PLAINTEXT', '10.0.0.6', 0);
    expect(limits.admit('PLAINTEXT', '10.0.0.6', 0).kind).toBe('throttled');
    // Another IP's connection an hour later expires 10.0.0.6's rate: it starts afresh.
    limits.admit('PLAINTEXT', '10.0.0.5', ipConnectionRateInactiveMsMax);
    expect(limits.admit('PLAINTEXT', '10.0.0.6', ipConnectionRateInactiveMsMax).kind).toBe('admitted');
  });
});

describe('which connection_creation_rate applies to an IP', () => {
  it('spells an address one way: IPv4-mapped IPv6 as IPv4, IPv6 compressed', () => {
    expect(canonicalIp('127.0.0.1')).toBe('127.0.0.1');
    expect(canonicalIp('::ffff:127.0.0.2')).toBe('127.0.0.2');
    expect(canonicalIp('0:0:0:0:0:0:0:1')).toBe('::1');
    expect(canonicalIp('2001:DB8:0:0:0:0:0:7')).toBe('2001:db8::7');
  });

  it("takes the IP's own entity, else the default ip entity, and re-reads changed quotas", () => {
    const state = (name: string | null, rate: number): [string, ClientQuotaState] => {
      const entity = [{ entityType: 'ip', entityName: name }];
      return [quotaEntityKey(entity), { entity, values: new Map([['connection_creation_rate', rate]]) }];
    };
    let current = new Map([state('0:0:0:0:0:0:0:1', 5), state('10.0.0.1', 7)]);
    const rateOf = ipConnectionRateOf(() => current);
    expect(rateOf('::1')).toBe(5);
    expect(rateOf('10.0.0.1')).toBe(7);
    expect(rateOf('10.0.0.2')).toBeUndefined();
    current = new Map([state(null, 3), state('10.0.0.1', 7)]);
    expect(rateOf('10.0.0.2')).toBe(3);
    expect(rateOf('10.0.0.1')).toBe(7);
  });
});

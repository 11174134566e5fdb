// Kafka's ConnectionQuotas (KIP-402, KIP-612): the limits on the Kafka listeners' connections, for
// one broker. The socket server asks it about every connection it accepts, in the order Kafka's
// acceptor does:
//   1. `recordAccept`: the connection counts against the broker's max.connection.creation.rate and
//      its listener's listener.name.<l>.max.connection.creation.rate; over either, the listener
//      accepts nothing more for the throttle time (Kafka's acceptor blocks: later connections queue
//      behind this one), the longer of the two, at most one quota window.
//   2. `slotAvailable`: below max.connections and listener.name.<l>.max.connections; otherwise the
//      listener waits until a connection closes (Kafka's acceptor waits the same way).
//   3. `admit`: the connection counts against its IP's connection_creation_rate (the ip entity's
//      quota, else the default ip entity's, else none); over it, the connection is not served and is
//      closed after the throttle time, and it is taken back from every rate (Kafka's
//      ConnectionThrottledException). Then it counts against its IP's open connections; past
//      max.connections.per.ip (or the IP's max.connections.per.ip.overrides entry) it is refused
//      (Kafka's TooManyConnectionsException).
// `closed` gives back the slot of a connection that `admit` let in. The rates are Kafka's sampled
// rates over quota.window.num samples of quota.window.size.seconds, as for the client quotas.
//
// The class is pure: the caller passes the time to every call.

import { isIP } from 'node:net';
import { SampledRate } from '@gregor/ground';
import { type ClientQuotaState, QuotaEntityType, quotaEntityName } from '@gregor/metadata';
import type { QuotaWindows } from './client-quota-manager.js';

/** Kafka's "no limit" for every connection setting: Int.MaxValue. */
export const connectionLimitNone = 2_147_483_647;
/** IP rates kept at once; past it the least recently used one is dropped. */
export const ipConnectionRatesMax = 100_000;
/** An IP rate unused this long is dropped (Kafka expires inactive IP sensors after an hour). */
export const ipConnectionRateInactiveMsMax = 3_600_000;

export interface ConnectionLimits {
  /** max.connections */
  readonly maxConnections: number;
  /** max.connections.per.ip */
  readonly maxConnectionsPerIp: number;
  /** max.connections.per.ip.overrides, by canonical IP. */
  readonly maxConnectionsPerIpOverrides: ReadonlyMap<string, number>;
  /** max.connection.creation.rate, connections per second over the whole broker. */
  readonly maxConnectionCreationRate: number;
  /** listener.name.<l>.max.connections, by listener name. */
  readonly listenerMaxConnections: ReadonlyMap<string, number>;
  /** listener.name.<l>.max.connection.creation.rate, by listener name. */
  readonly listenerMaxConnectionCreationRate: ReadonlyMap<string, number>;
}

export const noConnectionLimits: ConnectionLimits = {
  maxConnections: connectionLimitNone,
  maxConnectionsPerIp: connectionLimitNone,
  maxConnectionsPerIpOverrides: new Map(),
  maxConnectionCreationRate: connectionLimitNone,
  listenerMaxConnections: new Map(),
  listenerMaxConnectionCreationRate: new Map(),
};

export type Admission =
  | { readonly kind: 'admitted' }
  /** Over the IP's connection_creation_rate: not served, closed after `throttleTimeMs`. */
  | { readonly kind: 'throttled'; readonly throttleTimeMs: number; readonly rate: number }
  /** At max.connections.per.ip (or the IP's override) already: closed at once. */
  | { readonly kind: 'refused'; readonly limit: number };

interface IpRate {
  readonly rate: SampledRate;
  lastUsedMs: number;
}

export class ConnectionQuotas {
  private readonly brokerRate: SampledRate;
  private readonly listenerRates = new Map<string, SampledRate>();
  private readonly ipRates = new Map<string, IpRate>();
  private readonly openByIp = new Map<string, number>();
  private readonly openByListener = new Map<string, number>();
  private openTotal = 0;

  /**
   * `ipConnectionRate`: the connection_creation_rate that applies to an IP (canonical form), from
   * the ip entities of the client quotas; undefined: no limit.
   */
  constructor(
    private readonly limits: ConnectionLimits,
    private readonly windows: QuotaWindows,
    private readonly ipConnectionRate: (ip: string) => number | undefined,
  ) {
    this.brokerRate = new SampledRate(windows);
  }

  /**
   * Counts a new connection against the broker's and its listener's creation rates; how long the
   * listener must wait before serving it (0: at once), bounded by one quota window.
   */
  recordAccept(listener: string, nowMs: number): number {
    let throttleMs = this.record(this.brokerRate, this.limits.maxConnectionCreationRate, nowMs);
    const listenerBound = this.limits.listenerMaxConnectionCreationRate.get(listener);
    if (listenerBound !== undefined) {
      throttleMs = Math.max(throttleMs, this.record(this.listenerRate(listener), listenerBound, nowMs));
    }
    return throttleMs;
  }

  /** Whether the listener may take one more connection under max.connections and its own limit. */
  slotAvailable(listener: string): boolean {
    const listenerMax = this.limits.listenerMaxConnections.get(listener) ?? connectionLimitNone;
    if ((this.openByListener.get(listener) ?? 0) >= listenerMax) return false;
    return this.openTotal < this.limits.maxConnections;
  }

  /** The IP checks of a connection `recordAccept` counted; `admitted` takes a slot until `closed`. */
  admit(listener: string, ip: string, nowMs: number): Admission {
    const rateBound = this.ipConnectionRate(ip);
    if (rateBound !== undefined && rateBound < connectionLimitNone) {
      const rate = this.ipRate(ip, nowMs);
      const throttleTimeMs = this.record(rate, rateBound, nowMs);
      if (throttleTimeMs > 0) {
        // Not accepted after all: taken back from every rate, as Kafka does.
        rate.unrecord(1, nowMs);
        this.brokerRate.unrecord(1, nowMs);
        this.listenerRates.get(listener)?.unrecord(1, nowMs);
        return { kind: 'throttled', throttleTimeMs, rate: rateBound };
      }
    }
    const limit = this.limits.maxConnectionsPerIpOverrides.get(ip) ?? this.limits.maxConnectionsPerIp;
    const open = this.openByIp.get(ip) ?? 0;
    if (open >= limit) return { kind: 'refused', limit };
    this.openByIp.set(ip, open + 1);
    this.openByListener.set(listener, (this.openByListener.get(listener) ?? 0) + 1);
    this.openTotal++;
    return { kind: 'admitted' };
  }

  /** A connection `admit` let in has closed. */
  closed(listener: string, ip: string): void {
    const open = this.openByIp.get(ip) ?? 0;
    if (open <= 1) this.openByIp.delete(ip);
    else this.openByIp.set(ip, open - 1);
    this.openByListener.set(listener, Math.max(0, (this.openByListener.get(listener) ?? 0) - 1));
    this.openTotal = Math.max(0, this.openTotal - 1);
  }

  openConnections(ip?: string): number {
    return ip === undefined ? this.openTotal : (this.openByIp.get(ip) ?? 0);
  }

  /** Records one connection; the throttle time over `bound` per second, at most one window. */
  private record(rate: SampledRate, bound: number, nowMs: number): number {
    if (bound >= connectionLimitNone) return 0;
    rate.record(1, nowMs);
    const measured = rate.measure(nowMs);
    if (measured <= bound) return 0;
    if (bound === 0) return this.windows.windowMs;
    const throttleMs = ((measured - bound) / bound) * rate.windowSizeMs(nowMs);
    return Math.min(Math.round(throttleMs), this.windows.windowMs);
  }

  private listenerRate(listener: string): SampledRate {
    let rate = this.listenerRates.get(listener);
    if (rate === undefined) {
      rate = new SampledRate(this.windows);
      this.listenerRates.set(listener, rate);
    }
    return rate;
  }

  private ipRate(ip: string, nowMs: number): SampledRate {
    let entry = this.ipRates.get(ip);
    if (entry === undefined) {
      entry = { rate: new SampledRate(this.windows), lastUsedMs: nowMs };
    } else {
      this.ipRates.delete(ip);
      entry.lastUsedMs = nowMs;
    }
    this.ipRates.set(ip, entry);
    for (const [key, old] of this.ipRates) {
      const idle = nowMs - old.lastUsedMs >= ipConnectionRateInactiveMsMax;
      if (!idle && this.ipRates.size <= ipConnectionRatesMax) break;
      this.ipRates.delete(key);
    }
    return entry.rate;
  }
}

/**
 * One spelling per address, so a socket's address finds the quota set for it: an IPv4-mapped IPv6
 * address (what a dual-stack listener reports for an IPv4 client) as IPv4, IPv6 compressed.
 */
export function canonicalIp(address: string): string {
  if (isIP(address) !== 6) return address;
  const compressed = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(compressed);
  if (mapped === null) return compressed;
  const high = Number.parseInt(mapped[1]!, 16);
  const low = Number.parseInt(mapped[2]!, 16);
  return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
}

/**
 * The connection_creation_rate of an IP from the client quotas of the metadata image: its own ip
 * entity's, else the default ip entity's; undefined: none. Re-read when the image's quotas change.
 */
export function ipConnectionRateOf(
  quotas: () => ReadonlyMap<string, ClientQuotaState>,
): (ip: string) => number | undefined {
  let readFrom: ReadonlyMap<string, ClientQuotaState> | undefined;
  let byIp = new Map<string, number>();
  let byDefault: number | undefined;
  return (ip) => {
    const current = quotas();
    if (current !== readFrom) {
      readFrom = current;
      byIp = new Map();
      byDefault = undefined;
      for (const { entity, values } of current.values()) {
        const rate = values.get('connection_creation_rate');
        const name = quotaEntityName(entity, QuotaEntityType.IP);
        if (rate === undefined || name === undefined) continue;
        if (name === null) byDefault = rate;
        else byIp.set(canonicalIp(name), rate);
      }
    }
    return byIp.get(ip) ?? byDefault;
  };
}

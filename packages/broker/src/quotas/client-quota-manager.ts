// Kafka's ClientQuotaManager for one client quota (KIP-13, KIP-55, KIP-124, KIP-219):
// producer_byte_rate over the bytes of Produce requests, consumer_byte_rate over the bytes of
// consumer Fetch responses, request_percentage over the time requests take (ClientRequestQuotaManager:
// the value recorded is that time as percent-seconds of one thread, so the rate is a percentage).
//
// The quota of a request is found from the client quotas in the metadata image, in Kafka's order of
// precedence (the first entity that sets the key wins):
//   1. user=U, client-id=C          5. user=<default>, client-id=<default>
//   2. user=U, client-id=<default>  6. user=<default>
//   3. user=U                       7. client-id=C
//   4. user=<default>, client-id=C  8. client-id=<default>
// The entity that matched also says which clients share one rate (Kafka's quota metric tags): a
// user-level quota is shared by all the user's clients, a client-id-level one by every user of that
// client id. The rate is Kafka's (@gregor/ground's `SampledRate`: quota.window.num samples of
// quota.window.size.seconds). A request that takes the rate above the quota is still served (its
// bytes count); the throttle time is how long the client must stay quiet for the rate to fall back
// to the quota: (rate - quota) / quota × the measured window; request_percentage bounds that by one
// quota window (quota.window.size.seconds), as Kafka's ClientRequestQuotaManager does.
//
// Pure: the caller passes the time to every call.

import { SampledRate, type SampleWindows } from '@gregor/ground';
import {
  type ClientQuotaState,
  type QuotaEntityComponent,
  QuotaEntityType,
  quotaEntityKey,
} from '@gregor/metadata';

export type ByteRateQuotaKey = 'producer_byte_rate' | 'consumer_byte_rate';
export type ClientQuotaKey = ByteRateQuotaKey | 'request_percentage';

/** quota.window.num and quota.window.size.seconds, as sample windows. */
export interface QuotaWindows extends SampleWindows {}

/** Kafka's defaults: 11 samples of 1 s. */
export const kafkaQuotaWindows: QuotaWindows = { samples: 11, windowMs: 1000 };

/** throttle_time_ms is an int32: the bound of a throttle (only a zero quota comes near it). */
export const throttleTimeMsMax = 2_147_483_647;

/** (user, client-id) rates kept at once; past it the least recently used one is dropped. */
export const quotaSensorsMax = 100_000;
/** A rate unused this long is dropped (Kafka expires inactive quota sensors after an hour). */
export const quotaSensorInactiveMsMax = 3_600_000;
/** How stale a rate's last-use time may get before it is refreshed (and old rates expired). */
const sensorTouchIntervalMs = 1000;

/** Who the request is from, as quotas see it. */
export interface QuotaClient {
  /** The principal's name (`ANONYMOUS` without authentication). */
  readonly user: string;
  readonly clientId: string;
}

export interface QuotaThrottle extends QuotaClient {
  /** 0: within the quota. */
  readonly timeMs: number;
}

export interface ResolvedQuota {
  /** Bytes per second (percent of one thread for request_percentage). */
  readonly bound: number;
  /** Whose rate it is: '' for a part the matched entity does not name (Kafka's metric tags). */
  readonly user: string;
  readonly clientId: string;
}

type QuotaMap = ReadonlyMap<string, ClientQuotaState>;

const user = (name: string | null): QuotaEntityComponent => ({
  entityType: QuotaEntityType.USER,
  entityName: name,
});
const client = (name: string | null): QuotaEntityComponent => ({
  entityType: QuotaEntityType.CLIENT_ID,
  entityName: name,
});

/** The quota of `key` that applies to the client, in Kafka's order of precedence; null: none. */
export function resolveQuota(quotas: QuotaMap, key: ClientQuotaKey, who: QuotaClient): ResolvedQuota | null {
  if (quotas.size === 0) return null;
  const { user: u, clientId: c } = who;
  const candidates: [components: QuotaEntityComponent[], tagUser: string, tagClientId: string][] = [
    [[user(u), client(c)], u, c],
    [[user(u), client(null)], u, c],
    [[user(u)], u, ''],
    [[user(null), client(c)], u, c],
    [[user(null), client(null)], u, c],
    [[user(null)], u, ''],
    [[client(c)], '', c],
    [[client(null)], '', c],
  ];
  for (const [components, tagUser, tagClientId] of candidates) {
    const bound = quotas.get(quotaEntityKey(components))?.values.get(key);
    if (bound !== undefined) return { bound, user: tagUser, clientId: tagClientId };
  }
  return null;
}

interface Sensor {
  readonly rate: SampledRate;
  lastUsedMs: number;
}

export class ClientQuotaManager {
  /** By `user \0 client-id` of the matched entity, least recently used first. */
  private readonly sensors = new Map<string, Sensor>();
  /** Resolved quotas by `user \0 client-id` of the client, for the quota map they were resolved in. */
  private readonly resolved = new Map<string, ResolvedQuota | null>();
  private resolvedIn: QuotaMap | undefined;

  /**
   * `throttleTimeMsBound`: the longest throttle this quota gives (Kafka bounds request_percentage's
   * by one quota window; the byte rates only by the int32 field).
   */
  constructor(
    readonly key: ClientQuotaKey,
    private readonly windows: QuotaWindows,
    private readonly quotas: () => QuotaMap,
    private readonly throttleTimeMsBound = throttleTimeMsMax,
  ) {}

  /**
   * Counts `bytes` (percent-seconds for request_percentage) against the client's quota and answers how long it must be throttled (0: not).
   * Without a quota for the client nothing is counted.
   */
  recordAndGetThrottleTimeMs(who: QuotaClient, bytes: number, nowMs: number): number {
    return this.record(who, bytes, nowMs)?.timeMs ?? 0;
  }

  /**
   * As `recordAndGetThrottleTimeMs`, with whose rate it was (the matched entity's user and client
   * id, '' for a part it does not name: what Kafka tags the quota's metrics with); null: no quota.
   */
  record(who: QuotaClient, bytes: number, nowMs: number): QuotaThrottle | null {
    const quota = this.resolve(who);
    if (quota === null) return null;
    const rate = this.sensor(quota, nowMs);
    rate.record(bytes, nowMs);
    const measured = rate.measure(nowMs);
    const tags = { user: quota.user, clientId: quota.clientId };
    if (measured <= quota.bound) return { timeMs: 0, ...tags };
    const throttleMs = ((measured - quota.bound) / quota.bound) * rate.windowSizeMs(nowMs);
    return { timeMs: Math.min(Math.round(throttleMs), this.throttleTimeMsBound), ...tags };
  }

  /**
   * Counts `value` against the client's quota without checking it (Kafka's
   * ClientQuotaManager.recordNoThrottle): the client's next request pays. Nothing without a quota.
   */
  recordNoThrottle(who: QuotaClient, value: number, nowMs: number): void {
    const quota = this.resolve(who);
    if (quota === null) return;
    this.sensor(quota, nowMs).record(value, nowMs);
  }

  /**
   * The most bytes one response may hold without being throttled for sure (Kafka's
   * getMaxValueInQuotaWindow: the quota over samples - 1 windows); Infinity without a quota. A Fetch
   * asks for no more, or a consumer whose fetches are larger would be answered empty for ever.
   */
  maxValueInQuotaWindow(who: QuotaClient): number {
    const quota = this.resolve(who);
    if (quota === null) return Number.POSITIVE_INFINITY;
    return Math.floor((quota.bound * (this.windows.samples - 1) * this.windows.windowMs) / 1000);
  }

  /** Takes back bytes recorded for a response that is not sent after all (a throttled Fetch). */
  unrecord(who: QuotaClient, bytes: number, nowMs: number): void {
    const quota = this.resolve(who);
    if (quota === null) return;
    this.sensors.get(sensorKey(quota))?.rate.unrecord(bytes, nowMs);
  }

  /** Whether a quota of this key applies to the client. */
  appliesTo(who: QuotaClient): boolean {
    return this.resolve(who) !== null;
  }

  /** The client's measured rate in bytes per second (0 without a quota): for tests and metrics. */
  measuredRate(who: QuotaClient, nowMs: number): number {
    const quota = this.resolve(who);
    return quota === null ? 0 : (this.sensors.get(sensorKey(quota))?.rate.measure(nowMs) ?? 0);
  }

  get sensorCount(): number {
    return this.sensors.size;
  }

  /** `resolveQuota`, remembered until the image's quotas change (8 lookups per request otherwise). */
  private resolve(who: QuotaClient): ResolvedQuota | null {
    const quotas = this.quotas();
    if (quotas.size === 0) return null;
    if (quotas !== this.resolvedIn || this.resolved.size >= quotaSensorsMax) {
      this.resolved.clear();
      this.resolvedIn = quotas;
    }
    const key = `${who.user}\u0000${who.clientId}`;
    let quota = this.resolved.get(key);
    if (quota === undefined) {
      quota = resolveQuota(quotas, this.key, who);
      this.resolved.set(key, quota);
    }
    return quota;
  }

  private sensor(quota: ResolvedQuota, nowMs: number): SampledRate {
    const key = sensorKey(quota);
    let sensor = this.sensors.get(key);
    if (sensor === undefined) {
      sensor = { rate: new SampledRate(this.windows), lastUsedMs: nowMs };
      this.sensors.set(key, sensor);
    } else if (nowMs - sensor.lastUsedMs >= sensorTouchIntervalMs) {
      // Moved to the back (most recently used) at most once a second: a Map re-insert per request
      // would cost more than the rest of the quota check.
      sensor.lastUsedMs = nowMs;
      this.sensors.delete(key);
      this.sensors.set(key, sensor);
    }
    this.expire(nowMs);
    return sensor.rate;
  }

  /** Drops rates unused for an hour, and the least recently used past `quotaSensorsMax`. */
  private expire(nowMs: number): void {
    for (const [key, sensor] of this.sensors) {
      const idle = nowMs - sensor.lastUsedMs >= quotaSensorInactiveMsMax;
      if (!idle && this.sensors.size <= quotaSensorsMax) return;
      this.sensors.delete(key);
    }
  }
}

function sensorKey(quota: ResolvedQuota): string {
  return `${quota.user}\u0000${quota.clientId}`;
}

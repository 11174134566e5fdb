// Replication throttling (KIP-73), as Kafka's ReplicationQuotaManager: one quota per broker for the
// leader side (bytes it sends followers of throttled partitions) and one for the follower side
// (bytes it fetches for throttled partitions). A quota holds
//   - the rate bound in bytes/s (leader.replication.throttled.rate / follower.replication.throttled.rate,
//     dynamic broker configs; Long.MAX_VALUE, the default, is unthrottled);
//   - which partitions are throttled on this broker, from the topic configs
//     leader/follower.replication.throttled.replicas (`partition:brokerId,...` entries naming this
//     broker, or `*` for all);
//   - the bytes recorded, as Kafka's Rate over replication.quota.window.num (11) samples of
//     replication.quota.window.size.seconds (1 s).
// The quota is exceeded while the measured rate is above the bound (Kafka's Quota.upperBound check).
//
// Pure: the caller passes the time (milliseconds on any monotonic scale) to every call.

import { SampledRate } from '@gregor/ground';

/** replication.quota.window.num, Kafka's default. */
export const replicationQuotaWindowsDefault = 11;
/** replication.quota.window.size.seconds, Kafka's default, in ms. */
export const replicationQuotaWindowMsDefault = 1_000;
/** Long.MAX_VALUE (as a number, 2^63), the default of the throttled-rate configs: no throttle. */
export const replicationThrottleRateUnlimited = 2 ** 63;

/** Which partitions of one topic are throttled on this broker: all of them, or these. */
export type ThrottledPartitions = '*' | ReadonlySet<number>;

/**
 * The partitions `value` (a leader/follower.replication.throttled.replicas topic config) throttles on
 * broker `brokerId`; undefined when none (empty or no entry names the broker). Malformed entries are
 * ignored (the config was validated when it was set).
 */
export function parseThrottledReplicas(value: string, brokerId: number): ThrottledPartitions | undefined {
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  if (trimmed === '*') return '*';
  const partitions = new Set<number>();
  for (const entry of trimmed.split(',')) {
    const [partition, broker] = entry.trim().split(':');
    if (partition === undefined || broker === undefined) continue;
    if (Number(broker) === brokerId && /^\d+$/.test(partition)) partitions.add(Number(partition));
  }
  return partitions.size === 0 ? undefined : partitions;
}

/** One side's throttle (leader or follower) on one broker. */
export class ReplicationQuota {
  private rateBytesPerSecond = replicationThrottleRateUnlimited;
  private readonly throttled = new Map<string, ThrottledPartitions>();
  /** Kafka's Rate over a SampledTotal, as its ReplicationQuotaManager keeps it. */
  private readonly rate: SampledRate;

  constructor(windows = replicationQuotaWindowsDefault, windowMs = replicationQuotaWindowMsDefault) {
    this.rate = new SampledRate({ windowMs, samples: windows });
  }

  /** Whether any partition is throttled: callers skip every other check when not (the hot path). */
  get active(): boolean {
    return this.throttled.size > 0;
  }

  get boundBytesPerSecond(): number {
    return this.rateBytesPerSecond;
  }

  /** The rate bound in bytes/s; replicationThrottleRateUnlimited (or more) for none. */
  setRate(bytesPerSecond: number): void {
    this.rateBytesPerSecond = Math.max(bytesPerSecond, 0);
  }

  /** Replaces the throttled partitions of `topic` (undefined: none). */
  markThrottled(topic: string, partitions: ThrottledPartitions | undefined): void {
    if (partitions === undefined) this.throttled.delete(topic);
    else this.throttled.set(topic, partitions);
  }

  /** Keeps only the topics in `topics` (the others were deleted). */
  retainTopics(topics: ReadonlySet<string>): void {
    for (const topic of this.throttled.keys()) if (!topics.has(topic)) this.throttled.delete(topic);
  }

  isThrottled(topic: string, partition: number): boolean {
    const partitions = this.throttled.get(topic);
    return partitions !== undefined && (partitions === '*' || partitions.has(partition));
  }

  isQuotaExceeded(nowMs: number): boolean {
    if (this.rateBytesPerSecond >= replicationThrottleRateUnlimited) return false;
    return this.rate.measure(nowMs) > this.rateBytesPerSecond;
  }

  record(bytes: number, nowMs: number): void {
    this.rate.record(bytes, nowMs);
  }

  /** Bytes/s replicated for throttled partitions, as measured now. */
  measure(nowMs: number): number {
    return this.rate.measure(nowMs);
  }
}

// The follower's replication loop (Kafka's ReplicaFetcherThread and ReplicaFetcherManager): one
// ReplicaFetcher per leader broker carries every partition this broker follows from that leader,
// and the ReplicaFetcherManager keeps the fetchers in line with what the replicas follow.
//
// A fetcher loops: ask the leader for every ready partition from its log end offset with the epoch
// of its last batch, long-polling up to maxWaitMs; hand each partition's answer to the replicas
// (append, truncate, follow the high watermark; partitions side by side), one response at a time,
// and ask again as soon as the response is applied. A failed call backs off
// backoffMs; a partition with an error (not leader yet, fenced epoch, ...) backs off alone while the
// others keep going. The call's deadline is the long poll plus a margin, so a dead leader costs one
// deadline, not a hang.
//
// The network is a ReplicaFetchTransport (gRPC in the broker, the simulated network in the sim),
// time a Clock and a TimerScheduler: the broker, the simulation and unit tests run this same loop.

import type { Clock, TimerScheduler } from '@gregor/ground';
import { ErrorCode, errorName } from '@gregor/protocol';
import type { FollowerFetchContext } from './follower-fetch-apply.js';
import type { ReplicaFetchPartitionResult, ReplicaFetchRequest } from './follower-fetch-serving.js';
import type { ReplicationLogger } from './logger.js';
import type { ReplicationQuota } from './replication-quota.js';

/** Added to the long poll for a fetch's deadline: the leader's read and the network. */
export const replicaFetchDeadlineMarginMsDefault = 5_000;

export interface ReplicaFetcherSettings {
  readonly brokerId: number;
  /** replica.fetch.wait.max.ms: the leader's long poll. */
  readonly maxWaitMs: number;
  /** replica.fetch.max.bytes: per partition. */
  readonly partitionMaxBytes: number;
  /** replica.fetch.response.max.bytes: per fetch. */
  readonly responseMaxBytes: number;
  /** replica.fetch.backoff.ms */
  readonly backoffMs: number;
  /** Beyond the long poll, how long a fetch may take before it counts as failed. */
  readonly deadlineMarginMs?: number;
}

export interface ReplicaFetchResponse {
  /** NONE, or why the leader refused the whole fetch (e.g. INCONSISTENT_CLUSTER_ID). */
  readonly errorCode: number;
  readonly partitions: readonly ReplicaFetchPartitionResult[];
}

/**
 * One leader's fetch endpoint. A call that fails or passes its deadline rejects; so does one whose
 * `signal` aborts before its answer came (the leader's long poll is cancelled: its answer, if any,
 * is dropped and the next fetch asks again from the same offsets).
 */
export interface ReplicaFetchTransport {
  fetch(request: ReplicaFetchRequest, timeoutMs: number, signal?: AbortSignal): Promise<ReplicaFetchResponse>;
  close(): void;
}

/** A partition this broker follows, as its fetcher needs it. */
export interface FollowedPartition {
  readonly topic: string;
  readonly partition: number;
  readonly leaderId: number;
  readonly leaderEpoch: number;
}

export interface FollowerFetchPosition {
  readonly fetchOffset: number;
  readonly lastFetchedEpoch: number;
  /** The follower's log start offset: the leader's DeleteRecords waits until every in-sync copy has it. */
  readonly logStartOffset: number;
  readonly leaderEpoch: number;
  readonly leaderId: number;
}

/** The follower replicas of this broker, as the fetchers see them. */
export interface FollowerReplicas {
  followedPartitions(): readonly FollowedPartition[];
  /** What the next fetch of the partition asks for; undefined when it is not followed now. */
  followerFetchPosition(topic: string, partition: number): FollowerFetchPosition | undefined;
  /** Applies one partition of a response; the error code this partition backs off on, or NONE. */
  applyFollowerFetch(context: FollowerFetchContext, result: ReplicaFetchPartitionResult): Promise<number>;
}

/** How the fetchers reach each leader: undefined when it has no known address. */
export type ReplicaFetchTransportFactory = (leaderId: number) => ReplicaFetchTransport | undefined;

export interface ReplicaFetcherEnvironment {
  readonly settings: ReplicaFetcherSettings;
  readonly replicas: FollowerReplicas;
  /** This broker's current epoch (fetches from an earlier incarnation are refused). */
  readonly brokerEpoch: () => number;
  readonly clock: Clock;
  readonly timers: TimerScheduler;
  readonly logger: ReplicationLogger;
  /**
   * This broker's follower-side replication quota (KIP-73); absent or inactive (no throttled
   * partition) costs the fetch nothing.
   */
  readonly followerQuota?: ReplicationQuota;
}

interface FetchedPartition {
  readonly topic: string;
  readonly partition: number;
  /** No fetch for this partition before this time (after an error). */
  notBeforeMs: number;
  /**
   * The last answer left it at the leader's log end (Kafka's PartitionFetchState.isReplicaInSync,
   * lag <= 0): the follower quota never holds it back. Kept only while a throttle is active.
   */
  inSync: boolean;
}

export class ReplicaFetcher {
  private readonly partitions = new Map<string, FetchedPartition>();
  private closed = false;
  private wake: (() => void) | undefined;
  /** Aborts the fetch in flight (a long poll on the leader), if one is. */
  private inFlight: AbortController | undefined;
  private running: Promise<void> | undefined;
  private consecutiveFailures = 0;

  constructor(
    readonly leaderId: number,
    private readonly transport: ReplicaFetchTransport,
    private readonly environment: ReplicaFetcherEnvironment,
  ) {}

  get partitionCount(): number {
    return this.partitions.size;
  }

  /**
   * Replaces the partitions this fetcher carries. New ones are fetched at once: a fetch in flight
   * (usually parked in the leader's long poll, up to maxWaitMs) is aborted and asked again with
   * them, so that a new topic's or a moved leader's partition does not wait out another
   * partition's long poll before its first fetch, while its acks=all producers wait for it.
   */
  setPartitions(followed: readonly FollowedPartition[]): void {
    const keys = new Set<string>();
    let added = false;
    for (const entry of followed) {
      const key = `${entry.topic}-${entry.partition}`;
      keys.add(key);
      if (!this.partitions.has(key)) {
        added = true;
        this.partitions.set(key, {
          topic: entry.topic,
          partition: entry.partition,
          notBeforeMs: 0,
          inSync: false,
        });
      }
    }
    for (const key of [...this.partitions.keys()]) if (!keys.has(key)) this.partitions.delete(key);
    if (added) this.inFlight?.abort();
    this.wake?.();
  }

  start(): void {
    this.running ??= this.run();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    this.inFlight?.abort();
    this.transport.close();
    await this.running;
  }

  private async run(): Promise<void> {
    const { clock, settings } = this.environment;
    while (!this.closed) {
      const nowMs = clock.nowMs();
      const ready = [...this.partitions.values()].filter((entry) => entry.notBeforeMs <= nowMs);
      if (ready.length === 0) {
        const next = Math.min(...[...this.partitions.values()].map((entry) => entry.notBeforeMs));
        await this.sleep(Number.isFinite(next) ? Math.max(1, next - nowMs) : settings.maxWaitMs);
        continue;
      }
      await this.fetchOnce(ready);
    }
  }

  private async fetchOnce(ready: readonly FetchedPartition[]): Promise<void> {
    const { settings, replicas, logger, clock } = this.environment;
    const contexts = new Map<string, FollowerFetchContext>();
    const partitions: ReplicaFetchRequest['partitions'][number][] = [];
    const quota = this.environment.followerQuota;
    const quotaActive = quota?.active === true;
    // Over the follower quota (Kafka's shouldFollowerThrottle), throttled partitions that are not
    // in sync sit this round out.
    const overQuota = quotaActive && quota!.isQuotaExceeded(clock.nowMs());
    for (const entry of ready) {
      if (overQuota && !entry.inSync && quota!.isThrottled(entry.topic, entry.partition)) continue;
      const position = replicas.followerFetchPosition(entry.topic, entry.partition);
      if (position === undefined || position.leaderId !== this.leaderId) continue;
      contexts.set(`${entry.topic}-${entry.partition}`, {
        leaderId: position.leaderId,
        leaderEpoch: position.leaderEpoch,
        fetchOffset: position.fetchOffset,
      });
      partitions.push({
        topic: entry.topic,
        partition: entry.partition,
        currentLeaderEpoch: position.leaderEpoch,
        fetchOffset: position.fetchOffset,
        lastFetchedEpoch: position.lastFetchedEpoch,
        logStartOffset: position.logStartOffset,
        partitionMaxBytes: settings.partitionMaxBytes,
      });
    }
    if (partitions.length === 0) {
      // The metadata moved on (the manager will hand this fetcher its new set), or every ready
      // partition is throttled while over the follower quota: ask again after the backoff.
      await this.sleep(settings.backoffMs);
      return;
    }
    // A partition backing off (typically a new one whose leader had not taken it yet) is fetched
    // again when its backoff ends, so the long poll of the others ends by then: it would otherwise
    // wait out a whole maxWaitMs, with its acks=all producers waiting on it.
    const nowMs = clock.nowMs();
    let backOffEndMs = Number.POSITIVE_INFINITY;
    for (const entry of this.partitions.values()) {
      if (entry.notBeforeMs > nowMs) backOffEndMs = Math.min(backOffEndMs, entry.notBeforeMs);
    }
    const request: ReplicaFetchRequest = {
      replicaId: settings.brokerId,
      brokerEpoch: this.environment.brokerEpoch(),
      maxWaitMs: Math.min(settings.maxWaitMs, Math.max(0, backOffEndMs - nowMs)),
      minBytes: 1,
      maxBytes: settings.responseMaxBytes,
      partitions,
    };
    let response: ReplicaFetchResponse;
    const inFlight = new AbortController();
    this.inFlight = inFlight;
    try {
      const timeoutMs =
        settings.maxWaitMs + (settings.deadlineMarginMs ?? replicaFetchDeadlineMarginMsDefault);
      response = await this.transport.fetch(request, timeoutMs, inFlight.signal);
      this.inFlight = undefined;
    } catch (error) {
      this.inFlight = undefined;
      // Aborted for new partitions (or by close()): not a failure, ask again at once.
      if (inFlight.signal.aborted) return;
      this.consecutiveFailures++;
      // The first failure of a streak is worth a line; the rest repeat it while the leader is down.
      if (this.consecutiveFailures === 1) {
        logger.warn(
          { leaderId: this.leaderId, err: error instanceof Error ? error.message : String(error) },
          'replica fetch failed; backing off',
        );
      }
      await this.sleep(settings.backoffMs);
      return;
    }
    this.consecutiveFailures = 0;
    if (quotaActive) {
      let throttledBytes = 0;
      for (const result of response.partitions) {
        if (quota!.isThrottled(result.topic, result.partition)) throttledBytes += result.records.length;
      }
      if (throttledBytes > 0) quota!.record(throttledBytes, clock.nowMs());
    }
    if (response.errorCode !== ErrorCode.NONE) {
      logger.warn(
        { leaderId: this.leaderId, error: errorName(response.errorCode) },
        'leader refused replica fetch',
      );
      await this.sleep(settings.backoffMs);
      return;
    }
    // Partitions are independent (each applies in its own exclusive section): their appends run
    // side by side, and the next fetch, which tells the leader how far each one got, goes out as
    // soon as the last of them is done.
    await Promise.all(
      response.partitions.map(async (result) => {
        const key = `${result.topic}-${result.partition}`;
        const context = contexts.get(key);
        if (context === undefined) return;
        const errorCode = await replicas.applyFollowerFetch(context, result);
        if (quotaActive) {
          const entry = this.partitions.get(key);
          const position = replicas.followerFetchPosition(result.topic, result.partition);
          if (entry !== undefined) {
            entry.inSync =
              errorCode === ErrorCode.NONE &&
              position !== undefined &&
              position.fetchOffset >= result.logEndOffset;
          }
        }
        if (errorCode !== ErrorCode.NONE) {
          const entry = this.partitions.get(key);
          if (entry !== undefined) entry.notBeforeMs = clock.nowMs() + settings.backoffMs;
          logger.debug(
            { partition: key, leaderId: this.leaderId, error: errorName(errorCode) },
            'partition fetch error',
          );
        }
      }),
    );
  }

  private sleep(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    const timers = this.environment.timers;
    return new Promise((resolve) => {
      const timer = timers.schedule(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        timer.cancel();
        this.wake = undefined;
        resolve();
      };
    });
  }
}

/** Keeps one fetcher per leader broker, each carrying the partitions this broker follows from it. */
export class ReplicaFetcherManager {
  private readonly fetchers = new Map<number, ReplicaFetcher>();
  private closed = false;

  constructor(
    private readonly transportFor: ReplicaFetchTransportFactory,
    private readonly environment: ReplicaFetcherEnvironment,
  ) {}

  /** Follows the replicas' current set of followed partitions. */
  reconcile(): void {
    if (this.closed) return;
    const byLeader = new Map<number, FollowedPartition[]>();
    for (const followed of this.environment.replicas.followedPartitions()) {
      let list = byLeader.get(followed.leaderId);
      if (list === undefined) {
        list = [];
        byLeader.set(followed.leaderId, list);
      }
      list.push(followed);
    }
    for (const [leaderId, followed] of byLeader) {
      let fetcher = this.fetchers.get(leaderId);
      if (fetcher === undefined) {
        const transport = this.transportFor(leaderId);
        if (transport === undefined) {
          this.environment.logger.error(
            { leaderId },
            'leader is not a known voter: cannot replicate from it',
          );
          continue;
        }
        fetcher = new ReplicaFetcher(leaderId, transport, {
          ...this.environment,
          logger: this.environment.logger.child({ fetcherFor: leaderId }),
        });
        this.fetchers.set(leaderId, fetcher);
        fetcher.start();
      }
      fetcher.setPartitions(followed);
    }
    for (const [leaderId, fetcher] of [...this.fetchers]) {
      if (byLeader.has(leaderId)) continue;
      this.fetchers.delete(leaderId);
      void fetcher.close();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const fetchers = [...this.fetchers.values()];
    this.fetchers.clear();
    await Promise.all(fetchers.map((fetcher) => fetcher.close()));
  }
}

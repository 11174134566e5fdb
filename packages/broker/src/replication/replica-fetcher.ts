// Follower-side replication driver: one ReplicaFetcher per leader broker carries every partition
// this broker follows from that leader (Kafka's ReplicaFetcherThread over gRPC), and the
// ReplicaFetcherManager keeps the fetchers in line with the metadata image.
//
// A fetcher loops: ask the leader for every ready partition from its log end offset with the epoch
// of its last batch, long-polling up to replica.fetch.wait.max.ms; hand each partition's answer to
// the ReplicaManager (append, truncate, follow the high watermark), one response at a time. A
// failed call backs off replica.fetch.backoff.ms; a partition with an error (not leader yet, fenced
// epoch, ...) backs off alone while the others keep going. The gRPC deadline is the long poll plus
// a margin, so a dead leader costs one deadline, not a hang.

import { ErrorCode, errorName } from '@gregor/protocol';
import type { Logger } from '../logging.js';
import type { FollowedPartition, ReplicaManager } from '../replica/replica-manager.js';
import {
  fromWirePartitionData,
  ReplicaFetchClient,
  type WireReplicaFetchRequest,
} from './replica-fetch-grpc.js';

/** Added to the long poll for the gRPC deadline: the leader's read and the network. */
export const replicaFetchDeadlineMarginMs = 5_000;

export interface ReplicaFetcherSettings {
  readonly brokerId: number;
  readonly clusterId: string;
  readonly maxWaitMs: number;
  /** replica.fetch.max.bytes: per partition. */
  readonly partitionMaxBytes: number;
  /** replica.fetch.response.max.bytes: per fetch. */
  readonly responseMaxBytes: number;
  readonly backoffMs: number;
}

/** A leader's current gRPC target (`host:port`; it changes when a node restarts on a new port). */
export type LeaderAddressOf = (nodeId: number) => string | undefined;

interface FetchedPartition {
  readonly topic: string;
  readonly partition: number;
  /** No fetch for this partition before this time (after an error). */
  notBeforeMs: number;
}

export class ReplicaFetcher {
  private readonly partitions = new Map<string, FetchedPartition>();
  private client: ReplicaFetchClient | undefined;
  private target: string | undefined;
  private closed = false;
  private wake: (() => void) | undefined;
  private running: Promise<void> | undefined;
  private consecutiveFailures = 0;

  constructor(
    readonly leaderId: number,
    private readonly addressOf: LeaderAddressOf,
    private readonly settings: ReplicaFetcherSettings,
    private readonly replicaManager: ReplicaManager,
    private readonly brokerEpoch: () => number,
    private readonly logger: Logger,
  ) {}

  /** The client for the leader's current address (a new one when the leader moved to another port). */
  private clientForLeader(): ReplicaFetchClient | undefined {
    const target = this.addressOf(this.leaderId);
    if (target !== this.target) {
      this.client?.close();
      this.client = target === undefined ? undefined : new ReplicaFetchClient(target);
      this.target = target;
    }
    return this.client;
  }

  get partitionCount(): number {
    return this.partitions.size;
  }

  /** Replaces the partitions this fetcher carries; new ones are fetched from the next round on. */
  setPartitions(followed: readonly FollowedPartition[]): void {
    const keys = new Set<string>();
    for (const entry of followed) {
      const key = `${entry.topic}-${entry.partition}`;
      keys.add(key);
      if (!this.partitions.has(key)) {
        this.partitions.set(key, { topic: entry.topic, partition: entry.partition, notBeforeMs: 0 });
      }
    }
    for (const key of [...this.partitions.keys()]) if (!keys.has(key)) this.partitions.delete(key);
    this.wake?.();
  }

  start(): void {
    this.running ??= this.run();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    this.client?.close();
    await this.running;
  }

  private async run(): Promise<void> {
    while (!this.closed) {
      const nowMs = Date.now();
      const ready = [...this.partitions.values()].filter((entry) => entry.notBeforeMs <= nowMs);
      if (ready.length === 0) {
        const next = Math.min(...[...this.partitions.values()].map((entry) => entry.notBeforeMs));
        await this.sleep(Number.isFinite(next) ? Math.max(1, next - nowMs) : this.settings.maxWaitMs);
        continue;
      }
      await this.fetchOnce(ready);
    }
  }

  private async fetchOnce(ready: readonly FetchedPartition[]): Promise<void> {
    const contexts = new Map<string, { leaderId: number; leaderEpoch: number; fetchOffset: number }>();
    const request: WireReplicaFetchRequest = {
      clusterId: this.settings.clusterId,
      replicaId: this.settings.brokerId,
      brokerEpoch: this.brokerEpoch(),
      maxWaitMs: this.settings.maxWaitMs,
      minBytes: 1,
      maxBytes: this.settings.responseMaxBytes,
      partitions: [],
    };
    for (const entry of ready) {
      const position = this.replicaManager.followerFetchPosition(entry.topic, entry.partition);
      if (position === undefined || position.leaderId !== this.leaderId) continue;
      contexts.set(`${entry.topic}-${entry.partition}`, {
        leaderId: position.leaderId,
        leaderEpoch: position.leaderEpoch,
        fetchOffset: position.fetchOffset,
      });
      request.partitions.push({
        topic: entry.topic,
        partition: entry.partition,
        currentLeaderEpoch: position.leaderEpoch,
        fetchOffset: position.fetchOffset,
        lastFetchedEpoch: position.lastFetchedEpoch,
        logStartOffset: -1,
        partitionMaxBytes: this.settings.partitionMaxBytes,
      });
    }
    if (request.partitions.length === 0) {
      // The metadata moved on; the manager will hand this fetcher its new set.
      await this.sleep(this.settings.backoffMs);
      return;
    }
    let response: Awaited<ReturnType<ReplicaFetchClient['fetch']>>;
    try {
      const client = this.clientForLeader();
      if (client === undefined) throw new Error(`leader ${this.leaderId} has no known address`);
      response = await client.fetch(request, this.settings.maxWaitMs + replicaFetchDeadlineMarginMs);
    } catch (error) {
      this.consecutiveFailures++;
      // The first failure of a streak is worth a line; the rest repeat it while the leader is down.
      if (this.consecutiveFailures === 1) {
        this.logger.warn(
          { leaderId: this.leaderId, err: (error as Error).message },
          'replica fetch failed; backing off',
        );
      }
      await this.sleep(this.settings.backoffMs);
      return;
    }
    this.consecutiveFailures = 0;
    if (response.errorCode !== ErrorCode.NONE) {
      this.logger.warn(
        { leaderId: this.leaderId, error: errorName(response.errorCode) },
        'leader refused replica fetch',
      );
      await this.sleep(this.settings.backoffMs);
      return;
    }
    for (const data of response.partitions) {
      const key = `${data.topic}-${data.partition}`;
      const context = contexts.get(key);
      if (context === undefined) continue;
      const errorCode = await this.replicaManager.applyFollowerFetch(context, fromWirePartitionData(data));
      if (errorCode !== ErrorCode.NONE) {
        const entry = this.partitions.get(key);
        if (entry !== undefined) entry.notBeforeMs = Date.now() + this.settings.backoffMs;
        this.logger.debug(
          { partition: key, leaderId: this.leaderId, error: errorName(errorCode) },
          'partition fetch error',
        );
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
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
    private readonly settings: ReplicaFetcherSettings,
    private readonly addressOf: LeaderAddressOf,
    private readonly replicaManager: ReplicaManager,
    private readonly brokerEpoch: () => number,
    private readonly logger: Logger,
  ) {}

  /** Follows the replica manager's current set of followed partitions. */
  reconcile(): void {
    if (this.closed) return;
    const byLeader = new Map<number, FollowedPartition[]>();
    for (const followed of this.replicaManager.followedPartitions()) {
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
        if (this.addressOf(leaderId) === undefined) {
          this.logger.error({ leaderId }, 'leader is not a known voter: cannot replicate from it');
          continue;
        }
        fetcher = new ReplicaFetcher(
          leaderId,
          this.addressOf,
          this.settings,
          this.replicaManager,
          this.brokerEpoch,
          this.logger.child({ fetcherFor: leaderId }),
        );
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

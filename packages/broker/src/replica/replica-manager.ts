// The partitions this broker holds, driven by the metadata image: it creates their logs, makes each
// one leader, follower or neither as the image says, deletes logs of topics that are gone, and
// routes the data path to the parts that serve it:
//
//   leader-appends.ts       Produce: validation, idempotent appends, acks=all (DelayedProduce)
//   leader-deletes.ts       DeleteRecords: the log start offset, the low watermark (DelayedDeleteRecords)
//   local-reads.ts          consumer Fetch (DelayedFetch) and ListOffsets
//   replica-fetch-host.ts   a follower's fetch (@gregor/replication's serveReplicaFetch)
//   follower-replicas.ts    this broker as follower: fetch positions, applying fetched batches
//   @gregor/replication     IsrProposals (AlterPartitionManager): ISR shrink/expand with resends
//   replica-maintenance.ts  retention, flushes, recovery and high-watermark checkpoints
//   local-replicas.ts       what they share: the served replicas, offline and set-aside ones,
//                           per-partition exclusive sections, leader-epoch checkpoints
//
// Waiting never polls: a Produce with acks=all, a Fetch short of min_bytes and a follower's long
// poll park in DelayedOperations under the partition's key, which is notified whenever the
// partition's log end, high watermark or leadership changes.

import type { Clock, TimerScheduler } from '@gregor/ground';
import { MetadataImage, type PartitionState, type TopicImage } from '@gregor/metadata';
import { ErrorCode, encodeTransactionMarkerBatch, type TransactionMarker } from '@gregor/protocol';
import {
  type AlterPartitionTransport,
  changeRole,
  IsrProposals,
  type ReplicaFetchPartitionResult,
  type ReplicaFetchRequest,
  replicaLagTimeMaxMsDefault,
} from '@gregor/replication';
import {
  forEachConcurrently,
  KafkaStorageError,
  type LogConfig,
  type LogDirFailureChannel,
  type PartitionLog,
  parseLogConfig,
} from '@gregor/storage';
import type { DelayedOperations } from '../delayed/delayed-operations.js';
import type { Logger } from '../logging.js';
import { FollowerReplicas } from './follower-replicas.js';
import { type AppendRequest, type AppendResult, LeaderAppends } from './leader-appends.js';
import { type DeleteRecordsRequest, type DeleteRecordsResult, LeaderDeletes } from './leader-deletes.js';
import {
  type EpochEndOffsetRequest,
  type EpochEndOffsetResult,
  type FetchPartitionResult,
  type FetchRequest,
  type ListOffsetRequest,
  type ListOffsetResult,
  LocalReads,
} from './local-reads.js';
import { type LeaderLease, LocalReplicas, splitPartitionKey } from './local-replicas.js';
import type { LogStore } from './log-store.js';
import type { AppendOrigin } from './log-validator.js';
import type { Partition } from './partition.js';
import { effectiveBrokerLogConfig, PartitionOpener, validStorageOverrides } from './partition-opener.js';
import { ReplicaFetchServing } from './replica-fetch-host.js';
import { ReplicaMaintenance } from './replica-maintenance.js';

// The node passes these through to the controller client.
/** One marker of a WriteTxnMarkers request: a transaction's outcome for some of its partitions. */
export interface TxnMarkerRequest extends TransactionMarker {
  readonly partitions: readonly { readonly topic: string; readonly partition: number }[];
}

export interface TxnMarkerPartitionResult {
  readonly topic: string;
  readonly partition: number;
  readonly errorCode: number;
}

export type TransactionMarkerListener = (topic: string, partition: number, marker: TransactionMarker) => void;

export type { AlterPartitionOutcome, AlterPartitionProposal } from '@gregor/replication';

/** Local partitions whose metadata changes are applied at once (log creation, role changes). */
export const partitionApplyConcurrency = 16;
/**
 * Set-aside replicas one maintenance run tries again (the rest wait for the next runs, in turn):
 * each run holds the metadata queue, and hundreds of failing opens must not delay a new image.
 */
export const setAsideRetriesPerRunMax = 64;

export interface ReplicaManagerOptions {
  readonly brokerId: number;
  readonly logStore: LogStore;
  /** Topic defaults from the broker's `log.*` keys; topic configs from the image apply over them. */
  readonly brokerLogConfig: LogConfig;
  readonly clock: Clock;
  /** Timers of the ISR proposals' resends (the purgatory has its own). */
  readonly timers: TimerScheduler;
  readonly delayedOperations: DelayedOperations;
  readonly logger: Logger;
  readonly retentionCheckIntervalMs?: number;
  readonly recoveryPointCheckpointIntervalMs?: number;
  readonly replicaLagTimeMaxMs?: number;
  readonly highWatermarkCheckpointIntervalMs?: number;
  /** Proposes an ISR change to the controller; absent, the ISR never changes (single-node tests). */
  readonly alterPartition?: AlterPartitionTransport;
  /** Called after each image took effect, so the fetchers follow the new set of followed partitions. */
  readonly onFollowersChanged?: () => void;
  /** `producer.id.expiration.ms`: idempotent producers idle this long are forgotten (Kafka's default, 1 day). */
  readonly producerIdExpirationMs?: number;
  /**
   * The channel the logs report failed dirs to (the LogManager's): the replicas on a failed dir go
   * offline, and I/O failures of the broker's own files there (leader-epoch and high-watermark
   * checkpoints) are reported to it.
   */
  readonly logDirFailureChannel?: LogDirFailureChannel;
  /**
   * Whether this broker may act as a leader towards clients (the node's BrokerLease); absent, it
   * always may (an in-process broker beside its controller).
   */
  readonly leaderLease?: LeaderLease;
}

/** One producer of a partition, as DescribeProducers reports it. */
export interface ActiveProducer {
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly lastSequence: number;
  readonly lastTimestampMs: number;
  readonly coordinatorEpoch: number;
  readonly currentTxnStartOffset: number;
}

export interface LogDirDescription {
  readonly logDir: string;
  readonly offline: boolean;
  readonly partitions: readonly {
    readonly topic: string;
    readonly partition: number;
    readonly sizeBytes: number;
    readonly offsetLag: number;
  }[];
}

export class ReplicaManager {
  private readonly replicas: LocalReplicas;
  private readonly isrProposals: IsrProposals;
  private readonly opener: PartitionOpener;
  private readonly leaderAppends: LeaderAppends;
  private readonly leaderDeletes: LeaderDeletes;
  private readonly markerListeners: TransactionMarkerListener[] = [];
  private readonly localReads: LocalReads;
  private readonly replicaFetchServing: ReplicaFetchServing;
  private readonly followers: FollowerReplicas;
  private readonly housekeeping: ReplicaMaintenance;
  private metadataQueue: Promise<void> = Promise.resolve();
  /**
   * The topic defaults in effect (server.properties under the dynamic broker configs), and the
   * image's dynamic broker configs they were made from: when those change, every log's config is
   * made again, so a topic that does not set a key follows its new default without a restart.
   */
  private brokerDefaults: {
    readonly from: MetadataImage['dynamicBrokerConfigs'] | null;
    readonly config: LogConfig;
  };
  /** Called after each image took effect (the group coordinator follows its offsets-partition leaderships). */
  private readonly imageAppliedListeners: ((image: MetadataImage) => void)[] = [];
  private readonly leaseChangedListeners: (() => void)[] = [];

  constructor(private readonly options: ReplicaManagerOptions) {
    this.brokerDefaults = { from: null, config: options.brokerLogConfig };
    const { clock, delayedOperations, logger } = options;
    const replicaLagTimeMaxMs = options.replicaLagTimeMaxMs ?? replicaLagTimeMaxMsDefault;
    this.isrProposals = new IsrProposals({
      alterPartition: options.alterPartition,
      clock,
      timers: options.timers,
      logger,
      replicaLagTimeMaxMs,
      onHighWatermarkMayHaveMoved: (partition) => delayedOperations.notify(partition.key),
    });
    this.replicas = new LocalReplicas({
      brokerId: options.brokerId,
      delayedOperations,
      isrProposals: this.isrProposals,
      logger,
      logDirFailureChannel: options.logDirFailureChannel,
      onFollowersChanged: options.onFollowersChanged,
      ...(options.leaderLease === undefined ? {} : { leaderLease: options.leaderLease }),
    });
    const replicas = this.replicas;
    options.logDirFailureChannel?.onLogDirFailure(({ logDir, reason }) =>
      replicas.handleLogDirFailure(logDir, reason),
    );
    this.opener = new PartitionOpener({
      brokerId: options.brokerId,
      logStore: options.logStore,
      brokerLogConfig: options.brokerLogConfig,
      clock,
      producerIdExpirationMs: options.producerIdExpirationMs,
    });
    this.leaderAppends = new LeaderAppends({ replicas, clock, delayedOperations, replicaLagTimeMaxMs });
    this.leaderDeletes = new LeaderDeletes({ replicas, delayedOperations, logger });
    this.localReads = new LocalReads({ replicas, clock, delayedOperations });
    this.replicaFetchServing = new ReplicaFetchServing({
      replicas,
      clock,
      delayedOperations,
      isrProposals: this.isrProposals,
    });
    this.followers = new FollowerReplicas({ replicas, clock, delayedOperations, logger });
    this.housekeeping = new ReplicaMaintenance({
      replicas,
      logStore: options.logStore,
      logger,
      startMs: clock.nowMs(),
      retentionCheckIntervalMs: options.retentionCheckIntervalMs,
      recoveryPointCheckpointIntervalMs: options.recoveryPointCheckpointIntervalMs,
      highWatermarkCheckpointIntervalMs: options.highWatermarkCheckpointIntervalMs,
      retrySetAsideReplicas: () => this.retrySetAsideReplicas(),
    });
  }

  /** Whether this broker holds the leader lease: Metadata names it leader or controller only then. */
  leaseHeld(): boolean {
    return this.replicas.leaseHeld();
  }

  /**
   * The leader lease ran out: parked Produce and Fetch requests on its leaderships answer now, and
   * the coordinators give up the internal-topic partitions they serve (see led-partitions.ts).
   */
  leaseLapsed(): void {
    this.replicas.leaseLapsed();
    for (const listener of this.leaseChangedListeners) listener();
  }

  /** The leader lease is held again: the coordinators load what this broker leads once more. */
  leaseRegained(): void {
    for (const listener of this.leaseChangedListeners) listener();
  }

  /** Calls `listener` whenever the leader lease lapses or is held again (leaseHeld() says which). */
  onLeaseChanged(listener: () => void): void {
    this.leaseChangedListeners.push(listener);
  }

  get brokerId(): number {
    return this.options.brokerId;
  }

  /** Calls `listener` after every image that took effect, in order, once the local replicas match it. */
  onImageApplied(listener: (image: MetadataImage) => void): void {
    this.imageAppliedListeners.push(listener);
  }

  /** The last image applied: what the data path answers from. */
  get image(): MetadataImage {
    return this.replicas.image;
  }

  partition(topic: string, index: number): Partition | undefined {
    return this.replicas.get(`${topic}-${index}`);
  }

  /**
   * DescribeLogDirs: every log dir with its partitions (all, or those `selected` names), each with its
   * size and Kafka's offset lag, max(high watermark - log end offset, 0) (-1 for a log no local
   * replica owns). A failed dir lists nothing.
   */
  describeLogDirs(selected: ReadonlyMap<string, ReadonlySet<number>> | null): LogDirDescription[] {
    return this.options.logStore.logDirs().map(({ logDir, offline, logs }) => ({
      logDir,
      offline,
      partitions: logs
        .filter((log) => selected === null || selected.get(log.topic)?.has(log.partition) === true)
        .map((log) => {
          const replica = this.partition(log.topic, log.partition);
          return {
            topic: log.topic,
            partition: log.partition,
            sizeBytes: log.sizeBytes,
            offsetLag: replica === undefined ? -1 : Math.max(replica.highWatermark - log.logEndOffset, 0),
          };
        }),
    }));
  }

  /**
   * DescribeProducers: the producers the partition's producer state holds, here where it leads
   * (NOT_LEADER_OR_FOLLOWER elsewhere, UNKNOWN_TOPIC_OR_PARTITION for no such partition), each with
   * its epoch, last sequence and timestamp, the coordinator epoch of its last marker and the first
   * offset of its open transaction (-1 for none), as Kafka's Partition.activeProducerState.
   */
  describeProducers(topic: string, index: number): { errorCode: number; producers: ActiveProducer[] } {
    const lookup = this.replicas.lookupLeader(topic, index);
    if (!lookup.ok) return { errorCode: lookup.errorCode, producers: [] };
    const state = lookup.partition.producerState;
    const ongoing = state.ongoingTransactions();
    return {
      errorCode: ErrorCode.NONE,
      producers: state.entries().map((entry) => ({
        producerId: entry.producerId,
        producerEpoch: entry.producerEpoch,
        lastSequence: entry.batches.at(-1)?.lastSequence ?? -1,
        lastTimestampMs: entry.lastTimestampMs,
        coordinatorEpoch: entry.coordinatorEpoch,
        currentTxnStartOffset: ongoing.get(entry.producerId) ?? -1,
      })),
    };
  }

  // --- Routing ------------------------------------------------------------------------------------

  /** Produce (see LeaderAppends). */
  appendRecords(
    requests: readonly AppendRequest[],
    acks: number,
    timeoutMs: number,
    origin: AppendOrigin = 'client',
  ): Promise<AppendResult[]> {
    return this.leaderAppends.appendRecords(requests, acks, timeoutMs, origin);
  }

  /**
   * A transaction coordinator's markers (WriteTxnMarkers): each one a control batch appended to the
   * named partitions this broker leads, acks=all, since the coordinator completes a transaction only
   * once every marker is replicated. One result per marker and partition, in request order.
   */
  async writeTxnMarkers(
    markers: readonly TxnMarkerRequest[],
    timeoutMs: number,
  ): Promise<TxnMarkerPartitionResult[][]> {
    return Promise.all(
      markers.map(async (marker) => {
        // A marker names a real producer: an id or epoch no producer can have is refused, not stored.
        if (
          !Number.isSafeInteger(marker.producerId) ||
          marker.producerId < 0 ||
          !Number.isInteger(marker.producerEpoch) ||
          marker.producerEpoch < 0 ||
          marker.producerEpoch > 0x7fff
        ) {
          return marker.partitions.map(({ topic, partition }) => ({
            topic,
            partition,
            errorCode: ErrorCode.INVALID_REQUEST,
          }));
        }
        const batch = encodeTransactionMarkerBatch(marker, this.options.clock.nowMs());
        const results = await this.leaderAppends.appendRecords(
          marker.partitions.map(({ topic, partition }) => ({
            topic,
            partition,
            records: Buffer.from(batch),
          })),
          -1,
          timeoutMs,
          'coordinator',
        );
        for (const [index, result] of results.entries()) {
          if (result.errorCode === ErrorCode.NONE) {
            const { topic, partition } = marker.partitions[index]!;
            for (const listener of this.markerListeners) listener(topic, partition, marker);
          }
        }
        return results.map(({ topic, partition, errorCode }) => ({ topic, partition, errorCode }));
      }),
    );
  }

  /** Called after each transaction marker this broker wrote as leader (the group coordinator's offsets). */
  onTransactionMarkerWritten(listener: TransactionMarkerListener): void {
    this.markerListeners.push(listener);
  }

  /** A consumer's Fetch (see LocalReads). */
  fetchRecords(request: FetchRequest): Promise<FetchPartitionResult[]> {
    return this.localReads.fetchRecords(request);
  }

  /** OffsetForLeaderEpoch from a consumer: each partition's end offset of an epoch, at its leader. */
  epochEndOffsets(requests: readonly EpochEndOffsetRequest[]): EpochEndOffsetResult[] {
    return this.localReads.epochEndOffsets(requests);
  }

  /** DeleteRecords (see LeaderDeletes). */
  deleteRecords(
    requests: readonly DeleteRecordsRequest[],
    timeoutMs: number,
  ): Promise<DeleteRecordsResult[]> {
    return this.leaderDeletes.deleteRecords(requests, timeoutMs);
  }

  listOffsets(requests: readonly ListOffsetRequest[], isolationLevel?: number): Promise<ListOffsetResult[]> {
    return this.localReads.listOffsets(requests, isolationLevel);
  }

  /** A follower's fetch of partitions this broker leads. */
  fetchForFollower(request: ReplicaFetchRequest): Promise<ReplicaFetchPartitionResult[]> {
    return this.replicaFetchServing.fetchForFollower(request);
  }

  /**
   * Follower `replicaId` fetched `topic-partition` from `fetchOffset` (it holds everything below),
   * outside a fetch: the high watermark and ISR expansion as a real follower fetch moves them.
   */
  recordFollowerFetch(topic: string, partition: number, replicaId: number, fetchOffset: number): void {
    const local = this.replicas.get(`${topic}-${partition}`);
    if (local === undefined) return;
    const nowMs = this.options.clock.nowMs();
    if (local.recordFollowerFetch(replicaId, fetchOffset, nowMs)) {
      this.options.delayedOperations.notify(local.key);
    }
    this.isrProposals.maybeExpand(local, replicaId, nowMs);
  }

  /** The ISR-expiration check (Kafka runs it every replica.lag.time.max.ms / 2); how many proposals are pending. */
  shrinkLaggingIsrs(nowMs: number): number {
    if (this.replicas.closed) return 0;
    return this.isrProposals.shrinkLaggingIsrs(this.replicas.partitions.values(), nowMs);
  }

  /** This broker's follower replicas, as the replica fetchers use them. */
  get followerReplicas(): FollowerReplicas {
    return this.followers;
  }

  maintenance(nowMs: number): Promise<void> {
    return this.housekeeping.maintenance(nowMs);
  }

  checkpointHighWatermarks(): Promise<void> {
    return this.housekeeping.checkpointHighWatermarks();
  }

  /**
   * Kafka's handleLogDirFailure: every replica on `logDir` goes offline (see local-replicas.ts).
   */
  handleLogDirFailure(logDir: string, reason: string): void {
    this.replicas.handleLogDirFailure(logDir, reason);
  }

  /** Offline replicas the image does not list as offline on this broker yet (for the heartbeat). */
  unreportedOfflineReplicas(max: number): { topicId: string; partitionIndex: number }[] {
    return this.replicas.offlineOnFailedDirs.unreported(this.replicas.image, this.options.brokerId, max);
  }

  /**
   * Whether this broker's replica of the partition is offline (its log dir failed). A set-aside
   * replica (no descriptor left) is not: see `setAsideReplicaKeys`.
   */
  isOffline(topic: string, index: number): boolean {
    return this.replicas.offlineOnFailedDirs.has(`${topic}-${index}`);
  }

  /** Keys of the local replicas that are set aside now (not served, retried). */
  setAsideReplicaKeys(): string[] {
    return [...this.replicas.setAsideReplicas.keys()];
  }

  /** Stops serving: every parked request completes now (with errors); logs stay open for the owner to close. */
  close(): void {
    this.isrProposals.close();
    this.replicas.close();
  }

  // --- Reconciliation with the metadata image -----------------------------------------------------

  /**
   * Makes the local replicas match `image`: creates missing logs, applies leadership and ISR changes
   * newer than what each partition holds, updates log configs, deletes partitions that are gone.
   * Calls are serialized; each resolves once its image is in effect.
   */
  applyMetadata(image: MetadataImage): Promise<void> {
    const run = this.metadataQueue.then(() => this.applyMetadataNow(image));
    this.metadataQueue = run.catch(() => undefined);
    return run;
  }

  private async applyMetadataNow(image: MetadataImage): Promise<void> {
    const replicas = this.replicas;
    if (replicas.closed) return;
    const nowMs = this.options.clock.nowMs();
    this.followBrokerDefaults(image);
    const wanted = new Set<string>();
    const local: { topic: TopicImage; index: number; topicConfigs: ReadonlyMap<string, string> }[] = [];
    for (const topic of image.topics.values()) {
      const topicConfigs = image.topicConfigs(topic.name);
      for (let index = 0; index < topic.partitions.length; index++) {
        if (!topic.partitions[index]!.replicas.includes(this.options.brokerId)) continue;
        wanted.add(`${topic.name}-${index}`);
        local.push({ topic, index, topicConfigs });
      }
    }
    // Partitions are independent (each has its own exclusive section): applying several at once
    // overlaps their file creations and fsyncs, which matters for a topic of 10,000 partitions.
    await forEachConcurrently(local, partitionApplyConcurrency, ({ topic, index, topicConfigs }) =>
      this.applyPartitionOrSetAside(topic, index, topic.partitions[index]!, topicConfigs, nowMs),
    );
    const gone = [...replicas.partitions.values()].filter((partition) => !wanted.has(partition.key));
    // A set-aside replica of a deleted topic still has its files (and maybe an open log) here.
    const goneSetAside = [...replicas.setAsideReplicas].filter(([key]) => !wanted.has(key));
    for (const [key] of goneSetAside) replicas.setAsideReplicas.delete(key);
    await this.removePartitions(
      gone,
      goneSetAside.map(([key, setAside]) => ({ key, topicId: setAside.topicId })),
    );
    // A deleted partition that was offline here: its files stay on the failed dir until a restart.
    for (const key of [...replicas.offlineOnFailedDirs.keys()])
      if (!wanted.has(key)) replicas.offlineOnFailedDirs.delete(key);
    replicas.image = image;
    this.options.onFollowersChanged?.();
    for (const listener of this.imageAppliedListeners) listener(image);
  }

  /** The topic defaults of `image`; if they changed, every open log gets its config made again. */
  private followBrokerDefaults(image: MetadataImage): void {
    if (this.brokerDefaults.from === image.dynamicBrokerConfigs) return;
    const config = effectiveBrokerLogConfig(
      image,
      this.options.brokerId,
      this.options.brokerLogConfig,
      (name, problem) =>
        this.options.logger.warn({ config: name, problem }, 'dynamic broker config ignored by storage'),
    );
    const changed = JSON.stringify(config) !== JSON.stringify(this.brokerDefaults.config);
    this.brokerDefaults = { from: image.dynamicBrokerConfigs, config };
    if (changed) this.replicas.appliedConfigs.clear();
  }

  /** The topic defaults in effect now: server.properties under the dynamic broker configs. */
  get brokerLogDefaults(): LogConfig {
    return this.brokerDefaults.config;
  }

  /**
   * applyPartition, with any failure confined to that replica: on a failed log dir it goes offline
   * (KafkaStorageError); any other failure sets it aside (logged once) to be tried again later.
   * Every other partition keeps being served either way.
   */
  private async applyPartitionOrSetAside(
    topic: TopicImage,
    index: number,
    state: PartitionState,
    topicConfigs: ReadonlyMap<string, string>,
    nowMs: number,
  ): Promise<void> {
    const key = `${topic.name}-${index}`;
    const replicas = this.replicas;
    try {
      await this.applyPartition(topic, index, state, topicConfigs, nowMs);
    } catch (error) {
      if (error instanceof KafkaStorageError) {
        this.options.logger.error({ partition: key, err: error }, 'local replica is offline');
        replicas.takeOfflineForFailedDir(key, topic.topicId, index);
        replicas.setAsideReplicas.delete(key);
        return;
      }
      replicas.setReplicaAside(key, topic.topicId, error);
      return;
    }
    if (replicas.partitions.has(key) && replicas.setAsideReplicas.delete(key)) {
      this.options.logger.info({ partition: key }, 'set-aside local replica opened: served again');
    }
  }

  /**
   * Tries the set-aside replicas again against the last image (on the maintenance timer), at most
   * `setAsideRetriesPerRunMax` per run and 16 at a time, and never ahead of an image waiting to be
   * applied: each run takes the metadata queue only briefly, so new images are not starved.
   */
  retrySetAsideReplicas(): Promise<void> {
    const replicas = this.replicas;
    if (replicas.setAsideReplicas.size === 0) return Promise.resolve();
    const run = this.metadataQueue.then(async () => {
      if (replicas.closed) return;
      const image = replicas.image;
      const nowMs = this.options.clock.nowMs();
      const due: { topic: TopicImage; index: number; state: PartitionState }[] = [];
      for (const key of [...replicas.setAsideReplicas.keys()]) {
        if (due.length >= setAsideRetriesPerRunMax) break;
        const [topicName, index] = splitPartitionKey(key);
        const topic = image.topic(topicName);
        const state = topic?.partitions[index];
        if (topic === undefined || state === undefined || !state.replicas.includes(this.options.brokerId)) {
          replicas.setAsideReplicas.delete(key);
          continue;
        }
        // Tried in turn: the ones tried now go to the back of the line.
        const entry = replicas.setAsideReplicas.get(key)!;
        replicas.setAsideReplicas.delete(key);
        replicas.setAsideReplicas.set(key, entry);
        due.push({ topic, index, state });
      }
      await forEachConcurrently(due, partitionApplyConcurrency, ({ topic, index, state }) =>
        this.applyPartitionOrSetAside(topic, index, state, image.topicConfigs(topic.name), nowMs),
      );
      this.options.onFollowersChanged?.();
    });
    this.metadataQueue = run.catch(() => undefined);
    return run;
  }

  private async applyPartition(
    topic: TopicImage,
    index: number,
    state: PartitionState,
    topicConfigs: ReadonlyMap<string, string>,
    nowMs: number,
  ): Promise<void> {
    const key = `${topic.name}-${index}`;
    const replicas = this.replicas;
    if (replicas.offlineOnFailedDirs.has(key, topic.topicId)) return;
    // A topic made again under the name of one that was offline here is a new partition.
    replicas.offlineOnFailedDirs.delete(key);
    let partition = replicas.get(key);
    if (partition !== undefined && partition.topicId !== topic.topicId) {
      // The topic was deleted and created again under the same name between two images.
      await this.removePartitions([partition]);
      partition = undefined;
    }
    const setAside = replicas.setAsideReplicas.get(key);
    if (partition === undefined && setAside !== undefined && setAside.topicId !== topic.topicId) {
      // The same, while the old topic's replica was set aside: its files must not be taken for ours.
      replicas.setAsideReplicas.delete(key);
      await this.removePartitions([], [{ key, topicId: setAside.topicId }]);
    }
    const changedConfigs = partition === undefined || replicas.appliedConfigs.get(key) !== topicConfigs;
    const overrides = changedConfigs
      ? validStorageOverrides(topicConfigs, this.brokerDefaults.config, (name, problem) =>
          this.options.logger.warn(
            { partition: key, config: name, problem },
            'topic config ignored by storage',
          ),
        )
      : {};
    if (partition === undefined) {
      let log: PartitionLog;
      // New to this broker (not in the image it last acted on, and not the first image at start):
      // only such a replica may be created while a log dir is offline (Kafka's isNew).
      const isNew =
        replicas.image !== MetadataImage.empty &&
        replicas.image.topicById(topic.topicId)?.partitions[index] === undefined;
      try {
        log = await this.opener.openLog(topic.name, index, overrides, isNew, this.brokerDefaults.config);
      } catch (error) {
        if (error instanceof KafkaStorageError) {
          // On a failed dir, or possibly there: offline, and reported as such.
          this.options.logger.error({ partition: key, err: error }, 'local replica is offline');
          replicas.takeOfflineForFailedDir(key, topic.topicId, index);
          replicas.setAsideReplicas.delete(key);
          return;
        }
        // Any other failure to open one log (EMFILE with too many partitions for the process's file
        // limit, above all) sets that replica aside, not the whole broker: it is absent from this
        // broker, so the partition answers NOT_LEADER_OR_FOLLOWER / stays out of the ISR.
        replicas.setReplicaAside(
          key,
          topic.topicId,
          error,
          'cannot open the log of a local replica: set aside, retried every maintenance run',
        );
        return;
      }
      const opened = await this.opener.load(topic, index, state, log);
      replicas.add(opened.partition, opened.epochCheckpointed);
      replicas.appliedConfigs.set(key, topicConfigs);
      await replicas.exclusive(key, () => this.transitionOrOffline(opened.partition, state, nowMs, true));
      return;
    }
    if (changedConfigs) {
      partition.log.updateConfig(parseLogConfig(overrides, this.brokerDefaults.config));
      replicas.appliedConfigs.set(key, topicConfigs);
    }
    const existing = partition;
    if (existing.isNewer(state))
      await replicas.exclusive(key, () => this.transitionOrOffline(existing, state, nowMs));
  }

  /** A role change whose leader-epoch checkpoint cannot be written leaves the replica offline. */
  private async transitionOrOffline(
    partition: Partition,
    state: PartitionState,
    nowMs: number,
    initial = false,
  ): Promise<void> {
    try {
      await this.transition(partition, state, nowMs, initial);
    } catch (error) {
      if (!(error instanceof KafkaStorageError)) throw error;
      this.options.logger.error(
        { partition: partition.key, err: error },
        'role change failed: replica offline',
      );
    }
  }

  /** Runs in the partition's exclusive section: no follower write is in progress on its log. */
  private async transition(
    partition: Partition,
    state: PartitionState,
    nowMs: number,
    initial = false,
  ): Promise<void> {
    if (!this.replicas.isServed(partition)) return;
    if (!initial && !partition.isNewer(state)) return;
    const before = partition.role;
    await changeRole(partition, state, nowMs, () => this.replicas.persistEpochCache(partition));
    if (before !== partition.role) {
      this.options.logger.info(
        { partition: partition.key, role: partition.role, leaderEpoch: state.leaderEpoch },
        'replica role changed',
      );
    }
    // Waiters re-check: a leadership change completes them, a high watermark change may satisfy them.
    this.options.delayedOperations.notify(partition.key);
  }

  /**
   * Deletes local replicas whose topic is gone: the served ones (`gone`) and set-aside ones, whose
   * logs storage may hold too. Their logs go in one batch (storage writes each dir's checkpoints
   * once), so deleting a topic of thousands of partitions does not hold the metadata queue for long.
   */
  private async removePartitions(
    gone: readonly Partition[],
    setAside: readonly { readonly key: string; readonly topicId: string }[] = [],
  ): Promise<void> {
    for (const partition of gone) this.replicas.remove(partition.key);
    // A follower write in progress finishes (or fails on the closed log) before the log goes.
    await forEachConcurrently(gone, partitionApplyConcurrency, async (partition) => {
      await this.replicas.exclusive(partition.key, async () => undefined);
      this.options.delayedOperations.notify(partition.key);
    });
    const doomed = [
      ...gone.map((partition) => ({
        key: partition.key,
        topic: partition.topic,
        partition: partition.index,
        suffix: partition.topicId,
      })),
      ...setAside.map(({ key, topicId }) => {
        const [topic, partition] = splitPartitionKey(key);
        return { key, topic, partition, suffix: topicId };
      }),
    ];
    if (doomed.length === 0) return;
    await this.options.logStore.deleteLogs(doomed);
    for (const { key } of doomed) this.options.logger.info({ partition: key }, 'replica deleted');
  }
}

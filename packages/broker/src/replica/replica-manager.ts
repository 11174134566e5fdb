// The partitions this broker holds, driven by the metadata image: the one object the node, the APIs
// and the coordinators talk to. It wires the parts of the data path together and routes to them:
//
//   image-reconciler.ts     the metadata image applied: logs created, roles changed, gone topics deleted
//   leader-appends.ts       Produce: validation, idempotent appends, acks=all (DelayedProduce)
//   leader-deletes.ts       DeleteRecords: the log start offset, the low watermark (DelayedDeleteRecords)
//   txn-marker-appends.ts   WriteTxnMarkers: a transaction coordinator's control batches, acks=all
//   local-reads.ts          consumer Fetch (DelayedFetch) and ListOffsets
//   replica-fetch-host.ts   a follower's fetch (@gregor/replication's serveReplicaFetch)
//   replication-throttles.ts the leader and follower replication quotas (KIP-73), from the image
//   follower-replicas.ts    this broker as follower: fetch positions, applying fetched batches
//   @gregor/replication     IsrProposals (AlterPartitionManager): ISR shrink/expand with resends
//   replica-maintenance.ts  retention, flushes, recovery and high-watermark checkpoints
//   replica-descriptions.ts DescribeLogDirs and DescribeProducers
//   local-replicas.ts       what they share: the served replicas, offline and set-aside ones,
//                           per-partition exclusive sections, leader-epoch checkpoints
//
// Waiting never polls: a Produce with acks=all, a Fetch short of min_bytes and a follower's long
// poll park in DelayedOperations under the partition's key, which is notified whenever the
// partition's log end, high watermark or leadership changes.

import type { Clock, TimerScheduler } from '@gregor/ground';
import type { MetadataImage } from '@gregor/metadata';
import { ErrorCode } from '@gregor/protocol';
import {
  type AlterPartitionTransport,
  IsrProposals,
  type ReplicaFetchPartitionResult,
  type ReplicaFetchRequest,
  replicaLagTimeMaxMsDefault,
} from '@gregor/replication';
import type { LogConfig, LogDirFailureChannel } from '@gregor/storage';
import type { DelayedOperations } from '../delayed/delayed-operations.js';
import type { Logger } from '../logging.js';
import { FollowerReplicas } from './follower-replicas.js';
import { ImageReconciler } from './image-reconciler.js';
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
import { type LeaderLease, LocalReplicas } from './local-replicas.js';
import type { LogStore } from './log-store.js';
import type { AppendOrigin } from './log-validator.js';
import type { Partition } from './partition.js';
import { PartitionOpener } from './partition-opener.js';
import {
  type ActiveProducer,
  describeLogDirs,
  describeProducers,
  type LogDirDescription,
} from './replica-descriptions.js';
import { ReplicaFetchServing } from './replica-fetch-host.js';
import { ReplicaMaintenance } from './replica-maintenance.js';
import { ReplicationThrottles } from './replication-throttles.js';
import type { TransactionVerificationRequest, TransactionVerifier } from './transaction-verification.js';
import {
  type TransactionMarkerListener,
  TxnMarkerAppends,
  type TxnMarkerPartitionResult,
  type TxnMarkerRequest,
} from './txn-marker-appends.js';

// The node passes these through to the controller client.
export type { AlterPartitionOutcome, AlterPartitionProposal } from '@gregor/replication';

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

export class ReplicaManager {
  private readonly replicas: LocalReplicas;
  private readonly isrProposals: IsrProposals;
  private readonly reconciler: ImageReconciler;
  private readonly leaderAppends: LeaderAppends;
  private readonly leaderDeletes: LeaderDeletes;
  private readonly txnMarkerAppends: TxnMarkerAppends;
  private readonly localReads: LocalReads;
  private readonly replicaFetchServing: ReplicaFetchServing;
  /** This broker's replication quotas (KIP-73), leader and follower side. */
  readonly replicationThrottles: ReplicationThrottles;
  private readonly followers: FollowerReplicas;
  private readonly housekeeping: ReplicaMaintenance;
  private readonly leaseChangedListeners: (() => void)[] = [];

  constructor(private readonly options: ReplicaManagerOptions) {
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
    this.reconciler = new ImageReconciler({
      brokerId: options.brokerId,
      replicas,
      opener: new PartitionOpener({
        brokerId: options.brokerId,
        logStore: options.logStore,
        brokerLogConfig: options.brokerLogConfig,
        clock,
        producerIdExpirationMs: options.producerIdExpirationMs,
      }),
      logStore: options.logStore,
      brokerLogConfig: options.brokerLogConfig,
      clock,
      delayedOperations,
      logger,
      onFollowersChanged: options.onFollowersChanged,
    });
    this.leaderAppends = new LeaderAppends({ replicas, clock, delayedOperations, replicaLagTimeMaxMs });
    this.txnMarkerAppends = new TxnMarkerAppends({ leaderAppends: this.leaderAppends, clock });
    this.leaderDeletes = new LeaderDeletes({ replicas, delayedOperations, logger });
    this.localReads = new LocalReads({ replicas, clock, delayedOperations });
    this.replicationThrottles = new ReplicationThrottles(options.brokerId);
    this.replicaFetchServing = new ReplicaFetchServing({
      replicas,
      clock,
      delayedOperations,
      isrProposals: this.isrProposals,
      leaderQuota: this.replicationThrottles.leader,
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
      retrySetAsideReplicas: () => this.reconciler.retrySetAsideReplicas(),
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
    this.reconciler.onImageApplied(listener);
  }

  /** The last image applied: what the data path answers from. */
  get image(): MetadataImage {
    return this.replicas.image;
  }

  partition(topic: string, index: number): Partition | undefined {
    return this.replicas.get(`${topic}-${index}`);
  }

  /** DescribeLogDirs (see replica-descriptions.ts). */
  describeLogDirs(selected: ReadonlyMap<string, ReadonlySet<number>> | null): LogDirDescription[] {
    return describeLogDirs(this.options.logStore, this.replicas, selected);
  }

  /**
   * AlterReplicaLogDirs for one partition (Kafka's ReplicaManager.alterReplicaLogDirs): the local
   * replica's log moves to `logDir` (storage's LogManager.moveLogDir), in the background; the
   * answer says whether it started. A partition the image does not know is
   * UNKNOWN_TOPIC_OR_PARTITION; one not hosted here, REPLICA_NOT_AVAILABLE (Kafka converts its
   * NOT_LEADER_OR_FOLLOWER so).
   */
  async alterReplicaLogDir(topic: string, index: number, logDir: string, uniqueId: string): Promise<number> {
    const known = this.image.topic(topic)?.partitions[index] !== undefined;
    if (!known) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    if (this.replicas.get(`${topic}-${index}`) === undefined) return ErrorCode.REPLICA_NOT_AVAILABLE;
    const started = await this.options.logStore.moveLogDir(topic, index, logDir, uniqueId);
    if (started.errorCode !== ErrorCode.NONE) return started.errorCode;
    if (started.moving) {
      const { logger } = this.options;
      logger.info({ partition: `${topic}-${index}`, logDir }, 'moving the replica to another log dir');
      started.done.then(
        () => logger.info({ partition: `${topic}-${index}`, logDir }, 'replica log dir move ended'),
        (error: unknown) =>
          logger.warn({ partition: `${topic}-${index}`, logDir, err: error }, 'replica log dir move failed'),
      );
    }
    return ErrorCode.NONE;
  }

  /** DescribeProducers of a partition this broker leads (see replica-descriptions.ts). */
  describeProducers(topic: string, index: number): { errorCode: number; producers: ActiveProducer[] } {
    return describeProducers(this.replicas, topic, index);
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
   * KIP-890's verification of transactional produces (transaction.partition.verification.enable):
   * on with a verifier, off with undefined (see LeaderAppends).
   */
  useTransactionVerifier(verifier: TransactionVerifier | undefined, verifyClassic = true): void {
    this.leaderAppends.useTransactionVerifier(verifier, verifyClassic);
  }

  /** KIP-890 for the group coordinator's transactional offsets (see LeaderAppends). */
  verifyOffsetsInTransaction(request: TransactionVerificationRequest): Promise<number> {
    return this.leaderAppends.verifyOffsetsInTransaction(request);
  }

  /** A transaction coordinator's markers (see TxnMarkerAppends). */
  writeTxnMarkers(
    markers: readonly TxnMarkerRequest[],
    timeoutMs: number,
  ): Promise<TxnMarkerPartitionResult[][]> {
    return this.txnMarkerAppends.writeTxnMarkers(markers, timeoutMs);
  }

  /** Called after each transaction marker this broker wrote as leader (the group coordinator's offsets). */
  onTransactionMarkerWritten(listener: TransactionMarkerListener): void {
    this.txnMarkerAppends.onTransactionMarkerWritten(listener);
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

  // --- Reconciliation with the metadata image (see ImageReconciler) -------------------------------

  /** Makes the local replicas match `image`; calls are serialized, each resolves once it is in effect. */
  applyMetadata(image: MetadataImage): Promise<void> {
    this.replicationThrottles.apply(image);
    return this.reconciler.applyMetadata(image);
  }

  /** The topic defaults in effect now: server.properties under the dynamic broker configs. */
  get brokerLogDefaults(): LogConfig {
    return this.reconciler.brokerLogDefaults;
  }
}

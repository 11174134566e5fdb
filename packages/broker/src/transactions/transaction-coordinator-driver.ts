// The broker side of the transaction coordinator: @gregor/txn's TransactionCoordinator is pure
// (requests in, effects out, time as arguments); this driver gives it a log, the markers, a clock,
// a timer and producer ids.
//
//  - Requests: each gets a request id and a promise, resolved by the coordinator's `respond` effect.
//    InitProducerId first fetches a producer id from this broker's block when the coordinator says
//    it would need one (a new transactional id, or an exhausted epoch).
//  - Appends: an `append` effect becomes one RecordBatch v2 on its `__transaction_state` partition,
//    acks=all; completions are handed back in order per partition.
//  - Markers: a `writeMarkers` effect is sent to the leader of each partition of the transaction
//    (this broker's own replica manager, or another broker's TxnMarkers gRPC service), and retried
//    every `txnMarkerRetryBackoffMs` for the partitions that failed, until each is written or its
//    topic is gone; then the coordinator completes the transaction. A leader that answers
//    TRANSACTION_COORDINATOR_FENCED (a newer coordinator already wrote this producer's marker there)
//    ends the sending: this coordinator is stale, and the transaction is not completed by it.
//  - Time: one timer, armed at the coordinator's next deadline (the earliest transaction timeout),
//    and one every `transaction.remove.expired.transaction.cleanup.interval.ms` that has the
//    coordinator expire idle transactional ids (tombstones appended as any other state write).
//  - Verification (KIP-890 part 1): a partition leader of this broker asks, through `verify`, the
//    coordinator of a transactional id (this one, or another broker's over gRPC) whether a partition
//    is in a producer's ongoing transaction (replica/transaction-verification.ts).
//  - Ownership: after every metadata image, the `__transaction_state` partitions this broker leads
//    are loaded (from log start to log end) and those it lost are unloaded, as the group driver does.

import type { Clock, TimerHandle, TimerScheduler } from '@gregor/ground';
import type { MetadataImage } from '@gregor/metadata';
import { ErrorCode, encodeRecordBatch, KafkaError } from '@gregor/protocol';
import {
  type AppendToken,
  type EndTxnRequest,
  TransactionCoordinator,
  type TransactionLogRecord,
  type TxnEffect,
  type TxnResponse,
  type VerifiedPartition,
  type VerifyPartitionsRequest,
  type WriteMarkersEffect,
} from '@gregor/txn';
import type { ChannelCredentials } from '@grpc/grpc-js';
import { OffsetsTopicCreator, offsetsTopicName } from '../groups/offsets-topic.js';
import type { Logger } from '../logging.js';
import type { ProducerIdManager } from '../producer-ids/producer-id-manager.js';
import { DeadlineTimer, OrderedAppendCompletions, readLogToEnd } from '../replica/coordinator-partitions.js';
import { type LedPartition, ledPartitions, reconcileLedPartitions } from '../replica/led-partitions.js';
import type { Partition } from '../replica/partition.js';
import type { ReplicaManager } from '../replica/replica-manager.js';
import type {
  TransactionVerificationRequest,
  TransactionVerifier,
} from '../replica/transaction-verification.js';
import type { TxnMarkerPartitionResult, TxnMarkerRequest } from '../replica/txn-marker-appends.js';
import {
  type LocalTransactionVerifier,
  TxnMarkersClients,
  txnMarkerReplicationTimeoutMs,
} from './txn-markers-grpc.js';

export const transactionStateTopicName = '__transaction_state';
/** How long a `__transaction_state` append waits for replication (Kafka's transaction.state.log append timeout). */
export const transactionStateAppendTimeoutMs = 5_000;
/** Bytes read from the log per step while loading a partition (`transaction.state.log.load.buffer.size`). */
export const transactionStateLoadChunkBytes = 5 * 1024 * 1024;
/** Pause before markers that failed are sent again. */
export const txnMarkerRetryBackoffMs = 200;
/** How long a leader waits for another broker's coordinator to answer a verification. */
export const transactionVerificationTimeoutMs = 5_000;
/** The longest single timer; later deadlines re-arm (setTimeout takes at most 2^31-1 ms). */
export const txnTimerDelayMsMax = 3_600_000;

export interface TransactionStateTopicSettings {
  /** `transaction.state.log.num.partitions` (Kafka's default 50). */
  readonly numPartitions: number;
  /** `transaction.state.log.replication.factor` (Kafka's default 3); fewer live brokers lower it. */
  readonly replicationFactor: number;
  /** `transaction.state.log.segment.bytes` (Kafka's default 100 MiB). */
  readonly segmentBytes: number;
}

export interface TransactionCoordinatorDriverOptions {
  readonly brokerId: number;
  readonly clusterId: string;
  readonly replicaManager: ReplicaManager;
  readonly producerIds: ProducerIdManager;
  readonly clock: Clock;
  readonly timers: TimerScheduler;
  readonly logger: Logger;
  readonly topic: TransactionStateTopicSettings;
  /** `transaction.max.timeout.ms`. */
  readonly transactionMaxTimeoutMs: number;
  /** `transactional.id.expiration.ms`. */
  readonly transactionalIdExpirationMs: number;
  /** `transaction.remove.expired.transaction.cleanup.interval.ms`: how often idle ids are expired. */
  readonly transactionalIdCleanupIntervalMs: number;
  /** `offsets.topic.num.partitions` (used when the offsets topic does not exist yet). */
  readonly offsetsTopicNumPartitions: number;
  /** Another broker's internal gRPC address (`host:port`), for markers to partitions it leads. */
  readonly addressOf: (brokerId: number) => string | undefined;
  /** How markers dial other brokers' controller listeners (internal-credentials.ts). */
  readonly credentials: ChannelCredentials;
}

interface OwnedPartition extends LedPartition {
  readonly loadId: number;
}

type ResponseOf<A extends TxnResponse['api']> = Extract<TxnResponse, { api: A }>;

export class TransactionCoordinatorDriver implements TransactionVerifier, LocalTransactionVerifier {
  readonly topicCreator: OffsetsTopicCreator;
  private coordinator: TransactionCoordinator;
  private readonly waiting = new Map<number, (response: TxnResponse) => void>();
  private nextRequestId = 1;
  private readonly owned = new Map<number, OwnedPartition>();
  private nextLoadId = 1;
  private readonly appendCompletions = new OrderedAppendCompletions();
  private readonly markerClients: TxnMarkersClients;
  private readonly timer: DeadlineTimer;
  private expirationTimer: TimerHandle | undefined;
  private closed = false;

  constructor(private readonly options: TransactionCoordinatorDriverOptions) {
    this.timer = new DeadlineTimer(options.timers, options.clock, txnTimerDelayMsMax, () => {
      if (this.closed) return;
      this.apply(this.coordinator.tick(this.options.clock.nowMs()));
    });
    this.topicCreator = new OffsetsTopicCreator(
      {
        name: transactionStateTopicName,
        numPartitions: options.topic.numPartitions,
        replicationFactor: options.topic.replicationFactor,
        segmentBytes: options.topic.segmentBytes,
      },
      options.timers,
    );
    this.markerClients = new TxnMarkersClients(options.clusterId, options.credentials);
    this.coordinator = this.newCoordinator(options.replicaManager.image);
    options.replicaManager.onImageApplied((image) => this.onImageApplied(image));
    options.replicaManager.onLeaseChanged(() => this.onImageApplied(options.replicaManager.image));
    this.onImageApplied(options.replicaManager.image);
    this.scheduleExpiration();
  }

  /** The `__transaction_state` partition that coordinates `transactionalId`. */
  partitionFor(transactionalId: string): number {
    return this.coordinator.partitionFor(transactionalId);
  }

  ownedPartitions(): number[] {
    return [...this.owned.keys()].sort((a, b) => a - b);
  }

  get transactions(): TransactionCoordinator {
    return this.coordinator;
  }

  /** InitProducerId for a transactional id: a producer id is fetched first when one is needed. */
  async initProducerId(request: {
    transactionalId: string;
    transactionTimeoutMs: number;
    producerId: number;
    producerEpoch: number;
  }): Promise<ResponseOf<'InitProducerId'>> {
    let fresh: number | null = null;
    if (this.coordinator.needsProducerId(request.transactionalId)) {
      const result = await this.options.producerIds.nextProducerId();
      if (!result.ok) {
        return { api: 'InitProducerId', errorCode: result.errorCode, producerId: -1, producerEpoch: -1 };
      }
      fresh = result.producerId;
    }
    return this.request('InitProducerId', (coordinator, requestId, nowMs) =>
      coordinator.initProducerId(requestId, request, fresh, nowMs),
    );
  }

  /** Hands one request to the coordinator and resolves with its response, whenever it comes. */
  request<A extends TxnResponse['api']>(
    api: A,
    invoke: (coordinator: TransactionCoordinator, requestId: number, nowMs: number) => TxnEffect[],
  ): Promise<ResponseOf<A>> {
    const requestId = this.nextRequestId++;
    const answered = new Promise<TxnResponse>((resolve) => this.waiting.set(requestId, resolve));
    let effects: TxnEffect[];
    try {
      effects = invoke(this.coordinator, requestId, this.options.clock.nowMs());
    } catch (error) {
      this.waiting.delete(requestId);
      throw error;
    }
    this.apply(effects);
    return answered.then((response) => {
      if (response.api !== api) throw new Error(`request ${requestId} expected ${api}, got ${response.api}`);
      return response as ResponseOf<A>;
    });
  }

  /**
   * KIP-890: whether the partition is in the ongoing transaction of the producer, asked of the
   * coordinator of its transactional id: this broker's own, or the leader of its
   * `__transaction_state` partition over gRPC. No leader: COORDINATOR_NOT_AVAILABLE; a transport
   * failure: NETWORK_EXCEPTION (both retriable for the producer).
   */
  async verify(request: TransactionVerificationRequest): Promise<number> {
    const question = {
      transactionalId: request.transactionalId,
      producerId: request.producerId,
      producerEpoch: request.producerEpoch,
      partitions: [{ topic: request.topic, partitions: [request.partition] }],
    };
    const add = request.addToTransaction === true;
    const stateTopic = this.options.replicaManager.image.topic(transactionStateTopicName);
    if (stateTopic === undefined) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const leader =
      stateTopic.partitions[this.coordinator.partitionFor(request.transactionalId)]?.leader ?? -1;
    if (leader < 0) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (leader === this.options.brokerId) {
      const [result] = await this.verifyHere(question, add);
      return result?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR;
    }
    const address = this.options.addressOf(leader);
    if (address === undefined) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    try {
      const [result] = await this.markerClients.verify(
        leader,
        address,
        question,
        transactionVerificationTimeoutMs,
        add,
      );
      return result?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR;
    } catch (error) {
      this.options.logger.debug({ err: error, leader }, 'transaction verification not answered');
      return ErrorCode.NETWORK_EXCEPTION;
    }
  }

  /**
   * Answers a verification with this broker's coordinator (never forwarded): a read, or with
   * `addToTransaction` (transactions v2) an AddPartitionsToTxn the broker makes for the producer,
   * its one error code given to every partition.
   */
  async verifyHere(
    request: VerifyPartitionsRequest,
    addToTransaction: boolean,
  ): Promise<VerifiedPartition[]> {
    if (!addToTransaction) return this.coordinator.verifyPartitions(request);
    const response = await this.request('AddPartitionsToTxn', (coordinator, requestId, nowMs) =>
      coordinator.addPartitionsToTxn(requestId, request, nowMs),
    );
    return request.partitions.flatMap(({ topic, partitions }) =>
      partitions.map((partition) => ({ topic, partition, errorCode: response.errorCode })),
    );
  }

  /**
   * EndTxn: a transactions-v2 end that exhausts the epoch gets a new producer id first, as
   * InitProducerId does.
   */
  async endTxn(request: EndTxnRequest): Promise<ResponseOf<'EndTxn'>> {
    let fresh: number | null = null;
    if (
      (request.transactionVersion ?? 1) >= 2 &&
      this.coordinator.endTxnNeedsProducerId(request.transactionalId)
    ) {
      const result = await this.options.producerIds.nextProducerId();
      if (!result.ok) {
        return { api: 'EndTxn', errorCode: result.errorCode, producerId: -1, producerEpoch: -1 };
      }
      fresh = result.producerId;
    }
    return this.request('EndTxn', (coordinator, requestId, nowMs) =>
      coordinator.endTxn(requestId, request, nowMs, fresh),
    );
  }

  close(): void {
    if (this.closed) return;
    for (const partitionIndex of [...this.owned.keys()]) this.unload(partitionIndex, 'broker stopping');
    this.closed = true;
    this.timer.cancel();
    this.expirationTimer?.cancel();
    this.expirationTimer = undefined;
    this.markerClients.close();
  }

  // ---------------------------------------------------------------- effects and time

  private apply(effects: readonly TxnEffect[]): void {
    for (const effect of effects) {
      if (effect.kind === 'respond') {
        const resolve = this.waiting.get(effect.requestId);
        if (resolve === undefined) throw new Error(`response for unknown request ${effect.requestId}`);
        this.waiting.delete(effect.requestId);
        resolve(effect.response);
      } else if (effect.kind === 'append') {
        this.startAppend(this.coordinator, effect.partitionIndex, effect.token, effect.records);
      } else {
        void this.writeMarkers(this.coordinator, effect);
      }
    }
    this.armTimer();
  }

  private armTimer(): void {
    this.timer.arm(this.closed ? null : this.coordinator.nextDeadlineMs());
  }

  /** As Kafka's "transactionalId-expiration" task: first after one interval, then every interval. */
  private scheduleExpiration(): void {
    this.expirationTimer = this.options.timers.schedule(() => {
      this.expirationTimer = undefined;
      if (this.closed) return;
      this.apply(this.coordinator.expireTransactionalIds(this.options.clock.nowMs()));
      this.scheduleExpiration();
    }, this.options.transactionalIdCleanupIntervalMs);
  }

  private startAppend(
    coordinator: TransactionCoordinator,
    partitionIndex: number,
    token: AppendToken,
    records: readonly TransactionLogRecord[],
  ): void {
    const nowMs = this.options.clock.nowMs();
    let outcome: Promise<number>;
    try {
      const batch = encodeRecordBatch({
        records: records.map(([key, value]) => ({ key, value, timestamp: nowMs })),
      });
      outcome = this.options.replicaManager
        .appendRecords(
          [{ topic: transactionStateTopicName, partition: partitionIndex, records: batch }],
          -1,
          transactionStateAppendTimeoutMs,
        )
        .then(([result]) => result?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR)
        .catch((error: unknown) => {
          this.options.logger.error({ err: error, partitionIndex }, 'transaction state append failed');
          return ErrorCode.UNKNOWN_SERVER_ERROR;
        });
    } catch (error) {
      if (!(error instanceof KafkaError)) throw error;
      outcome = Promise.resolve(error.code);
    }
    this.appendCompletions.add(partitionIndex, outcome, (errorCode) => {
      if (this.coordinator !== coordinator) return;
      this.apply(coordinator.onAppendComplete(token, errorCode, this.options.clock.nowMs()));
    });
  }

  /** Sends the markers to the partitions' leaders until each is written (or its topic is gone). */
  private async writeMarkers(coordinator: TransactionCoordinator, effect: WriteMarkersEffect): Promise<void> {
    let remaining = effect.partitions.flatMap(({ topic, partitions }) =>
      partitions.map((partition) => ({ topic, partition })),
    );
    const started = this.options.clock.nowMs();
    let attempts = 0;
    let fenced = false;
    while (remaining.length > 0) {
      if (this.closed || this.coordinator !== coordinator) return;
      if (attempts++ > 0) await this.sleep(txnMarkerRetryBackoffMs);
      if (this.closed || this.coordinator !== coordinator) return;
      const image = this.options.replicaManager.image;
      const byLeader = new Map<number, { topic: string; partition: number }[]>();
      const next: { topic: string; partition: number }[] = [];
      for (const target of remaining) {
        const state = image.topic(target.topic)?.partitions[target.partition];
        // A deleted topic (or partition) has no transaction to close any more.
        if (state === undefined) continue;
        if (state.leader < 0) {
          next.push(target);
          continue;
        }
        const list = byLeader.get(state.leader) ?? [];
        list.push(target);
        byLeader.set(state.leader, list);
      }
      await Promise.all(
        [...byLeader].map(async ([leader, partitions]) => {
          const marker: TxnMarkerRequest = {
            producerId: effect.producerId,
            producerEpoch: effect.producerEpoch,
            commit: effect.commit,
            coordinatorEpoch: effect.coordinatorEpoch,
            partitions,
          };
          let results: TxnMarkerPartitionResult[];
          try {
            results = await this.sendMarkers(leader, marker);
          } catch (error) {
            this.options.logger.debug({ err: error, leader }, 'transaction markers not delivered; retrying');
            next.push(...partitions);
            return;
          }
          for (const result of results) {
            if (result.errorCode === ErrorCode.TRANSACTION_COORDINATOR_FENCED) fenced = true;
            else if (result.errorCode !== ErrorCode.NONE)
              next.push({ topic: result.topic, partition: result.partition });
          }
        }),
      );
      if (fenced) {
        // A newer coordinator of this transactional id wrote a marker for the producer: this one
        // lost its __transaction_state partition without having heard yet. It stops, as Kafka's
        // does; the newer coordinator completes the transaction from its own log.
        this.options.logger.info(
          { transactionalId: effect.transactionalId, coordinatorEpoch: effect.coordinatorEpoch },
          'transaction markers refused: a newer coordinator fenced this one; not sending them any more',
        );
        return;
      }
      remaining = next;
      if (attempts % 50 === 0 && remaining.length > 0) {
        this.options.logger.warn(
          {
            transactionalId: effect.transactionalId,
            remaining: remaining.length,
            waitedMs: this.options.clock.nowMs() - started,
          },
          'transaction markers still not written',
        );
      }
    }
    if (this.closed || this.coordinator !== coordinator) return;
    this.apply(coordinator.onMarkersWritten(effect.token, this.options.clock.nowMs()));
  }

  private async sendMarkers(leader: number, marker: TxnMarkerRequest): Promise<TxnMarkerPartitionResult[]> {
    if (leader === this.options.brokerId) {
      const [results] = await this.options.replicaManager.writeTxnMarkers(
        [marker],
        txnMarkerReplicationTimeoutMs,
      );
      return results ?? [];
    }
    const address = this.options.addressOf(leader);
    if (address === undefined) throw new Error(`broker ${leader} has no known address`);
    const [results] = await this.markerClients.write(
      leader,
      address,
      [marker],
      txnMarkerReplicationTimeoutMs + 2_000,
    );
    return results ?? [];
  }

  private sleep(delayMs: number): Promise<void> {
    return new Promise((resolve) => this.options.timers.schedule(resolve, delayMs));
  }

  // ---------------------------------------------------------------- ownership

  private newCoordinator(image: MetadataImage): TransactionCoordinator {
    return new TransactionCoordinator({
      transactionStatePartitionCount:
        image.topic(transactionStateTopicName)?.partitions.length ?? this.options.topic.numPartitions,
      offsetsPartitionCount:
        image.topic(offsetsTopicName)?.partitions.length ?? this.options.offsetsTopicNumPartitions,
      transactionMaxTimeoutMs: this.options.transactionMaxTimeoutMs,
      transactionalIdExpirationMs: this.options.transactionalIdExpirationMs,
    });
  }

  private onImageApplied(image: MetadataImage): void {
    if (this.closed) return;
    const topic = image.topic(transactionStateTopicName);
    const offsetsCount = image.topic(offsetsTopicName)?.partitions.length;
    const config = this.coordinator.config;
    if (
      (topic !== undefined && topic.partitions.length !== config.transactionStatePartitionCount) ||
      (offsetsCount !== undefined && offsetsCount !== config.offsetsPartitionCount)
    ) {
      for (const partitionIndex of [...this.owned.keys()])
        this.unload(partitionIndex, 'partition count changed');
      this.coordinator = this.newCoordinator(image);
    }
    reconcileLedPartitions(ledPartitions(topic, this.options.replicaManager, this.options.brokerId), {
      owned: this.owned,
      unload: (partitionIndex, why) => this.unload(partitionIndex, why),
      startLoad: (partitionIndex, partition) => this.startLoad(partitionIndex, partition),
    });
  }

  private unload(partitionIndex: number, why: string): void {
    this.owned.delete(partitionIndex);
    this.apply(this.coordinator.unloadPartition(partitionIndex));
    this.options.logger.info({ partitionIndex, why }, 'transaction state partition unloaded');
  }

  private startLoad(partitionIndex: number, partition: Partition): void {
    const loadId = this.nextLoadId++;
    this.owned.set(partitionIndex, { partition, leaderEpoch: partition.leaderEpoch, loadId });
    const coordinator = this.coordinator;
    this.apply(coordinator.beginLoad(partitionIndex, partition.leaderEpoch));
    const current = (): boolean =>
      !this.closed && this.coordinator === coordinator && this.owned.get(partitionIndex)?.loadId === loadId;
    void this.readPartition(coordinator, partitionIndex, partition, current).then(
      (loaded) => {
        if (!loaded || !current()) return;
        const summary = coordinator.completeLoad(partitionIndex, this.options.clock.nowMs());
        this.options.logger.info({ partitionIndex, ...summary }, 'transaction state partition loaded');
        this.apply(coordinator.drain());
      },
      (error: unknown) => {
        if (!current()) return;
        this.options.logger.error({ err: error, partitionIndex }, 'transaction state partition load failed');
        this.unload(partitionIndex, 'load failed');
      },
    );
  }

  /**
   * Feeds the coordinator every record of the partition from its log start to its log end
   * (readLogToEnd; markers are skipped). Returns false when the load was superseded.
   */
  private readPartition(
    coordinator: TransactionCoordinator,
    partitionIndex: number,
    partition: Partition,
    current: () => boolean,
  ): Promise<boolean> {
    const what = `transaction state partition ${partitionIndex}`;
    return readLogToEnd(partition, transactionStateLoadChunkBytes, current, what, (batches) => {
      const records: TransactionLogRecord[] = [];
      for (const batch of batches) {
        if (batch.header.isControl) continue;
        for (const record of batch.records) {
          if (record.key !== null) records.push([record.key, record.value]);
        }
      }
      coordinator.loadRecords(partitionIndex, records);
    });
  }
}

// The broker side of the group coordinator: @gregor/group's GroupCoordinator is pure (requests in,
// effects out, time as arguments); this driver gives it a network, a log, a clock and a timer.
//
//  - Requests: each gets a request id and a promise; a `respond` effect resolves it, possibly much
//    later (a JoinGroup is held for the rebalance, an OffsetCommit until it is replicated).
//  - Appends: an `append` effect becomes ONE RecordBatch v2 appended to its `__consumer_offsets`
//    partition with acks=all semantics (answered once the high watermark covers it). Appends start in
//    effect order, so the log holds them in that order, and their completions are handed back in the
//    same order per partition (the coordinator checks this).
//  - Time: one timer, armed at the coordinator's next deadline after every call.
//  - Transactions: a TxnOffsetCommit's append is a transactional batch of its producer (written with
//    the coordinator's origin: no sequence numbers); a transaction marker the replica manager writes
//    to an offsets partition this broker coordinates settles that producer's pending offsets. Loading
//    does the same from the log: a transactional batch's records wait for their marker (commit:
//    loaded at the marker's place; abort: dropped; none yet: pending in the group).
//  - Ownership: after every metadata image the replica manager applied, the driver compares which
//    offsets partitions this broker leads (and in which leader epoch) with what it owns: a new
//    leadership loads the partition's groups from its log (requests answer
//    COORDINATOR_LOAD_IN_PROGRESS meanwhile); a lost one unloads them (NOT_COORDINATOR from then on).
//  - Reads of committed offsets (OffsetFetch) first confirm that this broker still leads the
//    group's partition (`confirmLeadership`): a broker learns that it was deposed only when it
//    applies the metadata that says so, and meanwhile the new leader may have completed commits
//    this one never applied (an append it made as leader, committed under its successor). The
//    confirmation is a metadata barrier (node/metadata-barrier.ts: the active controller names the
//    partition's leader and epoch); a read it cannot confirm is answered NOT_COORDINATOR, and the
//    client finds the coordinator again.

import type { Clock, Random, TimerScheduler } from '@gregor/ground';
import {
  type AppendToken,
  coordinatorPartitionFor,
  GroupCoordinator,
  type GroupCoordinatorConfig,
  type GroupEffect,
  type GroupResponse,
  type OffsetsRecord,
  type RequestId,
  type TransactionalProducer,
} from '@gregor/group';
import type { MetadataImage } from '@gregor/metadata';
import { ErrorCode, encodeRecordBatch, isCommitMarkerBatch, KafkaError, noSequence } from '@gregor/protocol';
import type { Logger } from '../logging.js';
import { DeadlineTimer, OrderedAppendCompletions, readLogToEnd } from '../replica/coordinator-partitions.js';
import { type LedPartition, ledPartitions, reconcileLedPartitions } from '../replica/led-partitions.js';
import type { Partition } from '../replica/partition.js';
import type { ReplicaManager } from '../replica/replica-manager.js';
import { OffsetsTopicCreator, type OffsetsTopicSettings, offsetsTopicName } from './offsets-topic.js';

/** Kafka's `offsets.commit.timeout.ms`: how long an offsets append waits for replication. */
export const offsetsCommitTimeoutMsDefault = 5_000;
/** Kafka's `offsets.load.buffer.size`: bytes read from the log per step while loading a partition. */
export const offsetsLoadChunkBytes = 5 * 1024 * 1024;
/**
 * The longest single timer; a later deadline is reached by re-arming (Node's setTimeout takes at
 * most 2^31-1 ms and fires at once beyond it).
 */
export const coordinatorTimerDelayMsMax = 3_600_000;

export interface GroupCoordinatorDriverOptions {
  readonly brokerId: number;
  readonly replicaManager: ReplicaManager;
  readonly clock: Clock;
  readonly timers: TimerScheduler;
  readonly random: Random;
  readonly logger: Logger;
  readonly offsetsTopic: OffsetsTopicSettings;
  /** `group.initial.rebalance.delay.ms`. */
  readonly groupInitialRebalanceDelayMs: number;
  readonly offsetsCommitTimeoutMs?: number;
  /** Further coordinator settings (session timeout bounds, limits); Kafka's defaults otherwise. */
  readonly coordinatorConfig?: Partial<Omit<GroupCoordinatorConfig, 'offsetsPartitionCount'>>;
  /**
   * Confirms with the active controller, asked after the call, that this broker leads the offsets
   * partition in the leader epoch given (false: another leader or epoch, or no controller answered):
   * what `confirmLeadership` waits for (node/metadata-barrier.ts in production).
   */
  readonly metadataBarrier: { confirm(partitionIndex: number, leaderEpoch: number): Promise<boolean> };
}

interface OwnedPartition extends LedPartition {
  /** Identifies the load in progress, so a superseded load stops. */
  readonly loadId: number;
}

type ResponseOf<A extends GroupResponse['api']> = Extract<GroupResponse, { api: A }>;

/** What `confirmLeadership` resolves: NONE, or the error a read of the group is refused with. */
export type LeadershipConfirmation =
  | typeof ErrorCode.NONE
  | typeof ErrorCode.NOT_COORDINATOR
  | typeof ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;

export class GroupCoordinatorDriver {
  readonly offsetsTopicCreator: OffsetsTopicCreator;
  private coordinator: GroupCoordinator;
  private readonly waiting = new Map<RequestId, (response: GroupResponse) => void>();
  private nextRequestId: RequestId = 1;
  private readonly owned = new Map<number, OwnedPartition>();
  private nextLoadId = 1;
  private readonly appendCompletions = new OrderedAppendCompletions();
  private readonly timer: DeadlineTimer;
  private closed = false;

  constructor(private readonly options: GroupCoordinatorDriverOptions) {
    this.timer = new DeadlineTimer(options.timers, options.clock, coordinatorTimerDelayMsMax, () => {
      if (this.closed) return;
      this.apply(this.coordinator.tick(this.options.clock.nowMs()));
    });
    this.offsetsTopicCreator = new OffsetsTopicCreator(options.offsetsTopic, options.timers);
    this.coordinator = this.newCoordinator(options.offsetsTopic.numPartitions);
    options.replicaManager.onImageApplied((image) => this.onImageApplied(image));
    options.replicaManager.onLeaseChanged(() => this.onImageApplied(options.replicaManager.image));
    options.replicaManager.onTransactionMarkerWritten((topic, partition, marker) => {
      if (topic !== offsetsTopicName || this.closed || !this.owned.has(partition)) return;
      this.apply(
        this.coordinator.completeTransaction(
          partition,
          marker.producerId,
          marker.commit,
          this.options.clock.nowMs(),
        ),
      );
    });
    this.onImageApplied(options.replicaManager.image);
  }

  /** The offsets partitions this broker coordinates now (loading or loaded). */
  ownedPartitions(): number[] {
    return [...this.owned.keys()].sort((a, b) => a - b);
  }

  isLoading(partitionIndex: number): boolean {
    return this.coordinator.isLoading(partitionIndex);
  }

  /**
   * The committed offsets of the groups this broker coordinates, in group then topic-partition
   * order, at most `limit` of them (for the consumer-group lag metrics).
   */
  committedOffsets(limit: number): { groupId: string; topic: string; partition: number; offset: number }[] {
    const offsets: { groupId: string; topic: string; partition: number; offset: number }[] = [];
    for (const groupId of this.coordinator.groupIds()) {
      const group = this.coordinator.getGroup(groupId);
      if (group === undefined) continue;
      for (const { topic, partition, value } of group.allCommittedOffsets()) {
        if (offsets.length >= limit) return offsets;
        offsets.push({ groupId, topic, partition, offset: Number(value.offset) });
      }
    }
    return offsets;
  }

  /**
   * Before a read of committed offsets for `groupId`: true when the coordinator may answer it
   * (from state that is current, or with an error of its own), false when it must be refused with
   * NOT_COORDINATOR. A group whose partition this broker does not own, or is still loading, needs
   * no confirmation: the coordinator answers NOT_COORDINATOR or COORDINATOR_LOAD_IN_PROGRESS from
   * nothing stale. Otherwise the metadata barrier asks the active controller whether this broker
   * still leads the partition in the epoch it was loaded in: a leadership moved away before this
   * call (or away and back, while this broker held the old load) refuses the read.
   *
   * Resolves NONE when the coordinator may answer, else the error to refuse with: NOT_COORDINATOR,
   * or COORDINATOR_LOAD_IN_PROGRESS when the controller confirmed this broker but the load it
   * confirmed was dropped or replaced while it answered (a leader lease that lapsed while the
   * controller moved, the partition unloaded and loaded again in the same epoch). This broker is
   * still the coordinator then, and a client must ask it again: librdkafka retries an OffsetFetch
   * answered COORDINATOR_LOAD_IN_PROGRESS on the same coordinator, but gives up on the partitions of
   * one answered NOT_COORDINATOR, leaving a KIP-848 consumer holding them and reading nothing. The
   * retry is answered by whatever load is current then (NOT_COORDINATOR if none is).
   */
  /** The `__consumer_offsets` partition that holds `groupId`'s offsets. */
  offsetsPartitionFor(groupId: string): number {
    return coordinatorPartitionFor(groupId, this.coordinator.config.offsetsPartitionCount);
  }

  async confirmLeadership(groupId: string): Promise<LeadershipConfirmation> {
    const partitionIndex = coordinatorPartitionFor(groupId, this.coordinator.config.offsetsPartitionCount);
    const owned = this.owned.get(partitionIndex);
    if (owned === undefined || this.coordinator.isLoading(partitionIndex)) return ErrorCode.NONE;
    if (!(await this.options.metadataBarrier.confirm(partitionIndex, owned.leaderEpoch)))
      return ErrorCode.NOT_COORDINATOR;
    return this.owned.get(partitionIndex)?.loadId === owned.loadId
      ? ErrorCode.NONE
      : ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
  }

  /**
   * Hands one decoded request to the coordinator and resolves with its response, whenever the
   * coordinator answers it. `api` names the response expected (checked: a mismatch is a bug).
   */
  request<A extends GroupResponse['api']>(
    api: A,
    invoke: (coordinator: GroupCoordinator, requestId: RequestId, nowMs: number) => GroupEffect[],
  ): Promise<ResponseOf<A>> {
    const requestId = this.nextRequestId++;
    const answered = new Promise<GroupResponse>((resolve) => this.waiting.set(requestId, resolve));
    let effects: GroupEffect[];
    try {
      effects = invoke(this.coordinator, requestId, this.options.clock.nowMs());
    } catch (error) {
      this.waiting.delete(requestId);
      throw error;
    }
    this.apply(effects);
    return answered.then((response) => {
      if (response.api !== api)
        throw new Error(`request ${requestId} expected a ${api} response, got ${response.api}`);
      return response as ResponseOf<A>;
    });
  }

  /** Stops coordinating: every partition is unloaded (held requests answered NOT_COORDINATOR). */
  close(): void {
    if (this.closed) return;
    for (const partitionIndex of [...this.owned.keys()]) this.unload(partitionIndex, 'broker stopping');
    this.closed = true;
    this.timer.cancel();
  }

  // ---------------------------------------------------------------- effects and time

  private apply(effects: readonly GroupEffect[]): void {
    for (const effect of effects) {
      if (effect.kind === 'respond') {
        const resolve = this.waiting.get(effect.requestId);
        if (resolve === undefined) throw new Error(`response for unknown request ${effect.requestId}`);
        this.waiting.delete(effect.requestId);
        resolve(effect.response);
      } else {
        this.startAppend(
          this.coordinator,
          effect.partitionIndex,
          effect.token,
          effect.records,
          effect.producer,
        );
      }
    }
    this.armTimer();
  }

  private armTimer(): void {
    this.timer.arm(this.closed ? null : this.coordinator.nextDeadlineMs());
  }

  /**
   * Appends `records` as one batch now (so the log order is the effect order) and hands the outcome
   * back after every earlier append of the partition was handed back.
   */
  private startAppend(
    coordinator: GroupCoordinator,
    partitionIndex: number,
    token: AppendToken,
    records: readonly OffsetsRecord[],
    producer: TransactionalProducer | undefined,
  ): void {
    const nowMs = this.options.clock.nowMs();
    let outcome: Promise<number>;
    try {
      const batch = encodeRecordBatch({
        records: records.map(([key, value]) => ({ key, value, timestamp: nowMs })),
        ...(producer === undefined
          ? {}
          : {
              producerId: producer.producerId,
              producerEpoch: producer.producerEpoch,
              baseSequence: noSequence,
              isTransactional: true,
            }),
      });
      outcome = this.options.replicaManager
        .appendRecords(
          [{ topic: offsetsTopicName, partition: partitionIndex, records: batch }],
          -1,
          this.options.offsetsCommitTimeoutMs ?? offsetsCommitTimeoutMsDefault,
          producer === undefined ? 'client' : 'coordinator',
        )
        .then(([result]) => result?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR)
        .catch((error: unknown) => {
          this.options.logger.error({ err: error, partitionIndex }, 'offsets append failed');
          return ErrorCode.UNKNOWN_SERVER_ERROR;
        });
    } catch (error) {
      if (!(error instanceof KafkaError)) throw error;
      outcome = Promise.resolve(error.code);
    }
    this.appendCompletions.add(partitionIndex, outcome, (errorCode) => {
      // A coordinator replaced since (the topic changed its partition count) forgot this append.
      if (this.coordinator !== coordinator) return;
      this.apply(coordinator.onAppendComplete(token, errorCode, this.options.clock.nowMs()));
    });
  }

  // ---------------------------------------------------------------- ownership

  private newCoordinator(offsetsPartitionCount: number): GroupCoordinator {
    return new GroupCoordinator(
      {
        ...this.options.coordinatorConfig,
        offsetsPartitionCount,
        initialRebalanceDelayMs: this.options.groupInitialRebalanceDelayMs,
      },
      this.options.random,
    );
  }

  private onImageApplied(image: MetadataImage): void {
    if (this.closed) return;
    const topic = image.topic(offsetsTopicName);
    if (topic !== undefined && topic.partitions.length !== this.coordinator.config.offsetsPartitionCount) {
      // Which partition coordinates a group depends on the count: Kafka uses the topic's real one
      // (created by another setting, or by hand), and so does every client's FindCoordinator here.
      for (const partitionIndex of [...this.owned.keys()])
        this.unload(partitionIndex, 'partition count changed');
      this.coordinator = this.newCoordinator(topic.partitions.length);
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
    this.options.logger.info({ partitionIndex, why }, 'offsets partition unloaded');
  }

  private startLoad(partitionIndex: number, partition: Partition): void {
    const loadId = this.nextLoadId++;
    this.owned.set(partitionIndex, { partition, leaderEpoch: partition.leaderEpoch, loadId });
    const coordinator = this.coordinator;
    coordinator.beginLoad(partitionIndex);
    const current = (): boolean =>
      !this.closed && this.coordinator === coordinator && this.owned.get(partitionIndex)?.loadId === loadId;
    const startMs = this.options.clock.nowMs();
    const openTransactions = new Map<number, OffsetsRecord[]>();
    void this.readPartition(coordinator, partitionIndex, partition, current, openTransactions).then(
      (loaded) => {
        if (!loaded || !current()) return;
        const nowMs = this.options.clock.nowMs();
        const summary = coordinator.completeLoad(partitionIndex, nowMs);
        for (const [producerId, records] of openTransactions) {
          this.apply(coordinator.loadPendingTransactionalOffsets(partitionIndex, producerId, records, nowMs));
        }
        this.options.logger.info({ ...summary, loadMs: nowMs - startMs }, 'offsets partition loaded');
        this.armTimer();
      },
      (error: unknown) => {
        if (!current()) return;
        // A log that cannot be read (or holds a record the codecs refuse) leaves the partition
        // unserved rather than served with groups or offsets missing.
        this.options.logger.error({ err: error, partitionIndex }, 'offsets partition load failed');
        this.unload(partitionIndex, 'load failed');
      },
    );
  }

  /**
   * Feeds the coordinator every record of the partition from its log start to its log end as of
   * now (readLogToEnd); a transactional batch's records wait in `openTransactions` for their
   * producer's marker. Returns false when the load was superseded.
   */
  private readPartition(
    coordinator: GroupCoordinator,
    partitionIndex: number,
    partition: Partition,
    current: () => boolean,
    openTransactions: Map<number, OffsetsRecord[]>,
  ): Promise<boolean> {
    const what = `offsets partition ${partitionIndex}`;
    return readLogToEnd(partition, offsetsLoadChunkBytes, current, what, (batches, chunk) => {
      const records: OffsetsRecord[] = [];
      for (const batch of batches) {
        const { producerId } = batch.header;
        if (batch.header.isControl) {
          // A marker settles the producer's offsets read so far: committed ones count from here.
          const pending = openTransactions.get(producerId);
          openTransactions.delete(producerId);
          if (pending !== undefined && isCommitMarkerBatch(chunk, batch.position)) records.push(...pending);
          continue;
        }
        const target = batch.header.isTransactional ? (openTransactions.get(producerId) ?? []) : records;
        if (batch.header.isTransactional) openTransactions.set(producerId, target);
        for (const record of batch.records) {
          if (record.key !== null) target.push([record.key, record.value]);
        }
      }
      coordinator.loadRecords(partitionIndex, records);
    });
  }
}

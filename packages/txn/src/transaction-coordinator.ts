// The transaction coordinator (Kafka's TransactionCoordinator with its TransactionStateManager):
// the transactional ids of the `__transaction_state` partitions this broker leads, each with its
// producer id and epoch and its transaction's state. Pure: requests and time in, effects out; the
// broker's driver does the log, the markers and the timer.
//
// States and transitions (Kafka's TransactionState):
//   Empty/CompleteCommit/CompleteAbort --AddPartitions--> Ongoing --EndTxn--> PrepareCommit|PrepareAbort
//   PrepareCommit --markers written--> CompleteCommit;  PrepareAbort --markers written--> CompleteAbort
// Every transition is first appended to the transactional id's partition (acks=all) and takes effect
// once the append succeeded; meanwhile the id is "pending" and other requests for it are answered
// CONCURRENT_TRANSACTIONS (retriable). Once the Prepare state is stored the outcome is decided, and
// the markers are driven to completion by whichever broker coordinates the partition (a new
// coordinator resumes them when it loads a Prepare state). EndTxn is answered when the transaction
// is complete (markers written, Complete state stored), later than Kafka, which answers once Prepare
// is stored: a client's next transaction then never meets CONCURRENT_TRANSACTIONS (kafkajs does not
// retry AddOffsetsToTxn on it), and a read_committed reader sees the records once commit returns.
// Should this broker stop coordinating in between, EndTxn is answered NONE: the decision is stored.
//
// Fencing: InitProducerId bumps the epoch of a transactional id; requests with an older epoch get
// PRODUCER_FENCED, and so do their produces once the bumped epoch's markers reach the partitions. An
// InitProducerId that finds a transaction ongoing aborts it under the bumped epoch and answers
// CONCURRENT_TRANSACTIONS; the retry then gets a fresh epoch. A transaction that outlives its
// transaction.timeout.ms is aborted by the coordinator the same way (tick): the producer that
// started it is fenced.
//
// Expiration (Kafka's TransactionStateManager.removeExpiredTransactionalIds): expireTransactionalIds,
// called every transaction.remove.expired.transaction.cleanup.interval.ms, writes a tombstone for
// every id of a loaded partition that is Empty, CompleteCommit or CompleteAbort, has nothing in
// flight and was last updated transactional.id.expiration.ms ago or earlier. The id is pending while
// its tombstone is stored and dropped once it is; a refused tombstone leaves it as it was. A
// coordinator that loads the partition later reads the tombstone and never learns of the id, so the
// next InitProducerId for it starts afresh with a new producer id.

import { invariant } from '@gregor/ground';
import { coordinatorPartitionFor, DeadlineQueue } from '@gregor/group';
import { ErrorCode } from '@gregor/protocol';
import type {
  AddOffsetsToTxnRequest,
  AddPartitionsToTxnRequest,
  AppendToken,
  EndTxnRequest,
  InitProducerIdRequest,
  MarkerToken,
  RequestId,
  TxnEffect,
  TxnResponse,
  VerifiedPartition,
  VerifyPartitionsRequest,
} from './messages.js';
import {
  decodeTransactionLogKey,
  decodeTransactionLogValue,
  encodeTransactionLogKey,
  encodeTransactionLogValue,
  type TopicPartitions,
  type TransactionLogRecord,
  type TransactionLogValue,
  TransactionState,
  type TransactionStateId,
} from './transaction-records.js';

/** Kafka's `__consumer_offsets` name: AddOffsetsToTxn adds the group's partition of it. */
export const offsetsTopicName = '__consumer_offsets';
/** An epoch that reached this is not bumped again: the id gets a new producer id (Short.MaxValue - 1). */
export const producerEpochMax = 32_766;
/** Kafka's `transaction.max.timeout.ms` default (15 minutes). */
export const transactionMaxTimeoutMsDefault = 900_000;
/** Kafka's `transaction.state.log.num.partitions` default. */
export const transactionStatePartitionsDefault = 50;
/** Partitions one transaction may hold; more is a broken client, not load. */
export const partitionsPerTransactionMax = 100_000;
/**
 * Transactional ids one coordinator holds; a new id beyond it is COORDINATOR_NOT_AVAILABLE. Idle
 * ids leave after transactional.id.expiration.ms (expireTransactionalIds), as in Kafka.
 */
export const transactionalIdsPerCoordinatorMax = 100_000;
/** Kafka's `transactional.id.expiration.ms` default (7 days). */
export const transactionalIdExpirationMsDefault = 604_800_000;
/** Kafka's `transaction.remove.expired.transaction.cleanup.interval.ms` default (1 hour). */
export const transactionalIdCleanupIntervalMsDefault = 3_600_000;
/** Tombstones in one append (one record batch) of an expiration run; more ids take more appends. */
export const expiredTransactionalIdsPerAppendMax = 1_000;

export interface TransactionCoordinatorConfig {
  /** `transaction.state.log.num.partitions` (the real partition count of the topic). */
  readonly transactionStatePartitionCount: number;
  /** `offsets.topic.num.partitions` (the real count): which partition AddOffsetsToTxn adds. */
  readonly offsetsPartitionCount: number;
  /** `transaction.max.timeout.ms`: a longer transaction.timeout.ms is INVALID_TRANSACTION_TIMEOUT. */
  readonly transactionMaxTimeoutMs: number;
  /** `transactional.id.expiration.ms`: an idle id last updated this long ago is removed. */
  readonly transactionalIdExpirationMs: number;
}

/** One transactional id, as this coordinator holds it. */
export interface TransactionMetadata {
  readonly transactionalId: string;
  producerId: number;
  producerEpoch: number;
  /**
   * The epoch before the last bump that a retry may name (Kafka's lastProducerEpoch): set by an
   * InitProducerId that named the current epoch (KIP-360) and by a transactions-v2 end, -1 after a
   * bump that fenced the producer; a retried InitProducerId with it gets the current epoch. Stored
   * (Gregor's tag of TransactionLogValue v1; Kafka keeps it in memory).
   */
  lastProducerEpoch: number;
  timeoutMs: number;
  state: TransactionStateId;
  /** `topic` → partitions of the current transaction. */
  partitions: Map<string, Set<number>>;
  startTimestampMs: number;
  lastUpdateTimestampMs: number;
  /** An append or the markers of this id are in flight: no other transition may start. */
  pending: boolean;
  /** EndTxn requests answered once the transaction is complete (not stored). */
  completionWaiters: (() => void)[];
  /**
   * Transactions v2: the producer id the id moves to once the transaction that exhausted the epoch
   * is complete; -1 when none. Stored in the Prepare record (TransactionLogValue v1, tag 1), so a
   * coordinator that loads it completes the move.
   */
  nextProducerId: number;
  /**
   * The producer id before the last move to a new one, for a retried EndTxn or InitProducerId that
   * names it; -1. Stored (tag 0).
   */
  previousProducerId: number;
  /**
   * The last epoch bump fenced the producer (a timeout or a new InitProducerId aborted its
   * transaction), so an EndTxn with the epoch before it is a fenced producer, not a retry (Kafka's
   * isEpochFence). Stored (Gregor's tag), so a coordinator that loads the state answers the same.
   */
  bumpedByFence: boolean;
  /** The transaction version of the client's last end: 2 for EndTxn v5+, else 0 (as Kafka). Stored (tag 2). */
  clientTransactionVersion: number;
}

interface OwnedPartition {
  readonly coordinatorEpoch: number;
  loading: boolean;
  readonly transactions: Map<string, TransactionMetadata>;
  /** While loading: the last value per transactional id read so far (null: a tombstone). */
  readonly loaded: Map<string, TransactionLogValue | null>;
}

interface PendingAppend {
  readonly partitionIndex: number;
  readonly owner: OwnedPartition;
  readonly metadata: TransactionMetadata;
  readonly next: TransactionLogValue;
  readonly then: (errorCode: number, nowMs: number) => void;
}

/** Tombstones of expired transactional ids being stored (one append). */
interface PendingExpiration {
  readonly owner: OwnedPartition;
  readonly expired: readonly TransactionMetadata[];
}

interface PendingMarkers {
  readonly owner: OwnedPartition;
  readonly metadata: TransactionMetadata;
  readonly commit: boolean;
}

export interface TransactionDescription {
  readonly transactionalId: string;
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly state: TransactionStateId;
  readonly timeoutMs: number;
  readonly startTimestampMs: number;
  readonly partitions: TopicPartitions[];
}

export class TransactionCoordinator {
  private readonly owned = new Map<number, OwnedPartition>();
  private readonly appends = new Map<AppendToken, PendingAppend>();
  private readonly markers = new Map<MarkerToken, PendingMarkers>();
  private readonly expirations = new Map<AppendToken, PendingExpiration>();
  private nextToken = 1;
  private effects: TxnEffect[] = [];
  /** Ongoing transactions by `transactionalId`, due at start + timeout. */
  private readonly timeouts = new DeadlineQueue<TransactionMetadata>();

  constructor(readonly config: TransactionCoordinatorConfig) {
    invariant(config.transactionStatePartitionCount > 0, 'transaction state partitions must be positive');
    invariant(config.offsetsPartitionCount > 0, 'offsets partitions must be positive');
    invariant(config.transactionalIdExpirationMs > 0, 'transactional id expiration must be positive');
  }

  transactionalIdCount(): number {
    let count = 0;
    for (const owner of this.owned.values()) count += owner.transactions.size;
    return count;
  }

  partitionFor(transactionalId: string): number {
    return coordinatorPartitionFor(transactionalId, this.config.transactionStatePartitionCount);
  }

  isLoading(partitionIndex: number): boolean {
    return this.owned.get(partitionIndex)?.loading ?? false;
  }

  ownedPartitions(): number[] {
    return [...this.owned.keys()].sort((a, b) => a - b);
  }

  /**
   * Whether an InitProducerId for `transactionalId` would need a producer id it does not have: the
   * id is new, or its epoch is exhausted. The driver then fetches one before calling initProducerId.
   */
  needsProducerId(transactionalId: string): boolean {
    const owner = this.owned.get(this.partitionFor(transactionalId));
    if (owner === undefined || owner.loading) return false;
    const metadata = owner.transactions.get(transactionalId);
    return metadata === undefined || metadata.producerEpoch >= producerEpochMax;
  }

  /**
   * Whether a transactions-v2 EndTxn for `transactionalId` would exhaust the epoch and so needs a
   * new producer id (Kafka's TransactionMetadata.isProducerEpochExhausted); the driver fetches one
   * before calling endTxn.
   */
  endTxnNeedsProducerId(transactionalId: string): boolean {
    const owner = this.owned.get(this.partitionFor(transactionalId));
    if (owner === undefined || owner.loading) return false;
    const metadata = owner.transactions.get(transactionalId);
    return metadata !== undefined && metadata.producerEpoch >= producerEpochMax;
  }

  /** DescribeTransactions: the id's state, or NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, TRANSACTIONAL_ID_NOT_FOUND. */
  describeOrError(transactionalId: string): TransactionDescription | number {
    const located = this.locate(transactionalId);
    if (typeof located === 'number')
      return located === ErrorCode.INVALID_REQUEST ? ErrorCode.TRANSACTIONAL_ID_NOT_FOUND : located;
    const metadata = located.owner.transactions.get(transactionalId);
    // An id whose first InitProducerId is still being stored does not exist yet.
    if (metadata === undefined || metadata.producerEpoch < 0) return ErrorCode.TRANSACTIONAL_ID_NOT_FOUND;
    return describeMetadata(metadata);
  }

  /** Whether some partition of this coordinator is still loading (ListTransactions answers it). */
  anyLoading(): boolean {
    return [...this.owned.values()].some((owner) => owner.loading);
  }

  describe(transactionalId: string): TransactionDescription | undefined {
    const metadata = this.owned.get(this.partitionFor(transactionalId))?.transactions.get(transactionalId);
    return metadata === undefined ? undefined : describeMetadata(metadata);
  }

  /** Every transactional id this coordinator holds, by id. */
  list(): TransactionDescription[] {
    const all: TransactionDescription[] = [];
    for (const owner of this.owned.values()) {
      if (owner.loading) continue;
      for (const metadata of owner.transactions.values()) {
        if (metadata.producerEpoch >= 0) all.push(describeMetadata(metadata));
      }
    }
    return all.sort((a, b) => (a.transactionalId < b.transactionalId ? -1 : 1));
  }

  // ---------------------------------------------------------------- ownership

  /** This broker now leads `partitionIndex` in `coordinatorEpoch`: requests wait for the load. */
  beginLoad(partitionIndex: number, coordinatorEpoch: number): TxnEffect[] {
    const effects = this.unloadPartition(partitionIndex);
    this.owned.set(partitionIndex, {
      coordinatorEpoch,
      loading: true,
      transactions: new Map(),
      loaded: new Map(),
    });
    return effects;
  }

  /** Records of the partition's log, in log order (control records left out by the caller). */
  loadRecords(partitionIndex: number, records: readonly TransactionLogRecord[]): void {
    const owner = this.owned.get(partitionIndex);
    invariant(owner?.loading === true, () => `partition ${partitionIndex} is not loading`);
    for (const [key, value] of records) {
      owner.loaded.set(
        decodeTransactionLogKey(key),
        value === null ? null : decodeTransactionLogValue(value),
      );
    }
  }

  /**
   * The log was read to its end: the transactions are served from now on. A transaction whose
   * outcome was decided (Prepare*) gets its markers written again; an ongoing one keeps its deadline.
   */
  completeLoad(partitionIndex: number, nowMs: number): { transactionalIds: number } {
    const owner = this.owned.get(partitionIndex);
    invariant(owner?.loading === true, () => `partition ${partitionIndex} is not loading`);
    for (const [transactionalId, value] of owner.loaded) {
      if (value === null || value.state === TransactionState.dead) continue;
      const metadata: TransactionMetadata = {
        transactionalId,
        producerId: value.producerId,
        producerEpoch: value.producerEpoch,
        lastProducerEpoch: value.lastProducerEpoch,
        timeoutMs: value.transactionTimeoutMs,
        state: value.state,
        partitions: partitionMap(value.partitions),
        startTimestampMs: value.startTimestampMs,
        lastUpdateTimestampMs: value.lastUpdateTimestampMs,
        pending: false,
        completionWaiters: [],
        nextProducerId: value.nextProducerId,
        previousProducerId: value.previousProducerId,
        bumpedByFence: value.bumpedByFence,
        clientTransactionVersion: value.clientTransactionVersion,
      };
      owner.transactions.set(transactionalId, metadata);
    }
    owner.loaded.clear();
    owner.loading = false;
    for (const metadata of owner.transactions.values()) {
      if (metadata.state === TransactionState.ongoing) this.scheduleTimeout(metadata);
      else if (metadata.state === TransactionState.prepareCommit)
        this.writeMarkers(owner, metadata, true, nowMs);
      else if (metadata.state === TransactionState.prepareAbort)
        this.writeMarkers(owner, metadata, false, nowMs);
    }
    // Effects of a load (markers to resume) leave through the next drain.
    return { transactionalIds: owner.transactions.size };
  }

  /** Leadership of the partition is gone: its transactions are forgotten (the new leader loads them). */
  unloadPartition(partitionIndex: number): TxnEffect[] {
    const owner = this.owned.get(partitionIndex);
    if (owner !== undefined) {
      this.owned.delete(partitionIndex);
      for (const metadata of owner.transactions.values()) this.timeouts.delete(metadata.transactionalId);
      for (const [token, pending] of [...this.appends]) {
        if (pending.owner === owner) {
          this.appends.delete(token);
          pending.then(ErrorCode.NOT_COORDINATOR, Number.NaN);
        }
      }
      for (const [token, pending] of [...this.markers]) {
        if (pending.owner === owner) this.markers.delete(token);
      }
      for (const [token, pending] of [...this.expirations]) {
        if (pending.owner === owner) this.expirations.delete(token);
      }
      for (const metadata of owner.transactions.values()) releaseWaiters(metadata);
    }
    return this.drain();
  }

  /** Effects produced outside a request (a load's resumed markers). */
  drain(): TxnEffect[] {
    const effects = this.effects;
    this.effects = [];
    return effects;
  }

  // ---------------------------------------------------------------- requests

  initProducerId(
    requestId: RequestId,
    request: InitProducerIdRequest,
    freshProducerId: number | null,
    nowMs: number,
  ): TxnEffect[] {
    const respond = (errorCode: number, producerId = -1, producerEpoch = -1): TxnEffect[] => {
      this.respond(requestId, { api: 'InitProducerId', errorCode, producerId, producerEpoch });
      return this.drain();
    };
    if (
      request.transactionTimeoutMs <= 0 ||
      request.transactionTimeoutMs > this.config.transactionMaxTimeoutMs
    ) {
      return respond(ErrorCode.INVALID_TRANSACTION_TIMEOUT);
    }
    const located = this.locate(request.transactionalId);
    if (typeof located === 'number') return respond(located);
    const { owner } = located;
    let metadata = owner.transactions.get(request.transactionalId);
    if (metadata === undefined) {
      if (this.transactionalIdCount() >= transactionalIdsPerCoordinatorMax) {
        return respond(ErrorCode.COORDINATOR_NOT_AVAILABLE);
      }
      if (freshProducerId === null) return respond(ErrorCode.CONCURRENT_TRANSACTIONS);
      metadata = {
        transactionalId: request.transactionalId,
        producerId: freshProducerId,
        producerEpoch: -1,
        lastProducerEpoch: -1,
        timeoutMs: request.transactionTimeoutMs,
        state: TransactionState.empty,
        partitions: new Map(),
        startTimestampMs: -1,
        lastUpdateTimestampMs: nowMs,
        pending: false,
        completionWaiters: [],
        nextProducerId: -1,
        previousProducerId: -1,
        bumpedByFence: false,
        clientTransactionVersion: 0,
      };
      owner.transactions.set(request.transactionalId, metadata);
    }
    if (metadata.pending) return respond(ErrorCode.CONCURRENT_TRANSACTIONS);
    // KIP-360: a producer may ask to bump its own epoch, naming its producer id and epoch; only the
    // current owner of the id may (Kafka's expectedProducerIdAndEpoch checks). An id without an
    // epoch yet (just created: it expired, the producer recovers from UNKNOWN_PRODUCER_ID) takes it.
    const expected = request.producerId >= 0 && metadata.producerEpoch >= 0;
    if (expected) {
      const current = request.producerId === metadata.producerId;
      // A retry after the id moved to a new producer id names the old one at the exhausted epoch.
      const moved =
        request.producerId === metadata.previousProducerId && request.producerEpoch >= producerEpochMax;
      // A retry whose answer was lost names the epoch before the bump it caused (an InitProducerId,
      // or a transactions-v2 end): answered the current epoch, not bumped again.
      const retried = (current || moved) && request.producerEpoch === metadata.lastProducerEpoch;
      if (!retried && (!current || request.producerEpoch !== metadata.producerEpoch)) {
        return respond(ErrorCode.PRODUCER_FENCED);
      }
      if (retried && metadata.state !== TransactionState.ongoing) {
        return respond(ErrorCode.NONE, metadata.producerId, metadata.producerEpoch);
      }
    }
    switch (metadata.state) {
      case TransactionState.prepareCommit:
      case TransactionState.prepareAbort:
        return respond(ErrorCode.CONCURRENT_TRANSACTIONS);
      case TransactionState.ongoing: {
        // A new producer instance with this id: fence the old one and abort what it left open.
        this.abortWithBumpedEpoch(owner, metadata, nowMs);
        return respond(ErrorCode.CONCURRENT_TRANSACTIONS);
      }
      default: {
        let producerId = metadata.producerId;
        let producerEpoch = metadata.producerEpoch + 1;
        if (metadata.producerEpoch >= producerEpochMax) {
          if (freshProducerId === null) return respond(ErrorCode.CONCURRENT_TRANSACTIONS);
          producerId = freshProducerId;
          producerEpoch = 0;
        }
        const rotating = producerId !== metadata.producerId;
        const next: TransactionLogValue = {
          ...storedValueOf(metadata),
          producerId,
          producerEpoch,
          transactionTimeoutMs: request.transactionTimeoutMs,
          state: TransactionState.empty,
          partitions: [],
          lastUpdateTimestampMs: nowMs,
          startTimestampMs: -1,
          // Kafka's prepareIncrementProducerEpoch / prepareProducerIdRotation: the epoch a retry may
          // name is the one the producer named; a new producer instance (none named) leaves none, so
          // the one it replaces cannot pass for a retry.
          lastProducerEpoch: expected ? metadata.producerEpoch : -1,
          previousProducerId:
            rotating && metadata.producerEpoch >= 0 ? metadata.producerId : metadata.previousProducerId,
          nextProducerId: -1,
        };
        this.persist(located.partitionIndex, owner, metadata, next, (errorCode) => {
          if (errorCode !== ErrorCode.NONE) {
            // A new id whose first record did not make it: forget it, the retry starts over.
            if (metadata.producerEpoch < 0) owner.transactions.delete(metadata.transactionalId);
            this.respond(requestId, { api: 'InitProducerId', errorCode, producerId: -1, producerEpoch: -1 });
            return;
          }
          this.respond(requestId, {
            api: 'InitProducerId',
            errorCode: ErrorCode.NONE,
            producerId: metadata.producerId,
            producerEpoch: metadata.producerEpoch,
          });
        });
        return this.drain();
      }
    }
  }

  addPartitionsToTxn(requestId: RequestId, request: AddPartitionsToTxnRequest, nowMs: number): TxnEffect[] {
    this.addPartitions(requestId, 'AddPartitionsToTxn', request, request.partitions, nowMs);
    return this.drain();
  }

  addOffsetsToTxn(requestId: RequestId, request: AddOffsetsToTxnRequest, nowMs: number): TxnEffect[] {
    const partition = coordinatorPartitionFor(request.groupId, this.config.offsetsPartitionCount);
    this.addPartitions(
      requestId,
      'AddOffsetsToTxn',
      request,
      [{ topic: offsetsTopicName, partitions: [partition] }],
      nowMs,
    );
    return this.drain();
  }

  endTxn(
    requestId: RequestId,
    request: EndTxnRequest,
    nowMs: number,
    freshProducerId: number | null = null,
  ): TxnEffect[] {
    if ((request.transactionVersion ?? 1) >= 2) {
      this.endTxnV2(requestId, request, nowMs, freshProducerId);
      return this.drain();
    }
    const respond = (errorCode: number): TxnEffect[] => {
      this.respond(requestId, { api: 'EndTxn', errorCode, producerId: -1, producerEpoch: -1 });
      return this.drain();
    };
    const checked = this.checkProducer(request);
    if (typeof checked === 'number') return respond(checked);
    const { owner, metadata, partitionIndex } = checked;
    const { commit } = request;
    switch (metadata.state) {
      case TransactionState.ongoing:
        break;
      case TransactionState.completeCommit:
        return respond(commit ? ErrorCode.NONE : ErrorCode.INVALID_TXN_STATE);
      case TransactionState.completeAbort:
        return respond(commit ? ErrorCode.INVALID_TXN_STATE : ErrorCode.NONE);
      case TransactionState.prepareCommit:
        return respond(commit ? ErrorCode.CONCURRENT_TRANSACTIONS : ErrorCode.INVALID_TXN_STATE);
      case TransactionState.prepareAbort:
        return respond(commit ? ErrorCode.INVALID_TXN_STATE : ErrorCode.CONCURRENT_TRANSACTIONS);
      default:
        return respond(ErrorCode.INVALID_TXN_STATE);
    }
    metadata.completionWaiters.push(() =>
      this.respond(requestId, {
        api: 'EndTxn',
        errorCode: ErrorCode.NONE,
        producerId: -1,
        producerEpoch: -1,
      }),
    );
    // A classic end keeps the epoch; Kafka records its client as transaction version 0.
    const unchanged: EpochBump = { ...epochBumpOf(metadata), clientTransactionVersion: 0 };
    this.prepareEnd(partitionIndex, owner, metadata, commit, unchanged, nowMs, (errorCode) => {
      if (errorCode === ErrorCode.NONE) return;
      metadata.completionWaiters = [];
      this.respond(requestId, { api: 'EndTxn', errorCode, producerId: -1, producerEpoch: -1 });
    });
    return this.drain();
  }

  /**
   * KIP-890 transactions v2 (Kafka's handleEndTransaction with a v2 client): every end bumps the
   * epoch; the markers carry the bumped epoch, which fences the one the transaction ran under, and
   * the answer gives the producer id and epoch of the next transaction. An epoch that reached
   * producerEpochMax moves the id to `freshProducerId` with epoch 0 once the transaction is
   * complete. A retry (the answer was lost) names the epoch before the bump, or the producer id
   * before the move, and is answered the same result. Aborting with no transaction open (Empty, or
   * after a transaction ended) bumps the epoch too, as Kafka does.
   */
  private endTxnV2(
    requestId: RequestId,
    request: EndTxnRequest,
    nowMs: number,
    freshProducerId: number | null,
  ): void {
    const respond = (errorCode: number, producerId = -1, producerEpoch = -1): void =>
      this.respond(requestId, { api: 'EndTxn', errorCode, producerId, producerEpoch });
    const located = this.locate(request.transactionalId);
    if (typeof located === 'number') {
      respond(located);
      return;
    }
    const { owner, partitionIndex } = located;
    const metadata = owner.transactions.get(request.transactionalId);
    if (metadata === undefined || metadata.producerEpoch < 0) {
      respond(ErrorCode.INVALID_PRODUCER_ID_MAPPING);
      return;
    }
    // First, so a transition in flight (the move to a new producer id too) completes before the checks.
    if (metadata.pending) {
      respond(ErrorCode.CONCURRENT_TRANSACTIONS);
      return;
    }
    const retryOnOverflow =
      metadata.previousProducerId === request.producerId &&
      request.producerEpoch >= producerEpochMax &&
      metadata.producerEpoch === 0;
    const retryOnEpochBump =
      !metadata.bumpedByFence &&
      metadata.producerId === request.producerId &&
      metadata.producerEpoch === request.producerEpoch + 1;
    const isRetry = retryOnOverflow || retryOnEpochBump;
    if (metadata.producerId !== request.producerId && !retryOnOverflow) {
      respond(ErrorCode.INVALID_PRODUCER_ID_MAPPING);
      return;
    }
    const ended =
      metadata.state === TransactionState.completeCommit || metadata.state === TransactionState.completeAbort;
    // Same epoch: the transaction (or the next one's end). One behind: a retry, only once it ended.
    const validEpoch = request.producerEpoch === metadata.producerEpoch || (ended && isRetry);
    if (!validEpoch) {
      respond(ErrorCode.PRODUCER_FENCED);
      return;
    }
    const { commit } = request;
    const end = (): void => {
      const exhausted = metadata.producerEpoch >= producerEpochMax;
      if (exhausted && freshProducerId === null) {
        respond(ErrorCode.CONCURRENT_TRANSACTIONS); // the driver fetches one and the client retries
        return;
      }
      metadata.completionWaiters.push(() =>
        respond(ErrorCode.NONE, metadata.producerId, metadata.producerEpoch),
      );
      // Kafka's prepareAbortOrCommit for a v2 client: the epoch is bumped, and the one it ran under
      // is what a retry (EndTxn, or an InitProducerId naming it) may name.
      const bump: EpochBump = {
        producerEpoch: Math.min(metadata.producerEpoch + 1, producerEpochMax + 1),
        lastProducerEpoch: metadata.producerEpoch,
        nextProducerId: exhausted ? (freshProducerId ?? -1) : -1,
        bumpedByFence: false,
        clientTransactionVersion: 2,
      };
      this.prepareEnd(partitionIndex, owner, metadata, commit, bump, nowMs, (errorCode) => {
        if (errorCode === ErrorCode.NONE) return;
        metadata.completionWaiters = [];
        respond(errorCode);
      });
    };
    switch (metadata.state) {
      case TransactionState.ongoing:
        end();
        return;
      case TransactionState.completeCommit:
        if (commit && isRetry) respond(ErrorCode.NONE, metadata.producerId, metadata.producerEpoch);
        else if (commit || isRetry) respond(ErrorCode.INVALID_TXN_STATE);
        else end();
        return;
      case TransactionState.completeAbort:
        if (!commit && isRetry) respond(ErrorCode.NONE, metadata.producerId, metadata.producerEpoch);
        // A commit one epoch behind an abort never retries a commit: the coordinator aborted the
        // transaction under it (a timeout). Fenced, as v1 says.
        else if (commit) respond(isRetry ? ErrorCode.PRODUCER_FENCED : ErrorCode.INVALID_TXN_STATE);
        else end();
        return;
      case TransactionState.empty:
        if (commit) respond(ErrorCode.INVALID_TXN_STATE);
        else end();
        return;
      default:
        respond(ErrorCode.INVALID_TXN_STATE);
    }
  }

  // ---------------------------------------------------------------- completions and time

  /** The append of `token` finished with `errorCode` (in append order per partition). */
  onAppendComplete(token: AppendToken, errorCode: number, nowMs: number): TxnEffect[] {
    const expiration = this.expirations.get(token);
    if (expiration !== undefined) {
      this.expirations.delete(token);
      this.completeExpiration(expiration, errorCode);
      return this.drain();
    }
    const pending = this.appends.get(token);
    if (pending === undefined) return this.drain(); // its partition was unloaded since
    this.appends.delete(token);
    pending.metadata.pending = false;
    if (errorCode === ErrorCode.NONE) {
      applyValue(pending.metadata, pending.next);
      this.timeouts.delete(pending.metadata.transactionalId);
      if (pending.metadata.state === TransactionState.ongoing) this.scheduleTimeout(pending.metadata);
    }
    pending.then(appendErrorToCoordinatorError(errorCode), nowMs);
    return this.drain();
  }

  /** Every marker of `token` was written (or its partition is gone): the transaction completes. */
  onMarkersWritten(token: MarkerToken, nowMs: number): TxnEffect[] {
    const pending = this.markers.get(token);
    if (pending === undefined) return this.drain();
    this.markers.delete(token);
    const { owner, metadata, commit } = pending;
    metadata.pending = false;
    const partitionIndex = this.partitionFor(metadata.transactionalId);
    // Transactions v2 at an exhausted epoch: the completed transaction moves the id to its new
    // producer id (Kafka's prepareComplete with nextProducerId).
    // The epoch a retry may name stays the one before the bump (Kafka keeps lastProducerEpoch).
    const moving = metadata.nextProducerId >= 0;
    const next: TransactionLogValue = {
      ...storedValueOf(metadata),
      ...(moving
        ? {
            producerId: metadata.nextProducerId,
            producerEpoch: 0,
            previousProducerId: metadata.producerId,
            nextProducerId: -1,
          }
        : {}),
      state: commit ? TransactionState.completeCommit : TransactionState.completeAbort,
      partitions: [],
      lastUpdateTimestampMs: nowMs,
    };
    this.persist(partitionIndex, owner, metadata, next, (errorCode) => {
      if (errorCode === ErrorCode.NONE) {
        releaseWaiters(metadata);
        return;
      }
      // The outcome is in the Prepare record already; a coordinator that loads it writes the markers
      // again and completes it. Here, try again while this broker still coordinates.
      if (this.owned.get(partitionIndex) === owner) this.writeMarkers(owner, metadata, commit, nowMs);
    });
    return this.drain();
  }

  /** The earliest transaction timeout, or null. */
  nextDeadlineMs(): number | null {
    return this.timeouts.peekDeadlineMs();
  }

  /** Aborts every transaction past its transaction.timeout.ms, fencing its producer. */
  tick(nowMs: number): TxnEffect[] {
    for (;;) {
      const due = this.timeouts.popDue(nowMs);
      if (due === null) break;
      const metadata = due.value;
      const partitionIndex = this.partitionFor(metadata.transactionalId);
      const owner = this.owned.get(partitionIndex);
      if (owner === undefined || owner.transactions.get(metadata.transactionalId) !== metadata) continue;
      if (metadata.state !== TransactionState.ongoing || metadata.pending) continue;
      this.abortWithBumpedEpoch(owner, metadata, nowMs);
    }
    return this.drain();
  }

  /**
   * Kafka's removeExpiredTransactionalIds: a tombstone for every id of a loaded partition that is
   * Empty, CompleteCommit or CompleteAbort, has nothing in flight, and was last updated at least
   * transactional.id.expiration.ms before `nowMs`. The ids stay (busy) until the append completes.
   */
  expireTransactionalIds(nowMs: number): TxnEffect[] {
    const cutoffMs = nowMs - this.config.transactionalIdExpirationMs;
    for (const [partitionIndex, owner] of this.owned) {
      if (owner.loading) continue;
      let expired: TransactionMetadata[] = [];
      for (const metadata of owner.transactions.values()) {
        if (
          !metadata.pending &&
          expirationAllowed(metadata.state) &&
          metadata.lastUpdateTimestampMs <= cutoffMs
        ) {
          expired.push(metadata);
          if (expired.length === expiredTransactionalIdsPerAppendMax) {
            this.writeTombstones(partitionIndex, owner, expired);
            expired = [];
          }
        }
      }
      if (expired.length > 0) this.writeTombstones(partitionIndex, owner, expired);
    }
    return this.drain();
  }

  // ---------------------------------------------------------------- transitions

  private writeTombstones(
    partitionIndex: number,
    owner: OwnedPartition,
    expired: readonly TransactionMetadata[],
  ): void {
    const token = this.nextToken++;
    for (const metadata of expired) metadata.pending = true;
    this.expirations.set(token, { owner, expired });
    this.effects.push({
      kind: 'append',
      partitionIndex,
      token,
      records: expired.map(
        ({ transactionalId }) => [encodeTransactionLogKey(transactionalId), null] as const,
      ),
    });
  }

  /** Stored: the ids are gone. Refused: they stay as they were, and the next run tries again. */
  private completeExpiration({ owner, expired }: PendingExpiration, errorCode: number): void {
    for (const metadata of expired) {
      metadata.pending = false;
      if (errorCode !== ErrorCode.NONE) continue;
      invariant(
        expirationAllowed(metadata.state),
        () => `${metadata.transactionalId}: expired in state ${metadata.state}`,
      );
      if (owner.transactions.get(metadata.transactionalId) === metadata) {
        owner.transactions.delete(metadata.transactionalId);
        this.timeouts.delete(metadata.transactionalId);
      }
    }
  }

  private addPartitions(
    requestId: RequestId,
    api: 'AddPartitionsToTxn' | 'AddOffsetsToTxn',
    request: { transactionalId: string; producerId: number; producerEpoch: number },
    partitions: readonly TopicPartitions[],
    nowMs: number,
  ): void {
    const respond = (errorCode: number): void => this.respond(requestId, { api, errorCode });
    const checked = this.checkProducer(request);
    if (typeof checked === 'number') {
      respond(checked);
      return;
    }
    const { owner, metadata, partitionIndex } = checked;
    if (
      metadata.state === TransactionState.prepareCommit ||
      metadata.state === TransactionState.prepareAbort
    ) {
      respond(ErrorCode.CONCURRENT_TRANSACTIONS);
      return;
    }
    const merged = partitionMap(storedValueOf(metadata).partitions);
    if (metadata.state !== TransactionState.ongoing) merged.clear();
    let added = false;
    let count = 0;
    for (const { topic, partitions: ids } of partitions) {
      let set = merged.get(topic);
      if (set === undefined) {
        set = new Set();
        merged.set(topic, set);
      }
      for (const id of ids) {
        if (!set.has(id)) {
          set.add(id);
          added = true;
        }
      }
    }
    for (const set of merged.values()) count += set.size;
    if (count > partitionsPerTransactionMax) {
      respond(ErrorCode.INVALID_REQUEST);
      return;
    }
    if (!added && metadata.state === TransactionState.ongoing) {
      respond(ErrorCode.NONE);
      return;
    }
    const starting = metadata.state !== TransactionState.ongoing;
    const next: TransactionLogValue = {
      ...storedValueOf(metadata),
      state: TransactionState.ongoing,
      partitions: partitionList(merged),
      lastUpdateTimestampMs: nowMs,
      startTimestampMs: starting ? nowMs : metadata.startTimestampMs,
    };
    this.persist(partitionIndex, owner, metadata, next, respond);
  }

  /**
   * KIP-890's verification (Kafka's handleVerifyPartitionsInTransaction, AddPartitionsToTxn with
   * verifyOnly): whether each partition is part of the ongoing transaction of this producer id and
   * epoch. A read: nothing is stored or changed. Answers per partition NONE or INVALID_TXN_STATE, or
   * for all of them the producer's error (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS,
   * INVALID_PRODUCER_ID_MAPPING, PRODUCER_FENCED, CONCURRENT_TRANSACTIONS while the transaction is
   * in `Prepare*`).
   * A transition being stored is not a refusal, as in Kafka ("pending state is not checked since
   * there is a final validation on the append to the log", the leader's verification guard): the
   * answer is about the stored state. Refusing it made the leader answer a retriable
   * NOT_ENOUGH_REPLICAS to a batch of a partition that was in the transaction whenever another
   * AddPartitionsToTxn of the producer was being stored, which kafkajs sends one per leader at once;
   * kafkajs 2.2.4 then sends the whole `send` again, including the partitions that a request still
   * in flight writes, under the next sequence number: those records were written twice.
   */
  verifyPartitions(request: VerifyPartitionsRequest): VerifiedPartition[] {
    const all = (errorCode: number): VerifiedPartition[] =>
      request.partitions.flatMap(({ topic, partitions }) =>
        partitions.map((partition) => ({ topic, partition, errorCode })),
      );
    const checked = this.checkProducer(request, { pendingRefused: false });
    if (typeof checked === 'number') return all(checked);
    const { metadata } = checked;
    if (
      metadata.state === TransactionState.prepareCommit ||
      metadata.state === TransactionState.prepareAbort
    ) {
      return all(ErrorCode.CONCURRENT_TRANSACTIONS);
    }
    const ongoing = metadata.state === TransactionState.ongoing;
    return request.partitions.flatMap(({ topic, partitions }) =>
      partitions.map((partition) => ({
        topic,
        partition,
        errorCode:
          ongoing && metadata.partitions.get(topic)?.has(partition) === true
            ? ErrorCode.NONE
            : ErrorCode.INVALID_TXN_STATE,
      })),
    );
  }

  /** Fences the current producer (epoch + 1) and aborts its transaction under the new epoch. */
  private abortWithBumpedEpoch(owner: OwnedPartition, metadata: TransactionMetadata, nowMs: number): void {
    const partitionIndex = this.partitionFor(metadata.transactionalId);
    // At the last epoch the abort keeps it; the next InitProducerId moves to a new producer id.
    // The fenced producer's epoch is no retry: none may be named (Kafka's fence sets -1).
    const fence: EpochBump = {
      ...epochBumpOf(metadata),
      producerEpoch: Math.min(metadata.producerEpoch + 1, producerEpochMax),
      lastProducerEpoch: -1,
      nextProducerId: -1,
      bumpedByFence: true,
    };
    this.prepareEnd(partitionIndex, owner, metadata, false, fence, nowMs, () => {});
  }

  /** Stores the Prepare state with `bump`'s epoch fields; once stored, the markers go out. */
  private prepareEnd(
    partitionIndex: number,
    owner: OwnedPartition,
    metadata: TransactionMetadata,
    commit: boolean,
    bump: EpochBump,
    nowMs: number,
    answered: (errorCode: number) => void,
  ): void {
    const next: TransactionLogValue = {
      ...storedValueOf(metadata),
      ...bump,
      state: commit ? TransactionState.prepareCommit : TransactionState.prepareAbort,
      lastUpdateTimestampMs: nowMs,
    };
    this.persist(partitionIndex, owner, metadata, next, (errorCode, completedMs) => {
      answered(errorCode);
      if (errorCode !== ErrorCode.NONE) return;
      this.writeMarkers(owner, metadata, commit, completedMs);
    });
  }

  private writeMarkers(
    owner: OwnedPartition,
    metadata: TransactionMetadata,
    commit: boolean,
    _nowMs: number,
  ): void {
    const token = this.nextToken++;
    metadata.pending = true;
    this.markers.set(token, { owner, metadata, commit });
    this.effects.push({
      kind: 'writeMarkers',
      token,
      transactionalId: metadata.transactionalId,
      producerId: metadata.producerId,
      producerEpoch: metadata.producerEpoch,
      commit,
      coordinatorEpoch: owner.coordinatorEpoch,
      partitions: partitionList(metadata.partitions),
    });
  }

  private persist(
    partitionIndex: number,
    owner: OwnedPartition,
    metadata: TransactionMetadata,
    next: TransactionLogValue,
    then: (errorCode: number, nowMs: number) => void,
  ): void {
    invariant(!metadata.pending, () => `${metadata.transactionalId}: a transition is already pending`);
    const token = this.nextToken++;
    metadata.pending = true;
    this.appends.set(token, { partitionIndex, owner, metadata, next, then });
    this.effects.push({
      kind: 'append',
      partitionIndex,
      token,
      records: [[encodeTransactionLogKey(metadata.transactionalId), encodeTransactionLogValue(next)]],
    });
  }

  private scheduleTimeout(metadata: TransactionMetadata): void {
    this.timeouts.set(metadata.transactionalId, metadata.startTimestampMs + metadata.timeoutMs, metadata);
  }

  private locate(transactionalId: string): { owner: OwnedPartition; partitionIndex: number } | number {
    if (transactionalId === '') return ErrorCode.INVALID_REQUEST;
    const partitionIndex = this.partitionFor(transactionalId);
    const owner = this.owned.get(partitionIndex);
    if (owner === undefined) return ErrorCode.NOT_COORDINATOR;
    if (owner.loading) return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
    return { owner, partitionIndex };
  }

  /**
   * The checks every request of a producer passes: coordinator, id mapping, epoch, and (unless
   * `pendingRefused` is false: a verification, which only reads) nothing pending.
   */
  private checkProducer(
    request: {
      transactionalId: string;
      producerId: number;
      producerEpoch: number;
    },
    { pendingRefused } = { pendingRefused: true },
  ): { owner: OwnedPartition; metadata: TransactionMetadata; partitionIndex: number } | number {
    const located = this.locate(request.transactionalId);
    if (typeof located === 'number') return located;
    const metadata = located.owner.transactions.get(request.transactionalId);
    if (metadata === undefined || metadata.producerId !== request.producerId) {
      return ErrorCode.INVALID_PRODUCER_ID_MAPPING;
    }
    if (metadata.producerEpoch !== request.producerEpoch) return ErrorCode.PRODUCER_FENCED;
    if (pendingRefused && metadata.pending) return ErrorCode.CONCURRENT_TRANSACTIONS;
    return { ...located, metadata };
  }

  private respond(requestId: RequestId, response: TxnResponse): void {
    this.effects.push({ kind: 'respond', requestId, response });
  }
}

/**
 * How a failed `__transaction_state` append is answered (Kafka's TransactionStateManager): the
 * partition moved → NOT_COORDINATOR; it cannot take writes now → COORDINATOR_NOT_AVAILABLE, both
 * retriable (the client looks the coordinator up again).
 */
export function appendErrorToCoordinatorError(errorCode: number): number {
  switch (errorCode) {
    case ErrorCode.NONE:
    case ErrorCode.NOT_COORDINATOR:
      return errorCode;
    case ErrorCode.NOT_LEADER_OR_FOLLOWER:
    case ErrorCode.KAFKA_STORAGE_ERROR:
      return ErrorCode.NOT_COORDINATOR;
    case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
    case ErrorCode.NOT_ENOUGH_REPLICAS:
    case ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case ErrorCode.REQUEST_TIMED_OUT:
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    default:
      return ErrorCode.UNKNOWN_SERVER_ERROR;
  }
}

/** Kafka's TransactionState.isExpirationAllowed: only an id without a transaction in progress. */
function expirationAllowed(state: TransactionStateId): boolean {
  return (
    state === TransactionState.empty ||
    state === TransactionState.completeCommit ||
    state === TransactionState.completeAbort
  );
}

function releaseWaiters(metadata: TransactionMetadata): void {
  const waiters = metadata.completionWaiters;
  metadata.completionWaiters = [];
  for (const waiter of waiters) waiter();
}

/** The epoch fields a transaction's end stores in its Prepare record. */
type EpochBump = Pick<
  TransactionLogValue,
  'producerEpoch' | 'lastProducerEpoch' | 'nextProducerId' | 'bumpedByFence' | 'clientTransactionVersion'
>;

function epochBumpOf(metadata: TransactionMetadata): EpochBump {
  return {
    producerEpoch: metadata.producerEpoch,
    lastProducerEpoch: metadata.lastProducerEpoch,
    nextProducerId: metadata.nextProducerId,
    bumpedByFence: metadata.bumpedByFence,
    clientTransactionVersion: metadata.clientTransactionVersion,
  };
}

/** Everything of the id that is stored: each transition writes it whole, and a load reads it back. */
function storedValueOf(metadata: TransactionMetadata): TransactionLogValue {
  return {
    producerId: metadata.producerId,
    producerEpoch: metadata.producerEpoch,
    transactionTimeoutMs: metadata.timeoutMs,
    state: metadata.state,
    partitions: partitionList(metadata.partitions),
    lastUpdateTimestampMs: metadata.lastUpdateTimestampMs,
    startTimestampMs: metadata.startTimestampMs,
    previousProducerId: metadata.previousProducerId,
    nextProducerId: metadata.nextProducerId,
    clientTransactionVersion: metadata.clientTransactionVersion,
    lastProducerEpoch: metadata.lastProducerEpoch,
    bumpedByFence: metadata.bumpedByFence,
  };
}

function applyValue(metadata: TransactionMetadata, value: TransactionLogValue): void {
  metadata.producerId = value.producerId;
  metadata.producerEpoch = value.producerEpoch;
  metadata.timeoutMs = value.transactionTimeoutMs;
  metadata.state = value.state;
  metadata.partitions = partitionMap(value.partitions);
  metadata.lastUpdateTimestampMs = value.lastUpdateTimestampMs;
  metadata.startTimestampMs = value.startTimestampMs;
  metadata.previousProducerId = value.previousProducerId;
  metadata.nextProducerId = value.nextProducerId;
  metadata.clientTransactionVersion = value.clientTransactionVersion;
  metadata.lastProducerEpoch = value.lastProducerEpoch;
  metadata.bumpedByFence = value.bumpedByFence;
}

function partitionMap(partitions: readonly TopicPartitions[]): Map<string, Set<number>> {
  const map = new Map<string, Set<number>>();
  for (const { topic, partitions: ids } of partitions) {
    const set = map.get(topic) ?? new Set<number>();
    for (const id of ids) set.add(id);
    map.set(topic, set);
  }
  return map;
}

function partitionList(map: ReadonlyMap<string, ReadonlySet<number>>): TopicPartitions[] {
  return [...map]
    .filter(([, ids]) => ids.size > 0)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([topic, ids]) => ({ topic, partitions: [...ids].sort((a, b) => a - b) }));
}

function describeMetadata(metadata: TransactionMetadata): TransactionDescription {
  return {
    transactionalId: metadata.transactionalId,
    producerId: metadata.producerId,
    producerEpoch: metadata.producerEpoch,
    state: metadata.state,
    timeoutMs: metadata.timeoutMs,
    startTimestampMs: metadata.startTimestampMs,
    partitions: partitionList(metadata.partitions),
  };
}

import { ErrorCode } from '@gregor/protocol';
import { beforeEach, describe, expect, it } from 'vitest';
import type { TxnEffect, TxnResponse, WriteMarkersEffect } from './messages.js';
import { producerEpochMax, TransactionCoordinator } from './transaction-coordinator.js';
import {
  decodeTransactionLogKey,
  decodeTransactionLogValue,
  encodeTransactionLogKey,
  encodeTransactionLogValue,
  type TransactionLogRecord,
  TransactionState,
  transactionLogValueDefaults,
} from './transaction-records.js';

const partitionCount = 1;
const maxTimeoutMs = 60_000;
const expirationMs = 5_000;

/** Drives a coordinator that owns partition 0; appends succeed unless told otherwise. */
class Harness {
  coordinator = new TransactionCoordinator({
    transactionStatePartitionCount: partitionCount,
    offsetsPartitionCount: 50,
    transactionMaxTimeoutMs: maxTimeoutMs,
    transactionalIdExpirationMs: expirationMs,
  });
  readonly responses = new Map<number, TxnResponse>();
  readonly markers: WriteMarkersEffect[] = [];
  /** Every record appended, in order: the partition's log. */
  readonly log: TransactionLogRecord[] = [];
  private heldAppends: { token: number }[] = [];
  holdAppends = false;
  nextRequestId = 1;
  nowMs = 1_000;
  nextProducerId = 100;

  constructor(coordinatorEpoch = 5) {
    this.apply(this.coordinator.beginLoad(0, coordinatorEpoch));
    this.coordinator.completeLoad(0, this.nowMs);
    this.apply(this.coordinator.drain());
  }

  apply(effects: TxnEffect[]): void {
    for (const effect of effects) {
      if (effect.kind === 'respond') {
        expect(this.responses.has(effect.requestId)).toBe(false);
        this.responses.set(effect.requestId, effect.response);
      } else if (effect.kind === 'append') {
        this.log.push(...effect.records);
        if (this.holdAppends) this.heldAppends.push({ token: effect.token });
        else this.apply(this.coordinator.onAppendComplete(effect.token, ErrorCode.NONE, this.nowMs));
      } else {
        this.markers.push(effect);
      }
    }
  }

  releaseAppends(errorCode: number = ErrorCode.NONE): void {
    const held = this.heldAppends;
    this.heldAppends = [];
    this.holdAppends = false;
    for (const { token } of held) this.apply(this.coordinator.onAppendComplete(token, errorCode, this.nowMs));
  }

  completeMarkers(): WriteMarkersEffect[] {
    const written = this.markers.splice(0);
    for (const marker of written) this.apply(this.coordinator.onMarkersWritten(marker.token, this.nowMs));
    return written;
  }

  initProducerId(
    transactionalId: string,
    transactionTimeoutMs = 10_000,
    producerId = -1,
    producerEpoch = -1,
  ) {
    const requestId = this.nextRequestId++;
    const fresh = this.coordinator.needsProducerId(transactionalId) ? this.nextProducerId++ : null;
    this.apply(
      this.coordinator.initProducerId(
        requestId,
        { transactionalId, transactionTimeoutMs, producerId, producerEpoch },
        fresh,
        this.nowMs,
      ),
    );
    return this.responses.get(requestId) as Extract<TxnResponse, { api: 'InitProducerId' }> | undefined;
  }

  addPartitions(
    transactionalId: string,
    producerId: number,
    producerEpoch: number,
    topic = 't',
    partitions = [0],
  ) {
    const requestId = this.nextRequestId++;
    this.apply(
      this.coordinator.addPartitionsToTxn(
        requestId,
        { transactionalId, producerId, producerEpoch, partitions: [{ topic, partitions }] },
        this.nowMs,
      ),
    );
    return this.responses.get(requestId)?.errorCode;
  }

  endTxn(transactionalId: string, producerId: number, producerEpoch: number, commit: boolean) {
    const requestId = this.nextRequestId++;
    this.apply(
      this.coordinator.endTxn(requestId, { transactionalId, producerId, producerEpoch, commit }, this.nowMs),
    );
    return this.responses.get(requestId)?.errorCode;
  }

  /** A transactions-v2 EndTxn (v5+): read its answer with `responses.get(requestId)` once complete. */
  endTxnV2(transactionalId: string, producerId: number, producerEpoch: number, commit: boolean): number {
    const requestId = this.nextRequestId++;
    const fresh = this.coordinator.endTxnNeedsProducerId(transactionalId) ? this.nextProducerId++ : null;
    this.apply(
      this.coordinator.endTxn(
        requestId,
        { transactionalId, producerId, producerEpoch, commit, transactionVersion: 2 },
        this.nowMs,
        fresh,
      ),
    );
    return requestId;
  }

  state(transactionalId: string) {
    return this.coordinator.describe(transactionalId)?.state;
  }

  expire(): void {
    this.apply(this.coordinator.expireTransactionalIds(this.nowMs));
  }

  /** A new coordinator (epoch 6) that loads this one's log. */
  reload(): Harness {
    const successor = new Harness(6);
    successor.nowMs = this.nowMs;
    // Producer ids come from one cluster-wide block: the successor's are new ones too.
    successor.nextProducerId = this.nextProducerId;
    successor.apply(successor.coordinator.beginLoad(0, 6));
    successor.coordinator.loadRecords(0, this.log);
    successor.coordinator.completeLoad(0, successor.nowMs);
    successor.apply(successor.coordinator.drain());
    return successor;
  }
}

/** The transactional ids of the tombstones in `records`. */
function tombstones(records: readonly TransactionLogRecord[]): string[] {
  return records.filter(([, value]) => value === null).map(([key]) => decodeTransactionLogKey(key));
}

/** Loads 'old' at producer id 7 with its epoch exhausted, as a log Kafka could have written. */
function loadExhaustedProducer(harness: Harness): void {
  harness.apply(harness.coordinator.beginLoad(0, 6));
  harness.coordinator.loadRecords(0, [
    [
      encodeTransactionLogKey('old'),
      encodeTransactionLogValue({
        producerId: 7,
        producerEpoch: producerEpochMax,
        transactionTimeoutMs: 10_000,
        state: TransactionState.completeCommit,
        partitions: [],
        lastUpdateTimestampMs: 0,
        startTimestampMs: -1,
        ...transactionLogValueDefaults,
      }),
    ],
  ]);
  harness.coordinator.completeLoad(0, harness.nowMs);
}

describe('TransactionCoordinator', () => {
  let harness: Harness;
  beforeEach(() => {
    harness = new Harness();
  });

  it('gives a new transactional id a producer id at epoch 0, and bumps the epoch on every InitProducerId', () => {
    expect(harness.initProducerId('app')).toEqual({
      api: 'InitProducerId',
      errorCode: ErrorCode.NONE,
      producerId: 100,
      producerEpoch: 0,
    });
    expect(harness.initProducerId('app')).toMatchObject({ producerId: 100, producerEpoch: 1 });
    expect(harness.state('app')).toBe(TransactionState.empty);
  });

  it('refuses a transaction timeout above transaction.max.timeout.ms', () => {
    expect(harness.initProducerId('app', maxTimeoutMs + 1)?.errorCode).toBe(
      ErrorCode.INVALID_TRANSACTION_TIMEOUT,
    );
    expect(harness.initProducerId('app', maxTimeoutMs)?.errorCode).toBe(ErrorCode.NONE);
  });

  it('commits: Ongoing, PrepareCommit answered, markers to every partition, then CompleteCommit', () => {
    const { producerId, producerEpoch } = harness.initProducerId('app')!;
    expect(harness.addPartitions('app', producerId, producerEpoch, 'a', [0, 1])).toBe(ErrorCode.NONE);
    expect(harness.addPartitions('app', producerId, producerEpoch, 'b', [3])).toBe(ErrorCode.NONE);
    expect(harness.state('app')).toBe(TransactionState.ongoing);
    // EndTxn is answered once the transaction is complete, not when PrepareCommit is stored.
    const endRequestId = harness.nextRequestId;
    expect(harness.endTxn('app', producerId, producerEpoch, true)).toBeUndefined();
    expect(harness.state('app')).toBe(TransactionState.prepareCommit);
    // Until the markers are written the id is busy.
    expect(harness.addPartitions('app', producerId, producerEpoch)).toBe(ErrorCode.CONCURRENT_TRANSACTIONS);
    const [marker] = harness.completeMarkers();
    expect(harness.responses.get(endRequestId)).toEqual({
      api: 'EndTxn',
      errorCode: ErrorCode.NONE,
      producerId: -1,
      producerEpoch: -1,
    });
    expect(marker).toMatchObject({
      commit: true,
      producerId,
      producerEpoch,
      coordinatorEpoch: 5,
      partitions: [
        { topic: 'a', partitions: [0, 1] },
        { topic: 'b', partitions: [3] },
      ],
    });
    expect(harness.state('app')).toBe(TransactionState.completeCommit);
    // A retried EndTxn of the same outcome is fine; the other outcome is not.
    expect(harness.endTxn('app', producerId, producerEpoch, true)).toBe(ErrorCode.NONE);
    expect(harness.endTxn('app', producerId, producerEpoch, false)).toBe(ErrorCode.INVALID_TXN_STATE);
    // The log holds every transition, the last one without partitions.
    const states = harness.log.map(([, value]) => decodeTransactionLogValue(value!).state);
    expect(states).toEqual([
      TransactionState.empty,
      TransactionState.ongoing,
      TransactionState.ongoing,
      TransactionState.prepareCommit,
      TransactionState.completeCommit,
    ]);
    expect(decodeTransactionLogValue(harness.log.at(-1)![1]!).partitions).toEqual([]);
  });

  it('aborts and starts the next transaction with only its own partitions', () => {
    const { producerId, producerEpoch } = harness.initProducerId('app')!;
    harness.addPartitions('app', producerId, producerEpoch, 'a', [0]);
    expect(harness.endTxn('app', producerId, producerEpoch, false)).toBeUndefined();
    expect(harness.completeMarkers()[0]!.commit).toBe(false);
    expect(harness.responses.get(harness.nextRequestId - 1)?.errorCode).toBe(ErrorCode.NONE);
    expect(harness.state('app')).toBe(TransactionState.completeAbort);
    harness.addPartitions('app', producerId, producerEpoch, 'b', [1]);
    expect(harness.coordinator.describe('app')?.partitions).toEqual([{ topic: 'b', partitions: [1] }]);
  });

  it('EndTxn without a transaction is INVALID_TXN_STATE', () => {
    const { producerId, producerEpoch } = harness.initProducerId('app')!;
    expect(harness.endTxn('app', producerId, producerEpoch, true)).toBe(ErrorCode.INVALID_TXN_STATE);
  });

  it('fences a zombie: a new InitProducerId aborts its open transaction under a bumped epoch', () => {
    const zombie = harness.initProducerId('app')!;
    harness.addPartitions('app', zombie.producerId, zombie.producerEpoch, 'a', [0]);
    expect(harness.initProducerId('app')?.errorCode).toBe(ErrorCode.CONCURRENT_TRANSACTIONS);
    const [abort] = harness.completeMarkers();
    expect(abort).toMatchObject({ commit: false, producerEpoch: zombie.producerEpoch + 1 });
    const successor = harness.initProducerId('app')!;
    expect(successor).toMatchObject({ errorCode: ErrorCode.NONE, producerEpoch: zombie.producerEpoch + 2 });
    expect(harness.addPartitions('app', zombie.producerId, zombie.producerEpoch)).toBe(
      ErrorCode.PRODUCER_FENCED,
    );
    expect(harness.endTxn('app', zombie.producerId, zombie.producerEpoch, true)).toBe(
      ErrorCode.PRODUCER_FENCED,
    );
  });

  it('verifies (KIP-890) only the partitions of the ongoing transaction of that producer and epoch', () => {
    const { producerId, producerEpoch } = harness.initProducerId('app')!;
    const verify = (topic: string, partition: number, epoch = producerEpoch, pid = producerId) =>
      harness.coordinator.verifyPartitions({
        transactionalId: 'app',
        producerId: pid,
        producerEpoch: epoch,
        partitions: [{ topic, partitions: [partition] }],
      })[0]!.errorCode;
    // No transaction yet: nothing is part of one.
    expect(verify('a', 0)).toBe(ErrorCode.INVALID_TXN_STATE);
    harness.addPartitions('app', producerId, producerEpoch, 'a', [0]);
    expect(verify('a', 0)).toBe(ErrorCode.NONE);
    expect(verify('a', 1)).toBe(ErrorCode.INVALID_TXN_STATE);
    expect(verify('b', 0)).toBe(ErrorCode.INVALID_TXN_STATE);
    expect(verify('a', 0, producerEpoch - 1)).toBe(ErrorCode.PRODUCER_FENCED);
    expect(verify('a', 0, producerEpoch, producerId + 1)).toBe(ErrorCode.INVALID_PRODUCER_ID_MAPPING);
    // Verification stores nothing.
    const logLength = harness.log.length;
    harness.coordinator.verifyPartitions({
      transactionalId: 'app',
      producerId,
      producerEpoch,
      partitions: [{ topic: 'c', partitions: [0, 1] }],
    });
    expect(harness.log.length).toBe(logLength);
    expect(harness.coordinator.describe('app')?.partitions).toEqual([{ topic: 'a', partitions: [0] }]);
    // While the transaction ends its partitions are busy, and once it has ended they are no longer in one.
    expect(harness.endTxn('app', producerId, producerEpoch, true)).toBeUndefined();
    expect(verify('a', 0)).toBe(ErrorCode.CONCURRENT_TRANSACTIONS);
    harness.completeMarkers();
    expect(verify('a', 0)).toBe(ErrorCode.INVALID_TXN_STATE);
  });

  it('ends a transactions-v2 transaction with a bumped epoch: markers, stored state and answer carry it', () => {
    const { producerId, producerEpoch } = harness.initProducerId('app')!;
    expect(harness.addPartitions('app', producerId, producerEpoch, 'a', [0, 1])).toBe(ErrorCode.NONE);
    const commit = harness.endTxnV2('app', producerId, producerEpoch, true);
    expect(harness.responses.get(commit)).toBeUndefined(); // answered once complete
    const [markers] = harness.completeMarkers();
    expect(markers).toMatchObject({ producerId, producerEpoch: producerEpoch + 1, commit: true });
    expect(harness.responses.get(commit)).toEqual({
      api: 'EndTxn',
      errorCode: ErrorCode.NONE,
      producerId,
      producerEpoch: producerEpoch + 1,
    });
    const stored = decodeTransactionLogValue(harness.log.at(-1)![1]!);
    expect(stored).toMatchObject({
      producerEpoch: producerEpoch + 1,
      state: TransactionState.completeCommit,
    });
    // The epoch the transaction ran under is fenced; the bumped one starts the next transaction.
    expect(harness.addPartitions('app', producerId, producerEpoch, 'a', [0])).toBe(ErrorCode.PRODUCER_FENCED);
    expect(harness.addPartitions('app', producerId, producerEpoch + 1, 'b', [0])).toBe(ErrorCode.NONE);
    const abort = harness.endTxnV2('app', producerId, producerEpoch + 1, false);
    expect(harness.completeMarkers()[0]).toMatchObject({ producerEpoch: producerEpoch + 2, commit: false });
    expect(harness.responses.get(abort)).toMatchObject({
      errorCode: ErrorCode.NONE,
      producerEpoch: producerEpoch + 2,
    });
    expect(harness.state('app')).toBe(TransactionState.completeAbort);
  });

  it('answers a retried transactions-v2 EndTxn (the pre-bump epoch) with the same result', () => {
    const { producerId, producerEpoch } = harness.initProducerId('app')!;
    harness.addPartitions('app', producerId, producerEpoch, 'a', [0]);
    harness.endTxnV2('app', producerId, producerEpoch, true);
    harness.completeMarkers();
    const retry = harness.endTxnV2('app', producerId, producerEpoch, true);
    expect(harness.responses.get(retry)).toEqual({
      api: 'EndTxn',
      errorCode: ErrorCode.NONE,
      producerId,
      producerEpoch: producerEpoch + 1,
    });
    expect(harness.markers).toEqual([]); // nothing is written again
    // The other outcome is not a retry; two epochs back is a zombie.
    expect(harness.responses.get(harness.endTxnV2('app', producerId, producerEpoch, false))).toMatchObject({
      errorCode: ErrorCode.INVALID_TXN_STATE,
    });
    // A retry while the markers are in flight waits for them.
    harness.addPartitions('app', producerId, producerEpoch + 1, 'a', [0]);
    harness.endTxnV2('app', producerId, producerEpoch + 1, false);
    expect(
      harness.responses.get(harness.endTxnV2('app', producerId, producerEpoch + 1, false)),
    ).toMatchObject({
      errorCode: ErrorCode.CONCURRENT_TRANSACTIONS,
    });
    harness.completeMarkers();
    expect(harness.responses.get(harness.endTxnV2('app', producerId, producerEpoch, false))).toMatchObject({
      errorCode: ErrorCode.PRODUCER_FENCED,
    });
    // A coordinator that loaded the state since says the same.
    const moved = new Harness(6);
    moved.coordinator.beginLoad(0, 7);
    moved.coordinator.loadRecords(0, harness.log);
    moved.coordinator.completeLoad(0, moved.nowMs);
    expect(moved.responses.get(moved.endTxnV2('app', producerId, producerEpoch, true))).toMatchObject({
      errorCode: ErrorCode.PRODUCER_FENCED,
    });
  });

  it('answers a transactions-v2 EndTxn of a producer the coordinator fenced (its timeout) PRODUCER_FENCED, not as a retry', () => {
    const { producerId, producerEpoch } = harness.initProducerId('app', 1_000)!;
    harness.addPartitions('app', producerId, producerEpoch, 'a', [0]);
    harness.nowMs += 2_000;
    harness.apply(harness.coordinator.tick(harness.nowMs));
    expect(harness.completeMarkers()[0]).toMatchObject({ producerEpoch: producerEpoch + 1, commit: false });
    expect(harness.responses.get(harness.endTxnV2('app', producerId, producerEpoch, true))).toMatchObject({
      errorCode: ErrorCode.PRODUCER_FENCED,
    });
    expect(harness.responses.get(harness.endTxnV2('app', producerId, producerEpoch, false))).toMatchObject({
      errorCode: ErrorCode.PRODUCER_FENCED,
    });
  });

  it('aborts with no transaction open under transactions v2 (epoch bumped), not under v1', () => {
    const { producerId, producerEpoch } = harness.initProducerId('app')!;
    expect(harness.endTxn('app', producerId, producerEpoch, false)).toBe(ErrorCode.INVALID_TXN_STATE);
    expect(harness.responses.get(harness.endTxnV2('app', producerId, producerEpoch, true))).toMatchObject({
      errorCode: ErrorCode.INVALID_TXN_STATE,
    });
    const abort = harness.endTxnV2('app', producerId, producerEpoch, false);
    expect(harness.completeMarkers()[0]).toMatchObject({ producerEpoch: producerEpoch + 1, partitions: [] });
    expect(harness.responses.get(abort)).toMatchObject({
      errorCode: ErrorCode.NONE,
      producerEpoch: producerEpoch + 1,
    });
  });

  it('keeps the epoch at a classic (v1) EndTxn, whatever transactions v2 did before', () => {
    const { producerId, producerEpoch } = harness.initProducerId('app')!;
    harness.addPartitions('app', producerId, producerEpoch, 'a', [0]);
    harness.endTxnV2('app', producerId, producerEpoch, true);
    harness.completeMarkers();
    const epoch = producerEpoch + 1;
    harness.addPartitions('app', producerId, epoch, 'a', [0]);
    const requestId = harness.nextRequestId;
    harness.endTxn('app', producerId, epoch, true);
    expect(harness.completeMarkers()[0]).toMatchObject({ producerEpoch: epoch });
    expect(harness.responses.get(requestId)).toEqual({
      api: 'EndTxn',
      errorCode: ErrorCode.NONE,
      producerId: -1,
      producerEpoch: -1,
    });
    expect(harness.coordinator.describe('app')?.producerEpoch).toBe(epoch);
  });

  it('moves an exhausted epoch to a new producer id at the end of a transactions-v2 transaction', () => {
    loadExhaustedProducer(harness);
    harness.addPartitions('old', 7, producerEpochMax, 'a', [0]);
    const commit = harness.endTxnV2('old', 7, producerEpochMax, true);
    expect(harness.completeMarkers()[0]).toMatchObject({
      producerId: 7,
      producerEpoch: producerEpochMax + 1,
    });
    const fresh = harness.nextProducerId - 1;
    expect(harness.responses.get(commit)).toMatchObject({
      errorCode: ErrorCode.NONE,
      producerId: fresh,
      producerEpoch: 0,
    });
    expect(decodeTransactionLogValue(harness.log.at(-1)![1]!)).toMatchObject({
      producerId: fresh,
      producerEpoch: 0,
    });
    // A retry names the old producer id and its last epoch, and gets the same answer.
    expect(harness.responses.get(harness.endTxnV2('old', 7, producerEpochMax, true))).toMatchObject({
      errorCode: ErrorCode.NONE,
      producerId: fresh,
      producerEpoch: 0,
    });
    expect(harness.addPartitions('old', 7, producerEpochMax, 'a', [0])).toBe(
      ErrorCode.INVALID_PRODUCER_ID_MAPPING,
    );
    expect(harness.addPartitions('old', fresh, 0, 'a', [0])).toBe(ErrorCode.NONE);
  });

  it('verifies from the stored state while another AddPartitionsToTxn of the producer is being stored (Kafka: pending is not checked)', () => {
    // kafkajs 2.2.4 adds the partitions of one send with one AddPartitionsToTxn per partition leader,
    // all at once, and produces to each leader as soon as its own is answered. A leader's question
    // then often meets another of those additions being stored. Answered CONCURRENT_TRANSACTIONS
    // (the leader's retriable NOT_ENOUGH_REPLICAS), kafkajs sent the whole send again and wrote the
    // records of a request still in flight twice (transactions-kafkajs.integration).
    const { producerId, producerEpoch } = harness.initProducerId('app')!;
    const verify = (partition: number) =>
      harness.coordinator.verifyPartitions({
        transactionalId: 'app',
        producerId,
        producerEpoch,
        partitions: [{ topic: 'a', partitions: [partition] }],
      })[0]!.errorCode;
    expect(harness.addPartitions('app', producerId, producerEpoch, 'a', [0])).toBe(ErrorCode.NONE);
    harness.holdAppends = true;
    expect(harness.addPartitions('app', producerId, producerEpoch, 'a', [1])).toBeUndefined();
    // Stored: in the transaction. Being stored: not yet (the producer has no answer for it either).
    expect(verify(0)).toBe(ErrorCode.NONE);
    expect(verify(1)).toBe(ErrorCode.INVALID_TXN_STATE);
    // Other requests of the producer still wait for the transition.
    expect(harness.addPartitions('app', producerId, producerEpoch, 'a', [2])).toBe(
      ErrorCode.CONCURRENT_TRANSACTIONS,
    );
    harness.releaseAppends();
    expect(verify(1)).toBe(ErrorCode.NONE);
    // An EndTxn being stored leaves the transaction Ongoing until it is: its partitions are still in
    // it (the leader's guard refuses an append that a marker overtakes); once Prepare* is stored they
    // are busy.
    harness.holdAppends = true;
    expect(harness.endTxn('app', producerId, producerEpoch, true)).toBeUndefined();
    expect(verify(0)).toBe(ErrorCode.NONE);
    harness.releaseAppends();
    expect(verify(0)).toBe(ErrorCode.CONCURRENT_TRANSACTIONS);
  });

  it('answers an unknown producer id INVALID_PRODUCER_ID_MAPPING', () => {
    const { producerEpoch } = harness.initProducerId('app')!;
    expect(harness.addPartitions('app', 999, producerEpoch)).toBe(ErrorCode.INVALID_PRODUCER_ID_MAPPING);
    expect(harness.addPartitions('other', 100, 0)).toBe(ErrorCode.INVALID_PRODUCER_ID_MAPPING);
  });

  it('aborts a transaction past its timeout and fences its producer', () => {
    const { producerId, producerEpoch } = harness.initProducerId('app', 5_000)!;
    harness.addPartitions('app', producerId, producerEpoch, 'a', [0]);
    expect(harness.coordinator.nextDeadlineMs()).toBe(harness.nowMs + 5_000);
    harness.nowMs += 4_999;
    harness.apply(harness.coordinator.tick(harness.nowMs));
    expect(harness.state('app')).toBe(TransactionState.ongoing);
    harness.nowMs += 1;
    harness.apply(harness.coordinator.tick(harness.nowMs));
    expect(harness.state('app')).toBe(TransactionState.prepareAbort);
    expect(harness.completeMarkers()[0]).toMatchObject({ commit: false, producerEpoch: producerEpoch + 1 });
    expect(harness.state('app')).toBe(TransactionState.completeAbort);
    expect(harness.coordinator.nextDeadlineMs()).toBeNull();
    expect(harness.endTxn('app', producerId, producerEpoch, true)).toBe(ErrorCode.PRODUCER_FENCED);
  });

  it('answers CONCURRENT_TRANSACTIONS while a transition is being stored, and the error of a failed append', () => {
    const { producerId, producerEpoch } = harness.initProducerId('app')!;
    harness.holdAppends = true;
    const first = harness.addPartitions('app', producerId, producerEpoch, 'a', [0]);
    expect(first).toBeUndefined();
    expect(harness.addPartitions('app', producerId, producerEpoch, 'a', [1])).toBe(
      ErrorCode.CONCURRENT_TRANSACTIONS,
    );
    harness.releaseAppends(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    expect(harness.responses.get(harness.nextRequestId - 2)?.errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    expect(harness.state('app')).toBe(TransactionState.empty);
  });

  it('answers a waiting EndTxn NONE when the partition is unloaded after the decision was stored', () => {
    const { producerId, producerEpoch } = harness.initProducerId('app')!;
    harness.addPartitions('app', producerId, producerEpoch, 'a', [0]);
    harness.endTxn('app', producerId, producerEpoch, true);
    const endRequestId = harness.nextRequestId - 1;
    expect(harness.responses.has(endRequestId)).toBe(false);
    harness.apply(harness.coordinator.unloadPartition(0));
    expect(harness.responses.get(endRequestId)).toEqual({
      api: 'EndTxn',
      errorCode: ErrorCode.NONE,
      producerId: -1,
      producerEpoch: -1,
    });
  });

  it('is NOT_COORDINATOR for partitions it does not own and LOAD_IN_PROGRESS while loading', () => {
    const other = new TransactionCoordinator({
      transactionStatePartitionCount: 1,
      offsetsPartitionCount: 1,
      transactionMaxTimeoutMs: maxTimeoutMs,
      transactionalIdExpirationMs: expirationMs,
    });
    const effects = other.initProducerId(
      1,
      { transactionalId: 'x', transactionTimeoutMs: 1000, producerId: -1, producerEpoch: -1 },
      1,
      0,
    );
    expect(effects).toEqual([
      {
        kind: 'respond',
        requestId: 1,
        response: expect.objectContaining({ errorCode: ErrorCode.NOT_COORDINATOR }),
      },
    ]);
    other.beginLoad(0, 0);
    expect(
      other.initProducerId(
        2,
        { transactionalId: 'x', transactionTimeoutMs: 1000, producerId: -1, producerEpoch: -1 },
        1,
        0,
      )[0],
    ).toMatchObject({ response: { errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS } });
  });

  it('rebuilds from its log on load and resumes the markers of a decided transaction', () => {
    const { producerId, producerEpoch } = harness.initProducerId('app')!;
    harness.addPartitions('app', producerId, producerEpoch, 'a', [0, 2]);
    harness.endTxn('app', producerId, producerEpoch, true);
    const done = harness.initProducerId('done')!;
    harness.addPartitions('done', done.producerId, done.producerEpoch, 'z', [0]);
    const log = [...harness.log];

    const successor = new Harness(6);
    successor.apply(successor.coordinator.beginLoad(0, 6));
    successor.coordinator.loadRecords(0, log);
    successor.coordinator.completeLoad(0, successor.nowMs);
    successor.apply(successor.coordinator.drain());
    expect(successor.markers).toEqual([
      expect.objectContaining({
        transactionalId: 'app',
        commit: true,
        coordinatorEpoch: 6,
        partitions: [{ topic: 'a', partitions: [0, 2] }],
      }),
    ]);
    successor.completeMarkers();
    expect(successor.state('app')).toBe(TransactionState.completeCommit);
    // The ongoing one keeps its producer and its deadline.
    expect(successor.coordinator.describe('done')).toMatchObject({
      producerId: done.producerId,
      state: TransactionState.ongoing,
    });
    expect(successor.coordinator.nextDeadlineMs()).toBe(harness.nowMs + 10_000);
  });
});

describe('TransactionCoordinator transactions v2 across a load (TransactionLogValue v1 tags)', () => {
  let harness: Harness;
  beforeEach(() => {
    harness = new Harness();
  });

  const exhausted = () => loadExhaustedProducer(harness);

  it('completes a move to a new producer id that the coordinator before it decided', () => {
    exhausted();
    harness.addPartitions('old', 7, producerEpochMax, 'a', [0]);
    harness.endTxnV2('old', 7, producerEpochMax, true);
    const fresh = harness.nextProducerId - 1;
    expect(decodeTransactionLogValue(harness.log.at(-1)![1]!)).toMatchObject({
      state: TransactionState.prepareCommit,
      producerId: 7,
      nextProducerId: fresh,
    });
    // The coordinator moves before the markers are written; the one that loads the log resumes them.
    const successor = harness.reload();
    expect(successor.completeMarkers()).toEqual([
      expect.objectContaining({ producerId: 7, producerEpoch: producerEpochMax + 1, commit: true }),
    ]);
    expect(successor.coordinator.describe('old')).toMatchObject({
      producerId: fresh,
      producerEpoch: 0,
      state: TransactionState.completeCommit,
    });
    expect(decodeTransactionLogValue(successor.log.at(-1)![1]!)).toMatchObject({
      producerId: fresh,
      producerEpoch: 0,
      previousProducerId: 7,
      nextProducerId: -1,
    });
  });

  it('recognises a retried EndTxn and InitProducerId naming the producer id before a move, after a load', () => {
    exhausted();
    harness.addPartitions('old', 7, producerEpochMax, 'a', [0]);
    harness.endTxnV2('old', 7, producerEpochMax, true);
    harness.completeMarkers();
    const fresh = harness.nextProducerId - 1;
    const successor = harness.reload();
    expect(successor.responses.get(successor.endTxnV2('old', 7, producerEpochMax, true))).toEqual({
      api: 'EndTxn',
      errorCode: ErrorCode.NONE,
      producerId: fresh,
      producerEpoch: 0,
    });
    expect(successor.responses.get(successor.endTxnV2('old', 7, producerEpochMax, false))).toMatchObject({
      errorCode: ErrorCode.INVALID_TXN_STATE,
    });
    // KIP-360: the producer that lost the answer asks with what it had; it gets what it would have.
    const logLength = successor.log.length;
    expect(successor.initProducerId('old', 10_000, 7, producerEpochMax)).toEqual({
      api: 'InitProducerId',
      errorCode: ErrorCode.NONE,
      producerId: fresh,
      producerEpoch: 0,
    });
    expect(successor.log.length).toBe(logLength);
    // An older epoch of the old producer id is a zombie.
    expect(successor.initProducerId('old', 10_000, 7, producerEpochMax - 1)?.errorCode).toBe(
      ErrorCode.PRODUCER_FENCED,
    );
  });

  it('answers an EndTxn one epoch behind a fence PRODUCER_FENCED after a load, and a plain retry NONE', () => {
    const fenced = harness.initProducerId('fenced', 1_000)!;
    harness.addPartitions('fenced', fenced.producerId, fenced.producerEpoch, 'a', [0]);
    const retried = harness.initProducerId('retried')!;
    harness.addPartitions('retried', retried.producerId, retried.producerEpoch, 'a', [1]);
    harness.endTxnV2('retried', retried.producerId, retried.producerEpoch, false);
    harness.nowMs += 2_000;
    harness.apply(harness.coordinator.tick(harness.nowMs));
    harness.completeMarkers();
    expect(decodeTransactionLogValue(harness.log.at(-1)![1]!)).toMatchObject({
      state: TransactionState.completeAbort,
      bumpedByFence: true,
      lastProducerEpoch: -1,
    });

    const successor = harness.reload();
    expect(
      successor.responses.get(successor.endTxnV2('fenced', fenced.producerId, fenced.producerEpoch, false)),
    ).toMatchObject({ errorCode: ErrorCode.PRODUCER_FENCED });
    expect(successor.markers).toEqual([]);
    expect(
      successor.responses.get(
        successor.endTxnV2('retried', retried.producerId, retried.producerEpoch, false),
      ),
    ).toEqual({
      api: 'EndTxn',
      errorCode: ErrorCode.NONE,
      producerId: retried.producerId,
      producerEpoch: retried.producerEpoch + 1,
    });
    expect(
      successor.initProducerId('fenced', 1_000, fenced.producerId, fenced.producerEpoch)?.errorCode,
    ).toBe(ErrorCode.PRODUCER_FENCED);
  });
});

describe('TransactionCoordinator InitProducerId naming a producer id and epoch (KIP-360)', () => {
  let harness: Harness;
  beforeEach(() => {
    harness = new Harness();
  });

  it('takes the epoch before a transactions-v2 end as a retry: the current epoch, nothing stored, also after a load', () => {
    const { producerId, producerEpoch } = harness.initProducerId('app')!;
    harness.addPartitions('app', producerId, producerEpoch, 'a', [0]);
    harness.endTxnV2('app', producerId, producerEpoch, true);
    harness.completeMarkers();
    const logLength = harness.log.length;
    const answer = {
      api: 'InitProducerId',
      errorCode: ErrorCode.NONE,
      producerId,
      producerEpoch: producerEpoch + 1,
    };
    expect(harness.initProducerId('app', 10_000, producerId, producerEpoch)).toEqual(answer);
    expect(harness.log.length).toBe(logLength);
    expect(harness.reload().initProducerId('app', 10_000, producerId, producerEpoch)).toEqual(answer);
    // The current epoch is a bump; two back is a zombie.
    expect(harness.initProducerId('app', 10_000, producerId, producerEpoch + 1)).toMatchObject({
      errorCode: ErrorCode.NONE,
      producerEpoch: producerEpoch + 2,
    });
    expect(harness.initProducerId('app', 10_000, producerId, producerEpoch)?.errorCode).toBe(
      ErrorCode.PRODUCER_FENCED,
    );
  });

  it('retries the bump an InitProducerId made, until a new producer instance takes the id', () => {
    const { producerId, producerEpoch } = harness.initProducerId('app')!;
    const bumped = harness.initProducerId('app', 10_000, producerId, producerEpoch)!;
    expect(bumped).toMatchObject({ errorCode: ErrorCode.NONE, producerEpoch: producerEpoch + 1 });
    expect(harness.initProducerId('app', 10_000, producerId, producerEpoch)).toEqual(bumped);
    expect(harness.reload().initProducerId('app', 10_000, producerId, producerEpoch)).toEqual(bumped);
    // A new instance (no producer id named) fences the old one: its epoch is no retry any more.
    expect(harness.initProducerId('app')).toMatchObject({ producerEpoch: producerEpoch + 2 });
    expect(harness.initProducerId('app', 10_000, producerId, producerEpoch + 1)?.errorCode).toBe(
      ErrorCode.PRODUCER_FENCED,
    );
  });

  it('gives an id without an epoch (expired) to the producer that names its old producer id', () => {
    const first = harness.initProducerId('app')!;
    harness.nowMs += expirationMs;
    harness.expire();
    const renewed = harness.initProducerId('app', 10_000, first.producerId, first.producerEpoch)!;
    expect(renewed).toMatchObject({ errorCode: ErrorCode.NONE, producerEpoch: 0 });
    expect(renewed.producerId).not.toBe(first.producerId);
  });
});

describe('TransactionCoordinator expiring transactional ids (transactional.id.expiration.ms)', () => {
  let harness: Harness;
  beforeEach(() => {
    harness = new Harness();
  });

  /** One id in each state a transaction can rest or hang in, all last updated at the same time. */
  function idsInEveryState() {
    const empty = harness.initProducerId('empty')!;
    const committed = harness.initProducerId('committed')!;
    harness.addPartitions('committed', committed.producerId, committed.producerEpoch, 'a', [0]);
    harness.endTxn('committed', committed.producerId, committed.producerEpoch, true);
    harness.completeMarkers();
    const aborted = harness.initProducerId('aborted')!;
    harness.addPartitions('aborted', aborted.producerId, aborted.producerEpoch, 'a', [1]);
    harness.endTxn('aborted', aborted.producerId, aborted.producerEpoch, false);
    harness.completeMarkers();
    const ongoing = harness.initProducerId('ongoing', maxTimeoutMs)!;
    harness.addPartitions('ongoing', ongoing.producerId, ongoing.producerEpoch, 'a', [2]);
    // Decided, its markers never acknowledged: PrepareCommit and busy.
    const preparing = harness.initProducerId('preparing', maxTimeoutMs)!;
    harness.addPartitions('preparing', preparing.producerId, preparing.producerEpoch, 'a', [3]);
    harness.endTxn('preparing', preparing.producerId, preparing.producerEpoch, true);
    const stateOf = (id: string) => harness.state(id);
    expect(['empty', 'committed', 'aborted', 'ongoing', 'preparing'].map(stateOf)).toEqual([
      TransactionState.empty,
      TransactionState.completeCommit,
      TransactionState.completeAbort,
      TransactionState.ongoing,
      TransactionState.prepareCommit,
    ]);
    return { empty, committed, aborted, ongoing, preparing };
  }

  it('expires only Empty, CompleteCommit and CompleteAbort ids, and only once their last update is transactional.id.expiration.ms old', () => {
    idsInEveryState();
    const lastUpdateMs = harness.nowMs;
    harness.nowMs = lastUpdateMs + expirationMs - 1;
    const logLength = harness.log.length;
    harness.expire();
    expect(harness.log.length).toBe(logLength);
    expect(harness.coordinator.list().map(({ transactionalId }) => transactionalId)).toEqual([
      'aborted',
      'committed',
      'empty',
      'ongoing',
      'preparing',
    ]);

    harness.nowMs = lastUpdateMs + expirationMs;
    harness.expire();
    // One append (one batch) of tombstones for the partition.
    expect(harness.log.length).toBe(logLength + 3);
    expect(tombstones(harness.log.slice(logLength)).sort()).toEqual(['aborted', 'committed', 'empty']);
    expect(harness.coordinator.list().map(({ transactionalId }) => transactionalId)).toEqual([
      'ongoing',
      'preparing',
    ]);
    for (const id of ['empty', 'committed', 'aborted']) {
      expect(harness.coordinator.describe(id)).toBeUndefined();
      expect(harness.coordinator.describeOrError(id)).toBe(ErrorCode.TRANSACTIONAL_ID_NOT_FOUND);
    }
    // Far later the transactions in progress are still not expired.
    harness.nowMs += 10 * expirationMs;
    harness.expire();
    expect(harness.log.length).toBe(logLength + 3);
    expect(harness.state('ongoing')).toBe(TransactionState.ongoing);
    expect(harness.state('preparing')).toBe(TransactionState.prepareCommit);
  });

  it('counts from the last update: a transaction ending later keeps its id longer', () => {
    const { producerId, producerEpoch } = harness.initProducerId('app')!;
    harness.nowMs += expirationMs;
    harness.addPartitions('app', producerId, producerEpoch, 'a', [0]);
    harness.nowMs += 1_000;
    harness.endTxn('app', producerId, producerEpoch, true);
    harness.completeMarkers();
    const endedMs = harness.nowMs;
    harness.nowMs = endedMs + expirationMs - 1;
    harness.expire();
    expect(harness.state('app')).toBe(TransactionState.completeCommit);
    harness.nowMs = endedMs + expirationMs;
    harness.expire();
    expect(harness.state('app')).toBeUndefined();
  });

  it('after expiry an InitProducerId starts the id afresh with a new producer id', () => {
    const first = harness.initProducerId('app')!;
    harness.initProducerId('app');
    expect(harness.coordinator.needsProducerId('app')).toBe(false);
    harness.nowMs += expirationMs;
    harness.expire();
    expect(harness.coordinator.needsProducerId('app')).toBe(true);
    const fresh = harness.initProducerId('app')!;
    expect(fresh).toMatchObject({ errorCode: ErrorCode.NONE, producerEpoch: 0 });
    expect(fresh.producerId).not.toBe(first.producerId);
    expect(harness.coordinator.describe('app')).toMatchObject({ producerId: fresh.producerId });
  });

  it('keeps the id busy while its tombstone is stored, and drops it once stored', () => {
    const { producerId, producerEpoch } = harness.initProducerId('app')!;
    harness.nowMs += expirationMs;
    harness.holdAppends = true;
    harness.expire();
    expect(tombstones(harness.log)).toEqual(['app']);
    expect(harness.addPartitions('app', producerId, producerEpoch)).toBe(ErrorCode.CONCURRENT_TRANSACTIONS);
    expect(harness.initProducerId('app')?.errorCode).toBe(ErrorCode.CONCURRENT_TRANSACTIONS);
    // A second run meanwhile writes no second tombstone.
    harness.expire();
    expect(tombstones(harness.log)).toEqual(['app']);
    harness.releaseAppends();
    expect(harness.state('app')).toBeUndefined();
    expect(harness.addPartitions('app', producerId, producerEpoch)).toBe(
      ErrorCode.INVALID_PRODUCER_ID_MAPPING,
    );
  });

  it('keeps the id as it was when the tombstone is refused, and expires it on a later run', () => {
    const { producerId, producerEpoch } = harness.initProducerId('app')!;
    harness.addPartitions('app', producerId, producerEpoch, 'a', [0]);
    harness.endTxn('app', producerId, producerEpoch, false);
    harness.completeMarkers();
    harness.nowMs += expirationMs;
    harness.holdAppends = true;
    harness.expire();
    harness.releaseAppends(ErrorCode.NOT_ENOUGH_REPLICAS);
    expect(harness.coordinator.describe('app')).toMatchObject({
      producerId,
      producerEpoch,
      state: TransactionState.completeAbort,
    });
    // Not busy: its producer goes on.
    expect(harness.addPartitions('app', producerId, producerEpoch, 'b', [0])).toBe(ErrorCode.NONE);
    harness.endTxn('app', producerId, producerEpoch, true);
    harness.completeMarkers();
    harness.nowMs += expirationMs;
    harness.expire();
    expect(harness.state('app')).toBeUndefined();
  });

  it('forgets a tombstone in flight when its partition is unloaded; the next coordinator still has the id', () => {
    harness.initProducerId('app');
    harness.nowMs += expirationMs;
    harness.holdAppends = true;
    harness.expire();
    const logBeforeTombstone = harness.log.slice(0, -1);
    harness.apply(harness.coordinator.unloadPartition(0));
    harness.releaseAppends();
    const successor = new Harness(6);
    successor.apply(successor.coordinator.beginLoad(0, 6));
    successor.coordinator.loadRecords(0, logBeforeTombstone);
    successor.coordinator.completeLoad(0, successor.nowMs);
    expect(successor.state('app')).toBe(TransactionState.empty);
  });

  it('a coordinator that reloads the log after the tombstone no longer has the id', () => {
    const { ongoing } = idsInEveryState();
    const committedProducerId = harness.coordinator.describe('committed')!.producerId;
    harness.nowMs += expirationMs;
    harness.expire();
    const successor = harness.reload();
    expect(successor.coordinator.list().map(({ transactionalId }) => transactionalId)).toEqual([
      'ongoing',
      'preparing',
    ]);
    expect(successor.coordinator.describe('ongoing')).toMatchObject({ producerId: ongoing.producerId });
    expect(successor.coordinator.needsProducerId('committed')).toBe(true);
    const fresh = successor.initProducerId('committed')!;
    expect(fresh).toMatchObject({ errorCode: ErrorCode.NONE, producerEpoch: 0 });
    expect(fresh.producerId).not.toBe(committedProducerId);
  });
});

describe('__transaction_state records', () => {
  const value = {
    producerId: 7,
    producerEpoch: 2,
    transactionTimeoutMs: 60_000,
    state: TransactionState.ongoing,
    partitions: [{ topic: 'ab', partitions: [1, 4] }],
    lastUpdateTimestampMs: 1_700_000_000_001,
    startTimestampMs: 1_700_000_000_000,
  };
  const int16 = (n: number) => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
  const int32 = (n: number) => {
    const bytes = Buffer.alloc(4);
    bytes.writeInt32BE(n);
    return bytes;
  };
  const int64 = (n: number) => {
    const bytes = Buffer.alloc(8);
    bytes.writeBigInt64BE(BigInt(n));
    return bytes;
  };
  /** The fields v0 and v1 share up to the partitions, written by hand from TransactionLogValue.json. */
  const head = (version: number) =>
    Buffer.concat([
      int16(version),
      int64(7),
      int16(2),
      int32(60_000),
      Buffer.from([TransactionState.ongoing]),
    ]);
  const timestamps = Buffer.concat([int64(1_700_000_000_001), int64(1_700_000_000_000)]);

  it('round-trips and matches Kafka v0 byte layout, read with the fields v0 lacks at their defaults', () => {
    const stored = { ...value, ...transactionLogValueDefaults };
    const bytes = encodeTransactionLogValue(stored, 0);
    // version, pid, epoch, timeout, status, 1 topic "ab" with [1, 4], two timestamps.
    const partitions = Buffer.concat([int32(1), int16(2), Buffer.from('ab'), int32(2), int32(1), int32(4)]);
    expect(bytes).toEqual(Buffer.concat([head(0), partitions, timestamps]));
    expect(decodeTransactionLogValue(bytes)).toEqual(stored);
  });

  it("writes v1 as Kafka lays it out: compact fields, then tags 0, 1, 2 (and Gregor's far above) in order, each only when set", () => {
    const stored = {
      ...value,
      previousProducerId: 5,
      nextProducerId: 9,
      clientTransactionVersion: 2,
      lastProducerEpoch: 1,
      bumpedByFence: true,
    };
    const bytes = encodeTransactionLogValue(stored);
    // Compact array: 1 topic (2); compact string "ab" (3); compact [1, 4] (3); the entry's empty tags.
    const partitions = Buffer.concat([
      Buffer.from([2, 3]),
      Buffer.from('ab'),
      Buffer.from([3]),
      int32(1),
      int32(4),
      Buffer.from([0]),
    ]);
    const tags = Buffer.concat([
      Buffer.from([5]), // five tagged fields, ascending
      Buffer.from([0, 8]), // PreviousProducerId, int64
      int64(5),
      Buffer.from([1, 8]), // NextProducerId, int64
      int64(9),
      Buffer.from([2, 2]), // ClientTransactionVersion, int16
      int16(2),
      Buffer.from([0x90, 0x4e, 2]), // Gregor's lastProducerEpoch: tag 10000 as an unsigned varint
      int16(1),
      Buffer.from([0x91, 0x4e, 1, 1]), // Gregor's bumpedByFence: tag 10001, one byte
    ]);
    expect(bytes).toEqual(Buffer.concat([head(1), partitions, timestamps, tags]));
    expect(decodeTransactionLogValue(bytes)).toEqual(stored);

    // At their defaults the tags are left out, and no partitions is a null array (0), as Kafka writes.
    const bare = { ...value, partitions: [], ...transactionLogValueDefaults };
    expect(encodeTransactionLogValue(bare)).toEqual(
      Buffer.concat([head(1), Buffer.from([0]), timestamps, Buffer.from([0])]),
    );
    expect(decodeTransactionLogValue(encodeTransactionLogValue(bare))).toEqual(bare);
  });

  it("reads a v1 record with tags it does not know (a newer Kafka's) and ignores them", () => {
    const kafkaWritten = Buffer.concat([
      head(1),
      Buffer.from([0]),
      timestamps,
      Buffer.from([3]),
      Buffer.from([1, 8]),
      int64(11),
      Buffer.from([2, 2]),
      int16(2),
      Buffer.from([3, 2]), // tag 3, unknown here
      int16(4),
    ]);
    expect(decodeTransactionLogValue(kafkaWritten)).toEqual({
      ...value,
      partitions: [],
      ...transactionLogValueDefaults,
      nextProducerId: 11,
      clientTransactionVersion: 2,
    });
  });

  it('reads back a key', () => {
    const harness = new Harness();
    harness.initProducerId('my-id');
    expect(decodeTransactionLogKey(harness.log[0]![0])).toBe('my-id');
  });
});

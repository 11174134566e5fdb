import { ErrorCode } from '@gregor/protocol';
import { beforeEach, describe, expect, it } from 'vitest';
import type { TxnEffect, TxnResponse, WriteMarkersEffect } from './messages.js';
import { TransactionCoordinator } from './transaction-coordinator.js';
import {
  decodeTransactionLogKey,
  decodeTransactionLogValue,
  encodeTransactionLogValue,
  type TransactionLogRecord,
  TransactionState,
} from './transaction-records.js';

const partitionCount = 1;
const maxTimeoutMs = 60_000;

/** Drives a coordinator that owns partition 0; appends succeed unless told otherwise. */
class Harness {
  coordinator = new TransactionCoordinator({
    transactionStatePartitionCount: partitionCount,
    offsetsPartitionCount: 50,
    transactionMaxTimeoutMs: maxTimeoutMs,
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

  state(transactionalId: string) {
    return this.coordinator.describe(transactionalId)?.state;
  }
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
    expect(harness.responses.get(endRequestId)).toEqual({ api: 'EndTxn', errorCode: ErrorCode.NONE });
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
    expect(harness.responses.get(endRequestId)).toEqual({ api: 'EndTxn', errorCode: ErrorCode.NONE });
  });

  it('is NOT_COORDINATOR for partitions it does not own and LOAD_IN_PROGRESS while loading', () => {
    const other = new TransactionCoordinator({
      transactionStatePartitionCount: 1,
      offsetsPartitionCount: 1,
      transactionMaxTimeoutMs: maxTimeoutMs,
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

describe('__transaction_state records', () => {
  it('round-trip and match Kafka v0 byte layout', () => {
    const value = {
      producerId: 7,
      producerEpoch: 2,
      transactionTimeoutMs: 60_000,
      state: TransactionState.ongoing,
      partitions: [{ topic: 'ab', partitions: [1, 4] }],
      lastUpdateTimestampMs: 1_700_000_000_001,
      startTimestampMs: 1_700_000_000_000,
    };
    const bytes = encodeTransactionLogValue(value);
    expect(decodeTransactionLogValue(bytes)).toEqual(value);
    // version, pid, epoch, timeout, status, 1 topic "ab" with [1, 4], two timestamps.
    expect(bytes.length).toBe(2 + 8 + 2 + 4 + 1 + 4 + (2 + 2 + 4 + 8) + 8 + 8);
    expect(bytes.subarray(0, 2)).toEqual(Buffer.from([0, 0]));
    expect(bytes[16]).toBe(TransactionState.ongoing);
  });

  it('reads back a key', () => {
    const harness = new Harness();
    harness.initProducerId('my-id');
    expect(decodeTransactionLogKey(harness.log[0]![0])).toBe('my-id');
  });
});

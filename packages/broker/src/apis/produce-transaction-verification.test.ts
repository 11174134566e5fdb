// KIP-890 part 1 on one in-process broker, through Produce: a transactional producer's first batch
// on a partition is appended only when the transaction coordinator (a fake verifier here) says the
// partition is in its ongoing transaction, and only if no marker closed a transaction of that
// producer between the question and the append (the verification guard).

import {
  ApiKey,
  CompressionType,
  ErrorCode,
  encodeRecordBatch,
  encodeRequest,
  type RequestInput,
  type SupportedApiKey,
} from '@gregor/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FrameHandler } from '../network/connection.js';
import { createRequestRouter } from '../request-router.js';
import { FakeTransactionVerifier } from '../testing/fake-transaction-verifier.js';
import { decodeOutcome, fixtureStartMs, LocalClusterFixture } from '../testing/local-cluster-fixture.js';
import { apiHandlers } from './api-handlers.js';
import { handleWriteTxnMarkers } from './write-txn-markers.js';

let cluster: LocalClusterFixture;
let router: FrameHandler;
let correlationId = 1;
const topic = 'verified';

/** What the fake coordinator was asked, and how it answers. */
let coordinator: FakeTransactionVerifier;

beforeEach(async () => {
  cluster = await LocalClusterFixture.start();
  router = createRequestRouter(cluster.context, {
    ...apiHandlers(),
    [ApiKey.WriteTxnMarkers]: handleWriteTxnMarkers,
  });
  const response = await cluster.request(ApiKey.CreateTopics, 4, {
    topics: [{ name: topic, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 1000,
    validateOnly: false,
  });
  expect(response.topics[0]!.errorCode).toBe(ErrorCode.NONE);
  coordinator = new FakeTransactionVerifier();
  cluster.replicaManager.useTransactionVerifier(coordinator);
});
afterEach(async () => {
  await cluster.close();
});

async function request<K extends SupportedApiKey>(apiKey: K, version: number, body: RequestInput<K>) {
  const frame = encodeRequest(apiKey, version, correlationId++, 'verification-test', body);
  const outcome = await router(frame, {
    connectionId: 7,
    remoteAddress: '127.0.0.1:50007',
    listenerName: 'PLAINTEXT',
  });
  return decodeOutcome(apiKey, version, outcome);
}

function transactional(
  producerId: number,
  baseSequence: number,
  values: readonly string[],
  producerEpoch = 3,
): Buffer {
  return encodeRecordBatch({
    compression: CompressionType.None,
    producerId,
    producerEpoch,
    baseSequence,
    isTransactional: true,
    records: values.map((value, index) => ({
      key: null,
      value: Buffer.from(value),
      timestamp: fixtureStartMs + index,
    })),
  });
}

async function produce(records: Buffer, transactionalId: string | null = 'tx', version = 9) {
  const response = await request(ApiKey.Produce, version, {
    transactionalId,
    acks: -1,
    timeoutMs: 1000,
    topics: [{ name: topic, partitions: [{ partitionIndex: 0, records }] }],
  });
  return response.responses[0]!.partitions[0]!;
}

async function marker(producerId: bigint, commit: boolean, producerEpoch = 3): Promise<number> {
  const response = await request(ApiKey.WriteTxnMarkers, 1, {
    markers: [
      {
        producerId,
        producerEpoch,
        transactionResult: commit,
        topics: [{ name: topic, partitionIndexes: [0] }],
        coordinatorEpoch: 0,
      },
    ],
  });
  return response.markers[0]!.topics[0]!.partitions[0]!.errorCode;
}

function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve: (value: T) => void = () => {};
  const promise = new Promise<T>((settle) => {
    resolve = settle;
  });
  return { promise, resolve };
}

/** Lets the router's work run (no timers) until `condition` holds; fails after many rounds. */
async function until(condition: () => boolean): Promise<void> {
  for (let round = 0; round < 10_000 && !condition(); round++) {
    await new Promise((resolve) => setImmediate(resolve));
  }
  expect(condition()).toBe(true);
}

function partitionState() {
  const partition = cluster.replicaManager.partition(topic, 0)!;
  return {
    logEndOffset: partition.log.logEndOffset,
    open: [...partition.producerState.ongoingTransactions().keys()],
  };
}

describe('Produce with transaction verification (KIP-890 part 1)', () => {
  it('refuses a batch for a partition the transaction never added: nothing stored, no transaction opened', async () => {
    coordinator.answer = async () => ErrorCode.INVALID_TXN_STATE;
    const refused = await produce(transactional(21, 0, ['late']));
    expect(refused.errorCode).toBe(ErrorCode.INVALID_TXN_STATE);
    expect(refused.errorMessage).toBe('Partition was not added to the transaction');
    expect(coordinator.asked).toEqual([
      {
        transactionalId: 'tx',
        producerId: 21,
        producerEpoch: 3,
        topic,
        partition: 0,
        addToTransaction: false,
      },
    ]);
    expect(partitionState()).toEqual({ logEndOffset: 0, open: [] });
  });

  it('answers a partition not in the transaction TRANSACTION_ABORTABLE from v11 on, INVALID_TXN_STATE before (KIP-890)', async () => {
    coordinator.answer = async () => ErrorCode.INVALID_TXN_STATE;
    const byVersion = new Map<number, number>();
    for (const version of [3, 10, 11, 12]) {
      const refused = await produce(transactional(21, 0, ['late']), 'tx', version);
      expect(refused.errorMessage ?? null).toBe(
        version >= 8 ? 'Partition was not added to the transaction' : null,
      );
      byVersion.set(version, refused.errorCode);
    }
    expect(Object.fromEntries(byVersion)).toEqual({
      3: ErrorCode.INVALID_TXN_STATE,
      10: ErrorCode.INVALID_TXN_STATE,
      11: ErrorCode.TRANSACTION_ABORTABLE,
      12: ErrorCode.TRANSACTION_ABORTABLE,
    });
    expect(coordinator.asked.map((question) => question.addToTransaction)).toEqual([
      false,
      false,
      false,
      true,
    ]);
    expect(partitionState()).toEqual({ logEndOffset: 0, open: [] });
    // The other refusals keep their codes at v11: a fenced epoch, a coordinator that is busy.
    coordinator.answer = async () => ErrorCode.PRODUCER_FENCED;
    expect((await produce(transactional(21, 0, ['a']), 'tx', 11)).errorCode).toBe(
      ErrorCode.INVALID_PRODUCER_EPOCH,
    );
    coordinator.answer = async () => ErrorCode.CONCURRENT_TRANSACTIONS;
    expect((await produce(transactional(21, 0, ['a']), 'tx', 11)).errorCode).toBe(
      ErrorCode.NOT_ENOUGH_REPLICAS,
    );
  });

  it('appends a batch of a partition in the transaction, and asks only for the first batch of each transaction', async () => {
    expect((await produce(transactional(21, 0, ['a', 'b']))).errorCode).toBe(ErrorCode.NONE);
    expect(partitionState()).toEqual({ logEndOffset: 2, open: [21] });
    // The transaction is open on the partition: its next batch needs no question.
    expect((await produce(transactional(21, 2, ['c']))).errorCode).toBe(ErrorCode.NONE);
    expect(coordinator.asked).toHaveLength(1);
    expect(await marker(21n, true)).toBe(ErrorCode.NONE);
    // The next transaction's first batch is asked about again.
    expect((await produce(transactional(21, 3, ['d']))).errorCode).toBe(ErrorCode.NONE);
    expect(coordinator.asked).toHaveLength(2);
  });

  it('refuses an append whose verification raced with a marker of the same producer (the guard)', async () => {
    expect((await produce(transactional(21, 0, ['a']))).errorCode).toBe(ErrorCode.NONE);
    expect(await marker(21n, false)).toBe(ErrorCode.NONE);
    // The coordinator says yes, but before the append a marker closes the producer's transaction
    // (the answer was about a transaction that has ended since).
    coordinator.answer = async () => {
      expect(await marker(21n, false)).toBe(ErrorCode.NONE);
      return ErrorCode.NONE;
    };
    const raced = await produce(transactional(21, 1, ['late']));
    expect(raced.errorCode).toBe(ErrorCode.INVALID_TXN_STATE);
    expect(partitionState()).toEqual({ logEndOffset: 3, open: [] });
    // Asked again, without a marker in between, it goes in.
    coordinator.answer = async () => ErrorCode.NONE;
    expect((await produce(transactional(21, 1, ['next']))).errorCode).toBe(ErrorCode.NONE);
    expect(partitionState().open).toEqual([21]);
  });

  it("appends a producer's record sets in the order they arrived when the later one is verified first", async () => {
    // Two requests of one connection are handled concurrently: the first batch's question is
    // answered only after the second's. Appended in answer order, the second (sequence 1, a
    // producer the partition does not know: any sequence goes) took offset 0 and the first was
    // refused OUT_OF_ORDER_SEQUENCE_NUMBER.
    const first = deferred<number>();
    coordinator.answer = async () => (coordinator.asked.length === 1 ? first.promise : ErrorCode.NONE);
    const firstAnswer = produce(transactional(21, 0, ['a']));
    await until(() => coordinator.asked.length === 1);
    const secondAnswer = produce(transactional(21, 1, ['b']));
    await until(() => coordinator.asked.length === 2);
    first.resolve(ErrorCode.NONE);
    const [firstResult, secondResult] = await Promise.all([firstAnswer, secondAnswer]);
    expect([firstResult.errorCode, firstResult.baseOffset]).toEqual([ErrorCode.NONE, 0n]);
    expect([secondResult.errorCode, secondResult.baseOffset]).toEqual([ErrorCode.NONE, 1n]);
    expect(partitionState()).toEqual({ logEndOffset: 2, open: [21] });
  });

  for (const order of ['the first', 'the retry'] as const) {
    it(`appends a batch once when its retry arrives while it is being verified (${order} answered first)`, async () => {
      const questions: ((errorCode: number) => void)[] = [];
      coordinator.answer = () => new Promise((resolve) => questions.push(resolve));
      const original = produce(transactional(21, 0, ['a', 'b']));
      await until(() => questions.length === 1);
      const retry = produce(transactional(21, 0, ['a', 'b']));
      await until(() => questions.length === 2);
      const [answeredFirst, answeredSecond] = order === 'the first' ? questions : [...questions].reverse();
      answeredFirst!(ErrorCode.NONE);
      answeredSecond!(ErrorCode.NONE);
      const results = await Promise.all([original, retry]);
      expect(results.map((result) => [result.errorCode, result.baseOffset])).toEqual([
        [ErrorCode.NONE, 0n],
        [ErrorCode.NONE, 0n],
      ]);
      expect(partitionState()).toEqual({ logEndOffset: 2, open: [21] });
    });
  }

  it("answers the coordinator's retriable errors NOT_ENOUGH_REPLICAS, a fenced epoch INVALID_PRODUCER_EPOCH", async () => {
    for (const coordinatorError of [
      ErrorCode.NOT_COORDINATOR,
      ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
      ErrorCode.CONCURRENT_TRANSACTIONS,
      ErrorCode.NETWORK_EXCEPTION,
    ]) {
      coordinator.answer = async () => coordinatorError;
      expect((await produce(transactional(21, 0, ['a']))).errorCode).toBe(ErrorCode.NOT_ENOUGH_REPLICAS);
    }
    coordinator.answer = async () => ErrorCode.PRODUCER_FENCED;
    expect((await produce(transactional(21, 0, ['a']))).errorCode).toBe(ErrorCode.INVALID_PRODUCER_EPOCH);
    expect(partitionState()).toEqual({ logEndOffset: 0, open: [] });
  });

  it('refuses a transactional batch without a transactional id; idempotent batches are not asked about', async () => {
    expect((await produce(transactional(21, 0, ['a']), null)).errorCode).toBe(ErrorCode.INVALID_TXN_STATE);
    const idempotent = encodeRecordBatch({
      compression: CompressionType.None,
      producerId: 22,
      producerEpoch: 0,
      baseSequence: 0,
      records: [{ key: null, value: Buffer.from('i'), timestamp: fixtureStartMs }],
    });
    expect((await produce(idempotent, null)).errorCode).toBe(ErrorCode.NONE);
    expect(coordinator.asked).toEqual([]);
  });

  it('verifies nothing when turned off (transaction.partition.verification.enable=false)', async () => {
    cluster.replicaManager.useTransactionVerifier(undefined);
    coordinator.answer = async () => ErrorCode.INVALID_TXN_STATE;
    expect((await produce(transactional(21, 0, ['a']))).errorCode).toBe(ErrorCode.NONE);
    expect(coordinator.asked).toEqual([]);
  });
});

describe('Produce v12 (transactions v2, KIP-890 part 2)', () => {
  it('has the coordinator add the partition (add mode), even with classic verification off', async () => {
    cluster.replicaManager.useTransactionVerifier(coordinator, false);
    // A classic produce is not asked about with verification off ...
    expect((await produce(transactional(21, 0, ['v1']))).errorCode).toBe(ErrorCode.NONE);
    expect(coordinator.asked).toEqual([]);
    expect(await marker(21n, true)).toBe(ErrorCode.NONE);
    // ... a v12 one is: the coordinator adds the partition before the append.
    expect((await produce(transactional(21, 1, ['v2']), 'tx', 12)).errorCode).toBe(ErrorCode.NONE);
    expect(coordinator.asked).toEqual([
      {
        transactionalId: 'tx',
        producerId: 21,
        producerEpoch: 3,
        topic,
        partition: 0,
        addToTransaction: true,
      },
    ]);
    expect(partitionState().open).toEqual([21]);
    // A refusal to add (the producer was fenced) stores nothing.
    expect(await marker(21n, false)).toBe(ErrorCode.NONE);
    coordinator.answer = async () => ErrorCode.PRODUCER_FENCED;
    expect((await produce(transactional(21, 2, ['no']), 'tx', 12)).errorCode).toBe(
      ErrorCode.INVALID_PRODUCER_EPOCH,
    );
    expect(partitionState()).toEqual({ logEndOffset: 4, open: [] });
  });

  it('takes the epoch the end of a transaction bumped from sequence 0 and fences the old one', async () => {
    expect((await produce(transactional(21, 0, ['a', 'b']), 'tx', 12)).errorCode).toBe(ErrorCode.NONE);
    // The coordinator ends the transaction with the bumped epoch 4 in its marker.
    expect(await marker(21n, true, 4)).toBe(ErrorCode.NONE);
    // A zombie still at epoch 3 is fenced at the partition, whatever the coordinator said.
    expect((await produce(transactional(21, 2, ['zombie']), 'tx', 12)).errorCode).toBe(
      ErrorCode.INVALID_PRODUCER_EPOCH,
    );
    // The producer's next transaction runs at epoch 4 from sequence 0.
    expect((await produce(transactional(21, 0, ['c'], 4), 'tx', 12)).errorCode).toBe(ErrorCode.NONE);
    expect(partitionState()).toEqual({ logEndOffset: 4, open: [21] });
  });
});

// The transactional producer over a scripted cluster (the brokers' answers are the test's to give,
// or to withhold): what goes on the wire for a transaction's records, and what an abort does with
// records whose answer never came.

import { waitFor } from '@gregor/ground/testing';
import { ApiKey, ErrorCode, readBatchHeader } from '@gregor/protocol';
import { describe, expect, it } from 'vitest';
import type { Cluster } from '../cluster.js';
import {
  KafkaJSConnectionError,
  KafkaJSProducerFencedError,
  KafkaJSSendError,
  KafkaJSTransactionAbortableError,
} from '../errors.js';
import { createLogger, logLevel } from '../logger.js';
import { resolveRetry } from '../retry.js';
import { Producer } from './producer.js';

interface ProduceCall {
  readonly body: {
    transactionalId: string | null;
    acks: number;
    topics: { name: string; partitions: { partitionIndex: number; records: Buffer }[] }[];
  };
  readonly answer: (errorCode?: number) => void;
  readonly fail: (error: Error) => void;
}

/** A one-broker cluster whose Produce answers wait for the test; the coordinators answer at once. */
class ScriptedCluster {
  readonly retry = resolveRetry({ retries: 3, initialRetryTime: 1, maxRetryTime: 2 });
  readonly apis: string[] = [];
  readonly bodies: { api: string; body: Record<string, unknown> }[] = [];
  readonly produces: ProduceCall[] = [];
  private epoch = 0;
  private nextOffset = 0n;

  async connect(): Promise<void> {}
  disconnect(): void {}
  async ensureTopics(): Promise<void> {}
  addTargetTopics(): void {}
  async refreshMetadata(): Promise<void> {}
  async findCoordinator(): Promise<number> {
    return 1;
  }
  /** The finalized transaction.version: below 2 (the classic protocol) unless a test raises it. */
  transactionVersionLevel = 0;
  async finalizedFeatureLevel(): Promise<number> {
    return this.transactionVersionLevel;
  }
  /** The highest version each Produce was allowed (the scripted broker speaks them all). */
  readonly produceVersions: number[] = [];
  /** The partition's leader; -1 while it has none (batches wait in the queue). */
  leader = 1;
  leaderFor(): number {
    return this.leader;
  }
  topicMetadata(topic: string) {
    return {
      name: topic,
      partitions: [
        {
          partitionErrorCode: 0,
          partitionId: 0,
          leader: 1,
          leaderEpoch: 0,
          replicas: [1],
          isr: [1],
          offlineReplicas: [],
        },
      ],
    };
  }

  /** No topic ids: Produce goes by name. */
  topicIdOf(): string | undefined {
    return undefined;
  }
  sendVersioned(
    nodeId: number,
    apiKey: number,
    body: (version: number) => Record<string, unknown>,
    _timeoutMs?: number,
    maxVersion = 8,
  ): Promise<unknown> {
    if (apiKey === ApiKey.Produce) this.produceVersions.push(maxVersion);
    return this.send(nodeId, apiKey, body(maxVersion));
  }
  send(_nodeId: number, apiKey: number, body: Record<string, unknown>): Promise<unknown> {
    const name = Object.entries(ApiKey).find(([, key]) => key === apiKey)![0];
    this.apis.push(name);
    this.bodies.push({ api: name, body });
    switch (apiKey) {
      case ApiKey.InitProducerId:
        // A bump (our producer id and epoch) gets the next epoch; the first init epoch 0.
        if ((body.producerEpoch as number) >= 0) this.epoch++;
        return Promise.resolve({ errorCode: 0, producerId: 7n, producerEpoch: this.epoch });
      case ApiKey.AddPartitionsToTxn:
        return Promise.resolve({
          resultsByTopicV3AndBelow: (body.topics as { name: string; partitions: number[] }[]).map(
            (topic) => ({
              name: topic.name,
              resultsByPartition: topic.partitions.map((partitionIndex) => ({
                partitionIndex,
                partitionErrorCode: 0,
              })),
            }),
          ),
        });
      case ApiKey.EndTxn:
        return Promise.resolve({ errorCode: 0 });
      case ApiKey.Produce:
        return new Promise((resolve, reject) => {
          const produceBody = body as unknown as ProduceCall['body'];
          this.produces.push({
            body: produceBody,
            answer: (errorCode = 0) => {
              const baseOffset = this.nextOffset;
              this.nextOffset += 10n;
              resolve({
                responses: produceBody.topics.map((topic) => ({
                  name: topic.name,
                  partitions: topic.partitions.map((partition) => ({
                    partitionIndex: partition.partitionIndex,
                    errorCode,
                    baseOffset,
                    logAppendTimeMs: -1n,
                    logStartOffset: 0n,
                    errorMessage: null,
                  })),
                })),
              });
            },
            fail: reject,
          });
        });
      default:
        return Promise.reject(new Error(`unexpected request ${name}`));
    }
  }
}

/** Until the scripted cluster saw what `condition` says (2 s at most); a timeout names the condition. */
async function until(condition: () => boolean): Promise<void> {
  await waitFor(String(condition), condition, { timeoutMs: 2_000, intervalMs: 1 });
}

function header(call: ProduceCall) {
  return readBatchHeader(call.body.topics[0]!.partitions[0]!.records);
}

async function setUp(transactionVersionLevel = 0) {
  const cluster = new ScriptedCluster();
  cluster.transactionVersionLevel = transactionVersionLevel;
  const producer = new Producer(
    cluster as unknown as Cluster,
    createLogger(logLevel.NOTHING, () => () => undefined),
    1_000,
    { transactionalId: 'payments', lingerMs: 0 },
  );
  await producer.connect();
  return { cluster, producer };
}

describe('transactional producer', () => {
  it('sends transactional batches under its producer id, after AddPartitionsToTxn, with the transactional id in Produce', async () => {
    const { cluster, producer } = await setUp();
    const txn = await producer.transaction();
    const sent = txn.send({ topic: 'orders', messages: [{ value: 'a' }, { value: 'b' }] });
    await until(() => cluster.produces.length === 1);
    expect(cluster.apis).toEqual(['InitProducerId', 'AddPartitionsToTxn', 'Produce']);
    const produce = cluster.produces[0]!;
    expect(produce.body.transactionalId).toBe('payments');
    expect(produce.body.acks).toBe(-1);
    expect(header(produce)).toMatchObject({
      isTransactional: true,
      producerId: 7,
      producerEpoch: 0,
      baseSequence: 0,
      recordsCount: 2,
    });
    produce.answer();
    await sent;
    await txn.commit();
    expect(cluster.apis.at(-1)).toBe('EndTxn');
    expect(cluster.bodies.at(-1)!.body).toMatchObject({ committed: true, producerEpoch: 0 });
    // The next transaction goes on with the sequences (same epoch).
    const next = await producer.transaction();
    const again = next.send({ topic: 'orders', messages: [{ value: 'c' }] });
    await until(() => cluster.produces.length === 2);
    expect(header(cluster.produces[1]!)).toMatchObject({ producerEpoch: 0, baseSequence: 2 });
    cluster.produces[1]!.answer();
    await again;
    await next.abort();
    // Everything was answered: no epoch bump.
    expect(cluster.apis.filter((api) => api === 'InitProducerId')).toHaveLength(1);
  });

  it('waits on abort for a record in flight, and bumps the epoch when its answer never came', async () => {
    const { cluster, producer } = await setUp();
    const txn = await producer.transaction();
    const sent = txn.send({ topic: 'orders', messages: [{ value: 'maybe-written' }] }).then(
      () => 'acknowledged',
      (error: Error) => error.message,
    );
    await until(() => cluster.produces.length === 1);

    const aborted = txn.abort();
    let abortDone = false;
    void aborted.then(() => {
      abortDone = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    // Still waiting for the answer: nothing ended, no new epoch.
    expect(abortDone).toBe(false);
    expect(cluster.apis).toEqual(['InitProducerId', 'AddPartitionsToTxn', 'Produce']);

    // The connection dies with the request: the broker may have written the batch or not.
    cluster.produces[0]!.fail(new KafkaJSConnectionError('127.0.0.1:9092: connection closed'));
    await aborted;
    expect(await sent).toMatch(/connection closed/);
    // Not resent (the transaction is being aborted); EndTxn under the old epoch, then the bump.
    expect(cluster.apis).toEqual([
      'InitProducerId',
      'AddPartitionsToTxn',
      'Produce',
      'EndTxn',
      'InitProducerId',
    ]);
    expect(cluster.bodies[3]!.body).toMatchObject({ committed: false, producerEpoch: 0 });
    expect(cluster.bodies[4]!.body).toMatchObject({
      transactionalId: 'payments',
      producerId: 7n,
      producerEpoch: 0,
    });

    // The next transaction's first batch starts at sequence 0 under epoch 1: the one that may be in
    // the log (sequence 0, epoch 0) can never be taken for it or for a duplicate of it.
    const next = await producer.transaction();
    const kept = next.send({ topic: 'orders', messages: [{ value: 'kept' }] });
    await until(() => cluster.produces.length === 2);
    expect(header(cluster.produces[1]!)).toMatchObject({
      producerEpoch: 1,
      baseSequence: 0,
      isTransactional: true,
    });
    cluster.produces[1]!.answer();
    await kept;
    await next.commit();
    expect(cluster.bodies.at(-1)!.body).toMatchObject({ committed: true, producerEpoch: 1 });
  });

  it('turns abortable when a record is refused: commit is refused, abort ends it and bumps the epoch', async () => {
    const { cluster, producer } = await setUp();
    const txn = await producer.transaction();
    const refused = txn
      .send({ topic: 'orders', messages: [{ value: 'too big' }] })
      .catch((error: Error) => error);
    await until(() => cluster.produces.length === 1);
    cluster.produces[0]!.answer(ErrorCode.MESSAGE_TOO_LARGE);
    expect(await refused).toBeInstanceOf(KafkaJSSendError);
    expect(txn.isActive()).toBe(true);
    await expect(txn.send({ topic: 'orders', messages: [{ value: 'more' }] })).rejects.toThrow(
      KafkaJSTransactionAbortableError,
    );
    await expect(txn.commit()).rejects.toThrow(/must be aborted: MESSAGE_TOO_LARGE/);
    expect(cluster.apis).not.toContain('EndTxn');
    await txn.abort();
    expect(txn.isActive()).toBe(false);
    // The refused batch held sequence 0: the epoch moves on rather than reuse it.
    expect(cluster.apis.slice(-2)).toEqual(['EndTxn', 'InitProducerId']);
    const next = await producer.transaction();
    const sent = next.send({ topic: 'orders', messages: [{ value: 'fits' }] });
    await until(() => cluster.produces.length === 2);
    expect(header(cluster.produces[1]!)).toMatchObject({ producerEpoch: 1, baseSequence: 0 });
    cluster.produces[1]!.answer();
    await sent;
    await next.commit();
  });

  it('turns abortable when a transactions-v2 produce is answered TRANSACTION_ABORTABLE (KIP-890): abort ends it, the next transaction commits', async () => {
    const { cluster, producer } = await setUp(2);
    const txn = await producer.transaction();
    const refused = txn
      .send({ topic: 'orders', messages: [{ value: 'not in the transaction' }] })
      .catch((error: Error) => error);
    await until(() => cluster.produces.length === 1);
    // Produce v12 (transactions v2, past v11 which declares the code), no AddPartitionsToTxn.
    expect(cluster.produceVersions).toEqual([12]);
    expect(cluster.apis).toEqual(['InitProducerId', 'Produce']);
    cluster.produces[0]!.answer(ErrorCode.TRANSACTION_ABORTABLE);
    expect(await refused).toBeInstanceOf(KafkaJSSendError);
    await expect(txn.send({ topic: 'orders', messages: [{ value: 'more' }] })).rejects.toThrow(
      KafkaJSTransactionAbortableError,
    );
    await expect(txn.commit()).rejects.toThrow(/must be aborted: .*TRANSACTION_ABORTABLE/);
    expect(cluster.apis).not.toContain('EndTxn');
    await txn.abort();
    expect(cluster.apis.slice(-1)).toEqual(['EndTxn']);
    expect(cluster.bodies.at(-1)!.body).toMatchObject({ committed: false });
    const next = await producer.transaction();
    const sent = next.send({ topic: 'orders', messages: [{ value: 'fits' }] });
    await until(() => cluster.produces.length === 2);
    cluster.produces[1]!.answer();
    await sent;
    await next.commit();
    expect(cluster.bodies.at(-1)!.body).toMatchObject({ committed: true });
    // Not fenced: the producer id was never asked for again.
    expect(cluster.apis.filter((api) => api === 'InitProducerId')).toHaveLength(1);
  });

  it('is fenced for good when a produce is answered INVALID_PRODUCER_EPOCH', async () => {
    const { cluster, producer } = await setUp();
    const txn = await producer.transaction();
    const sent = txn
      .send({ topic: 'orders', messages: [{ value: 'zombie' }] })
      .catch((error: Error) => error);
    await until(() => cluster.produces.length === 1);
    cluster.produces[0]!.answer(ErrorCode.INVALID_PRODUCER_EPOCH);
    const fenced = await sent;
    expect(fenced).toBeInstanceOf(KafkaJSProducerFencedError);
    await expect(txn.commit()).rejects.toBe(fenced);
    await expect(txn.abort()).rejects.toBe(fenced);
    await expect(producer.transaction()).rejects.toBe(fenced);
    expect(cluster.apis).not.toContain('EndTxn');
  });

  it('fails each expired batch once when the first one makes the transaction abortable', async () => {
    const cluster = new ScriptedCluster();
    const producer = new Producer(
      cluster as unknown as Cluster,
      createLogger(logLevel.NOTHING, () => () => undefined),
      1_000,
      // Two batches of one record each wait in the queue (no leader) until they expire.
      { transactionalId: 'payments', lingerMs: 0, batchSize: 100, deliveryTimeout: 5 },
    );
    cluster.leader = -1;
    await producer.connect();
    const txn = await producer.transaction();
    const sent = txn
      .send({ topic: 'orders', messages: [{ value: 'x'.repeat(60) }, { value: 'y'.repeat(60) }] })
      .catch((error: Error) => error);
    // Not a wait for the records to be buffered first: under load they can expire (5 ms) between
    // two looks, and the send's failure says they were buffered and expired anyway.
    const error = await sent;
    await expect(txn.commit()).rejects.toThrow(/must be aborted: delivery timeout/);
    expect(error).toBeInstanceOf(KafkaJSSendError);
    expect((error as KafkaJSSendError).undelivered.reduce((sum, entry) => sum + entry.count, 0)).toBe(2);
    expect(producer.bufferedBytes).toBe(0);
    expect(cluster.produces).toHaveLength(0);
    await txn.abort();
  });

  it('refuses acks other than -1, sends outside a transaction, and idempotent: false', async () => {
    const { producer } = await setUp();
    await expect(producer.send({ topic: 'orders', messages: [{ value: 'x' }] })).rejects.toThrow(
      /sends through a transaction/,
    );
    const txn = await producer.transaction();
    await expect(txn.send({ topic: 'orders', acks: 1, messages: [{ value: 'x' }] })).rejects.toThrow(
      /EoS guarantees/,
    );
    await expect(producer.transaction()).rejects.toThrow(/already an ongoing transaction/);
    expect(
      () =>
        new Producer(
          new ScriptedCluster() as unknown as Cluster,
          createLogger(logLevel.NOTHING, () => () => undefined),
          1_000,
          { transactionalId: 'x', idempotent: false },
        ),
    ).toThrow(/must be idempotent/);
  });
});

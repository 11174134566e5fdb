// transactional.id.expiration.ms against a broker process, with short values (expiration 5 s, checked
// every second): an id created and committed by kafkajs's transactional producer is listed
// (ListTransactions over @platformatic/kafka's codecs), then, once idle past the expiration, no longer
// listed nor described (`gregor transactions`), while an id with a transaction still open (older,
// Ongoing) stays. After a restart the coordinator rebuilt from __transaction_state still lacks it
// (the tombstone is in the log), and an InitProducerId for it gets a new producer id at epoch 0.

import { execFileSync } from 'node:child_process';
import { type WaitForOptions, waitFor } from '@gregor/ground/testing';
import {
  Connection,
  describeTransactionsV0,
  initProducerIdV4,
  listTransactionsV1,
} from '@platformatic/kafka';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath, ProcessCluster } from '../testing/process-cluster.js';

const expirationMs = 5_000;
const cleanupIntervalMs = 1_000;
/** The open transaction must outlive the test: far beyond the expiration. */
const openTransactionTimeoutMs = 600_000;
const clientTimeoutMs = 60_000;

let cluster: ProcessCluster;
const producers: Producer[] = [];

beforeAll(async () => {
  cluster = await ProcessCluster.start({
    nodeCount: 1,
    properties: {
      'num.partitions': '1',
      'default.replication.factor': '1',
      'offsets.topic.num.partitions': '1',
      'offsets.topic.replication.factor': '1',
      'transaction.state.log.num.partitions': '3',
      'transaction.state.log.replication.factor': '1',
      'transactional.id.expiration.ms': String(expirationMs),
      'transaction.remove.expired.transaction.cleanup.interval.ms': String(cleanupIntervalMs),
    },
  });
});

afterAll(async () => {
  for (const producer of producers) await producer.disconnect().catch(() => {});
  await cluster?.close();
});

const waitOptions = (): WaitForOptions => ({
  timeoutMs: clientTimeoutMs,
  intervalMs: 200,
  detail: () => cluster.tail(),
});

async function withPlatformatic<T>(body: (connection: Connection) => Promise<T>): Promise<T> {
  const connection = new Connection('txn-expiration-it');
  await connection.connect('127.0.0.1', cluster.node(1).kafkaPort);
  try {
    return await body(connection);
  } finally {
    await connection.close();
  }
}

/** ListTransactions: transactional id → state. */
async function listed(): Promise<Record<string, string>> {
  const answer = await withPlatformatic((connection) =>
    listTransactionsV1.api.async(connection, [], [], -1n, null),
  );
  expect(answer.errorCode).toBe(0);
  return Object.fromEntries(
    answer.transactionStates.map((state) => [state.transactionalId, state.transactionState]),
  );
}

function gregorTransactions(...args: string[]): string {
  return execFileSync(
    'node',
    [cliPath, 'transactions', '--bootstrap-server', `127.0.0.1:${cluster.node(1).kafkaPort}`, ...args],
    // stderr piped: a refusal's message is in the thrown error.
    { encoding: 'utf8', timeout: clientTimeoutMs, stdio: ['ignore', 'pipe', 'pipe'] },
  );
}

async function transactionalProducer(transactionalId: string): Promise<Producer> {
  const kafka = new Kafka({
    clientId: 'txn-expiration-it',
    brokers: [`127.0.0.1:${cluster.node(1).kafkaPort}`],
    logLevel: logLevel.NOTHING,
  });
  const producer = kafka.producer({
    transactionalId,
    idempotent: true,
    maxInFlightRequests: 1,
    transactionTimeout: openTransactionTimeoutMs,
  });
  producers.push(producer);
  await producer.connect();
  return producer;
}

describe('transactional.id.expiration.ms', () => {
  it('removes an idle committed id (listing, describe, restart) and a new InitProducerId for it gets a new producer id', async () => {
    const topic = 'txn-expiration';
    // Opened first, so its last update is older than the committed id's: still it stays.
    const open = await transactionalProducer('open');
    const openTransaction = await open.transaction();
    await openTransaction.send({ topic, messages: [{ value: 'open' }] });

    const expiring = await transactionalProducer('expiring');
    const transaction = await expiring.transaction();
    await transaction.send({ topic, messages: [{ value: 'committed' }] });
    await transaction.commit();
    const [described] = (
      await withPlatformatic((connection) => describeTransactionsV0.api.async(connection, ['expiring']))
    ).transactionStates;
    expect(described).toMatchObject({ errorCode: 0, transactionState: 'CompleteCommit' });
    const firstProducerId = described!.producerId;
    expect(await listed()).toEqual({ open: 'Ongoing', expiring: 'CompleteCommit' });

    // Idle past transactional.id.expiration.ms, found by a cleanup run: gone.
    await waitFor('the committed id expired', async () => !('expiring' in (await listed())), waitOptions());
    expect(await listed()).toEqual({ open: 'Ongoing' });
    expect(() => gregorTransactions('describe', '--transactional-id', 'expiring')).toThrow(/does not exist/);
    expect(gregorTransactions('list')).not.toContain('expiring');

    // The coordinator rebuilt from the log has no trace of it either.
    for (const producer of producers.splice(0)) await producer.disconnect().catch(() => {});
    await cluster.stop(1);
    await cluster.restart(1);
    const afterRestart = await waitFor(
      'the transaction coordinator loaded again',
      // Refused (not up yet, still loading) counts as not yet.
      async () => {
        const states = await listed();
        return 'open' in states ? states : undefined;
      },
      waitOptions(),
    );
    expect(afterRestart).toEqual({ open: 'Ongoing' });

    // A new InitProducerId starts the id afresh: a new producer id, epoch 0.
    const fresh = await waitFor(
      'InitProducerId for the expired id',
      () =>
        withPlatformatic((connection) => initProducerIdV4.api.async(connection, 'expiring', 60_000, -1n, -1)),
      waitOptions(),
    );
    expect(fresh).toMatchObject({ errorCode: 0, producerEpoch: 0 });
    expect(fresh.producerId).not.toBe(firstProducerId);
  });
});

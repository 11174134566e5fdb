// kafkajs 2.2.4 transactions against a three-node cluster of broker processes (kafkajs speaks the
// non-flexible versions: InitProducerId v1, AddPartitionsToTxn v1, EndTxn v1, AddOffsetsToTxn v1,
// TxnOffsetCommit v2, Fetch v11 with read_committed). Covered: a committed transaction reaches a
// read_committed consumer group and an aborted one does not, while a read_uncommitted group sees
// both; sendOffsets commits a group's offsets with the transaction (and not when it aborts); a
// zombie producer (same transactional id, older epoch) is fenced.
//
// Each test's topic is created, and known to every broker, before its transactions: kafkajs 2.2.4
// retries a whole transactional send when one leader's part fails with a retriable error, resending
// parts already written under the next sequence. A topic auto-created by the send itself makes that
// likely: the transaction coordinator's metadata may not hold it yet and answers AddPartitionsToTxn
// UNKNOWN_TOPIC_OR_PARTITION, as Kafka's does (packages/broker/README.md, "Transactions").

import { type WaitForOptions, waitFor } from '@gregor/ground/testing';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCluster } from '../testing/process-cluster.js';
import { RawClusterClient } from '../testing/raw-cluster-client.js';

const partitionCount = 3;
const settleWaitMs = 60_000;

let cluster: ProcessCluster;
let kafka: Kafka;
const producers: Producer[] = [];

beforeAll(async () => {
  cluster = await ProcessCluster.start({
    nodeCount: 3,
    properties: {
      'num.partitions': String(partitionCount),
      'default.replication.factor': '3',
      'offsets.topic.num.partitions': '5',
      'offsets.topic.replication.factor': '3',
      'transaction.state.log.num.partitions': '5',
      'transaction.state.log.replication.factor': '3',
      'group.initial.rebalance.delay.ms': '200',
    },
  });
  kafka = new Kafka({
    clientId: 'txn-it',
    brokers: cluster.bootstrap.split(','),
    logLevel: logLevel.NOTHING,
  });
});

afterAll(async () => {
  for (const producer of producers) await producer.disconnect().catch(() => {});
  await cluster?.close();
});

const waitOptions: WaitForOptions = {
  timeoutMs: settleWaitMs,
  intervalMs: 100,
  detail: () => cluster.tail(),
};

async function transactionalProducer(transactionalId: string): Promise<Producer> {
  const producer = kafka.producer({ transactionalId, idempotent: true, maxInFlightRequests: 1 });
  producers.push(producer);
  await producer.connect();
  return producer;
}

/** Creates `topic` and waits until every broker's Metadata has all its partitions (header above). */
async function createTopicOnEveryBroker(topic: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: partitionCount }] });
  await admin.disconnect();
  const raw = new RawClusterClient(cluster);
  try {
    await waitFor(
      `${topic} in every broker's metadata`,
      async () => {
        for (const node of cluster.nodes) {
          if ((await raw.partition(topic, partitionCount - 1, [node.id])) === undefined) return false;
        }
        return true;
      },
      waitOptions,
    );
  } finally {
    raw.close();
  }
}

/** Every value a consumer group reads from `topic` until it has `expected` (then a moment more). */
async function consumeAll(topic: string, groupId: string, readUncommitted: boolean, expected: number) {
  const consumer = kafka.consumer({ groupId, readUncommitted, maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const values: string[] = [];
  await consumer.run({
    eachMessage: async ({ message }) => {
      values.push(message.value?.toString() ?? '');
    },
  });
  await waitFor(`${expected} records of ${topic}`, () => values.length >= expected, {
    ...waitOptions,
    detail: () => values.join(','),
  });
  // Anything beyond what was expected would show up here.
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  await consumer.disconnect();
  return values.sort();
}

describe('kafkajs transactions', () => {
  it('commits and aborts: read_committed sees only the committed, read_uncommitted both', async () => {
    const topic = 'kjs-txn';
    await createTopicOnEveryBroker(topic);
    const producer = await transactionalProducer('kjs-visibility');
    const committed = await producer.transaction();
    await committed.send({
      topic,
      messages: ['c0', 'c1', 'c2'].map((value, partition) => ({ value, partition })),
    });
    await committed.commit();
    const aborted = await producer.transaction();
    await aborted.send({
      topic,
      messages: ['a0', 'a1', 'a2'].map((value, partition) => ({ value, partition })),
    });
    await aborted.abort();
    const last = await producer.transaction();
    await last.send({ topic, messages: [{ value: 'c3', partition: 0 }] });
    await last.commit();

    expect(await consumeAll(topic, 'kjs-committed-reader', false, 4)).toEqual(['c0', 'c1', 'c2', 'c3']);
    expect(await consumeAll(topic, 'kjs-uncommitted-reader', true, 7)).toEqual([
      'a0',
      'a1',
      'a2',
      'c0',
      'c1',
      'c2',
      'c3',
    ]);
  });

  it('sendOffsets commits the group offsets with the transaction, and not when it aborts', async () => {
    const topic = 'kjs-offsets-in';
    const groupId = 'kjs-offsets-group';
    const producer = await transactionalProducer('kjs-offsets');
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: partitionCount }] });

    const aborted = await producer.transaction();
    await aborted.sendOffsets({
      consumerGroupId: groupId,
      topics: [{ topic, partitions: [{ partition: 0, offset: '7' }] }],
    });
    await aborted.abort();
    const committed = await producer.transaction();
    await committed.sendOffsets({
      consumerGroupId: groupId,
      topics: [{ topic, partitions: [{ partition: 1, offset: '42' }] }],
    });
    await committed.commit();

    // The offsets settle when the markers reach the group's offsets partition, just after EndTxn.
    let offsets: Record<string, string> = {};
    await waitFor(
      'the committed transaction offsets',
      async () => {
        const [fetched] = await admin.fetchOffsets({ groupId, topics: [topic] });
        offsets = Object.fromEntries(fetched!.partitions.map((p) => [String(p.partition), p.offset]));
        return offsets['1'] === '42';
      },
      { ...waitOptions, detail: () => JSON.stringify(offsets) },
    );
    expect(offsets).toEqual({ '0': '-1', '1': '42', '2': '-1' });
    await admin.disconnect();
  });

  it('fences a zombie producer', async () => {
    const topic = 'kjs-zombie';
    await createTopicOnEveryBroker(topic);
    const zombie = await transactionalProducer('kjs-zombie');
    const transaction = await zombie.transaction();
    await transaction.send({ topic, messages: [{ value: 'zombie', partition: 0 }] });
    const successor = await transactionalProducer('kjs-zombie');
    // kafkajs initialises a transactional producer id with its first transaction: this fences.
    const next = await successor.transaction();
    await expect(
      (async () => {
        await transaction.send({ topic, messages: [{ value: 'zombie-2', partition: 0 }] });
        await transaction.commit();
      })(),
    ).rejects.toThrow(/epoch|fenced/i);
    await next.send({ topic, messages: [{ value: 'successor', partition: 0 }] });
    await next.commit();
    expect(await consumeAll(topic, 'kjs-zombie-reader', false, 1)).toEqual(['successor']);
  });
});

// The example of README.md, verbatim but for the import path (and so its place among the imports): it
// must keep working as written.

import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startCluster, type TestCluster } from '../index.js';

let cluster: TestCluster;
let kafka: Kafka;

beforeAll(async () => {
  cluster = await startCluster({ brokers: 3 });
  kafka = new Kafka({ brokers: cluster.bootstrapServers, logLevel: logLevel.NOTHING });
});
afterAll(() => cluster.stop());

it('keeps what it acknowledged when the leader dies', async () => {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 3, replicationFactor: 3 }] });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  await producer.send({ topic: 'orders', acks: -1, messages: [{ value: 'first' }] });

  const { leader } = (await admin.fetchTopicMetadata({ topics: ['orders'] })).topics[0]!.partitions[0]!;
  await cluster.kill(leader); // another ISR member takes over within a couple of seconds
  await producer.send({ topic: 'orders', acks: -1, messages: [{ value: 'second' }] });
  await cluster.restart(leader); // back on its data, same port, catches up

  const consumer = kafka.consumer({ groupId: 'readers' });
  await consumer.connect();
  await consumer.subscribe({ topic: 'orders', fromBeginning: true });
  const seen: string[] = [];
  await consumer.run({ eachMessage: async ({ message }) => void seen.push(String(message.value)) });
  await expect.poll(() => seen.sort()).toEqual(['first', 'second']);
  await Promise.all([consumer.disconnect(), producer.disconnect(), admin.disconnect()]);
});

// Batches larger than a topic's max.message.bytes against three Gregor broker processes: topics set
// to 10000 bytes take 1 KiB records from producers with the default batchSize (1,000,000 bytes), so
// the first batches are refused MESSAGE_TOO_LARGE, split and sent again. Every record is
// acknowledged once, in order, at contiguous offsets, and kcat (librdkafka) reads each back exactly
// once; a record larger than the limit on its own fails alone while the rest of its send is written.

import { afterAll, beforeAll, expect, it } from 'vitest';
import { KafkaJSSendError } from '../errors.js';
import { Kafka } from '../kafka.js';
import { logLevel } from '../logger.js';
import type { ProducerConfig } from '../producer/producer.js';
import { BrokerProcesses } from '../testing/broker-processes.js';
import { kcatConsumeAll } from '../testing/kcat.js';

const maxMessageBytes = 10_000;
const sendCount = 8;
const recordsPerSend = 50;

let brokers: BrokerProcesses;
let kafka: Kafka;
/** Log lines of the producers' batch splits (the client logs each one at info). */
const splits: { topic: string; records: number; batches: number; batchLimitBytes: number }[] = [];

beforeAll(async () => {
  brokers = await BrokerProcesses.start(3);
  kafka = new Kafka({
    clientId: 'message-too-large-it',
    brokers: brokers.bootstrapServers,
    logLevel: logLevel.INFO,
    logCreator: () => (entry) => {
      if (entry.log.message === 'batch too large: split') splits.push(entry.log as never);
    },
    retry: { initialRetryTime: 100, retries: 10 },
  });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: ['idempotent', 'not-idempotent', 'one-too-large'].map((topic) => ({
      topic,
      numPartitions: 1,
      replicationFactor: 3,
      configEntries: [{ name: 'max.message.bytes', value: String(maxMessageBytes) }],
    })),
  });
  await admin.disconnect();
});
afterAll(() => brokers?.stop());

function valuesOf(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, index) => `${prefix}-${index}-`.padEnd(1_024, 'x'));
}

async function sendAllTogether(topic: string, config: ProducerConfig): Promise<string[]> {
  const producer = kafka.producer(config);
  await producer.connect();
  const sends = Array.from({ length: sendCount }, (_, index) =>
    valuesOf(`${topic}-${index}`, recordsPerSend),
  );
  try {
    // All at once: several batches of the partition in flight when the first is refused.
    const results = await Promise.all(
      sends.map((values) => producer.send({ topic, messages: values.map((value) => ({ value })) })),
    );
    // Each send's first record where the sends before it end: acknowledged once, in order.
    expect(
      results.map((metadata) =>
        metadata.map((entry) => [entry.partition, entry.errorCode, entry.baseOffset]),
      ),
    ).toEqual(sends.map((_, index) => [[0, 0, String(index * recordsPerSend)]]));
  } finally {
    await producer.disconnect();
  }
  return sends.flat();
}

async function expectReadBackOnceInOrder(topic: string, values: readonly string[]): Promise<void> {
  const records = await kcatConsumeAll(brokers.bootstrapServers.join(','), topic);
  expect(records.map((record) => record.offset)).toEqual(values.map((_, offset) => offset));
  expect(records.map((record) => record.value)).toEqual(values);
}

it('splits refused batches of an idempotent producer with the default batchSize: once, in order', async () => {
  const values = await sendAllTogether('idempotent', {});
  expect(splits.filter((split) => split.topic === 'idempotent').length).toBeGreaterThan(0);
  await expectReadBackOnceInOrder('idempotent', values);
});

it('splits refused batches of a producer that is not idempotent (one request in flight): once, in order', async () => {
  const values = await sendAllTogether('not-idempotent', { idempotent: false, maxInFlightRequests: 1 });
  expect(splits.filter((split) => split.topic === 'not-idempotent').length).toBeGreaterThan(0);
  await expectReadBackOnceInOrder('not-idempotent', values);
});

it('fails a record larger than max.message.bytes alone; the rest of its send is written once, in order', async () => {
  const producer = kafka.producer();
  await producer.connect();
  const before = valuesOf('before', 20);
  const after = valuesOf('after', 20);
  try {
    const error = await producer
      .send({
        topic: 'one-too-large',
        messages: [...before, 'h'.repeat(20_000), ...after].map((value) => ({ value })),
      })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(KafkaJSSendError);
    const { undelivered } = error as KafkaJSSendError;
    expect(undelivered.map((entry) => [entry.topic, entry.partition, entry.count])).toEqual([
      ['one-too-large', 0, 1],
    ]);
    expect(undelivered[0]!.error.message).toMatch(/MESSAGE_TOO_LARGE/);
    // The producer goes on: a later send to the topic is written after them.
    const later = valuesOf('later', 5);
    await producer.send({ topic: 'one-too-large', messages: later.map((value) => ({ value })) });
    await expectReadBackOnceInOrder('one-too-large', [...before, ...after, ...later]);
  } finally {
    await producer.disconnect();
  }
});

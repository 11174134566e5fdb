// The sender over a scripted cluster whose Produce answers wait for the test: a partition with
// several ready batches has as many in flight as maxInFlightRequests allows, one per request, in
// sequence order, without waiting for an answer first.

import { waitFor } from '@gregor/ground/testing';
import { describe, expect, it } from 'vitest';
import type { Cluster } from '../cluster.js';
import { createLogger, logLevel } from '../logger.js';
import { ScriptedProduceCluster } from '../testing/scripted-produce-cluster.js';
import { Producer } from './producer.js';

async function until(condition: () => boolean): Promise<void> {
  await waitFor(String(condition), condition, { timeoutMs: 2_000, intervalMs: 1 });
}

/** Lets every pending setImmediate (the sender's drains) and the promises they settle run. */
async function settle(): Promise<void> {
  for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
}

describe('Sender', () => {
  it('sends the ready batches of one partition up to maxInFlightRequests at once, then one per answer', async () => {
    const cluster = new ScriptedProduceCluster(1);
    // A batch of 100 bytes is full with one record of 121: each record is a batch of its own.
    const producer = new Producer(
      cluster as unknown as Cluster,
      createLogger(logLevel.NOTHING, () => () => undefined),
      1_000,
      { batchSize: 100, lingerMs: 0, maxInFlightRequests: 3 },
    );
    await producer.connect();
    const values = ['a', 'b', 'c', 'd', 'e'].map((letter) => letter.repeat(100));
    const sent = producer.send({ topic: 'events', acks: 1, messages: values.map((value) => ({ value })) });

    await until(() => cluster.produces.length === 3);
    await settle();
    // Three in flight, in order, and the other two wait for an answer (the limit, not the drain).
    expect(cluster.produces.map((call) => call.partitions.map((p) => p.values))).toEqual([
      [[values[0]]],
      [[values[1]]],
      [[values[2]]],
    ]);
    cluster.produces.shift()!.answer();
    await until(() => cluster.produces.length === 3);
    await settle();
    expect(cluster.produces.map((call) => call.partitions[0]!.values[0])).toEqual([
      values[1],
      values[2],
      values[3],
    ]);
    while (cluster.produces.length > 0 || producer.bufferedBytes > 0) {
      cluster.answerAll();
      await settle();
    }
    const metadata = await sent;
    expect(metadata).toEqual([expect.objectContaining({ topicName: 'events', partition: 0, errorCode: 0 })]);
    await producer.disconnect();
  });

  it('sends a batch as soon as it is full, while the rest of the send is still being buffered', async () => {
    const cluster = new ScriptedProduceCluster(1);
    // Records of 121 bytes and a batch header of 61: a batch of 400 bytes takes two, the third
    // closes it.
    const producer = new Producer(
      cluster as unknown as Cluster,
      createLogger(logLevel.NOTHING, () => () => undefined),
      1_000,
      { batchSize: 400, lingerMs: 60_000, maxInFlightRequests: 5 },
    );
    await producer.connect();
    // The first send takes the producer id (idempotence is on): nothing goes before it.
    const first = producer.send({ topic: 'events', acks: 1, messages: [{ value: 'first' }] });
    const firstFlushed = producer.flush();
    await until(() => cluster.produces.length === 1);
    cluster.answerAll();
    await Promise.all([first, firstFlushed]);
    const values = ['a', 'b', 'c', 'd', 'e'].map((letter) => letter.repeat(100));
    const sent = producer.send({ topic: 'events', acks: 1, messages: values.map((value) => ({ value })) });
    // Only promise continuations run here, no setImmediate: the sender's scheduled drain has not
    // run yet, so what is in flight went out from within the send, batch by batch as each filled.
    for (let turn = 0; turn < 20; turn++) await Promise.resolve();
    expect(cluster.produces.map((call) => call.partitions.map((p) => p.values))).toEqual([
      [[values[0], values[1]]],
      [[values[2], values[3]]],
    ]);
    await settle();
    // The last batch is not full: it lingers.
    expect(cluster.produces).toHaveLength(2);
    const flushed = producer.flush();
    await until(() => cluster.produces.length === 3);
    expect(cluster.produces[2]!.partitions[0]!.values).toEqual([values[4]]);
    cluster.answerAll();
    await flushed;
    expect(await sent).toEqual([
      expect.objectContaining({ topicName: 'events', partition: 0, errorCode: 0 }),
    ]);
    await producer.disconnect();
  });
  it('with its defaults sends 900 KiB of one partition in one batch, holding memory only for the records', async () => {
    const cluster = new ScriptedProduceCluster(1);
    // No batchSize: the default (librdkafka's 1,000,000 bytes). Java's 16384 made this 61 batches.
    const producer = new Producer(
      cluster as unknown as Cluster,
      createLogger(logLevel.NOTHING, () => () => undefined),
      1_000,
      { lingerMs: 60_000 },
    );
    await producer.connect();
    const first = producer.send({ topic: 'events', acks: 1, messages: [{ value: 'first' }] });
    const firstFlushed = producer.flush();
    await until(() => cluster.produces.length === 1);
    cluster.answerAll();
    await Promise.all([first, firstFlushed]);
    await until(() => producer.bufferedBytes === 0);

    const one = producer.send({ topic: 'events', acks: 1, messages: [{ value: 'x'.repeat(1_024) }] });
    await settle();
    // One record buffered: its own bytes (1,024 and 21 of record overhead), not the batch's limit.
    expect(producer.bufferedBytes).toBe(1_045);
    const values = Array.from({ length: 900 }, (_, index) => String(index).padStart(1_024, '-'));
    const sent = producer.send({ topic: 'events', acks: 1, messages: values.map((value) => ({ value })) });
    await settle();
    expect(cluster.produces).toHaveLength(0);
    expect(producer.bufferedBytes).toBe(901 * 1_045);
    const flushed = producer.flush();
    await until(() => cluster.produces.length === 1);
    await settle();
    expect(cluster.produces).toHaveLength(1);
    expect(cluster.produces[0]!.partitions.map((p) => p.values.length)).toEqual([901]);
    cluster.answerAll();
    await Promise.all([one, sent, flushed]);
    await producer.disconnect();
  });
});

describe('Sender: Produce v13 (topics by id)', () => {
  const eventsId = '0123456789abcdef0123456789abcdef';

  async function sendOne(cluster: ScriptedProduceCluster) {
    const producer = new Producer(
      cluster as unknown as Cluster,
      createLogger(logLevel.NOTHING, () => () => undefined),
      1_000,
      { lingerMs: 0, idempotent: false },
    );
    await producer.connect();
    const sent = producer.send({ topic: 'events', acks: 1, messages: [{ value: 'v' }] });
    await until(() => cluster.produces.length === 1);
    const call = cluster.produces[0]!;
    cluster.answerAll();
    const metadata = await sent;
    await producer.disconnect();
    return { call, metadata };
  }

  it('names the topic by its id when the metadata gave one and the broker serves v13, and reads the answer by id', async () => {
    const { call, metadata } = await sendOne(
      new ScriptedProduceCluster(1, { topicIds: new Map([['events', eventsId]]) }),
    );
    expect([call.version, call.topic]).toEqual([13, eventsId]);
    expect(metadata).toEqual([expect.objectContaining({ topicName: 'events', partition: 0, errorCode: 0 })]);
  });

  it('names the topic by name when its id is not known, or the broker serves no v13', async () => {
    const withoutId = await sendOne(new ScriptedProduceCluster(1));
    expect([withoutId.call.version, withoutId.call.topic]).toEqual([8, 'events']);
    const olderBroker = await sendOne(
      new ScriptedProduceCluster(1, { topicIds: new Map([['events', eventsId]]), produceVersionMax: 12 }),
    );
    expect([olderBroker.call.version, olderBroker.call.topic]).toEqual([12, 'events']);
    expect(olderBroker.metadata).toEqual([expect.objectContaining({ topicName: 'events', errorCode: 0 })]);
  });
});

describe('Sender: batch buffers', () => {
  it("encodes a batch into an answered batch's buffer, never into one still in flight", async () => {
    const cluster = new ScriptedProduceCluster(1);
    const producer = new Producer(
      cluster as unknown as Cluster,
      createLogger(logLevel.NOTHING, () => () => undefined),
      1_000,
      { lingerMs: 0 },
    );
    await producer.connect();
    // 30 records of 1,000 bytes: a batch of about 30 KB, large enough to be pooled.
    const messages = (letter: string) =>
      Array.from({ length: 30 }, (_, index) => ({ value: `${letter}${index}`.padEnd(1_000, letter) }));
    const first = producer.send({ topic: 'events', acks: 1, messages: messages('a') });
    await until(() => cluster.produces.length === 1);
    const firstBatch = cluster.produces[0]!.partitions[0]!.records;
    const firstBytes = Buffer.from(firstBatch);
    const second = producer.send({ topic: 'events', acks: 1, messages: messages('b') });
    await until(() => cluster.produces.length === 2);
    const secondBatch = cluster.produces[1]!.partitions[0]!.records;
    // The first is in flight (not answered): the second has a buffer of its own.
    expect(secondBatch.buffer).not.toBe(firstBatch.buffer);
    expect(firstBatch.equals(firstBytes)).toBe(true);
    cluster.answerAll();
    await Promise.all([first, second]);

    const third = producer.send({ topic: 'events', acks: 1, messages: messages('c') });
    await until(() => cluster.produces.length === 1);
    const thirdCall = cluster.produces[0]!;
    // Both answered: the third batch is written into one of their buffers, whole and correct.
    expect([firstBatch.buffer, secondBatch.buffer]).toContain(thirdCall.partitions[0]!.records.buffer);
    expect(thirdCall.partitions[0]!.values).toEqual(messages('c').map((message) => message.value));
    cluster.answerAll();
    await third;
    await producer.disconnect();
  });
});

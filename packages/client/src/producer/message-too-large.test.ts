// Batches refused MESSAGE_TOO_LARGE, over a scripted leader that checks max.message.bytes and
// sequences as Kafka's does: a batch of several records is split and sent again (Java's
// splitAndReenqueue), its topic's batches shrink to what the leader takes, the partition's later
// batches (refused out of order meanwhile) follow in order with their sequences, and a record too
// large on its own fails alone.

import { ErrorCode } from '@gregor/protocol';
import { describe, expect, it } from 'vitest';
import type { Cluster } from '../cluster.js';
import { KafkaJSSendError } from '../errors.js';
import { createLogger, logLevel } from '../logger.js';
import { SizeLimitedProduceCluster } from '../testing/size-limited-produce-cluster.js';
import { Producer, type ProducerConfig } from './producer.js';

const maxMessageBytes = 10_000;

function valuesOf(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, index) => `${prefix}-${index}-`.padEnd(1_024, 'x'));
}

async function setUp(config: ProducerConfig) {
  const cluster = new SizeLimitedProduceCluster(1, maxMessageBytes);
  const producer = new Producer(
    cluster as unknown as Cluster,
    createLogger(logLevel.NOTHING, () => () => undefined),
    1_000,
    { lingerMs: 0, ...config },
  );
  await producer.connect();
  return { cluster, producer };
}

function refusals(cluster: SizeLimitedProduceCluster, errorCode: number): number {
  return cluster.answers.filter((answer) => answer.errorCode === errorCode).length;
}

describe('a batch refused MESSAGE_TOO_LARGE', () => {
  it('is split and sent again in order, the later in-flight batch keeping its sequences (idempotent)', async () => {
    // Three batches of 47, 47 and 7 records of 1 KiB in flight at once: the first two are too large,
    // the third fits but is out of order behind them.
    const { cluster, producer } = await setUp({ batchSize: 50_000 });
    // The leader knows the producer once it acknowledged a batch of it (before that it would take
    // any sequence, and the producer sends one batch at a time).
    await producer.send({ topic: 'events', messages: [{ value: 'first' }] });
    const values = valuesOf('a', 101);
    const metadata = await producer.send({ topic: 'events', messages: values.map((value) => ({ value })) });

    expect(metadata).toEqual([expect.objectContaining({ partition: 0, errorCode: 0, baseOffset: '1' })]);
    const log = cluster.log(0);
    expect(log.map((record) => record.value)).toEqual(['first', ...values]);
    // One producer id, sequences 0..101 without a gap: nothing was renumbered or written twice.
    expect(new Set(log.map((record) => record.producerId))).toEqual(new Set([log[0]!.producerId]));
    expect(log.map((record) => record.sequence)).toEqual(log.map((_, index) => index));
    expect(refusals(cluster, ErrorCode.MESSAGE_TOO_LARGE)).toBeGreaterThan(0);
    expect(refusals(cluster, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)).toBeGreaterThan(0);
    const appended = cluster.answers.filter((answer) => answer.errorCode === ErrorCode.NONE);
    expect(Math.max(...appended.map((answer) => answer.bytes))).toBeLessThanOrEqual(maxMessageBytes);

    // The topic's limit is learned: a second send's batches all fit.
    const answeredBefore = cluster.answers.length;
    const more = valuesOf('b', 60);
    await producer.send({ topic: 'events', messages: more.map((value) => ({ value })) });
    const answers = cluster.answers.slice(answeredBefore);
    expect(answers.filter((answer) => answer.errorCode !== ErrorCode.NONE)).toEqual([]);
    expect(log.map((record) => record.value)).toEqual(['first', ...values, ...more]);
    await producer.disconnect();
  });

  it('is split to what the topic takes from the default batchSize, several sends in flight (idempotent)', async () => {
    const { cluster, producer } = await setUp({});
    const sends = Array.from({ length: 5 }, (_, index) => valuesOf(`s${index}`, 40));
    const results = await Promise.all(
      sends.map((values) => producer.send({ topic: 'events', messages: values.map((value) => ({ value })) })),
    );
    expect(results.map((metadata) => metadata[0]!.errorCode)).toEqual([0, 0, 0, 0, 0]);
    const log = cluster.log(0);
    expect(log.map((record) => record.value)).toEqual(sends.flat());
    expect(log.map((record) => record.sequence)).toEqual(sends.flat().map((_, index) => index));
    // Each send's baseOffset is where its first record is.
    expect(results.map((metadata) => metadata[0]!.baseOffset)).toEqual(['0', '40', '80', '120', '160']);
    await producer.disconnect();
  });

  it('sends one batch at a time to a partition until its leader acknowledged one of the producer', async () => {
    // The leader takes any sequence from a producer it does not know (KIP-360): had the second batch
    // gone with the first, it would be written ahead of the first one's pieces.
    const { cluster, producer } = await setUp({ batchSize: 50_000 });
    const values = valuesOf('a', 101);
    await producer.send({ topic: 'events', messages: values.map((value) => ({ value })) });
    const log = cluster.log(0);
    expect(log.map((record) => record.value)).toEqual(values);
    expect(log.map((record) => record.sequence)).toEqual(values.map((_, index) => index));
    expect(refusals(cluster, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER)).toBe(0);
    await producer.disconnect();
  });

  it('is split and sent again in order by a producer that is not idempotent, one request in flight', async () => {
    // Without sequences only one batch in flight keeps the order through a retry (Java's advice for
    // max.in.flight.requests.per.connection too).
    const { cluster, producer } = await setUp({
      idempotent: false,
      maxInFlightRequests: 1,
      batchSize: 50_000,
    });
    const values = valuesOf('a', 101);
    await producer.send({ topic: 'events', messages: values.map((value) => ({ value })) });
    const log = cluster.log(0);
    expect(log.map((record) => record.value)).toEqual(values);
    expect(log.every((record) => record.producerId === -1)).toBe(true);
    expect(refusals(cluster, ErrorCode.MESSAGE_TOO_LARGE)).toBeGreaterThan(0);
    await producer.disconnect();
  });

  it('is split and every record written once by a producer that is not idempotent, five in flight', async () => {
    // Batches that fit and were in flight behind a refused one are written before its pieces: the
    // order is not kept without sequences, but nothing is lost or written twice.
    const { cluster, producer } = await setUp({ idempotent: false, batchSize: 50_000 });
    const values = valuesOf('a', 101);
    await producer.send({ topic: 'events', messages: values.map((value) => ({ value })) });
    const written = cluster.log(0).map((record) => record.value);
    expect(written).toHaveLength(values.length);
    expect([...written].sort()).toEqual([...values].sort());
    await producer.disconnect();
  });

  it('fails a record too large on its own alone, and the rest of its send is written once, in order', async () => {
    for (const idempotent of [true, false]) {
      const { cluster, producer } = await setUp({ idempotent });
      const before = valuesOf('before', 5);
      const after = valuesOf('after', 5);
      const huge = 'h'.repeat(20_000);
      const sent = producer.send({
        topic: 'events',
        messages: [...before, huge, ...after].map((value) => ({ value })),
      });
      const error = await sent.catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(KafkaJSSendError);
      const sendError = error as KafkaJSSendError;
      expect(sendError.undelivered).toEqual([
        expect.objectContaining({ topic: 'events', partition: 0, count: 1 }),
      ]);
      expect(sendError.undelivered[0]!.error.message).toMatch(/MESSAGE_TOO_LARGE/);
      expect(cluster.log(0).map((record) => record.value)).toEqual([...before, ...after]);
      await producer.disconnect();
    }
  });

  it('is split inside a transaction, which then commits every record once, in order', async () => {
    const { cluster, producer } = await setUp({ transactionalId: 'payments', batchSize: 50_000 });
    const transaction = await producer.transaction();
    const values = valuesOf('t', 101);
    await transaction.send({ topic: 'events', messages: values.map((value) => ({ value })) });
    await transaction.commit();
    const log = cluster.log(0);
    expect(log.map((record) => record.value)).toEqual(values);
    expect(log.map((record) => record.sequence)).toEqual(values.map((_, index) => index));
    expect(refusals(cluster, ErrorCode.MESSAGE_TOO_LARGE)).toBeGreaterThan(0);
    await producer.disconnect();
  });
});

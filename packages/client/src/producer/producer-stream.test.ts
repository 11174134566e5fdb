// producer.stream() over a scripted cluster whose Produce answers wait for the test: write() turns
// false once the buffer memory is full and 'drain' follows the answers; records reach the wire in
// the order written; 'finish' waits for every acknowledgement; a refused record fails the stream.

import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { waitFor } from '@gregor/ground/testing';
import { ErrorCode } from '@gregor/protocol';
import { describe, expect, it } from 'vitest';
import type { Cluster } from '../cluster.js';
import { KafkaJSSendError } from '../errors.js';
import { createLogger, logLevel } from '../logger.js';
import { ScriptedProduceCluster } from '../testing/scripted-produce-cluster.js';
import { Producer, type ProducerConfig } from './producer.js';

async function until(condition: () => boolean): Promise<void> {
  await waitFor(String(condition), condition, { timeoutMs: 2_000, intervalMs: 1 });
}

async function setUp(partitionCount: number, config: ProducerConfig) {
  const cluster = new ScriptedProduceCluster(partitionCount);
  const producer = new Producer(
    cluster as unknown as Cluster,
    createLogger(logLevel.NOTHING, () => () => undefined),
    1_000,
    config,
  );
  await producer.connect();
  return { cluster, producer };
}

/** A value of 100 bytes: each record takes 121 bytes of buffer memory (recordSizeEstimate). */
const value = (index: number) => `v${index}`.padEnd(100, '.');

describe('producer.stream()', () => {
  it('returns false from write() once the buffer memory is full and the Writable holds highWaterMark items, then drains after the answers', async () => {
    // 1,000 bytes of buffer memory: 8 records of 121 bytes fit, the 9th waits for memory.
    const { cluster, producer } = await setUp(1, { bufferMemory: 1_000, batchSize: 16_384, lingerMs: 0 });
    const stream = producer.stream({ topic: 'events', highWaterMark: 3 });
    // Until the topic's metadata is in, writes wait in the Writable: a flush of nothing waits for it.
    await stream.flush();
    const returned: boolean[] = [];
    for (let index = 0; index < 11; index++) returned.push(stream.write({ value: value(index) }));
    // 8 buffered; the 9th waits for memory with the 10th and 11th behind it: 3 items in the Writable.
    expect(returned).toEqual([true, true, true, true, true, true, true, true, true, true, false]);
    await until(() => cluster.produces.length > 0);
    expect(producer.bufferedBytes).toBeLessThanOrEqual(1_000);
    expect(stream.writableLength).toBe(3);
    expect(stream.writableNeedDrain).toBe(true);
    let drained = false;
    stream.once('drain', () => {
      drained = true;
    });
    // Nothing drains while every buffered record is unanswered.
    await until(() => cluster.produces.length === 1);
    expect(drained).toBe(false);
    expect(stream.writableLength).toBe(3);
    cluster.answerAll();
    await until(() => drained);
    expect(stream.writableLength).toBe(0);
    const closing = stream.close();
    let closed = false;
    void closing.then(() => {
      closed = true;
    });
    await until(() => cluster.produces.length === 1);
    // 'finish' waits for the last records' acknowledgement.
    expect(closed).toBe(false);
    expect(stream.acknowledged).toBe(8);
    cluster.answerAll();
    await closing;
    expect(stream.acknowledged).toBe(11);
    expect(stream.unacknowledged).toBe(0);
    await producer.disconnect();
  });

  it('never holds more than bufferMemory bytes, and pipeline() puts every record on the wire in the order written per partition', async () => {
    const { cluster, producer } = await setUp(3, { bufferMemory: 2_000, batchSize: 600, lingerMs: 0 });
    const records = 300;
    async function* source() {
      for (let index = 0; index < records; index++) yield { value: value(index), partition: index % 3 };
    }
    let maxBufferedBytes = 0;
    const answering = setInterval(() => {
      maxBufferedBytes = Math.max(maxBufferedBytes, producer.bufferedBytes);
      cluster.answerAll();
    }, 1);
    const stream = producer.stream({ topic: 'events' });
    try {
      await pipeline(Readable.from(source()), stream);
    } finally {
      clearInterval(answering);
    }
    expect(maxBufferedBytes).toBeGreaterThan(0);
    expect(maxBufferedBytes).toBeLessThanOrEqual(2_000);
    expect(stream.acknowledged).toBe(records);
    await producer.disconnect();
  });

  it('keeps the written order on the wire', async () => {
    const { cluster, producer } = await setUp(2, { bufferMemory: 1_500, batchSize: 500, lingerMs: 0 });
    const seen = new Map<number, string[]>([
      [0, []],
      [1, []],
    ]);
    const answering = setInterval(() => {
      for (const call of cluster.produces.splice(0)) {
        for (const { partition, values } of call.partitions) seen.get(partition)!.push(...values);
        call.answer();
      }
    }, 1);
    const stream = producer.stream({ topic: 'events' });
    async function* source() {
      for (let index = 0; index < 200; index++) yield { value: value(index), partition: index % 2 };
    }
    try {
      await pipeline(Readable.from(source()), stream);
    } finally {
      clearInterval(answering);
    }
    for (const partition of [0, 1]) {
      const expected = Array.from({ length: 100 }, (_, index) => value(index * 2 + partition));
      expect(seen.get(partition)).toEqual(expected);
    }
    await producer.disconnect();
  });

  it('flush() resolves only once everything written before it is acknowledged', async () => {
    const { cluster, producer } = await setUp(1, { lingerMs: 60_000 });
    const stream = producer.stream({ topic: 'events' });
    stream.write({ value: 'a' });
    stream.write({ value: 'b', key: 'k', headers: { h: 'x' }, timestamp: 1_000 });
    let flushed = false;
    const flushing = stream.flush().then(() => {
      flushed = true;
    });
    // lingerMs is a minute: only the flush sends the batch.
    await until(() => cluster.produces.length === 1);
    expect(cluster.produces[0]!.partitions[0]!.values).toEqual(['a', 'b']);
    expect(flushed).toBe(false);
    cluster.answerAll();
    await flushing;
    expect(stream.acknowledged).toBe(2);
    await stream.close();
    await producer.disconnect();
  });

  it('fails the stream (and the pipeline) with KafkaJSSendError when a record is not acknowledged', async () => {
    const { cluster, producer } = await setUp(1, { lingerMs: 0, idempotent: false });
    const stream = producer.stream({ topic: 'events', acks: 1 });
    async function* source() {
      for (let index = 0; index < 5; index++) yield { value: value(index) };
    }
    const answering = setInterval(() => {
      for (const call of cluster.produces.splice(0)) call.answer(ErrorCode.CORRUPT_MESSAGE);
    }, 1);
    try {
      const failure = await pipeline(Readable.from(source()), stream).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(KafkaJSSendError);
      expect((failure as KafkaJSSendError).undelivered[0]).toMatchObject({ topic: 'events', partition: 0 });
      expect(stream.acknowledged).toBe(0);
    } finally {
      clearInterval(answering);
    }
    await producer.disconnect();
  });

  it('refuses a transactional producer and a partition the topic lacks', async () => {
    const { producer } = await setUp(1, {});
    const stream = producer.stream({ topic: 'events' });
    stream.write({ value: 'x', partition: 4 });
    const failure = await stream.close().catch((error: unknown) => error);
    expect((failure as Error).message).toContain('partition 4 of events does not exist');
    await producer.disconnect();
    const transactional = await setUp(1, { transactionalId: 't' });
    expect(() => transactional.producer.stream({ topic: 'events' })).toThrow(/transaction/);
  });
});

// The streaming API against three Gregor broker processes: 50,000 keyed records piped through
// pipeline(Readable.from(generator), producer.stream()) with a buffer small enough that the
// producer's back-pressure holds the generator back, then read back with consumer.batches(): every
// record once, each partition's records in the order written, offsets without a gap.

import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Kafka } from '../kafka.js';
import { logLevel } from '../logger.js';
import { BrokerProcesses } from '../testing/broker-processes.js';

const topic = 'streamed';
const partitionCount = 3;
const recordCount = 50_000;
const keyCount = 64;

let brokers: BrokerProcesses;

beforeAll(async () => {
  brokers = await BrokerProcesses.start(3);
});
afterAll(() => brokers?.stop());

it('pipes 50,000 records into producer.stream() and reads each back once, in order per partition, with consumer.batches()', async () => {
  const kafka = new Kafka({
    clientId: 'streaming-it',
    brokers: brokers.bootstrapServers,
    logLevel: logLevel.NOTHING,
    retry: { initialRetryTime: 100, retries: 10 },
  });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: partitionCount, replicationFactor: 3 }] });
  await admin.disconnect();

  // 256 KiB of buffer memory for ~6 MiB of records: the generator is held back many times over.
  const producer = kafka.producer({ bufferMemory: 256 * 1024, batchSize: 32 * 1024, lingerMs: 2 });
  await producer.connect();
  let generated = 0;
  let maxBufferedBytes = 0;
  async function* records() {
    for (let index = 0; index < recordCount; index++) {
      generated++;
      maxBufferedBytes = Math.max(maxBufferedBytes, producer.bufferedBytes);
      yield { key: `key-${index % keyCount}`, value: `${index}`.padStart(100, '0') };
    }
  }
  const stream = producer.stream({ topic });
  let drains = 0;
  stream.on('drain', () => drains++);
  await pipeline(Readable.from(records()), stream);
  expect(generated).toBe(recordCount);
  expect(stream.acknowledged).toBe(recordCount);
  expect(stream.unacknowledged).toBe(0);
  expect(maxBufferedBytes).toBeLessThanOrEqual(256 * 1024);
  // write() returned false (the buffer was full) and the pipeline waited for 'drain'.
  expect(drains).toBeGreaterThan(0);
  await producer.disconnect();

  // Several Fetches per partition, so that more batches than the queue holds go through it: with
  // the default (a partition may fill a 10 MiB Fetch) each partition's ~1.8 MB comes in one.
  const consumer = kafka.consumer({
    groupId: 'streaming-it',
    maxWaitTimeInMs: 200,
    maxBytesPerPartition: 256 * 1024,
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seen = new Set<number>();
  const lastIndex = new Map<number, number>();
  const nextOffset = new Map<number, bigint>();
  const keysOf = new Map<string, number>();
  let duplicates = 0;
  let outOfOrder = 0;
  let gaps = 0;
  let batchCount = 0;
  for await (const batch of consumer.batches({ maxBufferedBatches: 4 })) {
    batchCount++;
    expect(batch.topic).toBe(topic);
    for (const message of batch.messages) {
      const index = Number(message.value!.toString());
      if (seen.has(index)) duplicates++;
      seen.add(index);
      if (index <= (lastIndex.get(batch.partition) ?? -1)) outOfOrder++;
      lastIndex.set(batch.partition, index);
      if (BigInt(message.offset) !== (nextOffset.get(batch.partition) ?? 0n)) gaps++;
      nextOffset.set(batch.partition, BigInt(message.offset) + 1n);
      // One key, one partition (the murmur2 partitioner).
      const key = message.key!.toString();
      if (keysOf.has(key)) expect(keysOf.get(key)).toBe(batch.partition);
      keysOf.set(key, batch.partition);
    }
    expect(BigInt(batch.offsetLag())).toBe(BigInt(batch.highWatermark) - 1n - BigInt(batch.lastOffset()));
    if (seen.size === recordCount) break;
  }
  await consumer.disconnect();
  expect({ seen: seen.size, duplicates, outOfOrder, gaps }).toEqual({
    seen: recordCount,
    duplicates: 0,
    outOfOrder: 0,
    gaps: 0,
  });
  // Each partition's offsets run from 0 to its end: the three ends add up to every record.
  expect([...nextOffset.values()].reduce((sum, end) => sum + end, 0n)).toBe(BigInt(recordCount));
  expect(nextOffset.size).toBe(partitionCount);
  expect(batchCount).toBeGreaterThan(partitionCount);
});

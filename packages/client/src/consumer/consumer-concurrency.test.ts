// kafkajs's partitionsConsumedConcurrently over a scripted cluster (four partitions of `orders`,
// 0 and 2 led by broker 1, 1 and 3 by broker 2; every Fetch brings three records per partition):
// at most that many partitions are handed on at once, counted across both leaders' answers, never
// one partition twice at once, and each partition's records in offset order without a gap.

import { waitFor } from '@gregor/ground/testing';
import { afterEach, describe, expect, it } from 'vitest';
import type { Cluster } from '../cluster.js';
import { createLogger, logLevel } from '../logger.js';
import { sleep } from '../retry.js';
import {
  endlessFetchAnswer,
  type ScriptedFetchBody,
  ScriptedGroupCluster,
} from '../testing/scripted-group-cluster.js';
import { Consumer, type ConsumerRunConfig } from './consumer.js';

const partitions = [0, 1, 2, 3];
const recordsPerBatch = 3;

/** Coordinator on node 1; `orders`' even partitions led by node 1, odd ones by node 2. */
class TwoLeaders extends ScriptedGroupCluster {
  constructor() {
    super(new Map([['orders', partitions]]));
  }
  override leaderFor(_topic: string, partition: number): number {
    return (partition % 2) + 1;
  }
  protected fetch(body: ScriptedFetchBody): unknown {
    return endlessFetchAnswer(body, recordsPerBatch, 100n);
  }
}

let consumer: Consumer | undefined;
afterEach(async () => {
  await consumer?.disconnect();
  consumer = undefined;
});

/** Runs a consumer until every partition has had `perPartition` records; what the handlers saw. */
async function consume(
  config: Pick<ConsumerRunConfig, 'partitionsConsumedConcurrently'>,
  style: 'eachMessage' | 'eachBatch',
  perPartition = 12,
) {
  consumer = new Consumer(
    new TwoLeaders() as unknown as Cluster,
    createLogger(logLevel.NOTHING, () => () => undefined),
    { groupId: 'readers', maxWaitTimeInMs: 10, heartbeatInterval: 50 },
  );
  const busy = new Set<number>();
  let inFlightMax = 0;
  let samePartitionTwice = false;
  const offsets = new Map<number, number[]>(partitions.map((partition) => [partition, []]));
  const handle = async (partition: number, read: string[]) => {
    if (busy.has(partition)) samePartitionTwice = true;
    busy.add(partition);
    inFlightMax = Math.max(inFlightMax, busy.size);
    // Not done at once: the others handed on meanwhile are what the limit counts.
    await sleep(1);
    offsets.get(partition)!.push(...read.map(Number));
    busy.delete(partition);
  };
  await consumer.connect();
  await consumer.subscribe({ topic: 'orders' });
  await consumer.run({
    ...config,
    ...(style === 'eachMessage'
      ? { eachMessage: async ({ partition, message }) => handle(partition, [message.offset]) }
      : {
          eachBatch: async ({ batch }) =>
            handle(
              batch.partition,
              batch.messages.map((message) => message.offset),
            ),
        }),
  });
  await waitFor('every partition read', () =>
    [...offsets.values()].every((read) => read.length >= perPartition),
  );
  await consumer.disconnect();
  consumer = undefined;
  return { inFlightMax, samePartitionTwice, offsets };
}

describe('partitionsConsumedConcurrently', () => {
  it('hands on up to that many partitions at once across leaders, each partition in order', async () => {
    const { inFlightMax, samePartitionTwice, offsets } = await consume(
      { partitionsConsumedConcurrently: 3 },
      'eachMessage',
    );
    expect(inFlightMax).toBe(3);
    expect(samePartitionTwice).toBe(false);
    for (const read of offsets.values()) expect(read).toEqual(read.map((_, index) => index));
  });

  it('by default hands on one partition at a time', async () => {
    const { inFlightMax, offsets } = await consume({}, 'eachMessage');
    expect(inFlightMax).toBe(1);
    for (const read of offsets.values()) expect(read).toEqual(read.map((_, index) => index));
  });

  it('counts eachBatch calls the same way', async () => {
    const { inFlightMax, samePartitionTwice, offsets } = await consume(
      { partitionsConsumedConcurrently: 2 },
      'eachBatch',
    );
    expect(inFlightMax).toBe(2);
    expect(samePartitionTwice).toBe(false);
    for (const read of offsets.values()) expect(read).toEqual(read.map((_, index) => index));
  });

  it('more than the partitions hands on all of them at once', async () => {
    const { inFlightMax } = await consume({ partitionsConsumedConcurrently: 10 }, 'eachMessage');
    expect(inFlightMax).toBe(partitions.length);
  });

  it('refuses a value below 1', async () => {
    consumer = new Consumer(
      new TwoLeaders() as unknown as Cluster,
      createLogger(logLevel.NOTHING, () => () => undefined),
      { groupId: 'readers' },
    );
    await consumer.connect();
    await consumer.subscribe({ topic: 'orders' });
    await expect(
      consumer.run({ partitionsConsumedConcurrently: 0, eachMessage: async () => undefined }),
    ).rejects.toThrow(/partitionsConsumedConcurrently/);
  });
});

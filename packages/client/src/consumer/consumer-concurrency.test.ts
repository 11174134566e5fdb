// kafkajs's partitionsConsumedConcurrently over a scripted cluster (four partitions of `orders`,
// 0 and 2 led by broker 1, 1 and 3 by broker 2; every Fetch brings three records per partition):
// at most that many partitions are handed on at once, counted across both leaders' answers, never
// one partition twice at once, and each partition's records in offset order without a gap.

import { waitFor } from '@gregor/ground/testing';
import { ApiKey, encodeRecordBatch } from '@gregor/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import type { Cluster } from '../cluster.js';
import { createLogger, logLevel } from '../logger.js';
import { resolveRetry, sleep } from '../retry.js';
import { Consumer, type ConsumerRunConfig } from './consumer.js';
import { encodeAssignment } from './consumer-protocol.js';

const partitions = [0, 1, 2, 3];
const recordsPerBatch = 3;

interface FetchBody {
  readonly topics: { topic: string; partitions: { partition: number; fetchOffset: bigint }[] }[];
}

class TwoLeaders {
  readonly retry = resolveRetry({ retries: 2, initialRetryTime: 1, maxRetryTime: 2 });
  async connect(): Promise<void> {}
  disconnect(): void {}
  async ensureTopics(): Promise<void> {}
  addTargetTopics(): void {}
  async refreshMetadata(): Promise<void> {}
  async findCoordinator(): Promise<number> {
    return 1;
  }
  leaderFor(_topic: string, partition: number): number {
    return (partition % 2) + 1;
  }
  partitionCount(): number {
    return partitions.length;
  }
  sendVersioned(_nodeId: number, apiKey: number, body: (version: number) => Record<string, unknown>) {
    return this.answer(apiKey, body(apiKey === ApiKey.JoinGroup ? 6 : 4));
  }
  send(_nodeId: number, apiKey: number, body: Record<string, unknown>) {
    return this.answer(apiKey, body);
  }
  private async answer(apiKey: number, body: Record<string, unknown>): Promise<unknown> {
    switch (apiKey) {
      case ApiKey.JoinGroup:
        return {
          errorCode: 0,
          generationId: 1,
          protocolName: 'RoundRobinAssigner',
          leader: 'other-member',
          memberId: 'member-1',
          members: [],
        };
      case ApiKey.SyncGroup:
        return { errorCode: 0, assignment: encodeAssignment(new Map([['orders', partitions]])) };
      case ApiKey.OffsetFetch:
        return {
          errorCode: 0,
          topics: [
            {
              name: 'orders',
              partitions: partitions.map((partitionIndex) => ({
                partitionIndex,
                committedOffset: 0n,
                errorCode: 0,
              })),
            },
          ],
        };
      case ApiKey.Fetch:
        await sleep(2);
        return this.fetch(body as unknown as FetchBody);
      case ApiKey.Heartbeat:
        return { errorCode: 0 };
      case ApiKey.OffsetCommit:
        return { topics: [] };
      case ApiKey.LeaveGroup:
        return { errorCode: 0, members: [] };
      default:
        throw new Error(`unexpected api ${apiKey}`);
    }
  }
  private fetch(body: FetchBody): unknown {
    return {
      throttleTimeMs: 0,
      errorCode: 0,
      sessionId: 0,
      responses: body.topics.map((topic) => ({
        topic: topic.topic,
        partitions: topic.partitions.map(({ partition, fetchOffset }) => ({
          partitionIndex: partition,
          errorCode: 0,
          highWatermark: fetchOffset + 100n,
          abortedTransactions: null,
          records: encodeRecordBatch({
            baseOffset: Number(fetchOffset),
            records: Array.from({ length: recordsPerBatch }, (_, index) => ({
              key: null,
              value: Buffer.from(`${partition}:${Number(fetchOffset) + index}`),
              headers: [],
              timestamp: 1_000,
            })),
          }),
        })),
      })),
    };
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

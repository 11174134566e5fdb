// The admin's group offsets, configs and partitions, and the consumer's seek by timestamp, against
// a real three-node Gregor cluster inside the test process. Each case changes something through the
// client and checks it through another path: a consumer that starts where offsets were set,
// DescribeConfigs after IncrementalAlterConfigs, metadata after CreatePartitions.

import { waitFor } from '@gregor/ground/testing';
import { startCluster, type TestCluster } from '@gregor/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Admin } from '../admin.js';
import type { Consumer } from '../consumer/consumer.js';
import { Kafka } from '../kafka.js';
import { logLevel } from '../logger.js';

let cluster: TestCluster;
let kafka: Kafka;
let admin: Admin;

beforeAll(async () => {
  cluster = await startCluster({ brokers: 3 });
  kafka = new Kafka({
    clientId: 'admin-test',
    brokers: cluster.bootstrapServers,
    logLevel: process.env.CLIENT_LOG ? logLevel.INFO : logLevel.NOTHING,
    retry: { initialRetryTime: 100, retries: 8 },
  });
  admin = kafka.admin();
  await admin.connect();
});
afterAll(async () => {
  await admin?.disconnect();
  await cluster?.stop();
});

const fast = { maxWaitTimeInMs: 200, heartbeatInterval: 300, sessionTimeout: 45_000 };

/** Records with the given timestamps, to one partition each: [partition, [timestamps]]. */
async function produceAt(topic: string, records: readonly [number, readonly number[]][]): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  for (const [partition, timestamps] of records) {
    await producer.send({
      topic,
      messages: timestamps.map((timestamp) => ({
        partition,
        value: `p${partition}@${timestamp}`,
        timestamp,
      })),
    });
  }
  await producer.disconnect();
}

/** Runs a consumer of `topic` in `groupId`; `seen` gets `partition:offset` of each record. */
async function startConsumer(groupId: string, topic: string, seen: string[]): Promise<Consumer> {
  const consumer = kafka.consumer({ groupId, ...fast });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      seen.push(`${partition}:${message.offset}`);
    },
  });
  return consumer;
}

describe('group offsets', () => {
  it('fetches, sets and resets the offsets of a group with no running member', async () => {
    await admin.createTopics({ topics: [{ topic: 'clicks', numPartitions: 2, replicationFactor: 3 }] });
    await admin.createTopics({ topics: [{ topic: 'untouched', numPartitions: 1, replicationFactor: 3 }] });
    await produceAt('clicks', [
      [0, [1_000, 2_000, 3_000, 4_000]],
      [1, [1_000, 2_000]],
    ]);
    await produceAt('untouched', [[0, [1_000, 2_000, 3_000]]]);
    expect(await admin.fetchTopicOffsetsByTimestamp('clicks', 2_500)).toEqual([
      { partition: 0, offset: '2' },
      { partition: 1, offset: '2' },
    ]);

    const seen: string[] = [];
    const reader = await startConsumer('offsets-group', 'clicks', seen);
    await waitFor('the group read everything', () => seen.length === 6);
    await reader.disconnect(); // commits what it read, then leaves

    const committed = [
      {
        topic: 'clicks',
        partitions: [
          { partition: 0, offset: '4', metadata: null },
          { partition: 1, offset: '2', metadata: null },
        ],
      },
    ];
    expect(await admin.fetchOffsets({ groupId: 'offsets-group', topics: ['clicks'] })).toEqual(committed);
    // Without topics: every topic the group committed.
    expect(await admin.fetchOffsets({ groupId: 'offsets-group' })).toEqual(committed);
    // A topic the group never read: -1, or the partition's end with resolveOffsets.
    expect(await admin.fetchOffsets({ groupId: 'offsets-group', topics: ['untouched'] })).toEqual([
      { topic: 'untouched', partitions: [{ partition: 0, offset: '-1', metadata: null }] },
    ]);
    expect(
      await admin.fetchOffsets({ groupId: 'offsets-group', topics: ['untouched'], resolveOffsets: true }),
    ).toEqual([{ topic: 'untouched', partitions: [{ partition: 0, offset: '3', metadata: null }] }]);

    await admin.setOffsets({
      groupId: 'offsets-group',
      topic: 'clicks',
      partitions: [{ partition: 0, offset: '1' }],
    });
    const offsetsOf = async () =>
      (await admin.fetchOffsets({ groupId: 'offsets-group', topics: ['clicks'] }))[0]!.partitions.map(
        (partition) => partition.offset,
      );
    expect(await offsetsOf()).toEqual(['1', '2']);
    // A member that joins now starts where the offsets were set.
    const again: string[] = [];
    const resumed = await startConsumer('offsets-group', 'clicks', again);
    await waitFor('the member read from the set offset', () => again.length === 3);
    // While it runs, the group's offsets are its own.
    await expect(
      admin.setOffsets({
        groupId: 'offsets-group',
        topic: 'clicks',
        partitions: [{ partition: 0, offset: '0' }],
      }),
    ).rejects.toThrow('The consumer group offsets-group must have no running instances');
    await expect(admin.resetOffsets({ groupId: 'offsets-group', topic: 'clicks' })).rejects.toThrow(
      /must have no running instances/,
    );
    await resumed.disconnect();
    expect(again.sort()).toEqual(['0:1', '0:2', '0:3']);

    await admin.resetOffsets({ groupId: 'offsets-group', topic: 'clicks', earliest: true });
    expect(await offsetsOf()).toEqual(['0', '0']);
    await admin.setOffsets({
      groupId: 'offsets-group',
      topic: 'clicks',
      partitions: [
        { partition: 0, offset: '-1' },
        { partition: 1, offset: '1' },
      ],
    });
    expect(await offsetsOf()).toEqual(['4', '1']);
    await admin.resetOffsets({ groupId: 'offsets-group', topic: 'clicks', earliest: false });
    expect(await offsetsOf()).toEqual(['4', '2']);
  });

  it('seeks a running consumer to the first record at or after a timestamp, or to the end past them all', async () => {
    await admin.createTopics({ topics: [{ topic: 'timed', numPartitions: 1, replicationFactor: 3 }] });
    await produceAt('timed', [[0, [1_000, 2_000, 3_000, 4_000]]]);
    const seen: string[] = [];
    const consumer = await startConsumer('seek-group', 'timed', seen);
    await waitFor('read everything once', () => seen.length === 4);
    consumer.seek({ topic: 'timed', partition: 0, timestamp: 2_500 });
    await waitFor('read again from the record at 3000', () => seen.length === 6);
    expect(seen).toEqual(['0:0', '0:1', '0:2', '0:3', '0:2', '0:3']);
    // Later than every record: the end. Whether the seek is looked up before or after the record at
    // 10000 is written, the next record handed on is that one (a failed lookup would start over at 0).
    consumer.seek({ topic: 'timed', partition: 0, timestamp: 9_999 });
    await produceAt('timed', [[0, [10_000]]]);
    await waitFor('read the new record', () => seen.length === 7);
    expect(seen[6]).toBe('0:4');
    await consumer.disconnect();
  });
});

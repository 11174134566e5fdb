// The admin's group offsets, configs and partitions, and the consumer's seek by timestamp, against
// a real three-node Gregor cluster inside the test process. Each case changes something through the
// client and checks it through another path: a consumer that starts where offsets were set,
// DescribeConfigs after IncrementalAlterConfigs, metadata after CreatePartitions.

import { waitFor } from '@gregor/ground/testing';
import { startCluster, type TestCluster } from '@gregor/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlterConfigOperations, ConfigResourceTypes, ConfigSource } from '../admin/configs.js';
import type { Admin } from '../admin.js';
import type { Consumer } from '../consumer/consumer.js';
import { KafkaJSDeleteGroupsError } from '../errors.js';
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
          { partition: 0, offset: '4', metadata: '' },
          { partition: 1, offset: '2', metadata: '' },
        ],
      },
    ];
    expect(await admin.fetchOffsets({ groupId: 'offsets-group', topics: ['clicks'] })).toEqual(committed);
    // Without topics: every topic the group committed.
    expect(await admin.fetchOffsets({ groupId: 'offsets-group' })).toEqual(committed);
    // A topic the group never read: -1, or the partition's end with resolveOffsets.
    expect(await admin.fetchOffsets({ groupId: 'offsets-group', topics: ['untouched'] })).toEqual([
      { topic: 'untouched', partitions: [{ partition: 0, offset: '-1', metadata: '' }] },
    ]);
    expect(
      await admin.fetchOffsets({ groupId: 'offsets-group', topics: ['untouched'], resolveOffsets: true }),
    ).toEqual([{ topic: 'untouched', partitions: [{ partition: 0, offset: '3', metadata: '' }] }]);

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
    await admin.createTopics({ topics: [{ topic: 'timed', numPartitions: 2, replicationFactor: 3 }] });
    await produceAt('timed', [
      [0, [1_000, 2_000, 3_000, 4_000]],
      [1, [1_000]],
    ]);
    const seen: string[] = [];
    const ofPartition = (partition: number) => seen.filter((entry) => entry.startsWith(`${partition}:`));
    const consumer = await startConsumer('seek-group', 'timed', seen);
    await waitFor('read everything once', () => seen.length === 5);
    consumer.seek({ topic: 'timed', partition: 0, timestamp: 2_500 });
    await waitFor('read again from the record at 3000', () => seen.length === 7);
    expect(ofPartition(0)).toEqual(['0:0', '0:1', '0:2', '0:3', '0:2', '0:3']);

    // Later than every record: the end. Pending seeks are applied together, in the order made, before
    // the next fetch: once partition 1's record comes again, partition 0's seek has been applied, and
    // only then is a record written after its end.
    consumer.seek({ topic: 'timed', partition: 0, timestamp: 9_999 });
    consumer.seek({ topic: 'timed', partition: 1, offset: '0' });
    await waitFor('partition 1 read again', () => ofPartition(1).length === 2);
    await produceAt('timed', [[0, [10_000]]]);
    await waitFor('read the new record', () => ofPartition(0).length >= 7);
    // Had the lookup found nothing and the position been reset, 0:0 would come again first.
    expect(ofPartition(0)[6]).toBe('0:4');
    await consumer.disconnect();
  });
});

describe('configs', () => {
  const describeTopic = async (topic: string, configNames: string[]) =>
    (
      await admin.describeConfigs({
        resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames }],
      })
    ).resources[0]!.configEntries.map(({ configName, configValue, configSource, isDefault }) => ({
      configName,
      configValue,
      configSource,
      isDefault,
    }));

  // A change is answered once the controller commits it; each broker applies it a moment later, and
  // describeConfigs may ask one that has not yet (as with Kafka): read until the change shows.
  const configsApplied = { timeout: 10_000, interval: 100 };

  it('describes topic configs, and alters only the ones named (IncrementalAlterConfigs)', async () => {
    await admin.createTopics({
      topics: [
        {
          topic: 'configured',
          numPartitions: 1,
          configEntries: [{ name: 'retention.ms', value: '3600000' }],
        },
      ],
    });
    await expect
      .poll(() => describeTopic('configured', ['cleanup.policy', 'retention.ms']), configsApplied)
      .toEqual([
        {
          configName: 'cleanup.policy',
          configValue: 'delete',
          configSource: ConfigSource.DEFAULT_CONFIG,
          isDefault: true,
        },
        {
          configName: 'retention.ms',
          configValue: '3600000',
          configSource: ConfigSource.TOPIC_CONFIG,
          isDefault: false,
        },
      ]);

    const altered = await admin.alterConfigs({
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: 'configured',
          configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
        },
      ],
    });
    expect(altered.resources).toEqual([
      {
        errorCode: 0,
        errorMessage: null,
        resourceName: 'configured',
        resourceType: ConfigResourceTypes.TOPIC,
      },
    ]);
    // retention.ms was not named, so it keeps its value.
    await expect
      .poll(() => describeTopic('configured', ['cleanup.policy', 'retention.ms']), configsApplied)
      .toEqual([
        {
          configName: 'cleanup.policy',
          configValue: 'compact',
          configSource: ConfigSource.TOPIC_CONFIG,
          isDefault: false,
        },
        {
          configName: 'retention.ms',
          configValue: '3600000',
          configSource: ConfigSource.TOPIC_CONFIG,
          isDefault: false,
        },
      ]);

    await admin.alterConfigs({
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: 'configured',
          configEntries: [{ name: 'retention.ms', operation: AlterConfigOperations.delete }],
        },
      ],
    });
    await expect
      .poll(() => describeTopic('configured', ['retention.ms']), configsApplied)
      .toEqual([
        {
          configName: 'retention.ms',
          configValue: '604800000',
          configSource: ConfigSource.DEFAULT_CONFIG,
          isDefault: true,
        },
      ]);

    // validateOnly checks without changing anything.
    await admin.alterConfigs({
      validateOnly: true,
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: 'configured',
          configEntries: [{ name: 'cleanup.policy', value: 'delete' }],
        },
      ],
    });
    expect((await describeTopic('configured', ['cleanup.policy']))[0]!.configValue).toBe('compact');

    await expect(
      admin.alterConfigs({
        resources: [
          {
            type: ConfigResourceTypes.TOPIC,
            name: 'configured',
            configEntries: [{ name: 'cleanup.policy', value: 'bogus' }],
          },
        ],
      }),
    ).rejects.toMatchObject({ type: 'INVALID_CONFIG' });
    await expect(describeTopic('no-such-topic', ['cleanup.policy'])).rejects.toMatchObject({
      type: 'UNKNOWN_TOPIC_OR_PARTITION',
    });
  });

  it("with incremental: false, replaces a topic's dynamic configs as kafkajs's alterConfigs does (AlterConfigs)", async () => {
    await admin.createTopics({
      topics: [
        {
          topic: 'replaced',
          numPartitions: 1,
          replicationFactor: 1,
          configEntries: [
            { name: 'retention.ms', value: '3600000' },
            { name: 'segment.ms', value: '7200000' },
          ],
        },
      ],
    });
    const altered = await admin.alterConfigs({
      incremental: false,
      resources: [
        {
          type: ConfigResourceTypes.TOPIC,
          name: 'replaced',
          configEntries: [{ name: 'retention.ms', value: '1800000' }],
        },
      ],
    });
    expect(altered.resources).toEqual([
      { errorCode: 0, errorMessage: null, resourceName: 'replaced', resourceType: ConfigResourceTypes.TOPIC },
    ]);
    // segment.ms was not named: replaced by its default, where IncrementalAlterConfigs keeps it.
    await expect
      .poll(() => describeTopic('replaced', ['retention.ms', 'segment.ms']), configsApplied)
      .toEqual([
        {
          configName: 'retention.ms',
          configValue: '1800000',
          configSource: ConfigSource.TOPIC_CONFIG,
          isDefault: false,
        },
        {
          configName: 'segment.ms',
          configValue: '604800000',
          configSource: ConfigSource.DEFAULT_CONFIG,
          isDefault: true,
        },
      ]);
    // No operations in AlterConfigs: a delete is refused before anything is sent.
    await expect(
      admin.alterConfigs({
        incremental: false,
        resources: [
          {
            type: ConfigResourceTypes.TOPIC,
            name: 'replaced',
            configEntries: [{ name: 'retention.ms', operation: AlterConfigOperations.delete }],
          },
        ],
      }),
    ).rejects.toThrow(/retention.ms has an operation; alterConfigs with incremental: false only sets/);
    expect((await describeTopic('replaced', ['retention.ms']))[0]!.configValue).toBe('1800000');
  });

  it("describes each broker's configs at that broker", async () => {
    const ids = cluster.brokers.map((broker) => broker.id);
    const described = await admin.describeConfigs({
      resources: ids.map((id) => ({
        type: ConfigResourceTypes.BROKER,
        name: String(id),
        configNames: ['node.id'],
      })),
    });
    expect(
      described.resources.map((resource) => [resource.resourceName, resource.configEntries[0]?.configValue]),
    ).toEqual(ids.map((id) => [String(id), String(id)]));
  });
});

describe('partitions and groups', () => {
  it('creates partitions; the new ones get leaders and take records', async () => {
    await admin.createTopics({ topics: [{ topic: 'growing', numPartitions: 1, replicationFactor: 3 }] });
    expect(await admin.createPartitions({ topicPartitions: [{ topic: 'growing', count: 3 }] })).toBe(true);
    const [metadata] = (await admin.fetchTopicMetadata({ topics: ['growing'] })).topics;
    expect(metadata!.partitions.map((partition) => partition.partitionId)).toEqual([0, 1, 2]);
    expect(metadata!.partitions.every((partition) => partition.leader >= 0)).toBe(true);
    await produceAt('growing', [[2, [1_000]]]);
    expect((await admin.fetchTopicOffsets('growing')).map((partition) => partition.high)).toEqual([
      '0',
      '0',
      '1',
    ]);
    await expect(
      admin.createPartitions({ topicPartitions: [{ topic: 'growing', count: 2 }] }),
    ).rejects.toThrow(/growing: INVALID_PARTITIONS/);
  });

  it('lists, describes and deletes groups; a group with a running member is not deleted', async () => {
    await admin.createTopics({ topics: [{ topic: 'grouped', numPartitions: 1, replicationFactor: 3 }] });
    await produceAt('grouped', [[0, [1_000]]]);
    const seenIdle: string[] = [];
    const idle = await startConsumer('idle-group', 'grouped', seenIdle);
    await waitFor('idle-group read its record', () => seenIdle.length === 1);
    await idle.disconnect();
    const seenBusy: string[] = [];
    const busy = await startConsumer('busy-group', 'grouped', seenBusy);
    await waitFor('busy-group read its record', () => seenBusy.length === 1);

    const listed = (await admin.listGroups()).groups.filter((group) => group.groupId.endsWith('-group'));
    expect(listed).toEqual(
      expect.arrayContaining([
        { groupId: 'idle-group', protocolType: 'consumer' },
        { groupId: 'busy-group', protocolType: 'consumer' },
      ]),
    );
    const { groups } = await admin.describeGroups(['idle-group', 'busy-group']);
    expect(groups.map((group) => [group.groupId, group.state, group.members.length])).toEqual([
      ['idle-group', 'Empty', 0],
      ['busy-group', 'Stable', 1],
    ]);

    const error = await admin.deleteGroups(['idle-group', 'busy-group', 'never-was-group']).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(KafkaJSDeleteGroupsError);
    expect(
      (error as KafkaJSDeleteGroupsError).groups.map((group) => [group.groupId, group.error.type]),
    ).toEqual([
      ['busy-group', 'NON_EMPTY_GROUP'],
      ['never-was-group', 'GROUP_ID_NOT_FOUND'],
    ]);
    // The Empty group went: its offsets with it.
    expect(await admin.fetchOffsets({ groupId: 'idle-group', topics: ['grouped'] })).toEqual([
      { topic: 'grouped', partitions: [{ partition: 0, offset: '-1', metadata: '' }] },
    ]);
    expect((await admin.listGroups()).groups.map((group) => group.groupId)).not.toContain('idle-group');

    await busy.disconnect();
    expect(await admin.deleteGroups(['busy-group'])).toEqual([{ groupId: 'busy-group', errorCode: 0 }]);
  });
});

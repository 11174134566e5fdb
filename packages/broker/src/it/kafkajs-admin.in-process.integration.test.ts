// kafkajs 2.2.4 against one real Gregor node running inside the test process (@gregor/testkit's
// startCluster): the wire as one real client speaks it, through the node's own listener, router,
// controller (over its one-voter Raft quorum) and logs. Admin calls, the producer (gzip, acks=all),
// offset lookups, configs, partitions added and topics deleted; what was produced is read from the
// partition's segment file on disk. Separate processes are not needed for any of it.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeRecordBatch } from '@gregor/protocol';
import { startCluster, type TestCluster } from '@gregor/testkit';
import { CompressionTypes, Kafka, logLevel } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';

let cluster: TestCluster | undefined;

afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

async function startBroker(): Promise<Kafka> {
  cluster = await startCluster({ brokers: 1 });
  return new Kafka({
    clientId: 'gregor-test',
    brokers: cluster.bootstrapServers,
    logLevel: logLevel.NOTHING,
  });
}

describe('kafkajs against an in-process node', () => {
  it('creates a topic, produces with acks=all and reads the offsets and configs back', async () => {
    const kafka = await startBroker();
    const admin = kafka.admin();
    await admin.connect();
    expect(
      await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 2 }], waitForLeaders: true }),
    ).toBe(true);
    expect(await admin.listTopics()).toEqual(['orders']);

    const producer = kafka.producer({
      allowAutoTopicCreation: false,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    const sent = await producer.send({
      topic: 'orders',
      acks: -1,
      compression: CompressionTypes.GZIP,
      messages: [
        { partition: 0, key: 'k1', value: 'first' },
        { partition: 0, key: 'k2', value: 'second' },
        { partition: 1, value: 'other' },
      ],
    });
    expect(sent.map((result) => [result.partition, result.errorCode, result.baseOffset])).toEqual(
      expect.arrayContaining([
        [0, 0, '0'],
        [1, 0, '0'],
      ]),
    );

    const offsets = await admin.fetchTopicOffsets('orders');
    expect(offsets.map(({ partition, high, low }) => [partition, high, low]).sort()).toEqual([
      [0, '2', '0'],
      [1, '1', '0'],
    ]);

    // The batch as stored in Kafka's layout: <log dir>/orders-0/00000000000000000000.log.
    const segment = readFileSync(
      join(cluster!.dataDir, 'node-1', 'logs', 'orders-0', `${'0'.repeat(20)}.log`),
    );
    const batch = decodeRecordBatch(segment, 0);
    expect(batch.records.map((record) => record.value!.toString())).toEqual(['first', 'second']);

    const configs = await admin.describeConfigs({
      resources: [{ type: 2, name: 'orders', configNames: ['retention.ms'] }],
      includeSynonyms: false,
    });
    expect(configs.resources[0]!.configEntries[0]).toMatchObject({
      configName: 'retention.ms',
      configValue: '604800000',
    });

    await admin.createPartitions({ topicPartitions: [{ topic: 'orders', count: 3 }] });
    const metadata = await admin.fetchTopicMetadata({ topics: ['orders'] });
    expect(metadata.topics[0]!.partitions.map((partition) => partition.partitionId).sort()).toEqual([
      0, 1, 2,
    ]);
    await admin.deleteTopics({ topics: ['orders'] });
    expect(await admin.listTopics()).toEqual([]);

    await producer.disconnect();
    await admin.disconnect();
  });

  it('auto-creates a topic on first produce', async () => {
    const kafka = await startBroker();
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    const [result] = await producer.send({ topic: 'auto-made', messages: [{ value: 'hello' }] });
    expect(result).toMatchObject({ topicName: 'auto-made', errorCode: 0, baseOffset: '0' });
    await producer.disconnect();
  });
});

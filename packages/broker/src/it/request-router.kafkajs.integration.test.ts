// kafkajs 2.2.4 against the real router over a real socket (Connection), with the in-process
// cluster behind it: the wire as one real client speaks it. The fixture has no group coordinator
// (consumer groups are tested against real broker processes, in the group tests here), so this
// drives the admin client, the producer and offset lookups.

import { once } from 'node:events';
import { type AddressInfo, createServer, type Server } from 'node:net';
import { decodeRecordBatch } from '@gregor/protocol';
import { CompressionTypes, Kafka, logLevel } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { Connection } from '../network/connection.js';
import { RequestMemoryPool } from '../network/request-memory-pool.js';
import { LocalClusterFixture } from '../testing/local-cluster-fixture.js';

let cluster: LocalClusterFixture | undefined;
let server: Server | undefined;
const frameBytesMax = 100 * 1024 * 1024;

afterEach(async () => {
  server?.close();
  await cluster?.close();
});

async function startBroker(): Promise<number> {
  const connections: Connection[] = [];
  let nextId = 0;
  let fixture: LocalClusterFixture | undefined;
  const requestMemory = new RequestMemoryPool(frameBytesMax);
  server = createServer((socket) => {
    connections.push(
      new Connection(
        socket,
        { connectionId: nextId++, remoteAddress: String(socket.remoteAddress) },
        (frame, context) => fixture!.router(frame, context),
        { onProtocolError: () => {}, onClose: () => {} },
        { frameMaxBytes: frameBytesMax, requestMemory },
      ),
    );
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  fixture = await LocalClusterFixture.start({ advertisedHost: '127.0.0.1', advertisedPort: port });
  cluster = fixture;
  return port;
}

describe('kafkajs against the router', () => {
  it('creates a topic, produces with acks=all and reads the offsets and configs back', async () => {
    const port = await startBroker();
    const kafka = new Kafka({
      clientId: 'gregor-test',
      brokers: [`127.0.0.1:${port}`],
      logLevel: logLevel.NOTHING,
    });
    const admin = kafka.admin();
    await admin.connect();
    expect(
      await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 2 }], waitForLeaders: true }),
    ).toBe(true);
    expect(await admin.listTopics()).toEqual(['orders']);

    const producer = kafka.producer({ allowAutoTopicCreation: false });
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

    const stored = await cluster!.replicaManager.partition('orders', 0)!.log.read(0, 1 << 20);
    if (stored.errorCode !== 0) throw new Error('read failed');
    const batch = decodeRecordBatch(stored.records, 0);
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
    expect(cluster!.image().topic('orders')!.partitions).toHaveLength(3);
    await admin.deleteTopics({ topics: ['orders'] });
    expect(await admin.listTopics()).toEqual([]);

    await producer.disconnect();
    await admin.disconnect();
  });

  it('auto-creates a topic on first produce', async () => {
    const port = await startBroker();
    const kafka = new Kafka({
      clientId: 'gregor-test',
      brokers: [`127.0.0.1:${port}`],
      logLevel: logLevel.NOTHING,
    });
    const producer = kafka.producer();
    await producer.connect();
    const [result] = await producer.send({ topic: 'auto-made', messages: [{ value: 'hello' }] });
    expect(result).toMatchObject({ topicName: 'auto-made', errorCode: 0, baseOffset: '0' });
    await producer.disconnect();
  });
});

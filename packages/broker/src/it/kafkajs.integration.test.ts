// kafkajs 2.2.4 against a three-node cluster of broker processes, bootstrapped from broker 2 alone:
// admin createTopics / fetchTopicMetadata / deleteTopics / offsets, the producer (keys, values,
// headers and timestamps, uncompressed and gzip) and reading assigned partitions. kafkajs's Consumer
// needs consumer groups, which Gregor does not serve yet, so partitions are read with kafkajs's own
// cluster client: its Fetch request to each partition's leader, decoded by kafkajs. Snappy, LZ4 and
// ZSTD need codec packages kafkajs does not ship (kafkajs-snappy, ...), so only gzip is covered here;
// kcat and kafka-python cover the other codecs. A topic with message.timestamp.before.max.ms refuses
// kafkajs's records stamped too long ago with INVALID_TIMESTAMP (kafkajs stops at Produce v7, so a
// Produce v8 sent by hand checks the record_errors that name them) and takes one stamped now.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KafkaConnection } from '@gregor/client';
import { waitFor } from '@gregor/ground/testing';
import { ApiKey, CompressionType, ErrorCode, encodeRecordBatch, iterateBatches } from '@gregor/protocol';
import { CompressionTypes, type IHeaders, Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCluster } from '../testing/process-cluster.js';

/** What kafkajs's cluster client fetch returns for one partition (decoded by kafkajs). */
interface KafkajsFetchedMessage {
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: IHeaders;
  batchContext: { compression?: number };
}

/** The part of kafkajs's internal cluster client used here (src/cluster/index.js). */
interface KafkajsCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  refreshMetadata(): Promise<void>;
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
  findBroker(query: { nodeId: string }): Promise<{
    fetch(request: {
      maxWaitTime: number;
      minBytes: number;
      maxBytes: number;
      topics: { topic: string; partitions: { partition: number; fetchOffset: string; maxBytes: number }[] }[];
    }): Promise<{
      responses: {
        topicName: string;
        partitions: {
          partition: number;
          errorCode: number;
          highWatermark: string;
          messages: KafkajsFetchedMessage[];
        }[];
      }[];
    }>;
  }>;
}

const fetchMaxBytes = 4 * 1024 * 1024;
/** Bounded wait for every broker to have applied a metadata change. */
const metadataWaitMs = 10_000;

let cluster: ProcessCluster;
let kafka: Kafka;

beforeAll(async () => {
  // kafkajs's admin asks for topics with auto-creation allowed: it would bring a deleted one back.
  cluster = await ProcessCluster.start({
    nodeCount: 3,
    properties: { 'auto.create.topics.enable': 'false' },
  });
  kafka = new Kafka({
    clientId: 'gregor-it-kafkajs',
    brokers: [`127.0.0.1:${cluster.node(2).kafkaPort}`],
    logLevel: logLevel.NOTHING,
    retry: { retries: 5 },
  });
});

afterAll(async () => {
  await cluster?.close();
});

/**
 * kafkajs's lower-level cluster client, built the way kafka.producer() and kafka.admin() build
 * theirs (the factory sits behind a private symbol of the Kafka object).
 */
function kafkajsCluster(): KafkajsCluster {
  const symbol = Object.getOwnPropertySymbols(kafka).find(
    (candidate) => candidate.description === 'private:Kafka:createCluster',
  );
  if (symbol === undefined) throw new Error('kafkajs has no cluster factory: is it still 2.2.x?');
  const factory = (kafka as unknown as Record<symbol, (options: object) => KafkajsCluster>)[symbol]!;
  return factory({ allowAutoTopicCreation: false });
}

/** Every message of the assigned partitions from `fromOffset`, fetched from each partition's leader. */
async function readAssigned(
  topic: string,
  partitions: number[],
  fromOffset = 0,
): Promise<Map<number, KafkajsFetchedMessage[]>> {
  const client = kafkajsCluster();
  await client.connect();
  try {
    await client.addTargetTopic(topic);
    await client.refreshMetadata();
    const result = new Map<number, KafkajsFetchedMessage[]>();
    for (const [leaderId, led] of Object.entries(client.findLeaderForPartitions(topic, partitions))) {
      const broker = await client.findBroker({ nodeId: leaderId });
      for (const partition of led) {
        const response = await broker.fetch({
          maxWaitTime: 100,
          minBytes: 1,
          maxBytes: fetchMaxBytes,
          topics: [
            { topic, partitions: [{ partition, fetchOffset: String(fromOffset), maxBytes: fetchMaxBytes }] },
          ],
        });
        const fetched = response.responses[0]!.partitions[0]!;
        expect(fetched.errorCode).toBe(0);
        result.set(partition, fetched.messages);
      }
    }
    return result;
  } finally {
    await client.disconnect();
  }
}

/** Bounded wait until every broker's Metadata answers UNKNOWN_TOPIC_OR_PARTITION for `topic`. */
async function waitUntilNoBrokerLists(topic: string): Promise<void> {
  const connections = await Promise.all(
    cluster.nodes.map((node) => KafkaConnection.open({ host: '127.0.0.1', port: node.kafkaPort })),
  );
  try {
    await waitFor(
      `no broker listing ${topic}`,
      async () => {
        for (const connection of connections) {
          const metadata = await connection.call(ApiKey.Metadata, 9, {
            topics: [{ name: topic }],
            allowAutoTopicCreation: false,
            includeClusterAuthorizedOperations: false,
            includeTopicAuthorizedOperations: false,
          });
          if (metadata.topics[0]?.errorCode !== ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) return false;
        }
        return true;
      },
      { timeoutMs: metadataWaitMs, intervalMs: 50 },
    );
  } finally {
    for (const connection of connections) connection.close();
  }
}

function leaderLogBatches(leaderId: number, topic: string, partition: number) {
  const file = join(
    cluster.node(leaderId).dataDir,
    'logs',
    `${topic}-${partition}`,
    '00000000000000000000.log',
  );
  return [...iterateBatches(readFileSync(file))];
}

describe('kafkajs against three broker processes, bootstrapped from broker 2', () => {
  it('admin creates topics, describes them with a leader on each broker, and deletes one', async () => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      expect(
        await admin.createTopics({
          topics: [
            { topic: 'kjs-admin-a', numPartitions: 3, replicationFactor: 1 },
            { topic: 'kjs-admin-b', numPartitions: 2 },
          ],
          waitForLeaders: true,
        }),
      ).toBe(true);
      // Again: kafkajs answers false when every topic already exists.
      expect(await admin.createTopics({ topics: [{ topic: 'kjs-admin-a', numPartitions: 3 }] })).toBe(false);
      const described = await admin.fetchTopicMetadata({ topics: ['kjs-admin-a', 'kjs-admin-b'] });
      const byName = new Map(described.topics.map((topic) => [topic.name, topic.partitions]));
      expect(
        byName
          .get('kjs-admin-a')!
          .map((partition) => partition.leader)
          .sort(),
      ).toEqual([1, 2, 3]);
      expect(byName.get('kjs-admin-a')!.map((partition) => partition.replicas.length)).toEqual([1, 1, 1]);
      expect(byName.get('kjs-admin-b')).toHaveLength(2);
      expect(await admin.listTopics()).toEqual(expect.arrayContaining(['kjs-admin-a', 'kjs-admin-b']));

      await admin.deleteTopics({ topics: ['kjs-admin-b'], timeout: 10_000 });
      // DeleteTopics answers once the controller committed the deletion; the other brokers apply it
      // a moment later (as in Kafka), and kafkajs may ask any of them next.
      await waitUntilNoBrokerLists('kjs-admin-b');
      expect(await admin.listTopics()).not.toContain('kjs-admin-b');
      await expect(admin.fetchTopicMetadata({ topics: ['kjs-admin-b'] })).rejects.toThrow(
        /does not host this topic-partition/,
      );
    } finally {
      await admin.disconnect();
    }
  });

  it.each([
    ['uncompressed', CompressionTypes.None, CompressionType.None],
    ['gzip', CompressionTypes.GZIP, CompressionType.Gzip],
  ] as const)(
    'produces %s keys, values, headers and timestamps that read back byte for byte',
    async (label, codec, stored) => {
      const topic = `kjs-${label}`;
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
      const leaders = new Map(
        (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]!.partitions.map((partition) => [
          partition.partitionId,
          partition.leader,
        ]),
      );
      expect([...leaders.values()].sort()).toEqual([1, 2, 3]);

      const baseTimestampMs = 1_690_000_000_000;
      const messagesFor = (partition: number) => [
        {
          partition,
          key: Buffer.from([0x00, 0xff, 0x10, partition]),
          value: Buffer.from(Array.from({ length: 256 }, (_, index) => (index * 7 + partition) & 0xff)),
          headers: { binary: Buffer.from([0x00, 0x01, 0xfe]), text: 'ünïcödé €', repeated: ['one', 'two'] },
          timestamp: String(baseTimestampMs + partition),
        },
        {
          partition,
          key: Buffer.from(`${label}-${partition}`),
          value: Buffer.from(`${label} value `.repeat(100)),
          headers: {},
          timestamp: String(baseTimestampMs - 60_000),
        },
        { partition, key: null, value: Buffer.alloc(0), timestamp: String(baseTimestampMs + 5) },
      ];
      // Idempotent: a send retried after its append (a retriable error from a leader whose lease
      // lapsed on a loaded machine) must not leave a second copy, or the offsets below are off.
      const producer = kafka.producer({
        allowAutoTopicCreation: false,
        idempotent: true,
        maxInFlightRequests: 1,
      });
      await producer.connect();
      try {
        const sent = await producer.send({
          topic,
          acks: -1,
          compression: codec,
          messages: [0, 1, 2].flatMap(messagesFor),
        });
        expect(sent.map((result) => [result.partition, result.errorCode, result.baseOffset]).sort()).toEqual([
          [0, 0, '0'],
          [1, 0, '0'],
          [2, 0, '0'],
        ]);
      } finally {
        await producer.disconnect();
      }
      const offsets = await admin.fetchTopicOffsets(topic);
      expect(offsets.map(({ partition, low, high }) => [partition, low, high]).sort()).toEqual([
        [0, '0', '3'],
        [1, '0', '3'],
        [2, '0', '3'],
      ]);
      await admin.disconnect();

      const read = await readAssigned(topic, [0, 1, 2]);
      for (const partition of [0, 1, 2]) {
        const messages = read.get(partition)!;
        // kafkajs decodes header values as Buffers and a repeated header as an array of them.
        const asReceived = (headers: object | undefined) =>
          Object.fromEntries(
            (Object.entries(headers ?? {}) as [string, Buffer | string | string[]][]).map(([name, value]) => [
              name,
              Array.isArray(value) ? value.map((item) => Buffer.from(item)) : Buffer.from(value),
            ]),
          );
        expect(
          messages.map((message) => ({
            offset: message.offset,
            key: message.key,
            value: message.value,
            headers: message.headers,
            timestamp: message.timestamp,
          })),
        ).toEqual(
          messagesFor(partition).map((message, index) => ({
            offset: String(index),
            key: message.key,
            value: message.value,
            headers: asReceived(message.headers),
            timestamp: message.timestamp,
          })),
        );
        const batches = leaderLogBatches(leaders.get(partition)!, topic, partition);
        expect(batches).toHaveLength(1);
        expect(batches[0]!.header.compression).toBe(stored);
      }
    },
  );

  it('finds offsets by timestamp and reads an assigned partition from an offset', async () => {
    const topic = 'kjs-positions';
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
    const producer = kafka.producer({
      allowAutoTopicCreation: false,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    const baseTimestampMs = 1_695_000_000_000;
    // One send per record: one batch per record, so batch and record positions agree (Gregor answers
    // a timestamp lookup with the first batch that reaches it).
    for (let index = 0; index < 6; index++) {
      await producer.send({
        topic,
        messages: [{ partition: 1, value: `v${index}`, timestamp: String(baseTimestampMs + index * 1000) }],
      });
    }
    await producer.disconnect();
    const byTime = async (timestampMs: number) =>
      (await admin.fetchTopicOffsetsByTimestamp(topic, timestampMs)).find((entry) => entry.partition === 1)
        ?.offset;
    expect(await byTime(baseTimestampMs)).toBe('0');
    expect(await byTime(baseTimestampMs + 2500)).toBe('3');
    expect(await byTime(baseTimestampMs + 5000)).toBe('5');
    // Past every record: Kafka answers -1, which kafkajs turns into the partition's end offset.
    expect(await byTime(baseTimestampMs + 60_000)).toBe('6');
    await admin.disconnect();

    const read = await readAssigned(topic, [1], 4);
    expect(read.get(1)!.map((message) => [message.offset, message.value?.toString()])).toEqual([
      ['4', 'v4'],
      ['5', 'v5'],
    ]);
  });

  it('refuses records stamped before message.timestamp.before.max.ms with INVALID_TIMESTAMP, and takes one stamped now', async () => {
    const topic = 'kjs-timestamp-bounds';
    const hourMs = 3_600_000;
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({
        topics: [
          {
            topic,
            numPartitions: 1,
            configEntries: [{ name: 'message.timestamp.before.max.ms', value: String(hourMs) }],
          },
        ],
        waitForLeaders: true,
      });
      const leaderId = (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]!.partitions[0]!.leader;
      const producer = kafka.producer({
        allowAutoTopicCreation: false,
        idempotent: true,
        maxInFlightRequests: 1,
      });
      await producer.connect();
      try {
        const oldMs = Date.now() - 30 * 24 * hourMs;
        const refusal = await producer
          .send({ topic, acks: -1, messages: [{ partition: 0, value: 'old', timestamp: String(oldMs) }] })
          .then(
            () => undefined,
            (error: unknown) => error,
          );
        // kafkajs does not retry it: the error, or the non-retriable one wrapping it, names the code.
        const cause = (refusal as { cause?: unknown } | undefined)?.cause ?? refusal;
        expect(cause).toMatchObject({ type: 'INVALID_TIMESTAMP', code: ErrorCode.INVALID_TIMESTAMP });
        const sent = await producer.send({
          topic,
          acks: -1,
          messages: [{ partition: 0, value: 'now', timestamp: String(Date.now()) }],
        });
        expect(sent.map((result) => [result.errorCode, result.baseOffset])).toEqual([[0, '0']]);
      } finally {
        await producer.disconnect();
      }
      // Produce v8 to the leader names the old record of a batch by its index, with Kafka's message.
      const connection = await KafkaConnection.open({
        host: '127.0.0.1',
        port: cluster.node(leaderId).kafkaPort,
      });
      try {
        const oldMs = Date.now() - 30 * 24 * hourMs;
        const produced = await connection.call(ApiKey.Produce, 8, {
          transactionalId: null,
          acks: -1,
          timeoutMs: 10_000,
          topics: [
            {
              name: topic,
              partitions: [
                {
                  partitionIndex: 0,
                  records: encodeRecordBatch({
                    records: [Date.now(), oldMs].map((timestamp) => ({
                      key: null,
                      value: Buffer.from('v'),
                      timestamp,
                    })),
                  }),
                },
              ],
            },
          ],
        });
        const refused = produced.responses[0]!.partitions[0]!;
        expect(refused.errorCode).toBe(ErrorCode.INVALID_TIMESTAMP);
        expect(refused.recordErrors).toEqual([
          {
            batchIndex: 1,
            batchIndexErrorMessage: expect.stringMatching(
              new RegExp(
                `^Timestamp ${oldMs} of message with offset 1 is out of range. The timestamp should be within \\[\\d+, \\d+\\]$`,
              ),
            ),
          },
        ]);
        expect(refused.errorMessage).toContain(
          'One or more records have been rejected due to invalid timestamp',
        );
      } finally {
        connection.close();
      }
      // Only the record stamped now was stored.
      const read = await readAssigned(topic, [0]);
      expect(read.get(0)!.map((message) => message.value?.toString())).toEqual(['now']);
    } finally {
      await admin.disconnect();
    }
  });
});

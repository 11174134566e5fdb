// kafka-python 2.0.2 (Debian python3-kafka, /usr/bin/python3) against a three-node cluster of broker
// processes, bootstrapped from broker 3 alone: KafkaAdminClient creates and deletes topics,
// KafkaProducer sends binary keys, values, headers and explicit timestamps with every compression
// codec to partitions led by each broker, and KafkaConsumer reads them back by manual assignment
// (no group). Everything is compared byte for byte, and each stored batch carries the codec the
// producer used. The client runs as python/kafka_python_client.py, one JSON command per process.

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KafkaConnection } from '@gregor/client';
import { ApiKey, CompressionType, type DecodedBatch, ErrorCode, iterateBatches } from '@gregor/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCluster } from '../testing/process-cluster.js';

const pythonTimeoutMs = 60_000;
const outputBytesMax = 64 * 1024 * 1024;
const pythonClient = new URL('./python/kafka_python_client.py', import.meta.url).pathname;
/** Bounded wait for a deleted topic's partition directories to leave the disk. */
const deletionWaitMs = 20_000;

let cluster: ProcessCluster;
let bootstrap: string;

beforeAll(async () => {
  cluster = await ProcessCluster.start({ nodeCount: 3 });
  bootstrap = `127.0.0.1:${cluster.node(3).kafkaPort}`;
});

afterAll(async () => {
  await cluster?.close();
});

function python<T>(command: object): T {
  const output = execFileSync('/usr/bin/python3', [pythonClient], {
    input: JSON.stringify({ bootstrap, ...command }),
    timeout: pythonTimeoutMs,
    maxBuffer: outputBytesMax,
    encoding: 'utf8',
  });
  return JSON.parse(output) as T;
}

/** Partition index -> leader id, from broker 1's Metadata (not the broker the client used). */
async function leaders(topic: string): Promise<Map<number, number>> {
  const connection = await KafkaConnection.open({ host: '127.0.0.1', port: cluster.node(1).kafkaPort });
  try {
    const metadata = await connection.call(ApiKey.Metadata, 1, { topics: [{ name: topic }] });
    const found = metadata.topics[0];
    if (found === undefined || found.errorCode !== ErrorCode.NONE)
      throw new Error(`no metadata for ${topic}`);
    return new Map(found.partitions.map((partition) => [partition.partitionIndex, partition.leaderId]));
  } finally {
    connection.close();
  }
}

function partitionDir(nodeId: number, topic: string, partition: number): string {
  return join(cluster.node(nodeId).dataDir, 'logs', `${topic}-${partition}`);
}

function storedBatches(nodeId: number, topic: string, partition: number): DecodedBatch[] {
  const file = join(partitionDir(nodeId, topic, partition), '00000000000000000000.log');
  return [...iterateBatches(readFileSync(file))];
}

interface WireRecord {
  partition: number;
  key: string | null;
  value: string | null;
  headers: [string, string | null][];
  timestamp_ms: number;
}

interface ConsumedRecord {
  partition: number;
  offset: number;
  timestamp: number;
  timestamp_type: number;
  key: string | null;
  value: string | null;
  headers: [string, string | null][];
}

const b64 = (bytes: Buffer) => bytes.toString('base64');

function patternBytes(length: number, step: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let index = 0; index < length; index++) bytes[index] = (index * step + 3) & 0xff;
  return bytes;
}

/** Records for one partition: binary and UTF-8 keys, a null key, an empty and a null value, headers. */
function recordsFor(partition: number, baseTimestampMs: number, label: string): WireRecord[] {
  return [
    {
      partition,
      key: b64(Buffer.from([0x00, 0xff, partition, 0x80])),
      value: b64(patternBytes(256, 1)),
      headers: [
        ['binary', b64(Buffer.from([0x00, 0x01, 0xfe, 0xff]))],
        ['utf8', b64(Buffer.from('ünï €'))],
      ],
      timestamp_ms: baseTimestampMs,
    },
    {
      partition,
      key: b64(Buffer.from(`${label}-ключ`)),
      value: b64(Buffer.from(`${label} `.repeat(200))),
      headers: [
        ['same', b64(Buffer.from('first'))],
        ['same', b64(Buffer.from('second'))],
        ['empty', b64(Buffer.alloc(0))],
      ],
      timestamp_ms: baseTimestampMs + 1,
    },
    {
      partition,
      key: null,
      value: b64(Buffer.alloc(0)),
      headers: [],
      timestamp_ms: baseTimestampMs - 86_400_000,
    },
    { partition, key: b64(Buffer.from('tombstone')), value: null, headers: [], timestamp_ms: 0 },
  ];
}

const codecs = [
  ['none', null, CompressionType.None],
  ['gzip', 'gzip', CompressionType.Gzip],
  ['snappy', 'snappy', CompressionType.Snappy],
  ['lz4', 'lz4', CompressionType.Lz4],
  ['zstd', 'zstd', CompressionType.Zstd],
] as const;

describe('kafka-python against three broker processes, bootstrapped from broker 3', () => {
  it('KafkaAdminClient creates topics with leaders on every broker and deletes them', async () => {
    const created = python<{ topics: { name: string; error: number }[] }>({
      op: 'create_topics',
      topics: [
        { name: 'py-admin-a', partitions: 3, replication: 1 },
        { name: 'py-admin-b', partitions: 6, replication: 1 },
      ],
    });
    expect(created.topics.sort((a, b) => a.name.localeCompare(b.name))).toEqual([
      { name: 'py-admin-a', error: 0 },
      { name: 'py-admin-b', error: 0 },
    ]);
    const again = python<{ error: number }>({
      op: 'create_topics',
      topics: [{ name: 'py-admin-a', partitions: 3, replication: 1 }],
    });
    expect(again).toEqual({ error: ErrorCode.TOPIC_ALREADY_EXISTS });
    expect(python<{ topics: string[] }>({ op: 'list_topics' }).topics).toEqual(
      expect.arrayContaining(['py-admin-a', 'py-admin-b']),
    );
    expect([...(await leaders('py-admin-a')).values()].sort()).toEqual([1, 2, 3]);
    const bLeaders = await leaders('py-admin-b');
    expect(bLeaders.size).toBe(6);
    expect(new Set(bLeaders.values()).size).toBe(3);
    for (const [partition, leader] of bLeaders)
      expect(existsSync(partitionDir(leader, 'py-admin-b', partition))).toBe(true);

    const deleted = python<{ topics: { name: string; error: number }[] }>({
      op: 'delete_topics',
      topics: ['py-admin-b'],
    });
    expect(deleted.topics).toEqual([{ name: 'py-admin-b', error: 0 }]);
    // DeleteTopics answers once the controller committed; each leader removes its partition
    // directories once it applies the deletion.
    const deadline = Date.now() + deletionWaitMs;
    const remaining = () =>
      [...bLeaders].filter(([partition, leader]) =>
        existsSync(partitionDir(leader, 'py-admin-b', partition)),
      );
    while (remaining().length > 0 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 100));
    expect(remaining()).toEqual([]);
    // Its six partitions were led by all three brokers, so every broker has applied the deletion.
    expect(python<{ topics: string[] }>({ op: 'list_topics' }).topics).not.toContain('py-admin-b');
    expect(python<{ topics: string[] }>({ op: 'list_topics' }).topics).toContain('py-admin-a');
  });

  it.each(codecs)(
    'KafkaProducer (%s) and KafkaConsumer by assignment: every field survives, batches stored as compressed',
    async (label, compression, codec) => {
      const topic = `py-${label}`;
      python({ op: 'create_topics', topics: [{ name: topic, partitions: 3, replication: 1 }] });
      const topicLeaders = await leaders(topic);
      expect([...topicLeaders.values()].sort()).toEqual([1, 2, 3]);
      const baseTimestampMs = 1_650_000_000_000;
      const records = [0, 1, 2].flatMap((partition) =>
        recordsFor(partition, baseTimestampMs + partition * 10, label),
      );
      const produced = python<{ sent: { partition: number; offset: number; timestamp: number }[] }>({
        op: 'produce',
        topic,
        compression,
        acks: 'all',
        // Let records of one partition share a batch, so the compressed batches hold several.
        linger_ms: 20,
        records,
      });
      expect(produced.sent.map(({ partition, offset }) => [partition, offset])).toEqual(
        records.map((record, index) => [record.partition, index % 4]),
      );

      const consumed = python<{ records: ConsumedRecord[] }>({
        op: 'consume',
        topic,
        partitions: [0, 1, 2],
        offset: 'beginning',
        count: records.length,
        timeout_ms: 20_000,
      });
      expect(consumed.records).toEqual(
        records.map((record, index) => ({
          partition: record.partition,
          offset: index % 4,
          timestamp: record.timestamp_ms,
          timestamp_type: 0,
          key: record.key,
          value: record.value,
          headers: record.headers,
        })),
      );

      for (const partition of [0, 1, 2]) {
        const batches = storedBatches(topicLeaders.get(partition)!, topic, partition);
        expect(batches.length).toBeGreaterThan(0);
        for (const batch of batches) expect(batch.header.compression, `partition ${partition}`).toBe(codec);
        // The bytes on disk decode to what the producer sent.
        const stored = batches.flatMap((batch) => batch.records);
        const sent = records.filter((record) => record.partition === partition);
        expect(
          stored.map((record) => ({
            key: record.key === null ? null : b64(record.key),
            value: record.value === null ? null : b64(record.value),
            headers: record.headers.map((header) => [
              header.key,
              header.value === null ? null : b64(header.value),
            ]),
            timestamp_ms: record.timestamp,
          })),
        ).toEqual(
          sent.map(({ key, value, headers, timestamp_ms }) => ({ key, value, headers, timestamp_ms })),
        );
      }
    },
  );

  it('KafkaConsumer starts at an assigned offset and reads records kcat produced on another leader', async () => {
    const topic = 'py-from-kcat';
    python({ op: 'create_topics', topics: [{ name: topic, partitions: 3, replication: 1 }] });
    // A partition led by a broker other than the bootstrap one.
    const partition = [...(await leaders(topic))].find(([, leader]) => leader !== 3)![0];
    const lines = Array.from({ length: 8 }, (_, index) => `line-${index}`);
    execFileSync('kcat', ['-b', bootstrap, '-P', '-t', topic, '-p', String(partition), '-k', 'same-key'], {
      input: `${lines.join('\n')}\n`,
      timeout: pythonTimeoutMs,
    });
    const consumed = python<{ records: ConsumedRecord[] }>({
      op: 'consume',
      topic,
      partitions: [partition],
      offset: 5,
      count: 3,
      timeout_ms: 20_000,
    });
    expect(
      consumed.records.map((record) => [record.offset, Buffer.from(record.value!, 'base64').toString()]),
    ).toEqual([
      [5, 'line-5'],
      [6, 'line-6'],
      [7, 'line-7'],
    ]);
    expect(
      consumed.records.every((record) => Buffer.from(record.key!, 'base64').toString() === 'same-key'),
    ).toBe(true);
  });
});

// The segment files real brokers write, read by a decoder that is not ours: kcat (librdkafka 2.0.2,
// its own compression) and kafkajs 2.2.4 produce with every codec to three broker processes
// (replication factor 3, acks=all), then kafka-python's DefaultRecordBatch
// (packages/protocol/src/testing/decode_batches.py) decodes every `<topic>-0/*.log` on the leader
// and on both followers, whose copies came through replication. Every record must be there, in send
// order, with its offset, key, value and headers (and, for kafkajs, its timestamp), in batches with
// a valid CRC and the codec the client chose, and the whole file must decode.
//
// kafkajs ships only gzip; for snappy, LZ4 and ZSTD it gets codecs that call @gregor/protocol's
// compress(), so those batches also check our compression framing against kafka-python's.

import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CompressionType, compress, decompress } from '@gregor/protocol';
import { CompressionCodecs, type CompressionTypes, Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCluster } from '../testing/process-cluster.js';

const python = '/usr/bin/python3';
const decoder = fileURLToPath(new URL('../../../protocol/src/testing/decode_batches.py', import.meta.url));
const kcatTimeoutMs = 30_000;
const outputBytesMax = 256 * 1024 * 1024;
const keyDelimiter = '#K#';
const messageDelimiter = '#EOM#';
/** Bounded wait for every replica to hold what was acknowledged (it does at once with acks=all). */
const replicaWaitMs = 20_000;

const codecs = [
  ['none', CompressionType.None],
  ['gzip', CompressionType.Gzip],
  ['snappy', CompressionType.Snappy],
  ['lz4', CompressionType.Lz4],
  ['zstd', CompressionType.Zstd],
] as const;

interface SentRecord {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: readonly [string, Buffer][];
  /** Only kafkajs can set it. */
  readonly timestamp?: number;
}

interface DecodedRecord {
  offset: number;
  timestamp: number;
  key: string | null;
  value: string | null;
  headers: [string, string | null][];
}

interface DecodedFile {
  batches: {
    baseOffset: number;
    crcValid: boolean;
    compression: number;
    magic: number;
    records: DecodedRecord[];
  }[];
  validBytes: number;
}

let cluster: ProcessCluster;

beforeAll(async () => {
  execFileSync(python, ['-c', 'import kafka.record.default_records'], { stdio: 'pipe' });
  cluster = await ProcessCluster.start({
    nodeCount: 3,
    properties: { 'default.replication.factor': '3', 'num.partitions': '1' },
  });
});

afterAll(async () => {
  await cluster?.close();
});

/** kafka-python's view of one segment file. */
function decodeFile(path: string): DecodedFile {
  return JSON.parse(
    execFileSync(python, [decoder, 'decode', path], { encoding: 'utf8', maxBuffer: outputBytesMax }),
  ) as DecodedFile;
}

/** Every replica's `.log` files of `<topic>-0`, decoded; waits until each holds `recordCount` records. */
async function decodedReplicas(topic: string, recordCount: number): Promise<Map<number, DecodedFile[]>> {
  const deadline = Date.now() + replicaWaitMs;
  for (;;) {
    const replicas = new Map<number, DecodedFile[]>();
    for (const node of cluster.nodes) {
      const dir = join(node.logDir, `${topic}-0`);
      const files = readdirSync(dir)
        .filter((name) => name.endsWith('.log'))
        .sort()
        .map((name) => {
          const path = join(dir, name);
          const decoded = decodeFile(path);
          // The whole file is batches kafka-python accepts: nothing torn or foreign at its end.
          expect(decoded.validBytes, path).toBe(statSync(path).size);
          return decoded;
        });
      replicas.set(node.id, files);
    }
    const counts = [...replicas.values()].map((files) =>
      files.reduce((sum, file) => sum + file.batches.reduce((n, batch) => n + batch.records.length, 0), 0),
    );
    if (counts.every((count) => count === recordCount)) return replicas;
    if (Date.now() > deadline)
      throw new Error(`replicas of ${topic} hold ${counts} records, not ${recordCount}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const b64 = (data: Buffer | null) => (data === null ? null : data.toString('base64'));

/** Checks every replica's files against what was sent, in order, from offset 0. */
async function expectStored(
  topic: string,
  sent: readonly SentRecord[],
  codec: CompressionType,
): Promise<void> {
  const replicas = await decodedReplicas(topic, sent.length);
  for (const [nodeId, files] of replicas) {
    const batches = files.flatMap((file) => file.batches);
    expect(batches.length, `node ${nodeId}`).toBeGreaterThan(0);
    for (const batch of batches) {
      expect({
        node: nodeId,
        magic: batch.magic,
        crcValid: batch.crcValid,
        codec: batch.compression,
      }).toEqual({
        node: nodeId,
        magic: 2,
        crcValid: true,
        codec,
      });
    }
    const records = batches.flatMap((batch) => batch.records);
    expect(
      records.map((record) => ({
        offset: record.offset,
        key: record.key,
        value: record.value,
        headers: record.headers,
        ...(sent[0]?.timestamp === undefined ? {} : { timestamp: record.timestamp }),
      })),
      `node ${nodeId}`,
    ).toEqual(
      sent.map((record, offset) => ({
        offset,
        key: b64(record.key),
        value: b64(record.value),
        headers: record.headers.map(([key, value]) => [key, b64(value)]),
        ...(record.timestamp === undefined ? {} : { timestamp: record.timestamp }),
      })),
    );
  }
}

/** Deterministic bytes: every byte value, in a shifting order. */
function patternBytes(length: number, step: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let index = 0; index < length; index++) bytes[index] = (index * step + 7) & 0xff;
  return bytes;
}

/** Records that compress (librdkafka and kafkajs send a batch uncompressed when it would not shrink). */
function recordsFor(client: string, codec: string, count: number): { key: Buffer; value: Buffer }[] {
  return Array.from({ length: count }, (_, index) => ({
    key: Buffer.concat([Buffer.from(`${client}-${codec}-${index % 7}-`), patternBytes(3, index + 1)]),
    value: Buffer.concat([
      Buffer.from(`${codec} value ${index} €`.repeat(8)),
      patternBytes(64 + index, 3),
      Buffer.from(`${codec} value ${index} €`.repeat(8)),
    ]),
  }));
}

describe('segment files written by broker processes, decoded by kafka-python', () => {
  it.each(codecs)('kcat with %s: every replica holds every record as sent', async (codec, type) => {
    const topic = `decoded-kcat-${codec}`;
    const records = recordsFor('kcat', codec, 60);
    const headers: [string, Buffer][] = [
      ['codec', Buffer.from(codec)],
      ['binary', Buffer.from('a=b €')],
    ];
    for (const record of records) {
      expect(record.key.includes(keyDelimiter) || record.value.includes(messageDelimiter)).toBe(false);
    }
    execFileSync(
      'kcat',
      [
        '-b',
        cluster.bootstrap,
        '-P',
        '-t',
        topic,
        '-p',
        '0',
        '-K',
        keyDelimiter,
        '-D',
        messageDelimiter,
        '-z',
        codec,
        '-X',
        'acks=all',
        ...headers.flatMap(([key, value]) => ['-H', `${key}=${value.toString()}`]),
      ],
      {
        input: Buffer.concat(
          records.flatMap((r) => [r.key, Buffer.from(keyDelimiter), r.value, Buffer.from(messageDelimiter)]),
        ),
        timeout: kcatTimeoutMs,
        stdio: ['pipe', 'pipe', 'pipe'],
      },
    );
    await expectStored(
      topic,
      records.map((record) => ({ ...record, headers })),
      type,
    );
  });

  it.each(codecs)('kafkajs with %s: every replica holds every record as sent', async (codec, type) => {
    // kafkajs has no codec for these; ours, registered the way kafkajs-snappy and friends register.
    if (type !== CompressionType.None && type !== CompressionType.Gzip) {
      CompressionCodecs[
        type as unknown as CompressionTypes.Snappy | CompressionTypes.LZ4 | CompressionTypes.ZSTD
      ] = () => ({
        compress: async (encoder: { buffer: Buffer }) => compress(type, encoder.buffer),
        decompress: async (buffer: Buffer) => decompress(type, buffer),
      });
    }
    const topic = `decoded-kafkajs-${codec}`;
    const kafka = new Kafka({
      clientId: 'gregor-it-segment-files',
      brokers: () => cluster.bootstrap.split(','),
      logLevel: logLevel.NOTHING,
    });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      topics: [{ topic, numPartitions: 1, replicationFactor: 3 }],
      waitForLeaders: true,
    });
    await admin.disconnect();
    const sent: SentRecord[] = recordsFor('kafkajs', codec, 60).map((record, index) => ({
      // A null key and a null value (a tombstone) among them.
      key: index === 5 ? null : record.key,
      value: index === 6 ? null : record.value,
      headers: [
        ['codec', Buffer.from(codec)],
        ['index', Buffer.from(String(index))],
        ['bytes', patternBytes(index % 5, 11)],
      ],
      timestamp: 1_700_000_000_000 + index * 1_000,
    }));
    const producer = kafka.producer({
      allowAutoTopicCreation: false,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    try {
      // Three sends: three batches per replica.
      for (const part of [sent.slice(0, 20), sent.slice(20, 40), sent.slice(40)]) {
        await producer.send({
          topic,
          acks: -1,
          compression: type as unknown as CompressionTypes,
          messages: part.map((record) => ({
            partition: 0,
            key: record.key,
            value: record.value,
            headers: Object.fromEntries(record.headers),
            timestamp: String(record.timestamp),
          })),
        });
      }
    } finally {
      await producer.disconnect();
    }
    await expectStored(topic, sent, type);
  });
});

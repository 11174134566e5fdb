// kcat (librdkafka 2.0.2) against a three-node cluster of broker processes, always bootstrapped from
// broker 1 alone: -L, produce with -P (binary keys and values, headers, every compression codec) and
// consume with -C from the beginning, the end, an offset and a timestamp. What a client sent is
// compared byte for byte with what kcat reads back and with the batches in the leader's log file.
// kcat -P cannot set timestamps, so the timestamp positions use records kafka-python produced with
// timestamp_ms (python/kafka_python_client.py).

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KafkaConnection } from '@gregor/client';
import { ApiKey, CompressionType, type DecodedBatch, iterateBatches } from '@gregor/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCluster } from '../testing/process-cluster.js';

const kcatTimeoutMs = 30_000;
const pythonTimeoutMs = 60_000;
const outputBytesMax = 64 * 1024 * 1024;
const pythonClient = new URL('./python/kafka_python_client.py', import.meta.url).pathname;
const keyDelimiter = '#K#';
const messageDelimiter = '#EOM#';

let cluster: ProcessCluster;
/** The one broker every client here is told about. */
let bootstrap: string;

beforeAll(async () => {
  cluster = await ProcessCluster.start({ nodeCount: 3, properties: { 'num.partitions': '3' } });
  bootstrap = `127.0.0.1:${cluster.node(1).kafkaPort}`;
});

afterAll(async () => {
  await cluster?.close();
});

function kcat(args: readonly string[], input?: Buffer): Buffer {
  return execFileSync('kcat', ['-b', bootstrap, ...args], {
    input,
    timeout: kcatTimeoutMs,
    maxBuffer: outputBytesMax,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

async function advertises(apiKey: number): Promise<boolean> {
  const connection = await KafkaConnection.open({ host: '127.0.0.1', port: cluster.node(1).kafkaPort });
  try {
    const versions = await connection.call(ApiKey.ApiVersions, 0, {});
    return versions.apiKeys.some((api) => api.apiKey === apiKey && api.minVersion === 0);
  } finally {
    connection.close();
  }
}

function python(command: object): unknown {
  const output = execFileSync('/usr/bin/python3', [pythonClient], {
    input: JSON.stringify({ bootstrap, ...command }),
    timeout: pythonTimeoutMs,
    maxBuffer: outputBytesMax,
    encoding: 'utf8',
  });
  return JSON.parse(output);
}

interface KcatMetadata {
  brokers: { id: number; name: string }[];
  controllerid: number;
  topics: { topic: string; partitions: { partition: number; leader: number }[] }[];
}

function metadata(topic?: string): KcatMetadata {
  const args = topic === undefined ? ['-L', '-J'] : ['-L', '-J', '-t', topic];
  return JSON.parse(kcat(args).toString('utf8')) as KcatMetadata;
}

function leaderOf(topic: string, partition: number): number {
  const found = metadata(topic)
    .topics.find((entry) => entry.topic === topic)
    ?.partitions.find((entry) => entry.partition === partition);
  if (found === undefined) throw new Error(`no metadata for ${topic}-${partition}`);
  return found.leader;
}

function logFile(nodeId: number, topic: string, partition: number): string {
  return join(cluster.node(nodeId).dataDir, 'logs', `${topic}-${partition}`, '00000000000000000000.log');
}

/** The batches in the partition's first segment on its leader, decoded (CRC checked). */
function storedBatches(topic: string, partition: number): DecodedBatch[] {
  return [...iterateBatches(readFileSync(logFile(leaderOf(topic, partition), topic, partition)))];
}

interface TestRecord {
  readonly key: Buffer;
  readonly value: Buffer;
}

/** The bytes kcat -P reads from stdin for these records with -K/-D delimiters. */
function kcatInput(records: readonly TestRecord[]): Buffer {
  for (const record of records) {
    expect(record.key.includes(keyDelimiter) || record.value.includes(messageDelimiter)).toBe(false);
  }
  return Buffer.concat(
    records.flatMap((record) => [
      record.key,
      Buffer.from(keyDelimiter),
      record.value,
      Buffer.from(messageDelimiter),
    ]),
  );
}

function produceWithKcat(
  topic: string,
  partition: number,
  records: readonly TestRecord[],
  extraArgs: readonly string[] = [],
): void {
  kcat(
    ['-P', '-t', topic, '-p', String(partition), '-K', keyDelimiter, '-D', messageDelimiter, ...extraArgs],
    kcatInput(records),
  );
}

const consumeFormat = '%o %T %K %S|%k|%s|%h\n';

/** What kcat -C -f consumeFormat prints for stored records, built from the log file. */
function expectedConsumeOutput(
  batches: readonly DecodedBatch[],
  firstOffset = 0,
  headerText: (batch: DecodedBatch) => string,
): Buffer {
  return Buffer.concat(
    batches.flatMap((batch) =>
      batch.records
        .filter((record) => record.offset >= firstOffset)
        .flatMap((record) => [
          Buffer.from(
            `${record.offset} ${record.timestamp} ${record.key?.length ?? -1} ${record.value?.length ?? -1}|`,
          ),
          record.key ?? Buffer.alloc(0),
          Buffer.from('|'),
          record.value ?? Buffer.alloc(0),
          Buffer.from(`|${headerText(batch)}\n`),
        ]),
    ),
  );
}

function consumeWithKcat(topic: string, partition: number, offset: string): Buffer {
  return kcat(['-C', '-t', topic, '-p', String(partition), '-o', offset, '-e', '-q', '-f', consumeFormat]);
}

/** Deterministic bytes (no randomness needed: every byte value, in a shifting order). */
function patternBytes(length: number, step: number): Buffer {
  const bytes = Buffer.alloc(length);
  for (let index = 0; index < length; index++) bytes[index] = (index * step + 7) & 0xff;
  return bytes;
}

describe('kcat against three broker processes, bootstrapped from broker 1', () => {
  it('-L lists the three brokers and the controller; an auto-created topic has a leader on each', () => {
    kcat(['-P', '-t', 'kcat-listing', '-p', '0'], Buffer.from('first\n'));
    const listing = metadata('kcat-listing');
    expect(listing.brokers.map((broker) => broker.id).sort()).toEqual([1, 2, 3]);
    expect(listing.brokers.map((broker) => broker.name).sort()).toEqual(
      cluster.nodes.map((node) => `127.0.0.1:${node.kafkaPort}`).sort(),
    );
    expect([1, 2, 3]).toContain(listing.controllerid);
    const partitions = listing.topics.find((topic) => topic.topic === 'kcat-listing')!.partitions;
    expect(partitions.map((partition) => partition.leader).sort()).toEqual([1, 2, 3]);
    // The plain-text listing too, as people read it.
    const text = kcat(['-L', '-t', 'kcat-listing']).toString('utf8');
    expect(text).toMatch(/3 brokers:/);
    expect(text).toMatch(/topic "kcat-listing" with 3 partitions:/);
  });

  it('produces binary keys, values and headers to the leader on each broker and reads them back byte for byte', () => {
    const topic = 'kcat-bytes';
    const headersOf = (partition: number) => [`origin=kcat-${partition}`, `with=equals=signs €`, 'empty='];
    const recordsOf = (partition: number): TestRecord[] => [
      { key: Buffer.from([0x00, 0x01, 0xff, 0x7f, partition]), value: patternBytes(256, 1) },
      { key: Buffer.from(`ключ-${partition} €`), value: Buffer.from('tab\t, CR\r, LF\n, NUL\0 and UTF-8 ✓') },
      { key: Buffer.from('big'), value: patternBytes(200_000, 31 + partition * 2) },
    ];
    for (const partition of [0, 1, 2]) {
      produceWithKcat(
        topic,
        partition,
        recordsOf(partition),
        headersOf(partition).flatMap((header) => ['-H', header]),
      );
    }
    const leaders = [0, 1, 2].map((partition) => leaderOf(topic, partition));
    expect(leaders.sort()).toEqual([1, 2, 3]);

    for (const partition of [0, 1, 2]) {
      const leader = leaderOf(topic, partition);
      // Stored only by the leader (replication factor 1), where the client never connected first.
      for (const node of cluster.nodes)
        expect(existsSync(logFile(node.id, topic, partition)), `node ${node.id}`).toBe(node.id === leader);
      const batches = storedBatches(topic, partition);
      const stored = batches.flatMap((batch) => batch.records);
      const expectedHeaders = headersOf(partition).map((header) => {
        const split = header.indexOf('=');
        return { key: header.slice(0, split), value: Buffer.from(header.slice(split + 1)) };
      });
      expect(
        stored.map((record) => ({ key: record.key, value: record.value, headers: record.headers })),
      ).toEqual(recordsOf(partition).map((record) => ({ ...record, headers: expectedHeaders })));
      expect(stored.map((record) => record.offset)).toEqual([0, 1, 2]);

      const consumed = consumeWithKcat(topic, partition, 'beginning');
      const expected = expectedConsumeOutput(batches, 0, () => headersOf(partition).join(','));
      expect(consumed.equals(expected), `partition ${partition}`).toBe(true);
    }
  });

  it('-J shows keys, payloads, headers, timestamps and offsets as stored', () => {
    const topic = 'kcat-json';
    produceWithKcat(
      topic,
      2,
      [
        { key: Buffer.from('k1'), value: Buffer.from('{"nested": "json"}') },
        { key: Buffer.from('k2'), value: Buffer.from('ünïcödé') },
      ],
      ['-H', 'trace=abc', '-H', 'trace=def'],
    );
    const stored = storedBatches(topic, 2).flatMap((batch) => batch.records);
    const lines = kcat(['-C', '-t', topic, '-p', '2', '-o', 'beginning', '-e', '-q', '-J'])
      .toString('utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toEqual(
      stored.map((record) => ({
        topic,
        partition: 2,
        offset: record.offset,
        tstype: 'create',
        ts: record.timestamp,
        broker: leaderOf(topic, 2),
        headers: ['trace', 'abc', 'trace', 'def'],
        key: record.key!.toString('utf8'),
        payload: record.value!.toString('utf8'),
      })),
    );
  });

  it('consumes from the beginning, an offset, relative to the end, and between two timestamps', () => {
    const topic = 'kcat-positions';
    const baseTimestampMs = 1_700_000_000_000;
    // Timestamps 1 s apart, set by the producer (kafka-python), one record per batch: Gregor answers
    // ListOffsets by time with the base offset of the first batch that reaches the time (storage's
    // batch granularity), where Kafka names the record; with one-record batches both agree.
    python({ op: 'create_topics', topics: [{ name: topic, partitions: 3, replication: 1 }] });
    python({
      op: 'produce',
      topic,
      batch_per_record: true,
      records: Array.from({ length: 10 }, (_, index) => ({
        partition: 1,
        key: Buffer.from(`k${index}`).toString('base64'),
        value: Buffer.from(`v${index}`).toString('base64'),
        timestamp_ms: baseTimestampMs + index * 1000,
      })),
    });
    const values = (offset: string, extra: readonly string[] = []) =>
      kcat(['-C', '-t', topic, '-p', '1', '-o', offset, '-e', '-q', '-f', '%o:%s:%T\n', ...extra])
        .toString('utf8')
        .split('\n')
        .filter((line) => line !== '');
    const line = (index: number) => `${index}:v${index}:${baseTimestampMs + index * 1000}`;
    const lines = (from: number, to = 9) => Array.from({ length: to - from + 1 }, (_, i) => line(from + i));

    expect(values('beginning')).toEqual(lines(0));
    expect(values('5')).toEqual(lines(5));
    expect(values('-3')).toEqual(lines(7));
    expect(values('end')).toEqual([]);
    // s@: the first record at or after the time; e@: stop before the first record at or after it.
    expect(values(`s@${baseTimestampMs + 4000}`)).toEqual(lines(4));
    expect(values(`s@${baseTimestampMs + 4500}`)).toEqual(lines(5));
    expect(values(`s@${baseTimestampMs + 2000}`, ['-o', `e@${baseTimestampMs + 6000}`])).toEqual(lines(2, 5));
  });

  it('consumes from the end: only records produced after it started', async () => {
    const topic = 'kcat-from-end';
    produceWithKcat(topic, 0, [{ key: Buffer.from('old'), value: Buffer.from('old-0') }]);
    const consumer: ChildProcess = spawn(
      'kcat',
      ['-b', bootstrap, '-C', '-t', topic, '-p', '0', '-o', 'end', '-c', '1', '-q', '-f', '%s\n'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    let errors = '';
    consumer.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    consumer.stderr?.on('data', (chunk: Buffer) => {
      errors += chunk.toString('utf8');
    });
    // 'close', not 'exit': Node may emit 'exit' before the last of the child's stdout has been read.
    const exited = once(consumer, 'close');
    // The consumer's start position is taken at some moment we cannot see: keep producing until it
    // has read one record (bounded), and check that record is not the one from before it started.
    const deadline = Date.now() + kcatTimeoutMs;
    let sent = 0;
    while (consumer.exitCode === null && Date.now() < deadline) {
      produceWithKcat(topic, 0, [{ key: Buffer.from('new'), value: Buffer.from(`late-${sent++}`) }]);
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 200))]);
    }
    if (consumer.exitCode === null) consumer.kill('SIGKILL');
    await exited;
    expect(
      output,
      `kcat (exit ${consumer.exitCode}, ${consumer.signalCode}) read ${JSON.stringify(output)} after ${sent} records; its stderr: ${errors}`,
    ).toMatch(/^late-\d+\n$/);
  });

  it.each([
    ['gzip', CompressionType.Gzip],
    ['snappy', CompressionType.Snappy],
    ['lz4', CompressionType.Lz4],
    ['zstd', CompressionType.Zstd],
  ] as const)('stores %s batches as kcat compressed them and serves them back', async (codec, requested) => {
    const topic = `kcat-${codec}`;
    // Repetitive values: librdkafka sends a batch uncompressed when compressing would not shrink it.
    const records: TestRecord[] = Array.from({ length: 50 }, (_, index) => ({
      key: Buffer.from(`key-${index % 5}`),
      value: Buffer.from(`${codec} value ${index} `.repeat(20)),
    }));
    // librdkafka takes FindCoordinator v0 (Kafka 0.8.2) as the sign a broker reads LZ4, and sends
    // uncompressed batches to one that does not advertise it.
    expect(await advertises(ApiKey.FindCoordinator)).toBe(true);
    produceWithKcat(topic, 0, records, ['-z', codec, '-H', `codec=${codec}`]);
    const batches = storedBatches(topic, 0);
    expect(batches.length).toBeGreaterThan(0);
    for (const batch of batches) expect(batch.header.compression).toBe(requested);
    expect(
      batches.flatMap((batch) => batch.records).map((record) => ({ key: record.key, value: record.value })),
    ).toEqual(records);
    const consumed = consumeWithKcat(topic, 0, 'beginning');
    expect(consumed.equals(expectedConsumeOutput(batches, 0, () => `codec=${codec}`))).toBe(true);
  });
});

// The current librdkafka (2.15.1, what confluent-kafka for Python, Go, .NET and JavaScript ship)
// against a three-node cluster of broker processes: Debian's kcat and python3-confluent-kafka run on
// the librdkafka that scripts/build-librdkafka.sh built (LD_LIBRARY_PATH), and every test checks
// the version the library reports, so none can pass on Debian's 2.0.2 by accident.
// Covered: metadata for all topics (librdkafka 2.15 sends it with bytes Kafka ignores), produce and
// consume with kcat, idempotent produce, the admin calls (create, describe configs, create
// partitions, list, delete topics; list groups), consumer groups that subscribe and commit, and a
// batch refused for its keyless records on a compacted topic, whose records librdkafka fails one
// by one from the Produce response's record_errors (KIP-467). The nodes' request metrics show the
// versions librdkafka 2.15 picks from what Gregor serves: Metadata v13 and Fetch v16 (by topic id).
// A consumer whose partition leader is killed validates its position on the new leader with
// OffsetForLeaderEpoch (KIP-320), as the new leader's request metrics show; the epoch ends the leader
// answers are the epoch boundaries its log holds.
// No node may close a connection for a request it could not read.

import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiKey, KafkaConnection } from '@gregor/client';
import { CompressionType, type DecodedBatch, iterateBatches } from '@gregor/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  currentLibrdkafkaEnv,
  currentLibrdkafkaVersion,
  kcatLibrdkafkaVersion,
  replicatedThreeNodeProperties,
  runCurrentLibrdkafkaPython,
} from '../testing/current-librdkafka.js';
import { ProcessCluster } from '../testing/process-cluster.js';

const clientTimeoutMs = 60_000;
const outputBytesMax = 16 * 1024 * 1024;
/** list_topics calls (each a new client) until a committed change shows on the broker asked. */
const listAttemptsMax = 20;
const pythonClient = new URL('./python/confluent_kafka_client.py', import.meta.url).pathname;

let cluster: ProcessCluster;
let env: NodeJS.ProcessEnv;
/** One broker only: the clients find the others through Metadata. */
let bootstrap: string;

beforeAll(async () => {
  env = currentLibrdkafkaEnv();
  cluster = await ProcessCluster.start({
    nodeCount: 3,
    properties: {
      ...replicatedThreeNodeProperties,
      'group.initial.rebalance.delay.ms': '200',
      'gregor.metrics.port': '0',
    },
  });
  bootstrap = `127.0.0.1:${cluster.node(2).kafkaPort}`;
});

afterAll(async () => {
  await cluster?.close();
});

function kcat(args: readonly string[], input?: string): string {
  return execFileSync('kcat', ['-b', bootstrap, ...args], {
    input,
    env,
    timeout: clientTimeoutMs,
    maxBuffer: outputBytesMax,
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** Runs one confluent_kafka_client.py command; fails unless it ran on the current librdkafka. */
function confluent<T>(command: object): T {
  return runCurrentLibrdkafkaPython<T>(pythonClient, { bootstrap, ...command }, clientTimeoutMs);
}

const fencedLeaderEpoch = 74;
/** Polls of a condition the cluster reaches on its own (a new leader, a file the client writes). */
const waitAttemptsMax = 300;
const waitPauseMs = 200;
async function waitForValue<T>(what: string, read: () => T | undefined): Promise<T> {
  for (let attempt = 0; attempt < waitAttemptsMax; attempt++) {
    const value = read();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, waitPauseMs));
  }
  throw new Error(`gave up waiting for ${what}\n${cluster.tail()}`);
}

/** A node's request counts from its Prometheus metrics: "Name vN" -> count. */
async function requestCounts(id: number): Promise<Map<string, number>> {
  const response = await fetch(`http://127.0.0.1:${cluster.node(id).metricsPort}/metrics`);
  expect(response.status).toBe(200);
  const counts = new Map<string, number>();
  for (const line of (await response.text()).split('\n')) {
    const match =
      /^kafka_network_requestmetrics_requests_total\{request="(\w+)",version="(\d+)"\} (\S+)$/.exec(line);
    if (match !== null) counts.set(`${match[1]} v${match[2]}`, Number(match[3]));
  }
  return counts;
}

interface KcatMetadata {
  brokers: { id: number }[];
  topics: {
    topic: string;
    partitions: { partition: number; leader: number; replicas: { id: number }[] }[];
  }[];
}

function kcatMetadata(topic?: string): KcatMetadata {
  return JSON.parse(kcat(topic === undefined ? ['-L', '-J'] : ['-L', '-J', '-t', topic])) as KcatMetadata;
}

function storedBatches(topic: string, partition: number): DecodedBatch[] {
  const leader = kcatMetadata(topic)
    .topics.find((entry) => entry.topic === topic)
    ?.partitions.find((entry) => entry.partition === partition)?.leader;
  if (leader === undefined) throw new Error(`no leader for ${topic}-${partition}`);
  const file = join(
    cluster.node(leader).dataDir,
    'logs',
    `${topic}-${partition}`,
    '00000000000000000000.log',
  );
  return [...iterateBatches(readFileSync(file))];
}

describe(`librdkafka ${currentLibrdkafkaVersion} (kcat, confluent-kafka-python) against three broker processes`, () => {
  it(`runs kcat and confluent-kafka-python on librdkafka ${currentLibrdkafkaVersion}, not Debian's`, () => {
    expect(kcatLibrdkafkaVersion(env)).toBe(currentLibrdkafkaVersion);
    expect(kcatLibrdkafkaVersion(process.env)).not.toBe(currentLibrdkafkaVersion);
    const listing = confluent<{ brokers: number[] }>({ op: 'list_topics' });
    expect(listing.brokers).toEqual([1, 2, 3]);
  });

  it('kcat -L asks for every topic (Metadata v13 with bytes Kafka ignores) and lists the cluster', () => {
    expect(kcatLibrdkafkaVersion(env)).toBe(currentLibrdkafkaVersion);
    kcat(['-P', '-t', 'rdk-listing', '-p', '0'], 'first\n');
    const listing = kcatMetadata();
    expect(listing.brokers.map((broker) => broker.id).sort()).toEqual([1, 2, 3]);
    const topic = listing.topics.find((entry) => entry.topic === 'rdk-listing');
    expect(topic?.partitions.map((partition) => partition.partition).sort()).toEqual([0, 1, 2]);
    for (const partition of topic?.partitions ?? []) expect(partition.replicas.length).toBe(3);
  });

  it.each([
    ['none', CompressionType.None],
    ['zstd', CompressionType.Zstd],
    ['lz4', CompressionType.Lz4],
  ] as const)('kcat produces %s batches to every partition and consumes them back', (codec, compression) => {
    expect(kcatLibrdkafkaVersion(env)).toBe(currentLibrdkafkaVersion);
    const topic = `rdk-kcat-${codec}`;
    const valuesOf = (partition: number) =>
      Array.from({ length: 20 }, (_, index) => `${codec} p${partition} value ${index} `.repeat(8).trim());
    for (const partition of [0, 1, 2]) {
      const input = valuesOf(partition)
        .map((value, index) => `key-${index}#${value}\n`)
        .join('');
      kcat(['-P', '-t', topic, '-p', String(partition), '-K', '#', '-z', codec, '-X', 'acks=all'], input);
    }
    for (const partition of [0, 1, 2]) {
      const batches = storedBatches(topic, partition);
      for (const batch of batches) expect(batch.header.compression).toBe(compression);
      const stored = batches.flatMap((batch) => batch.records);
      expect(stored.map((record) => record.value?.toString())).toEqual(valuesOf(partition));
      const consumed = kcat([
        '-C',
        '-t',
        topic,
        '-p',
        String(partition),
        '-o',
        'beginning',
        '-e',
        '-q',
        '-f',
        '%o|%k|%s\n',
      ])
        .trim()
        .split('\n');
      expect(consumed).toEqual(valuesOf(partition).map((value, index) => `${index}|key-${index}|${value}`));
    }
  });

  it('confluent-kafka-python admin: create, describe configs, add partitions, list and delete topics', () => {
    const created = confluent<{ topics: Record<string, string | null> }>({
      op: 'create_topics',
      topics: [{ name: 'rdk-admin', partitions: 2, replication: 3, config: { 'retention.ms': '3600000' } }],
    });
    expect(created.topics).toEqual({ 'rdk-admin': null });
    const again = confluent<{ topics: Record<string, string | null> }>({
      op: 'create_topics',
      topics: [{ name: 'rdk-admin', partitions: 2, replication: 3 }],
    });
    expect(again.topics).toEqual({ 'rdk-admin': 'TOPIC_ALREADY_EXISTS' });

    const described = confluent<{ configs: Record<string, string> }>({
      op: 'describe_configs',
      topic: 'rdk-admin',
    });
    expect(described.configs['retention.ms']).toBe('3600000');
    expect(described.configs['cleanup.policy']).toBe('delete');

    expect(
      confluent<{ error: string | null }>({ op: 'create_partitions', topic: 'rdk-admin', count: 5 }).error,
    ).toBeNull();
    // The answer comes once the controller committed the change; the broker that list_topics asks
    // may apply it a moment later (as a Kafka broker does), so ask again, a bounded number of times.
    const listTopics = () =>
      confluent<{ brokers: number[]; controller_id: number; topics: Record<string, number> }>({
        op: 'list_topics',
      });
    let listed = listTopics();
    for (let attempt = 1; attempt < listAttemptsMax && listed.topics['rdk-admin'] !== 5; attempt++) {
      listed = listTopics();
    }
    expect(listed.topics['rdk-admin']).toBe(5);
    expect([1, 2, 3]).toContain(listed.controller_id);

    const deleted = confluent<{ topics: Record<string, string | null> }>({
      op: 'delete_topics',
      topics: ['rdk-admin'],
    });
    expect(deleted.topics).toEqual({ 'rdk-admin': null });
    listed = listTopics();
    for (let attempt = 1; attempt < listAttemptsMax && 'rdk-admin' in listed.topics; attempt++) {
      listed = listTopics();
    }
    expect(listed.topics['rdk-admin']).toBeUndefined();
  });

  it('confluent-kafka-python: an idempotent producer, a group that commits, and a later member that resumes there', () => {
    const topic = 'rdk-group-topic';
    const group = 'rdk-group';
    expect(
      confluent<{ topics: Record<string, string | null> }>({
        op: 'create_topics',
        topics: [{ name: topic, partitions: 3, replication: 3 }],
      }).topics,
    ).toEqual({ [topic]: null });
    const recordsOf = (from: number, count: number) =>
      Array.from({ length: count }, (_, index) => ({
        partition: (from + index) % 3,
        key: `k${from + index}`,
        value: `v${from + index}`,
      }));

    const first = confluent<{ delivered: { partition: number; offset: number }[] }>({
      op: 'produce',
      topic,
      idempotent: true,
      compression: 'zstd',
      records: recordsOf(0, 9),
    });
    expect(first.delivered.map((entry) => entry.offset).sort()).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 2]);
    // The idempotent producer's batches carry its producer id and sequence numbers.
    for (const partition of [0, 1, 2]) {
      for (const batch of storedBatches(topic, partition))
        expect(batch.header.producerId).toBeGreaterThanOrEqual(0n);
    }

    interface Consumed {
      records: { partition: number; offset: number; key: string; value: string }[];
      committed: Record<string, number>;
    }
    const consumedFirst = confluent<Consumed>({
      op: 'group_consume',
      topic,
      group,
      count: 9,
      timeout_ms: 45_000,
    });
    expect(consumedFirst.records.map((record) => record.value).sort()).toEqual(
      recordsOf(0, 9)
        .map((r) => r.value)
        .sort(),
    );
    expect(consumedFirst.committed).toEqual({ 0: 3, 1: 3, 2: 3 });
    expect(
      confluent<{ committed: Record<string, number> }>({
        op: 'committed',
        topic,
        group,
        partitions: [0, 1, 2],
      }).committed,
    ).toEqual({ 0: 3, 1: 3, 2: 3 });

    confluent({ op: 'produce', topic, idempotent: true, records: recordsOf(9, 3) });
    const consumedSecond = confluent<Consumed>({
      op: 'group_consume',
      topic,
      group,
      count: 3,
      timeout_ms: 45_000,
    });
    // Only what came after the commit: the second member starts at the committed offsets.
    expect(consumedSecond.records.map((record) => [record.value, record.offset]).sort()).toEqual([
      ['v10', 3],
      ['v11', 3],
      ['v9', 3],
    ]);
    expect(consumedSecond.committed).toEqual({ 0: 4, 1: 4, 2: 4 });

    const groups = confluent<{ groups: { id: string; state: string; protocol_type: string }[] }>({
      op: 'list_groups',
    });
    expect(groups.groups.find((entry) => entry.id === group)).toMatchObject({
      state: 'Empty',
      protocol_type: 'consumer',
    });
  });

  it("names a compacted topic's keyless records (KIP-467 record_errors): librdkafka fails them as INVALID_RECORD, the rest of their batch as _INVALID_DIFFERENT_RECORD", () => {
    // librdkafka's own test 0011_produce_batch (test_message_single_partition_record_fail): 100
    // records, every tenth without a key. In one batch, the broker refuses the batch naming those
    // 10; librdkafka fails them with INVALID_RECORD and the other 90 with _INVALID_DIFFERENT_RECORD
    // (without record_errors all 100 would be INVALID_RECORD). One record per batch, only the 10
    // fail. Nothing of a refused batch is stored.
    const topic = 'rdk-compacted-keyless';
    expect(
      confluent<{ topics: Record<string, string | null> }>({
        op: 'create_topics',
        topics: [{ name: topic, partitions: 1, replication: 3, config: { 'cleanup.policy': 'compact' } }],
      }).topics,
    ).toEqual({ [topic]: null });
    const records = Array.from({ length: 100 }, (_, index) => ({
      key: index % 10 === 0 ? null : `key-${index}`,
      value: `value-${index}`,
    }));
    type Outcomes = { outcomes: { value: string; error: string | null; offset: number }[] };
    const errorsOf = (outcomes: Outcomes['outcomes']) =>
      outcomes.map((outcome) => [outcome.value, outcome.error]);
    const keyedRecords = records.filter((record) => record.key !== null);
    expect(keyedRecords).toHaveLength(90);

    const oneBatch = confluent<Outcomes>({
      op: 'produce_outcomes',
      topic,
      partition: 0,
      records,
      linger_ms: 500,
    });
    expect(errorsOf(oneBatch.outcomes)).toEqual(
      records.map((record) => [
        record.value,
        record.key === null ? 'INVALID_RECORD' : '_INVALID_DIFFERENT_RECORD',
      ]),
    );

    const onePerBatch = confluent<Outcomes>({
      op: 'produce_outcomes',
      topic,
      partition: 0,
      records,
      client_config: { 'batch.size': '1' },
    });
    expect(errorsOf(onePerBatch.outcomes)).toEqual(
      records.map((record) => [record.value, record.key === null ? 'INVALID_RECORD' : null]),
    );
    const delivered = onePerBatch.outcomes.filter((outcome) => outcome.error === null);
    expect(delivered.map((outcome) => outcome.offset)).toEqual(keyedRecords.map((_, offset) => offset));
    const consumed = kcat(['-C', '-t', topic, '-p', '0', '-o', 'beginning', '-e', '-q', '-f', '%o|%k|%s\n'])
      .trim()
      .split('\n');
    expect(consumed).toEqual(keyedRecords.map((record, offset) => `${offset}|${record.key}|${record.value}`));
  });

  it('kcat -G subscribes, reads the topic to its end and commits what it read', () => {
    expect(kcatLibrdkafkaVersion(env)).toBe(currentLibrdkafkaVersion);
    const topic = 'rdk-kcat-group';
    for (const partition of [0, 1, 2])
      kcat(['-P', '-t', topic, '-p', String(partition)], `a${partition}\nb${partition}\n`);
    const output = kcat([
      '-G',
      'rdk-kcat-group',
      '-X',
      'auto.offset.reset=earliest',
      '-X',
      'client.id=rdk-kcat-member',
      '-e',
      '-q',
      '-f',
      '%p:%s\n',
      topic,
    ]);
    expect(output.trim().split('\n').sort()).toEqual(['0:a0', '0:b0', '1:a1', '1:b1', '2:a2', '2:b2']);
    const committed = confluent<{ committed: Record<string, number> }>({
      op: 'committed',
      topic,
      group: 'rdk-kcat-group',
      partitions: [0, 1, 2],
    });
    expect(committed.committed).toEqual({ 0: 2, 1: 2, 2: 2 });
  });

  it("a consumer that sees its partition's leader killed validates its position on the new leader (OffsetForLeaderEpoch, KIP-320)", async () => {
    expect(kcatLibrdkafkaVersion(env)).toBe(currentLibrdkafkaVersion);
    const topic = 'rdk-leader-change';
    for (const index of [0, 1, 2])
      kcat(['-P', '-t', topic, '-p', String(index), '-X', 'acks=all'], 'warmup\n');
    // The bootstrap node (2) stays up: pick a partition another node leads.
    const partitions = await waitForValue('every partition of the topic led', () => {
      const listed = kcatMetadata(topic).topics.find((entry) => entry.topic === topic)?.partitions ?? [];
      return listed.length === 3 && listed.every((entry) => entry.leader > 0) ? listed : undefined;
    });
    const { partition, leader: oldLeader } = partitions.find((entry) => entry.leader !== 2)!;
    kcat(['-P', '-t', topic, '-p', String(partition), '-X', 'acks=all'], 'before-0\nbefore-1\nbefore-2\n');
    const before = storedBatches(topic, partition);
    const oldEpoch = before[0]!.header.partitionLeaderEpoch;
    expect(before.every((batch) => batch.header.partitionLeaderEpoch === oldEpoch)).toBe(true);

    const scratch = mkdtempSync(join(tmpdir(), 'rdk-leader-change-'));
    const readyFile = join(scratch, 'ready');
    const consumer = spawn('/usr/bin/python3', [pythonClient], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    consumer.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    consumer.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = once(consumer, 'close');
    consumer.stdin.end(
      JSON.stringify({
        bootstrap,
        op: 'consume_across_leader_change',
        topic,
        partition,
        before: 4,
        after: 3,
        ready_file: readyFile,
        timeout_ms: 90_000,
      }),
    );
    try {
      await waitForValue('the consumer read the first records', () =>
        existsSync(readyFile) ? true : undefined,
      );
      await cluster.kill(oldLeader);
      const newLeader = await waitForValue('a new leader', () => {
        const leader = kcatMetadata(topic)
          .topics.find((entry) => entry.topic === topic)
          ?.partitions.find((entry) => entry.partition === partition)?.leader;
        return leader !== undefined && leader > 0 && leader !== oldLeader ? leader : undefined;
      });
      kcat(['-P', '-t', topic, '-p', String(partition), '-X', 'acks=all'], 'after-0\nafter-1\nafter-2\n');
      const [code] = (await exited) as [number | null];
      // librdkafka logs the lost connection to the killed leader on stderr: shown only on failure.
      expect(code, stderr).toBe(0);
      const answer = JSON.parse(stdout) as {
        records: { offset: number; value: string }[];
        errors: string[];
        librdkafka: string;
      };
      expect(answer.librdkafka).toBe(currentLibrdkafkaVersion);
      expect(answer.records).toEqual(
        ['warmup', 'before-0', 'before-1', 'before-2', 'after-0', 'after-1', 'after-2'].map(
          (value, offset) => ({
            offset,
            value,
          }),
        ),
      );

      // The broker's state: the new leader wrote the later records under a higher epoch.
      const file = join(
        cluster.node(newLeader).dataDir,
        'logs',
        `${topic}-${partition}`,
        '00000000000000000000.log',
      );
      const stored = [...iterateBatches(readFileSync(file))];
      const newEpoch = stored.at(-1)!.header.partitionLeaderEpoch;
      expect(newEpoch).toBeGreaterThan(oldEpoch);
      expect(stored.at(-1)!.header.baseOffset).toBe(4);
      // librdkafka validated its position (fetched under oldEpoch) on the new leader.
      const requests = await requestCounts(newLeader);
      expect([...requests.keys()].filter((key) => key.startsWith('OffsetForLeaderEpoch '))).not.toEqual([]);

      // The epochs' ends as the new leader answers them (over Gregor's own client: @platformatic/kafka
      // 1.35 decodes OffsetForLeaderEpoch v4 with error_code and partition swapped, against Kafka's
      // spec): the old epoch ends where the new one starts (4), the current one at the log end (7),
      // and a request naming the old epoch as current is FENCED_LEADER_EPOCH.
      const connection = await KafkaConnection.open({
        host: '127.0.0.1',
        port: cluster.node(newLeader).kafkaPort,
        connectTimeoutMs: 2_000,
      });
      try {
        const ask = async (currentLeaderEpoch: number, leaderEpoch: number) => {
          const response = await connection.call(
            ApiKey.OffsetForLeaderEpoch,
            4,
            {
              replicaId: -1,
              topics: [{ topic, partitions: [{ partition, currentLeaderEpoch, leaderEpoch }] }],
            },
            5_000,
          );
          return response.topics[0]!.partitions[0]!;
        };
        expect(await ask(newEpoch, oldEpoch)).toEqual({
          errorCode: 0,
          partition,
          leaderEpoch: oldEpoch,
          endOffset: 4n,
        });
        expect(await ask(newEpoch, newEpoch)).toEqual({
          errorCode: 0,
          partition,
          leaderEpoch: newEpoch,
          endOffset: 7n,
        });
        expect(await ask(oldEpoch, oldEpoch)).toMatchObject({ partition, errorCode: fencedLeaderEpoch });
      } finally {
        connection.close();
      }
    } finally {
      if (consumer.exitCode === null && consumer.signalCode === null) consumer.kill('SIGKILL');
      rmSync(scratch, { recursive: true, force: true });
      await cluster.restart(oldLeader);
    }
  });

  it('librdkafka 2.15 asked Metadata v13 and fetched with Fetch v16, by topic id', async () => {
    const requests = new Map<string, number>();
    for (const node of cluster.nodes) {
      const response = await fetch(`http://127.0.0.1:${node.metricsPort}/metrics`);
      expect(response.status).toBe(200);
      for (const line of (await response.text()).split('\n')) {
        const match =
          /^kafka_network_requestmetrics_requests_total\{request="(Metadata|Fetch)",version="(\d+)"\} (\S+)$/.exec(
            line,
          );
        if (match === null) continue;
        const key = `${match[1]} v${match[2]}`;
        requests.set(key, (requests.get(key) ?? 0) + Number(match[3]));
      }
    }
    expect(requests.get('Metadata v13')).toBeGreaterThan(0);
    expect(requests.get('Fetch v16')).toBeGreaterThan(0);
    // Never below v13: librdkafka falls back to Fetch v12 (by name) only without the topic ids.
    expect([...requests.keys()].filter((key) => key.startsWith('Fetch')).sort()).toEqual(['Fetch v16']);
  });

  it('no node closed a connection for a request it could not read', async () => {
    // The clients ran synchronously, so the nodes' output may not have been read yet: stop the
    // nodes and wait for 'close', which comes once a child's stdout and stderr have ended.
    const drained = cluster.nodes.map((node) => once(node.process!, 'close'));
    for (const node of cluster.nodes) await cluster.kill(node.id);
    await Promise.all(drained);
    const output = cluster.nodes.map((node) => node.output.join('')).join('\n');
    expect(output).toContain('Gregor node started');
    const refusals = output.split('\n').filter((line) => line.includes('closing client connection'));
    expect(refusals).toEqual([]);
  });
});

// Admin APIs that only one real client here can call, each driven so that a second, independent
// client checks what the call did (one cluster of three broker processes):
// - ElectLeaders through librdkafka 2.15's C admin API (python/librdkafka_admin.py): after node 1
//   restarted, a PREFERRED election moves leadership of a partition back to it, as librdkafka's own
//   Metadata (kcat -L) then shows on every broker; asked again, ELECTION_NOT_NEEDED.
// - DescribeLogDirs through @platformatic/kafka: after kcat (librdkafka) wrote records with
//   acks=all, every replica's partition size is the bytes of its segment files on that node's
//   disk, the same on the three replicas, with no offset lag.
// - AlterClientQuotas and DescribeClientQuotas through @platformatic/kafka: a producer_byte_rate
//   set on a client id is read back from every broker, and a librdkafka 2.15 producer
//   (confluent-kafka-python) under that client id is throttled (its throttle_cb sees Produce
//   responses with throttle_time_ms > 0); once @platformatic/kafka removes the quota, the same
//   producer is not throttled.
// - DescribeTopicPartitions through @platformatic/kafka, one partition per page following the
//   cursor, lists the partitions, leaders, replicas and ISRs that librdkafka's Metadata lists for a
//   topic librdkafka created.
// No other client here sends these requests (kafkajs 2.2.4, kafka-python 2.0.2, Debian's
// confluent-kafka-python 1.7 binding, librdkafka 2.15 and @platformatic/kafka 1.35 each lack the
// others' calls: the package README's compatibility table names what each lacks).

import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type WaitForOptions, waitFor } from '@gregor/ground/testing';
import { Admin, Connection, describeClientQuotasV0, describeTopicPartitionsV0 } from '@platformatic/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentLibrdkafkaEnv, runCurrentLibrdkafkaPython } from '../testing/current-librdkafka.js';
import { partitionZeroCalls } from '../testing/partition-zero-calls.js';
import { ProcessCluster } from '../testing/process-cluster.js';

const convergeTimeoutMs = 60_000;
const clientTimeoutMs = 60_000;
const outputBytesMax = 16 * 1024 * 1024;
const electionNotNeeded = 84;
/** producer_byte_rate of the throttled client id, bytes per second. */
const quotaBytesPerSecond = 20_000;
/** What the throttled producer sends at once: several windows' worth of its quota. */
const throttledRecordCount = 200;
const throttledRecordBytes = 1_000;

const pythonDir = new URL('./python/', import.meta.url).pathname;

let cluster: ProcessCluster;
let env: NodeJS.ProcessEnv;
const bootstrapOf = (id: number) => `127.0.0.1:${cluster.node(id).kafkaPort}`;
const waitOptions = (): WaitForOptions => ({
  timeoutMs: convergeTimeoutMs,
  intervalMs: 200,
  detail: () => cluster.tail(),
});
const { partitionState, createTopic } = partitionZeroCalls(() => cluster, waitOptions);

beforeAll(async () => {
  env = currentLibrdkafkaEnv();
  cluster = await ProcessCluster.start({
    nodeCount: 3,
    properties: {
      'auto.leader.rebalance.enable': 'false',
      'quota.window.num': '2',
      'quota.window.size.seconds': '1',
    },
  });
});
afterAll(async () => {
  await cluster?.close();
});

/** Runs a python client of python/ on the current librdkafka; fails unless it ran on that version. */
function python<T>(script: string, command: object): T {
  return runCurrentLibrdkafkaPython<T>(join(pythonDir, script), command, clientTimeoutMs);
}

function electLeaders(viaId: number, partitions: [string, number][]): [string, number, number][] {
  const { answers } = python<{ answers: { partitions: [string, number, number][] }[] }>(
    'librdkafka_admin.py',
    { bootstrap: bootstrapOf(viaId), steps: [{ op: 'elect_leaders', partitions }] },
  );
  return answers[0]!.partitions;
}

type DescribeTopicPartitionsResponse = Awaited<ReturnType<typeof describeTopicPartitionsV0.api.async>>;

interface KcatPartition {
  partition: number;
  leader: number;
  replicas: { id: number }[];
  isrs: { id: number }[];
}

/** librdkafka's Metadata for one topic as broker `viaId` answers it (kcat -L -J). */
function kcatPartitions(viaId: number, topic: string): KcatPartition[] {
  const output = execFileSync('kcat', ['-b', bootstrapOf(viaId), '-L', '-J', '-t', topic], {
    env,
    timeout: clientTimeoutMs,
    maxBuffer: outputBytesMax,
    encoding: 'utf8',
  });
  const metadata = JSON.parse(output) as { topics: { topic: string; partitions: KcatPartition[] }[] };
  const partitions = metadata.topics.find((entry) => entry.topic === topic)?.partitions ?? [];
  return [...partitions].sort((a, b) => a.partition - b.partition);
}

async function withPlatformatic<T>(id: number, body: (connection: Connection) => Promise<T>): Promise<T> {
  const connection = new Connection(`second-clients-${id}`);
  await connection.connect('127.0.0.1', cluster.node(id).kafkaPort);
  try {
    return await body(connection);
  } finally {
    await connection.close();
  }
}

describe('ElectLeaders through librdkafka 2.15, checked with librdkafka Metadata', () => {
  it('PREFERRED moves leadership back to node 1 after it restarted; kcat -L sees it on every broker', async () => {
    const topic = 'second-elect';
    await createTopic(topic, [1, 2, 3]);
    await waitFor(
      `${topic}-0 led by 1 with a full ISR`,
      async () => {
        const state = await partitionState(2, topic);
        return state.leaderId === 1 && state.isr.length === 3 ? state : undefined;
      },
      waitOptions(),
    );
    await cluster.stop(1);
    const moved = await waitFor(
      'leadership moved off node 1',
      async () => {
        const state = await partitionState(2, topic).catch(() => undefined);
        return state !== undefined && state.leaderId !== 1 && state.leaderId >= 0 ? state : undefined;
      },
      waitOptions(),
    );
    await cluster.restart(1);
    await cluster.waitReady();
    await waitFor(
      'node 1 back in the ISR of every broker, not leading',
      () => {
        const views = [1, 2, 3].map((id) => kcatPartitions(id, topic)[0]);
        return views.every((view) => view?.isrs.some((replica) => replica.id === 1)) ? views : undefined;
      },
      waitOptions(),
    );
    expect(kcatPartitions(3, topic)[0]?.leader).toBe(moved.leaderId);

    expect(electLeaders(3, [[topic, 0]])).toEqual([[topic, 0, 0]]);
    const views = await waitFor(
      'every broker answering Metadata with node 1 leading',
      () => {
        const partitions = [1, 2, 3].map((id) => kcatPartitions(id, topic)[0]);
        return partitions.every((partition) => partition?.leader === 1) ? partitions : undefined;
      },
      waitOptions(),
    );
    for (const view of views) {
      expect(view?.replicas.map((replica) => replica.id)).toEqual([1, 2, 3]);
      expect(view?.isrs.map((replica) => replica.id).sort()).toEqual([1, 2, 3]);
    }
    expect(electLeaders(2, [[topic, 0]])).toEqual([[topic, 0, electionNotNeeded]]);
  });
});

describe('DescribeLogDirs through @platformatic/kafka, checked against the segment files', () => {
  it('reports for every replica the bytes its segment files hold after kcat wrote records', async () => {
    const topic = 'second-log-dirs';
    await createTopic(topic, [1, 2, 3]);
    await waitFor(
      `${topic}-0 with a full ISR`,
      async () => ((await partitionState(1, topic)).isr.length === 3 ? true : undefined),
      waitOptions(),
    );
    const values = Array.from({ length: 50 }, (_, index) => `log-dir-record-${index}-${'x'.repeat(200)}`);
    execFileSync(
      'kcat',
      ['-b', bootstrapOf(1), '-P', '-t', topic, '-p', '0', '-X', 'acks=all', '-X', 'linger.ms=0'],
      { input: `${values.join('\n')}\n`, env, timeout: clientTimeoutMs, encoding: 'utf8' },
    );

    const admin = new Admin({ clientId: 'second-log-dirs', bootstrapBrokers: [bootstrapOf(2)] });
    try {
      const described = await waitFor(
        'every replica caught up, its reported size that of its files',
        async () => {
          const brokers = await admin.describeLogDirs({ topics: [{ name: topic, partitions: [0] }] });
          const replicas = brokers.flatMap((broker) =>
            broker.results.flatMap((dir) =>
              dir.topics
                .filter((entry) => entry.name === topic)
                .flatMap((entry) =>
                  entry.partitions.map((partition) => ({
                    broker: broker.broker,
                    logDir: dir.logDir,
                    size: Number(partition.partitionSize),
                    offsetLag: Number(partition.offsetLag),
                    isFuture: partition.isFutureKey,
                    onDisk: segmentBytes(join(dir.logDir, `${topic}-0`)),
                  })),
                ),
            ),
          );
          const sizes = new Set(replicas.map((replica) => replica.size));
          return replicas.length === 3 &&
            sizes.size === 1 &&
            replicas.every((replica) => replica.size === replica.onDisk)
            ? replicas
            : undefined;
        },
        waitOptions(),
      );
      expect(described.map((replica) => replica.broker).sort()).toEqual([1, 2, 3]);
      const payloadBytes = values.reduce((sum, value) => sum + value.length, 0);
      for (const replica of described) {
        expect(replica.logDir.startsWith(cluster.node(replica.broker).dataDir)).toBe(true);
        expect(replica).toMatchObject({ offsetLag: 0, isFuture: false });
        expect(replica.size).toBeGreaterThan(payloadBytes);
      }
    } finally {
      await admin.close();
    }
  });
});

/** Bytes of the segment files (*.log) in one partition's directory. */
function segmentBytes(partitionDir: string): number {
  return readdirSync(partitionDir)
    .filter((name) => name.endsWith('.log'))
    .reduce((sum, name) => sum + statSync(join(partitionDir, name)).size, 0);
}

describe('client quotas through @platformatic/kafka, enforced on a librdkafka producer', () => {
  it('throttles a librdkafka 2.15 producer under the quota platformatic set, and not once it is removed', async () => {
    const topic = 'second-quotas';
    const clientId = 'second-throttled';
    await createTopic(topic, [1, 2, 3]);
    const admin = new Admin({ clientId: 'second-quotas-admin', bootstrapBrokers: [bootstrapOf(1)] });
    const entity = [{ entityType: 'client-id' as const, entityName: clientId }];
    const component = { entityType: 'client-id' as const, matchType: 0 as const, match: clientId };
    try {
      expect(
        await admin.alterClientQuotas({
          entries: [
            {
              entities: entity,
              ops: [{ key: 'producer_byte_rate', value: quotaBytesPerSecond, remove: false }],
            },
          ],
          validateOnly: false,
        }),
      ).toEqual([{ errorCode: 0, errorMessage: null, entity }]);
      await waitFor(
        'every broker describing the quota',
        async () => {
          const answers = await Promise.all(
            [1, 2, 3].map((id) =>
              withPlatformatic(id, (connection) =>
                describeClientQuotasV0.api.async(connection, [component], true),
              ),
            ),
          );
          return answers.every((answer) =>
            answer.entries.some((entry) =>
              entry.values.some(
                (value) => value.key === 'producer_byte_rate' && value.value === quotaBytesPerSecond,
              ),
            ),
          )
            ? true
            : undefined;
        },
        waitOptions(),
      );

      const records = Array.from({ length: throttledRecordCount }, (_, index) => ({
        partition: 0,
        key: `k${index}`,
        value: 'q'.repeat(throttledRecordBytes),
      }));
      const throttled = python<{ delivered: unknown[]; throttles_ms: number[] }>(
        'confluent_kafka_client.py',
        {
          op: 'produce',
          bootstrap: bootstrapOf(2),
          topic,
          client_id: clientId,
          records,
        },
      );
      expect(throttled.delivered).toHaveLength(throttledRecordCount);
      expect(throttled.throttles_ms.length).toBeGreaterThan(0);
      expect(Math.max(...throttled.throttles_ms)).toBeGreaterThan(0);

      await admin.alterClientQuotas({
        entries: [{ entities: entity, ops: [{ key: 'producer_byte_rate', remove: true }] }],
        validateOnly: false,
      });
      await waitFor(
        'every broker without the quota',
        async () => {
          const answers = await Promise.all(
            [1, 2, 3].map((id) =>
              withPlatformatic(id, (connection) =>
                describeClientQuotasV0.api.async(connection, [component], true),
              ),
            ),
          );
          return answers.every((answer) => answer.entries.length === 0) ? true : undefined;
        },
        waitOptions(),
      );
      const free = python<{ delivered: unknown[]; throttles_ms: number[] }>('confluent_kafka_client.py', {
        op: 'produce',
        bootstrap: bootstrapOf(2),
        topic,
        client_id: clientId,
        records,
      });
      expect(free.delivered).toHaveLength(throttledRecordCount);
      expect(free.throttles_ms).toEqual([]);
    } finally {
      await admin.close();
    }
  });
});

describe('DescribeTopicPartitions through @platformatic/kafka, checked with librdkafka Metadata', () => {
  it('pages a topic librdkafka created one partition at a time, agreeing with kcat -L', async () => {
    const topic = 'second-pages';
    const partitionCount = 5;
    const created = python<{ topics: Record<string, string | null> }>('confluent_kafka_client.py', {
      op: 'create_topics',
      bootstrap: bootstrapOf(1),
      topics: [{ name: topic, partitions: partitionCount, replication: 3 }],
    });
    expect(created.topics).toEqual({ [topic]: null });

    const agreed = await waitFor(
      'DescribeTopicPartitions and Metadata agreeing on every partition',
      async () => {
        const paged = await withPlatformatic(3, async (connection) => {
          const pages: DescribeTopicPartitionsResponse[] = [];
          let cursor: { topicName: string; partitionIndex: number } | undefined;
          do {
            const page = await describeTopicPartitionsV0.api.async(connection, [{ name: topic }], 1, cursor);
            pages.push(page);
            cursor = page.nextCursor ?? undefined;
          } while (cursor !== undefined && pages.length <= partitionCount);
          return pages;
        });
        const metadata = kcatPartitions(3, topic);
        const described = paged.flatMap((page) => page.topics.flatMap((entry) => entry.partitions));
        const asDescribed = described.map((partition) => ({
          partition: partition.partitionIndex,
          leader: partition.leaderId,
          replicas: [...partition.replicaNodes],
          isr: [...partition.isrNodes].sort(),
        }));
        const asMetadata = metadata.map((partition) => ({
          partition: partition.partition,
          leader: partition.leader,
          replicas: partition.replicas.map((replica) => replica.id),
          isr: partition.isrs.map((replica) => replica.id).sort(),
        }));
        return metadata.length === partitionCount &&
          asMetadata.every((partition) => partition.leader >= 0 && partition.isr.length === 3) &&
          JSON.stringify(asDescribed) === JSON.stringify(asMetadata)
          ? { paged, asDescribed }
          : undefined;
      },
      waitOptions(),
    );
    // One page per partition: each but the last names the next partition as its cursor.
    expect(agreed.paged.map((page) => page.nextCursor ?? null)).toEqual([
      ...Array.from({ length: partitionCount - 1 }, (_, index) => ({
        topicName: topic,
        partitionIndex: index + 1,
      })),
      null,
    ]);
    expect(agreed.asDescribed.map((partition) => partition.partition)).toEqual([0, 1, 2, 3, 4]);
    for (const partition of agreed.asDescribed) {
      expect(partition.replicas).toContain(partition.leader);
      expect([...partition.replicas].sort()).toEqual([1, 2, 3]);
    }
  });
});

// Static membership (KIP-345) and the cluster admin calls against three Gregor broker processes.
// A static member restarted within its session timeout takes its old assignment back in the same
// generation, and the other member sees no rebalance (no GROUP_JOIN); a second process with the same
// groupInstanceId replaces the first, which crashes with FENCED_INSTANCE_ID on its next heartbeat.
// describeCluster answers what kafkajs's answers; a reassignment made by the client is seen
// completed by kafkajs's listPartitionReassignments and in the metadata, and kcat reads every
// acknowledged record from the new replicas with the old one stopped. A consumer commits and resumes
// by topic id (OffsetCommit v10 / OffsetFetch v10, KIP-848: no independent client here sends them),
// and kafkajs reads the same offsets by name.

import { waitFor } from '@gregor/ground/testing';
import { ApiKey } from '@gregor/protocol';
import { Kafka as KafkaJs, logLevel as kafkajsLogLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Admin } from '../admin.js';
import type { Consumer } from '../consumer/consumer.js';
import type { CrashPayload, GroupJoinPayload, InstrumentationEvent } from '../consumer/instrumentation.js';
import {
  KafkaJSAggregateError,
  KafkaJSAlterPartitionReassignmentsError,
  KafkaJSFencedInstanceIdError,
} from '../errors.js';
import type { RequestPayload } from '../instrumentation.js';
import type { Kafka } from '../kafka.js';
import {
  type BrokerProcesses,
  type GroupTestCluster,
  startGroupTestCluster,
  stopGroupTestCluster,
} from '../testing/broker-processes.js';
import { kcatConsumeAll } from '../testing/kcat.js';

const waitOptions = { timeoutMs: 60_000, intervalMs: 100 };
const heartbeatIntervalMs = 300;

let brokers: BrokerProcesses;
let kafka: Kafka;
let admin: Admin;
let kafkajs: KafkaJs;
let cluster: GroupTestCluster | undefined;

beforeAll(async () => {
  cluster = await startGroupTestCluster('static-it');
  ({ brokers, kafka, admin } = cluster);
  kafkajs = new KafkaJs({
    clientId: 'static-it-kafkajs',
    brokers: brokers.bootstrapServers,
    logLevel: kafkajsLogLevel.NOTHING,
  });
}, 120_000);

afterAll(async () => {
  await stopGroupTestCluster(cluster);
});

interface Member {
  readonly consumer: Consumer;
  readonly joins: GroupJoinPayload[];
  readonly crashes: CrashPayload[];
  readonly read: string[];
}

async function startMember(
  groupId: string,
  groupInstanceId?: string,
  sessionTimeout = 30_000,
): Promise<Member> {
  const consumer = kafka.consumer({
    groupId,
    ...(groupInstanceId === undefined ? {} : { groupInstanceId }),
    sessionTimeout,
    heartbeatInterval: heartbeatIntervalMs,
    maxWaitTimeInMs: 100,
  });
  const member: Member = { consumer, joins: [], crashes: [], read: [] };
  consumer.on(consumer.events.GROUP_JOIN, (event: InstrumentationEvent<GroupJoinPayload>) => {
    member.joins.push(event.payload);
  });
  consumer.on(consumer.events.CRASH, (event: InstrumentationEvent<CrashPayload>) => {
    member.crashes.push(event.payload);
  });
  await consumer.connect();
  await consumer.subscribe({ topic: 'static-orders', fromBeginning: true });
  await consumer.run({
    autoCommitInterval: 100,
    eachMessage: async ({ partition, message }) => {
      member.read.push(`${partition}:${message.value?.toString()}`);
    },
  });
  return member;
}

const partitionsOf = (member: Member) =>
  member.consumer
    .assignments()
    .flatMap((entry) => entry.partitions)
    .sort();

describe('static membership', () => {
  beforeAll(async () => {
    await admin.createTopics({
      topics: [{ topic: 'static-orders', numPartitions: 4, replicationFactor: 3 }],
    });
  });

  it('a static member restarted within the session timeout keeps its partitions without a rebalance; a second one with its id fences it', async () => {
    const groupId = 'static-group';
    const other = await startMember(groupId, 'other-host');
    const first = await startMember(groupId, 'restarting-host');
    await waitFor(
      'both members hold two partitions in one generation',
      () =>
        partitionsOf(other).length === 2 &&
        partitionsOf(first).length === 2 &&
        other.joins.at(-1)?.generationId === first.joins.at(-1)?.generationId
          ? true
          : undefined,
      waitOptions,
    );
    const generationId = first.joins.at(-1)!.generationId;
    const restartedPartitions = partitionsOf(first);
    const otherPartitions = partitionsOf(other);
    const otherJoins = other.joins.length;

    const producer = kafka.producer();
    await producer.connect();
    const send = (prefix: string) =>
      producer.send({
        topic: 'static-orders',
        messages: [0, 1, 2, 3].flatMap((partition) =>
          Array.from({ length: 5 }, (_, index) => ({ partition, value: `${prefix}-${index}` })),
        ),
      });
    await send('before');
    await waitFor(
      'the records before the restart read',
      () => (first.read.length + other.read.length === 20 ? true : undefined),
      waitOptions,
    );

    // Restart: no LeaveGroup, so the coordinator keeps the place; the new process takes it back.
    await first.consumer.disconnect();
    await send('while-down');
    const restarted = await startMember(groupId, 'restarting-host');
    await waitFor('the restarted member joined', () => restarted.joins[0], waitOptions);
    expect(restarted.joins[0]).toMatchObject({ generationId, groupInstanceId: 'restarting-host' });
    expect(restarted.joins[0]!.memberId).not.toBe(first.joins.at(-1)!.memberId);
    expect(partitionsOf(restarted)).toEqual(restartedPartitions);
    // It starts at what the first process committed: the records sent while it was down, nothing again.
    await waitFor(
      'the records sent during the restart read',
      () => (restarted.read.length + other.read.length >= 30 ? true : undefined),
      waitOptions,
    );
    expect(restarted.read.every((entry) => entry.includes('while-down'))).toBe(true);
    expect(restarted.read).toHaveLength(10);

    // Several heartbeats later the other member has still not been asked to rejoin.
    await new Promise((resolve) => setTimeout(resolve, heartbeatIntervalMs * 6));
    expect(other.joins).toHaveLength(otherJoins);
    expect(partitionsOf(other)).toEqual(otherPartitions);
    const described = (await admin.describeGroups([groupId])).groups[0]!;
    expect(described.state).toBe('Stable');
    expect(described.members.map((member) => member.groupInstanceId).sort()).toEqual([
      'other-host',
      'restarting-host',
    ]);
    expect(described.members.map((member) => member.memberId).sort()).toEqual(
      [other.joins.at(-1)!.memberId, restarted.joins[0]!.memberId].sort(),
    );

    // A second process with the same instance id replaces it; the replaced one is fenced.
    const usurper = await startMember(groupId, 'restarting-host');
    await waitFor('the replaced member crashed', () => restarted.crashes[0], waitOptions);
    expect(restarted.crashes[0]!.error).toBeInstanceOf(KafkaJSFencedInstanceIdError);
    expect(restarted.crashes[0]!.error).toMatchObject({ type: 'FENCED_INSTANCE_ID' });
    expect(partitionsOf(restarted)).toEqual([]);
    await expect(
      restarted.consumer.commitOffsets([{ topic: 'static-orders', partition: 0, offset: '0' }]),
    ).rejects.toBeInstanceOf(KafkaJSFencedInstanceIdError);
    await waitFor('the usurper joined', () => usurper.joins[0], waitOptions);
    expect(usurper.joins[0]!.generationId).toBe(generationId);
    expect(partitionsOf(usurper)).toEqual(restartedPartitions);
    await send('after-fence');
    await waitFor(
      'the usurper reads its partitions',
      () => (usurper.read.length === 10 ? true : undefined),
      waitOptions,
    );
    expect(usurper.read.every((entry) => entry.includes('after-fence'))).toBe(true);
    expect(other.joins).toHaveLength(otherJoins);

    await producer.disconnect();
    await Promise.all([restarted, usurper, other].map((member) => member.consumer.disconnect()));
  });

  it('a static member that does not come back loses its partitions at its session timeout, not at its disconnect', async () => {
    const groupId = 'static-timeout-group';
    // group.min.session.timeout.ms, the shortest the coordinator takes.
    const sessionTimeoutMs = 6_000;
    const staying = await startMember(groupId, 'staying-host', sessionTimeoutMs);
    const gone = await startMember(groupId, 'gone-host', sessionTimeoutMs);
    await waitFor(
      'both members hold two partitions',
      () => (partitionsOf(staying).length === 2 && partitionsOf(gone).length === 2 ? true : undefined),
      waitOptions,
    );
    const disconnectedAtMs = Date.now();
    await gone.consumer.disconnect();
    await waitFor(
      'the staying member holds every partition',
      () => (partitionsOf(staying).length === 4 ? true : undefined),
      waitOptions,
    );
    // Its last heartbeat was at most one interval before the disconnect: the coordinator waited for
    // the rest of the session (a LeaveGroup would have moved the partitions at once).
    expect(Date.now() - disconnectedAtMs).toBeGreaterThanOrEqual(sessionTimeoutMs - 2 * heartbeatIntervalMs);
    await staying.consumer.disconnect();
  });
});

describe('offsets by topic id', () => {
  it('a consumer commits and resumes with OffsetCommit v10 and OffsetFetch v10; kafkajs reads the same offsets by name', async () => {
    const topic = 'v10-offsets';
    const groupId = 'v10-group';
    await admin.createTopics({ topics: [{ topic, numPartitions: 2, replicationFactor: 3 }] });
    const producer = kafka.producer();
    await producer.connect();
    const send = (prefix: string) =>
      producer.send({
        topic,
        messages: [0, 1].flatMap((partition) =>
          Array.from({ length: 3 }, (_, index) => ({ partition, value: `${prefix}-${partition}-${index}` })),
        ),
      });
    /** Runs one consumer of the group until it has read `count` records, then stops it. */
    const consume = async (count: number) => {
      const consumer = kafka.consumer({
        groupId,
        heartbeatInterval: heartbeatIntervalMs,
        maxWaitTimeInMs: 100,
      });
      const versions = new Map<number, Set<number>>();
      consumer.on(consumer.events.REQUEST, (event: InstrumentationEvent<RequestPayload>) => {
        const { apiKey, apiVersion } = event.payload;
        if (apiKey !== ApiKey.OffsetCommit && apiKey !== ApiKey.OffsetFetch) return;
        versions.set(apiKey, (versions.get(apiKey) ?? new Set()).add(apiVersion));
      });
      const read: string[] = [];
      const crashes: CrashPayload[] = [];
      consumer.on(consumer.events.CRASH, (event: InstrumentationEvent<CrashPayload>) => {
        crashes.push(event.payload);
      });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          read.push(message.value!.toString());
        },
      });
      await waitFor(`${count} records read`, () => (read.length >= count ? true : undefined), {
        ...waitOptions,
        detail: () =>
          `read ${read.length}; crashes: ${crashes.map((crash) => String(crash.error)).join('; ')}`,
      });
      expect(crashes).toEqual([]);
      // Stopping commits what was read.
      await consumer.disconnect();
      return { read: read.sort(), versions };
    };
    try {
      await send('first');
      const first = await consume(6);
      expect(first.read).toHaveLength(6);
      expect([...first.versions.get(ApiKey.OffsetCommit)!]).toEqual([10]);
      expect([...first.versions.get(ApiKey.OffsetFetch)!]).toEqual([10]);

      // The commits by id are the topic's by name: kafkajs (OffsetFetch by name) reads them.
      const kafkajsAdmin = kafkajs.admin();
      await kafkajsAdmin.connect();
      try {
        const fetched = await kafkajsAdmin.fetchOffsets({ groupId, topics: [topic] });
        expect(fetched[0]!.partitions.map((p) => [p.partition, p.offset]).sort()).toEqual([
          [0, '3'],
          [1, '3'],
        ]);
      } finally {
        await kafkajsAdmin.disconnect();
      }

      // A new member resumes from the commits (OffsetFetch v10): only what came after.
      await send('second');
      const second = await consume(6);
      expect(second.read).toEqual(
        [0, 1].flatMap((partition) => [0, 1, 2].map((index) => `second-${partition}-${index}`)).sort(),
      );
      expect([...second.versions.get(ApiKey.OffsetFetch)!]).toEqual([10]);
    } finally {
      await producer.disconnect();
    }
  });
});

describe('cluster admin', () => {
  it('describeCluster answers what kafkajs answers', async () => {
    const kafkajsAdmin = kafkajs.admin();
    await kafkajsAdmin.connect();
    try {
      const theirs = await kafkajsAdmin.describeCluster();
      const ours = await admin.describeCluster();
      const byNode = (a: { nodeId: number }, b: { nodeId: number }) => a.nodeId - b.nodeId;
      expect(ours.brokers.sort(byNode)).toEqual([...theirs.brokers].sort(byNode));
      expect(ours.brokers.map((broker) => `${broker.host}:${broker.port}`)).toEqual(brokers.bootstrapServers);
      expect(ours.controller).toBe(theirs.controller);
      expect(ours.controller).not.toBeNull();
      expect(ours.clusterId).toBe(theirs.clusterId);
      expect(ours.clusterId).toMatch(/^client-it-/);
    } finally {
      await kafkajsAdmin.disconnect();
    }
  });

  it('refused moves reject as kafkajs reports them, per partition, and change nothing', async () => {
    const before = (await admin.fetchTopicMetadata({ topics: ['static-orders'] })).topics[0]!.partitions;
    const error = await admin
      .alterPartitionReassignments({
        topics: [
          { topic: 'static-orders', partitionAssignment: [{ partition: 1, replicas: [9] }] },
          { topic: 'no-such-topic', partitionAssignment: [{ partition: 0, replicas: [1] }] },
        ],
      })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(KafkaJSAggregateError);
    const refused = (error as KafkaJSAggregateError).errors as KafkaJSAlterPartitionReassignmentsError[];
    expect(refused.every((entry) => entry instanceof KafkaJSAlterPartitionReassignmentsError)).toBe(true);
    expect(refused.map(({ type, topic, partition }) => ({ type, topic, partition }))).toEqual([
      { type: 'INVALID_REPLICA_ASSIGNMENT', topic: 'static-orders', partition: 1 },
      { type: 'UNKNOWN_TOPIC_OR_PARTITION', topic: 'no-such-topic', partition: 0 },
    ]);
    const after = (await admin.fetchTopicMetadata({ topics: ['static-orders'] })).topics[0]!.partitions;
    expect(after.map((partition) => partition.replicas)).toEqual(
      before.map((partition) => partition.replicas),
    );
  });

  it('a reassignment made by the client completes (kafkajs and the metadata agree) and the data is read from the new replicas', async () => {
    await admin.createTopics({
      topics: [{ topic: 'moving', replicaAssignment: [{ partition: 0, replicas: [1, 2] }] }],
    });
    const producer = kafka.producer();
    await producer.connect();
    const values = Array.from({ length: 200 }, (_, index) => `value-${index}`);
    for (let start = 0; start < values.length; start += 50) {
      await producer.send({
        topic: 'moving',
        messages: values.slice(start, start + 50).map((value) => ({ value })),
      });
    }
    await producer.disconnect();

    await admin.alterPartitionReassignments({
      topics: [{ topic: 'moving', partitionAssignment: [{ partition: 0, replicas: [3, 2] }] }],
    });
    const kafkajsAdmin = kafkajs.admin();
    await kafkajsAdmin.connect();
    try {
      await waitFor(
        'the move completed',
        async () => {
          const ongoing = await kafkajsAdmin.listPartitionReassignments({});
          const state = (await admin.fetchTopicMetadata({ topics: ['moving'] })).topics[0]!.partitions[0]!;
          return ongoing.topics.length === 0 &&
            [...state.replicas].sort().join() === '2,3' &&
            [...state.isr].sort().join() === '2,3'
            ? state
            : undefined;
        },
        waitOptions,
      );
      expect((await admin.listPartitionReassignments()).topics).toEqual([]);
      // kafkajs's own metadata shows the new replicas too.
      const theirs = await kafkajsAdmin.fetchTopicMetadata({ topics: ['moving'] });
      expect([...theirs.topics[0]!.partitions[0]!.replicas].sort()).toEqual([2, 3]);
    } finally {
      await kafkajsAdmin.disconnect();
    }

    // The old replica is gone: what kcat reads comes from brokers 2 and 3 (a new leader serves up to
    // its high watermark once it caught up, hence the wait).
    await brokers.kill(1);
    const read = await waitFor(
      'every record read from the new replicas',
      async () => {
        const records = await kcatConsumeAll(`${brokers.address(2)},${brokers.address(3)}`, 'moving').catch(
          () => [],
        );
        return records.length === values.length ? records : undefined;
      },
      waitOptions,
    );
    expect(read.map((record) => record.value)).toEqual(values);
  });
});

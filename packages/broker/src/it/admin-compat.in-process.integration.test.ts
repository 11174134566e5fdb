// What real admin clients notice, against one real Gregor node in the test process (@gregor/testkit):
// kafkajs, kafka-python's KafkaAdminClient and confluent-kafka's AdminClient (Debian's python3-kafka
// and python3-confluent-kafka, run by src/it/python/admin_clients.py).
// - a kafkajs group member joined without a rebalance timeout keeps its membership through
//   SyncGroup, Heartbeat, OffsetCommit and OffsetFetch;
// - manual replica assignments naming a broker that does not exist are refused with
//   INVALID_REPLICA_ASSIGNMENT and Kafka's message, and valid ones place the replicas as asked;
// - `delete.topic.enable=false` answers DeleteTopics with TOPIC_DELETION_DISABLED (v3+; INVALID_REQUEST
//   to older versions, as Kafka does) and keeps the topic;
// - AlterConfigs replaces a topic's dynamic configs, refuses bad values, and DescribeConfigs reports
//   what each client set, with the topic as its source.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startCluster, type TestCluster } from '@gregor/testkit';
import { ConfigResourceTypes, Kafka, logLevel } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';

const clientTimeoutMs = 60_000;
const adminClients = new URL('./python/admin_clients.py', import.meta.url).pathname;
const pythonClients = ['kafka-python', 'confluent'] as const;
const unknownBrokerMessage =
  'The manual partition assignment includes broker 7, but no such broker is registered.';

let cluster: TestCluster | undefined;

afterEach(async () => {
  await cluster?.stop();
  cluster = undefined;
});

async function start(properties: Record<string, string> = {}): Promise<Kafka> {
  cluster = await startCluster({ brokers: 1, properties });
  return new Kafka({
    clientId: 'admin-compat',
    brokers: cluster.bootstrapServers,
    logLevel: logLevel.NOTHING,
  });
}

interface ClientError {
  readonly code: number;
  readonly message: string;
}

const execFileAsync = promisify(execFile);

/**
 * Runs one admin command with a Python client (asynchronously: the node under test shares this
 * event loop). kafka-python's raised error counts as the answer.
 */
async function python(
  client: (typeof pythonClients)[number],
  command: Record<string, unknown>,
): Promise<unknown> {
  const input = JSON.stringify({ client, bootstrap: cluster!.bootstrapServers.join(','), ...command });
  const child = execFileAsync('/usr/bin/python3', [adminClients], {
    timeout: clientTimeoutMs,
    encoding: 'utf8',
  });
  child.child.stdin!.end(input);
  return JSON.parse((await child).stdout);
}

/** The one error a Python client reported for a single-topic command (null: success). */
function singleError(answer: unknown): ClientError | null {
  const value = answer as {
    raised?: ClientError;
    error?: ClientError | null;
    topics?: Record<string, ClientError | null>;
  };
  if (value.raised !== undefined) return value.raised;
  if (value.error !== undefined) return value.error;
  return Object.values(value.topics!)[0]!;
}

describe('admin behaviour real clients notice', () => {
  it('kafkajs: a member joined with only a session timeout stays in the group and commits', async () => {
    const kafka = await start({ 'group.initial.rebalance.delay.ms': '0' });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'events', numPartitions: 1 }], waitForLeaders: true });
    await admin.disconnect();
    // kafkajs's own cluster and broker objects: the protocol calls a framework built on kafkajs makes.
    const createCluster = Object.getOwnPropertySymbols(kafka).find((symbol) =>
      String(symbol).includes('createCluster'),
    )!;
    const kafkajsCluster = (kafka as unknown as Record<symbol, (options: object) => KafkajsCluster>)[
      createCluster
    ]!({});
    await kafkajsCluster.connect();
    try {
      const coordinator = await kafkajsCluster.findGroupCoordinator({ groupId: 'bare' });
      // No rebalanceTimeout: kafkajs puts 0 on the wire.
      const joined = await coordinator.joinGroup({
        groupId: 'bare',
        sessionTimeout: 10_000,
        groupProtocols: [{ name: 'roundrobin', metadata: Buffer.alloc(0) }],
      });
      const member = { groupId: 'bare', memberId: joined.memberId };
      const synced = await coordinator.syncGroup({
        ...member,
        generationId: joined.generationId,
        groupAssignment: [{ memberId: joined.memberId, memberAssignment: Buffer.from('mine') }],
      });
      expect(synced.errorCode).toBe(0);
      expect(synced.memberAssignment.toString()).toBe('mine');
      const beat = await coordinator.heartbeat({ ...member, groupGenerationId: joined.generationId });
      expect(beat.errorCode).toBe(0);
      const committed = await coordinator.offsetCommit({
        ...member,
        groupGenerationId: joined.generationId,
        topics: [{ topic: 'events', partitions: [{ partition: 0, offset: '5' }] }],
      });
      expect(committed.responses[0]!.partitions[0]!.errorCode).toBe(0);
      const fetched = await coordinator.offsetFetch({
        groupId: 'bare',
        topics: [{ topic: 'events', partitions: [{ partition: 0 }] }],
      });
      expect(fetched.responses[0]!.partitions[0]).toMatchObject({ offset: '5', errorCode: 0 });
    } finally {
      await kafkajsCluster.disconnect();
    }
  });

  it('manual replica assignments: INVALID_REPLICA_ASSIGNMENT for a broker that does not exist', async () => {
    const kafka = await start();
    const admin = kafka.admin();
    await admin.connect();
    try {
      // kafkajs: CreateTopics with an assignment naming broker 7.
      const refusal = await admin
        .createTopics({
          topics: [{ topic: 'kafkajs-manual', replicaAssignment: [{ partition: 0, replicas: [1, 7] }] }],
        })
        .then(
          () => null,
          (error: { errors?: { type: string; message?: string }[] }) => error.errors?.[0],
        );
      expect(refusal).toMatchObject({ type: 'INVALID_REPLICA_ASSIGNMENT' });
      // A valid assignment places the partitions where it says.
      await admin.createTopics({
        topics: [
          {
            topic: 'kafkajs-manual',
            replicaAssignment: [
              { partition: 0, replicas: [1] },
              { partition: 1, replicas: [1] },
            ],
          },
        ],
        waitForLeaders: true,
      });
      const described = await admin.fetchTopicMetadata({ topics: ['kafkajs-manual'] });
      expect(described.topics[0]!.partitions.map((p) => p.replicas)).toEqual([[1], [1]]);
      // kafkajs: CreatePartitions naming broker 7.
      const growRefusal = await admin
        .createPartitions({ topicPartitions: [{ topic: 'kafkajs-manual', count: 3, assignments: [[7]] }] })
        .then(
          () => null,
          (error: { type?: string; name?: string }) => error.type ?? error.name,
        );
      expect(growRefusal).toBe('INVALID_REPLICA_ASSIGNMENT');
      expect(await admin.fetchTopicOffsets('kafkajs-manual')).toHaveLength(2);
    } finally {
      await admin.disconnect();
    }

    for (const client of pythonClients) {
      const created = singleError(
        await python(client, {
          op: 'create_topics',
          topics: [{ name: `${client}-manual`, assignments: [[1, 7]] }],
        }),
      );
      expect(created?.code, client).toBe(39);
      expect(created?.message, client).toContain(unknownBrokerMessage);
      expect(
        singleError(
          await python(client, {
            op: 'create_topics',
            topics: [{ name: `${client}-ok`, assignments: [[1]] }],
          }),
        ),
      ).toBeNull();
      const grown = singleError(
        await python(client, {
          op: 'create_partitions',
          topic: `${client}-ok`,
          count: 2,
          assignments: [[7]],
        }),
      );
      expect(grown?.code, client).toBe(39);
      expect(grown?.message, client).toContain(unknownBrokerMessage);
      expect(
        singleError(
          await python(client, {
            op: 'create_partitions',
            topic: `${client}-ok`,
            count: 2,
            assignments: [[1]],
          }),
        ),
      ).toBeNull();
    }
  });

  it('delete.topic.enable=false: DeleteTopics answers TOPIC_DELETION_DISABLED and the topic stays', async () => {
    const kafka = await start({ 'delete.topic.enable': 'false' });
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic: 'kept', numPartitions: 1 }], waitForLeaders: true });
      const refusal = await admin.deleteTopics({ topics: ['kept'] }).then(
        () => null,
        (error: { type?: string }) => error.type,
      );
      // kafkajs speaks DeleteTopics v1, older than TOPIC_DELETION_DISABLED: Kafka answers INVALID_REQUEST.
      expect(refusal).toBe('INVALID_REQUEST');
      const confluent = singleError(await python('confluent', { op: 'delete_topics', topics: ['kept'] }));
      // Debian's librdkafka 2.0.2 also speaks a DeleteTopics version below 3: INVALID_REQUEST (42).
      expect(confluent?.code).toBe(42);
      // kafka-python 2.0.2 does not know code 73: it raises UnknownError, quoting the response.
      const kafkaPython = singleError(
        await python('kafka-python', { op: 'delete_topics', topics: ['kept'] }),
      );
      expect(kafkaPython?.message).toContain('error_code=73');
      expect(await admin.listTopics()).toEqual(['kept']);
    } finally {
      await admin.disconnect();
    }
  });
});

describe('topic configs through real clients', () => {
  it('AlterConfigs and DescribeConfigs: kafkajs, kafka-python and confluent-kafka', async () => {
    const kafka = await start();
    const admin = kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic: 'configured', numPartitions: 1 }], waitForLeaders: true });
      // kafkajs: AlterConfigs, then DescribeConfigs with synonyms.
      await admin.alterConfigs({
        validateOnly: false,
        resources: [
          {
            type: ConfigResourceTypes.TOPIC,
            name: 'configured',
            configEntries: [{ name: 'retention.ms', value: '86400000' }],
          },
        ],
      });
      const described = await admin.describeConfigs({
        includeSynonyms: true,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: 'configured', configNames: ['retention.ms'] }],
      });
      const entry = described.resources[0]!.configEntries[0]!;
      expect(entry).toMatchObject({ configName: 'retention.ms', configValue: '86400000', configSource: 1 });
      expect(entry.configSynonyms.map((synonym) => synonym.configName)).toEqual([
        'retention.ms',
        'log.retention.ms',
      ]);
      const refusal = await admin
        .alterConfigs({
          validateOnly: false,
          resources: [
            {
              type: ConfigResourceTypes.TOPIC,
              name: 'configured',
              configEntries: [{ name: 'retention.ms', value: 'soon' }],
            },
          ],
        })
        .then(
          () => null,
          (error: { type?: string }) => error.type,
        );
      expect(refusal).toBe('INVALID_CONFIG');
    } finally {
      await admin.disconnect();
    }
    // Each Python client replaces the topic's configs with its own and reads them back.
    const own = { 'kafka-python': { 'segment.ms': '3600000' }, confluent: { 'cleanup.policy': 'compact' } };
    for (const client of pythonClients) {
      expect(
        singleError(await python(client, { op: 'alter_configs', topic: 'configured', configs: own[client] })),
      ).toBeNull();
      const read = (await python(client, { op: 'describe_configs', topic: 'configured' })) as {
        configs: Record<string, string>;
        topic_set: string[];
      };
      expect(read.topic_set, client).toEqual(Object.keys(own[client]));
      for (const [name, value] of Object.entries(own[client])) expect(read.configs[name], client).toBe(value);
      expect(read.configs['retention.ms'], client).toBe('604800000');
    }
  });
});

/** The part of kafkajs's (untyped) internal Cluster and Broker that the group test drives. */
interface KafkajsCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  findGroupCoordinator(request: { groupId: string }): Promise<KafkajsBroker>;
}

interface KafkajsBroker {
  joinGroup(request: {
    groupId: string;
    sessionTimeout: number;
    groupProtocols: { name: string; metadata: Buffer }[];
  }): Promise<{ memberId: string; generationId: number }>;
  syncGroup(request: {
    groupId: string;
    memberId: string;
    generationId: number;
    groupAssignment: { memberId: string; memberAssignment: Buffer }[];
  }): Promise<{ errorCode: number; memberAssignment: Buffer }>;
  heartbeat(request: { groupId: string; memberId: string; groupGenerationId: number }): Promise<{
    errorCode: number;
  }>;
  offsetCommit(request: {
    groupId: string;
    memberId: string;
    groupGenerationId: number;
    topics: { topic: string; partitions: { partition: number; offset: string }[] }[];
  }): Promise<{ responses: { partitions: { errorCode: number }[] }[] }>;
  offsetFetch(request: {
    groupId: string;
    topics: { topic: string; partitions: { partition: number }[] }[];
  }): Promise<{ responses: { partitions: { offset: string; errorCode: number }[] }[] }>;
}

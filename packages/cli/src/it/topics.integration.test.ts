// `gregor topics` against a real Gregor node in the test process (@gregor/testkit), checked with
// kafkajs: create (counts, configs, a manual replica assignment), list, describe (DescribeTopicPartitions,
// paged), alter and delete;
// a refused request prints the broker's error and exits 1.

import { startCluster, type TestCluster } from '@gregor/testkit';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runVerb } from '../testing/run-cli.js';

let cluster: TestCluster;
let kafka: Kafka;

beforeAll(async () => {
  cluster = await startCluster({ brokers: 1 });
  kafka = new Kafka({
    clientId: 'cli-topics',
    brokers: cluster.bootstrapServers,
    logLevel: logLevel.NOTHING,
  });
});

afterAll(async () => {
  await cluster?.stop();
});

const gregor = (...args: string[]) => runVerb('topics', cluster.bootstrapServers[0]!, args);

describe('gregor topics', () => {
  it('creates, lists, describes, grows and deletes topics that kafkajs then sees', async () => {
    expect(
      await gregor(
        'create',
        '--topic',
        'orders',
        '--partitions',
        '2',
        '--replication-factor',
        '1',
        '--config',
        'retention.ms=60000',
      ),
    ).toEqual({ code: 0, out: 'Created topic orders.\n', err: '' });
    expect((await gregor('create', '--topic', 'placed', '--replica-assignment', '1,1,1')).code).toBe(0);
    expect((await gregor('create', '--topic', 'orders', '--if-not-exists')).code).toBe(0);
    expect((await gregor('list')).out).toBe('orders\nplaced\n');
    expect((await gregor('describe', '--topic', 'orders')).out).toBe(
      'Topic: orders\tPartitionCount: 2\tReplicationFactor: 1\tConfigs: retention.ms=60000\n' +
        '\tTopic: orders\tPartition: 0\tLeader: 1\tReplicas: 1\tIsr: 1\n' +
        '\tTopic: orders\tPartition: 1\tLeader: 1\tReplicas: 1\tIsr: 1\n',
    );
    expect((await gregor('alter', '--topic', 'orders', '--partitions', '4')).code).toBe(0);
    // describe pages through DescribeTopicPartitions: one partition per response here, so the
    // listing follows the cursor across partitions and from one topic to the next.
    const paged = await gregor('describe', '--partition-size-limit-per-response', '1');
    expect(paged.code).toBe(0);
    expect(paged.out.split('\n').filter((line) => line.startsWith('\t'))).toEqual([
      ...[0, 1, 2, 3].map((p) => `\tTopic: orders\tPartition: ${p}\tLeader: 1\tReplicas: 1\tIsr: 1`),
      ...[0, 1, 2].map((p) => `\tTopic: placed\tPartition: ${p}\tLeader: 1\tReplicas: 1\tIsr: 1`),
    ]);
    expect(paged.out).toContain('Topic: orders\tPartitionCount: 4\tReplicationFactor: 1\t');
    expect((await gregor('describe')).out).toBe(paged.out);
    expect(await gregor('describe', '--topic', 'nope')).toEqual({
      code: 1,
      out: '',
      err: 'Error: UNKNOWN_TOPIC_OR_PARTITION: topic nope\n',
    });
    const admin = kafka.admin();
    await admin.connect();
    try {
      const metadata = await admin.fetchTopicMetadata({ topics: ['orders', 'placed'] });
      // kafkajs answers from its metadata cache, in no fixed order.
      const described = metadata.topics.map((topic) => [topic.name, topic.partitions.length] as const);
      expect([...described].sort(([a], [b]) => a.localeCompare(b))).toEqual([
        ['orders', 4],
        ['placed', 3],
      ]);
      expect((await gregor('delete', '--topic', 'placed')).code).toBe(0);
      expect(await admin.listTopics()).toEqual(['orders']);
    } finally {
      await admin.disconnect();
    }
  });

  it('prints the broker error for a broker that does not exist or a topic that does, exit code 1', async () => {
    const unknownBroker = await gregor('create', '--topic', 'nowhere', '--replica-assignment', '1:9');
    expect(unknownBroker.code).toBe(1);
    expect(unknownBroker.err).toBe(
      'Error: INVALID_REPLICA_ASSIGNMENT: The manual partition assignment includes broker 9, but no such ' +
        'broker is registered.\n',
    );
    expect((await gregor('create', '--topic', 'dup')).code).toBe(0);
    const again = await gregor('create', '--topic', 'dup');
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/^Error: TOPIC_ALREADY_EXISTS/);
    const usage = await gregor('alter', '--topic', 'dup');
    expect(usage.code).toBe(2);
    expect(usage.err).toContain('gregor topics: alter needs --topic and --partitions');
  });
});

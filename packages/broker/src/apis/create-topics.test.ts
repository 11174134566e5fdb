import { ApiKey, ErrorCode, type RequestInput } from '@gregor/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalClusterFixture } from '../testing/local-cluster-fixture.js';
import { ConfigSource } from './config-entries.js';
import { topicIdToWire } from './topic-ids.js';

let cluster: LocalClusterFixture;
afterEach(async () => {
  await cluster.close();
});

type Topic = RequestInput<typeof ApiKey.CreateTopics>['topics'][number];

function topic(
  name: string,
  numPartitions: number,
  replicationFactor: number,
  configs: Record<string, string> = {},
): Topic {
  return {
    name,
    numPartitions,
    replicationFactor,
    assignments: [],
    configs: Object.entries(configs).map(([configName, value]) => ({ name: configName, value })),
  };
}

async function createTopics(topics: Topic[], validateOnly = false, version = 4) {
  return (await cluster.request(ApiKey.CreateTopics, version, { topics, timeoutMs: 1000, validateOnly }))
    .topics;
}

describe('CreateTopics', () => {
  it('creates the topic, and its partitions exist here when the answer comes', async () => {
    cluster = await LocalClusterFixture.start();
    const [result] = await createTopics([topic('fresh', 3, 1)]);
    expect(result).toMatchObject({ name: 'fresh', errorCode: 0, errorMessage: null });
    expect(cluster.image().topic('fresh')!.partitions).toHaveLength(3);
    for (const index of [0, 1, 2])
      expect(cluster.replicaManager.partition('fresh', index)!.role).toBe('leader');
  });

  it('validate-only checks and answers without creating', async () => {
    cluster = await LocalClusterFixture.start();
    const [result] = await createTopics([topic('dry', 2, 1)], true);
    expect(result!.errorCode).toBe(ErrorCode.NONE);
    expect(cluster.image().topic('dry')).toBeUndefined();
    const [refused] = await createTopics([topic('dry', 2, 5)], true);
    expect(refused!.errorCode).toBe(ErrorCode.INVALID_REPLICATION_FACTOR);
  });

  it('refuses an existing topic, a bad replication factor, a bad partition count, each on its own', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopics([topic('taken', 1, 1)]);
    const results = await createTopics([
      topic('taken', 1, 1),
      topic('too-many-replicas', 1, 3),
      topic('no-partitions', 0, 1),
      topic('fine', 1, 1),
    ]);
    expect(results.map((result) => [result.name, result.errorCode])).toEqual([
      ['taken', ErrorCode.TOPIC_ALREADY_EXISTS],
      ['too-many-replicas', ErrorCode.INVALID_REPLICATION_FACTOR],
      ['no-partitions', ErrorCode.INVALID_PARTITIONS],
      ['fine', ErrorCode.NONE],
    ]);
    expect(results[1]!.errorMessage).toContain('live broker');
  });

  it('refuses duplicates in one request, assignments naming unknown brokers and bad configs', async () => {
    cluster = await LocalClusterFixture.start();
    const results = await createTopics([
      topic('twice', 1, 1),
      topic('twice', 1, 1),
      { ...topic('unknown-broker', -1, -1), assignments: [{ partitionIndex: 0, brokerIds: [1, 7] }] },
      { ...topic('counts-too', 1, -1), assignments: [{ partitionIndex: 0, brokerIds: [1] }] },
      topic('bad-config', 1, 1, { 'retention.ms': 'soon' }),
      topic('unknown-config', 1, 1, { 'no.such.config': '1' }),
    ]);
    expect(results.map((result) => [result.errorCode, result.errorMessage])).toEqual([
      [ErrorCode.INVALID_REQUEST, 'topic twice appears more than once'],
      [ErrorCode.INVALID_REQUEST, 'topic twice appears more than once'],
      [
        ErrorCode.INVALID_REPLICA_ASSIGNMENT,
        'The manual partition assignment includes broker 7, but no such broker is registered.',
      ],
      [
        ErrorCode.INVALID_REQUEST,
        'A manual partition assignment was specified, but numPartitions was not set to -1.',
      ],
      [ErrorCode.INVALID_CONFIG, expect.stringContaining('retention.ms')],
      [ErrorCode.INVALID_CONFIG, expect.stringContaining('no.such.config')],
    ]);
    expect([...cluster.image().topics.keys()]).toEqual([]);
  });

  it('creates a topic from a manual assignment on the brokers it names', async () => {
    cluster = await LocalClusterFixture.start();
    const results = await createTopics([
      {
        ...topic('placed', -1, -1),
        assignments: [
          { partitionIndex: 0, brokerIds: [1] },
          { partitionIndex: 1, brokerIds: [1] },
        ],
      },
    ]);
    expect(results[0]).toMatchObject({ errorCode: ErrorCode.NONE });
    expect(
      cluster
        .image()
        .topic('placed')!
        .partitions.map((p) => p.replicas),
    ).toEqual([[1], [1]]);
    expect(cluster.replicaManager.partition('placed', 1)!.role).toBe('leader');
  });

  it('-1 means the defaults; v7 reports the topic id, counts and configs', async () => {
    cluster = await LocalClusterFixture.start();
    const response = await cluster.request(ApiKey.CreateTopics, 7, {
      topics: [topic('defaults', -1, -1, { 'retention.ms': '1000' })],
      timeoutMs: 1000,
      validateOnly: false,
    });
    const result = response.topics[0]!;
    const image = cluster.image().topic('defaults')!;
    expect(result).toMatchObject({
      errorCode: 0,
      numPartitions: 1,
      replicationFactor: 1,
      topicId: topicIdToWire(image.topicId),
    });
    expect(result.configs!.find((config) => config.name === 'retention.ms')).toEqual({
      name: 'retention.ms',
      value: '1000',
      readOnly: false,
      configSource: ConfigSource.dynamicTopicConfig,
      isSensitive: false,
    });
    expect(result.configs!.find((config) => config.name === 'segment.bytes')!.configSource).toBe(
      ConfigSource.defaultConfig,
    );
  });

  it('applies topic configs to the new logs', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopics([
      topic('configured', 1, 1, { 'segment.bytes': '100000', 'unclean.leader.election.enable': 'true' }),
    ]);
    expect(cluster.replicaManager.partition('configured', 0)!.log.config.segmentBytes).toBe(100000);
  });
});

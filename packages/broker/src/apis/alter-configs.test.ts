import { ApiKey, alterConfigOpType, configResourceType, ErrorCode } from '@gregor/protocol';
import { replicationThrottleRateUnlimited } from '@gregor/replication';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalClusterFixture } from '../testing/local-cluster-fixture.js';
import { ConfigType } from './config-entries.js';

let cluster: LocalClusterFixture;
afterEach(async () => {
  await cluster.close();
});

async function createTopic(name: string, configs: Record<string, string> = {}): Promise<void> {
  const response = await cluster.request(ApiKey.CreateTopics, 4, {
    topics: [
      {
        name,
        numPartitions: 1,
        replicationFactor: 1,
        assignments: [],
        configs: Object.entries(configs).map(([configName, value]) => ({ name: configName, value })),
      },
    ],
    timeoutMs: 1000,
    validateOnly: false,
  });
  expect(response.topics[0]!.errorCode).toBe(ErrorCode.NONE);
}

type Op = keyof typeof alterConfigOpType;

async function incremental(
  resourceName: string,
  configs: [name: string, op: Op | number, value: string | null][],
  options: { validateOnly?: boolean; resourceType?: number; version?: number } = {},
) {
  const response = await cluster.request(ApiKey.IncrementalAlterConfigs, options.version ?? 1, {
    resources: [
      {
        resourceType: options.resourceType ?? configResourceType.topic,
        resourceName,
        configs: configs.map(([name, op, value]) => ({
          name,
          configOperation: typeof op === 'number' ? op : alterConfigOpType[op],
          value,
        })),
      },
    ],
    validateOnly: options.validateOnly ?? false,
  });
  const result = response.responses[0]!;
  return [result.errorCode, result.errorMessage] as const;
}

describe('IncrementalAlterConfigs', () => {
  it('sets, deletes, appends to and subtracts from topic configs, persisted in the image', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('t', { 'retention.ms': '1000' });
    expect(await incremental('t', [['segment.ms', 'set', '60000']], { version: 0 })).toEqual([
      ErrorCode.NONE,
      null,
    ]);
    expect(await incremental('t', [['retention.ms', 'delete', null]])).toEqual([ErrorCode.NONE, null]);
    // APPEND starts from Kafka's default of cleanup.policy, "delete".
    expect(await incremental('t', [['cleanup.policy', 'append', 'compact']])).toEqual([ErrorCode.NONE, null]);
    expect(Object.fromEntries(cluster.image().topicConfigs('t'))).toEqual({
      'segment.ms': '60000',
      'cleanup.policy': 'delete,compact',
    });
    expect(await incremental('t', [['cleanup.policy', 'subtract', 'delete']])).toEqual([
      ErrorCode.NONE,
      null,
    ]);
    expect(cluster.image().topicConfigs('t').get('cleanup.policy')).toBe('compact');
  });

  it('refuses what Kafka refuses, changing nothing', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('t');
    expect(await incremental('t', [['retention.ms', 'append', '5']])).toEqual([
      ErrorCode.INVALID_CONFIG,
      "Can't APPEND to key retention.ms because its type is not LIST.",
    ]);
    expect(await incremental('t', [['no.such', 'set', '1']])).toEqual([
      ErrorCode.INVALID_CONFIG,
      'Unknown topic config name: no.such',
    ]);
    expect((await incremental('t', [['retention.ms', 'set', 'soon']]))[0]).toBe(ErrorCode.INVALID_CONFIG);
    expect(await incremental('t', [['retention.ms', 9, '1']])).toEqual([
      ErrorCode.INVALID_REQUEST,
      'Unknown alter configs operation type 9',
    ]);
    expect((await incremental('t', [['retention.ms', 'set', null]]))[0]).toBe(ErrorCode.INVALID_REQUEST);
    expect((await incremental('missing', [['retention.ms', 'set', '1']]))[0]).toBe(
      ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
    );
    // All or nothing: one bad operation and the good one is not applied either.
    expect(
      (
        await incremental('t', [
          ['segment.ms', 'set', '1000'],
          ['cleanup.policy', 'append', 'sideways'],
        ])
      )[0],
    ).toBe(ErrorCode.INVALID_CONFIG);
    expect(await incremental('t', [['segment.ms', 'set', '1000']], { validateOnly: true })).toEqual([
      ErrorCode.NONE,
      null,
    ]);
    expect([...cluster.image().topicConfigs('t')]).toEqual([]);
    // A static broker key is refused as Kafka refuses it; an unknown one is INVALID_CONFIG.
    const broker = await incremental('1', [['num.partitions', 'set', '3']], {
      resourceType: configResourceType.broker,
    });
    expect(broker[0]).toBe(ErrorCode.INVALID_REQUEST);
    expect(broker[1]).toBe('Cannot update these configs dynamically: Set(num.partitions)');
    const unknown = await incremental('', [['log.sideways', 'set', '3']], {
      resourceType: configResourceType.broker,
    });
    expect(unknown[0]).toBe(ErrorCode.INVALID_CONFIG);
    expect(
      (
        await incremental('', [['log.retention.ms', 'set', 'soon']], {
          resourceType: configResourceType.broker,
        })
      )[0],
    ).toBe(ErrorCode.INVALID_CONFIG);
    expect(cluster.image().dynamicBrokerConfigs.size).toBe(0);
  });
});

describe('dynamic broker configs', () => {
  it('apply the cluster default, then the per-broker value, to open logs of topics that do not set the key', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('t');
    await createTopic('own', { 'retention.ms': '7000' });
    const logConfig = (topic: string) => cluster.replicaManager.partition(topic, 0)!.log.config;
    const retention = (topic: string) => logConfig(topic).retentionMs;
    expect(retention('t')).toBe(7 * 24 * 3_600_000);
    const broker = { resourceType: configResourceType.broker };
    expect(await incremental('', [['log.retention.ms', 'set', '60000']], broker)).toEqual([
      ErrorCode.NONE,
      null,
    ]);
    expect(retention('t')).toBe(60_000);
    expect(retention('own')).toBe(7000);
    expect(await incremental('1', [['log.retention.ms', 'set', '5000']], broker)).toEqual([
      ErrorCode.NONE,
      null,
    ]);
    expect(retention('t')).toBe(5000);
    // Another broker's value does not apply here.
    expect(await incremental('2', [['log.retention.ms', 'set', '1']], broker)).toEqual([
      ErrorCode.NONE,
      null,
    ]);
    expect(retention('t')).toBe(5000);
    expect(await incremental('1', [['log.retention.ms', 'delete', null]], broker)).toEqual([
      ErrorCode.NONE,
      null,
    ]);
    expect(retention('t')).toBe(60_000);
    // min.insync.replicas as a dynamic default reaches the leader's acks=all check.
    expect(await incremental('', [['min.insync.replicas', 'set', '2']], broker)).toEqual([
      ErrorCode.NONE,
      null,
    ]);
    expect(logConfig('t').minInsyncReplicas).toBe(2);
  });
});

describe('replication throttles (KIP-73)', () => {
  it('set the rates (per broker over the cluster default) and the throttled replicas naming this broker', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('t');
    const { leader, follower } = cluster.replicaManager.replicationThrottles;
    const broker = { resourceType: configResourceType.broker };
    expect(leader.active).toBe(false);
    expect(await incremental('', [['leader.replication.throttled.rate', 'set', '3000']], broker)).toEqual([
      ErrorCode.NONE,
      null,
    ]);
    expect(await incremental('1', [['follower.replication.throttled.rate', 'set', '2000']], broker)).toEqual([
      ErrorCode.NONE,
      null,
    ]);
    expect(leader.boundBytesPerSecond).toBe(3000);
    expect(follower.boundBytesPerSecond).toBe(2000);
    expect(
      await incremental('t', [
        ['leader.replication.throttled.replicas', 'set', '0:1,1:2'],
        ['follower.replication.throttled.replicas', 'set', '*'],
      ]),
    ).toEqual([ErrorCode.NONE, null]);
    expect([leader.isThrottled('t', 0), leader.isThrottled('t', 1)]).toEqual([true, false]);
    expect(follower.isThrottled('t', 5)).toBe(true);
    expect((await incremental('1', [['leader.replication.throttled.rate', 'set', '-1']], broker))[0]).toBe(
      ErrorCode.INVALID_CONFIG,
    );
    expect(await incremental('1', [['follower.replication.throttled.rate', 'append', '5']], broker)).toEqual([
      ErrorCode.INVALID_CONFIG,
      'APPEND is not supported for follower.replication.throttled.rate',
    ]);
    expect(follower.boundBytesPerSecond).toBe(2000);
    await incremental('t', [['leader.replication.throttled.replicas', 'delete', null]]);
    await incremental('', [['leader.replication.throttled.rate', 'delete', null]], broker);
    expect(leader.active).toBe(false);
    expect(leader.boundBytesPerSecond).toBe(replicationThrottleRateUnlimited);
    expect(follower.isThrottled('t', 0)).toBe(true);
  });

  it('set the bound on copies between log dirs (replica.alter.log.dirs.io.max.bytes.per.second, KIP-113)', async () => {
    cluster = await LocalClusterFixture.start();
    const { alterLogDirs } = cluster.replicaManager.replicationThrottles;
    const broker = { resourceType: configResourceType.broker };
    const key = 'replica.alter.log.dirs.io.max.bytes.per.second';
    expect(alterLogDirs.boundBytesPerSecond).toBe(replicationThrottleRateUnlimited);
    expect(await incremental('', [[key, 'set', '5000']], broker)).toEqual([ErrorCode.NONE, null]);
    expect(alterLogDirs.boundBytesPerSecond).toBe(5000);
    // This broker's own value over the cluster default.
    expect(await incremental('1', [[key, 'set', '700']], broker)).toEqual([ErrorCode.NONE, null]);
    expect(alterLogDirs.boundBytesPerSecond).toBe(700);
    expect((await incremental('1', [[key, 'set', '-1']], broker))[0]).toBe(ErrorCode.INVALID_CONFIG);
    expect(alterLogDirs.boundBytesPerSecond).toBe(700);
    await incremental('1', [[key, 'delete', null]], broker);
    expect(alterLogDirs.boundBytesPerSecond).toBe(5000);
    await incremental('', [[key, 'delete', null]], broker);
    expect(alterLogDirs.boundBytesPerSecond).toBe(replicationThrottleRateUnlimited);
  });
});

describe('AlterConfigs', () => {
  it('replaces the whole dynamic config of a topic', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('t', { 'retention.ms': '1000', 'segment.ms': '5000' });
    const response = await cluster.request(ApiKey.AlterConfigs, 2, {
      resources: [
        {
          resourceType: configResourceType.topic,
          resourceName: 't',
          configs: [{ name: 'max.message.bytes', value: '2048' }],
        },
      ],
      validateOnly: false,
    });
    expect(response.responses).toEqual([
      {
        resourceType: configResourceType.topic,
        resourceName: 't',
        errorCode: ErrorCode.NONE,
        errorMessage: null,
      },
    ]);
    expect(Object.fromEntries(cluster.image().topicConfigs('t'))).toEqual({ 'max.message.bytes': '2048' });
  });

  it('replaces the whole dynamic config of a broker resource, and refuses static keys', async () => {
    cluster = await LocalClusterFixture.start();
    const alter = async (resourceName: string, configs: Record<string, string>) =>
      (
        await cluster.request(ApiKey.AlterConfigs, 2, {
          resources: [
            {
              resourceType: configResourceType.broker,
              resourceName,
              configs: Object.entries(configs).map(([name, value]) => ({ name, value })),
            },
          ],
          validateOnly: false,
        })
      ).responses[0]!;
    expect(await alter('', { 'log.retention.ms': '60000', 'log.roll.ms': '3600000' })).toMatchObject({
      errorCode: ErrorCode.NONE,
    });
    expect(await alter('', { 'log.retention.bytes': '1048576' })).toMatchObject({
      errorCode: ErrorCode.NONE,
    });
    expect(Object.fromEntries(cluster.image().brokerConfigs(''))).toEqual({
      'log.retention.bytes': '1048576',
    });
    expect(await alter('1', { 'broker.id': '2' })).toMatchObject({
      errorCode: ErrorCode.INVALID_REQUEST,
      errorMessage: 'Cannot update these configs dynamically: Set(broker.id)',
    });
    expect(cluster.image().brokerConfigs('1').size).toBe(0);
  });
});

describe('DescribeConfigs v3+', () => {
  it('reports the type always and the documentation when asked', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('t', { 'cleanup.policy': 'compact' });
    const describe = async (includeDocumentation: boolean) => {
      const response = await cluster.request(ApiKey.DescribeConfigs, 4, {
        resources: [{ resourceType: configResourceType.topic, resourceName: 't', configurationKeys: null }],
        includeSynonyms: false,
        includeDocumentation,
      });
      return new Map(response.results[0]!.configs.map((config) => [config.name, config]));
    };
    const withDocs = await describe(true);
    expect(withDocs.get('cleanup.policy')).toMatchObject({ value: 'compact', configType: ConfigType.list });
    expect(withDocs.get('retention.ms')).toMatchObject({ configType: ConfigType.long });
    expect(withDocs.get('segment.bytes')).toMatchObject({ configType: ConfigType.int });
    expect(withDocs.get('retention.ms')!.documentation).toMatch(/\w+ \w+/);
    const withoutDocs = await describe(false);
    expect(withoutDocs.get('retention.ms')!.documentation).toBeNull();
  });
});

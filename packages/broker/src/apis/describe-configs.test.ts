import { ApiKey, configResourceType, ErrorCode } from '@gregor/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalClusterFixture } from '../testing/local-cluster-fixture.js';
import { ConfigSource } from './config-entries.js';

let cluster: LocalClusterFixture;
afterEach(async () => {
  await cluster.close();
});

async function createTopic(name: string, configs: Record<string, string>): Promise<void> {
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

async function describeTopic(name: string, version = 2, keys: string[] | null = null) {
  const response = await cluster.request(ApiKey.DescribeConfigs, version, {
    resources: [{ resourceType: configResourceType.topic, resourceName: name, configurationKeys: keys }],
    includeSynonyms: version >= 1,
  });
  return response.results[0]!;
}

describe('DescribeConfigs on topics', () => {
  it('reports every log config with its source: topic, static broker or default', async () => {
    cluster = await LocalClusterFixture.start({ brokerLogConfig: { retentionMs: 3_600_000 } });
    await createTopic('described', { 'segment.bytes': '1048576', 'unclean.leader.election.enable': 'true' });
    const result = await describeTopic('described');
    expect(result.errorCode).toBe(ErrorCode.NONE);
    const byName = new Map(result.configs.map((config) => [config.name, config]));
    expect(byName.get('segment.bytes')).toMatchObject({
      value: '1048576',
      configSource: ConfigSource.dynamicTopicConfig,
      readOnly: false,
      isSensitive: false,
    });
    expect(byName.get('segment.bytes')!.synonyms).toEqual([
      { name: 'segment.bytes', value: '1048576', source: ConfigSource.dynamicTopicConfig },
      { name: 'log.segment.bytes', value: String(1024 * 1024 * 1024), source: ConfigSource.defaultConfig },
    ]);
    expect(byName.get('retention.ms')).toMatchObject({
      value: '3600000',
      configSource: ConfigSource.staticBrokerConfig,
    });
    expect(byName.get('retention.ms')!.synonyms.map((synonym) => synonym.source)).toEqual([
      ConfigSource.staticBrokerConfig,
      ConfigSource.defaultConfig,
    ]);
    expect(byName.get('cleanup.policy')).toMatchObject({
      value: 'delete',
      configSource: ConfigSource.defaultConfig,
    });
    expect(byName.get('max.message.bytes')!.synonyms[0]!.name).toBe('message.max.bytes');
    expect(byName.get('unclean.leader.election.enable')).toMatchObject({
      value: 'true',
      configSource: ConfigSource.dynamicTopicConfig,
    });
  });

  it('filters by key, leaves synonyms out unless asked, and uses is_default in v0', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('t', { 'retention.ms': '1000' });
    const v0 = await describeTopic('t', 0, ['retention.ms', 'segment.ms', 'no.such.key']);
    expect(v0.configs.map((config) => [config.name, config.isDefault])).toEqual([
      ['retention.ms', false],
      ['segment.ms', true],
    ]);
    const v1 = await cluster.request(ApiKey.DescribeConfigs, 1, {
      resources: [
        { resourceType: configResourceType.topic, resourceName: 't', configurationKeys: ['retention.ms'] },
      ],
      includeSynonyms: false,
    });
    expect(v1.results[0]!.configs[0]).toMatchObject({
      configSource: ConfigSource.dynamicTopicConfig,
      synonyms: [],
    });
  });

  it('follows config changes made through the controller, into the log too', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('t', {});
    await cluster.alterTopicConfigs('t', { 'retention.ms': '60000' });
    const result = await describeTopic('t', 2, ['retention.ms']);
    expect(result.configs[0]).toMatchObject({
      value: '60000',
      configSource: ConfigSource.dynamicTopicConfig,
    });
    expect(cluster.replicaManager.partition('t', 0)!.log.config.retentionMs).toBe(60000);
    await cluster.alterTopicConfigs('t', { 'retention.ms': null });
    expect(cluster.replicaManager.partition('t', 0)!.log.config.retentionMs).toBe(7 * 24 * 60 * 60 * 1000);
  });

  it('answers an unknown topic with UNKNOWN_TOPIC_OR_PARTITION', async () => {
    cluster = await LocalClusterFixture.start();
    const result = await describeTopic('missing');
    expect(result).toMatchObject({ errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, configs: [] });
  });
});

describe('DescribeConfigs on brokers', () => {
  it("reports this broker's static configs as read-only with their source", async () => {
    cluster = await LocalClusterFixture.start();
    const response = await cluster.request(ApiKey.DescribeConfigs, 2, {
      resources: [
        { resourceType: configResourceType.broker, resourceName: '1', configurationKeys: null },
        { resourceType: configResourceType.broker, resourceName: '7', configurationKeys: null },
        { resourceType: configResourceType.broker, resourceName: '', configurationKeys: null },
        { resourceType: configResourceType.brokerLogger, resourceName: '1', configurationKeys: null },
      ],
      includeSynonyms: true,
    });
    const [own, other, clusterDefaults, logger] = response.results;
    expect(own!.errorCode).toBe(ErrorCode.NONE);
    // The dynamic log defaults are listed even when server.properties leaves them out: not read-only.
    expect(own!.configs.find((config) => config.name === 'log.retention.ms')).toMatchObject({
      value: '604800000',
      readOnly: false,
      configSource: ConfigSource.defaultConfig,
    });
    expect(own!.configs.filter((config) => config.readOnly)).toEqual([
      {
        name: 'broker.id',
        value: '1',
        readOnly: true,
        isDefault: false,
        configSource: ConfigSource.staticBrokerConfig,
        isSensitive: false,
        synonyms: [{ name: 'broker.id', value: '1', source: ConfigSource.staticBrokerConfig }],
        // v2 carries neither: decoded at their defaults.
        configType: 0,
        documentation: '',
      },
      {
        name: 'num.partitions',
        value: '1',
        readOnly: true,
        isDefault: false,
        configSource: ConfigSource.defaultConfig,
        isSensitive: false,
        synonyms: [{ name: 'num.partitions', value: '1', source: ConfigSource.defaultConfig }],
        // v2 carries neither: decoded at their defaults.
        configType: 0,
        documentation: '',
      },
    ]);
    expect(other!.errorCode).toBe(ErrorCode.INVALID_REQUEST);
    expect(clusterDefaults).toMatchObject({ errorCode: ErrorCode.NONE, configs: [] });
    expect(logger!.errorCode).toBe(ErrorCode.INVALID_REQUEST);
  });
});

describe('DescribeConfigs with dynamic broker configs', () => {
  it("orders synonyms as Kafka does: topic, this broker's dynamic value, the dynamic default, static, default", async () => {
    cluster = await LocalClusterFixture.start({
      brokerLogConfig: { retentionMs: 3_600_000 },
      settings: {
        describedConfigs: [
          { name: 'log.retention.ms', value: '3600000', source: 'static-broker-config', isSensitive: false },
          { name: 'num.partitions', value: '1', source: 'default', isSensitive: false },
        ],
      },
    });
    await createTopic('t', {});
    await cluster.alterBrokerConfigs('', {
      'log.retention.ms': '60000',
      'unclean.leader.election.enable': 'true',
    });
    let entry = (await describeTopic('t')).configs.find((config) => config.name === 'retention.ms')!;
    expect(entry).toMatchObject({ value: '60000', configSource: ConfigSource.dynamicDefaultBrokerConfig });
    await cluster.alterBrokerConfigs('1', { 'log.retention.ms': '5000' });
    await cluster.alterTopicConfigs('t', { 'retention.ms': '7000' });
    entry = (await describeTopic('t')).configs.find((config) => config.name === 'retention.ms')!;
    expect(entry.synonyms).toEqual([
      { name: 'retention.ms', value: '7000', source: ConfigSource.dynamicTopicConfig },
      { name: 'log.retention.ms', value: '5000', source: ConfigSource.dynamicBrokerConfig },
      { name: 'log.retention.ms', value: '60000', source: ConfigSource.dynamicDefaultBrokerConfig },
      { name: 'log.retention.ms', value: '3600000', source: ConfigSource.staticBrokerConfig },
      { name: 'log.retention.ms', value: '604800000', source: ConfigSource.defaultConfig },
    ]);
    const unclean = (await describeTopic('t')).configs.find(
      (config) => config.name === 'unclean.leader.election.enable',
    )!;
    expect(unclean).toMatchObject({ value: 'true', configSource: ConfigSource.dynamicDefaultBrokerConfig });

    const describeBroker = async (resourceName: string) =>
      (
        await cluster.request(ApiKey.DescribeConfigs, 2, {
          resources: [{ resourceType: configResourceType.broker, resourceName, configurationKeys: null }],
          includeSynonyms: true,
        })
      ).results[0]!;
    const own = (await describeBroker('1')).configs;
    expect(own.find((config) => config.name === 'log.retention.ms')).toMatchObject({
      value: '5000',
      readOnly: false,
      configSource: ConfigSource.dynamicBrokerConfig,
    });
    expect(own.find((config) => config.name === 'num.partitions')).toMatchObject({ readOnly: true });
    const defaults = (await describeBroker('')).configs;
    expect(defaults.map((config) => [config.name, config.value, config.configSource])).toEqual([
      ['log.retention.ms', '60000', ConfigSource.dynamicDefaultBrokerConfig],
      ['unclean.leader.election.enable', 'true', ConfigSource.dynamicDefaultBrokerConfig],
    ]);
  });
});

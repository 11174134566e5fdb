// Config entries as DescribeConfigs (and CreateTopics v5+) report them: effective value, source and
// synonyms, the sources numbered as Kafka's DescribeConfigsResponse.ConfigSource.
//
// A topic reports every log config storage acts on, whether set or not, and
// unclean.leader.election.enable, plus any other topic config set on it. Its synonyms, most to least
// specific, as Kafka orders them: the topic's own value (DYNAMIC_TOPIC_CONFIG, under the topic key),
// this broker's dynamic value (DYNAMIC_BROKER_CONFIG, under the broker key such as log.retention.ms),
// the cluster-wide dynamic default (DYNAMIC_DEFAULT_BROKER_CONFIG), server.properties
// (STATIC_BROKER_CONFIG), Kafka's default (DEFAULT_CONFIG); the first present is the effective one.
// A broker reports its own configs the same way: the dynamic ones (metadata's
// dynamicBrokerConfigTopicKeys) are not read-only, every other one is. The cluster-default resource
// ('') reports only the dynamic defaults set.

import {
  clusterDefaultBrokerResource,
  dynamicBrokerConfigTopicKeys,
  dynamicBrokerOnlyKeys,
  isDynamicBrokerKey,
  topicConfigType,
} from '@gregor/metadata';
import { defaultLogConfig, describeLogConfig, logConfigDefinitions, logConfigDoc } from '@gregor/storage';
import type { BrokerSettings } from './broker-context.js';

/** The dynamic broker configs a broker sees, from its metadata image. */
export interface DynamicBrokerConfigs {
  brokerConfigs(resourceName: string): ReadonlyMap<string, string>;
}

export const ConfigSource = {
  unknown: 0,
  dynamicTopicConfig: 1,
  dynamicBrokerConfig: 2,
  dynamicDefaultBrokerConfig: 3,
  staticBrokerConfig: 4,
  defaultConfig: 5,
  dynamicBrokerLoggerConfig: 6,
} as const;

/** Kafka's DescribeConfigsResponse.ConfigType numbers, by ConfigDef type name. */
export const ConfigType: Readonly<Record<string, number>> = {
  unknown: 0,
  boolean: 1,
  string: 2,
  int: 3,
  short: 4,
  long: 5,
  double: 6,
  list: 7,
  class: 8,
  password: 9,
};

export interface ConfigSynonym {
  readonly name: string;
  readonly value: string | null;
  readonly source: number;
}

export interface ConfigEntry {
  readonly name: string;
  readonly value: string | null;
  readonly readOnly: boolean;
  readonly source: number;
  readonly isSensitive: boolean;
  /** Every source that has a value, most specific first; `[0]` is the effective one. */
  readonly synonyms: readonly ConfigSynonym[];
  /** ConfigType (DescribeConfigs v3+). */
  readonly type: number;
  readonly documentation: string | null;
}

const defaultValues = describeLogConfig(defaultLogConfig);

const uncleanLeaderElectionEnable = 'unclean.leader.election.enable';

/** Kafka's documentation of the replication throttle rates (KIP-73, KIP-113). */
const replicationThrottleRateDocs: ReadonlyMap<string, string> = new Map([
  [
    'leader.replication.throttled.rate',
    'A long representing the upper bound (bytes/sec) on outbound replication traffic for leader replicas enumerated in the property leader.replication.throttled.replicas (for each topic). This property can be only set dynamically. It is suggested that the limit be kept above 1MB/s for accurate behaviour.',
  ],
  [
    'follower.replication.throttled.rate',
    'A long representing the upper bound (bytes/sec) on inbound replication traffic for follower replicas enumerated in the property follower.replication.throttled.replicas (for each topic). This property can be only set dynamically. It is suggested that the limit be kept above 1MB/s for accurate behaviour.',
  ],
  [
    'replica.alter.log.dirs.io.max.bytes.per.second',
    'A long representing the upper bound (bytes/sec) on disk IO used for moving replica between log directories on the same broker. This property can be only set dynamically. It is suggested that the limit be kept above 1MB/s for accurate behaviour.',
  ],
]);

/** The dynamic synonyms of broker key `brokerKey` on broker `brokerId`, most specific first. */
function dynamicSynonyms(
  dynamic: DynamicBrokerConfigs,
  brokerId: number,
  brokerKey: string,
): ConfigSynonym[] {
  const synonyms: ConfigSynonym[] = [];
  const own = dynamic.brokerConfigs(String(brokerId)).get(brokerKey);
  if (own !== undefined)
    synonyms.push({ name: brokerKey, value: own, source: ConfigSource.dynamicBrokerConfig });
  const clusterDefault = dynamic.brokerConfigs(clusterDefaultBrokerResource).get(brokerKey);
  if (clusterDefault !== undefined) {
    synonyms.push({
      name: brokerKey,
      value: clusterDefault,
      source: ConfigSource.dynamicDefaultBrokerConfig,
    });
  }
  return synonyms;
}

export function describeTopicConfigs(
  topicConfigs: ReadonlyMap<string, string>,
  settings: BrokerSettings,
  dynamic: DynamicBrokerConfigs,
  brokerId: number,
): ConfigEntry[] {
  const brokerValues = describeLogConfig(settings.brokerLogConfig);
  const described = new Map(settings.describedConfigs.map((config) => [config.name, config]));
  const entries: ConfigEntry[] = [];
  for (const definition of logConfigDefinitions) {
    const synonyms: ConfigSynonym[] = [];
    const topicValue = topicConfigs.get(definition.topicKey);
    if (topicValue !== undefined) {
      synonyms.push({
        name: definition.topicKey,
        value: topicValue,
        source: ConfigSource.dynamicTopicConfig,
      });
    }
    synonyms.push(...dynamicSynonyms(dynamic, brokerId, definition.brokerKey));
    const brokerValue = brokerValues[definition.topicKey]!;
    const defaultValue = defaultValues[definition.topicKey]!;
    const isStatic = described.get(definition.brokerKey)?.source === 'static-broker-config';
    if (isStatic || brokerValue !== defaultValue) {
      synonyms.push({
        name: definition.brokerKey,
        value: brokerValue,
        source: ConfigSource.staticBrokerConfig,
      });
    }
    synonyms.push({ name: definition.brokerKey, value: defaultValue, source: ConfigSource.defaultConfig });
    entries.push(topicEntry(definition.topicKey, synonyms));
  }
  entries.push(
    topicEntry(uncleanLeaderElectionEnable, uncleanSynonyms(topicConfigs, settings, dynamic, brokerId)),
  );
  const reported = new Set(entries.map((entry) => entry.name));
  for (const [name, value] of topicConfigs) {
    if (reported.has(name)) continue;
    entries.push(topicEntry(name, [{ name, value, source: ConfigSource.dynamicTopicConfig }]));
  }
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** unclean.leader.election.enable: not a log config, but a topic config with a dynamic default. */
function uncleanSynonyms(
  topicConfigs: ReadonlyMap<string, string>,
  settings: BrokerSettings,
  dynamic: DynamicBrokerConfigs,
  brokerId: number,
): ConfigSynonym[] {
  const name = uncleanLeaderElectionEnable;
  const synonyms: ConfigSynonym[] = [];
  const topicValue = topicConfigs.get(name);
  if (topicValue !== undefined)
    synonyms.push({ name, value: topicValue, source: ConfigSource.dynamicTopicConfig });
  synonyms.push(...dynamicSynonyms(dynamic, brokerId, name));
  const configured = settings.describedConfigs.find((config) => config.name === name);
  if (configured?.source === 'static-broker-config') {
    synonyms.push({ name, value: configured.value, source: ConfigSource.staticBrokerConfig });
  }
  synonyms.push({ name, value: 'false', source: ConfigSource.defaultConfig });
  return synonyms;
}

function topicEntry(name: string, synonyms: readonly ConfigSynonym[]): ConfigEntry {
  const effective = synonyms[0]!;
  return {
    name,
    value: effective.value,
    readOnly: false,
    source: effective.source,
    isSensitive: false,
    synonyms,
    type: ConfigType[topicConfigType(name) ?? 'unknown'] ?? ConfigType.unknown!,
    documentation: logConfigDoc(name) ?? topicConfigDocs.get(name) ?? null,
  };
}

/**
 * Broker `brokerId`'s configs: every one it knows, the dynamic ones with their dynamic synonyms
 * over server.properties and Kafka's default.
 */
export function describeBrokerConfigs(
  settings: BrokerSettings,
  dynamic: DynamicBrokerConfigs,
  brokerId: number,
): ConfigEntry[] {
  // A log key left out of server.properties is still a config of this broker: at its default.
  const described = new Set(settings.describedConfigs.map((config) => config.name));
  const brokerValues = describeLogConfig(settings.brokerLogConfig);
  const unlisted = [...dynamicBrokerConfigTopicKeys]
    .filter(([brokerKey]) => !described.has(brokerKey))
    .map(([brokerKey, topicKey]) => ({
      name: brokerKey,
      value: brokerValues[topicKey] ?? null,
      source: 'default' as const,
      isSensitive: false,
      type: topicConfigType(topicKey),
      documentation: logConfigDoc(brokerKey) ?? null,
    }));
  const throttleRates = [...dynamicBrokerOnlyKeys]
    .filter(([brokerKey]) => !described.has(brokerKey))
    .map(([brokerKey, value]) => ({
      name: brokerKey,
      value,
      source: 'default' as const,
      isSensitive: false,
      type: 'long' as const,
      documentation: replicationThrottleRateDocs.get(brokerKey) ?? null,
    }));
  return [...settings.describedConfigs, ...unlisted, ...throttleRates]
    .map((config): ConfigEntry => {
      const staticSource =
        config.source === 'static-broker-config'
          ? ConfigSource.staticBrokerConfig
          : ConfigSource.defaultConfig;
      const value = config.isSensitive ? null : config.value;
      const isDynamic = isDynamicBrokerKey(config.name);
      const synonyms = [
        ...(isDynamic ? dynamicSynonyms(dynamic, brokerId, config.name) : []),
        { name: config.name, value, source: staticSource },
      ];
      return {
        name: config.name,
        value: synonyms[0]!.value,
        readOnly: !isDynamic,
        source: synonyms[0]!.source,
        isSensitive: config.isSensitive,
        synonyms,
        type: ConfigType[config.type ?? 'unknown'] ?? ConfigType.unknown!,
        documentation: config.documentation ?? null,
      };
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The cluster-wide dynamic defaults (resource ''), as Kafka reports them: only the ones set. */
export function describeClusterDefaultBrokerConfigs(
  settings: BrokerSettings,
  dynamic: DynamicBrokerConfigs,
): ConfigEntry[] {
  const described = new Map(settings.describedConfigs.map((config) => [config.name, config]));
  return [...dynamic.brokerConfigs(clusterDefaultBrokerResource)]
    .map(([name, value]): ConfigEntry => {
      const source = ConfigSource.dynamicDefaultBrokerConfig;
      return {
        name,
        value,
        readOnly: false,
        source,
        isSensitive: false,
        synonyms: [{ name, value, source }],
        type: ConfigType[described.get(name)?.type ?? 'unknown'] ?? ConfigType.unknown!,
        documentation: described.get(name)?.documentation ?? logConfigDoc(name) ?? null,
      };
    })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Documentation of the topic configs storage does not define (Kafka's TopicConfig docs, shortened). */
const topicConfigDocs: ReadonlyMap<string, string> = new Map([
  [
    'unclean.leader.election.enable',
    'Indicates whether to enable replicas not in the ISR set to be elected as leader as a last resort, ' +
      'even though doing so may result in data loss.',
  ],
  [
    'leader.replication.throttled.replicas',
    'A list of replicas for which log replication should be throttled on the leader side.',
  ],
  [
    'follower.replication.throttled.replicas',
    'A list of replicas for which log replication should be throttled on the follower side.',
  ],
]);

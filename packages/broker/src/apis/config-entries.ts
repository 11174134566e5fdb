// Config entries as DescribeConfigs (and CreateTopics v5+) report them: effective value, source and
// synonyms, the sources numbered as Kafka's DescribeConfigsResponse.ConfigSource.
//
// A topic reports every log config storage acts on, whether set or not, plus any other topic config
// set on it (e.g. unclean.leader.election.enable). Its synonyms, most to least specific: the topic's
// own value (DYNAMIC_TOPIC_CONFIG, under the topic key), the broker's server.properties value
// (STATIC_BROKER_CONFIG, under the broker key such as log.retention.ms), Kafka's default
// (DEFAULT_CONFIG, under the broker key); the first present is the effective one.
// A broker reports its own configs; all are read-only, as Gregor has no dynamic broker configs.

import { topicConfigType } from '@gregor/metadata';
import { defaultLogConfig, describeLogConfig, logConfigDefinitions, logConfigDoc } from '@gregor/storage';
import type { BrokerSettings } from './broker-context.js';

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

export function describeTopicConfigs(
  topicConfigs: ReadonlyMap<string, string>,
  settings: BrokerSettings,
): ConfigEntry[] {
  const brokerValues = describeLogConfig(settings.brokerLogConfig);
  const staticBrokerKeys = new Set(
    settings.describedConfigs
      .filter((config) => config.source === 'static-broker-config')
      .map((config) => config.name),
  );
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
    const brokerValue = brokerValues[definition.topicKey]!;
    const defaultValue = defaultValues[definition.topicKey]!;
    if (staticBrokerKeys.has(definition.brokerKey) || brokerValue !== defaultValue) {
      synonyms.push({
        name: definition.brokerKey,
        value: brokerValue,
        source: ConfigSource.staticBrokerConfig,
      });
    }
    synonyms.push({ name: definition.brokerKey, value: defaultValue, source: ConfigSource.defaultConfig });
    entries.push(topicEntry(definition.topicKey, synonyms));
  }
  const described = new Set(entries.map((entry) => entry.name));
  for (const [name, value] of topicConfigs) {
    if (described.has(name)) continue;
    entries.push(topicEntry(name, [{ name, value, source: ConfigSource.dynamicTopicConfig }]));
  }
  return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
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

export function describeBrokerConfigs(settings: BrokerSettings): ConfigEntry[] {
  return settings.describedConfigs
    .map((config) => {
      const source =
        config.source === 'static-broker-config'
          ? ConfigSource.staticBrokerConfig
          : ConfigSource.defaultConfig;
      const value = config.isSensitive ? null : config.value;
      return {
        name: config.name,
        value,
        readOnly: true,
        source,
        isSensitive: config.isSensitive,
        synonyms: [{ name: config.name, value, source }],
        type: ConfigType[config.type ?? 'unknown'] ?? ConfigType.unknown!,
        documentation: config.documentation ?? null,
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

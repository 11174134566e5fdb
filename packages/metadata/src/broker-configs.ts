// Dynamic broker configs (Kafka's DynamicBrokerConfig, KRaft): the broker-level defaults of topic
// configs that can change at run time, cluster-wide (resource '', `--entity-default`) or for one
// broker (resource = its id). Each maps to the topic key whose default it is; a topic that does not
// set the topic key takes the per-broker value, else the cluster default, else server.properties,
// else Kafka's default. Only keys that something in Gregor acts on are here (storage's log config,
// the leader's produce checks, the controller's elections); every other broker key is static.

/** Dynamic broker key → the topic key it is the default of. */
export const dynamicBrokerConfigTopicKeys: ReadonlyMap<string, string> = new Map([
  ['log.segment.bytes', 'segment.bytes'],
  ['log.roll.ms', 'segment.ms'],
  ['log.retention.ms', 'retention.ms'],
  ['log.retention.bytes', 'retention.bytes'],
  ['log.index.interval.bytes', 'index.interval.bytes'],
  ['log.index.size.max.bytes', 'segment.index.bytes'],
  ['log.flush.interval.messages', 'flush.messages'],
  ['log.flush.interval.ms', 'flush.ms'],
  ['message.max.bytes', 'max.message.bytes'],
  ['log.message.timestamp.type', 'message.timestamp.type'],
  ['log.message.timestamp.before.max.ms', 'message.timestamp.before.max.ms'],
  ['log.message.timestamp.after.max.ms', 'message.timestamp.after.max.ms'],
  ['log.cleanup.policy', 'cleanup.policy'],
  ['min.insync.replicas', 'min.insync.replicas'],
  ['log.cleaner.delete.retention.ms', 'delete.retention.ms'],
  ['log.cleaner.min.cleanable.ratio', 'min.cleanable.dirty.ratio'],
  ['log.cleaner.min.compaction.lag.ms', 'min.compaction.lag.ms'],
  ['compression.type', 'compression.type'],
  ['unclean.leader.election.enable', 'unclean.leader.election.enable'],
]);

/**
 * Dynamic broker keys that are no topic key's default, with their Kafka defaults: the replication
 * throttle rates (KIP-73) and the bound on copies between log dirs (KIP-113), in bytes/s, read by
 * the broker's replication quotas. Long.MAX_VALUE is unthrottled.
 */
export const dynamicBrokerOnlyKeys: ReadonlyMap<string, string> = new Map([
  ['leader.replication.throttled.rate', '9223372036854775807'],
  ['follower.replication.throttled.rate', '9223372036854775807'],
  ['replica.alter.log.dirs.io.max.bytes.per.second', '9223372036854775807'],
]);

/** Whether `name` is a dynamic broker config (a topic key's default, or a broker-only one). */
export function isDynamicBrokerKey(name: string): boolean {
  return dynamicBrokerConfigTopicKeys.has(name) || dynamicBrokerOnlyKeys.has(name);
}

/** Why `value` is not a valid value of broker-only key `name` (a long >= 0), or null. */
export function dynamicBrokerOnlyValueProblem(name: string, value: string): string | null {
  const trimmed = value.trim();
  if (!/^\d{1,19}$/.test(trimmed) || BigInt(trimmed) > 9223372036854775807n) {
    return `Invalid value ${value} for configuration ${name}: must be a long >= 0`;
  }
  return null;
}

/** The broker resource name of the cluster-wide default (`kafka-configs.sh --entity-default`). */
export const clusterDefaultBrokerResource = '';

const int32Max = 0x7fffffff;

/** Why `name` is not a broker config resource: '' (the cluster default) or a broker id. */
export function dynamicBrokerResourceNameProblem(name: string): string | null {
  if (name === clusterDefaultBrokerResource) return null;
  if (!/^\d{1,10}$/.test(name) || Number(name) > int32Max) {
    return `broker config resource "${name}" is neither '' (the cluster default) nor a broker id`;
  }
  return null;
}

/**
 * A dynamic broker config by topic key, as it applies to broker `brokerId`: its own value, else the
 * cluster-wide default, else undefined (the broker's static config decides).
 */
export function dynamicBrokerDefault(
  view: { brokerConfigs(resourceName: string): ReadonlyMap<string, string> },
  brokerId: number | null,
  brokerKey: string,
): string | undefined {
  const own = brokerId === null ? undefined : view.brokerConfigs(String(brokerId)).get(brokerKey);
  return own ?? view.brokerConfigs(clusterDefaultBrokerResource).get(brokerKey);
}

/**
 * The topic-key overrides the dynamic broker configs give broker `brokerId` (per-broker over the
 * cluster default), for a log config built over the static broker defaults.
 */
export function dynamicBrokerTopicDefaults(
  view: { brokerConfigs(resourceName: string): ReadonlyMap<string, string> },
  brokerId: number,
): Record<string, string> {
  const defaults: Record<string, string> = {};
  for (const resourceName of [clusterDefaultBrokerResource, String(brokerId)]) {
    for (const [brokerKey, value] of view.brokerConfigs(resourceName)) {
      const topicKey = dynamicBrokerConfigTopicKeys.get(brokerKey);
      if (topicKey !== undefined) defaults[topicKey] = value;
    }
  }
  return defaults;
}

// The topic configs Kafka knows, with the type of their value: CreateTopics and
// IncrementalAlterConfigs refuse unknown names and ill-typed values with INVALID_CONFIG.
// `message.timestamp.difference.max.ms` is not among them: Kafka 4.0 removed it (KAFKA-17997, after
// KIP-937 replaced it with message.timestamp.before.max.ms and message.timestamp.after.max.ms), and
// refuses it as an unknown topic config, as Gregor does.

type ConfigKind =
  | { readonly kind: 'long' | 'int' | 'boolean' | 'double' | 'string' }
  | { readonly kind: 'enum'; readonly values: readonly string[] }
  | { readonly kind: 'list'; readonly values: readonly string[] | null };

const long = { kind: 'long' } as const;
const int = { kind: 'int' } as const;
const boolean = { kind: 'boolean' } as const;
const double = { kind: 'double' } as const;
const string = { kind: 'string' } as const;

/** Longest config value accepted: each one is copied into every broker's image. */
export const topicConfigValueLengthMax = 32 * 1024;

export const uncleanLeaderElectionEnableConfig = 'unclean.leader.election.enable';

const topicConfigKinds: ReadonlyMap<string, ConfigKind> = new Map<string, ConfigKind>([
  ['cleanup.policy', { kind: 'list', values: ['delete', 'compact'] }],
  [
    'compression.type',
    { kind: 'enum', values: ['uncompressed', 'zstd', 'lz4', 'snappy', 'gzip', 'producer'] },
  ],
  ['delete.retention.ms', long],
  ['file.delete.delay.ms', long],
  ['flush.messages', long],
  ['flush.ms', long],
  ['follower.replication.throttled.replicas', { kind: 'list', values: null }],
  ['index.interval.bytes', int],
  ['leader.replication.throttled.replicas', { kind: 'list', values: null }],
  ['local.retention.bytes', long],
  ['local.retention.ms', long],
  ['max.compaction.lag.ms', long],
  ['max.message.bytes', int],
  ['message.downconversion.enable', boolean],
  ['message.format.version', string],
  ['message.timestamp.after.max.ms', long],
  ['message.timestamp.before.max.ms', long],
  ['message.timestamp.type', { kind: 'enum', values: ['CreateTime', 'LogAppendTime'] }],
  ['min.cleanable.dirty.ratio', double],
  ['min.compaction.lag.ms', long],
  ['min.insync.replicas', int],
  ['preallocate', boolean],
  ['remote.storage.enable', boolean],
  ['retention.bytes', long],
  ['retention.ms', long],
  ['segment.bytes', int],
  ['segment.index.bytes', int],
  ['segment.jitter.ms', long],
  ['segment.ms', long],
  [uncleanLeaderElectionEnableConfig, boolean],
]);

const integerPattern = /^-?\d+$/;

/** Kafka's Range.atLeast of the numeric topic configs whose broker acts on them at produce time. */
const topicConfigMins: ReadonlyMap<string, bigint> = new Map([
  ['min.insync.replicas', 1n],
  ['message.timestamp.before.max.ms', 0n],
  ['message.timestamp.after.max.ms', 0n],
]);

/** Why `value` is not acceptable for topic config `name`, or null if it is. */
export function topicConfigProblem(name: string, value: string): string | null {
  const kind = topicConfigKinds.get(name);
  if (kind === undefined) return `unknown topic config ${name}`;
  if (value.length > topicConfigValueLengthMax) {
    return `value of ${name} is ${value.length} characters, more than ${topicConfigValueLengthMax}`;
  }
  const trimmed = value.trim();
  switch (kind.kind) {
    case 'long':
    case 'int': {
      // Kafka's ranges: a Java int, or a Java long (its Long.MAX_VALUE is how "never" is written,
      // and DescribeConfigs shows it as the default of flush.messages and others, so a client that
      // writes back what it read sends it). Storage clamps a long beyond 2^53 to "never".
      const [min, max] =
        kind.kind === 'int' ? [-(2n ** 31n), 2n ** 31n - 1n] : [-(2n ** 63n), 2n ** 63n - 1n];
      const number = integerPattern.test(trimmed) ? BigInt(trimmed) : undefined;
      if (number === undefined || number < min || number > max) {
        return `${name} must be a${kind.kind === 'int' ? 'n int' : ' long'} in [${min}, ${max}], got "${value}"`;
      }
      const least = topicConfigMins.get(name);
      if (least !== undefined && number < least) return `${name} must be at least ${least}, got ${value}`;
      return null;
    }
    case 'double':
      return trimmed !== '' && Number.isFinite(Number(trimmed))
        ? null
        : `${name} must be a number, got "${value}"`;
    case 'boolean':
      return /^(true|false)$/i.test(trimmed) ? null : `${name} must be true or false, got "${value}"`;
    case 'string':
      return null;
    case 'enum':
      return kind.values.includes(trimmed) ? null : `${name} must be one of ${kind.values.join(', ')}`;
    case 'list': {
      if (kind.values === null) return null;
      const items = trimmed === '' ? [] : trimmed.split(',').map((item) => item.trim());
      const bad = items.find((item) => !kind.values!.includes(item));
      return bad === undefined ? null : `${name} items must be among ${kind.values.join(', ')}, got "${bad}"`;
    }
  }
}

/** The Kafka ConfigDef type of a topic config (an enumerated one is a STRING), or undefined if unknown. */
export function topicConfigType(
  name: string,
): 'long' | 'int' | 'boolean' | 'double' | 'string' | 'list' | undefined {
  const kind = topicConfigKinds.get(name);
  if (kind === undefined) return undefined;
  return kind.kind === 'enum' ? 'string' : kind.kind;
}

/** Whether the topic config holds a comma-separated list (IncrementalAlterConfigs may APPEND/SUBTRACT). */
export function isListTopicConfig(name: string): boolean {
  return topicConfigKinds.get(name)?.kind === 'list';
}

/** Kafka's default of a list topic config: what APPEND and SUBTRACT start from when it is unset. */
export function listTopicConfigDefault(name: string): string {
  return name === 'cleanup.policy' ? 'delete' : '';
}

/** A boolean topic config as Kafka parses it (case-insensitive), or `fallback` when unset. */
export function booleanTopicConfig(
  configs: ReadonlyMap<string, string>,
  name: string,
  fallback: boolean,
): boolean {
  const value = configs.get(name);
  return value === undefined ? fallback : value.trim().toLowerCase() === 'true';
}

// Log configuration under Kafka's own key names, as one typed definition table. Each entry names the
// topic-level key (what CreateTopics/AlterConfigs carry) and the broker-level default key (what
// server.properties carries), so the broker can reuse the table for DescribeConfigs and validation.
//
// Storage acts on the size, time, index and flush keys. It only carries `max.message.bytes`,
// `message.timestamp.type`, `cleanup.policy` and `min.insync.replicas`: the broker validates those.

import { LogConfigError } from './errors.js';

/** Kafka's Long.MAX_VALUE means "never"; Gregor carries offsets and times as numbers and clamps. */
export const neverLong = Number.MAX_SAFE_INTEGER;
const int32Max = 0x7fff_ffff;

export type TimestampTypeName = 'CreateTime' | 'LogAppendTime';
export type CleanupPolicyName = 'delete' | 'compact';

export interface LogConfig {
  /** Roll a segment before it would exceed this many bytes. */
  readonly segmentBytes: number;
  /** Roll a segment this long after its first append. */
  readonly segmentMs: number;
  /** Delete a non-active segment whose largest timestamp is older than this; -1 keeps forever. */
  readonly retentionMs: number;
  /** Delete the oldest non-active segments while the log stays above this size; -1 keeps all. */
  readonly retentionBytes: number;
  /** Add an offset/time index entry after this many appended bytes. */
  readonly indexIntervalBytes: number;
  /** Maximum size of one segment's offset or time index; a full index rolls the segment. */
  readonly segmentIndexBytes: number;
  /** fsync once this many offsets are unflushed; 1 means fsync after every append ("always"). */
  readonly flushMessages: number;
  /** fsync once the oldest unflushed append is this old. */
  readonly flushMs: number;
  /** Largest record batch accepted by a leader append. */
  readonly maxMessageBytes: number;
  readonly messageTimestampType: TimestampTypeName;
  readonly cleanupPolicy: readonly CleanupPolicyName[];
  readonly minInsyncReplicas: number;
}

type Value = number | string | readonly string[];

export interface LogConfigDefinition {
  /** Topic-level key, the LogConfig field it fills, and the broker-level key for its default. */
  readonly topicKey: string;
  readonly field: keyof LogConfig;
  readonly brokerKey: string;
  readonly type: 'int' | 'long' | 'enum' | 'list';
  readonly defaultValue: Value;
  /** Returns why the value is bad, or undefined when it is fine. */
  readonly validate: (value: Value) => string | undefined;
  readonly doc: string;
}

function atLeast(min: number, max = neverLong): (value: Value) => string | undefined {
  return (value) =>
    typeof value === 'number' && value >= min && value <= max
      ? undefined
      : `must be an integer in [${min}, ${max}]`;
}

function oneOf(allowed: readonly string[]): (value: Value) => string | undefined {
  return (value) => {
    const values = typeof value === 'string' ? [value] : Array.isArray(value) ? value : [];
    if (values.length === 0) return `must be one of ${allowed.join(', ')}`;
    const bad = values.find((v) => !allowed.includes(v));
    return bad === undefined ? undefined : `'${bad}' is not one of ${allowed.join(', ')}`;
  };
}

export const logConfigDefinitions: readonly LogConfigDefinition[] = [
  {
    topicKey: 'segment.bytes',
    field: 'segmentBytes',
    brokerKey: 'log.segment.bytes',
    type: 'int',
    defaultValue: 1024 * 1024 * 1024,
    // Kafka's minimum is the smallest legacy record; positions in the index are int32.
    validate: atLeast(14, int32Max),
    doc: 'Segment file size at which a new segment is rolled.',
  },
  {
    topicKey: 'segment.ms',
    field: 'segmentMs',
    brokerKey: 'log.roll.ms',
    type: 'long',
    defaultValue: 7 * 24 * 60 * 60 * 1000,
    validate: atLeast(1),
    doc: 'Time after the first append to a segment at which it is rolled even if not full.',
  },
  {
    topicKey: 'retention.ms',
    field: 'retentionMs',
    brokerKey: 'log.retention.ms',
    type: 'long',
    defaultValue: 7 * 24 * 60 * 60 * 1000,
    validate: atLeast(-1),
    doc: 'Age (by largest record timestamp) after which a non-active segment is deleted; -1: never.',
  },
  {
    topicKey: 'retention.bytes',
    field: 'retentionBytes',
    brokerKey: 'log.retention.bytes',
    type: 'long',
    defaultValue: -1,
    validate: atLeast(-1),
    doc: 'Size above which the oldest non-active segments are deleted; -1: no limit.',
  },
  {
    topicKey: 'index.interval.bytes',
    field: 'indexIntervalBytes',
    brokerKey: 'log.index.interval.bytes',
    type: 'int',
    defaultValue: 4096,
    validate: atLeast(0, int32Max),
    doc: 'Bytes appended between two offset index entries.',
  },
  {
    topicKey: 'segment.index.bytes',
    field: 'segmentIndexBytes',
    brokerKey: 'log.index.size.max.bytes',
    type: 'int',
    defaultValue: 10 * 1024 * 1024,
    validate: atLeast(4, int32Max),
    doc: 'Maximum size of an offset or time index file; a full index rolls the segment.',
  },
  {
    topicKey: 'flush.messages',
    field: 'flushMessages',
    brokerKey: 'log.flush.interval.messages',
    type: 'long',
    defaultValue: neverLong,
    validate: atLeast(1),
    doc: 'fsync after this many unflushed offsets; 1 (or "always") fsyncs every append. Default: never.',
  },
  {
    topicKey: 'flush.ms',
    field: 'flushMs',
    brokerKey: 'log.flush.interval.ms',
    type: 'long',
    defaultValue: neverLong,
    validate: atLeast(0),
    doc: 'fsync when the log has had unflushed data for this long. Default: never.',
  },
  {
    topicKey: 'max.message.bytes',
    field: 'maxMessageBytes',
    // Kafka's broker-level name for this one does not follow the log.* pattern.
    brokerKey: 'message.max.bytes',
    type: 'int',
    defaultValue: 1024 * 1024 + 12,
    validate: atLeast(0, int32Max),
    doc: 'Largest record batch a leader append accepts.',
  },
  {
    topicKey: 'message.timestamp.type',
    field: 'messageTimestampType',
    brokerKey: 'log.message.timestamp.type',
    type: 'enum',
    defaultValue: 'CreateTime',
    validate: oneOf(['CreateTime', 'LogAppendTime']),
    doc: 'Carried for the broker: whether record timestamps are the producer time or the append time.',
  },
  {
    topicKey: 'cleanup.policy',
    field: 'cleanupPolicy',
    brokerKey: 'log.cleanup.policy',
    type: 'list',
    defaultValue: ['delete'],
    validate: oneOf(['delete', 'compact']),
    doc: 'Carried for the broker; storage implements "delete" (retention) only.',
  },
  {
    topicKey: 'min.insync.replicas',
    field: 'minInsyncReplicas',
    brokerKey: 'min.insync.replicas',
    type: 'int',
    defaultValue: 1,
    validate: atLeast(1, int32Max),
    doc: 'Carried for the broker: replicas that must have a write before acks=all succeeds.',
  },
];

const byTopicKey = new Map(logConfigDefinitions.map((d) => [d.topicKey, d]));
const byBrokerKey = new Map(logConfigDefinitions.map((d) => [d.brokerKey, d]));

export const defaultLogConfig: LogConfig = Object.freeze(
  Object.fromEntries(logConfigDefinitions.map((d) => [d.field, d.defaultValue])) as unknown as LogConfig,
);

export type ConfigProps = Readonly<Record<string, string | number | readonly string[]>>;

function parseValue(
  key: string,
  definition: LogConfigDefinition,
  raw: string | number | readonly string[],
): Value {
  let value: Value;
  switch (definition.type) {
    case 'int':
    case 'long': {
      if (definition.topicKey === 'flush.messages' && raw === 'always') {
        value = 1;
        break;
      }
      const text = typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw.trim() : '';
      if (!/^-?\d+$/.test(text)) throw new LogConfigError(key, `'${String(raw)}' is not an integer`);
      const parsed = Number(text);
      // Long.MAX_VALUE (and anything beyond 2^53) means "never" in Kafka; clamp instead of rounding.
      value = definition.type === 'long' && parsed > neverLong ? neverLong : parsed;
      if (!Number.isSafeInteger(value)) throw new LogConfigError(key, `'${text}' is out of range`);
      break;
    }
    case 'enum':
      if (typeof raw !== 'string') throw new LogConfigError(key, 'must be a string');
      value = raw.trim();
      break;
    case 'list': {
      const items = typeof raw === 'string' ? raw.split(',') : Array.isArray(raw) ? raw : [];
      value = items.map((s) => String(s).trim()).filter((s) => s.length > 0);
      break;
    }
  }
  const problem = definition.validate(value);
  if (problem !== undefined) throw new LogConfigError(key, problem);
  return value;
}

/**
 * Topic-level configuration: `overrides` uses topic keys (`segment.bytes`, `retention.ms`, ...) and
 * is applied over `base` (usually the broker's defaults). Unknown keys and bad values throw
 * LogConfigError naming the key.
 */
export function parseLogConfig(overrides: ConfigProps, base: LogConfig = defaultLogConfig): LogConfig {
  const result: Record<string, Value> = { ...base };
  for (const [key, raw] of Object.entries(overrides)) {
    const definition = byTopicKey.get(key);
    if (definition === undefined) throw new LogConfigError(key, 'unknown topic config key');
    result[definition.field] = parseValue(key, definition, raw);
  }
  return result as unknown as LogConfig;
}

export interface BrokerLogConfig {
  /** `log.dirs` (or Kafka's single `log.dir`): where partition directories live. */
  readonly logDirs: readonly string[];
  /** Defaults for every topic, from the broker-level `log.*` keys. */
  readonly defaults: LogConfig;
}

/** True for keys parseBrokerLogConfig understands, so a broker can route its properties. */
export function isBrokerLogConfigKey(key: string): boolean {
  return key === 'log.dirs' || key === 'log.dir' || byBrokerKey.has(key);
}

/** Broker-level configuration from server.properties-style keys. Unknown keys throw LogConfigError. */
export function parseBrokerLogConfig(props: ConfigProps): BrokerLogConfig {
  const result: Record<string, Value> = { ...defaultLogConfig };
  let logDirs: string[] | undefined;
  let logDir: string | undefined;
  for (const [key, raw] of Object.entries(props)) {
    if (key === 'log.dirs' || key === 'log.dir') {
      const dirs = (typeof raw === 'string' ? raw.split(',') : Array.isArray(raw) ? raw.map(String) : [])
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
      if (dirs.length === 0) throw new LogConfigError(key, 'must name at least one directory');
      if (new Set(dirs).size !== dirs.length) throw new LogConfigError(key, 'names a directory twice');
      if (key === 'log.dirs') logDirs = dirs;
      else if (dirs.length !== 1) throw new LogConfigError(key, 'names exactly one directory');
      else logDir = dirs[0];
      continue;
    }
    const definition = byBrokerKey.get(key);
    if (definition === undefined) throw new LogConfigError(key, 'unknown broker log config key');
    result[definition.field] = parseValue(key, definition, raw);
  }
  // Kafka's precedence: log.dirs wins over log.dir; the default is Kafka's /tmp/kafka-logs.
  const dirs = logDirs ?? (logDir !== undefined ? [logDir] : ['/tmp/kafka-logs']);
  return { logDirs: dirs, defaults: result as unknown as LogConfig };
}

/** The topic-level view of a config (key → string), as DescribeConfigs reports it. */
export function describeLogConfig(config: LogConfig): Record<string, string> {
  const described: Record<string, string> = {};
  for (const d of logConfigDefinitions) {
    const value = config[d.field];
    described[d.topicKey] = Array.isArray(value)
      ? value.join(',')
      : value === neverLong
        ? '9223372036854775807'
        : String(value);
  }
  return described;
}

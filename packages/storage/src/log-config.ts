// Log configuration under Kafka's own key names, as one typed definition table. Each entry names the
// topic-level key (what CreateTopics/AlterConfigs carry) and the broker-level default key (what
// server.properties carries), so the broker can reuse the table for DescribeConfigs and validation.
//
// Storage acts on the size, time, index, flush and compaction keys (`cleanup.policy`,
// `delete.retention.ms`, `min.cleanable.dirty.ratio`, `min.compaction.lag.ms`). It only carries
// `max.message.bytes`, `message.timestamp.type`, `message.timestamp.before.max.ms`,
// `message.timestamp.after.max.ms`, `min.insync.replicas` and `compression.type`: the broker acts on
// those when it validates and appends produced batches. At broker level Kafka's
// coarser synonyms are read too: `log.retention.minutes` / `log.retention.hours` (when
// `log.retention.ms` is not set) and `log.roll.hours` (when `log.roll.ms` is not set).
// The broker-only `log.cleaner.*` keys (no topic key) have their own small table below. The value
// types, validators and the parsing of a raw value are config-def.ts (Kafka's ConfigDef).

import { atLeast, between, neverLong, oneOf, parseValue, type Value, type ValueType } from './config-def.js';
import { LogConfigError } from './errors.js';

export { neverLong } from './config-def.js';

const int32Max = 0x7fff_ffff;

export type TimestampTypeName = 'CreateTime' | 'LogAppendTime';
export type CleanupPolicyName = 'delete' | 'compact';
/** `producer` keeps what the producer sent; any other value is the codec batches are stored in. */
export type CompressionTypeName = 'producer' | 'uncompressed' | 'gzip' | 'snappy' | 'lz4' | 'zstd';
export const compressionTypeNames: readonly CompressionTypeName[] = [
  'producer',
  'uncompressed',
  'gzip',
  'snappy',
  'lz4',
  'zstd',
];

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
  /** CreateTime topics: a record stamped more than this before the broker's clock is refused. */
  readonly messageTimestampBeforeMaxMs: number;
  /** CreateTime topics: a record stamped more than this after the broker's clock is refused. */
  readonly messageTimestampAfterMaxMs: number;
  /** `delete` (retention), `compact` (the log cleaner) or both. */
  readonly cleanupPolicy: readonly CleanupPolicyName[];
  readonly minInsyncReplicas: number;
  /** A tombstone (null value) in the cleaned section is removed once its batch is older than this. */
  readonly deleteRetentionMs: number;
  /** A compacted log is cleaned once dirty bytes / (clean + dirty bytes) reaches this. */
  readonly minCleanableDirtyRatio: number;
  /** A segment whose largest timestamp is younger than this is not cleaned yet. */
  readonly minCompactionLagMs: number;
  /** Carried for the broker: the codec a leader stores produced batches in. */
  readonly compressionType: CompressionTypeName;
}

export interface LogConfigDefinition {
  /** Topic-level key, the LogConfig field it fills, and the broker-level key for its default. */
  readonly topicKey: string;
  readonly field: keyof LogConfig;
  readonly brokerKey: string;
  readonly type: Exclude<ValueType, 'boolean'>;
  readonly defaultValue: Value;
  /** Returns why the value is bad, or undefined when it is fine. */
  readonly validate: (value: Value) => string | undefined;
  readonly doc: string;
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
    topicKey: 'message.timestamp.before.max.ms',
    field: 'messageTimestampBeforeMaxMs',
    brokerKey: 'log.message.timestamp.before.max.ms',
    type: 'long',
    // Kafka's Long.MAX_VALUE: no bound on how old a record's timestamp may be.
    defaultValue: neverLong,
    validate: atLeast(0),
    doc: 'Carried for the broker: under CreateTime a produced record whose timestamp is more than this before the broker time is refused (INVALID_TIMESTAMP). Default: no bound.',
  },
  {
    topicKey: 'message.timestamp.after.max.ms',
    field: 'messageTimestampAfterMaxMs',
    brokerKey: 'log.message.timestamp.after.max.ms',
    type: 'long',
    // Kafka 4.0's default (KIP-1030); 3.x had Long.MAX_VALUE.
    defaultValue: 60 * 60 * 1000,
    validate: atLeast(0),
    doc: 'Carried for the broker: under CreateTime a produced record whose timestamp is more than this after the broker time is refused (INVALID_TIMESTAMP). Default: one hour.',
  },
  {
    topicKey: 'cleanup.policy',
    field: 'cleanupPolicy',
    brokerKey: 'log.cleanup.policy',
    type: 'list',
    defaultValue: ['delete'],
    validate: oneOf(['delete', 'compact']),
    doc: '"delete": retention deletes old segments; "compact": the log cleaner keeps the latest record per key; or both.',
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
  {
    topicKey: 'delete.retention.ms',
    field: 'deleteRetentionMs',
    brokerKey: 'log.cleaner.delete.retention.ms',
    type: 'long',
    defaultValue: 24 * 60 * 60 * 1000,
    validate: atLeast(0),
    doc: 'Compacted topics: how long a tombstone stays readable (by its batch timestamp) before the cleaner removes it.',
  },
  {
    topicKey: 'min.cleanable.dirty.ratio',
    field: 'minCleanableDirtyRatio',
    brokerKey: 'log.cleaner.min.cleanable.ratio',
    type: 'double',
    defaultValue: 0.5,
    validate: between(0, 1),
    doc: 'Compacted topics: the share of not-yet-cleaned bytes at which the cleaner cleans the log.',
  },
  {
    topicKey: 'compression.type',
    field: 'compressionType',
    brokerKey: 'compression.type',
    type: 'enum',
    defaultValue: 'producer',
    validate: oneOf(compressionTypeNames),
    doc: 'Carried for the broker: the codec produced batches are stored in ("producer" keeps the producer\'s).',
  },
  {
    topicKey: 'min.compaction.lag.ms',
    field: 'minCompactionLagMs',
    brokerKey: 'log.cleaner.min.compaction.lag.ms',
    type: 'long',
    defaultValue: 0,
    validate: atLeast(0),
    doc: 'Compacted topics: records stay uncompacted at least this long (segment granularity).',
  },
];

/** Broker-level settings of the log cleaner (server.properties keys; no topic-level key). */
export interface LogCleanerConfig {
  /** `log.cleaner.enable`: whether runCleaner cleans at all. */
  readonly enable: boolean;
  /** `log.cleaner.dedupe.buffer.size`: memory of the key → offset map, shared by all cleanings. */
  readonly dedupeBufferBytes: number;
  /** `log.cleaner.io.buffer.load.factor`: the map counts as full at this share of its slots. */
  readonly dedupeBufferLoadFactor: number;
  /** `log.cleaner.io.buffer.size`: bytes read from a segment per read while cleaning. */
  readonly ioBufferBytes: number;
  /** `log.cleaner.backoff.ms`: for the broker's timer, how long to wait between cleaner runs. */
  readonly backoffMs: number;
}

interface LogCleanerConfigDefinition {
  readonly brokerKey: string;
  readonly field: keyof LogCleanerConfig;
  readonly type: 'long' | 'double' | 'boolean';
  readonly defaultValue: number | boolean;
  readonly validate: (value: Value) => string | undefined;
}

/** Kafka's names and defaults. */
export const logCleanerConfigDefinitions: readonly LogCleanerConfigDefinition[] = [
  {
    brokerKey: 'log.cleaner.enable',
    field: 'enable',
    type: 'boolean',
    defaultValue: true,
    validate: () => undefined,
  },
  {
    brokerKey: 'log.cleaner.dedupe.buffer.size',
    field: 'dedupeBufferBytes',
    type: 'long',
    defaultValue: 128 * 1024 * 1024,
    // Two 24-byte slots at least (one always stays empty); typed arrays, so below 2 GiB each.
    validate: atLeast(48, 0x7fff_ffff),
  },
  {
    brokerKey: 'log.cleaner.io.buffer.load.factor',
    field: 'dedupeBufferLoadFactor',
    type: 'double',
    defaultValue: 0.9,
    validate: between(0.01, 0.99),
  },
  {
    brokerKey: 'log.cleaner.io.buffer.size',
    field: 'ioBufferBytes',
    type: 'long',
    defaultValue: 512 * 1024,
    validate: atLeast(1024, int32Max),
  },
  {
    brokerKey: 'log.cleaner.backoff.ms',
    field: 'backoffMs',
    type: 'long',
    defaultValue: 15_000,
    validate: atLeast(0),
  },
];

export const defaultLogCleanerConfig: LogCleanerConfig = Object.freeze(
  Object.fromEntries(
    logCleanerConfigDefinitions.map((d) => [d.field, d.defaultValue]),
  ) as unknown as LogCleanerConfig,
);

const cleanerByBrokerKey = new Map(logCleanerConfigDefinitions.map((d) => [d.brokerKey, d]));

const byTopicKey = new Map(logConfigDefinitions.map((d) => [d.topicKey, d]));
const byBrokerKey = new Map(logConfigDefinitions.map((d) => [d.brokerKey, d]));

export const defaultLogConfig: LogConfig = Object.freeze(
  Object.fromEntries(logConfigDefinitions.map((d) => [d.field, d.defaultValue])) as unknown as LogConfig,
);

export type ConfigProps = Readonly<Record<string, string | number | readonly string[]>>;

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
  /** The `log.cleaner.*` broker keys; Kafka's defaults when absent. */
  readonly cleaner?: LogCleanerConfig;
}

/**
 * Kafka's coarser broker keys for two times, each used only when the finer key is not set:
 * log.retention.ms > log.retention.minutes > log.retention.hours, and log.roll.ms > log.roll.hours.
 */
interface TimeSynonym {
  readonly key: string;
  readonly finerKeys: readonly string[];
  readonly field: 'retentionMs' | 'segmentMs';
  readonly msPerUnit: number;
  /** Kafka's minimum for the key (log.roll.hours is at least 1; retention may be negative: forever). */
  readonly min: number;
}

const timeSynonyms: readonly TimeSynonym[] = [
  {
    key: 'log.retention.minutes',
    finerKeys: ['log.retention.ms'],
    field: 'retentionMs',
    msPerUnit: 60_000,
    min: -int32Max - 1,
  },
  {
    key: 'log.retention.hours',
    finerKeys: ['log.retention.ms', 'log.retention.minutes'],
    field: 'retentionMs',
    msPerUnit: 3_600_000,
    min: -int32Max - 1,
  },
  { key: 'log.roll.hours', finerKeys: ['log.roll.ms'], field: 'segmentMs', msPerUnit: 3_600_000, min: 1 },
];
const timeSynonymByKey = new Map(timeSynonyms.map((synonym) => [synonym.key, synonym]));

/** The documentation of a log config, by its broker key (`log.retention.ms`) or topic key. */
export function logConfigDoc(key: string): string | undefined {
  return (byBrokerKey.get(key) ?? byTopicKey.get(key))?.doc;
}

/** True for keys parseBrokerLogConfig understands, so a broker can route its properties. */
export function isBrokerLogConfigKey(key: string): boolean {
  return (
    key === 'log.dirs' ||
    key === 'log.dir' ||
    byBrokerKey.has(key) ||
    cleanerByBrokerKey.has(key) ||
    timeSynonymByKey.has(key)
  );
}

/** Broker-level configuration from server.properties-style keys. Unknown keys throw LogConfigError. */
export function parseBrokerLogConfig(props: ConfigProps): BrokerLogConfig {
  const result: Record<string, Value> = { ...defaultLogConfig };
  const cleaner: Record<string, Value | boolean> = { ...defaultLogCleanerConfig };
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
    const synonym = timeSynonymByKey.get(key);
    if (synonym !== undefined) {
      // An int count of minutes or hours, as in Kafka; negative retention means "keep forever".
      const count = parseValue(key, { type: 'int', validate: atLeast(synonym.min, int32Max) }, raw) as number;
      if (synonym.finerKeys.some((finer) => props[finer] !== undefined)) continue;
      const ms = count * synonym.msPerUnit;
      result[synonym.field] = synonym.field === 'retentionMs' && ms < 0 ? -1 : ms;
      continue;
    }
    const cleanerDefinition = cleanerByBrokerKey.get(key);
    if (cleanerDefinition !== undefined) {
      const value = parseValue(key, cleanerDefinition, raw);
      cleaner[cleanerDefinition.field] = cleanerDefinition.type === 'boolean' ? value === 1 : value;
      continue;
    }
    const definition = byBrokerKey.get(key);
    if (definition === undefined) throw new LogConfigError(key, 'unknown broker log config key');
    result[definition.field] = parseValue(key, definition, raw);
  }
  // Kafka's precedence: log.dirs wins over log.dir; the default is Kafka's /tmp/kafka-logs.
  const dirs = logDirs ?? (logDir !== undefined ? [logDir] : ['/tmp/kafka-logs']);
  return {
    logDirs: dirs,
    defaults: result as unknown as LogConfig,
    cleaner: cleaner as unknown as LogCleanerConfig,
  };
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

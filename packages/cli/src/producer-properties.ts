// The Java producer's settings the console tools take (`--producer-property k=v` of
// kafka-console-producer.sh, `--producer-props k=v...` of kafka-producer-perf-test.sh), turned into
// @gregor/client's producer options. Only keys the client honours are accepted; any other is a usage
// error naming it, so no setting is silently ignored.

import { CompressionTypes, type KafkaConfig, type ProducerConfig } from '@gregor/client';
import { type ClientSecurity, kafkaSecurityConfig } from './client-properties.js';
import { integerIn } from './console-flags.js';

export interface ProducerSettings {
  readonly producer: ProducerConfig;
  /** -1 (all in-sync replicas), 1 or 0: sent with every Produce. */
  readonly acks: number;
  readonly clientId: string | undefined;
  readonly requestTimeoutMs: number | undefined;
  readonly retries: number | undefined;
  /** bootstrap.servers, when given as a property (kafka-producer-perf-test.sh's way). */
  readonly bootstrapServers: string | undefined;
}

const compressionByName: Readonly<Record<string, number>> = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
};

const intMax = 2_147_483_647;

export const producerPropertyNames = [
  'acks',
  'batch.size',
  'bootstrap.servers',
  'buffer.memory',
  'client.id',
  'compression.type',
  'delivery.timeout.ms',
  'enable.idempotence',
  'linger.ms',
  'max.in.flight.requests.per.connection',
  'max.request.size',
  'request.timeout.ms',
  'retries',
] as const;

/**
 * The settings from `properties` over `defaults` (a tool's own defaults, e.g. the console producer's
 * linger.ms=1000), or the message of a usage error.
 */
export function parseProducerProperties(
  flag: string,
  properties: ReadonlyMap<string, string>,
  defaults: Readonly<Record<string, string>> = {},
): ProducerSettings | string {
  const merged = new Map<string, string>([...Object.entries(defaults), ...properties]);
  for (const name of merged.keys()) {
    if (!(producerPropertyNames as readonly string[]).includes(name)) {
      return `${flag}: unknown or unsupported producer property '${name}' (supported: ${producerPropertyNames.join(', ')})`;
    }
  }
  let error: string | undefined;
  const integer = (name: string, min: number, max = intMax): number | undefined => {
    const text = merged.get(name);
    if (text === undefined) return undefined;
    const value = integerIn(text, min, max);
    if (value === null) error ??= `${flag}: ${name} must be an integer in [${min}, ${max}], got '${text}'`;
    return value ?? undefined;
  };
  const acksText = merged.get('acks') ?? 'all';
  const acks = acksText === 'all' ? -1 : ['-1', '0', '1'].includes(acksText) ? Number(acksText) : null;
  if (acks === null) return `${flag}: acks must be all, -1, 0 or 1, got '${acksText}'`;
  const compressionText = merged.get('compression.type') ?? 'none';
  const compression = compressionByName[compressionText];
  if (compression === undefined) {
    return `${flag}: compression.type must be none, gzip, snappy, lz4 or zstd, got '${compressionText}'`;
  }
  const idempotenceText = merged.get('enable.idempotence');
  if (idempotenceText !== undefined && idempotenceText !== 'true' && idempotenceText !== 'false') {
    return `${flag}: enable.idempotence must be true or false, got '${idempotenceText}'`;
  }
  const producer: ProducerConfig = {
    compression,
    // As the Java producer does since 3.0: idempotent unless asked not to or acks is not all.
    idempotent: idempotenceText === undefined ? acks === -1 : idempotenceText === 'true',
    batchSize: integer('batch.size', 1),
    lingerMs: integer('linger.ms', 0),
    bufferMemory: integer('buffer.memory', 1),
    maxRequestSize: integer('max.request.size', 1),
    deliveryTimeout: integer('delivery.timeout.ms', 1),
    maxInFlightRequests: integer('max.in.flight.requests.per.connection', 1, 5),
  };
  const settings: ProducerSettings = {
    producer,
    acks,
    clientId: merged.get('client.id'),
    requestTimeoutMs: integer('request.timeout.ms', 1),
    retries: integer('retries', 0),
    bootstrapServers: merged.get('bootstrap.servers'),
  };
  if (error !== undefined) return error;
  if (idempotenceText === 'true' && acks !== -1) {
    return `${flag}: enable.idempotence=true needs acks=all (got acks=${acksText})`;
  }
  return settings;
}

/** The client's connection options for these settings. */
export function kafkaConfigFor(
  brokers: readonly string[],
  settings: Pick<ProducerSettings, 'clientId' | 'requestTimeoutMs' | 'retries'>,
  defaultClientId: string,
  security: ClientSecurity,
): KafkaConfig {
  return {
    brokers,
    ...kafkaSecurityConfig(security),
    clientId: settings.clientId ?? defaultClientId,
    ...(settings.requestTimeoutMs === undefined ? {} : { requestTimeout: settings.requestTimeoutMs }),
    ...(settings.retries === undefined ? {} : { retry: { retries: settings.retries } }),
    logLevel: 0,
  };
}

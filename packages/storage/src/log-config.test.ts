import { describe, expect, it } from 'vitest';
import { LogConfigError } from './errors.js';
import {
  defaultLogConfig,
  describeLogConfig,
  isBrokerLogConfigKey,
  logConfigDefinitions,
  neverLong,
  parseBrokerLogConfig,
  parseLogConfig,
} from './log-config.js';

function configError(fn: () => unknown): LogConfigError {
  try {
    fn();
  } catch (error) {
    if (error instanceof LogConfigError) return error;
    throw error;
  }
  throw new Error('expected a LogConfigError');
}

describe('log config', () => {
  it("has Kafka's defaults", () => {
    expect(defaultLogConfig.segmentBytes).toBe(1073741824);
    expect(defaultLogConfig.segmentMs).toBe(604800000);
    expect(defaultLogConfig.retentionMs).toBe(604800000);
    expect(defaultLogConfig.retentionBytes).toBe(-1);
    expect(defaultLogConfig.indexIntervalBytes).toBe(4096);
    expect(defaultLogConfig.segmentIndexBytes).toBe(10485760);
    expect(defaultLogConfig.flushMessages).toBe(neverLong);
    expect(defaultLogConfig.flushMs).toBe(neverLong);
    expect(defaultLogConfig.maxMessageBytes).toBe(1048588);
    expect(defaultLogConfig.cleanupPolicy).toEqual(['delete']);
  });

  it('parses topic overrides over broker defaults', () => {
    const broker = parseBrokerLogConfig({
      'log.dirs': '/a, /b',
      'log.segment.bytes': '1048576',
      'log.retention.ms': 1000,
      'log.flush.interval.messages': '9223372036854775807',
    });
    expect(broker.logDirs).toEqual(['/a', '/b']);
    expect(broker.defaults.segmentBytes).toBe(1048576);
    expect(broker.defaults.flushMessages).toBe(neverLong);
    const topic = parseLogConfig(
      { 'segment.bytes': '4096', 'flush.messages': 'always', 'cleanup.policy': 'compact,delete' },
      broker.defaults,
    );
    expect(topic.segmentBytes).toBe(4096);
    expect(topic.retentionMs).toBe(1000);
    expect(topic.flushMessages).toBe(1);
    expect(topic.cleanupPolicy).toEqual(['compact', 'delete']);
  });

  it('names the key of an unknown topic config', () => {
    const error = configError(() => parseLogConfig({ 'segment.byte': '1' }));
    expect(error.key).toBe('segment.byte');
    expect(error.message).toContain('segment.byte');
  });

  it('names the key of an unknown broker config', () => {
    expect(configError(() => parseBrokerLogConfig({ 'log.segment.byte': '1' })).key).toBe('log.segment.byte');
    expect(configError(() => parseBrokerLogConfig({ 'segment.bytes': '1' })).key).toBe('segment.bytes');
  });

  it.each([
    ['segment.bytes', 'abc'],
    ['segment.bytes', '10'],
    ['segment.bytes', '4294967296'],
    ['segment.ms', '0'],
    ['retention.ms', '-2'],
    ['retention.bytes', '1.5'],
    ['flush.messages', '0'],
    ['message.timestamp.type', 'WallTime'],
    ['cleanup.policy', 'keep'],
    ['min.insync.replicas', '0'],
  ])('names the key of a bad value: %s=%s', (key, value) => {
    const error = configError(() => parseLogConfig({ [key]: value }));
    expect(error.key).toBe(key);
    expect(error.message).toContain(key);
  });

  it('names log.dirs when it is empty', () => {
    expect(configError(() => parseBrokerLogConfig({ 'log.dirs': ' , ' })).key).toBe('log.dirs');
  });

  it('maps every topic key to a broker key and describes every key', () => {
    for (const definition of logConfigDefinitions) {
      expect(isBrokerLogConfigKey(definition.brokerKey)).toBe(true);
    }
    const described = describeLogConfig(defaultLogConfig);
    expect(described['flush.ms']).toBe('9223372036854775807');
    expect(described['cleanup.policy']).toBe('delete');
    expect(Object.keys(described)).toHaveLength(logConfigDefinitions.length);
  });

  it("reads Kafka's coarser retention and roll keys, the finer key winning", () => {
    const hours = parseBrokerLogConfig({
      'log.dirs': '/a',
      'log.retention.hours': '2',
      'log.roll.hours': '3',
    });
    expect(hours.defaults.retentionMs).toBe(2 * 3_600_000);
    expect(hours.defaults.segmentMs).toBe(3 * 3_600_000);
    const minutes = parseBrokerLogConfig({
      'log.dirs': '/a',
      'log.retention.hours': '2',
      'log.retention.minutes': '5',
    });
    expect(minutes.defaults.retentionMs).toBe(5 * 60_000);
    const ms = parseBrokerLogConfig({
      'log.dirs': '/a',
      'log.retention.ms': '1000',
      'log.retention.minutes': '5',
      'log.retention.hours': '2',
      'log.roll.ms': '7000',
      'log.roll.hours': '3',
    });
    expect(ms.defaults.retentionMs).toBe(1000);
    expect(ms.defaults.segmentMs).toBe(7000);
    // Kafka: a negative retention time in any unit keeps the log forever.
    expect(parseBrokerLogConfig({ 'log.dirs': '/a', 'log.retention.hours': '-1' }).defaults.retentionMs).toBe(
      -1,
    );
    expect(configError(() => parseBrokerLogConfig({ 'log.roll.hours': '0' })).key).toBe('log.roll.hours');
    expect(configError(() => parseBrokerLogConfig({ 'log.retention.hours': '1.5' })).key).toBe(
      'log.retention.hours',
    );
    expect(isBrokerLogConfigKey('log.retention.hours')).toBe(true);
  });

  it('carries compression.type at topic and broker level', () => {
    expect(defaultLogConfig.compressionType).toBe('producer');
    const broker = parseBrokerLogConfig({ 'log.dirs': '/a', 'compression.type': 'zstd' });
    expect(broker.defaults.compressionType).toBe('zstd');
    expect(parseLogConfig({ 'compression.type': 'lz4' }, broker.defaults).compressionType).toBe('lz4');
    expect(configError(() => parseLogConfig({ 'compression.type': 'brotli' })).key).toBe('compression.type');
  });
});

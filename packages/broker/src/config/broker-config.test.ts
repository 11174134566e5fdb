import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { brokerConfigFrom, loadBrokerConfig } from './broker-config.js';

const minimal = {
  'node.id': '1',
  'process.roles': 'broker,controller',
  'cluster.id': 'gregor-test',
  'controller.quorum.voters': '1@127.0.0.1:9192',
  'log.dirs': '/tmp/gregor-a,/tmp/gregor-b',
};

function config(overrides: Record<string, string | undefined> = {}) {
  const raw = new Map<string, string>();
  for (const [key, value] of Object.entries({ ...minimal, ...overrides }))
    if (value !== undefined) raw.set(key, value);
  return brokerConfigFrom(raw);
}

describe('broker config', () => {
  it('fills Kafka defaults and splits the controller listener from the Kafka ones', () => {
    const parsed = config();
    expect(parsed.settings.nodeId).toBe(1);
    expect(parsed.settings.numPartitions).toBe(1);
    expect(parsed.settings.autoCreateTopicsEnable).toBe(true);
    expect(parsed.kafkaListeners).toEqual([{ name: 'PLAINTEXT', host: '', port: 9092 }]);
    expect(parsed.controllerListener).toEqual({ name: 'CONTROLLER', host: '', port: 9192 });
    expect(parsed.log.logDirs).toEqual(['/tmp/gregor-a', '/tmp/gregor-b']);
    expect(parsed.voters).toEqual([{ id: 1, host: '127.0.0.1', port: 9192 }]);
    expect(parsed.settings.groupMinSessionTimeoutMs).toBe(6000);
    expect(parsed.settings.groupMaxSessionTimeoutMs).toBe(1_800_000);
  });

  it.each([
    [{ 'node.id': undefined }, /node.id: is required/],
    [{ 'node.id': 'one' }, /node.id: expected an integer/],
    [{ 'num.partitions': '0' }, /num.partitions: must be at least 1/],
    [{ 'auto.create.topics.enable': 'yes' }, /auto.create.topics.enable: expected true or false/],
    [{ 'no.such.key': '1' }, /no.such.key: unknown configuration key/],
    [{ 'log.segment.bytes': 'big' }, /log.segment.bytes/],
    [{ 'log.dirs': undefined }, /log.dirs: is required/],
    [{ listeners: 'PLAINTEXT:9092' }, /listeners: 'PLAINTEXT:9092' is not NAME:\/\/host:port/],
    [{ 'controller.quorum.voters': '2@h:1' }, /controller.quorum.voters: node.id 1 is not among the voters/],
    [{ 'controller.quorum.voters': '1@h' }, /controller.quorum.voters: '1@h'/],
    [{ 'process.roles': 'broker' }, /process.roles: every Gregor node must include the controller role/],
    [{ 'process.roles': 'leader' }, /process.roles: must list broker and\/or controller/],
    [{ 'cluster.id': 'a b' }, /cluster.id: must be/],
    [
      { 'group.min.session.timeout.ms': '10000', 'group.max.session.timeout.ms': '9000' },
      /group.min.session.timeout.ms: must not be above group.max.session.timeout.ms/,
    ],
  ])('refuses %o naming the key', (overrides, message) => {
    expect(() => config(overrides)).toThrow(message);
  });

  it('reads a properties file and lets GREGOR_CFG_ variables override it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gregor-config-'));
    const file = join(dir, 'server.properties');
    writeFileSync(
      file,
      Object.entries(minimal)
        .map(([key, value]) => `${key}=${value}`)
        .join('\n'),
    );
    const parsed = loadBrokerConfig(file, { GREGOR_CFG_NUM_PARTITIONS: '6' });
    expect(parsed.settings.numPartitions).toBe(6);
    expect(parsed.explicitKeys.has('num.partitions')).toBe(true);
  });

  it('names the file when it cannot be read', () => {
    expect(() => loadBrokerConfig('/nonexistent/server.properties', {})).toThrow(/--config: cannot read/);
  });
});

// `gregor configs` against a real Gregor node in the test process (@gregor/testkit), and the same
// change read back by kafkajs: the CLI's IncrementalAlterConfigs is persisted in the metadata log and
// seen by any client; a refused change prints the broker's error and exits 1. `gregor quotas`, the
// same commands for client quotas only, sets what `gregor configs` then reads, and back.

import { startCluster, type TestCluster } from '@gregor/testkit';
import { ConfigResourceTypes, Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runVerb } from '../testing/run-cli.js';

let cluster: TestCluster;
let kafka: Kafka;

beforeAll(async () => {
  cluster = await startCluster({ brokers: 1 });
  kafka = new Kafka({
    clientId: 'cli-configs',
    brokers: cluster.bootstrapServers,
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 1 }], waitForLeaders: true });
  await admin.disconnect();
});

afterAll(async () => {
  await cluster?.stop();
});

function gregor(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return gregorVerb('configs', ...args);
}

const gregorVerb = (verb: 'configs' | 'quotas', ...args: string[]) =>
  runVerb(verb, cluster.bootstrapServers[0]!, args);

describe('gregor configs', () => {
  it('alters a topic, describes it, and kafkajs reads the same value', async () => {
    const topic = ['--entity-type', 'topics', '--entity-name', 'orders'];
    expect(
      await gregor('alter', ...topic, '--add-config', 'retention.ms=60000,cleanup.policy=compact'),
    ).toEqual({
      code: 0,
      out: 'Completed updating config for topic orders.\n',
      err: '',
    });
    const described = await gregor('describe', ...topic);
    expect(described.code).toBe(0);
    expect(described.out).toContain('Dynamic configs for topic orders are:\n');
    expect(described.out).toContain(
      '  retention.ms=60000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=60000, ' +
        'DEFAULT_CONFIG:log.retention.ms=604800000}',
    );
    const admin = kafka.admin();
    await admin.connect();
    try {
      const read = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: 'orders', configNames: ['retention.ms'] }],
      });
      expect(read.resources[0]!.configEntries[0]!.configValue).toBe('60000');
    } finally {
      await admin.disconnect();
    }
    expect((await gregor('alter', ...topic, '--delete-config', 'retention.ms')).code).toBe(0);
    expect((await gregor('describe', ...topic)).out).not.toContain('retention.ms=');
  });

  it('prints the broker error for a bad value or an unknown topic, exit code 1', async () => {
    const bad = await gregor(
      'alter',
      '--entity-type',
      'topics',
      '--entity-name',
      'orders',
      '--add-config',
      'retention.ms=soon',
    );
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/^Error: INVALID_CONFIG: .*retention\.ms/);
    const missing = await gregor('describe', '--entity-type', 'topics', '--entity-name', 'nope');
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/^Error: UNKNOWN_TOPIC_OR_PARTITION/);
  });

  it('sets, describes and deletes client quotas as kafka-configs.sh does, refusing unknown keys', async () => {
    const appOfAlice = [
      '--entity-type',
      'users',
      '--entity-name',
      'alice',
      '--entity-type',
      'clients',
      '--entity-name',
      'app',
    ];
    expect(
      await gregor(
        '--alter',
        '--add-config',
        'producer_byte_rate=1024,consumer_byte_rate=2048',
        ...appOfAlice,
      ),
    ).toEqual({
      code: 0,
      out: "Completed updating config for entity: user-principal 'alice', client-id 'app'.\n",
      err: '',
    });
    expect(
      (
        await gregor(
          '--alter',
          '--add-config',
          'producer_byte_rate=512',
          '--entity-type',
          'clients',
          '--entity-default',
        )
      ).code,
    ).toBe(0);
    expect(await gregor('--describe', ...appOfAlice)).toEqual({
      code: 0,
      out: "Quota configs for user-principal 'alice', client-id 'app' are producer_byte_rate=1024.0,consumer_byte_rate=2048.0\n",
      err: '',
    });
    expect((await gregor('--describe', '--entity-type', 'clients')).out).toBe(
      'Quota configs for the default client-id are producer_byte_rate=512.0\n',
    );
    const unknown = await gregor(
      '--alter',
      '--add-config',
      'fetch_rate=1',
      '--entity-type',
      'users',
      '--entity-name',
      'bob',
    );
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/^Error: INVALID_REQUEST: .*fetch_rate/);

    expect(
      (await gregor('--alter', '--delete-config', 'producer_byte_rate,consumer_byte_rate', ...appOfAlice))
        .code,
    ).toBe(0);
    expect((await gregor('--describe', ...appOfAlice)).out).toBe('');
  });

  it('gregor quotas alters and describes the same quotas as gregor configs, and refuses topics', async () => {
    const reports = ['--entity-type', 'clients', '--entity-name', 'reports'];
    expect(
      await gregorVerb(
        'quotas',
        'alter',
        ...reports,
        '--add-config',
        'consumer_byte_rate=4096,request_percentage=25',
      ),
    ).toEqual({ code: 0, out: "Completed updating config for entity: client-id 'reports'.\n", err: '' });
    const described =
      "Quota configs for client-id 'reports' are consumer_byte_rate=4096.0,request_percentage=25.0\n";
    expect(await gregorVerb('quotas', '--describe', ...reports)).toEqual({
      code: 0,
      out: described,
      err: '',
    });
    expect((await gregor('--describe', ...reports)).out).toBe(described);
    expect((await gregor('--alter', '--delete-config', 'request_percentage', ...reports)).code).toBe(0);
    expect((await gregorVerb('quotas', 'describe', ...reports)).out).toBe(
      "Quota configs for client-id 'reports' are consumer_byte_rate=4096.0\n",
    );
    const unknown = await gregorVerb('quotas', 'alter', ...reports, '--add-config', 'fetch_rate=1');
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/^Error: INVALID_REQUEST: .*fetch_rate/);
    const topic = await gregorVerb(
      'quotas',
      'describe',
      '--entity-type',
      'topics',
      '--entity-name',
      'orders',
    );
    expect(topic.code).toBe(2);
    expect(topic.err).toMatch(/^gregor quotas: --entity-type topics: gregor quotas sets client quotas/);
    expect(
      (await gregorVerb('quotas', 'alter', '--delete-config', 'consumer_byte_rate', ...reports)).code,
    ).toBe(0);
    expect((await gregorVerb('quotas', 'describe', ...reports)).out).toBe('');
  });
});

// Dynamic broker configs against a broker process, set with `gregor configs` (kafka-configs.sh's
// flags) and read back with kafkajs: log.segment.bytes set cluster-wide (--entity-default) makes an
// existing topic's partition roll segments at the new size without a restart; kafkajs's
// describeConfigs reports the topic's value from DYNAMIC_DEFAULT_BROKER_CONFIG; the broker's own
// value wins over the default, the topic's over both; a static key is refused with Kafka's message;
// after a restart the values are still there (the metadata log holds them).

import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '@gregor/ground/testing';
import { ConfigResourceTypes, Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath, ProcessCluster } from '../testing/process-cluster.js';

const cliTimeoutMs = 60_000;
/** Kafka's ConfigSource numbers, as DescribeConfigs carries them. */
const dynamicTopicConfig = 1;
const dynamicBrokerConfig = 2;
const dynamicDefaultBrokerConfig = 3;

let cluster: ProcessCluster;

const bootstrap = () => `127.0.0.1:${cluster.node(1).kafkaPort}`;
const kafka = () =>
  new Kafka({ clientId: 'dynamic-configs', brokers: [bootstrap()], logLevel: logLevel.NOTHING });

beforeAll(async () => {
  cluster = await ProcessCluster.start({ nodeCount: 1 });
  const admin = kafka().admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic: 'rolling', numPartitions: 1 }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}, 120_000);

afterAll(async () => {
  await cluster?.close();
});

/** `gregor configs ...`: exit code and output (stderr on failure). */
function configs(...args: string[]): { code: number; out: string } {
  try {
    const out = execFileSync(
      process.execPath,
      [cliPath, 'configs', '--bootstrap-server', bootstrap(), ...args],
      {
        encoding: 'utf8',
        timeout: cliTimeoutMs,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    return { code: 0, out };
  } catch (error) {
    const failed = error as { status: number; stderr: string };
    return { code: failed.status, out: failed.stderr };
  }
}

function segmentFiles(): string[] {
  return readdirSync(join(cluster.node(1).logDir, 'rolling-0')).filter((name) => name.endsWith('.log'));
}

async function describeSegmentBytes(): Promise<{ value: string; source: number }> {
  const admin = kafka().admin();
  await admin.connect();
  try {
    const described = await admin.describeConfigs({
      includeSynonyms: true,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: 'rolling', configNames: ['segment.bytes'] }],
    });
    const entry = described.resources[0]!.configEntries[0]! as unknown as {
      configValue: string;
      configSource: number;
    };
    return { value: entry.configValue, source: entry.configSource };
  } finally {
    await admin.disconnect();
  }
}

describe('dynamic broker configs', () => {
  it('roll an existing partition at a cluster-wide segment size, by precedence, and survive a restart', async () => {
    const producer = kafka().producer();
    await producer.connect();
    const send = async (count: number) => {
      // One batch per send: a segment rolls between batches.
      for (let index = 0; index < count; index++) {
        await producer.send({ topic: 'rolling', messages: [{ value: 'x'.repeat(300) }] });
      }
    };
    try {
      await send(5);
      expect(segmentFiles()).toHaveLength(1);

      const brokers = ['--entity-type', 'brokers'];
      expect(
        configs('--alter', ...brokers, '--entity-default', '--add-config', 'log.segment.bytes=1024'),
      ).toEqual({
        code: 0,
        out: 'Completed updating default config for brokers in the cluster.\n',
      });
      await send(10);
      // 15 batches of ~370 bytes at 1024 bytes a segment: the open partition rolled, no restart.
      await waitFor('the partition to roll at 1024 bytes', () => segmentFiles().length >= 4, {
        timeoutMs: 10_000,
      });
      expect(await describeSegmentBytes()).toEqual({ value: '1024', source: dynamicDefaultBrokerConfig });
      expect(configs('--describe', ...brokers, '--entity-default').out).toBe(
        'Default configs for brokers in the cluster are:\n' +
          '  log.segment.bytes=1024 sensitive=false synonyms={DYNAMIC_DEFAULT_BROKER_CONFIG:log.segment.bytes=1024}\n',
      );

      // This broker's own value wins over the cluster default.
      expect(
        configs('--alter', ...brokers, '--entity-name', '1', '--add-config', 'log.segment.bytes=2048').code,
      ).toBe(0);
      expect(await describeSegmentBytes()).toEqual({ value: '2048', source: dynamicBrokerConfig });
      const broker = configs('--describe', ...brokers, '--entity-name', '1');
      expect(broker.out).toBe(
        'Dynamic configs for broker 1 are:\n' +
          '  log.segment.bytes=2048 sensitive=false synonyms={DYNAMIC_BROKER_CONFIG:log.segment.bytes=2048, ' +
          'DYNAMIC_DEFAULT_BROKER_CONFIG:log.segment.bytes=1024, DEFAULT_CONFIG:log.segment.bytes=1073741824}\n',
      );
      // And the topic's own value over both.
      const topic = ['--entity-type', 'topics', '--entity-name', 'rolling'];
      expect(configs('--alter', ...topic, '--add-config', 'segment.bytes=4096').code).toBe(0);
      expect(await describeSegmentBytes()).toEqual({ value: '4096', source: dynamicTopicConfig });

      // A static key is refused as Kafka refuses it; an unknown one as an invalid config.
      expect(
        configs('--alter', ...brokers, '--entity-default', '--add-config', 'log.dirs=/tmp/elsewhere'),
      ).toEqual({
        code: 1,
        out: 'Error: INVALID_REQUEST: Cannot update these configs dynamically: Set(log.dirs)\n',
      });
      const unknown = configs('--alter', ...brokers, '--entity-default', '--add-config', 'log.sideways=1');
      expect(unknown.code).toBe(1);
      expect(unknown.out).toContain('INVALID_CONFIG');
    } finally {
      await producer.disconnect();
    }

    // The values come back from the metadata log after a restart.
    expect(await cluster.stop(1)).toBe(0);
    await cluster.restart(1);
    await cluster.waitReady();
    expect(
      configs(
        '--alter',
        '--entity-type',
        'topics',
        '--entity-name',
        'rolling',
        '--delete-config',
        'segment.bytes',
      ).code,
    ).toBe(0);
    expect(await describeSegmentBytes()).toEqual({ value: '2048', source: dynamicBrokerConfig });
    expect(configs('--describe', '--entity-type', 'brokers', '--entity-default').out).toContain(
      'log.segment.bytes=1024 sensitive=false',
    );
  }, 180_000);
});

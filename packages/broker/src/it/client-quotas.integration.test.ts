// Client quotas against a broker process, with kafka-python 2.0.2 as the producer and `gregor configs`
// (kafka-configs.sh's flags) setting the quota: a producer whose client id has a producer_byte_rate
// is throttled (its Produce responses carry throttle_time_ms > 0, as kafka-python's own producer
// metrics record them) and the bytes the broker accepts per window stay near the quota; once the
// quota is deleted the same client is not throttled. Only upper bounds on bytes per window are
// asserted: a slow machine makes the producer slower, never faster. @platformatic/kafka's admin
// (AlterClientQuotas v1, DescribeClientQuotas v1) sets and reads quotas of a user and its client.

import { execFileSync } from 'node:child_process';
import { Admin } from '@platformatic/kafka';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath, ProcessCluster } from '../testing/process-cluster.js';

const pythonTimeoutMs = 120_000;
const producer = new URL('./python/quota_producer.py', import.meta.url).pathname;

/** producer_byte_rate of the throttled client, bytes per second. */
const quotaBytesPerSecond = 50_000;
const recordBytes = 1_000;
const recordCount = 400;
/** quota.window.size.seconds × quota.window.num: the window the broker measures the rate over. */
const quotaWindowSeconds = 1;
const quotaWindowNum = 2;

let cluster: ProcessCluster;
let bootstrap: string;

beforeAll(async () => {
  cluster = await ProcessCluster.start({
    nodeCount: 1,
    properties: {
      'quota.window.num': String(quotaWindowNum),
      'quota.window.size.seconds': String(quotaWindowSeconds),
    },
  });
  bootstrap = `127.0.0.1:${cluster.node(1).kafkaPort}`;
  const admin = new Kafka({
    clientId: 'quota-admin',
    brokers: [bootstrap],
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic: 'metered', numPartitions: 1 }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
});

afterAll(async () => {
  await cluster?.close();
});

function configs(...args: string[]): string {
  return execFileSync(process.execPath, [cliPath, 'configs', '--bootstrap-server', bootstrap, ...args], {
    encoding: 'utf8',
    timeout: pythonTimeoutMs,
  });
}

interface ProducerRun {
  /** [monotonic seconds, value bytes] per acknowledged record. */
  acked: [number, number][];
  throttle_time_max: number;
  throttle_time_avg: number;
}

function produce(clientId: string): ProducerRun {
  const output = execFileSync('/usr/bin/python3', [producer], {
    input: JSON.stringify({
      bootstrap,
      topic: 'metered',
      client_id: clientId,
      records: recordCount,
      record_bytes: recordBytes,
    }),
    timeout: pythonTimeoutMs,
    encoding: 'utf8',
  });
  return JSON.parse(output) as ProducerRun;
}

/** The most value bytes acknowledged within any span of `spanSeconds`. */
function mostBytesWithin(acked: readonly [number, number][], spanSeconds: number): number {
  let most = 0;
  let start = 0;
  let bytes = 0;
  for (let end = 0; end < acked.length; end++) {
    bytes += acked[end]![1];
    while (acked[end]![0] - acked[start]![0] > spanSeconds) bytes -= acked[start++]![1];
    most = Math.max(most, bytes);
  }
  return most;
}

describe('client quotas (producer_byte_rate)', () => {
  it('throttles a kafka-python producer to its client id quota, and stops once the quota is deleted', () => {
    const client = ['--entity-type', 'clients', '--entity-name', 'metered-app'];
    expect(configs('--alter', '--add-config', `producer_byte_rate=${quotaBytesPerSecond}`, ...client)).toBe(
      "Completed updating config for entity: client-id 'metered-app'.\n",
    );
    expect(configs('--describe', ...client)).toBe(
      `Quota configs for client-id 'metered-app' are producer_byte_rate=${quotaBytesPerSecond}.0\n`,
    );

    const throttled = produce('metered-app');
    expect(throttled.acked).toHaveLength(recordCount);
    // The broker said so in its responses.
    expect(throttled.throttle_time_max).toBeGreaterThan(0);
    // Accepted bytes per span stay near the quota. The allowance: what the rate remembers (the
    // quota.window.num windows it is measured over, which a burst may fill before the throttle
    // catches up) and one request of kafka-python's 16 kB batches that crosses the quota.
    const spanSeconds = 3;
    const allowanceBytes = quotaBytesPerSecond * quotaWindowNum * quotaWindowSeconds + 16_384 + recordBytes;
    const allowedBytes = quotaBytesPerSecond * spanSeconds + allowanceBytes;
    expect(mostBytesWithin(throttled.acked, spanSeconds)).toBeLessThanOrEqual(allowedBytes);
    // Without the quota the whole 400 kB goes at once: this bound is what the throttle changed.
    expect(recordCount * recordBytes).toBeGreaterThan(allowedBytes);

    expect(configs('--alter', '--delete-config', 'producer_byte_rate', ...client)).toBe(
      "Completed updating config for entity: client-id 'metered-app'.\n",
    );
    expect(configs('--describe', ...client)).toBe('');
    const free = produce('metered-app');
    expect(free.acked).toHaveLength(recordCount);
    expect(free.throttle_time_max).toBe(0);
  });
});

describe('client quotas through @platformatic/kafka', () => {
  it('sets, describes and removes the quotas of a user and its client, refusing an unknown key', async () => {
    const admin = new Admin({ clientId: 'quota-platformatic', bootstrapBrokers: [bootstrap] });
    try {
      const entity = [
        { entityType: 'user' as const, entityName: 'alice' },
        { entityType: 'client-id' as const, entityName: 'reports' },
      ];
      const altered = await admin.alterClientQuotas({
        entries: [
          {
            entities: entity,
            ops: [
              { key: 'consumer_byte_rate', value: 4096, remove: false },
              { key: 'producer_byte_rate', value: 8192, remove: false },
            ],
          },
        ],
        validateOnly: false,
      });
      expect(altered).toEqual([{ errorCode: 0, errorMessage: null, entity }]);
      const described = await admin.describeClientQuotas({
        components: [{ entityType: 'user', matchType: 0, match: 'alice' }],
        strict: false,
      });
      expect(described).toEqual([
        {
          entity,
          values: [
            { key: 'consumer_byte_rate', value: 4096 },
            { key: 'producer_byte_rate', value: 8192 },
          ],
        },
      ]);
      await expect(
        admin.alterClientQuotas({
          entries: [
            {
              entities: entity,
              ops: [{ key: 'fetch_rate' as 'consumer_byte_rate', value: 1, remove: false }],
            },
          ],
          validateOnly: false,
        }),
      ).rejects.toThrow();
      // request_percentage is enforced (KIP-124), so stored like the byte rates.
      await admin.alterClientQuotas({
        entries: [
          {
            entities: entity,
            ops: [{ key: 'request_percentage' as 'consumer_byte_rate', value: 12.5, remove: false }],
          },
        ],
        validateOnly: false,
      });
      expect(
        await admin.describeClientQuotas({
          components: [{ entityType: 'user', matchType: 0, match: 'alice' }],
          strict: false,
        }),
      ).toEqual([
        {
          entity,
          values: [
            { key: 'consumer_byte_rate', value: 4096 },
            { key: 'producer_byte_rate', value: 8192 },
            { key: 'request_percentage', value: 12.5 },
          ],
        },
      ]);
      await admin.alterClientQuotas({
        entries: [
          {
            entities: entity,
            ops: [
              { key: 'consumer_byte_rate', remove: true },
              { key: 'producer_byte_rate', remove: true },
              { key: 'request_percentage' as 'consumer_byte_rate', remove: true },
            ],
          },
        ],
        validateOnly: false,
      });
      expect(
        await admin.describeClientQuotas({
          components: [{ entityType: 'user', matchType: 2 }],
          strict: false,
        }),
      ).toEqual([]);
    } finally {
      await admin.close();
    }
  });
});

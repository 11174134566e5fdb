// Client quotas against a broker process, with kafka-python 2.0.2 as the producer and `gregor configs`
// (kafka-configs.sh's flags) setting the quota: a producer whose client id has a producer_byte_rate
// is throttled (its Produce responses carry throttle_time_ms > 0, as kafka-python's own producer
// metrics record them) and the bytes the broker accepts per window stay near the quota; once the
// quota is deleted the same client is not throttled. A kafka-python consumer whose client id has a
// consumer_byte_rate reads a preloaded topic the same way: its Fetch responses carry
// throttle_time_ms > 0 (kafka-python's fetcher metrics) and the bytes it receives per span stay near
// the quota, and without the quota it reads the same records unthrottled. Only upper bounds on
// bytes per window are asserted: a slow machine makes the clients slower, never faster.
// @platformatic/kafka's admin
// (AlterClientQuotas v1, DescribeClientQuotas v1) sets and reads quotas of a user and its client.

import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { Admin } from '@platformatic/kafka';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { cliPath, ProcessCluster } from '../testing/process-cluster.js';

const pythonTimeoutMs = 120_000;
const producer = new URL('./python/quota_producer.py', import.meta.url).pathname;
const consumer = new URL('./python/quota_consumer.py', import.meta.url).pathname;

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
    await admin.createTopics({
      topics: [
        { topic: 'metered', numPartitions: 1 },
        { topic: 'metered-reads', numPartitions: 1 },
      ],
      waitForLeaders: true,
    });
  } finally {
    await admin.disconnect();
  }
});

afterAll(async () => {
  await cluster?.close();
});

const execFileAsync = promisify(execFile);

/**
 * `gregor configs` with `args`: its output. Not execFileSync, which would hold the event loop while
 * the other tests (describe.concurrent below) wait on theirs.
 */
async function configs(...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync(
    process.execPath,
    [cliPath, 'configs', '--bootstrap-server', bootstrap, ...args],
    { encoding: 'utf8', timeout: pythonTimeoutMs },
  );
  return stdout;
}

interface ProducerRun {
  /** [monotonic seconds, value bytes] per acknowledged record. */
  acked: [number, number][];
  throttle_time_max: number;
  throttle_time_avg: number;
}

/**
 * Runs a kafka-python script with `input` on its stdin and answers its JSON output. Not execFileSync:
 * the throttled producer and consumer run at the same time (describe.concurrent below).
 */
function runPython<T>(script: string, input: object): Promise<T> {
  const child = spawn('/usr/bin/python3', [script], { timeout: pythonTimeoutMs });
  child.stdin.end(JSON.stringify(input));
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    child.on('close', (code, signal) => {
      if (code === 0) resolve(JSON.parse(stdout) as T);
      else reject(new Error(`${script} exited with ${code ?? signal}: ${stderr}`));
    });
  });
}

function produce(clientId: string, topic = 'metered'): Promise<ProducerRun> {
  return runPython<ProducerRun>(producer, {
    bootstrap,
    topic,
    client_id: clientId,
    records: recordCount,
    record_bytes: recordBytes,
  });
}

interface ConsumerRun {
  /** [monotonic seconds, value bytes] per record received. */
  received: [number, number][];
  throttle_time_max: number;
  throttle_time_avg: number;
}

function consume(clientId: string, records: number): Promise<ConsumerRun> {
  return runPython<ConsumerRun>(consumer, {
    bootstrap,
    topic: 'metered-reads',
    client_id: clientId,
    records,
  });
}

/** The most value bytes acknowledged (or received) within any span of `spanSeconds`. */
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

// The three tests run at the same time: each has client ids (or a user) and a topic of its own, and
// quotas are per client id, so none throttles another. A throttled producer (400 kB at 50 kB/s) and
// a throttled consumer (400 kB at 25 kB/s) one after the other spent about 25 s waiting; together
// the consumer's 16 s. Only upper bounds on bytes per window are asserted, which sharing the machine
// can only make easier to meet, never break falsely. Assertions use the test's own `expect`.
describe.concurrent('client quotas', () => {
  it('throttles a kafka-python producer to its client id quota, and stops once the quota is deleted', async ({
    expect,
  }) => {
    const client = ['--entity-type', 'clients', '--entity-name', 'metered-app'];
    expect(
      await configs('--alter', '--add-config', `producer_byte_rate=${quotaBytesPerSecond}`, ...client),
    ).toBe("Completed updating config for entity: client-id 'metered-app'.\n");
    expect(await configs('--describe', ...client)).toBe(
      `Quota configs for client-id 'metered-app' are producer_byte_rate=${quotaBytesPerSecond}.0\n`,
    );

    const throttled = await produce('metered-app');
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

    expect(await configs('--alter', '--delete-config', 'producer_byte_rate', ...client)).toBe(
      "Completed updating config for entity: client-id 'metered-app'.\n",
    );
    expect(await configs('--describe', ...client)).toBe('');
    const free = await produce('metered-app');
    expect(free.acked).toHaveLength(recordCount);
    expect(free.throttle_time_max).toBe(0);
  });

  it('throttles a kafka-python consumer to its client id quota, and stops once the quota is deleted', async ({
    expect,
  }) => {
    /** consumer_byte_rate of the throttled reader, bytes per second. */
    const readQuotaBytesPerSecond = 25_000;
    const preloaded = await produce('metered-reads-loader', 'metered-reads');
    expect(preloaded.acked).toHaveLength(recordCount);
    expect(preloaded.throttle_time_max).toBe(0);

    const client = ['--entity-type', 'clients', '--entity-name', 'metered-reader'];
    expect(
      await configs('--alter', '--add-config', `consumer_byte_rate=${readQuotaBytesPerSecond}`, ...client),
    ).toBe("Completed updating config for entity: client-id 'metered-reader'.\n");
    expect(await configs('--describe', ...client)).toBe(
      `Quota configs for client-id 'metered-reader' are consumer_byte_rate=${readQuotaBytesPerSecond}.0\n`,
    );

    const throttled = await consume('metered-reader', recordCount);
    // It read everything the producer wrote, and the broker said it was throttled.
    expect(throttled.received).toHaveLength(recordCount);
    expect(throttled.received.every(([, bytes]) => bytes === recordBytes)).toBe(true);
    expect(throttled.throttle_time_max).toBeGreaterThan(0);
    // Received bytes per span stay near the quota. The allowance: what the rate remembers
    // (quota.window.num windows a first burst may fill), one Fetch's worth (the broker asks the log
    // for no more than the quota over quota.window.num - 1 windows) and one 16 kB batch of
    // kafka-python's producer that a Fetch returns whole.
    const spanSeconds = 2;
    const allowanceBytes =
      readQuotaBytesPerSecond * quotaWindowNum * quotaWindowSeconds +
      readQuotaBytesPerSecond * (quotaWindowNum - 1) * quotaWindowSeconds +
      16_384 +
      recordBytes;
    const allowedBytes = readQuotaBytesPerSecond * spanSeconds + allowanceBytes;
    expect(mostBytesWithin(throttled.received, spanSeconds)).toBeLessThanOrEqual(allowedBytes);
    // Without the quota the whole topic comes in one or two Fetches: this bound is what the
    // throttle changed.
    expect(recordCount * recordBytes).toBeGreaterThan(allowedBytes);

    expect(await configs('--alter', '--delete-config', 'consumer_byte_rate', ...client)).toBe(
      "Completed updating config for entity: client-id 'metered-reader'.\n",
    );
    expect(await configs('--describe', ...client)).toBe('');
    const free = await consume('metered-reader', recordCount);
    expect(free.received).toHaveLength(recordCount);
    expect(free.throttle_time_max).toBe(0);
  });

  it('@platformatic/kafka sets, describes and removes the quotas of a user and its client, refusing an unknown key', async ({
    expect,
  }) => {
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

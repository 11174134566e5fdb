#!/usr/bin/env node
// Throttled clients against their client quotas: one broker process (Kafka's quota windows,
// quota.window.num=11 × quota.window.size.seconds=1), quotas set with AlterClientQuotas on
// client-id entities, and real clients, each in its own process, producing or consuming 1 KiB
// records as fast as they can: librdkafka (confluent-kafka-python on the librdkafka 2.15 built into
// .cache/, else Debian's), kafkajs 2.2.4 and Gregor's own client (packages/client).
//
//   produce, unthrottled   each client alone, no quota: what the client does here without one
//   produce, throttled     six clients at once: each library under producer_byte_rate 1 MB/s and
//                          5 MB/s (client ids <library>-p1, <library>-p5)
//   consume, unthrottled   each client alone reads a preloaded topic from the beginning
//   consume, throttled     six clients at once under consumer_byte_rate 1 MB/s and 5 MB/s
//   request_percentage     three producers at once sending 100 B records in small requests, with
//                          no quota and then each under request_percentage=R (its own client id)
//
// For each client: value bytes acknowledged (producer) or received (consumer) per second, from
// the client's own callbacks; the mean over the run, the mean after the first
// quota.window.num − 1 seconds (Kafka's rate divides by at least that many windows, so a client
// starting from nothing may send that many seconds' worth at once), the most in any 1 s and in any
// 11 s (the span the broker measures over), as a share of the quota; and the throttle_time_ms the
// client saw (responses with a nonzero one, and the largest). For request_percentage, Produce
// requests per second and records per second. MB is 10^6 bytes, as Kafka's byte rates are plain
// bytes per second. Figures, not a test: nothing is asserted.
//
// Usage: npm run bench:quotas                       (builds first; about 2.5 minutes)
//        node scripts/bench-quotas.mjs --quick      (after npm run build; shorter runs, ~1 minute)
//        CLIENTS=librdkafka,gregor node scripts/bench-quotas.mjs

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiKey, ErrorCode, errorName } from '../packages/protocol/dist/index.js';
import { BenchCluster } from './lib/bench-cluster.mjs';
import { createTopic, openConnection } from './lib/bench-producer.mjs';
import { markdownTable } from './lib/bench-report.mjs';

const quick = process.argv.includes('--quick');
const throttledSeconds = quick ? 12 : 20;
const baselineSeconds = quick ? 3 : 5;
/** quota.window.num × quota.window.size.seconds: the span the broker measures a rate over. */
const quotaWindowNum = 11;
const quotaWindowSeconds = quotaWindowNum;
/**
 * Kafka's rate divides by at least quota.window.num − 1 windows, so a client starting from
 * nothing may send that many seconds' worth of its quota before it is throttled: the "steady"
 * figure is the mean after that.
 */
const burstSeconds = quotaWindowNum - 1;
const valueBytes = 1024;
const megabyte = 1_000_000;
const byteQuotasMb = [1, 5];
const requestPercentage = 5;
const partitions = 3;

const repoRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));
const nodeWorker = join(repoRoot, 'scripts', 'lib', 'quota-client.mjs');
const pythonWorker = join(repoRoot, 'scripts', 'lib', 'quota_client.py');
const librdkafkaDir = join(repoRoot, '.cache', 'librdkafka', '2.15.1', 'lib');

const clients = process.env.CLIENTS?.split(',') ?? ['librdkafka', 'kafkajs', 'gregor'];

/** Runs one client process to its end; resolves with its JSON report. */
function runClient(library, command) {
  const [file, args, env] =
    library === 'librdkafka'
      ? [
          '/usr/bin/python3',
          [pythonWorker, JSON.stringify(command)],
          existsSync(join(librdkafkaDir, 'librdkafka.so.1'))
            ? { ...process.env, LD_LIBRARY_PATH: librdkafkaDir }
            : process.env,
        ]
      : [process.execPath, [nodeWorker, JSON.stringify({ ...command, library })], process.env];
  return new Promise((done, fail) => {
    execFile(
      file,
      args,
      { env, timeout: (command.seconds + 60) * 1000, maxBuffer: 1 << 20 },
      (error, stdout, stderr) => {
        if (error) fail(new Error(`${library} ${command.role} failed: ${error.message}\n${stderr}`));
        else done(JSON.parse(stdout.trim().split('\n').at(-1)));
      },
    );
  });
}

async function alterQuota(connection, clientId, key, value) {
  const response = await connection.call(
    ApiKey.AlterClientQuotas,
    1,
    {
      entries: [
        {
          entity: [{ entityType: 'client-id', entityName: clientId }],
          ops: [{ key, value, remove: false }],
        },
      ],
      validateOnly: false,
    },
    10_000,
  );
  const result = response.entries[0];
  if (result.errorCode !== ErrorCode.NONE)
    throw new Error(`AlterClientQuotas ${clientId} ${key}: ${errorName(result.errorCode)}`);
}

/**
 * The figures of one client run. `toEnd`: the client read a topic to its end, so its mean is over
 * the time until its last bytes rather than the whole run.
 */
function figures(report, seconds, toEnd = false) {
  const buckets = report.buckets.slice(0, seconds);
  const sum = (values) => values.reduce((total, bytes) => total + bytes, 0);
  const mean = toEnd ? report.totalBytes / Math.max(report.lastMs / 1000, 0.001) : sum(buckets) / seconds;
  const steady =
    seconds > burstSeconds ? sum(buckets.slice(burstSeconds)) / (seconds - burstSeconds) : undefined;
  let windowMax;
  for (let end = quotaWindowSeconds; end <= buckets.length; end++)
    windowMax = Math.max(
      windowMax ?? 0,
      sum(buckets.slice(end - quotaWindowSeconds, end)) / quotaWindowSeconds,
    );
  return { mean, steady, max1s: Math.max(...buckets), windowMax, buckets, throttle: report.throttle };
}

const mb = (bytes) => (bytes / megabyte).toFixed(2);
const share = (rate, quota) =>
  quota === undefined || rate === undefined ? '' : `${Math.round((100 * rate) / quota)}%`;
const optional = (value, format) => (value === undefined ? '' : format(value));

const rows = [];
const requestRows = [];
const series = [];
function addRow(phase, library, quotaBytes, quotaLabel, result) {
  const rate = mb;
  const quotaRun = quotaBytes !== undefined;
  rows.push([
    phase,
    library,
    quotaLabel,
    rate(result.mean),
    quotaRun ? optional(result.steady, rate) : '',
    rate(result.max1s),
    quotaRun ? optional(result.windowMax, rate) : '',
    share(result.windowMax, quotaBytes),
    String(result.throttle.count),
    String(Math.round(result.throttle.maxMs)),
  ]);
  series.push(
    `${phase.padEnd(19)} ${library.padEnd(10)} ${quotaLabel.padEnd(6)} ${result.buckets.map(rate).join(' ')}`,
  );
}

const startedAt = new Date();
const loadBefore = loadavg()[0];
const cluster = await BenchCluster.start({
  nodeCount: 1,
  properties: {
    'num.partitions': String(partitions),
    'group.initial.rebalance.delay.ms': '0',
    'quota.window.num': String(quotaWindowNum),
    'quota.window.size.seconds': '1',
  },
});
const bootstrap = cluster.node(1).address;
const admin = await openConnection(bootstrap);
const versions = new Map();
let preloadBytes = 0;
try {
  // Produce, unthrottled: each client alone.
  for (const library of clients) {
    const topic = `free-${library}`;
    await createTopic(admin, topic, partitions, 1);
    const report = await runClient(library, {
      role: 'produce',
      bootstrap,
      topic,
      clientId: `${library}-free`,
      seconds: baselineSeconds,
      valueBytes,
    });
    versions.set(library, report.version);
    addRow('produce, no quota', library, undefined, 'none', figures(report, baselineSeconds));
  }

  // Produce, throttled: every library under each quota, all at once.
  const throttledProducers = [];
  for (const library of clients)
    for (const quotaMb of byteQuotasMb) {
      const clientId = `${library}-p${quotaMb}`;
      await alterQuota(admin, clientId, 'producer_byte_rate', quotaMb * megabyte);
      await createTopic(admin, clientId, partitions, 1);
      throttledProducers.push({ library, quotaMb, clientId });
    }
  const producerReports = await Promise.all(
    throttledProducers.map(({ library, clientId }) =>
      runClient(library, {
        role: 'produce',
        bootstrap,
        topic: clientId,
        clientId,
        seconds: throttledSeconds,
        valueBytes,
      }),
    ),
  );
  throttledProducers.forEach(({ library, quotaMb }, index) => {
    addRow(
      'produce, throttled',
      library,
      quotaMb * megabyte,
      `${quotaMb} MB/s`,
      figures(producerReports[index], throttledSeconds),
    );
  });

  // The topic the consumers read: enough that the fastest throttled consumer does not reach its
  // end (quota × run, plus the burst the first windows allow), written by Gregor's client.
  const consumeTopic = 'preloaded';
  await createTopic(admin, consumeTopic, partitions, 1);
  preloadBytes = Math.max(...byteQuotasMb) * megabyte * (throttledSeconds + 15);
  await runClient('gregor', {
    role: 'produce',
    bootstrap,
    topic: consumeTopic,
    clientId: 'preload',
    seconds: 120,
    valueBytes,
    maxBytes: preloadBytes,
  });

  for (const library of clients) {
    const report = await runClient(library, {
      role: 'consume',
      bootstrap,
      topic: consumeTopic,
      clientId: `${library}-free`,
      seconds: baselineSeconds,
    });
    addRow('consume, no quota', library, undefined, 'none', figures(report, baselineSeconds, true));
  }

  const throttledConsumers = [];
  for (const library of clients)
    for (const quotaMb of byteQuotasMb) {
      const clientId = `${library}-c${quotaMb}`;
      await alterQuota(admin, clientId, 'consumer_byte_rate', quotaMb * megabyte);
      throttledConsumers.push({ library, quotaMb, clientId });
    }
  const consumerReports = await Promise.all(
    throttledConsumers.map(({ library, clientId }) =>
      runClient(library, {
        role: 'consume',
        bootstrap,
        topic: consumeTopic,
        clientId,
        seconds: throttledSeconds,
      }),
    ),
  );
  throttledConsumers.forEach(({ library, quotaMb }, index) => {
    addRow(
      'consume, throttled',
      library,
      quotaMb * megabyte,
      `${quotaMb} MB/s`,
      figures(consumerReports[index], throttledSeconds),
    );
  });

  // request_percentage: small requests (one 100 B record per send for the Node clients, one per
  // request for librdkafka), no quota and then under the quota, three at once.
  for (const withQuota of [false, true]) {
    const runs = [];
    for (const library of clients) {
      const clientId = `${library}-${withQuota ? 'r' : 'rfree'}`;
      if (withQuota) await alterQuota(admin, clientId, 'request_percentage', requestPercentage);
      await createTopic(admin, clientId, partitions, 1);
      runs.push({ library, clientId });
    }
    const reports = await Promise.all(
      runs.map(({ library, clientId }) =>
        runClient(library, {
          role: 'produce',
          bootstrap,
          topic: clientId,
          clientId,
          seconds: throttledSeconds,
          valueBytes: 100,
          recordsPerSend: 1,
          lingerMs: 0,
          recordsPerBatch: 1,
        }),
      ),
    );
    runs.forEach(({ library }, index) => {
      const report = reports[index];
      requestRows.push([
        library,
        withQuota ? `${requestPercentage}%` : 'none',
        String(Math.round(report.requests / throttledSeconds)),
        String(Math.round(report.totalBytes / 100 / throttledSeconds)),
        String(Math.round(Math.max(...report.buckets) / 100)),
        String(report.throttle.count),
        String(Math.round(report.throttle.maxMs)),
      ]);
    });
  }
} finally {
  admin.close();
  await cluster.close();
}

const loadAfter = loadavg()[0];
console.log(
  `\nbench:quotas${quick ? ' --quick' : ''}, ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC, ` +
    `one broker, ${partitions} partitions per topic, 1 KiB values (100 B for request_percentage), acks=1; ` +
    `load average ${loadBefore.toFixed(1)} before, ${loadAfter.toFixed(1)} after; ` +
    `${[...versions.values()].join(', ')}`,
);
console.log(
  `throttled runs ${throttledSeconds} s (six clients at once), ` +
    `unthrottled ${baselineSeconds} s each (consumers: to the end of a ${mb(preloadBytes)} MB topic); ` +
    `rates in MB/s (10^6 B); "steady": the mean after the first ` +
    `${burstSeconds} s; "max ${quotaWindowSeconds} s": the most in any ${quotaWindowSeconds} s ` +
    `(the quota's window), per second\n`,
);
console.log(
  markdownTable(
    [
      'run',
      'client',
      'quota',
      'mean',
      'steady',
      'max 1 s',
      `max ${quotaWindowSeconds} s`,
      'of quota',
      'throttled responses',
      'throttle max ms',
    ],
    rows,
    ['l', 'l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
  ),
);
console.log(
  `\nrequest_percentage: three producers at once for ${throttledSeconds} s each, 100 B records sent ` +
    `one per send (librdkafka: linger.ms=0, batch.num.messages=1), without and with the quota; ` +
    `requests: Produce requests sent (librdkafka: every request it sent)\n`,
);
console.log(
  markdownTable(
    [
      'client',
      'request_percentage',
      'requests/s',
      'records/s',
      'records, max 1 s',
      'throttled responses',
      'throttle max ms',
    ],
    requestRows,
    ['l', 'l', 'r', 'r', 'r', 'r', 'r'],
  ),
);
console.log('\nbytes per second, MB:');
for (const line of series) console.log(line);
process.exit(0);

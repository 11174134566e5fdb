#!/usr/bin/env node
// Produce and consume figures for Gregor with real clients, against one broker and against a
// three-node cluster (replication factor 1, one partition led by each node). Each setup runs in its
// own temporary directory on ports the brokers choose (port 0) and is torn down afterwards. Prints figures, asserts nothing.
//
//   producer throughput  kcat -P (librdkafka 2.0, linger 5 ms, acks=all, no compression) reading
//                        records from a file, and kafkajs 2.2.4 sending batches of records: records/s
//                        and MB/s of record values, for 100-byte and 1 KiB values
//   consumer throughput  kcat -C from the beginning to the end of the 1 KiB topic (all partitions)
//   produce latency      kafkajs, one record per send() at a fixed rate, open loop (a slow answer
//                        does not delay the next send): p50 / p99 of send() time, acks=1 and acks=all
//
// Usage: npm run bench:produce   (builds first)
//        node scripts/bench-produce.mjs [--quick]   (after npm run build; --quick: smaller runs)

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { BenchCluster } from './lib/bench-cluster.mjs';
import { waitForCluster } from './lib/kafka-probe.mjs';

const run = promisify(execFile);
const quick = process.argv.includes('--quick');

const readyTimeoutMs = 60_000;
const clientTimeoutMs = 300_000;
const partitionCount = 3;
/** Records per producer throughput run: about 20 MB of 100-byte values, 100 MB of 1 KiB values. */
const kcatRecords = quick ? { 100: 50_000, 1024: 20_000 } : { 100: 200_000, 1024: 100_000 };
const kafkajsRecords = quick ? { 100: 20_000, 1024: 10_000 } : { 100: 100_000, 1024: 50_000 };
/** Records per kafkajs send(): its producer does not batch across calls. */
const kafkajsRecordsPerSend = 500;
const latencyRatePerSecond = 1_000;
const latencyRecords = quick ? 2_000 : 10_000;
const latencyValueBytes = 100;
const latencyWarmUpRecords = 200;

/**
 * Starts `nodeCount` broker processes (each also a metadata quorum voter) in a temporary directory,
 * on ports they choose themselves (BenchCluster).
 */
async function startCluster(nodeCount) {
  const cluster = await BenchCluster.start({
    nodeCount,
    properties: { 'num.partitions': String(partitionCount), 'default.replication.factor': '1' },
    readyTimeoutMs,
  });
  const bootstrap = cluster.nodes.map((node) => node.address);
  await waitForCluster(bootstrap, nodeCount, readyTimeoutMs);
  return {
    bootstrap: bootstrap.join(','),
    stop: () => cluster.close(),
  };
}

/** Printable, incompressible-enough values: kcat -l splits on newlines, so no newline inside. */
function recordFile(dir, count, valueBytes) {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  let state = 0x2545f491;
  const line = Buffer.alloc(valueBytes + 1);
  const chunks = [];
  for (let record = 0; record < count; record++) {
    for (let index = 0; index < valueBytes; index++) {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      line[index] = alphabet.charCodeAt((state >>> 0) % alphabet.length);
    }
    line[valueBytes] = 0x0a;
    chunks.push(Buffer.from(line));
  }
  const path = join(dir, `records-${valueBytes}.txt`);
  writeFileSync(path, Buffer.concat(chunks));
  return path;
}

async function createTopic(kafka, topic) {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [{ topic, numPartitions: partitionCount, replicationFactor: 1 }],
    waitForLeaders: true,
  });
  await admin.disconnect();
}

/** Throws unless the topic holds exactly `records` records: a figure for lost records means nothing. */
async function checkStored(kafka, topic, records) {
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const stored = offsets.reduce((sum, { high, low }) => sum + Number(high) - Number(low), 0);
  if (stored !== records) throw new Error(`${topic} holds ${stored} records, ${records} were sent`);
}

function throughput(records, valueBytes, elapsedMs) {
  const seconds = elapsedMs / 1000;
  return { recordsPerSecond: records / seconds, megabytesPerSecond: (records * valueBytes) / 1e6 / seconds };
}

async function kcatProduce(bootstrap, topic, file, records, valueBytes) {
  const started = performance.now();
  await run(
    'kcat',
    ['-b', bootstrap, '-P', '-t', topic, '-p', '-1', '-l', file, '-X', 'linger.ms=5', '-X', 'acks=all'],
    { timeout: clientTimeoutMs, maxBuffer: 1024 * 1024 },
  );
  return throughput(records, valueBytes, performance.now() - started);
}

async function kcatConsume(bootstrap, topic, records, valueBytes) {
  const started = performance.now();
  const { stdout } = await run(
    'kcat',
    ['-b', bootstrap, '-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '\n'],
    {
      timeout: clientTimeoutMs,
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  const elapsedMs = performance.now() - started;
  const consumed = stdout.length;
  if (consumed !== records) throw new Error(`kcat consumed ${consumed} of ${records} records from ${topic}`);
  return throughput(records, valueBytes, elapsedMs);
}

async function kafkajsProduce(kafka, topic, records, valueBytes) {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const value = Buffer.alloc(valueBytes, 'x');
  const started = performance.now();
  // Several sends in flight, as an application with concurrent work would have.
  const concurrentSends = 4;
  let next = 0;
  const worker = async () => {
    while (next < records) {
      const count = Math.min(kafkajsRecordsPerSend, records - next);
      next += count;
      await producer.send({ topic, acks: -1, messages: Array.from({ length: count }, () => ({ value })) });
    }
  };
  await Promise.all(Array.from({ length: concurrentSends }, worker));
  const result = throughput(records, valueBytes, performance.now() - started);
  await producer.disconnect();
  return result;
}

function percentile(sorted, fraction) {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))];
}

async function kafkajsLatency(kafka, topic, acks) {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const value = Buffer.alloc(latencyValueBytes, 'y');
  // Connections and metadata first: the figures are for a producer that is already running.
  for (let index = 0; index < latencyWarmUpRecords; index++) {
    await producer.send({ topic, acks, messages: [{ partition: index % partitionCount, value }] });
  }
  const intervalMs = 1000 / latencyRatePerSecond;
  const latenciesMs = [];
  const pending = [];
  const started = performance.now();
  for (let index = 0; index < latencyRecords; index++) {
    const dueMs = started + index * intervalMs;
    const waitMs = dueMs - performance.now();
    if (waitMs > 1) await new Promise((done) => setTimeout(done, waitMs));
    const sentAt = performance.now();
    pending.push(
      producer
        .send({ topic, acks, messages: [{ partition: index % partitionCount, value }] })
        .then(() => latenciesMs.push(performance.now() - sentAt)),
    );
  }
  await Promise.all(pending);
  const achievedRate = latencyRecords / ((performance.now() - started) / 1000);
  await producer.disconnect();
  latenciesMs.sort((a, b) => a - b);
  return { p50Ms: percentile(latenciesMs, 0.5), p99Ms: percentile(latenciesMs, 0.99), achievedRate };
}

async function benchmark(label, nodeCount, workDir) {
  console.error(`[${label}] starting ${nodeCount} broker process(es)...`);
  const cluster = await startCluster(nodeCount);
  const kafka = new Kafka({
    clientId: 'gregor-bench',
    brokers: cluster.bootstrap.split(','),
    logLevel: logLevel.NOTHING,
  });
  const rows = [];
  try {
    for (const valueBytes of [100, 1024]) {
      const file = recordFile(workDir, kcatRecords[valueBytes], valueBytes);
      const kcatTopic = `bench-kcat-${valueBytes}`;
      await createTopic(kafka, kcatTopic);
      console.error(
        `[${label}] kcat -P ${kcatRecords[valueBytes]} x ${valueBytes} B (${(statSync(file).size / 1e6).toFixed(0)} MB)`,
      );
      const produced = await kcatProduce(
        cluster.bootstrap,
        kcatTopic,
        file,
        kcatRecords[valueBytes],
        valueBytes,
      );
      await checkStored(kafka, kcatTopic, kcatRecords[valueBytes]);
      rows.push({ what: `produce ${valueBytes} B`, client: 'kcat -P (librdkafka)', ...produced });
      if (valueBytes === 1024) {
        console.error(`[${label}] kcat -C ${kcatRecords[valueBytes]} x ${valueBytes} B`);
        const consumed = await kcatConsume(cluster.bootstrap, kcatTopic, kcatRecords[valueBytes], valueBytes);
        rows.push({ what: `consume ${valueBytes} B`, client: 'kcat -C (librdkafka)', ...consumed });
      }
      const kafkajsTopic = `bench-kafkajs-${valueBytes}`;
      await createTopic(kafka, kafkajsTopic);
      console.error(`[${label}] kafkajs ${kafkajsRecords[valueBytes]} x ${valueBytes} B`);
      const sent = await kafkajsProduce(kafka, kafkajsTopic, kafkajsRecords[valueBytes], valueBytes);
      await checkStored(kafka, kafkajsTopic, kafkajsRecords[valueBytes]);
      rows.push({
        what: `produce ${valueBytes} B`,
        client: `kafkajs (${kafkajsRecordsPerSend}/send)`,
        ...sent,
      });
    }
    const latencyTopic = 'bench-latency';
    await createTopic(kafka, latencyTopic);
    for (const acks of [1, -1]) {
      console.error(
        `[${label}] kafkajs latency at ${latencyRatePerSecond}/s, acks=${acks === -1 ? 'all' : acks}`,
      );
      const latency = await kafkajsLatency(kafka, latencyTopic, acks);
      rows.push({
        what: `latency ${latencyValueBytes} B @ ${latencyRatePerSecond}/s acks=${acks === -1 ? 'all' : acks}`,
        client: 'kafkajs (1/send)',
        ...latency,
      });
    }
  } finally {
    await cluster.stop();
  }
  return rows;
}

function table(label, rows) {
  const lines = [
    `${label}`,
    '| measurement | client | records/s | MB/s | p50 ms | p99 ms |',
    '|---|---|---:|---:|---:|---:|',
  ];
  for (const row of rows) {
    lines.push(
      `| ${row.what} | ${row.client} | ${row.recordsPerSecond === undefined ? Math.round(row.achievedRate) : Math.round(row.recordsPerSecond)} | ${row.megabytesPerSecond === undefined ? '' : row.megabytesPerSecond.toFixed(1)} | ${row.p50Ms === undefined ? '' : row.p50Ms.toFixed(2)} | ${row.p99Ms === undefined ? '' : row.p99Ms.toFixed(2)} |`,
    );
  }
  return lines.join('\n');
}

const workDir = mkdtempSync(join(tmpdir(), 'gregor-bench-records-'));
try {
  const single = await benchmark('one broker', 1, workDir);
  const three = await benchmark('three brokers, RF 1', 3, workDir);
  console.log(
    `Gregor produce benchmark (${cpus().length} cores, ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version})`,
  );
  console.log('MB/s counts record values only; latency rows give the achieved send rate under records/s.');
  console.log('');
  console.log(table('One broker (3 partitions):', single));
  console.log('');
  console.log(table('Three brokers, replication factor 1 (3 partitions, one led by each):', three));
} finally {
  rmSync(workDir, { recursive: true, force: true });
}

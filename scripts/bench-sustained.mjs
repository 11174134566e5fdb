#!/usr/bin/env node
// Do the followers keep up with a sustained acks=1 load? (issues 13 and 16, session s17)
//
// Three broker processes (scripts/lib/bench-cluster.mjs, default settings, metrics on), one topic
// with 3 partitions, replication factor 3 and min.insync.replicas=2, so each broker leads one
// partition and follows two. The producer is bench:replication's (Gregor's minimal client, ~16 KiB
// batches of 1 KiB records, 5 Produce requests in flight per leader, closed loop, acks=1) for
// BENCH_SUSTAINED_SECONDS (default 90: longer than replica.lag.time.max.ms, 30 s). Then no load
// until every acknowledged record is replicated (or BENCH_CATCH_UP_SECONDS, default 120).
//
// Every second it prints:
//   MB/s       record values acknowledged in that second (1 MB = 10^6 bytes)
//   lag MB     for each follower replica (6 of them), the leader's log size minus the follower's
//              (the partition's `.log` files on disk; a follower appends the leader's batches byte
//              for byte, so the difference is what it has yet to fetch): the largest and the sum
//   unrepl     acknowledged records a consumer cannot read yet: offsets acknowledged to the
//              producer minus the high watermark (ListOffsets of each leader), summed
//   isr        the ISR size of each partition (Metadata from the first broker)
//   URP        kafka_server_replicamanager_underreplicatedpartitions summed over the brokers
//   shrinks    kafka_server_replicamanager_isrshrinks_total summed over the brokers
//   cpu        the brokers' CPU ms in that second, together (/proc/<pid>/stat)
//   errors     partition errors in Produce answers so far
// and at the end: the mean rate, the largest lag, the lag when the load stopped, and how long
// after that until every follower's log equals its leader's and the high watermark covers every
// acknowledged offset.
//
// Usage: npm run build && node scripts/bench-sustained.mjs
//        BENCH_SUSTAINED_SECONDS=90 BENCH_VALUE_BYTES=1024 BENCH_ACKS=1 ...
//        BENCH_BROKER_ENV / BENCH_NODE_ARGS as for bench:replication (scripts/lib/bench-cluster.mjs)
// Figures, not a test: it prints to stdout and asserts nothing.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readBoundMetricsPort } from '../packages/broker/dist/index.js';
import { ApiKey, errorName } from '../packages/protocol/dist/index.js';
import { BenchCluster } from './lib/bench-cluster.mjs';
import {
  createTopic,
  encodeValueBatch,
  latestOffsets,
  openConnection,
  produceBody,
  produceVersion,
  routesByLeader,
  topicMetadata,
} from './lib/bench-producer.mjs';

const loadSeconds = Number(process.env.BENCH_SUSTAINED_SECONDS ?? 90);
const catchUpSecondsMax = Number(process.env.BENCH_CATCH_UP_SECONDS ?? 120);
const valueBytes = Number(process.env.BENCH_VALUE_BYTES ?? 1024);
const acks = process.env.BENCH_ACKS === 'all' ? -1 : 1;
const nodeCount = 3;
const partitionCount = 3;
const replicationFactor = 3;
/** Kafka's batch.size default, as bench:replication. */
const batchBytesTarget = 16 * 1024;
const recordOverheadBytes = 8;
const recordsPerBatch = Math.floor(batchBytesTarget / (valueBytes + recordOverheadBytes));
const inFlightPerConnection = 5;
const requestDeadlineMs = 35_000;
const topic = 'sustained';

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));
const startMs = performance.now();
const log = (message) =>
  process.stderr.write(`[sustained +${((performance.now() - startMs) / 1000).toFixed(0)} s] ${message}\n`);

/** Bytes of a partition's `.log` segments in one broker's log dir. */
function logBytes(node, partition) {
  const dir = join(node.logDir, `${topic}-${partition}`);
  let bytes = 0;
  try {
    for (const name of readdirSync(dir)) if (name.endsWith('.log')) bytes += statSync(join(dir, name)).size;
  } catch {
    return Number.NaN;
  }
  return bytes;
}

function brokersCpuMs(cluster) {
  let ticks = 0;
  for (const node of cluster.running) {
    const stat = readFileSync(`/proc/${node.child.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks * 10; // USER_HZ = 100
}

/** Sums of the named series over the brokers' /metrics. */
async function scrape(ports, names) {
  const sums = Object.fromEntries(names.map((name) => [name, 0]));
  await Promise.all(
    ports.map(async (port) => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      for (const line of text.split('\n'))
        for (const name of names)
          if (line.startsWith(`${name} `)) sums[name] += Number(line.slice(name.length + 1));
    }),
  );
  return sums;
}

const urpName = 'kafka_server_replicamanager_underreplicatedpartitions';
const shrinksName = 'kafka_server_replicamanager_isrshrinks_total';
const expandsName = 'kafka_server_replicamanager_isrexpands_total';

async function main() {
  log(`starting three brokers; ${loadSeconds} s of acks=${acks === 1 ? '1' : 'all'}, ${valueBytes} B values`);
  const cluster = await BenchCluster.start({ nodeCount, properties: { 'gregor.metrics.port': '0' } });
  const connections = new Map();
  try {
    const metricsPorts = cluster.nodes.map((node) => readBoundMetricsPort(node.logDir));
    for (const node of cluster.nodes) connections.set(node.id, await openConnection(node.address));
    const admin = connections.get(1);
    await createTopic(admin, topic, partitionCount, replicationFactor, { 'min.insync.replicas': '2' });
    // Every broker must know the topic, its leaders and full ISRs before the load starts (a leader
    // that has not applied the topic yet answers UNKNOWN_TOPIC_OR_PARTITION).
    let metadata;
    for (;;) {
      const views = await Promise.all([...connections.values()].map((c) => topicMetadata(c, topic)));
      metadata = views[0];
      const settled = views.every(
        (view) =>
          view.partitions.length === partitionCount &&
          view.partitions.every(
            (p, index) =>
              p.leader >= 0 &&
              p.leader === metadata.partitions[index].leader &&
              p.isr.length === replicationFactor,
          ),
      );
      if (settled) break;
      await sleep(200);
    }
    const nodeById = new Map(cluster.nodes.map((node) => [node.id, node]));
    const partitions = metadata.partitions;
    const batch = encodeValueBatch(valueBytes, recordsPerBatch);
    /** Per partition: one past the last offset acknowledged to the producer. */
    const ackedEnd = new Array(partitionCount).fill(0);
    let ackedRecords = 0;
    let errors = 0;
    let firstError;
    let producing = true;

    const worker = async (route) => {
      const connection = connections.get(route.leader);
      const body = produceBody(
        topic,
        acks,
        route.partitions.map((partitionIndex) => ({ partitionIndex, records: batch })),
      );
      while (producing) {
        const response = await connection.call(ApiKey.Produce, produceVersion, body, requestDeadlineMs);
        for (const answer of response.responses[0].partitions) {
          if (answer.errorCode === 0) {
            ackedRecords += recordsPerBatch;
            const end = Number(answer.baseOffset) + recordsPerBatch;
            if (end > ackedEnd[answer.partitionIndex]) ackedEnd[answer.partitionIndex] = end;
          } else {
            errors += 1;
            firstError ??= errorName(answer.errorCode);
          }
        }
      }
    };

    const followerLags = () => {
      const lags = [];
      for (const p of partitions) {
        const leaderBytes = logBytes(nodeById.get(p.leader), p.partition);
        for (const replica of p.replicas)
          if (replica !== p.leader) lags.push(leaderBytes - logBytes(nodeById.get(replica), p.partition));
      }
      return lags;
    };
    const unreplicated = async () => {
      const { offsets } = await latestOffsets(connections, topic, partitions);
      return offsets.reduce(
        (sum, hw, index) => sum + (hw === undefined ? Number.NaN : ackedEnd[index] - hw),
        0,
      );
    };

    const rows = [];
    let cpuBefore = brokersCpuMs(cluster);
    let recordsBefore = 0;
    /** One row: what changed since the last one. */
    const sample = async (second) => {
      const [unrepl, view, sums] = await Promise.all([
        unreplicated(),
        topicMetadata(admin, topic),
        scrape(metricsPorts, [urpName, shrinksName, expandsName]),
      ]);
      const lags = followerLags();
      const row = {
        second,
        megabytesPerSecond: ((ackedRecords - recordsBefore) * valueBytes) / 1e6,
        lagMaxMB: Math.max(...lags) / 1e6,
        lagSumMB: lags.reduce((a, b) => a + b, 0) / 1e6,
        unrepl,
        isr: view.partitions.map((p) => p.isr.length).join(''),
        urp: sums[urpName],
        shrinks: sums[shrinksName],
        expands: sums[expandsName],
        cpuMs: brokersCpuMs(cluster) - cpuBefore,
        errors,
      };
      cpuBefore += row.cpuMs;
      recordsBefore = ackedRecords;
      rows.push(row);
      process.stdout.write(
        `${String(second).padStart(4)} s  ${row.megabytesPerSecond.toFixed(1).padStart(6)} MB/s  lag max ${row.lagMaxMB
          .toFixed(1)
          .padStart(7)} MB, sum ${row.lagSumMB.toFixed(1).padStart(7)} MB  unrepl ${String(
          row.unrepl,
        ).padStart(
          8,
        )}  isr ${row.isr}  URP ${row.urp}  shrinks ${row.shrinks} expands ${row.expands}  cpu ${row.cpuMs} ms  errors ${errors}\n`,
      );
      return row;
    };

    log(`leaders ${partitions.map((p) => `${p.partition}:${p.leader}`).join(' ')}; producing`);
    process.stdout.write(`load average at start: ${readFileSync('/proc/loadavg', 'utf8').trim()}\n`);
    const loadStartMs = performance.now();
    const workers = routesByLeader(partitions).flatMap((route) =>
      Array.from({ length: inFlightPerConnection }, () => worker(route)),
    );
    cpuBefore = brokersCpuMs(cluster);
    for (let second = 1; second <= loadSeconds; second++) {
      await sleep(loadStartMs + second * 1000 - performance.now());
      await sample(second);
    }
    producing = false;
    await Promise.all(workers);
    const loadEndMs = performance.now();
    const atStop = rows.at(-1);
    log('load stopped; waiting for the followers');
    let caughtUpMs;
    let second = loadSeconds;
    while (performance.now() - loadEndMs < catchUpSecondsMax * 1000) {
      const lags = followerLags();
      const unrepl = await unreplicated();
      if (lags.every((lag) => lag === 0) && unrepl === 0) {
        caughtUpMs = performance.now() - loadEndMs;
        break;
      }
      if (performance.now() - loadStartMs >= (second + 1) * 1000) {
        second += 1;
        await sample(second);
      } else await sleep(50);
    }
    const final = await sample(second + 1);
    const loadRows = rows.slice(0, loadSeconds);
    const mean = (values) => values.reduce((a, b) => a + b, 0) / values.length;
    const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
    process.stdout.write(`load average at end: ${readFileSync('/proc/loadavg', 'utf8').trim()}\n`);
    process.stdout.write(
      [
        `summary: ${loadSeconds} s acks=${acks === 1 ? '1' : 'all'} ${valueBytes} B, ${ackedRecords} records acknowledged, ${errors} errors${firstError ? ` (first ${firstError})` : ''}`,
        `  produced: mean ${mean(loadRows.map((r) => r.megabytesPerSecond)).toFixed(1)} MB/s, median ${median(loadRows.map((r) => r.megabytesPerSecond)).toFixed(1)}`,
        `  follower lag: largest ${Math.max(...loadRows.map((r) => r.lagMaxMB)).toFixed(1)} MB; when the load stopped: largest ${atStop.lagMaxMB.toFixed(1)} MB, sum ${atStop.lagSumMB.toFixed(1)} MB, ${atStop.unrepl} acknowledged records not yet readable`,
        `  lag at 15/30/45/60/75 s (largest, MB): ${[15, 30, 45, 60, 75].map((s) => loadRows[s - 1]?.lagMaxMB.toFixed(1) ?? '-').join(' / ')}`,
        `  ISR: first shrink at ${loadRows.find((r) => r.shrinks > 0)?.second ?? '-'} s, shrinks ${final.shrinks}, expands ${final.expands}, URP seconds during the load ${loadRows.filter((r) => r.urp > 0).length}`,
        `  brokers' CPU: mean ${mean(loadRows.map((r) => r.cpuMs)).toFixed(0)} ms/s during the load`,
        `  caught up (every follower log = its leader's, HW = acknowledged end): ${caughtUpMs === undefined ? `not within ${catchUpSecondsMax} s` : `${(caughtUpMs / 1000).toFixed(1)} s after the load stopped`}`,
      ].join('\n') + '\n',
    );
  } finally {
    for (const connection of connections.values()) connection.close();
    await cluster.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});

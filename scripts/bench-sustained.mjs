#!/usr/bin/env node
// Do the followers keep up with a sustained acks=1 load? (issues 13 and 16, session s17) Does the
// ISR hold, does memory stay bounded and is nothing lost under sustained acks=all? (issue 13, s19)
//
// Three broker processes (scripts/lib/bench-cluster.mjs, default settings, metrics on), one topic
// with 3 partitions, replication factor 3 and min.insync.replicas=2, so each broker leads one
// partition and follows two. The producer is bench:replication's (Gregor's minimal client, ~16 KiB
// batches of 1 KiB records, 5 Produce requests in flight per leader, closed loop, acks=1) for
// BENCH_SUSTAINED_SECONDS (default 90: longer than replica.lag.time.max.ms, 30 s). Then no load
// until every acknowledged record is replicated (or BENCH_CATCH_UP_SECONDS, default 120).
// BENCH_RATE_MBPS=<MB/s of values>: open loop instead: ~16 KiB batches sent on schedule, round-robin
// over the leaders, whether or not earlier requests were answered (no cap on requests in flight);
// a request's latency is then from the time it was due, so a stalled sender counts too.
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
//   errors     partition errors in Produce answers and failed requests (timeouts) so far
//   infl       Produce requests unanswered at the end of that second (largest in the second)
//   rss        each broker's VmRSS, MB (/proc/<pid>/status), and its CPU ms in that second
// and every broker warning as it is read (fencing, ISR changes at warn level, errors). Every 10 s:
// the Produce latency p50 / p99 / max of that window. At the end: the mean rate, the largest lag,
// the lag when the load stopped, how long after that until every follower's log equals its
// leader's and the high watermark covers every acknowledged offset, errors by name, and the
// integrity check: per partition, the acknowledged batches' offsets must tile [0, high watermark)
// with no gap (a record in the log nobody acknowledged, or lost) and no overlap (an offset
// acknowledged twice), and the leader epochs must not have changed (so no acknowledged offset was
// truncated and written again).
//
// Usage: npm run build && node scripts/bench-sustained.mjs
//        BENCH_SUSTAINED_SECONDS=90 BENCH_VALUE_BYTES=1024 BENCH_ACKS=1 BENCH_RATE_MBPS= ...
//        s19: BENCH_SUSTAINED_SECONDS=180 BENCH_VALUE_BYTES=100 BENCH_ACKS=all [BENCH_RATE_MBPS=14]
//        BENCH_LOG_SEGMENT_BYTES=268435456: the brokers' log.segment.bytes (default 1 GiB), to see
//        segment rolls (each row shows every leader's segment count) within a short run
//        BENCH_BROKER_ENV / BENCH_NODE_ARGS as for bench:replication (scripts/lib/bench-cluster.mjs)
// Figures, not a test: it prints to stdout and asserts nothing.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { readBoundMetricsPort } from '../packages/broker/dist/index.js';
import { ApiKey, errorName } from '../packages/protocol/dist/index.js';
import { BenchCluster } from './lib/bench-cluster.mjs';
import {
  createTopic,
  encodeValueBatch,
  latestOffsets,
  leaderEpochs,
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
/** Open loop at this many MB/s of values; 0: closed loop (5 requests in flight per leader). */
const rateMBps = Number(process.env.BENCH_RATE_MBPS ?? 0);
const latencyWindowSeconds = 10;
/** log.segment.bytes for the brokers (BENCH_LOG_SEGMENT_BYTES); Kafka's default, 1 GiB, when unset. */
const segmentBytes = process.env.BENCH_LOG_SEGMENT_BYTES;
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

/** How many `.log` segments a partition has in one broker's log dir (a roll adds one). */
function segmentCount(node, partition) {
  try {
    return readdirSync(join(node.logDir, `${topic}-${partition}`)).filter((name) => name.endsWith('.log'))
      .length;
  } catch {
    return Number.NaN;
  }
}

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

/** One broker's CPU ms so far (user + system). */
function brokerCpuMs(node) {
  const stat = readFileSync(`/proc/${node.child.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10; // USER_HZ = 100
}

function brokersCpuMs(cluster) {
  return cluster.running.reduce((sum, node) => sum + brokerCpuMs(node), 0);
}

/** One broker's resident set, MB (VmRSS). */
function brokerRssMB(node) {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${node.child.pid}/status`, 'utf8'));
  return match === null ? Number.NaN : Number(match[1]) / 1024;
}

/** The p-th percentile (0..1) of sorted values. */
const percentile = (sorted, p) =>
  sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];

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
const heapUsedName = 'nodejs_heap_size_used_bytes';
const externalName = 'nodejs_external_memory_bytes';

async function main() {
  log(
    `starting three brokers; ${loadSeconds} s of acks=${acks === 1 ? '1' : 'all'}, ${valueBytes} B values, ${rateMBps > 0 ? `open loop at ${rateMBps} MB/s` : 'closed loop'}`,
  );
  const cluster = await BenchCluster.start({
    nodeCount,
    properties: {
      'gregor.metrics.port': '0',
      ...(segmentBytes === undefined ? {} : { 'log.segment.bytes': segmentBytes }),
    },
  });
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
    /** Errors by name: partition error codes and failed requests (a deadline passed, a connection closed). */
    const errorsByName = new Map();
    const countError = (name) => {
      errors += 1;
      firstError ??= name;
      errorsByName.set(name, (errorsByName.get(name) ?? 0) + 1);
    };
    /** Per partition: the base offset of every acknowledged batch, for the integrity check. */
    const ackedBases = Array.from({ length: partitionCount }, () => []);
    /** Latencies (ms) of the acknowledged requests in the current 10 s window. */
    let windowLatencies = [];
    const allLatencies = [];
    let inFlight = 0;
    let inFlightMaxSecond = 0;
    let producing = true;
    const epochsBefore = await leaderEpochs(admin, topic);
    const bodyOf = (route) =>
      produceBody(
        topic,
        acks,
        route.partitions.map((partitionIndex) => ({ partitionIndex, records: batch })),
      );

    /** One Produce request; its latency is from `fromMs` (its write, or when it was due). */
    const produceOnce = async (route, body, fromMs) => {
      inFlight += 1;
      if (inFlight > inFlightMaxSecond) inFlightMaxSecond = inFlight;
      try {
        const response = await connections
          .get(route.leader)
          .call(ApiKey.Produce, produceVersion, body, requestDeadlineMs);
        let ok = true;
        for (const answer of response.responses[0].partitions) {
          if (answer.errorCode === 0) {
            ackedRecords += recordsPerBatch;
            const base = Number(answer.baseOffset);
            ackedBases[answer.partitionIndex].push(base);
            if (base + recordsPerBatch > ackedEnd[answer.partitionIndex])
              ackedEnd[answer.partitionIndex] = base + recordsPerBatch;
          } else {
            ok = false;
            countError(errorName(answer.errorCode));
          }
        }
        if (ok) {
          const latencyMs = performance.now() - fromMs;
          windowLatencies.push(latencyMs);
          allLatencies.push(latencyMs);
        }
      } catch (error) {
        countError(`request failed: ${error.message.split('\n')[0].slice(0, 80)}`);
      } finally {
        inFlight -= 1;
      }
    };

    const worker = async (route) => {
      const body = bodyOf(route);
      while (producing) await produceOnce(route, body, performance.now());
    };

    /** Open loop: batch k is due at k * batchValueBytes / rate; sent then, answered or not. */
    const openLoop = async (routes) => {
      const bodies = routes.map(bodyOf);
      const batchMs = (recordsPerBatch * valueBytes) / (rateMBps * 1e6) / 1e-3;
      const pending = new Set();
      const loopStartMs = performance.now();
      let sent = 0;
      while (producing) {
        const due = Math.floor((performance.now() - loopStartMs) / batchMs) + 1;
        for (; sent < due; sent++) {
          const index = sent % routes.length;
          const request = produceOnce(routes[index], bodies[index], loopStartMs + sent * batchMs);
          pending.add(request);
          request.finally(() => pending.delete(request));
        }
        await sleep(1);
      }
      await Promise.all(pending);
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
    let cpuByBrokerBefore = cluster.nodes.map(brokerCpuMs);
    let recordsBefore = 0;
    // The bench's own event loop: a stall here delays answers' reading, and so shows as latency.
    const benchLoop = monitorEventLoopDelay({ resolution: 10 });
    benchLoop.enable();
    let warningsSeen = 0;
    const warningCounts = new Map();
    const latencyWindows = [];
    /** Prints the broker warnings read since the last call. */
    const printWarnings = () => {
      for (; warningsSeen < cluster.warnings.length; warningsSeen++) {
        const { nodeId, entry } = cluster.warnings[warningsSeen];
        const message = String(entry.msg ?? '');
        warningCounts.set(message, (warningCounts.get(message) ?? 0) + 1);
        if ((warningCounts.get(message) ?? 0) <= 5) {
          const { level, time, pid, hostname, msg, ...rest } = entry;
          process.stdout.write(
            `       warning node ${nodeId} (level ${level}): ${message} ${JSON.stringify(rest).slice(0, 300)}\n`,
          );
        }
      }
    };
    /** One row: what changed since the last one. */
    const sample = async (second) => {
      const [unrepl, view, sums] = await Promise.all([
        unreplicated(),
        topicMetadata(admin, topic),
        scrape(metricsPorts, [urpName, shrinksName, expandsName, heapUsedName, externalName]),
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
        inFlight,
        inFlightMax: inFlightMaxSecond,
        benchLoopMaxMs: benchLoop.max / 1e6,
        segments: partitions.map((p) => segmentCount(nodeById.get(p.leader), p.partition)).join('/'),
        heapUsedMB: sums[heapUsedName] / 1e6,
        externalMB: sums[externalName] / 1e6,
        isrMin: Math.min(...view.partitions.map((p) => p.isr.length)),
        rssMB: cluster.nodes.map(brokerRssMB),
        cpuByBroker: cluster.nodes.map((node, index) => brokerCpuMs(node) - cpuByBrokerBefore[index]),
      };
      cpuBefore += row.cpuMs;
      cpuByBrokerBefore = cpuByBrokerBefore.map((before, index) => before + row.cpuByBroker[index]);
      inFlightMaxSecond = inFlight;
      benchLoop.reset();
      recordsBefore = ackedRecords;
      rows.push(row);
      process.stdout.write(
        `${String(second).padStart(4)} s  ${row.megabytesPerSecond.toFixed(1).padStart(6)} MB/s  lag max ${row.lagMaxMB
          .toFixed(1)
          .padStart(7)} MB, sum ${row.lagSumMB.toFixed(1).padStart(7)} MB  unrepl ${String(
          row.unrepl,
        ).padStart(
          8,
        )}  isr ${row.isr}  URP ${row.urp}  shrinks ${row.shrinks} expands ${row.expands}  cpu ${row.cpuMs} ms  errors ${errors}  infl ${row.inFlight} (max ${row.inFlightMax})  rss/cpu ${row.rssMB
          .map((mb, index) => `${mb.toFixed(0)}/${row.cpuByBroker[index]}`)
          .join(
            ' ',
          )}  heap ${row.heapUsedMB.toFixed(0)} ext ${row.externalMB.toFixed(0)} MB (3 brokers)  bench loop max ${row.benchLoopMaxMs.toFixed(0)} ms  segments ${row.segments}\n`,
      );
      printWarnings();
      if (second % latencyWindowSeconds === 0 && second <= loadSeconds) {
        const sorted = windowLatencies.sort((a, b) => a - b);
        windowLatencies = [];
        const window = {
          second,
          requests: sorted.length,
          p50: percentile(sorted, 0.5),
          p99: percentile(sorted, 0.99),
          max: sorted.at(-1) ?? Number.NaN,
        };
        latencyWindows.push(window);
        process.stdout.write(
          `       latency ${second - latencyWindowSeconds}-${second} s: ${window.requests} requests, p50 ${window.p50.toFixed(1)} ms, p99 ${window.p99.toFixed(1)} ms, max ${window.max.toFixed(1)} ms\n`,
        );
      }
      return row;
    };

    log(`leaders ${partitions.map((p) => `${p.partition}:${p.leader}`).join(' ')}; producing`);
    process.stdout.write(`load average at start: ${readFileSync('/proc/loadavg', 'utf8').trim()}\n`);
    const loadStartMs = performance.now();
    const routes = routesByLeader(partitions);
    const workers =
      rateMBps > 0
        ? [openLoop(routes)]
        : routes.flatMap((route) => Array.from({ length: inFlightPerConnection }, () => worker(route)));
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
    // Integrity: the acknowledged batches of each partition must tile [0, high watermark).
    const { offsets: highWatermarks } = await latestOffsets(connections, topic, partitions);
    const epochsAfter = await leaderEpochs(admin, topic);
    const integrity = partitions.map((p, index) => {
      const bases = ackedBases[index].sort((a, b) => a - b);
      let gaps = 0;
      let gapRecords = 0;
      let overlaps = 0;
      let next = 0;
      for (const base of bases) {
        if (base > next) {
          gaps += 1;
          gapRecords += base - next;
        } else if (base < next) overlaps += 1;
        next = Math.max(next, base + recordsPerBatch);
      }
      const hw = highWatermarks[index];
      const epochBefore = epochsBefore.get(p.partition);
      const epochAfter = epochsAfter.get(p.partition);
      return {
        partition: p.partition,
        acknowledged: bases.length * recordsPerBatch,
        hw,
        gaps,
        gapRecords,
        overlaps,
        acknowledgedBeyondHw: Math.max(0, next - (hw ?? 0)),
        unacknowledgedAtEnd: Math.max(0, (hw ?? 0) - next),
        epochs: `${epochBefore?.leader}@${epochBefore?.leaderEpoch} -> ${epochAfter?.leader}@${epochAfter?.leaderEpoch}`,
      };
    });
    const sortedLatencies = allLatencies.sort((a, b) => a - b);
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
        `  brokers' CPU: mean ${mean(loadRows.map((r) => r.cpuMs)).toFixed(0)} ms/s during the load; by broker ${cluster.nodes.map((_, i) => mean(loadRows.map((r) => r.cpuByBroker[i])).toFixed(0)).join(' / ')} ms/s`,
        `  brokers' VmRSS, MB (first / at 30 s / largest / at the end of the load / final): ${cluster.nodes
          .map(
            (_, i) =>
              `${loadRows[0].rssMB[i].toFixed(0)} / ${loadRows[29]?.rssMB[i].toFixed(0) ?? '-'} / ${Math.max(...rows.map((r) => r.rssMB[i])).toFixed(0)} / ${atStop.rssMB[i].toFixed(0)} / ${final.rssMB[i].toFixed(0)}`,
          )
          .join(', ')}`,
        `  Produce latency over the load: ${sortedLatencies.length} requests, p50 ${percentile(sortedLatencies, 0.5).toFixed(1)} ms, p99 ${percentile(sortedLatencies, 0.99).toFixed(1)} ms, p99.9 ${percentile(sortedLatencies, 0.999).toFixed(1)} ms, max ${(sortedLatencies.at(-1) ?? Number.NaN).toFixed(1)} ms; 10 s windows p99 ${latencyWindows.map((w) => w.p99.toFixed(0)).join(' ')} ms`,
        `  the bench's own event loop: longest stop ${Math.max(...loadRows.map((r) => r.benchLoopMaxMs)).toFixed(0)} ms, seconds with a stop over 100 ms ${loadRows.filter((r) => r.benchLoopMaxMs > 100).length}`,
        `  requests in flight: largest ${Math.max(...loadRows.map((r) => r.inFlightMax))}; ISR smallest ${Math.min(...rows.map((r) => r.isrMin))}`,
        `  errors by name: ${errorsByName.size === 0 ? 'none' : [...errorsByName].map(([name, count]) => `${name} ${count}`).join(', ')}`,
        `  broker warnings: ${warningCounts.size === 0 ? 'none' : [...warningCounts].map(([message, count]) => `${count}x ${message}`).join('; ')}`,
        ...integrity.map(
          (i) =>
            `  partition ${i.partition}: acknowledged ${i.acknowledged} records, high watermark ${i.hw}; gaps ${i.gaps} (${i.gapRecords} records in the log not acknowledged), acknowledged twice ${i.overlaps}, acknowledged beyond the high watermark (lost) ${i.acknowledgedBeyondHw}, unacknowledged at the end ${i.unacknowledgedAtEnd}; leader@epoch ${i.epochs}`,
        ),
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

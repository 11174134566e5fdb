#!/usr/bin/env node
// What replication costs, on a local three-node Gregor cluster (three processes, default settings):
//
//   throughput   for replication factor 1, 2, 3 x acks 0, 1, all x 100-byte and 1 KiB values:
//                records/s and MB/s (1 MB = 10^6 bytes of record values). One topic per cell with
//                3 partitions, so each broker leads one. Closed loop: one connection per leader,
//                5 Produce v7 requests in flight on each, every request one ~16 KiB batch per
//                partition that broker leads, for 5 s or 500 MB, whichever comes first. acks=0 has
//                no response: it is written with TCP backpressure only, and its time ends when
//                ListOffsets shows every record readable. Every cell is checked with ListOffsets.
//                acks=0 records that never became readable are reported per partition, with whether
//                the broker closed the connection (acks=0's only failure signal, as in Kafka), the
//                leader moved, or neither (a silent loss), and the warnings the brokers logged.
//   latency      acks 1 and all: open loop, 500 requests/s for 4 s, each one batch of one record,
//                round-robin over the partitions; p50 / p99 of request-to-response time.
//   one in flight acks 1 and all: one record per request, the next sent when the previous one is
//                answered, for 4 s; p50 / p99. What a replicated write costs on its own.
//   half max     acks 1 and all: records at half the cell's measured maximum rate, sent the way
//                librdkafka sends with its defaults (every linger.ms = 5 ms, one request per leader
//                with the records that arrived meanwhile), open loop, for 4 s; p50 / p99 and the
//                most requests unanswered at once (small and steady when the cluster keeps up).
//   CPU          during each throughput run: the CPU time (user + system, /proc/<pid>/stat) all
//                brokers together spent per MB of record values acknowledged, and the benchmark
//                client's own: what a replicated byte costs, which holds better than throughput
//                when other work shares the cores.
//   ratios       RF 3 / RF 1 of the above, from the same run.
//   kcat         a real client with its default batching: kcat -P (librdkafka, linger.ms=5, one
//                producer, 3 partitions) writes N records to an RF 1 acks=1 topic and to an RF 3
//                acks=all topic; records/s from start to exit, checked with ListOffsets afterwards.
//   failover     kill -9 of a partition leader (RF 3, min.insync.replicas=2, one partition) while a
//                producer sends acks=all continuously (one request in flight, 10 ms retry backoff,
//                fresh Metadata after any error) and a background producer loads another RF 3 topic:
//                the time from the kill to the first acks=all produce the new leader acknowledges.
//                The killed broker restarts and must be back in every ISR (and leadership back on
//                the preferred replica) before the next kill. Three such topics with preferred
//                leaders on different brokers take turns, so every broker gets killed.
//   fencing      every warning the brokers log is read; a healthy (not killed) broker fenced at any
//                time is reported.
//   memory       each broker's resident memory (VmRSS from /proc), sampled every 500 ms: the most
//                any broker held during the throughput and latency cells (steady load), during the
//                failover rounds, and each broker's at the end.
//
// The producer is Gregor's own minimal client (scripts/lib/bench-producer.mjs: KafkaConnection and
// encodeRecordBatch) speaking the real Kafka protocol; no compression. Figures, not a test: it
// prints a table (stdout), writes bench-results/replication.md and .svg, and asserts nothing.
//
// Usage: npm run bench:replication        (builds first)
//        node scripts/bench-replication.mjs   (after npm run build)
//        BENCH_QUICK=1 ...  short cells and 2 kills, to try the script out
//        BENCH_KILLS=12 ... number of failover rounds (0: no failover part)
//        BENCH_SIZES=1024 BENCH_ACKS=1,all BENCH_RFS=1,3 ...  only these cells
//        BENCH_KCAT=0 ...  no kcat cells
//        BENCH_WARM_UP_MS=20000 ...  a longer warm-up (default 2 s) before the first cell
//        BENCH_BROKER_ENV="NAME=value ..." ...  environment for the brokers only (not this process)
//        BENCH_NODE_ARGS="--flag ..." ...  extra Node flags for the brokers
//        BENCH_HALF_MAX_RATES="100:3:all=140000,1024:3:all=14000" ...  the half-max cell of these
//                     cells (size:RF:acks) at this many records/s instead of half the measured
//                     maximum: two builds compared at the same absolute rate (their maxima differ)

import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { allocatorOf } from '../packages/broker/dist/index.js';
import { ApiKey } from '../packages/protocol/dist/index.js';
import { BenchCluster } from './lib/bench-cluster.mjs';
import {
  acksZeroRefusals,
  createTopic,
  encodeValueBatch,
  LeaderRouter,
  latestOffsetSum,
  openConnection,
  produceBody,
  produceError,
  produceVersion,
  runAcksZero,
  runFixedRate,
  runLatency,
  runPipelined,
  runSingleInFlight,
  topicMetadata,
} from './lib/bench-producer.mjs';
import { groupedBarChartSvg, markdownTable, median, percentile } from './lib/bench-report.mjs';

const repoRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));
const resultsDir = join(repoRoot, 'bench-results');
const quick = process.env.BENCH_QUICK === '1';

const nodeCount = 3;
/** A comma-separated environment filter, or every value. */
const only = (name, all, label = String) => {
  const wanted = process.env[name]?.split(',').map((entry) => entry.trim());
  return wanted === undefined ? all : all.filter((value) => wanted.includes(label(value)));
};
const replicationFactors = only('BENCH_RFS', [1, 2, 3]);
const acksLevels = only(
  'BENCH_ACKS',
  [
    { acks: 0, label: '0' },
    { acks: 1, label: '1' },
    { acks: -1, label: 'all' },
  ],
  (level) => level.label,
);
const valueSizesBytes = only('BENCH_SIZES', [100, 1024]);
/** Partitions per throughput topic: with three, each broker leads one. */
const partitionsPerTopic = 3;
/** Target encoded batch size (Kafka's batch.size default). */
const batchBytesTarget = 16 * 1024;
/** Record framing inside a batch beyond the value (length, attributes, deltas, key, headers). */
const recordOverheadBytes = 8;
const throughputDurationMs = quick ? 1_000 : 5_000;
/** A guard on disk use (RF x this per cell), not the usual bound: 100 MB/s runs 5 s. */
const throughputValueBytesMax = 500_000_000;
const inFlightPerConnection = 5;
const latencyRatePerSecond = 500;
const latencyDurationMs = quick ? 1_000 : 4_000;
/** librdkafka's linger.ms default: how often the fixed-rate cell sends what arrived meanwhile. */
const lingerMs = 5;
/** The fixed-rate cell runs at this share of the cell's measured maximum. */
const fixedRateShare = 0.5;
/** BENCH_HALF_MAX_RATES: records/s of the fixed-rate cell by `size:RF:acks`, where set. */
const fixedRates = new Map(
  (process.env.BENCH_HALF_MAX_RATES ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map((entry) => {
      const [cell, rate] = entry.split('=');
      if (!/^\d+:\d:(0|1|all)$/.test(cell ?? '') || !(Number(rate) > 0)) {
        throw new Error(`BENCH_HALF_MAX_RATES: expected size:RF:acks=records/s, got ${entry}`);
      }
      return [cell, Number(rate)];
    }),
);
/**
 * RF 3 acks=all before the first cell. BENCH_WARM_UP_MS sets it: fresh brokers spend a quarter of
 * their CPU in the first cells on TurboFan compiling the hot paths (perf, on a loaded 2-core
 * machine), which a longer warm-up takes out of the cells' CPU per MB.
 */
/** After the warm-up, the brokers' idle CPU is read over idleMeasureMs once idleSettleMs passed. */
const idleSettleMs = 1_000;
const idleMeasureMs = quick ? 1_000 : 3_000;
const warmUpMs = Number(process.env.BENCH_WARM_UP_MS ?? (quick ? 500 : 2_000));
const killCount = Number(process.env.BENCH_KILLS ?? (quick ? 2 : 12));
/**
 * Rounds with the same preferred leader would always kill the same broker: topics with different
 * preferred leaders take turns. At most this many are created to find them.
 */
const failoverTopicsMax = 12;
/** The failover probe's pause after a failed attempt (Kafka's retry.backoff.ms is 100). */
const probeRetryBackoffMs = 10;
/** The broker's own wait for acks=all inside one probe Produce; then it answers REQUEST_TIMED_OUT. */
const probeProduceTimeoutMs = 1_000;
/** Background load during failover: one ~16 KiB batch per partition every this often, acks=1. */
const loadIntervalMs = 10;
/** A failover longer than this counts as failed (and stops the run). */
const failoverTimeoutMs = 30_000;
/** Bound on every wait for the cluster to settle (ISR full, leaders preferred). */
const settleTimeoutMs = 60_000;

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));
const benchStartMs = performance.now();
const log = (message) =>
  process.stderr.write(
    `[bench +${((performance.now() - benchStartMs) / 1000).toFixed(0).padStart(3)} s] ${message}\n`,
  );
const recordsPerBatch = (valueBytes) => Math.floor(batchBytesTarget / (valueBytes + recordOverheadBytes));
const sizeLabel = (valueBytes) => (valueBytes >= 1024 ? `${valueBytes / 1024} KiB` : `${valueBytes} B`);

async function waitFor(what, probe, timeoutMs = settleTimeoutMs) {
  const deadline = performance.now() + timeoutMs;
  let last = 'not yet';
  while (performance.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
      last = 'not yet';
    } catch (error) {
      last = error.message;
    }
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}: ${last}`);
}

/** Metadata of `topic` from one node, on a connection of its own. */
async function metadataFrom(node, topic) {
  const connection = await openConnection(node.address, 1_000);
  try {
    return await topicMetadata(connection, topic);
  } finally {
    connection.close();
  }
}

/**
 * Waits until every running broker reports every partition of `topic` with a leader and a full
 * ISR (and, with `preferred`, led by its first replica); returns that view.
 */
async function waitTopicSettled(cluster, topic, replicationFactor, { preferred = false } = {}) {
  return waitFor(`${topic} to settle`, async () => {
    const views = await Promise.all(cluster.running.map((node) => metadataFrom(node, topic)));
    const settled = views.every(
      (view) =>
        view.errorCode === 0 &&
        view.partitions.length > 0 &&
        view.partitions.every(
          (partition, index) =>
            partition.leader >= 0 &&
            partition.isr.length === replicationFactor &&
            partition.leader === views[0].partitions[index].leader &&
            (!preferred || partition.leader === partition.replicas[0]),
        ),
    );
    return settled ? views[0] : undefined;
  });
}

// ---- throughput and latency cells -------------------------------------------------------------

/**
 * @typedef {object} Cell
 * @property {number} valueBytes
 * @property {number} replicationFactor
 * @property {string} acksLabel
 * @property {number} recordsPerSecond
 * @property {number} megabytesPerSecond
 * @property {number | undefined} p50Ms
 * @property {number | undefined} p99Ms
 * @property {number | undefined} singleP50Ms   one request in flight
 * @property {number | undefined} singleP99Ms
 * @property {number | undefined} fixedRecordsPerSecond   the half-max cell's achieved rate
 * @property {number | undefined} fixedP50Ms
 * @property {number | undefined} fixedP99Ms
 * @property {number | undefined} fixedUnansweredMax
 * @property {number} batchBytes    encoded size of one throughput batch
 * @property {number | undefined} brokerCpuMsPerMegabyte   all brokers' CPU time per MB acknowledged
 * @property {number | undefined} brokerNetCpuMsPerMegabyte   the same less what the brokers spend idle
 * @property {number | undefined} clientCpuMsPerMegabyte   the benchmark process's own
 * @property {string[]} notes
 */

/** All brokers' CPU ms per second with no client load (Raft, heartbeats, replica long polls). */
let brokersIdleCpuMsPerSecond = 0;

async function measureCell(cluster, connections, addresses, admin, valueBytes, replicationFactor, level) {
  const topic = `bench-rf${replicationFactor}-acks${level.label}-${valueBytes}b`;
  // Retried: on a busy machine a broker may be fenced for a moment (INVALID_REPLICATION_FACTOR).
  await waitFor(`${topic} created`, async () => {
    await createTopic(admin, topic, partitionsPerTopic, replicationFactor);
    return true;
  });
  const { partitions } = await waitTopicSettled(cluster, topic, replicationFactor);
  const count = recordsPerBatch(valueBytes);
  const batch = encodeValueBatch(valueBytes, count);
  const common = {
    connections,
    topic,
    partitions,
    batch,
    recordsPerBatch: count,
    valueBytes,
    durationMs: throughputDurationMs,
    bytesMax: throughputValueBytesMax,
  };
  const brokerCpuBefore = brokersCpuMs(cluster);
  const warningsBefore = cluster.warnings.length;
  const cellStartMs = performance.now();
  const clientCpuBefore = process.cpuUsage();
  const result =
    level.acks === 0
      ? await runAcksZero({ ...common, addresses })
      : await runPipelined({ ...common, acks: level.acks, inFlightPerConnection });
  const brokerCpuMs = brokersCpuMs(cluster) - brokerCpuBefore;
  const brokerIdleCpuMs = (brokersIdleCpuMsPerSecond * (performance.now() - cellStartMs)) / 1000;
  const clientCpu = process.cpuUsage(clientCpuBefore);
  const acknowledgedMegabytes = (result.records * valueBytes) / 1e6;
  /** @type {string[]} */
  const notes = [];
  if (result.errors > 0) notes.push(`${result.errors} errors (${result.firstError})`);
  if (level.acks === 0 && result.errors > 0) {
    // Each acks=0 Produce a broker refused is logged as it closes the connection; the rest of what
    // is missing there was written behind them, and the broker never read it.
    const cellWarnings = cluster.warnings.slice(warningsBefore);
    for (const refusal of acksZeroRefusals(result.acksZero.closedConnections, cellWarnings, topic)) {
      const number = (value) => value.toLocaleString('en-US');
      notes.push(
        `broker ${refusal.leader}: ${number(refusal.refused)} acks=0 requests refused ` +
          `(${number(refusal.refusedRecords)} records), ${number(refusal.neverReadRecords)} more ` +
          (refusal.leaderMoved
            ? 'records missing that it never read (written behind them) or took without the new ' +
              'leader replicating them (its leadership moved)'
            : 'records missing that it never read (written behind them)'),
      );
    }
    // Why, as far as the brokers said: closed connections, lost leadership, fencing.
    const logged = brokerWarningsSummary(cluster.warnings.slice(warningsBefore));
    notes.push(logged.length > 0 ? `brokers logged: ${logged.join('; ')}` : 'brokers logged no warning');
  }
  if (level.acks !== 0) {
    // Every acknowledged record must become readable; this also lets followers catch up before
    // the latency run, so it does not pay for the throughput run's replication backlog.
    const readable = await waitFor(`${topic} readable`, async () => {
      const sum = await latestOffsetSum(connections, topic, partitions);
      return sum >= result.records ? sum : undefined;
    }).catch(() => -1);
    if (readable !== result.records) notes.push(`ListOffsets shows ${readable}, ${result.records} acked`);
  }
  /** @type {Cell} */
  const cell = {
    valueBytes,
    replicationFactor,
    acksLabel: level.label,
    recordsPerSecond: result.records / (result.elapsedMs / 1000),
    megabytesPerSecond: (result.records * valueBytes) / (result.elapsedMs / 1000) / 1e6,
    p50Ms: undefined,
    p99Ms: undefined,
    singleP50Ms: undefined,
    singleP99Ms: undefined,
    fixedRecordsPerSecond: undefined,
    fixedP50Ms: undefined,
    fixedP99Ms: undefined,
    fixedUnansweredMax: undefined,
    batchBytes: batch.length,
    brokerCpuMsPerMegabyte: acknowledgedMegabytes > 0 ? brokerCpuMs / acknowledgedMegabytes : undefined,
    brokerNetCpuMsPerMegabyte:
      acknowledgedMegabytes > 0 ? (brokerCpuMs - brokerIdleCpuMs) / acknowledgedMegabytes : undefined,
    clientCpuMsPerMegabyte:
      acknowledgedMegabytes > 0
        ? (clientCpu.user + clientCpu.system) / 1000 / acknowledgedMegabytes
        : undefined,
    notes,
  };
  if (level.acks !== 0) {
    const latency = await runLatency({
      connections,
      topic,
      partitions,
      acks: level.acks,
      batch: encodeValueBatch(valueBytes, 1),
      ratePerSecond: latencyRatePerSecond,
      durationMs: latencyDurationMs,
    });
    const sorted = latency.samplesMs.sort((a, b) => a - b);
    cell.p50Ms = percentile(sorted, 50);
    cell.p99Ms = percentile(sorted, 99);
    if (latency.errors > 0) notes.push(`latency: ${latency.errors} errors (${latency.firstError})`);

    const single = await runSingleInFlight({
      connections,
      topic,
      partitions,
      acks: level.acks,
      batch: encodeValueBatch(valueBytes, 1),
      durationMs: latencyDurationMs,
    });
    const singleSorted = single.samplesMs.sort((a, b) => a - b);
    cell.singleP50Ms = percentile(singleSorted, 50);
    cell.singleP99Ms = percentile(singleSorted, 99);
    if (single.errors > 0) notes.push(`one in flight: ${single.errors} errors (${single.firstError})`);

    const fixed = await runFixedRate({
      connections,
      topic,
      partitions,
      acks: level.acks,
      valueBytes,
      recordsPerSecond:
        fixedRates.get(`${valueBytes}:${replicationFactor}:${level.label}`) ??
        cell.recordsPerSecond * fixedRateShare,
      durationMs: latencyDurationMs,
      lingerMs,
    });
    const fixedSorted = fixed.samplesMs.sort((a, b) => a - b);
    cell.fixedRecordsPerSecond = fixed.recordsPerSecond;
    cell.fixedP50Ms = percentile(fixedSorted, 50);
    cell.fixedP99Ms = percentile(fixedSorted, 99);
    cell.fixedUnansweredMax = fixed.unansweredMax;
    if (fixed.errors > 0) notes.push(`half max: ${fixed.errors} errors (${fixed.firstError})`);
  }
  log(
    `${sizeLabel(valueBytes).padStart(6)} RF ${replicationFactor} acks=${level.label.padEnd(3)}: ` +
      `${Math.round(cell.recordsPerSecond)} records/s, ${cell.megabytesPerSecond.toFixed(1)} MB/s` +
      (cell.brokerCpuMsPerMegabyte === undefined
        ? ''
        : ` (brokers ${cell.brokerCpuMsPerMegabyte.toFixed(1)} CPU ms/MB, ` +
          `${cell.brokerNetCpuMsPerMegabyte.toFixed(1)} above idle, client ${cell.clientCpuMsPerMegabyte.toFixed(1)})`) +
      (cell.p50Ms === undefined ? '' : `, p50 ${cell.p50Ms.toFixed(1)} ms, p99 ${cell.p99Ms.toFixed(1)} ms`) +
      (cell.singleP50Ms === undefined
        ? ''
        : `; one in flight p50 ${cell.singleP50Ms.toFixed(2)} ms, p99 ${cell.singleP99Ms.toFixed(2)} ms` +
          `; half max ${Math.round(cell.fixedRecordsPerSecond)} records/s p50 ${cell.fixedP50Ms.toFixed(1)} ms, ` +
          `p99 ${cell.fixedP99Ms.toFixed(1)} ms, ${cell.fixedUnansweredMax} unanswered at most`) +
      (notes.length > 0 ? `  [${notes.join('; ')}]` : ''),
  );
  return cell;
}

// ---- a real client ------------------------------------------------------------------------------

const kcatEnabled = process.env.BENCH_KCAT !== '0';
/** Records per kcat cell: about 20 / 100 MB of values. */
const kcatRecords = (valueBytes) => (valueBytes >= 1024 ? 1 : 5) * (quick ? 20_000 : 100_000);
const kcatTimeoutMs = 300_000;
const kcatCells = [
  { replicationFactor: 1, acks: '1' },
  { replicationFactor: 3, acks: 'all' },
];

/** Printable values without newlines (kcat -l reads one record per line). */
function kcatRecordFile(dir, count, valueBytes) {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  let state = 0x2545f491;
  const file = Buffer.alloc(count * (valueBytes + 1));
  for (let at = 0; at < file.length; at++) {
    if ((at + 1) % (valueBytes + 1) === 0) {
      file[at] = 0x0a;
      continue;
    }
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    file[at] = alphabet.charCodeAt((state >>> 0) % alphabet.length);
  }
  const path = join(dir, `records-${valueBytes}.txt`);
  writeFileSync(path, file);
  return path;
}

async function measureKcat(cluster, connections, admin, valueBytes, { replicationFactor, acks }) {
  const topic = `bench-kcat-rf${replicationFactor}-acks${acks}-${valueBytes}b`;
  // Retried: on a busy machine a broker may be fenced for a moment (INVALID_REPLICATION_FACTOR).
  await waitFor(`${topic} created`, async () => {
    await createTopic(admin, topic, partitionsPerTopic, replicationFactor);
    return true;
  });
  const { partitions } = await waitTopicSettled(cluster, topic, replicationFactor);
  const dir = mkdtempSync(join(tmpdir(), 'gregor-bench-kcat-'));
  const records = kcatRecords(valueBytes);
  try {
    const file = kcatRecordFile(dir, records, valueBytes);
    const bootstrap = cluster.nodes.map((node) => node.address).join(',');
    const startedMs = performance.now();
    await promisify(execFile)(
      'kcat',
      ['-b', bootstrap, '-P', '-t', topic, '-p', '-1', '-l', file, '-X', 'linger.ms=5', '-X', `acks=${acks}`],
      { timeout: kcatTimeoutMs, maxBuffer: 1024 * 1024 },
    );
    const elapsedMs = performance.now() - startedMs;
    // Asked again while a leader moves for a moment (a busy machine).
    const stored = await waitFor(`${topic} readable`, async () => {
      const sum = await latestOffsetSum(connections, topic, partitions);
      return sum >= records ? sum : undefined;
    }).catch(() => -1);
    const cell = {
      valueBytes,
      replicationFactor,
      acksLabel: acks,
      recordsPerSecond: records / (elapsedMs / 1000),
      megabytesPerSecond: (records * valueBytes) / (elapsedMs / 1000) / 1e6,
      note: stored === records ? '' : `ListOffsets shows ${stored} of ${records}`,
    };
    log(
      `kcat ${sizeLabel(valueBytes).padStart(6)} RF ${replicationFactor} acks=${acks.padEnd(3)}: ` +
        `${Math.round(cell.recordsPerSecond)} records/s, ${cell.megabytesPerSecond.toFixed(1)} MB/s ${cell.note}`,
    );
    return cell;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- failover ----------------------------------------------------------------------------------

/**
 * The acks=all producer of the failover rounds: one request in flight, against the leader it last
 * learnt from Metadata; any error drops that knowledge and retries after probeRetryBackoffMs.
 */
class FailoverProbe {
  /** @type {{ atMs: number, brokerId: number, topic: string }[]} */
  acks = [];
  stopped = false;
  errors = 0;

  /** @param {LeaderRouter} router @param {string} topic */
  constructor(router, topic) {
    this.router = router;
    this.topic = topic;
    this.body = (name) =>
      produceBody(
        name,
        -1,
        [{ partitionIndex: 0, records: encodeValueBatch(100, 1) }],
        probeProduceTimeoutMs,
      );
  }

  async run() {
    /** @type {number | undefined} */
    let leader;
    while (!this.stopped) {
      const topic = this.topic;
      try {
        if (leader === undefined) {
          const metadata = await this.router.metadata(topic);
          const candidate = metadata.partitions[0]?.leader ?? -1;
          if (candidate < 0) throw new Error('no leader');
          leader = candidate;
        }
        const connection = await this.router.connection(leader);
        const response = await connection.call(
          ApiKey.Produce,
          produceVersion,
          this.body(topic),
          probeProduceTimeoutMs + 1_000,
        );
        const error = produceError(response);
        if (error !== undefined) throw new Error(error);
        this.acks.push({ atMs: performance.now(), brokerId: leader, topic });
        if (this.acks.length > 10_000) this.acks.splice(0, 5_000);
      } catch (error) {
        this.errors += 1;
        if (leader !== undefined && error.name === 'KafkaConnectionError') this.router.drop(leader);
        leader = undefined;
        await sleep(probeRetryBackoffMs);
      }
    }
  }
}

/** Background acks=1 load on every partition of `topic`, following leadership like the probe. */
class BackgroundLoad {
  stopped = false;
  records = 0;

  /** @param {LeaderRouter} router */
  constructor(router, topic, partitionCount) {
    this.router = router;
    this.topic = topic;
    this.partitionCount = partitionCount;
    this.recordsPerRequest = recordsPerBatch(1024);
    this.batch = encodeValueBatch(1024, this.recordsPerRequest);
  }

  async runPartition(partition) {
    let leader;
    while (!this.stopped) {
      const startedMs = performance.now();
      try {
        if (leader === undefined) {
          const candidate = (await this.router.metadata(this.topic)).partitions[partition]?.leader ?? -1;
          if (candidate < 0) throw new Error('no leader');
          leader = candidate;
        }
        const connection = await this.router.connection(leader);
        const response = await connection.call(
          ApiKey.Produce,
          produceVersion,
          produceBody(this.topic, 1, [{ partitionIndex: partition, records: this.batch }], 5_000),
          6_000,
        );
        if (produceError(response) !== undefined) throw new Error(produceError(response));
        this.records += this.recordsPerRequest;
      } catch (error) {
        if (leader !== undefined && error.name === 'KafkaConnectionError') this.router.drop(leader);
        leader = undefined;
      }
      await sleep(Math.max(1, loadIntervalMs - (performance.now() - startedMs)));
    }
  }

  run() {
    return Promise.all(
      Array.from({ length: this.partitionCount }, (_, partition) => this.runPartition(partition)),
    );
  }
}

async function measureFailover(cluster, admin) {
  // A function: a restarted broker listens on a new port.
  const bootstrap = () => cluster.nodes.map((node) => node.address);
  const ids = cluster.nodes.map((node) => node.id);
  // CreateTopics takes no manual assignment here, so topics are created until each broker is the
  // preferred leader (first replica) of one.
  /** @type {Map<number, string>} preferred leader -> topic */
  const byPreferred = new Map();
  for (let index = 0; index < failoverTopicsMax && byPreferred.size < ids.length; index++) {
    const name = `bench-failover-${index}`;
    await createTopic(admin, name, 1, 3, { 'min.insync.replicas': '2' });
    const { partitions } = await waitTopicSettled(cluster, name, 3);
    if (!byPreferred.has(partitions[0].replicas[0])) byPreferred.set(partitions[0].replicas[0], name);
  }
  const topics = [...byPreferred.values()];
  const loadTopic = 'bench-failover-load';
  await createTopic(admin, loadTopic, partitionsPerTopic, 3, { 'min.insync.replicas': '2' });
  const settleAll = async () => {
    for (const topic of topics) await waitTopicSettled(cluster, topic, 3, { preferred: true });
    await waitTopicSettled(cluster, loadTopic, 3);
  };
  await settleAll();

  const probe = new FailoverProbe(new LeaderRouter(bootstrap), topics[0]);
  const load = new BackgroundLoad(new LeaderRouter(bootstrap), loadTopic, partitionsPerTopic);
  const probeDone = probe.run();
  const loadDone = load.run();
  const loadStartedMs = performance.now();
  const rounds = [];
  /** @type {{ id: number, fromMs: number, toMs: number }[]} */
  const downIntervals = [];
  try {
    for (let round = 0; round < killCount; round++) {
      const topic = topics[round % topics.length];
      probe.topic = topic;
      await settleAll();
      // Steady state: the probe has just been acknowledged on this round's topic.
      await waitFor('the probe to be acknowledged', () => {
        const last = probe.acks.at(-1);
        return last !== undefined && last.topic === topic && performance.now() - last.atMs < 200;
      });
      // Asked of a running node: the admin connection's broker may be the one killed last round.
      const metadata = await waitFor('metadata', () => metadataFrom(cluster.running[0], topic));
      const victim = metadata.partitions[0].leader;
      const wasController = metadata.controllerId === victim;
      const killedAtMs = performance.now();
      await cluster.kill(victim);
      const ack = await waitFor(
        `a new leader of ${topic} to acknowledge`,
        () =>
          probe.acks.find(
            (entry) => entry.atMs > killedAtMs && entry.brokerId !== victim && entry.topic === topic,
          ),
        failoverTimeoutMs,
      );
      const failoverMs = ack.atMs - killedAtMs;
      rounds.push({ victim, newLeader: ack.brokerId, wasController, failoverMs });
      log(
        `kill ${String(round + 1).padStart(2)}/${killCount}: leader ${victim}${wasController ? ' (also the controller)' : ''} ` +
          `killed, broker ${ack.brokerId} acknowledged acks=all after ${failoverMs.toFixed(0)} ms`,
      );
      await cluster.restart(victim);
      await cluster.waitReady(settleTimeoutMs);
      await settleAll();
      downIntervals.push({ id: victim, fromMs: killedAtMs, toMs: performance.now() });
    }
  } finally {
    probe.stopped = true;
    load.stopped = true;
    await Promise.all([probeDone, loadDone]);
    probe.router.close();
    load.router.close();
  }
  const loadMegabytesPerSecond = (load.records * 1024) / ((performance.now() - loadStartedMs) / 1000) / 1e6;
  return { rounds, downIntervals, loadMegabytesPerSecond };
}

/**
 * Fencing the brokers logged: the controller's "fenced brokers whose sessions expired" and a
 * broker's "controller fenced this broker". A fence of a broker while it was down (killed, not yet
 * back in every ISR) is expected; any other is a healthy broker fenced.
 */
function fencingEvents(cluster, downIntervals) {
  const events = [];
  for (const warning of cluster.warnings) {
    const message = warning.entry.msg;
    let fenced = [];
    if (message === 'fenced brokers whose sessions expired') fenced = warning.entry.brokers ?? [];
    else if (message === 'controller fenced this broker') fenced = [warning.nodeId];
    for (const id of fenced) {
      const expected = downIntervals.some(
        (interval) => interval.id === id && warning.atMs >= interval.fromMs && warning.atMs <= interval.toMs,
      );
      events.push({ id, atMs: warning.atMs, expected, loggedBy: warning.nodeId, message });
    }
  }
  return events;
}

/**
 * The brokers' warnings, grouped by broker, message and reason, with counts, in the order they
 * first came: what a cell's failure report quotes.
 */
function brokerWarningsSummary(warnings, kindsMax = 8) {
  /** @type {Map<string, number>} */
  const counts = new Map();
  for (const { nodeId, entry } of warnings) {
    const detail = entry.reason ?? entry.err?.message ?? entry.brokers ?? '';
    const key = `broker ${nodeId}: ${entry.msg}${detail === '' ? '' : ` (${detail})`}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const kinds = [...counts].map(([key, count]) => (count > 1 ? `${key} x${count}` : key));
  return kinds.length > kindsMax ? [...kinds.slice(0, kindsMax), `${kinds.length - kindsMax} more`] : kinds;
}

// ---- report ------------------------------------------------------------------------------------

const rfColors = ['#8fb9e0', '#3a7dc4', '#173f73'];

function report(cells, kcat, failover, fences, startedAt, wallMs, memoryLines) {
  const fmt = (value, digits) =>
    value === undefined
      ? 'n/a'
      : value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  const rows = cells.map((cell) => [
    sizeLabel(cell.valueBytes),
    cell.acksLabel,
    String(cell.replicationFactor),
    fmt(Math.round(cell.recordsPerSecond), 0),
    fmt(cell.megabytesPerSecond, 1),
    fmt(cell.p50Ms, 1),
    fmt(cell.p99Ms, 1),
  ]);
  const table = markdownTable(['record', 'acks', 'RF', 'records/s', 'MB/s', 'p50 ms', 'p99 ms'], rows, [
    'l',
    'l',
    'r',
    'r',
    'r',
    'r',
    'r',
  ]);
  const latencyCells = cells.filter((cell) => cell.singleP50Ms !== undefined);
  const latencyTable = markdownTable(
    [
      'record',
      'acks',
      'RF',
      '1 in flight p50 ms',
      'p99 ms',
      'half max: records/s',
      'p50 ms',
      'p99 ms',
      'unanswered max',
    ],
    latencyCells.map((cell) => [
      sizeLabel(cell.valueBytes),
      cell.acksLabel,
      String(cell.replicationFactor),
      fmt(cell.singleP50Ms, 2),
      fmt(cell.singleP99Ms, 2),
      fmt(Math.round(cell.fixedRecordsPerSecond), 0),
      fmt(cell.fixedP50Ms, 1),
      fmt(cell.fixedP99Ms, 1),
      String(cell.fixedUnansweredMax),
    ]),
    ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
  );
  const ratioLines = ratios(cells);
  const kcatLines = [];
  if (kcat.length > 0) {
    kcatLines.push(
      'kcat -P (librdkafka defaults, linger.ms=5, one producer, 3 partitions):',
      '',
      markdownTable(
        ['record', 'acks', 'RF', 'records/s', 'MB/s', 'note'],
        kcat.map((cell) => [
          sizeLabel(cell.valueBytes),
          cell.acksLabel,
          String(cell.replicationFactor),
          fmt(Math.round(cell.recordsPerSecond), 0),
          fmt(cell.megabytesPerSecond, 1),
          cell.note,
        ]),
        ['l', 'l', 'r', 'r', 'r', 'l'],
      ),
      '',
    );
    for (const valueBytes of valueSizesBytes) {
      const rf1 = kcat.find((cell) => cell.valueBytes === valueBytes && cell.replicationFactor === 1);
      const rf3 = kcat.find((cell) => cell.valueBytes === valueBytes && cell.replicationFactor === 3);
      if (rf1 !== undefined && rf3 !== undefined)
        kcatLines.push(
          `- ${sizeLabel(valueBytes)}: kcat RF 3 acks=all / RF 1 acks=1 ${(rf3.recordsPerSecond / rf1.recordsPerSecond).toFixed(2)}`,
        );
    }
    kcatLines.push('');
  }
  const failoverLines = failoverReport(failover, fences);
  const context =
    `${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC, ${cpus().length} cores (${cpus()[0]?.model.trim() ?? 'unknown CPU'}), ` +
    `Node ${process.version}, three broker processes and the benchmark on the same machine; run took ${(wallMs / 1000).toFixed(0)} s.`;
  const cellNotes = cells.filter((cell) => cell.notes.length > 0);
  const markdown = [
    '# Replication benchmark',
    '',
    context,
    '',
    table,
    '',
    ...(latencyCells.length > 0 ? [latencyTable, ''] : []),
    ...(ratioLines.length > 0 ? ['RF 3 / RF 1, this run:', ...ratioLines, ''] : []),
    ...kcatLines,
    ...failoverLines,
    '',
    ...memoryLines,
    ...(cellNotes.length > 0
      ? [
          'Problems seen:',
          ...cellNotes.map(
            (cell) =>
              `- ${sizeLabel(cell.valueBytes)} RF ${cell.replicationFactor} acks=${cell.acksLabel}: ${cell.notes.join('; ')}`,
          ),
          '',
        ]
      : []),
  ].join('\n');

  const svg = groupedBarChartSvg({
    title: 'Gregor: what replication costs (three local brokers)',
    subtitle: `${context.split(';')[0]}`,
    series: replicationFactors.map((rf, index) => ({ name: `RF ${rf}`, color: rfColors[index] })),
    panels: [
      {
        title: 'Producer throughput, MB/s of record values (higher is better)',
        unit: 'MB/s',
        format: (value) => value.toFixed(value >= 100 ? 0 : 1),
        groups: valueSizesBytes.flatMap((valueBytes) =>
          acksLevels.map((level) => ({
            label: `acks=${level.label}\n${sizeLabel(valueBytes)} records`,
            values: replicationFactors.map(
              (rf) =>
                cells.find(
                  (cell) =>
                    cell.valueBytes === valueBytes &&
                    cell.replicationFactor === rf &&
                    cell.acksLabel === level.label,
                )?.megabytesPerSecond,
            ),
          })),
        ),
      },
      {
        title: `Produce latency p99, ms (lower is better; ${latencyRatePerSecond} requests/s of one record)`,
        unit: 'ms',
        format: (value) => value.toFixed(1),
        groups: valueSizesBytes.flatMap((valueBytes) =>
          acksLevels
            .filter((level) => level.acks !== 0)
            .map((level) => ({
              label: `acks=${level.label}\n${sizeLabel(valueBytes)} records`,
              values: replicationFactors.map(
                (rf) =>
                  cells.find(
                    (cell) =>
                      cell.valueBytes === valueBytes &&
                      cell.replicationFactor === rf &&
                      cell.acksLabel === level.label,
                  )?.p99Ms,
              ),
            })),
        ),
      },
    ],
  });
  mkdirSync(resultsDir, { recursive: true });
  writeFileSync(join(resultsDir, 'replication.md'), `${markdown}\n`);
  writeFileSync(join(resultsDir, 'replication.svg'), svg);
  console.log(markdown);
  console.log(`Written: bench-results/replication.md, bench-results/replication.svg`);
}

function failoverReport(failover, fences) {
  if (failover === undefined) return [];
  const times = failover.rounds.map((round) => round.failoverMs);
  if (times.length === 0) return [];
  const withController = failover.rounds
    .filter((round) => round.wasController)
    .map((round) => round.failoverMs);
  const leaderOnly = failover.rounds.filter((round) => !round.wasController).map((round) => round.failoverMs);
  const unexpected = fences.filter((event) => !event.expected);
  const seconds = (ms) => `${(ms / 1000).toFixed(2)} s`;
  return [
    `Failover (kill -9 of the leader -> first acks=all produce acknowledged by the new leader), ${times.length} kills: ` +
      `median ${seconds(median(times))}, max ${seconds(Math.max(...times))}.`,
    `  leader only: ${leaderOnly.length} kills, median ${leaderOnly.length ? seconds(median(leaderOnly)) : 'n/a'}; ` +
      `leader that was also the active controller: ${withController.length} kills, median ${withController.length ? seconds(median(withController)) : 'n/a'}.`,
    `  background load during the kills: ${failover.loadMegabytesPerSecond.toFixed(1)} MB/s acks=1 to an RF 3 topic.`,
    `Healthy brokers fenced: ${unexpected.length}` +
      (unexpected.length > 0
        ? ` (${unexpected.map((event) => `broker ${event.id} at +${(event.atMs / 1000).toFixed(1)} s`).join(', ')})`
        : '') +
      `; killed brokers fenced while down: ${fences.filter((event) => event.expected && event.message !== 'controller fenced this broker').length}.`,
  ];
}

/** RF 3 over RF 1 for each size and acks, and the two the aims name: acks=all RF 3 over acks=1 RF 1. */
function ratios(cells) {
  const find = (valueBytes, acksLabel, rf) =>
    cells.find(
      (cell) =>
        cell.valueBytes === valueBytes && cell.acksLabel === acksLabel && cell.replicationFactor === rf,
    );
  const ratio = (numerator, denominator, digits = 2) =>
    numerator === undefined || denominator === undefined || denominator === 0
      ? undefined
      : (numerator / denominator).toFixed(digits);
  const lines = [];
  for (const valueBytes of valueSizesBytes) {
    const parts = [];
    for (const level of acksLevels) {
      const r = ratio(
        find(valueBytes, level.label, 3)?.recordsPerSecond,
        find(valueBytes, level.label, 1)?.recordsPerSecond,
      );
      if (r !== undefined) parts.push(`throughput acks=${level.label} ${r}`);
    }
    const allOverOne = ratio(
      find(valueBytes, 'all', 3)?.recordsPerSecond,
      find(valueBytes, '1', 1)?.recordsPerSecond,
    );
    if (allOverOne !== undefined) parts.push(`throughput RF 3 acks=all / RF 1 acks=1 ${allOverOne}`);
    const single = ratio(find(valueBytes, 'all', 3)?.singleP50Ms, find(valueBytes, '1', 1)?.singleP50Ms, 1);
    if (single !== undefined) parts.push(`one-in-flight p50 RF 3 acks=all / RF 1 acks=1 ${single}x`);
    if (parts.length > 0) lines.push(`- ${sizeLabel(valueBytes)}: ${parts.join('; ')}`);
  }
  return lines;
}

// ---- main --------------------------------------------------------------------------------------

/** Clock ticks per second of /proc/<pid>/stat's CPU times (USER_HZ: 100 on Linux). */
const clockTicksPerSecond = 100;

/** The CPU time (user + system) every running broker process has used so far, in ms. */
function brokersCpuMs(cluster) {
  let ticks = 0;
  for (const node of cluster.running) {
    try {
      // Fields after the command name (which may hold spaces, so cut at its closing parenthesis):
      // utime and stime are the 12th and 13th.
      const stat = readFileSync(`/proc/${node.child.pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // gone: its time is lost with it
    }
  }
  return (ticks * 1000) / clockTicksPerSecond;
}

/** VmRSS of a process in MB (10^6 bytes), or undefined when it is gone. */
function residentMegabytes(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kilobytes = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]);
    return Number.isFinite(kilobytes) ? (kilobytes * 1024) / 1e6 : undefined;
  } catch {
    return undefined;
  }
}

/** The allocators the running brokers run on, from their memory maps: "jemalloc", "system malloc". */
function brokerAllocators(cluster) {
  const names = new Set();
  for (const node of cluster.nodes) {
    try {
      if (node.child?.pid !== undefined)
        names.add(allocatorOf(readFileSync(`/proc/${node.child.pid}/maps`, 'utf8')));
    } catch {
      // gone
    }
  }
  return [...names].join(', ') || 'unknown';
}

/** Samples every running broker's resident memory; `phase` names what the cluster is doing. */
class MemorySampler {
  /** @param {BenchCluster} cluster */
  constructor(cluster) {
    this.cluster = cluster;
    this.phase = 'start-up';
    /** @type {Map<string, number>} most MB any broker held, by phase */
    this.maxByPhase = new Map();
    /** @type {Map<string, Map<number, number>>} most MB each broker held, by phase and node id */
    this.maxByPhaseAndNode = new Map();
    this.timer = setInterval(() => this.sample(), 500);
    this.timer.unref();
  }

  sample() {
    for (const node of this.cluster.nodes) {
      const pid = node.child?.pid;
      if (pid === undefined || node.child.exitCode !== null || node.child.signalCode !== null) continue;
      const megabytes = residentMegabytes(pid);
      if (megabytes === undefined) continue;
      this.maxByPhase.set(this.phase, Math.max(this.maxByPhase.get(this.phase) ?? 0, megabytes));
      const byNode = this.maxByPhaseAndNode.get(this.phase) ?? new Map();
      byNode.set(node.id, Math.max(byNode.get(node.id) ?? 0, megabytes));
      this.maxByPhaseAndNode.set(this.phase, byNode);
    }
  }

  /** Each running broker's resident memory now. */
  now() {
    return this.cluster.nodes
      .map((node) => ({
        id: node.id,
        megabytes: node.child?.pid === undefined ? undefined : residentMegabytes(node.child.pid),
      }))
      .filter((entry) => entry.megabytes !== undefined);
  }

  stop() {
    clearInterval(this.timer);
  }
}

async function main() {
  const startedAt = new Date();
  const startedMs = performance.now();
  log('starting three brokers');
  const cluster = await BenchCluster.start({ nodeCount });
  const memory = new MemorySampler(cluster);
  /** @type {Map<number, import('../packages/client/dist/index.js').KafkaConnection>} */
  const connections = new Map();
  const addresses = new Map(cluster.nodes.map((node) => [node.id, node.address]));
  let admin;
  try {
    for (const node of cluster.nodes) connections.set(node.id, await openConnection(node.address));
    admin = await openConnection(cluster.nodes[0].address);

    log('warming up');
    await createTopic(admin, 'bench-warm-up', partitionsPerTopic, 3);
    const warm = await waitTopicSettled(cluster, 'bench-warm-up', 3);
    await runPipelined({
      connections,
      topic: 'bench-warm-up',
      partitions: warm.partitions,
      acks: -1,
      batch: encodeValueBatch(1024, recordsPerBatch(1024)),
      recordsPerBatch: recordsPerBatch(1024),
      valueBytes: 1024,
      durationMs: warmUpMs,
      bytesMax: Number.POSITIVE_INFINITY,
      inFlightPerConnection,
    });

    // What the brokers spend with no load, so a cell's CPU per MB can be told apart from the
    // background work that runs whatever the throughput (at 2 MB/s it is most of the figure).
    await sleep(idleSettleMs);
    const idleCpuBefore = brokersCpuMs(cluster);
    const idleStartMs = performance.now();
    await sleep(idleMeasureMs);
    brokersIdleCpuMsPerSecond =
      ((brokersCpuMs(cluster) - idleCpuBefore) * 1000) / (performance.now() - idleStartMs);
    log(`brokers idle: ${brokersIdleCpuMsPerSecond.toFixed(0)} CPU ms/s together`);

    memory.phase = 'throughput and latency cells';
    const cells = [];
    for (const valueBytes of valueSizesBytes)
      for (const level of acksLevels)
        for (const replicationFactor of replicationFactors)
          cells.push(
            await measureCell(cluster, connections, addresses, admin, valueBytes, replicationFactor, level),
          );

    const kcat = [];
    if (kcatEnabled)
      for (const valueBytes of valueSizesBytes)
        for (const kcatCell of kcatCells)
          kcat.push(await measureKcat(cluster, connections, admin, valueBytes, kcatCell));

    let failover;
    let fences = [];
    if (killCount > 0) {
      log(`failover: ${killCount} kills`);
      // The per-broker connections go to brokers that will be killed: close them first.
      for (const connection of connections.values()) connection.close();
      connections.clear();
      memory.phase = 'failover rounds';
      failover = await measureFailover(cluster, admin);
      fences = fencingEvents(cluster, failover.downIntervals);
    }
    memory.sample();
    const memoryLines = [
      `Broker resident memory (VmRSS), the most any of the three held (allocator: ${brokerAllocators(cluster)}):`,
      ...[...memory.maxByPhase].map(
        ([phase, megabytes]) =>
          `- ${phase}: ${megabytes.toFixed(0)} MB (each: ${[...(memory.maxByPhaseAndNode.get(phase) ?? [])]
            .sort(([a], [b]) => a - b)
            .map(([id, most]) => `node ${id} ${most.toFixed(0)}`)
            .join(', ')})`,
      ),
      `- at the end: ${memory
        .now()
        .map((entry) => `node ${entry.id} ${entry.megabytes.toFixed(0)} MB`)
        .join(', ')}`,
      '',
    ];
    report(cells, kcat, failover, fences, startedAt, performance.now() - startedMs, memoryLines);
  } finally {
    memory.stop();
    for (const connection of connections.values()) connection.close();
    admin?.close();
    await cluster.close();
  }
}

await main();

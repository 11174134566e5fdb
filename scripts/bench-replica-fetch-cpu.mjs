#!/usr/bin/env node
// CPU per replicated MB of the replication path alone, in one process, on the production code:
// the ReplicaFetch service and GrpcReplicaFetchTransport of packages/broker (protobuf, grpc-js,
// HTTP/2 over loopback), @gregor/replication's serveReplicaFetch (decideFollowerFetch, the high
// watermark, the long poll's DelayedOperations) over a leader Partition, and applyFollowerFetch
// over a follower Partition with the broker's follower writer (PartitionLog.appendAsFollower: CRC
// validation and the segment write, then the producer state). Not driven: the ReplicaFetcher
// loop's bookkeeping, the partition's exclusive section, the leader-epoch checkpoint file (no new
// epoch after the first batch), the Produce request around the leader's append.
//
// Four cells, alternated run by run:
//   live         acks=all with one batch in flight: the leader appends one ~16 KiB batch of 1 KiB
//                records, a follower's long-polled fetch is woken, copies it, and its next fetch
//                moves the high watermark the "producer" waits for before the next append. What a
//                follower keeping up with acks=all producers costs, one fetch per batch. The
//                leader's append is counted.
//   pipelined    the same with 5 appends in flight (bench:replication's 5 Produce requests per
//                leader), each waiting for the high watermark before the next: a fetch carries
//                what was appended since the previous one (2.2-2.4 batches on average here).
//   append only  the same appends with no follower: what RF 1 pays of the live figure.
//   catch-up     the leader's log already holds the batches (filled outside the measurement); the
//                follower copies it with 1 MiB fetches (replica.fetch.max.bytes).
// It prints process.cpuUsage() (user + system of every thread: the thread pool's disk writes and
// V8's compiler and GC threads included) per MB (10^6 bytes of record batches) and the wall time.
// CPU time holds better than wall time when other work shares the cores, but not perfectly: on a
// loaded machine every thread hand-off costs more. Figures, not a test.
//
// Usage: npm run bench:replica-fetch-cpu, or after npx tsc -b:
//        node scripts/bench-replica-fetch-cpu.mjs [MB per run=16] [runs=5]
//        BENCH_WARM_UP_RUNS=3 ...  uncounted runs of every cell first (the JIT's warm-up)
//        BENCH_FETCHER=1 ...  the live and pipelined cells' follower is the production ReplicaFetcher
//          loop (@gregor/replication: its request building, abort signal, per-partition apply and
//          bookkeeping) over the same transport, instead of this script's bare fetch loop; the
//          broker's exclusive section and partition lookups around the apply are still not driven
//        BENCH_CELLS=live ...  only these cells, e.g. to profile one:
//        BENCH_CELLS=live node --max-semi-space-size=4 --initial-old-space-size=64 --cpu-prof \
//          --cpu-prof-dir=/tmp/prof scripts/bench-replica-fetch-cpu.mjs
//          (with the brokers' flags given, no second process: one profile, the bench's)
//        BENCH_NODE_FLAGS=0 ...  Node's own defaults instead of the brokers' flags (below)
// It runs with the flags a broker starts with (brokerNodeFlags: `gregor`'s shebang), re-running
// itself with those it was not given: with Node's defaults V8 can fall into a mark-compact every
// ~80 ms that a broker never enters, and the figures then measure that (session s20: live 45-54
// ms/MB with the defaults against 23-27 with the flags; the README's figures before 2026-12-07
// 22:50 UTC were taken with the defaults).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { internalServerOptions } from '../packages/broker/dist/grpc/protos.js';
import { missingBrokerNodeFlags } from '../packages/broker/dist/node/node-flags.js';
import { ProducerStateManager } from '../packages/broker/dist/replica/producer-state.js';
import { applyRecordSet } from '../packages/broker/dist/replica/producer-state-log.js';
import {
  GrpcReplicaFetchTransport,
  registerReplicaFetchService,
} from '../packages/broker/dist/replication/replica-fetch-grpc.js';
import { systemClock, systemTimers } from '../packages/ground/dist/index.js';
import { ErrorCode } from '../packages/protocol/dist/index.js';
import {
  applyFollowerFetch,
  DelayedOperations,
  Partition,
  ReplicaFetcherManager,
  serveReplicaFetch,
} from '../packages/replication/dist/index.js';
import { defaultLogConfig, PartitionLog } from '../packages/storage/dist/index.js';
import { encodeValueBatch } from './lib/bench-producer.mjs';

const missingFlags = missingBrokerNodeFlags(process.execArgv, process.env.NODE_OPTIONS);
if (missingFlags.length > 0 && process.env.BENCH_NODE_FLAGS !== '0') {
  const rerun = spawnSync(
    process.execPath,
    [...missingFlags, ...process.execArgv, ...process.argv.slice(1)],
    {
      stdio: 'inherit',
    },
  );
  process.exit(rerun.status ?? 1);
}

const totalMb = Number(process.argv[2] ?? 16);
const runs = Number(process.argv[3] ?? 5);
const warmUpRuns = Number(process.env.BENCH_WARM_UP_RUNS ?? 3);
const useFetcher = process.env.BENCH_FETCHER === '1';
const valueBytes = 1024;
/** ~16 KiB batches, as bench:replication's producer sends them. */
const recordsPerBatch = 15;
const clusterId = 'bench-cluster';
const topic = 'bench';
const leaderId = 1;
const followerId = 2;
const registration = {
  leader: leaderId,
  leaderEpoch: 1,
  partitionEpoch: 1,
  replicas: [leaderId, followerId],
  isr: [leaderId, followerId],
};
const silent = { info() {}, warn() {}, error() {}, debug() {}, trace() {}, child: () => silent };

function openLog(dir) {
  return PartitionLog.open({
    dir,
    topic,
    partition: 0,
    config: defaultLogConfig,
    clock: systemClock,
    recoveryPoint: 0,
    logStartOffset: undefined,
    hadCleanShutdown: false,
    checkpoints: { logStartOffsetChanged: async () => {}, recoveryPointLowered: async () => {} },
  });
}

const root = mkdtempSync(join(tmpdir(), 'gregor-bench-replica-fetch-'));
const batch = encodeValueBatch(valueBytes, recordsPerBatch);
const batchCount = Math.ceil((totalMb * 1e6) / batch.length);
const mb = (batchCount * batch.length) / 1e6;
const delayedOperations = new DelayedOperations(systemTimers);
/** The leader the service serves now: each run has its own. */
let leader;

const host = {
  clock: systemClock,
  delayedOperations,
  isrProposals: { maybeExpand() {} },
  registeredBrokerEpoch: () => undefined,
  leaderReplica: () => leader,
  stillLeads: () => true,
  read: (partition, offset, maxBytes) => partition.log.read(offset, maxBytes),
};
const server = new grpc.Server(internalServerOptions);
registerReplicaFetchService(
  server,
  clusterId,
  () => ({ fetchForFollower: (request) => serveReplicaFetch(request, host) }),
  silent,
);
const port = await new Promise((resolve, reject) =>
  server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
    error ? reject(error) : resolve(bound),
  ),
);

async function openLeader(name, batches) {
  const log = await openLog(join(root, name, 'leader', `${topic}-0`));
  for (let i = 0; i < batches; i++) await log.append(batch, registration.leaderEpoch);
  const partition = new Partition(topic, 'topic-id', 0, log, leaderId, registration);
  partition.makeLeader(registration, systemClock.nowMs());
  return partition;
}

/** A follower replica with the broker's follower writer, fetching from the service above. */
async function openFollower(name, partitionMaxBytes) {
  const log = await openLog(join(root, name, 'follower', `${topic}-0`));
  const follower = new Partition(topic, 'topic-id', 0, log, followerId, registration);
  follower.makeFollower(registration);
  const producerState = new ProducerStateManager();
  const writer = {
    truncateTo: (offset) => log.truncateTo(offset),
    truncateFullyAndStartAt: (offset) => log.truncateFullyAndStartAt(offset),
    afterTruncation: async () => {},
    persistEpochCache: async () => {},
    appendAsFollower: async (records) => {
      await log.appendAsFollower(records);
      applyRecordSet(producerState, records, systemClock.nowMs());
    },
    incrementLogStartOffset: async (offset) => {
      await log.incrementLogStartOffset(offset);
    },
  };
  const transport = new GrpcReplicaFetchTransport(
    leaderId,
    () => `127.0.0.1:${port}`,
    clusterId,
    grpc.credentials.createInsecure(),
  );
  const fetchOnce = async () => {
    const context = { leaderId, leaderEpoch: registration.leaderEpoch, fetchOffset: log.logEndOffset };
    const response = await transport.fetch(
      {
        replicaId: followerId,
        brokerEpoch: 1,
        maxWaitMs: 500,
        minBytes: 1,
        maxBytes: 10 * 1024 * 1024,
        partitions: [
          {
            topic,
            partition: 0,
            currentLeaderEpoch: registration.leaderEpoch,
            fetchOffset: log.logEndOffset,
            lastFetchedEpoch: follower.epochCache.latestEpoch,
            logStartOffset: log.logStartOffset,
            partitionMaxBytes,
          },
        ],
      },
      30_000,
    );
    for (const result of response.partitions) {
      const applied = await applyFollowerFetch(follower, context, result, writer);
      if (applied.kind !== 'appended') throw new Error(`fetch not appended: ${JSON.stringify(applied)}`);
    }
  };
  /**
   * The production follower loop over the same transport, for BENCH_FETCHER=1: it fetches until
   * stopped, and `fetches()` counts the answers it applied.
   */
  const startFetcher = () => {
    let fetches = 0;
    let failure;
    const manager = new ReplicaFetcherManager(() => transport, {
      settings: {
        brokerId: followerId,
        maxWaitMs: 500,
        partitionMaxBytes,
        responseMaxBytes: 10 * 1024 * 1024,
        backoffMs: 100,
      },
      replicas: {
        followedPartitions: () => [{ topic, partition: 0, leaderId, leaderEpoch: registration.leaderEpoch }],
        followerFetchPosition: () => ({
          fetchOffset: log.logEndOffset,
          lastFetchedEpoch: follower.epochCache.latestEpoch,
          logStartOffset: log.logStartOffset,
          leaderEpoch: registration.leaderEpoch,
          leaderId,
        }),
        applyFollowerFetch: async (context, result) => {
          fetches++;
          const applied = await applyFollowerFetch(follower, context, result, writer);
          if (applied.kind === 'appended') return ErrorCode.NONE;
          failure ??= new Error(`fetch not appended: ${JSON.stringify(applied)}`);
          return ErrorCode.UNKNOWN_SERVER_ERROR;
        },
      },
      brokerEpoch: () => 1,
      clock: systemClock,
      timers: systemTimers,
      logger: silent,
    });
    manager.reconcile();
    return {
      fetches: () => fetches,
      stop: async () => {
        await manager.close();
        if (failure !== undefined) throw failure;
      },
    };
  };
  return { log, fetchOnce, startFetcher, close: () => transport.close() };
}

/** CPU per MB of `work`, which returns its fetch count and the MB it replicated or appended. */
function measure(work) {
  return async () => {
    const cpuBefore = process.cpuUsage();
    const wallBefore = performance.now();
    const { rounds, mbDone } = await work();
    const cpu = process.cpuUsage(cpuBefore);
    const cpuMsPerMb = (cpu.user + cpu.system) / 1000 / mbDone;
    return { cpuMsPerMb, wallMs: performance.now() - wallBefore, rounds };
  };
}

/**
 * A leader and a follower whose fetch loop runs until `produce` is done: `produce` is measured, and
 * its CPU per MB counts the follower's fetches and appends it caused (one process).
 */
async function withFetchingFollower(name, produce) {
  leader = await openLeader(name, 1);
  const follower = await openFollower(name, 1024 * 1024);
  await follower.fetchOnce(); // connects the channel before the clock starts
  let stopped = false;
  let rounds = 0;
  const fetcher = useFetcher ? follower.startFetcher() : undefined;
  const fetching =
    fetcher === undefined
      ? (async () => {
          while (!stopped) {
            await follower.fetchOnce();
            rounds++;
          }
        })()
      : undefined;
  const result = await measure(async () => {
    const fetchesBefore = fetcher?.fetches() ?? 0;
    await produce();
    return { rounds: fetcher === undefined ? rounds : fetcher.fetches() - fetchesBefore, mbDone: mb };
  })();
  stopped = true;
  // The fetch in flight ends with the long poll; the fetcher's is aborted.
  delayedOperations.notify(leader.key);
  await fetching;
  await fetcher?.stop();
  follower.close();
  await follower.log.close();
  await leader.log.close();
  return result;
}

/** Appends one batch on the leader, as a Produce does, and waits for the high watermark to cover it. */
async function appendReplicated() {
  const appended = await leader.log.append(batch, registration.leaderEpoch);
  leader.onLeaderAppend();
  delayedOperations.notify(leader.key);
  const end = appended.lastOffset + 1;
  const replicated = await delayedOperations.waitUntil(
    [leader.key],
    30_000,
    () => leader.highWatermark >= end,
  );
  if (!replicated) throw new Error('the follower did not replicate within 30 s');
}

/** acks=all, one batch in flight: append, then wait for the follower's fetch to move the HW. */
function live(run) {
  return withFetchingFollower(`live-${run}`, async () => {
    for (let i = 0; i < batchCount; i++) await appendReplicated();
  });
}

/**
 * acks=all with `producesInFlight` appends in flight, as bench:replication's producer keeps 5
 * Produce requests in flight per leader: each "produce" appends one batch and waits for the high
 * watermark to cover it before the next. A follower fetch carries what was appended since the last.
 */
function pipelined(run) {
  const producesInFlight = 5;
  let issued = 0;
  const produce = async () => {
    while (issued < batchCount) {
      issued++;
      await appendReplicated();
    }
  };
  return withFetchingFollower(`pipelined-${run}`, () =>
    Promise.all(Array.from({ length: producesInFlight }, produce)),
  );
}

/** The same appends with no follower: what RF 1 pays per MB here. */
async function appendOnly(run) {
  const log = await openLog(join(root, `append-${run}`, `${topic}-0`));
  const result = await measure(async () => {
    for (let i = 0; i < batchCount; i++) await log.append(batch, registration.leaderEpoch);
    return { rounds: 0, mbDone: mb };
  })();
  await log.close();
  return result;
}

/** A follower copying a full log with 1 MiB fetches. */
async function catchUp(run) {
  const fetchBytesMax = 1024 * 1024;
  leader = await openLeader(`catch-up-${run}`, batchCount + Math.ceil(fetchBytesMax / batch.length));
  const follower = await openFollower(`catch-up-${run}`, fetchBytesMax);
  await follower.fetchOnce(); // connects the channel before the clock starts
  const startOffset = follower.log.logEndOffset;
  const result = await measure(async () => {
    let rounds = 0;
    while (follower.log.logEndOffset < leader.log.logEndOffset) {
      await follower.fetchOnce();
      rounds++;
    }
    const batches = (follower.log.logEndOffset - startOffset) / recordsPerBatch;
    return { rounds, mbDone: (batches * batch.length) / 1e6 };
  })();
  follower.close();
  await follower.log.close();
  await leader.log.close();
  return result;
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const allCells = { live, pipelined, 'append only': appendOnly, 'catch-up': catchUp };
/** BENCH_CELLS=live,catch-up: only these (e.g. to profile one). */
const wanted = process.env.BENCH_CELLS?.split(',');
const cells = Object.fromEntries(
  Object.entries(allCells).filter(([name]) => wanted === undefined || wanted.includes(name)),
);
const results = Object.fromEntries(Object.keys(cells).map((name) => [name, []]));
console.log(
  `${batchCount} batches of ${batch.length} B (${mb.toFixed(1)} MB) per run${useFetcher ? '; follower: the ReplicaFetcher loop' : ''}; Node flags: ${process.execArgv.join(' ') || "Node's defaults"}`,
);
// Warm-up rounds first, not counted: on a fresh process TurboFan compiles the hot paths on the
// background threads for the first few thousand fetches, which cost as much again as the fetches.
for (let run = 0; run < warmUpRuns; run++) {
  for (const [name, cell] of Object.entries(cells)) {
    const result = await cell(`warm-up-${run}`);
    console.log(`warm-up ${run} ${name}: ${result.cpuMsPerMb.toFixed(2)} ms CPU/MB`);
  }
}
for (let run = 0; run < runs; run++) {
  // Alternated, so a change in the machine's load falls on every cell alike.
  for (const [name, cell] of Object.entries(cells)) {
    const result = await cell(run);
    results[name].push(result.cpuMsPerMb);
    console.log(
      `run ${run} ${name}: ${result.cpuMsPerMb.toFixed(2)} ms CPU/MB, ${result.rounds} fetches, ` +
        `${result.wallMs.toFixed(0)} ms`,
    );
  }
}
for (const [name, values] of Object.entries(results)) {
  console.log(`${name}: median ${median(values).toFixed(2)} ms CPU/MB over ${values.length} runs`);
}
server.forceShutdown();
rmSync(root, { recursive: true, force: true });

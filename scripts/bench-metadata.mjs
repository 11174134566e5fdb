#!/usr/bin/env node
// Metadata quorum figures on three local processes (default settings): the commit latency of
// metadata writes, and the failover time after kill -9 of the active controller. Figures, not a
// test: it prints a table and asserts nothing.
//
//   commit latency   IncrementalAlterConfigs sent over gRPC straight to the active controller (one
//                    topic config changed per write, so every write is one committed batch), and
//                    CreateTopics through a broker's Kafka listener (forwarded to the controller,
//                    answered once the broker has applied it). Sequential, one in flight.
//   failover         kill -9 of the controller → the first write a new controller commits, probed
//                    every 20 ms against both survivors. Then the killed node restarts and must
//                    catch up (same applied offset as the leader, listed as a live broker) before
//                    the next kill.
//
// Usage: npm run bench:metadata
//        BENCH_WRITES=500 BENCH_KAFKA_WRITES=100 BENCH_KILLS=12 node scripts/bench-metadata.mjs

import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ApiKey, KafkaConnection } from '../packages/client/dist/index.js';
import { BenchCluster } from './lib/bench-cluster.mjs';

const repoRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));
const nodeCount = 3;
const writeCount = Number(process.env.BENCH_WRITES ?? 500);
const kafkaWriteCount = Number(process.env.BENCH_KAFKA_WRITES ?? 100);
const killCount = Number(process.env.BENCH_KILLS ?? 12);
/** How often the failover probe tries a write while there is no controller. */
const probeIntervalMs = 20;
/** Deadline of one probe write: a node that is not the controller answers at once. */
const probeDeadlineMs = 300;
/** Bound on any wait for the cluster (start, election, catch-up). */
const convergeTimeoutMs = 60_000;
const benchTopic = 'bench-metadata';

// ---- launcher ---------------------------------------------------------------------------------

// Nodes bind port 0; a restarted node's ports change and its node entry follows (BenchCluster).
const cluster = await BenchCluster.start({ nodeCount, readyTimeoutMs: convergeTimeoutMs });
const { clusterId, nodes } = cluster;

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

async function waitFor(what, probe) {
  const deadline = Date.now() + convergeTimeoutMs;
  let last = 'never probed';
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
      last = 'not yet';
    } catch (error) {
      last = error.message;
    }
    await sleep(50);
  }
  throw new Error(`timed out waiting for ${what}: ${last}\n${cluster.tail()}`);
}

// ---- clients ----------------------------------------------------------------------------------

const protoPath = join(repoRoot, 'proto', 'controller.proto');
const definition = protoLoader.loadSync(protoPath, {
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
});
const ControllerService = grpc.loadPackageDefinition(definition).gregor.controller.Controller;
const grpcClients = new Map();
function controllerClient(node) {
  let client = grpcClients.get(node.id);
  if (client === undefined) {
    client = new ControllerService(`127.0.0.1:${node.quorumPort}`, grpc.credentials.createInsecure(), {
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1_000,
    });
    grpcClients.set(node.id, client);
  }
  return client;
}

function rpc(node, method, request, deadlineMs) {
  return new Promise((resolvePromise, reject) => {
    controllerClient(node)[method](request, { deadline: Date.now() + deadlineMs }, (error, response) =>
      error === null ? resolvePromise(response) : reject(error),
    );
  });
}

async function describe(node) {
  return rpc(node, 'DescribeMetadata', { clusterId }, 1_000);
}

let configValue = 600_000;
/** One metadata write at `node`'s controller service; resolves true when it committed there. */
async function alterConfig(node, deadlineMs) {
  configValue += 1;
  const response = await rpc(
    node,
    'IncrementalAlterConfigs',
    {
      clusterId,
      topics: [
        {
          topicName: benchTopic,
          operations: [{ name: 'retention.ms', operation: 'set', value: String(configValue) }],
        },
      ],
      validateOnly: false,
    },
    deadlineMs,
  );
  return response.status.errorCode === 0 && response.topics.every((topic) => topic.errorCode === 0);
}

async function kafkaReady(node) {
  const connection = await KafkaConnection.open({
    host: '127.0.0.1',
    port: node.kafkaPort,
    connectTimeoutMs: 1_000,
  });
  try {
    const metadata = await connection.call(ApiKey.Metadata, 1, { topics: [] }, 2_000);
    return metadata.controllerId >= 0 && metadata.brokers.length === nodeCount;
  } finally {
    connection.close();
  }
}

async function controllerNode() {
  for (const node of cluster.running) {
    try {
      const { controllerId } = await describe(node);
      if (controllerId >= 0) return nodes.find((candidate) => candidate.id === controllerId);
    } catch {
      // that node is starting or gone: ask another
    }
  }
  return undefined;
}

// ---- figures ----------------------------------------------------------------------------------

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
const fmt = (ms) => `${ms.toFixed(1)} ms`;
function summary(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1), n: sorted.length };
}

async function main() {
  await waitFor('three live brokers', async () =>
    (await Promise.all(nodes.map(kafkaReady))).every(Boolean) ? true : undefined,
  );

  // The topic whose config every write changes.
  const first = await waitFor('a controller', controllerNode);
  await waitFor('the bench topic', async () => {
    const response = await rpc(
      first,
      'CreateTopics',
      {
        clusterId,
        topics: [{ name: benchTopic, numPartitions: 1, replicationFactor: 1, configs: [] }],
        validateOnly: false,
      },
      5_000,
    );
    const code = response.topics[0]?.errorCode;
    return response.status.errorCode === 0 && (code === 0 || code === 36) ? true : undefined;
  });

  // Warm-up (JIT, channels), not counted.
  for (let i = 0; i < 20; i++) await alterConfig(first, 5_000);
  const grpcLatencies = [];
  for (let i = 0; i < writeCount; i++) {
    const started = performance.now();
    if (!(await alterConfig(first, 5_000))) throw new Error('a metadata write failed with a healthy cluster');
    grpcLatencies.push(performance.now() - started);
  }

  const via = nodes.find((node) => node.id !== first.id);
  const connection = await KafkaConnection.open({ host: '127.0.0.1', port: via.kafkaPort });
  const kafkaLatencies = [];
  for (let i = 0; i < kafkaWriteCount; i++) {
    const started = performance.now();
    const response = await connection.call(
      ApiKey.CreateTopics,
      3,
      {
        topics: [
          { name: `bench-topic-${i}`, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] },
        ],
        timeoutMs: 5_000,
        validateOnly: false,
      },
      10_000,
    );
    if (response.topics[0]?.errorCode !== 0)
      throw new Error(`CreateTopics failed: ${JSON.stringify(response.topics[0])}`);
    kafkaLatencies.push(performance.now() - started);
  }
  connection.close();

  const failovers = [];
  for (let round = 1; round <= killCount; round++) {
    const victim = await waitFor('a controller', controllerNode);
    const survivors = nodes.filter((node) => node !== victim);
    grpcClients.get(victim.id)?.close();
    grpcClients.delete(victim.id);
    const killedAt = performance.now();
    await cluster.kill(victim.id);
    let committedBy;
    while (committedBy === undefined) {
      if (performance.now() - killedAt > convergeTimeoutMs)
        throw new Error('no controller committed after the kill');
      const attempts = await Promise.all(
        survivors.map((node) =>
          alterConfig(node, probeDeadlineMs).then(
            (ok) => (ok ? node : undefined),
            () => undefined,
          ),
        ),
      );
      committedBy = attempts.find((node) => node !== undefined);
      if (committedBy === undefined) await sleep(probeIntervalMs);
    }
    const failoverMs = performance.now() - killedAt;
    failovers.push(failoverMs);
    console.log(
      `  kill ${String(round).padStart(2)}: controller ${victim.id} killed, node ${committedBy.id} committed after ${fmt(failoverMs)}`,
    );

    await cluster.restart(victim.id);
    await waitFor(`node ${victim.id} to catch up`, async () => {
      const [leader, rejoined] = await Promise.all([describe(committedBy), describe(victim)]);
      return rejoined.metadataOffset >= leader.metadataOffset && (await kafkaReady(victim))
        ? true
        : undefined;
    });
  }

  const grpcFigures = summary(grpcLatencies);
  const kafkaFigures = summary(kafkaLatencies);
  const failoverFigures = summary(failovers);
  const sortedFailovers = [...failovers].sort((a, b) => a - b);
  const median =
    sortedFailovers.length % 2 === 1
      ? sortedFailovers[(sortedFailovers.length - 1) / 2]
      : (sortedFailovers[sortedFailovers.length / 2 - 1] + sortedFailovers[sortedFailovers.length / 2]) / 2;
  console.log('');
  console.log(
    '| measure                                                     |   n |      p50 |      p99 |      max |',
  );
  console.log(
    '| ----------------------------------------------------------- | --- | -------- | -------- | -------- |',
  );
  const row = (name, f) =>
    console.log(
      `| ${name.padEnd(59)} | ${String(f.n).padStart(3)} | ${fmt(f.p50).padStart(8)} | ${fmt(f.p99).padStart(8)} | ${fmt(f.max).padStart(8)} |`,
    );
  row('metadata write committed (gRPC IncrementalAlterConfigs)', grpcFigures);
  row('CreateTopics via a Kafka listener (forwarded, applied)', kafkaFigures);
  row('kill -9 controller -> new controller commits (p50 = median)', { ...failoverFigures, p50: median });
  console.log('');
  console.log(
    `failover median ${fmt(median)}, max ${fmt(failoverFigures.max)} over ${failovers.length} kills (aim: median within 2000 ms)`,
  );
}

try {
  await main();
} finally {
  for (const client of grpcClients.values()) client.close();
  await cluster.close();
}

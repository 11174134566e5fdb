#!/usr/bin/env node
// How long a three-node Gregor cluster takes to be ready for a produce, three ways: startCluster()
// from @gregor/testkit (nodes inside this process), `npm run cluster` (three processes, build already
// done), and the docker compose cluster (with BENCH_COMPOSE=1; see below).
// Figures, not a test: it prints a table and asserts nothing.
//
// Each round starts a new cluster on empty data and times, from the moment it is asked to start:
//   ready        startCluster() resolved / the launcher printed "Gregor cluster ready"
//   first ack    the first acks=all produce acknowledged: kafkajs, started at "ready", sends one
//                record to a topic it has auto-created (3 partitions, 3 replicas, min ISR 2),
//                retrying every 20-100 ms until the leader answers without error.
// Then the cluster is stopped and its data removed.
//
// Usage: npm run bench:startup
//        BENCH_ROUNDS=5 BENCH_COMPOSE=1 node scripts/bench-startup.mjs

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { startCluster } from '../packages/testkit/dist/index.js';

const repoRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const nodeCount = 3;
const readyTimeoutMs = 120_000;
const host = '127.0.0.1';

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

/** Resolves once kafkajs gets an acks=all produce acknowledged; retries quickly until then. */
async function firstAcknowledgedProduce(bootstrapServers) {
  const kafka = new Kafka({
    clientId: 'bench-startup',
    brokers: bootstrapServers,
    logLevel: logLevel.NOTHING,
    retry: { retries: 1_000, initialRetryTime: 20, maxRetryTime: 100, factor: 0 },
  });
  const producer = kafka.producer({ allowAutoTopicCreation: true });
  const deadline = Date.now() + readyTimeoutMs;
  try {
    await producer.connect();
    for (;;) {
      try {
        const [answer] = await producer.send({ topic: 'startup', acks: -1, messages: [{ value: 'first' }] });
        if (answer?.errorCode === 0) return;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await sleep(20);
      }
    }
  } finally {
    await producer.disconnect().catch(() => undefined);
  }
}

// ---- startCluster() ---------------------------------------------------------------------------

async function measureTestkit() {
  const startMs = performance.now();
  const cluster = await startCluster({ brokers: nodeCount });
  const readyMs = performance.now() - startMs;
  try {
    await firstAcknowledgedProduce(cluster.bootstrapServers);
    return { readyMs, ackMs: performance.now() - startMs };
  } finally {
    await cluster.stop();
  }
}

// ---- npm run cluster --------------------------------------------------------------------------

async function portFree(port) {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => done(true)));
  });
}

async function freeBasePort() {
  for (let base = 31_000; base < 40_000; base += 200) {
    let free = true;
    for (let i = 0; i < nodeCount; i++)
      free &&= (await portFree(base + i)) && (await portFree(base + 100 + i));
    if (free) return base;
  }
  throw new Error('no free port range');
}

function running(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function measureLauncher() {
  const dataDir = mkdtempSync(join(tmpdir(), 'gregor-bench-startup-'));
  const basePort = await freeBasePort();
  const startMs = performance.now();
  const child = spawn(
    'npm',
    [
      'run',
      '--silent',
      'cluster',
      '--',
      '--base-port',
      String(basePort),
      '--data-dir',
      join(dataDir, 'data'),
    ],
    {
      cwd: repoRoot,
      env: { ...process.env, GREGOR_LOG_FORMAT: 'json' },
      stdio: ['ignore', 'pipe', 'inherit'],
      // Its own process group, signalled as a whole at the end, as Ctrl-C would.
      detached: true,
    },
  );
  const exited = new Promise((done) => child.on('exit', done));
  const nodePids = [];
  try {
    const bootstrap = await new Promise((done, fail) => {
      let pending = '';
      const timer = setTimeout(() => fail(new Error('the launcher did not get ready')), readyTimeoutMs);
      let sawReady = false;
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (chunk) => {
        pending += chunk;
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        for (const line of lines) {
          const started = line.match(/^\[cluster\] node \d+ started: pid (\d+)/);
          if (started !== null) nodePids.push(Number(started[1]));
          if (line.includes('Gregor cluster ready')) sawReady = true;
          const bootstrapLine = line.match(/^\[cluster\] bootstrap servers: (\S+)/);
          if (sawReady && bootstrapLine !== null) {
            clearTimeout(timer);
            done(bootstrapLine[1].split(','));
          }
        }
      });
    });
    // The ready line is printed right after the probe that found the cluster ready: "ready" is when
    // it arrived here.
    const readyMs = performance.now() - startMs;
    await firstAcknowledgedProduce(bootstrap);
    return { readyMs, ackMs: performance.now() - startMs };
  } finally {
    process.kill(-child.pid, 'SIGTERM');
    await exited;
    // The nodes finish their controlled shutdown before the next round starts.
    while (nodePids.some((pid) => running(pid))) await sleep(100);
    rmSync(dataDir, { recursive: true, force: true });
  }
}

// ---- docker compose ----------------------------------------------------------------------------
// Measured with BENCH_COMPOSE=1 (building images is slow and needs a Docker host; where there is no
// Docker engine, `source scripts/lib/podman-docker-host.sh` first, as scripts/compose-test.sh does).
const composeFile = join(repoRoot, 'docker-compose.yml');
const composeBootstrapServers = (
  process.env.BENCH_COMPOSE_BOOTSTRAP ?? '127.0.0.1:9092,127.0.0.1:9093,127.0.0.1:9094'
)
  .split(',')
  .filter((address) => address !== '');
// Compose v2 (`docker compose`) where the Docker CLI has it, else the standalone docker-compose.
const composeCommand =
  spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' }).status === 0
    ? ['docker', 'compose']
    : ['docker-compose'];

async function measureCompose() {
  const compose = (args) =>
    spawnSync(composeCommand[0], [...composeCommand.slice(1), '-f', composeFile, ...args], {
      cwd: repoRoot,
      stdio: 'inherit',
    });
  // Images built beforehand: the figure is the cluster's start, not the image build.
  if (compose(['build']).status !== 0) throw new Error('docker compose build failed');
  const startMs = performance.now();
  try {
    if (compose(['up', '-d']).status !== 0) throw new Error('docker compose up failed');
    await firstAcknowledgedProduce(composeBootstrapServers);
    // There is no "ready" line to wait for: readiness is the first acknowledged produce.
    const ackMs = performance.now() - startMs;
    return { readyMs: Number.NaN, ackMs };
  } finally {
    compose(['down', '-v']);
  }
}

// ---- run --------------------------------------------------------------------------------------

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
const seconds = (ms) => (Number.isNaN(ms) ? 'n/a' : (ms / 1000).toFixed(2));

const ways = [
  ['startCluster() (in-process)', measureTestkit],
  ['npm run cluster (3 processes)', measureLauncher],
];
if (process.env.BENCH_COMPOSE === '1') {
  ways.push(['docker compose up', measureCompose]);
}

const results = [];
for (const [name, measure] of ways) {
  const samples = [];
  for (let round = 0; round < rounds; round++) {
    const sample = await measure();
    samples.push(sample);
    console.log(
      `${name}, round ${round + 1}: ready ${seconds(sample.readyMs)} s, first acks=all produce ${seconds(sample.ackMs)} s`,
    );
  }
  results.push({ name, samples });
}

console.log('');
console.log(`Three nodes on empty data, ${rounds} rounds each (seconds from start):`);
console.log('');
console.log(
  '| how                           | ready, median | first ack, median | first ack, min | first ack, max |',
);
console.log(
  '| ----------------------------- | ------------: | ----------------: | -------------: | -------------: |',
);
for (const { name, samples } of results) {
  const acks = samples.map((sample) => sample.ackMs);
  console.log(
    `| ${name.padEnd(29)} | ${seconds(median(samples.map((sample) => sample.readyMs))).padStart(13)} | ${seconds(median(acks)).padStart(17)} | ${seconds(Math.min(...acks)).padStart(14)} | ${seconds(Math.max(...acks)).padStart(14)} |`,
  );
}

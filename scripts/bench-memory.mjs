#!/usr/bin/env node
// Memory a client can pin: the broker's resident memory (VmRSS of the process) while many
// connections each send most of a frame that claims socket.request.max.bytes, and after they close.
// Meanwhile a well-behaved client keeps asking for Metadata and producing on its own connection.
// Figures, not a test: it prints a table and asserts nothing.
//
//   before    idle broker after start-up
//   during    every slow connection has sent what the broker would read (or stalled for 2 s
//             because the broker stopped reading from it)
//   after     1 s, 5 s and 20 s after the slow connections closed
//
// Usage: npm run bench:memory
//        BENCH_CONNECTIONS=6 BENCH_CLAIMED_MB=100 BENCH_SENT_MB=90 node scripts/bench-memory.mjs
//        BENCH_PROPERTIES='queued.max.request.bytes=-1' node scripts/bench-memory.mjs

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiKey, KafkaConnection } from '../packages/client/dist/index.js';
import { encodeRecordBatch } from '../packages/protocol/dist/index.js';

const repoRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));
const cliPath = join(repoRoot, 'packages', 'cli', 'dist', 'main.js');
const connectionCount = Number(process.env.BENCH_CONNECTIONS ?? 6);
const claimedBytes = Number(process.env.BENCH_CLAIMED_MB ?? 100) * 1024 * 1024;
const sentBytesTarget = Number(process.env.BENCH_SENT_MB ?? 90) * 1024 * 1024;
const extraProperties = (process.env.BENCH_PROPERTIES ?? '').split(/[;\n]/).filter((line) => line !== '');
/** A slow connection whose writes have not drained for this long counts as stalled by the broker. */
const stallMs = 2_000;
/** Size of one write of a slow connection. */
const writeChunkBytes = 1024 * 1024;
const canaryTopic = 'bench-memory-canary';
const afterSeconds = [1, 5, 20];

if (!existsSync(cliPath)) {
  console.error(`${cliPath} is missing: run "npm run build" first (or "npm run bench:memory").`);
  process.exit(1);
}

async function freePort() {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  await new Promise((done) => server.close(done));
  return port;
}

function rssMb(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

const rootDir = mkdtempSync(join(tmpdir(), 'gregor-bench-memory-'));
const kafkaPort = await freePort();
const quorumPort = await freePort();
const configPath = join(rootDir, 'server.properties');
writeFileSync(
  configPath,
  [
    'node.id=1',
    'process.roles=broker,controller',
    'cluster.id=bench-memory',
    `listeners=PLAINTEXT://127.0.0.1:${kafkaPort},CONTROLLER://127.0.0.1:${quorumPort}`,
    `controller.quorum.voters=1@127.0.0.1:${quorumPort}`,
    `log.dirs=${join(rootDir, 'logs')}`,
    'offsets.topic.replication.factor=1',
    ...extraProperties,
  ].join('\n'),
);
const output = [];
const broker = spawn(process.execPath, [cliPath, 'broker', 'start', '--config', configPath], {
  env: { ...process.env, GREGOR_LOG_FORMAT: 'json', GREGOR_LOG_LEVEL: 'warn' },
  stdio: ['ignore', 'pipe', 'pipe'],
});
broker.stdout.on('data', (chunk) => output.push(chunk.toString()));
broker.stderr.on('data', (chunk) => output.push(chunk.toString()));

async function openCanary() {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const connection = await KafkaConnection.open({ host: '127.0.0.1', port: kafkaPort });
      await connection.call(ApiKey.Metadata, 1, { topics: [] }, 2_000);
      return connection;
    } catch (error) {
      if (Date.now() > deadline || broker.exitCode !== null) {
        throw new Error(`broker did not start: ${error.message}\n${output.join('')}`);
      }
      await sleep(200);
    }
  }
}

/** One Metadata + one Produce (acks=1) round trip; returns its milliseconds, or the error. */
async function canaryRound(connection) {
  const started = performance.now();
  try {
    await connection.call(ApiKey.Metadata, 1, { topics: [{ name: canaryTopic }] }, 10_000);
    const records = encodeRecordBatch({
      records: [{ key: null, value: Buffer.from('canary'), timestamp: Date.now() }],
    });
    const response = await connection.call(
      ApiKey.Produce,
      7,
      {
        transactionalId: null,
        acks: 1,
        timeoutMs: 10_000,
        topics: [{ name: canaryTopic, partitions: [{ partitionIndex: 0, records }] }],
      },
      10_000,
    );
    const errorCode = response.responses[0]?.partitions[0]?.errorCode;
    if (errorCode !== 0) return `produce error ${errorCode}`;
    return performance.now() - started;
  } catch (error) {
    return error.message;
  }
}

/** A slow client: a size header claiming `claimedBytes`, then up to `sentBytesTarget` of body. */
async function slowConnection() {
  const socket = connect({ host: '127.0.0.1', port: kafkaPort });
  await once(socket, 'connect');
  socket.on('error', () => undefined);
  const header = Buffer.alloc(4);
  header.writeInt32BE(claimedBytes, 0);
  socket.write(header);
  const chunk = Buffer.alloc(writeChunkBytes, 0x5a);
  let sent = 0;
  let stalled = false;
  while (sent < sentBytesTarget && !socket.destroyed) {
    const size = Math.min(writeChunkBytes, sentBytesTarget - sent);
    const flushed = socket.write(chunk.subarray(0, size));
    sent += size;
    if (!flushed) {
      const drained = await Promise.race([
        once(socket, 'drain').then(() => true),
        sleep(stallMs).then(() => false),
      ]);
      if (!drained) {
        stalled = true;
        break;
      }
    }
  }
  // What the kernel and this process still hold unsent is not in the broker.
  const acceptedBytes = socket.bytesWritten - socket.writableLength;
  return { socket, acceptedBytes, stalled, closedByBroker: socket.destroyed };
}

function formatRow(cells, widths) {
  return cells.map((cell, index) => String(cell).padStart(widths[index])).join('  ');
}

try {
  const canary = await openCanary();
  await canaryRound(canary); // creates the topic
  await sleep(3_000);
  const before = rssMb(broker.pid);

  const slowStarted = Date.now();
  const canaryLatencies = [];
  let slowDone = false;
  const canaryLoop = (async () => {
    while (!slowDone) {
      canaryLatencies.push(await canaryRound(canary));
      await sleep(100);
    }
  })();
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssMb(broker.pid));
  }, 100);
  const slow = await Promise.all(Array.from({ length: connectionCount }, () => slowConnection()));
  await sleep(1_000);
  const during = rssMb(broker.pid);
  peak = Math.max(peak, during);
  const slowSeconds = (Date.now() - slowStarted) / 1000;
  slowDone = true;
  await canaryLoop;
  clearInterval(sampler);

  for (const { socket } of slow) socket.destroy();
  const after = [];
  let elapsedMs = 0;
  for (const seconds of afterSeconds) {
    await sleep(seconds * 1000 - elapsedMs);
    elapsedMs = seconds * 1000;
    after.push(rssMb(broker.pid));
  }
  const finalRound = await canaryRound(canary);
  canary.close();

  const accepted = slow.map((connection) => connection.acceptedBytes / (1024 * 1024));
  const served = canaryLatencies.filter((latency) => typeof latency === 'number');
  const failures = canaryLatencies.filter((latency) => typeof latency !== 'number');
  const sorted = [...served].sort((a, b) => a - b);
  const percentile = (p) =>
    sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];

  console.log(
    `\n${connectionCount} connections, each a frame claiming ${claimedBytes / 1024 / 1024} MiB and sending up to ` +
      `${sentBytesTarget / 1024 / 1024} MiB${extraProperties.length > 0 ? `; ${extraProperties.join(', ')}` : ''}\n`,
  );
  const widths = [28, 10];
  console.log(formatRow(['broker RSS', 'MiB'], widths));
  console.log(formatRow(['before', before.toFixed(0)], widths));
  console.log(formatRow(['during (peak)', peak.toFixed(0)], widths));
  console.log(formatRow(['during (all sent/stalled)', during.toFixed(0)], widths));
  afterSeconds.forEach((seconds, index) => {
    console.log(formatRow([`${seconds} s after close`, after[index].toFixed(0)], widths));
  });
  console.log(
    `\nbytes the broker took per slow connection (MiB): ${accepted.map((mb) => mb.toFixed(1)).join(', ')}` +
      `; stalled by the broker: ${slow.filter((connection) => connection.stalled).length}` +
      `; closed by the broker: ${slow.filter((connection) => connection.closedByBroker).length}`,
  );
  console.log(
    `well-behaved client during ${slowSeconds.toFixed(1)} s: ${served.length} rounds served ` +
      `(Metadata + Produce, p50 ${percentile(0.5).toFixed(1)} ms, max ${(sorted.at(-1) ?? NaN).toFixed(1)} ms), ` +
      `${failures.length} failed${failures.length > 0 ? ` (${failures[0]})` : ''}; after close: ` +
      `${typeof finalRound === 'number' ? `${finalRound.toFixed(1)} ms` : finalRound}`,
  );
} finally {
  broker.kill('SIGKILL');
  await once(broker, 'exit').catch(() => undefined);
  rmSync(rootDir, { recursive: true, force: true });
}

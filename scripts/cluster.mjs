#!/usr/bin/env node
// Starts a local Gregor cluster and keeps it running, as a supervisor would: N nodes (3 by default),
// each a broker (Kafka protocol on 127.0.0.1:<base-port + i>) and a voter of the metadata quorum
// (gRPC on 127.0.0.1:<base-port + 100 + i>). Data lives under ./data (or --data-dir, or
// $GREGOR_DATA_DIR); a second start reuses it.
//
// A node that exits (kill -9, a crash) is reported with how it ended and started again after
// --restart-after seconds (5 by default; `never` leaves it down) on the same data; the others keep
// serving meanwhile. A node that keeps dying soon after it starts (a bad disk, a config it refuses)
// is restarted with a delay that doubles each time, up to 5 minutes, as Kubernetes' CrashLoopBackOff
// does, so it does not spin; once it stays up for a minute the delay starts over. Ctrl-C, SIGTERM or SIGHUP stops every node cleanly (each hands its leaderships
// over first). However the launcher itself ends, even by SIGKILL, no node outlives it: see
// lib/stop-with-launcher.mjs.
//
// On a fresh clone it first runs `npm ci` and `npm run build` when they are needed, so it imports
// nothing outside Node itself until then (lib/setup.mjs).

import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureBuilt, ensureInstalled, repoRoot } from './lib/setup.mjs';

const usage = `Usage: npm run cluster -- [options]     (or: node scripts/cluster.mjs [options])

Starts a local Gregor cluster; every node is a broker and a metadata-quorum voter.

Options:
  --nodes <N>                 how many nodes, 1 to 9 (default 3)
  --base-port <port>          Kafka listeners on <port> .. <port>+N-1, quorum (gRPC) listeners on
                              <port>+100 .. <port>+100+N-1 (default 9092)
  --data-dir <dir>            where the nodes keep their data (default ./data, or $GREGOR_DATA_DIR)
  --restart-after <s|never>   restart a node that died after this many seconds (default 5);
                              never: leave it down. A node that dies again within a minute of
                              starting waits twice as long each time, up to 5 minutes
  -h, --help                  this text

Ctrl-C (SIGINT), SIGTERM or SIGHUP stops every node cleanly. Installs and builds first when needed.
`;

const host = '127.0.0.1';
const nodeCountMax = 9;
/** Quorum ports sit this far above the Kafka ports. */
const quorumPortOffset = 100;
/** How long a controlled shutdown of every node may take before the stragglers are killed. */
const stopTimeoutMs = 30_000;
const readyTimeoutMs = 60_000;
/** How long a restarted node may take to be listed by every broker again. */
const rejoinTimeoutMs = 60_000;
/** A node that dies sooner than this after starting is crash-looping: its next restart waits longer. */
const crashLoopUptimeMs = 60_000;
/** The longest a crash-looping node waits before its next restart (Kubernetes' CrashLoopBackOff cap). */
const crashLoopDelayMaxMs = 300_000;

function fail(message) {
  console.error(`cluster: ${message}\n\n${usage}`);
  process.exit(2);
}

function parseOptions(argv) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        nodes: { type: 'string' },
        'base-port': { type: 'string' },
        'data-dir': { type: 'string' },
        'restart-after': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    fail(error.message);
  }
  const { values } = parsed;
  if (values.help) {
    process.stdout.write(usage);
    process.exit(0);
  }
  const integer = (name, text, min, max) => {
    if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max)
      fail(`--${name} must be a whole number from ${min} to ${max}, not '${text}'`);
    return Number(text);
  };
  const nodeCount = integer('nodes', values.nodes ?? '3', 1, nodeCountMax);
  const basePort = integer(
    'base-port',
    values['base-port'] ?? '9092',
    1,
    65535 - quorumPortOffset - nodeCount + 1,
  );
  const restartAfter = values['restart-after'] ?? '5';
  let restartAfterMs;
  if (restartAfter === 'never') restartAfterMs = undefined;
  else if (/^\d+(\.\d+)?$/.test(restartAfter)) restartAfterMs = Math.round(Number(restartAfter) * 1000);
  else fail(`--restart-after must be a number of seconds or 'never', not '${restartAfter}'`);
  const dataDir = resolve(values['data-dir'] ?? process.env.GREGOR_DATA_DIR ?? join(repoRoot, 'data'));
  return { nodeCount, basePort, restartAfterMs, dataDir };
}

const options = parseOptions(process.argv.slice(2));
const { nodeCount, basePort, restartAfterMs, dataDir } = options;
const kafkaPort = (id) => basePort + id - 1;
const quorumPort = (id) => basePort + quorumPortOffset + id - 1;
const nodeIds = Array.from({ length: nodeCount }, (_, i) => i + 1);
const bootstrap = nodeIds.map((id) => `${host}:${kafkaPort(id)}`);

/** Resolves with the first port of `ports` something else listens on, or undefined. */
async function portInUse(ports) {
  for (const port of ports) {
    const inUse = await new Promise((done) => {
      const server = createServer();
      server.once('error', () => done(true));
      server.listen({ host, port, exclusive: true }, () => server.close(() => done(false)));
    });
    if (inUse) return port;
  }
  return undefined;
}

try {
  ensureInstalled();
  ensureBuilt();
} catch (error) {
  console.error(`cluster: ${error.message}`);
  process.exit(1);
}
// Only now that node_modules and dist/ exist.
const { waitForCluster } = await import('./lib/kafka-probe.mjs');
// The Node flags a broker starts with (V8 takes them only at start-up); the module imports nothing.
const { brokerNodeFlags } = await import('../packages/broker/dist/node/node-flags.js');
const { brokerAllocatorEnvironment } = await import('../packages/broker/dist/node/allocator.js');
// Checked before any node starts: GREGOR_ALLOCATOR is jemalloc, system or unset.
let allocatorEnvironment;
try {
  allocatorEnvironment = brokerAllocatorEnvironment(process.env);
} catch (error) {
  console.error(`cluster: ${error.message}`);
  process.exit(2);
}
const cliPath = join(repoRoot, 'packages', 'cli', 'dist', 'main.js');
const stopWithLauncher = pathToFileURL(
  fileURLToPath(new URL('./lib/stop-with-launcher.mjs', import.meta.url)),
);

const busy = await portInUse(nodeIds.flatMap((id) => [kafkaPort(id), quorumPort(id)]));
if (busy !== undefined) {
  console.error(
    `cluster: port ${busy} on ${host} is in use (another cluster running?); stop it or choose --base-port`,
  );
  process.exit(1);
}

mkdirSync(dataDir, { recursive: true });
const clusterIdFile = join(dataDir, 'cluster.id');
if (!existsSync(clusterIdFile))
  writeFileSync(clusterIdFile, `${randomUUID().replaceAll('-', '').slice(0, 22)}\n`);
const clusterId = readFileSync(clusterIdFile, 'utf8').trim();
// The quorum's voters are static: a data dir made for N nodes holds a metadata log of N voters.
const nodeCountFile = join(dataDir, 'cluster.nodes');
if (existsSync(nodeCountFile)) {
  const recorded = Number(readFileSync(nodeCountFile, 'utf8').trim());
  if (recorded !== nodeCount) {
    console.error(
      `cluster: ${dataDir} holds a ${recorded}-node cluster; start it with --nodes ${recorded}, or use another --data-dir`,
    );
    process.exit(2);
  }
} else {
  writeFileSync(nodeCountFile, `${nodeCount}\n`);
}
const voters = nodeIds.map((id) => `${id}@${host}:${quorumPort(id)}`).join(',');

function writeNodeConfig(id) {
  const nodeDir = join(dataDir, `node-${id}`);
  mkdirSync(nodeDir, { recursive: true });
  const configPath = join(nodeDir, 'server.properties');
  const replicationFactor = Math.min(3, nodeCount);
  const properties = [
    '# Written by scripts/cluster.mjs; edited values are kept only until the next start.',
    `node.id=${id}`,
    'process.roles=broker,controller',
    `cluster.id=${clusterId}`,
    `listeners=PLAINTEXT://${host}:${kafkaPort(id)},CONTROLLER://${host}:${quorumPort(id)}`,
    `advertised.listeners=PLAINTEXT://${host}:${kafkaPort(id)}`,
    'controller.listener.names=CONTROLLER',
    `controller.quorum.voters=${voters}`,
    `log.dirs=${join(nodeDir, 'logs')}`,
    'num.partitions=3',
    // What it auto-creates is replicated (up to three copies), and acks=all needs two of them
    // whenever there are two to have, so one node can die without losing an acknowledged write.
    `default.replication.factor=${replicationFactor}`,
    `offsets.topic.replication.factor=${replicationFactor}`,
    `min.insync.replicas=${Math.min(2, replicationFactor)}`,
    '',
  ];
  writeFileSync(configPath, properties.join('\n'));
  return configPath;
}

/** @type {Map<number, import('node:child_process').ChildProcess>} running nodes by id */
const children = new Map();
/** @type {Map<number, NodeJS.Timeout>} nodes waiting to be restarted */
const restartTimers = new Map();
/** @type {Map<number, number>} when each node was last started (monotonic ms) */
const startedAtMs = new Map();
/** @type {Map<number, number>} how many times in a row each node died soon after starting */
const quickExitsInARow = new Map();
let stopping = false;
let exitCode = 0;

const say = (line) => process.stdout.write(`[cluster] ${line}\n`);
// A closed terminal (SIGHUP) makes writes fail: the nodes must still be stopped, so those errors
// are dropped rather than ending the launcher before it has done that.
process.stdout.on('error', () => undefined);
process.stderr.on('error', () => undefined);

function forwardOutput(stream, prefix) {
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) process.stdout.write(`${prefix}${line}\n`);
  });
}

function startNode(id) {
  const configPath = writeNodeConfig(id);
  // GREGOR_ALLOCATOR=jemalloc: jemalloc where installed; as brokerNodeFlags, the process's allocator
  // is chosen when it starts (packages/broker/README.md, "The allocator").
  const env = { ...process.env, ...allocatorEnvironment };
  if (process.stdout.isTTY && env.GREGOR_LOG_FORMAT === undefined) env.GREGOR_LOG_FORMAT = 'pretty';
  const child = spawn(
    process.execPath,
    [
      ...brokerNodeFlags,
      '--import',
      stopWithLauncher.href,
      cliPath,
      'broker',
      'start',
      '--config',
      configPath,
    ],
    {
      env,
      // stdin: the pipe the node watches to stop with the launcher; nothing is ever written to it.
      stdio: ['pipe', 'pipe', 'pipe'],
      // Its own process group: Ctrl-C and a closing terminal signal the launcher only, which then
      // stops every node in order, instead of each node on its own at the same instant.
      detached: true,
    },
  );
  const prefix = `[node-${id}] `;
  forwardOutput(child.stdout, prefix);
  forwardOutput(child.stderr, prefix);
  child.on('exit', (code, signal) => onNodeExit(id, child, code, signal));
  children.set(id, child);
  startedAtMs.set(id, performance.now());
  return child;
}

function onNodeExit(id, child, code, signal) {
  if (children.get(id) === child) children.delete(id);
  if (stopping) {
    if (children.size === 0) process.exit(exitCode);
    return;
  }
  const how = signal !== null ? `killed by ${signal}` : `exited with code ${code}`;
  if (restartAfterMs === undefined) {
    say(`node ${id} (pid ${child.pid}) ${how}; left down (--restart-after never)`);
    return;
  }
  const uptimeMs = performance.now() - (startedAtMs.get(id) ?? 0);
  const quickExits = uptimeMs < crashLoopUptimeMs ? (quickExitsInARow.get(id) ?? 0) + 1 : 0;
  quickExitsInARow.set(id, quickExits);
  // The first quick exit may be a kill -9 by a person: the usual delay. Each further one doubles it.
  const delayMs = Math.min(
    restartAfterMs * 2 ** Math.max(0, quickExits - 1),
    Math.max(restartAfterMs, crashLoopDelayMaxMs),
  );
  const backingOff =
    quickExits > 1
      ? ` (it died ${quickExits} times in a row within ${crashLoopUptimeMs / 1000} s of starting: backing off)`
      : '';
  say(`node ${id} (pid ${child.pid}) ${how}; restarting it in ${delayMs / 1000} s${backingOff}`);
  restartTimers.set(
    id,
    setTimeout(() => {
      restartTimers.delete(id);
      if (stopping) return;
      const restarted = startNode(id);
      say(`node ${id} restarted: pid ${restarted.pid}`);
      void announceWhenRejoined(id, restarted);
    }, delayMs),
  );
}

/** Prints the cluster again once a restarted node is listed by every broker. */
async function announceWhenRejoined(id, child) {
  try {
    await waitForCluster(bootstrap, nodeCount, rejoinTimeoutMs);
    if (children.get(id) === child && !stopping) {
      say(`node ${id} is back (pid ${child.pid})`);
      printNodes();
    }
  } catch (error) {
    if (children.get(id) === child && !stopping) say(`node ${id} has not rejoined yet: ${error.message}`);
  }
}

function printNodes() {
  say(`bootstrap servers: ${bootstrap.join(',')}`);
  for (const id of nodeIds) {
    const child = children.get(id);
    const pid = child === undefined ? 'down' : `pid ${child.pid}`;
    say(`  node ${id}: ${pid}, kafka ${host}:${kafkaPort(id)}, quorum ${host}:${quorumPort(id)}`);
  }
}

function stopAll(code) {
  if (stopping) return;
  stopping = true;
  exitCode = code;
  for (const timer of restartTimers.values()) clearTimeout(timer);
  restartTimers.clear();
  say('stopping the cluster (controlled shutdown of every node)...');
  if (children.size === 0) process.exit(code);
  for (const child of children.values()) child.kill('SIGTERM');
  setTimeout(() => {
    for (const [id, child] of children) {
      say(`node ${id} (pid ${child.pid}) did not stop within ${stopTimeoutMs / 1000} s; killing it`);
      child.kill('SIGKILL');
    }
    process.exit(code === 0 ? 1 : code);
  }, stopTimeoutMs).unref();
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => stopAll(0));

say(
  `starting ${nodeCount} Gregor node${nodeCount === 1 ? '' : 's'} (cluster ${clusterId}), data in ${dataDir}`,
);
for (const id of nodeIds) say(`node ${id} started: pid ${startNode(id).pid}`);

try {
  const { controllerId } = await waitForCluster(bootstrap, nodeCount, readyTimeoutMs);
  if (!stopping) {
    say('');
    say(
      `Gregor cluster ready: ${nodeCount} node${nodeCount === 1 ? '' : 's'}, active controller ${controllerId}.`,
    );
    printNodes();
    say(`try:  kcat -b ${bootstrap[0]} -L`);
    say(
      `      echo hello | kcat -b ${bootstrap[0]} -P -t greetings && kcat -b ${bootstrap[0]} -C -t greetings -e`,
    );
    say(
      restartAfterMs === undefined
        ? 'A node that dies stays down (--restart-after never).'
        : `kill -9 <pid> kills a node; it is restarted after ${restartAfterMs / 1000} s.`,
    );
    say('Ctrl-C stops the cluster; data stays in place for the next start.');
    say('');
  }
} catch (error) {
  if (!stopping) {
    say(`the cluster did not become ready: ${error.message}`);
    stopAll(1);
  }
}

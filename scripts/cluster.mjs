#!/usr/bin/env node
// Starts a local three-node Gregor cluster: brokers on 127.0.0.1:9092, 9093 and 9094 (Kafka
// protocol), each also a voter of the metadata quorum on 9192, 9193 and 9194 (gRPC). Data lives
// under ./data (or $GREGOR_DATA_DIR); a second start reuses it. Ctrl-C or SIGTERM stops every node
// cleanly (each hands over its leaderships first).
//
// Usage: npm run cluster            (builds first)
//        node scripts/cluster.mjs   (after npm run build)

import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitForCluster } from './lib/kafka-probe.mjs';

const repoRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));
const dataDir = resolve(process.env.GREGOR_DATA_DIR ?? join(repoRoot, 'data'));
const nodeCount = 3;
const host = '127.0.0.1';
const kafkaPort = (id) => 9091 + id;
const quorumPort = (id) => 9191 + id;
const cliPath = join(repoRoot, 'packages', 'cli', 'dist', 'main.js');
const stopTimeoutMs = 20_000;
const readyTimeoutMs = 60_000;

if (!existsSync(cliPath)) {
  console.error(`${cliPath} is missing: run "npm run build" first (or "npm run cluster", which builds).`);
  process.exit(1);
}

mkdirSync(dataDir, { recursive: true });
const clusterIdFile = join(dataDir, 'cluster.id');
if (!existsSync(clusterIdFile))
  writeFileSync(clusterIdFile, `${randomUUID().replaceAll('-', '').slice(0, 22)}\n`);
const clusterId = readFileSync(clusterIdFile, 'utf8').trim();
const voters = Array.from({ length: nodeCount }, (_, i) => `${i + 1}@${host}:${quorumPort(i + 1)}`).join(',');

function writeNodeConfig(id) {
  const nodeDir = join(dataDir, `node-${id}`);
  mkdirSync(nodeDir, { recursive: true });
  const configPath = join(nodeDir, 'server.properties');
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
    // A three-node cluster replicates what it auto-creates, and acks=all needs two copies.
    'default.replication.factor=3',
    'min.insync.replicas=2',
    '',
  ];
  writeFileSync(configPath, properties.join('\n'));
  return configPath;
}

const children = new Map();
let stopping = false;

function startNode(id) {
  const configPath = writeNodeConfig(id);
  const env = { ...process.env };
  if (process.stdout.isTTY && env.GREGOR_LOG_FORMAT === undefined) env.GREGOR_LOG_FORMAT = 'pretty';
  const child = spawn(process.execPath, [cliPath, 'broker', 'start', '--config', configPath], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const prefix = `[node-${id}] `;
  for (const stream of [child.stdout, child.stderr]) {
    let pending = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) process.stdout.write(`${prefix}${line}\n`);
    });
  }
  child.on('exit', (code, signal) => {
    children.delete(id);
    if (!stopping) {
      console.error(`${prefix}exited (${signal ?? `code ${code}`}); stopping the cluster`);
      void stopAll(1);
    } else if (children.size === 0) {
      process.exit(exitCode);
    }
  });
  children.set(id, child);
}

let exitCode = 0;
async function stopAll(code) {
  if (stopping) return;
  stopping = true;
  exitCode = code;
  console.log('Stopping the cluster (controlled shutdown of every node)...');
  for (const child of children.values()) child.kill('SIGTERM');
  if (children.size === 0) process.exit(code);
  setTimeout(() => {
    for (const child of children.values()) child.kill('SIGKILL');
    process.exit(code === 0 ? 1 : code);
  }, stopTimeoutMs).unref();
}

process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

console.log(`Starting ${nodeCount} Gregor nodes (cluster ${clusterId}), data in ${dataDir}`);
for (let id = 1; id <= nodeCount; id++) startNode(id);

const bootstrap = Array.from({ length: nodeCount }, (_, i) => `${host}:${kafkaPort(i + 1)}`);
try {
  const { controllerId, brokerIds } = await waitForCluster(bootstrap, nodeCount, readyTimeoutMs);
  console.log('');
  console.log(`Gregor cluster ready: brokers ${brokerIds.join(', ')}, active controller ${controllerId}.`);
  console.log(`  bootstrap servers: ${bootstrap.join(',')}`);
  console.log(`  try:  kcat -b ${bootstrap[0]} -L`);
  console.log(
    `        echo hello | kcat -b ${bootstrap[0]} -P -t greetings && kcat -b ${bootstrap[0]} -C -t greetings -e`,
  );
  console.log('Ctrl-C stops it; data stays in place for the next start.');
  console.log('');
} catch (error) {
  console.error(`The cluster did not become ready: ${error.message}`);
  await stopAll(1);
}

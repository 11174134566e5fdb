// A throwaway local Gregor cluster for benchmarks: `nodeCount` processes of
// `node packages/cli/dist/main.js broker start`, each a broker and a metadata quorum voter, on
// loopback with data in a temporary directory (removed on close). Default settings except what a
// benchmark names in `properties`. Nodes can be killed with SIGKILL and restarted on the same data.
// Each node's warn-level log lines are parsed so a benchmark can see fencing.
//
// Ports: every node binds port 0 and writes what it got to `bound-ports`; the cluster reads it and
// writes the voters' addresses to the file the nodes read (gregor.controller.quorum.voters.file), as
// the test fixture does (packages/broker/src/testing/process-cluster.ts). A restarted node gets new
// ports; `kafkaPort`, `quorumPort` and `address` follow.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  boundListenersFileName,
  brokerAllocatorEnvironment,
  brokerNodeFlags,
  readBoundListeners,
} from '../../packages/broker/dist/index.js';
import { describeCluster } from './kafka-probe.mjs';

const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const cliPath = join(repoRoot, 'packages', 'cli', 'dist', 'main.js');

/** Output chunks kept per node for post-mortems; older ones are dropped. */
const outputChunksMax = 2_000;
/** Poll interval of the readiness probe. */
const readyPollMs = 200;
/** How long a starting node may take to bind its listeners and write `bound-ports`. */
const bindWaitMsMax = 30_000;
const bindPollMs = 10;

/**
 * @typedef {object} BenchNode
 * @property {number} id
 * @property {number} kafkaPort          bound by the running (or last) process; 0 before the first start
 * @property {number} quorumPort
 * @property {string} address            host:port of the Kafka listener
 * @property {string} dataDir
 * @property {string} logDir             where the node writes `bound-ports`
 * @property {string} configPath
 * @property {import('node:child_process').ChildProcess | undefined} child
 * @property {string[]} output           raw output chunks (bounded)
 * @property {string} pendingLine        an incomplete last line of output
 */

/**
 * @typedef {object} LogEvent
 * @property {number} nodeId   the node that logged it
 * @property {number} atMs     performance.now() when the bench read it
 * @property {Record<string, unknown>} entry  the parsed pino line
 */

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

/**
 * BENCH_BROKER_ENV: environment variables for the brokers only, as space-separated NAME=value
 * pairs, e.g. "LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 MALLOC_CONF=background_thread:true"
 * to run them on another allocator without the benchmark's own process (the client) running on it.
 * An empty value ("GREGOR_MALLOC=") sets the variable to the empty string.
 * @returns {Record<string, string>}
 */
export function brokerEnvironment(spec = process.env.BENCH_BROKER_ENV ?? '') {
  /** @type {Record<string, string>} */
  const environment = {};
  for (const pair of spec.split(' ').filter((entry) => entry !== '')) {
    const equals = pair.indexOf('=');
    if (equals <= 0) throw new Error(`BENCH_BROKER_ENV: "${pair}" is not NAME=value`);
    environment[pair.slice(0, equals)] = pair.slice(equals + 1);
  }
  return environment;
}

export class BenchCluster {
  /** @type {BenchNode[]} */
  nodes = [];
  /** @type {LogEvent[]} warn-or-worse lines from every node, in arrival order */
  warnings = [];
  rootDir = mkdtempSync(join(tmpdir(), 'gregor-bench-'));
  clusterId = `bench-${Math.random().toString(36).slice(2, 10)}`;
  votersFile = join(this.rootDir, 'quorum-voters');

  /**
   * @param {{ nodeCount: number, properties?: Record<string, string>, readyTimeoutMs?: number }} options
   */
  static async start(options) {
    if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run "npm run build" first`);
    const cluster = new BenchCluster();
    for (let id = 1; id <= options.nodeCount; id++) {
      const dataDir = join(cluster.rootDir, `node-${id}`);
      mkdirSync(dataDir, { recursive: true });
      cluster.nodes.push({
        id,
        kafkaPort: 0,
        quorumPort: 0,
        address: '',
        dataDir,
        logDir: join(dataDir, 'logs'),
        configPath: join(dataDir, 'server.properties'),
        child: undefined,
        output: [],
        pendingLine: '',
      });
    }
    const voters = cluster.nodes.map((node) => `${node.id}@127.0.0.1:0`).join(',');
    for (const node of cluster.nodes) {
      const properties = {
        'node.id': String(node.id),
        'process.roles': 'broker,controller',
        'cluster.id': cluster.clusterId,
        listeners: 'PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0',
        'controller.quorum.voters': voters,
        'gregor.controller.quorum.voters.file': cluster.votersFile,
        'log.dirs': node.logDir,
        ...options.properties,
      };
      writeFileSync(
        node.configPath,
        `${Object.entries(properties)
          .map(([key, value]) => `${key}=${value}`)
          .join('\n')}\n`,
      );
    }
    try {
      for (const node of cluster.nodes) cluster.spawn(node);
      await Promise.all(cluster.nodes.map((node) => cluster.waitBound(node)));
      cluster.writeVoters();
      await cluster.waitReady(options.readyTimeoutMs ?? 60_000);
    } catch (error) {
      await cluster.close();
      throw error;
    }
    return cluster;
  }

  /** Writes every node's CONTROLLER address to the voters file (atomically: the nodes poll it). */
  writeVoters() {
    const voters = this.nodes.map((node) => `${node.id}@127.0.0.1:${node.quorumPort}`).join(',');
    writeFileSync(`${this.votersFile}.tmp`, voters);
    renameSync(`${this.votersFile}.tmp`, this.votersFile);
  }

  /** Waits for the node's process to write `bound-ports` and takes its ports. @param {BenchNode} node */
  async waitBound(node) {
    const deadline = Date.now() + bindWaitMsMax;
    for (;;) {
      const bound = readBoundListeners(node.logDir);
      if (bound !== undefined) {
        node.kafkaPort = bound.find((listener) => listener.name === 'PLAINTEXT').port;
        node.quorumPort = bound.find((listener) => listener.name === 'CONTROLLER').port;
        node.address = `127.0.0.1:${node.kafkaPort}`;
        return;
      }
      const child = node.child;
      if (
        child === undefined ||
        child.exitCode !== null ||
        child.signalCode !== null ||
        Date.now() > deadline
      )
        throw new Error(`node ${node.id} did not bind its listeners\n${this.tail()}`);
      await sleep(bindPollMs);
    }
  }

  /** @param {number} id */
  node(id) {
    const node = this.nodes.find((candidate) => candidate.id === id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  get running() {
    return this.nodes.filter((node) => node.child !== undefined);
  }

  /** @param {BenchNode} node */
  spawn(node) {
    // A leftover file from the previous process must not be taken for this one's ports.
    rmSync(join(node.logDir, boundListenersFileName), { force: true });
    // BENCH_NODE_ARGS: extra Node flags for the brokers, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"
    // to profile them under a benchmark's load (NODE_OPTIONS refuses --cpu-prof).
    const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter((arg) => arg !== '');
    // brokerNodeFlags: the flags `gregor` starts a broker with (its shebang), so the bench measures
    // that; BENCH_NODE_ARGS come after them and win (--max-semi-space-size=16 is V8's default).
    const args = [...brokerNodeFlags, ...nodeArgs, cliPath, 'broker', 'start', '--config', node.configPath];
    const child = spawn(process.execPath, args, {
      // warn: the bench reads fencing warnings, and info-level logging would cost the brokers CPU.
      // brokerAllocatorEnvironment: as the launchers start brokers (the system's malloc by default);
      // BENCH_BROKER_ENV=GREGOR_ALLOCATOR=jemalloc measures jemalloc.
      env: {
        ...process.env,
        ...brokerAllocatorEnvironment({ ...process.env, ...brokerEnvironment() }),
        ...brokerEnvironment(),
        GREGOR_LOG_FORMAT: 'json',
        GREGOR_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk) => {
      const text = chunk.toString('utf8');
      node.output.push(text);
      if (node.output.length > outputChunksMax) node.output.splice(0, outputChunksMax / 4);
      const lines = (node.pendingLine + text).split('\n');
      node.pendingLine = lines.pop() ?? '';
      for (const line of lines) this.parseLine(node.id, line);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    node.child = child;
  }

  /** @param {number} nodeId @param {string} line */
  parseLine(nodeId, line) {
    if (!line.startsWith('{')) return;
    try {
      const entry = JSON.parse(line);
      // pino levels: 40 warn, 50 error, 60 fatal.
      if (typeof entry.level === 'number' && entry.level >= 40)
        this.warnings.push({ nodeId, atMs: performance.now(), entry });
    } catch {
      // not a log line
    }
  }

  /** kill -9: no controlled shutdown, no flush. @param {number} id */
  async kill(id) {
    const node = this.node(id);
    const child = node.child;
    if (child === undefined) return;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }
    node.child = undefined;
  }

  /**
   * Starts a killed node again on the same data; resolves once its new ports are known and in the
   * voters file (not when it is ready). @param {number} id
   */
  async restart(id) {
    const node = this.node(id);
    if (node.child !== undefined) throw new Error(`node ${id} is running`);
    this.spawn(node);
    await this.waitBound(node);
    this.writeVoters();
  }

  /** Waits until every running node lists every running node as a live (unfenced) broker. */
  async waitReady(timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    let last = 'no node answered yet';
    while (Date.now() < deadline) {
      const running = this.running;
      const expected = running.map((node) => node.id).sort();
      try {
        const views = await Promise.all(running.map((node) => describeCluster(node.address)));
        if (
          views.every((view) => view.controllerId >= 0 && expected.every((id) => view.brokerIds.includes(id)))
        )
          return views[0];
        last = `brokers see ${views.map((view) => `[${view.brokerIds.join(',')}]`).join(' ')}`;
      } catch (error) {
        last = error.message;
      }
      await sleep(readyPollMs);
    }
    throw new Error(`cluster not ready after ${timeoutMs} ms: ${last}\n${this.tail()}`);
  }

  /** The last lines every node printed (for failure messages). */
  tail(lines = 20) {
    return this.nodes
      .map((node) => `--- node ${node.id} ---\n${node.output.join('').split('\n').slice(-lines).join('\n')}`)
      .join('\n');
  }

  /** Controlled shutdown (SIGTERM), SIGKILL after 15 s: lets --cpu-prof write its profile. @param {number} id */
  async stop(id) {
    const node = this.node(id);
    const child = node.child;
    if (child === undefined) return;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    }
    node.child = undefined;
  }

  async close() {
    await Promise.all(this.nodes.map((node) => this.stop(node.id)));
    rmSync(this.rootDir, { recursive: true, force: true });
  }
}

// A throwaway local Gregor cluster for benchmarks: `nodeCount` processes of
// `node packages/cli/dist/main.js broker start`, each a broker and a metadata quorum voter, on free
// loopback ports with data in a temporary directory (removed on close). Default settings except
// what a benchmark names in `properties`. Nodes can be killed with SIGKILL and restarted on the same
// data and ports. Each node's warn-level log lines are parsed so a benchmark can see fencing.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeCluster } from './kafka-probe.mjs';

const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const cliPath = join(repoRoot, 'packages', 'cli', 'dist', 'main.js');

/** Output chunks kept per node for post-mortems; older ones are dropped. */
const outputChunksMax = 2_000;
/** Poll interval of the readiness probe. */
const readyPollMs = 200;

/**
 * @typedef {object} BenchNode
 * @property {number} id
 * @property {number} kafkaPort
 * @property {number} quorumPort
 * @property {string} address            host:port of the Kafka listener
 * @property {string} dataDir
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

async function freePort() {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address());
  await new Promise((done) => server.close(done));
  return port;
}

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

export class BenchCluster {
  /** @type {BenchNode[]} */
  nodes = [];
  /** @type {LogEvent[]} warn-or-worse lines from every node, in arrival order */
  warnings = [];
  rootDir = mkdtempSync(join(tmpdir(), 'gregor-bench-replication-'));
  clusterId = `bench-${Math.random().toString(36).slice(2, 10)}`;

  /**
   * @param {{ nodeCount: number, properties?: Record<string, string>, readyTimeoutMs?: number }} options
   */
  static async start(options) {
    if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run "npm run build" first`);
    const cluster = new BenchCluster();
    for (let id = 1; id <= options.nodeCount; id++) {
      const dataDir = join(cluster.rootDir, `node-${id}`);
      mkdirSync(dataDir, { recursive: true });
      const kafkaPort = await freePort();
      cluster.nodes.push({
        id,
        kafkaPort,
        quorumPort: await freePort(),
        address: `127.0.0.1:${kafkaPort}`,
        dataDir,
        configPath: join(dataDir, 'server.properties'),
        child: undefined,
        output: [],
        pendingLine: '',
      });
    }
    const voters = cluster.nodes.map((node) => `${node.id}@127.0.0.1:${node.quorumPort}`).join(',');
    for (const node of cluster.nodes) {
      const properties = {
        'node.id': String(node.id),
        'process.roles': 'broker,controller',
        'cluster.id': cluster.clusterId,
        listeners: `PLAINTEXT://127.0.0.1:${node.kafkaPort},CONTROLLER://127.0.0.1:${node.quorumPort}`,
        'controller.quorum.voters': voters,
        'log.dirs': join(node.dataDir, 'logs'),
        ...options.properties,
      };
      writeFileSync(
        node.configPath,
        `${Object.entries(properties)
          .map(([key, value]) => `${key}=${value}`)
          .join('\n')}\n`,
      );
    }
    for (const node of cluster.nodes) cluster.spawn(node);
    await cluster.waitReady(options.readyTimeoutMs ?? 60_000);
    return cluster;
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
    const child = spawn(process.execPath, [cliPath, 'broker', 'start', '--config', node.configPath], {
      // warn: the bench reads fencing warnings, and info-level logging would cost the brokers CPU.
      env: { ...process.env, GREGOR_LOG_FORMAT: 'json', GREGOR_LOG_LEVEL: 'warn' },
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

  /** Starts a killed node again on the same data and ports. @param {number} id */
  restart(id) {
    const node = this.node(id);
    if (node.child !== undefined) throw new Error(`node ${id} is running`);
    this.spawn(node);
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

  async close() {
    await Promise.all(this.nodes.map((node) => this.kill(node.id)));
    rmSync(this.rootDir, { recursive: true, force: true });
  }
}

// Real Gregor nodes as separate processes on loopback, for integration tests: each node is
// `node packages/cli/dist/main.js broker start --config ...` (so `npm run build` must have run),
// on free ports, with its data in a temporary directory. Nodes can be killed with SIGKILL
// (kill -9), stopped with SIGTERM (controlled shutdown) and restarted on the same data.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiKey, KafkaConnection } from '@gregor/client';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
export const cliPath = join(repoRoot, 'packages', 'cli', 'dist', 'main.js');

/** A free TCP port on 127.0.0.1 (bound and released; fine for tests on one machine). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

/** Exited by itself or by a signal: `exitCode` alone stays null for a signalled child. */
function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

export interface ClusterNode {
  readonly id: number;
  readonly kafkaPort: number;
  readonly quorumPort: number;
  readonly dataDir: string;
  readonly configPath: string;
  process: ChildProcess | undefined;
  /** Everything the process printed, for post-mortems. */
  output: string[];
}

export interface ProcessClusterOptions {
  readonly nodeCount: number;
  /** Extra server.properties lines for every node. */
  readonly properties?: Readonly<Record<string, string>>;
  /** A command the node runs under, e.g. `['prlimit', '--nofile=256:256', '--']`. */
  readonly commandPrefix?: readonly string[];
  /** How long start() waits for every node to be ready. */
  readonly readyTimeoutMs?: number;
}

export class ProcessCluster {
  readonly nodes: ClusterNode[] = [];
  readonly rootDir: string;
  readonly clusterId = `it-${Math.random().toString(36).slice(2, 10)}`;

  private constructor(private readonly options: ProcessClusterOptions) {
    this.rootDir = mkdtempSync(join(tmpdir(), 'gregor-it-'));
  }

  static async start(options: ProcessClusterOptions): Promise<ProcessCluster> {
    if (!existsSync(cliPath))
      throw new Error(`${cliPath} is missing: run npm run build before integration tests`);
    const cluster = new ProcessCluster(options);
    for (let id = 1; id <= options.nodeCount; id++) {
      const dataDir = join(cluster.rootDir, `node-${id}`);
      mkdirSync(dataDir, { recursive: true });
      cluster.nodes.push({
        id,
        kafkaPort: await freePort(),
        quorumPort: await freePort(),
        dataDir,
        configPath: join(dataDir, 'server.properties'),
        process: undefined,
        output: [],
      });
    }
    for (const node of cluster.nodes) cluster.writeConfig(node);
    for (const node of cluster.nodes) cluster.spawnNode(node);
    await cluster.waitReady(options.readyTimeoutMs);
    return cluster;
  }

  get bootstrap(): string {
    return this.nodes.map((node) => `127.0.0.1:${node.kafkaPort}`).join(',');
  }

  node(id: number): ClusterNode {
    const node = this.nodes.find((candidate) => candidate.id === id);
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  private writeConfig(node: ClusterNode): void {
    const voters = this.nodes.map((other) => `${other.id}@127.0.0.1:${other.quorumPort}`).join(',');
    const properties: Record<string, string> = {
      'node.id': String(node.id),
      'process.roles': 'broker,controller',
      'cluster.id': this.clusterId,
      listeners: `PLAINTEXT://127.0.0.1:${node.kafkaPort},CONTROLLER://127.0.0.1:${node.quorumPort}`,
      'controller.quorum.voters': voters,
      'log.dirs': join(node.dataDir, 'logs'),
      ...this.options.properties,
    };
    writeFileSync(
      node.configPath,
      Object.entries(properties)
        .map(([key, value]) => `${key}=${value}`)
        .join('\n'),
    );
  }

  private spawnNode(node: ClusterNode): void {
    const [command, ...prefixArgs] = [
      ...(this.options.commandPrefix ?? []),
      process.execPath,
      cliPath,
      'broker',
      'start',
      '--config',
      node.configPath,
    ];
    const child = spawn(command!, prefixArgs, {
      env: {
        ...process.env,
        GREGOR_LOG_FORMAT: 'json',
        GREGOR_LOG_LEVEL: process.env.GREGOR_IT_LOG_LEVEL ?? 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => {
      node.output.push(chunk.toString('utf8'));
      if (node.output.length > 5_000) node.output.splice(0, 1_000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    node.process = child;
  }

  /** kill -9: no controlled shutdown, no flush. */
  async kill(id: number): Promise<void> {
    const node = this.node(id);
    const child = node.process;
    // A child that already died (exit code, or a signal such as SIGABRT) will never emit 'exit' again.
    if (child === undefined || hasExited(child)) {
      node.process = undefined;
      return;
    }
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
    node.process = undefined;
  }

  /** SIGTERM: controlled shutdown; resolves with the exit code. */
  async stop(id: number): Promise<number | null> {
    const node = this.node(id);
    const child = node.process;
    if (child === undefined || hasExited(child)) return child?.exitCode ?? null;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code] = (await exited) as [number | null];
    node.process = undefined;
    return code;
  }

  /** Starts a stopped or killed node again on the same data and ports. */
  restart(id: number): void {
    const node = this.node(id);
    if (node.process !== undefined && !hasExited(node.process)) throw new Error(`node ${id} is running`);
    this.spawnNode(node);
  }

  /** The Metadata (v1) view of one broker: live brokers and the controller. */
  async describe(id: number): Promise<{ controllerId: number; brokerIds: number[] }> {
    const connection = await KafkaConnection.open({
      host: '127.0.0.1',
      port: this.node(id).kafkaPort,
      connectTimeoutMs: 1000,
    });
    try {
      const metadata = await connection.call(ApiKey.Metadata, 1, { topics: [] }, 2000);
      return {
        controllerId: metadata.controllerId,
        brokerIds: metadata.brokers.map((broker) => broker.nodeId).sort(),
      };
    } finally {
      connection.close();
    }
  }

  /** Waits until every running node lists every running node as a live broker. */
  async waitReady(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      const running = this.nodes.filter((node) => node.process !== undefined && !hasExited(node.process));
      try {
        const views = await Promise.all(running.map((node) => this.describe(node.id)));
        const expected = running.map((node) => node.id).sort();
        if (
          views.every((view) => view.controllerId >= 0 && expected.every((id) => view.brokerIds.includes(id)))
        )
          return;
        last = JSON.stringify(views);
      } catch (error) {
        last = (error as Error).message;
      }
      await new Promise((done) => setTimeout(done, 200));
    }
    throw new Error(`cluster not ready after ${timeoutMs} ms: ${last}\n${this.tail()}`);
  }

  /** The last lines every node printed (for failure messages). */
  tail(lines = 30): string {
    return this.nodes
      .map((node) => `--- node ${node.id} ---\n${node.output.join('').split('\n').slice(-lines).join('\n')}`)
      .join('\n');
  }

  async close(): Promise<void> {
    await Promise.all(this.nodes.map((node) => this.kill(node.id)));
    rmSync(this.rootDir, { recursive: true, force: true });
  }
}

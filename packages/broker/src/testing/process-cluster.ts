// Real Gregor nodes as separate processes on loopback, for integration tests: each node is
// `node packages/cli/dist/main.js broker start --config ...` (so `npm run build` must have run),
// with its data in a temporary directory. Nodes can be killed with SIGKILL (kill -9), stopped with
// SIGTERM (controlled shutdown) and restarted on the same data.
//
// Ports: every node binds port 0 for both listeners, so no port is ever chosen here and bound later
// by someone else. Each node writes the ports it got to `bound-ports`; the fixture reads them and
// writes the voters' addresses to the file every node reads through
// gregor.controller.quorum.voters.file (the nodes wait for it before the quorum forms). A restarted
// node gets new ports; the file is rewritten and the other nodes follow it.

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiKey, KafkaConnection } from '@gregor/client';
import { waitFor } from '@gregor/ground/testing';
import { brokerAllocatorEnvironment } from '../node/allocator.js';
import { boundListenersFileName, readBoundListeners, readBoundMetricsPort } from '../node/bound-listeners.js';
import { brokerNodeFlags } from '../node/node-flags.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
export const cliPath = join(repoRoot, 'packages', 'cli', 'dist', 'main.js');

/** What a `gregor` command printed and its exit code (-1 when it was killed at its timeout). */
export interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the built `gregor` CLI with `args`; resolves whatever its exit code. */
export function runGregorCli(args: readonly string[], timeoutMs: number): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cliPath, ...args],
      { encoding: 'utf8', timeout: timeoutMs },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
/** How long a starting node may take to bind its listeners and write `bound-ports`. */
const bindWaitMsMax = 30_000;
const bindPollMs = 10;

/** Exited by itself or by a signal: `exitCode` alone stays null for a signalled child. */
function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

export interface ClusterNode {
  readonly id: number;
  /** The ports the running (or last) process bound; 0 before its first start. */
  kafkaPort: number;
  quorumPort: number;
  /** The metrics HTTP port (gregor.metrics.port) the process bound; 0 when metrics are off. */
  metricsPort: number;
  /** Every listener's bound port by name (PLAINTEXT, CONTROLLER and any other `listeners` entry). */
  listenerPorts: Record<string, number>;
  readonly dataDir: string;
  /** Where the node writes `bound-ports` (its metadata log dir: the first log dir). */
  readonly logDir: string;
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
  /** Extra server.properties lines for one node (over `properties`), e.g. its own `log.dirs`. */
  readonly nodeProperties?: (nodeId: number, dataDir: string) => Readonly<Record<string, string>>;
  /** Extra environment variables of every node's process, e.g. KAFKA_OPTS. */
  readonly env?: Readonly<Record<string, string>>;
}

export class ProcessCluster {
  readonly nodes: ClusterNode[] = [];
  readonly rootDir: string;
  readonly clusterId = `it-${Math.random().toString(36).slice(2, 10)}`;
  /** gregor.controller.quorum.voters.file of every node. */
  readonly votersFile: string;

  private constructor(private readonly options: ProcessClusterOptions) {
    this.rootDir = mkdtempSync(join(tmpdir(), 'gregor-it-'));
    this.votersFile = join(this.rootDir, 'quorum-voters');
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
        kafkaPort: 0,
        quorumPort: 0,
        metricsPort: 0,
        listenerPorts: {},
        dataDir,
        logDir: join(dataDir, 'logs'),
        configPath: join(dataDir, 'server.properties'),
        process: undefined,
        output: [],
      });
    }
    for (const node of cluster.nodes) cluster.writeConfig(node);
    try {
      for (const node of cluster.nodes) cluster.spawnNode(node);
      await Promise.all(cluster.nodes.map((node) => cluster.waitBound(node)));
      cluster.writeVoters();
      await cluster.waitReady(options.readyTimeoutMs);
    } catch (error) {
      await cluster.close();
      throw error;
    }
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
    const properties: Record<string, string> = {
      'node.id': String(node.id),
      'process.roles': 'broker,controller',
      'cluster.id': this.clusterId,
      listeners: 'PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0',
      'controller.quorum.voters': this.nodes.map((other) => `${other.id}@127.0.0.1:0`).join(','),
      'gregor.controller.quorum.voters.file': this.votersFile,
      'log.dirs': node.logDir,
      ...this.options.properties,
      ...this.options.nodeProperties?.(node.id, node.dataDir),
    };
    writeFileSync(
      node.configPath,
      Object.entries(properties)
        .map(([key, value]) => `${key}=${value}`)
        .join('\n'),
    );
  }

  /** Writes every node's CONTROLLER address to the voters file (atomically: the nodes poll it). */
  private writeVoters(): void {
    const voters = this.nodes.map((node) => `${node.id}@127.0.0.1:${node.quorumPort}`).join(',');
    writeFileSync(`${this.votersFile}.tmp`, voters);
    renameSync(`${this.votersFile}.tmp`, this.votersFile);
  }

  /** Waits for the node's process to write `bound-ports`, and takes its ports from it. */
  private async waitBound(node: ClusterNode): Promise<void> {
    const deadline = Date.now() + bindWaitMsMax;
    for (;;) {
      const bound = readBoundListeners(node.logDir);
      if (bound !== undefined) {
        node.kafkaPort = bound.find((listener) => listener.name === 'PLAINTEXT')!.port;
        node.quorumPort = bound.find((listener) => listener.name === 'CONTROLLER')!.port;
        node.metricsPort = readBoundMetricsPort(node.logDir) ?? 0;
        node.listenerPorts = Object.fromEntries(bound.map((listener) => [listener.name, listener.port]));
        return;
      }
      const child = node.process;
      if (child === undefined || hasExited(child) || Date.now() > deadline) {
        throw new Error(`node ${node.id} did not bind its listeners\n${this.tail()}`);
      }
      await new Promise((done) => setTimeout(done, bindPollMs));
    }
  }

  private spawnNode(node: ClusterNode): void {
    // A leftover file from the previous process must not be taken for this one's ports.
    rmSync(join(node.logDir, boundListenersFileName), { force: true });
    const [command, ...prefixArgs] = [
      ...(this.options.commandPrefix ?? []),
      process.execPath,
      ...brokerNodeFlags,
      cliPath,
      'broker',
      'start',
      '--config',
      node.configPath,
    ];
    const child = spawn(command!, prefixArgs, {
      env: {
        ...process.env,
        // GREGOR_ALLOCATOR=jemalloc: jemalloc where installed, as the launchers start brokers.
        ...brokerAllocatorEnvironment({ ...process.env, ...this.options.env }),
        ...this.options.env,
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
    // A node that dies on its own (a crash, the OOM killer) or is frozen says nothing itself: the
    // post-mortem has to show it, or a failed test only shows a log that stops.
    child.on('exit', (code, signal) => {
      keep(
        Buffer.from(
          `[process ${child.pid} exited: code ${code}, signal ${signal}, ${new Date().toISOString()}]\n`,
        ),
      );
    });
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

  /**
   * Starts a stopped or killed node again on the same data. It binds new ports: resolves once they
   * are known (`kafkaPort`, `quorumPort`, `bootstrap`) and in the voters file, not when it is ready.
   */
  async restart(id: number): Promise<void> {
    const node = this.node(id);
    if (node.process !== undefined && !hasExited(node.process)) throw new Error(`node ${id} is running`);
    this.spawnNode(node);
    await this.waitBound(node);
    this.writeVoters();
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
    let last = '';
    await waitFor(
      'every running node to list every running node as a live broker',
      async () => {
        const running = this.nodes.filter((node) => node.process !== undefined && !hasExited(node.process));
        const views = await Promise.all(running.map((node) => this.describe(node.id)));
        const expected = running.map((node) => node.id).sort();
        last = JSON.stringify(views);
        return views.every(
          (view) => view.controllerId >= 0 && expected.every((id) => view.brokerIds.includes(id)),
        );
      },
      { timeoutMs, intervalMs: 200, detail: () => `${last}\n${this.tail()}` },
    );
  }

  /** The last lines every node printed (for failure messages). */
  tail(lines = 30): string {
    return this.nodes
      .map(
        (node) =>
          `--- node ${node.id} (${processState(node.process)}) ---\n${node.output.join('').split('\n').slice(-lines).join('\n')}`,
      )
      .join('\n');
  }

  async close(): Promise<void> {
    await Promise.all(this.nodes.map((node) => this.kill(node.id)));
    rmSync(this.rootDir, { recursive: true, force: true });
  }
}

/**
 * What the kernel says of a node's process (Linux): its state letter (R running, S sleeping, T
 * stopped, Z zombie) and the CPU seconds it used, so a post-mortem tells a busy loop from a frozen
 * or a dead process.
 */
function processState(child: ChildProcess | undefined): string {
  if (child === undefined) return 'not running';
  if (hasExited(child)) return `exited: code ${child.exitCode}, signal ${child.signalCode}`;
  try {
    const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
    // Fields after the parenthesised command name: state is the 3rd, utime and stime the 14th and 15th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuSeconds = (Number(fields[11]) + Number(fields[12])) / 100;
    return `pid ${child.pid}, state ${fields[0]}, cpu ${cpuSeconds.toFixed(1)} s`;
  } catch {
    return `pid ${child.pid}`;
  }
}

// Gregor nodes as separate processes (`node packages/cli/dist/main.js broker start`, so
// `npm run build` must have run), for the client tests that want a broker outside the test's own
// event loop and a kill -9 that is a real one. Every listener binds port 0; each node writes what it
// got to `bound-ports`, and the voters' addresses go to the file the nodes read
// (gregor.controller.quorum.voters.file), as the broker's own process fixture does.
//
// For post-mortems: with GREGOR_IT_KEEP=1 each node's output goes to `node.log` in its log dir and
// the cluster's directory (data, logs, checkpoints) is kept after the test; GREGOR_IT_LOG_LEVEL sets
// the nodes' log level (warn otherwise).

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@gregor/ground/testing';
import { ApiKey } from '@gregor/protocol';
import type { Admin } from '../admin.js';
import { KafkaConnection } from '../connection.js';
import { Kafka } from '../kafka.js';
import { logLevel } from '../logger.js';

const keepClusterDir = process.env.GREGOR_IT_KEEP === '1';
const cliPath = resolve(fileURLToPath(new URL('../../../cli/dist/main.js', import.meta.url)));

interface Node {
  readonly id: number;
  readonly logDir: string;
  readonly configPath: string;
  kafkaPort: number;
  quorumPort: number;
  /** Every listener's bound port by name (PLAINTEXT, SASL_SSL...). */
  listenerPorts: Record<string, number>;
  child: ChildProcess | undefined;
}

function boundPorts(
  logDir: string,
): { kafka: number; quorum: number; listeners: Record<string, number> } | undefined {
  let text: string;
  try {
    text = readFileSync(join(logDir, 'bound-ports'), 'utf8');
  } catch {
    return undefined;
  }
  const listeners = /listeners=(.*)/.exec(text)?.[1] ?? '';
  const port = (name: string) => Number(new RegExp(`${name}://[^,]*:(\\d+)`).exec(listeners)?.[1]);
  const byName = Object.fromEntries(
    [...listeners.matchAll(/([A-Z_]+):\/\/[^,]*:(\d+)/g)].map((match) => [match[1]!, Number(match[2])]),
  );
  return { kafka: port('PLAINTEXT'), quorum: port('CONTROLLER'), listeners: byName };
}

export interface BrokerProcessesOptions {
  /** server.properties entries added to (or replacing) the defaults: listeners, SSL, SASL... */
  readonly properties?: Readonly<Record<string, string>>;
}

export class BrokerProcesses {
  private readonly nodes: Node[] = [];
  private readonly rootDir = mkdtempSync(join(tmpdir(), 'gregor-client-it-'));
  private readonly votersFile = join(this.rootDir, 'quorum-voters');

  private constructor(nodeCount: number, options: BrokerProcessesOptions) {
    const clusterId = `client-it-${process.pid}`;
    for (let id = 1; id <= nodeCount; id++) {
      const logDir = join(this.rootDir, `node-${id}`);
      mkdirSync(logDir, { recursive: true });
      const node: Node = {
        id,
        logDir,
        configPath: join(logDir, 'server.properties'),
        kafkaPort: 0,
        quorumPort: 0,
        listenerPorts: {},
        child: undefined,
      };
      const replication = String(Math.min(3, nodeCount));
      writeFileSync(
        node.configPath,
        Object.entries({
          'node.id': String(id),
          'process.roles': 'broker,controller',
          'cluster.id': clusterId,
          listeners: 'PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0',
          'controller.quorum.voters': Array.from(
            { length: nodeCount },
            (_, i) => `${i + 1}@127.0.0.1:0`,
          ).join(','),
          'gregor.controller.quorum.voters.file': this.votersFile,
          'log.dirs': logDir,
          'default.replication.factor': replication,
          'offsets.topic.replication.factor': replication,
          'offsets.topic.num.partitions': '3',
          'min.insync.replicas': String(Math.min(2, nodeCount)),
          ...options.properties,
        })
          .map(([key, value]) => `${key}=${value}`)
          .join('\n'),
      );
      this.nodes.push(node);
    }
  }

  static async start(nodeCount: number, options: BrokerProcessesOptions = {}): Promise<BrokerProcesses> {
    const cluster = new BrokerProcesses(nodeCount, options);
    try {
      for (const node of cluster.nodes) cluster.spawn(node);
      await Promise.all(cluster.nodes.map((node) => cluster.waitBound(node)));
      cluster.writeVoters();
      await cluster.waitServing(nodeCount);
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  get bootstrapServers(): string[] {
    return this.nodes.map((node) => `127.0.0.1:${node.kafkaPort}`);
  }

  address(id: number): string {
    return `127.0.0.1:${this.nodes[id - 1]!.kafkaPort}`;
  }

  /** host:port of node `id`'s listener `name` (as in `listeners`: SASL_SSL, SSL...). */
  listenerAddress(id: number, name: string): string {
    const port = this.nodes[id - 1]!.listenerPorts[name];
    if (port === undefined) throw new Error(`node ${id} has no listener ${name}`);
    return `127.0.0.1:${port}`;
  }

  /** The `gregor` command line, run against node 1's PLAINTEXT listener (`gregor users ...`). */
  cli(args: readonly string[]): string {
    return execFileSync(process.execPath, [cliPath, ...args, '--bootstrap-server', this.address(1)], {
      encoding: 'utf8',
      timeout: 60_000,
    });
  }

  private spawn(node: Node): void {
    rmSync(join(node.logDir, 'bound-ports'), { force: true });
    const output = keepClusterDir ? openSync(join(node.logDir, 'node.log'), 'a') : undefined;
    node.child = spawn(process.execPath, [cliPath, 'broker', 'start', '--config', node.configPath], {
      env: { ...process.env, GREGOR_LOG_LEVEL: process.env.GREGOR_IT_LOG_LEVEL ?? 'warn' },
      stdio: output === undefined ? 'ignore' : ['ignore', output, output],
    });
    // The child has its own copy of the descriptor.
    if (output !== undefined) closeSync(output);
  }

  private async waitBound(node: Node): Promise<void> {
    const ports = await waitFor(`node ${node.id} bound its ports`, () => boundPorts(node.logDir), {
      timeoutMs: 30_000,
    });
    node.kafkaPort = ports.kafka;
    node.quorumPort = ports.quorum;
    node.listenerPorts = ports.listeners;
  }

  private writeVoters(): void {
    writeFileSync(
      `${this.votersFile}.tmp`,
      this.nodes.map((node) => `${node.id}@127.0.0.1:${node.quorumPort}`).join(','),
    );
    renameSync(`${this.votersFile}.tmp`, this.votersFile);
  }

  /** Until a Metadata answer lists `brokerCount` brokers. */
  private async waitServing(brokerCount: number): Promise<void> {
    const node = this.nodes.find((candidate) => candidate.child !== undefined)!;
    await waitFor(
      `${brokerCount} brokers serving`,
      async () => {
        const connection = await KafkaConnection.open({ host: '127.0.0.1', port: node.kafkaPort }).catch(
          () => undefined,
        );
        if (connection === undefined) return false;
        try {
          const metadata = await connection.call(ApiKey.Metadata, 9, {
            topics: [],
            allowAutoTopicCreation: false,
            includeClusterAuthorizedOperations: false,
            includeTopicAuthorizedOperations: false,
          });
          return metadata.brokers.length >= brokerCount;
        } catch {
          return false;
        } finally {
          connection.close();
        }
      },
      { timeoutMs: 60_000 },
    );
  }

  /** kill -9. */
  async kill(id: number): Promise<void> {
    const child = this.nodes[id - 1]!.child;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((done) => child.once('exit', done));
    child.kill('SIGKILL');
    await exited;
    this.nodes[id - 1]!.child = undefined;
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => this.kill(node.id)));
    if (keepClusterDir) console.log(`kept the cluster's data and node logs in ${this.rootDir}`);
    else rmSync(this.rootDir, { recursive: true, force: true });
  }
}

/** Three nodes as the client's group tests run them, with a client and its connected admin. */
export interface GroupTestCluster {
  readonly brokers: BrokerProcesses;
  readonly kafka: Kafka;
  readonly admin: Admin;
}

/**
 * Starts three nodes with one offsets partition and no wait for more members before a new group's
 * first rebalance (Kafka's test harness sets group.initial.rebalance.delay.ms=0 too), and connects
 * an admin of a client named `clientId` that retries from 100 ms. Stop with stopGroupTestCluster.
 */
export async function startGroupTestCluster(clientId: string): Promise<GroupTestCluster> {
  const brokers = await BrokerProcesses.start(3, {
    properties: { 'offsets.topic.num.partitions': '1', 'group.initial.rebalance.delay.ms': '0' },
  });
  const kafka = new Kafka({
    clientId,
    brokers: brokers.bootstrapServers,
    logLevel: logLevel.NOTHING,
    retry: { initialRetryTime: 100, retries: 10 },
  });
  const admin = kafka.admin();
  await admin.connect();
  return { brokers, kafka, admin };
}

/** Disconnects the admin and stops the nodes of what startGroupTestCluster started (if it did). */
export async function stopGroupTestCluster(cluster: GroupTestCluster | undefined): Promise<void> {
  await cluster?.admin.disconnect();
  await cluster?.brokers.stop();
}

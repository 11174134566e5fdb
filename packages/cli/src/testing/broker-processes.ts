// Gregor nodes as separate processes for the CLI's integration tests (`node packages/cli/dist/main.js
// broker start`, so `npm run build` must have run), the way the broker's and the client's process
// fixtures start them: every listener binds port 0, each node writes what it got to `bound-ports`,
// and the voters' addresses go to the file every node reads (gregor.controller.quorum.voters.file),
// after which the quorum forms. The tools under test talk to these nodes over loopback only.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brokerAllocatorEnvironment, brokerNodeFlags, readBoundListeners } from '@gregor/broker';
import { ApiKey, KafkaConnection } from '@gregor/client';
import { waitFor } from '@gregor/ground/testing';

export const cliPath = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'main.js');

/** How long the nodes may take to bind their ports and then to serve every broker in Metadata. */
const startWaits = { timeoutMs: 60_000, intervalMs: 20 };

interface BrokerProcess {
  readonly id: number;
  readonly logDir: string;
  kafkaPort: number;
  quorumPort: number;
  child: ChildProcess;
}

export class BrokerProcesses {
  private constructor(
    private readonly rootDir: string,
    private readonly nodes: BrokerProcess[],
  ) {}

  /** `nodeCount` nodes, each a broker and a voter, with `properties` added to every server.properties. */
  static async start(
    nodeCount: number,
    properties: Readonly<Record<string, string>> = {},
  ): Promise<BrokerProcesses> {
    const rootDir = mkdtempSync(join(tmpdir(), 'gregor-cli-it-'));
    const votersFile = join(rootDir, 'quorum-voters');
    const nodes: BrokerProcess[] = [];
    const cluster = new BrokerProcesses(rootDir, nodes);
    try {
      for (let id = 1; id <= nodeCount; id++) {
        const logDir = join(rootDir, `node-${id}`);
        mkdirSync(logDir, { recursive: true });
        const configPath = join(logDir, 'server.properties');
        const config = {
          'node.id': String(id),
          'process.roles': 'broker,controller',
          'cluster.id': `cli-it-${process.pid}`,
          listeners: 'PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0',
          'controller.quorum.voters': Array.from(
            { length: nodeCount },
            (_, i) => `${i + 1}@127.0.0.1:0`,
          ).join(','),
          'gregor.controller.quorum.voters.file': votersFile,
          'log.dirs': logDir,
          ...properties,
        };
        writeFileSync(
          configPath,
          Object.entries(config)
            .map(([key, value]) => `${key}=${value}`)
            .join('\n'),
        );
        const child = spawn(
          process.execPath,
          [...brokerNodeFlags, cliPath, 'broker', 'start', '--config', configPath],
          {
            env: { ...process.env, ...brokerAllocatorEnvironment(process.env), GREGOR_LOG_LEVEL: 'warn' },
            stdio: 'ignore',
          },
        );
        nodes.push({ id, logDir, kafkaPort: 0, quorumPort: 0, child });
      }
      for (const node of nodes) {
        const listeners = await waitFor(
          `node ${node.id} to bind its ports`,
          () => readBoundListeners(node.logDir),
          startWaits,
        );
        node.kafkaPort = listeners.find((listener) => listener.name === 'PLAINTEXT')!.port;
        node.quorumPort = listeners.find((listener) => listener.name === 'CONTROLLER')!.port;
      }
      writeFileSync(
        `${votersFile}.tmp`,
        nodes.map((node) => `${node.id}@127.0.0.1:${node.quorumPort}`).join(','),
      );
      renameSync(`${votersFile}.tmp`, votersFile);
      await waitFor(`${nodeCount} brokers to serve`, () => cluster.brokersServing(nodeCount), startWaits);
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  get bootstrapServers(): string[] {
    return this.nodes.map((node) => `127.0.0.1:${node.kafkaPort}`);
  }

  /** true once a Metadata answer lists `brokerCount` brokers, else undefined. */
  private async brokersServing(brokerCount: number): Promise<true | undefined> {
    const connection = await KafkaConnection.open({
      host: '127.0.0.1',
      port: this.nodes[0]!.kafkaPort,
    }).catch(() => undefined);
    if (connection === undefined) return undefined;
    try {
      const metadata = await connection.call(ApiKey.Metadata, 9, {
        topics: [],
        allowAutoTopicCreation: false,
        includeClusterAuthorizedOperations: false,
        includeTopicAuthorizedOperations: false,
      });
      return metadata.brokers.length >= brokerCount ? true : undefined;
    } catch {
      return undefined;
    } finally {
      connection.close();
    }
  }

  /** kill -9 of every node, then their data goes. */
  async stop(): Promise<void> {
    await Promise.all(
      this.nodes.map(async ({ child }) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((done) => child.once('exit', done));
        child.kill('SIGKILL');
        await exited;
      }),
    );
    rmSync(this.rootDir, { recursive: true, force: true });
  }
}

// Configuration against real broker processes: Kafka's own sample server.properties (3.9's
// config/kraft/server.properties and 4.0's config/server.properties), unchanged, start a node that
// serves clients, with only ports, directories, the cluster id (which Kafka keeps in meta.properties)
// and, for 4.0, the static voter list coming from GREGOR_CFG_* variables. Keys without effect are
// named once in the log and left out of DescribeConfigs; the socket buffer sizes reach the kernel.
// A file with several bad keys names all of them; a log directory under /proc stops the node at once.

import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiKey, KafkaConnection } from '@gregor/client';
import { configResourceType, ErrorCode, encodeRecordBatch } from '@gregor/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { readBoundListeners } from '../node/bound-listeners.js';
import { cliPath, ProcessCluster } from '../testing/process-cluster.js';

const fixtures = fileURLToPath(new URL('../../test-fixtures/kafka-config/', import.meta.url));
/** A node that is not serving by then is a failure; start-up takes a few seconds on a busy machine. */
const startTimeoutMs = 60_000;

interface RunningNode {
  readonly child: ChildProcess;
  readonly output: string[];
  readonly exited: Promise<number | null>;
}

const dirs: string[] = [];
const children: ChildProcess[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function startNode(configFile: string, env: Record<string, string>): RunningNode {
  const child = spawn(process.execPath, [cliPath, 'broker', 'start', '--config', configFile], {
    env: { ...process.env, GREGOR_LOG_FORMAT: 'json', GREGOR_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const output: string[] = [];
  child.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString('utf8')));
  const exited = once(child, 'close').then(([code]) => code as number | null);
  return { child, output, exited };
}

/** The Kafka port the node bound, from the `bound-ports` file it writes in its metadata log dir. */
async function boundKafkaPort(node: RunningNode, metadataDir: string): Promise<number> {
  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    const bound = readBoundListeners(metadataDir)?.find((listener) => listener.name === 'PLAINTEXT');
    if (bound !== undefined) return bound.port;
    if (node.child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`node bound no PLAINTEXT listener:\n${node.output.join('')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function connectWhenServing(node: RunningNode, port: number): Promise<KafkaConnection> {
  const deadline = Date.now() + startTimeoutMs;
  for (;;) {
    try {
      const connection = await KafkaConnection.open({ host: '127.0.0.1', port, connectTimeoutMs: 1000 });
      const metadata = await connection.call(ApiKey.Metadata, 1, { topics: [] }, 2000);
      if (metadata.brokers.length > 0) return connection;
      connection.close();
    } catch (error) {
      if (node.child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`node did not serve: ${(error as Error).message}\n${node.output.join('')}`);
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Kernel buffer sizes of the broker's side of established connections on `port` (Linux `ss`). */
function serverSocketMemory(port: number): string {
  return execFileSync('ss', ['-tmnH', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8' });
}

describe("Kafka's sample server.properties", () => {
  it.each([
    ['kafka-3.9-kraft-server.properties', false],
    ['kafka-4.0-server.properties', true],
  ])('%s starts a node that serves clients', async (file, dynamicQuorumSample) => {
    const dir = mkdtempSync(join(tmpdir(), 'gregor-kafka-config-'));
    dirs.push(dir);
    // Port 0 everywhere: the node binds first and reports its ports in `bound-ports`.
    const node = startNode(join(fixtures, file), {
      GREGOR_CFG_CLUSTER_ID: 'sample-config',
      GREGOR_CFG_LISTENERS: 'PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0',
      GREGOR_CFG_ADVERTISED_LISTENERS: 'PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0',
      GREGOR_CFG_LOG_DIRS: join(dir, 'logs'),
      // 3.9's voter names the sample's port 9093; 4.0's file has no static voter list at all.
      GREGOR_CFG_CONTROLLER_QUORUM_VOTERS: '1@127.0.0.1:0',
    });
    const kafkaPort = await boundKafkaPort(node, join(dir, 'logs'));
    const connection = await connectWhenServing(node, kafkaPort);
    try {
      // It serves: a topic is created on first use and takes a write.
      await connection.call(ApiKey.Metadata, 4, {
        topics: [{ name: 'sample' }],
        allowAutoTopicCreation: true,
      });
      const deadline = Date.now() + startTimeoutMs;
      let errorCode: number = ErrorCode.LEADER_NOT_AVAILABLE;
      while (errorCode !== ErrorCode.NONE && Date.now() < deadline) {
        const response = await connection.call(ApiKey.Produce, 7, {
          transactionalId: null,
          acks: -1,
          timeoutMs: 5000,
          topics: [
            {
              name: 'sample',
              partitions: [
                {
                  partitionIndex: 0,
                  records: encodeRecordBatch({
                    records: [{ key: null, value: Buffer.from('hello'), timestamp: Date.now() }],
                  }),
                },
              ],
            },
          ],
        });
        errorCode = response.responses[0]!.partitions[0]!.errorCode;
        if (errorCode !== ErrorCode.NONE) await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(errorCode).toBe(ErrorCode.NONE);

      // DescribeConfigs lists what is in force and none of the keys without effect.
      const described = await connection.call(ApiKey.DescribeConfigs, 2, {
        resources: [{ resourceType: configResourceType.broker, resourceName: '1', configurationKeys: null }],
        includeSynonyms: false,
      });
      const configs = new Map(described.results[0]!.configs.map((config) => [config.name, config.value]));
      expect(configs.get('socket.send.buffer.bytes')).toBe('102400');
      expect(configs.get('log.retention.hours')).toBe('168');
      expect(configs.has('num.io.threads')).toBe(false);
      expect(configs.has('transaction.state.log.min.isr')).toBe(false);
      expect(configs.has('inter.broker.listener.name')).toBe(false);

      // socket.send/receive.buffer.bytes=102400 reached the kernel (Linux reports twice the size).
      const memory = serverSocketMemory(kafkaPort);
      expect(memory).toMatch(/rb204800/);
      expect(memory).toMatch(/tb204800/);
    } finally {
      connection.close();
    }
    // One start-up line per key without effect, with the reason.
    const lines = node.output.join('').split('\n');
    const noEffect = (key: string) =>
      lines.filter((line) => line.includes(`"msg":"${key} has no effect in Gregor:`));
    expect(noEffect('num.io.threads')).toHaveLength(1);
    expect(noEffect('num.io.threads')[0]).toMatch(/one Node.js event loop/);
    expect(noEffect('transaction.state.log.min.isr')).toHaveLength(1);
    expect(noEffect('transaction.state.log.replication.factor')).toHaveLength(0);
    expect(noEffect('socket.send.buffer.bytes')).toHaveLength(0);
    expect(noEffect('log.retention.hours')).toHaveLength(0);
    if (dynamicQuorumSample) expect(noEffect('controller.quorum.bootstrap.servers')).toHaveLength(1);
  });
});

describe('a broker that cannot start', () => {
  it('names every bad key of its file at once, with suggestions', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gregor-bad-config-'));
    dirs.push(dir);
    const file = join(dir, 'server.properties');
    writeFileSync(
      file,
      [
        'node.id=1',
        'process.roles=broker,controller',
        'cluster.id=bad-config',
        'controller.quorum.voters=1@127.0.0.1:9193',
        `log.dirs=${join(dir, 'logs')}`,
        'log.retension.hours=24',
        'num.netwrok.threads=3',
        'socket.send.buffer.bytes=big',
        'gregor.metrics.host=0.0.0.0',
      ].join('\n'),
    );
    const node = startNode(file, {});
    expect(await node.exited).toBe(2);
    const output = node.output.join('');
    expect(output).toContain('invalid configuration (4 problems)');
    expect(output).toContain(
      "log.retension.hours: unknown configuration key; did you mean 'log.retention.hours'?",
    );
    expect(output).toContain(
      "num.netwrok.threads: unknown configuration key; did you mean 'num.network.threads'?",
    );
    expect(output).toContain("socket.send.buffer.bytes: expected an integer, got 'big'");
    expect(output).toContain(
      "gregor.metrics.host: unknown configuration key; did you mean 'gregor.metrics.port'?",
    );
  });

  it('refuses a log directory under /proc with a message, instead of spinning', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gregor-proc-dir-'));
    dirs.push(dir);
    const file = join(dir, 'server.properties');
    writeFileSync(
      file,
      [
        'node.id=1',
        'process.roles=broker,controller',
        'cluster.id=proc-dir',
        'listeners=PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0',
        'controller.quorum.voters=1@127.0.0.1:0',
        'log.dirs=/proc/gregor-data',
      ].join('\n'),
    );
    const node = startNode(file, {});
    // Before this change the process never exited (Node's recursive mkdir loops under /proc).
    expect(await node.exited).toBe(2);
    expect(node.output.join('')).toContain(
      'log directory /proc/gregor-data cannot be used: /proc is on proc, a kernel pseudo filesystem',
    );
  }, 30_000);
});

describe('broker.rack', () => {
  it("is carried by the broker's registration and shown to clients in Metadata", async () => {
    const cluster = await ProcessCluster.start({ nodeCount: 1, properties: { 'broker.rack': 'rack-a' } });
    try {
      const connection = await KafkaConnection.open({ host: '127.0.0.1', port: cluster.node(1).kafkaPort });
      try {
        const metadata = await connection.call(ApiKey.Metadata, 1, { topics: [] });
        expect(metadata.brokers.map((broker) => [broker.nodeId, broker.rack])).toEqual([[1, 'rack-a']]);
      } finally {
        connection.close();
      }
    } finally {
      await cluster.close();
    }
  });
});

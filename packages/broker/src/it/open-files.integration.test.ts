// File descriptors on a real broker process: its soft `nofile` limit is raised to the hard one at
// start-up (and logged), a storage budget at or above the limit is refused, and a broker run under a
// low `prlimit --nofile` and pushed past it (client connections take every descriptor) keeps
// running: the exhaustion is logged, a partition it cannot open is set aside alone (its log dir
// stays online: EMFILE is the process's limit, not the disk) and comes back once descriptors are
// free, and partitions whose files are open keep serving meanwhile.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type WaitForOptions, waitFor } from '@gregor/ground/testing';
import { ApiKey, ErrorCode } from '@gregor/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { cliPath, ProcessCluster } from '../testing/process-cluster.js';
import { RawClusterClient } from '../testing/raw-cluster-client.js';

const waitTimeoutMs = 60_000;

function openFileLimit(pid: number): { soft: number; hard: number } {
  const match = /Max open files\s+(\d+)\s+(\d+)/.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'))!;
  return { soft: Number(match[1]), hard: Number(match[2]) };
}

function openDescriptors(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** The broker's JSON log lines so far. */
function logEntries(cluster: ProcessCluster, id: number): Record<string, unknown>[] {
  return cluster
    .node(id)
    .output.join('')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

const waitOptions: WaitForOptions = { timeoutMs: waitTimeoutMs, intervalMs: 100 };

async function openSocket(port: number): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined); // a connection the broker could not accept is reset
  await once(socket, 'connect');
  return socket;
}

let cluster: ProcessCluster | undefined;
let client: RawClusterClient | undefined;
const flood: Socket[] = [];
afterEach(async () => {
  for (const socket of flood.splice(0)) socket.destroy();
  client?.close();
  await cluster?.close();
  cluster = undefined;
  client = undefined;
});

describe('the open-file limit at start-up', () => {
  it('raises the soft limit of a broker started with 1024:4096 to 4096 and logs both numbers', async () => {
    cluster = await ProcessCluster.start({
      nodeCount: 1,
      commandPrefix: ['prlimit', '--nofile=1024:4096', '--'],
    });
    const pid = cluster.node(1).process!.pid!;
    expect(openFileLimit(pid)).toEqual({ soft: 4096, hard: 4096 });
    const line = logEntries(cluster, 1).find((entry) => String(entry.msg).startsWith('open-file limit'));
    expect(line).toMatchObject({ nofileSoft: 4096, nofileHard: 4096, openFilesMax: 2048 });
  });

  it('refuses gregor.log.open.files.max at or above the limit with exit code 2 naming the key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gregor-open-files-'));
    try {
      const configPath = join(dir, 'server.properties');
      writeFileSync(
        configPath,
        [
          'node.id=1',
          'process.roles=broker,controller',
          'cluster.id=open-files-test',
          'listeners=PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0',
          'controller.quorum.voters=1@127.0.0.1:0',
          `log.dirs=${join(dir, 'logs')}`,
          'gregor.log.open.files.max=1024',
        ].join('\n'),
      );
      const child = spawn(
        'prlimit',
        ['--nofile=1024:1024', '--', process.execPath, cliPath, 'broker', 'start', '--config', configPath],
        {
          env: { ...process.env, GREGOR_LOG_FORMAT: 'json' },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      child.stderr.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      const [code] = (await once(child, 'close')) as [number | null];
      expect(code).toBe(2);
      expect(output).toMatch(
        /gregor\.log\.open\.files\.max: 1024 is not below the process's open-file limit 1024/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a broker pushed past its open-file limit (prlimit --nofile=512:512)', () => {
  // Not lower: Node's ESM loader opens the broker's module files many at a time while it starts, and
  // under 200 descriptors it sometimes failed to read a package.json (ERR_MODULE_NOT_FOUND for
  // @gregor/txn, 1 start in 30; always under 150), before the broker ran any code of its own.
  const limit = 512;

  /** Connects to `ports` until the broker holds every descriptor it may, then a few more. */
  async function exhaustDescriptors(pid: number, ports: readonly number[]): Promise<void> {
    for (let i = 0; openDescriptors(pid) < limit; i++) {
      if (i >= 2 * limit) throw new Error(`the broker still has ${openDescriptors(pid)} descriptors`);
      flood.push(await openSocket(ports[i % ports.length]!));
    }
    // These cannot be accepted any more (the broker drops them).
    for (const port of ports) for (let i = 0; i < 3; i++) flood.push(await openSocket(port));
  }

  async function releaseDescriptors(): Promise<void> {
    for (const socket of flood.splice(0)) socket.destroy();
  }

  it('logs the exhaustion, sets aside only the partitions it cannot open, and serves the rest', {
    timeout: 300_000,
  }, async () => {
    cluster = await ProcessCluster.start({
      nodeCount: 1,
      commandPrefix: ['prlimit', `--nofile=${limit}:${limit}`, '--'],
    });
    const node = cluster.node(1);
    const pid = node.process!.pid!;
    expect(openFileLimit(pid)).toEqual({ soft: limit, hard: limit });
    client = new RawClusterClient(cluster);
    const entries = () => logEntries(cluster!, 1);
    const alive = () =>
      node.process !== undefined && node.process.exitCode === null && node.process.signalCode === null;

    // 1. No descriptor left: new connections are dropped (libuv closes them at once), the broker
    // keeps running and says so.
    const admin = await client.connection(1); // opened before: it stays usable
    await exhaustDescriptors(pid, [node.kafkaPort, node.quorumPort]);
    await waitFor(
      'the exhaustion logged',
      () =>
        entries().some(
          (entry) => String(entry.msg).startsWith('no file descriptor left') && entry.code === 'EMFILE',
        ),
      waitOptions,
    );
    const refused = await openSocket(node.kafkaPort);
    await waitFor(
      'a new connection closed by the broker',
      () => refused.closed || refused.readableEnded,
      waitOptions,
    );
    refused.destroy();
    // 2. A topic created now cannot get its files: its replicas are set aside, nothing else is.
    expect(await client.createTopic(1, 'starved', 2, 1, {})).toBe(ErrorCode.NONE);
    await waitFor(
      'both starved replicas set aside',
      () =>
        [0, 1].every((p) =>
          entries().some(
            (entry) =>
              entry.partition === `starved-${p}` &&
              String(entry.msg).startsWith('cannot open the log of a local replica: set aside') &&
              entry.descriptorsExhausted === true,
          ),
        ),
      waitOptions,
    );
    expect(alive()).toBe(true);
    expect((await client.produce(1, 'starved', 0, ['lost?'], 1)).errorCode).toBe(
      ErrorCode.NOT_LEADER_OR_FOLLOWER,
    );
    const metadata = await admin.call(
      ApiKey.Metadata,
      7,
      { topics: null, allowAutoTopicCreation: false },
      10_000,
    );
    expect(metadata.topics.map((topic) => topic.name)).toContain('starved');
    // Not offline in Kafka's sense: no log dir failed, and no replica was reported offline.
    for (const topic of metadata.topics) {
      for (const partition of topic.partitions) expect(partition.offlineReplicas).toEqual([]);
    }
    expect(entries().some((entry) => String(entry.msg).startsWith('log dir failed'))).toBe(false);

    // 3. Descriptors come back: the replicas are opened again on their own and serve.
    await releaseDescriptors();
    await waitFor(
      'recovery logged',
      () => entries().some((entry) => entry.msg === 'file descriptors available again'),
      waitOptions,
    );
    await waitFor(
      'both starved replicas served again',
      () =>
        [0, 1].every((p) =>
          entries().some(
            (entry) =>
              entry.partition === `starved-${p}` &&
              entry.msg === 'set-aside local replica opened: served again',
          ),
        ),
      waitOptions,
    );
    for (const p of [0, 1]) {
      expect((await client.produce(1, 'starved', p, [`kept-${p}`], 1)).errorCode).toBe(ErrorCode.NONE);
    }
    expect(await client.createTopic(1, 'healthy', 1, 1, {})).toBe(ErrorCode.NONE);
    await waitFor(
      'healthy takes records',
      async () => (await client!.produce(1, 'healthy', 0, ['h0'], 1)).errorCode === ErrorCode.NONE,
      waitOptions,
    );

    // 4. No descriptor left again: partitions whose files are open keep serving.
    await exhaustDescriptors(pid, [node.kafkaPort]);
    expect(openDescriptors(pid)).toBeGreaterThanOrEqual(limit);
    expect(await client.produce(1, 'healthy', 0, ['h1'], 1)).toEqual({
      errorCode: ErrorCode.NONE,
      baseOffset: 1,
    });
    const healthy = await client.readAll(1, 'healthy', 0);
    expect(healthy.records.map((record) => record.value)).toEqual(['h0', 'h1']);
    const starved = await client.readAll(1, 'starved', 0);
    expect(starved.records.map((record) => record.value)).toEqual(['kept-0']);
    expect(alive()).toBe(true);
    await releaseDescriptors();
    expect(entries().some((entry) => entry.level === 60)).toBe(false); // nothing fatal
    expect(entries().some((entry) => String(entry.msg).startsWith('log dir failed'))).toBe(false);
  });
});

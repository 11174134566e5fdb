// The metadata quorum on real processes: three nodes on loopback, each a voter, controller and broker. kill -9
// of the active controller elects a new one that commits metadata; the old one restarts, rejoins
// and catches up; the same for a follower. Every observation goes through the built
// `gregor metadata-shell` (online via a Kafka listener or a controller listener, offline via a
// stopped node's data directory), so the shell is tested the way operators and scripts use it.
// Waits poll with a bound; nothing asserts on timing.

import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { ApiKey, KafkaConnection } from '@gregor/client';
import { type WaitForOptions, waitFor } from '@gregor/ground/testing';
import { ErrorCode } from '@gregor/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath, ProcessCluster } from '../testing/process-cluster.js';

/** Bound on every wait for the cluster to converge (election, catch-up, restart). */
const convergeTimeoutMs = 60_000;
const pollIntervalMs = 200;
/** Bound on one shell invocation (node start-up plus one request). */
const shellTimeoutMs = 20_000;

interface ShellRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function shell(...args: string[]): Promise<ShellRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cliPath, 'metadata-shell', '--timeout-ms', '2000', ...args],
      { encoding: 'utf8', timeout: shellTimeoutMs },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

let cluster: ProcessCluster;

const kafka = (id: number) => ['--bootstrap-server', `127.0.0.1:${cluster.node(id).kafkaPort}`];
const controllerListener = (id: number) => ['--controller', `127.0.0.1:${cluster.node(id).quorumPort}`];

const waitOptions: WaitForOptions = {
  timeoutMs: convergeTimeoutMs,
  intervalMs: pollIntervalMs,
  detail: () => cluster.tail(),
};

/** The controller id a shell invocation reports in /controller (null when none is known). */
async function controllerSeenBy(args: string[]): Promise<number | null | undefined> {
  const run = await shell(...args, 'cat', '/controller');
  if (run.code !== 0) return undefined;
  const controllerId = Number(run.stdout.trim());
  return controllerId >= 0 ? controllerId : null;
}

async function topicsSeenBy(args: string[]): Promise<string[] | undefined> {
  const run = await shell(...args, 'ls', '/brokers/topics');
  if (run.code !== 0) return undefined;
  return run.stdout.split('\n').filter((line) => line !== '');
}

/** Waits until the shell at `args` lists every one of `topics`. */
function waitForTopics(what: string, args: string[], topics: readonly string[]): Promise<string[]> {
  return waitFor(
    what,
    async () => {
      const listed = await topicsSeenBy(args);
      return listed !== undefined && topics.every((topic) => listed.includes(topic)) ? listed : undefined;
    },
    waitOptions,
  );
}

/**
 * Creates a topic through one node's Kafka listener, retrying while there is no controller. A retry
 * after an attempt whose answer was lost may find the topic already there: that is a success.
 */
function createTopic(viaId: number, name: string): Promise<void> {
  return waitFor(
    `topic ${name} created via node ${viaId}`,
    async () => {
      const connection = await KafkaConnection.open({
        host: '127.0.0.1',
        port: cluster.node(viaId).kafkaPort,
        connectTimeoutMs: 2_000,
      });
      try {
        const response = await connection.call(
          ApiKey.CreateTopics,
          3,
          {
            topics: [{ name, numPartitions: 2, replicationFactor: 1, assignments: [], configs: [] }],
            timeoutMs: 5_000,
            validateOnly: false,
          },
          10_000,
        );
        const errorCode = response.topics[0]?.errorCode;
        return errorCode === ErrorCode.NONE || errorCode === ErrorCode.TOPIC_ALREADY_EXISTS
          ? true
          : undefined;
      } finally {
        connection.close();
      }
    },
    waitOptions,
  ).then(() => undefined);
}

describe('metadata quorum on three processes, observed with gregor metadata-shell', () => {
  beforeAll(async () => {
    cluster = await ProcessCluster.start({ nodeCount: 3 });
  });
  afterAll(async () => {
    await cluster?.close();
  });

  let controllerId = -1;

  it('finds the active controller with `cat /controller`, the same over Kafka and the controller listener', async () => {
    controllerId = await waitFor(
      'a controller',
      async () => (await controllerSeenBy(kafka(1))) ?? undefined,
      waitOptions,
    );
    expect([1, 2, 3]).toContain(controllerId);
    for (const id of [1, 2, 3]) {
      expect(await controllerSeenBy(controllerListener(id))).toBe(controllerId);
    }
    const brokers = await shell(...controllerListener(2), 'ls', '/brokers/ids');
    expect(brokers).toMatchObject({ code: 0, stdout: '1\n2\n3\n' });
    const clusterIdRun = await shell(...kafka(3), 'cat', '/cluster/id');
    expect(clusterIdRun).toMatchObject({ code: 0, stdout: `${cluster.clusterId}\n` });
  });

  it('commits a topic that every node shows, with its partition state', async () => {
    await createTopic(1, 'before-failover');
    for (const id of [1, 2, 3]) {
      await waitForTopics(`node ${id} to show before-failover`, controllerListener(id), ['before-failover']);
    }
    const state = await shell(...kafka(2), 'cat', '/brokers/topics/before-failover/partitions/1/state');
    expect(state.code).toBe(0);
    const parsed = JSON.parse(state.stdout) as { leader: number; replicas: number[]; isr: number[] };
    expect(parsed.replicas).toHaveLength(1);
    expect(parsed.isr).toEqual(parsed.replicas);
    const missing = await shell(...kafka(2), 'cat', '/brokers/topics/no-such-topic');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no such node');
  });

  it('elects a new controller after kill -9 of the old one, which commits metadata', async () => {
    const killed = controllerId;
    const survivors = [1, 2, 3].filter((id) => id !== killed);
    await cluster.kill(killed);
    const newControllerId = await waitFor(
      'a new controller',
      async () => {
        const seen = await controllerSeenBy(controllerListener(survivors[0]!));
        return seen !== undefined && seen !== null && seen !== killed ? seen : undefined;
      },
      waitOptions,
    );
    expect(survivors).toContain(newControllerId);
    await createTopic(survivors[1]!, 'after-controller-kill');
    for (const id of survivors) {
      await waitForTopics(`survivor ${id} to show after-controller-kill`, controllerListener(id), [
        'before-failover',
        'after-controller-kill',
      ]);
    }
    // The dead node is no answer: the shell says so with exit code 1.
    const unreachable = await shell(...controllerListener(killed), 'ls', '/');
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain('cannot reach the cluster');

    await cluster.restart(killed);
    await waitForTopics(`restarted old controller ${killed} to catch up`, controllerListener(killed), [
      'before-failover',
      'after-controller-kill',
    ]);
    await cluster.waitReady();
    await waitForTopics(`restarted node ${killed} over Kafka`, kafka(killed), [
      'before-failover',
      'after-controller-kill',
    ]);
    controllerId = newControllerId;
  });

  it('lets a killed follower rejoin and catch up on metadata committed while it was down', async () => {
    const follower = [1, 2, 3].find((id) => id !== controllerId)!;
    const survivors = [1, 2, 3].filter((id) => id !== follower);
    await cluster.kill(follower);
    await createTopic(survivors[0]!, 'while-follower-down');
    for (const id of survivors) {
      await waitForTopics(`survivor ${id} to show while-follower-down`, controllerListener(id), [
        'while-follower-down',
      ]);
    }
    await cluster.restart(follower);
    const all = ['before-failover', 'after-controller-kill', 'while-follower-down'];
    const listed = await waitForTopics(`follower ${follower} to catch up`, controllerListener(follower), all);
    expect(listed).toEqual(all.slice().sort());
    await cluster.waitReady();
  });

  it('reads a stopped node offline with --data-dir, and refuses while the node runs', async () => {
    const running = await shell('--data-dir', join(cluster.node(1).dataDir, 'logs'), 'ls', '/');
    expect(running.code).toBe(1);
    expect(running.stderr).toContain('the node is running; use --controller or --bootstrap-server');

    expect(await cluster.stop(1)).toBe(0);
    const metadataDir = join(cluster.node(1).dataDir, 'logs');
    const topics = await shell('--data-dir', metadataDir, 'ls', '/brokers/topics');
    expect(topics.code).toBe(0);
    expect(topics.stdout).toBe('after-controller-kill\nbefore-failover\nwhile-follower-down\n');
    expect(topics.stderr).toContain('metadata log read up to offset');
    const clusterIdRun = await shell(
      '--data-dir',
      join(metadataDir, '__cluster_metadata-0'),
      'cat',
      '/cluster/id',
    );
    expect(clusterIdRun).toMatchObject({ code: 0, stdout: `${cluster.clusterId}\n` });
    const brokers = await shell('--data-dir', metadataDir, 'ls', '/brokers/ids');
    expect(brokers.stdout).toBe('1\n2\n3\n');
  });
});

// The operator APIs on three real processes, driven through the built `gregor` CLI as operators
// run it (kafka-metadata-quorum.sh, kafka-leader-election.sh, kafka-log-dirs.sh and
// kafka-transactions.sh describe-producers), with every effect checked over the Kafka protocol.
// Automatic preferred-leader rebalancing is off, so only the tool moves leadership back.
// Waits poll observable state with a bound; nothing asserts on timing.

import { execFile } from 'node:child_process';
import { ApiKey, KafkaConnection } from '@gregor/client';
import { type WaitForOptions, waitFor } from '@gregor/ground/testing';
import { ErrorCode } from '@gregor/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath, ProcessCluster } from '../testing/process-cluster.js';

const convergeTimeoutMs = 60_000;
const cliTimeoutMs = 30_000;

interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function gregor(...args: string[]): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cliPath, ...args],
      { encoding: 'utf8', timeout: cliTimeoutMs },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

let cluster: ProcessCluster;
const bootstrapOf = (id: number) => `127.0.0.1:${cluster.node(id).kafkaPort}`;
const waitOptions = (): WaitForOptions => ({
  timeoutMs: convergeTimeoutMs,
  intervalMs: 200,
  detail: () => cluster.tail(),
});

async function withConnection<T>(id: number, body: (connection: KafkaConnection) => Promise<T>): Promise<T> {
  const connection = await KafkaConnection.open({
    host: '127.0.0.1',
    port: cluster.node(id).kafkaPort,
    connectTimeoutMs: 2_000,
  });
  try {
    return await body(connection);
  } finally {
    connection.close();
  }
}

/** Leader and ISR of a partition as broker `viaId` reports them in Metadata. */
function partitionState(viaId: number, topic: string, partition: number) {
  return withConnection(viaId, async (connection) => {
    const metadata = await connection.call(ApiKey.Metadata, 1, { topics: [{ name: topic }] }, 5_000);
    const state = metadata.topics[0]?.partitions.find((p) => p.partitionIndex === partition);
    return { leaderId: state?.leaderId ?? -1, isr: [...(state?.isrNodes ?? [])].sort() };
  });
}

async function createTopic(name: string, assignments: number[][]): Promise<void> {
  await waitFor(
    `topic ${name} created`,
    () =>
      withConnection(1, async (connection) => {
        const response = await connection.call(
          ApiKey.CreateTopics,
          3,
          {
            topics: [
              {
                name,
                numPartitions: -1,
                replicationFactor: -1,
                assignments: assignments.map((brokerIds, partitionIndex) => ({ partitionIndex, brokerIds })),
                configs: [],
              },
            ],
            timeoutMs: 10_000,
            validateOnly: false,
          },
          15_000,
        );
        const errorCode = response.topics[0]?.errorCode;
        return errorCode === ErrorCode.NONE || errorCode === ErrorCode.TOPIC_ALREADY_EXISTS
          ? true
          : undefined;
      }).catch(() => undefined),
    waitOptions(),
  );
}

beforeAll(async () => {
  cluster = await ProcessCluster.start({
    nodeCount: 3,
    properties: { 'auto.leader.rebalance.enable': 'false' },
  });
});
afterAll(async () => {
  await cluster?.close();
});

describe('gregor metadata-quorum (DescribeQuorum)', () => {
  it('--status names the Raft leader (the active controller) and the three voters', async () => {
    const run = await gregor('metadata-quorum', '--bootstrap-server', bootstrapOf(2), 'describe', '--status');
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const field = (name: string) => new RegExp(`^${name}:\\s+(.*)$`, 'm').exec(run.stdout)?.[1];
    expect(field('ClusterId')).toBe(cluster.clusterId);
    const { controllerId } = await cluster.describe(3);
    expect(Number(field('LeaderId'))).toBe(controllerId);
    expect(Number(field('LeaderEpoch'))).toBeGreaterThan(0);
    expect(Number(field('HighWatermark'))).toBeGreaterThan(0);
    const voters = [...(field('CurrentVoters') ?? '').matchAll(/"id": (\d+)/g)].map((m) => Number(m[1]));
    expect(voters.sort()).toEqual([1, 2, 3]);
    expect(field('CurrentVoters')).toContain(`"PLAINTEXT://127.0.0.1:${cluster.node(1).kafkaPort}"`);
    expect(field('CurrentObservers')).toBe('[]');
  });

  it('--replication lists the leader and two followers, each with a log end offset and fetch times', async () => {
    const rows = await waitFor(
      'every follower fetched and caught up',
      async () => {
        const run = await gregor(
          'metadata-quorum',
          '--bootstrap-server',
          bootstrapOf(1),
          'describe',
          '--replication',
        );
        if (run.code !== 0) return undefined;
        const [header, ...lines] = run.stdout.trim().split('\n');
        expect(header!.split('\t').map((cell) => cell.trim())).toEqual([
          'NodeId',
          'DirectoryId',
          'LogEndOffset',
          'Lag',
          'LastFetchTimestamp',
          'LastCaughtUpTimestamp',
          'Status',
        ]);
        const parsed = lines.map((line) => line.split('\t').map((cell) => cell.trim()));
        return parsed.every((row) => Number(row[5]) > 0) ? parsed : undefined;
      },
      waitOptions(),
    );
    expect(rows.map((row) => row[6])).toEqual(['Leader', 'Follower', 'Follower']);
    expect(rows.map((row) => Number(row[0])).sort()).toEqual([1, 2, 3]);
    const { controllerId } = await cluster.describe(1);
    expect(Number(rows[0]![0])).toBe(controllerId);
    for (const row of rows) {
      expect(Number(row[2])).toBeGreaterThan(0);
      // Fetch times are wall-clock milliseconds on the leader: within a day of now.
      expect(Math.abs(Number(row[4]) - Date.now())).toBeLessThan(86_400_000);
    }
  });
});

describe('gregor leader-election (ElectLeaders)', () => {
  it('PREFERRED moves leadership back to replica 1 after it restarted, then finds nothing to do', async () => {
    await createTopic('elect', [[1, 2, 3]]);
    await waitFor(
      'elect-0 led by 1 with a full ISR',
      async () => {
        const state = await partitionState(2, 'elect', 0);
        return state.leaderId === 1 && state.isr.length === 3 ? state : undefined;
      },
      waitOptions(),
    );
    await cluster.stop(1);
    const moved = await waitFor(
      'leadership moved off node 1',
      async () => {
        const state = await partitionState(2, 'elect', 0).catch(() => undefined);
        return state !== undefined && state.leaderId !== 1 && state.leaderId >= 0 ? state : undefined;
      },
      waitOptions(),
    );
    expect([2, 3]).toContain(moved.leaderId);
    await cluster.restart(1);
    await cluster.waitReady();
    await waitFor(
      'node 1 back in the ISR, not leading',
      async () => {
        const state = await partitionState(2, 'elect', 0).catch(() => undefined);
        return state?.isr.includes(1) === true ? state : undefined;
      },
      waitOptions(),
    );
    expect((await partitionState(2, 'elect', 0)).leaderId).toBe(moved.leaderId);

    const elected = await gregor(
      'leader-election',
      '--bootstrap-server',
      bootstrapOf(3),
      '--election-type',
      'PREFERRED',
      '--topic',
      'elect',
      '--partition',
      '0',
    );
    expect(elected).toEqual({
      code: 0,
      stdout: 'Successfully completed leader election (PREFERRED) for partitions elect-0\n',
      stderr: '',
    });
    // The answer comes once the change is applied on the broker that was asked; every broker follows.
    expect((await partitionState(3, 'elect', 0)).leaderId).toBe(1);
    await waitFor(
      'every broker sees node 1 leading elect-0',
      async () => {
        const views = await Promise.all([1, 2].map((id) => partitionState(id, 'elect', 0)));
        return views.every((view) => view.leaderId === 1) ? true : undefined;
      },
      waitOptions(),
    );

    const again = await gregor(
      'leader-election',
      '--bootstrap-server',
      cluster.bootstrap,
      '--election-type',
      'preferred',
      '--all-topic-partitions',
    );
    expect(again).toEqual({ code: 0, stdout: '', stderr: '' });
    const named = await gregor(
      'leader-election',
      '--bootstrap-server',
      bootstrapOf(2),
      '--election-type',
      'UNCLEAN',
      '--topic',
      'elect',
      '--partition',
      '0',
    );
    expect(named).toEqual({
      code: 0,
      stdout: 'Valid replica already elected for partitions elect-0\n',
      stderr: '',
    });
    const unknown = await gregor(
      'leader-election',
      '--bootstrap-server',
      bootstrapOf(2),
      '--election-type',
      'PREFERRED',
      '--topic',
      'no-such-topic',
      '--partition',
      '0',
    );
    expect(unknown.code).toBe(1);
    expect(unknown.stdout).toContain('for partition: no-such-topic-0: UNKNOWN_TOPIC_OR_PARTITION');
    expect(unknown.stderr).toBe('Error: 1 replica(s) could not be elected\n');
  });
});

// The operator APIs on three real processes, driven through the built `gregor` CLI as operators
// run it (kafka-metadata-quorum.sh, kafka-leader-election.sh, kafka-log-dirs.sh and
// kafka-transactions.sh describe-producers, kafka-topics.sh --describe over DescribeTopicPartitions;
// ListConfigResources; kafka-cluster.sh cluster-id and unregister), with every effect checked over
// the Kafka protocol. @platformatic/kafka's codecs (written without Gregor) are the second client of
// DescribeQuorum, DescribeProducers, DescribeTopicPartitions and UnregisterBroker, checked against
// the CLI's view and the processes' ports.
// Automatic preferred-leader rebalancing is off, so only the tool moves leadership back.
// Waits poll observable state with a bound; nothing asserts on timing.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiKey } from '@gregor/client';
import { type WaitForOptions, waitFor } from '@gregor/ground/testing';
import { CompressionType, ErrorCode, encodeRecordBatch, listedConfigResourceType } from '@gregor/protocol';
import {
  Connection,
  describeProducersV0,
  describeQuorumV2,
  describeTopicPartitionsV0,
  listClientMetricsResourcesV0,
  unregisterBrokerV0,
} from '@platformatic/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { partitionZeroCalls, producePartitionZero } from '../testing/partition-zero-calls.js';
import { type CliRun, ProcessCluster, runGregorCli } from '../testing/process-cluster.js';

const convergeTimeoutMs = 60_000;
const cliTimeoutMs = 30_000;

const gregor = (...args: string[]): Promise<CliRun> => runGregorCli(args, cliTimeoutMs);

let cluster: ProcessCluster;
const bootstrapOf = (id: number) => `127.0.0.1:${cluster.node(id).kafkaPort}`;
const waitOptions = (): WaitForOptions => ({
  timeoutMs: convergeTimeoutMs,
  intervalMs: 200,
  detail: () => cluster.tail(),
});

const { withConnection, partitionState, createTopic } = partitionZeroCalls(() => cluster, waitOptions);

/** Runs `body` on a @platformatic/kafka connection to node `id` (its raw API codecs). */
async function withPlatformatic<T>(id: number, body: (connection: Connection) => Promise<T>): Promise<T> {
  const connection = new Connection(`operator-platformatic-${id}`);
  await connection.connect('127.0.0.1', cluster.node(id).kafkaPort);
  try {
    return await body(connection);
  } finally {
    await connection.close();
  }
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
    for (const id of [1, 2, 3]) {
      expect(field('CurrentVoters')).toContain(`"CONTROLLER://127.0.0.1:${cluster.node(id).quorumPort}"`);
    }
    expect(field('CurrentObservers')).toBe('[]');

    // @platformatic/kafka's DescribeQuorum v2 codec (a client written without Gregor) sees the same
    // leader, epoch and voters, and the voters' CONTROLLER listeners are the processes' quorum ports.
    const quorum = await withPlatformatic(1, (connection) =>
      describeQuorumV2.api.async(connection, [
        { topicName: '__cluster_metadata', partitions: [{ partitionIndex: 0 }] },
      ]),
    );
    expect(quorum.errorCode).toBe(0);
    const [partition] = quorum.topics[0]!.partitions;
    expect(partition).toMatchObject({
      partitionIndex: 0,
      errorCode: 0,
      leaderId: controllerId,
      leaderEpoch: Number(field('LeaderEpoch')),
      observers: [],
    });
    expect(partition!.highWatermark).toBeGreaterThan(0n);
    expect(partition!.currentVoters.map((voter) => voter.replicaId).sort()).toEqual([1, 2, 3]);
    for (const voter of partition!.currentVoters) expect(voter.logEndOffset).toBeGreaterThan(0n);
    expect(
      quorum.nodes
        .map((node) => [node.nodeId, node.listeners.map((l) => [l.name, l.host, l.port])])
        .sort((a, b) => Number(a[0]) - Number(b[0])),
    ).toEqual([1, 2, 3].map((id) => [id, [['CONTROLLER', '127.0.0.1', cluster.node(id).quorumPort]]]));
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
    await createTopic('elect', [1, 2, 3]);
    await waitFor(
      'elect-0 led by 1 with a full ISR',
      async () => {
        const state = await partitionState(2, 'elect');
        return state.leaderId === 1 && state.isr.length === 3 ? state : undefined;
      },
      waitOptions(),
    );
    await cluster.stop(1);
    const moved = await waitFor(
      'leadership moved off node 1',
      async () => {
        const state = await partitionState(2, 'elect').catch(() => undefined);
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
        const state = await partitionState(2, 'elect').catch(() => undefined);
        return state?.isr.includes(1) === true ? state : undefined;
      },
      waitOptions(),
    );
    expect((await partitionState(2, 'elect')).leaderId).toBe(moved.leaderId);

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
    expect((await partitionState(3, 'elect')).leaderId).toBe(1);
    await waitFor(
      'every broker sees node 1 leading elect-0',
      async () => {
        const views = await Promise.all([1, 2].map((id) => partitionState(id, 'elect')));
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
    const jsonFile = join(cluster.rootDir, 'election.json');
    writeFileSync(jsonFile, JSON.stringify({ partitions: [{ topic: 'elect', partition: 0 }] }));
    const fromFile = await gregor(
      'leader-election',
      '--bootstrap-server',
      bootstrapOf(1),
      '--election-type',
      'PREFERRED',
      '--path-to-json-file',
      jsonFile,
    );
    expect(fromFile).toEqual({
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

/** Produces `values` to sized-0 on its leader, as one idempotent batch when `producer` is given. */
async function produceTo(
  topic: string,
  values: string[],
  producer?: { producerId: number; producerEpoch: number; baseSequence: number },
): Promise<void> {
  const { leaderId } = await partitionState(1, topic);
  const records = encodeRecordBatch({
    partitionLeaderEpoch: -1,
    compression: CompressionType.None,
    ...(producer ?? {}),
    records: values.map((value, index) => ({
      key: null,
      value: Buffer.from(value),
      timestamp: Date.now() + index,
    })),
  });
  // The leader named by node 1 may not have applied the new topic's metadata yet: it then answers
  // NOT_LEADER_OR_FOLLOWER or UNKNOWN_TOPIC_OR_PARTITION, and a client sends the batch again, as
  // any Kafka producer does (the same sequence: an idempotent retry).
  const retriable: number[] = [ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION];
  const errorCode = await waitFor(
    `${topic}-0 takes the batch at its leader ${leaderId}`,
    () =>
      withConnection(leaderId, async (connection) => {
        const { errorCode: code } = await producePartitionZero(connection, topic, records, 10_000, 15_000);
        return retriable.includes(code) ? undefined : code;
      }),
    waitOptions(),
  );
  expect(errorCode).toBe(ErrorCode.NONE);
}

interface LogDirsJson {
  version: number;
  brokers: {
    broker: number;
    logDirs: {
      logDir: string;
      error: string | null;
      partitions: { partition: string; size: number; offsetLag: number; isFuture: boolean }[];
    }[];
  }[];
}

async function logDirs(...extra: string[]): Promise<{ run: CliRun; json: LogDirsJson | undefined }> {
  const run = await gregor('log-dirs', '--bootstrap-server', bootstrapOf(1), '--describe', ...extra);
  const lines = run.stdout.trim().split('\n');
  return { run, json: run.code === 0 ? (JSON.parse(lines[2]!) as LogDirsJson) : undefined };
}

function sizesOf(json: LogDirsJson, partition: string): Map<number, number> {
  return new Map(
    json.brokers.map((broker) => [
      broker.broker,
      broker.logDirs.flatMap((dir) => dir.partitions).find((entry) => entry.partition === partition)?.size ??
        -1,
    ]),
  );
}

describe('gregor log-dirs (DescribeLogDirs)', () => {
  it("prints every broker's log dir as kafka-log-dirs.sh does; sizes grow on every replica after produce", async () => {
    await createTopic('sized', [1, 2, 3]); // led by the first replica, with a full ISR
    const before = await logDirs('--topic-list', 'sized');
    expect(before.run.code).toBe(0);
    const lines = before.run.stdout.split('\n');
    expect(lines[0]).toBe('Querying brokers for log directories information');
    expect(lines[1]).toBe('Received log directory information from brokers 1,2,3');
    const json = before.json!;
    expect(json.version).toBe(1);
    expect(json.brokers.map((broker) => broker.broker)).toEqual([1, 2, 3]);
    for (const broker of json.brokers) {
      expect(broker.logDirs).toEqual([
        {
          logDir: cluster.node(broker.broker).logDir,
          error: null,
          partitions: [{ partition: 'sized-0', size: 0, offsetLag: 0, isFuture: false }],
        },
      ]);
    }

    await produceTo('sized', ['a', 'b', 'c']);
    const grown = await waitFor(
      'every replica of sized-0 holds the batch',
      async () => {
        const { json: now } = await logDirs('--topic-list', 'sized');
        const sizes = now === undefined ? undefined : sizesOf(now, 'sized-0');
        return sizes !== undefined && [...sizes.values()].every((size) => size > 0) ? sizes : undefined;
      },
      waitOptions(),
    );
    await produceTo('sized', ['d']);
    await waitFor(
      'every replica of sized-0 grew again',
      async () => {
        const { json: now } = await logDirs('--topic-list', 'sized');
        const sizes = now === undefined ? undefined : sizesOf(now, 'sized-0');
        return sizes !== undefined && [...sizes].every(([broker, size]) => size > grown.get(broker)!)
          ? true
          : undefined;
      },
      waitOptions(),
    );

    const one = await logDirs('--broker-list', '2', '--topic-list', 'sized');
    expect(one.json!.brokers.map((broker) => broker.broker)).toEqual([2]);
    const missing = await logDirs('--broker-list', '2,9');
    expect(missing.run.code).toBe(1);
    expect(missing.run.stderr).toContain('The given brokers do not exist from --broker-list: 9');
  });
});

describe('gregor transactions describe-producers (DescribeProducers)', () => {
  it("lists an idempotent producer on the partition's leader; a follower answers NOT_LEADER_OR_FOLLOWER", async () => {
    await createTopic('produced', [2, 3, 1]); // led by the first replica, with a full ISR
    const { producerId, producerEpoch } = await withConnection(1, (connection) =>
      connection.call(
        ApiKey.InitProducerId,
        1,
        { transactionalId: null, transactionTimeoutMs: 60_000 },
        10_000,
      ),
    );
    const id = Number(producerId);
    await produceTo('produced', ['x', 'y', 'z'], { producerId: id, producerEpoch, baseSequence: 0 });
    const run = await gregor(
      'transactions',
      '--bootstrap-server',
      bootstrapOf(1),
      'describe-producers',
      '--topic',
      'produced',
      '--partition',
      '0',
    );
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const [header, row, ...rest] = run.stdout
      .trim()
      .split('\n')
      .map((line) => line.split('\t').map((cell) => cell.trim()));
    expect(header).toEqual([
      'ProducerId',
      'ProducerEpoch',
      'LatestCoordinatorEpoch',
      'LastSequence',
      'LastTimestamp',
      'CurrentTransactionStartOffset',
    ]);
    expect(rest).toEqual([]);
    expect(row!.slice(0, 4)).toEqual([String(id), String(producerEpoch), '-1', '2']);
    expect(Number(row![4])).toBeGreaterThan(0);
    expect(row![5]).toBe('None');

    const follower = await gregor(
      'transactions',
      '--bootstrap-server',
      bootstrapOf(1),
      'describe-producers',
      '--topic',
      'produced',
      '--partition',
      '0',
      '--broker-id',
      '3',
    );
    expect(follower.code).toBe(1);
    expect(follower.stderr).toContain('NOT_LEADER_OR_FOLLOWER');

    // @platformatic/kafka's DescribeProducers v0 codec sees the same producer on the leader (2);
    // the follower (3) answers NOT_LEADER_OR_FOLLOWER for the partition.
    const describeOn = (id: number) =>
      withPlatformatic(id, (connection) =>
        describeProducersV0.api
          .async(connection, [{ name: 'produced', partitionIndexes: [0] }])
          .catch(
            (error: { response?: unknown }) =>
              error.response as describeProducersV0.DescribeProducersResponse,
          ),
      ).then((response) => response.topics[0]!.partitions[0]!);
    const onLeader = await describeOn(2);
    expect(onLeader).toMatchObject({ partitionIndex: 0, errorCode: 0 });
    expect(onLeader.activeProducers).toEqual([
      {
        producerId: BigInt(id),
        producerEpoch,
        lastSequence: 2,
        lastTimestamp: BigInt(row![4]!),
        coordinatorEpoch: -1,
        currentTxnStartOffset: -1n,
      },
    ]);
    const onFollower = await describeOn(3);
    expect(onFollower).toMatchObject({
      partitionIndex: 0,
      errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER,
      activeProducers: [],
    });
  });
});

describe('DescribeTopicPartitions through @platformatic/kafka and `gregor topics describe`', () => {
  it('pages a three-broker topic with its id, leaders and empty ELR lists; the CLI follows the cursor', async () => {
    await createTopic(
      'paged',
      [1, 2],
      [],
      [
        [2, 3],
        [3, 1],
      ],
    );
    const connection = new Connection('dtp-platformatic');
    await connection.connect('127.0.0.1', cluster.node(3).kafkaPort);
    try {
      // @platformatic/kafka (written without Gregor) encodes the request with its cursor marker and
      // decodes the answer; two partitions per page leave the third for the next one.
      const first = await waitFor(
        'paged described with a leader for every partition',
        async () => {
          const response = await describeTopicPartitionsV0.api.async(
            connection,
            [{ name: 'paged' }],
            2,
            undefined,
          );
          const topic = response.topics[0];
          return topic?.partitions.length === 2 && topic.partitions.every((p) => p.leaderId >= 0)
            ? response
            : undefined;
        },
        waitOptions(),
      );
      expect(first.nextCursor).toEqual({ topicName: 'paged', partitionIndex: 2 });
      const [topic] = first.topics;
      expect(topic).toMatchObject({ errorCode: 0, name: 'paged', isInternal: false });
      expect(topic!.topicId).toMatch(/^[0-9a-f-]{32,36}$/);
      expect(topic!.topicId.replace(/-/g, '')).not.toBe('0'.repeat(32));
      expect(topic!.partitions.map((p) => [p.partitionIndex, p.replicaNodes])).toEqual([
        [0, [1, 2]],
        [1, [2, 3]],
      ]);
      for (const partition of topic!.partitions) {
        expect(partition).toMatchObject({ errorCode: 0, eligibleLeaderReplicas: [], lastKnownElr: [] });
        expect(partition.replicaNodes).toContain(partition.leaderId);
      }
      const rest = await describeTopicPartitionsV0.api.async(connection, [{ name: 'paged' }], 2, {
        topicName: 'paged',
        partitionIndex: 2,
      });
      expect(rest.nextCursor).toBeUndefined();
      expect(rest.topics[0]!.partitions.map((p) => [p.partitionIndex, p.replicaNodes])).toEqual([
        [2, [3, 1]],
      ]);
    } finally {
      await connection.close();
    }
    const run = await gregor(
      'topics',
      '--bootstrap-server',
      bootstrapOf(2),
      'describe',
      '--topic',
      'paged',
      '--partition-size-limit-per-response',
      '1',
    );
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const rows = run.stdout
      .split('\n')
      .filter((line) => line.startsWith('\t'))
      .map((line) => /Partition: (\d+)\tLeader: (-?\d+)\tReplicas: ([\d,]+)/.exec(line)!.slice(1));
    expect(rows.map(([partition, , replicas]) => [partition, replicas])).toEqual([
      ['0', '1,2'],
      ['1', '2,3'],
      ['2', '3,1'],
    ]);
  });
});

describe('ListConfigResources through @platformatic/kafka (v0, ListClientMetricsResources) and v1', () => {
  it('lists no client metrics resources in v0; v1 lists every broker and topic by type', async () => {
    await createTopic('configurable', [1]);
    const connection = new Connection('lcr-platformatic');
    await connection.connect('127.0.0.1', cluster.node(2).kafkaPort);
    try {
      expect(await listClientMetricsResourcesV0.api.async(connection)).toEqual({
        throttleTimeMs: 0,
        errorCode: 0,
        clientMetricsResources: [],
      });
    } finally {
      await connection.close();
    }
    const listed = await waitFor(
      'every broker live and configurable listed',
      () =>
        withConnection(3, async (gregorConnection) => {
          const response = await gregorConnection.call(
            ApiKey.ListConfigResources,
            1,
            { resourceTypes: [listedConfigResourceType.broker, listedConfigResourceType.topic] },
            5_000,
          );
          const names = response.configResources.map((r) => `${r.resourceType}:${r.resourceName}`);
          return names.includes('2:configurable') && names.filter((n) => n.startsWith('4:')).length === 3
            ? response
            : undefined;
        }),
      waitOptions(),
    );
    expect(listed.errorCode).toBe(ErrorCode.NONE);
    expect(listed.configResources.filter((r) => r.resourceType === listedConfigResourceType.broker)).toEqual(
      ['1', '2', '3'].map((resourceName) => ({ resourceName, resourceType: 4 })),
    );
  });
});

describe('gregor cluster (kafka-cluster.sh: cluster-id, unregister) and UnregisterBroker through @platformatic/kafka', () => {
  /** The broker ids DescribeCluster lists (live, unfenced), through node `viaId`. */
  const liveBrokerIds = (viaId: number) =>
    withConnection(viaId, async (connection) => {
      const described = await connection.call(
        ApiKey.DescribeCluster,
        0,
        { includeClusterAuthorizedOperations: false },
        5_000,
      );
      return described.brokers.map((broker) => broker.brokerId).sort();
    });

  it('prints the cluster id; unregisters a stopped broker, which registers again when it restarts', async () => {
    expect(await gregor('cluster', 'cluster-id', '--bootstrap-server', bootstrapOf(2))).toEqual({
      code: 0,
      stdout: `Cluster ID: ${cluster.clusterId}\n`,
      stderr: '',
    });

    await cluster.stop(3);
    await waitFor(
      'node 3 fenced',
      async () => ((await liveBrokerIds(1).catch(() => [])).join() === '1,2' ? true : undefined),
      waitOptions(),
    );
    const unregister = () =>
      gregor('cluster', 'unregister', '--bootstrap-server', bootstrapOf(1), '--id', '3');
    expect(await unregister()).toEqual({
      code: 0,
      stdout: 'Broker 3 is no longer registered.\n',
      stderr: '',
    });
    expect(await unregister()).toEqual({
      code: 1,
      stdout: '',
      stderr: 'Error: BROKER_ID_NOT_REGISTERED: Broker ID 3 is not currently registered\n',
    });
    // @platformatic/kafka's UnregisterBroker v0 codec (a client written without Gregor) gets the
    // same answer from another node, which takes it to the controller.
    const connection = new Connection('unregister-platformatic');
    await connection.connect('127.0.0.1', cluster.node(2).kafkaPort);
    try {
      const refused = await unregisterBrokerV0.api.async(connection, 3).then(
        () => undefined,
        (error: { response?: unknown }) => error.response,
      );
      expect(refused).toEqual({
        throttleTimeMs: 0,
        errorCode: ErrorCode.BROKER_ID_NOT_REGISTERED,
        errorMessage: 'Broker ID 3 is not currently registered',
      });
    } finally {
      await connection.close();
    }

    await cluster.restart(3);
    await cluster.waitReady();
    await waitFor(
      'node 3 registered and live again',
      async () => ((await liveBrokerIds(1).catch(() => [])).join() === '1,2,3' ? true : undefined),
      waitOptions(),
    );
  });
});

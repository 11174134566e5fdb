// KIP-848 consumer groups (group.protocol=consumer) with the current librdkafka (2.15.1, through
// Debian's python3-confluent-kafka on LD_LIBRARY_PATH) against three broker processes: two
// consumers share a topic's partitions (never one partition at both), one leaves and the other gets
// them all, every record is consumed exactly once with synchronous commits; after the coordinator's
// node stops, a new consumer of the group joins the new coordinator (which rebuilt the group from
// `__consumer_offsets`: its epoch continues) and resumes from the commits without losing or
// repeating a record. ConsumerGroupDescribe and ListGroups are read with a raw connection, and
// ConsumerGroupDescribe again by librdkafka's C admin API (rd_kafka_DescribeConsumerGroups through
// ctypes, python/librdkafka_admin.py), checked against the partitions each member holds; the
// request metrics show what librdkafka 2.15 sends: ConsumerGroupHeartbeat v1 (its own member ids,
// KIP-1082) and OffsetCommit v9, never JoinGroup. Every consumer checks the librdkafka version it
// ran on.
// @platformatic/kafka's ConsumerGroupHeartbeat codecs (a second client, written without Gregor) walk
// the protocol step by step as a consumer does: a v1 member brings its own id and gets both
// partitions of a topic, a v0 member gets its id from the coordinator, the first gives up one
// partition before the second gets it, then both leave with epoch -1 and the group is empty.

import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KafkaConnection } from '@gregor/client';
import { ApiKey, ErrorCode } from '@gregor/protocol';
import {
  Admin,
  Connection,
  consumerGroupHeartbeatV0,
  consumerGroupHeartbeatV1,
  findCoordinatorV6,
  metadataV12,
  ResponseError,
} from '@platformatic/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  currentLibrdkafkaEnv,
  currentLibrdkafkaVersion,
  replicatedThreeNodeProperties,
  runCurrentLibrdkafkaPython,
} from '../testing/current-librdkafka.js';
import { ProcessCluster } from '../testing/process-cluster.js';

const clientTimeoutMs = 60_000;
const requestTimeoutMs = 10_000;
/** Status-file polls (every 250 ms) before a wait gives up: a bound, not a timing assertion. */
const waitPollsMax = 240;
const partitionCount = 4;
const topic = 'kip848-orders';
const group = 'kip848-group';
const pythonDir = new URL('./python/', import.meta.url).pathname;
const librdkafkaAdmin = join(pythonDir, 'librdkafka_admin.py');
/** The topic of @platformatic/kafka's members: created while all three nodes run (the first test stops one). */
const platformaticTopic = 'kip848-platformatic';

/** A group as python/librdkafka_admin.py's describe_consumer_groups reports it. */
interface LibrdkafkaGroup {
  readonly group: string;
  readonly error: number;
  readonly state: string;
  readonly type: string;
  readonly assignor: string;
  readonly simple: boolean;
  readonly coordinator: number | null;
  readonly members: readonly {
    readonly member_id: string;
    readonly client_id: string;
    readonly assignment: readonly (readonly [string, number])[];
    readonly target_assignment: readonly (readonly [string, number])[] | null;
  }[];
}

let cluster: ProcessCluster;
let env: NodeJS.ProcessEnv;
let workDir: string;

beforeAll(async () => {
  env = currentLibrdkafkaEnv();
  workDir = mkdtempSync(join(tmpdir(), 'gregor-kip848-'));
  cluster = await ProcessCluster.start({
    nodeCount: 3,
    properties: {
      ...replicatedThreeNodeProperties,
      'gregor.metrics.port': '0',
    },
  });
  const admin = new Admin({
    clientId: 'kip848-platformatic-admin',
    bootstrapBrokers: [`127.0.0.1:${cluster.node(1).kafkaPort}`],
  });
  try {
    await admin.createTopics({ topics: [platformaticTopic], partitions: 2, replicas: 3 });
  } finally {
    await admin.close();
  }
});

afterAll(async () => {
  await cluster?.close();
  if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true });
});

function bootstrapOf(nodeIds: readonly number[]): string {
  return nodeIds.map((id) => `127.0.0.1:${cluster.node(id).kafkaPort}`).join(',');
}

function confluent<T>(command: object, nodeIds: readonly number[]): T {
  return runCurrentLibrdkafkaPython<T>(
    join(pythonDir, 'confluent_kafka_client.py'),
    { bootstrap: bootstrapOf(nodeIds), ...command },
    clientTimeoutMs,
  );
}

function produce(first: number, count: number, nodeIds: readonly number[]): string[] {
  const records = Array.from({ length: count }, (_, i) => ({
    partition: (first + i) % partitionCount,
    key: `k${first + i}`,
    value: `v${first + i}`,
  }));
  confluent({ op: 'produce', topic, records }, nodeIds);
  return records.map((r) => r.value);
}

interface ConsumedRecord {
  readonly partition: number;
  readonly offset: number;
  readonly value: string;
}

interface ConsumerResult {
  readonly librdkafka: string;
  readonly records: ConsumedRecord[];
  readonly assignments: number[][];
  readonly errors: string[];
}

interface ConsumerStatus {
  readonly librdkafka: string;
  readonly assignment: number[];
  readonly consumed: number;
}

/** One long-running kip848_consumer.py process. */
class Kip848Consumer {
  private readonly child: ChildProcess;
  private readonly statusFile: string;
  private readonly stopFile: string;
  private stdout = '';
  private stderr = '';

  constructor(
    readonly name: string,
    nodeIds: readonly number[],
  ) {
    this.statusFile = join(workDir, `${name}.status.json`);
    this.stopFile = join(workDir, `${name}.stop`);
    this.child = spawn('/usr/bin/python3', [join(pythonDir, 'kip848_consumer.py')], { env });
    this.child.stdout?.on('data', (chunk: Buffer) => {
      this.stdout += chunk.toString('utf8');
    });
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr += chunk.toString('utf8');
    });
    this.child.stdin?.end(
      JSON.stringify({
        bootstrap: bootstrapOf(nodeIds),
        topic,
        group,
        client_id: `kip848-${name}`,
        status_file: this.statusFile,
        stop_file: this.stopFile,
        timeout_s: 240,
      }),
    );
  }

  status(): ConsumerStatus | undefined {
    if (!existsSync(this.statusFile)) return undefined;
    return JSON.parse(readFileSync(this.statusFile, 'utf8')) as ConsumerStatus;
  }

  /** Asks it to close (it leaves the group) and returns what it consumed. */
  async stop(): Promise<ConsumerResult> {
    writeFileSync(this.stopFile, '');
    if (this.child.exitCode === null) await once(this.child, 'exit');
    if (this.child.exitCode !== 0) {
      throw new Error(`consumer ${this.name} exited ${this.child.exitCode}: ${this.stderr.slice(-2000)}`);
    }
    const result = JSON.parse(this.stdout) as ConsumerResult;
    expect(result.librdkafka).toBe(currentLibrdkafkaVersion);
    return result;
  }
}

/** Polls `check` until it holds; fails with `what` after waitPollsMax polls. */
async function waitFor(what: string, check: () => boolean): Promise<void> {
  for (let poll = 0; poll < waitPollsMax; poll++) {
    if (check()) return;
    await sleep(250);
  }
  throw new Error(`gave up waiting for ${what}\n${cluster.tail(40)}`);
}

async function withCoordinator<T>(
  nodeIds: readonly number[],
  use: (connection: KafkaConnection, coordinatorId: number) => Promise<T>,
  groupId = group,
): Promise<T> {
  const first = await KafkaConnection.open({
    host: '127.0.0.1',
    port: cluster.node(nodeIds[0]!).kafkaPort,
    connectTimeoutMs: 2_000,
  });
  let coordinatorId = -1;
  try {
    for (let attempt = 0; attempt < waitPollsMax && coordinatorId < 0; attempt++) {
      const found = await first.call(
        ApiKey.FindCoordinator,
        4,
        { key: '', keyType: 0, coordinatorKeys: [groupId] },
        requestTimeoutMs,
      );
      const coordinator = found.coordinators[0];
      if (coordinator?.errorCode === ErrorCode.NONE && nodeIds.includes(coordinator.nodeId)) {
        coordinatorId = coordinator.nodeId;
      } else {
        await sleep(250);
      }
    }
  } finally {
    first.close();
  }
  expect(coordinatorId).toBeGreaterThan(0);
  const connection = await KafkaConnection.open({
    host: '127.0.0.1',
    port: cluster.node(coordinatorId).kafkaPort,
    connectTimeoutMs: 2_000,
  });
  try {
    return await use(connection, coordinatorId);
  } finally {
    connection.close();
  }
}

function describeGroup(connection: KafkaConnection, groupId = group) {
  return connection
    .call(
      ApiKey.ConsumerGroupDescribe,
      1,
      { groupIds: [groupId], includeAuthorizedOperations: false },
      requestTimeoutMs,
    )
    .then((response) => response.groups[0]!);
}

/** Requests served, summed over the running nodes, by "<API> v<version>" (the request metrics). */
async function requestCounts(
  nodeIds: readonly number[],
  apis: readonly string[],
): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  const pattern = new RegExp(
    `^kafka_network_requestmetrics_requests_total\\{request="(${apis.join('|')})",version="(\\d+)"\\} (\\S+)$`,
  );
  for (const id of nodeIds) {
    const response = await fetch(`http://127.0.0.1:${cluster.node(id).metricsPort}/metrics`);
    expect(response.status).toBe(200);
    for (const line of (await response.text()).split('\n')) {
      const match = pattern.exec(line);
      if (match === null) continue;
      const key = `${match[1]} v${match[2]}`;
      counts.set(key, (counts.get(key) ?? 0) + Number(match[3]));
    }
  }
  return counts;
}

function checkExactlyOnce(records: readonly ConsumedRecord[], produced: readonly string[]): void {
  const values = records.map((r) => r.value);
  expect(new Set(values).size).toBe(values.length);
  expect([...values].sort()).toEqual([...produced].sort());
}

/** One consumer reads each partition in offset order. */
function checkInOrder(records: readonly ConsumedRecord[]): void {
  for (let p = 0; p < partitionCount; p++) {
    const offsets = records.filter((r) => r.partition === p).map((r) => r.offset);
    expect(offsets).toEqual([...offsets].sort((x, y) => x - y));
  }
}

describe(`KIP-848 consumer groups with librdkafka ${currentLibrdkafkaVersion} (group.protocol=consumer)`, () => {
  it('shares partitions between two consumers, hands them all to the one left, resumes from commits after a coordinator failover', async () => {
    const allNodes = [1, 2, 3];
    const created = confluent<{ topics: Record<string, string | null> }>(
      {
        op: 'create_topics',
        topics: [{ name: topic, partitions: partitionCount, replication: 3, config: {} }],
      },
      allNodes,
    );
    expect(created.topics[topic]).toBeNull();
    const produced = produce(0, 200, allNodes);

    const a = new Kip848Consumer('a', allNodes);
    await waitFor('a to own every partition', () => a.status()?.assignment.length === partitionCount);
    expect(a.status()?.librdkafka).toBe(currentLibrdkafkaVersion);

    const b = new Kip848Consumer('b', allNodes);
    await waitFor('a and b to share the partitions', () => {
      const ownedByA = a.status()?.assignment ?? [];
      const ownedByB = b.status()?.assignment ?? [];
      return (
        ownedByA.length > 0 && ownedByB.length > 0 && ownedByA.length + ownedByB.length === partitionCount
      );
    });
    const sharedA = a.status()!.assignment;
    const sharedB = b.status()!.assignment;
    expect(sharedA.filter((p) => sharedB.includes(p))).toEqual([]);
    expect([...sharedA, ...sharedB].sort()).toEqual([0, 1, 2, 3]);

    const epochBeforeFailover = await withCoordinator(allNodes, async (connection, coordinatorId) => {
      let described = await describeGroup(connection);
      for (let poll = 0; poll < waitPollsMax && described.groupState !== 'Stable'; poll++) {
        await sleep(250);
        described = await describeGroup(connection);
      }
      expect(described.errorCode).toBe(ErrorCode.NONE);
      expect(described.groupState).toBe('Stable');
      expect(described.assignorName).toBe('uniform');
      expect(described.members.map((m) => m.clientId).sort()).toEqual(['kip848-a', 'kip848-b']);
      const owned = described.members.flatMap((m) =>
        m.assignment.topicPartitions.flatMap((t) => t.partitions),
      );
      expect(owned.sort()).toEqual([0, 1, 2, 3]);
      for (const member of described.members) {
        expect(member.memberType).toBe(1);
        expect(member.memberEpoch).toBe(described.groupEpoch);
        expect(member.subscribedTopicNames).toEqual([topic]);
      }
      const listed = await connection.call(
        ApiKey.ListGroups,
        5,
        { statesFilter: [], typesFilter: ['consumer'] },
        requestTimeoutMs,
      );
      expect(listed.groups.find((g) => g.groupId === group)).toMatchObject({
        groupType: 'consumer',
        protocolType: 'consumer',
        groupState: 'Stable',
      });

      // librdkafka's own DescribeConsumerGroups (its C admin API, through ctypes) reads the group with
      // ConsumerGroupDescribe v0 (it falls back to DescribeGroups only for a classic group): the
      // state, type, assignor and coordinator, and each member's partitions as that member holds them.
      const describeRequests = () => requestCounts(allNodes, ['ConsumerGroupDescribe', 'DescribeGroups']);
      const before = await describeRequests();
      const byLibrdkafka = runCurrentLibrdkafkaPython<{ answers: [{ groups: LibrdkafkaGroup[] }] }>(
        librdkafkaAdmin,
        { bootstrap: bootstrapOf(allNodes), steps: [{ op: 'describe_consumer_groups', groups: [group] }] },
        clientTimeoutMs,
      ).answers[0].groups;
      const after = await describeRequests();
      expect(byLibrdkafka).toHaveLength(1);
      expect(byLibrdkafka[0]).toMatchObject({
        group,
        error: ErrorCode.NONE,
        state: 'Stable',
        type: 'Consumer',
        assignor: 'uniform',
        simple: false,
        coordinator: coordinatorId,
      });
      const members = byLibrdkafka[0]!.members;
      expect(members.map((m) => m.client_id)).toEqual(['kip848-a', 'kip848-b']);
      const held: Record<string, readonly number[]> = {
        'kip848-a': a.status()!.assignment,
        'kip848-b': b.status()!.assignment,
      };
      for (const member of members) {
        const partitions = held[member.client_id]!.map((p) => [topic, p]);
        expect(partitions.length).toBeGreaterThan(0);
        expect(member.assignment).toEqual(partitions);
        expect(member.target_assignment).toEqual(partitions);
        expect(member.member_id).toBe(
          described.members.find((m) => m.clientId === member.client_id)!.memberId,
        );
      }
      expect(
        (after.get('ConsumerGroupDescribe v0') ?? 0) - (before.get('ConsumerGroupDescribe v0') ?? 0),
      ).toBe(1);
      expect([...after.keys()].filter((key) => key.startsWith('DescribeGroups'))).toEqual([]);
      return described.groupEpoch;
    });

    produced.push(...produce(200, 200, allNodes));
    await waitFor(
      'a and b to consume the first 400 records',
      () => (a.status()?.consumed ?? 0) + (b.status()?.consumed ?? 0) >= 400,
    );
    const resultB = await b.stop();
    await waitFor('a to own every partition again', () => a.status()?.assignment.length === partitionCount);
    produced.push(...produce(400, 100, allNodes));
    await waitFor('a to consume the rest', () => (a.status()?.consumed ?? 0) + resultB.records.length >= 500);
    const resultA = await a.stop();
    expect(resultA.errors).toEqual([]);
    expect(resultB.errors).toEqual([]);
    expect(resultB.records.length).toBeGreaterThan(0);
    // A partition is never consumed by both at once: with a commit after every record, nothing twice.
    checkExactlyOnce([...resultA.records, ...resultB.records], produced);
    checkInOrder(resultA.records);
    checkInOrder(resultB.records);

    // The versions librdkafka 2.15 picked from what Gregor serves: the consumer protocol throughout.
    const served = await requestCounts(allNodes, ['ConsumerGroupHeartbeat', 'OffsetCommit', 'JoinGroup']);
    expect([...served.keys()].sort()).toEqual(['ConsumerGroupHeartbeat v1', 'OffsetCommit v9']);
    // One synchronous commit per record consumed; no classic JoinGroup at all.
    expect(served.get('OffsetCommit v9')).toBeGreaterThanOrEqual(500);

    // The coordinator's node stops; another broker takes over the group from __consumer_offsets.
    const oldCoordinatorId = await withCoordinator(allNodes, async (_connection, id) => id);
    await cluster.stop(oldCoordinatorId);
    const remaining = allNodes.filter((id) => id !== oldCoordinatorId);
    const late = produce(500, 60, remaining);
    const c = new Kip848Consumer('c', remaining);
    await waitFor(
      'c to consume what was produced after the others left',
      () => (c.status()?.consumed ?? 0) >= 60,
    );
    const newEpoch = await withCoordinator(remaining, async (connection, id) => {
      expect(id).not.toBe(oldCoordinatorId);
      const described = await describeGroup(connection);
      expect(described.members.map((m) => m.clientId)).toEqual(['kip848-c']);
      return described.groupEpoch;
    });
    const resultC = await c.stop();
    expect(resultC.errors).toEqual([]);
    // Resumed from the commits: exactly the records produced after a and b were done.
    checkExactlyOnce(resultC.records, late);
    expect(newEpoch).toBeGreaterThan(epochBeforeFailover);
    await cluster.restart(oldCoordinatorId);
  }, 300_000);

  it('@platformatic/kafka joins with ConsumerGroupHeartbeat v1 and v0, takes over a revoked partition and leaves with epoch -1', async () => {
    const allNodes = [1, 2, 3];
    const platformaticGroup = 'kip848-platformatic-group';

    const connect = async (id: number, clientId: string): Promise<Connection> => {
      const connection = new Connection(clientId);
      await connection.connect('127.0.0.1', cluster.node(id).kafkaPort);
      return connection;
    };
    const bootstrap = await connect(allNodes[0]!, 'kip848-platformatic-bootstrap');
    let coordinatorId = -1;
    try {
      for (let poll = 0; poll < waitPollsMax && coordinatorId < 0; poll++) {
        const found = await findCoordinatorV6.api
          .async(bootstrap, 0, [platformaticGroup])
          .catch((error: unknown) => (error instanceof ResponseError ? undefined : Promise.reject(error)));
        if (found !== undefined && allNodes.includes(found.coordinators[0]!.nodeId)) {
          coordinatorId = found.coordinators[0]!.nodeId;
        } else {
          await sleep(250);
        }
      }
    } finally {
      await bootstrap.close();
    }
    expect(coordinatorId).toBeGreaterThan(0);
    // Each member on its own connection to the coordinator, as two consumers would be.
    const a = await connect(coordinatorId, 'kip848-platformatic-a');
    const b = await connect(coordinatorId, 'kip848-platformatic-b');
    try {
      // The coordinator resolves a subscription against its own metadata: wait until it has the topic.
      let topicId: string | undefined;
      for (let poll = 0; poll < waitPollsMax && topicId === undefined; poll++) {
        const metadata = await metadataV12.api
          .async(a, [platformaticTopic], false, false)
          .catch((error: unknown) => (error instanceof ResponseError ? undefined : Promise.reject(error)));
        const described = metadata?.topics.find((t) => t.name === platformaticTopic);
        if (described?.partitions.length === 2) topicId = described.topicId;
        else await sleep(250);
      }
      expect(topicId).toBeDefined();
      const partitions = (owned: readonly number[]) =>
        owned.length === 0 ? [] : [{ topicId: topicId!, partitions: [...owned] }];
      const assigned = (response: {
        assignment: { topicPartitions: { topicId: string; partitions: number[] }[] } | null;
      }) =>
        response.assignment === null
          ? null
          : response.assignment.topicPartitions
              .flatMap((t) => {
                expect(t.topicId).toBe(topicId);
                return t.partitions;
              })
              .sort();
      /**
       * A heartbeat of member `memberId` at `memberEpoch`, a on ConsumerGroupHeartbeat v1 and b on v0:
       * the subscription when joining (epoch 0), then null fields for "unchanged"; `owned` null too
       * (the codec's typings say an array, and it writes null as the absent array).
       */
      const heartbeat =
        (
          api: typeof consumerGroupHeartbeatV1.api | typeof consumerGroupHeartbeatV0.api,
          connection: Connection,
        ) =>
        (memberId: string, memberEpoch: number, owned: readonly number[] | null) =>
          api.async(
            connection,
            platformaticGroup,
            memberId,
            memberEpoch,
            null,
            null,
            memberEpoch === 0 ? 30_000 : -1,
            memberEpoch === 0 ? [platformaticTopic] : null,
            null,
            memberEpoch === 0 ? 'uniform' : null,
            owned === null ? (null as never) : partitions(owned),
          );
      const heartbeatV1 = heartbeat(consumerGroupHeartbeatV1.api, a);
      const heartbeatV0 = heartbeat(consumerGroupHeartbeatV0.api, b);

      // v1 (KIP-1082): the member brings its own id; alone in the group it gets both partitions.
      const memberA = randomUUID();
      const joinedA = await heartbeatV1(memberA, 0, []);
      expect(joinedA).toMatchObject({ errorCode: 0, errorMessage: null, memberId: memberA });
      expect(joinedA.memberEpoch).toBeGreaterThan(0);
      expect(joinedA.heartbeatIntervalMs).toBeGreaterThan(0);
      expect(assigned(joinedA)).toEqual([0, 1]);
      const epochA = joinedA.memberEpoch;

      // v0: the coordinator names the member. The group epoch moves on; its target partition is
      // still a's, so it gets nothing yet.
      const joinedB = await heartbeatV0('', 0, []);
      const memberB = joinedB.memberId!;
      expect(memberB).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(joinedB).toMatchObject({ errorCode: 0, memberEpoch: epochA + 1 });
      expect(assigned(joinedB)).toEqual([]);

      // a, reporting both partitions, is told to keep one: it stays at its epoch until it revokes.
      const revoking = await heartbeatV1(memberA, epochA, [0, 1]);
      expect(revoking.memberEpoch).toBe(epochA);
      const keptByA = assigned(revoking)!;
      expect(keptByA).toHaveLength(1);
      const givenToB = [0, 1].filter((p) => !keptByA.includes(p));
      expect(assigned(await heartbeatV0(memberB, epochA + 1, []))).toEqual([]);
      const revoked = await heartbeatV1(memberA, epochA, keptByA);
      expect(revoked.memberEpoch).toBe(epochA + 1);
      expect(assigned(revoked)).toEqual(keptByA);
      const takenOver = await heartbeatV0(memberB, epochA + 1, []);
      expect(takenOver.memberEpoch).toBe(epochA + 1);
      expect(assigned(takenOver)).toEqual(givenToB);

      await withCoordinator(
        allNodes,
        async (connection, id) => {
          expect(id).toBe(coordinatorId);
          const described = await describeGroup(connection, platformaticGroup);
          expect(described).toMatchObject({
            errorCode: ErrorCode.NONE,
            groupState: 'Stable',
            groupEpoch: epochA + 1,
            assignmentEpoch: epochA + 1,
            assignorName: 'uniform',
          });
          const held = Object.fromEntries(
            described.members.map((m) => [
              m.memberId,
              [m.clientId, m.memberEpoch, m.assignment.topicPartitions.flatMap((t) => t.partitions)],
            ]),
          );
          expect(held).toEqual({
            [memberA]: ['kip848-platformatic-a', epochA + 1, keptByA],
            [memberB]: ['kip848-platformatic-b', epochA + 1, givenToB],
          });
        },
        platformaticGroup,
      );

      // a leaves (epoch -1); b, at its next heartbeat, gets both partitions at a new epoch.
      expect(await heartbeatV1(memberA, -1, null)).toMatchObject({
        errorCode: 0,
        memberId: memberA,
        memberEpoch: -1,
      });
      const alone = await heartbeatV0(memberB, epochA + 1, givenToB);
      expect(alone.memberEpoch).toBe(epochA + 2);
      expect(assigned(alone)).toEqual([0, 1]);
      expect(await heartbeatV0(memberB, -1, null)).toMatchObject({
        errorCode: 0,
        memberId: memberB,
        memberEpoch: -1,
      });
      // A member that left is unknown to the coordinator: UNKNOWN_MEMBER_ID (25).
      const unknown = await heartbeatV1(memberA, epochA + 1, keptByA).catch((error: unknown) => error);
      expect(unknown).toBeInstanceOf(ResponseError);
      expect((unknown as ResponseError).response).toMatchObject({ errorCode: 25 });

      await withCoordinator(
        allNodes,
        async (connection) => {
          expect(await describeGroup(connection, platformaticGroup)).toMatchObject({
            errorCode: ErrorCode.NONE,
            groupState: 'Empty',
            members: [],
          });
        },
        platformaticGroup,
      );
    } finally {
      await a.close();
      await b.close();
    }
  }, 60_000);
});

// The group APIs end to end inside one broker: encoded frames through the real router, the driver,
// the pure coordinator, appends to a real `__consumer_offsets` log and loads from it, on a manual
// clock (held JoinGroups complete when the test moves time).

import { SeededRandom } from '@gregor/ground';
import { coordinatorPartitionFor, decodeOffsetsRecord } from '@gregor/group';
import { ApiKey, ErrorCode, iterateBatches, type RequestInput, zeroUuid } from '@gregor/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { apiHandlers } from '../apis/api-handlers.js';
import { BrokerLease } from '../node/broker-lease.js';
import { MetadataBarrier, type PartitionLeader } from '../node/metadata-barrier.js';
import { createRequestRouter } from '../request-router.js';
import { LocalClusterFixture, type LocalClusterOptions, settle } from '../testing/local-cluster-fixture.js';
import { GroupCoordinatorDriver } from './group-coordinator-driver.js';
import { offsetsTopicName } from './offsets-topic.js';

const offsetsPartitionCount = 4;
const initialRebalanceDelayMs = 300;
const sessionTimeoutMs = 10_000;
/** Manual-time steps a held request may need before it is answered (a bound, not a wait). */
const advanceStepsMax = 200;
const advanceStepMs = 50;

let cluster: LocalClusterFixture;
let driver: GroupCoordinatorDriver;

afterEach(async () => {
  driver.close();
  await cluster.close();
});

async function start(
  options: LocalClusterOptions = {},
  metadataBarrier?: { confirm(partitionIndex: number, leaderEpoch: number): Promise<boolean> },
): Promise<void> {
  cluster = await LocalClusterFixture.start(options);
  driver = new GroupCoordinatorDriver({
    brokerId: cluster.brokerId,
    replicaManager: cluster.replicaManager,
    clock: cluster.clock,
    timers: cluster.timers,
    random: new SeededRandom(7),
    logger: cluster.logger,
    offsetsTopic: { numPartitions: offsetsPartitionCount, replicationFactor: 3 },
    groupInitialRebalanceDelayMs: initialRebalanceDelayMs,
    metadataBarrier: metadataBarrier ?? cluster.metadataBarrier,
  });
  cluster.router = createRequestRouter(cluster.context, apiHandlers({ groups: driver }));
}

/** Moves manual time in small steps until `pending` settles (held JoinGroups wait for deadlines). */
async function advanceUntil<T>(pending: Promise<T>): Promise<T> {
  let done = false;
  void pending.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  for (let step = 0; step < advanceStepsMax && !done; step++) {
    await settle(() => true);
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (!done) cluster.advanceMs(advanceStepMs);
  }
  return pending;
}

async function createTopic(name: string, numPartitions: number): Promise<void> {
  const response = await cluster.request(ApiKey.CreateTopics, 4, {
    topics: [{ name, numPartitions, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 1000,
    validateOnly: false,
  });
  expect(response.topics[0]!.errorCode).toBe(ErrorCode.NONE);
}

/** FindCoordinator, then waits until the group's partition is loaded here. */
async function findCoordinator(groupId: string): Promise<number> {
  const response = await cluster.request(ApiKey.FindCoordinator, 2, { key: groupId, keyType: 0 });
  expect(response.errorCode).toBe(ErrorCode.NONE);
  const partitionIndex = coordinatorPartitionFor(groupId, offsetsPartitionCount);
  await settle(() => driver.ownedPartitions().includes(partitionIndex) && !driver.isLoading(partitionIndex));
  return response.nodeId;
}

function joinBody(groupId: string, memberId: string): RequestInput<typeof ApiKey.JoinGroup> {
  return {
    groupId,
    sessionTimeoutMs,
    rebalanceTimeoutMs: sessionTimeoutMs,
    memberId,
    groupInstanceId: null,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: Buffer.from('subscription') }],
  };
}

/** One member joins (v5: MEMBER_ID_REQUIRED first) and syncs as leader; returns its member id and generation. */
async function joinAndSync(groupId: string): Promise<{ memberId: string; generationId: number }> {
  const first = await cluster.request(ApiKey.JoinGroup, 5, joinBody(groupId, ''));
  expect(first.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);
  const joined = await advanceUntil(cluster.request(ApiKey.JoinGroup, 5, joinBody(groupId, first.memberId)));
  expect(joined).toMatchObject({ errorCode: ErrorCode.NONE, leader: first.memberId, protocolName: 'range' });
  expect(joined.members.map((member) => member.memberId)).toEqual([first.memberId]);
  const synced = await advanceUntil(
    cluster.request(ApiKey.SyncGroup, 3, {
      groupId,
      generationId: joined.generationId,
      memberId: joined.memberId,
      groupInstanceId: null,
      assignments: [{ memberId: joined.memberId, assignment: Buffer.from('assignment') }],
    }),
  );
  expect(synced).toMatchObject({ errorCode: ErrorCode.NONE, assignment: Buffer.from('assignment') });
  return { memberId: joined.memberId, generationId: joined.generationId };
}

async function commit(
  groupId: string,
  memberId: string,
  generationId: number,
  topic: string,
  offset: number,
) {
  return cluster.request(ApiKey.OffsetCommit, 8, {
    groupId,
    generationId,
    memberId,
    groupInstanceId: null,
    topics: [
      {
        name: topic,
        partitions: [
          {
            partitionIndex: 0,
            committedOffset: BigInt(offset),
            committedLeaderEpoch: 0,
            committedMetadata: 'meta',
          },
        ],
      },
    ],
  });
}

describe('FindCoordinator', () => {
  it('creates __consumer_offsets (compacted, RF lowered to the live brokers) and names the leader of the group partition', async () => {
    await start();
    expect(cluster.image().topic(offsetsTopicName)).toBeUndefined();
    const v2 = await cluster.request(ApiKey.FindCoordinator, 2, { key: 'payments', keyType: 0 });
    expect(v2).toMatchObject({ errorCode: ErrorCode.NONE, nodeId: 1, host: 'localhost', port: 9001 });

    const topic = cluster.image().topic(offsetsTopicName)!;
    expect(topic.partitions).toHaveLength(offsetsPartitionCount);
    expect(topic.partitions.every((partition) => partition.replicas.length === 1)).toBe(true);
    expect(cluster.image().topicConfigs(offsetsTopicName).get('cleanup.policy')).toBe('compact');

    const v4 = await cluster.request(ApiKey.FindCoordinator, 4, {
      key: '',
      keyType: 0,
      coordinatorKeys: ['payments', 'billing'],
    });
    expect(v4.coordinators).toEqual([
      { key: 'payments', nodeId: 1, host: 'localhost', port: 9001, errorCode: 0, errorMessage: null },
      { key: 'billing', nodeId: 1, host: 'localhost', port: 9001, errorCode: 0, errorMessage: null },
    ]);
    const transaction = await cluster.request(ApiKey.FindCoordinator, 1, { key: 'tx', keyType: 1 });
    expect(transaction.errorCode).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
  });

  it('names another broker for a group whose partition it leads, and answers NOT_COORDINATOR for that group here', async () => {
    await start({ otherBrokerIds: [2] });
    await cluster.request(ApiKey.FindCoordinator, 0, { key: 'warmup' });
    const topic = cluster.image().topic(offsetsTopicName)!;
    const groupOfTwo = Array.from({ length: 100 }, (_, i) => `group-${i}`).find(
      (groupId) => topic.partitions[coordinatorPartitionFor(groupId, offsetsPartitionCount)]!.leader === 2,
    )!;
    const found = await cluster.request(ApiKey.FindCoordinator, 3, { key: groupOfTwo, keyType: 0 });
    expect(found).toMatchObject({ errorCode: ErrorCode.NONE, nodeId: 2, port: 9002 });
    const join = await cluster.request(ApiKey.JoinGroup, 5, joinBody(groupOfTwo, ''));
    expect(join.errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    const fetch = await cluster.request(ApiKey.OffsetFetch, 5, {
      groupId: groupOfTwo,
      topics: null,
      requireStable: false,
    });
    expect(fetch.errorCode).toBe(ErrorCode.NOT_COORDINATOR);
  });

  it('asks the metadata barrier only for groups of partitions it owns, and answers groups in request order', async () => {
    let confirmations = 0;
    let confirming = true;
    await start(
      { otherBrokerIds: [2] },
      {
        confirm: async () => {
          confirmations++;
          return confirming;
        },
      },
    );
    await cluster.request(ApiKey.FindCoordinator, 0, { key: 'warmup' });
    const topic = cluster.image().topic(offsetsTopicName)!;
    const groupsLedBy = (leader: number) =>
      Array.from({ length: 100 }, (_, i) => `group-${i}`).filter(
        (groupId) =>
          topic.partitions[coordinatorPartitionFor(groupId, offsetsPartitionCount)]!.leader === leader,
      );
    const [hereA, hereB] = groupsLedBy(cluster.brokerId);
    const [there] = groupsLedBy(2);
    await findCoordinator(hereA!);
    await findCoordinator(hereB!);
    const describe = () =>
      cluster.request(ApiKey.DescribeGroups, 5, {
        groups: [hereA!, there!, hereB!],
        includeAuthorizedOperations: false,
      });
    const confirmed = await describe();
    expect(confirmations).toBe(2);
    expect(confirmed.groups.map((group) => [group.groupId, group.errorCode, group.groupState])).toEqual([
      [hereA, ErrorCode.NONE, 'Dead'],
      [there, ErrorCode.NOT_COORDINATOR, ''],
      [hereB, ErrorCode.NONE, 'Dead'],
    ]);
    confirming = false;
    const refused = await describe();
    expect(refused.groups.map((group) => [group.groupId, group.errorCode])).toEqual([
      [hereA, ErrorCode.NOT_COORDINATOR],
      [there, ErrorCode.NOT_COORDINATOR],
      [hereB, ErrorCode.NOT_COORDINATOR],
    ]);
    const fetched = await cluster.request(ApiKey.OffsetFetch, 8, {
      groupId: '',
      topics: [],
      groups: [
        { groupId: there!, topics: null },
        { groupId: hereA!, topics: null },
      ],
      requireStable: false,
    });
    expect(fetched.groups.map((group) => [group.groupId, group.errorCode])).toEqual([
      [there, ErrorCode.NOT_COORDINATOR],
      [hereA, ErrorCode.NOT_COORDINATOR],
    ]);
    expect(confirmations).toBe(5);
  });
});

describe('group membership and offsets through the router', () => {
  it('joins, syncs, heartbeats, commits (one batch in the offsets log) and fetches', async () => {
    await start();
    await createTopic('orders', 2);
    const groupId = 'orders-app';
    await findCoordinator(groupId);
    const { memberId, generationId } = await joinAndSync(groupId);

    const heartbeat = await cluster.request(ApiKey.Heartbeat, 3, {
      groupId,
      generationId,
      memberId,
      groupInstanceId: null,
    });
    expect(heartbeat.errorCode).toBe(ErrorCode.NONE);
    const stale = await cluster.request(ApiKey.Heartbeat, 3, {
      groupId,
      generationId: generationId + 7,
      memberId,
      groupInstanceId: null,
    });
    expect(stale.errorCode).toBe(ErrorCode.ILLEGAL_GENERATION);

    const committed = await commit(groupId, memberId, generationId, 'orders', 42);
    // Below v10 the topic id is not on the wire: it decodes as the zero uuid.
    expect(committed.topics).toEqual([
      { name: 'orders', topicId: zeroUuid, partitions: [{ partitionIndex: 0, errorCode: 0 }] },
    ]);
    const unknownTopic = await commit(groupId, memberId, generationId, 'no-such-topic', 1);
    expect(unknownTopic.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);

    const fetched = await cluster.request(ApiKey.OffsetFetch, 5, {
      groupId,
      topics: [{ name: 'orders', partitionIndexes: [0, 1] }],
      requireStable: false,
    });
    expect(fetched.errorCode).toBe(ErrorCode.NONE);
    expect(fetched.topics[0]!.partitions).toEqual([
      { partitionIndex: 0, committedOffset: 42n, committedLeaderEpoch: 0, metadata: 'meta', errorCode: 0 },
      { partitionIndex: 1, committedOffset: -1n, committedLeaderEpoch: -1, metadata: '', errorCode: 0 },
    ]);

    // The commit is one batch of the group's offsets partition, in Kafka's record layout.
    const partitionIndex = coordinatorPartitionFor(groupId, offsetsPartitionCount);
    const log = cluster.replicaManager.partition(offsetsTopicName, partitionIndex)!.log;
    const read = await log.read(0, 1 << 20);
    expect(read.errorCode).toBe(ErrorCode.NONE);
    const batches = [...iterateBatches(read.errorCode === ErrorCode.NONE ? read.records : Buffer.alloc(0))];
    const commitBatch = batches.at(-1)!;
    expect(commitBatch.records).toHaveLength(1);
    const decoded = decodeOffsetsRecord([commitBatch.records[0]!.key!, commitBatch.records[0]!.value]);
    expect(decoded).toMatchObject({ kind: 'offsetCommit', group: groupId, topic: 'orders', partition: 0 });
  });

  it('describes, lists, expires a silent member on the timer, and deletes the empty group', async () => {
    await start();
    await createTopic('orders', 1);
    const groupId = 'reporting';
    await findCoordinator(groupId);
    const { memberId, generationId } = await joinAndSync(groupId);
    await commit(groupId, memberId, generationId, 'orders', 5);

    const described = await cluster.request(ApiKey.DescribeGroups, 5, {
      groups: [groupId],
      includeAuthorizedOperations: false,
    });
    expect(described.groups[0]).toMatchObject({
      errorCode: 0,
      groupState: 'Stable',
      protocolType: 'consumer',
      protocolData: 'range',
    });
    expect(described.groups[0]!.members[0]).toMatchObject({
      memberId,
      clientId: 'fixture-client',
      clientHost: '/127.0.0.1',
      memberAssignment: Buffer.from('assignment'),
    });
    const listed = await cluster.request(ApiKey.ListGroups, 4, { statesFilter: [] });
    expect(listed.groups).toMatchObject([{ groupId, protocolType: 'consumer', groupState: 'Stable' }]);

    const refused = await cluster.request(ApiKey.DeleteGroups, 2, { groupsNames: [groupId] });
    expect(refused.results).toEqual([{ groupId, errorCode: ErrorCode.NON_EMPTY_GROUP }]);

    // No heartbeat: the session deadline (armed by the driver's timer) removes the member.
    cluster.advanceMs(sessionTimeoutMs + 1);
    await settle(() => true);
    const empty = await cluster.request(ApiKey.ListGroups, 4, { statesFilter: ['empty'] });
    expect(empty.groups).toMatchObject([{ groupId, protocolType: 'consumer', groupState: 'Empty' }]);

    const deleted = await advanceUntil(cluster.request(ApiKey.DeleteGroups, 2, { groupsNames: [groupId] }));
    expect(deleted.results).toEqual([{ groupId, errorCode: ErrorCode.NONE }]);
    const gone = await cluster.request(ApiKey.OffsetFetch, 3, {
      groupId,
      topics: [{ name: 'orders', partitionIndexes: [0] }],
    });
    expect(gone.topics[0]!.partitions[0]!.committedOffset).toBe(-1n);
  });

  it('OffsetDelete writes tombstones to __consumer_offsets and answers per partition', async () => {
    await start();
    await createTopic('orders', 1);
    await createTopic('audit', 1);
    const groupId = 'offline-readers';
    await findCoordinator(groupId);
    await commit(groupId, '', -1, 'orders', 5);
    await commit(groupId, '', -1, 'audit', 9);
    const deleted = await cluster.request(ApiKey.OffsetDelete, 0, {
      groupId,
      topics: [
        { name: 'orders', partitions: [{ partitionIndex: 0 }] },
        { name: 'missing', partitions: [{ partitionIndex: 0 }] },
      ],
    });
    expect(deleted).toEqual({
      errorCode: 0,
      throttleTimeMs: 0,
      topics: [
        { name: 'orders', partitions: [{ partitionIndex: 0, errorCode: 0 }] },
        {
          name: 'missing',
          partitions: [{ partitionIndex: 0, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION }],
        },
      ],
    });
    const fetched = await cluster.request(ApiKey.OffsetFetch, 3, {
      groupId,
      topics: [
        { name: 'orders', partitionIndexes: [0] },
        { name: 'audit', partitionIndexes: [0] },
      ],
    });
    expect(fetched.topics.map((topic) => topic.partitions[0]!.committedOffset)).toEqual([-1n, 9n]);
    const log = cluster.replicaManager.partition(
      offsetsTopicName,
      coordinatorPartitionFor(groupId, offsetsPartitionCount),
    )!.log;
    const read = await log.read(0, 1 << 20);
    const batches = [...iterateBatches(read.errorCode === ErrorCode.NONE ? read.records : Buffer.alloc(0))];
    const tombstone = batches.at(-1)!.records[0]!;
    expect(decodeOffsetsRecord([tombstone.key!, tombstone.value])).toEqual({
      kind: 'offsetCommit',
      group: groupId,
      topic: 'orders',
      partition: 0,
      value: null,
    });
    const unknown = await cluster.request(ApiKey.OffsetDelete, 0, { groupId: 'nobody', topics: [] });
    expect(unknown.errorCode).toBe(ErrorCode.GROUP_ID_NOT_FOUND);
  });

  it('LeaveGroup v0 carries the member error; v3 names each member', async () => {
    await start();
    const groupId = 'leavers';
    await findCoordinator(groupId);
    const { memberId } = await joinAndSync(groupId);
    const unknown = await cluster.request(ApiKey.LeaveGroup, 0, { groupId, memberId: 'nobody' });
    expect(unknown.errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    const left = await cluster.request(ApiKey.LeaveGroup, 3, {
      groupId,
      memberId: '',
      members: [{ memberId, groupInstanceId: null }],
    });
    expect(left).toMatchObject({
      errorCode: 0,
      members: [{ memberId, groupInstanceId: null, errorCode: 0 }],
    });
  });

  it('OffsetFetch v8 answers several groups; v0 commits without a generation', async () => {
    await start();
    await createTopic('orders', 1);
    await findCoordinator('a');
    await findCoordinator('b');
    const standalone = await cluster.request(ApiKey.OffsetCommit, 0, {
      groupId: 'a',
      topics: [
        { name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: 9n, committedMetadata: null }] },
      ],
    });
    expect(standalone.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NONE);
    const fetched = await cluster.request(ApiKey.OffsetFetch, 8, {
      groupId: '',
      topics: [],
      groups: [
        { groupId: 'a', topics: null },
        { groupId: 'b', topics: [{ name: 'orders', partitionIndexes: [0] }] },
      ],
      requireStable: true,
    });
    expect(
      fetched.groups.map((group) => [
        group.groupId,
        group.errorCode,
        group.topics[0]?.partitions[0]?.committedOffset,
      ]),
    ).toEqual([
      ['a', 0, 9n],
      ['b', 0, -1n],
    ]);
  });
});

describe('the newest group versions', () => {
  it('FindCoordinator v6 answers a share coordinator key INVALID_REQUEST (no share groups)', async () => {
    await start();
    const response = await cluster.request(ApiKey.FindCoordinator, 6, {
      key: '',
      keyType: 2,
      coordinatorKeys: ['g:AAAAAAAAAAAAAAAAAAAAAA:0'],
    });
    expect(response.coordinators).toEqual([
      expect.objectContaining({ errorCode: ErrorCode.INVALID_REQUEST, nodeId: -1 }),
    ]);
    const group = await cluster.request(ApiKey.FindCoordinator, 6, {
      key: '',
      keyType: 0,
      coordinatorKeys: ['g'],
    });
    expect(group.coordinators[0]).toMatchObject({
      key: 'g',
      errorCode: ErrorCode.NONE,
      nodeId: cluster.brokerId,
    });
  });

  it('JoinGroup v8-9 logs the reason and answers the protocol type; SyncGroup v5 checks the protocol', async () => {
    await start();
    const groupId = 'v9';
    await findCoordinator(groupId);
    const first = await cluster.request(ApiKey.JoinGroup, 9, {
      ...joinBody(groupId, ''),
      reason: 'starting up',
    });
    // No protocol yet: null from v7 on.
    expect(first).toMatchObject({
      errorCode: ErrorCode.MEMBER_ID_REQUIRED,
      protocolType: null,
      protocolName: null,
      skipAssignment: false,
    });
    expect(
      cluster.logLines.some(
        (line) => line.includes('"reason":"starting up"') && line.includes(`"groupId":"${groupId}"`),
      ),
    ).toBe(true);
    const joined = await advanceUntil(
      cluster.request(ApiKey.JoinGroup, 9, joinBody(groupId, first.memberId)),
    );
    expect(joined).toMatchObject({
      errorCode: ErrorCode.NONE,
      protocolType: 'consumer',
      protocolName: 'range',
      leader: first.memberId,
      skipAssignment: false,
    });
    const sync = (protocolType: string | null, protocolName: string | null) =>
      advanceUntil(
        cluster.request(ApiKey.SyncGroup, 5, {
          groupId,
          generationId: joined.generationId,
          memberId: joined.memberId,
          groupInstanceId: null,
          protocolType,
          protocolName,
          assignments: [{ memberId: joined.memberId, assignment: Buffer.from('assignment') }],
        }),
      );
    // v5 makes both mandatory, and they must be the group's.
    expect((await sync(null, 'range')).errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    expect((await sync('consumer', 'roundrobin')).errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    expect(await sync('consumer', 'range')).toMatchObject({
      errorCode: ErrorCode.NONE,
      protocolType: 'consumer',
      protocolName: 'range',
      assignment: Buffer.from('assignment'),
    });
  });

  it('DescribeGroups v6 answers an unknown group GROUP_ID_NOT_FOUND with a message; v5 calls it Dead', async () => {
    await start();
    await findCoordinator('ghost');
    const v6 = await cluster.request(ApiKey.DescribeGroups, 6, {
      groups: ['ghost'],
      includeAuthorizedOperations: false,
    });
    expect(v6.groups[0]).toMatchObject({
      groupId: 'ghost',
      errorCode: ErrorCode.GROUP_ID_NOT_FOUND,
      errorMessage: 'Group ghost not found.',
      groupState: 'Dead',
    });
    const v5 = await cluster.request(ApiKey.DescribeGroups, 5, {
      groups: ['ghost'],
      includeAuthorizedOperations: false,
    });
    expect(v5.groups[0]).toMatchObject({ groupId: 'ghost', errorCode: ErrorCode.NONE, groupState: 'Dead' });
  });

  it('ListGroups v5 lists classic groups with their type, and nothing for a consumer-only type filter', async () => {
    await start();
    const groupId = 'typed';
    await findCoordinator(groupId);
    await joinAndSync(groupId);
    const classic = await cluster.request(ApiKey.ListGroups, 5, {
      statesFilter: [],
      typesFilter: ['Classic'],
    });
    expect(classic.groups).toEqual([
      { groupId, protocolType: 'consumer', groupState: 'Stable', groupType: 'classic' },
    ]);
    const all = await cluster.request(ApiKey.ListGroups, 5, { statesFilter: ['stable'], typesFilter: [] });
    expect(all.groups.map((group) => group.groupType)).toEqual(['classic']);
    const consumerGroups = await cluster.request(ApiKey.ListGroups, 5, {
      statesFilter: [],
      typesFilter: ['consumer'],
    });
    expect(consumerGroups).toMatchObject({ errorCode: ErrorCode.NONE, groups: [] });
  });

  it('LeaveGroup v5 logs each member’s reason; OffsetCommit v9 and OffsetFetch v9 serve a classic group', async () => {
    await start();
    await createTopic('orders', 1);
    const groupId = 'leaving';
    await findCoordinator(groupId);
    const { memberId, generationId } = await joinAndSync(groupId);
    const committed = await cluster.request(ApiKey.OffsetCommit, 9, {
      groupId,
      generationId,
      memberId,
      groupInstanceId: null,
      topics: [
        {
          name: 'orders',
          partitions: [{ partitionIndex: 0, committedOffset: 12n, committedMetadata: null }],
        },
      ],
    });
    expect(committed.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NONE);
    const stale = await cluster.request(ApiKey.OffsetCommit, 9, {
      groupId,
      generationId: generationId + 1,
      memberId,
      groupInstanceId: null,
      topics: [
        {
          name: 'orders',
          partitions: [{ partitionIndex: 0, committedOffset: 13n, committedMetadata: null }],
        },
      ],
    });
    expect(stale.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.ILLEGAL_GENERATION);
    const fetched = await cluster.request(ApiKey.OffsetFetch, 9, {
      groupId: '',
      topics: [],
      groups: [
        { groupId, memberId, memberEpoch: generationId, topics: [{ name: 'orders', partitionIndexes: [0] }] },
      ],
      requireStable: false,
    });
    expect(fetched.groups[0]!.topics[0]!.partitions[0]).toMatchObject({ committedOffset: 12n, errorCode: 0 });

    const left = await cluster.request(ApiKey.LeaveGroup, 5, {
      groupId,
      memberId: '',
      members: [{ memberId, groupInstanceId: null, reason: 'shutting down' }],
    });
    expect(left).toMatchObject({ errorCode: 0, members: [{ memberId, errorCode: 0 }] });
    expect(cluster.logLines.some((line) => line.includes('"reason":"shutting down"'))).toBe(true);
  });
});

/** The session of the leader leases the tests below grant, renew and let lapse by hand. */
const leaseSessionMs = 3_000;

/**
 * A broker leader lease on the fixture's manual clock: held until the first grant (so the fixture
 * starts as usual), then only while the controller's last answer is younger than a session.
 */
function manualLeaderLease() {
  const lease = new BrokerLease({ nowMs: () => cluster.clock.nowMs() }, leaseSessionMs);
  let granted = false;
  const renew = () => lease.answered(cluster.clock.nowMs(), false);
  return {
    leaderLease: { held: () => !granted || lease.held() },
    /** The controller answered now: held for another session. */
    grant: () => {
      renew();
      granted = true;
    },
    renew,
    /** A session passes without an answer: the coordinator gives up every offsets partition. */
    lapse: () => {
      cluster.advanceMs(leaseSessionMs);
      cluster.replicaManager.leaseLapsed();
      expect(driver.ownedPartitions()).toEqual([]);
    },
    /** The controller answers again: the coordinator loads its partitions again. */
    regain: () => {
      renew();
      cluster.replicaManager.leaseRegained();
    },
  };
}

/**
 * Grants `lease`, then a member of `groupId` (on topic `orders`) commits offset 41 of partition 0
 * with the lease held; returns the member, the offsets partition and an OffsetFetch of that offset.
 */
async function groupWithCommit(groupId: string, lease: ReturnType<typeof manualLeaderLease>) {
  lease.grant();
  await createTopic('orders', 1);
  await findCoordinator(groupId);
  const { memberId, generationId } = await joinAndSync(groupId);
  // Joining moves manual time (held JoinGroups), the more the more loaded the machine: renew the
  // lease here, as heartbeats would, so that only the test's own step lets it lapse.
  lease.renew();
  expect(
    (await commit(groupId, memberId, generationId, 'orders', 41)).topics[0]!.partitions[0]!.errorCode,
  ).toBe(ErrorCode.NONE);
  const offsetFetch = () =>
    cluster.request(ApiKey.OffsetFetch, 5, {
      groupId,
      topics: [{ name: 'orders', partitionIndexes: [0] }],
      requireStable: false,
    });
  return {
    memberId,
    generationId,
    partitionIndex: coordinatorPartitionFor(groupId, offsetsPartitionCount),
    offsetFetch,
  };
}

describe('leadership of offsets partitions', () => {
  it('unloads when the broker loses leadership (NOT_COORDINATOR) and reloads groups and offsets from the log when it leads again', async () => {
    await start();
    await createTopic('orders', 1);
    const groupId = 'survivor';
    await findCoordinator(groupId);
    const { memberId, generationId } = await joinAndSync(groupId);
    await commit(groupId, memberId, generationId, 'orders', 77);
    const partitionIndex = coordinatorPartitionFor(groupId, offsetsPartitionCount);

    await cluster.heartbeat(cluster.brokerId, { wantFence: true });
    expect(driver.ownedPartitions()).toEqual([]);
    const notCoordinator = await cluster.request(ApiKey.Heartbeat, 3, {
      groupId,
      generationId,
      memberId,
      groupInstanceId: null,
    });
    expect(notCoordinator.errorCode).toBe(ErrorCode.NOT_COORDINATOR);

    await cluster.heartbeat(cluster.brokerId, { wantFence: false });
    expect(driver.ownedPartitions()).toContain(partitionIndex);
    await settle(() => !driver.isLoading(partitionIndex));
    const fetched = await cluster.request(ApiKey.OffsetFetch, 5, {
      groupId,
      topics: [{ name: 'orders', partitionIndexes: [0] }],
      requireStable: false,
    });
    expect(fetched.topics[0]!.partitions[0]).toMatchObject({ committedOffset: 77n, metadata: 'meta' });
    // The member came back with the group (Stable, fresh session), so its heartbeat is accepted.
    const heartbeat = await cluster.request(ApiKey.Heartbeat, 3, {
      groupId,
      generationId,
      memberId,
      groupInstanceId: null,
    });
    expect(heartbeat.errorCode).toBe(ErrorCode.NONE);
  });

  it('a broker whose leader lease lapsed answers NOT_COORDINATOR, and reloads from the log when it holds the lease again', async () => {
    // A coordinator cut off from the quorum must not answer OffsetFetch from its memory: a new
    // leader of the offsets partition, elsewhere, may have taken newer commits meanwhile.
    const lease = manualLeaderLease();
    await start({ leaderLease: lease.leaderLease });
    const { memberId, generationId, partitionIndex, offsetFetch } = await groupWithCommit('cut-off', lease);

    lease.lapse();
    expect((await offsetFetch()).errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    expect(
      (await commit('cut-off', memberId, generationId, 'orders', 42)).topics[0]!.partitions[0]!.errorCode,
    ).toBe(ErrorCode.NOT_COORDINATOR);

    lease.regain();
    expect(driver.ownedPartitions()).toContain(partitionIndex);
    await settle(() => !driver.isLoading(partitionIndex));
    const fetched = await offsetFetch();
    expect(fetched.errorCode).toBe(ErrorCode.NONE);
    expect(fetched.topics[0]!.partitions[0]).toMatchObject({ committedOffset: 41n, metadata: 'meta' });
  });

  it('answers COORDINATOR_LOAD_IN_PROGRESS, not NOT_COORDINATOR, when its load was replaced while the controller confirmed it', async () => {
    // The KIP-848 test's stall: while the controller moved, this broker's leader lease lapsed and
    // came back, so the offsets partition was unloaded and loaded again in the same epoch during an
    // OffsetFetch's barrier round. The controller still names this broker; librdkafka gives up on an
    // OffsetFetch answered NOT_COORDINATOR (its consumer then holds the partitions and reads
    // nothing) but asks the same coordinator again after COORDINATOR_LOAD_IN_PROGRESS.
    const lease = manualLeaderLease();
    let holdRound: ((confirmed: boolean) => void) | undefined;
    const barrier = {
      confirm: (_partitionIndex: number, _leaderEpoch: number): Promise<boolean> =>
        holdRound === undefined
          ? new Promise<boolean>((resolve) => {
              holdRound = resolve;
            })
          : Promise.resolve(true),
    };
    await start({ leaderLease: lease.leaderLease }, barrier);
    // Commits pass no barrier; the first OffsetFetch below holds the first round open.
    const { partitionIndex, offsetFetch } = await groupWithCommit('reloaded', lease);
    const inFlight = offsetFetch();
    await settle(() => holdRound !== undefined);
    lease.lapse();
    lease.regain();
    await settle(
      () => driver.ownedPartitions().includes(partitionIndex) && !driver.isLoading(partitionIndex),
    );
    holdRound!(true);
    const refused = await inFlight;
    expect(refused.errorCode).toBe(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    expect(refused.topics[0]!.partitions[0]).toMatchObject({
      committedOffset: -1n,
      errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
    });
    // Asked again, the new load answers.
    expect((await offsetFetch()).topics[0]!.partitions[0]).toMatchObject({
      committedOffset: 41n,
      errorCode: ErrorCode.NONE,
    });
  });

  it('a coordinator deposed by a change it has not applied yet does not answer OffsetFetch from memory', async () => {
    // The chaos campaign's case: a preferred election moved the offsets partition to another
    // broker, which completed a commit this one had appended; until this broker applies that
    // metadata it still holds the partition (and its leader lease) with the commit missing. Here
    // what the active controller answers is set by hand: at first the fixture's committed image.
    const brokerId = 1;
    let controllerView: 'committed' | 'unreachable' | Map<number, PartitionLeader> = 'committed';
    const barrier = new MetadataBarrier(
      {
        partitionLeaders: async () => {
          if (controllerView === 'unreachable') return undefined;
          if (controllerView !== 'committed') return controllerView;
          const partitions = cluster.image().topic(offsetsTopicName)?.partitions ?? [];
          return new Map(
            partitions.map((partition, index) => [
              index,
              { leaderId: partition.leader, leaderEpoch: partition.leaderEpoch },
            ]),
          );
        },
      },
      brokerId,
      60_000,
    );
    await start({ brokerId }, barrier);
    await createTopic('orders', 1);
    const groupId = 'deposed';
    await findCoordinator(groupId);
    const { memberId, generationId } = await joinAndSync(groupId);
    expect(
      (await commit(groupId, memberId, generationId, 'orders', 41)).topics[0]!.partitions[0]!.errorCode,
    ).toBe(ErrorCode.NONE);
    const partitionIndex = coordinatorPartitionFor(groupId, offsetsPartitionCount);
    const offsetFetch = () =>
      cluster.request(ApiKey.OffsetFetch, 5, {
        groupId,
        topics: [{ name: 'orders', partitionIndexes: [0] }],
        requireStable: false,
      });
    expect((await offsetFetch()).topics[0]!.partitions[0]!.committedOffset).toBe(41n);

    // No controller answers: the read is refused although the partition is still loaded here.
    controllerView = 'unreachable';
    const unconfirmed = await offsetFetch();
    expect(unconfirmed.errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    expect(unconfirmed.topics[0]!.partitions[0]).toMatchObject({
      committedOffset: -1n,
      errorCode: ErrorCode.NOT_COORDINATOR,
    });
    expect(driver.ownedPartitions()).toContain(partitionIndex);
    // DescribeGroups is refused too.
    const described = await cluster.request(ApiKey.DescribeGroups, 5, {
      groups: [groupId],
      includeAuthorizedOperations: false,
    });
    expect(described.groups[0]).toMatchObject({
      groupId,
      errorCode: ErrorCode.NOT_COORDINATOR,
      groupState: '',
    });
    controllerView = 'committed';
    const describedAgain = await cluster.request(ApiKey.DescribeGroups, 5, {
      groups: [groupId],
      includeAuthorizedOperations: false,
    });
    expect(describedAgain.groups[0]).toMatchObject({ errorCode: ErrorCode.NONE, groupState: 'Stable' });

    // The quorum moved the partition to broker 2 (epoch + 1); this broker has not applied it and
    // still holds the partition, loaded: the read is refused all the same.
    const loadedEpoch = cluster.image().topic(offsetsTopicName)!.partitions[partitionIndex]!.leaderEpoch;
    controllerView = new Map([[partitionIndex, { leaderId: 2, leaderEpoch: loadedEpoch + 1 }]]);
    const moved = await offsetFetch();
    expect(driver.ownedPartitions()).toContain(partitionIndex);
    expect(moved.errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    expect(moved.topics[0]!.partitions[0]!.committedOffset).toBe(-1n);
    // Moved away and back to this broker in a later epoch, while it still holds the old load.
    controllerView = new Map([[partitionIndex, { leaderId: brokerId, leaderEpoch: loadedEpoch + 2 }]]);
    expect((await offsetFetch()).errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    // The controller names the load's own epoch again: answered from memory.
    controllerView = 'committed';
    expect((await offsetFetch()).topics[0]!.partitions[0]!.committedOffset).toBe(41n);
  });
});

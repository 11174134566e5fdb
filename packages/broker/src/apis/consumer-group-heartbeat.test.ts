// KIP-848 consumer groups through the broker: encoded frames through the real router, the group
// coordinator driver, appends to a real `__consumer_offsets` log. ConsumerGroupHeartbeat resolves
// the subscription against the metadata image (topic ids on the wire), ConsumerGroupDescribe,
// ListGroups' group type, DescribeGroups' "not a classic group", OffsetCommit v9 / OffsetFetch v9
// checked against the member epoch, and their v10 by topic id.

import { SeededRandom } from '@gregor/ground';
import { coordinatorPartitionFor, decodeConsumerGroupRecord } from '@gregor/group';
import { FeatureUpgradeType } from '@gregor/metadata';
import { ApiKey, ErrorCode, iterateBatches } from '@gregor/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { GroupCoordinatorDriver } from '../groups/group-coordinator-driver.js';
import { offsetsTopicName } from '../groups/offsets-topic.js';
import { createRequestRouter } from '../request-router.js';
import { LocalClusterFixture, settle } from '../testing/local-cluster-fixture.js';
import { apiHandlers } from './api-handlers.js';
import { topicIdToWire } from './topic-ids.js';

const offsetsPartitionCount = 2;
const groupId = 'kip848';

let cluster: LocalClusterFixture;
let driver: GroupCoordinatorDriver;

afterEach(async () => {
  driver.close();
  await cluster.close();
});

async function start(): Promise<void> {
  cluster = await LocalClusterFixture.start();
  driver = new GroupCoordinatorDriver({
    brokerId: cluster.brokerId,
    replicaManager: cluster.replicaManager,
    clock: cluster.clock,
    timers: cluster.timers,
    random: new SeededRandom(3),
    logger: cluster.logger,
    offsetsTopic: { numPartitions: offsetsPartitionCount, replicationFactor: 1 },
    groupInitialRebalanceDelayMs: 0,
    metadataBarrier: cluster.metadataBarrier,
  });
  cluster.router = createRequestRouter(cluster.context, apiHandlers({ groups: driver }));
  const created = await cluster.request(ApiKey.CreateTopics, 4, {
    topics: [{ name: 'orders', numPartitions: 3, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 1000,
    validateOnly: false,
  });
  expect(created.topics[0]!.errorCode).toBe(ErrorCode.NONE);
  const found = await cluster.request(ApiKey.FindCoordinator, 2, { key: groupId, keyType: 0 });
  expect(found.errorCode).toBe(ErrorCode.NONE);
  const partitionIndex = coordinatorPartitionFor(groupId, offsetsPartitionCount);
  await settle(() => driver.ownedPartitions().includes(partitionIndex) && !driver.isLoading(partitionIndex));
}

function join(memberId: string) {
  return cluster.request(ApiKey.ConsumerGroupHeartbeat, 1, {
    groupId,
    memberId,
    memberEpoch: 0,
    rebalanceTimeoutMs: 30_000,
    subscribedTopicNames: ['orders', 'missing'],
    topicPartitions: [],
  });
}

describe('ConsumerGroupHeartbeat and ConsumerGroupDescribe through the broker', () => {
  it('assigns the subscribed topic by id, persists the group, describes and lists it as a consumer group', async () => {
    await start();
    const ordersId = topicIdToWire(cluster.image().topic('orders')!.topicId);
    const joined = await join('member-a');
    expect(joined).toMatchObject({
      errorCode: ErrorCode.NONE,
      memberId: 'member-a',
      memberEpoch: 1,
      heartbeatIntervalMs: 5000,
      assignment: { topicPartitions: [{ topicId: ordersId, partitions: [0, 1, 2] }] },
    });

    const described = await cluster.request(ApiKey.ConsumerGroupDescribe, 1, {
      groupIds: [groupId, 'nobody'],
      includeAuthorizedOperations: false,
    });
    expect(described.groups[0]).toMatchObject({
      errorCode: ErrorCode.NONE,
      groupState: 'Stable',
      groupEpoch: 1,
      assignmentEpoch: 1,
      assignorName: 'uniform',
      members: [
        {
          memberId: 'member-a',
          memberEpoch: 1,
          subscribedTopicNames: ['orders', 'missing'],
          memberType: 1,
          assignment: {
            topicPartitions: [{ topicId: ordersId, topicName: 'orders', partitions: [0, 1, 2] }],
          },
        },
      ],
    });
    expect(described.groups[1]).toMatchObject({ groupId: 'nobody', errorCode: ErrorCode.GROUP_ID_NOT_FOUND });

    const listed = await cluster.request(ApiKey.ListGroups, 5, {
      statesFilter: [],
      typesFilter: ['consumer'],
    });
    expect(listed.groups).toEqual([
      { groupId, protocolType: 'consumer', groupState: 'Stable', groupType: 'consumer' },
    ]);
    const classicOnly = await cluster.request(ApiKey.ListGroups, 5, {
      statesFilter: [],
      typesFilter: ['classic'],
    });
    expect(classicOnly.groups).toEqual([]);
    const asClassic = await cluster.request(ApiKey.DescribeGroups, 6, {
      groups: [groupId],
      includeAuthorizedOperations: false,
    });
    expect(asClassic.groups[0]).toMatchObject({
      errorCode: ErrorCode.GROUP_ID_NOT_FOUND,
      errorMessage: `Group ${groupId} is not a classic group.`,
    });

    // The records a new coordinator would load: the group epoch, the member, its assignment.
    const partitionIndex = coordinatorPartitionFor(groupId, offsetsPartitionCount);
    const read = await cluster.replicaManager
      .partition(offsetsTopicName, partitionIndex)!
      .log.read(0, 1 << 20);
    expect(read.errorCode).toBe(ErrorCode.NONE);
    const kinds = [...iterateBatches(read.errorCode === ErrorCode.NONE ? read.records : Buffer.alloc(0))]
      .flatMap((batch) => batch.records)
      .map((record) => decodeConsumerGroupRecord([record.key!, record.value])?.kind);
    expect(kinds).toEqual(
      expect.arrayContaining(['consumerGroupMetadata', 'consumerMemberMetadata', 'consumerMemberAssignment']),
    );
  });

  it('checks OffsetCommit v9 and OffsetFetch v9 against the member epoch', async () => {
    await start();
    const joined = await join('member-a');
    const commit = (memberEpoch: number) =>
      cluster.request(ApiKey.OffsetCommit, 9, {
        groupId,
        generationId: memberEpoch,
        memberId: 'member-a',
        groupInstanceId: null,
        topics: [
          {
            name: 'orders',
            partitions: [{ partitionIndex: 0, committedOffset: 42n, committedMetadata: '' }],
          },
        ],
      });
    expect((await commit(joined.memberEpoch + 1)).topics[0]!.partitions[0]!.errorCode).toBe(
      ErrorCode.STALE_MEMBER_EPOCH,
    );
    expect((await commit(joined.memberEpoch)).topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NONE);
    const fetch = (memberEpoch: number) =>
      cluster.request(ApiKey.OffsetFetch, 9, {
        // The v0-7 layout, absent from v9.
        groupId: '',
        topics: [],
        groups: [
          { groupId, memberId: 'member-a', memberEpoch, topics: [{ name: 'orders', partitionIndexes: [0] }] },
        ],
        requireStable: true,
      });
    expect((await fetch(joined.memberEpoch + 5)).groups[0]!.errorCode).toBe(ErrorCode.STALE_MEMBER_EPOCH);
    const fetched = await fetch(joined.memberEpoch);
    expect(fetched.groups[0]).toMatchObject({
      errorCode: ErrorCode.NONE,
      topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: 42n }] }],
    });
  });

  it('serves OffsetCommit v10 and OffsetFetch v10 by topic id, UNKNOWN_TOPIC_ID for an id it does not know', async () => {
    await start();
    const joined = await join('member-a');
    const ordersId = topicIdToWire(cluster.image().topic('orders')!.topicId);
    const unknownId = 'ffffffffffffffffffffffffffffffff';
    const commit = (memberEpoch: number) =>
      cluster.request(ApiKey.OffsetCommit, 10, {
        groupId,
        generationId: memberEpoch,
        memberId: 'member-a',
        groupInstanceId: null,
        topics: [
          {
            name: '',
            topicId: unknownId,
            partitions: [{ partitionIndex: 0, committedOffset: 7n, committedMetadata: '' }],
          },
          {
            name: '',
            topicId: ordersId,
            partitions: [
              { partitionIndex: 1, committedOffset: 42n, committedMetadata: 'm' },
              { partitionIndex: 9, committedOffset: 1n, committedMetadata: '' },
            ],
          },
        ],
      });
    const stale = await commit(joined.memberEpoch + 1);
    expect(stale.topics.find((topic) => topic.topicId === ordersId)!.partitions[0]!.errorCode).toBe(
      ErrorCode.STALE_MEMBER_EPOCH,
    );
    const committed = await commit(joined.memberEpoch);
    expect(committed.topics).toHaveLength(2);
    expect(committed.topics).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          topicId: ordersId,
          partitions: [
            { partitionIndex: 1, errorCode: ErrorCode.NONE },
            { partitionIndex: 9, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION },
          ],
        }),
        expect.objectContaining({
          topicId: unknownId,
          partitions: [{ partitionIndex: 0, errorCode: ErrorCode.UNKNOWN_TOPIC_ID }],
        }),
      ]),
    );

    // The commit by id is the topic's by name: v9 reads it back.
    const byName = await cluster.request(ApiKey.OffsetFetch, 9, {
      groupId: '',
      topics: [],
      groups: [
        { groupId, memberId: null, memberEpoch: -1, topics: [{ name: 'orders', partitionIndexes: [1] }] },
      ],
      requireStable: false,
    });
    expect(byName.groups[0]!.topics[0]!.partitions[0]).toMatchObject({ committedOffset: 42n, metadata: 'm' });

    const fetch = (topics: { name: string; topicId: string; partitionIndexes: number[] }[] | null) =>
      cluster.request(ApiKey.OffsetFetch, 10, {
        groupId: '',
        topics: [],
        groups: [{ groupId, memberId: 'member-a', memberEpoch: joined.memberEpoch, topics }],
        requireStable: true,
      });
    const asked = await fetch([
      { name: '', topicId: ordersId, partitionIndexes: [1, 2] },
      { name: '', topicId: unknownId, partitionIndexes: [0] },
    ]);
    expect(asked.groups[0]).toMatchObject({
      groupId,
      errorCode: ErrorCode.NONE,
      topics: [
        {
          topicId: ordersId,
          partitions: [
            { partitionIndex: 1, committedOffset: 42n, metadata: 'm', errorCode: ErrorCode.NONE },
            { partitionIndex: 2, committedOffset: -1n, errorCode: ErrorCode.NONE },
          ],
        },
        {
          topicId: unknownId,
          partitions: [
            {
              partitionIndex: 0,
              committedOffset: -1n,
              committedLeaderEpoch: -1,
              errorCode: ErrorCode.UNKNOWN_TOPIC_ID,
            },
          ],
        },
      ],
    });
    const all = await fetch(null);
    expect(all.groups[0]!.topics).toEqual([
      expect.objectContaining({
        topicId: ordersId,
        partitions: [expect.objectContaining({ partitionIndex: 1, committedOffset: 42n })],
      }),
    ]);
  });
});

describe('group.version (KIP-584) turns the consumer group protocol on and off', () => {
  const setGroupVersion = (level: number) =>
    cluster.request(ApiKey.UpdateFeatures, 1, {
      timeoutMs: 1000,
      featureUpdates: [
        {
          feature: 'group.version',
          maxVersionLevel: level,
          upgradeType: level === 0 ? FeatureUpgradeType.SAFE_DOWNGRADE : FeatureUpgradeType.UPGRADE,
        },
      ],
      validateOnly: false,
    });
  const advertised = async () =>
    (
      await cluster.request(ApiKey.ApiVersions, 3, {
        clientSoftwareName: 'test',
        clientSoftwareVersion: '1.0',
      })
    ).apiKeys
      .map((api) => api.apiKey)
      .filter((key) => key === ApiKey.ConsumerGroupHeartbeat || key === ApiKey.ConsumerGroupDescribe);

  it('a new cluster has it at 1; at 0 the APIs are left out of ApiVersions and answer UNSUPPORTED_VERSION', async () => {
    await start();
    expect(cluster.image().finalizedFeatureLevel('group.version')).toBe(1);
    expect(await advertised()).toEqual([ApiKey.ConsumerGroupHeartbeat, ApiKey.ConsumerGroupDescribe]);
    expect((await join('m1')).errorCode).toBe(ErrorCode.NONE);

    expect((await setGroupVersion(0)).errorCode).toBe(ErrorCode.NONE);
    expect(await advertised()).toEqual([]);
    expect((await join('m2')).errorCode).toBe(ErrorCode.UNSUPPORTED_VERSION);
    const described = await cluster.request(ApiKey.ConsumerGroupDescribe, 0, {
      groupIds: [groupId],
      includeAuthorizedOperations: false,
    });
    expect(described.groups.map((group) => group.errorCode)).toEqual([ErrorCode.UNSUPPORTED_VERSION]);

    expect((await setGroupVersion(1)).errorCode).toBe(ErrorCode.NONE);
    expect(await advertised()).toEqual([ApiKey.ConsumerGroupHeartbeat, ApiKey.ConsumerGroupDescribe]);
    expect((await join('m2')).errorCode).toBe(ErrorCode.NONE);
  });
});

import { ApiKey, ErrorCode, encodeRequest, zeroUuid } from '@gregor/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { createRequestRouter } from '../request-router.js';
import { decodeOutcome, fixtureClusterId, LocalClusterFixture } from '../testing/local-cluster-fixture.js';
import { apiHandlers } from './api-handlers.js';
import type { ControllerChannel } from './broker-context.js';
import { topicIdToWire } from './topic-ids.js';

let cluster: LocalClusterFixture;
afterEach(async () => {
  await cluster.close();
});

async function createTopic(name: string, numPartitions: number, replicationFactor = 1): Promise<void> {
  const response = await cluster.request(ApiKey.CreateTopics, 4, {
    topics: [{ name, numPartitions, replicationFactor, assignments: [], configs: [] }],
    timeoutMs: 1000,
    validateOnly: false,
  });
  expect(response.topics[0]!.errorCode).toBe(ErrorCode.NONE);
}

describe('Metadata topic lists', () => {
  it('v0: an empty list means every topic', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('alpha', 1);
    await createTopic('beta', 2);
    const response = await cluster.request(ApiKey.Metadata, 0, { topics: [] });
    expect(response.topics.map((topic) => topic.name)).toEqual(['alpha', 'beta']);
    expect(response.brokers).toEqual([{ nodeId: 1, host: 'localhost', port: 9001, rack: null }]);
  });

  it('v1: null means every topic, an empty list none', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('alpha', 1);
    const all = await cluster.request(ApiKey.Metadata, 1, { topics: null });
    expect(all.topics.map((topic) => topic.name)).toEqual(['alpha']);
    expect(all.controllerId).toBe(1);
    const none = await cluster.request(ApiKey.Metadata, 1, { topics: [] });
    expect(none.topics).toEqual([]);
    expect(none.brokers.map((broker) => broker.nodeId)).toEqual([1]);
  });

  it('v9 (flexible): partitions with leader, epoch, replicas and ISR, cluster and controller ids', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('alpha', 3);
    const response = await cluster.request(ApiKey.Metadata, 9, {
      topics: [{ name: 'alpha' }],
      allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    });
    expect(response.clusterId).toBe(fixtureClusterId);
    expect(response.controllerId).toBe(1);
    const topic = response.topics[0]!;
    expect(topic).toMatchObject({ errorCode: 0, name: 'alpha', isInternal: false });
    expect(topic.partitions).toEqual(
      [0, 1, 2].map((partitionIndex) => ({
        errorCode: 0,
        partitionIndex,
        leaderId: 1,
        leaderEpoch: 0,
        replicaNodes: [1],
        isrNodes: [1],
        offlineReplicas: [],
      })),
    );
  });

  it('answers an unknown topic with UNKNOWN_TOPIC_OR_PARTITION when auto-creation is off', async () => {
    cluster = await LocalClusterFixture.start({ settings: { autoCreateTopicsEnable: false } });
    const response = await cluster.request(ApiKey.Metadata, 4, {
      topics: [{ name: 'nope' }],
      allowAutoTopicCreation: true,
    });
    expect(response.topics[0]).toMatchObject({
      name: 'nope',
      errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
    });
    expect(cluster.image().topic('nope')).toBeUndefined();
  });

  it('honours the request flag that forbids auto-creation', async () => {
    cluster = await LocalClusterFixture.start();
    const response = await cluster.request(ApiKey.Metadata, 4, {
      topics: [{ name: 'nope' }],
      allowAutoTopicCreation: false,
    });
    expect(response.topics[0]!.errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    expect(cluster.image().topic('nope')).toBeUndefined();
  });
});

describe('Metadata auto-creation', () => {
  it('creates a requested topic with num.partitions and default.replication.factor', async () => {
    cluster = await LocalClusterFixture.start({ settings: { numPartitions: 3 } });
    const response = await cluster.request(ApiKey.Metadata, 1, { topics: [{ name: 'auto' }] });
    const topic = response.topics[0]!;
    expect(topic.errorCode).toBe(ErrorCode.NONE);
    expect(topic.partitions.map((partition) => partition.leaderId)).toEqual([1, 1, 1]);
    expect(cluster.image().topic('auto')!.partitions).toHaveLength(3);
    expect(cluster.replicaManager.partition('auto', 2)!.role).toBe('leader');
  });

  it('answers LEADER_NOT_AVAILABLE while the requested topic is not in the image yet', async () => {
    cluster = await LocalClusterFixture.start();
    // A controller that has not committed the topic in time (quorum slow or electing).
    const slowController: ControllerChannel = {
      deleteTopics: (selectors, options) => cluster.deleteTopics(selectors, options),
      createPartitions: (requests, options) => cluster.createPartitions(requests, options),
      incrementalAlterConfigs: (requests, options) => cluster.incrementalAlterConfigs(requests, options),
      alterUserScramCredentials: (request, options) => cluster.alterUserScramCredentials(request, options),
      createDelegationToken: (request, options) => cluster.createDelegationToken(request, options),
      renewDelegationToken: (request, options) => cluster.renewDelegationToken(request, options),
      expireDelegationToken: (request, options) => cluster.expireDelegationToken(request, options),
      createAcls: (bindings, options) => cluster.createAcls(bindings, options),
      deleteAcls: (filters, options) => cluster.deleteAcls(filters, options),
      electLeaders: (type, partitions, options) => cluster.electLeaders(type, partitions, options),
      alterClientQuotas: (request, options) => cluster.alterClientQuotas(request, options),
      unregisterBroker: (brokerId, options) => cluster.unregisterBroker(brokerId, options),
      updateFeatures: (request, options) => cluster.updateFeatures(request, options),
      alterPartitionReassignments: (request, options) =>
        cluster.alterPartitionReassignments(request, options),
      createTopics: async (requests) =>
        requests.map(() => ({
          errorCode: ErrorCode.REQUEST_TIMED_OUT,
          errorMessage: 'not committed in time',
        })),
    };
    const router = createRequestRouter({ ...cluster.context, controller: slowController }, apiHandlers());
    const frame = encodeRequest(ApiKey.Metadata, 1, 5, 'test', { topics: [{ name: 'later' }] });
    const response = decodeOutcome(
      ApiKey.Metadata,
      1,
      await router(frame, { connectionId: 9, remoteAddress: 'test', listenerName: 'PLAINTEXT' }),
    );
    expect(response.topics[0]).toMatchObject({
      name: 'later',
      errorCode: ErrorCode.LEADER_NOT_AVAILABLE,
      partitions: [],
    });
    expect(cluster.logLines.some((line) => line.includes('topic auto-creation failed'))).toBe(true);
  });

  it('answers from the broker that is live when this one is fenced', async () => {
    cluster = await LocalClusterFixture.start({ otherBrokerIds: [2] });
    await cluster.heartbeat(1, { wantFence: true });
    const response = await cluster.request(ApiKey.Metadata, 1, { topics: [{ name: 'auto' }] });
    // Only broker 2 is live: the topic is placed there, and its leader is listed.
    expect(response.topics[0]!.errorCode).toBe(ErrorCode.NONE);
    expect(response.topics[0]!.partitions[0]!.leaderId).toBe(2);
    expect(response.brokers.map((broker) => broker.nodeId)).toEqual([2]);
    expect(response.controllerId).toBe(2);
  });

  it('does not auto-create internal topics, and flags them is_internal', async () => {
    cluster = await LocalClusterFixture.start();
    const before = await cluster.request(ApiKey.Metadata, 1, { topics: [{ name: '__consumer_offsets' }] });
    expect(before.topics[0]).toMatchObject({
      errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
      isInternal: true,
    });
    await createTopic('__consumer_offsets', 2);
    const after = await cluster.request(ApiKey.Metadata, 1, { topics: [{ name: '__consumer_offsets' }] });
    expect(after.topics[0]).toMatchObject({ errorCode: ErrorCode.NONE, isInternal: true });
  });

  it('refuses an illegal topic name', async () => {
    cluster = await LocalClusterFixture.start();
    const response = await cluster.request(ApiKey.Metadata, 1, { topics: [{ name: 'bad name!' }] });
    expect(response.topics[0]!.errorCode).toBe(ErrorCode.INVALID_TOPIC_EXCEPTION);
  });
});

describe('Metadata brokers and leaders', () => {
  it('lists live brokers only, and every named leader is among them', async () => {
    cluster = await LocalClusterFixture.start({ otherBrokerIds: [2, 3] });
    await createTopic('spread', 6);
    const response = await cluster.request(ApiKey.Metadata, 7, {
      topics: null,
      allowAutoTopicCreation: false,
    });
    const listed = new Set(response.brokers.map((broker) => broker.nodeId));
    expect([...listed].sort()).toEqual([1, 2, 3]);
    const leaders = response.topics[0]!.partitions.map((partition) => partition.leaderId);
    expect(new Set(leaders)).toEqual(new Set([1, 2, 3]));

    await cluster.heartbeat(3, { wantFence: true });
    const after = await cluster.request(ApiKey.Metadata, 7, { topics: null, allowAutoTopicCreation: false });
    expect(after.brokers.map((broker) => broker.nodeId)).toEqual([1, 2]);
    for (const partition of after.topics[0]!.partitions) {
      if (partition.replicaNodes.includes(3)) {
        // Replication factor 1 on a fenced broker: no leader left, and none is named.
        expect(partition).toMatchObject({
          leaderId: -1,
          errorCode: ErrorCode.LEADER_NOT_AVAILABLE,
          offlineReplicas: [3],
        });
      } else {
        expect(after.brokers.some((broker) => broker.nodeId === partition.leaderId)).toBe(true);
      }
    }
  });

  it('reports the leader epoch a leadership change brings', async () => {
    cluster = await LocalClusterFixture.start({ otherBrokerIds: [2] });
    await createTopic('pair', 1, 2);
    const before = (
      await cluster.request(ApiKey.Metadata, 7, { topics: [{ name: 'pair' }], allowAutoTopicCreation: false })
    ).topics[0]!.partitions[0]!;
    const leader = before.leaderId;
    await cluster.heartbeat(leader, { wantFence: true });
    const after = (
      await cluster.request(ApiKey.Metadata, 7, { topics: [{ name: 'pair' }], allowAutoTopicCreation: false })
    ).topics[0]!.partitions[0]!;
    expect(after.leaderId).toBe(leader === 1 ? 2 : 1);
    expect(after.leaderEpoch).toBe(before.leaderEpoch + 1);
    expect(after.isrNodes).toEqual([after.leaderId]);
  });
});

describe('Metadata answers with the endpoints of the listener the request came in on', () => {
  // Brokers 1 and 2 register an internal and a host listener; broker 3 only the internal one.
  const brokerListeners = (id: number) => [
    { name: 'PLAINTEXT', host: `gregor-${id}`, port: 19092 },
    ...(id === 3 ? [] : [{ name: 'PLAINTEXT_HOST', host: 'localhost', port: 9091 + id }]),
  ];

  it('lists each broker with its endpoint of that listener', async () => {
    cluster = await LocalClusterFixture.start({ otherBrokerIds: [2, 3], brokerListeners });
    const internal = await cluster.request(ApiKey.Metadata, 1, { topics: [] }, 'PLAINTEXT');
    expect(internal.brokers).toEqual(
      [1, 2, 3].map((nodeId) => ({ nodeId, host: `gregor-${nodeId}`, port: 19092, rack: null })),
    );
    const host = await cluster.request(ApiKey.Metadata, 1, { topics: [] }, 'PLAINTEXT_HOST');
    expect(host.brokers).toEqual([
      { nodeId: 1, host: 'localhost', port: 9092, rack: null },
      { nodeId: 2, host: 'localhost', port: 9093, rack: null },
    ]);
    expect([1, 2]).toContain(host.controllerId);
  });

  it('answers a leader without that listener with LISTENER_NOT_FOUND from v6, LEADER_NOT_AVAILABLE before', async () => {
    cluster = await LocalClusterFixture.start({ otherBrokerIds: [2, 3], brokerListeners });
    await createTopic('spread', 6);
    const leaders = cluster
      .image()
      .topic('spread')!
      .partitions.map((state) => state.leader);
    expect(new Set(leaders)).toEqual(new Set([1, 2, 3]));

    const internal = await cluster.request(
      ApiKey.Metadata,
      9,
      {
        topics: [{ name: 'spread' }],
        allowAutoTopicCreation: false,
        includeClusterAuthorizedOperations: false,
        includeTopicAuthorizedOperations: false,
      },
      'PLAINTEXT',
    );
    expect(internal.topics[0]!.partitions.map((partition) => partition.errorCode)).toEqual(
      leaders.map(() => ErrorCode.NONE),
    );

    for (const [version, missing] of [
      [6, ErrorCode.LISTENER_NOT_FOUND],
      [9, ErrorCode.LISTENER_NOT_FOUND],
      [5, ErrorCode.LEADER_NOT_AVAILABLE],
      [4, ErrorCode.LEADER_NOT_AVAILABLE],
    ] as const) {
      const response = await cluster.request(
        ApiKey.Metadata,
        version,
        {
          topics: [{ name: 'spread' }],
          allowAutoTopicCreation: false,
          includeClusterAuthorizedOperations: false,
          includeTopicAuthorizedOperations: false,
        },
        'PLAINTEXT_HOST',
      );
      const topic = response.topics[0]!;
      expect(topic.errorCode).toBe(ErrorCode.NONE);
      topic.partitions.forEach((partition, index) => {
        const onBroker3 = leaders[index] === 3;
        expect(partition.errorCode, `v${version} partition ${index}`).toBe(
          onBroker3 ? missing : ErrorCode.NONE,
        );
        expect(partition.leaderId).toBe(onBroker3 ? -1 : leaders[index]);
        if (version >= 5) expect(partition.offlineReplicas).toEqual(onBroker3 ? [3] : []);
      });
    }
  });

  it('keeps LEADER_NOT_AVAILABLE for a fenced leader, whatever the version', async () => {
    cluster = await LocalClusterFixture.start({ otherBrokerIds: [2, 3], brokerListeners });
    await createTopic('solo', 1, 1);
    const leader = cluster.image().topic('solo')!.partitions[0]!.leader;
    // The only replica fenced: the partition keeps no leader at all.
    await cluster.heartbeat(leader, { wantFence: true });
    const response = await cluster.request(
      ApiKey.Metadata,
      9,
      {
        topics: [{ name: 'solo' }],
        allowAutoTopicCreation: false,
        includeClusterAuthorizedOperations: false,
        includeTopicAuthorizedOperations: false,
      },
      'PLAINTEXT_HOST',
    );
    expect(response.topics[0]!.partitions[0]).toMatchObject({
      errorCode: ErrorCode.LEADER_NOT_AVAILABLE,
      leaderId: -1,
    });
  });
});

describe('Metadata topic ids (v10+)', () => {
  const wireIdOf = (name: string) => topicIdToWire(cluster.image().topic(name)!.topicId);
  const unknownId = 'f'.repeat(32);

  it('v10 answers every topic with its id, and an unknown name with the zero id', async () => {
    cluster = await LocalClusterFixture.start({ settings: { autoCreateTopicsEnable: false } });
    await createTopic('alpha', 2);
    const response = await cluster.request(ApiKey.Metadata, 10, {
      topics: [
        { topicId: zeroUuid, name: 'alpha' },
        { topicId: zeroUuid, name: 'missing' },
      ],
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
    });
    expect(response.topics.map(({ errorCode, name, topicId }) => ({ errorCode, name, topicId }))).toEqual([
      { errorCode: ErrorCode.NONE, name: 'alpha', topicId: wireIdOf('alpha') },
      { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, name: 'missing', topicId: zeroUuid },
    ]);
    expect(wireIdOf('alpha')).not.toBe(zeroUuid);
  });

  it('v12 selects topics by id: an unknown id is UNKNOWN_TOPIC_ID with a null name, nothing is created', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('alpha', 2);
    await createTopic('beta', 1);
    const topicsBefore = [...cluster.image().topics.keys()].sort();
    const response = await cluster.request(ApiKey.Metadata, 12, {
      topics: [
        { topicId: wireIdOf('beta'), name: null },
        { topicId: unknownId, name: null },
      ],
      allowAutoTopicCreation: true,
      includeTopicAuthorizedOperations: false,
    });
    expect(response.topics.map(({ errorCode, name, topicId }) => ({ errorCode, name, topicId }))).toEqual([
      { errorCode: ErrorCode.NONE, name: 'beta', topicId: wireIdOf('beta') },
      { errorCode: ErrorCode.UNKNOWN_TOPIC_ID, name: null, topicId: unknownId },
    ]);
    expect(response.topics[0]!.partitions.map((partition) => partition.leaderId)).toEqual([1]);
    expect([...cluster.image().topics.keys()].sort()).toEqual(topicsBefore);
  });

  it('v12: once one topic is named by id, the names of the request are not read (as Kafka)', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('alpha', 1);
    await createTopic('beta', 1);
    const response = await cluster.request(ApiKey.Metadata, 12, {
      topics: [
        { topicId: zeroUuid, name: 'alpha' },
        { topicId: wireIdOf('beta'), name: 'ignored' },
      ],
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
    });
    expect(response.topics.map((topic) => topic.name)).toEqual(['beta']);
  });

  it('refuses an id or a null name in v10 and v11 with INVALID_REQUEST for every topic', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('alpha', 1);
    const byId = await cluster.request(ApiKey.Metadata, 11, {
      topics: [
        { topicId: wireIdOf('alpha'), name: 'alpha' },
        { topicId: zeroUuid, name: 'other' },
      ],
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
    });
    expect(byId.topics.map(({ errorCode, name }) => [errorCode, name])).toEqual([
      [ErrorCode.INVALID_REQUEST, 'alpha'],
      [ErrorCode.INVALID_REQUEST, 'other'],
    ]);
    const nullName = await cluster.request(ApiKey.Metadata, 10, {
      topics: [{ topicId: zeroUuid, name: null }],
      allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    });
    expect(nullName.topics.map(({ errorCode, name }) => [errorCode, name])).toEqual([
      [ErrorCode.INVALID_REQUEST, ''],
    ]);
  });

  it('v13 answers with a top-level error code of 0 and the cluster as v9 did', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('alpha', 1);
    const response = await cluster.request(ApiKey.Metadata, 13, {
      topics: null,
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: false,
    });
    expect(response.errorCode).toBe(ErrorCode.NONE);
    expect(response.clusterId).toBe(fixtureClusterId);
    expect(response.brokers.map((broker) => broker.nodeId)).toEqual([1]);
    expect(response.topics.map(({ name, topicId }) => [name, topicId])).toEqual([
      ['alpha', wireIdOf('alpha')],
    ]);
  });
});

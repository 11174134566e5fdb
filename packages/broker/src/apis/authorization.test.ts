// Every API's ACL check, as Kafka's KafkaApis / ControllerApis / AuthHelper make it, against one
// broker with the StandardAuthorizer over the image's ACLs: User:admin is a super user and sets the
// scene; User:bob holds only the ACLs a case grants. Each case asserts Kafka's exact error code and
// that nothing bob may not see is in the answer, or nothing he may not change has changed.
// The group APIs run on the real group coordinator; the transaction APIs' gates
// (txn-authorization.ts) wrap handlers that record what reaches them, as their refusals are
// answered before any coordinator is asked; DescribeQuorum gets a quorum that counts its calls.

import { SeededRandom } from '@gregor/ground';
import { type AclBinding, AclPatternType, AclPermissionType, clusterResourceName } from '@gregor/metadata';
import {
  ApiKey,
  alterConfigOpType,
  authorizedOperationsOmitted,
  configResourceType,
  ErrorCode,
  type RequestBody,
  type ResponseInput,
  type SupportedApiKey,
  zeroUuid,
} from '@gregor/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { GroupCoordinatorDriver } from '../groups/group-coordinator-driver.js';
import { createRequestRouter } from '../request-router.js';
import { StandardAuthorizer } from '../security/authorizer.js';
import { userPrincipal } from '../security/kafka-principal.js';
import { batchOf } from '../testing/batches.js';
import { LocalClusterFixture, settle } from '../testing/local-cluster-fixture.js';
import type { ApiHandler } from './api-handler.js';
import { apiHandlers } from './api-handlers.js';
import { AclOperation, AclResourceType } from './authorization.js';
import type { MetadataQuorum } from './describe-quorum.js';
import { topicIdToWire } from './topic-ids.js';
import {
  addOffsetsToTxnAuthorized,
  addPartitionsToTxnAuthorized,
  describeTransactionsAuthorized,
  endTxnAuthorized,
  listTransactionsAuthorized,
} from './txn-authorization.js';

const admin = userPrincipal('admin');
const bob = userPrincipal('bob');
/** A topic bob holds no ACL on, with three records in partition 0. */
const secret = 'secret';
/** A topic bob is granted rights on case by case. */
const mine = 'mine';

let cluster: LocalClusterFixture;
let groups: GroupCoordinatorDriver;
/** What reached the wrapped transaction handlers and the quorum, by API. */
let reached: string[];

/** The ACL bob would grant himself: everything on `secret`. */
const bobMayDoAllOnSecret = {
  resourceType: AclResourceType.TOPIC,
  resourceName: secret,
  resourcePatternType: AclPatternType.LITERAL,
  principal: 'User:bob',
  host: '*',
  operation: AclOperation.ALL,
  permissionType: AclPermissionType.ALLOW,
};

/** A CreateAcls and a DeleteAcls of bobMayDoAllOnSecret: each one's error code and message. */
async function aclChanges(): Promise<[number, string | null][]> {
  const binding = bobMayDoAllOnSecret;
  const created = await cluster.request(ApiKey.CreateAcls, 3, { creations: [binding] });
  const deleted = await cluster.request(ApiKey.DeleteAcls, 3, {
    filters: [
      {
        resourceTypeFilter: binding.resourceType,
        resourceNameFilter: binding.resourceName,
        patternTypeFilter: binding.resourcePatternType,
        principalFilter: binding.principal,
        hostFilter: binding.host,
        operation: binding.operation,
        permissionType: binding.permissionType,
      },
    ],
  });
  return [...created.results, ...deleted.filterResults].map((result) => [
    result.errorCode,
    result.errorMessage,
  ]);
}

/** Kafka's Utils.to32BitField over AclOperation codes. */
const bits = (...operations: number[]) =>
  operations.reduce((field, operation) => field | (1 << operation), 0);

function acl(
  resourceType: number,
  resourceName: string,
  operation: number,
  permissionType: number = AclPermissionType.ALLOW,
): AclBinding {
  return {
    resourceType,
    resourceName,
    patternType: AclPatternType.LITERAL,
    principal: 'User:bob',
    host: '*',
    operation,
    permissionType,
  };
}

async function grant(...bindings: AclBinding[]): Promise<void> {
  const outcome = await cluster.createAcls(bindings, { timeoutMs: 1000 });
  if ('errorCode' in outcome) throw new Error(`ACLs not stored: ${outcome.errorMessage}`);
}

/** A handler that records that it was reached and answers `response`. */
function recording<K extends SupportedApiKey>(
  name: string,
  response: (body: RequestBody<K>) => ResponseInput<K>,
): ApiHandler<K> {
  return async (body) => {
    reached.push(name);
    return response(body);
  };
}

const quorum: MetadataQuorum = {
  describe: async () => {
    reached.push('DescribeQuorum');
    return { leaderId: 1, leaderEpoch: 1, highWatermark: 0, voters: [] };
  },
  nodes: () => [],
};

const transactionState = (transactionalId: string) => ({
  errorCode: ErrorCode.NONE,
  transactionalId,
  transactionState: 'Ongoing',
  transactionTimeoutMs: 60_000,
  transactionStartTimeMs: 1n,
  producerId: 7n,
  producerEpoch: 0,
  topics: [{ topic: secret, partitions: [0] }],
});

async function startCluster(withAuthorizer: boolean): Promise<void> {
  const authorizer = new StandardAuthorizer(
    { superUsers: new Set(['User:admin']), allowEveryoneIfNoAclFound: false },
    () => cluster.image().acls,
  );
  cluster = await LocalClusterFixture.start(withAuthorizer ? { authorizer } : {});
  groups = new GroupCoordinatorDriver({
    brokerId: cluster.brokerId,
    replicaManager: cluster.replicaManager,
    clock: cluster.clock,
    timers: cluster.timers,
    random: new SeededRandom(7),
    logger: cluster.logger,
    offsetsTopic: { numPartitions: 1, replicationFactor: 1 },
    groupInitialRebalanceDelayMs: 0,
    metadataBarrier: cluster.metadataBarrier,
  });
  cluster.router = createRequestRouter(cluster.context, {
    ...apiHandlers({ groups, quorum }),
    [ApiKey.AddPartitionsToTxn]: addPartitionsToTxnAuthorized(
      recording('AddPartitionsToTxn', () => ({
        throttleTimeMs: 0,
        errorCode: ErrorCode.NONE,
        resultsByTransaction: [],
        resultsByTopicV3AndBelow: [],
      })),
    ),
    [ApiKey.AddOffsetsToTxn]: addOffsetsToTxnAuthorized(
      recording('AddOffsetsToTxn', () => ({ throttleTimeMs: 0, errorCode: ErrorCode.NONE })),
    ),
    [ApiKey.EndTxn]: endTxnAuthorized(
      recording('EndTxn', () => ({ throttleTimeMs: 0, errorCode: ErrorCode.NONE })),
    ),
    [ApiKey.DescribeTransactions]: describeTransactionsAuthorized(
      recording<typeof ApiKey.DescribeTransactions>('DescribeTransactions', (body) => ({
        throttleTimeMs: 0,
        transactionStates: body.transactionalIds.map(transactionState),
      })),
    ),
    [ApiKey.ListTransactions]: listTransactionsAuthorized(
      recording('ListTransactions', () => ({
        throttleTimeMs: 0,
        errorCode: ErrorCode.NONE,
        unknownStateFilters: [],
        transactionStates: ['tx-mine', 'tx-theirs'].map((transactionalId) => ({
          transactionalId,
          producerId: 7n,
          transactionState: 'Ongoing',
        })),
      })),
    ),
  });
  reached = [];
  cluster.actAs(admin);
  for (const [name, numPartitions] of [
    [secret, 2],
    [mine, 1],
  ] as const) {
    const created = await cluster.request(ApiKey.CreateTopics, 4, {
      topics: [{ name, numPartitions, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 1000,
      validateOnly: false,
    });
    expect(created.topics[0]!.errorCode).toBe(ErrorCode.NONE);
  }
  await cluster.alterTopicConfigs(secret, { 'retention.ms': '60000' });
  const produced = await cluster.request(ApiKey.Produce, 7, {
    transactionalId: null,
    acks: 1,
    timeoutMs: 1000,
    topics: [{ name: secret, partitions: [{ partitionIndex: 0, records: batchOf(['a', 'b', 'c']) }] }],
  });
  expect(produced.responses[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NONE);
}

/** As admin: groups `mine` and `theirs` exist (Empty, with an offset of `secret` committed). */
async function startGroups(): Promise<void> {
  const found = await cluster.request(ApiKey.FindCoordinator, 2, { key: 'mine', keyType: 0 });
  expect(found.errorCode).toBe(ErrorCode.NONE);
  await settle(() => groups.ownedPartitions().includes(0) && !groups.isLoading(0));
  for (const groupId of ['mine', 'theirs']) {
    const committed = await commitOffset(groupId, [secret, mine]);
    expect(committed.topics.flatMap((topic) => topic.partitions.map((p) => p.errorCode))).toEqual([
      ErrorCode.NONE,
      ErrorCode.NONE,
    ]);
  }
}

function commitOffset(groupId: string, topics: readonly string[]) {
  return cluster.request(ApiKey.OffsetCommit, 8, {
    groupId,
    generationId: -1,
    memberId: '',
    groupInstanceId: null,
    topics: topics.map((name) => ({
      name,
      partitions: [
        { partitionIndex: 0, committedOffset: 2n, committedLeaderEpoch: -1, committedMetadata: '' },
      ],
    })),
  });
}

async function committedOffsets(groupId: string): Promise<Record<string, bigint>> {
  const fetched = await cluster.request(ApiKey.OffsetFetch, 7, {
    groupId,
    topics: null,
    requireStable: false,
  });
  return Object.fromEntries(
    fetched.topics.flatMap((topic) =>
      topic.partitions.map((partition) => [
        `${topic.name}-${partition.partitionIndex}`,
        partition.committedOffset,
      ]),
    ),
  );
}

afterEach(async () => {
  groups.close();
  await cluster.close();
});

interface DeniedCase {
  /** The API and what Kafka requires of the principal. */
  readonly name: string;
  /** ACLs bob holds for this case (none by default). */
  readonly grants?: readonly AclBinding[];
  /** Whether the case needs the groups `mine` and `theirs`. */
  readonly needsGroups?: boolean;
  /** Sends bob's request and checks the answer; then, as admin, that nothing changed. */
  readonly run: () => Promise<void>;
}

const cases: DeniedCase[] = [
  {
    name: 'CreateTopics: CREATE on the cluster or the topic, else TOPIC_AUTHORIZATION_FAILED',
    run: async () => {
      const response = await cluster.request(ApiKey.CreateTopics, 7, {
        topics: [{ name: 'fresh', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
        timeoutMs: 1000,
        validateOnly: false,
      });
      expect(response.topics).toEqual([
        expect.objectContaining({
          name: 'fresh',
          topicId: zeroUuid,
          errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
          numPartitions: -1,
          configs: [],
        }),
      ]);
      expect(cluster.image().topic('fresh')).toBeUndefined();
    },
  },
  {
    name: 'CreateTopics v5+: the configs of a created topic need DESCRIBE_CONFIGS on it, else topic_config_error_code TOPIC_AUTHORIZATION_FAILED',
    grants: [acl(AclResourceType.TOPIC, 'fresh', AclOperation.CREATE)],
    run: async () => {
      const response = await cluster.request(ApiKey.CreateTopics, 7, {
        topics: [
          {
            name: 'fresh',
            numPartitions: 2,
            replicationFactor: 1,
            assignments: [],
            configs: [{ name: 'retention.ms', value: '1000' }],
          },
        ],
        timeoutMs: 1000,
        validateOnly: false,
      });
      const created = cluster.image().topic('fresh');
      expect(created?.partitions).toHaveLength(2);
      expect(response.topics).toEqual([
        {
          name: 'fresh',
          topicId: topicIdToWire(created!.topicId),
          errorCode: ErrorCode.NONE,
          errorMessage: null,
          topicConfigErrorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
          numPartitions: -1,
          replicationFactor: -1,
          configs: [],
        },
      ]);
    },
  },
  {
    name: 'DeleteTopics: DELETE on the topic, by name or by id (whose name is not told)',
    run: async () => {
      const topicId = topicIdToWire(cluster.image().topic(secret)!.topicId);
      const response = await cluster.request(ApiKey.DeleteTopics, 6, {
        topics: [
          { name: secret, topicId: zeroUuid },
          { name: null, topicId },
        ],
        topicNames: [],
        timeoutMs: 1000,
      });
      expect(response.responses.map(({ name, errorCode }) => ({ name, errorCode }))).toEqual([
        { name: secret, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED },
        { name: null, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED },
      ]);
      expect(cluster.image().topic(secret)).toBeDefined();
    },
  },
  {
    name: 'CreatePartitions: ALTER on the topic',
    run: async () => {
      const response = await cluster.request(ApiKey.CreatePartitions, 1, {
        topics: [{ name: secret, count: 4, assignments: null }],
        timeoutMs: 1000,
        validateOnly: false,
      });
      expect(response.results.map((result) => result.errorCode)).toEqual([
        ErrorCode.TOPIC_AUTHORIZATION_FAILED,
      ]);
      expect(cluster.image().topic(secret)!.partitions).toHaveLength(2);
    },
  },
  {
    name: 'DescribeConfigs: DESCRIBE_CONFIGS on the topic, or on the cluster for a broker or broker logger',
    run: async () => {
      const response = await cluster.request(ApiKey.DescribeConfigs, 4, {
        resources: [
          { resourceType: configResourceType.topic, resourceName: secret, configurationKeys: null },
          { resourceType: configResourceType.broker, resourceName: '1', configurationKeys: null },
          { resourceType: configResourceType.brokerLogger, resourceName: '1', configurationKeys: null },
        ],
        includeSynonyms: false,
        includeDocumentation: false,
      });
      expect(response.results.map(({ errorCode, configs }) => ({ errorCode, configs }))).toEqual([
        { errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, configs: [] },
        { errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, configs: [] },
        { errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, configs: [] },
      ]);
    },
  },
  {
    name: 'IncrementalAlterConfigs: ALTER_CONFIGS on each topic (TOPIC_AUTHORIZATION_FAILED, also for a missing one) or the cluster; the others proceed',
    grants: [acl(AclResourceType.TOPIC, mine, AclOperation.ALTER_CONFIGS)],
    run: async () => {
      const set = (name: string, value: string) => [{ name, configOperation: alterConfigOpType.set, value }];
      const response = await cluster.request(ApiKey.IncrementalAlterConfigs, 1, {
        resources: [
          { resourceType: configResourceType.topic, resourceName: secret, configs: set('retention.ms', '1') },
          {
            resourceType: configResourceType.topic,
            resourceName: 'missing',
            configs: set('retention.ms', '1'),
          },
          {
            resourceType: configResourceType.broker,
            resourceName: '',
            configs: set('log.retention.ms', '1'),
          },
          {
            resourceType: configResourceType.brokerLogger,
            resourceName: '1',
            configs: set('kafka', 'DEBUG'),
          },
          {
            resourceType: configResourceType.topic,
            resourceName: mine,
            configs: set('retention.ms', '5000'),
          },
        ],
        validateOnly: false,
      });
      expect(response.responses.map(({ errorCode, errorMessage }) => [errorCode, errorMessage])).toEqual([
        [ErrorCode.TOPIC_AUTHORIZATION_FAILED, 'Topic authorization failed.'],
        [ErrorCode.TOPIC_AUTHORIZATION_FAILED, 'Topic authorization failed.'],
        [ErrorCode.CLUSTER_AUTHORIZATION_FAILED, 'Cluster authorization failed.'],
        [ErrorCode.CLUSTER_AUTHORIZATION_FAILED, 'Cluster authorization failed.'],
        [ErrorCode.NONE, null],
      ]);
      expect(Object.fromEntries(cluster.image().topicConfigs(secret))).toEqual({ 'retention.ms': '60000' });
      expect(cluster.image().brokerConfigs('').size).toBe(0);
      expect(Object.fromEntries(cluster.image().topicConfigs(mine))).toEqual({ 'retention.ms': '5000' });
    },
  },
  {
    name: 'AlterConfigs: ALTER_CONFIGS on each topic, the others proceed',
    grants: [acl(AclResourceType.TOPIC, mine, AclOperation.ALTER_CONFIGS)],
    run: async () => {
      const response = await cluster.request(ApiKey.AlterConfigs, 2, {
        resources: [
          // A whole-config replacement: with the check missing, secret's retention.ms would go.
          { resourceType: configResourceType.topic, resourceName: secret, configs: [] },
          {
            resourceType: configResourceType.topic,
            resourceName: mine,
            configs: [{ name: 'retention.ms', value: '5000' }],
          },
        ],
        validateOnly: false,
      });
      expect(response.responses.map(({ errorCode, resourceName }) => [resourceName, errorCode])).toEqual([
        [secret, ErrorCode.TOPIC_AUTHORIZATION_FAILED],
        [mine, ErrorCode.NONE],
      ]);
      expect(Object.fromEntries(cluster.image().topicConfigs(secret))).toEqual({ 'retention.ms': '60000' });
      expect(Object.fromEntries(cluster.image().topicConfigs(mine))).toEqual({ 'retention.ms': '5000' });
    },
  },
  {
    name: 'ListOffsets: DESCRIBE on the topic',
    run: async () => {
      const response = await cluster.request(ApiKey.ListOffsets, 5, {
        replicaId: -1,
        isolationLevel: 0,
        topics: [
          { name: secret, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n }] },
        ],
      });
      expect(response.topics[0]!.partitions).toEqual([
        expect.objectContaining({
          errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
          offset: -1n,
          timestamp: -1n,
        }),
      ]);
    },
  },
  {
    name: 'DeleteRecords: DELETE on each topic; a refused topic keeps its records, the others proceed',
    grants: [
      acl(AclResourceType.TOPIC, mine, AclOperation.DELETE),
      acl(AclResourceType.TOPIC, mine, AclOperation.WRITE),
    ],
    run: async () => {
      const produced = await cluster.request(ApiKey.Produce, 7, {
        transactionalId: null,
        acks: 1,
        timeoutMs: 1000,
        topics: [{ name: mine, partitions: [{ partitionIndex: 0, records: batchOf(['a', 'b']) }] }],
      });
      expect(produced.responses[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NONE);
      const response = await cluster.request(ApiKey.DeleteRecords, 2, {
        timeoutMs: 1000,
        topics: [secret, mine].map((name) => ({ name, partitions: [{ partitionIndex: 0, offset: 1n }] })),
      });
      expect(response.topics).toEqual([
        {
          name: secret,
          partitions: [
            { partitionIndex: 0, lowWatermark: -1n, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED },
          ],
        },
        { name: mine, partitions: [{ partitionIndex: 0, lowWatermark: 1n, errorCode: ErrorCode.NONE }] },
      ]);
      expect(cluster.replicaManager.partition(secret, 0)!.log.logStartOffset).toBe(0);
      expect(cluster.replicaManager.partition(mine, 0)!.log.logStartOffset).toBe(1);
    },
  },
  {
    name: 'OffsetForLeaderEpoch: CLUSTER_ACTION on the cluster, else DESCRIBE on each topic',
    grants: [acl(AclResourceType.TOPIC, mine, AclOperation.DESCRIBE)],
    run: async () => {
      const ask = async () =>
        (
          await cluster.request(ApiKey.OffsetForLeaderEpoch, 4, {
            replicaId: -1,
            topics: [secret, mine].map((topic) => ({
              topic,
              partitions: [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 }],
            })),
          })
        ).topics.map((topic) => [
          topic.topic,
          ...topic.partitions.map((p) => [p.errorCode, p.leaderEpoch, p.endOffset]),
        ]);
      expect(await ask()).toEqual([
        [secret, [ErrorCode.TOPIC_AUTHORIZATION_FAILED, -1, -1n]],
        [mine, [ErrorCode.NONE, 0, 0n]],
      ]);
      await grant(acl(AclResourceType.CLUSTER, clusterResourceName, AclOperation.CLUSTER_ACTION));
      expect(await ask()).toEqual([
        [secret, [ErrorCode.NONE, 0, 3n]],
        [mine, [ErrorCode.NONE, 0, 0n]],
      ]);
    },
  },
  {
    name: 'Fetch with a replica id: CLUSTER_ACTION on the cluster, even with READ on the topic',
    grants: [acl(AclResourceType.TOPIC, secret, AclOperation.READ)],
    run: async () => {
      const response = await cluster.request(ApiKey.Fetch, 11, {
        replicaId: 2,
        maxWaitMs: 0,
        minBytes: 1,
        maxBytes: 1 << 20,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [
          {
            topic: secret,
            partitions: [
              {
                partition: 0,
                currentLeaderEpoch: -1,
                fetchOffset: 0n,
                logStartOffset: -1n,
                partitionMaxBytes: 1 << 20,
              },
            ],
          },
        ],
        forgottenTopicsData: [],
        rackId: '',
      });
      expect(response.errorCode).toBe(ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
      expect(response.responses).toEqual([]);
    },
  },
  {
    name: 'Fetch v15 with a replica id in replica_state (KIP-903): CLUSTER_ACTION on the cluster',
    grants: [acl(AclResourceType.TOPIC, secret, AclOperation.READ)],
    run: async () => {
      const response = await cluster.request(ApiKey.Fetch, 15, {
        replicaState: { replicaId: 2, replicaEpoch: -1n },
        maxWaitMs: 0,
        minBytes: 1,
        maxBytes: 1 << 20,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [
          {
            topicId: topicIdToWire(cluster.image().topic(secret)!.topicId),
            partitions: [
              {
                partition: 0,
                currentLeaderEpoch: -1,
                fetchOffset: 0n,
                logStartOffset: -1n,
                partitionMaxBytes: 1 << 20,
              },
            ],
          },
        ],
        forgottenTopicsData: [],
        rackId: '',
      });
      expect(response.errorCode).toBe(ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
      expect(response.responses).toEqual([]);
    },
  },
  {
    name: 'Fetch v13 by topic id: READ on the topic',
    run: async () => {
      const topicId = topicIdToWire(cluster.image().topic(secret)!.topicId);
      const response = await cluster.request(ApiKey.Fetch, 13, {
        maxWaitMs: 0,
        minBytes: 1,
        maxBytes: 1 << 20,
        isolationLevel: 0,
        sessionId: 0,
        sessionEpoch: -1,
        topics: [
          {
            topicId,
            partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 << 20 }],
          },
        ],
        forgottenTopicsData: [],
        rackId: '',
      });
      expect(response.responses.map((topic) => [topic.topicId, topic.partitions[0]])).toEqual([
        [
          topicId,
          expect.objectContaining({ errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, records: null }),
        ],
      ]);
    },
  },
  {
    name: 'Produce v13 by topic id: WRITE on the topic, checked by its name',
    grants: [acl(AclResourceType.TOPIC, mine, AclOperation.WRITE)],
    run: async () => {
      const idOf = (name: string) => topicIdToWire(cluster.image().topic(name)!.topicId);
      const response = await cluster.request(ApiKey.Produce, 13, {
        transactionalId: null,
        acks: 1,
        timeoutMs: 1000,
        topics: [secret, mine].map((name) => ({
          topicId: idOf(name),
          partitions: [{ partitionIndex: 0, records: batchOf(['from-bob']) }],
        })),
      });
      expect(response.responses.map((topic) => [topic.topicId, topic.partitions[0]!.errorCode])).toEqual([
        [idOf(secret), ErrorCode.TOPIC_AUTHORIZATION_FAILED],
        [idOf(mine), ErrorCode.NONE],
      ]);
      expect(cluster.replicaManager.partition(secret, 0)!.logEndOffset).toBe(3);
      expect(cluster.replicaManager.partition(mine, 0)!.logEndOffset).toBe(1);
    },
  },
  {
    name: 'Metadata v12 by topic id: DESCRIBE on the topic (whose name is not told)',
    run: async () => {
      const topicId = topicIdToWire(cluster.image().topic(secret)!.topicId);
      const response = await cluster.request(ApiKey.Metadata, 12, {
        topics: [{ topicId, name: null }],
        allowAutoTopicCreation: false,
        includeTopicAuthorizedOperations: true,
      });
      expect(response.topics).toEqual([
        {
          errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
          name: null,
          topicId,
          isInternal: false,
          partitions: [],
          topicAuthorizedOperations: authorizedOperationsOmitted,
        },
      ]);
    },
  },
  {
    name: 'ElectLeaders: ALTER on the cluster',
    run: async () => {
      const leaderEpoch = cluster.image().topic(secret)!.partitions[0]!.leaderEpoch;
      const response = await cluster.request(ApiKey.ElectLeaders, 2, {
        electionType: 0,
        topicPartitions: [{ topic: secret, partitionId: [0] }],
        timeoutMs: 1000,
      });
      expect(response.errorCode).toBe(ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
      expect(
        response.replicaElectionResults.flatMap((topic) => topic.partitionResult.map((p) => p.errorCode)),
      ).toEqual([ErrorCode.CLUSTER_AUTHORIZATION_FAILED]);
      expect(cluster.image().topic(secret)!.partitions[0]!.leaderEpoch).toBe(leaderEpoch);
    },
  },
  {
    name: 'DescribeLogDirs: DESCRIBE on the cluster',
    run: async () => {
      const response = await cluster.request(ApiKey.DescribeLogDirs, 4, { topics: null });
      expect(response).toMatchObject({ errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, results: [] });
    },
  },
  {
    name: 'DescribeProducers: READ on the topic',
    run: async () => {
      const response = await cluster.request(ApiKey.DescribeProducers, 0, {
        topics: [{ name: secret, partitionIndexes: [0, 1] }],
      });
      expect(response.topics[0]!.partitions.map((p) => [p.errorCode, p.activeProducers])).toEqual([
        [ErrorCode.TOPIC_AUTHORIZATION_FAILED, []],
        [ErrorCode.TOPIC_AUTHORIZATION_FAILED, []],
      ]);
    },
  },
  {
    name: 'DescribeUserScramCredentials: DESCRIBE on the cluster',
    run: async () => {
      const response = await cluster.request(ApiKey.DescribeUserScramCredentials, 0, { users: null });
      expect(response).toMatchObject({ errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, results: [] });
    },
  },
  {
    name: 'AlterUserScramCredentials: ALTER on the cluster',
    run: async () => {
      const response = await cluster.request(ApiKey.AlterUserScramCredentials, 0, {
        deletions: [],
        upsertions: [
          {
            name: 'bob',
            mechanism: 1,
            iterations: 4096,
            salt: Buffer.alloc(16, 1),
            saltedPassword: Buffer.alloc(32, 2),
          },
        ],
      });
      expect(response.results).toEqual([
        {
          userName: 'bob',
          errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
          errorMessage: 'Cluster authorization failed.',
        },
      ]);
      expect(cluster.image().scramCredentials.size).toBe(0);
    },
  },
  {
    name: 'CreateAcls, DescribeAcls, DeleteAcls: ALTER, DESCRIBE, ALTER on the cluster',
    grants: [acl(AclResourceType.TOPIC, mine, AclOperation.READ)],
    run: async () => {
      const created = await cluster.request(ApiKey.CreateAcls, 3, { creations: [bobMayDoAllOnSecret] });
      expect(created.results.map((result) => result.errorCode)).toEqual([
        ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
      ]);
      const filter = {
        resourceTypeFilter: AclResourceType.ANY,
        resourceNameFilter: null,
        patternTypeFilter: AclPatternType.ANY,
        principalFilter: null,
        hostFilter: null,
        operation: AclOperation.ANY,
        permissionType: AclPermissionType.ANY,
      };
      const described = await cluster.request(ApiKey.DescribeAcls, 3, filter);
      expect(described).toMatchObject({ errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, resources: [] });
      const deleted = await cluster.request(ApiKey.DeleteAcls, 3, { filters: [filter] });
      expect(deleted.filterResults).toEqual([
        expect.objectContaining({ errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, matchingAcls: [] }),
      ]);
      expect([...cluster.image().acls.values()]).toEqual([
        acl(AclResourceType.TOPIC, mine, AclOperation.READ),
      ]);
    },
  },
  {
    name: 'CreateAcls, DeleteAcls: DESCRIBE on the cluster is not ALTER',
    grants: [acl(AclResourceType.CLUSTER, clusterResourceName, AclOperation.DESCRIBE)],
    run: async () => {
      const refusals = await aclChanges();
      expect(refusals).toEqual([
        [ErrorCode.CLUSTER_AUTHORIZATION_FAILED, 'Cluster authorization failed.'],
        [ErrorCode.CLUSTER_AUTHORIZATION_FAILED, 'Cluster authorization failed.'],
      ]);
      expect([...cluster.image().acls.values()]).toEqual([
        acl(AclResourceType.CLUSTER, clusterResourceName, AclOperation.DESCRIBE),
      ]);
    },
  },
  {
    name: 'DescribeQuorum: DESCRIBE on the cluster',
    run: async () => {
      const response = await cluster.request(ApiKey.DescribeQuorum, 2, {
        topics: [{ topicName: '__cluster_metadata', partitions: [{ partitionIndex: 0 }] }],
      });
      expect(response).toMatchObject({
        errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
        topics: [],
        nodes: [],
      });
      expect(reached).toEqual([]);
    },
  },
  {
    name: 'SyncGroup, Heartbeat, LeaveGroup: READ on the group',
    needsGroups: true,
    run: async () => {
      const synced = await cluster.request(ApiKey.SyncGroup, 4, {
        groupId: 'theirs',
        generationId: 0,
        memberId: 'm',
        groupInstanceId: null,
        assignments: [{ memberId: 'm', assignment: Buffer.from('x') }],
      });
      expect(synced).toMatchObject({
        errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED,
        assignment: Buffer.alloc(0),
      });
      const beat = await cluster.request(ApiKey.Heartbeat, 4, {
        groupId: 'theirs',
        generationId: 0,
        memberId: 'm',
        groupInstanceId: null,
      });
      expect(beat.errorCode).toBe(ErrorCode.GROUP_AUTHORIZATION_FAILED);
      const left = await cluster.request(ApiKey.LeaveGroup, 4, {
        groupId: 'theirs',
        memberId: '',
        members: [{ memberId: 'm', groupInstanceId: null }],
      });
      expect(left).toMatchObject({ errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED, members: [] });
    },
  },
  {
    name: 'OffsetCommit: READ on the group, and READ on each topic (its partitions TOPIC_AUTHORIZATION_FAILED)',
    needsGroups: true,
    grants: [
      acl(AclResourceType.GROUP, 'mine', AclOperation.READ),
      acl(AclResourceType.TOPIC, mine, AclOperation.READ),
    ],
    run: async () => {
      const theirs = await commitOffset('theirs', [mine]);
      expect(theirs.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.GROUP_AUTHORIZATION_FAILED);
      const own = await cluster.request(ApiKey.OffsetCommit, 8, {
        groupId: 'mine',
        generationId: -1,
        memberId: '',
        groupInstanceId: null,
        topics: [secret, mine].map((name) => ({
          name,
          partitions: [
            { partitionIndex: 0, committedOffset: 9n, committedLeaderEpoch: -1, committedMetadata: '' },
          ],
        })),
      });
      const codes = Object.fromEntries(
        own.topics.map((topic) => [topic.name, topic.partitions[0]!.errorCode]),
      );
      expect(codes).toEqual({ [secret]: ErrorCode.TOPIC_AUTHORIZATION_FAILED, [mine]: ErrorCode.NONE });
      cluster.actAs(admin);
      expect(await committedOffsets('mine')).toEqual({ [`${secret}-0`]: 2n, [`${mine}-0`]: 9n });
      expect(await committedOffsets('theirs')).toEqual({ [`${secret}-0`]: 2n, [`${mine}-0`]: 2n });
    },
  },
  {
    name: 'OffsetCommit v10 and OffsetFetch v10: topics named by id are authorized by their names',
    needsGroups: true,
    grants: [
      acl(AclResourceType.GROUP, 'mine', AclOperation.READ),
      acl(AclResourceType.TOPIC, mine, AclOperation.READ),
    ],
    run: async () => {
      const idOf = (name: string) => topicIdToWire(cluster.image().topic(name)!.topicId);
      const committed = await cluster.request(ApiKey.OffsetCommit, 10, {
        groupId: 'mine',
        generationId: -1,
        memberId: '',
        groupInstanceId: null,
        topics: [secret, mine].map((name) => ({
          name: '',
          topicId: idOf(name),
          partitions: [
            { partitionIndex: 0, committedOffset: 9n, committedLeaderEpoch: -1, committedMetadata: '' },
          ],
        })),
      });
      expect(
        Object.fromEntries(committed.topics.map((topic) => [topic.topicId, topic.partitions[0]!.errorCode])),
      ).toEqual({ [idOf(secret)]: ErrorCode.TOPIC_AUTHORIZATION_FAILED, [idOf(mine)]: ErrorCode.NONE });
      const fetched = await cluster.request(ApiKey.OffsetFetch, 10, {
        groupId: '',
        topics: [],
        groups: [
          {
            groupId: 'mine',
            memberId: null,
            memberEpoch: -1,
            topics: [secret, mine].map((name) => ({ name: '', topicId: idOf(name), partitionIndexes: [0] })),
          },
        ],
        requireStable: false,
      });
      expect(
        Object.fromEntries(
          fetched.groups[0]!.topics.map((topic) => [
            topic.topicId,
            [topic.partitions[0]!.committedOffset, topic.partitions[0]!.errorCode],
          ]),
        ),
      ).toEqual({
        [idOf(secret)]: [-1n, ErrorCode.TOPIC_AUTHORIZATION_FAILED],
        [idOf(mine)]: [9n, ErrorCode.NONE],
      });
    },
  },
  {
    name: 'DescribeGroups: DESCRIBE on each group; authorized_operations of the others when asked',
    needsGroups: true,
    grants: [acl(AclResourceType.GROUP, 'mine', AclOperation.READ)],
    run: async () => {
      const response = await cluster.request(ApiKey.DescribeGroups, 5, {
        groups: ['theirs', 'mine'],
        includeAuthorizedOperations: true,
      });
      expect(
        response.groups.map((group) => [
          group.groupId,
          group.errorCode,
          group.groupState,
          group.authorizedOperations,
        ]),
      ).toEqual([
        ['theirs', ErrorCode.GROUP_AUTHORIZATION_FAILED, '', authorizedOperationsOmitted],
        // READ implies DESCRIBE.
        ['mine', ErrorCode.NONE, 'Empty', bits(AclOperation.READ, AclOperation.DESCRIBE)],
      ]);
      const unasked = await cluster.request(ApiKey.DescribeGroups, 5, {
        groups: ['mine'],
        includeAuthorizedOperations: false,
      });
      expect(unasked.groups[0]!.authorizedOperations).toBe(authorizedOperationsOmitted);
    },
  },
  {
    name: 'ListGroups: only the groups the principal may DESCRIBE, all with DESCRIBE on the cluster',
    needsGroups: true,
    grants: [acl(AclResourceType.GROUP, 'mine', AclOperation.DESCRIBE)],
    run: async () => {
      const listed = async () =>
        (await cluster.request(ApiKey.ListGroups, 4, { statesFilter: [] })).groups
          .map((group) => group.groupId)
          .sort();
      expect(await listed()).toEqual(['mine']);
      await grant(acl(AclResourceType.CLUSTER, clusterResourceName, AclOperation.DESCRIBE));
      expect(await listed()).toEqual(['mine', 'theirs']);
    },
  },
  {
    name: 'DeleteGroups: DELETE on each group',
    needsGroups: true,
    grants: [acl(AclResourceType.GROUP, 'mine', AclOperation.READ)],
    run: async () => {
      const response = await cluster.request(ApiKey.DeleteGroups, 2, { groupsNames: ['theirs', 'mine'] });
      expect(response.results).toEqual([
        { groupId: 'theirs', errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED },
        { groupId: 'mine', errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED },
      ]);
      cluster.actAs(admin);
      const listed = await cluster.request(ApiKey.ListGroups, 4, { statesFilter: [] });
      expect(listed.groups.map((group) => group.groupId).sort()).toEqual(['mine', 'theirs']);
    },
  },
  {
    name: 'OffsetDelete: DELETE on the group, READ on each topic',
    needsGroups: true,
    grants: [
      acl(AclResourceType.GROUP, 'mine', AclOperation.DELETE),
      acl(AclResourceType.TOPIC, mine, AclOperation.READ),
    ],
    run: async () => {
      const remove = (groupId: string) =>
        cluster.request(ApiKey.OffsetDelete, 0, {
          groupId,
          topics: [secret, mine].map((name) => ({ name, partitions: [{ partitionIndex: 0 }] })),
        });
      expect(await remove('theirs')).toMatchObject({
        errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED,
        topics: [],
      });
      const own = await remove('mine');
      expect(own.errorCode).toBe(ErrorCode.NONE);
      expect(
        Object.fromEntries(own.topics.map((topic) => [topic.name, topic.partitions[0]!.errorCode])),
      ).toEqual({
        [secret]: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
        [mine]: ErrorCode.NONE,
      });
      cluster.actAs(admin);
      expect(await committedOffsets('mine')).toEqual({ [`${secret}-0`]: 2n });
      expect(await committedOffsets('theirs')).toEqual({ [`${secret}-0`]: 2n, [`${mine}-0`]: 2n });
    },
  },
  {
    name: 'AddPartitionsToTxn: WRITE on the transactional id, and WRITE on each topic (nothing added if one is refused)',
    grants: [
      acl(AclResourceType.TRANSACTIONAL_ID, 'tx-mine', AclOperation.WRITE),
      acl(AclResourceType.TOPIC, mine, AclOperation.WRITE),
    ],
    run: async () => {
      const add = async (transactionalId: string) =>
        (
          await cluster.request(ApiKey.AddPartitionsToTxn, 3, {
            transactionalId,
            producerId: 7n,
            producerEpoch: 0,
            topics: [secret, mine].map((name) => ({ name, partitions: [0] })),
          })
        ).resultsByTopicV3AndBelow.map((topic) => [
          topic.name,
          topic.resultsByPartition[0]!.partitionErrorCode,
        ]);
      expect(await add('tx-theirs')).toEqual([
        [secret, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED],
        [mine, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED],
      ]);
      expect(await add('tx-mine')).toEqual([
        [secret, ErrorCode.TOPIC_AUTHORIZATION_FAILED],
        [mine, ErrorCode.OPERATION_NOT_ATTEMPTED],
      ]);
      expect(reached).toEqual([]);
    },
  },
  {
    name: "AddPartitionsToTxn v4-5 (brokers'): CLUSTER_ACTION on the cluster, the id's and topics' WRITE not enough",
    grants: [
      acl(AclResourceType.TRANSACTIONAL_ID, 'tx-mine', AclOperation.WRITE),
      acl(AclResourceType.TOPIC, mine, AclOperation.WRITE),
    ],
    run: async () => {
      const verify = (version: number) =>
        cluster.request(ApiKey.AddPartitionsToTxn, version, {
          transactionalId: '',
          producerId: 0n,
          producerEpoch: 0,
          topics: [],
          transactions: [
            {
              transactionalId: 'tx-mine',
              producerId: 7n,
              producerEpoch: 0,
              verifyOnly: true,
              topics: [{ name: mine, partitions: [0] }],
            },
          ],
        });
      for (const version of [4, 5]) {
        expect(await verify(version)).toMatchObject({
          errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
          resultsByTransaction: [],
        });
      }
      expect(reached).toEqual([]);
      await grant(acl(AclResourceType.CLUSTER, clusterResourceName, AclOperation.CLUSTER_ACTION));
      expect((await verify(4)).errorCode).toBe(ErrorCode.NONE);
      expect(reached).toEqual(['AddPartitionsToTxn']);
    },
  },
  {
    name: 'AddOffsetsToTxn: WRITE on the transactional id, READ on the group',
    grants: [acl(AclResourceType.TRANSACTIONAL_ID, 'tx-mine', AclOperation.WRITE)],
    run: async () => {
      const add = async (transactionalId: string) =>
        (
          await cluster.request(ApiKey.AddOffsetsToTxn, 3, {
            transactionalId,
            producerId: 7n,
            producerEpoch: 0,
            groupId: 'theirs',
          })
        ).errorCode;
      expect(await add('tx-theirs')).toBe(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
      expect(await add('tx-mine')).toBe(ErrorCode.GROUP_AUTHORIZATION_FAILED);
      expect(reached).toEqual([]);
    },
  },
  {
    name: 'EndTxn: WRITE on the transactional id',
    grants: [acl(AclResourceType.TRANSACTIONAL_ID, 'tx-mine', AclOperation.DESCRIBE)],
    run: async () => {
      const ended = await cluster.request(ApiKey.EndTxn, 3, {
        transactionalId: 'tx-mine',
        producerId: 7n,
        producerEpoch: 0,
        committed: true,
      });
      expect(ended.errorCode).toBe(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
      expect(reached).toEqual([]);
    },
  },
  {
    name: 'DescribeTransactions: DESCRIBE on each transactional id',
    grants: [acl(AclResourceType.TRANSACTIONAL_ID, 'tx-mine', AclOperation.DESCRIBE)],
    run: async () => {
      const response = await cluster.request(ApiKey.DescribeTransactions, 0, {
        transactionalIds: ['tx-theirs', 'tx-mine'],
      });
      expect(response.transactionStates).toEqual([
        expect.objectContaining({
          transactionalId: 'tx-theirs',
          errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
          producerId: -1n,
          topics: [],
        }),
        transactionState('tx-mine'),
      ]);
    },
  },
  {
    name: 'ListTransactions: only the transactional ids the principal may DESCRIBE',
    grants: [acl(AclResourceType.TRANSACTIONAL_ID, 'tx-mine', AclOperation.WRITE)],
    run: async () => {
      const response = await cluster.request(ApiKey.ListTransactions, 1, {
        stateFilters: [],
        producerIdFilters: [],
        durationFilter: -1n,
      });
      expect(response.transactionStates.map((state) => state.transactionalId)).toEqual(['tx-mine']);
    },
  },
];

describe('ACL checks: a principal without the ACL gets Kafka error and nothing else', () => {
  it.each(cases.map((denied) => [denied.name, denied] as const))('%s', async (_name, denied) => {
    await startCluster(true);
    if (denied.needsGroups === true) await startGroups();
    if (denied.grants !== undefined) await grant(...denied.grants);
    cluster.actAs(bob);
    await denied.run();
  });
});

describe('ACL changes without an authorizer', () => {
  it('are SECURITY_DISABLED, as Kafka answers them, and change nothing', async () => {
    await startCluster(false);
    expect(await aclChanges()).toEqual([
      [ErrorCode.SECURITY_DISABLED, 'No Authorizer is configured (authorizer.class.name)'],
      [ErrorCode.SECURITY_DISABLED, 'No Authorizer is configured (authorizer.class.name)'],
    ]);
    expect(cluster.image().acls.size).toBe(0);
  });
});

describe('authorized_operations', () => {
  const topicOperations = [
    AclOperation.READ,
    AclOperation.WRITE,
    AclOperation.CREATE,
    AclOperation.DESCRIBE,
    AclOperation.DELETE,
    AclOperation.ALTER,
    AclOperation.DESCRIBE_CONFIGS,
    AclOperation.ALTER_CONFIGS,
  ];
  const clusterOperations = [
    AclOperation.CREATE,
    AclOperation.CLUSTER_ACTION,
    AclOperation.DESCRIBE_CONFIGS,
    AclOperation.ALTER_CONFIGS,
    AclOperation.IDEMPOTENT_WRITE,
    AclOperation.ALTER,
    AclOperation.DESCRIBE,
  ];

  const metadata = (include: boolean) =>
    cluster.request(ApiKey.Metadata, 9, {
      topics: [{ name: secret }, { name: mine }],
      allowAutoTopicCreation: false,
      includeClusterAuthorizedOperations: include,
      includeTopicAuthorizedOperations: include,
    });
  const describeCluster = (include: boolean) =>
    cluster.request(ApiKey.DescribeCluster, 1, {
      includeClusterAuthorizedOperations: include,
      endpointType: 1,
    });

  it("are the principal's operations on each topic and the cluster, 0 for the cluster without DESCRIBE on it, omitted when not asked", async () => {
    await startCluster(true);
    await grant(
      acl(AclResourceType.TOPIC, mine, AclOperation.WRITE),
      acl(AclResourceType.TOPIC, mine, AclOperation.ALTER_CONFIGS),
      acl(AclResourceType.TOPIC, mine, AclOperation.DELETE, AclPermissionType.DENY),
      acl(AclResourceType.CLUSTER, clusterResourceName, AclOperation.IDEMPOTENT_WRITE),
    );
    cluster.actAs(bob);
    const asked = await metadata(true);
    expect(
      asked.topics.map((topic) => [topic.name, topic.errorCode, topic.topicAuthorizedOperations]),
    ).toEqual([
      [secret, ErrorCode.TOPIC_AUTHORIZATION_FAILED, authorizedOperationsOmitted],
      // WRITE implies DESCRIBE, ALTER_CONFIGS implies DESCRIBE_CONFIGS; DELETE is denied.
      [
        mine,
        ErrorCode.NONE,
        bits(
          AclOperation.WRITE,
          AclOperation.DESCRIBE,
          AclOperation.ALTER_CONFIGS,
          AclOperation.DESCRIBE_CONFIGS,
        ),
      ],
    ]);
    expect(asked.clusterAuthorizedOperations).toBe(0);
    expect((await describeCluster(true)).clusterAuthorizedOperations).toBe(0);

    await grant(acl(AclResourceType.CLUSTER, clusterResourceName, AclOperation.DESCRIBE));
    const clusterBits = bits(AclOperation.IDEMPOTENT_WRITE, AclOperation.DESCRIBE);
    expect((await metadata(true)).clusterAuthorizedOperations).toBe(clusterBits);
    expect((await describeCluster(true)).clusterAuthorizedOperations).toBe(clusterBits);

    const unasked = await metadata(false);
    expect(unasked.clusterAuthorizedOperations).toBe(authorizedOperationsOmitted);
    expect(unasked.topics.map((topic) => topic.topicAuthorizedOperations)).toEqual([
      authorizedOperationsOmitted,
      authorizedOperationsOmitted,
    ]);
    expect((await describeCluster(false)).clusterAuthorizedOperations).toBe(authorizedOperationsOmitted);

    cluster.actAs(admin);
    expect((await metadata(true)).topics.map((topic) => topic.topicAuthorizedOperations)).toEqual([
      bits(...topicOperations),
      bits(...topicOperations),
    ]);
  });

  it('are every operation of the resource type without an authorizer, as Kafka answers', async () => {
    await startCluster(false);
    await startGroups();
    const asked = await metadata(true);
    expect(asked.topics.map((topic) => topic.topicAuthorizedOperations)).toEqual([
      bits(...topicOperations),
      bits(...topicOperations),
    ]);
    expect(asked.clusterAuthorizedOperations).toBe(bits(...clusterOperations));
    expect((await describeCluster(true)).clusterAuthorizedOperations).toBe(bits(...clusterOperations));
    const described = await cluster.request(ApiKey.DescribeGroups, 5, {
      groups: ['mine'],
      includeAuthorizedOperations: true,
    });
    expect(described.groups[0]!.authorizedOperations).toBe(
      bits(AclOperation.READ, AclOperation.DESCRIBE, AclOperation.DELETE),
    );
  });
});

import { AclPatternType, AclPermissionType } from '@gregor/metadata';
import {
  ApiKey,
  authorizedOperationsOmitted,
  ErrorCode,
  type RequestInput,
  zeroUuid,
} from '@gregor/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { StandardAuthorizer } from '../security/authorizer.js';
import { userPrincipal } from '../security/kafka-principal.js';
import { LocalClusterFixture } from '../testing/local-cluster-fixture.js';
import { AclOperation, AclResourceType } from './authorization.js';
import { topicIdToWire } from './topic-ids.js';

type Request = RequestInput<typeof ApiKey.DescribeTopicPartitions>;

let cluster: LocalClusterFixture;
afterEach(async () => {
  await cluster.close();
});

async function createTopic(name: string, numPartitions: number): Promise<void> {
  const response = await cluster.request(ApiKey.CreateTopics, 4, {
    topics: [{ name, numPartitions, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 1000,
    validateOnly: false,
  });
  expect(response.topics[0]!.errorCode).toBe(ErrorCode.NONE);
}

const describeTopics = (request: Request) => cluster.request(ApiKey.DescribeTopicPartitions, 0, request);

/** Topic name and partition indexes of a response, in order. */
const pages = (response: Awaited<ReturnType<typeof describeTopics>>) =>
  response.topics.map((topic) => [topic.name, topic.partitions.map((p) => p.partitionIndex)]);

describe('DescribeTopicPartitions', () => {
  it('describes named topics with topic ids, leaders, empty ELR lists and authorized operations', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('alpha', 2);
    const response = await describeTopics({ topics: [{ name: 'alpha' }] });
    const topicId = cluster.image().topic('alpha')!.topicId;
    expect(response).toEqual({
      throttleTimeMs: 0,
      topics: [
        {
          errorCode: ErrorCode.NONE,
          name: 'alpha',
          topicId: topicIdToWire(topicId),
          isInternal: false,
          partitions: [0, 1].map((partitionIndex) => ({
            errorCode: ErrorCode.NONE,
            partitionIndex,
            leaderId: 1,
            leaderEpoch: 0,
            replicaNodes: [1],
            isrNodes: [1],
            eligibleLeaderReplicas: [],
            lastKnownElr: [],
            offlineReplicas: [],
          })),
          // Without an authorizer: every topic operation Kafka lists, READ (3), WRITE (4), CREATE (5),
          // DELETE (6), ALTER (7), DESCRIBE (8), DESCRIBE_CONFIGS (10), ALTER_CONFIGS (11).
          topicAuthorizedOperations: 0b1101_1111_1000,
        },
      ],
      nextCursor: null,
    });
  });

  it('answers every topic in name order for an empty list, and unknown or invalid named ones as errors', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('beta', 1);
    await createTopic('alpha', 1);
    const all = await describeTopics({ topics: [] });
    expect(pages(all)).toEqual([
      ['alpha', [0]],
      ['beta', [0]],
    ]);
    const named = await describeTopics({
      topics: [{ name: 'beta' }, { name: 'missing' }, { name: 'bad/name' }],
    });
    expect(named.topics.map((topic) => [topic.name, topic.errorCode, topic.topicId])).toEqual([
      ['bad/name', ErrorCode.INVALID_TOPIC_EXCEPTION, zeroUuid],
      ['beta', ErrorCode.NONE, topicIdToWire(cluster.image().topic('beta')!.topicId)],
      ['missing', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, zeroUuid],
    ]);
  });

  it('pages through partitions with the limit and the cursor, as KRaftMetadataCache does', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('a', 3);
    await createTopic('b', 2);
    await createTopic('c', 1);
    // The limit ends inside a topic: the cursor names its first partition left out.
    const first = await describeTopics({ topics: [], responsePartitionLimit: 4 });
    expect(pages(first)).toEqual([
      ['a', [0, 1, 2]],
      ['b', [0]],
    ]);
    expect(first.nextCursor).toEqual({ topicName: 'b', partitionIndex: 1 });
    // The limit is used up exactly at a topic's end: the cursor names the next topic's partition 0.
    const second = await describeTopics({ topics: [], responsePartitionLimit: 1, cursor: first.nextCursor });
    expect(pages(second)).toEqual([['b', [1]]]);
    expect(second.nextCursor).toEqual({ topicName: 'c', partitionIndex: 0 });
    const last = await describeTopics({ topics: [], responsePartitionLimit: 10, cursor: second.nextCursor });
    expect(pages(last)).toEqual([['c', [0]]]);
    expect(last.nextCursor).toBeNull();
    // A limit below 1 is 1, as Kafka clamps it.
    const clamped = await describeTopics({ topics: [{ name: 'a' }], responsePartitionLimit: 0 });
    expect(pages(clamped)).toEqual([['a', [0]]]);
    expect(clamped.nextCursor).toEqual({ topicName: 'a', partitionIndex: 1 });
    // Named topics before the cursor's are skipped; a cursor partition past the end gives none.
    const skipped = await describeTopics({
      topics: [{ name: 'a' }, { name: 'c' }],
      cursor: { topicName: 'c', partitionIndex: 5 },
    });
    expect(pages(skipped)).toEqual([['c', []]]);
  });

  it('carries at most max.request.partition.size.limit partitions, whatever the request asks', async () => {
    cluster = await LocalClusterFixture.start({ settings: { maxRequestPartitionSizeLimit: 2 } });
    await createTopic('a', 3);
    const capped = await describeTopics({ topics: [{ name: 'a' }], responsePartitionLimit: 10 });
    expect(pages(capped)).toEqual([['a', [0, 1]]]);
    expect(capped.nextCursor).toEqual({ topicName: 'a', partitionIndex: 2 });
  });

  it('refuses a cursor topic outside the named topics and a negative cursor partition (INVALID_REQUEST)', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('a', 1);
    const outside = await describeTopics({
      topics: [{ name: 'a' }],
      cursor: { topicName: 'z', partitionIndex: 0 },
    });
    expect(outside).toEqual({
      throttleTimeMs: 0,
      topics: [
        {
          errorCode: ErrorCode.INVALID_REQUEST,
          name: 'a',
          topicId: zeroUuid,
          isInternal: false,
          partitions: [],
          topicAuthorizedOperations: authorizedOperationsOmitted,
        },
      ],
      nextCursor: null,
    });
    const negative = await describeTopics({ topics: [], cursor: { topicName: 'a', partitionIndex: -1 } });
    expect(negative.topics).toEqual([]);
    const negativeNamed = await describeTopics({
      topics: [{ name: 'a' }],
      cursor: { topicName: 'a', partitionIndex: -1 },
    });
    expect(negativeNamed.topics.map((topic) => topic.errorCode)).toEqual([ErrorCode.INVALID_REQUEST]);
  });

  it('needs DESCRIBE on each topic: refused named topics come last without id, unnamed ones are hidden', async () => {
    const authorizer = new StandardAuthorizer(
      { superUsers: new Set(['User:admin']), allowEveryoneIfNoAclFound: false },
      () => cluster.image().acls,
    );
    cluster = await LocalClusterFixture.start({ authorizer });
    cluster.actAs(userPrincipal('admin'));
    await createTopic('mine', 1);
    await createTopic('secret', 1);
    const granted = await cluster.createAcls(
      [
        {
          resourceType: AclResourceType.TOPIC,
          resourceName: 'mine',
          patternType: AclPatternType.LITERAL,
          principal: 'User:bob',
          host: '*',
          operation: AclOperation.DESCRIBE,
          permissionType: AclPermissionType.ALLOW,
        },
      ],
      { timeoutMs: 1000 },
    );
    expect('errorCode' in granted).toBe(false);
    cluster.actAs(userPrincipal('bob'));
    const named = await describeTopics({
      topics: [{ name: 'secret' }, { name: 'mine' }, { name: 'absent' }],
    });
    expect(named.topics.map((topic) => [topic.name, topic.errorCode, topic.topicId])).toEqual([
      ['mine', ErrorCode.NONE, topicIdToWire(cluster.image().topic('mine')!.topicId)],
      ['absent', ErrorCode.TOPIC_AUTHORIZATION_FAILED, zeroUuid],
      ['secret', ErrorCode.TOPIC_AUTHORIZATION_FAILED, zeroUuid],
    ]);
    expect(named.topics[0]!.topicAuthorizedOperations).toBe(1 << AclOperation.DESCRIBE);
    expect(named.topics[1]!.topicAuthorizedOperations).toBe(authorizedOperationsOmitted);
    expect(named.topics[1]!.partitions).toEqual([]);
    const all = await describeTopics({ topics: [] });
    expect(pages(all)).toEqual([['mine', [0]]]);
  });
});

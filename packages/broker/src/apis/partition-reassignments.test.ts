import { ApiKey, ErrorCode } from '@gregor/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { StandardAuthorizer } from '../security/authorizer.js';
import { LocalClusterFixture } from '../testing/local-cluster-fixture.js';

let cluster: LocalClusterFixture;
afterEach(async () => {
  await cluster.close();
});

async function createTopic(name: string): Promise<void> {
  const response = await cluster.request(ApiKey.CreateTopics, 4, {
    topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 1000,
    validateOnly: false,
  });
  expect(response.topics[0]!.errorCode).toBe(ErrorCode.NONE);
}

function alter(partitions: { partitionIndex: number; replicas: number[] | null }[], topic = 't') {
  return cluster.request(ApiKey.AlterPartitionReassignments, 0, {
    timeoutMs: 1000,
    topics: [{ name: topic, partitions }],
  });
}

describe('AlterPartitionReassignments and ListPartitionReassignments', () => {
  it('answers each partition on its own, with Kafka error codes, grouped by topic', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('t');
    const response = await alter([
      { partitionIndex: 0, replicas: null },
      { partitionIndex: 0, replicas: [] },
      { partitionIndex: 0, replicas: [1, 1] },
      { partitionIndex: 0, replicas: [5] },
      { partitionIndex: 3, replicas: [1] },
      { partitionIndex: 0, replicas: [1] },
    ]);
    expect(response).toMatchObject({ throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null });
    expect(response.responses).toHaveLength(1);
    expect(response.responses[0]!.partitions.map((p) => [p.partitionIndex, p.errorCode])).toEqual([
      [0, ErrorCode.NO_REASSIGNMENT_IN_PROGRESS],
      [0, ErrorCode.INVALID_REPLICA_ASSIGNMENT],
      [0, ErrorCode.INVALID_REPLICA_ASSIGNMENT],
      [0, ErrorCode.INVALID_REPLICA_ASSIGNMENT],
      [3, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
      // The partition already is where it is asked to be: nothing to move.
      [0, ErrorCode.NONE],
    ]);
    expect(response.responses[0]!.partitions[5]!.errorMessage).toBeNull();
    const listed = await cluster.request(ApiKey.ListPartitionReassignments, 0, {
      timeoutMs: 1000,
      topics: null,
    });
    expect(listed).toEqual({ throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, topics: [] });
  });

  it('needs ALTER on CLUSTER to reassign and DESCRIBE on CLUSTER to list when ACLs are on', async () => {
    const denyAll = new StandardAuthorizer(
      { superUsers: new Set(), allowEveryoneIfNoAclFound: false },
      () => new Map(),
    );
    cluster = await LocalClusterFixture.start({ authorizer: denyAll });
    const altered = await alter([{ partitionIndex: 0, replicas: [1] }], 'any');
    expect(altered).toMatchObject({
      errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
      responses: [
        {
          name: 'any',
          partitions: [{ partitionIndex: 0, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED }],
        },
      ],
    });
    const listed = await cluster.request(ApiKey.ListPartitionReassignments, 0, {
      timeoutMs: 1000,
      topics: null,
    });
    expect(listed).toMatchObject({ errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, topics: [] });
  });
});

import { ApiKey, ErrorCode } from '@gregor/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalClusterFixture } from '../testing/local-cluster-fixture.js';

let cluster: LocalClusterFixture;
afterEach(async () => {
  await cluster.close();
});

async function grow(name: string, count: number, validateOnly = false) {
  const response = await cluster.request(ApiKey.CreatePartitions, 1, {
    topics: [{ name, count, assignments: null }],
    timeoutMs: 1000,
    validateOnly,
  });
  return response.results[0]!;
}

describe('CreatePartitions', () => {
  it('grows a topic; the new partitions are led here once answered', async () => {
    cluster = await LocalClusterFixture.start();
    await cluster.request(ApiKey.CreateTopics, 4, {
      topics: [{ name: 'growing', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 1000,
      validateOnly: false,
    });
    expect(await grow('growing', 3, true)).toMatchObject({ errorCode: 0, errorMessage: null });
    expect(cluster.image().topic('growing')!.partitions).toHaveLength(1);
    expect((await grow('growing', 3)).errorCode).toBe(ErrorCode.NONE);
    expect(cluster.image().topic('growing')!.partitions).toHaveLength(3);
    expect(cluster.replicaManager.partition('growing', 2)!.role).toBe('leader');
  });

  it('refuses shrinking, an unknown topic and assignments naming a broker that does not exist', async () => {
    cluster = await LocalClusterFixture.start();
    await cluster.request(ApiKey.CreateTopics, 4, {
      topics: [{ name: 't', numPartitions: 2, replicationFactor: 1, assignments: [], configs: [] }],
      timeoutMs: 1000,
      validateOnly: false,
    });
    expect((await grow('t', 2)).errorCode).toBe(ErrorCode.INVALID_PARTITIONS);
    expect((await grow('t', 1, true)).errorCode).toBe(ErrorCode.INVALID_PARTITIONS);
    expect((await grow('missing', 4)).errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    const manual = await cluster.request(ApiKey.CreatePartitions, 0, {
      topics: [{ name: 't', count: 3, assignments: [{ brokerIds: [5] }] }],
      timeoutMs: 1000,
      validateOnly: false,
    });
    expect(manual.results[0]).toMatchObject({
      errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT,
      errorMessage: 'The manual partition assignment includes broker 5, but no such broker is registered.',
    });
    expect(cluster.image().topic('t')!.partitions).toHaveLength(2);
    const placed = await cluster.request(ApiKey.CreatePartitions, 1, {
      topics: [{ name: 't', count: 3, assignments: [{ brokerIds: [1] }] }],
      timeoutMs: 1000,
      validateOnly: false,
    });
    expect(placed.results[0]!.errorCode).toBe(ErrorCode.NONE);
    expect(cluster.image().topic('t')!.partitions[2]!.replicas).toEqual([1]);
  });
});

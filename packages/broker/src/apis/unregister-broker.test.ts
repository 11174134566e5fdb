import { ApiKey, ErrorCode } from '@gregor/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { StandardAuthorizer } from '../security/authorizer.js';
import { userPrincipal } from '../security/kafka-principal.js';
import { LocalClusterFixture } from '../testing/local-cluster-fixture.js';

let cluster: LocalClusterFixture;
afterEach(async () => {
  await cluster.close();
});

describe('UnregisterBroker', () => {
  it('removes a fenced broker through the controller; an unknown id is BROKER_ID_NOT_REGISTERED', async () => {
    cluster = await LocalClusterFixture.start({ otherBrokerIds: [2, 3] });
    await cluster.heartbeat(3, { wantFence: true });
    expect(cluster.image().broker(3)?.fenced).toBe(true);
    const removed = await cluster.request(ApiKey.UnregisterBroker, 0, { brokerId: 3 });
    expect(removed).toEqual({ throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null });
    expect(cluster.image().broker(3)).toBeUndefined();
    const described = await cluster.request(ApiKey.DescribeCluster, 0, {
      includeClusterAuthorizedOperations: false,
    });
    expect(described.brokers.map((broker) => broker.brokerId)).toEqual([1, 2]);

    const again = await cluster.request(ApiKey.UnregisterBroker, 0, { brokerId: 3 });
    expect(again).toEqual({
      throttleTimeMs: 0,
      errorCode: ErrorCode.BROKER_ID_NOT_REGISTERED,
      errorMessage: 'Broker ID 3 is not currently registered',
    });
  });

  it('removes an active broker too, as Kafka does, after its leaderships move', async () => {
    cluster = await LocalClusterFixture.start({ otherBrokerIds: [2] });
    const created = await cluster.request(ApiKey.CreateTopics, 4, {
      topics: [
        {
          name: 'moved',
          numPartitions: -1,
          replicationFactor: -1,
          assignments: [{ partitionIndex: 0, brokerIds: [2, 1] }],
          configs: [],
        },
      ],
      timeoutMs: 1000,
      validateOnly: false,
    });
    expect(created.topics[0]!.errorCode).toBe(ErrorCode.NONE);
    expect(cluster.image().topic('moved')!.partitions[0]!.leader).toBe(2);
    const removed = await cluster.request(ApiKey.UnregisterBroker, 0, { brokerId: 2 });
    expect(removed.errorCode).toBe(ErrorCode.NONE);
    expect(cluster.image().broker(2)).toBeUndefined();
    // Its replica stays in the partition, offline; leadership and the ISR moved to broker 1.
    expect(cluster.image().topic('moved')!.partitions[0]).toMatchObject({
      replicas: [2, 1],
      leader: 1,
      isr: [1],
    });
  });

  it('needs ALTER on the cluster (CLUSTER_AUTHORIZATION_FAILED) and changes nothing without it', async () => {
    const authorizer = new StandardAuthorizer(
      { superUsers: new Set(['User:admin']), allowEveryoneIfNoAclFound: false },
      () => cluster.image().acls,
    );
    cluster = await LocalClusterFixture.start({ otherBrokerIds: [2], authorizer });
    cluster.actAs(userPrincipal('bob'));
    const refused = await cluster.request(ApiKey.UnregisterBroker, 0, { brokerId: 2 });
    expect(refused.errorCode).toBe(ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    expect(cluster.image().broker(2)).toBeDefined();
    cluster.actAs(userPrincipal('admin'));
    expect((await cluster.request(ApiKey.UnregisterBroker, 0, { brokerId: 2 })).errorCode).toBe(
      ErrorCode.NONE,
    );
  });
});

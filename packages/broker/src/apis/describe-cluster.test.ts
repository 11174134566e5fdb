import { ApiKey, authorizedOperationsOmitted, ErrorCode } from '@gregor/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { fixtureClusterId, LocalClusterFixture } from '../testing/local-cluster-fixture.js';

let cluster: LocalClusterFixture;
afterEach(async () => {
  await cluster.close();
});

describe('DescribeCluster', () => {
  it('lists the live brokers, the cluster id and a controller id among them', async () => {
    cluster = await LocalClusterFixture.start();
    for (const version of [0, 1]) {
      const response = await cluster.request(ApiKey.DescribeCluster, version, {
        includeClusterAuthorizedOperations: true,
        endpointType: 1,
      });
      expect(response).toMatchObject({
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        clusterId: fixtureClusterId,
        controllerId: 1,
        brokers: [{ brokerId: 1, host: 'localhost', port: 9001, rack: null }],
        // Without an authorizer every cluster operation Kafka lists: CREATE (5), ALTER (7),
        // DESCRIBE (8), CLUSTER_ACTION (9), DESCRIBE_CONFIGS (10), ALTER_CONFIGS (11),
        // IDEMPOTENT_WRITE (12).
        clusterAuthorizedOperations: 0b1_1111_1010_0000,
      });
    }
  });

  it('v2 lists fenced brokers marked is_fenced when asked, and only then', async () => {
    cluster = await LocalClusterFixture.start({ otherBrokerIds: [2, 3] });
    await cluster.heartbeat(3, { wantFence: true });
    const ask = (version: number, includeFencedBrokers: boolean) =>
      cluster.request(ApiKey.DescribeCluster, version, {
        includeClusterAuthorizedOperations: false,
        endpointType: 1,
        ...(includeFencedBrokers ? { includeFencedBrokers } : {}),
      });
    const withFenced = await ask(2, true);
    expect(withFenced.errorCode).toBe(ErrorCode.NONE);
    expect(withFenced.brokers.map((broker) => [broker.brokerId, broker.isFenced])).toEqual([
      [1, false],
      [2, false],
      [3, true],
    ]);
    expect((await ask(2, false)).brokers.map((broker) => broker.brokerId)).toEqual([1, 2]);
    // v1 has no such flag: live brokers only.
    expect((await ask(1, false)).brokers.map((broker) => broker.brokerId)).toEqual([1, 2]);
  });

  it('refuses to describe controllers (this is a broker endpoint) and unknown endpoint types', async () => {
    cluster = await LocalClusterFixture.start();
    const controllers = await cluster.request(ApiKey.DescribeCluster, 1, {
      includeClusterAuthorizedOperations: true,
      endpointType: 2,
    });
    expect(controllers).toMatchObject({
      errorCode: ErrorCode.MISMATCHED_ENDPOINT_TYPE,
      brokers: [],
      clusterAuthorizedOperations: authorizedOperationsOmitted,
    });
    const unknown = await cluster.request(ApiKey.DescribeCluster, 1, {
      includeClusterAuthorizedOperations: false,
      endpointType: 7,
    });
    expect(unknown.errorCode).toBe(ErrorCode.UNSUPPORTED_ENDPOINT_TYPE);
  });
});

import { AclPatternType, AclPermissionType, clusterResourceName } from '@gregor/metadata';
import { ApiKey, ErrorCode, listedConfigResourceType as type } from '@gregor/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { StandardAuthorizer } from '../security/authorizer.js';
import { userPrincipal } from '../security/kafka-principal.js';
import { LocalClusterFixture } from '../testing/local-cluster-fixture.js';
import { AclOperation, AclResourceType } from './authorization.js';

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

describe('ListConfigResources', () => {
  it('v1 without types lists broker loggers, brokers and topics (no group or client metrics resources)', async () => {
    cluster = await LocalClusterFixture.start({ otherBrokerIds: [2] });
    await createTopic('beta');
    await createTopic('alpha');
    const all = await cluster.request(ApiKey.ListConfigResources, 1, { resourceTypes: [] });
    expect(all).toEqual({
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      configResources: [
        { resourceName: '1', resourceType: type.brokerLogger },
        { resourceName: '2', resourceType: type.brokerLogger },
        { resourceName: '1', resourceType: type.broker },
        { resourceName: '2', resourceType: type.broker },
        { resourceName: 'alpha', resourceType: type.topic },
        { resourceName: 'beta', resourceType: type.topic },
      ],
    });
    const topics = await cluster.request(ApiKey.ListConfigResources, 1, {
      resourceTypes: [type.topic, type.group],
    });
    expect(topics.configResources.map((resource) => resource.resourceName)).toEqual(['alpha', 'beta']);
  });

  it('v0 (ListClientMetricsResources) lists client metrics resources only: none', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('alpha');
    expect(await cluster.request(ApiKey.ListConfigResources, 0, {})).toEqual({
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      configResources: [],
    });
  });

  it('answers a type it does not list with UNSUPPORTED_VERSION and nothing else', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('alpha');
    const unknown = await cluster.request(ApiKey.ListConfigResources, 1, { resourceTypes: [type.topic, 3] });
    expect(unknown).toEqual({
      throttleTimeMs: 0,
      errorCode: ErrorCode.UNSUPPORTED_VERSION,
      configResources: [],
    });
  });

  it('needs DESCRIBE_CONFIGS on the cluster (CLUSTER_AUTHORIZATION_FAILED)', async () => {
    const authorizer = new StandardAuthorizer(
      { superUsers: new Set(['User:admin']), allowEveryoneIfNoAclFound: false },
      () => cluster.image().acls,
    );
    cluster = await LocalClusterFixture.start({ authorizer });
    cluster.actAs(userPrincipal('bob'));
    const refused = await cluster.request(ApiKey.ListConfigResources, 1, { resourceTypes: [] });
    expect(refused).toEqual({
      throttleTimeMs: 0,
      errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
      configResources: [],
    });
    cluster.actAs(userPrincipal('admin'));
    const granted = await cluster.createAcls(
      [
        {
          resourceType: AclResourceType.CLUSTER,
          resourceName: clusterResourceName,
          patternType: AclPatternType.LITERAL,
          principal: 'User:bob',
          host: '*',
          operation: AclOperation.DESCRIBE_CONFIGS,
          permissionType: AclPermissionType.ALLOW,
        },
      ],
      { timeoutMs: 1000 },
    );
    expect('errorCode' in granted).toBe(false);
    cluster.actAs(userPrincipal('bob'));
    const allowed = await cluster.request(ApiKey.ListConfigResources, 1, { resourceTypes: [type.broker] });
    expect(allowed).toMatchObject({
      errorCode: ErrorCode.NONE,
      configResources: [{ resourceName: '1', resourceType: type.broker }],
    });
  });
});

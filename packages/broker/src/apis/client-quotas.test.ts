import { ApiKey, ErrorCode } from '@gregor/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { StandardAuthorizer } from '../security/authorizer.js';
import { LocalClusterFixture } from '../testing/local-cluster-fixture.js';

let cluster: LocalClusterFixture;
afterEach(async () => {
  await cluster.close();
});

type Entity = { entityType: string; entityName: string | null }[];
type Op = { key: string; value: number; remove: boolean };

async function alter(entries: { entity: Entity; ops: Op[] }[], validateOnly = false, version = 1) {
  const response = await cluster.request(ApiKey.AlterClientQuotas, version, { entries, validateOnly });
  return response.entries;
}

async function describeAll(
  components: { entityType: string; matchType: number; match: string | null }[] = [],
) {
  return cluster.request(ApiKey.DescribeClientQuotas, 1, { components, strict: false });
}

const set = (key: string, value: number): Op => ({ key, value, remove: false });
const remove = (key: string): Op => ({ key, value: 0, remove: true });

describe('AlterClientQuotas and DescribeClientQuotas', () => {
  it('stores quotas per entity, describes them by filter, and removes them', async () => {
    cluster = await LocalClusterFixture.start();
    const appOfAlice: Entity = [
      { entityType: 'user', entityName: 'alice' },
      { entityType: 'client-id', entityName: 'app' },
    ];
    const defaultClient: Entity = [{ entityType: 'client-id', entityName: null }];
    const results = await alter([
      { entity: appOfAlice, ops: [set('producer_byte_rate', 1024), set('consumer_byte_rate', 2048)] },
      { entity: defaultClient, ops: [set('producer_byte_rate', 512)] },
    ]);
    expect(results).toEqual([
      { errorCode: ErrorCode.NONE, errorMessage: null, entity: appOfAlice },
      { errorCode: ErrorCode.NONE, errorMessage: null, entity: defaultClient },
    ]);

    const all = await describeAll();
    expect(all.errorCode).toBe(ErrorCode.NONE);
    expect(all.entries).toHaveLength(2);
    const alice = await describeAll([{ entityType: 'user', matchType: 0, match: 'alice' }]);
    expect(alice.entries).toEqual([
      {
        entity: appOfAlice,
        values: [
          { key: 'producer_byte_rate', value: 1024 },
          { key: 'consumer_byte_rate', value: 2048 },
        ],
      },
    ]);
    const defaults = await cluster.request(ApiKey.DescribeClientQuotas, 0, {
      components: [{ entityType: 'client-id', matchType: 1, match: null }],
      strict: true,
    });
    expect(defaults.entries).toEqual([
      { entity: defaultClient, values: [{ key: 'producer_byte_rate', value: 512 }] },
    ]);

    await alter(
      [{ entity: appOfAlice, ops: [remove('producer_byte_rate'), remove('consumer_byte_rate')] }],
      false,
      0,
    );
    expect((await describeAll([{ entityType: 'user', matchType: 2, match: null }])).entries).toEqual([]);
  });

  it('refuses unknown keys, bad entities and a non-address ip with INVALID_REQUEST, and honours validateOnly', async () => {
    cluster = await LocalClusterFixture.start();
    const results = await alter(
      [
        { entity: [{ entityType: 'user', entityName: 'u' }], ops: [set('retention.ms', 1)] },
        { entity: [{ entityType: 'group', entityName: 'g' }], ops: [set('producer_byte_rate', 1)] },
        {
          entity: [{ entityType: 'ip', entityName: 'not-an-ip' }],
          ops: [set('connection_creation_rate', 1)],
        },
        { entity: [{ entityType: 'ip', entityName: '10.1.2.3' }], ops: [set('connection_creation_rate', 5)] },
        { entity: [{ entityType: 'user', entityName: 'u' }], ops: [set('request_percentage', 50)] },
        { entity: [{ entityType: 'user', entityName: 'u' }], ops: [set('producer_byte_rate', 5)] },
      ],
      true,
    );
    expect(results.map((result) => result.errorCode)).toEqual([
      ErrorCode.INVALID_REQUEST,
      ErrorCode.INVALID_REQUEST,
      ErrorCode.INVALID_REQUEST,
      // request_percentage and an ip's connection_creation_rate are enforced, so accepted.
      ErrorCode.NONE,
      ErrorCode.NONE,
      ErrorCode.NONE,
    ]);
    expect(results[0]!.errorMessage).toContain('retention.ms');
    // validateOnly: the valid entry was checked, not stored.
    expect((await describeAll()).entries).toEqual([]);

    const badFilter = await describeAll([{ entityType: 'topic', matchType: 0, match: 't' }]);
    expect(badFilter.errorCode).toBe(ErrorCode.INVALID_REQUEST);
    expect(badFilter.entries).toBeNull();
  });

  it('needs ALTER_CONFIGS and DESCRIBE_CONFIGS on the cluster when ACLs are on', async () => {
    const denyAll = new StandardAuthorizer(
      { superUsers: new Set(), allowEveryoneIfNoAclFound: false },
      () => new Map(),
    );
    cluster = await LocalClusterFixture.start({ authorizer: denyAll });
    const entity: Entity = [{ entityType: 'user', entityName: 'alice' }];
    expect(await alter([{ entity, ops: [set('producer_byte_rate', 1)] }])).toEqual([
      {
        errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
        errorMessage: 'Cluster authorization failed.',
        entity,
      },
    ]);
    const described = await describeAll();
    expect(described.errorCode).toBe(ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    expect(described.entries).toBeNull();
    expect(cluster.image().clientQuotas.size).toBe(0);
  });
});

// The four delegation token APIs (KIP-48) against one broker: who may ask, the owner, requester and
// renewer rules, the ACLs of KIP-373, the lifetimes, and the HMAC Kafka derives from the token id.

import { createHmac } from 'node:crypto';
import { type AclBinding, AclPatternType, AclPermissionType } from '@gregor/metadata';
import { ApiKey, ErrorCode } from '@gregor/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { StandardAuthorizer } from '../security/authorizer.js';
import { type KafkaPrincipal, userPrincipal } from '../security/kafka-principal.js';
import { LocalClusterFixture } from '../testing/local-cluster-fixture.js';
import { AclOperation, AclResourceType } from './authorization.js';

const secretKey = 'the-shared-secret';
const dayMs = 24 * 60 * 60 * 1000;
const alice = userPrincipal('alice');
const bob = userPrincipal('bob');
const mallory = userPrincipal('mallory');

let cluster: LocalClusterFixture;

afterEach(async () => {
  await cluster?.close();
});

async function start(options: { secret?: string; authorizer?: boolean } = {}): Promise<void> {
  const authorizer = new StandardAuthorizer(
    { superUsers: new Set(['User:admin']), allowEveryoneIfNoAclFound: false },
    () => cluster.image().acls,
  );
  cluster = await LocalClusterFixture.start({
    settings: { delegationTokenSecretKey: options.secret ?? secretKey },
    ...(options.authorizer === true ? { authorizer } : {}),
  });
}

async function grantBob(resourceType: number, resourceName: string, operation: number): Promise<void> {
  const binding: AclBinding = {
    resourceType,
    resourceName,
    patternType: AclPatternType.LITERAL,
    principal: 'User:bob',
    host: '*',
    operation,
    permissionType: AclPermissionType.ALLOW,
  };
  const outcome = await cluster.createAcls([binding], { timeoutMs: 1000 });
  if ('errorCode' in outcome) throw new Error(outcome.errorMessage);
  expect(outcome.results[0]?.errorCode).toBe(ErrorCode.NONE);
}

const hmacOf = (tokenId: string) => createHmac('sha512', Buffer.from(secretKey)).update(tokenId).digest();

async function create(
  as: KafkaPrincipal,
  options: { owner?: string; renewers?: string[]; maxLifetimeMs?: number; version?: number } = {},
) {
  cluster.actAs(as);
  return cluster.request(ApiKey.CreateDelegationToken, options.version ?? 3, {
    ownerPrincipalType: options.owner === undefined ? null : 'User',
    ownerPrincipalName: options.owner ?? null,
    renewers: (options.renewers ?? []).map((name) => ({ principalType: 'User', principalName: name })),
    maxLifetimeMs: options.maxLifetimeMs ?? -1,
  });
}

async function describeAs(as: KafkaPrincipal, owners: string[] | null = null) {
  cluster.actAs(as);
  const response = await cluster.request(ApiKey.DescribeDelegationToken, 3, {
    owners: owners?.map((name) => ({ principalType: 'User', principalName: name })) ?? null,
  });
  expect(response.errorCode).toBe(ErrorCode.NONE);
  return response.tokens.map((token) => token.tokenId);
}

async function renew(as: KafkaPrincipal, hmac: Buffer, renewPeriodMs: number) {
  cluster.actAs(as);
  return cluster.request(ApiKey.RenewDelegationToken, 2, { hmac, renewPeriodMs });
}

async function expire(as: KafkaPrincipal, hmac: Buffer, expiryTimePeriodMs: number) {
  cluster.actAs(as);
  return cluster.request(ApiKey.ExpireDelegationToken, 2, { hmac, expiryTimePeriodMs });
}

describe('delegation token APIs', () => {
  it('answer DELEGATION_TOKEN_REQUEST_NOT_ALLOWED on PLAINTEXT and token-authenticated connections, then AUTH_DISABLED without a secret key', async () => {
    await start({ secret: '' });
    const every = async () => {
      const body = { hmac: Buffer.from('x'), renewPeriodMs: 1, expiryTimePeriodMs: 1 };
      return [
        (await cluster.request(ApiKey.CreateDelegationToken, 3, { renewers: [], maxLifetimeMs: -1 }))
          .errorCode,
        (await cluster.request(ApiKey.RenewDelegationToken, 2, body)).errorCode,
        (await cluster.request(ApiKey.ExpireDelegationToken, 2, body)).errorCode,
        (await cluster.request(ApiKey.DescribeDelegationToken, 3, { owners: null })).errorCode,
      ];
    };
    cluster.actAs(undefined);
    expect(await every()).toEqual(Array(4).fill(ErrorCode.DELEGATION_TOKEN_REQUEST_NOT_ALLOWED));
    cluster.actAs({ ...alice, tokenAuthenticated: true });
    expect(await every()).toEqual(Array(4).fill(ErrorCode.DELEGATION_TOKEN_REQUEST_NOT_ALLOWED));
    cluster.actAs(alice);
    expect(await every()).toEqual(Array(4).fill(ErrorCode.DELEGATION_TOKEN_AUTH_DISABLED));
  });

  it("creates a token owned by the requester, with Kafka's HMAC and default lifetimes, at v1 and v3", async () => {
    await start();
    const nowMs = cluster.clock.nowMs();
    const created = await create(alice, { renewers: ['bob'] });
    expect(created).toMatchObject({
      errorCode: ErrorCode.NONE,
      principalType: 'User',
      principalName: 'alice',
      tokenRequesterPrincipalType: 'User',
      tokenRequesterPrincipalName: 'alice',
      issueTimestampMs: BigInt(nowMs),
      expiryTimestampMs: BigInt(nowMs + dayMs),
      maxTimestampMs: BigInt(nowMs + 7 * dayMs),
    });
    expect(created.tokenId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(Buffer.from(created.hmac)).toEqual(hmacOf(created.tokenId));
    // v1 has no owner or requester fields: the token is the requester's. A short lifetime caps both times.
    const short = await create(bob, { version: 1, maxLifetimeMs: 60_000 });
    expect(short).toMatchObject({ errorCode: ErrorCode.NONE, principalName: 'bob' });
    expect(short.maxTimestampMs).toBe(BigInt(nowMs + 60_000));
    expect(short.expiryTimestampMs).toBe(BigInt(nowMs + 60_000));
    expect(short.tokenId).not.toBe(created.tokenId);
    expect(cluster.image().delegationTokens.get(created.tokenId)).toMatchObject({
      owner: 'User:alice',
      requester: 'User:alice',
      renewers: ['User:bob'],
    });
  });

  it('refuses a token for another owner without CreateTokens on that user, and renewers that are not users', async () => {
    await start({ authorizer: true });
    expect((await create(bob, { owner: 'alice' })).errorCode).toBe(
      ErrorCode.DELEGATION_TOKEN_AUTHORIZATION_FAILED,
    );
    expect(cluster.image().delegationTokens.size).toBe(0);
    await grantBob(AclResourceType.USER, 'User:alice', AclOperation.CREATE_TOKENS);
    const created = await create(bob, { owner: 'alice' });
    expect(created).toMatchObject({
      errorCode: ErrorCode.NONE,
      principalName: 'alice',
      tokenRequesterPrincipalName: 'bob',
    });
    cluster.actAs(alice);
    const groupRenewer = await cluster.request(ApiKey.CreateDelegationToken, 3, {
      renewers: [{ principalType: 'Group', principalName: 'ops' }],
      maxLifetimeMs: -1,
    });
    expect(groupRenewer.errorCode).toBe(ErrorCode.INVALID_PRINCIPAL_TYPE);
  });

  it('describes tokens to their owner, requester and renewers, to holders of DescribeTokens, and by owner', async () => {
    await start({ authorizer: true });
    const forAlice = (await create(alice, { renewers: ['bob'] })).tokenId;
    const aliceOnly = (await create(alice)).tokenId;
    expect((await describeAs(alice)).sort()).toEqual([forAlice, aliceOnly].sort());
    expect(await describeAs(bob)).toEqual([forAlice]);
    expect(await describeAs(mallory)).toEqual([]);
    expect(await describeAs(alice, [])).toEqual([]);
    expect(await describeAs(alice, ['bob'])).toEqual([forAlice]);
    await grantBob(AclResourceType.USER, 'User:alice', AclOperation.DESCRIBE_TOKENS);
    expect((await describeAs(bob)).sort()).toEqual([forAlice, aliceOnly].sort());
    cluster.actAs(alice);
    const described = await cluster.request(ApiKey.DescribeDelegationToken, 3, {
      owners: [{ principalType: 'User', principalName: 'alice' }],
    });
    const token = described.tokens.find((one) => one.tokenId === forAlice)!;
    expect(Buffer.from(token.hmac)).toEqual(hmacOf(forAlice));
    expect(token.renewers).toEqual([{ principalType: 'User', principalName: 'bob' }]);
    expect(token.tokenRequesterPrincipalName).toBe('alice');
    // v1 has no requester fields and lists the same tokens.
    const v1 = await cluster.request(ApiKey.DescribeDelegationToken, 1, { owners: null });
    expect(v1.tokens.map((one) => one.tokenId).sort()).toEqual([forAlice, aliceOnly].sort());
  });

  it('renews for the owner and renewers only, never past the maximum; expires later or at once', async () => {
    await start();
    const created = await create(alice, { renewers: ['bob'], maxLifetimeMs: 10 * dayMs });
    const hmac = Buffer.from(created.hmac);
    const nowMs = cluster.clock.nowMs();
    expect((await renew(mallory, hmac, 1000)).errorCode).toBe(ErrorCode.DELEGATION_TOKEN_OWNER_MISMATCH);
    expect((await renew(alice, Buffer.from('not a token'), 1000)).errorCode).toBe(
      ErrorCode.DELEGATION_TOKEN_NOT_FOUND,
    );
    expect(await renew(bob, hmac, 2 * dayMs)).toMatchObject({
      errorCode: ErrorCode.NONE,
      expiryTimestampMs: BigInt(nowMs + 2 * dayMs),
    });
    expect((await renew(alice, hmac, 30 * dayMs)).expiryTimestampMs).toBe(BigInt(nowMs + 7 * dayMs));
    expect(await expire(alice, hmac, 1000)).toMatchObject({
      errorCode: ErrorCode.NONE,
      expiryTimestampMs: BigInt(nowMs + 1000),
    });
    cluster.advanceMs(1001);
    expect((await renew(alice, hmac, 1000)).errorCode).toBe(ErrorCode.DELEGATION_TOKEN_EXPIRED);
    expect((await expire(alice, hmac, -1)).errorCode).toBe(ErrorCode.DELEGATION_TOKEN_EXPIRED);

    const second = Buffer.from((await create(alice)).hmac);
    expect((await expire(bob, second, -1)).errorCode).toBe(ErrorCode.DELEGATION_TOKEN_OWNER_MISMATCH);
    expect(await expire(alice, second, -1)).toMatchObject({
      errorCode: ErrorCode.NONE,
      expiryTimestampMs: BigInt(cluster.clock.nowMs()),
    });
    expect(cluster.image().delegationTokens.size).toBe(1);
    expect((await renew(alice, second, 1000)).errorCode).toBe(ErrorCode.DELEGATION_TOKEN_NOT_FOUND);
  });
});

// Delegation tokens (KIP-48) on a real broker process with Kafka's keys: delegation.token.secret.key
// enables them, and a short delegation.token.expiry.check.interval.ms lets the removal of an expired
// token be seen. alice, a SCRAM user, connects with @platformatic/kafka over SASL_PLAINTEXT and
// creates (with bob as renewer), describes, renews and expires tokens with its admin APIs. Gregor's
// own client authenticates with the token (SCRAM-SHA-256 and -512 with tokenauth=true, as Java's
// ScramLoginModule option) and produces as alice; once the token is expired, authentication fails.
// `gregor delegation-tokens` (kafka-delegation-tokens.sh's flags) creates and expires one as alice.
// With the StandardAuthorizer, bob sees only the tokens he renews until `gregor acls` grants him
// DescribeTokens on User:alice (KIP-373).

import { execFileSync } from 'node:child_process';
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka } from '@gregor/client';
import { waitFor } from '@gregor/ground/testing';
import {
  alterUserScramCredentialsV0,
  Connection,
  createDelegationTokenV3,
  describeDelegationTokenV3,
  expireDelegationTokenV2,
  renewDelegationTokenV2,
} from '@platformatic/kafka';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath, ProcessCluster } from '../testing/process-cluster.js';

const scramSha512 = 2;
const dayMs = 24 * 60 * 60 * 1000;

let cluster: ProcessCluster;
let alice: Connection;

const port = (listener: string) => cluster.node(1).listenerPorts[listener]!;

beforeAll(async () => {
  cluster = await ProcessCluster.start({
    nodeCount: 1,
    properties: {
      listeners: 'PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0',
      'listener.security.protocol.map':
        'PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT',
      'listener.name.sasl_plaintext.sasl.enabled.mechanisms': 'SCRAM-SHA-256,SCRAM-SHA-512',
      'delegation.token.secret.key': 'it-secret-key',
      'delegation.token.expiry.check.interval.ms': '500',
      'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
      // The PLAINTEXT listener is the tests' admin; alice may do anything, bob only what he is granted.
      'super.users': 'User:ANONYMOUS;User:alice',
      'allow.everyone.if.no.acl.found': 'false',
      'gregor.metrics.port': '0',
    },
  });
  const admin = new Connection('dt-admin');
  await admin.connect('127.0.0.1', port('PLAINTEXT'));
  try {
    const salt = randomBytes(24);
    const stored = await alterUserScramCredentialsV0.api.async(
      admin,
      [],
      ['alice', 'bob'].map((name) => ({
        name,
        mechanism: scramSha512,
        iterations: 4096,
        salt,
        saltedPassword: pbkdf2Sync(`${name}-secret`, salt, 4096, 64, 'sha512'),
      })),
    );
    expect(stored.results.map((result) => result.errorCode)).toEqual([0, 0]);
  } finally {
    await admin.close();
  }
  alice = new Connection('dt-alice', {
    sasl: { mechanism: 'SCRAM-SHA-512', username: 'alice', password: 'alice-secret' },
  });
  await alice.connect('127.0.0.1', port('SASL_PLAINTEXT'));
});

afterAll(async () => {
  await alice?.close();
  await cluster?.close();
});

/** Produces one record as the token's owner; the error's message if that fails. */
async function produceWithToken(
  mechanism: 'scram-sha-256' | 'scram-sha-512',
  tokenId: string,
  hmac: Buffer,
): Promise<string> {
  const kafka = new Kafka({
    clientId: 'dt-token-client',
    brokers: [`127.0.0.1:${port('SASL_PLAINTEXT')}`],
    sasl: { mechanism, username: tokenId, password: hmac.toString('base64'), tokenAuth: true },
    retry: { retries: 0 },
  });
  const producer = kafka.producer();
  try {
    await producer.connect();
    const [sent] = await producer.send({ topic: 'dt-topic', acks: -1, messages: [{ value: mechanism }] });
    return `produced at ${sent?.baseOffset}`;
  } catch (error) {
    return (error as Error).message;
  } finally {
    await producer.disconnect();
  }
}

describe('delegation tokens', () => {
  it('are created, described and renewed by @platformatic/kafka, authenticate the Gregor client, and fail once expired', async () => {
    const created = await createDelegationTokenV3.api.async(
      alice,
      null,
      null,
      [{ principalType: 'User', principalName: 'bob' }],
      -1n,
    );
    expect(created).toMatchObject({
      errorCode: 0,
      principalType: 'User',
      principalName: 'alice',
      tokenRequesterPrincipalName: 'alice',
    });
    expect(created.expiryTimestampMs - created.issueTimestampMs).toBe(BigInt(dayMs));
    expect(created.maxTimestampMs - created.issueTimestampMs).toBe(BigInt(7 * dayMs));
    const hmac = Buffer.from(created.hmac);

    const described = await describeDelegationTokenV3.api.async(alice, [
      { principalType: 'User', principalName: 'alice' },
    ]);
    expect(described.tokens).toEqual([
      expect.objectContaining({
        tokenId: created.tokenId,
        principalName: 'alice',
        renewers: [{ principalType: 'User', principalName: 'bob' }],
        expiryTimestamp: created.expiryTimestampMs,
      }),
    ]);
    expect(Buffer.from(described.tokens[0]!.hmac)).toEqual(hmac);

    const renewed = await renewDelegationTokenV2.api.async(alice, hmac, BigInt(2 * dayMs));
    expect(renewed.expiryTimestampMs).toBeGreaterThan(created.expiryTimestampMs);

    expect(await produceWithToken('scram-sha-256', created.tokenId, hmac)).toMatch(/^produced at \d+$/);
    expect(await produceWithToken('scram-sha-512', created.tokenId, hmac)).toMatch(/^produced at \d+$/);
    expect(await produceWithToken('scram-sha-512', created.tokenId, randomBytes(64))).toMatch(
      /SASL_AUTHENTICATION_FAILED|authentication/i,
    );

    const expired = await expireDelegationTokenV2.api.async(alice, hmac, -1n);
    expect(expired.errorCode).toBe(0);
    expect(await produceWithToken('scram-sha-256', created.tokenId, hmac)).toMatch(
      /SASL_AUTHENTICATION_FAILED|authentication/i,
    );
    const afterExpiry = await describeDelegationTokenV3.api.async(alice, [
      { principalType: 'User', principalName: 'alice' },
    ]);
    expect(afterExpiry.tokens).toEqual([]);
  });

  it('gregor delegation-tokens creates, describes and expires a token as alice (--command-config)', async () => {
    const config = join(cluster.rootDir, 'alice.properties');
    writeFileSync(
      config,
      'security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-512\nsasl.jaas.config=' +
        'org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="alice-secret";\n',
    );
    const gregor = (...args: string[]) =>
      execFileSync(
        process.execPath,
        [
          cliPath,
          'delegation-tokens',
          '--bootstrap-server',
          `127.0.0.1:${port('SASL_PLAINTEXT')}`,
          '--command-config',
          config,
          ...args,
        ],
        { encoding: 'utf8', timeout: 30_000 },
      );
    const created = gregor('--create', '--max-life-time-period', '-1', '--renewer-principal', 'User:bob');
    const tokenId = /Created delegation token with tokenId : (\S+)/.exec(created)?.[1];
    expect(tokenId, created).toBeDefined();
    const row = created.split('\n').find((line) => line.startsWith(`${tokenId} `))!;
    expect(row.split(/\s+/).slice(2, 5)).toEqual(['User:alice', 'User:alice', '[User:bob]']);
    const hmac = row.split(/\s+/)[1]!;
    expect(gregor('--describe', '--owner-principal', 'User:alice')).toContain(`${tokenId} ${hmac}`);
    expect(gregor('--expire', '--hmac', hmac, '--expiry-time-period', '-1')).toContain(
      'Completed expire operation. New expiry date : ',
    );
    const described = await describeDelegationTokenV3.api.async(alice, [
      { principalType: 'User', principalName: 'alice' },
    ]);
    expect(described.tokens.map((token) => token.tokenId)).not.toContain(tokenId);
  });

  it('bob describes only the tokens he renews until gregor acls grants him DescribeTokens on User:alice', async () => {
    const renewedByBob = await createDelegationTokenV3.api.async(
      alice,
      null,
      null,
      [{ principalType: 'User', principalName: 'bob' }],
      -1n,
    );
    const aliceOnly = await createDelegationTokenV3.api.async(alice, null, null, [], -1n);
    const bob = new Connection('dt-bob', {
      sasl: { mechanism: 'SCRAM-SHA-512', username: 'bob', password: 'bob-secret' },
    });
    await bob.connect('127.0.0.1', port('SASL_PLAINTEXT'));
    try {
      const visible = async () =>
        (
          await describeDelegationTokenV3.api.async(bob, [{ principalType: 'User', principalName: 'alice' }])
        ).tokens
          .map((token) => token.tokenId)
          .filter((tokenId) => tokenId === renewedByBob.tokenId || tokenId === aliceOnly.tokenId);
      expect(await visible()).toEqual([renewedByBob.tokenId]);
      const granted = execFileSync(
        process.execPath,
        [
          cliPath,
          'acls',
          '--bootstrap-server',
          `127.0.0.1:${port('PLAINTEXT')}`,
          '--add',
          '--allow-principal',
          'User:bob',
          '--operation',
          'DescribeTokens',
          '--user-principal',
          'User:alice',
        ],
        { encoding: 'utf8', timeout: 30_000 },
      );
      expect(granted).toContain('resourceType=USER, name=User:alice');
      expect(granted).toContain('operation=DESCRIBE_TOKENS');
      expect((await visible()).sort()).toEqual([renewedByBob.tokenId, aliceOnly.tokenId].sort());
    } finally {
      await bob.close();
    }
  });

  it('an expiry period of 0 ends the token now, and the controller removes it at a later check', async () => {
    const created = await createDelegationTokenV3.api.async(alice, null, null, [], -1n);
    const hmac = Buffer.from(created.hmac);
    const expired = await expireDelegationTokenV2.api.async(alice, hmac, 0n);
    expect(expired.expiryTimestampMs).toBeLessThan(created.expiryTimestampMs);
    await waitFor(
      'the expired token to be removed',
      async () => {
        const described = await describeDelegationTokenV3.api.async(alice, [
          { principalType: 'User', principalName: 'alice' },
        ]);
        return described.tokens.every((token) => token.tokenId !== created.tokenId);
      },
      { timeoutMs: 10_000, intervalMs: 200, detail: () => cluster.tail() },
    );
  });
});

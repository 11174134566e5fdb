import { createHash, createHmac, randomBytes } from 'node:crypto';
import { applyRecord, clusterSecretBytes, type DelegationTokenRecord, MetadataImage } from '@gregor/metadata';
import { describe, expect, it } from 'vitest';
import { delegationTokenCredential, delegationTokenHmac } from './delegation-tokens.js';
import { parseJaasConfig, plainUsers } from './jaas-config.js';
import { SaslAuthenticator } from './sasl-authenticator.js';
import { PlainExchange } from './sasl-plain.js';
import {
  ScramExchange,
  type ScramMechanism,
  scramCredential,
  scramMechanismNamed,
  scramSaltedPassword,
} from './scram.js';

describe('JAAS config', () => {
  it("reads a PlainLoginModule's users as Kafka's PLAIN server does", () => {
    const entry = parseJaasConfig(
      'org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" ' +
        'password="admin-secret" user_admin="admin-secret" user_alice="a\\"b;c";',
    );
    expect(entry.loginModule).toBe('org.apache.kafka.common.security.plain.PlainLoginModule');
    expect([...plainUsers(entry)]).toEqual([
      ['admin', 'admin-secret'],
      ['alice', 'a"b;c'],
    ]);
    expect(() => parseJaasConfig('Module required user_a="x"')).toThrow(/semicolon/);
    expect(() => parseJaasConfig('Module always user_a="x";')).toThrow(/control flag/);
  });
});

describe('SASL/PLAIN', () => {
  const users = new Map([['alice', 'alice-secret']]);
  const token = (text: string) => Buffer.from(text, 'utf8');

  it('accepts the right password, and refuses a wrong one and an unknown user alike', () => {
    expect(new PlainExchange(users).step(token('\u0000alice\u0000alice-secret'))).toMatchObject({
      kind: 'done',
      user: 'alice',
    });
    expect(new PlainExchange(users).step(token('alice\u0000alice\u0000alice-secret'))).toMatchObject({
      kind: 'done',
    });
    const wrong = new PlainExchange(users).step(token('\u0000alice\u0000nope'));
    const unknown = new PlainExchange(users).step(token('\u0000mallory\u0000nope'));
    expect(wrong).toEqual({ kind: 'failed', reason: 'invalid credentials', user: 'alice' });
    expect(unknown).toEqual({ kind: 'failed', reason: 'invalid credentials', user: 'mallory' });
    expect(new PlainExchange(users).step(token('bob\u0000alice\u0000alice-secret'))).toMatchObject({
      kind: 'failed',
      reason: 'authorization id differs from the user name',
    });
    expect(new PlainExchange(users).step(token('garbage'))).toMatchObject({ kind: 'failed' });
  });
});

/** An RFC 5802 client, written from the RFC, to drive the server. */
function scramClient(mechanism: ScramMechanism, user: string, password: string, extensions = '') {
  const clientNonce = randomBytes(18).toString('base64');
  const clientFirstBare = `n=${user.replace(/=/g, '=3D').replace(/,/g, '=2C')},r=${clientNonce}${extensions}`;
  return {
    first: Buffer.from(`n,,${clientFirstBare}`),
    /** `nonceSent`: what goes in r= (librdkafka sends its nonce again in front of the server's). */
    final(
      serverFirst: Buffer,
      nonceSent?: (serverNonce: string) => string,
    ): { message: Buffer; serverSignature: string } {
      const fields = Object.fromEntries(
        serverFirst
          .toString()
          .split(',')
          .map((field) => [field[0]!, field.slice(2)]),
      ) as Record<string, string>;
      expect(fields.r!.startsWith(clientNonce)).toBe(true);
      const salted = scramSaltedPassword(
        mechanism,
        password,
        Buffer.from(fields.s!, 'base64'),
        Number(fields.i),
      );
      const clientKey = createHmac(mechanism.hash, salted).update('Client Key').digest();
      const storedKey = createHash(mechanism.hash).update(clientKey).digest();
      const withoutProof = `c=${Buffer.from('n,,').toString('base64')},r=${nonceSent?.(fields.r!) ?? fields.r}`;
      const authMessage = `${clientFirstBare},${serverFirst.toString()},${withoutProof}`;
      const signature = createHmac(mechanism.hash, storedKey).update(authMessage).digest();
      const proof = Buffer.from(clientKey.map((byte, index) => byte ^ signature[index]!));
      const serverKey = createHmac(mechanism.hash, salted).update('Server Key').digest();
      return {
        message: Buffer.from(`${withoutProof},p=${proof.toString('base64')}`),
        serverSignature: createHmac(mechanism.hash, serverKey).update(authMessage).digest('base64'),
      };
    },
  };
}

describe.each(['SCRAM-SHA-256', 'SCRAM-SHA-512'])('%s', (name) => {
  const mechanism = scramMechanismNamed(name)!;
  const salt = randomBytes(16);
  const stored = scramCredential(
    mechanism,
    salt,
    scramSaltedPassword(mechanism, 'alice-secret', salt, 4096),
    4096,
  );
  const secret = randomBytes(32);
  const server = () =>
    new ScramExchange(mechanism, (user) => (user === 'alice' ? stored : undefined), secret);

  it('authenticates the right password and proves the server to the client', () => {
    const exchange = server();
    const client = scramClient(mechanism, 'alice', 'alice-secret');
    const first = exchange.step(client.first);
    expect(first.kind).toBe('challenge');
    const final = client.final((first as { response: Buffer }).response);
    const done = exchange.step(final.message);
    expect(done).toEqual({
      kind: 'done',
      user: 'alice',
      response: Buffer.from(`v=${final.serverSignature}`),
    });
  });

  it('refuses a wrong password and an unknown user the same way, with a stable made-up salt', () => {
    const outcomes = ['alice', 'mallory'].map((user) => {
      const exchange = server();
      const client = scramClient(mechanism, user, 'wrong');
      const first = exchange.step(client.first) as { kind: string; response: Buffer };
      expect(first.kind).toBe('challenge');
      return { first: first.response.toString(), final: exchange.step(client.final(first.response).message) };
    });
    expect(outcomes.map((outcome) => outcome.final)).toEqual([
      { kind: 'failed', reason: 'invalid credentials', user: 'alice' },
      { kind: 'failed', reason: 'invalid credentials', user: 'mallory' },
    ]);
    const saltOf = (serverFirst: string) => /,s=([^,]+),i=(\d+)$/.exec(serverFirst)!.slice(1);
    const again = server().step(scramClient(mechanism, 'mallory', 'x').first) as { response: Buffer };
    expect(saltOf(again.response.toString())).toEqual(saltOf(outcomes[1]!.first));
    expect(saltOf(outcomes[1]!.first)[1]).toBe('4096');
  });

  it("accepts librdkafka's client-final, which repeats the client nonce in front (Kafka checks endsWith)", () => {
    const exchange = server();
    const client = scramClient(mechanism, 'alice', 'alice-secret');
    const first = exchange.step(client.first) as { response: Buffer };
    const clientNonce = /r=([^,]+)/.exec(client.first.toString())![1]!;
    const final = client.final(first.response, (serverNonce) => `${clientNonce}${serverNonce}`);
    expect(exchange.step(final.message)).toMatchObject({ kind: 'done', user: 'alice' });
  });

  it('refuses a changed nonce, a wrong channel binding and malformed messages', () => {
    const exchange = server();
    const client = scramClient(mechanism, 'alice', 'alice-secret');
    const first = exchange.step(client.first) as { response: Buffer };
    const tampered = client
      .final(first.response)
      .message.toString()
      .replace(/,r=([^,]+)/, ',r=$1x');
    expect(exchange.step(Buffer.from(tampered))).toMatchObject({
      kind: 'failed',
      reason: 'SCRAM nonce does not match',
    });
    expect(server().step(Buffer.from('y,,n=alice,r=abc'))).toMatchObject({ kind: 'failed' });
    expect(server().step(Buffer.from('n,,n=al=ice,r=abc'))).toMatchObject({ kind: 'failed' });
    const other = server();
    const otherClient = scramClient(mechanism, 'alice', 'alice-secret');
    const otherFirst = other.step(otherClient.first) as { response: Buffer };
    const badBinding = otherClient
      .final(otherFirst.response)
      .message.toString()
      .replace(/^c=[^,]*/, `c=${Buffer.from('n,a=bob,').toString('base64')}`);
    expect(other.step(Buffer.from(badBinding))).toMatchObject({
      reason: 'SCRAM channel binding does not match',
    });
  });
});

describe.each(['SCRAM-SHA-256', 'SCRAM-SHA-512'])('%s with a delegation token (tokenauth=true)', (name) => {
  const mechanism = scramMechanismNamed(name)!;
  const secretKey = Buffer.from('token-secret');
  const listeners = new Map([
    [
      'SASL',
      {
        mechanisms: [mechanism.name] as const,
        plainUsers: new Map<string, string>(),
        connectionsMaxReauthMs: new Map(),
      },
    ],
  ]);
  const token: DelegationTokenRecord = {
    type: 'delegationToken',
    tokenId: 'tokenid-0123456789abcd',
    owner: 'User:alice',
    requester: 'User:admin',
    renewers: [],
    issueTimestampMs: 0,
    maxTimestampMs: 10_000,
    expirationTimestampMs: 5_000,
  };
  let image = applyRecord(
    applyRecord(MetadataImage.empty, { type: 'clusterSecret', secret: randomBytes(clusterSecretBytes) }),
    token,
  );
  let nowMs = 1_000;
  const authenticator = new SaslAuthenticator(
    listeners,
    (user) => (user === 'tokenid-0123456789abcd' ? userCredential : undefined),
    () => image.clusterSecret,
    () => nowMs,
    (tokenId) => delegationTokenCredential(image, secretKey, tokenId),
  );
  /** A SCRAM user named like the token, whose password is not the HMAC: tokenauth must not reach it. */
  const salt = randomBytes(16);
  const userCredential = scramCredential(
    mechanism,
    salt,
    scramSaltedPassword(mechanism, 'pw', salt, 4096),
    4096,
  );
  const hmacPassword = createHmac('sha512', secretKey).update(token.tokenId).digest('base64');
  const authenticate = (user: string, password: string, extensions: string) => {
    const exchange = authenticator.start('SASL', mechanism.name)!;
    const client = scramClient(mechanism, user, password, extensions);
    const first = exchange.step(client.first);
    if (first.kind !== 'challenge') return first;
    return exchange.step(client.final(first.response).message);
  };

  it("authenticates the token's owner, token-authenticated, until the token expires", () => {
    expect(delegationTokenHmac(secretKey, token.tokenId).toString('base64')).toBe(hmacPassword);
    expect(authenticate(token.tokenId, hmacPassword, ',tokenauth=true')).toMatchObject({
      kind: 'done',
      user: token.tokenId,
      principal: { principalType: 'User', name: 'alice', tokenAuthenticated: true },
      credentialExpiresAtMs: 5_000,
    });
    // Without the extension the token id is an ordinary user name, with its own password.
    expect(authenticate(token.tokenId, 'pw', '')).toMatchObject({ kind: 'done', user: token.tokenId });
    expect(authenticate(token.tokenId, 'pw', '')).not.toHaveProperty('principal');
    expect(authenticate(token.tokenId, 'pw', ',tokenauth=true')).toMatchObject({ kind: 'failed' });
    expect(authenticate(token.tokenId, hmacPassword, '')).toMatchObject({ kind: 'failed' });
  });

  it('refuses an unknown, expired or removed token, and any token without a secret key', () => {
    expect(authenticate('no-such-token', hmacPassword, ',tokenauth=true')).toMatchObject({ kind: 'failed' });
    nowMs = 5_001;
    expect(authenticate(token.tokenId, hmacPassword, ',tokenauth=true')).toMatchObject({
      kind: 'failed',
      reason: 'the delegation token has expired',
    });
    nowMs = 1_000;
    expect(delegationTokenCredential(image, null, token.tokenId)).toBeUndefined();
    image = applyRecord(image, { type: 'removeDelegationToken', tokenId: token.tokenId });
    expect(authenticate(token.tokenId, hmacPassword, ',tokenauth=true')).toMatchObject({ kind: 'failed' });
  });
});

describe('the made-up salt of an unknown SCRAM user', () => {
  const listeners = new Map([
    [
      'SASL',
      {
        mechanisms: ['SCRAM-SHA-256', 'SCRAM-SHA-512'] as const,
        plainUsers: new Map<string, string>(),
        connectionsMaxReauthMs: new Map(),
      },
    ],
  ]);
  const image = applyRecord(MetadataImage.empty, {
    type: 'clusterSecret',
    secret: randomBytes(clusterSecretBytes),
  });
  /** One node: an authenticator over its own image (here: over the same committed image). */
  const node = (source: MetadataImage) =>
    new SaslAuthenticator(
      listeners,
      () => undefined,
      () => source.clusterSecret,
      () => 0,
    );
  const serverFirst = (authenticator: SaslAuthenticator, mechanism: string, user: string) => {
    const step = authenticator.start('SASL', mechanism)!.step(Buffer.from(`n,,n=${user},r=abcdef`));
    expect(step.kind).toBe('challenge');
    const [, salt, iterations] = /,s=([^,]+),i=(\d+)$/.exec(
      (step as { response: Buffer }).response.toString(),
    )!;
    return { salt: salt!, iterations: Number(iterations) };
  };

  it('is the same from two nodes over the same image, and differs between users and mechanisms', () => {
    const first = node(image);
    const second = node(
      applyRecord(MetadataImage.empty, { type: 'clusterSecret', secret: image.clusterSecret! }),
    );
    for (const mechanism of ['SCRAM-SHA-256', 'SCRAM-SHA-512']) {
      expect(serverFirst(first, mechanism, 'mallory')).toEqual(serverFirst(second, mechanism, 'mallory'));
      expect(serverFirst(first, mechanism, 'mallory').iterations).toBe(4096);
      expect(serverFirst(first, mechanism, 'mallory').salt).not.toBe(
        serverFirst(first, mechanism, 'trudy').salt,
      );
    }
    expect(serverFirst(first, 'SCRAM-SHA-256', 'mallory').salt).not.toBe(
      serverFirst(first, 'SCRAM-SHA-512', 'mallory').salt,
    );
  });

  it('depends on the cluster secret: another cluster gives another salt, never a fixed value', () => {
    const other = applyRecord(MetadataImage.empty, {
      type: 'clusterSecret',
      secret: randomBytes(clusterSecretBytes),
    });
    const salt = serverFirst(node(image), 'SCRAM-SHA-256', 'mallory').salt;
    expect(salt).not.toBe(serverFirst(node(other), 'SCRAM-SHA-256', 'mallory').salt);
    expect(Buffer.from(salt, 'base64')).toHaveLength(16);
    expect(Buffer.from(salt, 'base64').equals(Buffer.alloc(16))).toBe(false);
  });

  it('is refused, as a failed authentication, while the image has no cluster secret', () => {
    const step = node(MetadataImage.empty)
      .start('SASL', 'SCRAM-SHA-256')!
      .step(Buffer.from('n,,n=alice,r=abc'));
    expect(step).toEqual({
      kind: 'failed',
      reason: 'the cluster secret is not in the metadata image yet',
      user: 'alice',
    });
  });
});

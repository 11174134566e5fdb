// SASL/OAUTHBEARER with unsecured JWTs (KIP-255) on a real broker process, configured with Kafka's
// keys: listener.name.sasl_plaintext.sasl.enabled.mechanisms=OAUTHBEARER and the
// OAuthBearerLoginModule entry in listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config, a
// StandardAuthorizer with ACLs for User:alice only, and connections.max.reauth.ms on the listener.
// Real clients as their documentation configures them: kcat and confluent-kafka-python
// (librdkafka's builtin unsecured JWT: enable.sasl.oauthbearer.unsecure.jwt, sasl.oauthbearer.config
// principal=alice), kafkajs and Gregor's own client with an oauthBearerProvider minting the token.
// The principal is User:<sub>, ACLs apply to it; an expired token is refused with RFC 7628's JSON
// error; the session lifetime the broker grants is the token's remaining life when shorter than
// connections.max.reauth.ms, and librdkafka 2.15 with 20 s tokens and kafkajs with 4 s ones
// re-authenticate on their connections with fresh tokens, never expiring.

import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { Kafka as GregorKafka, logLevel as gregorLogLevel, KafkaConnection } from '@gregor/client';
import { ApiKey, ErrorCode } from '@gregor/protocol';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentLibrdkafkaEnv, currentLibrdkafkaVersion } from '../testing/current-librdkafka.js';
import { cliPath, ProcessCluster } from '../testing/process-cluster.js';

const clientTimeoutMs = 60_000;
/**
 * For the tests that run at the same time: execFileSync would hold the event loop while the CLI
 * runs, and on a loaded machine (a CLI run of 5 s and more) the other test's connect timers then
 * fire before its connect events are read.
 */
const execFileAsync = promisify(execFile);
const maxReauthMs = 600_000;
const pythonClient = new URL('./python/confluent_kafka_client.py', import.meta.url).pathname;

let cluster: ProcessCluster;

beforeAll(async () => {
  cluster = await ProcessCluster.start({
    nodeCount: 1,
    properties: {
      listeners: 'PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0',
      'listener.security.protocol.map':
        'PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT',
      'listener.name.sasl_plaintext.sasl.enabled.mechanisms': 'OAUTHBEARER',
      'listener.name.sasl_plaintext.oauthbearer.sasl.jaas.config':
        'org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required ' +
        'unsecuredValidatorAllowableClockSkewMs="1000";',
      'listener.name.sasl_plaintext.oauthbearer.connections.max.reauth.ms': String(maxReauthMs),
      'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
      'super.users': 'User:ANONYMOUS',
      'allow.everyone.if.no.acl.found': 'false',
      'auto.create.topics.enable': 'false',
      'offsets.topic.replication.factor': '1',
      'offsets.topic.num.partitions': '1',
      'group.initial.rebalance.delay.ms': '0',
    },
  });
  const connection = await KafkaConnection.open({ host: '127.0.0.1', port: cluster.node(1).kafkaPort });
  try {
    const created = await connection.call(ApiKey.CreateTopics, 4, {
      topics: ['oauth-orders', 'oauth-secret'].map((name) => ({
        name,
        numPartitions: 1,
        replicationFactor: 1,
        assignments: [],
        configs: [],
      })),
      timeoutMs: 10_000,
      validateOnly: false,
    });
    expect(created.topics.map((topic) => topic.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.NONE]);
  } finally {
    connection.close();
  }
  execFileSync(process.execPath, allowAclArgs('alice', 'oauth-orders', 'oauth-group'), {
    encoding: 'utf8',
    timeout: clientTimeoutMs,
  });
}, 120_000);

afterAll(async () => {
  await cluster?.close();
});

const saslPort = () => cluster.node(1).listenerPorts.SASL_PLAINTEXT!;

/** `gregor acls --add`: lets `principal` produce to `topic` (and, with a group, consume it). */
function allowAclArgs(principal: string, topic: string, group?: string): string[] {
  return [
    cliPath,
    'acls',
    '--bootstrap-server',
    `127.0.0.1:${cluster.node(1).kafkaPort}`,
    '--add',
    '--allow-principal',
    `User:${principal}`,
    '--producer',
    ...(group === undefined ? [] : ['--consumer']),
    '--topic',
    topic,
    ...(group === undefined ? [] : ['--group', group]),
  ];
}

/**
 * What node 1 logged of `principal`'s sessions: the re-authentication count of each successful
 * re-authentication, and the connections closed because a session expired.
 */
function sessionsLogged(principal: string): { reauthentications: number[]; expired: number } {
  const lines = cluster
    .node(1)
    .output.join('')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map(
      (line) =>
        JSON.parse(line) as { msg: string; principal?: string; reauthentications?: number; reason?: string },
    )
    .filter((line) => line.principal === `User:${principal}`);
  return {
    reauthentications: lines
      .filter((line) => line.msg === 'SASL re-authentication succeeded')
      .map((line) => line.reauthentications ?? 0),
    expired: lines.filter((line) => line.reason?.startsWith('SASL session expired') === true).length,
  };
}

/** An unsecured JWT (alg none), as Kafka's OAuthBearerUnsecuredLoginCallbackHandler mints them. */
function unsecuredJwt(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none' })}.${part(claims)}.`;
}
const nowS = () => Math.floor(Date.now() / 1000);

const librdkafkaOauth = (principal: string) => [
  '-X',
  'security.protocol=SASL_PLAINTEXT',
  '-X',
  'sasl.mechanisms=OAUTHBEARER',
  '-X',
  'enable.sasl.oauthbearer.unsecure.jwt=true',
  '-X',
  `sasl.oauthbearer.config=principal=${principal} lifeSeconds=300`,
];

function kcat(principal: string, args: readonly string[], input?: string) {
  return spawnSync('kcat', ['-b', `127.0.0.1:${saslPort()}`, ...librdkafkaOauth(principal), ...args], {
    input,
    timeout: clientTimeoutMs,
    encoding: 'utf8',
  });
}

function kafkajs(token: () => string) {
  return new Kafka({
    clientId: 'oauth-it',
    brokers: [`127.0.0.1:${saslPort()}`],
    sasl: { mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: token() }) },
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
  });
}

/** SaslHandshake and the client-first message on a raw connection: the broker's answers. */
async function rawAuthenticate(token: string) {
  const connection = await KafkaConnection.open({ host: '127.0.0.1', port: saslPort() });
  try {
    const handshake = await connection.call(ApiKey.SaslHandshake, 1, { mechanism: 'OAUTHBEARER' });
    expect(handshake).toMatchObject({ errorCode: ErrorCode.NONE, mechanisms: ['OAUTHBEARER'] });
    const first = await connection.call(ApiKey.SaslAuthenticate, 2, {
      authBytes: Buffer.from(`n,,\u0001auth=Bearer ${token}\u0001\u0001`),
    });
    if (first.authBytes.length === 0) return { first, final: undefined };
    const final = await connection.call(ApiKey.SaslAuthenticate, 2, { authBytes: Buffer.from('\u0001') });
    return { first, final };
  } finally {
    connection.close();
  }
}

describe('SASL/OAUTHBEARER with unsecured JWTs', () => {
  it('kcat (librdkafka) as alice produces and consumes what the ACLs allow, and is refused elsewhere', () => {
    const produced = kcat(
      'alice',
      ['-P', '-K', ':', '-t', 'oauth-orders', '-p', '0'],
      'k1:kcat-1\nk2:kcat-2\n',
    );
    expect(produced.status, produced.stderr).toBe(0);
    const consumed = kcat('alice', ['-C', '-t', 'oauth-orders', '-p', '0', '-o', 'beginning', '-e', '-q']);
    expect(consumed.status, consumed.stderr).toBe(0);
    expect(consumed.stdout.split('\n').filter((line) => line !== '')).toEqual(['kcat-1', 'kcat-2']);
    const denied = kcat('alice', ['-P', '-t', 'oauth-secret', '-p', '0'], 'no\n');
    expect(`${denied.stdout}${denied.stderr}`).toMatch(
      /Topic authorization failed|TOPIC_AUTHORIZATION_FAILED/i,
    );
    // bob has no ACL at all: authenticated, then refused.
    const bob = kcat('bob', ['-P', '-t', 'oauth-orders', '-p', '0'], 'no\n');
    expect(`${bob.stdout}${bob.stderr}`).toMatch(/Topic authorization failed|TOPIC_AUTHORIZATION_FAILED/i);
  });

  it('confluent-kafka-python as alice produces and consumes in a group', () => {
    const clientConfig = {
      'security.protocol': 'SASL_PLAINTEXT',
      'sasl.mechanisms': 'OAUTHBEARER',
      'enable.sasl.oauthbearer.unsecure.jwt': 'true',
      'sasl.oauthbearer.config': 'principal=alice',
    };
    const run = (command: object) =>
      JSON.parse(
        execFileSync('/usr/bin/python3', [pythonClient], {
          input: JSON.stringify({
            bootstrap: `127.0.0.1:${saslPort()}`,
            client_config: clientConfig,
            ...command,
          }),
          timeout: clientTimeoutMs,
          encoding: 'utf8',
        }),
      ) as Record<string, unknown>;
    const produced = run({
      op: 'produce',
      topic: 'oauth-orders',
      records: [0, 1].map((index) => ({ partition: 0, key: `k${index}`, value: `py-${index}` })),
    });
    expect((produced.delivered as unknown[]).length).toBe(2);
    const consumed = run({
      op: 'group_consume',
      topic: 'oauth-orders',
      group: 'oauth-group',
      count: 4,
      timeout_ms: 30_000,
    });
    expect((consumed.records as { value: string }[]).map((record) => record.value)).toEqual(
      expect.arrayContaining(['py-0', 'py-1']),
    );
  });

  it('kafkajs with an oauthBearerProvider produces and consumes as alice', async () => {
    const kafka = kafkajs(() => unsecuredJwt({ sub: 'alice', iat: nowS(), exp: nowS() + 300 }));
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    await producer.send({ topic: 'oauth-orders', acks: -1, messages: [{ value: 'kafkajs-1' }] });
    await producer.disconnect();
    const consumer = kafka.consumer({ groupId: 'oauth-group' });
    const seen: string[] = [];
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: 'oauth-orders', fromBeginning: true });
      const done = new Promise<void>((resolve) => {
        void consumer.run({
          eachMessage: async ({ message }) => {
            seen.push(message.value!.toString());
            if (seen.includes('kafkajs-1')) resolve();
          },
        });
      });
      await done;
    } finally {
      await consumer.disconnect();
    }
    expect(seen).toContain('kafkajs-1');
  });

  it("Gregor's client with an oauthBearerProvider produces as alice", async () => {
    const kafka = new GregorKafka({
      clientId: 'oauth-gregor',
      brokers: [`127.0.0.1:${saslPort()}`],
      sasl: {
        mechanism: 'oauthbearer',
        oauthBearerProvider: async () => ({ value: unsecuredJwt({ sub: 'alice', exp: nowS() + 300 }) }),
      },
      logLevel: gregorLogLevel.NOTHING,
      retry: { retries: 2 },
    });
    const producer = kafka.producer();
    await producer.connect();
    const [sent] = await producer.send({
      topic: 'oauth-orders',
      acks: -1,
      messages: [{ value: 'gregor-1' }],
    });
    await producer.disconnect();
    expect(sent?.errorCode).toBe(ErrorCode.NONE);
  });

  it('refuses an expired token with the RFC 7628 error, then SASL_AUTHENTICATION_FAILED, for every client', async () => {
    const expired = unsecuredJwt({ sub: 'alice', iat: nowS() - 600, exp: nowS() - 300 });
    const { first, final } = await rawAuthenticate(expired);
    expect(first.errorCode).toBe(ErrorCode.NONE);
    expect(first.authBytes.toString()).toBe('{"status":"invalid_token"}');
    expect(final).toMatchObject({
      errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED,
      errorMessage: '{"status":"invalid_token"}',
    });

    const gregor = new GregorKafka({
      brokers: [`127.0.0.1:${saslPort()}`],
      sasl: { mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: expired }) },
      logLevel: gregorLogLevel.NOTHING,
      retry: { retries: 0 },
    });
    const producer = gregor.producer();
    const refusal = await producer.connect().then(
      () => undefined,
      (error: unknown) => error as Error & { type?: string },
    );
    expect(refusal?.message).toContain('{"status":"invalid_token"}');
    await producer.disconnect().catch(() => undefined);

    // kafkajs takes the error challenge for success, as with Kafka; its next request finds the
    // connection closed, so it never gets to use it.
    const kafkajsProducer = kafkajs(() => expired).producer();
    await expect(
      kafkajsProducer
        .connect()
        .then(() => kafkajsProducer.send({ topic: 'oauth-orders', messages: [{ value: 'never' }] })),
    ).rejects.toThrow();
    await kafkajsProducer.disconnect().catch(() => undefined);
  });

  // The two re-authentication runs wait out token lifetimes (23 s and 9 s), each as a principal of its
  // own (carol, erin) that reads only its own log lines: they run at the same time, with the test's
  // own `expect` as concurrent tests must.
  describe.concurrent('re-authentication with fresh tokens', () => {
    it('librdkafka 2.15 re-authenticates with a fresh token before its token (and so its session) ends, and keeps going', async ({
      expect,
    }) => {
      const admin = await KafkaConnection.open({ host: '127.0.0.1', port: cluster.node(1).kafkaPort });
      try {
        const created = await admin.call(ApiKey.CreateTopics, 4, {
          topics: [
            { name: 'oauth-reauth', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] },
          ],
          timeoutMs: 10_000,
          validateOnly: false,
        });
        expect(created.topics[0]!.errorCode).toBe(ErrorCode.NONE);
      } finally {
        admin.close();
      }
      await execFileAsync(process.execPath, allowAclArgs('carol', 'oauth-reauth', 'gregor-it-unused'), {
        encoding: 'utf8',
        timeout: clientTimeoutMs,
      });
      // Tokens of 20 s: the session the broker grants is bounded by them, not by the 600 s
      // connections.max.reauth.ms, so librdkafka must re-authenticate on the same connections (at 90%
      // of the session) with the token it refreshed meanwhile (due at 80% of its life, noticed by a
      // once-a-second timer: shorter tokens would race it, in Kafka as here).
      const runSeconds = 23;
      const child = spawn('/usr/bin/python3', [pythonClient], {
        env: currentLibrdkafkaEnv(),
        timeout: clientTimeoutMs,
      });
      child.stdin.end(
        JSON.stringify({
          op: 'produce_consume_for',
          bootstrap: `127.0.0.1:${saslPort()}`,
          topic: 'oauth-reauth',
          seconds: runSeconds,
          interval_ms: 500,
          client_config: {
            'security.protocol': 'SASL_PLAINTEXT',
            'sasl.mechanisms': 'OAUTHBEARER',
            'enable.sasl.oauthbearer.unsecure.jwt': 'true',
            'sasl.oauthbearer.config': 'principal=carol lifeSeconds=20',
          },
        }),
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
      });
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      const [code] = (await once(child, 'close')) as [number | null];
      expect(code, stderr).toBe(0);
      const result = JSON.parse(stdout) as {
        librdkafka: string;
        delivered: number;
        produced: number;
        consumed: string[];
        errors: string[];
      };
      expect(result.librdkafka).toBe(currentLibrdkafkaVersion);
      const brokerSaid = () =>
        cluster
          .node(1)
          .output.join('')
          .split('\n')
          .filter((line) => /carol|fail/i.test(line))
          .slice(-12)
          .join('\n');
      expect(result.errors, brokerSaid()).toEqual([]);
      expect(result.delivered).toBe(result.produced);
      expect(result.consumed).toEqual(Array.from({ length: result.produced }, (_, index) => `r${index}`));
      const sessions = sessionsLogged('carol');
      // Each connection re-authenticated with a fresh token around 18 s, and none outlived a token.
      expect(Math.max(0, ...sessions.reauthentications)).toBeGreaterThanOrEqual(1);
      expect(sessions.expired).toBe(0);
    }, 120_000);

    it('kafkajs re-authenticates with a new token from its provider as each 4 s token ends, and keeps sending', async ({
      expect,
    }) => {
      await execFileAsync(process.execPath, allowAclArgs('erin', 'oauth-orders'), {
        encoding: 'utf8',
        timeout: clientTimeoutMs,
      });
      let tokensMinted = 0;
      const client = new Kafka({
        clientId: 'oauth-reauth-kafkajs',
        brokers: [`127.0.0.1:${saslPort()}`],
        sasl: {
          mechanism: 'oauthbearer',
          oauthBearerProvider: async () => {
            tokensMinted++;
            return {
              value: unsecuredJwt({ sub: 'erin', iat: Date.now() / 1000, exp: Date.now() / 1000 + 4 }),
            };
          },
        },
        // kafkajs re-authenticates before a request once its session is this close to its end.
        reauthenticationThreshold: 1_000,
        logLevel: logLevel.NOTHING,
      });
      const producer = client.producer({ allowAutoTopicCreation: false });
      await producer.connect();
      const deadline = Date.now() + 9_000;
      let sent = 0;
      while (Date.now() < deadline) {
        await producer.send({ topic: 'oauth-orders', acks: -1, messages: [{ value: `erin-${sent}` }] });
        sent++;
        await new Promise((done) => setTimeout(done, 250));
      }
      await producer.disconnect();
      const sessions = sessionsLogged('erin');
      // 9 s of 4 s tokens: at least two re-authentications on one connection, each with a new token.
      expect(Math.max(0, ...sessions.reauthentications)).toBeGreaterThanOrEqual(2);
      expect(tokensMinted).toBeGreaterThanOrEqual(3);
      expect(sessions.expired).toBe(0);
    }, 60_000);
  });

  it("bounds the session by the token's exp when it comes before connections.max.reauth.ms", async () => {
    const short = await rawAuthenticate(unsecuredJwt({ sub: 'alice', exp: nowS() + 30 }));
    expect(short.first.errorCode).toBe(ErrorCode.NONE);
    const lifetimeMs = Number(short.first.sessionLifetimeMs);
    expect(lifetimeMs).toBeGreaterThan(25_000);
    expect(lifetimeMs).toBeLessThanOrEqual(30_000);
    const long = await rawAuthenticate(unsecuredJwt({ sub: 'alice', exp: nowS() + 3600 }));
    expect(Number(long.first.sessionLifetimeMs)).toBe(maxReauthMs);
  });
});

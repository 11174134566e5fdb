// SASL re-authentication (KIP-368) on a real broker process with connections.max.reauth.ms set on a
// SASL_PLAINTEXT listener, and real clients kept open over several session lifetimes:
//   - librdkafka 2.15 (confluent-kafka-python on the built library) re-authenticates on the same
//     connections (about 90% into each lifetime) and keeps producing and consuming;
//   - kafkajs 2.x re-authenticates too (it reads session_lifetime_ms from SaslAuthenticate v1);
//   - a client that never re-authenticates (a raw connection, and librdkafka 2.0.2 from Debian,
//     older than KIP-368 support) has its connection closed when it sends a request after the
//     lifetime, and the broker logs the principal and the address;
//   - Gregor's own client (no re-authentication either) reconnects and keeps sending.
// Each client authenticates as its own user, so the broker's log lines tell them apart.

import { spawn } from 'node:child_process';
import { Kafka as GregorKafka, KafkaConnection } from '@gregor/client';
import { waitFor } from '@gregor/ground/testing';
import { ApiKey, ErrorCode } from '@gregor/protocol';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { currentLibrdkafkaEnv, currentLibrdkafkaVersion } from '../testing/current-librdkafka.js';
import { ProcessCluster } from '../testing/process-cluster.js';

const sessionLifetimeMs = 3_000;
/** Long enough for three lifetimes and more. */
const clientRunSeconds = 11;
/** A client that does not re-authenticate: long enough to send requests after its first lifetime. */
const expiringClientRunSeconds = 6;
const clientTimeoutMs = 90_000;
const pythonClient = new URL('./python/confluent_kafka_client.py', import.meta.url).pathname;
const users = ['librdkafka', 'kafkajs', 'raw', 'old', 'gregor'] as const;
const plainJaas = `org.apache.kafka.common.security.plain.PlainLoginModule required ${users
  .map((user) => `user_${user}="${user}-secret"`)
  .join(' ')};`;

let cluster: ProcessCluster;

beforeAll(async () => {
  cluster = await ProcessCluster.start({
    nodeCount: 1,
    properties: {
      listeners: 'PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0',
      'listener.security.protocol.map':
        'PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT',
      'listener.name.sasl_plaintext.sasl.enabled.mechanisms': 'PLAIN',
      'listener.name.sasl_plaintext.plain.sasl.jaas.config': plainJaas,
      'listener.name.sasl_plaintext.plain.connections.max.reauth.ms': String(sessionLifetimeMs),
      'offsets.topic.replication.factor': '1',
      'offsets.topic.num.partitions': '1',
      'group.initial.rebalance.delay.ms': '0',
    },
  });
}, 60_000);

afterAll(async () => {
  await cluster?.close();
});

const port = () => cluster.node(1).listenerPorts.SASL_PLAINTEXT!;

interface LogLine {
  readonly msg: string;
  readonly principal?: string;
  readonly connectionId?: number;
  readonly reauthentications?: number;
  readonly reason?: string;
  readonly remoteAddress?: string;
}

function logLines(): LogLine[] {
  return cluster
    .node(1)
    .output.join('')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine);
}

/** The most re-authentications one connection of `user` made, and whether one of its was closed as expired. */
function reauthenticationsOf(user: string): { mostOnOneConnection: number; expiredCloses: number } {
  const lines = logLines();
  const principal = `User:${user}`;
  const counts = lines
    .filter((line) => line.msg === 'SASL re-authentication succeeded' && line.principal === principal)
    .map((line) => line.reauthentications ?? 0);
  const expiredCloses = lines.filter(
    (line) => line.reason?.startsWith('SASL session expired') === true && line.principal === principal,
  ).length;
  return { mostOnOneConnection: Math.max(0, ...counts), expiredCloses };
}

interface LibrdkafkaRun {
  readonly librdkafka: string;
  readonly delivered: number;
  readonly produced: number;
  readonly consumed: string[];
  readonly errors: string[];
}

/** Runs the client without blocking the event loop, which must keep reading the broker's log. */
function runLibrdkafka(
  user: string,
  topic: string,
  env: NodeJS.ProcessEnv,
  seconds = clientRunSeconds,
): Promise<LibrdkafkaRun> {
  const child = spawn('/usr/bin/python3', [pythonClient], { env, timeout: clientTimeoutMs });
  child.stdin.end(
    JSON.stringify({
      op: 'produce_consume_for',
      bootstrap: `127.0.0.1:${port()}`,
      topic,
      seconds,
      interval_ms: 500,
      client_config: {
        'security.protocol': 'SASL_PLAINTEXT',
        'sasl.mechanisms': 'PLAIN',
        'sasl.username': user,
        'sasl.password': `${user}-secret`,
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
  return new Promise((resolve, reject) => {
    child.on('close', (code) => {
      if (code === 0) resolve(JSON.parse(stdout) as LibrdkafkaRun);
      else reject(new Error(`confluent-kafka-python exited with ${code}: ${stderr}`));
    });
  });
}

// The tests run at the same time (describe.concurrent): each waits out session lifetimes with a user,
// topic and group of its own, and reads only its own user's log lines, so none depends on another;
// one after the other they spent about 40 s waiting, together about 11 s (the longest client run).
// Their assertions use the test's own `expect`, as concurrent tests must.
describe.concurrent('SASL re-authentication (connections.max.reauth.ms)', () => {
  it('librdkafka 2.15 re-authenticates on its connections and keeps producing and consuming', async ({
    expect,
  }) => {
    const result = await runLibrdkafka('librdkafka', 'reauth-librdkafka', currentLibrdkafkaEnv());
    expect(result.librdkafka).toBe(currentLibrdkafkaVersion);
    expect(result.errors).toEqual([]);
    expect(result.delivered).toBe(result.produced);
    expect(result.consumed).toEqual(Array.from({ length: result.produced }, (_, index) => `r${index}`));
    await waitFor('three re-authentications on one librdkafka connection', () =>
      reauthenticationsOf('librdkafka').mostOnOneConnection >= 3 ? true : undefined,
    );
    expect(reauthenticationsOf('librdkafka').expiredCloses).toBe(0);
  }, 120_000);

  it('kafkajs re-authenticates on its connections and keeps producing and consuming', async ({ expect }) => {
    const topic = 'reauth-kafkajs';
    const client = new Kafka({
      clientId: 'gregor-reauth-it',
      brokers: [`127.0.0.1:${port()}`],
      sasl: { mechanism: 'plain', username: 'kafkajs', password: 'kafkajs-secret' },
      // kafkajs re-authenticates before a request once the session is this close to its end;
      // its 10 s default is longer than the 3 s lifetime here, which would re-authenticate always.
      reauthenticationThreshold: 1_000,
      logLevel: logLevel.NOTHING,
    });
    const admin = client.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    await admin.disconnect();
    const producer = client.producer({ idempotent: true, maxInFlightRequests: 1 });
    const consumer = client.consumer({ groupId: 'reauth-kafkajs-group', maxWaitTimeInMs: 500 });
    await producer.connect();
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const consumed: string[] = [];
    await consumer.run({
      eachMessage: async ({ message }) => {
        consumed.push(message.value!.toString());
      },
    });
    const produced: string[] = [];
    const deadline = Date.now() + clientRunSeconds * 1000;
    while (Date.now() < deadline) {
      const value = `k${produced.length}`;
      await producer.send({ topic, acks: -1, messages: [{ value }] });
      produced.push(value);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    const drainDeadline = Date.now() + 30_000;
    while (consumed.length < produced.length && Date.now() < drainDeadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await consumer.disconnect();
    await producer.disconnect();
    expect(consumed).toEqual(produced);
    await waitFor('three re-authentications on one kafkajs connection', () =>
      reauthenticationsOf('kafkajs').mostOnOneConnection >= 3 ? true : undefined,
    );
    expect(reauthenticationsOf('kafkajs').expiredCloses).toBe(0);
  }, 120_000);

  it('closes a connection that does not re-authenticate when it sends a request after the lifetime', async ({
    expect,
  }) => {
    const connection = await KafkaConnection.open({ host: '127.0.0.1', port: port() });
    try {
      expect((await connection.call(ApiKey.SaslHandshake, 1, { mechanism: 'PLAIN' })).errorCode).toBe(
        ErrorCode.NONE,
      );
      const authenticated = await connection.call(ApiKey.SaslAuthenticate, 1, {
        authBytes: Buffer.from('\u0000raw\u0000raw-secret'),
      });
      expect(authenticated).toMatchObject({
        errorCode: ErrorCode.NONE,
        sessionLifetimeMs: BigInt(sessionLifetimeMs),
      });
      expect((await connection.call(ApiKey.Metadata, 1, { topics: [] })).brokers).toHaveLength(1);
      await new Promise((resolve) => setTimeout(resolve, sessionLifetimeMs + 500));
      await expect(connection.call(ApiKey.Metadata, 1, { topics: [] }, 5_000)).rejects.toThrow();
    } finally {
      connection.close();
    }
    const closed = await waitFor('the expired connection logged', () =>
      logLines().find(
        (line) => line.principal === 'User:raw' && line.reason?.startsWith('SASL session expired') === true,
      ),
    );
    expect(closed).toMatchObject({ remoteAddress: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
  });

  it("Gregor's own client, which does not re-authenticate, reconnects when its expired connection is closed", async () => {
    const topic = 'reauth-gregor-client';
    const client = new GregorKafka({
      clientId: 'gregor-reauth-it',
      brokers: [`127.0.0.1:${port()}`],
      sasl: { mechanism: 'plain', username: 'gregor', password: 'gregor-secret' },
    });
    const admin = client.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    await admin.disconnect();
    const producer = client.producer();
    await producer.connect();
    try {
      for (let index = 0; index < 3; index++) {
        // Each send after the first comes once the session of the connection has expired.
        if (index > 0) await new Promise((resolve) => setTimeout(resolve, sessionLifetimeMs + 500));
        await producer.send({ topic, acks: -1, messages: [{ value: `g${index}` }] });
      }
    } finally {
      await producer.disconnect();
    }
    await waitFor('a Gregor client connection closed as expired', () =>
      reauthenticationsOf('gregor').expiredCloses >= 1 ? true : undefined,
    );
  }, 60_000);

  it('librdkafka 2.0.2, which does not re-authenticate, has its connections closed after the lifetime', async ({
    expect,
  }) => {
    const env = { ...process.env };
    delete env.LD_LIBRARY_PATH;
    const result = await runLibrdkafka('old', 'reauth-old-librdkafka', env, expiringClientRunSeconds);
    expect(result.librdkafka).toBe('2.0.2');
    await waitFor(
      'a librdkafka 2.0.2 connection closed as expired',
      () => (reauthenticationsOf('old').expiredCloses >= 1 ? true : undefined),
      { detail: () => `${JSON.stringify(result)}\n${cluster.tail()}` },
    );
    expect(reauthenticationsOf('old').mostOnOneConnection).toBe(0);
  }, 120_000);
});

// SASL on a real broker process, configured with Kafka's keys: a SASL_SSL listener offering
// SCRAM-SHA-512, SCRAM-SHA-256 and PLAIN, a SASL_PLAINTEXT listener offering PLAIN (users from
// listener.name.<listener>.plain.sasl.jaas.config), and a PLAINTEXT listener for administration.
// SCRAM users are created with `gregor users` (kafka-configs.sh's shape), which stores salted
// credentials in the metadata log. Real clients, configured as their documentation says:
// kcat and confluent-kafka-python with SASL_SSL + SCRAM-SHA-512, kafkajs with PLAIN and
// SCRAM-SHA-256 over SSL, kafka-python with SASL_PLAINTEXT + PLAIN (SaslHandshake v0, bare tokens).
// A wrong password and an unknown user are refused alike (SASL_AUTHENTICATION_FAILED), and the
// broker logs the claimed principal and the client's address. A credential @platformatic/kafka
// stores with AlterUserScramCredentials (salted password computed client-side) logs kafkajs in.

import { execFileSync, spawnSync } from 'node:child_process';
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { KafkaConnection } from '@gregor/client';
import { waitFor } from '@gregor/ground/testing';
import { ApiKey, ErrorCode } from '@gregor/protocol';
import { alterUserScramCredentialsV0, Connection, describeUserScramCredentialsV0 } from '@platformatic/kafka';
import { Kafka, logLevel, type SASLOptions } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath, ProcessCluster } from '../testing/process-cluster.js';
import { makeTestCertificates, type TestCertificates } from '../testing/test-certificates.js';

const clientTimeoutMs = 60_000;
/** ScramMechanism ids of the SCRAM APIs (KIP-554). */
const scramSha256 = 1;
const scramSha512 = 2;
const pythonClient = new URL('./python/confluent_kafka_client.py', import.meta.url).pathname;
const plainJaas =
  'org.apache.kafka.common.security.plain.PlainLoginModule required ' +
  'user_admin="admin-secret" user_carol="carol-secret";';

let certs: TestCertificates;
let cluster: ProcessCluster;

beforeAll(async () => {
  certs = makeTestCertificates();
  cluster = await ProcessCluster.start({
    nodeCount: 1,
    properties: {
      listeners:
        'PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0',
      'listener.security.protocol.map':
        'PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT',
      'ssl.keystore.type': 'PEM',
      'ssl.keystore.location': certs.broker.keystore,
      'listener.name.sasl_ssl.sasl.enabled.mechanisms': 'SCRAM-SHA-512,SCRAM-SHA-256,PLAIN',
      'listener.name.sasl_ssl.plain.sasl.jaas.config': plainJaas,
      'listener.name.sasl_plaintext.sasl.enabled.mechanisms': 'PLAIN',
      'listener.name.sasl_plaintext.plain.sasl.jaas.config': plainJaas,
      'offsets.topic.replication.factor': '1',
      'offsets.topic.num.partitions': '1',
      'group.initial.rebalance.delay.ms': '0',
      'gregor.metrics.port': '0',
    },
  });
  for (const [user, config] of [
    ['alice', 'SCRAM-SHA-512=[iterations=8192,password=alice-secret]'],
    ['bob', 'SCRAM-SHA-256=[password=bob-secret],SCRAM-SHA-512=[password=bob-secret]'],
  ] as const) {
    expect(
      gregorUsers(['--alter', '--entity-type', 'users', '--entity-name', user, '--add-config', config]),
    ).toBe(`Completed updating config for user ${user}.\n`);
  }
});

afterAll(async () => {
  await cluster?.close();
  certs?.remove();
});

const port = (listener: string) => cluster.node(1).listenerPorts[listener]!;

function gregorUsers(args: readonly string[]): string {
  return execFileSync(
    process.execPath,
    [cliPath, 'users', '--bootstrap-server', `127.0.0.1:${port('PLAINTEXT')}`, ...args],
    { encoding: 'utf8', timeout: clientTimeoutMs },
  );
}

const scramSsl = (user: string, password: string) => [
  '-X',
  'security.protocol=SASL_SSL',
  '-X',
  `ssl.ca.location=${certs.caCertificate}`,
  '-X',
  'sasl.mechanisms=SCRAM-SHA-512',
  '-X',
  `sasl.username=${user}`,
  '-X',
  `sasl.password=${password}`,
];

function kcat(args: readonly string[], input?: string): string {
  return execFileSync('kcat', ['-b', `localhost:${port('SASL_SSL')}`, ...args], {
    input,
    timeout: clientTimeoutMs,
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

async function logged(pattern: RegExp): Promise<void> {
  await waitFor(`a log line matching ${pattern}`, () => pattern.test(cluster.node(1).output.join('')), {
    timeoutMs: 10_000,
    intervalMs: 100,
    detail: () => cluster.tail(),
  });
}

function kafkajs(sasl: SASLOptions) {
  return new Kafka({
    clientId: 'gregor-sasl-it',
    brokers: [`localhost:${port('SASL_SSL')}`],
    ssl: { ca: [readFileSync(certs.caCertificate, 'utf8')] },
    sasl,
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
  });
}

describe('SASL', () => {
  it('gregor users describes the salted credentials it stored, never their secrets', () => {
    expect(gregorUsers(['--describe', '--entity-type', 'users'])).toBe(
      "SCRAM credential configs for user-principal 'alice' are SCRAM-SHA-512=iterations=8192\n" +
        "SCRAM credential configs for user-principal 'bob' are SCRAM-SHA-256=iterations=4096, SCRAM-SHA-512=iterations=4096\n",
    );
    const missing = spawnSync(
      process.execPath,
      [
        cliPath,
        'users',
        '--bootstrap-server',
        `127.0.0.1:${port('PLAINTEXT')}`,
        '--describe',
        '--entity-name',
        'nobody',
      ],
      { encoding: 'utf8' },
    );
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/user nobody: RESOURCE_NOT_FOUND/);
  });

  it('kcat produces and consumes over SASL_SSL with SCRAM-SHA-512', () => {
    const records = ['scram-one', 'scram-two'];
    kcat(
      ['-P', '-t', 'sasl-kcat', '-X', 'acks=all', ...scramSsl('alice', 'alice-secret')],
      `${records.join('\n')}\n`,
    );
    const consumed = kcat([
      '-C',
      '-t',
      'sasl-kcat',
      '-o',
      'beginning',
      '-e',
      '-q',
      ...scramSsl('bob', 'bob-secret'),
    ]);
    expect(consumed.trim().split('\n')).toEqual(records);
  });

  it('confluent-kafka-python produces and consumes in a group over SASL_SSL with SCRAM-SHA-512', () => {
    const clientConfig = {
      'security.protocol': 'SASL_SSL',
      'ssl.ca.location': certs.caCertificate,
      'sasl.mechanisms': 'SCRAM-SHA-512',
      'sasl.username': 'alice',
      'sasl.password': 'alice-secret',
    };
    const run = (command: object) =>
      JSON.parse(
        execFileSync('/usr/bin/python3', [pythonClient], {
          input: JSON.stringify({
            bootstrap: `localhost:${port('SASL_SSL')}`,
            client_config: clientConfig,
            ...command,
          }),
          timeout: clientTimeoutMs,
          encoding: 'utf8',
        }),
      ) as Record<string, unknown>;
    const produced = run({
      op: 'produce',
      topic: 'sasl-python',
      records: [0, 1, 2].map((index) => ({ partition: 0, key: `k${index}`, value: `v${index}` })),
    });
    expect((produced.delivered as unknown[]).length).toBe(3);
    const consumed = run({
      op: 'group_consume',
      topic: 'sasl-python',
      group: 'sasl-group',
      count: 3,
      timeout_ms: 30_000,
    });
    expect((consumed.records as { value: string }[]).map((record) => record.value)).toEqual([
      'v0',
      'v1',
      'v2',
    ]);
  });

  it.each([
    ['PLAIN', { mechanism: 'plain', username: 'carol', password: 'carol-secret' }],
    ['SCRAM-SHA-256', { mechanism: 'scram-sha-256', username: 'bob', password: 'bob-secret' }],
    ['SCRAM-SHA-512', { mechanism: 'scram-sha-512', username: 'alice', password: 'alice-secret' }],
  ] as const)('kafkajs produces and fetches over SSL with SASL %s', async (name, sasl) => {
    const topic = `sasl-kafkajs-${name.toLowerCase()}`;
    const client = kafkajs(sasl as SASLOptions);
    const admin = client.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    await admin.disconnect();
    const producer = client.producer();
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ value: `${name}-record` }] });
    await producer.disconnect();
    const consumer = client.consumer({ groupId: `${topic}-group` });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const values: string[] = [];
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          eachMessage: async ({ message }) => {
            values.push(message.value!.toString());
            resolve();
          },
        })
        .catch(reject);
    });
    await consumer.disconnect();
    expect(values).toEqual([`${name}-record`]);
  });

  it('kafkajs with a wrong password and with an unknown user gets the same refusal', async () => {
    const failures: string[] = [];
    for (const sasl of [
      { mechanism: 'scram-sha-512', username: 'alice', password: 'wrong' },
      { mechanism: 'scram-sha-512', username: 'mallory', password: 'wrong' },
      { mechanism: 'plain', username: 'carol', password: 'wrong' },
      { mechanism: 'plain', username: 'mallory', password: 'wrong' },
    ] as const) {
      const admin = kafkajs(sasl).admin();
      const error = await admin.connect().then(
        () => undefined,
        (caught: unknown) => caught as Error & { type?: string },
      );
      await admin.disconnect();
      expect(error, JSON.stringify(sasl)).toBeDefined();
      failures.push(`${sasl.mechanism}: ${error!.message.replace(/\b(alice|mallory|carol)\b/g, 'USER')}`);
    }
    expect(failures[0]).toBe(failures[1]);
    expect(failures[2]).toBe(failures[3]);
    expect(failures[0]).toMatch(/SASL_AUTHENTICATION_FAILED|Authentication failed/);
    await logged(
      /"principal":"User:mallory","mechanism":"SCRAM-SHA-512","reason":"invalid credentials","msg":"failed authentication"/,
    );
    await logged(/"remote":"127\.0\.0\.1:\d+","principal":"User:alice","mechanism":"SCRAM-SHA-512"/);
  });

  it("a SCRAM credential @platformatic/kafka stores (AlterUserScramCredentials, salted here) logs kafkajs in; it describes alice's as gregor users stored it", async () => {
    const connection = new Connection('sasl-platformatic');
    await connection.connect('127.0.0.1', port('PLAINTEXT'));
    try {
      const salt = randomBytes(24);
      const stored = await alterUserScramCredentialsV0.api.async(
        connection,
        [],
        [
          {
            name: 'dora',
            mechanism: scramSha256,
            iterations: 4096,
            salt,
            saltedPassword: pbkdf2Sync('dora-secret', salt, 4096, 32, 'sha256'),
          },
        ],
      );
      expect(stored.results).toEqual([{ user: 'dora', errorCode: 0, errorMessage: null }]);
      const described = await describeUserScramCredentialsV0.api.async(connection, [{ name: 'alice' }]);
      expect(described.results).toEqual([
        {
          user: 'alice',
          errorCode: 0,
          errorMessage: null,
          credentialInfos: [{ mechanism: scramSha512, iterations: 8192 }],
        },
      ]);
    } finally {
      await connection.close();
    }
    const login = async (password: string) => {
      const admin = kafkajs({ mechanism: 'scram-sha-256', username: 'dora', password }).admin();
      try {
        await admin.connect();
        await admin.listTopics();
        return true;
      } catch {
        return false;
      } finally {
        await admin.disconnect();
      }
    };
    expect(await login('dora-secret')).toBe(true);
    expect(await login('wrong')).toBe(false);
  });

  it('kcat with a wrong password gets no metadata', async () => {
    const run = spawnSync(
      'kcat',
      // It waits its whole metadata timeout (-m, seconds) before it gives up: the refusal comes at once.
      ['-b', `localhost:${port('SASL_SSL')}`, '-L', '-m', '2', ...scramSsl('alice', 'wrong')],
      { encoding: 'utf8', timeout: clientTimeoutMs },
    );
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/Authentication failed|SASL authentication error/);
  });

  it('kafka-python produces and consumes over SASL_PLAINTEXT with PLAIN', () => {
    const script = `
import json, sys, time
from kafka import KafkaConsumer, KafkaProducer
common = dict(bootstrap_servers=sys.argv[1], security_protocol='SASL_PLAINTEXT', sasl_mechanism='PLAIN',
              sasl_plain_username=sys.argv[2], sasl_plain_password=sys.argv[3], api_version_auto_timeout_ms=10000)
producer = KafkaProducer(acks='all', **common)
producer.send('sasl-kafka-python', b'python-plain').get(timeout=30)
producer.close()
consumer = KafkaConsumer('sasl-kafka-python', auto_offset_reset='earliest', **common)
# Until the record came, then a second more: anything else in the log comes with it or right after.
values = []
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    polled = [r.value.decode() for records in consumer.poll(timeout_ms=1000).values() for r in records]
    if values and not polled:
        break
    values += polled
print(json.dumps(values))
consumer.close()
`;
    const bootstrap = `127.0.0.1:${port('SASL_PLAINTEXT')}`;
    const output = execFileSync('/usr/bin/python3', ['-c', script, bootstrap, 'carol', 'carol-secret'], {
      encoding: 'utf8',
      timeout: clientTimeoutMs,
    });
    expect(JSON.parse(output)).toEqual(['python-plain']);
    const refused = spawnSync('/usr/bin/python3', ['-c', script, bootstrap, 'carol', 'wrong'], {
      encoding: 'utf8',
      timeout: clientTimeoutMs,
    });
    expect(refused.status).not.toBe(0);
  });

  it('counts one good and one bad login in the socket-server metrics of the listener, exactly', async () => {
    const scrape = async () => {
      const text = await (await fetch(`http://127.0.0.1:${cluster.node(1).metricsPort}/metrics`)).text();
      const value = (name: string) => {
        const line = text
          .split('\n')
          .find((candidate) =>
            candidate.startsWith(
              `kafka_server_socket_server_metrics_${name}{listener="SASL_PLAINTEXT",networkProcessor="0"} `,
            ),
          );
        return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
      };
      return {
        created: value('connection_creation_total'),
        closed: value('connection_close_total'),
        open: value('connection_count'),
        succeeded: value('successful_authentication_total'),
        failed: value('failed_authentication_total'),
      };
    };
    const login = async (password: string) => {
      const connection = await KafkaConnection.open({ host: '127.0.0.1', port: port('SASL_PLAINTEXT') });
      try {
        await connection.call(ApiKey.SaslHandshake, 1, { mechanism: 'PLAIN' });
        const answer = await connection.call(ApiKey.SaslAuthenticate, 2, {
          authBytes: Buffer.from(`\u0000carol\u0000${password}`),
        });
        return answer.errorCode;
      } finally {
        connection.close();
      }
    };
    const before = await scrape();
    expect(await login('carol-secret')).toBe(ErrorCode.NONE);
    expect(await login('wrong')).toBe(ErrorCode.SASL_AUTHENTICATION_FAILED);
    // The broker sees the closes a moment after the client: wait for both, bounded.
    const deadline = Date.now() + 10_000;
    let after = await scrape();
    while (after.closed < before.closed + 2 && Date.now() < deadline) {
      await new Promise((done) => setTimeout(done, 50));
      after = await scrape();
    }
    expect(after).toEqual({
      created: before.created + 2,
      closed: before.closed + 2,
      open: before.open,
      succeeded: before.succeeded + 1,
      failed: before.failed + 1,
    });
  });

  it('refuses any other request before authentication, closing the connection', async () => {
    const connection = await KafkaConnection.open({ host: '127.0.0.1', port: port('SASL_PLAINTEXT') });
    try {
      const versions = await connection.call(ApiKey.ApiVersions, 0, {});
      expect(versions.errorCode).toBe(ErrorCode.NONE);
      await expect(connection.call(ApiKey.Metadata, 1, { topics: [] }, 5_000)).rejects.toThrow();
    } finally {
      connection.close();
    }
    await logged(/"reason":"Metadata request before SASL authentication completed"/);
  });

  it('closes a connection that sends a frame above sasl.server.max.receive.size before authenticating', async () => {
    const socket = connect({ host: '127.0.0.1', port: port('SASL_PLAINTEXT') });
    await once(socket, 'connect');
    const header = Buffer.alloc(4);
    header.writeInt32BE(10 * 1024 * 1024, 0);
    socket.write(header);
    await once(socket, 'close');
    await logged(/frame of 10485760 bytes exceeds sasl.server.max.receive.size 524288/);
  });
});

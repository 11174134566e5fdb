// PLAIN users from a JAAS file, as Kafka users configure them: a broker process started with
// KAFKA_OPTS=-Djava.security.auth.login.config=<file> (what kafka-server-start.sh passes to the
// JVM, and what the apache/kafka image's users set) and no sasl.jaas.config key, its SASL_PLAINTEXT
// listener offering PLAIN. The file's KafkaServer section names the users, as Kafka's
// documentation writes kafka_server_jaas.conf. kcat (librdkafka) and kafkajs authenticate with a
// user from the file, produce and read back; a wrong password and a user the file does not name
// are refused with SASL_AUTHENTICATION_FAILED.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCluster } from '../testing/process-cluster.js';

const clientTimeoutMs = 60_000;

const jaasFile = `// The broker's JAAS configuration, kafka_server_jaas.conf in Kafka's documentation.
KafkaServer {
   org.apache.kafka.common.security.plain.PlainLoginModule required
   username="admin"
   password="admin-secret"
   user_admin="admin-secret"
   user_alice="alice-secret";
};
`;

let dir: string;
let cluster: ProcessCluster;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gregor-jaas-it-'));
  const jaasPath = join(dir, 'kafka_server_jaas.conf');
  writeFileSync(jaasPath, jaasFile);
  cluster = await ProcessCluster.start({
    nodeCount: 1,
    env: { KAFKA_OPTS: `-Xmx256m -Djava.security.auth.login.config=${jaasPath}` },
    properties: {
      listeners: 'PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0',
      'listener.security.protocol.map':
        'PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT',
      'sasl.enabled.mechanisms': 'PLAIN',
      'offsets.topic.replication.factor': '1',
      'offsets.topic.num.partitions': '1',
    },
  });
});

afterAll(async () => {
  await cluster?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

const saslAddress = () => `127.0.0.1:${cluster.node(1).listenerPorts.SASL_PLAINTEXT}`;

function kafkajs(username: string, password: string): Kafka {
  return new Kafka({
    clientId: 'jaas-file',
    brokers: [saslAddress()],
    sasl: { mechanism: 'plain', username, password },
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
  });
}

describe('PLAIN users from the JAAS file in KAFKA_OPTS', () => {
  it('kcat authenticates as a user of the file, produces and consumes', () => {
    const sasl = [
      '-X',
      'security.protocol=SASL_PLAINTEXT',
      '-X',
      'sasl.mechanisms=PLAIN',
      '-X',
      'sasl.username=alice',
      '-X',
      'sasl.password=alice-secret',
    ];
    execFileSync('kcat', ['-b', saslAddress(), ...sasl, '-P', '-t', 'jaas-kcat', '-p', '0'], {
      input: 'one\ntwo\n',
      timeout: clientTimeoutMs,
    });
    const read = execFileSync(
      'kcat',
      ['-b', saslAddress(), ...sasl, '-C', '-t', 'jaas-kcat', '-p', '0', '-o', 'beginning', '-c', '2', '-e'],
      { encoding: 'utf8', timeout: clientTimeoutMs },
    );
    expect(read).toBe('one\ntwo\n');
  });

  it('kafkajs authenticates as a user of the file; a wrong password and an unknown user are refused', async () => {
    const admin = kafkajs('admin', 'admin-secret').admin();
    await admin.connect();
    try {
      await admin.createTopics({
        topics: [{ topic: 'jaas-kafkajs', numPartitions: 1 }],
        waitForLeaders: true,
      });
    } finally {
      await admin.disconnect();
    }
    const producer = kafkajs('alice', 'alice-secret').producer();
    await producer.connect();
    const [sent] = await producer.send({ topic: 'jaas-kafkajs', messages: [{ value: 'from alice' }] });
    await producer.disconnect();
    expect(sent!.errorCode).toBe(0);

    const failures: string[] = [];
    for (const [username, password] of [
      ['alice', 'wrong'],
      ['mallory', 'alice-secret'],
    ] as const) {
      const refused = kafkajs(username, password).producer();
      const error = await refused.connect().then(
        () => undefined,
        (failure: Error) => failure,
      );
      await refused.disconnect();
      expect(error?.name).toBe('KafkaJSSASLAuthenticationError');
      failures.push(error!.message);
    }
    // The same refusal for both: the broker does not say which users exist.
    expect(failures[0]).toMatch(/SASL_AUTHENTICATION_FAILED|Authentication failed/);
    expect(failures[1]).toBe(failures[0]!.replace('alice', 'mallory'));
  });
});

// TLS and SASL against a real Gregor broker process configured with Kafka's keys: an SSL listener,
// a SASL_SSL listener offering SCRAM-SHA-512, SCRAM-SHA-256 and PLAIN, a SASL_PLAINTEXT listener
// offering PLAIN only, and PLAINTEXT for `gregor users`, which stores the SCRAM credentials. The
// certificates are made with openssl. Each case produces with acks=all and reads the record back
// in a consumer group over the same security settings; refusals are typed and are not retried.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  KafkaJSConnectionError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSSASLAuthenticationError,
} from '../errors.js';
import { Kafka, type KafkaConfig } from '../kafka.js';
import { logLevel } from '../logger.js';
import type { PasswordSASLOptions } from '../sasl/sasl-authenticator.js';
import { BrokerProcesses } from '../testing/broker-processes.js';
import { makeTestCertificates, type TestCertificates } from '../testing/test-certificates.js';

const plainJaas =
  'org.apache.kafka.common.security.plain.PlainLoginModule required ' +
  'user_carol="carol-secret" user_dave="dave-secret";';

let certs: TestCertificates;
let brokers: BrokerProcesses;

beforeAll(async () => {
  certs = makeTestCertificates();
  brokers = await BrokerProcesses.start(1, {
    properties: {
      listeners:
        'PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,SASL_SSL://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0',
      'listener.security.protocol.map':
        'PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT',
      'ssl.keystore.type': 'PEM',
      'ssl.keystore.location': certs.brokerKeystore,
      'listener.name.sasl_ssl.sasl.enabled.mechanisms': 'SCRAM-SHA-512,SCRAM-SHA-256,PLAIN',
      'listener.name.sasl_ssl.plain.sasl.jaas.config': plainJaas,
      'listener.name.sasl_plaintext.sasl.enabled.mechanisms': 'PLAIN',
      'listener.name.sasl_plaintext.plain.sasl.jaas.config': plainJaas,
      'offsets.topic.num.partitions': '1',
      'group.initial.rebalance.delay.ms': '0',
    },
  });
  for (const [user, config] of [
    ['alice', 'SCRAM-SHA-512=[iterations=8192,password=alice-secret]'],
    ['bob', 'SCRAM-SHA-256=[password=bob-secret]'],
  ] as const) {
    brokers.cli([
      'users',
      '--alter',
      '--entity-type',
      'users',
      '--entity-name',
      user,
      '--add-config',
      config,
    ]);
  }
}, 120_000);

afterAll(async () => {
  await brokers?.stop();
  certs?.remove();
});

function client(listener: string, security: Pick<KafkaConfig, 'ssl' | 'sasl'>, retries = 8): Kafka {
  return new Kafka({
    clientId: 'security-it',
    brokers: [brokers.listenerAddress(1, listener)],
    logLevel: logLevel.NOTHING,
    retry: { initialRetryTime: 100, retries },
    ...security,
  });
}

/** Produces one record (acks=all) and reads it back in a new group; resolves with what was read. */
async function roundTrip(kafka: Kafka, topic: string): Promise<string[]> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }] });
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic, acks: -1, messages: [{ key: 'k', value: `${topic}-value` }] });
  await producer.disconnect();
  const consumer = kafka.consumer({ groupId: `${topic}-group` });
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
  return values;
}

/** What connect() rejects with (admin: its first connection authenticates). */
async function connectError(kafka: Kafka): Promise<Error> {
  const admin = kafka.admin();
  const error = await admin.connect().then(
    () => undefined,
    (caught: unknown) => caught as Error,
  );
  await admin.disconnect();
  if (error === undefined) throw new Error('connect() succeeded');
  return error;
}

describe('TLS', () => {
  it('produces and consumes over an SSL listener, trusting the CA given in ssl.ca', async () => {
    const kafka = client('SSL', { ssl: { ca: [certs.caPem] } });
    expect(await roundTrip(kafka, 'tls-topic')).toEqual(['tls-topic-value']);
  });

  it('refuses a broker whose certificate no configured CA signed', async () => {
    // A failed handshake is a connection error, retried as kafkajs retries it: once is enough here.
    const error = await connectError(client('SSL', { ssl: { ca: [certs.otherCaPem] } }, 1));
    expect(error).toBeInstanceOf(KafkaJSNumberOfRetriesExceeded);
    expect(error.cause).toBeInstanceOf(KafkaJSConnectionError);
    expect(error.message).toMatch(/no broker reachable: .*certificate/);
  });
});

describe('SASL', () => {
  it.each([
    ['PLAIN', { mechanism: 'plain', username: 'carol', password: 'carol-secret' }],
    ['SCRAM-SHA-256', { mechanism: 'scram-sha-256', username: 'bob', password: 'bob-secret' }],
    ['SCRAM-SHA-512', { mechanism: 'scram-sha-512', username: 'alice', password: 'alice-secret' }],
  ] as const)('produces and consumes over SASL_SSL with %s', async (name, sasl) => {
    const topic = `sasl-ssl-${name.toLowerCase()}`;
    const kafka = client('SASL_SSL', { ssl: { ca: [certs.caPem] }, sasl });
    expect(await roundTrip(kafka, topic)).toEqual([`${topic}-value`]);
  });

  it('produces and consumes over SASL_PLAINTEXT with PLAIN', async () => {
    const kafka = client('SASL_PLAINTEXT', {
      sasl: { mechanism: 'plain', username: 'dave', password: 'dave-secret' },
    });
    expect(await roundTrip(kafka, 'sasl-plaintext')).toEqual(['sasl-plaintext-value']);
  });

  it('a wrong password and an unknown user fail at once with SASL_AUTHENTICATION_FAILED, not retried', async () => {
    const cases: [string, PasswordSASLOptions][] = [
      ['SASL_SSL', { mechanism: 'scram-sha-512', username: 'alice', password: 'wrong' }],
      ['SASL_SSL', { mechanism: 'scram-sha-512', username: 'mallory', password: 'wrong' }],
      ['SASL_SSL', { mechanism: 'scram-sha-256', username: 'alice', password: 'alice-secret' }],
      ['SASL_PLAINTEXT', { mechanism: 'plain', username: 'carol', password: 'wrong' }],
      ['SASL_PLAINTEXT', { mechanism: 'plain', username: 'mallory', password: 'wrong' }],
    ];
    for (const [listener, sasl] of cases) {
      const kafka = new Kafka({
        brokers: [brokers.listenerAddress(1, listener)],
        ssl: listener === 'SASL_SSL' ? { ca: [certs.caPem] } : false,
        sasl,
        logLevel: logLevel.NOTHING,
        // Were the refusal retried, connect() would take a minute; it must fail on the first answer.
        retry: { initialRetryTime: 60_000, retries: 5 },
      });
      const error = await connectError(kafka);
      expect(error, JSON.stringify(sasl)).toBeInstanceOf(KafkaJSSASLAuthenticationError);
      const refusal = error as KafkaJSSASLAuthenticationError;
      expect(refusal.type).toBe('SASL_AUTHENTICATION_FAILED');
      expect(refusal.retriable).toBe(false);
      expect(refusal.message).toContain(`authentication of ${sasl.username}`);
      expect(refusal.message).toMatch(/invalid credentials/);
    }
  });

  it('a mechanism the listener does not offer fails with UNSUPPORTED_SASL_MECHANISM, naming what it offers', async () => {
    const kafka = client('SASL_PLAINTEXT', {
      sasl: { mechanism: 'scram-sha-512', username: 'alice', password: 'alice-secret' },
    });
    const error = await connectError(kafka);
    expect(error).toBeInstanceOf(KafkaJSSASLAuthenticationError);
    const refusal = error as KafkaJSSASLAuthenticationError;
    expect(refusal.type).toBe('UNSUPPORTED_SASL_MECHANISM');
    expect(refusal.enabledMechanisms).toEqual(['PLAIN']);
    expect(refusal.message).toMatch(/SCRAM-SHA-512 is not enabled .* \(it offers: PLAIN\)/);
  });
});

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestCertificates, type TestCertificates } from '../testing/test-certificates.js';
import { brokerConfigFrom } from './broker-config.js';
import { ConfigError } from './config-def.js';
import { listenerTls } from './listener-tls.js';

let certs: TestCertificates;

beforeAll(() => {
  certs = makeTestCertificates();
});

afterAll(() => certs.remove());

const tlsListeners = {
  'node.id': '1',
  'process.roles': 'broker,controller',
  'cluster.id': 'gregor-test',
  'controller.quorum.voters': '1@127.0.0.1:9192',
  'log.dirs': '/tmp/gregor-tls-config',
  listeners: 'PLAINTEXT://:9092,SSL://:9093,MTLS://:9094,CONTROLLER://:9192',
  'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,SSL:SSL,MTLS:SSL,CONTROLLER:PLAINTEXT',
};

function messagesOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((problem) => problem.message);
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('TLS listeners from Kafka ssl.* keys', () => {
  it('reads a PEM keystore file and truststore, and per-listener keys win over the plain ones', () => {
    const config = brokerConfigFrom(
      new Map(
        Object.entries({
          ...tlsListeners,
          'ssl.keystore.type': 'PEM',
          'ssl.keystore.location': certs.broker.keystore,
          'ssl.truststore.type': 'PEM',
          'ssl.truststore.location': certs.caCertificate,
          'listener.name.mtls.ssl.client.auth': 'required',
          'listener.name.mtls.ssl.principal.mapping.rules': 'RULE:^CN=([^,]*),.*$/$1/L',
          'listener.name.mtls.ssl.enabled.protocols': 'TLSv1.3',
        }),
      ),
    );
    expect([...config.listenerTls.keys()]).toEqual(['SSL', 'MTLS']);
    const ssl = config.listenerTls.get('SSL')!;
    const mtls = config.listenerTls.get('MTLS')!;
    expect(ssl.clientAuth).toBe('none');
    expect(mtls.clientAuth).toBe('required');
    expect(ssl.secureContext).toMatchObject({ minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3' });
    expect(mtls.secureContext).toMatchObject({ minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' });
    expect(mtls.principalMapper.map('CN=Alice,O=Acme')).toEqual({ ok: true, name: 'alice' });
    expect(ssl.principalMapper.map('CN=Alice,O=Acme')).toEqual({ ok: true, name: 'CN=Alice,O=Acme' });
    expect(ssl.secureContext.key).toContain('PRIVATE KEY');
    expect(ssl.secureContext.ca).toEqual([readFileSync(certs.caCertificate, 'utf8').trim()]);
    expect(config.keysWithoutEffect).toEqual([]);
  });

  it('reads inline PEM (ssl.keystore.key, ssl.keystore.certificate.chain, ssl.truststore.certificates)', () => {
    const raw = new Map(
      Object.entries({
        'ssl.keystore.key': readFileSync(certs.broker.key, 'utf8'),
        'ssl.keystore.certificate.chain': readFileSync(certs.broker.certificate, 'utf8'),
        'ssl.truststore.certificates': readFileSync(certs.caCertificate, 'utf8'),
        'ssl.client.auth': 'requested',
      }),
    );
    const tls = listenerTls(raw, 'SSL');
    expect(tls.clientAuth).toBe('requested');
    expect(tls.description).toBe('inline PEM keystore (ssl.keystore.certificate.chain)');
  });

  it('reads an encrypted PEM key with ssl.key.password and a PKCS12 keystore with ssl.keystore.password', () => {
    const encrypted = listenerTls(
      new Map([
        ['ssl.keystore.location', certs.brokerEncryptedKeystore('key-secret')],
        ['ssl.key.password', 'key-secret'],
      ]),
      'SSL',
    );
    expect(encrypted.secureContext.passphrase).toBe('key-secret');
    const pkcs12 = listenerTls(
      new Map([
        ['ssl.keystore.type', 'PKCS12'],
        ['ssl.keystore.location', certs.brokerPkcs12('store-secret')],
        ['ssl.keystore.password', 'store-secret'],
      ]),
      'SSL',
    );
    expect(pkcs12.description).toMatch(/^PKCS12 keystore /);
  });

  it('refuses what cannot work, naming the key', () => {
    const jks = join(certs.dir, 'broker.jks');
    writeFileSync(jks, Buffer.from([0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2]));
    const cases: [Record<string, string>, RegExp][] = [
      [{}, /ssl.keystore.location: is required for an SSL or SASL_SSL listener/],
      [
        { 'ssl.keystore.location': '/nonexistent.pem' },
        /ssl.keystore.location: cannot read \/nonexistent.pem/,
      ],
      [{ 'ssl.keystore.location': jks }, /is a Java JKS keystore, which only a JVM reads; convert it/],
      [
        { 'ssl.keystore.location': certs.brokerEncryptedKeystore('right'), 'ssl.key.password': 'wrong' },
        /ssl.keystore.location: the keystore cannot be used/,
      ],
      [
        { 'ssl.keystore.location': certs.broker.keystore, 'ssl.client.auth': 'required' },
        /ssl.client.auth: is required, which needs a truststore/,
      ],
      [
        { 'ssl.keystore.location': certs.broker.keystore, 'ssl.client.auth': 'sometimes' },
        /ssl.client.auth: must be required, requested or none, got 'sometimes'/,
      ],
      [
        { 'ssl.keystore.location': certs.broker.keystore, 'ssl.enabled.protocols': 'TLSv1.1,TLSv1.3' },
        /ssl.enabled.protocols: must name consecutive TLS versions/,
      ],
      [
        { 'ssl.keystore.location': certs.broker.keystore, 'ssl.truststore.type': 'JKS' },
        /ssl.truststore.type: must be PEM, got 'JKS'/,
      ],
      [
        {
          'ssl.keystore.location': certs.broker.keystore,
          'listener.name.ssl.ssl.principal.mapping.rules': 'NOPE',
        },
        /listener.name.ssl.ssl.principal.mapping.rules: invalid rule: NOPE/,
      ],
      [
        { 'ssl.keystore.key': readFileSync(certs.broker.key, 'utf8') },
        /ssl.keystore.key: ssl.keystore.certificate.chain and ssl.keystore.key must be set together/,
      ],
    ];
    for (const [settings, expected] of cases) {
      const messages = messagesOf(() => listenerTls(new Map(Object.entries(settings)), 'SSL'));
      expect(messages.join('\n'), JSON.stringify(settings)).toMatch(expected);
    }
  });
});

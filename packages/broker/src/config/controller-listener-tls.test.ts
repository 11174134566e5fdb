import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestCertificates, type TestCertificates } from '../testing/test-certificates.js';
import { brokerConfigFrom } from './broker-config.js';
import { ConfigError } from './config-def.js';

let certs: TestCertificates;

beforeAll(() => {
  certs = makeTestCertificates();
});

afterAll(() => certs.remove());

const node = {
  'node.id': '1',
  'process.roles': 'broker,controller',
  'cluster.id': 'gregor-test',
  'controller.quorum.voters': '1@127.0.0.1:9192',
  'log.dirs': '/tmp/gregor-controller-tls-config',
  listeners: 'PLAINTEXT://:9092,CONTROLLER://:9192',
};

const sslController = () => ({
  ...node,
  'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:SSL',
  'ssl.keystore.type': 'PEM',
  'ssl.keystore.location': certs.broker.keystore,
  'ssl.truststore.type': 'PEM',
  'ssl.truststore.location': certs.caCertificate,
  'ssl.client.auth': 'required',
});

function config(settings: Record<string, string | undefined>) {
  const raw = new Map<string, string>();
  for (const [key, value] of Object.entries(settings)) if (value !== undefined) raw.set(key, value);
  return brokerConfigFrom(raw);
}

function messagesOf(run: () => unknown): string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((problem) => problem.message);
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('the controller listener over TLS', () => {
  it('is PLAINTEXT by default, with no TLS for the nodes gRPC', () => {
    const parsed = config(node);
    expect(parsed.listenerSecurityProtocols.get('CONTROLLER')).toBe('PLAINTEXT');
    expect(parsed.controllerTls).toBeUndefined();
  });

  it('maps to SSL with the ssl.* keys: mutual with ssl.client.auth=required, hostnames checked by default', () => {
    const parsed = config(sslController());
    expect(parsed.listenerSecurityProtocols.get('CONTROLLER')).toBe('SSL');
    const tls = parsed.controllerTls!;
    expect(tls.listenerName).toBe('CONTROLLER');
    expect(tls.tls.clientAuth).toBe('required');
    expect(tls.tls.secureContext.key).toContain('PRIVATE KEY');
    expect(tls.tls.secureContext.ca).toHaveLength(1);
    // Kafka's default ssl.endpoint.identification.algorithm is https.
    expect(tls.verifyPeerHostname).toBe(true);
    expect(parsed.keysWithoutEffect).toEqual([]);
  });

  it('takes listener.name.controller.* over the plain keys, and an empty algorithm turns the hostname check off', () => {
    const parsed = config({
      ...sslController(),
      listeners: 'PLAINTEXT://:9092,MTLS://:9093,CONTROLLER://:9192',
      'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,MTLS:SSL,CONTROLLER:SSL',
      'ssl.client.auth': 'requested',
      'listener.name.controller.ssl.client.auth': 'required',
      'listener.name.controller.ssl.endpoint.identification.algorithm': '',
      'ssl.endpoint.identification.algorithm': 'https',
    });
    expect(parsed.controllerTls!.tls.clientAuth).toBe('required');
    expect(parsed.listenerTls.get('MTLS')!.clientAuth).toBe('requested');
    expect(parsed.controllerTls!.verifyPeerHostname).toBe(false);
    // The plain key is overridden for the only listener it could apply to.
    expect(parsed.keysWithoutEffect.map(({ key }) => key)).toEqual([]);
  });

  it('reads a PKCS12 keystore and an encrypted PEM key there too (Node secure context, not PEM buffers)', () => {
    const pkcs12 = config({
      ...sslController(),
      'ssl.keystore.type': 'PKCS12',
      'ssl.keystore.location': certs.brokerPkcs12('store-secret'),
      'ssl.keystore.password': 'store-secret',
    });
    expect(pkcs12.controllerTls!.tls.secureContext.pfx).toBeInstanceOf(Buffer);
    const encrypted = config({
      ...sslController(),
      'ssl.keystore.location': certs.brokerEncryptedKeystore('key-secret'),
      'ssl.key.password': 'key-secret',
    });
    expect(encrypted.controllerTls!.tls.secureContext.passphrase).toBe('key-secret');
  });

  it.each([
    [
      { 'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:SASL_SSL' },
      /listener.security.protocol.map: controller listener CONTROLLER is SASL_SSL, but it serves gRPC between nodes .* not SASL: use SSL/,
    ],
    [
      { 'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:SASL_PLAINTEXT' },
      /controller listener CONTROLLER is SASL_PLAINTEXT/,
    ],
    [
      { 'ssl.client.auth': 'requested' },
      /ssl.client.auth: is requested on controller listener CONTROLLER, whose gRPC peers are other nodes: use required .*listener.name.controller.ssl.client.auth/,
    ],
    [
      { 'ssl.endpoint.identification.algorithm': 'ldaps' },
      /ssl.endpoint.identification.algorithm: must be https .* or empty .*, got 'ldaps'/,
    ],
    [
      { 'ssl.keystore.location': undefined },
      /ssl.keystore.location: is required for an SSL or SASL_SSL listener/,
    ],
    [{ 'ssl.truststore.location': undefined }, /ssl.client.auth: is required, which needs a truststore/],
  ])('refuses %o naming the key', (overrides, message) => {
    expect(messagesOf(() => config({ ...sslController(), ...overrides })).join('\n')).toMatch(message);
  });

  it('says which controller-only keys do nothing while the controller listener is PLAINTEXT', () => {
    const parsed = config({
      ...node,
      'ssl.endpoint.identification.algorithm': '',
      'listener.name.controller.ssl.client.auth': 'required',
    });
    const reasons = Object.fromEntries(parsed.keysWithoutEffect.map(({ key, reason }) => [key, reason]));
    expect(reasons['ssl.endpoint.identification.algorithm']).toMatch(
      /only when the controller listener is SSL/,
    );
    expect(reasons['listener.name.controller.ssl.client.auth']).toMatch(/no listener it applies to is SSL/);
    const mapping = config({
      ...sslController(),
      'listener.name.controller.ssl.principal.mapping.rules': 'RULE:^CN=(.*)$/$1/',
    });
    expect(mapping.keysWithoutEffect).toEqual([
      {
        key: 'listener.name.controller.ssl.principal.mapping.rules',
        reason: 'the controller listener serves gRPC between nodes, whose calls carry no principal',
      },
    ]);
  });
});

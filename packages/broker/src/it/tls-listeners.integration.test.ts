// TLS listeners on a real broker process, configured with Kafka's keys: a PLAINTEXT listener, an
// SSL listener (server certificate only) and an mTLS listener (SSL with ssl.client.auth=required
// and ssl.principal.mapping.rules), all on one node, with certificates openssl makes here. kcat
// and confluent-kafka-python connect as their documentation says (security.protocol=ssl,
// ssl.ca.location, ssl.certificate.location, ssl.key.location) and produce and consume, with and
// without a client certificate; a client
// without a certificate, with one from an unknown CA, with an expired one, or with a subject the
// mapping rules do not map is refused on the mTLS listener, and the broker logs each refusal with
// the client's address. The node's PLAINTEXT CONTROLLER listener says at start-up that the nodes'
// gRPC is unencrypted and unauthenticated.

import { execFileSync, spawnSync } from 'node:child_process';
import { waitFor } from '@gregor/ground/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCluster } from '../testing/process-cluster.js';
import { makeTestCertificates, type TestCertificates } from '../testing/test-certificates.js';

const kcatTimeoutMs = 30_000;
const pythonTimeoutMs = 60_000;
const pythonClient = new URL('./python/confluent_kafka_client.py', import.meta.url).pathname;

let certs: TestCertificates;
let cluster: ProcessCluster;

beforeAll(async () => {
  certs = makeTestCertificates();
  cluster = await ProcessCluster.start({
    nodeCount: 1,
    properties: {
      listeners: 'PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,MTLS://127.0.0.1:0,CONTROLLER://127.0.0.1:0',
      'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,SSL:SSL,MTLS:SSL,CONTROLLER:PLAINTEXT',
      'ssl.keystore.type': 'PEM',
      'ssl.keystore.location': certs.broker.keystore,
      'ssl.truststore.type': 'PEM',
      'ssl.truststore.location': certs.caCertificate,
      'listener.name.mtls.ssl.client.auth': 'required',
      'listener.name.mtls.ssl.principal.mapping.rules': 'RULE:^CN=([^,]*),OU=Eng,.*$/$1/L',
      'offsets.topic.replication.factor': '1',
      'offsets.topic.num.partitions': '1',
      'group.initial.rebalance.delay.ms': '0',
    },
  });
});

afterAll(async () => {
  await cluster?.close();
  certs?.remove();
});

const port = (listener: string) => cluster.node(1).listenerPorts[listener]!;

function kcat(listener: string, args: readonly string[], input?: string): string {
  return execFileSync('kcat', ['-b', `localhost:${port(listener)}`, ...args], {
    input,
    timeout: kcatTimeoutMs,
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

function python(command: object): Record<string, unknown> {
  const output = execFileSync('/usr/bin/python3', [pythonClient], {
    input: JSON.stringify(command),
    timeout: pythonTimeoutMs,
    encoding: 'utf8',
  });
  return JSON.parse(output) as Record<string, unknown>;
}

function clientCertificate(name: string, subject: string): string[] {
  const client = certs.client(name, subject);
  return ['-X', `ssl.certificate.location=${client.certificate}`, '-X', `ssl.key.location=${client.key}`];
}

const sslOptions = () => ['-X', 'security.protocol=ssl', '-X', `ssl.ca.location=${certs.caCertificate}`];

/**
 * kcat -L that must fail: it keeps retrying the refused handshake until its metadata timeout (-m,
 * whole seconds), which it always waits out; the handshake itself takes milliseconds.
 */
function refusedMetadata(listener: string, extra: readonly string[]): string {
  const run = spawnSync(
    'kcat',
    ['-b', `localhost:${port(listener)}`, '-L', '-m', '2', ...sslOptions(), ...extra],
    { timeout: kcatTimeoutMs, encoding: 'utf8' },
  );
  expect(run.status, run.stdout).not.toBe(0);
  return run.stderr;
}

async function loggedRefusal(pattern: RegExp): Promise<void> {
  await waitFor(`a log line matching ${pattern}`, () => pattern.test(cluster.node(1).output.join('')), {
    timeoutMs: 10_000,
    intervalMs: 100,
    detail: () => cluster.tail(),
  });
}

describe('SSL listeners', () => {
  it('kcat produces and consumes over SSL, and Metadata names the SSL endpoint', () => {
    const metadata = JSON.parse(kcat('SSL', ['-L', '-J', ...sslOptions()])) as {
      brokers: { id: number; name: string }[];
    };
    expect(metadata.brokers).toEqual([{ id: 1, name: `127.0.0.1:${port('SSL')}` }]);
    const records = ['tls-one', 'tls-two', 'tls-three'];
    kcat('SSL', ['-P', '-t', 'over-ssl', '-X', 'acks=all', ...sslOptions()], `${records.join('\n')}\n`);
    const consumed = kcat('SSL', ['-C', '-t', 'over-ssl', '-o', 'beginning', '-e', '-q', ...sslOptions()]);
    expect(consumed.trim().split('\n')).toEqual(records);
    // The same records through the PLAINTEXT listener: one log, several listeners.
    const plain = execFileSync(
      'kcat',
      ['-b', `127.0.0.1:${port('PLAINTEXT')}`, '-C', '-t', 'over-ssl', '-o', 'beginning', '-e', '-q'],
      { timeout: kcatTimeoutMs, encoding: 'utf8' },
    );
    expect(plain.trim().split('\n')).toEqual(records);
  });

  it('kcat with a client certificate produces and consumes over mTLS', () => {
    const options = [...sslOptions(), ...clientCertificate('kcat', '/C=US/O=Acme/OU=Eng/CN=Kcat')];
    kcat('MTLS', ['-P', '-t', 'over-mtls', '-X', 'acks=all', ...options], 'mtls-record\n');
    const consumed = kcat('MTLS', ['-C', '-t', 'over-mtls', '-o', 'beginning', '-e', '-q', ...options]);
    expect(consumed.trim()).toBe('mtls-record');
  });

  it('confluent-kafka-python produces and consumes in a group over mTLS', () => {
    const client = certs.client('python', '/C=US/O=Acme/OU=Eng/CN=Python');
    const clientConfig = {
      'security.protocol': 'SSL',
      'ssl.ca.location': certs.caCertificate,
      'ssl.certificate.location': client.certificate,
      'ssl.key.location': client.key,
    };
    const bootstrap = `localhost:${port('MTLS')}`;
    const produced = python({
      op: 'produce',
      bootstrap,
      client_config: clientConfig,
      topic: 'python-mtls',
      records: [0, 1, 2].map((index) => ({ partition: 0, key: `k${index}`, value: `v${index}` })),
    });
    expect((produced.delivered as unknown[]).length).toBe(3);
    const consumed = python({
      op: 'group_consume',
      bootstrap,
      client_config: clientConfig,
      topic: 'python-mtls',
      group: 'python-mtls-group',
      count: 3,
      timeout_ms: 30_000,
    });
    expect((consumed.records as { value: string }[]).map((record) => record.value)).toEqual([
      'v0',
      'v1',
      'v2',
    ]);
    expect(consumed.committed).toEqual({ '0': 3 });
  });

  it('confluent-kafka-python produces and consumes in a group over one-way SSL, without a certificate', () => {
    const clientConfig = { 'security.protocol': 'SSL', 'ssl.ca.location': certs.caCertificate };
    const bootstrap = `localhost:${port('SSL')}`;
    const produced = python({
      op: 'produce',
      bootstrap,
      client_config: clientConfig,
      topic: 'python-ssl',
      records: [0, 1].map((index) => ({ partition: 0, key: `k${index}`, value: `one-way-${index}` })),
    });
    expect((produced.delivered as unknown[]).length).toBe(2);
    const consumed = python({
      op: 'group_consume',
      bootstrap,
      client_config: clientConfig,
      topic: 'python-ssl',
      group: 'python-ssl-group',
      count: 2,
      timeout_ms: 30_000,
    });
    expect((consumed.records as { value: string }[]).map((record) => record.value)).toEqual([
      'one-way-0',
      'one-way-1',
    ]);
    expect(consumed.committed).toEqual({ '0': 2 });
  });

  it('refuses a client without a certificate on the mTLS listener, and logs it', async () => {
    refusedMetadata('MTLS', []);
    await loggedRefusal(/no client certificate \(ssl.client.auth=required\).*client certificate refused/);
  });

  it('refuses a certificate from a CA the truststore does not hold', async () => {
    const rogue = certs.untrustedClient('/C=US/O=Rogue/OU=Eng/CN=mallory');
    refusedMetadata('MTLS', [
      '-X',
      `ssl.certificate.location=${rogue.certificate}`,
      '-X',
      `ssl.key.location=${rogue.key}`,
    ]);
    await loggedRefusal(/CN=mallory.*UNABLE_TO_VERIFY_LEAF_SIGNATURE.*client certificate refused/);
  });

  it('refuses an expired certificate', async () => {
    const expired = certs.expiredClient('/C=US/O=Acme/OU=Eng/CN=late');
    refusedMetadata('MTLS', [
      '-X',
      `ssl.certificate.location=${expired.certificate}`,
      '-X',
      `ssl.key.location=${expired.key}`,
    ]);
    await loggedRefusal(/CN=late.*CERT_HAS_EXPIRED.*client certificate refused/);
  });

  it('refuses a trusted certificate whose subject no ssl.principal.mapping.rules rule maps', async () => {
    refusedMetadata('MTLS', clientCertificate('sales', '/C=US/O=Acme/OU=Sales/CN=Bob'));
    await loggedRefusal(/no ssl.principal.mapping.rules rule applies to CN=Bob,OU=Sales,O=Acme,C=US/);
  });

  it("says at start-up that the PLAINTEXT CONTROLLER listener serves the nodes' gRPC unencrypted", () => {
    const line = cluster
      .node(1)
      .output.join('')
      .split('\n')
      .find((candidate) => candidate.includes("serves the nodes' gRPC in PLAINTEXT"));
    expect(line, cluster.tail()).toBeDefined();
    expect(JSON.parse(line!)).toMatchObject({
      level: 30,
      listener: 'CONTROLLER',
      msg: "listener CONTROLLER serves the nodes' gRPC in PLAINTEXT: unencrypted and unauthenticated, for local development (map it to SSL for TLS between nodes)",
    });
  });

  it('still serves PLAINTEXT clients on the PLAINTEXT listener', () => {
    const metadata = execFileSync('kcat', ['-b', `127.0.0.1:${port('PLAINTEXT')}`, '-L', '-J'], {
      timeout: kcatTimeoutMs,
      encoding: 'utf8',
    });
    expect(JSON.parse(metadata).brokers).toEqual([{ id: 1, name: `127.0.0.1:${port('PLAINTEXT')}` }]);
  });
});

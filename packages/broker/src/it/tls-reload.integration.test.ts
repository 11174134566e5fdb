// Certificate renewal on a running broker process: its SSL listener's PEM keystore file is replaced
// (renamed over, as a certificate tool does) with a renewed certificate, and new connections get
// the new one without a restart while kcat keeps producing; a replacement that cannot be used (a
// key that does not match the certificate) is logged and the listener keeps serving the previous
// certificate.

import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { waitFor } from '@gregor/ground/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCluster } from '../testing/process-cluster.js';
import { makeTestCertificates, type TestCertificates } from '../testing/test-certificates.js';

const kcatTimeoutMs = 30_000;
/** Files are polled every 5 s: a renewal shows well within this. */
const reloadTimeoutMs = 30_000;

let certs: TestCertificates;
let cluster: ProcessCluster;
let keystore: string;

beforeAll(async () => {
  certs = makeTestCertificates();
  keystore = join(certs.dir, 'served.keystore.pem');
  copyFileSync(certs.broker.keystore, keystore);
  cluster = await ProcessCluster.start({
    nodeCount: 1,
    properties: {
      listeners: 'PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0,CONTROLLER://127.0.0.1:0',
      'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,SSL:SSL,CONTROLLER:PLAINTEXT',
      'ssl.keystore.type': 'PEM',
      'ssl.keystore.location': keystore,
      'ssl.truststore.type': 'PEM',
      'ssl.truststore.location': certs.caCertificate,
      'offsets.topic.replication.factor': '1',
    },
  });
});

afterAll(async () => {
  await cluster?.close();
  certs?.remove();
});

const sslPort = () => cluster.node(1).listenerPorts.SSL!;
const nodeLog = () => cluster.node(1).output.join('');

/** The common name of the certificate a new TLS connection to the SSL listener is shown. */
function servedCommonName(): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(
      { host: '127.0.0.1', port: sslPort(), servername: 'localhost', ca: readFileSync(certs.caCertificate) },
      () => {
        const subject = socket.getPeerCertificate().subject;
        socket.end();
        resolve(String(subject?.CN ?? ''));
      },
    );
    socket.once('error', reject);
  });
}

/** Writes `contents` next to the keystore and renames it over the keystore. */
function replaceKeystore(contents: string): void {
  const next = `${keystore}.next`;
  writeFileSync(next, contents);
  renameSync(next, keystore);
}

function produceOverSsl(value: string): void {
  execFileSync(
    'kcat',
    [
      '-b',
      `localhost:${sslPort()}`,
      '-X',
      'security.protocol=ssl',
      '-X',
      `ssl.ca.location=${certs.caCertificate}`,
      '-P',
      '-t',
      'renewal',
      '-X',
      'acks=all',
    ],
    { input: `${value}\n`, timeout: kcatTimeoutMs, stdio: ['pipe', 'pipe', 'pipe'] },
  );
}

describe('TLS certificate reload', () => {
  it('serves a renewed keystore to new connections without a restart, and keeps the old one when the new cannot be used', async () => {
    expect(await servedCommonName()).toBe('localhost');
    produceOverSsl('before');

    const renewed = certs.node('renewed');
    replaceKeystore(readFileSync(renewed.keystore, 'utf8'));
    await waitFor(
      'the renewed certificate on new connections',
      async () => (await servedCommonName()) === 'renewed',
      {
        timeoutMs: reloadTimeoutMs,
        intervalMs: 500,
        detail: () => cluster.tail(20),
      },
    );
    produceOverSsl('after');
    expect(nodeLog()).toContain('TLS keystore and truststore reloaded');

    // A key that does not belong to the certificate: refused, the renewed certificate stays.
    const other = certs.node('other');
    replaceKeystore(`${readFileSync(other.key, 'utf8')}${readFileSync(renewed.certificate, 'utf8')}`);
    await waitFor(
      'the refusal in the log',
      () => nodeLog().includes('TLS files changed but cannot be used'),
      { timeoutMs: reloadTimeoutMs, intervalMs: 500, detail: () => cluster.tail(20) },
    );
    expect(await servedCommonName()).toBe('renewed');
    produceOverSsl('still served');
  });
});

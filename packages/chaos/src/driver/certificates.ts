// The certificates of a secured campaign, made with the openssl command line as an operator would:
// a CA of the campaign's own, and for each node an ECDSA key and a certificate signed by it with the
// subject CN=node-<id> (the nodes' gRPC ties a certificate to the node it names) and the node's
// address as SAN (what clients and peers check the host they dialled against). Each node's PEM
// keystore (key then certificate) belongs to the node's uid, mode 0600. The broker's test helper
// (packages/broker/src/testing) makes certificates the same way but lives outside any dist, and a
// campaign runs from dist.

import { chmodSync, chownSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CertificateFiles } from '../security.js';
import { run } from './exec.js';

/** Long enough for any campaign; the files go with the campaign's work directory. */
const validityDays = '7';
/**
 * ECDSA P-256 keys: a handshake costs the node far less CPU than with RSA-2048, and every client
 * reconnection after a fault is one (a campaign shares two cores with its clients).
 */
const keyAlgorithm = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];

export async function makeCampaignCertificates(
  dir: string,
  nodes: readonly { readonly id: number; readonly address: string; readonly uid: number }[],
): Promise<CertificateFiles> {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const path = (name: string) => join(dir, name);
  await run('openssl', [
    'req',
    '-x509',
    ...keyAlgorithm,
    '-nodes',
    '-days',
    validityDays,
    '-keyout',
    path('ca.key'),
    '-out',
    path('ca.pem'),
    '-subj',
    '/CN=Gregor chaos CA',
  ]);
  chmodSync(path('ca.pem'), 0o644);
  for (const node of nodes) {
    const name = `node-${node.id}`;
    writeFileSync(path(`${name}.ext`), `subjectAltName=IP:${node.address},DNS:localhost\n`);
    await run('openssl', [
      'req',
      ...keyAlgorithm,
      '-nodes',
      '-keyout',
      path(`${name}.key`),
      '-out',
      path(`${name}.csr`),
      '-subj',
      `/CN=${name}/O=Gregor chaos`,
    ]);
    await run('openssl', [
      'x509',
      '-req',
      '-in',
      path(`${name}.csr`),
      '-CA',
      path('ca.pem'),
      '-CAkey',
      path('ca.key'),
      '-CAcreateserial',
      '-out',
      path(`${name}.pem`),
      '-days',
      validityDays,
      '-extfile',
      path(`${name}.ext`),
    ]);
    const keystore = path(`${name}.keystore.pem`);
    writeFileSync(
      keystore,
      `${readFileSync(path(`${name}.key`), 'utf8')}${readFileSync(path(`${name}.pem`), 'utf8')}`,
      { mode: 0o600 },
    );
    chownSync(keystore, node.uid, node.uid);
  }
  return {
    caCertificate: path('ca.pem'),
    keystore: (node) => path(`node-${node}.keystore.pem`),
  };
}

// Certificates for TLS tests, made with the openssl command line as an operator would: a cluster
// CA, a broker certificate for localhost and 127.0.0.1 (and one per node on request, named as the
// nodes' gRPC requires: CN=node-<id>, grpc/peer-node-identity.ts), client
// certificates signed by that CA, one signed by a CA nobody trusts, and an expired one. Keys are
// unencrypted PEM unless asked.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface CertificatePaths {
  readonly key: string;
  readonly certificate: string;
  /** Key and certificate in one PEM file: Kafka's ssl.keystore.type=PEM keystore. */
  readonly keystore: string;
}

export interface TestCertificates {
  readonly dir: string;
  /** The CA every broker and client trusts (a PEM truststore). */
  readonly caCertificate: string;
  readonly broker: CertificatePaths;
  /** A certificate of the trusted CA with subject CN=`name`, for localhost, 127.0.0.1 and 127.0.0.2. */
  node(name: string): CertificatePaths;
  /** Node `id`'s own certificate: `node('node-<id>')`, the subject the nodes' gRPC ties to node `id`. */
  nodeId(id: number): CertificatePaths;
  /** The second CA (the one `untrustedClient` certificates come from), for CA rotations. */
  readonly otherCaCertificate: string;
  /** Node `id`'s certificate (CN=node-<id>, the same SANs) from the second CA. */
  otherCaNodeId(id: number): CertificatePaths;
  /** Signs `client(...)` certificates with the trusted CA. */
  client(name: string, subject: string): CertificatePaths;
  /** A client certificate from a CA that no broker trusts. */
  untrustedClient(subject: string): CertificatePaths;
  /** A client certificate of the trusted CA that expired yesterday. */
  expiredClient(subject: string): CertificatePaths;
  /** A PKCS12 keystore of the broker key and certificate, protected by `password`. */
  brokerPkcs12(password: string): string;
  /** The broker key encrypted with `password`, in a PEM keystore with the certificate. */
  brokerEncryptedKeystore(password: string): string;
  remove(): void;
}

function openssl(args: readonly string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
}

export function makeTestCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'gregor-certs-'));
  const path = (name: string) => join(dir, name);

  const selfSignedCa = (name: string, subject: string) => {
    openssl([
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-keyout',
      path(`${name}.key`),
      '-out',
      path(`${name}.pem`),
      '-subj',
      subject,
    ]);
  };
  selfSignedCa('ca', '/CN=Gregor Test CA');
  selfSignedCa('rogue-ca', '/CN=Rogue CA');
  writeFileSync(path('san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:127.0.0.2\n');

  const issue = (name: string, subject: string, ca: string, days: string, extensions?: string) => {
    openssl([
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      path(`${name}.key`),
      '-out',
      path(`${name}.csr`),
      '-subj',
      subject,
    ]);
    openssl([
      'x509',
      '-req',
      '-in',
      path(`${name}.csr`),
      '-CA',
      path(`${ca}.pem`),
      '-CAkey',
      path(`${ca}.key`),
      '-CAcreateserial',
      '-out',
      path(`${name}.pem`),
      '-days',
      days,
      ...(extensions === undefined ? [] : ['-extfile', extensions]),
    ]);
    const keystore = path(`${name}.keystore.pem`);
    writeFileSync(
      keystore,
      `${readFileSync(path(`${name}.key`), 'utf8')}${readFileSync(path(`${name}.pem`), 'utf8')}`,
    );
    return { key: path(`${name}.key`), certificate: path(`${name}.pem`), keystore };
  };

  const broker = issue('broker', '/CN=localhost/O=Gregor', 'ca', '2', path('san.ext'));
  const node = (name: string) => issue(`peer-${name}`, `/CN=${name}/O=Gregor`, 'ca', '2', path('san.ext'));
  return {
    dir,
    caCertificate: path('ca.pem'),
    broker,
    node,
    nodeId: (id) => node(`node-${id}`),
    otherCaCertificate: path('rogue-ca.pem'),
    otherCaNodeId: (id) =>
      issue(`rogue-node-${id}`, `/CN=node-${id}/O=Gregor`, 'rogue-ca', '2', path('san.ext')),
    client: (name, subject) => issue(`client-${name}`, subject, 'ca', '2'),
    untrustedClient: (subject) => issue('untrusted-client', subject, 'rogue-ca', '2'),
    // -days -1: not after a day before not before, so already expired.
    expiredClient: (subject) => issue('expired-client', subject, 'ca', '-1'),
    brokerPkcs12(password) {
      const out = path('broker.p12');
      openssl([
        'pkcs12',
        '-export',
        '-inkey',
        broker.key,
        '-in',
        broker.certificate,
        '-out',
        out,
        '-passout',
        `pass:${password}`,
      ]);
      return out;
    },
    brokerEncryptedKeystore(password) {
      const encrypted = path('broker-encrypted.key');
      openssl([
        'pkcs8',
        '-topk8',
        '-in',
        broker.key,
        '-out',
        encrypted,
        '-v2',
        'aes-256-cbc',
        '-passout',
        `pass:${password}`,
      ]);
      const out = path('broker-encrypted.keystore.pem');
      writeFileSync(out, `${readFileSync(encrypted, 'utf8')}${readFileSync(broker.certificate, 'utf8')}`);
      return out;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

// Certificates for the TLS tests, made with the openssl command line as an operator would: a CA the
// client trusts, a broker certificate it signed for localhost and 127.0.0.1 (a PEM keystore, Kafka's
// ssl.keystore.type=PEM), and a second CA nobody configured, to show an untrusted broker is refused.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCertificates {
  /** PEM of the CA that signed the broker certificate. */
  readonly caPem: string;
  /** PEM of a CA that signed nothing here. */
  readonly otherCaPem: string;
  /** Key and certificate in one PEM file, for ssl.keystore.location. */
  readonly brokerKeystore: string;
  remove(): void;
}

function openssl(args: readonly string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
}

export function makeTestCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'gregor-client-certs-'));
  const path = (name: string) => join(dir, name);
  for (const [name, subject] of [
    ['ca', '/CN=Gregor Client Test CA'],
    ['other-ca', '/CN=Some Other CA'],
  ]) {
    openssl(
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-keyout', path(`${name}.key`)].concat([
        '-out',
        path(`${name}.pem`),
        '-subj',
        subject!,
      ]),
    );
  }
  writeFileSync(path('san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl(
    [
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      path('broker.key'),
      '-out',
      path('broker.csr'),
    ].concat(['-subj', '/CN=localhost/O=Gregor']),
  );
  openssl(
    ['x509', '-req', '-in', path('broker.csr'), '-CA', path('ca.pem'), '-CAkey', path('ca.key')].concat([
      '-CAcreateserial',
      '-out',
      path('broker.pem'),
      '-days',
      '2',
      '-extfile',
      path('san.ext'),
    ]),
  );
  writeFileSync(
    path('broker.keystore.pem'),
    `${readFileSync(path('broker.key'), 'utf8')}${readFileSync(path('broker.pem'), 'utf8')}`,
  );
  return {
    caPem: readFileSync(path('ca.pem'), 'utf8'),
    otherCaPem: readFileSync(path('other-ca.pem'), 'utf8'),
    brokerKeystore: path('broker.keystore.pem'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

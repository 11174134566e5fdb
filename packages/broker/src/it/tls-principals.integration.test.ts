// Certificate principals reaching the authorizer, on a real broker process: an mTLS listener
// (ssl.client.auth=required) and a REQUESTED listener (ssl.client.auth=requested), both mapping
// subjects with ssl.principal.mapping.rules (a RULE, then DEFAULT), ACLs on with Kafka's
// StandardAuthorizer keys and allow.everyone.if.no.acl.found=false. The super user is an admin
// certificate no RULE matches, so its principal is DEFAULT's whole subject; it creates the topics
// and ACLs with `gregor topics` and `gregor acls` over mTLS (--command-config). kcat then shows
// which principal each certificate became, by what the ACLs granted that name: CN=Alice,OU=Eng
// is User:alice (lower-cased by /L), CN=Bob,OU=Eng is User:bob, no certificate on the REQUESTED
// listener is User:ANONYMOUS, and a certificate the truststore does not vouch for is refused
// there too. (Kafka's JSSE engine with setWantClientAuth fails the handshake on a presented
// certificate it cannot verify; Gregor completes the handshake, then closes the connection before
// reading a request, and logs the refusal: the client is refused either way.)

import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '@gregor/ground/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath, ProcessCluster } from '../testing/process-cluster.js';
import { makeTestCertificates, type TestCertificates } from '../testing/test-certificates.js';

const clientTimeoutMs = 30_000;
const adminSubject = '/O=Acme/OU=Ops/CN=admin';
/** What DEFAULT makes of adminSubject: the RFC 2253 subject, most specific first. */
const adminPrincipal = 'User:CN=admin,OU=Ops,O=Acme';

let certs: TestCertificates;
let cluster: ProcessCluster;
let adminConfig: string;

beforeAll(async () => {
  certs = makeTestCertificates();
  cluster = await ProcessCluster.start({
    nodeCount: 1,
    properties: {
      // PLAINTEXT only because ProcessCluster finds a node by it; its clients are User:ANONYMOUS.
      listeners:
        'PLAINTEXT://127.0.0.1:0,MTLS://127.0.0.1:0,REQUESTED://127.0.0.1:0,CONTROLLER://127.0.0.1:0',
      'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,MTLS:SSL,REQUESTED:SSL,CONTROLLER:PLAINTEXT',
      'ssl.keystore.type': 'PEM',
      'ssl.keystore.location': certs.broker.keystore,
      'ssl.truststore.type': 'PEM',
      'ssl.truststore.location': certs.caCertificate,
      'listener.name.mtls.ssl.client.auth': 'required',
      'listener.name.requested.ssl.client.auth': 'requested',
      'ssl.principal.mapping.rules': 'RULE:^CN=([A-Za-z]+),OU=Eng,.*$/$1/L,DEFAULT',
      'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
      'super.users': adminPrincipal,
      'allow.everyone.if.no.acl.found': 'false',
      'auto.create.topics.enable': 'false',
      'offsets.topic.replication.factor': '1',
      'offsets.topic.num.partitions': '1',
      'group.initial.rebalance.delay.ms': '0',
    },
  });
  const admin = certs.client('admin', adminSubject);
  adminConfig = join(certs.dir, 'admin.properties');
  writeFileSync(
    adminConfig,
    [
      'security.protocol=SSL',
      'ssl.truststore.type=PEM',
      `ssl.truststore.location=${certs.caCertificate}`,
      'ssl.keystore.type=PEM',
      `ssl.keystore.location=${admin.keystore}`,
    ].join('\n'),
  );
  for (const topic of ['t', 'anonymous-topic']) gregor('topics', ['create', '--topic', topic]);
  const grant = (principal: string, topic: string) =>
    gregor('acls', [
      '--add',
      '--allow-principal',
      principal,
      '--operation',
      'Write',
      '--operation',
      'Read',
      '--operation',
      'Describe',
      '--topic',
      topic,
    ]);
  grant('User:alice', 't');
  grant('User:ANONYMOUS', 'anonymous-topic');
});

afterAll(async () => {
  await cluster?.close();
  certs?.remove();
});

const port = (listener: string) => cluster.node(1).listenerPorts[listener]!;

/** A `gregor` admin tool as the super user, over mTLS. */
function gregor(tool: string, args: readonly string[]): string {
  const server = ['--bootstrap-server', `localhost:${port('MTLS')}`, '--command-config', adminConfig];
  return execFileSync(process.execPath, [cliPath, tool, ...server, ...args], {
    encoding: 'utf8',
    timeout: clientTimeoutMs,
  });
}

const sslOptions = () => ['-X', 'security.protocol=ssl', '-X', `ssl.ca.location=${certs.caCertificate}`];

/** kcat options presenting a certificate of the trusted CA with `subject`. */
function certificate(name: string, subject: string): string[] {
  const client = certs.client(name, subject);
  return ['-X', `ssl.certificate.location=${client.certificate}`, '-X', `ssl.key.location=${client.key}`];
}

function kcat(listener: string, identity: readonly string[], args: readonly string[], input?: string) {
  return spawnSync('kcat', ['-b', `localhost:${port(listener)}`, ...sslOptions(), ...identity, ...args], {
    input,
    timeout: clientTimeoutMs,
    encoding: 'utf8',
  });
}

function succeeds(run: ReturnType<typeof kcat>): string {
  expect({ status: run.status, stderr: run.stderr }).toMatchObject({ status: 0 });
  return run.stdout;
}

/** The topics a Metadata request for all topics shows this identity. */
function visibleTopics(listener: string, identity: readonly string[]): string[] {
  const metadata = JSON.parse(succeeds(kcat(listener, identity, ['-L', '-J']))) as {
    topics: { topic: string }[];
  };
  return metadata.topics.map((topic) => topic.topic).sort();
}

function producesAndConsumes(listener: string, identity: readonly string[], topic: string, value: string) {
  succeeds(kcat(listener, identity, ['-P', '-t', topic, '-X', 'acks=all'], `${value}\n`));
  const consumed = succeeds(kcat(listener, identity, ['-C', '-t', topic, '-o', 'beginning', '-e', '-q']));
  expect(consumed.trim().split('\n')).toContain(value);
}

/** kcat producing to `topic` as this identity, which must be refused TOPIC_AUTHORIZATION_FAILED. */
function produceRefused(listener: string, identity: readonly string[], topic: string) {
  const run = kcat(listener, identity, ['-P', '-t', topic, '-X', 'acks=all', '-m', '5'], 'refused\n');
  expect(run.status).not.toBe(0);
  expect(run.stderr).toContain('Topic authorization failed');
}

describe('mTLS principals from ssl.principal.mapping.rules reach the authorizer', () => {
  const alice = () => certificate('alice', '/O=Acme/OU=Eng/CN=Alice');
  const bob = () => certificate('bob', '/O=Acme/OU=Eng/CN=Bob');

  it("the admin certificate, which no RULE maps, is DEFAULT's whole subject, a super user", () => {
    expect(visibleTopics('MTLS', certificate('admin', adminSubject))).toEqual(['anonymous-topic', 't']);
    const listed = gregor('acls', ['--list', '--topic', 't']);
    expect(listed).toContain('principal=User:alice, host=*, operation=WRITE, permissionType=ALLOW');
  });

  it('CN=Alice,OU=Eng is User:alice: kcat sees only t, and produces to it and consumes it', () => {
    expect(visibleTopics('MTLS', alice())).toEqual(['t']);
    producesAndConsumes('MTLS', alice(), 't', 'from-alice');
  });

  it('CN=Bob,OU=Eng is User:bob, with no ACL: Metadata hides t and producing gets TOPIC_AUTHORIZATION_FAILED', () => {
    expect(visibleTopics('MTLS', bob())).toEqual([]);
    produceRefused('MTLS', bob(), 't');
  });
});

describe('ssl.client.auth=requested', () => {
  it('a client without a certificate is User:ANONYMOUS: it uses what ANONYMOUS was granted, and only that', () => {
    expect(visibleTopics('REQUESTED', [])).toEqual(['anonymous-topic']);
    producesAndConsumes('REQUESTED', [], 'anonymous-topic', 'from-anonymous');
    produceRefused('REQUESTED', [], 't');
  });

  it("a client with a trusted certificate is its certificate's principal", () => {
    const alice = certificate('requested-alice', '/O=Acme/OU=Eng/CN=Alice');
    expect(visibleTopics('REQUESTED', alice)).toEqual(['t']);
    producesAndConsumes('REQUESTED', alice, 't', 'alice-on-requested');
  });

  it('a certificate the truststore does not vouch for is refused, not taken as ANONYMOUS', async () => {
    const rogue = certs.untrustedClient('/O=Rogue/OU=Eng/CN=mallory');
    const run = kcat(
      'REQUESTED',
      ['-X', `ssl.certificate.location=${rogue.certificate}`, '-X', `ssl.key.location=${rogue.key}`],
      ['-L', '-m', '2'],
    );
    expect(run.status, run.stdout).not.toBe(0);
    const refusal =
      /"listener":"REQUESTED".*CN=mallory.*UNABLE_TO_VERIFY_LEAF_SIGNATURE.*client certificate refused/;
    await waitFor(`a log line matching ${refusal}`, () => refusal.test(cluster.node(1).output.join('')), {
      timeoutMs: 10_000,
      intervalMs: 100,
      detail: () => cluster.tail(),
    });
  });
});

// The gregor tools against secured listeners, configured as kafka-*.sh are: one properties file of
// Kafka's client keys (`--command-config`; `--admin.config` for leader-election; `--producer.config`
// and `--consumer.config` for the console and perf tools). A broker process with a SASL_SSL listener
// (SCRAM-SHA-512 users stored by `gregor users`) and an SSL listener that requires a client
// certificate; every tool runs over them, and a missing or wrong file is refused with the reason.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCluster, runGregorCli } from '../testing/process-cluster.js';
import { makeTestCertificates, type TestCertificates } from '../testing/test-certificates.js';

const toolTimeoutMs = 60_000;

let certs: TestCertificates;
let cluster: ProcessCluster;
let scramConfig: string;
let wrongPasswordConfig: string;
let mutualTlsConfig: string;

const port = (listener: string) => cluster.node(1).listenerPorts[listener]!;
const saslSsl = () => `127.0.0.1:${port('SASL_SSL')}`;

beforeAll(async () => {
  certs = makeTestCertificates();
  cluster = await ProcessCluster.start({
    nodeCount: 1,
    properties: {
      listeners: 'PLAINTEXT://127.0.0.1:0,SASL_SSL://127.0.0.1:0,SSL://127.0.0.1:0,CONTROLLER://127.0.0.1:0',
      'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,SSL:SSL,CONTROLLER:PLAINTEXT',
      'ssl.keystore.type': 'PEM',
      'ssl.keystore.location': certs.broker.keystore,
      'ssl.truststore.type': 'PEM',
      'ssl.truststore.location': certs.caCertificate,
      'listener.name.ssl.ssl.client.auth': 'required',
      'listener.name.sasl_ssl.sasl.enabled.mechanisms': 'SCRAM-SHA-512',
      'offsets.topic.replication.factor': '1',
      'offsets.topic.num.partitions': '1',
      'transaction.state.log.replication.factor': '1',
      'transaction.state.log.num.partitions': '1',
      'group.initial.rebalance.delay.ms': '0',
    },
  });
  const created = await runGregorCli(
    [
      'users',
      '--bootstrap-server',
      `127.0.0.1:${port('PLAINTEXT')}`,
      '--alter',
      '--entity-type',
      'users',
      '--entity-name',
      'alice',
      '--add-config',
      'SCRAM-SHA-512=[password=alice-secret]',
    ],
    toolTimeoutMs,
  );
  expect(created.stdout).toBe('Completed updating config for user alice.\n');
  const scram = (password: string) =>
    [
      'security.protocol=SASL_SSL',
      'ssl.truststore.type=PEM',
      `ssl.truststore.location=${certs.caCertificate}`,
      'sasl.mechanism=SCRAM-SHA-512',
      `sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="${password}";`,
    ].join('\n');
  scramConfig = join(certs.dir, 'client-scram.properties');
  writeFileSync(scramConfig, scram('alice-secret'));
  wrongPasswordConfig = join(certs.dir, 'client-wrong.properties');
  writeFileSync(wrongPasswordConfig, scram('not-her-password'));
  const client = certs.client('tools', '/CN=tools');
  mutualTlsConfig = join(certs.dir, 'client-mtls.properties');
  writeFileSync(
    mutualTlsConfig,
    [
      'security.protocol=SSL',
      `ssl.truststore.location=${certs.caCertificate}`,
      'ssl.keystore.type=PEM',
      `ssl.keystore.location=${client.keystore}`,
    ].join('\n'),
  );
});

afterAll(async () => {
  await cluster?.close();
  certs?.remove();
});

async function gregor(...args: string[]) {
  return runGregorCli(args, toolTimeoutMs);
}

async function succeeds(...args: string[]): Promise<string> {
  const run = await gregor(...args);
  expect({ args, code: run.code, stderr: run.stderr }).toMatchObject({ code: 0 });
  return run.stdout;
}

describe('gregor tools with Kafka client properties', () => {
  it('every admin tool works over SASL_SSL with SCRAM-SHA-512 (--command-config)', async () => {
    const server = ['--bootstrap-server', saslSsl()];
    const config = ['--command-config', scramConfig];
    expect(
      await succeeds('topics', ...server, ...config, 'create', '--topic', 'secure', '--partitions', '2'),
    ).toContain('Created topic secure.');
    expect((await succeeds('topics', ...server, ...config, 'list')).split('\n')).toContain('secure');
    expect(
      await succeeds(
        'configs',
        ...server,
        ...config,
        'describe',
        '--entity-type',
        'topics',
        '--entity-name',
        'secure',
      ),
    ).toContain('secure');
    expect(await succeeds('users', ...server, ...config, '--describe', '--entity-name', 'alice')).toContain(
      'SCRAM-SHA-512',
    );
    expect(await succeeds('metadata-quorum', ...server, ...config, 'describe', '--status')).toMatch(
      /LeaderId:\s+1/,
    );
    expect(await succeeds('log-dirs', ...server, ...config, '--describe')).toContain('secure-0');
    await succeeds('transactions', ...server, ...config, 'list');
    await succeeds('reassign-partitions', ...server, ...config, '--list');
    expect(
      await succeeds(
        'leader-election',
        ...server,
        '--admin.config',
        scramConfig,
        '--election-type',
        'PREFERRED',
        '--all-topic-partitions',
      ),
    ).toBeDefined();
    expect(await succeeds('metadata-shell', ...server, ...config, 'ls', '/brokers/topics')).toContain(
      'secure',
    );
  });

  it('the console and perf tools read --producer.config and --consumer.config', async () => {
    const server = ['--bootstrap-server', saslSsl()];
    await succeeds('topics', ...server, '--command-config', scramConfig, 'create', '--topic', 'console');
    const input = join(certs.dir, 'lines.txt');
    writeFileSync(input, 'one\ntwo\nthree\n');
    await succeeds(
      'produce',
      ...server,
      '--topic',
      'console',
      '--file',
      input,
      '--producer.config',
      scramConfig,
    );
    const consumed = await succeeds(
      'consume',
      ...server,
      '--topic',
      'console',
      '--from-beginning',
      '--max-messages',
      '3',
      '--timeout-ms',
      '30000',
      '--consumer.config',
      scramConfig,
    );
    expect(consumed.split('\n').filter((line) => line !== '')).toEqual(['one', 'two', 'three']);
    expect(
      await succeeds('get-offsets', ...server, '--command-config', scramConfig, '--topic', 'console'),
    ).toBe('console:0:3\n');
    await succeeds('groups', ...server, '--command-config', scramConfig, 'list');
    await succeeds(
      'perf-test',
      'producer',
      ...server,
      '--topic',
      'console',
      '--num-records',
      '50',
      '--record-size',
      '10',
      '--throughput',
      '-1',
      '--producer.config',
      scramConfig,
    );
    expect(
      await succeeds(
        'perf-test',
        'consumer',
        ...server,
        '--topic',
        'console',
        '--messages',
        '53',
        // The admin tools' name for the same file, which the console and perf tools take too.
        '--command-config',
        scramConfig,
      ),
    ).toContain(', 53, ');
    const offsets = join(certs.dir, 'delete.json');
    writeFileSync(
      offsets,
      JSON.stringify({ partitions: [{ topic: 'console', partition: 0, offset: 2 }], version: 1 }),
    );
    expect(
      await succeeds(
        'delete-records',
        ...server,
        '--command-config',
        scramConfig,
        '--offset-json-file',
        offsets,
      ),
    ).toContain('low_watermark: 2');
  });

  it('works over mutual TLS with a PEM keystore', async () => {
    const topics = await succeeds(
      'topics',
      '--bootstrap-server',
      `127.0.0.1:${port('SSL')}`,
      '--command-config',
      mutualTlsConfig,
      'list',
    );
    expect(topics.split('\n')).toContain('secure');
  });

  it('is refused without the file, with a wrong password, and with a file it cannot use', async () => {
    const server = ['--bootstrap-server', saslSsl(), '--timeout-ms', '5000'];
    const plain = await gregor('topics', ...server, 'list');
    expect(plain.code).toBe(1);
    const wrong = await gregor('topics', ...server, '--command-config', wrongPasswordConfig, 'list');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('SASL SCRAM-SHA-512 authentication of alice');
    const serverOnlyTls = join(certs.dir, 'client-no-certificate.properties');
    writeFileSync(serverOnlyTls, `security.protocol=SSL\nssl.truststore.location=${certs.caCertificate}\n`);
    const noClientCertificate = await gregor(
      'topics',
      '--bootstrap-server',
      `127.0.0.1:${port('SSL')}`,
      '--timeout-ms',
      '5000',
      '--command-config',
      serverOnlyTls,
      'list',
    );
    expect(noClientCertificate.code).toBe(1);
    const unusable = join(certs.dir, 'unusable.properties');
    writeFileSync(unusable, 'security.protocol=SASL_SSL\nsasl.mechanism=GSSAPI\n');
    const refused = await gregor('topics', ...server, '--command-config', unusable, 'list');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('sasl.mechanism GSSAPI is not supported');
  });
});

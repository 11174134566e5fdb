// Renewing the nodes' own certificates without a restart: three nodes whose CONTROLLER listener is
// SSL with mutual TLS start with certificates of CA 1 and trust CA 1 and CA 2. Every node's
// keystore and truststore files are then replaced (renamed over) by a certificate of CA 2 and a
// truststore of CA 2 alone. The running nodes must pick both up: their gRPC server presents the
// new certificate, and the connections they dial present it too. Node 3 is then killed and started
// again: it trusts only CA 2, so it accepts its peers' calls only if they come with their renewed
// certificates, and they accept it only if they reloaded their truststore. It rejoins the quorum and
// every ISR.

import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { waitFor } from '@gregor/ground/testing';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCluster } from '../testing/process-cluster.js';
import { makeTestCertificates, type TestCertificates } from '../testing/test-certificates.js';

const reloadedLine = 'TLS keystore and truststore reloaded';
const settleMs = 60_000;

let certs: TestCertificates;
let cluster: ProcessCluster;
let kafka: Kafka;

const keystorePath = (id: number) => join(certs.dir, `node-${id}-keystore.pem`);
const truststorePath = (id: number) => join(certs.dir, `node-${id}-truststore.pem`);

/** Writes `contents` beside `path` and renames it over: a renewal as operators should make one. */
function replace(path: string, contents: string): void {
  writeFileSync(`${path}.new`, contents);
  renameSync(`${path}.new`, path);
}

beforeAll(async () => {
  certs = makeTestCertificates();
  const bothCas = readFileSync(certs.caCertificate, 'utf8') + readFileSync(certs.otherCaCertificate, 'utf8');
  for (const id of [1, 2, 3]) {
    writeFileSync(keystorePath(id), readFileSync(certs.nodeId(id).keystore));
    writeFileSync(truststorePath(id), bothCas);
  }
  cluster = await ProcessCluster.start({
    nodeCount: 3,
    properties: {
      'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:SSL',
      'ssl.keystore.type': 'PEM',
      'ssl.truststore.type': 'PEM',
      'listener.name.controller.ssl.client.auth': 'required',
      'offsets.topic.replication.factor': '3',
      'offsets.topic.num.partitions': '1',
      'auto.create.topics.enable': 'false',
    },
    nodeProperties: (nodeId) => ({
      'ssl.keystore.location': keystorePath(nodeId),
      'ssl.truststore.location': truststorePath(nodeId),
    }),
  });
  kafka = new Kafka({
    clientId: 'gregor-it-controller-tls-reload',
    brokers: [`127.0.0.1:${cluster.node(1).kafkaPort}`],
    logLevel: logLevel.NOTHING,
    retry: { retries: 8 },
  });
}, 120_000);

afterAll(async () => {
  await cluster?.close();
  certs?.remove();
});

/** The issuer CN of the certificate node `id`'s CONTROLLER port presents, dialled as `client`. */
async function presentedIssuer(id: number, client: { key: string; certificate: string }, ca: string) {
  const socket = tlsConnect({
    host: '127.0.0.1',
    port: cluster.node(id).listenerPorts.CONTROLLER!,
    ca: readFileSync(ca),
    key: readFileSync(client.key),
    cert: readFileSync(client.certificate),
    ALPNProtocols: ['h2'],
    checkServerIdentity: () => undefined,
  });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', resolve);
      socket.once('error', reject);
    });
    return socket.getPeerCertificate().issuer.CN;
  } finally {
    socket.destroy();
  }
}

describe("renewing the controller listener's certificates", () => {
  it('the running nodes take the renewed keystore and truststore, and a restarted peer that trusts only the new CA rejoins', async () => {
    const admin = kafka.admin();
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await admin.connect();
    await producer.connect();
    try {
      await admin.createTopics({
        topics: [{ topic: 'renewed', numPartitions: 3, replicationFactor: 3 }],
        waitForLeaders: true,
      });
      expect(await presentedIssuer(1, certs.nodeId(2), certs.caCertificate)).toBe('Gregor Test CA');

      const renewed = new Map([1, 2, 3].map((id) => [id, certs.otherCaNodeId(id)]));
      const newCaOnly = readFileSync(certs.otherCaCertificate, 'utf8');
      for (const id of [1, 2, 3]) {
        replace(keystorePath(id), readFileSync(renewed.get(id)!.keystore, 'utf8'));
        replace(truststorePath(id), newCaOnly);
      }
      await waitFor(
        'every node to reload its controller TLS files',
        () => [1, 2, 3].every((id) => cluster.node(id).output.join('').includes(reloadedLine)),
        { timeoutMs: settleMs },
      );
      // The server side: node 1 now presents CA 2's certificate and accepts a CA 2 client.
      await waitFor(
        "node 1's CONTROLLER port to present the renewed certificate",
        async () =>
          (await presentedIssuer(1, renewed.get(2)!, certs.otherCaCertificate).catch(() => '')) ===
          'Rogue CA',
        { timeoutMs: settleMs },
      );

      // The dialling side: node 3, restarted, trusts only CA 2, so the Raft leader's and the
      // other replicas' new connections to it must carry renewed certificates.
      await cluster.kill(3);
      await cluster.restart(3);
      await waitFor(
        'node 3 to register again',
        async () => (await cluster.describe(1)).brokerIds.length === 3,
        {
          timeoutMs: settleMs,
        },
      );
      await waitFor(
        'node 3 back in every ISR',
        async () => {
          const metadata = await admin.fetchTopicMetadata({ topics: ['renewed'] });
          return metadata.topics[0]!.partitions.every((partition) => partition.isr.length === 3);
        },
        { timeoutMs: settleMs },
      );
      await producer.send({ topic: 'renewed', acks: -1, messages: [{ value: 'after renewal' }] });
      expect(cluster.node(3).output.join('')).not.toContain('TLS handshake with a peer failed');
    } finally {
      await producer.disconnect();
      await admin.disconnect();
    }
  });
});

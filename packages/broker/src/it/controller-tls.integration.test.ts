// The nodes' own gRPC over mutual TLS: three real nodes whose CONTROLLER listener is SSL with
// ssl.client.auth=required, each with its own certificate from a test CA (IP SANs, so Kafka's
// default ssl.endpoint.identification.algorithm=https holds), made with openssl. The quorum forms,
// kafkajs writes with acks=all to a topic with three replicas and min.insync.replicas=3
// (replication is gRPC between the nodes, so every acknowledged record crossed TLS), a
// transaction over partitions led by several nodes commits (its markers cross TLS), the group
// coordinator's kafka_consumergroup_lag covers RF1 partitions on the other nodes (their high
// watermarks cross TLS), a fourth
// node presenting a certificate of another CA is refused at the handshake (the nodes log it and
// never list it), a fourth node with a certificate the cluster trusts (CN=node-4) but outside
// controller.quorum.voters is refused by Raft (not-a-voter) and RegisterBroker, a peer presenting node 2's certificate may not act as node 3 (each node's
// certificate names it, CN=node-<id>: Raft, controller and replica fetch calls claiming another
// node are refused with PERMISSION_DENIED and logged), and the CONTROLLER port speaks TLS and
// refuses a client without a certificate.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { ApiKey, KafkaConnection } from '@gregor/client';
import { waitFor } from '@gregor/ground/testing';
import { ErrorCode } from '@gregor/protocol';
import * as grpc from '@grpc/grpc-js';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeMetadata } from '../grpc/describe-metadata-client.js';
import { serviceClient } from '../grpc/protos.js';
import { cliPath, ProcessCluster, runGregorCli } from '../testing/process-cluster.js';
import { makeTestCertificates, type TestCertificates } from '../testing/test-certificates.js';

const refusalLine = 'failed authentication: TLS handshake with a peer failed';

let certs: TestCertificates;
let cluster: ProcessCluster;
let kafka: Kafka;

/** The ssl.* settings every node shares (its keystore is its own, below). */
const sharedTls = () => ({
  'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:SSL',
  'ssl.keystore.type': 'PEM',
  'ssl.truststore.type': 'PEM',
  'ssl.truststore.location': certs.caCertificate,
  'listener.name.controller.ssl.client.auth': 'required',
});

beforeAll(async () => {
  certs = makeTestCertificates();
  const keystores = new Map([1, 2, 3].map((id) => [id, certs.nodeId(id).keystore]));
  cluster = await ProcessCluster.start({
    nodeCount: 3,
    properties: {
      ...sharedTls(),
      'gregor.metrics.port': '0',
      'offsets.topic.replication.factor': '3',
      'offsets.topic.num.partitions': '1',
      'transaction.state.log.replication.factor': '3',
      'transaction.state.log.num.partitions': '1',
      'group.initial.rebalance.delay.ms': '0',
      'auto.create.topics.enable': 'false',
    },
    nodeProperties: (nodeId) => ({ 'ssl.keystore.location': keystores.get(nodeId)! }),
  });
  kafka = new Kafka({
    clientId: 'gregor-it-controller-tls',
    brokers: [`127.0.0.1:${cluster.node(1).kafkaPort}`],
    logLevel: logLevel.NOTHING,
    retry: { retries: 8 },
  });
}, 120_000);

afterAll(async () => {
  await cluster?.close();
  certs?.remove();
});

const nodeOutput = (id: number) => cluster.node(id).output.join('');

type UnaryMethod = (
  request: object,
  options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null, response?: object) => void,
) => void;

/** A unary call's gRPC error as `<code> <details>`, or 'answered' (with `onResponse` given the answer). */
function unary(
  client: grpc.Client,
  method: string,
  request: object,
  onResponse: (response: object) => void = () => {},
): Promise<string> {
  return new Promise<string>((resolve) => {
    const call = (client as unknown as Record<string, UnaryMethod>)[method]!;
    call.call(client, request, { deadline: Date.now() + 10_000 }, (error, response) => {
      if (error === null) onResponse(response!);
      resolve(error === null ? 'answered' : `${error.code} ${error.details}`);
    });
  });
}

/** gRPC credentials presenting node `id`'s certificate of the cluster's CA. */
function nodeCredentials(id: number): grpc.ChannelCredentials {
  const node = certs.nodeId(id);
  return grpc.credentials.createSsl(
    readFileSync(certs.caCertificate),
    readFileSync(node.key),
    readFileSync(node.certificate),
  );
}

describe('the nodes gRPC over mutual TLS', () => {
  it('forms the quorum over SSL: every node says so and lists all three brokers', async () => {
    for (const id of [1, 2, 3]) {
      expect(nodeOutput(id)).toContain("serves the nodes' gRPC over TLS");
      expect(nodeOutput(id)).not.toContain(refusalLine);
      const view = await cluster.describe(id);
      expect(view.brokerIds).toEqual([1, 2, 3]);
      expect(view.controllerId).toBeGreaterThan(0);
    }
  });

  it('replicates over TLS: kafkajs acks=all writes to three in-sync replicas', async () => {
    const admin = kafka.admin();
    // Idempotent: a send answered with a retriable error after its append (a leader whose lease
    // lapsed on a loaded machine answers NOT_LEADER_OR_FOLLOWER to the acks=all writes it was
    // holding) is retried, and only the producer id and sequence keep the retry from being a
    // second copy; the counts below are exact.
    const producer = kafka.producer({
      allowAutoTopicCreation: false,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await admin.connect();
    await producer.connect();
    try {
      await admin.createTopics({
        topics: [
          {
            topic: 'over-mtls',
            numPartitions: 2,
            replicationFactor: 3,
            configEntries: [{ name: 'min.insync.replicas', value: '3' }],
          },
        ],
        waitForLeaders: true,
      });
      const records = Array.from({ length: 20 }, (_, index) => ({
        partition: index % 2,
        key: `key-${index}`,
        value: `value-${index}`,
      }));
      // With min.insync.replicas=3 an acknowledged write is on all three nodes: both followers
      // fetched it from the leader over the TLS listener.
      await producer.send({ topic: 'over-mtls', acks: -1, messages: records });
      const metadata = await admin.fetchTopicMetadata({ topics: ['over-mtls'] });
      for (const partition of metadata.topics[0]!.partitions) {
        expect([...partition.isr].sort()).toEqual([1, 2, 3]);
      }
      const offsets = await admin.fetchTopicOffsets('over-mtls');
      expect(offsets.map(({ partition, high }) => [partition, high]).sort()).toEqual([
        [0, '10'],
        [1, '10'],
      ]);
      const consumed: string[] = [];
      // Polled until it read everything: a fetch then waits at the broker, and disconnect waits for it.
      const consumer = kafka.consumer({ groupId: 'over-mtls-readers', maxWaitTimeInMs: 100 });
      await consumer.connect();
      try {
        await consumer.subscribe({ topic: 'over-mtls', fromBeginning: true });
        await consumer.run({
          eachMessage: async ({ message }) => {
            consumed.push(message.value!.toString());
          },
        });
        await waitFor('every record consumed', () => consumed.length >= records.length, {
          timeoutMs: 30_000,
          detail: () => cluster.tail(),
        });
      } finally {
        await consumer.disconnect();
      }
      expect(consumed.sort()).toEqual(records.map((record) => record.value).sort());
    } finally {
      await producer.disconnect();
      await admin.disconnect();
    }
  });

  it('writes transaction markers over TLS: a committed transaction over three partitions is read_committed', async () => {
    const admin = kafka.admin();
    await admin.connect();
    const producer = kafka.producer({
      transactionalId: 'over-mtls-txn',
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    const consumer = kafka.consumer({
      groupId: 'over-mtls-txn-readers',
      readUncommitted: false,
      maxWaitTimeInMs: 100,
    });
    try {
      await admin.createTopics({
        topics: [{ topic: 'txn-over-mtls', numPartitions: 3, replicationFactor: 3 }],
        waitForLeaders: true,
      });
      // The coordinator writes each partition's marker through its leader: with leaders on
      // several nodes, at least one marker travels to another node over the TLS listener.
      const metadata = await admin.fetchTopicMetadata({ topics: ['txn-over-mtls'] });
      expect(
        new Set(metadata.topics[0]!.partitions.map((partition) => partition.leader)).size,
      ).toBeGreaterThan(1);
      const transaction = await producer.transaction();
      await transaction.send({
        topic: 'txn-over-mtls',
        messages: ['t0', 't1', 't2'].map((value, partition) => ({ value, partition })),
      });
      await transaction.commit();
      const values: string[] = [];
      await consumer.connect();
      await consumer.subscribe({ topic: 'txn-over-mtls', fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          values.push(message.value!.toString());
        },
      });
      // read_committed: a partition's record is visible once its commit marker is written.
      await waitFor('the committed records', () => values.length >= 3, {
        timeoutMs: 30_000,
        detail: () => `${values.join(',')}\n${cluster.tail()}`,
      });
      expect(values.sort()).toEqual(['t0', 't1', 't2']);
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
      await admin.disconnect();
    }
  });

  it('reports the lag of partitions led by other nodes: the coordinator reads their high watermarks over TLS', async () => {
    const topic = 'lag-over-mtls';
    const groupId = 'lag-over-mtls-readers';
    const recordsOf = (partition: number) => 4 + partition;
    const admin = kafka.admin();
    // Idempotent: a send answered with a retriable error after its append (a leader whose lease
    // lapsed on a loaded machine answers NOT_LEADER_OR_FOLLOWER to the acks=all writes it was
    // holding) is retried, and only the producer id and sequence keep the retry from being a
    // second copy; the counts below are exact.
    const producer = kafka.producer({
      allowAutoTopicCreation: false,
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await admin.connect();
    await producer.connect();
    try {
      // One RF1 partition per node: whichever node coordinates the group, two live elsewhere.
      await admin.createTopics({
        topics: [{ topic, replicaAssignment: [0, 1, 2].map((p) => ({ partition: p, replicas: [p + 1] })) }],
        waitForLeaders: true,
      });
      for (const partition of [0, 1, 2]) {
        await producer.send({
          topic,
          acks: -1,
          messages: Array.from({ length: recordsOf(partition) }, () => ({ partition, value: 'v' })),
        });
      }
      await admin.setOffsets({
        groupId,
        topic,
        partitions: [0, 1, 2].map((p) => ({ partition: p, offset: '1' })),
      });
    } finally {
      await producer.disconnect();
      await admin.disconnect();
    }
    const connection = await KafkaConnection.open({ host: '127.0.0.1', port: cluster.node(1).kafkaPort });
    const found = await connection
      .call(ApiKey.FindCoordinator, 2, { key: groupId, keyType: 0 })
      .finally(() => connection.close());
    expect(found.errorCode).toBe(ErrorCode.NONE);
    const lagLine = (partition: number) =>
      new RegExp(
        `^kafka_consumergroup_lag\\{(?=[^}]*consumergroup="${groupId}")(?=[^}]*topic="${topic}")(?=[^}]*partition="${partition}")[^}]*\\} ${recordsOf(partition) - 1}$`,
        'm',
      );
    await waitFor(
      `node ${found.nodeId} to report the lag of every partition`,
      async () => {
        const response = await fetch(`http://127.0.0.1:${cluster.node(found.nodeId).metricsPort}/metrics`);
        const text = await response.text();
        return [0, 1, 2].every((partition) => lagLine(partition).test(text));
      },
      { timeoutMs: 30_000, intervalMs: 200, detail: () => cluster.tail() },
    );
  });

  it('refuses a fourth node presenting a certificate of another CA at the TLS handshake', async () => {
    const outsider = startOutsider(certs.untrustedClient('/CN=node-4/O=Elsewhere').keystore);
    try {
      // It campaigns (Vote) and tries to register with the controller: every call is refused.
      const refused = await waitFor(
        'a node logging the refused handshake',
        () => [1, 2, 3].find((id) => nodeOutput(id).includes(refusalLine)),
        {
          timeoutMs: 30_000,
          detail: () => `${cluster.tail()}\n--- outsider ---\n${outsider.output.join('')}`,
        },
      );
      const line = nodeOutput(refused)
        .split('\n')
        .find((candidate) => candidate.includes(refusalLine))!;
      expect(JSON.parse(line)).toMatchObject({
        level: 40,
        listener: 'CONTROLLER',
        remote: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
        reason: 'client certificate refused: UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      });
      expect(outsider.process.exitCode).toBeNull();
      for (const id of [1, 2, 3]) {
        const view = await cluster.describe(id);
        expect(view.brokerIds).toEqual([1, 2, 3]);
      }
    } finally {
      await outsider.stop();
    }
  });

  it('refuses a fourth node with a trusted certificate (CN=node-4) in Raft and RegisterBroker: 4 is not a voter', async () => {
    const outsider = startOutsider(certs.nodeId(4).keystore);
    try {
      // Its TLS handshake and its identity (CN=node-4 claiming node 4) pass, or its Vote requests
      // would not reach Raft; the voters do not name it, so the Raft core refuses them.
      const refused = await waitFor(
        'a node refusing node 4 as not a voter',
        () =>
          [1, 2, 3]
            .flatMap((id) => nodeOutput(id).split('\n'))
            .find((line) => line.includes('"reason":"not-a-voter"') && line.includes('"from":4')),
        {
          timeoutMs: 30_000,
          detail: () => `${cluster.tail()}\n--- outsider ---\n${outsider.output.join('')}`,
        },
      );
      expect(JSON.parse(refused)).toMatchObject({ level: 40, msg: 'refused a raft message', from: 4 });
      expect(outsider.process.exitCode).toBeNull();
    } finally {
      await outsider.stop();
    }
    // The same refusals, answered to a client holding node 4's certificate.
    const { controllerId } = await cluster.describe(1);
    const target = `127.0.0.1:${cluster.node(controllerId).quorumPort}`;
    const Raft = serviceClient('raft.proto', 'gregor.raft.RaftQuorum');
    const Controller = serviceClient('controller.proto', 'gregor.controller.Controller');
    const raft = new Raft(target, nodeCredentials(4));
    const controller = new Controller(target, nodeCredentials(4));
    try {
      expect(
        await unary(raft, 'Deliver', {
          clusterId: cluster.clusterId,
          from: 4,
          to: controllerId,
          voteRequest: { candidateEpoch: 1_000, lastEpoch: 999, lastOffset: 1_000_000, preVote: true },
        }),
      ).toBe(`${grpc.status.FAILED_PRECONDITION} raft message refused: not-a-voter`);
      let registered: object | undefined;
      expect(
        await unary(
          controller,
          'RegisterBroker',
          { clusterId: cluster.clusterId, brokerId: 4, incarnationId: 'outsider' },
          (response) => {
            registered = response;
          },
        ),
      ).toBe('answered');
      expect(registered).toMatchObject({
        status: {
          errorCode: ErrorCode.INVALID_REQUEST,
          errorMessage: 'broker 4 is not in controller.quorum.voters (1,2,3)',
        },
        brokerEpoch: -1,
      });
      let quorum: { leaderId?: number; voters?: { replicaId: number }[] } = {};
      await unary(controller, 'DescribeQuorum', { clusterId: cluster.clusterId }, (response) => {
        quorum = response;
      });
      expect(quorum.leaderId).toBe(controllerId);
      expect(quorum.voters!.map((voter) => voter.replicaId).sort()).toEqual([1, 2, 3]);
    } finally {
      raft.close();
      controller.close();
    }
    for (const id of [1, 2, 3]) expect((await cluster.describe(id)).brokerIds).toEqual([1, 2, 3]);
  });

  it("refuses node 2's certificate acting as node 3 in Raft, controller and replica fetch calls", async () => {
    const credentials = nodeCredentials(2);
    const target = `127.0.0.1:${cluster.node(1).quorumPort}`;
    const Raft = serviceClient('raft.proto', 'gregor.raft.RaftQuorum');
    const Controller = serviceClient('controller.proto', 'gregor.controller.Controller');
    const ReplicaFetch = serviceClient('replication.proto', 'gregor.replication.ReplicaFetch');
    const raft = new Raft(target, credentials);
    const controller = new Controller(target, credentials);
    const replicaFetch = new ReplicaFetch(target, credentials);
    try {
      const heartbeat = (brokerId: number) => ({
        clusterId: cluster.clusterId,
        brokerId,
        brokerEpoch: 0,
        currentMetadataOffset: 0,
      });
      const refusal = `${grpc.status.PERMISSION_DENIED} the peer certificate names node 2 (CN=node-2), and the call claims node 3`;
      expect(await unary(controller, 'BrokerHeartbeat', heartbeat(3))).toBe(refusal);
      // As itself, node 2's certificate passes the check (the controller answers the stale epoch).
      expect(await unary(controller, 'BrokerHeartbeat', heartbeat(2))).toBe('answered');
      expect(await unary(controller, 'RegisterBroker', { clusterId: cluster.clusterId, brokerId: 3 })).toBe(
        refusal,
      );
      expect(
        await unary(raft, 'Deliver', {
          clusterId: cluster.clusterId,
          from: 3,
          to: 1,
          voteRequest: {},
        }),
      ).toBe(refusal);
      const openStream = (
        replicaFetch as unknown as Record<string, () => grpc.ClientDuplexStream<object, object>>
      ).FetchStream!;
      const call = openStream.call(replicaFetch);
      const ended = new Promise<string>((resolve) => {
        call.on('data', () => resolve('answered'));
        call.on('error', (error: grpc.ServiceError) => resolve(`${error.code} ${error.details}`));
      });
      call.write({
        clusterId: cluster.clusterId,
        replicaId: 3,
        brokerEpoch: 0,
        maxWaitMs: 0,
        partitions: [],
      });
      expect(await ended).toBe(refusal);
      call.cancel();
    } finally {
      raft.close();
      controller.close();
      replicaFetch.close();
    }
    // The first refusal is logged at once; the three behind it, within the log interval, are
    // counted on the next line.
    const logged = await waitFor(
      'the refusal logged',
      () =>
        nodeOutput(1)
          .split('\n')
          .find((line) => line.includes('a peer claimed a node its certificate does not name')),
      { detail: () => cluster.tail() },
    );
    expect(JSON.parse(logged)).toMatchObject({
      level: 40,
      listener: 'CONTROLLER',
      rpc: '/gregor.controller.Controller/BrokerHeartbeat',
      claimedNodeId: 3,
      remote: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
      reason: 'the peer certificate names node 2 (CN=node-2), and the call claims node 3',
    });
    for (const id of [1, 2, 3]) expect((await cluster.describe(id)).brokerIds).toEqual([1, 2, 3]);
  });

  it('the CONTROLLER port speaks TLS: a client with a node certificate is accepted, one without is refused', async () => {
    const port = cluster.node(2).quorumPort;
    const ca = readFileSync(certs.caCertificate);
    const member = certs.node('tls-probe');
    const accepted = await tlsProbe(port, {
      ca,
      key: readFileSync(member.key),
      cert: readFileSync(member.certificate),
    });
    expect(accepted).toEqual({ authorized: true, serverSubject: 'node-2', alpn: 'h2', error: undefined });
    const anonymous = await tlsProbe(port, { ca });
    // TLS 1.3: the client's half of the handshake completes, then the server's alert arrives.
    expect(anonymous.serverSubject).toBe('node-2');
    expect(anonymous.error).toMatch(/certificate required/i);
  });

  it('answers DescribeMetadata to a client with a node certificate, and not over PLAINTEXT', async () => {
    const port = cluster.node(3).quorumPort;
    const member = certs.node('describe-probe');
    const credentials = grpc.credentials.createSsl(
      readFileSync(certs.caCertificate),
      readFileSync(member.key),
      readFileSync(member.certificate),
    );
    const described = await describeMetadata({ host: '127.0.0.1', port, timeoutMs: 10_000, credentials });
    expect(described.clusterId).toBe(cluster.clusterId);
    expect(described.status.errorCode).toBe(0);
    await expect(describeMetadata({ host: '127.0.0.1', port, timeoutMs: 3_000 })).rejects.toThrow(
      /UNAVAILABLE|DEADLINE_EXCEEDED/,
    );
  });

  it('gregor metadata-shell --controller reads it over TLS with --command-config, and not without', async () => {
    const port = cluster.node(2).quorumPort;
    const member = certs.node('metadata-shell');
    const dir = mkdtempSync(join(tmpdir(), 'gregor-shell-tls-'));
    try {
      const config = join(dir, 'client.properties');
      writeFileSync(
        config,
        [
          'security.protocol=SSL',
          'ssl.truststore.type=PEM',
          `ssl.truststore.location=${certs.caCertificate}`,
          'ssl.keystore.type=PEM',
          `ssl.keystore.location=${member.keystore}`,
          '',
        ].join('\n'),
      );
      const shell = (...extra: string[]) =>
        runGregorCli(
          [
            'metadata-shell',
            '--controller',
            `127.0.0.1:${port}`,
            '--timeout-ms',
            '5000',
            ...extra,
            'cat',
            '/cluster/id',
          ],
          30_000,
        );
      const secured = await shell('--command-config', config);
      // grpc-js names the dialled IP as TLS server name, which Node warns of (DEP0123) on stderr.
      expect(secured.stdout.trim(), secured.stderr).toContain(cluster.clusterId);
      expect(secured.code).toBe(0);
      const plain = await shell();
      expect(plain.code).not.toBe(0);
      expect(plain.stdout).not.toContain(cluster.clusterId);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

interface TlsProbeResult {
  authorized: boolean;
  serverSubject: string | undefined;
  alpn: string | false | null | undefined;
  error: string | undefined;
}

/** Opens a TLS connection as gRPC would (ALPN h2) and waits for the server's verdict. */
async function tlsProbe(
  port: number,
  options: { ca: Buffer; key?: Buffer; cert?: Buffer },
): Promise<TlsProbeResult> {
  const socket = tlsConnect({ host: '127.0.0.1', port, ALPNProtocols: ['h2'], ...options });
  const result: TlsProbeResult = {
    authorized: false,
    serverSubject: undefined,
    alpn: undefined,
    error: undefined,
  };
  socket.on('secureConnect', () => {
    result.authorized = socket.authorized;
    result.serverSubject = socket.getPeerCertificate().subject?.CN as string | undefined;
    result.alpn = socket.alpnProtocol;
  });
  socket.on('error', (error) => {
    result.error = error.message;
  });
  // A refusal arrives as an alert just after the handshake; an accepted client is left alone (the
  // server waits for the HTTP/2 preface), so the probe hangs up after a short grace.
  const graceMs = 1_500;
  const timer = setTimeout(() => socket.destroy(), graceMs);
  // Not events.once: it rejects on 'error', which is the verdict recorded above.
  await new Promise<void>((resolve) => socket.on('close', () => resolve()));
  clearTimeout(timer);
  return result;
}

interface Outsider {
  readonly process: ChildProcess;
  readonly output: string[];
  stop(): Promise<void>;
}

/**
 * A real Gregor node 4 that believes it belongs (its controller.quorum.voters names nodes 1-3 at
 * their CONTROLLER addresses, and itself), with the cluster's id and truststore but a keystore the
 * cluster does not trust.
 */
function startOutsider(keystore: string): Outsider {
  const dir = mkdtempSync(join(tmpdir(), 'gregor-it-outsider-'));
  const voters = [1, 2, 3].map((id) => `${id}@127.0.0.1:${cluster.node(id).quorumPort}`);
  const properties: Record<string, string> = {
    'node.id': '4',
    'process.roles': 'broker,controller',
    'cluster.id': cluster.clusterId,
    listeners: 'PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0',
    'controller.quorum.voters': [...voters, '4@127.0.0.1:0'].join(','),
    'log.dirs': join(dir, 'logs'),
    ...sharedTls(),
    'ssl.keystore.location': keystore,
  };
  const configPath = join(dir, 'server.properties');
  writeFileSync(
    configPath,
    Object.entries(properties)
      .map(([key, value]) => `${key}=${value}`)
      .join('\n'),
  );
  const child = spawn(process.execPath, [cliPath, 'broker', 'start', '--config', configPath], {
    env: { ...process.env, GREGOR_LOG_FORMAT: 'json', GREGOR_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const keep = (chunk: Buffer) => output.push(chunk.toString('utf8'));
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  return {
    process: child,
    output,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGKILL');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

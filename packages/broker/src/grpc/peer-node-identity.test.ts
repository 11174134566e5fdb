// The node identity check of the nodes' gRPC: the pure verdict, and the interceptor on a real
// grpc-js server over mutual TLS on loopback, with node certificates made by openssl.

import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { ManualClock } from '@gregor/ground';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { brokerConfigFrom } from '../config/broker-config.js';
import { makeTestCertificates, type TestCertificates } from '../testing/test-certificates.js';
import { internalGrpcCredentials, plaintextInternalCredentials } from './internal-credentials.js';
import {
  checkPeerClaim,
  nodeIdNamedBy,
  ownCertificateProblem,
  peerClaimRefusalLogIntervalMs,
  peerNodeIdentityInterceptor,
} from './peer-node-identity.js';

describe('which node a certificate names', () => {
  it('reads CN=node-<id>, and nothing else', () => {
    expect(nodeIdNamedBy({ CN: 'node-3' })).toBe(3);
    expect(nodeIdNamedBy({ CN: 'node-0' })).toBe(0);
    for (const CN of ['node-03', 'node-', 'node-3.example.com', 'Node-3', 'localhost', 'node-99999999999']) {
      expect(nodeIdNamedBy({ CN }), CN).toBeUndefined();
    }
    expect(nodeIdNamedBy({ CN: ['node-2', 'node-3'] })).toBeUndefined();
    expect(nodeIdNamedBy({})).toBeUndefined();
  });

  it('confirms a claim of the named node, refuses any other, and has nothing to check without a certificate', () => {
    expect(checkPeerClaim({ CN: 'node-2' }, 2)).toEqual({ kind: 'confirmed' });
    expect(checkPeerClaim({ CN: 'node-2' }, 3)).toEqual({
      kind: 'refused',
      reason: 'the peer certificate names node 2 (CN=node-2), and the call claims node 3',
    });
    expect(checkPeerClaim({ CN: 'localhost' }, 1)).toEqual({
      kind: 'refused',
      reason:
        'the peer certificate (CN "localhost") names no node (CN=node-<id>), and the call claims node 1',
    });
    expect(checkPeerClaim(undefined, 3)).toEqual({ kind: 'unchecked' });
  });
});

let certs: TestCertificates;
beforeAll(() => {
  certs = makeTestCertificates();
});
afterAll(() => certs.remove());

const servers: grpc.Server[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.forceShutdown();
});

/** A stand-in for Raft's Deliver: its path is the real one, its messages JSON. */
const json = {
  serialize: (value: unknown) => Buffer.from(JSON.stringify(value)),
  deserialize: (bytes: Buffer) => JSON.parse(bytes.toString()) as unknown,
};
const deliverPath = '/gregor.raft.RaftQuorum/Deliver';
const deliverService: grpc.ServiceDefinition = {
  Deliver: {
    path: deliverPath,
    requestStream: false,
    responseStream: false,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
  },
};
const DeliverClient = grpc.makeGenericClientConstructor(deliverService, 'RaftQuorum');

function tlsCredentials(keystore: string) {
  const config = brokerConfigFrom(
    new Map(
      Object.entries({
        'node.id': '1',
        'process.roles': 'broker,controller',
        'cluster.id': 'gregor-test',
        'controller.quorum.voters': '1@127.0.0.1:9192',
        'log.dirs': '/tmp/gregor-peer-node-identity',
        listeners: 'PLAINTEXT://:9092,CONTROLLER://:9192',
        'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:SSL',
        'ssl.truststore.location': certs.caCertificate,
        'ssl.keystore.location': keystore,
        'ssl.client.auth': 'required',
      }),
    ),
  );
  return internalGrpcCredentials(config.controllerTls);
}

async function serve(
  credentials: grpc.ServerCredentials,
  lines: Record<string, unknown>[],
  clock = new ManualClock(0),
): Promise<string> {
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
        done();
      },
    }),
  );
  const server = new grpc.Server({
    interceptors: [peerNodeIdentityInterceptor('CONTROLLER', logger, clock)],
  });
  server.addService(deliverService, {
    Deliver: (call: grpc.ServerUnaryCall<{ from: number }, unknown>, callback: grpc.sendUnaryData<unknown>) =>
      callback(null, { deliveredFrom: call.request.from }),
  });
  servers.push(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', credentials, (error, bound) =>
      error === null ? resolve(bound) : reject(error),
    ),
  );
  return `127.0.0.1:${port}`;
}

async function deliver(target: string, credentials: grpc.ChannelCredentials, from: number): Promise<string> {
  const client = new DeliverClient(target, credentials);
  try {
    return await new Promise<string>((resolve) => {
      client.makeUnaryRequest(
        deliverPath,
        json.serialize,
        json.deserialize,
        { from },
        { deadline: Date.now() + 5_000 },
        (error, response) => resolve(error === null ? JSON.stringify(response) : error.message),
      );
    });
  } finally {
    client.close();
  }
}

describe("a node's own certificate", () => {
  it('names the node, or the start-up log says its peers will refuse it', () => {
    const own = (name: string) => ({ cert: readFileSync(certs.node(name).certificate, 'utf8') });
    expect(ownCertificateProblem(own('node-3'), 3)).toBeUndefined();
    expect(ownCertificateProblem(own('node-2'), 3)).toBe(
      'this node\'s certificate has CN "node-2", not node-3: its peers refuse its Raft, controller and replica fetch calls (a node\'s certificate must name it, CN=node-<node.id>)',
    );
    expect(ownCertificateProblem({ pfx: Buffer.alloc(0) }, 3)).toBeUndefined();
  });
});

describe('the node identity interceptor', () => {
  it('serves node 2 as node 2 and refuses it as node 3, logging the claim and the peer', async () => {
    const lines: Record<string, unknown>[] = [];
    const target = await serve(tlsCredentials(certs.node('node-1').keystore).server, lines);
    const node2 = tlsCredentials(certs.node('node-2').keystore).channel;
    expect(await deliver(target, node2, 2)).toBe('{"deliveredFrom":2}');
    expect(await deliver(target, node2, 3)).toBe(
      '7 PERMISSION_DENIED: the peer certificate names node 2 (CN=node-2), and the call claims node 3',
    );
    const refusals = lines.filter(
      (line) => line.msg === 'failed authentication: a peer claimed a node its certificate does not name',
    );
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toMatchObject({
      level: 40,
      listener: 'CONTROLLER',
      rpc: deliverPath,
      claimedNodeId: 3,
      remote: expect.stringMatching(/127\.0\.0\.1:\d+/),
      notLoggedSinceLastLine: 0,
    });
  });

  it('logs a streak of refusals once per interval, with how many were not logged', async () => {
    const lines: Record<string, unknown>[] = [];
    const clock = new ManualClock(0);
    const target = await serve(tlsCredentials(certs.node('node-1').keystore).server, lines, clock);
    const node2 = tlsCredentials(certs.node('node-2').keystore).channel;
    for (let attempt = 0; attempt < 3; attempt++) {
      expect(await deliver(target, node2, 3)).toMatch(/^7 PERMISSION_DENIED/);
    }
    clock.advanceMs(peerClaimRefusalLogIntervalMs);
    expect(await deliver(target, node2, 3)).toMatch(/^7 PERMISSION_DENIED/);
    expect(
      lines
        .filter(
          (line) => line.msg === 'failed authentication: a peer claimed a node its certificate does not name',
        )
        .map((line) => line.notLoggedSinceLastLine),
    ).toEqual([0, 2]);
  });

  it('refuses a trusted certificate that names no node for a call that claims one', async () => {
    const target = await serve(tlsCredentials(certs.node('node-1').keystore).server, []);
    const probe = tlsCredentials(certs.node('describe-probe').keystore).channel;
    expect(await deliver(target, probe, 1)).toMatch(
      /^7 PERMISSION_DENIED: the peer certificate \(CN "describe-probe"\) names no node/,
    );
  });

  it('over PLAINTEXT (local development) there is no certificate and every claim stands', async () => {
    const target = await serve(plaintextInternalCredentials.server, []);
    expect(await deliver(target, plaintextInternalCredentials.channel, 3)).toBe('{"deliveredFrom":3}');
  });
});

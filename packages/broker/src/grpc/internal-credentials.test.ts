// The nodes' gRPC credentials, built from broker configs, against a real grpc-js server on
// loopback: one trivial unary method, so what is tested is the TLS around it.

import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { waitFor } from '@gregor/ground/testing';
import * as grpc from '@grpc/grpc-js';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { brokerConfigFrom } from '../config/broker-config.js';
import { logGrpcTlsHandshakeFailures } from '../network/accept-errors.js';
import { makeTestCertificates, type TestCertificates } from '../testing/test-certificates.js';
import { type InternalGrpcCredentials, internalGrpcCredentials } from './internal-credentials.js';

let certs: TestCertificates;

beforeAll(() => {
  certs = makeTestCertificates();
});

afterAll(() => certs.remove());

const identity = (bytes: Buffer) => bytes;
const echoService: grpc.ServiceDefinition = {
  Echo: {
    path: '/gregor.test.Echo/Echo',
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};
const EchoClient = grpc.makeGenericClientConstructor(echoService, 'Echo');

function credentialsFor(settings: Record<string, string>): InternalGrpcCredentials {
  const config = brokerConfigFrom(
    new Map(
      Object.entries({
        'node.id': '1',
        'process.roles': 'broker,controller',
        'cluster.id': 'gregor-test',
        'controller.quorum.voters': '1@127.0.0.1:9192',
        'log.dirs': '/tmp/gregor-internal-credentials',
        listeners: 'PLAINTEXT://:9092,CONTROLLER://:9192',
        'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:SSL',
        'ssl.truststore.location': certs.caCertificate,
        ...settings,
      }),
    ),
  );
  return internalGrpcCredentials(config.controllerTls);
}

const nodeKeystore = () => ({ 'ssl.keystore.location': certs.broker.keystore });

const servers: grpc.Server[] = [];

afterEach(() => {
  for (const server of servers.splice(0)) server.forceShutdown();
});

async function serve(
  credentials: grpc.ServerCredentials,
  host = '127.0.0.1',
  server = new grpc.Server(),
): Promise<string> {
  server.addService(echoService, {
    Echo: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) =>
      callback(null, call.request),
  });
  servers.push(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:0`, credentials, (error, bound) =>
      error === null ? resolve(bound) : reject(error),
    ),
  );
  return `${host}:${port}`;
}

/** One Echo call: the answer's text, or the error's message. */
async function echo(target: string, credentials: grpc.ChannelCredentials): Promise<string> {
  const client = new EchoClient(target, credentials);
  try {
    return await new Promise<string>((resolve) => {
      client.makeUnaryRequest<Buffer, Buffer>(
        '/gregor.test.Echo/Echo',
        identity,
        identity,
        Buffer.from('hello'),
        { deadline: Date.now() + 5_000 },
        (error, response) => resolve(error === null ? `answer: ${response!.toString()}` : error.message),
      );
    });
  } finally {
    client.close();
  }
}

describe('internal gRPC credentials', () => {
  it('PLAINTEXT when the controller listener is not SSL', () => {
    const config = brokerConfigFrom(
      new Map(
        Object.entries({
          'node.id': '1',
          'process.roles': 'broker,controller',
          'cluster.id': 'gregor-test',
          'controller.quorum.voters': '1@127.0.0.1:9192',
          'log.dirs': '/tmp/gregor-internal-credentials',
        }),
      ),
    );
    const credentials = internalGrpcCredentials(config.controllerTls);
    expect(credentials.description).toBe('PLAINTEXT');
    expect(credentials.server._isSecure()).toBe(false);
  });

  it('mutual TLS: a node holding a certificate of the trusted CA is answered', async () => {
    const node = credentialsFor({ ...nodeKeystore(), 'ssl.client.auth': 'required' });
    expect(node.description).toMatch(
      /^SSL \(PEM keystore .*, ssl.client.auth=required, peer hostname verified\)$/,
    );
    const target = await serve(node.server);
    expect(await echo(target, node.channel)).toBe('answer: hello');
  });

  it('mutual TLS: a peer with a certificate of another CA, or with none, fails the handshake', async () => {
    const target = await serve(credentialsFor({ ...nodeKeystore(), 'ssl.client.auth': 'required' }).server);
    const rogue = certs.untrustedClient('/CN=rogue');
    const rogueNode = credentialsFor({ 'ssl.keystore.location': rogue.keystore });
    expect(await echo(target, rogueNode.channel)).toMatch(/^14 UNAVAILABLE/);
    const anonymous = grpc.credentials.createSsl(readFileSync(certs.caCertificate));
    expect(await echo(target, anonymous)).toMatch(/^14 UNAVAILABLE/);
    expect(await echo(target, grpc.credentials.createInsecure())).toMatch(/^14 UNAVAILABLE/);
  });

  it('a refused handshake is logged with the peer address; an accepted one is not', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = pino(
      new Writable({
        write: (chunk: Buffer, _encoding, done) => {
          lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
          done();
        },
      }),
    );
    const server = new grpc.Server();
    const node = credentialsFor({ ...nodeKeystore(), 'ssl.client.auth': 'required' });
    const target = await serve(node.server, '127.0.0.1', server);
    expect(logGrpcTlsHandshakeFailures(server, 'CONTROLLER', logger)).toBe(true);
    expect(await echo(target, node.channel)).toBe('answer: hello');
    expect(lines).toEqual([]);
    const rogue = certs.untrustedClient('/CN=rogue');
    expect(await echo(target, credentialsFor({ 'ssl.keystore.location': rogue.keystore }).channel)).toMatch(
      /^14 UNAVAILABLE/,
    );
    await waitFor('a logged refusal', () => lines.length > 0, { timeoutMs: 5_000 });
    expect(lines[0]).toMatchObject({
      level: 40,
      listener: 'CONTROLLER',
      remote: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
      reason: 'client certificate refused: UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      msg: 'failed authentication: TLS handshake with a peer failed',
    });
    const anonymous = grpc.credentials.createSsl(readFileSync(certs.caCertificate));
    expect(await echo(target, anonymous)).toMatch(/^14 UNAVAILABLE/);
    await waitFor('a second logged refusal', () => lines.length > 1, { timeoutMs: 5_000 });
    expect(lines[1]).toMatchObject({
      level: 40,
      remote: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
      reason: expect.stringMatching(/peer did not return a certificate/),
    });
  });

  it('ssl.client.auth=none: the server does not ask for a certificate', async () => {
    const target = await serve(credentialsFor({ ...nodeKeystore(), 'ssl.client.auth': 'none' }).server);
    const anonymous = grpc.credentials.createSsl(readFileSync(certs.caCertificate));
    expect(await echo(target, anonymous)).toBe('answer: hello');
  });

  it('a client refuses a server whose certificate its truststore does not vouch for', async () => {
    const rogue = certs.untrustedClient('/CN=rogue-server');
    const target = await serve(credentialsFor({ 'ssl.keystore.location': rogue.keystore }).server);
    const node = credentialsFor(nodeKeystore());
    expect(await echo(target, node.channel)).toMatch(/^14 UNAVAILABLE/);
  });

  it('https endpoint identification refuses a server at an address its certificate does not name; empty does not check', async () => {
    // The test certificate names localhost, 127.0.0.1 and 127.0.0.2, not 127.0.0.3.
    const target = await serve(credentialsFor(nodeKeystore()).server, '127.0.0.3');
    const checking = credentialsFor(nodeKeystore());
    expect(await echo(target, checking.channel)).toMatch(/^14 UNAVAILABLE.*127\.0\.0\.3/);
    const named = await serve(credentialsFor(nodeKeystore()).server, '127.0.0.2');
    expect(await echo(named, checking.channel)).toBe('answer: hello');
    const unchecked = credentialsFor({ ...nodeKeystore(), 'ssl.endpoint.identification.algorithm': '' });
    expect(unchecked.description).toMatch(/peer hostname not verified/);
    expect(await echo(target, unchecked.channel)).toBe('answer: hello');
  });

  it('serves and dials with a PKCS12 keystore and with an encrypted PEM key', async () => {
    const pkcs12 = credentialsFor({
      'ssl.keystore.type': 'PKCS12',
      'ssl.keystore.location': certs.brokerPkcs12('store-secret'),
      'ssl.keystore.password': 'store-secret',
      'ssl.client.auth': 'required',
    });
    const encrypted = credentialsFor({
      'ssl.keystore.location': certs.brokerEncryptedKeystore('key-secret'),
      'ssl.key.password': 'key-secret',
      'ssl.client.auth': 'required',
    });
    expect(await echo(await serve(pkcs12.server), encrypted.channel)).toBe('answer: hello');
    expect(await echo(await serve(encrypted.server), pkcs12.channel)).toBe('answer: hello');
  });

  it('ssl.enabled.protocols holds on both sides: a TLSv1.3-only server refuses a TLSv1.2-only node', async () => {
    const tls13 = credentialsFor({ ...nodeKeystore(), 'ssl.enabled.protocols': 'TLSv1.3' });
    const tls12 = credentialsFor({ ...nodeKeystore(), 'ssl.enabled.protocols': 'TLSv1.2' });
    const target = await serve(tls13.server);
    expect(await echo(target, tls13.channel)).toBe('answer: hello');
    expect(await echo(target, tls12.channel)).toMatch(/^14 UNAVAILABLE/);
  });
});

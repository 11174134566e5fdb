// Re-authentication (KIP-368) through the router and the SaslHandshake / SaslAuthenticate handlers,
// on the fixture's ManualClock: the lifetime the broker announces, re-authenticating on the same
// connection, the close of an expired connection that did not, and Kafka's refusals.

import { ApiKey, ErrorCode, encodeRequest, type RequestInput, type SupportedApiKey } from '@gregor/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BrokerMetricsRecorder } from '../metrics/broker-metrics.js';
import type { ConnectionContext, FrameHandler } from '../network/connection.js';
import { createRequestRouter } from '../request-router.js';
import { ConnectionSession } from '../security/connection-session.js';
import { SaslAuthenticator } from '../security/sasl-authenticator.js';
import { decodeOutcome, LocalClusterFixture } from '../testing/local-cluster-fixture.js';
import { apiHandlers } from './api-handlers.js';

const listenerName = 'SASL_PLAINTEXT';
const maxReauthMs = 60_000;
const users = new Map([
  ['alice', 'alice-secret'],
  ['bob', 'bob-secret'],
]);

let cluster: LocalClusterFixture;
let router: FrameHandler;
let correlationId = 0;

let recorder: BrokerMetricsRecorder;

beforeEach(async () => {
  recorder = new BrokerMetricsRecorder(
    { windowMs: 30_000, samples: 2 },
    () => 0,
    () => true,
  );
  cluster = await LocalClusterFixture.start({ metrics: recorder });
  const sasl = new SaslAuthenticator(
    new Map([
      [
        listenerName,
        {
          mechanisms: ['PLAIN', 'SCRAM-SHA-256'],
          plainUsers: users,
          connectionsMaxReauthMs: new Map([
            ['PLAIN', maxReauthMs],
            ['SCRAM-SHA-256', maxReauthMs],
          ]),
        },
      ],
    ]),
    () => undefined,
    () => cluster.context.metadata.image().clusterSecret,
    () => cluster.clock.nowMs(),
  );
  router = createRequestRouter(cluster.context, apiHandlers({ sasl }));
});
afterEach(async () => {
  await cluster.close();
});

function newConnection(): ConnectionContext {
  return {
    connectionId: 7,
    remoteAddress: '127.0.0.1:50000',
    listenerName,
    session: new ConnectionSession('SASL_PLAINTEXT'),
  };
}

function send<K extends SupportedApiKey>(
  connection: ConnectionContext,
  apiKey: K,
  apiVersion: number,
  body: RequestInput<K>,
) {
  return router(encodeRequest(apiKey, apiVersion, correlationId++, 'reauth-test', body), connection);
}

async function authenticate(
  connection: ConnectionContext,
  user: string,
  mechanism = 'PLAIN',
  authenticateVersion = 2,
) {
  const handshake = decodeOutcome(
    ApiKey.SaslHandshake,
    1,
    await send(connection, ApiKey.SaslHandshake, 1, { mechanism }),
  );
  if (handshake.errorCode !== ErrorCode.NONE) return { handshake, outcome: undefined };
  const outcome = await send(connection, ApiKey.SaslAuthenticate, authenticateVersion, {
    authBytes: Buffer.from(`\u0000${user}\u0000${users.get(user) ?? 'wrong'}`),
  });
  return { handshake, outcome };
}

const metadata = (connection: ConnectionContext) => send(connection, ApiKey.Metadata, 1, { topics: [] });

describe('SASL re-authentication (connections.max.reauth.ms)', () => {
  it('announces the session lifetime and lets the client re-authenticate on the same connection, past several lifetimes', async () => {
    const connection = newConnection();
    const first = await authenticate(connection, 'alice');
    const response = decodeOutcome(ApiKey.SaslAuthenticate, 2, first.outcome!);
    expect(response).toMatchObject({ errorCode: ErrorCode.NONE, sessionLifetimeMs: BigInt(maxReauthMs) });
    for (let lifetime = 0; lifetime < 3; lifetime++) {
      cluster.clock.advanceMs(maxReauthMs * 0.9);
      expect((await metadata(connection)).kind).toBe('respond');
      const again = await authenticate(connection, 'alice');
      expect(again.handshake.errorCode).toBe(ErrorCode.NONE);
      expect(decodeOutcome(ApiKey.SaslAuthenticate, 2, again.outcome!)).toMatchObject({
        errorCode: ErrorCode.NONE,
        sessionLifetimeMs: BigInt(maxReauthMs),
      });
    }
    expect(connection.session!.reauthentications).toBe(3);
    cluster.clock.advanceMs(maxReauthMs * 0.9);
    expect((await metadata(connection)).kind).toBe('respond');
  });

  it('closes an expired connection that sends anything but re-authentication, naming principal and address', async () => {
    const connection = newConnection();
    await authenticate(connection, 'alice');
    cluster.clock.advanceMs(maxReauthMs);
    expect((await metadata(connection)).kind).toBe('respond');
    cluster.clock.advanceMs(1);
    expect(await metadata(connection)).toEqual({
      kind: 'close',
      reason: 'SASL session expired (connections.max.reauth.ms) without re-authentication',
    });
    const line = cluster.logLines.find((entry) => entry.includes('SASL session expired'))!;
    expect(JSON.parse(line)).toMatchObject({ principal: 'User:alice', remoteAddress: '127.0.0.1:50000' });
  });

  it('SaslAuthenticate v0, which cannot carry the lifetime, authenticates; the session still expires', async () => {
    const connection = newConnection();
    const { outcome } = await authenticate(connection, 'alice', 'PLAIN', 0);
    expect(decodeOutcome(ApiKey.SaslAuthenticate, 0, outcome!).errorCode).toBe(ErrorCode.NONE);
    cluster.clock.advanceMs(maxReauthMs + 1);
    expect((await metadata(connection)).kind).toBe('close');
  });

  it('an expired connection may still re-authenticate, and is then served again', async () => {
    const connection = newConnection();
    await authenticate(connection, 'alice');
    cluster.clock.advanceMs(maxReauthMs + 5_000);
    const again = await authenticate(connection, 'alice');
    expect(decodeOutcome(ApiKey.SaslAuthenticate, 2, again.outcome!).errorCode).toBe(ErrorCode.NONE);
    expect((await metadata(connection)).kind).toBe('respond');
  });

  it('serves requests sent during a re-authentication as the previous principal', async () => {
    const connection = newConnection();
    await authenticate(connection, 'alice');
    cluster.clock.advanceMs(maxReauthMs / 2);
    await send(connection, ApiKey.SaslHandshake, 1, { mechanism: 'PLAIN' });
    expect(connection.session!.reauthenticating).toBe(true);
    expect((await metadata(connection)).kind).toBe('respond');
    expect(connection.session!.principal).toEqual({ principalType: 'User', name: 'alice' });
  });

  it('refuses a re-authentication as another principal with Kafka message and closes', async () => {
    const connection = newConnection();
    await authenticate(connection, 'alice');
    cluster.clock.advanceMs(2_000);
    const again = await authenticate(connection, 'bob');
    expect(again.outcome).toMatchObject({ kind: 'respond', closeAfter: 'SASL authentication failed' });
    expect(decodeOutcome(ApiKey.SaslAuthenticate, 2, again.outcome!)).toMatchObject({
      errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED,
      errorMessage: 'Cannot change principals during re-authentication from User.alice: User.bob',
    });
  });

  it('refuses a re-authentication with another mechanism, and one begun within a second of the last', async () => {
    const connection = newConnection();
    await authenticate(connection, 'alice');
    cluster.clock.advanceMs(2_000);
    await authenticate(connection, 'alice');
    cluster.clock.advanceMs(999);
    expect((await authenticate(connection, 'alice')).handshake.errorCode).toBe(ErrorCode.ILLEGAL_SASL_STATE);
    cluster.clock.advanceMs(1);
    const other = await authenticate(connection, 'alice', 'SCRAM-SHA-256');
    expect(other.handshake.errorCode).toBe(ErrorCode.UNSUPPORTED_SASL_MECHANISM);
    expect(connection.session!.saslState).toBe('failed');
    expect(cluster.logLines.some((line) => line.includes('not supported for re-authentication'))).toBe(true);
  });
});

describe('socket-server authentication metrics', () => {
  it('counts authentications and re-authentications, good and bad, and times re-authentication', async () => {
    const alice = newConnection();
    await authenticate(alice, 'alice');
    await authenticate(newConnection(), 'bob-unknown');
    await authenticate(newConnection(), 'nobody', 'GSSAPI');
    cluster.clock.advanceMs(2_000);
    await send(alice, ApiKey.SaslHandshake, 1, { mechanism: 'PLAIN' });
    cluster.clock.advanceMs(3);
    const reauthenticated = await send(alice, ApiKey.SaslAuthenticate, 2, {
      authBytes: Buffer.from('\u0000alice\u0000alice-secret'),
    });
    expect(decodeOutcome(ApiKey.SaslAuthenticate, 2, reauthenticated).errorCode).toBe(ErrorCode.NONE);
    cluster.clock.advanceMs(2_000);
    const other = await authenticate(alice, 'bob');
    expect(decodeOutcome(ApiKey.SaslAuthenticate, 2, other.outcome!).errorCode).toBe(
      ErrorCode.SASL_AUTHENTICATION_FAILED,
    );
    const counters = recorder.listeners.get(listenerName)!;
    expect(counters).toMatchObject({
      successfulAuthentications: 1,
      // A wrong password and an unsupported mechanism.
      failedAuthentications: 2,
      successfulReauthentications: 1,
      failedReauthentications: 1,
    });
    expect(counters.reauthenticationLatencyMs.measure(0)).toEqual({ avg: 3, max: 3 });
  });
});

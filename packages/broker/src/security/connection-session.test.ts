import { describe, expect, it } from 'vitest';
import { ConnectionSession, reauthenticationIntervalMinMs } from './connection-session.js';
import { userPrincipal } from './kafka-principal.js';
import { PlainExchange } from './sasl-plain.js';

const users = new Map([
  ['alice', 'alice-secret'],
  ['bob', 'bob-secret'],
]);
const lifetimeMs = 10_000;

/** A SASL_PLAINTEXT session authenticated as alice at `nowMs` with a 10 s lifetime. */
function authenticatedSession(nowMs: number, maxReauthMs = lifetimeMs): ConnectionSession {
  const session = new ConnectionSession('SASL_PLAINTEXT');
  session.beginSasl(new PlainExchange(users), 1, maxReauthMs);
  expect(session.authenticated(userPrincipal('alice'), nowMs)).toEqual({
    kind: 'authenticated',
    sessionLifetimeMs: maxReauthMs,
  });
  return session;
}

describe('SASL session lifetime (connections.max.reauth.ms)', () => {
  it('expires only after its lifetime, and never when connections.max.reauth.ms is 0', () => {
    const session = authenticatedSession(1_000);
    expect(session.expired(1_000 + lifetimeMs)).toBe(false);
    expect(session.expired(1_000 + lifetimeMs + 1)).toBe(true);
    const forever = authenticatedSession(1_000, 0);
    expect(forever.expired(Number.MAX_SAFE_INTEGER)).toBe(false);
    expect(forever.beginReauthentication(5_000)).toEqual({
      kind: 'not-allowed',
      reason: 're-authentication is disabled (connections.max.reauth.ms is 0)',
    });
  });

  it('re-authenticating as the same principal starts a new lifetime and keeps the principal meanwhile', () => {
    const session = authenticatedSession(0);
    expect(session.beginReauthentication(9_000)).toEqual({ kind: 'begun' });
    session.beginSasl(new PlainExchange(users), 1, lifetimeMs);
    expect(session.reauthenticating).toBe(true);
    expect(session.principal).toEqual(userPrincipal('alice'));
    expect(session.authenticated(userPrincipal('alice'), 9_500)).toEqual({
      kind: 'authenticated',
      sessionLifetimeMs: lifetimeMs,
    });
    expect(session.reauthentications).toBe(1);
    expect(session.saslState).toBe('complete');
    expect(session.expired(9_500 + lifetimeMs)).toBe(false);
    expect(session.expired(9_500 + lifetimeMs + 1)).toBe(true);
  });

  it('refuses a re-authentication as another principal with Kafka message, and drops the principal', () => {
    const session = authenticatedSession(0);
    session.beginReauthentication(5_000);
    session.beginSasl(new PlainExchange(users), 1, lifetimeMs);
    expect(session.authenticated(userPrincipal('bob'), 5_100)).toEqual({
      kind: 'refused',
      message: 'Cannot change principals during re-authentication from User.alice: User.bob',
    });
    expect(session.saslState).toBe('failed');
    expect(session.principal).toBeUndefined();
  });

  it('starts re-authentications at most once a second, and never before the first authentication', () => {
    const unauthenticated = new ConnectionSession('SASL_PLAINTEXT');
    expect(unauthenticated.beginReauthentication(0).kind).toBe('not-allowed');
    const session = authenticatedSession(0);
    expect(session.beginReauthentication(2_000)).toEqual({ kind: 'begun' });
    session.beginSasl(new PlainExchange(users), 1, lifetimeMs);
    session.authenticated(userPrincipal('alice'), 2_010);
    expect(session.beginReauthentication(2_000 + reauthenticationIntervalMinMs - 1)).toEqual({
      kind: 'not-allowed',
      reason: 'the last re-authentication began less than a second ago',
    });
    expect(session.beginReauthentication(2_000 + reauthenticationIntervalMinMs)).toEqual({ kind: 'begun' });
  });

  it('a PLAINTEXT or SSL session never expires and cannot re-authenticate', () => {
    const session = new ConnectionSession('SSL', userPrincipal('CN=client'));
    expect(session.expired(Number.MAX_SAFE_INTEGER)).toBe(false);
    expect(session.beginReauthentication(0).kind).toBe('not-allowed');
  });
});

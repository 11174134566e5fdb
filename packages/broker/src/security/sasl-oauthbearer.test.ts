import { describe, expect, it } from 'vitest';
import { listenerSasl } from '../config/listener-sasl.js';
import { ConnectionSession } from './connection-session.js';
import { parseJaasConfig } from './jaas-config.js';
import { userPrincipal } from './kafka-principal.js';
import { OAuthBearerExchange } from './sasl-oauthbearer.js';
import {
  defaultUnsecuredJwtValidatorOptions,
  unsecuredJwtValidatorOptions,
  validateUnsecuredJwt,
} from './unsecured-jwt.js';

const nowMs = 1_700_000_000_000;
const nowS = nowMs / 1000;

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
function jwt(claims: Record<string, unknown>, header: Record<string, unknown> = { alg: 'none' }): string {
  return `${b64url(header)}.${b64url(claims)}.`;
}
const clientFirst = (token: string, authzid = '') =>
  Buffer.from(`n,${authzid === '' ? '' : `a=${authzid}`},\u0001auth=Bearer ${token}\u0001\u0001`);

describe('unsecured JWT validation', () => {
  const options = defaultUnsecuredJwtValidatorOptions;

  it('accepts a token with sub and a future exp, giving the principal and the expiry in ms', () => {
    expect(validateUnsecuredJwt(jwt({ sub: 'alice', exp: nowS + 60, iat: nowS }), options, nowMs)).toEqual({
      valid: true,
      principalName: 'alice',
      expiresAtMs: nowMs + 60_000,
      scope: [],
    });
    // Fractional seconds, as Kafka reads them.
    expect(validateUnsecuredJwt(jwt({ sub: 'alice', exp: nowS + 1.5 }), options, nowMs)).toMatchObject({
      valid: true,
      expiresAtMs: nowMs + 1500,
    });
  });

  it('refuses an expired token, one without exp, and one expiring exactly now', () => {
    for (const claims of [{ sub: 'alice', exp: nowS - 1 }, { sub: 'alice' }, { sub: 'alice', exp: nowS }]) {
      expect(validateUnsecuredJwt(jwt(claims), options, nowMs)).toMatchObject({
        valid: false,
        status: 'invalid_token',
      });
    }
    expect(validateUnsecuredJwt(jwt({ sub: 'a', exp: 'soon' }), options, nowMs)).toMatchObject({
      valid: false,
    });
  });

  it('refuses a token without the principal claim, with a blank or non-string one', () => {
    for (const sub of [undefined, '  ', 42]) {
      expect(validateUnsecuredJwt(jwt({ sub, exp: nowS + 60 }), options, nowMs)).toMatchObject({
        valid: false,
        status: 'invalid_token',
      });
    }
  });

  it('reads the principal from the claim unsecuredValidatorPrincipalClaimName names', () => {
    const custom = { ...options, principalClaimName: 'client_id' };
    expect(
      validateUnsecuredJwt(jwt({ client_id: 'svc', sub: 'x', exp: nowS + 60 }), custom, nowMs),
    ).toMatchObject({
      valid: true,
      principalName: 'svc',
    });
    expect(validateUnsecuredJwt(jwt({ sub: 'x', exp: nowS + 60 }), custom, nowMs)).toMatchObject({
      valid: false,
    });
  });

  it('refuses any algorithm but none, a signature, and malformed serializations', () => {
    const claims = { sub: 'alice', exp: nowS + 60 };
    expect(validateUnsecuredJwt(jwt(claims, { alg: 'HS256' }), options, nowMs)).toMatchObject({
      valid: false,
      reason: "Unsecured JWS must have 'none' for an algorithm",
    });
    expect(validateUnsecuredJwt(jwt(claims, {}), options, nowMs)).toMatchObject({ valid: false });
    expect(validateUnsecuredJwt(`${jwt(claims)}c2ln`, options, nowMs)).toMatchObject({
      valid: false,
      reason: 'Unsecured JWS must not contain a digital signature',
    });
    for (const token of [
      'abc',
      'a.b',
      `${b64url({ alg: 'none' })}.%%%.`,
      `${b64url({ alg: 'none' })}.${b64url([1])}.`,
    ]) {
      expect(validateUnsecuredJwt(token, options, nowMs)).toMatchObject({
        valid: false,
        status: 'invalid_token',
      });
    }
  });

  it('checks iat: not after now (plus skew), and before exp', () => {
    expect(
      validateUnsecuredJwt(jwt({ sub: 'a', exp: nowS + 60, iat: nowS + 10 }), options, nowMs),
    ).toMatchObject({
      valid: false,
    });
    expect(
      validateUnsecuredJwt(
        jwt({ sub: 'a', exp: nowS + 60, iat: nowS + 61 }),
        { ...options, allowableClockSkewMs: 70_000 },
        nowMs,
      ),
    ).toMatchObject({
      valid: false,
      reason: expect.stringContaining('was not after the Issued At time'),
    });
  });

  it('allows unsecuredValidatorAllowableClockSkewMs on both exp and iat', () => {
    const skewed = { ...options, allowableClockSkewMs: 5000 };
    expect(validateUnsecuredJwt(jwt({ sub: 'a', exp: nowS - 4 }), skewed, nowMs)).toMatchObject({
      valid: true,
    });
    expect(validateUnsecuredJwt(jwt({ sub: 'a', exp: nowS - 5 }), skewed, nowMs)).toMatchObject({
      valid: false,
    });
    expect(
      validateUnsecuredJwt(jwt({ sub: 'a', exp: nowS + 60, iat: nowS + 5 }), skewed, nowMs),
    ).toMatchObject({
      valid: true,
    });
    expect(
      validateUnsecuredJwt(jwt({ sub: 'a', exp: nowS + 60, iat: nowS + 6 }), skewed, nowMs),
    ).toMatchObject({
      valid: false,
    });
  });

  it('requires every scope of unsecuredValidatorRequiredScope, from a list or a single string', () => {
    const scoped = { ...options, requiredScope: ['LOGIN_TO_KAFKA', 'PRODUCE'] };
    expect(
      validateUnsecuredJwt(
        jwt({ sub: 'a', exp: nowS + 60, scope: ['PRODUCE', 'LOGIN_TO_KAFKA', 'X'] }),
        scoped,
        nowMs,
      ),
    ).toMatchObject({ valid: true, scope: ['PRODUCE', 'LOGIN_TO_KAFKA', 'X'] });
    expect(
      validateUnsecuredJwt(jwt({ sub: 'a', exp: nowS + 60, scope: ['PRODUCE'] }), scoped, nowMs),
    ).toEqual({
      valid: false,
      status: 'insufficient_scope',
      scope: '[LOGIN_TO_KAFKA, PRODUCE]',
      reason: expect.stringContaining('missing a required scope (LOGIN_TO_KAFKA)'),
    });
    // A string is one scope, as in Kafka (not split on spaces).
    expect(
      validateUnsecuredJwt(
        jwt({ sub: 'a', exp: nowS + 60, scope: 'LOGIN_TO_KAFKA' }),
        { ...options, requiredScope: ['LOGIN_TO_KAFKA'] },
        nowMs,
      ),
    ).toMatchObject({ valid: true });
  });

  it('takes its options from the OAuthBearerLoginModule entry, and refuses bad ones', () => {
    const entry = parseJaasConfig(
      'org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required ' +
        'unsecuredValidatorPrincipalClaimName="client_id" unsecuredValidatorRequiredScope="a b" ' +
        'unsecuredValidatorAllowableClockSkewMs="3000";',
    );
    expect(unsecuredJwtValidatorOptions(entry)).toEqual({
      principalClaimName: 'client_id',
      scopeClaimName: 'scope',
      requiredScope: ['a', 'b'],
      allowableClockSkewMs: 3000,
    });
    expect(() =>
      unsecuredJwtValidatorOptions(
        parseJaasConfig(
          'org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredValidatorAllowableClockSkewMs="-1";',
        ),
      ),
    ).toThrow(/non-negative/);
    expect(() => unsecuredJwtValidatorOptions(parseJaasConfig('x.Other required;'))).toThrow(
      /OAuthBearerLoginModule/,
    );
  });
});

describe('SASL/OAUTHBEARER exchange', () => {
  const exchange = () => new OAuthBearerExchange(defaultUnsecuredJwtValidatorOptions, () => nowMs);
  const good = jwt({ sub: 'alice', exp: nowS + 60 });

  it('authenticates the RFC 7628 client-first message, with and without an authzid', () => {
    expect(exchange().step(clientFirst(good))).toEqual({
      kind: 'done',
      response: Buffer.alloc(0),
      user: 'alice',
      credentialExpiresAtMs: nowMs + 60_000,
    });
    expect(exchange().step(clientFirst(good, 'alice'))).toMatchObject({ kind: 'done', user: 'alice' });
    // Extensions (as librdkafka's `extension_<name>=`) are accepted.
    const withExtension = Buffer.from(`n,,\u0001auth=Bearer ${good}\u0001traceId=abc\u0001\u0001`);
    expect(exchange().step(withExtension)).toMatchObject({ kind: 'done', user: 'alice' });
  });

  it('answers an invalid token with the RFC 7628 JSON error, then fails with it as the message', () => {
    const server = exchange();
    const expired = jwt({ sub: 'alice', exp: nowS - 1 });
    expect(server.step(clientFirst(expired))).toEqual({
      kind: 'challenge',
      response: Buffer.from('{"status":"invalid_token"}'),
    });
    expect(server.step(Buffer.from('\u0001'))).toMatchObject({
      kind: 'failed',
      clientMessage: '{"status":"invalid_token"}',
      reason: expect.stringContaining('Expiration Time'),
    });
    const scoped = new OAuthBearerExchange(
      { ...defaultUnsecuredJwtValidatorOptions, requiredScope: ['K'] },
      () => nowMs,
    );
    expect(scoped.step(clientFirst(good))).toEqual({
      kind: 'challenge',
      response: Buffer.from('{"status":"insufficient_scope", "scope":"[K]"}'),
    });
  });

  it('refuses an authzid other than the principal with Kafka’s message, and malformed messages generically', () => {
    expect(exchange().step(clientFirst(good, 'bob'))).toMatchObject({
      kind: 'failed',
      clientMessage:
        "Authentication failed: Client requested an authorization id (bob) that is different from the token's principal name (alice)",
    });
    for (const message of [
      `n,,auth=Bearer ${good}`,
      `n,,\u0001auth=Basic ${good}\u0001\u0001`,
      `n,,\u0001auth=Bearer\u0001\u0001`,
      `n,,\u0001foo=bar\u0001\u0001`,
      `y,,\u0001auth=Bearer ${good}\u0001\u0001`,
    ]) {
      const step = exchange().step(Buffer.from(message));
      expect(step.kind).toBe('failed');
      expect(step).not.toHaveProperty('clientMessage');
    }
  });

  it('reads the time it is given, never a clock of its own', () => {
    let clock = nowMs;
    const server = () => new OAuthBearerExchange(defaultUnsecuredJwtValidatorOptions, () => clock);
    expect(server().step(clientFirst(good)).kind).toBe('done');
    clock = nowMs + 60_000;
    expect(server().step(clientFirst(good)).kind).toBe('challenge');
  });
});

describe('an OAUTHBEARER session is bounded by the token', () => {
  const mechanismExchange = () => new OAuthBearerExchange(defaultUnsecuredJwtValidatorOptions, () => nowMs);

  it('lasts until exp without connections.max.reauth.ms, and the shorter of both with it', () => {
    const session = new ConnectionSession('SASL_PLAINTEXT');
    session.beginSasl(mechanismExchange(), 1, 0);
    expect(session.authenticated(userPrincipal('alice'), nowMs, nowMs + 30_000)).toEqual({
      kind: 'authenticated',
      sessionLifetimeMs: 30_000,
    });
    expect(session.expired(nowMs + 30_000)).toBe(false);
    expect(session.expired(nowMs + 30_001)).toBe(true);

    const bounded = new ConnectionSession('SASL_PLAINTEXT');
    bounded.beginSasl(mechanismExchange(), 1, 10_000);
    expect(bounded.authenticated(userPrincipal('alice'), nowMs, nowMs + 30_000)).toMatchObject({
      sessionLifetimeMs: 10_000,
    });
    const tokenFirst = new ConnectionSession('SASL_PLAINTEXT');
    tokenFirst.beginSasl(mechanismExchange(), 1, 60_000);
    expect(tokenFirst.authenticated(userPrincipal('alice'), nowMs, nowMs + 30_000)).toMatchObject({
      sessionLifetimeMs: 30_000,
    });
    // A session with an end may re-authenticate even when connections.max.reauth.ms is 0.
    expect(session.beginReauthentication(nowMs + 1000)).toEqual({ kind: 'begun' });
  });
});

describe('OAUTHBEARER listener config', () => {
  const base = (extra: Record<string, string>) =>
    new Map(Object.entries({ 'listener.name.sasl.sasl.enabled.mechanisms': 'OAUTHBEARER', ...extra }));
  const jaas =
    'org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredValidatorRequiredScope="k";';

  it('reads the validator options from listener.name.<l>.oauthbearer.sasl.jaas.config', () => {
    expect(
      listenerSasl(base({ 'listener.name.sasl.oauthbearer.sasl.jaas.config': jaas }), 'SASL').oauthBearer,
    ).toEqual({
      ...defaultUnsecuredJwtValidatorOptions,
      requiredScope: ['k'],
    });
  });

  it('refuses no JAAS config, another login module, and a callback handler it does not have', () => {
    expect(() => listenerSasl(base({}), 'SASL')).toThrow(/OAuthBearerLoginModule/);
    expect(() =>
      listenerSasl(
        base({
          'listener.name.sasl.oauthbearer.sasl.jaas.config':
            'org.apache.kafka.common.security.plain.PlainLoginModule required;',
        }),
        'SASL',
      ),
    ).toThrow(/OAuthBearerLoginModule/);
    expect(() =>
      listenerSasl(
        base({
          'listener.name.sasl.oauthbearer.sasl.jaas.config': jaas,
          'listener.name.sasl.oauthbearer.sasl.server.callback.handler.class':
            'org.apache.kafka.common.security.oauthbearer.OAuthBearerValidatorCallbackHandler',
        }),
        'SASL',
      ),
    ).toThrow(/only .*OAuthBearerUnsecuredValidatorCallbackHandler/);
    // The unsecured validator named explicitly is what Kafka uses by default: accepted.
    expect(
      listenerSasl(
        base({
          'listener.name.sasl.oauthbearer.sasl.jaas.config': jaas,
          'listener.name.sasl.oauthbearer.sasl.server.callback.handler.class':
            'org.apache.kafka.common.security.oauthbearer.internals.unsecured.OAuthBearerUnsecuredValidatorCallbackHandler',
        }),
        'SASL',
      ).mechanisms,
    ).toEqual(['OAUTHBEARER']);
    // A handler for another mechanism would do nothing here: refused too.
    expect(() =>
      listenerSasl(
        new Map([
          ['listener.name.sasl.sasl.enabled.mechanisms', 'PLAIN'],
          [
            'listener.name.sasl.plain.sasl.jaas.config',
            'org.apache.kafka.common.security.plain.PlainLoginModule required user_a="b";',
          ],
          ['listener.name.sasl.plain.sasl.server.callback.handler.class', 'com.example.PlainHandler'],
        ]),
        'SASL',
      ),
    ).toThrow(/not available for PLAIN/);
  });
});

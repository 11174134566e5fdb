// SaslAuthenticate (key 36), versions 0-2.
//   Request  => auth_bytes
//   Response => error_code error_message(nullable) auth_bytes session_lifetime_ms(1+)
//
// One step of the exchange SaslHandshake began. A failure is SASL_AUTHENTICATION_FAILED with
// Kafka's message, the same whether the user is unknown or the password wrong, and the connection
// closes after the answer; the broker logs the user the client claimed and its address.
// session_lifetime_ms is connections.max.reauth.ms of the mechanism, or less when the credential
// ends sooner (an OAUTHBEARER token's exp), as Kafka's SaslServerAuthenticator (0: never expires);
// the client re-authenticates before it ends (KIP-368, see security/connection-session.ts). A
// re-authentication that proves another principal fails with Kafka's "Cannot change principals"
// message and the connection closes.

import { type ApiKey, ErrorCode, type RequestBody, type ResponseInput } from '@gregor/protocol';
import type { ConnectionSession } from '../security/connection-session.js';
import { formatPrincipal, userPrincipal } from '../security/kafka-principal.js';
import type { RequestContext } from './api-handler.js';

type Key = typeof ApiKey.SaslAuthenticate;

export type SaslStepOutcome =
  | { readonly kind: 'challenge'; readonly response: Buffer }
  | { readonly kind: 'done'; readonly response: Buffer; readonly sessionLifetimeMs: number }
  /** `message`: what the client is told; the connection closes after it. */
  | { readonly kind: 'failed'; readonly message: string };

/**
 * Feeds one client token to the session's exchange; on success the session is authenticated (or
 * re-authenticated), on failure it is failed and the reason logged. Shared with the bare-token
 * (handshake v0) path.
 */
export function saslStep(
  session: ConnectionSession,
  token: Buffer,
  context: Pick<RequestContext, 'broker' | 'connection'>,
): SaslStepOutcome {
  const exchange = session.exchange!;
  const reauthenticating = session.reauthenticating;
  const what = reauthenticating ? 're-authentication' : 'authentication';
  const logFields = (principal: string | null) => ({
    listener: context.connection.listenerName,
    remote: context.connection.remoteAddress,
    principal,
    mechanism: exchange.mechanism,
  });
  const listener = context.connection.listenerName;
  const step = exchange.step(token);
  if (step.kind === 'challenge') return step;
  if (step.kind === 'failed') {
    session.failSasl();
    context.broker.metrics.authenticationCompleted(listener, 'failed', reauthenticating);
    context.broker.logger.warn(
      { ...logFields(step.user === undefined ? null : `User:${step.user}`), reason: step.reason },
      `failed ${what}`,
    );
    return {
      kind: 'failed',
      message: step.clientMessage ?? authenticationFailedMessage(exchange.mechanism, reauthenticating),
    };
  }
  const principal = step.principal ?? userPrincipal(step.user);
  const nowMs = context.broker.clock.nowMs();
  const reauthenticationStartedAtMs = session.reauthenticationStartedAtMs;
  const result = session.authenticated(principal, nowMs, step.credentialExpiresAtMs);
  context.broker.metrics.authenticationCompleted(
    listener,
    result.kind === 'refused' ? 'failed' : 'succeeded',
    reauthenticating,
    reauthenticating && reauthenticationStartedAtMs !== undefined
      ? Math.max(0, nowMs - reauthenticationStartedAtMs)
      : undefined,
  );
  if (result.kind === 'refused') {
    context.broker.logger.warn(
      { ...logFields(formatPrincipal(principal)), reason: result.message },
      `failed ${what}`,
    );
    return { kind: 'failed', message: result.message };
  }
  if (reauthenticating) {
    context.broker.logger.info(
      {
        ...logFields(formatPrincipal(principal)),
        connectionId: context.connection.connectionId,
        reauthentications: session.reauthentications,
      },
      'SASL re-authentication succeeded',
    );
  }
  return { kind: 'done', response: step.response, sessionLifetimeMs: result.sessionLifetimeMs };
}

export function authenticationFailedMessage(mechanism: string, reauthenticating = false): string {
  const what = reauthenticating ? 're-authentication' : 'authentication';
  return `Authentication failed during ${what} due to invalid credentials with SASL mechanism ${mechanism}`;
}

export async function handleSaslAuthenticate(
  body: RequestBody<Key>,
  apiVersion: number,
  context: RequestContext,
): Promise<ResponseInput<Key>> {
  const session = context.connection.session;
  if (session === undefined || session.saslState !== 'authenticate' || session.exchange === undefined) {
    if (session?.needsSasl === true && session.saslState !== 'complete') session.failSasl();
    return {
      errorCode: ErrorCode.ILLEGAL_SASL_STATE,
      errorMessage: 'SaslAuthenticate is not expected now: send SaslHandshake first',
      authBytes: Buffer.alloc(0),
      sessionLifetimeMs: 0n,
    };
  }
  const step = saslStep(session, body.authBytes, context);
  if (step.kind === 'failed') {
    return {
      errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED,
      errorMessage: step.message,
      authBytes: Buffer.alloc(0),
      sessionLifetimeMs: 0n,
    };
  }
  return {
    errorCode: ErrorCode.NONE,
    errorMessage: null,
    authBytes: step.response,
    // v0 has no field for it: such a client is not told, and its connection closes when it expires.
    sessionLifetimeMs: step.kind === 'done' && apiVersion >= 1 ? BigInt(step.sessionLifetimeMs) : 0n,
  };
}

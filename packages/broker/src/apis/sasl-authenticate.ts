// SaslAuthenticate (key 36), versions 0-2.
//   Request  => auth_bytes
//   Response => error_code error_message(nullable) auth_bytes session_lifetime_ms(1+)
//
// One step of the exchange SaslHandshake began. A failure is SASL_AUTHENTICATION_FAILED with
// Kafka's message, the same whether the user is unknown or the password wrong, and the connection
// closes after the answer; the broker logs the user the client claimed and its address.
// session_lifetime_ms is 0: connections are not re-authenticated (connections.max.reauth.ms).

import { type ApiKey, ErrorCode, type RequestBody, type ResponseInput } from '@gregor/protocol';
import type { ConnectionSession } from '../security/connection-session.js';
import { userPrincipal } from '../security/kafka-principal.js';
import type { SaslStep } from '../security/sasl-exchange.js';
import type { RequestContext } from './api-handler.js';

type Key = typeof ApiKey.SaslAuthenticate;

/**
 * Feeds one client token to the session's exchange; on success the session is authenticated, on
 * failure it is failed and the reason logged. Shared with the bare-token (handshake v0) path.
 */
export function saslStep(
  session: ConnectionSession,
  token: Buffer,
  context: Pick<RequestContext, 'broker' | 'connection'>,
): SaslStep {
  const exchange = session.exchange!;
  const step = exchange.step(token);
  if (step.kind === 'done') {
    session.authenticated(userPrincipal(step.user));
  } else if (step.kind === 'failed') {
    session.failSasl();
    context.broker.logger.warn(
      {
        listener: context.connection.listenerName,
        remote: context.connection.remoteAddress,
        principal: step.user === undefined ? null : `User:${step.user}`,
        mechanism: exchange.mechanism,
        reason: step.reason,
      },
      'failed authentication',
    );
  }
  return step;
}

export function authenticationFailedMessage(mechanism: string): string {
  return `Authentication failed during authentication due to invalid credentials with SASL mechanism ${mechanism}`;
}

export async function handleSaslAuthenticate(
  body: RequestBody<Key>,
  _apiVersion: number,
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
  const mechanism = session.exchange.mechanism;
  const step = saslStep(session, body.authBytes, context);
  if (step.kind === 'failed') {
    return {
      errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED,
      errorMessage: authenticationFailedMessage(mechanism),
      authBytes: Buffer.alloc(0),
      sessionLifetimeMs: 0n,
    };
  }
  return { errorCode: ErrorCode.NONE, errorMessage: null, authBytes: step.response, sessionLifetimeMs: 0n };
}

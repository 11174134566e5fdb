// SaslHandshake (key 17), versions 0-1.
//   Request  => mechanism
//   Response => error_code [mechanisms]
//
// On a SASL listener, before authentication: picks the mechanism (UNSUPPORTED_SASL_MECHANISM, with
// the listener's list, and the connection closes, if it is not offered). With v1 the tokens follow
// in SaslAuthenticate; with v0 as bare size-prefixed frames (kafka-python 2.0 does this), which
// the router hands to the exchange.
//
// On an authenticated connection whose session has a lifetime (connections.max.reauth.ms > 0) it
// begins a re-authentication (KIP-368), at most once a second, with the mechanism the connection
// authenticated with; another mechanism is refused with Kafka's message and the connection closes
// (Kafka lets the handshake pass and fails the next step; the client sees the same end).
// Anywhere else (a listener without SASL, an authenticated connection that may not re-authenticate)
// ILLEGAL_SASL_STATE, as Kafka answers.

import { type ApiKey, ErrorCode, type RequestBody, type ResponseInput } from '@gregor/protocol';
import { formatPrincipal } from '../security/kafka-principal.js';
import type { SaslAuthenticator } from '../security/sasl-authenticator.js';
import type { RequestContext } from './api-handler.js';

type Key = typeof ApiKey.SaslHandshake;

export function createSaslHandshakeHandler(authenticator: SaslAuthenticator) {
  return async (
    body: RequestBody<Key>,
    apiVersion: number,
    context: RequestContext,
  ): Promise<ResponseInput<Key>> => {
    const session = context.connection.session;
    const listener = context.connection.listenerName;
    const mechanisms = [...authenticator.mechanismsOf(listener)];
    if (session === undefined) return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms };
    const logFields = () => ({
      listener,
      remote: context.connection.remoteAddress,
      mechanism: body.mechanism,
      principal: session.principal === undefined ? null : formatPrincipal(session.principal),
    });
    const reauthenticating = session.saslState === 'complete';
    if (reauthenticating) {
      const start = session.beginReauthentication(context.broker.clock.nowMs());
      if (start.kind === 'not-allowed') {
        context.broker.logger.debug({ ...logFields(), reason: start.reason }, 'SaslHandshake refused');
        return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms };
      }
      if (body.mechanism !== session.mechanism) {
        context.broker.logger.warn(
          logFields(),
          `failed re-authentication: SASL mechanism '${body.mechanism}' requested by client is not supported for re-authentication of mechanism '${session.mechanism}'`,
        );
        session.failSasl();
        context.broker.metrics.authenticationCompleted(listener, 'failed', true);
        return { errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM, mechanisms };
      }
    } else if (session.saslState !== 'handshake') {
      return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms };
    }
    const exchange = authenticator.start(listener, body.mechanism);
    if (exchange === undefined) {
      context.broker.logger.warn(
        logFields(),
        'failed authentication: SASL mechanism not enabled on this listener',
      );
      session.failSasl();
      context.broker.metrics.authenticationCompleted(listener, 'failed', reauthenticating);
      return { errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM, mechanisms };
    }
    session.beginSasl(exchange, apiVersion, authenticator.maxReauthMsOf(listener, body.mechanism));
    return { errorCode: ErrorCode.NONE, mechanisms };
  };
}

// SaslHandshake (key 17), versions 0-1.
//   Request  => mechanism
//   Response => error_code [mechanisms]
//
// On a SASL listener, before authentication: picks the mechanism (UNSUPPORTED_SASL_MECHANISM, with
// the listener's list, and the connection closes, if it is not offered). With v1 the tokens follow
// in SaslAuthenticate; with v0 as bare size-prefixed frames (kafka-python 2.0 does this), which
// the router hands to the exchange. Anywhere else (a listener without SASL, an authenticated
// connection) ILLEGAL_SASL_STATE, as Kafka answers.

import { type ApiKey, ErrorCode, type RequestBody, type ResponseInput } from '@gregor/protocol';
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
    if (session === undefined || session.saslState !== 'handshake') {
      return { errorCode: ErrorCode.ILLEGAL_SASL_STATE, mechanisms };
    }
    const exchange = authenticator.start(listener, body.mechanism);
    if (exchange === undefined) {
      context.broker.logger.warn(
        { listener, remote: context.connection.remoteAddress, mechanism: body.mechanism },
        'failed authentication: SASL mechanism not enabled on this listener',
      );
      session.failSasl();
      return { errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM, mechanisms };
    }
    session.beginSasl(exchange, apiVersion);
    return { errorCode: ErrorCode.NONE, mechanisms };
  };
}

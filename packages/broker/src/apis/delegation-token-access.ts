// Who may use the delegation token APIs, as Kafka's KafkaApis.allowTokenRequests: a connection
// authenticated by SASL or by a TLS client certificate, and not by a delegation token itself
// (DELEGATION_TOKEN_REQUEST_NOT_ALLOWED otherwise); and only with delegation.token.secret.key set
// (DELEGATION_TOKEN_AUTH_DISABLED otherwise).

import { ErrorCode } from '@gregor/protocol';
import { delegationTokenSecretKey } from '../security/delegation-tokens.js';
import { anonymousPrincipal, type KafkaPrincipal } from '../security/kafka-principal.js';
import type { RequestContext } from './api-handler.js';

export type TokenRequester =
  | { readonly ok: true; readonly principal: KafkaPrincipal; readonly secretKey: Buffer }
  | { readonly ok: false; readonly errorCode: number };

export function tokenRequester(context: RequestContext): TokenRequester {
  const session = context.connection.session;
  const principal = session?.principal;
  if (
    session === undefined ||
    principal === undefined ||
    principal.tokenAuthenticated === true ||
    session.securityProtocol === 'PLAINTEXT' ||
    (session.securityProtocol === 'SSL' &&
      principal.principalType === anonymousPrincipal.principalType &&
      principal.name === anonymousPrincipal.name)
  ) {
    return { ok: false, errorCode: ErrorCode.DELEGATION_TOKEN_REQUEST_NOT_ALLOWED };
  }
  const secretKey = delegationTokenSecretKey(context.broker.settings);
  if (secretKey === null) return { ok: false, errorCode: ErrorCode.DELEGATION_TOKEN_AUTH_DISABLED };
  return { ok: true, principal, secretKey };
}

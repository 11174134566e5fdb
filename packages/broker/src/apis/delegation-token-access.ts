// Who may use the delegation token APIs, as Kafka's KafkaApis.allowTokenRequests: a connection
// authenticated by SASL or by a TLS client certificate, and not by a delegation token itself
// (DELEGATION_TOKEN_REQUEST_NOT_ALLOWED otherwise); and only with delegation.token.secret.key set
// (DELEGATION_TOKEN_AUTH_DISABLED otherwise).

import type { ControllerError, DelegationTokenExpiryResponse } from '@gregor/metadata';
import { ErrorCode } from '@gregor/protocol';
import { delegationTokenByHmac, delegationTokenSecretKey } from '../security/delegation-tokens.js';
import { anonymousPrincipal, formatPrincipal, type KafkaPrincipal } from '../security/kafka-principal.js';
import type { RequestContext } from './api-handler.js';
import { isFailure } from './broker-context.js';

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

const controllerTimeoutMs = 30_000;

/**
 * RenewDelegationToken and ExpireDelegationToken: the token named by `hmac`
 * (DELEGATION_TOKEN_NOT_FOUND if none has it), its expiry moved by the controller as the requester
 * (`change`, which checks owner, requester or renewer, and expiry); the new expiry or the error.
 */
export async function changeTokenExpiry(
  context: RequestContext,
  hmac: Uint8Array,
  change: (
    request: { readonly tokenId: string; readonly requester: string },
    options: { readonly timeoutMs: number },
  ) => Promise<DelegationTokenExpiryResponse | ControllerError>,
): Promise<{ errorCode: number; expiryTimestampMs: number; throttleTimeMs: number }> {
  const refuse = (errorCode: number) => ({ errorCode, expiryTimestampMs: -1, throttleTimeMs: 0 });
  const access = tokenRequester(context);
  if (!access.ok) return refuse(access.errorCode);
  const token = delegationTokenByHmac(context.broker.metadata.image(), access.secretKey, Buffer.from(hmac));
  if (token === undefined) return refuse(ErrorCode.DELEGATION_TOKEN_NOT_FOUND);
  const outcome = await change(
    { tokenId: token.tokenId, requester: formatPrincipal(access.principal) },
    { timeoutMs: controllerTimeoutMs },
  );
  if (isFailure(outcome)) return refuse(outcome.errorCode);
  return { errorCode: ErrorCode.NONE, expiryTimestampMs: outcome.expiryTimestampMs, throttleTimeMs: 0 };
}

// RenewDelegationToken (key 39), versions 1-2.
//   Request  => hmac renew_period_ms
//   Response => error_code expiry_timestamp_ms throttle_time_ms
//
// The HMAC names the token (DELEGATION_TOKEN_NOT_FOUND if no token has it); the controller checks
// that the requester is its owner, requester or a renewer (DELEGATION_TOKEN_OWNER_MISMATCH) and
// that it has not expired (DELEGATION_TOKEN_EXPIRED), and moves its expiry, never past its maximum.

import { type ApiKey, ErrorCode, type RequestBody, type ResponseInput } from '@gregor/protocol';
import { delegationTokenByHmac } from '../security/delegation-tokens.js';
import { formatPrincipal } from '../security/kafka-principal.js';
import type { RequestContext } from './api-handler.js';
import { isFailure } from './broker-context.js';
import { tokenRequester } from './delegation-token-access.js';

type Key = typeof ApiKey.RenewDelegationToken;

const controllerTimeoutMs = 30_000;

export async function handleRenewDelegationToken(
  body: RequestBody<Key>,
  _apiVersion: number,
  context: RequestContext,
): Promise<ResponseInput<Key>> {
  const refuse = (errorCode: number) => ({ errorCode, expiryTimestampMs: -1, throttleTimeMs: 0 });
  const access = tokenRequester(context);
  if (!access.ok) return refuse(access.errorCode);
  const token = delegationTokenByHmac(
    context.broker.metadata.image(),
    access.secretKey,
    Buffer.from(body.hmac),
  );
  if (token === undefined) return refuse(ErrorCode.DELEGATION_TOKEN_NOT_FOUND);
  const outcome = await context.broker.controller.renewDelegationToken(
    {
      tokenId: token.tokenId,
      requester: formatPrincipal(access.principal),
      renewPeriodMs: Number(body.renewPeriodMs),
    },
    { timeoutMs: controllerTimeoutMs },
  );
  if (isFailure(outcome)) return refuse(outcome.errorCode);
  return { errorCode: ErrorCode.NONE, expiryTimestampMs: outcome.expiryTimestampMs, throttleTimeMs: 0 };
}

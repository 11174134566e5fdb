// RenewDelegationToken (key 39), versions 1-2.
//   Request  => hmac renew_period_ms
//   Response => error_code expiry_timestamp_ms throttle_time_ms
//
// The HMAC names the token (DELEGATION_TOKEN_NOT_FOUND if no token has it); the controller checks
// that the requester is its owner, requester or a renewer (DELEGATION_TOKEN_OWNER_MISMATCH) and
// that it has not expired (DELEGATION_TOKEN_EXPIRED), and moves its expiry, never past its maximum.

import type { ApiKey, RequestBody, ResponseInput } from '@gregor/protocol';
import type { RequestContext } from './api-handler.js';
import { changeTokenExpiry } from './delegation-token-access.js';

type Key = typeof ApiKey.RenewDelegationToken;

export function handleRenewDelegationToken(
  body: RequestBody<Key>,
  _apiVersion: number,
  context: RequestContext,
): Promise<ResponseInput<Key>> {
  return changeTokenExpiry(context, body.hmac, (request, options) =>
    context.broker.controller.renewDelegationToken(
      { ...request, renewPeriodMs: Number(body.renewPeriodMs) },
      options,
    ),
  );
}

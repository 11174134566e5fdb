// ExpireDelegationToken (key 40), versions 1-2.
//   Request  => hmac expiry_time_period_ms
//   Response => error_code expiry_timestamp_ms throttle_time_ms
//
// The HMAC names the token (DELEGATION_TOKEN_NOT_FOUND if no token has it); the controller checks
// that the requester is its owner, requester or a renewer (DELEGATION_TOKEN_OWNER_MISMATCH) and
// that it has not expired (DELEGATION_TOKEN_EXPIRED), and sets its expiry to now plus the period
// (never past its maximum), or removes the token at once for a negative period.

import type { ApiKey, RequestBody, ResponseInput } from '@gregor/protocol';
import type { RequestContext } from './api-handler.js';
import { changeTokenExpiry } from './delegation-token-access.js';

type Key = typeof ApiKey.ExpireDelegationToken;

export function handleExpireDelegationToken(
  body: RequestBody<Key>,
  _apiVersion: number,
  context: RequestContext,
): Promise<ResponseInput<Key>> {
  return changeTokenExpiry(context, body.hmac, (request, options) =>
    context.broker.controller.expireDelegationToken(
      { ...request, expiryTimePeriodMs: Number(body.expiryTimePeriodMs) },
      options,
    ),
  );
}

// RenewDelegationToken (key 39), versions 1-2 (Kafka 4 removed v0); flexible from 2.
//   Request  => hmac renew_period_ms
//   Response => error_code expiry_timestamp_ms throttle_time_ms
// A negative renew_period_ms means the broker's delegation.token.expiry.time.ms.
// Spec: apache/kafka RenewDelegationTokenRequest.json / ...Response.json (KIP-48).

import { defineApi } from '../api.js';
import { f } from '../schema.js';

export const renewDelegationTokenApi = defineApi(
  'RenewDelegationToken',
  { hmac: f.bytes('0+'), renewPeriodMs: f.int64('0+') },
  { errorCode: f.int16('0+'), expiryTimestampMs: f.int64('0+'), throttleTimeMs: f.int32('0+') },
);

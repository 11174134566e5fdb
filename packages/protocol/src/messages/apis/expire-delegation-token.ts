// ExpireDelegationToken (key 40), versions 1-2 (Kafka 4 removed v0); flexible from 2.
//   Request  => hmac expiry_time_period_ms
//   Response => error_code expiry_timestamp_ms throttle_time_ms
// A negative expiry_time_period_ms expires the token at once.
// Spec: apache/kafka ExpireDelegationTokenRequest.json / ...Response.json (KIP-48).

import { defineApi } from '../api.js';
import { f } from '../schema.js';

export const expireDelegationTokenApi = defineApi(
  'ExpireDelegationToken',
  { hmac: f.bytes('0+'), expiryTimePeriodMs: f.int64('0+') },
  { errorCode: f.int16('0+'), expiryTimestampMs: f.int64('0+'), throttleTimeMs: f.int32('0+') },
);

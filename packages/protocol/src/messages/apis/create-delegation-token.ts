// CreateDelegationToken (key 38), versions 1-3 (Kafka 4 removed v0); flexible from 2.
//   Request  => owner_principal_type(v3+, nullable) owner_principal_name(v3+, nullable)
//               [renewers => principal_type principal_name] max_lifetime_ms
//   Response => error_code principal_type principal_name
//               token_requester_principal_type(v3+) token_requester_principal_name(v3+)
//               issue_timestamp_ms expiry_timestamp_ms max_timestamp_ms token_id hmac
//               throttle_time_ms
// A null owner (and every request before v3) asks for a token owned by the requester; -1 as
// max_lifetime_ms means the broker's delegation.token.max.lifetime.ms.
// Spec: apache/kafka CreateDelegationTokenRequest.json / ...Response.json (KIP-48, KIP-373).

import { defineApi } from '../api.js';
import { f } from '../schema.js';

export const createDelegationTokenApi = defineApi(
  'CreateDelegationToken',
  {
    ownerPrincipalType: f.string('3+', { nullableVersions: '3+', default: null }),
    ownerPrincipalName: f.string('3+', { nullableVersions: '3+', default: null }),
    renewers: f.structArray('0+', { principalType: f.string('0+'), principalName: f.string('0+') }),
    maxLifetimeMs: f.int64('0+'),
  },
  {
    errorCode: f.int16('0+'),
    principalType: f.string('0+'),
    principalName: f.string('0+'),
    tokenRequesterPrincipalType: f.string('3+'),
    tokenRequesterPrincipalName: f.string('3+'),
    issueTimestampMs: f.int64('0+'),
    expiryTimestampMs: f.int64('0+'),
    maxTimestampMs: f.int64('0+'),
    tokenId: f.string('0+'),
    hmac: f.bytes('0+'),
    throttleTimeMs: f.int32('0+'),
  },
);

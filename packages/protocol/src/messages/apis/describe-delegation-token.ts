// DescribeDelegationToken (key 41), versions 1-3 (Kafka 4 removed v0); flexible from 2.
//   Request  => [owners => principal_type principal_name](nullable: every token)
//   Response => error_code
//               [tokens => principal_type principal_name
//                 token_requester_principal_type(v3+) token_requester_principal_name(v3+)
//                 issue_timestamp expiry_timestamp max_timestamp token_id hmac
//                 [renewers => principal_type principal_name]]
//               throttle_time_ms
// Spec: apache/kafka DescribeDelegationTokenRequest.json / ...Response.json (KIP-48, KIP-373).

import { defineApi } from '../api.js';
import { f } from '../schema.js';

const principal = { principalType: f.string('0+'), principalName: f.string('0+') };

export const describeDelegationTokenApi = defineApi(
  'DescribeDelegationToken',
  { owners: f.structArray('0+', principal, { nullableVersions: '0+' }) },
  {
    errorCode: f.int16('0+'),
    tokens: f.structArray('0+', {
      principalType: f.string('0+'),
      principalName: f.string('0+'),
      tokenRequesterPrincipalType: f.string('3+'),
      tokenRequesterPrincipalName: f.string('3+'),
      issueTimestamp: f.int64('0+'),
      expiryTimestamp: f.int64('0+'),
      maxTimestamp: f.int64('0+'),
      tokenId: f.string('0+'),
      hmac: f.bytes('0+'),
      renewers: f.structArray('0+', principal),
    }),
    throttleTimeMs: f.int32('0+'),
  },
);

// DescribeUserScramCredentials (key 50), version 0; flexible.
//   Request  => [users => name](nullable: every user)
//   Response => throttle_time_ms error_code error_message(nullable)
//               [results => user error_code error_message(nullable)
//                 [credential_infos => mechanism(int8) iterations]]
// Spec: apache/kafka DescribeUserScramCredentialsRequest.json / ...Response.json.

import { defineApi } from '../api.js';
import { f } from '../schema.js';

export const describeUserScramCredentialsApi = defineApi(
  'DescribeUserScramCredentials',
  { users: f.structArray('0+', { name: f.string('0+') }, { nullableVersions: '0+' }) },
  {
    throttleTimeMs: f.int32('0+'),
    errorCode: f.int16('0+'),
    errorMessage: f.string('0+', { nullableVersions: '0+' }),
    results: f.structArray('0+', {
      user: f.string('0+'),
      errorCode: f.int16('0+'),
      errorMessage: f.string('0+', { nullableVersions: '0+' }),
      credentialInfos: f.structArray('0+', {
        mechanism: f.int8('0+'),
        iterations: f.int32('0+'),
      }),
    }),
  },
);

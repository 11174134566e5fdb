// AlterUserScramCredentials (key 51), version 0; flexible.
//   Request  => [deletions => name mechanism(int8)]
//               [upsertions => name mechanism(int8) iterations salt salted_password]
//   Response => throttle_time_ms [results => user_name error_code error_message(nullable)]
// The client salts and hashes the password (SaltedPassword = Hi(password, salt, iterations)); the
// broker never sees the password itself.
// Spec: apache/kafka AlterUserScramCredentialsRequest.json / ...Response.json.

import { defineApi } from '../api.js';
import { f } from '../schema.js';

export const alterUserScramCredentialsApi = defineApi(
  'AlterUserScramCredentials',
  {
    deletions: f.structArray('0+', { name: f.string('0+'), mechanism: f.int8('0+') }),
    upsertions: f.structArray('0+', {
      name: f.string('0+'),
      mechanism: f.int8('0+'),
      iterations: f.int32('0+'),
      salt: f.bytes('0+'),
      saltedPassword: f.bytes('0+'),
    }),
  },
  {
    throttleTimeMs: f.int32('0+'),
    results: f.structArray('0+', {
      userName: f.string('0+'),
      errorCode: f.int16('0+'),
      errorMessage: f.string('0+', { nullableVersions: '0+' }),
    }),
  },
);

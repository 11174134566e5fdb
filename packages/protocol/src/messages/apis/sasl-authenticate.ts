// SaslAuthenticate (key 36), versions 0-2; flexible from 2.
//   Request  => auth_bytes
//   Response => error_code error_message(nullable) auth_bytes session_lifetime_ms(1+)
// Spec: apache/kafka SaslAuthenticateRequest.json / SaslAuthenticateResponse.json.

import { defineApi } from '../api.js';
import { f } from '../schema.js';

export const saslAuthenticateApi = defineApi(
  'SaslAuthenticate',
  { authBytes: f.bytes('0+') },
  {
    errorCode: f.int16('0+'),
    errorMessage: f.string('0+', { nullableVersions: '0+' }),
    authBytes: f.bytes('0+'),
    sessionLifetimeMs: f.int64('1+', { default: 0n }),
  },
);

// SaslHandshake (key 17), versions 0-1; never flexible.
//   Request  => mechanism
//   Response => error_code [mechanisms]
// v0: the SASL tokens that follow travel as bare size-prefixed frames (no Kafka header); v1: inside
// SaslAuthenticate requests.
// Spec: apache/kafka SaslHandshakeRequest.json / SaslHandshakeResponse.json.

import { defineApi } from '../api.js';
import { f, t } from '../schema.js';

export const saslHandshakeApi = defineApi(
  'SaslHandshake',
  { mechanism: f.string('0+') },
  {
    errorCode: f.int16('0+'),
    mechanisms: f.array('0+', t.string),
  },
);

// UnregisterBroker (key 64), version 0; flexible from 0 (KIP-500's decommissioning, Admin
// unregisterBroker, kafka-cluster.sh unregister).
//   Request  => broker_id
//   Response => throttle_time_ms error_code error_message(nullable)
// Spec: apache/kafka UnregisterBrokerRequest.json / UnregisterBrokerResponse.json.

import { defineApi } from '../api.js';
import { f } from '../schema.js';

export const unregisterBrokerApi = defineApi(
  'UnregisterBroker',
  { brokerId: f.int32('0+') },
  {
    throttleTimeMs: f.int32('0+'),
    errorCode: f.int16('0+'),
    errorMessage: f.string('0+', { nullableVersions: '0+', default: null }),
  },
);

// CreatePartitions (key 37), versions 0-3; flexible from 2 (v3 is v2, as Kafka's spec says).
//   Request  => [topics => name count [assignments => [broker_ids]](nullable)] timeout_ms validate_only
//   Response => throttle_time_ms [results => name error_code error_message(nullable)]
// Spec: apache/kafka CreatePartitionsRequest.json / CreatePartitionsResponse.json.

import { defineApi } from '../api.js';
import { f, t } from '../schema.js';

export const createPartitionsApi = defineApi(
  'CreatePartitions',
  {
    topics: f.structArray('0+', {
      name: f.string('0+'),
      /** The new total partition count. */
      count: f.int32('0+'),
      assignments: f.structArray('0+', { brokerIds: f.array('0+', t.int32) }, { nullableVersions: '0+' }),
    }),
    timeoutMs: f.int32('0+'),
    validateOnly: f.bool('0+'),
  },
  {
    throttleTimeMs: f.int32('0+'),
    results: f.structArray('0+', {
      name: f.string('0+'),
      errorCode: f.int16('0+'),
      errorMessage: f.string('0+', { nullableVersions: '0+' }),
    }),
  },
);

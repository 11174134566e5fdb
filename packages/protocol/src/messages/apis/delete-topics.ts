// DeleteTopics (key 20), versions 0-6; flexible from 4.
//   Request  v0-5 => [topic_names] timeout_ms
//   Request  v6   => [topics => name(nullable) topic_id] timeout_ms
//   Response      => throttle_time_ms(1+)
//                    [responses => name(nullable 6+) topic_id(6+) error_code error_message(5+)]
// Spec: apache/kafka DeleteTopicsRequest.json / DeleteTopicsResponse.json.

import { defineApi } from '../api.js';
import { f, t } from '../schema.js';

export const deleteTopicsApi = defineApi(
  'DeleteTopics',
  {
    topics: f.structArray('6+', {
      name: f.string('6+', { nullableVersions: '6+', default: null }),
      topicId: f.uuid('6+'),
    }),
    topicNames: f.array('0-5', t.string, { ignorable: true }),
    timeoutMs: f.int32('0+'),
  },
  {
    throttleTimeMs: f.int32('1+', { ignorable: true }),
    responses: f.structArray('0+', {
      name: f.string('0+', { nullableVersions: '6+' }),
      topicId: f.uuid('6+', { ignorable: true }),
      errorCode: f.int16('0+'),
      errorMessage: f.string('5+', { nullableVersions: '5+', ignorable: true, default: null }),
    }),
  },
);

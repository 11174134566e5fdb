// CreateTopics (key 19), versions 0-7; flexible from 5.
//   Request  => [topics => name num_partitions replication_factor
//                 [assignments => partition_index [broker_ids]] [configs => name value(nullable)]]
//               timeout_ms validate_only(1+)
//   Response => throttle_time_ms(2+)
//               [topics => name topic_id(7+) error_code error_message(1+, nullable)
//                 topic_config_error_code(tag 0, 5+) num_partitions(5+) replication_factor(5+)
//                 [configs => name value(nullable) read_only config_source is_sensitive](5+, nullable)]
// Spec: apache/kafka CreateTopicsRequest.json / CreateTopicsResponse.json.

import { defineApi } from '../api.js';
import { f, t } from '../schema.js';

export const createTopicsApi = defineApi(
  'CreateTopics',
  {
    topics: f.structArray('0+', {
      name: f.string('0+'),
      /** -1 with a manual assignment or to use the broker default. */
      numPartitions: f.int32('0+'),
      /** -1 with a manual assignment or to use the broker default. */
      replicationFactor: f.int16('0+'),
      assignments: f.structArray('0+', {
        partitionIndex: f.int32('0+'),
        brokerIds: f.array('0+', t.int32),
      }),
      configs: f.structArray('0+', {
        name: f.string('0+'),
        value: f.string('0+', { nullableVersions: '0+' }),
      }),
    }),
    timeoutMs: f.int32('0+', { default: 60000 }),
    validateOnly: f.bool('1+', { default: false }),
  },
  {
    throttleTimeMs: f.int32('2+', { ignorable: true }),
    topics: f.structArray('0+', {
      name: f.string('0+'),
      topicId: f.uuid('7+', { ignorable: true }),
      errorCode: f.int16('0+'),
      errorMessage: f.string('1+', { nullableVersions: '0+', ignorable: true, default: null }),
      topicConfigErrorCode: f.int16('5+', { tag: 0, taggedVersions: '5+', ignorable: true }),
      numPartitions: f.int32('5+', { default: -1, ignorable: true }),
      replicationFactor: f.int16('5+', { default: -1, ignorable: true }),
      configs: f.structArray(
        '5+',
        {
          name: f.string('5+'),
          value: f.string('5+', { nullableVersions: '5+' }),
          readOnly: f.bool('5+'),
          configSource: f.int8('5+', { default: -1, ignorable: true }),
          isSensitive: f.bool('5+'),
        },
        { nullableVersions: '5+', ignorable: true },
      ),
    }),
  },
);

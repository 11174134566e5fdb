// Produce (key 0), versions 0-8; never flexible in that range (Kafka's flexible versions start at 9).
//   Request  => transactional_id(3+, nullable) acks timeout_ms
//               [topics => name [partitions => partition_index records]]
//   Response => [responses => name [partitions => partition_index error_code base_offset
//                 log_append_time_ms(2+) log_start_offset(5+)
//                 [record_errors => batch_index batch_index_error_message](8+) error_message(8+)]]
//               throttle_time_ms(1+)
// Records are raw bytes: record batches (v3+) or old message sets (v0-2).
// Acks 0 gets no response at all; that is the network layer's business, not the codec's.
// Spec: apache/kafka ProduceRequest.json / ProduceResponse.json.

import { defineApi } from '../api.js';
import { f } from '../schema.js';

export const produceApi = defineApi(
  'Produce',
  {
    transactionalId: f.string('3+', { nullableVersions: '0+', default: null }),
    acks: f.int16('0+'),
    timeoutMs: f.int32('0+'),
    topics: f.structArray('0+', {
      name: f.string('0+'),
      partitions: f.structArray('0+', {
        partitionIndex: f.int32('0+'),
        records: f.records('0+'),
      }),
    }),
  },
  {
    responses: f.structArray('0+', {
      name: f.string('0+'),
      partitions: f.structArray('0+', {
        partitionIndex: f.int32('0+'),
        errorCode: f.int16('0+'),
        baseOffset: f.int64('0+'),
        logAppendTimeMs: f.int64('2+', { default: -1n, ignorable: true }),
        logStartOffset: f.int64('5+', { default: -1n, ignorable: true }),
        recordErrors: f.structArray(
          '8+',
          {
            batchIndex: f.int32('8+'),
            batchIndexErrorMessage: f.string('8+', { nullableVersions: '8+', default: null }),
          },
          { ignorable: true },
        ),
        errorMessage: f.string('8+', { nullableVersions: '8+', default: null, ignorable: true }),
      }),
    }),
    throttleTimeMs: f.int32('1+', { ignorable: true }),
  },
);

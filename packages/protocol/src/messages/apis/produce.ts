// Produce (key 0), versions 0-13; flexible from 9.
//   Request  => transactional_id(3+, nullable) acks timeout_ms
//               [topics => name(0-12) topic_id(13+) [partitions => partition_index records]]
//   Response => [responses => name(0-12) topic_id(13+) [partitions => partition_index error_code base_offset
//                 log_append_time_ms(2+) log_start_offset(5+)
//                 [record_errors => batch_index batch_index_error_message](8+) error_message(8+)
//                 current_leader(tag 0, 10+)]]
//               throttle_time_ms(1+) node_endpoints(tag 0, 10+)
// v10 names a moved partition's leader and its endpoint (KIP-951); v11 only adds
// TRANSACTION_ABORTABLE to the errors a client may see (KIP-890). v12 keeps v11's layout: it is the
// transactions-v2 signal (a transactional produce adds its partition to the transaction itself).
// v13 (Kafka 4.1, KIP-516) names each topic by its id instead of its name, in both directions; an id
// the broker does not know is answered UNKNOWN_TOPIC_ID. Name and id are both ignorable (as in
// Kafka's spec), so one body with a name and an id encodes at every version.
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
      name: f.string('0-12', { ignorable: true, default: '' }),
      topicId: f.uuid('13+', { ignorable: true }),
      partitions: f.structArray('0+', {
        partitionIndex: f.int32('0+'),
        records: f.records('0+'),
      }),
    }),
  },
  {
    responses: f.structArray('0+', {
      name: f.string('0-12', { ignorable: true, default: '' }),
      topicId: f.uuid('13+', { ignorable: true }),
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
        currentLeader: f.struct(
          '10+',
          { leaderId: f.int32('10+', { default: -1 }), leaderEpoch: f.int32('10+', { default: -1 }) },
          { tag: 0, taggedVersions: '10+' },
        ),
      }),
    }),
    throttleTimeMs: f.int32('1+', { ignorable: true }),
    /** The endpoints of the leaders named in current_leader, on the listener the request came in on. */
    nodeEndpoints: f.structArray(
      '10+',
      {
        nodeId: f.int32('10+'),
        host: f.string('10+'),
        port: f.int32('10+'),
        rack: f.string('10+', { nullableVersions: '10+', default: null }),
      },
      { tag: 0, taggedVersions: '10+' },
    ),
  },
);

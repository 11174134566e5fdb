// DescribeProducers (key 61), version 0; flexible from 0.
//   Request  => [topics => name [partition_indexes]]
//   Response => throttle_time_ms
//               [topics => name [partitions => partition_index error_code error_message(nullable)
//                 [active_producers => producer_id producer_epoch last_sequence last_timestamp
//                   coordinator_epoch current_txn_start_offset]]]
// Spec: apache/kafka DescribeProducersRequest.json / DescribeProducersResponse.json (KIP-664).

import { defineApi } from '../api.js';
import { f, t } from '../schema.js';

export const describeProducersApi = defineApi(
  'DescribeProducers',
  {
    topics: f.structArray('0+', { name: f.string('0+'), partitionIndexes: f.array('0+', t.int32) }),
  },
  {
    throttleTimeMs: f.int32('0+', { ignorable: true }),
    topics: f.structArray('0+', {
      name: f.string('0+'),
      partitions: f.structArray('0+', {
        partitionIndex: f.int32('0+'),
        errorCode: f.int16('0+'),
        errorMessage: f.string('0+', { nullableVersions: '0+', default: null }),
        activeProducers: f.structArray('0+', {
          producerId: f.int64('0+'),
          producerEpoch: f.int32('0+'),
          lastSequence: f.int32('0+', { default: -1 }),
          lastTimestamp: f.int64('0+', { default: -1n }),
          coordinatorEpoch: f.int32('0+'),
          currentTxnStartOffset: f.int64('0+', { default: -1n }),
        }),
      }),
    }),
  },
);

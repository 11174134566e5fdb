// WriteTxnMarkers (key 27), versions 0-1; flexible from 1. Sent by a transaction coordinator to
// the leaders of a transaction's partitions.
//   Request  => [markers => producer_id producer_epoch transaction_result
//                 [topics => name [partition_indexes]] coordinator_epoch]
//   Response => [markers => producer_id [topics => name [partitions => partition_index error_code]]]
// Spec: apache/kafka WriteTxnMarkersRequest.json / WriteTxnMarkersResponse.json.

import { defineApi } from '../api.js';
import { f, t } from '../schema.js';

export const writeTxnMarkersApi = defineApi(
  'WriteTxnMarkers',
  {
    markers: f.structArray('0+', {
      producerId: f.int64('0+'),
      producerEpoch: f.int16('0+'),
      transactionResult: f.bool('0+'),
      topics: f.structArray('0+', { name: f.string('0+'), partitionIndexes: f.array('0+', t.int32) }),
      coordinatorEpoch: f.int32('0+'),
    }),
  },
  {
    markers: f.structArray('0+', {
      producerId: f.int64('0+'),
      topics: f.structArray('0+', {
        name: f.string('0+'),
        partitions: f.structArray('0+', { partitionIndex: f.int32('0+'), errorCode: f.int16('0+') }),
      }),
    }),
  },
);

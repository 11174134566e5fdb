// AddPartitionsToTxn (key 24), versions 0-3; flexible from 3. (v4+ batch transactions for the
// brokers' own verification, KIP-890; clients send v3 and below.)
//   Request  => transactional_id producer_id producer_epoch [topics => name [partitions]]
//   Response => throttle_time_ms
//               [results_by_topic_v3_and_below => name
//                 [results_by_partition => partition_index partition_error_code]]
// Spec: apache/kafka AddPartitionsToTxnRequest.json / AddPartitionsToTxnResponse.json.

import { defineApi } from '../api.js';
import { f, t } from '../schema.js';

export const addPartitionsToTxnApi = defineApi(
  'AddPartitionsToTxn',
  {
    transactionalId: f.string('0+'),
    producerId: f.int64('0+'),
    producerEpoch: f.int16('0+'),
    topics: f.structArray('0+', { name: f.string('0+'), partitions: f.array('0+', t.int32) }),
  },
  {
    throttleTimeMs: f.int32('0+', { ignorable: true }),
    resultsByTopicV3AndBelow: f.structArray('0+', {
      name: f.string('0+'),
      resultsByPartition: f.structArray('0+', {
        partitionIndex: f.int32('0+'),
        partitionErrorCode: f.int16('0+'),
      }),
    }),
  },
);

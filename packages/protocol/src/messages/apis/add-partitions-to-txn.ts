// AddPartitionsToTxn (key 24), versions 0-5; flexible from 3. Versions 0-3 are the clients' (one
// transaction); 4+ are the brokers' (KIP-890): a batch of transactions, each either added to or only
// verified (verify_only: is each partition already in the transaction?), and a top-level error.
// v5 differs from v4 only in the errors it may carry (TRANSACTION_ABORTABLE).
//   Request v0-3 => transactional_id producer_id producer_epoch [topics => name [partitions]]
//   Request v4+  => [transactions => transactional_id producer_id producer_epoch verify_only
//                     [topics => name [partitions]]]
//   Response v0-3 => throttle_time_ms
//                    [results_by_topic_v3_and_below => name
//                      [results_by_partition => partition_index partition_error_code]]
//   Response v4+  => throttle_time_ms error_code
//                    [results_by_transaction => transactional_id
//                      [topic_results => name [results_by_partition => partition_index partition_error_code]]]
// Spec: apache/kafka AddPartitionsToTxnRequest.json / AddPartitionsToTxnResponse.json. Kafka names
// the v0-3 request fields V3AndBelow*; here they keep their v0-3 names.

import { defineApi } from '../api.js';
import { f, t } from '../schema.js';

const topicResult = {
  name: f.string('0+'),
  resultsByPartition: f.structArray('0+', {
    partitionIndex: f.int32('0+'),
    partitionErrorCode: f.int16('0+'),
  }),
};

export const addPartitionsToTxnApi = defineApi(
  'AddPartitionsToTxn',
  {
    transactions: f.structArray('4+', {
      transactionalId: f.string('4+'),
      producerId: f.int64('4+'),
      producerEpoch: f.int16('4+'),
      verifyOnly: f.bool('4+', { default: false }),
      topics: f.structArray('4+', { name: f.string('0+'), partitions: f.array('0+', t.int32) }),
    }),
    transactionalId: f.string('0-3'),
    producerId: f.int64('0-3'),
    producerEpoch: f.int16('0-3'),
    topics: f.structArray('0-3', { name: f.string('0+'), partitions: f.array('0+', t.int32) }),
  },
  {
    throttleTimeMs: f.int32('0+', { ignorable: true }),
    errorCode: f.int16('4+', { ignorable: true }),
    resultsByTransaction: f.structArray('4+', {
      transactionalId: f.string('4+'),
      topicResults: f.structArray('4+', topicResult),
    }),
    resultsByTopicV3AndBelow: f.structArray('0-3', topicResult),
  },
);

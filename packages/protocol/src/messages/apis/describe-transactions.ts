// DescribeTransactions (key 65), version 0; flexible from 0.
//   Request  => [transactional_ids]
//   Response => throttle_time_ms
//               [transaction_states => error_code transactional_id transaction_state
//                 transaction_timeout_ms transaction_start_time_ms producer_id producer_epoch
//                 [topics => topic [partitions]]]
// Spec: apache/kafka DescribeTransactionsRequest.json / DescribeTransactionsResponse.json.

import { defineApi } from '../api.js';
import { f, t } from '../schema.js';

export const describeTransactionsApi = defineApi(
  'DescribeTransactions',
  { transactionalIds: f.array('0+', t.string) },
  {
    throttleTimeMs: f.int32('0+', { ignorable: true }),
    transactionStates: f.structArray('0+', {
      errorCode: f.int16('0+'),
      transactionalId: f.string('0+'),
      transactionState: f.string('0+'),
      transactionTimeoutMs: f.int32('0+'),
      transactionStartTimeMs: f.int64('0+'),
      producerId: f.int64('0+'),
      producerEpoch: f.int16('0+'),
      topics: f.structArray('0+', { topic: f.string('0+'), partitions: f.array('0+', t.int32) }),
    }),
  },
);

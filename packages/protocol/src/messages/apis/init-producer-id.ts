// InitProducerId (key 22), versions 0-5; flexible from 2. v4 and v5 keep v3's layout: v4 lets the
// answer be PRODUCER_FENCED (KIP-588), v5 TRANSACTION_ABORTABLE (KIP-890), which neither Kafka's
// coordinator nor Gregor's answers here (it comes from the verification: Produce, TxnOffsetCommit).
//   Request  => transactional_id(nullable) transaction_timeout_ms producer_id(3+) producer_epoch(3+)
//   Response => throttle_time_ms error_code producer_id producer_epoch
// Spec: apache/kafka InitProducerIdRequest.json / InitProducerIdResponse.json.

import { defineApi } from '../api.js';
import { f } from '../schema.js';

export const initProducerIdApi = defineApi(
  'InitProducerId',
  {
    transactionalId: f.string('0+', { nullableVersions: '0+' }),
    transactionTimeoutMs: f.int32('0+'),
    producerId: f.int64('3+', { default: -1n }),
    producerEpoch: f.int16('3+', { default: -1 }),
  },
  {
    throttleTimeMs: f.int32('0+', { ignorable: true }),
    errorCode: f.int16('0+'),
    producerId: f.int64('0+', { default: -1n }),
    producerEpoch: f.int16('0+'),
  },
);

// AddOffsetsToTxn (key 25), versions 0-4; flexible from 3. v4 keeps v3's layout; it only lets the
// answer be TRANSACTION_ABORTABLE (KIP-890), which neither Kafka's coordinator nor Gregor's answers
// here (it comes from the verification: Produce, TxnOffsetCommit).
//   Request  => transactional_id producer_id producer_epoch group_id
//   Response => throttle_time_ms error_code
// Spec: apache/kafka AddOffsetsToTxnRequest.json / AddOffsetsToTxnResponse.json.

import { defineApi } from '../api.js';
import { f } from '../schema.js';

export const addOffsetsToTxnApi = defineApi(
  'AddOffsetsToTxn',
  {
    transactionalId: f.string('0+'),
    producerId: f.int64('0+'),
    producerEpoch: f.int16('0+'),
    groupId: f.string('0+'),
  },
  {
    throttleTimeMs: f.int32('0+', { ignorable: true }),
    errorCode: f.int16('0+'),
  },
);

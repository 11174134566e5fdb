// EndTxn (key 26), versions 0-5; flexible from 3. v4 keeps v3's layout; it only lets the answer be
// TRANSACTION_ABORTABLE (KIP-890), which neither Kafka's coordinator nor Gregor's answers here (it
// comes from the verification: Produce, TxnOffsetCommit). v5 is KIP-890's transactions v2: the
// coordinator bumps the epoch at every end and answers the next transaction's producer id and epoch.
//   Request  => transactional_id producer_id producer_epoch committed
//   Response => throttle_time_ms error_code producer_id(5+) producer_epoch(5+)
// Spec: apache/kafka EndTxnRequest.json / EndTxnResponse.json.

import { defineApi } from '../api.js';
import { f } from '../schema.js';

export const endTxnApi = defineApi(
  'EndTxn',
  {
    transactionalId: f.string('0+'),
    producerId: f.int64('0+'),
    producerEpoch: f.int16('0+'),
    committed: f.bool('0+'),
  },
  {
    throttleTimeMs: f.int32('0+', { ignorable: true }),
    errorCode: f.int16('0+'),
    producerId: f.int64('5+', { default: -1n }),
    producerEpoch: f.int16('5+', { default: -1 }),
  },
);

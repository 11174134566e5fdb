// EndTxn (key 26), versions 0-3; flexible from 3. (v5's epoch bump per transaction is KIP-890's
// transactions v2.)
//   Request  => transactional_id producer_id producer_epoch committed
//   Response => throttle_time_ms error_code
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
  },
);

// ListTransactions (key 66), versions 0-1; flexible from 0.
//   Request  => [state_filters] [producer_id_filters] duration_filter(1+)
//   Response => throttle_time_ms error_code [unknown_state_filters]
//               [transaction_states => transactional_id producer_id transaction_state]
// Spec: apache/kafka ListTransactionsRequest.json / ListTransactionsResponse.json (v2's
// transactional id pattern omitted).

import { defineApi } from '../api.js';
import { f, t } from '../schema.js';

export const listTransactionsApi = defineApi(
  'ListTransactions',
  {
    stateFilters: f.array('0+', t.string),
    producerIdFilters: f.array('0+', t.int64),
    durationFilter: f.int64('1+', { default: -1n }),
  },
  {
    throttleTimeMs: f.int32('0+', { ignorable: true }),
    errorCode: f.int16('0+'),
    unknownStateFilters: f.array('0+', t.string),
    transactionStates: f.structArray('0+', {
      transactionalId: f.string('0+'),
      producerId: f.int64('0+'),
      transactionState: f.string('0+'),
    }),
  },
);

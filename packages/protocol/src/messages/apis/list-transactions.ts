// ListTransactions (key 66), versions 0-2; flexible from 0. v1 adds the duration filter (KIP-994),
// v2 the transactional id pattern (KIP-1152, Kafka 4.1).
//   Request  => [state_filters] [producer_id_filters] duration_filter(1+)
//               transactional_id_pattern(2+, nullable)
//   Response => throttle_time_ms error_code [unknown_state_filters]
//               [transaction_states => transactional_id producer_id transaction_state]
// Spec: apache/kafka ListTransactionsRequest.json / ListTransactionsResponse.json.

import { defineApi } from '../api.js';
import { f, t } from '../schema.js';

export const listTransactionsApi = defineApi(
  'ListTransactions',
  {
    stateFilters: f.array('0+', t.string),
    producerIdFilters: f.array('0+', t.int64),
    durationFilter: f.int64('1+', { default: -1n }),
    transactionalIdPattern: f.string('2+', { nullableVersions: '2+', default: null }),
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

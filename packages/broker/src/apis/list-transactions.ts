// ListTransactions (key 66), versions 0-1; flexible from 0.
//   Request  => [state_filters] [producer_id_filters] duration_filter(1+)
//   Response => throttle_time_ms error_code [unknown_state_filters]
//               [transaction_states => transactional_id producer_id transaction_state]
//
// The transactional ids this broker coordinates (admin clients ask every broker), filtered by state
// name, producer id and (v1) having run at least duration_filter ms; a state name Kafka does not
// know is listed in unknown_state_filters. COORDINATOR_LOAD_IN_PROGRESS while a partition loads.

import { type ApiKey, ErrorCode, type RequestBody, type ResponseInput } from '@gregor/protocol';
import { transactionStateNames } from '@gregor/txn';
import type { TransactionCoordinatorDriver } from '../transactions/transaction-coordinator-driver.js';
import type { ApiHandler, RequestContext } from './api-handler.js';

type Key = typeof ApiKey.ListTransactions;
type Response = ResponseInput<Key>;

const knownStates = new Set<string>(Object.values(transactionStateNames));

export function createListTransactionsHandler(transactions: TransactionCoordinatorDriver): ApiHandler<Key> {
  return async (body: RequestBody<Key>, _apiVersion: number, context: RequestContext): Promise<Response> => {
    const coordinator = transactions.transactions;
    const states = new Set(body.stateFilters.filter((state) => knownStates.has(state)));
    const producerIds = new Set(body.producerIdFilters.map((id) => Number(id)));
    const minDurationMs = Number(body.durationFilter);
    const nowMs = context.broker.clock.nowMs();
    const listed = coordinator.list().filter((described) => {
      const name = transactionStateNames[described.state];
      if (body.stateFilters.length > 0 && !states.has(name)) return false;
      if (producerIds.size > 0 && !producerIds.has(described.producerId)) return false;
      if (
        minDurationMs >= 0 &&
        (described.startTimestampMs < 0 || nowMs - described.startTimestampMs < minDurationMs)
      )
        return false;
      return true;
    });
    return {
      throttleTimeMs: 0,
      errorCode: coordinator.anyLoading() ? ErrorCode.COORDINATOR_LOAD_IN_PROGRESS : ErrorCode.NONE,
      unknownStateFilters: body.stateFilters.filter((state) => !knownStates.has(state)),
      transactionStates: listed.map((described) => ({
        transactionalId: described.transactionalId,
        producerId: BigInt(described.producerId),
        transactionState: transactionStateNames[described.state],
      })),
    };
  };
}

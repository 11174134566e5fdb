// ListTransactions (key 66), versions 0-2; flexible from 0.
//   Request  => [state_filters] [producer_id_filters] duration_filter(1+)
//               transactional_id_pattern(2+, nullable)
//   Response => throttle_time_ms error_code [unknown_state_filters]
//               [transaction_states => transactional_id producer_id transaction_state]
//
// The transactional ids this broker coordinates (admin clients ask every broker), filtered by state
// name, producer id and (v1) having run at least duration_filter ms; a state name Kafka does not
// know is listed in unknown_state_filters. COORDINATOR_LOAD_IN_PROGRESS while a partition loads.
// v2: only ids the whole pattern matches, compiled by a linear-time engine
// (transactional-id-pattern.ts); a pattern that does not compile is INVALID_REGULAR_EXPRESSION with
// nothing listed.

import { type ApiKey, ErrorCode, type RequestBody, type ResponseInput } from '@gregor/protocol';
import { transactionStateNames } from '@gregor/txn';
import type { TransactionCoordinatorDriver } from '../transactions/transaction-coordinator-driver.js';
import { transactionalIdMatcher } from '../transactions/transactional-id-pattern.js';
import type { ApiHandler, RequestContext } from './api-handler.js';

type Key = typeof ApiKey.ListTransactions;
type Response = ResponseInput<Key>;

const knownStates = new Set<string>(Object.values(transactionStateNames));

export function createListTransactionsHandler(transactions: TransactionCoordinatorDriver): ApiHandler<Key> {
  return async (body: RequestBody<Key>, _apiVersion: number, context: RequestContext): Promise<Response> => {
    const coordinator = transactions.transactions;
    const matches = transactionalIdMatcher(body.transactionalIdPattern);
    if (typeof matches !== 'function') {
      context.broker.logger.debug({ reason: matches.error }, 'ListTransactions pattern refused');
      return {
        throttleTimeMs: 0,
        errorCode: ErrorCode.INVALID_REGULAR_EXPRESSION,
        unknownStateFilters: [],
        transactionStates: [],
      };
    }
    const states = new Set(body.stateFilters.filter((state) => knownStates.has(state)));
    const producerIds = new Set(body.producerIdFilters.map((id) => Number(id)));
    const minDurationMs = Number(body.durationFilter);
    const nowMs = context.broker.clock.nowMs();
    const listed = coordinator.list().filter((described) => {
      const name = transactionStateNames[described.state];
      if (body.stateFilters.length > 0 && !states.has(name)) return false;
      if (producerIds.size > 0 && !producerIds.has(described.producerId)) return false;
      if (!matches(described.transactionalId)) return false;
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

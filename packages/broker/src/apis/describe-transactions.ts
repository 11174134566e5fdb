// DescribeTransactions (key 65), version 0; flexible from 0.
//   Request  => [transactional_ids]
//   Response => throttle_time_ms
//               [transaction_states => error_code transactional_id transaction_state
//                 transaction_timeout_ms transaction_start_time_ms producer_id producer_epoch
//                 [topics => topic [partitions]]]
//
// Sent to each id's coordinator (kafka-transactions.sh describe): its state as Kafka names it
// (Empty, Ongoing, PrepareCommit, ...), or NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS or
// TRANSACTIONAL_ID_NOT_FOUND.

import type { ApiKey, RequestBody, ResponseInput } from '@gregor/protocol';
import { transactionStateNames } from '@gregor/txn';
import type { TransactionCoordinatorDriver } from '../transactions/transaction-coordinator-driver.js';
import type { ApiHandler } from './api-handler.js';

type Key = typeof ApiKey.DescribeTransactions;
type Response = ResponseInput<Key>;

/** Ids one request may name; more is a broken client. */
export const describedTransactionsPerRequestMax = 10_000;

export function createDescribeTransactionsHandler(
  transactions: TransactionCoordinatorDriver,
): ApiHandler<Key> {
  return async (body: RequestBody<Key>): Promise<Response> => ({
    throttleTimeMs: 0,
    transactionStates: body.transactionalIds
      .slice(0, describedTransactionsPerRequestMax)
      .map((transactionalId) => {
        const described = transactions.transactions.describeOrError(transactionalId);
        if (typeof described === 'number') {
          return {
            errorCode: described,
            transactionalId,
            transactionState: '',
            transactionTimeoutMs: 0,
            transactionStartTimeMs: -1n,
            producerId: -1n,
            producerEpoch: -1,
            topics: [],
          };
        }
        return {
          errorCode: 0,
          transactionalId,
          transactionState: transactionStateNames[described.state],
          transactionTimeoutMs: described.timeoutMs,
          transactionStartTimeMs: BigInt(described.startTimestampMs),
          producerId: BigInt(described.producerId),
          producerEpoch: described.producerEpoch,
          topics: described.partitions.map(({ topic, partitions }) => ({
            topic,
            partitions: [...partitions],
          })),
        };
      }),
  });
}

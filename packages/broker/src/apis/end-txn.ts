// EndTxn (key 26), versions 0-5; flexible from 3 (v4: v3's layout).
//   Request  => transactional_id producer_id producer_epoch committed
//   Response => throttle_time_ms error_code producer_id(5+) producer_epoch(5+)
//
// Commits or aborts the producer's transaction: answered once the markers are written and the
// coordinator stored the outcome (CompleteCommit/CompleteAbort). v5 is transactions v2 (KIP-890
// part 2): the coordinator bumps the producer epoch at the end of every transaction and answers the
// producer id and epoch the next transaction runs under (@gregor/txn's endTxn).

import type { ApiKey, RequestBody, ResponseInput } from '@gregor/protocol';
import type { TransactionCoordinatorDriver } from '../transactions/transaction-coordinator-driver.js';
import type { ApiHandler } from './api-handler.js';
import { producerFencedFor } from './txn-errors.js';

type Key = typeof ApiKey.EndTxn;
type Response = ResponseInput<Key>;

/** EndTxn v5+: the client speaks transactions v2 (Kafka's TransactionVersion.transactionVersionForEndTxn). */
export const endTxnTransactionsV2Version = 5;

export function createEndTxnHandler(transactions: TransactionCoordinatorDriver): ApiHandler<Key> {
  return async (body: RequestBody<Key>, apiVersion: number): Promise<Response> => {
    const response = await transactions.endTxn({
      transactionalId: body.transactionalId,
      producerId: Number(body.producerId),
      producerEpoch: body.producerEpoch,
      commit: body.committed,
      transactionVersion: apiVersion >= endTxnTransactionsV2Version ? 2 : 1,
    });
    return {
      throttleTimeMs: 0,
      errorCode: producerFencedFor(response.errorCode, apiVersion, 2),
      producerId: BigInt(response.producerId),
      producerEpoch: response.producerEpoch,
    };
  };
}

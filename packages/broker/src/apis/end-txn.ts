// EndTxn (key 26), versions 0-4; flexible from 3 (v4: v3's layout).
//   Request  => transactional_id producer_id producer_epoch committed
//   Response => throttle_time_ms error_code
//
// Commits or aborts the producer's transaction: answered once the coordinator stored the decision
// (PrepareCommit/PrepareAbort); the markers follow.

import type { ApiKey, RequestBody, ResponseInput } from '@gregor/protocol';
import type { TransactionCoordinatorDriver } from '../transactions/transaction-coordinator-driver.js';
import type { ApiHandler } from './api-handler.js';
import { producerFencedFor } from './txn-errors.js';

type Key = typeof ApiKey.EndTxn;
type Response = ResponseInput<Key>;

export function createEndTxnHandler(transactions: TransactionCoordinatorDriver): ApiHandler<Key> {
  return async (body: RequestBody<Key>, apiVersion: number): Promise<Response> => {
    const response = await transactions.request('EndTxn', (coordinator, requestId, nowMs) =>
      coordinator.endTxn(
        requestId,
        {
          transactionalId: body.transactionalId,
          producerId: Number(body.producerId),
          producerEpoch: body.producerEpoch,
          commit: body.committed,
        },
        nowMs,
      ),
    );
    return { throttleTimeMs: 0, errorCode: producerFencedFor(response.errorCode, apiVersion, 2) };
  };
}

// AddOffsetsToTxn (key 25), versions 0-4; flexible from 3 (v4: v3's layout).
//   Request  => transactional_id producer_id producer_epoch group_id
//   Response => throttle_time_ms error_code
//
// Adds the group's `__consumer_offsets` partition to the producer's transaction, so the offsets the
// producer then commits with TxnOffsetCommit get the transaction's marker.

import type { ApiKey, RequestBody, ResponseInput } from '@gregor/protocol';
import type { TransactionCoordinatorDriver } from '../transactions/transaction-coordinator-driver.js';
import type { ApiHandler } from './api-handler.js';
import { producerFencedFor } from './txn-errors.js';

type Key = typeof ApiKey.AddOffsetsToTxn;
type Response = ResponseInput<Key>;

export function createAddOffsetsToTxnHandler(transactions: TransactionCoordinatorDriver): ApiHandler<Key> {
  return async (body: RequestBody<Key>, apiVersion: number): Promise<Response> => {
    const response = await transactions.request('AddOffsetsToTxn', (coordinator, requestId, nowMs) =>
      coordinator.addOffsetsToTxn(
        requestId,
        {
          transactionalId: body.transactionalId,
          producerId: Number(body.producerId),
          producerEpoch: body.producerEpoch,
          groupId: body.groupId,
        },
        nowMs,
      ),
    );
    return { throttleTimeMs: 0, errorCode: producerFencedFor(response.errorCode, apiVersion, 2) };
  };
}

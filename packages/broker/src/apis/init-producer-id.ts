// InitProducerId (key 22), versions 0-5; flexible from 2 (v4-5: v3's layout).
//   Request  => transactional_id(nullable) transaction_timeout_ms producer_id(3+) producer_epoch(3+)
//   Response => throttle_time_ms error_code producer_id producer_epoch
//
// Idempotent producers only (transactional_id null): every call gets a new producer id with epoch
// 0, from this broker's block of the controller's id space (producer-ids/producer-id-manager.ts).
// That is what Kafka's TransactionCoordinator does for a null transactional id, v3's producer_id and
// producer_epoch included (KIP-360): without a transactional id the broker has no record of who owns
// an id, so bumping the epoch of a claimed id would let any client fence another producer; a fresh
// id resets the caller's sequences just as well. (Java 3.x bumps an idempotent producer's epoch on
// its own and asks again only when the epoch would overflow.)
//
// A non-null transactional_id goes to the transaction coordinator of that id
// (transactions/transaction-coordinator-driver.ts, @gregor/txn): a new id gets a producer id at
// epoch 0, a known one its epoch bumped (fencing the previous producer). No block available (no
// controller reachable): COORDINATOR_LOAD_IN_PROGRESS, which clients retry, as Kafka answers while
// its id manager waits for a block. PRODUCER_FENCED is INVALID_PRODUCER_EPOCH before v4 (KIP-588).

import { type ApiKey, ErrorCode, type RequestBody, type ResponseInput } from '@gregor/protocol';
import type { ProducerIdManager } from '../producer-ids/producer-id-manager.js';
import type { TransactionCoordinatorDriver } from '../transactions/transaction-coordinator-driver.js';
import type { ApiHandler, RequestContext } from './api-handler.js';
import { AclOperation, authorizedOnAnyTopic, authorizedOnCluster } from './authorization.js';
import { authorizedOnTransactionalId } from './txn-authorization.js';
import { producerFencedFor } from './txn-errors.js';

type Key = typeof ApiKey.InitProducerId;
type Response = ResponseInput<Key>;

export function createInitProducerIdHandler(
  producerIds: ProducerIdManager,
  transactions?: TransactionCoordinatorDriver,
): ApiHandler<Key> {
  return async (body: RequestBody<Key>, apiVersion: number, context: RequestContext): Promise<Response> => {
    const failed = (errorCode: number): Response => ({
      throttleTimeMs: 0,
      errorCode,
      producerId: -1n,
      producerEpoch: -1,
    });
    // Without a transaction coordinator (test fixtures), a transactional id is INVALID_TXN_STATE:
    // final for every client, where a coordinator error would have them retry forever.
    if (body.transactionalId !== null && transactions === undefined)
      return failed(ErrorCode.INVALID_TXN_STATE);
    if (body.transactionalId !== null && transactions !== undefined) {
      // WRITE on the transactional id, as Kafka checks it.
      if (!authorizedOnTransactionalId(context, AclOperation.WRITE, body.transactionalId)) {
        return failed(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
      }
      const response = await transactions.initProducerId({
        transactionalId: body.transactionalId,
        transactionTimeoutMs: body.transactionTimeoutMs,
        producerId: Number(body.producerId),
        producerEpoch: body.producerEpoch,
      });
      return {
        throttleTimeMs: 0,
        errorCode: producerFencedFor(response.errorCode, apiVersion, 4),
        producerId: BigInt(response.producerId),
        producerEpoch: response.producerEpoch,
      };
    }
    // As Kafka 3: IDEMPOTENT_WRITE on the cluster, or WRITE on some topic.
    if (
      !authorizedOnCluster(context, AclOperation.IDEMPOTENT_WRITE) &&
      !authorizedOnAnyTopic(context, AclOperation.WRITE)
    ) {
      return failed(ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    }
    const result = await producerIds.nextProducerId();
    if (!result.ok) {
      context.broker.logger.warn(
        { clientId: context.clientId, error: result.message },
        'no producer id for InitProducerId',
      );
      return failed(result.errorCode);
    }
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      producerId: BigInt(result.producerId),
      producerEpoch: 0,
    };
  };
}

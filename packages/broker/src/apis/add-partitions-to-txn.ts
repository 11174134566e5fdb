// AddPartitionsToTxn (key 24), versions 0-3; flexible from 3.
//   Request  => transactional_id producer_id producer_epoch [topics => name [partitions]]
//   Response => throttle_time_ms
//               [results_by_topic_v3_and_below => name
//                 [results_by_partition => partition_index partition_error_code]]
//
// Adds partitions to the producer's transaction at its coordinator (@gregor/txn). Every partition
// gets the coordinator's answer; a partition whose topic does not exist gets
// UNKNOWN_TOPIC_OR_PARTITION and the others OPERATION_NOT_ATTEMPTED, as in Kafka.

import { type ApiKey, ErrorCode, type RequestBody, type ResponseInput } from '@gregor/protocol';
import type { TransactionCoordinatorDriver } from '../transactions/transaction-coordinator-driver.js';
import type { ApiHandler, RequestContext } from './api-handler.js';
import { producerFencedFor } from './txn-errors.js';

type Key = typeof ApiKey.AddPartitionsToTxn;
type Response = ResponseInput<Key>;

export function createAddPartitionsToTxnHandler(transactions: TransactionCoordinatorDriver): ApiHandler<Key> {
  return async (body: RequestBody<Key>, apiVersion: number, context: RequestContext): Promise<Response> => {
    const image = context.broker.metadata.image();
    const unknown = (topic: string, partition: number): boolean =>
      image.topic(topic)?.partitions[partition] === undefined;
    const anyUnknown = body.topics.some(({ name, partitions }) => partitions.some((p) => unknown(name, p)));
    let errorCode: number = ErrorCode.OPERATION_NOT_ATTEMPTED;
    if (!anyUnknown) {
      const response = await transactions.request('AddPartitionsToTxn', (coordinator, requestId, nowMs) =>
        coordinator.addPartitionsToTxn(
          requestId,
          {
            transactionalId: body.transactionalId,
            producerId: Number(body.producerId),
            producerEpoch: body.producerEpoch,
            partitions: body.topics.map(({ name, partitions }) => ({ topic: name, partitions })),
          },
          nowMs,
        ),
      );
      errorCode = producerFencedFor(response.errorCode, apiVersion, 2);
    }
    return {
      throttleTimeMs: 0,
      resultsByTopicV3AndBelow: body.topics.map(({ name, partitions }) => ({
        name,
        resultsByPartition: partitions.map((partitionIndex) => ({
          partitionIndex,
          partitionErrorCode:
            anyUnknown && unknown(name, partitionIndex) ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : errorCode,
        })),
      })),
    };
  };
}

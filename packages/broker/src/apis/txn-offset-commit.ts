// TxnOffsetCommit (key 28), versions 0-5; flexible from 3 (v4, v5: v3's layout).
//   Request  => transactional_id group_id producer_id producer_epoch generation_id(3+) member_id(3+)
//               group_instance_id(3+, nullable)
//               [topics => name [partitions => partition_index committed_offset
//                 committed_leader_epoch(2+) committed_metadata(nullable)]]
//   Response => throttle_time_ms [topics => name [partitions => partition_index error_code]]
//
// Sent to the group's coordinator after AddOffsetsToTxn: the offsets are appended to the group's
// offsets partition in a transactional batch of the producer and count only once the transaction's
// commit marker reaches that partition (@gregor/group's pending transactional offsets). A partition
// of a topic this broker does not know gets UNKNOWN_TOPIC_OR_PARTITION, as with OffsetCommit.
// PRODUCER_FENCED is INVALID_PRODUCER_EPOCH before v3 (KIP-588).
// v0-4 are verified as Kafka (3.8+) verifies them (KIP-890 part 1, with
// transaction.partition.verification.enable): before the offsets are stored, the transaction
// coordinator is asked whether the group's `__consumer_offsets` partition is in the producer's
// ongoing transaction, i.e. whether AddOffsetsToTxn happened. Not in it: v4 (which declares it knows
// the code) is answered TRANSACTION_ABORTABLE, v0-3 INVALID_TXN_STATE, as Kafka's
// AddPartitionsToTxnManager maps it by version. Unlike Kafka, the question is asked at every
// TxnOffsetCommit, not only when the producer has no transaction open on the offsets partition, and
// no guard ties the answer to the append (a marker in between is not noticed).
// v5 is transactions v2 (KIP-890 part 2): the producer sent no AddOffsetsToTxn, so the group's
// `__consumer_offsets` partition is first added to its transaction by the transaction coordinator
// (the leaders' verification call in add mode), whatever the verification setting.
// A refusal answers every partition; busy or moving coordinators as COORDINATOR_NOT_AVAILABLE
// (retriable), as Kafka's group coordinator normalizes them.

import type { TxnOffsetCommitRequest } from '@gregor/group';
import { type ApiKey, ErrorCode, type RequestBody, type ResponseInput } from '@gregor/protocol';
import type { GroupCoordinatorDriver } from '../groups/group-coordinator-driver.js';
import { offsetsTopicName } from '../groups/offsets-topic.js';
import type { ApiHandler, RequestContext } from './api-handler.js';
import { producerFencedFor } from './txn-errors.js';

type Key = typeof ApiKey.TxnOffsetCommit;
type Response = ResponseInput<Key>;

function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/** TxnOffsetCommit v5+: the transactions-v2 producer's offsets partition is added implicitly. */
export const txnOffsetCommitTransactionsV2Version = 5;

/** TxnOffsetCommit v4+: the client knows TRANSACTION_ABORTABLE (KIP-890; Kafka's GENERIC_ERROR_SUPPORTED). */
export const txnOffsetCommitTransactionAbortableVersion = 4;

/**
 * What a transaction coordinator's refusal to verify (or, v5, add) the offsets partition answers a
 * TxnOffsetCommit. "Not in the transaction" is INVALID_TXN_STATE from `@gregor/txn`'s verification.
 */
function verificationError(coordinatorError: number, apiVersion: number): number {
  switch (coordinatorError) {
    case ErrorCode.INVALID_TXN_STATE:
      return apiVersion >= txnOffsetCommitTransactionAbortableVersion
        ? ErrorCode.TRANSACTION_ABORTABLE
        : ErrorCode.INVALID_TXN_STATE;
    case ErrorCode.CONCURRENT_TRANSACTIONS:
    case ErrorCode.COORDINATOR_LOAD_IN_PROGRESS:
    case ErrorCode.NOT_COORDINATOR:
    case ErrorCode.NETWORK_EXCEPTION:
    case ErrorCode.REQUEST_TIMED_OUT:
    case ErrorCode.NOT_ENOUGH_REPLICAS:
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    default:
      return producerFencedFor(coordinatorError, apiVersion, 3);
  }
}

export function createTxnOffsetCommitHandler(groups: GroupCoordinatorDriver): ApiHandler<Key> {
  return async (body: RequestBody<Key>, apiVersion: number, context: RequestContext): Promise<Response> => {
    const image = context.broker.metadata.image();
    const errors = new Map<string, number>();
    const known: TxnOffsetCommitRequest['topics'][number][] = [];
    for (const topic of body.topics) {
      const partitionCount = image.topic(topic.name)?.partitions.length ?? 0;
      const partitions = topic.partitions.filter((partition) => {
        const exists = partition.partitionIndex >= 0 && partition.partitionIndex < partitionCount;
        if (!exists) {
          errors.set(
            partitionKey(topic.name, partition.partitionIndex),
            ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
          );
        }
        return exists;
      });
      if (partitions.length > 0) known.push({ name: topic.name, partitions });
    }
    // The offsets are stored in a batch of this producer: an id no producer can have maps to none.
    const producerId = Number(body.producerId);
    if (!Number.isSafeInteger(producerId) || producerId < 0) {
      for (const topic of known) {
        for (const partition of topic.partitions) {
          errors.set(
            partitionKey(topic.name, partition.partitionIndex),
            ErrorCode.INVALID_PRODUCER_ID_MAPPING,
          );
        }
      }
      known.length = 0;
    }
    if (known.length > 0) {
      const verified = await context.broker.replicaManager.verifyOffsetsInTransaction({
        transactionalId: body.transactionalId,
        producerId,
        producerEpoch: body.producerEpoch,
        topic: offsetsTopicName,
        partition: groups.offsetsPartitionFor(body.groupId),
        addToTransaction: apiVersion >= txnOffsetCommitTransactionsV2Version,
      });
      if (verified !== ErrorCode.NONE) {
        for (const topic of known) {
          for (const partition of topic.partitions) {
            errors.set(
              partitionKey(topic.name, partition.partitionIndex),
              verificationError(verified, apiVersion),
            );
          }
        }
        known.length = 0;
      }
    }
    if (known.length > 0) {
      const response = await groups.request('TxnOffsetCommit', (coordinator, requestId, nowMs) =>
        coordinator.txnOffsetCommit(
          requestId,
          {
            transactionalId: body.transactionalId,
            groupId: body.groupId,
            producerId,
            producerEpoch: body.producerEpoch,
            generationId: body.generationId,
            memberId: body.memberId,
            groupInstanceId: body.groupInstanceId,
            topics: known,
          },
          nowMs,
        ),
      );
      for (const topic of response.topics) {
        for (const partition of topic.partitions) {
          errors.set(
            partitionKey(topic.name, partition.partitionIndex),
            producerFencedFor(partition.errorCode, apiVersion, 3),
          );
        }
      }
    }
    return {
      throttleTimeMs: 0,
      topics: body.topics.map((topic) => ({
        name: topic.name,
        partitions: topic.partitions.map((partition) => ({
          partitionIndex: partition.partitionIndex,
          errorCode:
            errors.get(partitionKey(topic.name, partition.partitionIndex)) ?? ErrorCode.UNKNOWN_SERVER_ERROR,
        })),
      })),
    };
  };
}

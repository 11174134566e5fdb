// DescribeProducers (key 61), version 0; flexible from 0.
//   Request  => [topics => name [partition_indexes]]
//   Response => throttle_time_ms
//               [topics => name [partitions => partition_index error_code error_message(nullable)
//                 [active_producers => producer_id producer_epoch last_sequence last_timestamp
//                   coordinator_epoch current_txn_start_offset]]]
//
// The idempotent and transactional producers of each partition, from its producer state on the
// leader (kafka-transactions.sh describe-producers); NOT_LEADER_OR_FOLLOWER on any other broker,
// UNKNOWN_TOPIC_OR_PARTITION for a partition that does not exist. Needs READ on the topic with an
// authorizer, as in Kafka.

import { type ApiKey, ErrorCode, errorName, type RequestBody, type ResponseInput } from '@gregor/protocol';
import type { RequestContext } from './api-handler.js';
import { AclOperation, authorizedOnTopic } from './authorization.js';

type Key = typeof ApiKey.DescribeProducers;
type Response = ResponseInput<Key>;

/** Partitions one request may name; the rest are answered INVALID_REQUEST. */
export const describedProducerPartitionsPerRequestMax = 10_000;

export async function handleDescribeProducers(
  body: RequestBody<Key>,
  _apiVersion: number,
  context: RequestContext,
): Promise<Response> {
  let named = 0;
  return {
    throttleTimeMs: 0,
    topics: body.topics.map((topic) => {
      const allowed = authorizedOnTopic(context, AclOperation.READ, topic.name);
      return {
        name: topic.name,
        partitions: topic.partitionIndexes.map((partitionIndex) => {
          const refused = (errorCode: number) => ({
            partitionIndex,
            errorCode,
            errorMessage: errorName(errorCode),
            activeProducers: [],
          });
          if (++named > describedProducerPartitionsPerRequestMax) return refused(ErrorCode.INVALID_REQUEST);
          if (!allowed) return refused(ErrorCode.TOPIC_AUTHORIZATION_FAILED);
          const described = context.broker.replicaManager.describeProducers(topic.name, partitionIndex);
          if (described.errorCode !== ErrorCode.NONE) return refused(described.errorCode);
          return {
            partitionIndex,
            errorCode: ErrorCode.NONE,
            errorMessage: null,
            activeProducers: described.producers.map((producer) => ({
              producerId: BigInt(producer.producerId),
              producerEpoch: producer.producerEpoch,
              lastSequence: producer.lastSequence,
              lastTimestamp: BigInt(producer.lastTimestampMs),
              coordinatorEpoch: producer.coordinatorEpoch,
              currentTxnStartOffset: BigInt(producer.currentTxnStartOffset),
            })),
          };
        }),
      };
    }),
  };
}

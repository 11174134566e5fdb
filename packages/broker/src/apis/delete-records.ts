// DeleteRecords (key 21), versions 0-2; flexible from 2.
//   Request  => [topics => name [partitions => partition_index offset]] timeout_ms
//   Response => throttle_time_ms [topics => name [partitions => partition_index low_watermark error_code]]
//
// Sent to each partition's leader (Kafka's KafkaApis.handleDeleteRecordsRequest): DELETE on the
// topic or TOPIC_AUTHORIZATION_FAILED; the leader moves its log start offset to `offset` (-1: the
// high watermark; above it OFFSET_OUT_OF_RANGE; a compact-only topic POLICY_VIOLATION) and answers
// with the low watermark once every in-sync replica starts there, or REQUEST_TIMED_OUT after
// timeout_ms (see replica/leader-deletes.ts). Errors carry low_watermark -1.

import { type ApiKey, ErrorCode, type RequestBody, type ResponseInput } from '@gregor/protocol';
import type { RequestContext } from './api-handler.js';
import { AclOperation, answerPermittedTopicPartitions } from './authorization.js';

type Key = typeof ApiKey.DeleteRecords;
type Response = ResponseInput<Key>;

export async function handleDeleteRecords(
  body: RequestBody<Key>,
  _apiVersion: number,
  context: RequestContext,
): Promise<Response> {
  const topics = await answerPermittedTopicPartitions(
    context,
    AclOperation.DELETE,
    body.topics,
    (partitions) =>
      context.broker.replicaManager.deleteRecords(
        partitions.map(({ topic, partition }) => ({
          topic,
          partition: partition.partitionIndex,
          offset: Number(partition.offset),
        })),
        body.timeoutMs,
      ),
    (partition, result) => ({
      partitionIndex: partition.partitionIndex,
      lowWatermark: BigInt(result.lowWatermark),
      errorCode: result.errorCode,
    }),
    (partition) => ({
      partitionIndex: partition.partitionIndex,
      lowWatermark: -1n,
      errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
    }),
  );
  return { throttleTimeMs: 0, topics };
}

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
import { AclOperation, authorizedOnTopic } from './authorization.js';

type Key = typeof ApiKey.DeleteRecords;
type Response = ResponseInput<Key>;

export async function handleDeleteRecords(
  body: RequestBody<Key>,
  _apiVersion: number,
  context: RequestContext,
): Promise<Response> {
  const denied = new Set(
    body.topics
      .map((topic) => topic.name)
      .filter((name) => !authorizedOnTopic(context, AclOperation.DELETE, name)),
  );
  const results = await context.broker.replicaManager.deleteRecords(
    body.topics
      .filter((topic) => !denied.has(topic.name))
      .flatMap((topic) =>
        topic.partitions.map((partition) => ({
          topic: topic.name,
          partition: partition.partitionIndex,
          offset: Number(partition.offset),
        })),
      ),
    body.timeoutMs,
  );
  let next = 0;
  return {
    throttleTimeMs: 0,
    topics: body.topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.map((partition) => {
        if (denied.has(topic.name)) {
          return {
            partitionIndex: partition.partitionIndex,
            lowWatermark: -1n,
            errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
          };
        }
        const result = results[next++]!;
        return {
          partitionIndex: partition.partitionIndex,
          lowWatermark: BigInt(result.lowWatermark),
          errorCode: result.errorCode,
        };
      }),
    })),
  };
}

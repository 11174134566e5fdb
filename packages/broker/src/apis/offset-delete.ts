// OffsetDelete (key 47), version 0; never flexible.
//   Request  => group_id [topics => name [partitions => partition_index]]
//   Response => error_code throttle_time_ms [topics => name [partitions => partition_index error_code]]
//
// Deletes a group's committed offsets (kafka-consumer-groups.sh --delete-offsets): the coordinator
// writes their tombstones to the group's offsets partition and answers once they are replicated;
// an Empty group may lose any, a consumer group with members only those of topics no member
// subscribes to (GROUP_SUBSCRIBED_TO_TOPIC), other groups with members none (NON_EMPTY_GROUP). As in
// Kafka's KafkaApis, a partition of a topic missing from this broker's image is
// UNKNOWN_TOPIC_OR_PARTITION, and a group-level error answers no partitions.

import type { OffsetDeleteRequest } from '@gregor/group';
import { type ApiKey, ErrorCode, type RequestBody, type ResponseInput } from '@gregor/protocol';
import type { GroupCoordinatorDriver } from '../groups/group-coordinator-driver.js';
import type { ApiHandler, RequestContext } from './api-handler.js';

type Key = typeof ApiKey.OffsetDelete;
type Response = ResponseInput<Key>;

function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

export function createOffsetDeleteHandler(groups: GroupCoordinatorDriver): ApiHandler<Key> {
  return async (body: RequestBody<Key>, _apiVersion: number, context: RequestContext): Promise<Response> => {
    const image = context.broker.metadata.image();
    const errors = new Map<string, number>();
    const known: OffsetDeleteRequest['topics'][number][] = [];
    for (const topic of body.topics) {
      const partitionCount = image.topic(topic.name)?.partitions.length ?? 0;
      const partitions = topic.partitions.filter(({ partitionIndex }) => {
        const exists = partitionIndex >= 0 && partitionIndex < partitionCount;
        if (!exists)
          errors.set(partitionKey(topic.name, partitionIndex), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
        return exists;
      });
      if (partitions.length > 0) known.push({ name: topic.name, partitions });
    }
    const response = await groups.request('OffsetDelete', (coordinator, requestId, nowMs) =>
      coordinator.offsetDelete(requestId, { groupId: body.groupId, topics: known }, nowMs),
    );
    if (response.errorCode !== ErrorCode.NONE) {
      return { errorCode: response.errorCode, throttleTimeMs: 0, topics: [] };
    }
    for (const topic of response.topics) {
      for (const partition of topic.partitions) {
        errors.set(partitionKey(topic.name, partition.partitionIndex), partition.errorCode);
      }
    }
    return {
      errorCode: ErrorCode.NONE,
      throttleTimeMs: 0,
      topics: body.topics.map((topic) => ({
        name: topic.name,
        partitions: topic.partitions.map(({ partitionIndex }) => ({
          partitionIndex,
          errorCode: errors.get(partitionKey(topic.name, partitionIndex)) ?? ErrorCode.NONE,
        })),
      })),
    };
  };
}

// OffsetCommit (key 8), versions 0-10; flexible from 8. v10 names topics by id: offset-topic-ids.ts
// resolves them to names before this handler runs. v9 has v8's layout: it is the first version a
// KIP-848 consumer may send, with its member epoch in the generation's place. Gregor's groups are all
// classic, for which Kafka's GroupCoordinator checks v9 as v8 (generation -1 with no member: a
// standalone commit, accepted while the group is Empty), so every version takes the same path.
//   Request  => group_id generation_id(1+) member_id(1+) group_instance_id(7+, nullable)
//               retention_time_ms(2-4)
//               [topics => name [partitions => partition_index committed_offset
//                 committed_leader_epoch(6+) commit_timestamp(v1 only) committed_metadata(nullable)]]
//   Response => throttle_time_ms(3+) [topics => name [partitions => partition_index error_code]]
//
// The coordinator stores the commits (with their metadata strings) as records of the group's
// offsets partition and answers once they are replicated. What it cannot know is checked here first,
// as Kafka's KafkaApis does: a partition of a topic missing from this broker's image (or beyond its
// partition count) gets UNKNOWN_TOPIC_OR_PARTITION and is not committed. Each topic goes on with
// its id: a KIP-848 member committing at an older epoch is checked against the partitions it holds. v0 commits without a
// generation (-1, member ''), like a standalone consumer.

import type { OffsetCommitRequest } from '@gregor/group';
import { type ApiKey, ErrorCode, type RequestBody, type ResponseInput } from '@gregor/protocol';
import type { GroupCoordinatorDriver } from '../groups/group-coordinator-driver.js';
import type { ApiHandler, RequestContext } from './api-handler.js';
import { topicIdToWire } from './topic-ids.js';

type Key = typeof ApiKey.OffsetCommit;
type Response = ResponseInput<Key>;

function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

export function createOffsetCommitHandler(groups: GroupCoordinatorDriver): ApiHandler<Key> {
  return async (body: RequestBody<Key>, apiVersion: number, context: RequestContext): Promise<Response> => {
    const image = context.broker.metadata.image();
    const errors = new Map<string, number>();
    const known: OffsetCommitRequest['topics'][number][] = [];
    for (const topic of body.topics) {
      const partitionCount = image.topic(topic.name)?.partitions.length ?? 0;
      const partitions = topic.partitions.filter((partition) => {
        const exists = partition.partitionIndex >= 0 && partition.partitionIndex < partitionCount;
        if (!exists)
          errors.set(
            partitionKey(topic.name, partition.partitionIndex),
            ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
          );
        return exists;
      });
      if (partitions.length === 0) continue;
      const topicId = image.topic(topic.name)?.topicId;
      known.push({
        name: topic.name,
        ...(topicId === undefined ? {} : { topicId: topicIdToWire(topicId) }),
        partitions: partitions.map((partition) => ({
          partitionIndex: partition.partitionIndex,
          committedOffset: partition.committedOffset,
          committedLeaderEpoch: partition.committedLeaderEpoch,
          commitTimestampMs: Number(partition.commitTimestamp),
          committedMetadata: partition.committedMetadata,
        })),
      });
    }
    if (known.length > 0) {
      const response = await groups.request('OffsetCommit', (coordinator, requestId, nowMs) =>
        coordinator.offsetCommit(
          requestId,
          {
            apiVersion,
            groupId: body.groupId,
            generationId: body.generationId,
            memberId: body.memberId,
            groupInstanceId: body.groupInstanceId,
            retentionTimeMs: Number(body.retentionTimeMs),
            topics: known,
          },
          nowMs,
        ),
      );
      for (const topic of response.topics) {
        for (const partition of topic.partitions) {
          errors.set(partitionKey(topic.name, partition.partitionIndex), partition.errorCode);
        }
      }
    }
    return {
      throttleTimeMs: 0,
      topics: body.topics.map((topic) => ({
        name: topic.name,
        partitions: topic.partitions.map((partition) => ({
          partitionIndex: partition.partitionIndex,
          // Every partition asked for is answered; one the coordinator left out is a bug there.
          errorCode:
            errors.get(partitionKey(topic.name, partition.partitionIndex)) ?? ErrorCode.UNKNOWN_SERVER_ERROR,
        })),
      })),
    };
  };
}

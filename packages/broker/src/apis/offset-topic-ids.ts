// OffsetCommit v10 and OffsetFetch v10 (KIP-848) name each topic by its id instead of its name, in
// the request and in the answer. As Kafka's KafkaApis does, the ids are resolved to names first, in
// one metadata image (as Fetch v13+ does), so that authorization, the handler and the coordinator
// keep working on names; the answer then carries each topic's id again. Below v10 both wrappers pass
// the request through untouched.
//
// What Kafka answers (OffsetCommitResponse.json / OffsetFetchResponse.json @ 4.2, and KafkaApis):
// - OffsetCommit v10: a topic id the broker does not know (never created, or deleted) gets
//   UNKNOWN_TOPIC_ID on each of its partitions and is not committed.
// - OffsetFetch v10: an asked-for id the broker does not know gets UNKNOWN_TOPIC_ID on each
//   partition, with committed offset -1, leader epoch -1 and metadata '' (unless the whole group is
//   answered with an error). An "all topics" fetch (topics null) answers by id; a committed topic the
//   image no longer knows has no id to be named by and is left out (as Kafka's coordinator drops
//   the offsets of deleted topics).

import { type ApiKey, ErrorCode, type ResponseInput } from '@gregor/protocol';
import type { ApiHandler } from './api-handler.js';
import { TopicIdResolver, unknownTopicIdAnswers } from './topic-ids.js';

/** The first version of OffsetCommit and of OffsetFetch that names topics by id. */
export const offsetTopicIdsVersion = 10;

export function offsetCommitByTopicId(
  handler: ApiHandler<typeof ApiKey.OffsetCommit>,
): ApiHandler<typeof ApiKey.OffsetCommit> {
  return async (body, version, context) => {
    if (version < offsetTopicIdsVersion) return handler(body, version, context);
    const resolver = new TopicIdResolver(context.broker.metadata.image());
    const { known, unknown } = resolver.resolve(body.topics);
    const answered = await handler({ ...body, topics: known }, version, context);
    if (!('topics' in answered)) return answered;
    return {
      ...answered,
      topics: [
        ...resolver.withIds(answered.topics),
        ...unknownTopicIdAnswers(
          unknown,
          (topic) => topic.partitions.map((partition) => partition.partitionIndex),
          (partitionIndex) => ({ partitionIndex, errorCode: ErrorCode.UNKNOWN_TOPIC_ID }),
        ),
      ],
    };
  };
}

type OffsetFetchGroupAnswer = NonNullable<ResponseInput<typeof ApiKey.OffsetFetch>['groups']>[number];

export function offsetFetchByTopicId(
  handler: ApiHandler<typeof ApiKey.OffsetFetch>,
): ApiHandler<typeof ApiKey.OffsetFetch> {
  return async (body, version, context) => {
    if (version < offsetTopicIdsVersion) return handler(body, version, context);
    const resolver = new TopicIdResolver(context.broker.metadata.image());
    const unknownByGroup = new Map<string, { topicId: string; partitionIndexes: readonly number[] }[]>();
    const groups = body.groups.map((group) => {
      if (group.topics === null) return group;
      const { known, unknown } = resolver.resolve(group.topics);
      unknownByGroup.set(group.groupId, [...(unknownByGroup.get(group.groupId) ?? []), ...unknown]);
      return { ...group, topics: known };
    });
    const answered = await handler({ ...body, groups }, version, context);
    if (!('groups' in answered)) return answered;
    return {
      ...answered,
      groups: (answered.groups ?? []).map((group): OffsetFetchGroupAnswer => {
        const topics = (group.topics ?? []).flatMap((topic) => {
          const topicId = resolver.idOf(topic.name ?? '');
          return topicId === undefined ? [] : [{ ...topic, topicId }];
        });
        const unknown =
          (group.errorCode ?? ErrorCode.NONE) === ErrorCode.NONE
            ? (unknownByGroup.get(group.groupId ?? '') ?? [])
            : [];
        return {
          ...group,
          topics: [
            ...topics,
            ...unknownTopicIdAnswers(
              unknown,
              (topic) => topic.partitionIndexes,
              (partitionIndex) => ({
                partitionIndex,
                committedOffset: -1n,
                committedLeaderEpoch: -1,
                metadata: '',
                errorCode: ErrorCode.UNKNOWN_TOPIC_ID,
              }),
            ),
          ],
        };
      }),
    };
  };
}

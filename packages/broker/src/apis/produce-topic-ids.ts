// Produce v13 (Kafka 4.1, KIP-516) names each topic by its id instead of its name, in the request
// and in the answer. As Kafka's KafkaApis.handleProduceRequest does, the ids are resolved to names
// first, in one metadata image (TopicIdResolver, as OffsetCommit/OffsetFetch v10 and Fetch v13+
// do), so that authorization (still by name), verification and the append keep working on names;
// the answer then carries each topic's id again. Below v13 the request passes through untouched.
//
// A topic id the broker does not know (never created, or deleted) gets UNKNOWN_TOPIC_ID on each of
// its partitions and nothing of it is appended, as in Kafka (which answers it before authorizing).
// With acks=0 nothing is answered, and a refused partition closes the connection (as any failed
// partition of an acks=0 produce does), so that the producer refreshes its metadata.

import { type ApiKey, ErrorCode } from '@gregor/protocol';
import { type ApiHandler, NoResponse } from './api-handler.js';
import { TopicIdResolver, unknownTopicIdAnswers } from './topic-ids.js';

/** The first version of Produce that names topics by id. */
export const produceTopicIdsVersion = 13;

export function produceByTopicId(
  handler: ApiHandler<typeof ApiKey.Produce>,
): ApiHandler<typeof ApiKey.Produce> {
  return async (body, version, context) => {
    if (version < produceTopicIdsVersion) return handler(body, version, context);
    const resolver = new TopicIdResolver(context.broker.metadata.image());
    const { known, unknown } = resolver.resolve(body.topics);
    const answered = await handler({ ...body, topics: known }, version, context);
    if (answered instanceof NoResponse) {
      return unknown.length > 0 && answered.closeReason === null
        ? new NoResponse('a Produce with acks=0 named an unknown topic id')
        : answered;
    }
    return {
      ...answered,
      responses: [
        ...resolver.withIds(answered.responses),
        ...unknownTopicIdAnswers(
          unknown,
          (topic) => topic.partitions.map((partition) => partition.partitionIndex),
          (partitionIndex) => ({
            partitionIndex,
            errorCode: ErrorCode.UNKNOWN_TOPIC_ID,
            baseOffset: -1n,
            logAppendTimeMs: -1n,
            logStartOffset: -1n,
            recordErrors: [],
            errorMessage: null,
          }),
        ),
      ],
    };
  };
}

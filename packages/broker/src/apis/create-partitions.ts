// CreatePartitions (key 37), versions 0-3; flexible from 2 (v3 is v2).
//   Request  => [topics => name count [assignments => [broker_ids]](nullable)] timeout_ms validate_only
//   Response => throttle_time_ms [results => name error_code error_message(nullable)]
//
// Through the active controller: grows each topic to `count` partitions, placed as new topics are;
// answered once committed and applied here (validate_only: once checked). Manual assignments (one
// broker list per new partition) are checked by the controller as Kafka's are
// (INVALID_REPLICA_ASSIGNMENT); a count not above the current one is INVALID_PARTITIONS.

import type { CreatePartitionsRequest } from '@gregor/metadata';
import { type ApiKey, ErrorCode, type RequestBody, type ResponseInput } from '@gregor/protocol';
import type { RequestContext } from './api-handler.js';
import { AclOperation, authorizedOnTopic } from './authorization.js';
import { isFailure } from './broker-context.js';

type Key = typeof ApiKey.CreatePartitions;
type Response = ResponseInput<Key>;
type TopicResult = Response['results'][number];

export async function handleCreatePartitions(
  body: RequestBody<Key>,
  _apiVersion: number,
  context: RequestContext,
): Promise<Response> {
  const counts = new Map<string, number>();
  for (const topic of body.topics) counts.set(topic.name, (counts.get(topic.name) ?? 0) + 1);
  const results: (TopicResult | undefined)[] = [];
  const forwarded: { position: number; request: CreatePartitionsRequest }[] = [];
  body.topics.forEach((topic, position) => {
    if (counts.get(topic.name)! > 1) {
      results.push({
        name: topic.name,
        errorCode: ErrorCode.INVALID_REQUEST,
        errorMessage: `topic ${topic.name} appears more than once`,
      });
    } else if (!authorizedOnTopic(context, AclOperation.ALTER, topic.name)) {
      results.push({
        name: topic.name,
        errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
        errorMessage: 'Authorization failed.',
      });
    } else {
      results.push(undefined);
      forwarded.push({
        position,
        request: {
          name: topic.name,
          count: topic.count,
          assignments: topic.assignments?.map((assignment) => assignment.brokerIds) ?? null,
        },
      });
    }
  });
  if (forwarded.length > 0) {
    const outcomes = await context.broker.controller.createPartitions(
      forwarded.map((entry) => entry.request),
      { validateOnly: body.validateOnly, timeoutMs: body.timeoutMs },
    );
    forwarded.forEach(({ position, request }, index) => {
      const outcome = outcomes[index]!;
      results[position] = isFailure(outcome)
        ? { name: request.name, errorCode: outcome.errorCode, errorMessage: outcome.errorMessage }
        : { name: request.name, errorCode: ErrorCode.NONE, errorMessage: null };
    });
  }
  return { throttleTimeMs: 0, results: results.map((result) => result!) };
}

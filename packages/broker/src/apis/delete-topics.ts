// DeleteTopics (key 20), versions 0-6; flexible from 4.
//   Request  v0-5 => [topic_names] timeout_ms
//   Request  v6   => [topics => name(nullable) topic_id] timeout_ms
//   Response      => throttle_time_ms(1+)
//                    [responses => name(nullable 6+) topic_id(6+) error_code error_message(5+)]
//
// Through the active controller, one topic at a time; answered once the removal is committed and
// applied here (the local logs are deleted by then). v6 names a topic by name or by id (a zero id
// means "by name"); an unknown id is UNKNOWN_TOPIC_ID. With `delete.topic.enable=false` every topic
// is refused, as Kafka's ControllerApis does: TOPIC_DELETION_DISABLED from v3, INVALID_REQUEST before
// (older clients do not know the code).

import type { TopicSelector } from '@gregor/metadata';
import { type ApiKey, ErrorCode, type RequestBody, type ResponseInput, zeroUuid } from '@gregor/protocol';
import type { RequestContext } from './api-handler.js';
import { AclOperation, authorizedOnTopic } from './authorization.js';
import { isFailure } from './broker-context.js';
import { topicIdFromWire, topicIdToWire } from './topic-ids.js';

type Key = typeof ApiKey.DeleteTopics;
type Response = ResponseInput<Key>;
type TopicResult = Response['responses'][number];

export async function handleDeleteTopics(
  body: RequestBody<Key>,
  apiVersion: number,
  context: RequestContext,
): Promise<Response> {
  if (!context.broker.settings.deleteTopicEnable) return deletionDisabled(body, apiVersion);
  const wanted =
    apiVersion >= 6
      ? body.topics.map((topic) => ({ name: topic.name, topicId: topic.topicId }))
      : body.topicNames.map((name) => ({ name, topicId: zeroUuid }));
  const results: (TopicResult | undefined)[] = [];
  const forwarded: { position: number; selector: TopicSelector }[] = [];
  wanted.forEach((topic, position) => {
    if (topic.topicId !== zeroUuid) {
      const topicId = topicIdFromWire(topic.topicId);
      const named = topicId === null ? undefined : context.broker.metadata.image().topicById(topicId)?.name;
      if (named !== undefined && !authorizedOnTopic(context, AclOperation.DELETE, named)) {
        results.push({
          name: null,
          topicId: topic.topicId,
          errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
          errorMessage: 'Authorization failed.',
        });
        return;
      }
      if (topicId === null) {
        results.push({ name: topic.name, topicId: topic.topicId, errorCode: ErrorCode.UNKNOWN_TOPIC_ID });
        return;
      }
      forwarded.push({ position, selector: { topicId } });
    } else if (topic.name !== null && !authorizedOnTopic(context, AclOperation.DELETE, topic.name)) {
      results.push({
        name: topic.name,
        topicId: zeroUuid,
        errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
        errorMessage: 'Authorization failed.',
      });
      return;
    } else if (topic.name !== null) {
      forwarded.push({ position, selector: { name: topic.name } });
    } else {
      results.push({
        name: null,
        topicId: zeroUuid,
        errorCode: ErrorCode.INVALID_REQUEST,
        errorMessage: 'a topic needs a name or an id',
      });
      return;
    }
    results.push(undefined);
  });
  if (forwarded.length > 0) {
    const outcomes = await context.broker.controller.deleteTopics(
      forwarded.map((entry) => entry.selector),
      { timeoutMs: body.timeoutMs },
    );
    forwarded.forEach(({ position }, index) => {
      const outcome = outcomes[index]!;
      const topic = wanted[position]!;
      results[position] = isFailure(outcome)
        ? {
            name: topic.name,
            topicId: topic.topicId,
            errorCode: outcome.errorCode,
            errorMessage: outcome.errorMessage,
          }
        : {
            name: outcome.name,
            topicId: topicIdToWire(outcome.topicId),
            errorCode: ErrorCode.NONE,
            errorMessage: null,
          };
    });
  }
  return answer(
    results.map((result) => result!),
    apiVersion,
  );
}

function deletionDisabled(body: RequestBody<Key>, apiVersion: number): Response {
  const errorCode = apiVersion >= 3 ? ErrorCode.TOPIC_DELETION_DISABLED : ErrorCode.INVALID_REQUEST;
  const errorMessage = 'Topic deletion is disabled.';
  const results: TopicResult[] =
    apiVersion >= 6
      ? body.topics.map((topic) => ({ name: topic.name, topicId: topic.topicId, errorCode, errorMessage }))
      : body.topicNames.map((name) => ({ name, topicId: zeroUuid, errorCode, errorMessage }));
  return answer(results, apiVersion);
}

function answer(results: readonly TopicResult[], apiVersion: number): Response {
  // v0-5 name every topic (the name field is not nullable there).
  return {
    throttleTimeMs: 0,
    responses: results.map((result) => (apiVersion >= 6 ? result : { ...result, name: result.name ?? '' })),
  };
}

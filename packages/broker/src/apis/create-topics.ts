// CreateTopics (key 19), versions 0-7; flexible from 5.
//   Request  => [topics => name num_partitions replication_factor
//                 [assignments => partition_index [broker_ids]] [configs => name value(nullable)]]
//               timeout_ms validate_only(1+)
//   Response => throttle_time_ms(2+)
//               [topics => name topic_id(7+) error_code error_message(1+, nullable)
//                 topic_config_error_code(tag 0, 5+) num_partitions(5+) replication_factor(5+)
//                 [configs => name value(nullable) read_only config_source is_sensitive](5+, nullable)]
//
// Through the active controller: each topic succeeds or fails on its own, and the answer comes once
// the topic is committed and applied to this broker (validate_only: once checked). -1 partitions or
// replication factor mean the controller's defaults. A manual replica assignment goes to the
// controller, which checks it as Kafka's does (INVALID_REPLICA_ASSIGNMENT with Kafka's messages).
// A null config value is INVALID_CONFIG, as in Kafka. Creating needs CREATE on the cluster or the
// topic; the created topic's configs, partition count and replication factor (v5+) are shown only
// with DESCRIBE_CONFIGS on it, else topic_config_error_code is TOPIC_AUTHORIZATION_FAILED (Kafka's
// ReplicationControlManager).

import type { CreateTopicRequest } from '@gregor/metadata';
import { type ApiKey, ErrorCode, type RequestBody, type ResponseInput } from '@gregor/protocol';
import type { RequestContext } from './api-handler.js';
import { AclOperation, authorizedOnCluster, authorizedOnTopic } from './authorization.js';
import { isFailure } from './broker-context.js';
import { describeTopicConfigs } from './config-entries.js';
import { topicIdToWire } from './topic-ids.js';

type Key = typeof ApiKey.CreateTopics;
type Response = ResponseInput<Key>;
type TopicResult = Response['topics'][number];

export async function handleCreateTopics(
  body: RequestBody<Key>,
  _apiVersion: number,
  context: RequestContext,
): Promise<Response> {
  const broker = context.broker;
  const failure = (name: string, errorCode: number, errorMessage: string): TopicResult => ({
    name,
    errorCode,
    errorMessage,
  });
  const counts = new Map<string, number>();
  for (const topic of body.topics) counts.set(topic.name, (counts.get(topic.name) ?? 0) + 1);

  const results: (TopicResult | undefined)[] = [];
  const forwarded: { position: number; request: CreateTopicRequest }[] = [];
  body.topics.forEach((topic, position) => {
    if (counts.get(topic.name)! > 1) {
      results.push(
        failure(topic.name, ErrorCode.INVALID_REQUEST, `topic ${topic.name} appears more than once`),
      );
    } else if (
      !authorizedOnCluster(context, AclOperation.CREATE) &&
      !authorizedOnTopic(context, AclOperation.CREATE, topic.name)
    ) {
      results.push(failure(topic.name, ErrorCode.TOPIC_AUTHORIZATION_FAILED, 'Authorization failed.'));
    } else if (topic.configs.some((config) => config.value === null)) {
      const nullNames = topic.configs.filter((config) => config.value === null).map((config) => config.name);
      results.push(
        failure(
          topic.name,
          ErrorCode.INVALID_CONFIG,
          `Null value not supported for topic configs: ${nullNames.join(',')}`,
        ),
      );
    } else {
      results.push(undefined);
      forwarded.push({
        position,
        request: {
          name: topic.name,
          numPartitions: topic.numPartitions,
          replicationFactor: topic.replicationFactor,
          configs: topic.configs.map((config) => ({ name: config.name, value: config.value! })),
          assignments: topic.assignments.map((assignment) => ({
            partitionIndex: assignment.partitionIndex,
            brokerIds: assignment.brokerIds,
          })),
        },
      });
    }
  });

  if (forwarded.length > 0) {
    const outcomes = await broker.controller.createTopics(
      forwarded.map((entry) => entry.request),
      { validateOnly: body.validateOnly, timeoutMs: body.timeoutMs },
    );
    forwarded.forEach(({ position, request }, index) => {
      const outcome = outcomes[index]!;
      if (isFailure(outcome)) {
        results[position] = failure(request.name, outcome.errorCode, outcome.errorMessage);
        return;
      }
      if (!authorizedOnTopic(context, AclOperation.DESCRIBE_CONFIGS, request.name)) {
        results[position] = {
          name: request.name,
          topicId: topicIdToWire(outcome.topicId),
          errorCode: ErrorCode.NONE,
          errorMessage: null,
          topicConfigErrorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
          configs: [],
        };
        return;
      }
      const configs = describeTopicConfigs(
        new Map(outcome.configs.map((config) => [config.name, config.value])),
        broker.settings,
        broker.metadata.image(),
        broker.brokerId,
      );
      results[position] = {
        name: request.name,
        topicId: topicIdToWire(outcome.topicId),
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        numPartitions: outcome.numPartitions,
        replicationFactor: outcome.replicationFactor,
        configs: configs.map((config) => ({
          name: config.name,
          value: config.value,
          readOnly: config.readOnly,
          configSource: config.source,
          isSensitive: config.isSensitive,
        })),
      };
    });
  }
  return { throttleTimeMs: 0, topics: results.map((result) => result!) };
}

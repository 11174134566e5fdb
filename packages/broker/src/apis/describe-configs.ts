// DescribeConfigs (key 32), versions 0-4; flexible from 4.
//   Request  => [resources => resource_type resource_name [configuration_keys](nullable)]
//               include_synonyms(1+) include_documentation(3+)
//   Response => throttle_time_ms
//               [results => error_code error_message(nullable) resource_type resource_name
//                 [configs => name value(nullable) read_only is_default(v0 only) config_source(1+)
//                   is_sensitive [synonyms => name value(nullable) source](1+)
//                   config_type(3+) documentation(3+, nullable)]]
//
// Topics (type 2): every log config with its effective value and source (see config-entries.ts);
// an unknown topic is UNKNOWN_TOPIC_OR_PARTITION. Brokers (type 4): this broker's id names its
// static configs (all read-only); the empty name is the cluster-wide dynamic defaults, of which
// Gregor has none; another broker's id is INVALID_REQUEST (ask that broker). Other types (broker
// loggers, after Kafka's DESCRIBE_CONFIGS check on the cluster) are INVALID_REQUEST.
// configuration_keys null means all; synonyms only when asked (v1+); the type always (v3+), the
// documentation only when asked (v3+), as Kafka's ConfigHelper does.

import {
  type ApiKey,
  configResourceType,
  ErrorCode,
  type RequestBody,
  type ResponseInput,
} from '@gregor/protocol';
import type { RequestContext } from './api-handler.js';
import { AclOperation, authorizedOnCluster, authorizedOnTopic } from './authorization.js';
import {
  type ConfigEntry,
  ConfigSource,
  describeBrokerConfigs,
  describeClusterDefaultBrokerConfigs,
  describeTopicConfigs,
} from './config-entries.js';

type Key = typeof ApiKey.DescribeConfigs;
type Response = ResponseInput<Key>;
type ResourceResult = Response['results'][number];

export async function handleDescribeConfigs(
  body: RequestBody<Key>,
  apiVersion: number,
  context: RequestContext,
): Promise<Response> {
  const broker = context.broker;
  const image = broker.metadata.image();
  const results = body.resources.map((resource): ResourceResult => {
    const answer = (
      errorCode: number,
      errorMessage: string | null,
      entries: readonly ConfigEntry[],
    ): ResourceResult => {
      const keys = resource.configurationKeys === null ? null : new Set(resource.configurationKeys);
      return {
        errorCode,
        errorMessage,
        resourceType: resource.resourceType,
        resourceName: resource.resourceName,
        configs: entries
          .filter((entry) => keys === null || keys.has(entry.name))
          .map((entry) => ({
            name: entry.name,
            value: entry.value,
            readOnly: entry.readOnly,
            // v0 has is_default instead of config_source; the field a version lacks stays at its default.
            isDefault: apiVersion === 0 && entry.source === ConfigSource.defaultConfig,
            configSource: entry.source,
            isSensitive: entry.isSensitive,
            synonyms:
              apiVersion >= 1 && body.includeSynonyms
                ? entry.synonyms.map((synonym) => ({ ...synonym }))
                : [],
            configType: entry.type,
            documentation: apiVersion >= 3 && body.includeDocumentation ? entry.documentation : null,
          })),
      };
    };
    switch (resource.resourceType) {
      case configResourceType.topic: {
        if (!authorizedOnTopic(context, AclOperation.DESCRIBE_CONFIGS, resource.resourceName)) {
          return answer(ErrorCode.TOPIC_AUTHORIZATION_FAILED, 'Authorization failed.', []);
        }
        if (image.topic(resource.resourceName) === undefined) {
          return answer(
            ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
            `topic ${resource.resourceName} does not exist`,
            [],
          );
        }
        return answer(
          ErrorCode.NONE,
          null,
          describeTopicConfigs(
            image.topicConfigs(resource.resourceName),
            broker.settings,
            image,
            broker.brokerId,
          ),
        );
      }
      case configResourceType.broker: {
        if (!authorizedOnCluster(context, AclOperation.DESCRIBE_CONFIGS)) {
          return answer(ErrorCode.CLUSTER_AUTHORIZATION_FAILED, 'Cluster authorization failed.', []);
        }
        if (resource.resourceName === '') {
          return answer(ErrorCode.NONE, null, describeClusterDefaultBrokerConfigs(broker.settings, image));
        }
        if (resource.resourceName !== String(broker.brokerId)) {
          return answer(
            ErrorCode.INVALID_REQUEST,
            `this is broker ${broker.brokerId}; ask broker ${resource.resourceName} for its configs`,
            [],
          );
        }
        return answer(ErrorCode.NONE, null, describeBrokerConfigs(broker.settings, image, broker.brokerId));
      }
      default:
        // Kafka checks DESCRIBE_CONFIGS on the cluster for a broker logger before anything else.
        if (
          resource.resourceType === configResourceType.brokerLogger &&
          !authorizedOnCluster(context, AclOperation.DESCRIBE_CONFIGS)
        ) {
          return answer(ErrorCode.CLUSTER_AUTHORIZATION_FAILED, 'Cluster authorization failed.', []);
        }
        return answer(
          ErrorCode.INVALID_REQUEST,
          `resource type ${resource.resourceType} is not supported`,
          [],
        );
    }
  });
  return { throttleTimeMs: 0, results };
}

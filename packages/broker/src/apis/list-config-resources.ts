// ListConfigResources (key 74), versions 0-1 (v0: ListClientMetricsResources, KIP-714; v1: KIP-1142).
//   Request  => [resource_types](1+)
//   Response => throttle_time_ms error_code [config_resources => resource_name resource_type(1+)]
//
// As Kafka's KafkaApis.handleListConfigResources: DESCRIBE_CONFIGS on the cluster or
// CLUSTER_AUTHORIZATION_FAILED; no types asked means every type the version supports (v0: client
// metrics only; v1: topics, brokers, broker loggers, client metrics, groups), and a type outside
// them is UNSUPPORTED_VERSION with nothing listed. Listed, in Kafka's order: groups with configs,
// client metrics resources, each live broker (with the request's listener) as a broker logger, the
// same brokers as brokers, every topic. Gregor keeps no group configs and has no client telemetry,
// so it has no group or client metrics resources to list; those types answer none.

import {
  type ApiKey,
  ErrorCode,
  listedConfigResourceType,
  type RequestBody,
  type ResponseInput,
} from '@gregor/protocol';
import type { RequestContext } from './api-handler.js';
import { AclOperation, authorizedOnCluster } from './authorization.js';
import { liveBrokers } from './metadata.js';

type Key = typeof ApiKey.ListConfigResources;
type ConfigResource = ResponseInput<Key>['configResources'][number];

/** The types a version lists (Kafka's ListConfigResourcesRequest.supportedResourceTypes). */
export function supportedResourceTypes(apiVersion: number): readonly number[] {
  if (apiVersion === 0) return [listedConfigResourceType.clientMetrics];
  return [
    listedConfigResourceType.topic,
    listedConfigResourceType.broker,
    listedConfigResourceType.brokerLogger,
    listedConfigResourceType.clientMetrics,
    listedConfigResourceType.group,
  ];
}

export async function handleListConfigResources(
  body: RequestBody<Key>,
  apiVersion: number,
  context: RequestContext,
): Promise<ResponseInput<Key>> {
  if (!authorizedOnCluster(context, AclOperation.DESCRIBE_CONFIGS)) {
    return { throttleTimeMs: 0, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED, configResources: [] };
  }
  const supported = supportedResourceTypes(apiVersion);
  const asked = body.resourceTypes.length === 0 ? supported : body.resourceTypes;
  if (asked.some((type) => !supported.includes(type))) {
    return { throttleTimeMs: 0, errorCode: ErrorCode.UNSUPPORTED_VERSION, configResources: [] };
  }
  const image = context.broker.metadata.image();
  const brokerIds = liveBrokers(image, context.connection.listenerName).map((entry) => String(entry.nodeId));
  const listed = (resourceType: number, names: readonly string[]): ConfigResource[] =>
    asked.includes(resourceType) ? names.map((resourceName) => ({ resourceName, resourceType })) : [];
  return {
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    configResources: [
      ...listed(listedConfigResourceType.group, []),
      ...listed(listedConfigResourceType.clientMetrics, []),
      ...listed(listedConfigResourceType.brokerLogger, brokerIds),
      ...listed(listedConfigResourceType.broker, brokerIds),
      ...listed(listedConfigResourceType.topic, [...image.topics.keys()].sort()),
    ],
  };
}

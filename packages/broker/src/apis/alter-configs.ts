// AlterConfigs (key 33), versions 0-2; flexible from 2.
//   Request  => [resources => resource_type resource_name [configs => name value(nullable)]]
//               validate_only
//   Response => throttle_time_ms
//               [responses => error_code error_message(nullable) resource_type resource_name]
//
// The legacy, non-incremental form: the configs given become the topic's whole dynamic config, so
// every topic config (or dynamic broker config of that resource) set before and not given is removed
// (as Kafka does). Applied as one
// IncrementalAlterConfigs change by the controller; see config-changes.ts for other resources.

import type { AlterConfigOperation } from '@gregor/metadata';
import {
  type ApiKey,
  configResourceType,
  ErrorCode,
  type RequestBody,
  type ResponseInput,
} from '@gregor/protocol';
import type { RequestContext } from './api-handler.js';
import { applyConfigChanges, type ResourceChange } from './config-changes.js';

type Key = typeof ApiKey.AlterConfigs;

export async function handleAlterConfigs(
  body: RequestBody<Key>,
  _apiVersion: number,
  context: RequestContext,
): Promise<ResponseInput<Key>> {
  const image = context.broker.metadata.image();
  const changes = body.resources.map((resource): ResourceChange => {
    const base = { resourceType: resource.resourceType, resourceName: resource.resourceName };
    const nullNames = resource.configs.filter((config) => config.value === null).map((config) => config.name);
    if (nullNames.length > 0) {
      return {
        ...base,
        operations: {
          errorCode: ErrorCode.INVALID_REQUEST,
          errorMessage: `Null value not supported for : ${nullNames.join(', ')}`,
        },
      };
    }
    const operations: AlterConfigOperation[] = resource.configs.map((config) => ({
      name: config.name,
      operation: 'set',
      value: config.value,
    }));
    const current =
      resource.resourceType === configResourceType.topic
        ? image.topicConfigs(resource.resourceName)
        : resource.resourceType === configResourceType.broker
          ? image.brokerConfigs(resource.resourceName)
          : new Map<string, string>();
    const given = new Set(resource.configs.map((config) => config.name));
    for (const name of current.keys()) {
      if (!given.has(name)) operations.push({ name, operation: 'delete', value: null });
    }
    return { ...base, operations };
  });
  const responses = await applyConfigChanges(changes, { validateOnly: body.validateOnly }, context);
  return { throttleTimeMs: 0, responses };
}

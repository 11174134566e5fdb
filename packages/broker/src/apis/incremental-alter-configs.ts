// IncrementalAlterConfigs (key 44), versions 0-1; flexible from 1.
//   Request  => [resources => resource_type resource_name
//                 [configs => name config_operation value(nullable)]] validate_only
//   Response => throttle_time_ms
//               [responses => error_code error_message(nullable) resource_type resource_name]
//
// Topic configs: SET, DELETE, and APPEND/SUBTRACT on list configs (cleanup.policy and the
// throttled-replica lists), validated by the controller and persisted in the metadata log; see
// config-changes.ts for what brokers and other resources get. An unknown operation is
// INVALID_REQUEST, a SET without a value INVALID_REQUEST, as in Kafka.

import type { AlterConfigOperation } from '@gregor/metadata';
import {
  type ApiKey,
  alterConfigOpType,
  ErrorCode,
  type RequestBody,
  type ResponseInput,
} from '@gregor/protocol';
import type { RequestContext } from './api-handler.js';
import { applyConfigChanges, type ResourceChange } from './config-changes.js';

type Key = typeof ApiKey.IncrementalAlterConfigs;

const operationNames = new Map<number, AlterConfigOperation['operation']>([
  [alterConfigOpType.set, 'set'],
  [alterConfigOpType.delete, 'delete'],
  [alterConfigOpType.append, 'append'],
  [alterConfigOpType.subtract, 'subtract'],
]);

export async function handleIncrementalAlterConfigs(
  body: RequestBody<Key>,
  _apiVersion: number,
  context: RequestContext,
): Promise<ResponseInput<Key>> {
  const changes = body.resources.map((resource): ResourceChange => {
    const operations: AlterConfigOperation[] = [];
    for (const config of resource.configs) {
      const operation = operationNames.get(config.configOperation);
      const refuse = (errorMessage: string): ResourceChange => ({
        resourceType: resource.resourceType,
        resourceName: resource.resourceName,
        operations: { errorCode: ErrorCode.INVALID_REQUEST, errorMessage },
      });
      if (operation === undefined)
        return refuse(`Unknown alter configs operation type ${config.configOperation}`);
      if (operation === 'set' && config.value === null) {
        return refuse(`Null value not supported for : ${config.name}`);
      }
      operations.push({ name: config.name, operation, value: config.value });
    }
    return { resourceType: resource.resourceType, resourceName: resource.resourceName, operations };
  });
  const responses = await applyConfigChanges(changes, { validateOnly: body.validateOnly }, context);
  return { throttleTimeMs: 0, responses };
}

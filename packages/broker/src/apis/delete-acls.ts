// DeleteAcls (key 31), versions 0-3.
//   Request  => [filters => resource_type_filter resource_name_filter pattern_type_filter
//                 principal_filter host_filter operation permission_type]
//   Response => throttle_time_ms [filter_results => error_code error_message [matching_acls => ...]]
//
// Needs ALTER on the cluster; without an authorizer, SECURITY_DISABLED. Every stored binding a
// filter matches (ANY and MATCH as Kafka's AclBindingFilter) is removed and listed.

import { type ApiKey, ErrorCode, type RequestBody, type ResponseInput } from '@gregor/protocol';
import type { RequestContext } from './api-handler.js';
import { aclChangeRefusal } from './authorization.js';
import { isFailure } from './broker-context.js';

type Key = typeof ApiKey.DeleteAcls;

const controllerTimeoutMs = 30_000;

export async function handleDeleteAcls(
  body: RequestBody<Key>,
  _apiVersion: number,
  context: RequestContext,
): Promise<ResponseInput<Key>> {
  const all = (errorCode: number, errorMessage: string) => ({
    throttleTimeMs: 0,
    filterResults: body.filters.map(() => ({ errorCode, errorMessage, matchingAcls: [] })),
  });
  const refusal = aclChangeRefusal(context);
  if (refusal !== null) return all(refusal.errorCode, refusal.errorMessage);
  const outcome = await context.broker.controller.deleteAcls(
    body.filters.map((filter) => ({
      resourceType: filter.resourceTypeFilter,
      resourceName: filter.resourceNameFilter,
      patternType: filter.patternTypeFilter,
      principal: filter.principalFilter,
      host: filter.hostFilter,
      operation: filter.operation,
      permissionType: filter.permissionType,
    })),
    { timeoutMs: controllerTimeoutMs },
  );
  if (isFailure(outcome)) return all(outcome.errorCode, outcome.errorMessage);
  return {
    throttleTimeMs: 0,
    filterResults: outcome.results.map((result) => ({
      errorCode: result.errorCode,
      errorMessage: result.errorMessage,
      matchingAcls: result.deleted.map((binding) => ({
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        resourceType: binding.resourceType,
        resourceName: binding.resourceName,
        patternType: binding.patternType,
        principal: binding.principal,
        host: binding.host,
        operation: binding.operation,
        permissionType: binding.permissionType,
      })),
    })),
  };
}

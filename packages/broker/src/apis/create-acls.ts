// CreateAcls (key 30), versions 0-3.
//   Request  => [creations => resource_type resource_name resource_pattern_type principal host
//                 operation permission_type]
//   Response => throttle_time_ms [results => error_code error_message]
//
// Needs ALTER on the cluster (CLUSTER_AUTHORIZATION_FAILED); without an authorizer,
// SECURITY_DISABLED, as Kafka. The active controller stores each valid binding in the metadata log.

import type { ApiKey, RequestBody, ResponseInput } from '@gregor/protocol';
import type { RequestContext } from './api-handler.js';
import { aclChangeRefusal } from './authorization.js';
import { isFailure } from './broker-context.js';

type Key = typeof ApiKey.CreateAcls;

const controllerTimeoutMs = 30_000;

export async function handleCreateAcls(
  body: RequestBody<Key>,
  _apiVersion: number,
  context: RequestContext,
): Promise<ResponseInput<Key>> {
  const all = (errorCode: number, errorMessage: string) => ({
    throttleTimeMs: 0,
    results: body.creations.map(() => ({ errorCode, errorMessage })),
  });
  const refusal = aclChangeRefusal(context);
  if (refusal !== null) return all(refusal.errorCode, refusal.errorMessage);
  const outcome = await context.broker.controller.createAcls(
    body.creations.map((creation) => ({
      resourceType: creation.resourceType,
      resourceName: creation.resourceName,
      patternType: creation.resourcePatternType,
      principal: creation.principal,
      host: creation.host,
      operation: creation.operation,
      permissionType: creation.permissionType,
    })),
    { timeoutMs: controllerTimeoutMs },
  );
  if (isFailure(outcome)) return all(outcome.errorCode, outcome.errorMessage);
  return { throttleTimeMs: 0, results: outcome.results.map((result) => ({ ...result })) };
}

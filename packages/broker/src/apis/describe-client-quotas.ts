// DescribeClientQuotas (key 48), versions 0-1.
//   Request  => [components => entity_type match_type match(nullable)] strict
//   Response => throttle_time_ms error_code error_message(nullable)
//               [entries => [entity => entity_type entity_name(nullable)] [values => key value]]
//
// From this broker's metadata image, as Kafka answers from its ClientQuotaImage: needs
// DESCRIBE_CONFIGS on the cluster (CLUSTER_AUTHORIZATION_FAILED); a filter Kafka refuses (unknown
// entity type, a type twice, a name where the match type takes none, ip with user or client-id) is
// INVALID_REQUEST with no entries.

import { quotaFilterMatches, quotaFilterProblem } from '@gregor/metadata';
import { type ApiKey, ErrorCode, type RequestBody, type ResponseInput } from '@gregor/protocol';
import type { RequestContext } from './api-handler.js';
import { AclOperation, authorizedOnCluster } from './authorization.js';

type Key = typeof ApiKey.DescribeClientQuotas;

export async function handleDescribeClientQuotas(
  body: RequestBody<Key>,
  _apiVersion: number,
  context: RequestContext,
): Promise<ResponseInput<Key>> {
  if (!authorizedOnCluster(context, AclOperation.DESCRIBE_CONFIGS)) {
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
      errorMessage: 'Cluster authorization failed.',
      entries: null,
    };
  }
  const problem = quotaFilterProblem(body.components);
  if (problem !== null) {
    return { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: problem, entries: null };
  }
  const entries = [...context.broker.metadata.image().clientQuotas.values()]
    .filter((quota) => quotaFilterMatches(body.components, body.strict, quota.entity))
    .map((quota) => ({
      entity: quota.entity.map((c) => ({ entityType: c.entityType, entityName: c.entityName })),
      values: [...quota.values].map(([key, value]) => ({ key, value })),
    }));
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, entries };
}

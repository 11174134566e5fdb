// DescribeAcls (key 29), versions 0-3.
//   Request  => resource_type_filter resource_name_filter pattern_type_filter principal_filter
//               host_filter operation permission_type
//   Response => throttle_time_ms error_code error_message
//               [resources => resource_type resource_name pattern_type [acls => principal host operation permission_type]]
//
// From this broker's metadata image. Needs DESCRIBE on the cluster; without an authorizer,
// SECURITY_DISABLED.

import { type AclBinding, type AclBindingFilter, aclFilterMatches, aclFilterProblem } from '@gregor/metadata';
import { type ApiKey, ErrorCode, type RequestBody, type ResponseInput } from '@gregor/protocol';
import type { RequestContext } from './api-handler.js';
import { AclOperation, authorizedOnCluster } from './authorization.js';

type Key = typeof ApiKey.DescribeAcls;

export async function handleDescribeAcls(
  body: RequestBody<Key>,
  _apiVersion: number,
  context: RequestContext,
): Promise<ResponseInput<Key>> {
  const refuse = (errorCode: number, errorMessage: string) => ({
    throttleTimeMs: 0,
    errorCode,
    errorMessage,
    resources: [],
  });
  if (context.broker.authorizer === undefined) {
    return refuse(ErrorCode.SECURITY_DISABLED, 'No Authorizer is configured (authorizer.class.name)');
  }
  if (!authorizedOnCluster(context, AclOperation.DESCRIBE)) {
    return refuse(ErrorCode.CLUSTER_AUTHORIZATION_FAILED, 'Cluster authorization failed.');
  }
  const filter: AclBindingFilter = {
    resourceType: body.resourceTypeFilter,
    resourceName: body.resourceNameFilter,
    patternType: body.patternTypeFilter,
    principal: body.principalFilter,
    host: body.hostFilter,
    operation: body.operation,
    permissionType: body.permissionType,
  };
  const problem = aclFilterProblem(filter);
  if (problem !== null) return refuse(ErrorCode.INVALID_REQUEST, problem);
  const byResource = new Map<
    string,
    { resourceType: number; resourceName: string; patternType: number; acls: AclBinding[] }
  >();
  for (const binding of context.broker.metadata.image().acls.values()) {
    if (!aclFilterMatches(filter, binding)) continue;
    const key = `${binding.resourceType}\u0000${binding.patternType}\u0000${binding.resourceName}`;
    let resource = byResource.get(key);
    if (resource === undefined) {
      resource = {
        resourceType: binding.resourceType,
        resourceName: binding.resourceName,
        patternType: binding.patternType,
        acls: [],
      };
      byResource.set(key, resource);
    }
    resource.acls.push(binding);
  }
  return {
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    errorMessage: null,
    resources: [...byResource.values()].map((resource) => ({
      resourceType: resource.resourceType,
      resourceName: resource.resourceName,
      patternType: resource.patternType,
      acls: resource.acls.map((acl) => ({
        principal: acl.principal,
        host: acl.host,
        operation: acl.operation,
        permissionType: acl.permissionType,
      })),
    })),
  };
}

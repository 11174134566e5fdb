// ACLs in Kafka's model (AclBinding = ResourcePattern + AccessControlEntry), with Kafka's enum
// values, and the matching both the controller (DeleteAcls filters) and the broker's authorizer
// (StandardAuthorizer semantics) use. Pure: no I/O.

export const AclResourceType = {
  UNKNOWN: 0,
  ANY: 1,
  TOPIC: 2,
  GROUP: 3,
  CLUSTER: 4,
  TRANSACTIONAL_ID: 5,
  DELEGATION_TOKEN: 6,
  USER: 7,
} as const;

export const AclPatternType = { UNKNOWN: 0, ANY: 1, MATCH: 2, LITERAL: 3, PREFIXED: 4 } as const;

export const AclOperation = {
  UNKNOWN: 0,
  ANY: 1,
  ALL: 2,
  READ: 3,
  WRITE: 4,
  CREATE: 5,
  DELETE: 6,
  ALTER: 7,
  DESCRIBE: 8,
  CLUSTER_ACTION: 9,
  DESCRIBE_CONFIGS: 10,
  ALTER_CONFIGS: 11,
  IDEMPOTENT_WRITE: 12,
  CREATE_TOKENS: 13,
  DESCRIBE_TOKENS: 14,
} as const;

export const AclPermissionType = { UNKNOWN: 0, ANY: 1, DENY: 2, ALLOW: 3 } as const;

/** The cluster resource's one name, and the wildcards Kafka gives meaning to. */
export const clusterResourceName = 'kafka-cluster';
export const wildcardResource = '*';
export const wildcardPrincipal = 'User:*';
export const wildcardHost = '*';

export interface AclBinding {
  readonly resourceType: number;
  readonly resourceName: string;
  readonly patternType: number;
  readonly principal: string;
  readonly host: string;
  readonly operation: number;
  readonly permissionType: number;
}

export interface AclBindingFilter {
  readonly resourceType: number;
  readonly resourceName: string | null;
  readonly patternType: number;
  readonly principal: string | null;
  readonly host: string | null;
  readonly operation: number;
  readonly permissionType: number;
}

const byValue = (table: Record<string, number>) =>
  new Map(Object.entries(table).map(([name, value]) => [value, name]));
const resourceTypeNames = byValue(AclResourceType);
const operationNames = byValue(AclOperation);

/** Why a binding cannot be stored (as Kafka's CreateAcls validation), or null. */
export function aclBindingProblem(binding: AclBinding): string | null {
  const { resourceType, patternType, operation, permissionType } = binding;
  if (!resourceTypeNames.has(resourceType) || resourceType <= AclResourceType.ANY) {
    return `invalid resource type ${resourceType}`;
  }
  if (patternType !== AclPatternType.LITERAL && patternType !== AclPatternType.PREFIXED) {
    return 'ACLs must have a LITERAL or PREFIXED pattern type';
  }
  if (!operationNames.has(operation) || operation <= AclOperation.ANY)
    return `invalid operation ${operation}`;
  if (permissionType !== AclPermissionType.ALLOW && permissionType !== AclPermissionType.DENY) {
    return 'ACLs must be ALLOW or DENY';
  }
  if (binding.resourceName === '') return 'resource name must not be empty';
  if (resourceType === AclResourceType.CLUSTER && binding.resourceName !== clusterResourceName) {
    return `the cluster resource is named ${clusterResourceName}`;
  }
  if (!/^[^:]+:.+$/.test(binding.principal)) return `principal '${binding.principal}' is not Type:name`;
  if (binding.host === '') return 'host must not be empty (* for every host)';
  return null;
}

/** Whether a filter (DescribeAcls, DeleteAcls) matches a stored binding, as Kafka's AclBindingFilter. */
export function aclFilterMatches(filter: AclBindingFilter, binding: AclBinding): boolean {
  if (filter.resourceType !== AclResourceType.ANY && filter.resourceType !== binding.resourceType)
    return false;
  if (filter.patternType === AclPatternType.MATCH) {
    if (filter.resourceName !== null && !resourceNameMatches(binding, filter.resourceName)) return false;
  } else {
    if (filter.patternType !== AclPatternType.ANY && filter.patternType !== binding.patternType) return false;
    if (filter.resourceName !== null && filter.resourceName !== binding.resourceName) return false;
  }
  if (filter.principal !== null && filter.principal !== binding.principal) return false;
  if (filter.host !== null && filter.host !== binding.host) return false;
  if (filter.operation !== AclOperation.ANY && filter.operation !== binding.operation) return false;
  if (filter.permissionType !== AclPermissionType.ANY && filter.permissionType !== binding.permissionType) {
    return false;
  }
  return true;
}

/** Whether a binding's pattern covers a concrete resource name (literal, `*`, or prefix). */
export function resourceNameMatches(
  binding: Pick<AclBinding, 'resourceName' | 'patternType'>,
  name: string,
): boolean {
  if (binding.patternType === AclPatternType.PREFIXED) return name.startsWith(binding.resourceName);
  return binding.resourceName === wildcardResource || binding.resourceName === name;
}

/** A filter is valid for DeleteAcls/DescribeAcls unless it uses UNKNOWN values. */
export function aclFilterProblem(filter: AclBindingFilter): string | null {
  if (filter.resourceType === AclResourceType.UNKNOWN || !resourceTypeNames.has(filter.resourceType)) {
    return 'invalid resource type filter';
  }
  if (filter.patternType === AclPatternType.UNKNOWN || filter.patternType > AclPatternType.PREFIXED) {
    return 'invalid pattern type filter';
  }
  if (filter.operation === AclOperation.UNKNOWN || !operationNames.has(filter.operation))
    return 'invalid operation';
  if (
    filter.permissionType === AclPermissionType.UNKNOWN ||
    filter.permissionType > AclPermissionType.ALLOW
  ) {
    return 'invalid permission type';
  }
  return null;
}

export function sameAclBinding(a: AclBinding, b: AclBinding): boolean {
  return (
    a.resourceType === b.resourceType &&
    a.resourceName === b.resourceName &&
    a.patternType === b.patternType &&
    a.principal === b.principal &&
    a.host === b.host &&
    a.operation === b.operation &&
    a.permissionType === b.permissionType
  );
}

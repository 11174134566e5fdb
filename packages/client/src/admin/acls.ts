// kafkajs's ACL admin calls (createAcls, describeAcls, deleteAcls) over CreateAcls, DescribeAcls and
// DeleteAcls. Any broker answers them (the ACLs live in the metadata log); the enums are the wire's
// numbers, as kafkajs's AclResourceTypes, AclOperationTypes, AclPermissionTypes and
// ResourcePatternTypes are.

import { ApiKey, ErrorCode } from '@gregor/protocol';
import type { Cluster } from '../cluster.js';
import { KafkaJSProtocolError } from '../errors.js';
import { withRetry } from '../retry.js';

export interface Acl {
  readonly principal: string;
  readonly host: string;
  readonly operation: number;
  readonly permissionType: number;
}

export interface AclResource {
  readonly resourceType: number;
  readonly resourceName: string;
  readonly resourcePatternType: number;
}

export type AclEntry = Acl & AclResource;

export interface AclFilter {
  readonly resourceType: number;
  readonly resourceName?: string | null;
  readonly resourcePatternType: number;
  readonly principal?: string | null;
  readonly host?: string | null;
  readonly operation: number;
  readonly permissionType: number;
}

export interface DescribeAclResponse {
  readonly throttleTime: number;
  readonly errorCode: number;
  readonly errorMessage?: string;
  readonly resources: (AclResource & { acls: Acl[] })[];
}

export interface DeleteAclResponse {
  readonly throttleTime: number;
  readonly filterResponses: {
    errorCode: number;
    errorMessage?: string;
    matchingAcls: (AclEntry & { errorCode: number; errorMessage?: string })[];
  }[];
}

function filterFields(filter: AclFilter) {
  return {
    resourceTypeFilter: filter.resourceType,
    resourceNameFilter: filter.resourceName ?? null,
    patternTypeFilter: filter.resourcePatternType,
    principalFilter: filter.principal ?? null,
    hostFilter: filter.host ?? null,
    operation: filter.operation,
    permissionType: filter.permissionType,
  };
}

/** Resolves true once every binding was created; rejects with the first refusal. */
export async function createAcls(cluster: Cluster, acl: readonly AclEntry[]): Promise<boolean> {
  const response = await withRetry(cluster.retry, () =>
    cluster.sendAny(ApiKey.CreateAcls, {
      creations: acl.map((entry) => ({
        resourceType: entry.resourceType,
        resourceName: entry.resourceName,
        resourcePatternType: entry.resourcePatternType,
        principal: entry.principal,
        host: entry.host,
        operation: entry.operation,
        permissionType: entry.permissionType,
      })),
    }),
  );
  const refused = response.results.find((result) => result.errorCode !== ErrorCode.NONE);
  if (refused !== undefined) {
    throw new KafkaJSProtocolError(refused.errorCode, refused.errorMessage ?? 'createAcls');
  }
  return true;
}

export async function describeAcls(cluster: Cluster, filter: AclFilter): Promise<DescribeAclResponse> {
  const response = await withRetry(cluster.retry, () =>
    cluster.sendAny(ApiKey.DescribeAcls, filterFields(filter)),
  );
  if (response.errorCode !== ErrorCode.NONE) {
    throw new KafkaJSProtocolError(response.errorCode, response.errorMessage ?? 'describeAcls');
  }
  return {
    throttleTime: response.throttleTimeMs,
    errorCode: response.errorCode,
    resources: response.resources.map((resource) => ({
      resourceType: resource.resourceType,
      resourceName: resource.resourceName,
      resourcePatternType: resource.patternType,
      acls: resource.acls.map((entry) => ({
        principal: entry.principal,
        host: entry.host,
        operation: entry.operation,
        permissionType: entry.permissionType,
      })),
    })),
  };
}

export async function deleteAcls(
  cluster: Cluster,
  filters: readonly AclFilter[],
): Promise<DeleteAclResponse> {
  const response = await withRetry(cluster.retry, () =>
    cluster.sendAny(ApiKey.DeleteAcls, { filters: filters.map(filterFields) }),
  );
  const refused = response.filterResults.find((result) => result.errorCode !== ErrorCode.NONE);
  if (refused !== undefined) {
    throw new KafkaJSProtocolError(refused.errorCode, refused.errorMessage ?? 'deleteAcls');
  }
  return {
    throttleTime: response.throttleTimeMs,
    filterResponses: response.filterResults.map((result) => ({
      errorCode: result.errorCode,
      ...(result.errorMessage === null ? {} : { errorMessage: result.errorMessage }),
      matchingAcls: result.matchingAcls.map((match) => ({
        errorCode: match.errorCode,
        ...(match.errorMessage === null ? {} : { errorMessage: match.errorMessage }),
        resourceType: match.resourceType,
        resourceName: match.resourceName,
        resourcePatternType: match.patternType,
        principal: match.principal,
        host: match.host,
        operation: match.operation,
        permissionType: match.permissionType,
      })),
    })),
  };
}

/** kafkajs's enums for the ACL calls: Kafka's wire numbers. */
export const AclResourceTypes = {
  UNKNOWN: 0,
  ANY: 1,
  TOPIC: 2,
  GROUP: 3,
  CLUSTER: 4,
  TRANSACTIONAL_ID: 5,
  DELEGATION_TOKEN: 6,
} as const;

export const AclOperationTypes = {
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
} as const;

export const AclPermissionTypes = { UNKNOWN: 0, ANY: 1, DENY: 2, ALLOW: 3 } as const;

export const ResourcePatternTypes = { UNKNOWN: 0, ANY: 1, MATCH: 2, LITERAL: 3, PREFIXED: 4 } as const;

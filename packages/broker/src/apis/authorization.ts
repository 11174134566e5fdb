// The authorization questions handlers ask, for the request's principal and host. Without an
// authorizer (authorizer.class.name unset) everything is allowed, as in Kafka.

import { AclOperation, AclResourceType, clusterResourceName } from '@gregor/metadata';
import { ErrorCode } from '@gregor/protocol';
import { anonymousPrincipal } from '../security/kafka-principal.js';
import type { RequestContext } from './api-handler.js';

export { AclOperation, AclResourceType };

/** The client's address without its port, IPv4-mapped IPv6 written as IPv4 (as Kafka sees it). */
export function clientHost(remoteAddress: string): string {
  const host = remoteAddress.replace(/:\d+$/, '');
  return host.startsWith('::ffff:') ? host.slice('::ffff:'.length) : host;
}

export function authorized(
  context: RequestContext,
  operation: number,
  resourceType: number,
  resourceName: string,
): boolean {
  const authorizer = context.broker.authorizer;
  if (authorizer === undefined) return true;
  const principal = context.connection.session?.principal ?? anonymousPrincipal;
  return authorizer.authorize(
    principal,
    clientHost(context.connection.remoteAddress),
    operation,
    resourceType,
    resourceName,
  );
}

export function authorizedOnCluster(context: RequestContext, operation: number): boolean {
  return authorized(context, operation, AclResourceType.CLUSTER, clusterResourceName);
}

/**
 * Why an ACL change (CreateAcls, DeleteAcls) is refused, as Kafka refuses it: no authorizer
 * configured (SECURITY_DISABLED), or no ALTER on the cluster; null when it may go ahead.
 */
export function aclChangeRefusal(
  context: RequestContext,
): { readonly errorCode: number; readonly errorMessage: string } | null {
  if (context.broker.authorizer === undefined) {
    return {
      errorCode: ErrorCode.SECURITY_DISABLED,
      errorMessage: 'No Authorizer is configured (authorizer.class.name)',
    };
  }
  if (!authorizedOnCluster(context, AclOperation.ALTER)) {
    return {
      errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
      errorMessage: 'Cluster authorization failed.',
    };
  }
  return null;
}

export function authorizedOnTopic(context: RequestContext, operation: number, topic: string): boolean {
  return authorized(context, operation, AclResourceType.TOPIC, topic);
}

export function authorizedOnGroup(context: RequestContext, operation: number, group: string): boolean {
  return authorized(context, operation, AclResourceType.GROUP, group);
}

/** Any topic at all (InitProducerId without a transactional id, as Kafka 3 checks it). */
export function authorizedOnAnyTopic(context: RequestContext, operation: number): boolean {
  const authorizer = context.broker.authorizer;
  if (authorizer === undefined) return true;
  return authorizer.authorizeAny(
    context.connection.session?.principal ?? anonymousPrincipal,
    clientHost(context.connection.remoteAddress),
    operation,
    AclResourceType.TOPIC,
  );
}

/**
 * The operations Kafka reports in `authorized_operations` for each resource type (its
 * AclEntry.supportedOperations); other types have none Gregor reports.
 */
export const supportedOperations: ReadonlyMap<number, readonly number[]> = new Map([
  [
    AclResourceType.TOPIC,
    [
      AclOperation.READ,
      AclOperation.WRITE,
      AclOperation.CREATE,
      AclOperation.DESCRIBE,
      AclOperation.DELETE,
      AclOperation.ALTER,
      AclOperation.DESCRIBE_CONFIGS,
      AclOperation.ALTER_CONFIGS,
    ],
  ],
  [AclResourceType.GROUP, [AclOperation.READ, AclOperation.DESCRIBE, AclOperation.DELETE]],
  [
    AclResourceType.CLUSTER,
    [
      AclOperation.CREATE,
      AclOperation.CLUSTER_ACTION,
      AclOperation.DESCRIBE_CONFIGS,
      AclOperation.ALTER_CONFIGS,
      AclOperation.IDEMPOTENT_WRITE,
      AclOperation.ALTER,
      AclOperation.DESCRIBE,
    ],
  ],
  [AclResourceType.TRANSACTIONAL_ID, [AclOperation.DESCRIBE, AclOperation.WRITE]],
]);

/**
 * The `authorized_operations` bit field of a resource, as Kafka's AuthHelper.authorizedOperations:
 * bit `code` set for each supported operation the principal may perform on it (Utils.to32BitField);
 * without an authorizer every supported operation is set.
 */
export function authorizedOperations(
  context: RequestContext,
  resourceType: number,
  resourceName: string,
): number {
  let bits = 0;
  for (const operation of supportedOperations.get(resourceType) ?? []) {
    if (authorized(context, operation, resourceType, resourceName)) bits |= 1 << operation;
  }
  return bits;
}

/**
 * Answers a request over topics' partitions where each topic needs `operation`, as Kafka answers
 * one: the partitions of the permitted topics go to `serve` in one call, in request order, and
 * `answer` shapes each one's result; a refused topic's partitions get `refused` (its
 * TOPIC_AUTHORIZATION_FAILED answer). The topics come back in the request's order and shape.
 */
export async function answerPermittedTopicPartitions<P, R, A>(
  context: RequestContext,
  operation: number,
  topics: readonly { readonly name: string; readonly partitions: readonly P[] }[],
  serve: (partitions: { readonly topic: string; readonly partition: P }[]) => Promise<readonly R[]>,
  answer: (partition: P, result: R) => A,
  refused: (partition: P) => A,
): Promise<{ name: string; partitions: A[] }[]> {
  const denied = new Set(
    topics.map((topic) => topic.name).filter((name) => !authorizedOnTopic(context, operation, name)),
  );
  const results = await serve(
    topics
      .filter((topic) => !denied.has(topic.name))
      .flatMap((topic) => topic.partitions.map((partition) => ({ topic: topic.name, partition }))),
  );
  let next = 0;
  return topics.map((topic) => ({
    name: topic.name,
    partitions: topic.partitions.map((partition) =>
      denied.has(topic.name) ? refused(partition) : answer(partition, results[next++]!),
    ),
  }));
}

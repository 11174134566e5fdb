// The group APIs' authorization, as Kafka's KafkaApis checks it: READ on the group for JoinGroup,
// SyncGroup, Heartbeat, LeaveGroup, ConsumerGroupHeartbeat and OffsetCommit (and READ on each topic
// committed); DESCRIBE on the group for OffsetFetch, DescribeGroups and ConsumerGroupDescribe (and DESCRIBE on each topic fetched;
// DescribeGroups reports the group's authorized_operations when asked);
// DELETE for DeleteGroups; DELETE on the group and READ on each topic for OffsetDelete; ListGroups lists the groups the principal may DESCRIBE, or all with
// DESCRIBE on the cluster; FindCoordinator needs DESCRIBE on the group. A refusal is
// GROUP_AUTHORIZATION_FAILED (TOPIC_AUTHORIZATION_FAILED for a topic). Each wrapper answers a
// refusal itself and otherwise calls the API's handler.

import { type ApiKey, authorizedOperationsOmitted, ErrorCode, type SupportedApiKey } from '@gregor/protocol';
import type { ApiHandler } from './api-handler.js';
import {
  AclOperation,
  AclResourceType,
  authorizedOnCluster,
  authorizedOnGroup,
  authorizedOnTopic,
  authorizedOperations,
} from './authorization.js';
import { consumerGroupDescribeError } from './consumer-group-describe.js';

const refused = ErrorCode.GROUP_AUTHORIZATION_FAILED;

function gate<K extends SupportedApiKey>(
  handler: ApiHandler<K>,
  allowed: Parameters<ApiHandler<K>>,
  check: (...args: Parameters<ApiHandler<K>>) => Awaited<ReturnType<ApiHandler<K>>> | undefined,
): ReturnType<ApiHandler<K>> {
  const refusal = check(...allowed);
  return refusal === undefined ? handler(...allowed) : Promise.resolve(refusal);
}

export function joinGroupAuthorized(
  handler: ApiHandler<typeof ApiKey.JoinGroup>,
): ApiHandler<typeof ApiKey.JoinGroup> {
  return (...args) =>
    gate(handler, args, (body, version, context) =>
      authorizedOnGroup(context, AclOperation.READ, body.groupId)
        ? undefined
        : {
            throttleTimeMs: 0,
            errorCode: refused,
            generationId: -1,
            // Null from v7 (KIP-559), as Kafka's JoinGroupResponse turns '' into it.
            protocolName: version >= 7 ? null : '',
            leader: '',
            memberId: body.memberId,
            members: [],
          },
    );
}

export function syncGroupAuthorized(
  handler: ApiHandler<typeof ApiKey.SyncGroup>,
): ApiHandler<typeof ApiKey.SyncGroup> {
  return (...args) =>
    gate(handler, args, (body, _version, context) =>
      authorizedOnGroup(context, AclOperation.READ, body.groupId)
        ? undefined
        : { throttleTimeMs: 0, errorCode: refused, assignment: Buffer.alloc(0) },
    );
}

export function heartbeatAuthorized(
  handler: ApiHandler<typeof ApiKey.Heartbeat>,
): ApiHandler<typeof ApiKey.Heartbeat> {
  return (...args) =>
    gate(handler, args, (body, _version, context) =>
      authorizedOnGroup(context, AclOperation.READ, body.groupId)
        ? undefined
        : { throttleTimeMs: 0, errorCode: refused },
    );
}

export function leaveGroupAuthorized(
  handler: ApiHandler<typeof ApiKey.LeaveGroup>,
): ApiHandler<typeof ApiKey.LeaveGroup> {
  return (...args) =>
    gate(handler, args, (body, _version, context) =>
      authorizedOnGroup(context, AclOperation.READ, body.groupId)
        ? undefined
        : { throttleTimeMs: 0, errorCode: refused, members: [] },
    );
}

export function offsetCommitAuthorized(
  handler: ApiHandler<typeof ApiKey.OffsetCommit>,
): ApiHandler<typeof ApiKey.OffsetCommit> {
  return async (body, version, context) => {
    const groupAllowed = authorizedOnGroup(context, AclOperation.READ, body.groupId);
    const deniedTopics = new Set(
      body.topics
        .map((topic) => topic.name)
        .filter((name) => !authorizedOnTopic(context, AclOperation.READ, name)),
    );
    if (groupAllowed && deniedTopics.size === 0) return handler(body, version, context);
    const refusedTopics = (errorCodeOf: (name: string) => number) =>
      body.topics.map((topic) => ({
        name: topic.name,
        partitions: topic.partitions.map((partition) => ({
          partitionIndex: partition.partitionIndex,
          errorCode: errorCodeOf(topic.name),
        })),
      }));
    if (!groupAllowed) return { throttleTimeMs: 0, topics: refusedTopics(() => refused) };
    const allowedBody = { ...body, topics: body.topics.filter((topic) => !deniedTopics.has(topic.name)) };
    const answered =
      allowedBody.topics.length === 0
        ? { throttleTimeMs: 0, topics: [] }
        : await handler(allowedBody, version, context);
    if (!('topics' in answered)) return answered;
    return {
      ...answered,
      topics: [
        ...answered.topics,
        ...refusedTopics(() => ErrorCode.TOPIC_AUTHORIZATION_FAILED).filter((topic) =>
          deniedTopics.has(topic.name),
        ),
      ],
    };
  };
}

/**
 * TxnOffsetCommit: READ on the group and on each topic, as OffsetCommit (Kafka checks the same).
 * Its request and response carry the same group, topics and partitions as OffsetCommit's, which is
 * all the check reads and writes, so OffsetCommit's gate serves it.
 */
export function txnOffsetCommitAuthorized(
  handler: ApiHandler<typeof ApiKey.TxnOffsetCommit>,
): ApiHandler<typeof ApiKey.TxnOffsetCommit> {
  return offsetCommitAuthorized(
    handler as unknown as ApiHandler<typeof ApiKey.OffsetCommit>,
  ) as unknown as ApiHandler<typeof ApiKey.TxnOffsetCommit>;
}

export function offsetFetchAuthorized(
  handler: ApiHandler<typeof ApiKey.OffsetFetch>,
): ApiHandler<typeof ApiKey.OffsetFetch> {
  return async (body, version, context) => {
    const describable = (topic: string) => authorizedOnTopic(context, AclOperation.DESCRIBE, topic);
    // Kafka's handleOffsetFetchRequest: asked-for topics the principal may not DESCRIBE get
    // TOPIC_AUTHORIZATION_FAILED per partition (and are never looked up); an "all topics" fetch
    // (topics null) leaves them out. Each group needs DESCRIBE on itself.
    const deniedTopics = (topics: readonly { name: string; partitionIndexes: readonly number[] }[] | null) =>
      (topics ?? [])
        .filter((topic) => !describable(topic.name))
        .map((topic) => ({
          name: topic.name,
          partitions: topic.partitionIndexes.map((partitionIndex) => ({
            partitionIndex,
            committedOffset: -1n,
            committedLeaderEpoch: -1,
            metadata: '',
            errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
          })),
        }));
    const allowedTopics = <T extends { name: string }>(topics: readonly T[] | null): T[] | null =>
      topics === null ? null : topics.filter((topic) => describable(topic.name));
    if (version < 8) {
      if (!authorizedOnGroup(context, AclOperation.DESCRIBE, body.groupId)) {
        return { throttleTimeMs: 0, topics: [], errorCode: refused, groups: [] };
      }
      const answered = await handler({ ...body, topics: allowedTopics(body.topics) }, version, context);
      if (!('topics' in answered)) return answered;
      return {
        ...answered,
        topics: [...answered.topics.filter((topic) => describable(topic.name)), ...deniedTopics(body.topics)],
      };
    }
    const allowedGroups = body.groups.filter((group) =>
      authorizedOnGroup(context, AclOperation.DESCRIBE, group.groupId),
    );
    const answered =
      allowedGroups.length === 0
        ? { throttleTimeMs: 0, topics: [], errorCode: 0, groups: [] }
        : await handler(
            {
              ...body,
              groups: allowedGroups.map((group) => ({ ...group, topics: allowedTopics(group.topics) })),
            },
            version,
            context,
          );
    if (!('groups' in answered)) return answered;
    const byId = new Map((answered.groups ?? []).map((group) => [group.groupId, group]));
    return {
      ...answered,
      groups: body.groups.map((group) => {
        const served = byId.get(group.groupId);
        if (served === undefined) return { groupId: group.groupId, topics: [], errorCode: refused };
        return {
          ...served,
          topics: [
            ...(served.topics ?? []).filter((topic) => describable(topic.name ?? '')),
            ...deniedTopics(group.topics),
          ],
        };
      }),
    };
  };
}

export function describeGroupsAuthorized(
  handler: ApiHandler<typeof ApiKey.DescribeGroups>,
): ApiHandler<typeof ApiKey.DescribeGroups> {
  return async (body, version, context) => {
    const allowed = body.groups.filter((groupId) =>
      authorizedOnGroup(context, AclOperation.DESCRIBE, groupId),
    );
    const answered =
      allowed.length === 0
        ? { throttleTimeMs: 0, groups: [] }
        : await handler({ ...body, groups: allowed }, version, context);
    if (!('groups' in answered)) return answered;
    // Kafka's handleDescribeGroupsRequest: the operations the principal may perform on each group
    // answered without error, when asked (v3+); the others keep the "omitted" value.
    const withOperations = (group: (typeof answered.groups)[number]) =>
      body.includeAuthorizedOperations && group.errorCode === ErrorCode.NONE
        ? {
            ...group,
            authorizedOperations: authorizedOperations(context, AclResourceType.GROUP, group.groupId),
          }
        : group;
    const byId = new Map(answered.groups.map((group) => [group.groupId, withOperations(group)]));
    return {
      ...answered,
      groups: body.groups.map(
        (groupId) =>
          byId.get(groupId) ?? {
            errorCode: refused,
            groupId,
            groupState: '',
            protocolType: '',
            protocolData: '',
            members: [],
            authorizedOperations: authorizedOperationsOmitted,
          },
      ),
    };
  };
}

export function listGroupsAuthorized(
  handler: ApiHandler<typeof ApiKey.ListGroups>,
): ApiHandler<typeof ApiKey.ListGroups> {
  return async (body, version, context) => {
    const answered = await handler(body, version, context);
    if (!('groups' in answered) || authorizedOnCluster(context, AclOperation.DESCRIBE)) return answered;
    return {
      ...answered,
      groups: answered.groups.filter((group) =>
        authorizedOnGroup(context, AclOperation.DESCRIBE, group.groupId),
      ),
    };
  };
}

export function deleteGroupsAuthorized(
  handler: ApiHandler<typeof ApiKey.DeleteGroups>,
): ApiHandler<typeof ApiKey.DeleteGroups> {
  return async (body, version, context) => {
    const allowed = body.groupsNames.filter((groupId) =>
      authorizedOnGroup(context, AclOperation.DELETE, groupId),
    );
    const answered =
      allowed.length === 0
        ? { throttleTimeMs: 0, results: [] }
        : await handler({ ...body, groupsNames: allowed }, version, context);
    if (!('results' in answered)) return answered;
    const byId = new Map(answered.results.map((result) => [result.groupId, result]));
    return {
      ...answered,
      results: body.groupsNames.map((groupId) => byId.get(groupId) ?? { groupId, errorCode: refused }),
    };
  };
}

/**
 * OffsetDelete: DELETE on the group (else the whole request is GROUP_AUTHORIZATION_FAILED) and READ
 * on each topic (else its partitions are TOPIC_AUTHORIZATION_FAILED), as Kafka's KafkaApis checks.
 */
export function offsetDeleteAuthorized(
  handler: ApiHandler<typeof ApiKey.OffsetDelete>,
): ApiHandler<typeof ApiKey.OffsetDelete> {
  return async (body, version, context) => {
    if (!authorizedOnGroup(context, AclOperation.DELETE, body.groupId)) {
      return { errorCode: refused, throttleTimeMs: 0, topics: [] };
    }
    const deniedTopics = new Set(
      body.topics
        .map((topic) => topic.name)
        .filter((name) => !authorizedOnTopic(context, AclOperation.READ, name)),
    );
    if (deniedTopics.size === 0) return handler(body, version, context);
    const answered = await handler(
      { ...body, topics: body.topics.filter((topic) => !deniedTopics.has(topic.name)) },
      version,
      context,
    );
    if (!('topics' in answered) || answered.errorCode !== ErrorCode.NONE) return answered;
    return {
      ...answered,
      topics: [
        ...answered.topics,
        ...body.topics
          .filter((topic) => deniedTopics.has(topic.name))
          .map((topic) => ({
            name: topic.name,
            partitions: topic.partitions.map(({ partitionIndex }) => ({
              partitionIndex,
              errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
            })),
          })),
      ],
    };
  };
}

export function consumerGroupHeartbeatAuthorized(
  handler: ApiHandler<typeof ApiKey.ConsumerGroupHeartbeat>,
): ApiHandler<typeof ApiKey.ConsumerGroupHeartbeat> {
  return (...args) =>
    gate(handler, args, (body, _version, context) =>
      authorizedOnGroup(context, AclOperation.READ, body.groupId)
        ? undefined
        : { throttleTimeMs: 0, errorCode: refused, memberEpoch: 0, heartbeatIntervalMs: 0 },
    );
}

/** DESCRIBE on each group (refused ones answer GROUP_AUTHORIZATION_FAILED); operations when asked. */
export function consumerGroupDescribeAuthorized(
  handler: ApiHandler<typeof ApiKey.ConsumerGroupDescribe>,
): ApiHandler<typeof ApiKey.ConsumerGroupDescribe> {
  return async (body, version, context) => {
    const allowed = body.groupIds.filter((groupId) =>
      authorizedOnGroup(context, AclOperation.DESCRIBE, groupId),
    );
    const answered =
      allowed.length === 0
        ? { throttleTimeMs: 0, groups: [] }
        : await handler({ ...body, groupIds: allowed }, version, context);
    if (!('groups' in answered)) return answered;
    const byId = new Map(
      answered.groups.map((group) => [
        group.groupId,
        body.includeAuthorizedOperations && group.errorCode === ErrorCode.NONE
          ? {
              ...group,
              authorizedOperations: authorizedOperations(context, AclResourceType.GROUP, group.groupId),
            }
          : group,
      ]),
    );
    return {
      ...answered,
      groups: body.groupIds.map(
        (groupId) => byId.get(groupId) ?? consumerGroupDescribeError(groupId, refused),
      ),
    };
  };
}

// DescribeTopicPartitions (key 75), version 0 (KIP-966).
//   Request  => [topics => name] response_partition_limit cursor(nullable) => topic_name partition_index
//   Response => throttle_time_ms [topics => error_code name topic_id is_internal
//                 [partitions => error_code partition_index leader_id leader_epoch [replica_nodes]
//                   [isr_nodes] [eligible_leader_replicas] [last_known_elr] [offline_replicas]]
//                 topic_authorized_operations]
//               next_cursor(nullable) => topic_name partition_index
//
// Metadata's topic part, paginated, as Kafka's DescribeTopicPartitionsRequestHandler and
// KRaftMetadataCache.describeTopicResponse answer it:
// - No topics named means every topic; then topics that do not exist or that the principal may not
//   DESCRIBE are left out. Named topics that do not exist are UNKNOWN_TOPIC_OR_PARTITION (or
//   INVALID_TOPIC_EXCEPTION for a bad name); named ones the principal may not DESCRIBE are
//   TOPIC_AUTHORIZATION_FAILED with a zero topic id, listed after the others.
// - Topics go in name order from the cursor's topic on (names before it are skipped), the cursor's
//   topic from the cursor's partition. A cursor topic that is not among the named topics, or a
//   negative cursor partition, is INVALID_REQUEST for every named topic (Kafka throws
//   InvalidRequestException, answered through the request's error response).
// - At most min(response_partition_limit, max.request.partition.size.limit) partitions (the
//   broker key, 2000 by default, as Kafka's), and at least 1. When a topic
//   does not fit, next_cursor names its first partition left out; when the limit is used up
//   exactly before a topic, next_cursor names that topic's partition 0, whether it exists or not.
// - Eligible leader replicas (KIP-966 ELR) are off in Gregor: every partition answers empty ELR
//   and last-known-ELR lists, as Kafka's partitions do without eligible.leader.replicas.version.
// - Leaders as Metadata v6+ names them: a leader that is not a live broker with the request's
//   listener (or this broker without its leader lease) is -1, with LISTENER_NOT_FOUND when the
//   leader is live but lacks the listener, else LEADER_NOT_AVAILABLE.
// - topic_authorized_operations is always filled for the described topics (Kafka has no flag for
//   it here); a refused topic keeps the "omitted" value.

import {
  isBrokerActive,
  isReplicaOffline,
  type MetadataImage,
  type TopicImage,
  topicNameProblem,
} from '@gregor/metadata';
import {
  type ApiKey,
  describeTopicPartitionsLimitDefault,
  ErrorCode,
  type RequestBody,
  type ResponseInput,
  zeroUuid,
} from '@gregor/protocol';
import type { RequestContext } from './api-handler.js';
import { AclOperation, AclResourceType, authorizedOnTopic, authorizedOperations } from './authorization.js';
import { internalTopicNames, liveBrokers } from './metadata.js';
import { topicIdToWire } from './topic-ids.js';

type Key = typeof ApiKey.DescribeTopicPartitions;
type Response = ResponseInput<Key>;
type TopicEntry = Response['topics'][number];
type PartitionEntry = TopicEntry['partitions'][number];

export async function handleDescribeTopicPartitions(
  body: RequestBody<Key>,
  _apiVersion: number,
  context: RequestContext,
): Promise<Response> {
  const image = context.broker.metadata.image();
  const fetchAll = body.topics.length === 0;
  const cursor = body.cursor;
  const cursorTopic = cursor?.topicName ?? '';
  const candidates = new Set(
    (fetchAll ? [...image.topics.keys()] : body.topics.map((topic) => topic.name)).filter(
      (name) => name >= cursorTopic,
    ),
  );
  const invalid =
    cursor === null
      ? null
      : !fetchAll && !candidates.has(cursor.topicName)
        ? `DescribeTopicPartitionsRequest topic list should contain the cursor topic: ${cursor.topicName}`
        : cursor.partitionIndex < 0
          ? `DescribeTopicPartitionsRequest cursor partition must be valid: ${cursor.partitionIndex}`
          : null;
  if (invalid !== null) {
    context.broker.logger.debug({ reason: invalid }, 'DescribeTopicPartitions refused');
    return {
      throttleTimeMs: 0,
      topics: body.topics.map((topic) => ({
        errorCode: ErrorCode.INVALID_REQUEST,
        name: topic.name,
        topicId: zeroUuid,
        isInternal: false,
        partitions: [],
      })),
      nextCursor: null,
    };
  }

  const refused: TopicEntry[] = [];
  const authorizedNames = [...candidates].sort().filter((name) => {
    if (authorizedOnTopic(context, AclOperation.DESCRIBE, name)) return true;
    if (!fetchAll) {
      refused.push({
        errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
        name,
        topicId: zeroUuid,
        isInternal: false,
        partitions: [],
      });
    }
    return false;
  });

  const limitMax =
    context.broker.settings.maxRequestPartitionSizeLimit ?? describeTopicPartitionsLimitDefault;
  const limit = Math.max(Math.min(limitMax, body.responsePartitionLimit), 1);
  const leaders = leaderView(image, context);
  const topics: TopicEntry[] = [];
  let nextCursor: Response['nextCursor'] = null;
  let remaining = limit;
  for (const name of authorizedNames) {
    if (remaining === 0) {
      nextCursor = { topicName: name, partitionIndex: 0 };
      break;
    }
    const topic = image.topic(name);
    if (topic === undefined) {
      if (!fetchAll) {
        topics.push({
          errorCode:
            topicNameProblem(name) === null
              ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION
              : ErrorCode.INVALID_TOPIC_EXCEPTION,
          name,
          topicId: zeroUuid,
          isInternal: internalTopicNames.has(name),
          partitions: [],
          topicAuthorizedOperations: authorizedOperations(context, AclResourceType.TOPIC, name),
        });
      }
      continue;
    }
    const startIndex = name === cursorTopic && cursor !== null ? cursor.partitionIndex : 0;
    const endIndex = Math.min(topic.partitions.length, startIndex + remaining);
    const partitions: PartitionEntry[] = [];
    for (let index = startIndex; index < endIndex; index++) {
      partitions.push(describePartition(image, topic, index, leaders));
    }
    topics.push({
      errorCode: ErrorCode.NONE,
      name,
      topicId: topicIdToWire(topic.topicId),
      isInternal: internalTopicNames.has(name),
      partitions,
      topicAuthorizedOperations: authorizedOperations(context, AclResourceType.TOPIC, name),
    });
    if (endIndex < topic.partitions.length) {
      nextCursor = { topicName: name, partitionIndex: endIndex };
      break;
    }
    remaining -= partitions.length;
  }
  return { throttleTimeMs: 0, topics: [...topics, ...refused], nextCursor };
}

/** Which brokers may be named leader to this request, as Metadata names them. */
interface LeaderView {
  /** Live brokers with an endpoint on the request's listener. */
  readonly listed: ReadonlySet<number>;
  /** This broker's id when it lacks the leader lease (it names no partition's leader then). */
  readonly withoutLease: number | undefined;
}

function leaderView(image: MetadataImage, context: RequestContext): LeaderView {
  const broker = context.broker;
  const listed = new Set(liveBrokers(image, context.connection.listenerName).map((entry) => entry.nodeId));
  return { listed, withoutLease: broker.replicaManager.leaseHeld() ? undefined : broker.brokerId };
}

function describePartition(
  image: MetadataImage,
  topic: TopicImage,
  index: number,
  { listed, withoutLease }: LeaderView,
): PartitionEntry {
  const state = topic.partitions[index]!;
  const leading = state.leader >= 0 && state.leader !== withoutLease;
  const hasLeader = leading && listed.has(state.leader);
  const errorCode = hasLeader
    ? ErrorCode.NONE
    : leading && isBrokerActive(image.broker(state.leader))
      ? ErrorCode.LISTENER_NOT_FOUND
      : ErrorCode.LEADER_NOT_AVAILABLE;
  return {
    errorCode,
    partitionIndex: index,
    leaderId: hasLeader ? state.leader : -1,
    leaderEpoch: state.leaderEpoch,
    replicaNodes: [...state.replicas],
    isrNodes: [...state.isr],
    eligibleLeaderReplicas: [],
    lastKnownElr: [],
    offlineReplicas: state.replicas.filter(
      (replica) => !listed.has(replica) || isReplicaOffline(image.broker(replica), topic.topicId, index),
    ),
  };
}

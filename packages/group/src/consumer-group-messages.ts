// Request and response types of the KIP-848 consumer group APIs (ConsumerGroupHeartbeat,
// ConsumerGroupDescribe), field names as in @gregor/protocol's decoded messages. Topic ids are the
// wire form, 32 lowercase hex digits.

import type { AssignableTopic } from './consumer-assignors.js';

export interface TopicPartitions {
  readonly topicId: string;
  readonly partitions: readonly number[];
}

/**
 * The topics as the metadata image has them when the heartbeat arrives: what subscriptions resolve
 * to and assignors hand out. Internal topics are left out (a regex never matches them).
 */
export interface ConsumerTopicsImage {
  readonly byName: ReadonlyMap<string, AssignableTopic>;
  readonly byId: ReadonlyMap<string, AssignableTopic>;
}

export function consumerTopicsImage(topics: Iterable<AssignableTopic>): ConsumerTopicsImage {
  const byName = new Map<string, AssignableTopic>();
  const byId = new Map<string, AssignableTopic>();
  for (const topic of topics) {
    byName.set(topic.name, topic);
    byId.set(topic.topicId, topic);
  }
  return { byName, byId };
}

export interface ConsumerGroupHeartbeatRequest {
  readonly apiVersion: number;
  readonly groupId: string;
  readonly memberId: string;
  readonly memberEpoch: number;
  readonly instanceId: string | null;
  readonly rackId: string | null;
  readonly rebalanceTimeoutMs: number;
  readonly subscribedTopicNames: readonly string[] | null;
  readonly subscribedTopicRegex: string | null;
  readonly serverAssignor: string | null;
  readonly topicPartitions: readonly TopicPartitions[] | null;
  readonly clientId: string;
  readonly clientHost: string;
}

export interface ConsumerGroupHeartbeatResponse {
  readonly api: 'ConsumerGroupHeartbeat';
  readonly errorCode: number;
  readonly errorMessage: string | null;
  readonly memberId: string | null;
  readonly memberEpoch: number;
  readonly heartbeatIntervalMs: number;
  /** null: unchanged since the last response. */
  readonly assignment: { readonly topicPartitions: readonly TopicPartitions[] } | null;
}

export interface ConsumerGroupDescribeRequest {
  readonly groupIds: readonly string[];
}

export interface DescribedAssignment {
  readonly topicPartitions: readonly {
    readonly topicId: string;
    readonly topicName: string;
    readonly partitions: readonly number[];
  }[];
}

export interface DescribedConsumerGroup {
  readonly errorCode: number;
  readonly errorMessage: string | null;
  readonly groupId: string;
  readonly groupState: string;
  readonly groupEpoch: number;
  readonly assignmentEpoch: number;
  readonly assignorName: string;
  readonly members: readonly {
    readonly memberId: string;
    readonly instanceId: string | null;
    readonly rackId: string | null;
    readonly memberEpoch: number;
    readonly clientId: string;
    readonly clientHost: string;
    readonly subscribedTopicNames: readonly string[];
    readonly subscribedTopicRegex: string | null;
    readonly assignment: DescribedAssignment;
    readonly targetAssignment: DescribedAssignment;
  }[];
}

export interface ConsumerGroupDescribeResponse {
  readonly api: 'ConsumerGroupDescribe';
  readonly groups: readonly DescribedConsumerGroup[];
}

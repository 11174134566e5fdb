// ConsumerGroupDescribe (key 69), versions 0-1; flexible from 0 (KIP-848).
//   Request  => [group_ids] include_authorized_operations
//   Response => throttle_time_ms [groups => error_code error_message(nullable) group_id group_state
//                 group_epoch assignment_epoch assignor_name [members => member_id instance_id
//                 rack_id member_epoch client_id client_host [subscribed_topic_names]
//                 subscribed_topic_regex assignment target_assignment member_type(1+)]
//                 authorized_operations]
//
// Unknown and classic groups are GROUP_ID_NOT_FOUND, as Kafka answers. Every member of a Gregor
// consumer group uses the consumer protocol: member type 1 (KIP-1099's CONSUMER).

import {
  type ApiKey,
  authorizedOperationsOmitted,
  ErrorCode,
  type RequestBody,
  type ResponseInput,
} from '@gregor/protocol';
import type { GroupCoordinatorDriver } from '../groups/group-coordinator-driver.js';
import type { ApiHandler, RequestContext } from './api-handler.js';
import {
  consumerGroupProtocolDisabledMessage,
  consumerGroupProtocolEnabled,
  consumerTopicsOf,
} from './consumer-group-topics.js';

type Key = typeof ApiKey.ConsumerGroupDescribe;
type Response = ResponseInput<Key>;

/** KIP-1099's MemberType of a member using the consumer protocol. */
const consumerMemberType = 1;

/** A group described only by its error (refused, not coordinated here, protocol off): Kafka's empty fields. */
export function consumerGroupDescribeError(
  groupId: string,
  errorCode: number,
  errorMessage: string | null = null,
) {
  return {
    errorCode,
    errorMessage,
    groupId,
    groupState: '',
    groupEpoch: 0,
    assignmentEpoch: 0,
    assignorName: '',
    members: [],
    authorizedOperations: authorizedOperationsOmitted,
  };
}

export function createConsumerGroupDescribeHandler(groups: GroupCoordinatorDriver): ApiHandler<Key> {
  return async (body: RequestBody<Key>, _apiVersion: number, context: RequestContext): Promise<Response> => {
    const image = context.broker.metadata.image();
    if (!consumerGroupProtocolEnabled(image)) {
      return {
        throttleTimeMs: 0,
        groups: body.groupIds.map((groupId) =>
          consumerGroupDescribeError(
            groupId,
            ErrorCode.UNSUPPORTED_VERSION,
            consumerGroupProtocolDisabledMessage,
          ),
        ),
      };
    }
    const topics = consumerTopicsOf(image);
    // A coordinator deposed without knowing it yet must not describe its groups from memory (the
    // metadata barrier, as DescribeGroups): those it cannot confirm are NOT_COORDINATOR.
    const confirmed = await Promise.all(body.groupIds.map((groupId) => groups.confirmLeadership(groupId)));
    const asked = body.groupIds.filter((_, index) => confirmed[index] === ErrorCode.NONE);
    const answered =
      asked.length === 0
        ? { groups: [] }
        : await groups.request('ConsumerGroupDescribe', (coordinator, requestId, nowMs) =>
            coordinator.consumerGroupDescribe(requestId, { groupIds: asked }, topics, nowMs),
          );
    let answeredIndex = 0;
    const response = {
      groups: body.groupIds.map((groupId, index) =>
        confirmed[index] === ErrorCode.NONE
          ? answered.groups[answeredIndex++]!
          : consumerGroupDescribeError(groupId, confirmed[index]!),
      ),
    };
    const assignment = (a: (typeof response.groups)[number]['members'][number]['assignment']) => ({
      topicPartitions: a.topicPartitions.map((t) => ({
        topicId: t.topicId,
        topicName: t.topicName,
        partitions: [...t.partitions],
      })),
    });
    return {
      throttleTimeMs: 0,
      groups: response.groups.map((group) => ({
        errorCode: group.errorCode,
        errorMessage: group.errorMessage,
        groupId: group.groupId,
        groupState: group.groupState,
        groupEpoch: group.groupEpoch,
        assignmentEpoch: group.assignmentEpoch,
        assignorName: group.assignorName,
        members: group.members.map((member) => ({
          memberId: member.memberId,
          instanceId: member.instanceId,
          rackId: member.rackId,
          memberEpoch: member.memberEpoch,
          clientId: member.clientId,
          clientHost: member.clientHost,
          subscribedTopicNames: [...member.subscribedTopicNames],
          subscribedTopicRegex: member.subscribedTopicRegex,
          assignment: assignment(member.assignment),
          targetAssignment: assignment(member.targetAssignment),
          memberType: consumerMemberType,
        })),
        authorizedOperations: authorizedOperationsOmitted,
      })),
    };
  };
}

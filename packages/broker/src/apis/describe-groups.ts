// DescribeGroups (key 15), versions 0-6; flexible from 5.
//   Request  => [groups] include_authorized_operations(3+)
//   Response => throttle_time_ms(1+) [groups => error_code error_message(6+, nullable) group_id
//                 group_state protocol_type
//                 protocol_data [members => member_id group_instance_id(4+, nullable) client_id
//                   client_host member_metadata member_assignment] authorized_operations(3+)]
//
// Each group is answered by its coordinator: a group of a partition this broker does not lead gets
// NOT_COORDINATOR, an unknown one of a partition it leads is reported Dead: without an error before
// v6, with GROUP_ID_NOT_FOUND and "Group <id> not found." from v6 (KIP-1043), as Kafka does. Member metadata and
// assignments are filled while the group is Stable only, as Kafka does. A KIP-848 consumer group is
// "not a classic group": GROUP_ID_NOT_FOUND from v6, Dead before, as Kafka 4 answers. A group whose
// coordinator here cannot confirm it still leads the group's offsets partition (a metadata barrier,
// GroupCoordinatorDriver.confirmLeadership) is NOT_COORDINATOR. Authorization and the
// authorized operations are group-authorization.ts's (describeGroupsAuthorized).

import { describedGroupRefusal } from '@gregor/group';
import { type ApiKey, ErrorCode, type RequestBody, type ResponseInput } from '@gregor/protocol';
import type { GroupCoordinatorDriver } from '../groups/group-coordinator-driver.js';
import type { ApiHandler } from './api-handler.js';

type Key = typeof ApiKey.DescribeGroups;
type Response = ResponseInput<Key>;

/** The first version that answers an unknown group GROUP_ID_NOT_FOUND (KIP-1043). */
const groupNotFoundVersion = 6;

function describeError(
  apiVersion: number,
  errorCode: number,
  groupState: string,
  groupId: string,
  errorMessage: string | null,
): { errorCode: number; errorMessage: string | null } {
  if (errorMessage !== null) {
    // A KIP-848 consumer group ("not a classic group"): before v6 it reads as Dead, like an unknown one.
    return apiVersion >= groupNotFoundVersion
      ? { errorCode, errorMessage }
      : { errorCode: ErrorCode.NONE, errorMessage: null };
  }
  if (apiVersion >= groupNotFoundVersion && errorCode === ErrorCode.NONE && groupState === 'Dead') {
    return { errorCode: ErrorCode.GROUP_ID_NOT_FOUND, errorMessage: `Group ${groupId} not found.` };
  }
  return { errorCode, errorMessage: null };
}

export function createDescribeGroupsHandler(groups: GroupCoordinatorDriver): ApiHandler<Key> {
  return async (body: RequestBody<Key>, apiVersion: number): Promise<Response> => {
    // A coordinator deposed without knowing it yet must not describe its groups from memory.
    const confirmed = await Promise.all(body.groups.map((groupId) => groups.confirmLeadership(groupId)));
    const asked = body.groups.filter((_, index) => confirmed[index] === ErrorCode.NONE);
    const response =
      asked.length === 0
        ? { groups: [] }
        : await groups.request('DescribeGroups', (coordinator, requestId, nowMs) =>
            coordinator.describeGroups(requestId, { groups: asked }, nowMs),
          );
    let answeredIndex = 0;
    const described = body.groups.map((groupId, index) =>
      confirmed[index] === ErrorCode.NONE
        ? response.groups[answeredIndex++]!
        : describedGroupRefusal(groupId, confirmed[index]!),
    );
    return {
      throttleTimeMs: 0,
      groups: described.map((group) => ({
        ...describeError(
          apiVersion,
          group.errorCode,
          group.groupState,
          group.groupId,
          group.errorMessage ?? null,
        ),
        groupId: group.groupId,
        groupState: group.groupState,
        protocolType: group.protocolType,
        protocolData: group.protocolData,
        members: group.members.map((member) => ({
          memberId: member.memberId,
          groupInstanceId: member.groupInstanceId,
          clientId: member.clientId,
          clientHost: member.clientHost,
          memberMetadata: member.memberMetadata,
          memberAssignment: member.memberAssignment,
        })),
      })),
    };
  };
}

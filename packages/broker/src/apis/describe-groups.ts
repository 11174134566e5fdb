// DescribeGroups (key 15), versions 0-5; flexible from 5.
//   Request  => [groups] include_authorized_operations(3+)
//   Response => throttle_time_ms(1+) [groups => error_code group_id group_state protocol_type
//                 protocol_data [members => member_id group_instance_id(4+, nullable) client_id
//                   client_host member_metadata member_assignment] authorized_operations(3+)]
//
// Each group is answered by its coordinator: a group of a partition this broker does not lead gets
// NOT_COORDINATOR, an unknown one of a partition it leads is reported Dead. Member metadata and
// assignments are filled while the group is Stable only, as Kafka does. Authorization and the
// authorized operations are group-authorization.ts's (describeGroupsAuthorized).

import type { ApiKey, RequestBody, ResponseInput } from '@gregor/protocol';
import type { GroupCoordinatorDriver } from '../groups/group-coordinator-driver.js';
import type { ApiHandler } from './api-handler.js';

type Key = typeof ApiKey.DescribeGroups;
type Response = ResponseInput<Key>;

export function createDescribeGroupsHandler(groups: GroupCoordinatorDriver): ApiHandler<Key> {
  return async (body: RequestBody<Key>): Promise<Response> => {
    const response = await groups.request('DescribeGroups', (coordinator, requestId, nowMs) =>
      coordinator.describeGroups(requestId, { groups: body.groups }, nowMs),
    );
    return {
      throttleTimeMs: 0,
      groups: response.groups.map((group) => ({
        errorCode: group.errorCode,
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

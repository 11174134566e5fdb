// LeaveGroup (key 13), versions 0-4; flexible from 4. Version 3 batches members (KIP-345).
//   Request  v0-2 => group_id member_id
//   Request  v3+  => group_id [members => member_id group_instance_id(nullable)]
//   Response      => throttle_time_ms(1+) error_code
//                    [members => member_id group_instance_id(nullable) error_code](3+)
//
// v0-2 leave one member and carry one error: the group's, else that member's.

import { legacyLeaveGroupErrorCode } from '@gregor/group';
import type { ApiKey, RequestBody, ResponseInput } from '@gregor/protocol';
import type { GroupCoordinatorDriver } from '../groups/group-coordinator-driver.js';
import type { ApiHandler } from './api-handler.js';

type Key = typeof ApiKey.LeaveGroup;
type Response = ResponseInput<Key>;

/** The first version that names several members. */
const batchedLeaveVersion = 3;

export function createLeaveGroupHandler(groups: GroupCoordinatorDriver): ApiHandler<Key> {
  return async (body: RequestBody<Key>, apiVersion: number): Promise<Response> => {
    const batched = apiVersion >= batchedLeaveVersion;
    const members = batched ? body.members : [{ memberId: body.memberId, groupInstanceId: null }];
    const response = await groups.request('LeaveGroup', (coordinator, requestId, nowMs) =>
      coordinator.leaveGroup(requestId, { groupId: body.groupId, members }, nowMs),
    );
    if (!batched) return { throttleTimeMs: 0, errorCode: legacyLeaveGroupErrorCode(response), members: [] };
    return {
      throttleTimeMs: 0,
      errorCode: response.errorCode,
      members: response.members.map((member) => ({
        memberId: member.memberId,
        groupInstanceId: member.groupInstanceId,
        errorCode: member.errorCode,
      })),
    };
  };
}

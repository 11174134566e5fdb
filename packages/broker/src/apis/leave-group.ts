// LeaveGroup (key 13), versions 0-5; flexible from 4. Version 3 batches members (KIP-345), version
// 5 adds a reason per member (KIP-800).
//   Request  v0-2 => group_id member_id
//   Request  v3+  => group_id [members => member_id group_instance_id(nullable) reason(5+, nullable)]
//   Response      => throttle_time_ms(1+) error_code
//                    [members => member_id group_instance_id(nullable) error_code](3+)
//
// v0-2 leave one member and carry one error: the group's, else that member's. A member's reason is
// logged, as Kafka logs it when the member leaves.

import { legacyLeaveGroupErrorCode } from '@gregor/group';
import type { ApiKey, RequestBody, ResponseInput } from '@gregor/protocol';
import type { GroupCoordinatorDriver } from '../groups/group-coordinator-driver.js';
import type { ApiHandler, RequestContext } from './api-handler.js';

type Key = typeof ApiKey.LeaveGroup;
type Response = ResponseInput<Key>;

/** The first version that names several members. */
const batchedLeaveVersion = 3;

export function createLeaveGroupHandler(groups: GroupCoordinatorDriver): ApiHandler<Key> {
  return async (body: RequestBody<Key>, apiVersion: number, context: RequestContext): Promise<Response> => {
    const batched = apiVersion >= batchedLeaveVersion;
    const members = batched
      ? body.members.map((member) => ({ memberId: member.memberId, groupInstanceId: member.groupInstanceId }))
      : [{ memberId: body.memberId, groupInstanceId: null }];
    if (batched) {
      for (const member of body.members) {
        if (member.reason === null) continue;
        context.broker.logger.info(
          {
            groupId: body.groupId,
            memberId: member.memberId,
            groupInstanceId: member.groupInstanceId,
            reason: member.reason,
          },
          'LeaveGroup with a reason',
        );
      }
    }
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

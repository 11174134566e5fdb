// SyncGroup (key 14), versions 0-4; flexible from 4.
//   Request  => group_id generation_id member_id group_instance_id(3+, nullable)
//               [assignments => member_id assignment]
//   Response => throttle_time_ms(1+) error_code assignment
//
// The leader's request carries every member's assignment; the coordinator writes it to the offsets
// topic and only then answers each waiting member with its own part.

import type { ApiKey, RequestBody, ResponseInput } from '@gregor/protocol';
import type { GroupCoordinatorDriver } from '../groups/group-coordinator-driver.js';
import type { ApiHandler } from './api-handler.js';

type Key = typeof ApiKey.SyncGroup;
type Response = ResponseInput<Key>;

export function createSyncGroupHandler(groups: GroupCoordinatorDriver): ApiHandler<Key> {
  return async (body: RequestBody<Key>): Promise<Response> => {
    const response = await groups.request('SyncGroup', (coordinator, requestId, nowMs) =>
      coordinator.syncGroup(
        requestId,
        {
          groupId: body.groupId,
          generationId: body.generationId,
          memberId: body.memberId,
          groupInstanceId: body.groupInstanceId,
          // v5+ fields (Gregor speaks up to v4): nothing to check against.
          protocolType: null,
          protocolName: null,
          assignments: body.assignments,
        },
        nowMs,
      ),
    );
    return { throttleTimeMs: 0, errorCode: response.errorCode, assignment: response.assignment };
  };
}

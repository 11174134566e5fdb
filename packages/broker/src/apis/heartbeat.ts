// Heartbeat (key 12), versions 0-4; flexible from 4.
//   Request  => group_id generation_id member_id group_instance_id(3+, nullable)
//   Response => throttle_time_ms(1+) error_code
//
// Keeps a member's session alive; REBALANCE_IN_PROGRESS tells it to rejoin.

import type { ApiKey, RequestBody, ResponseInput } from '@gregor/protocol';
import type { GroupCoordinatorDriver } from '../groups/group-coordinator-driver.js';
import type { ApiHandler } from './api-handler.js';

type Key = typeof ApiKey.Heartbeat;
type Response = ResponseInput<Key>;

export function createHeartbeatHandler(groups: GroupCoordinatorDriver): ApiHandler<Key> {
  return async (body: RequestBody<Key>): Promise<Response> => {
    const response = await groups.request('Heartbeat', (coordinator, requestId, nowMs) =>
      coordinator.heartbeat(
        requestId,
        {
          groupId: body.groupId,
          generationId: body.generationId,
          memberId: body.memberId,
          groupInstanceId: body.groupInstanceId,
        },
        nowMs,
      ),
    );
    return { throttleTimeMs: 0, errorCode: response.errorCode };
  };
}

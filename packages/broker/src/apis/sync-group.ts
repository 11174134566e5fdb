// SyncGroup (key 14), versions 0-5; flexible from 4.
//   Request  => group_id generation_id member_id group_instance_id(3+, nullable)
//               protocol_type(5+, nullable) protocol_name(5+, nullable)
//               [assignments => member_id assignment]
//   Response => throttle_time_ms(1+) error_code protocol_type(5+, nullable)
//               protocol_name(5+, nullable) assignment
//
// From v5 the protocol type and name are mandatory: a request without them is answered
// INCONSISTENT_GROUP_PROTOCOL, as Kafka does, and the coordinator checks them against the group.
//
// The leader's request carries every member's assignment; the coordinator writes it to the offsets
// topic and only then answers each waiting member with its own part.

import { type ApiKey, ErrorCode, type RequestBody, type ResponseInput } from '@gregor/protocol';
import type { GroupCoordinatorDriver } from '../groups/group-coordinator-driver.js';
import type { ApiHandler } from './api-handler.js';

type Key = typeof ApiKey.SyncGroup;
/** The first version carrying the protocol type and name (KIP-559). */
const protocolFieldsVersion = 5;
type Response = ResponseInput<Key>;

export function createSyncGroupHandler(groups: GroupCoordinatorDriver): ApiHandler<Key> {
  return async (body: RequestBody<Key>, apiVersion: number): Promise<Response> => {
    const withProtocol = apiVersion >= protocolFieldsVersion;
    if (withProtocol && (body.protocolType === null || body.protocolName === null)) {
      return {
        throttleTimeMs: 0,
        errorCode: ErrorCode.INCONSISTENT_GROUP_PROTOCOL,
        protocolType: null,
        protocolName: null,
        assignment: Buffer.alloc(0),
      };
    }
    const response = await groups.request('SyncGroup', (coordinator, requestId, nowMs) =>
      coordinator.syncGroup(
        requestId,
        {
          groupId: body.groupId,
          generationId: body.generationId,
          memberId: body.memberId,
          groupInstanceId: body.groupInstanceId,
          protocolType: withProtocol ? body.protocolType : null,
          protocolName: withProtocol ? body.protocolName : null,
          assignments: body.assignments,
        },
        nowMs,
      ),
    );
    return {
      throttleTimeMs: 0,
      errorCode: response.errorCode,
      protocolType: response.protocolType === '' ? null : response.protocolType,
      protocolName: response.protocolName === '' ? null : response.protocolName,
      assignment: response.assignment,
    };
  };
}

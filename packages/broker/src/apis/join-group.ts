// JoinGroup (key 11), versions 0-9; flexible from 6.
//   Request  => group_id session_timeout_ms rebalance_timeout_ms(1+) member_id
//               group_instance_id(5+, nullable) protocol_type [protocols => name metadata]
//               reason(8+, nullable)
//   Response => throttle_time_ms(2+) error_code generation_id protocol_type(7+, nullable)
//               protocol_name(nullable 7+) leader skip_assignment(9+) member_id
//               [members => member_id group_instance_id(5+, nullable) metadata]
//
// From v7 a group without a protocol type or name answers null where older versions have '', as
// Kafka's JoinGroupResponse does. A v8+ reason is logged, as Kafka logs it with the rebalance. v9
// lets a static leader rejoining a Stable group skip the assignment (the coordinator decides).
//
// Held by the coordinator until the rebalance completes (every known member rejoined, or the
// rebalance timeout passed). v0 has no rebalance timeout (the session timeout serves), v4+ answers a
// member without an id MEMBER_ID_REQUIRED with one to rejoin with: the coordinator applies both from
// the version. The client host is what DescribeGroups reports, in Kafka's "/address" form.

import type { ApiKey, RequestBody, ResponseInput } from '@gregor/protocol';
import type { GroupCoordinatorDriver } from '../groups/group-coordinator-driver.js';
import type { ApiHandler, RequestContext } from './api-handler.js';

type Key = typeof ApiKey.JoinGroup;
type Response = ResponseInput<Key>;

export function createJoinGroupHandler(groups: GroupCoordinatorDriver): ApiHandler<Key> {
  return async (body: RequestBody<Key>, apiVersion: number, context: RequestContext): Promise<Response> => {
    if (body.reason !== null) {
      context.broker.logger.info(
        { groupId: body.groupId, memberId: body.memberId, clientId: context.clientId, reason: body.reason },
        'JoinGroup with a reason',
      );
    }
    const response = await groups.request('JoinGroup', (coordinator, requestId, nowMs) =>
      coordinator.joinGroup(
        requestId,
        {
          apiVersion,
          groupId: body.groupId,
          sessionTimeoutMs: body.sessionTimeoutMs,
          rebalanceTimeoutMs: body.rebalanceTimeoutMs,
          memberId: body.memberId,
          groupInstanceId: body.groupInstanceId,
          protocolType: body.protocolType,
          protocols: body.protocols,
          clientId: context.clientId ?? '',
          clientHost: clientHost(context.connection.remoteAddress),
        },
        nowMs,
      ),
    );
    return {
      throttleTimeMs: 0,
      errorCode: response.errorCode,
      generationId: response.generationId,
      protocolType: nullableFrom(apiVersion, response.protocolType),
      protocolName: nullableFrom(apiVersion, response.protocolName),
      leader: response.leader,
      skipAssignment: response.skipAssignment,
      memberId: response.memberId,
      members: response.members.map((member) => ({
        memberId: member.memberId,
        groupInstanceId: member.groupInstanceId,
        metadata: member.metadata,
      })),
    };
  };
}

/** The first version whose protocol type and name are nullable (KIP-559). */
const nullableProtocolVersion = 7;

/** '' (no protocol) is null from v7, as Kafka's JoinGroupResponse sets it. */
function nullableFrom(apiVersion: number, value: string): string | null {
  return apiVersion >= nullableProtocolVersion && value === '' ? null : value;
}

/** "127.0.0.1:53412" or "::1:53412" → "/127.0.0.1" or "/::1", as Kafka prints a client's InetAddress. */
export function clientHost(remoteAddress: string): string {
  const colon = remoteAddress.lastIndexOf(':');
  const address = colon < 0 ? remoteAddress : remoteAddress.slice(0, colon);
  return `/${address.replace(/^::ffff:/, '')}`;
}

// JoinGroup (key 11), versions 0-9; flexible from 6.
//   Request  => group_id session_timeout_ms rebalance_timeout_ms(1+) member_id
//               group_instance_id(5+, nullable) protocol_type [protocols => name metadata]
//               reason(8+, nullable)
//   Response => throttle_time_ms(2+) error_code generation_id protocol_type(7+, nullable)
//               protocol_name(nullable 7+) leader skip_assignment(9+) member_id
//               [members => member_id group_instance_id(5+, nullable) metadata]
// From v4 a member joining with an empty member id gets MEMBER_ID_REQUIRED and an id to rejoin with.
// v7 returns the protocol type (KIP-559), v8 adds the reason (KIP-800), v9 lets a rejoining static
// leader skip the assignment (KIP-814). Spec: apache/kafka JoinGroupRequest.json /
// JoinGroupResponse.json.

import { defineApi } from '../api.js';
import { f } from '../schema.js';

export const joinGroupApi = defineApi(
  'JoinGroup',
  {
    groupId: f.string('0+'),
    sessionTimeoutMs: f.int32('0+'),
    /** Absent before v1, where the session timeout is the rebalance timeout too. */
    rebalanceTimeoutMs: f.int32('1+', { default: -1, ignorable: true }),
    memberId: f.string('0+'),
    groupInstanceId: f.string('5+', { nullableVersions: '5+', default: null }),
    protocolType: f.string('0+'),
    protocols: f.structArray('0+', { name: f.string('0+'), metadata: f.bytes('0+') }),
    /** Why the member (re)joins (KIP-800); the coordinator logs it. */
    reason: f.string('8+', { nullableVersions: '8+', default: null, ignorable: true }),
  },
  {
    throttleTimeMs: f.int32('2+', { ignorable: true }),
    errorCode: f.int16('0+'),
    generationId: f.int32('0+', { default: -1 }),
    protocolType: f.string('7+', { nullableVersions: '7+', default: null, ignorable: true }),
    /** '' before v7 when the group has none, null from v7. */
    protocolName: f.string('0+', { nullableVersions: '7+' }),
    leader: f.string('0+'),
    /** v9+: the static leader rejoined a Stable group; it must not compute an assignment. */
    skipAssignment: f.bool('9+', { default: false }),
    memberId: f.string('0+'),
    members: f.structArray('0+', {
      memberId: f.string('0+'),
      groupInstanceId: f.string('5+', { nullableVersions: '5+', default: null, ignorable: true }),
      metadata: f.bytes('0+'),
    }),
  },
);

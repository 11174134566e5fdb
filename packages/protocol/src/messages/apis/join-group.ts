// JoinGroup (key 11), versions 0-6; flexible from 6.
//   Request  => group_id session_timeout_ms rebalance_timeout_ms(1+) member_id
//               group_instance_id(5+, nullable) protocol_type [protocols => name metadata]
//   Response => throttle_time_ms(2+) error_code generation_id protocol_name leader member_id
//               [members => member_id group_instance_id(5+, nullable) metadata]
// From v4 a member joining with an empty member id gets MEMBER_ID_REQUIRED and an id to rejoin with.
// Spec: apache/kafka JoinGroupRequest.json / JoinGroupResponse.json (v7+ fields omitted).

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
  },
  {
    throttleTimeMs: f.int32('2+', { ignorable: true }),
    errorCode: f.int16('0+'),
    generationId: f.int32('0+', { default: -1 }),
    protocolName: f.string('0+'),
    leader: f.string('0+'),
    memberId: f.string('0+'),
    members: f.structArray('0+', {
      memberId: f.string('0+'),
      groupInstanceId: f.string('5+', { nullableVersions: '5+', default: null }),
      metadata: f.bytes('0+'),
    }),
  },
);

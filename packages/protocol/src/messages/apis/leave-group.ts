// LeaveGroup (key 13), versions 0-5; flexible from 4. Version 3 batches members (KIP-345), version
// 5 adds a reason per member (KIP-800).
//   Request  v0-2 => group_id member_id
//   Request  v3+  => group_id [members => member_id group_instance_id(nullable) reason(5+, nullable)]
//   Response      => throttle_time_ms(1+) error_code
//                    [members => member_id group_instance_id(nullable) error_code](3+)
// Spec: apache/kafka LeaveGroupRequest.json / LeaveGroupResponse.json.

import { defineApi } from '../api.js';
import { f } from '../schema.js';

export const leaveGroupApi = defineApi(
  'LeaveGroup',
  {
    groupId: f.string('0+'),
    memberId: f.string('0-2'),
    members: f.structArray('3+', {
      memberId: f.string('3+'),
      groupInstanceId: f.string('3+', { nullableVersions: '3+', default: null }),
      reason: f.string('5+', { nullableVersions: '5+', default: null, ignorable: true }),
    }),
  },
  {
    throttleTimeMs: f.int32('1+', { ignorable: true }),
    errorCode: f.int16('0+'),
    members: f.structArray('3+', {
      memberId: f.string('3+'),
      groupInstanceId: f.string('3+', { nullableVersions: '3+', default: null }),
      errorCode: f.int16('3+'),
    }),
  },
);

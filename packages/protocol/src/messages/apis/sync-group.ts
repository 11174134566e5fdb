// SyncGroup (key 14), versions 0-5; flexible from 4.
//   Request  => group_id generation_id member_id group_instance_id(3+, nullable)
//               protocol_type(5+, nullable) protocol_name(5+, nullable)
//               [assignments => member_id assignment]
//   Response => throttle_time_ms(1+) error_code protocol_type(5+, nullable)
//               protocol_name(5+, nullable) assignment
// v5 carries the group's protocol type and name both ways (KIP-559). Spec: apache/kafka
// SyncGroupRequest.json / SyncGroupResponse.json.

import { defineApi } from '../api.js';
import { f } from '../schema.js';

export const syncGroupApi = defineApi(
  'SyncGroup',
  {
    groupId: f.string('0+'),
    generationId: f.int32('0+'),
    memberId: f.string('0+'),
    groupInstanceId: f.string('3+', { nullableVersions: '3+', default: null }),
    protocolType: f.string('5+', { nullableVersions: '5+', default: null, ignorable: true }),
    protocolName: f.string('5+', { nullableVersions: '5+', default: null, ignorable: true }),
    assignments: f.structArray('0+', { memberId: f.string('0+'), assignment: f.bytes('0+') }),
  },
  {
    throttleTimeMs: f.int32('1+', { ignorable: true }),
    errorCode: f.int16('0+'),
    protocolType: f.string('5+', { nullableVersions: '5+', default: null, ignorable: true }),
    protocolName: f.string('5+', { nullableVersions: '5+', default: null, ignorable: true }),
    assignment: f.bytes('0+'),
  },
);

// Heartbeat (key 12), versions 0-4; flexible from 4.
//   Request  => group_id generation_id member_id group_instance_id(3+, nullable)
//   Response => throttle_time_ms(1+) error_code
// Spec: apache/kafka HeartbeatRequest.json / HeartbeatResponse.json.

import { defineApi } from '../api.js';
import { f } from '../schema.js';

export const heartbeatApi = defineApi(
  'Heartbeat',
  {
    groupId: f.string('0+'),
    generationId: f.int32('0+'),
    memberId: f.string('0+'),
    groupInstanceId: f.string('3+', { nullableVersions: '3+', default: null }),
  },
  {
    throttleTimeMs: f.int32('1+', { ignorable: true }),
    errorCode: f.int16('0+'),
  },
);

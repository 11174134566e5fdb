// DescribeGroups (key 15), versions 0-6; flexible from 5. Version 6 answers an unknown group
// GROUP_ID_NOT_FOUND with a message where older versions report it Dead (KIP-1043).
//   Request  => [groups] include_authorized_operations(3+)
//   Response => throttle_time_ms(1+) [groups => error_code error_message(6+, nullable) group_id
//                 group_state protocol_type
//                 protocol_data [members => member_id group_instance_id(4+, nullable) client_id
//                   client_host member_metadata member_assignment] authorized_operations(3+)]
// Spec: apache/kafka DescribeGroupsRequest.json / DescribeGroupsResponse.json.

import { defineApi } from '../api.js';
import { f, t } from '../schema.js';
import { authorizedOperationsOmitted } from './metadata.js';

export const describeGroupsApi = defineApi(
  'DescribeGroups',
  {
    groups: f.array('0+', t.string),
    includeAuthorizedOperations: f.bool('3+'),
  },
  {
    throttleTimeMs: f.int32('1+', { ignorable: true }),
    groups: f.structArray('0+', {
      errorCode: f.int16('0+'),
      errorMessage: f.string('6+', { nullableVersions: '6+', default: null }),
      groupId: f.string('0+'),
      groupState: f.string('0+'),
      protocolType: f.string('0+'),
      protocolData: f.string('0+'),
      members: f.structArray('0+', {
        memberId: f.string('0+'),
        groupInstanceId: f.string('4+', { nullableVersions: '4+', default: null, ignorable: true }),
        clientId: f.string('0+'),
        clientHost: f.string('0+'),
        memberMetadata: f.bytes('0+'),
        memberAssignment: f.bytes('0+'),
      }),
      authorizedOperations: f.int32('3+', { default: authorizedOperationsOmitted }),
    }),
  },
);

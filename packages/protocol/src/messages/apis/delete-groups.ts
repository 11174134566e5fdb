// DeleteGroups (key 42), versions 0-2; flexible from 2.
//   Request  => [groups_names]
//   Response => throttle_time_ms [results => group_id error_code]
// Spec: apache/kafka DeleteGroupsRequest.json / DeleteGroupsResponse.json.

import { defineApi } from '../api.js';
import { f, t } from '../schema.js';

export const deleteGroupsApi = defineApi(
  'DeleteGroups',
  {
    groupsNames: f.array('0+', t.string),
  },
  {
    throttleTimeMs: f.int32('0+'),
    results: f.structArray('0+', { groupId: f.string('0+'), errorCode: f.int16('0+') }),
  },
);

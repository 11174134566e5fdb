// ListGroups (key 16), versions 0-5; flexible from 3. v4 filters by state (KIP-518), v5 by group
// type (KIP-848).
//   Request  => [states_filter](4+) [types_filter](5+)
//   Response => throttle_time_ms(1+) error_code
//               [groups => group_id protocol_type group_state(4+) group_type(5+)]
// Spec: apache/kafka ListGroupsRequest.json / ListGroupsResponse.json.

import { defineApi } from '../api.js';
import { f, t } from '../schema.js';

export const listGroupsApi = defineApi(
  'ListGroups',
  {
    statesFilter: f.array('4+', t.string),
    typesFilter: f.array('5+', t.string),
  },
  {
    throttleTimeMs: f.int32('1+', { ignorable: true }),
    errorCode: f.int16('0+'),
    groups: f.structArray('0+', {
      groupId: f.string('0+'),
      protocolType: f.string('0+'),
      groupState: f.string('4+', { ignorable: true }),
      /** "classic" or "consumer" (Kafka's GroupType); Gregor's groups are all classic. */
      groupType: f.string('5+', { ignorable: true }),
    }),
  },
);

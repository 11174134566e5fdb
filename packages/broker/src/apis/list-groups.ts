// ListGroups (key 16), versions 0-5; flexible from 3.
//   Request  => [states_filter](4+) [types_filter](5+)
//   Response => throttle_time_ms(1+) error_code
//               [groups => group_id protocol_type group_state(4+) group_type(5+)]
//
// Lists the groups this broker coordinates (as in Kafka, a cluster-wide listing asks every broker).
// While one of its offsets partitions loads, the error is COORDINATOR_LOAD_IN_PROGRESS and the groups
// of the loaded partitions are listed anyway. Every group Gregor has is a classic one (no KIP-848
// consumer groups): its type is "classic", and a v5 types filter (case-insensitive, as Kafka's)
// that does not name it lists nothing.

import type { ApiKey, RequestBody, ResponseInput } from '@gregor/protocol';
import type { GroupCoordinatorDriver } from '../groups/group-coordinator-driver.js';
import type { ApiHandler } from './api-handler.js';

type Key = typeof ApiKey.ListGroups;
type Response = ResponseInput<Key>;

/** Kafka's GroupType.CLASSIC name, the type of every Gregor group. */
const classicGroupType = 'classic';

export function createListGroupsHandler(groups: GroupCoordinatorDriver): ApiHandler<Key> {
  return async (body: RequestBody<Key>): Promise<Response> => {
    const typesFilter = body.typesFilter.map((type) => type.toLowerCase());
    const listsClassic = typesFilter.length === 0 || typesFilter.includes(classicGroupType);
    const response = await groups.request('ListGroups', (coordinator, requestId, nowMs) =>
      coordinator.listGroups(requestId, { statesFilter: body.statesFilter }, nowMs),
    );
    return {
      throttleTimeMs: 0,
      errorCode: response.errorCode,
      groups: listsClassic
        ? response.groups.map((group) => ({
            groupId: group.groupId,
            protocolType: group.protocolType,
            groupState: group.groupState,
            groupType: classicGroupType,
          }))
        : [],
    };
  };
}

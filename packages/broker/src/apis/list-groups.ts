// ListGroups (key 16), versions 0-5; flexible from 3.
//   Request  => [states_filter](4+) [types_filter](5+)
//   Response => throttle_time_ms(1+) error_code
//               [groups => group_id protocol_type group_state(4+) group_type(5+)]
//
// Lists the groups this broker coordinates (as in Kafka, a cluster-wide listing asks every broker).
// While one of its offsets partitions loads, the error is COORDINATOR_LOAD_IN_PROGRESS and the groups
// of the loaded partitions are listed anyway. A group's type is "classic", or "consumer" for a
// KIP-848 consumer group (protocol type "consumer", states Empty/Assigning/Reconciling/Stable); a v5
// types filter (case-insensitive, as Kafka's) lists only the types it names.

import type { ApiKey, RequestBody, ResponseInput } from '@gregor/protocol';
import type { GroupCoordinatorDriver } from '../groups/group-coordinator-driver.js';
import type { ApiHandler } from './api-handler.js';

type Key = typeof ApiKey.ListGroups;
type Response = ResponseInput<Key>;

/** Kafka's GroupType.CLASSIC name. */
const classicGroupType = 'classic';

export function createListGroupsHandler(groups: GroupCoordinatorDriver): ApiHandler<Key> {
  return async (body: RequestBody<Key>): Promise<Response> => {
    const typesFilter = body.typesFilter.map((type) => type.toLowerCase());
    const lists = (type: string): boolean => typesFilter.length === 0 || typesFilter.includes(type);
    const response = await groups.request('ListGroups', (coordinator, requestId, nowMs) =>
      coordinator.listGroups(requestId, { statesFilter: body.statesFilter }, nowMs),
    );
    return {
      throttleTimeMs: 0,
      errorCode: response.errorCode,
      groups: response.groups
        .map((group) => ({
          groupId: group.groupId,
          protocolType: group.protocolType,
          groupState: group.groupState,
          groupType: group.groupType ?? classicGroupType,
        }))
        .filter((group) => lists(group.groupType)),
    };
  };
}

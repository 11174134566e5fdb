// DeleteGroups (key 42), versions 0-2; flexible from 2.
//   Request  => [groups_names]
//   Response => throttle_time_ms [results => group_id error_code]
//
// Deletes Empty groups only (NON_EMPTY_GROUP, GROUP_ID_NOT_FOUND otherwise) by writing tombstones
// for their offsets and metadata; answered once those are replicated.

import type { ApiKey, RequestBody, ResponseInput } from '@gregor/protocol';
import type { GroupCoordinatorDriver } from '../groups/group-coordinator-driver.js';
import type { ApiHandler } from './api-handler.js';

type Key = typeof ApiKey.DeleteGroups;
type Response = ResponseInput<Key>;

export function createDeleteGroupsHandler(groups: GroupCoordinatorDriver): ApiHandler<Key> {
  return async (body: RequestBody<Key>): Promise<Response> => {
    const response = await groups.request('DeleteGroups', (coordinator, requestId, nowMs) =>
      coordinator.deleteGroups(requestId, { groupsNames: body.groupsNames }, nowMs),
    );
    return {
      throttleTimeMs: 0,
      results: response.results.map((result) => ({ groupId: result.groupId, errorCode: result.errorCode })),
    };
  };
}

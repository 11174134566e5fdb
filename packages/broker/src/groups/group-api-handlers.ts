// The handlers of the group APIs, bound to one coordinator driver, as the router's `extraHandlers`:
// ApiVersions advertises these APIs exactly when a node passes them.

import { ApiKey } from '@gregor/protocol';
import type { ApiHandlers } from '../apis/api-handler.js';
import { createDeleteGroupsHandler } from '../apis/delete-groups.js';
import { createDescribeGroupsHandler } from '../apis/describe-groups.js';
import { createFindCoordinatorHandler } from '../apis/find-coordinator.js';
import { createHeartbeatHandler } from '../apis/heartbeat.js';
import { createJoinGroupHandler } from '../apis/join-group.js';
import { createLeaveGroupHandler } from '../apis/leave-group.js';
import { createListGroupsHandler } from '../apis/list-groups.js';
import { createOffsetCommitHandler } from '../apis/offset-commit.js';
import { createOffsetFetchHandler } from '../apis/offset-fetch.js';
import { createSyncGroupHandler } from '../apis/sync-group.js';
import type { GroupCoordinatorDriver } from './group-coordinator-driver.js';

export function groupApiHandlers(groups: GroupCoordinatorDriver): ApiHandlers {
  return {
    [ApiKey.FindCoordinator]: createFindCoordinatorHandler(groups),
    [ApiKey.JoinGroup]: createJoinGroupHandler(groups),
    [ApiKey.SyncGroup]: createSyncGroupHandler(groups),
    [ApiKey.Heartbeat]: createHeartbeatHandler(groups),
    [ApiKey.LeaveGroup]: createLeaveGroupHandler(groups),
    [ApiKey.OffsetCommit]: createOffsetCommitHandler(groups),
    [ApiKey.OffsetFetch]: createOffsetFetchHandler(groups),
    [ApiKey.DescribeGroups]: createDescribeGroupsHandler(groups),
    [ApiKey.ListGroups]: createListGroupsHandler(groups),
    [ApiKey.DeleteGroups]: createDeleteGroupsHandler(groups),
  };
}

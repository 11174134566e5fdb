// The one place a Kafka API gets its handler: every API module (one per API) is listed here, by api
// key, and the router serves exactly this table. The handlers of group APIs and InitProducerId are
// bound to the services they need; a broker without one (a test fixture without groups) leaves those
// APIs out, and ApiVersions then does not advertise them, so a client never picks an API it would be
// cut off for.

import { ApiKey } from '@gregor/protocol';
import type { GroupCoordinatorDriver } from '../groups/group-coordinator-driver.js';
import type { ProducerIdManager } from '../producer-ids/producer-id-manager.js';
import type { SaslAuthenticator } from '../security/sasl-authenticator.js';
import { handleAlterUserScramCredentials } from './alter-user-scram-credentials.js';
import type { ApiHandlers } from './api-handler.js';
import { handleApiVersions } from './api-versions.js';
import { handleCreateAcls } from './create-acls.js';
import { handleCreatePartitions } from './create-partitions.js';
import { handleCreateTopics } from './create-topics.js';
import { handleDeleteAcls } from './delete-acls.js';
import { createDeleteGroupsHandler } from './delete-groups.js';
import { handleDeleteTopics } from './delete-topics.js';
import { handleDescribeAcls } from './describe-acls.js';
import { handleDescribeConfigs } from './describe-configs.js';
import { createDescribeGroupsHandler } from './describe-groups.js';
import { handleDescribeUserScramCredentials } from './describe-user-scram-credentials.js';
import { handleFetch } from './fetch.js';
import { createFindCoordinatorHandler } from './find-coordinator.js';
import {
  deleteGroupsAuthorized,
  describeGroupsAuthorized,
  heartbeatAuthorized,
  joinGroupAuthorized,
  leaveGroupAuthorized,
  listGroupsAuthorized,
  offsetCommitAuthorized,
  offsetFetchAuthorized,
  syncGroupAuthorized,
} from './group-authorization.js';
import { createHeartbeatHandler } from './heartbeat.js';
import { createInitProducerIdHandler } from './init-producer-id.js';
import { createJoinGroupHandler } from './join-group.js';
import { createLeaveGroupHandler } from './leave-group.js';
import { createListGroupsHandler } from './list-groups.js';
import { handleListOffsets } from './list-offsets.js';
import { handleMetadata } from './metadata.js';
import { createOffsetCommitHandler } from './offset-commit.js';
import { createOffsetFetchHandler } from './offset-fetch.js';
import { handleProduce } from './produce.js';
import { handleSaslAuthenticate } from './sasl-authenticate.js';
import { createSaslHandshakeHandler } from './sasl-handshake.js';
import { createSyncGroupHandler } from './sync-group.js';

/** The services some APIs need beyond the BrokerContext; an API whose service is absent is not served. */
export interface ApiServices {
  /** The group coordinator: FindCoordinator and the group APIs. */
  readonly groups?: GroupCoordinatorDriver;
  /** This broker's producer id blocks: InitProducerId. */
  readonly producerIds?: ProducerIdManager;
  /** The SASL mechanisms of the SASL listeners: SaslHandshake and SaslAuthenticate. */
  readonly sasl?: SaslAuthenticator;
}

export function apiHandlers(services: ApiServices = {}): ApiHandlers {
  const { groups, producerIds, sasl } = services;
  return {
    [ApiKey.Produce]: handleProduce,
    [ApiKey.Fetch]: handleFetch,
    [ApiKey.ListOffsets]: handleListOffsets,
    [ApiKey.Metadata]: handleMetadata,
    [ApiKey.ApiVersions]: handleApiVersions,
    [ApiKey.CreateTopics]: handleCreateTopics,
    [ApiKey.DeleteTopics]: handleDeleteTopics,
    [ApiKey.DescribeConfigs]: handleDescribeConfigs,
    [ApiKey.CreatePartitions]: handleCreatePartitions,
    [ApiKey.DescribeAcls]: handleDescribeAcls,
    [ApiKey.CreateAcls]: handleCreateAcls,
    [ApiKey.DeleteAcls]: handleDeleteAcls,
    [ApiKey.DescribeUserScramCredentials]: handleDescribeUserScramCredentials,
    [ApiKey.AlterUserScramCredentials]: handleAlterUserScramCredentials,
    ...(sasl === undefined
      ? {}
      : {
          [ApiKey.SaslHandshake]: createSaslHandshakeHandler(sasl),
          [ApiKey.SaslAuthenticate]: handleSaslAuthenticate,
        }),
    ...(groups === undefined
      ? {}
      : {
          [ApiKey.FindCoordinator]: createFindCoordinatorHandler(groups),
          [ApiKey.JoinGroup]: joinGroupAuthorized(createJoinGroupHandler(groups)),
          [ApiKey.SyncGroup]: syncGroupAuthorized(createSyncGroupHandler(groups)),
          [ApiKey.Heartbeat]: heartbeatAuthorized(createHeartbeatHandler(groups)),
          [ApiKey.LeaveGroup]: leaveGroupAuthorized(createLeaveGroupHandler(groups)),
          [ApiKey.OffsetCommit]: offsetCommitAuthorized(createOffsetCommitHandler(groups)),
          [ApiKey.OffsetFetch]: offsetFetchAuthorized(createOffsetFetchHandler(groups)),
          [ApiKey.DescribeGroups]: describeGroupsAuthorized(createDescribeGroupsHandler(groups)),
          [ApiKey.ListGroups]: listGroupsAuthorized(createListGroupsHandler(groups)),
          [ApiKey.DeleteGroups]: deleteGroupsAuthorized(createDeleteGroupsHandler(groups)),
        }),
    ...(producerIds === undefined
      ? {}
      : { [ApiKey.InitProducerId]: createInitProducerIdHandler(producerIds) }),
  };
}

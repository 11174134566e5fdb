// The one place a Kafka API gets its handler: every API module (one per API) is listed here, by api
// key, and the router serves exactly this table. The handlers of group APIs and InitProducerId are
// bound to the services they need; a broker without one (a test fixture without groups) leaves those
// APIs out, and ApiVersions then does not advertise them, so a client never picks an API it would be
// cut off for.

import { ApiKey } from '@gregor/protocol';
import type { GroupCoordinatorDriver } from '../groups/group-coordinator-driver.js';
import type { ProducerIdManager } from '../producer-ids/producer-id-manager.js';
import type { SaslAuthenticator } from '../security/sasl-authenticator.js';
import type { TransactionCoordinatorDriver } from '../transactions/transaction-coordinator-driver.js';
import { createAddOffsetsToTxnHandler } from './add-offsets-to-txn.js';
import { createAddPartitionsToTxnHandler } from './add-partitions-to-txn.js';
import { handleAlterClientQuotas } from './alter-client-quotas.js';
import { handleAlterConfigs } from './alter-configs.js';
import { handleAlterPartitionReassignments } from './alter-partition-reassignments.js';
import { handleAlterReplicaLogDirs } from './alter-replica-log-dirs.js';
import { handleAlterUserScramCredentials } from './alter-user-scram-credentials.js';
import type { ApiHandlers } from './api-handler.js';
import { handleApiVersions } from './api-versions.js';
import { createConsumerGroupDescribeHandler } from './consumer-group-describe.js';
import { createConsumerGroupHeartbeatHandler } from './consumer-group-heartbeat.js';
import { handleCreateAcls } from './create-acls.js';
import { handleCreateDelegationToken } from './create-delegation-token.js';
import { handleCreatePartitions } from './create-partitions.js';
import { handleCreateTopics } from './create-topics.js';
import { handleDeleteAcls } from './delete-acls.js';
import { createDeleteGroupsHandler } from './delete-groups.js';
import { handleDeleteRecords } from './delete-records.js';
import { handleDeleteTopics } from './delete-topics.js';
import { handleDescribeAcls } from './describe-acls.js';
import { handleDescribeClientQuotas } from './describe-client-quotas.js';
import { handleDescribeCluster } from './describe-cluster.js';
import { handleDescribeConfigs } from './describe-configs.js';
import { handleDescribeDelegationToken } from './describe-delegation-token.js';
import { createDescribeGroupsHandler } from './describe-groups.js';
import { handleDescribeLogDirs } from './describe-log-dirs.js';
import { handleDescribeProducers } from './describe-producers.js';
import { createDescribeQuorumHandler, type MetadataQuorum } from './describe-quorum.js';
import { handleDescribeTopicPartitions } from './describe-topic-partitions.js';
import { createDescribeTransactionsHandler } from './describe-transactions.js';
import { handleDescribeUserScramCredentials } from './describe-user-scram-credentials.js';
import { handleElectLeaders } from './elect-leaders.js';
import { createEndTxnHandler } from './end-txn.js';
import { handleExpireDelegationToken } from './expire-delegation-token.js';
import { handleFetch } from './fetch.js';
import { createFindCoordinatorHandler } from './find-coordinator.js';
import {
  consumerGroupDescribeAuthorized,
  consumerGroupHeartbeatAuthorized,
  deleteGroupsAuthorized,
  describeGroupsAuthorized,
  heartbeatAuthorized,
  joinGroupAuthorized,
  leaveGroupAuthorized,
  listGroupsAuthorized,
  offsetCommitAuthorized,
  offsetDeleteAuthorized,
  offsetFetchAuthorized,
  syncGroupAuthorized,
  txnOffsetCommitAuthorized,
} from './group-authorization.js';
import { createHeartbeatHandler } from './heartbeat.js';
import { handleIncrementalAlterConfigs } from './incremental-alter-configs.js';
import { createInitProducerIdHandler } from './init-producer-id.js';
import { createJoinGroupHandler } from './join-group.js';
import { createLeaveGroupHandler } from './leave-group.js';
import { handleListConfigResources } from './list-config-resources.js';
import { createListGroupsHandler } from './list-groups.js';
import { handleListOffsets } from './list-offsets.js';
import { handleListPartitionReassignments } from './list-partition-reassignments.js';
import { createListTransactionsHandler } from './list-transactions.js';
import { handleMetadata } from './metadata.js';
import { createOffsetCommitHandler } from './offset-commit.js';
import { createOffsetDeleteHandler } from './offset-delete.js';
import { createOffsetFetchHandler } from './offset-fetch.js';
import { handleOffsetForLeaderEpoch } from './offset-for-leader-epoch.js';
import { offsetCommitByTopicId, offsetFetchByTopicId } from './offset-topic-ids.js';
import { handleProduce } from './produce.js';
import { produceByTopicId } from './produce-topic-ids.js';
import { handleRenewDelegationToken } from './renew-delegation-token.js';
import { handleSaslAuthenticate } from './sasl-authenticate.js';
import { createSaslHandshakeHandler } from './sasl-handshake.js';
import { createSyncGroupHandler } from './sync-group.js';
import {
  addOffsetsToTxnAuthorized,
  addPartitionsToTxnAuthorized,
  describeTransactionsAuthorized,
  endTxnAuthorized,
  listTransactionsAuthorized,
  txnOffsetCommitTransactionalIdAuthorized,
} from './txn-authorization.js';
import { createTxnOffsetCommitHandler } from './txn-offset-commit.js';
import { handleUnregisterBroker } from './unregister-broker.js';
import { handleUpdateFeatures } from './update-features.js';
import { handleWriteTxnMarkers } from './write-txn-markers.js';

/** The services some APIs need beyond the BrokerContext; an API whose service is absent is not served. */
export interface ApiServices {
  /** The group coordinator: FindCoordinator and the group APIs. */
  readonly groups?: GroupCoordinatorDriver;
  /** This broker's producer id blocks: InitProducerId. */
  readonly producerIds?: ProducerIdManager;
  /** The transaction coordinator: InitProducerId with a transactional id and the transaction APIs. */
  readonly transactions?: TransactionCoordinatorDriver;
  /** The SASL mechanisms of the SASL listeners: SaslHandshake and SaslAuthenticate. */
  readonly sasl?: SaslAuthenticator;
  /** The metadata quorum's leader view: DescribeQuorum. */
  readonly quorum?: MetadataQuorum;
}

export function apiHandlers(services: ApiServices = {}): ApiHandlers {
  const { groups, producerIds, transactions, sasl, quorum } = services;
  return {
    [ApiKey.Produce]: produceByTopicId(handleProduce),
    [ApiKey.Fetch]: handleFetch,
    [ApiKey.ListOffsets]: handleListOffsets,
    [ApiKey.Metadata]: handleMetadata,
    [ApiKey.ApiVersions]: handleApiVersions,
    [ApiKey.CreateTopics]: handleCreateTopics,
    [ApiKey.OffsetForLeaderEpoch]: handleOffsetForLeaderEpoch,
    [ApiKey.DeleteTopics]: handleDeleteTopics,
    [ApiKey.DeleteRecords]: handleDeleteRecords,
    [ApiKey.DescribeConfigs]: handleDescribeConfigs,
    [ApiKey.AlterConfigs]: handleAlterConfigs,
    [ApiKey.AlterReplicaLogDirs]: handleAlterReplicaLogDirs,
    [ApiKey.DescribeLogDirs]: handleDescribeLogDirs,
    [ApiKey.CreatePartitions]: handleCreatePartitions,
    [ApiKey.IncrementalAlterConfigs]: handleIncrementalAlterConfigs,
    [ApiKey.DescribeCluster]: handleDescribeCluster,
    [ApiKey.DescribeTopicPartitions]: handleDescribeTopicPartitions,
    [ApiKey.ListConfigResources]: handleListConfigResources,
    [ApiKey.UnregisterBroker]: handleUnregisterBroker,
    [ApiKey.UpdateFeatures]: handleUpdateFeatures,
    [ApiKey.DescribeProducers]: handleDescribeProducers,
    [ApiKey.DescribeAcls]: handleDescribeAcls,
    [ApiKey.CreateAcls]: handleCreateAcls,
    [ApiKey.DeleteAcls]: handleDeleteAcls,
    [ApiKey.DescribeUserScramCredentials]: handleDescribeUserScramCredentials,
    [ApiKey.AlterUserScramCredentials]: handleAlterUserScramCredentials,
    [ApiKey.CreateDelegationToken]: handleCreateDelegationToken,
    [ApiKey.RenewDelegationToken]: handleRenewDelegationToken,
    [ApiKey.ExpireDelegationToken]: handleExpireDelegationToken,
    [ApiKey.DescribeDelegationToken]: handleDescribeDelegationToken,
    [ApiKey.ElectLeaders]: handleElectLeaders,
    [ApiKey.AlterPartitionReassignments]: handleAlterPartitionReassignments,
    [ApiKey.ListPartitionReassignments]: handleListPartitionReassignments,
    ...(quorum === undefined ? {} : { [ApiKey.DescribeQuorum]: createDescribeQuorumHandler(quorum) }),
    [ApiKey.DescribeClientQuotas]: handleDescribeClientQuotas,
    [ApiKey.AlterClientQuotas]: handleAlterClientQuotas,
    ...(sasl === undefined
      ? {}
      : {
          [ApiKey.SaslHandshake]: createSaslHandshakeHandler(sasl),
          [ApiKey.SaslAuthenticate]: handleSaslAuthenticate,
        }),
    ...(groups === undefined
      ? {}
      : {
          [ApiKey.FindCoordinator]: createFindCoordinatorHandler(groups, transactions),
          [ApiKey.JoinGroup]: joinGroupAuthorized(createJoinGroupHandler(groups)),
          [ApiKey.SyncGroup]: syncGroupAuthorized(createSyncGroupHandler(groups)),
          [ApiKey.Heartbeat]: heartbeatAuthorized(createHeartbeatHandler(groups)),
          [ApiKey.LeaveGroup]: leaveGroupAuthorized(createLeaveGroupHandler(groups)),
          // v10 names topics by id: resolved to names before authorization, as Kafka does.
          [ApiKey.OffsetCommit]: offsetCommitByTopicId(
            offsetCommitAuthorized(createOffsetCommitHandler(groups)),
          ),
          [ApiKey.OffsetFetch]: offsetFetchByTopicId(offsetFetchAuthorized(createOffsetFetchHandler(groups))),
          [ApiKey.DescribeGroups]: describeGroupsAuthorized(createDescribeGroupsHandler(groups)),
          [ApiKey.ListGroups]: listGroupsAuthorized(createListGroupsHandler(groups)),
          [ApiKey.DeleteGroups]: deleteGroupsAuthorized(createDeleteGroupsHandler(groups)),
          [ApiKey.ConsumerGroupHeartbeat]: consumerGroupHeartbeatAuthorized(
            createConsumerGroupHeartbeatHandler(groups),
          ),
          [ApiKey.ConsumerGroupDescribe]: consumerGroupDescribeAuthorized(
            createConsumerGroupDescribeHandler(groups),
          ),
          [ApiKey.OffsetDelete]: offsetDeleteAuthorized(createOffsetDeleteHandler(groups)),
          [ApiKey.TxnOffsetCommit]: txnOffsetCommitTransactionalIdAuthorized(
            txnOffsetCommitAuthorized(createTxnOffsetCommitHandler(groups)),
          ),
        }),
    ...(producerIds === undefined
      ? {}
      : { [ApiKey.InitProducerId]: createInitProducerIdHandler(producerIds, transactions) }),
    ...(transactions === undefined
      ? {}
      : {
          [ApiKey.AddPartitionsToTxn]: addPartitionsToTxnAuthorized(
            createAddPartitionsToTxnHandler(transactions),
          ),
          [ApiKey.AddOffsetsToTxn]: addOffsetsToTxnAuthorized(createAddOffsetsToTxnHandler(transactions)),
          [ApiKey.EndTxn]: endTxnAuthorized(createEndTxnHandler(transactions)),
          [ApiKey.WriteTxnMarkers]: handleWriteTxnMarkers,
          [ApiKey.DescribeTransactions]: describeTransactionsAuthorized(
            createDescribeTransactionsHandler(transactions),
          ),
          [ApiKey.ListTransactions]: listTransactionsAuthorized(createListTransactionsHandler(transactions)),
        }),
  };
}

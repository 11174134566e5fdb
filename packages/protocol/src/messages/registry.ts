// Every API with a schema, by api key. The request/response unions in frames.ts are computed from
// this object, so adding an API here is what makes decodeRequest and encodeResponse know it.

import { ApiKey } from './api-keys.js';
import { addOffsetsToTxnApi } from './apis/add-offsets-to-txn.js';
import { addPartitionsToTxnApi } from './apis/add-partitions-to-txn.js';
import { alterClientQuotasApi } from './apis/alter-client-quotas.js';
import { alterConfigsApi } from './apis/alter-configs.js';
import { alterPartitionReassignmentsApi } from './apis/alter-partition-reassignments.js';
import { alterReplicaLogDirsApi } from './apis/alter-replica-log-dirs.js';
import { alterUserScramCredentialsApi } from './apis/alter-user-scram-credentials.js';
import { apiVersionsApi } from './apis/api-versions.js';
import { consumerGroupDescribeApi } from './apis/consumer-group-describe.js';
import { consumerGroupHeartbeatApi } from './apis/consumer-group-heartbeat.js';
import { createAclsApi } from './apis/create-acls.js';
import { createDelegationTokenApi } from './apis/create-delegation-token.js';
import { createPartitionsApi } from './apis/create-partitions.js';
import { createTopicsApi } from './apis/create-topics.js';
import { deleteAclsApi } from './apis/delete-acls.js';
import { deleteGroupsApi } from './apis/delete-groups.js';
import { deleteRecordsApi } from './apis/delete-records.js';
import { deleteTopicsApi } from './apis/delete-topics.js';
import { describeAclsApi } from './apis/describe-acls.js';
import { describeClientQuotasApi } from './apis/describe-client-quotas.js';
import { describeClusterApi } from './apis/describe-cluster.js';
import { describeConfigsApi } from './apis/describe-configs.js';
import { describeDelegationTokenApi } from './apis/describe-delegation-token.js';
import { describeGroupsApi } from './apis/describe-groups.js';
import { describeLogDirsApi } from './apis/describe-log-dirs.js';
import { describeProducersApi } from './apis/describe-producers.js';
import { describeQuorumApi } from './apis/describe-quorum.js';
import { describeTopicPartitionsApi } from './apis/describe-topic-partitions.js';
import { describeTransactionsApi } from './apis/describe-transactions.js';
import { describeUserScramCredentialsApi } from './apis/describe-user-scram-credentials.js';
import { electLeadersApi } from './apis/elect-leaders.js';
import { endTxnApi } from './apis/end-txn.js';
import { expireDelegationTokenApi } from './apis/expire-delegation-token.js';
import { fetchApi } from './apis/fetch.js';
import { findCoordinatorApi } from './apis/find-coordinator.js';
import { heartbeatApi } from './apis/heartbeat.js';
import { incrementalAlterConfigsApi } from './apis/incremental-alter-configs.js';
import { initProducerIdApi } from './apis/init-producer-id.js';
import { joinGroupApi } from './apis/join-group.js';
import { leaveGroupApi } from './apis/leave-group.js';
import { listConfigResourcesApi } from './apis/list-config-resources.js';
import { listGroupsApi } from './apis/list-groups.js';
import { listOffsetsApi } from './apis/list-offsets.js';
import { listPartitionReassignmentsApi } from './apis/list-partition-reassignments.js';
import { listTransactionsApi } from './apis/list-transactions.js';
import { metadataApi } from './apis/metadata.js';
import { offsetCommitApi } from './apis/offset-commit.js';
import { offsetDeleteApi } from './apis/offset-delete.js';
import { offsetFetchApi } from './apis/offset-fetch.js';
import { offsetForLeaderEpochApi } from './apis/offset-for-leader-epoch.js';
import { produceApi } from './apis/produce.js';
import { renewDelegationTokenApi } from './apis/renew-delegation-token.js';
import { saslAuthenticateApi } from './apis/sasl-authenticate.js';
import { saslHandshakeApi } from './apis/sasl-handshake.js';
import { syncGroupApi } from './apis/sync-group.js';
import { txnOffsetCommitApi } from './apis/txn-offset-commit.js';
import { unregisterBrokerApi } from './apis/unregister-broker.js';
import { updateFeaturesApi } from './apis/update-features.js';
import { writeTxnMarkersApi } from './apis/write-txn-markers.js';
import type { Decoded, EncodeInput } from './schema.js';

export const apis = {
  [ApiKey.Produce]: produceApi,
  [ApiKey.Fetch]: fetchApi,
  [ApiKey.ListOffsets]: listOffsetsApi,
  [ApiKey.Metadata]: metadataApi,
  [ApiKey.OffsetCommit]: offsetCommitApi,
  [ApiKey.OffsetFetch]: offsetFetchApi,
  [ApiKey.FindCoordinator]: findCoordinatorApi,
  [ApiKey.JoinGroup]: joinGroupApi,
  [ApiKey.Heartbeat]: heartbeatApi,
  [ApiKey.LeaveGroup]: leaveGroupApi,
  [ApiKey.SyncGroup]: syncGroupApi,
  [ApiKey.DescribeGroups]: describeGroupsApi,
  [ApiKey.ListGroups]: listGroupsApi,
  [ApiKey.SaslHandshake]: saslHandshakeApi,
  [ApiKey.ApiVersions]: apiVersionsApi,
  [ApiKey.CreateTopics]: createTopicsApi,
  [ApiKey.DeleteTopics]: deleteTopicsApi,
  [ApiKey.DeleteRecords]: deleteRecordsApi,
  [ApiKey.InitProducerId]: initProducerIdApi,
  [ApiKey.OffsetForLeaderEpoch]: offsetForLeaderEpochApi,
  [ApiKey.AddPartitionsToTxn]: addPartitionsToTxnApi,
  [ApiKey.AddOffsetsToTxn]: addOffsetsToTxnApi,
  [ApiKey.EndTxn]: endTxnApi,
  [ApiKey.WriteTxnMarkers]: writeTxnMarkersApi,
  [ApiKey.TxnOffsetCommit]: txnOffsetCommitApi,
  [ApiKey.DescribeAcls]: describeAclsApi,
  [ApiKey.CreateAcls]: createAclsApi,
  [ApiKey.DeleteAcls]: deleteAclsApi,
  [ApiKey.DescribeConfigs]: describeConfigsApi,
  [ApiKey.AlterConfigs]: alterConfigsApi,
  [ApiKey.AlterReplicaLogDirs]: alterReplicaLogDirsApi,
  [ApiKey.DescribeLogDirs]: describeLogDirsApi,
  [ApiKey.SaslAuthenticate]: saslAuthenticateApi,
  [ApiKey.CreatePartitions]: createPartitionsApi,
  [ApiKey.CreateDelegationToken]: createDelegationTokenApi,
  [ApiKey.RenewDelegationToken]: renewDelegationTokenApi,
  [ApiKey.ExpireDelegationToken]: expireDelegationTokenApi,
  [ApiKey.DescribeDelegationToken]: describeDelegationTokenApi,
  [ApiKey.DeleteGroups]: deleteGroupsApi,
  [ApiKey.ElectLeaders]: electLeadersApi,
  [ApiKey.IncrementalAlterConfigs]: incrementalAlterConfigsApi,
  [ApiKey.AlterPartitionReassignments]: alterPartitionReassignmentsApi,
  [ApiKey.ListPartitionReassignments]: listPartitionReassignmentsApi,
  [ApiKey.OffsetDelete]: offsetDeleteApi,
  [ApiKey.DescribeClientQuotas]: describeClientQuotasApi,
  [ApiKey.AlterClientQuotas]: alterClientQuotasApi,
  [ApiKey.DescribeUserScramCredentials]: describeUserScramCredentialsApi,
  [ApiKey.AlterUserScramCredentials]: alterUserScramCredentialsApi,
  [ApiKey.DescribeQuorum]: describeQuorumApi,
  [ApiKey.DescribeCluster]: describeClusterApi,
  [ApiKey.DescribeProducers]: describeProducersApi,
  [ApiKey.UnregisterBroker]: unregisterBrokerApi,
  [ApiKey.UpdateFeatures]: updateFeaturesApi,
  [ApiKey.DescribeTransactions]: describeTransactionsApi,
  [ApiKey.ListTransactions]: listTransactionsApi,
  [ApiKey.ConsumerGroupHeartbeat]: consumerGroupHeartbeatApi,
  [ApiKey.ConsumerGroupDescribe]: consumerGroupDescribeApi,
  [ApiKey.ListConfigResources]: listConfigResourcesApi,
  [ApiKey.DescribeTopicPartitions]: describeTopicPartitionsApi,
} as const;

export type Apis = typeof apis;
/** The api keys Gregor has codecs for (and advertises). */
export type SupportedApiKey = keyof Apis;

export type RequestBody<K extends SupportedApiKey> = Decoded<Apis[K]['request']['fields']>;
export type ResponseBody<K extends SupportedApiKey> = Decoded<Apis[K]['response']['fields']>;
export type RequestInput<K extends SupportedApiKey> = EncodeInput<Apis[K]['request']['fields']>;
export type ResponseInput<K extends SupportedApiKey> = EncodeInput<Apis[K]['response']['fields']>;

export function isSupportedApiKey(apiKey: number): apiKey is SupportedApiKey {
  return Object.hasOwn(apis, apiKey);
}

export function apiDefinition<K extends SupportedApiKey>(apiKey: K): Apis[K] {
  return apis[apiKey];
}

/** The ranges to advertise in an ApiVersions response: exactly the APIs with codecs. */
export function supportedApiVersions(): { apiKey: number; minVersion: number; maxVersion: number }[] {
  return Object.values(apis)
    .map((api) => ({
      apiKey: api.apiKey,
      minVersion: api.support.minVersion,
      maxVersion: api.support.maxVersion,
    }))
    .sort((a, b) => a.apiKey - b.apiKey);
}

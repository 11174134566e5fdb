export * from './api.js';
export * from './api-keys.js';
export { addOffsetsToTxnApi } from './apis/add-offsets-to-txn.js';
export { addPartitionsToTxnApi } from './apis/add-partitions-to-txn.js';
export { alterConfigsApi } from './apis/alter-configs.js';
export { alterPartitionReassignmentsApi } from './apis/alter-partition-reassignments.js';
export { alterReplicaLogDirsApi } from './apis/alter-replica-log-dirs.js';
export { apiVersionsApi } from './apis/api-versions.js';
export { consumerGroupDescribeApi } from './apis/consumer-group-describe.js';
export { consumerGroupHeartbeatApi } from './apis/consumer-group-heartbeat.js';
export { createPartitionsApi } from './apis/create-partitions.js';
export { createTopicsApi } from './apis/create-topics.js';
export { deleteGroupsApi } from './apis/delete-groups.js';
export { deleteRecordsApi, deleteRecordsToHighWatermark } from './apis/delete-records.js';
export { deleteTopicsApi } from './apis/delete-topics.js';
export { describeClusterApi, describeClusterEndpointType } from './apis/describe-cluster.js';
export { configResourceType, describeConfigsApi } from './apis/describe-configs.js';
export { describeGroupsApi } from './apis/describe-groups.js';
export { describeLogDirsApi } from './apis/describe-log-dirs.js';
export { describeProducersApi } from './apis/describe-producers.js';
export { describeQuorumApi } from './apis/describe-quorum.js';
export {
  describeTopicPartitionsApi,
  describeTopicPartitionsLimitDefault,
} from './apis/describe-topic-partitions.js';
export { describeTransactionsApi } from './apis/describe-transactions.js';
export { electionType, electLeadersApi } from './apis/elect-leaders.js';
export { endTxnApi } from './apis/end-txn.js';
export { fetchApi, fetchTopicIdVersionMin } from './apis/fetch.js';
export { coordinatorKeyType, findCoordinatorApi } from './apis/find-coordinator.js';
export { heartbeatApi } from './apis/heartbeat.js';
export { alterConfigOpType, incrementalAlterConfigsApi } from './apis/incremental-alter-configs.js';
export { initProducerIdApi } from './apis/init-producer-id.js';
export { joinGroupApi } from './apis/join-group.js';
export { leaveGroupApi } from './apis/leave-group.js';
export { listConfigResourcesApi, listedConfigResourceType } from './apis/list-config-resources.js';
export { listGroupsApi } from './apis/list-groups.js';
export {
  earliestLocalTimestamp,
  earliestTimestamp,
  latestTieredTimestamp,
  latestTimestamp,
  listOffsetsApi,
  maxTimestamp,
} from './apis/list-offsets.js';
export { listPartitionReassignmentsApi } from './apis/list-partition-reassignments.js';
export { listTransactionsApi } from './apis/list-transactions.js';
export {
  authorizedOperationsOmitted,
  metadataApi,
  metadataTopicIdRequestVersionMin,
} from './apis/metadata.js';
export { offsetCommitApi } from './apis/offset-commit.js';
export { offsetDeleteApi } from './apis/offset-delete.js';
export { offsetFetchApi } from './apis/offset-fetch.js';
export { offsetForLeaderEpochApi } from './apis/offset-for-leader-epoch.js';
export { produceApi } from './apis/produce.js';
export { syncGroupApi } from './apis/sync-group.js';
export { txnOffsetCommitApi } from './apis/txn-offset-commit.js';
export { unregisterBrokerApi } from './apis/unregister-broker.js';
export { updateFeaturesApi } from './apis/update-features.js';
export { writeTxnMarkersApi } from './apis/write-txn-markers.js';
export * from './codec.js';
export * from './frames.js';
export * from './header.js';
export * from './produce-request-frame.js';
export * from './random-value.js';
export * from './registry.js';
// The DSL builders (f, t, struct) stay inside messages/: APIs are declared here, used elsewhere.
export {
  type Decoded,
  type EncodeInput,
  type FieldSpec,
  type Fields,
  inVersions,
  parseVersions,
  type TypeSpec,
  type UnknownTaggedFields,
  type VersionRange,
  zeroUuid,
} from './schema.js';

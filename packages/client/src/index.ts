export {
  type Acl,
  type AclEntry,
  type AclFilter,
  AclOperationTypes,
  AclPermissionTypes,
  type AclResource,
  AclResourceTypes,
  type DeleteAclResponse,
  type DescribeAclResponse,
  ResourcePatternTypes,
} from './admin/acls.js';
export * from './admin/configs.js';
export type { FetchOffsetsPartition, TopicOffsets } from './admin/group-offsets.js';
export type {
  ListPartitionReassignmentsResponse,
  OngoingPartitionReassignment,
  OngoingTopicReassignment,
  PartitionReassignment,
  TopicPartitions,
} from './admin/partition-reassignments.js';
export * from './admin.js';
export { BrokerConnection, parseBrokerAddress } from './broker-connection.js';
export { Cluster, type PartitionMetadata, type TopicMetadata } from './cluster.js';
export * from './connection.js';
export {
  type AssignmentInput,
  type PartitionAssigner,
  PartitionAssigners,
  rangeAssigner,
  roundRobinAssigner,
} from './consumer/assigners.js';
export {
  type Batch,
  Consumer,
  type ConsumerBatch,
  type ConsumerBatchesConfig,
  type ConsumerConfig,
  type ConsumerRunConfig,
  type EachBatchPayload,
  type EachMessagePayload,
  type KafkaMessage,
  type TopicPartitionOffset,
  type TopicPartitionTimestamp,
} from './consumer/consumer.js';
export { type FetchedMessage, type FetchedRecords, fetchedRecords } from './consumer/fetch-records.js';
export {
  type BatchProcessPayload,
  type CommitOffsetsPayload,
  type ConsumerEventName,
  type ConsumerEventPayloads,
  type CrashPayload,
  consumerEvents,
  type EndBatchProcessPayload,
  type FetchPayload,
  type FetchStartPayload,
  type GroupJoinPayload,
  type HeartbeatPayload,
  type RebalancingPayload,
  type ReceivedUnsubscribedTopicsPayload,
} from './consumer/instrumentation.js';
export {
  type AssignerCluster,
  AssignerProtocol,
  type GroupMember,
  type GroupMemberAssignment,
  type KafkaJSAssigner,
  type KafkaJSAssignerContext,
  type KafkaJSAssignerCreator,
} from './consumer/kafkajs-assigners.js';
export * from './errors.js';
export {
  type AdminEventName,
  type AdminEventPayloads,
  adminEvents,
  type InstrumentationEvent,
  type InstrumentationListener,
  type ProducerEventName,
  type ProducerEventPayloads,
  producerEvents,
  type RequestPayload,
  type RequestQueueSizePayload,
  type RequestTimeoutPayload,
} from './instrumentation.js';
export { Kafka, type KafkaConfig } from './kafka.js';
export { type LogCreator, type LogEntry, type Logger, type LogLevel, logLevel } from './logger.js';
export { createLegacyPartitioner, legacyMurmur2 } from './producer/legacy-partitioner.js';
export {
  createDefaultPartitioner,
  type ICustomPartitioner,
  murmur2,
  murmur2Partition,
  type Partitioner,
  Partitioners,
} from './producer/partitioners.js';
export {
  CompressionTypes,
  type IHeaders,
  type Message,
  Producer,
  type ProducerBatchRecord,
  type ProducerConfig,
  type ProducerRecord,
} from './producer/producer.js';
export type { RecordMetadata } from './producer/producer-batch.js';
export { ProducerStream, type ProducerStreamOptions, type StreamRecord } from './producer/producer-stream.js';
export { Transaction } from './producer/transaction.js';
export type { TransactionOffsets, TransactionState } from './producer/transaction-manager.js';
export { type ResolvedRetry, type RetryOptions, resolveRetry } from './retry.js';
export {
  authenticate as authenticateSasl,
  type OauthbearerProviderResponse,
  type OauthbearerSASLOptions,
  type PasswordSASLOptions,
  type SASLOptions,
  type SaslConnectionInfo,
} from './sasl/sasl-authenticator.js';

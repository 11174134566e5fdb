// What the Kafka API handlers need from the broker process, as interfaces the node implements:
// settings, the metadata image this broker has applied, a channel to the active controller, the
// replica manager, a clock and a logger. Tests implement them with LocalClusterFixture
// (src/testing/), which runs the real Controller in-process.

import type { Clock } from '@gregor/ground';
import type {
  AclBinding,
  AclBindingFilter,
  AlterClientQuotasRequest,
  AlterClientQuotasResponse,
  AlterPartitionReassignmentsRequest,
  AlterUserScramCredentialsRequest,
  AlterUserScramCredentialsResponse,
  ControllerError,
  CreateAclsResponse,
  CreateDelegationTokenRequest,
  CreateDelegationTokenResponse,
  CreatePartitionsRequest,
  CreatePartitionsResponse,
  CreateTopicRequest,
  CreateTopicResponse,
  DelegationTokenExpiryResponse,
  DeleteAclsResponse,
  DeleteTopicResponse,
  ElectionResult,
  ElectionType,
  ExpireDelegationTokenRequest,
  IncrementalAlterConfigsResponse,
  IncrementalAlterTopicConfigsRequest,
  MetadataImage,
  ReassignmentResult,
  RenewDelegationTokenRequest,
  SupportedFeature,
  TopicPartitionName,
  TopicSelector,
  UpdateFeaturesRequest,
} from '@gregor/metadata';
import type { LogConfig } from '@gregor/storage';
import type { FetchSessionCache } from '../fetch-sessions/fetch-session-cache.js';
import type { Logger } from '../logging.js';
import type { BrokerMetrics } from '../metrics/broker-metrics.js';
import type { ClientQuotas } from '../quotas/client-quotas.js';
import type { ReplicaManager } from '../replica/replica-manager.js';
import type { StandardAuthorizer } from '../security/authorizer.js';

/** One broker config as DescribeConfigs reports it for this broker's resource. */
export interface DescribedBrokerConfig {
  /** Kafka's key, e.g. `num.partitions`. */
  readonly name: string;
  /** null for a sensitive value or one without a value. */
  readonly value: string | null;
  /** Set in server.properties (or the environment), or left at its default. */
  readonly source: 'static-broker-config' | 'default';
  readonly isSensitive: boolean;
  /** Kafka's ConfigDef type name (`int`, `list`, ...), undefined for a key Kafka does not have. */
  readonly type?: string | undefined;
  readonly documentation?: string | null;
}

/** The broker settings the API handlers use. */
export interface BrokerSettings {
  /** `num.partitions`: partitions of an auto-created topic. */
  readonly numPartitions: number;
  /** `default.replication.factor`: replication factor of an auto-created topic. */
  readonly defaultReplicationFactor: number;
  /** `auto.create.topics.enable` (default true). */
  readonly autoCreateTopicsEnable: boolean;
  /** `delete.topic.enable` (default true): false refuses every DeleteTopics. */
  readonly deleteTopicEnable: boolean;
  /**
   * Topic defaults from the broker's `log.*` keys (storage's parseBrokerLogConfig): the base topic
   * configs apply over. Carries `message.max.bytes` (maxMessageBytes), `min.insync.replicas`
   * (minInsyncReplicas) and `log.message.timestamp.type` (messageTimestampType).
   */
  readonly brokerLogConfig: LogConfig;
  /**
   * `max.request.partition.size.limit`: the most partitions one DescribeTopicPartitions response
   * carries (Kafka's default, 2000, when absent).
   */
  readonly maxRequestPartitionSizeLimit?: number;
  /** Every broker config with its value and source, for DescribeConfigs on this broker. */
  readonly describedConfigs: readonly DescribedBrokerConfig[];
  /**
   * `delegation.token.secret.key` (or its deprecated name `delegation.token.master.key`): signs
   * delegation tokens; empty or absent: the delegation token APIs answer DELEGATION_TOKEN_AUTH_DISABLED.
   */
  readonly delegationTokenSecretKey?: string;
}

/** The cluster metadata as this broker has applied it. */
export interface BrokerMetadata {
  /** The latest image applied on this broker (the replica manager has applied it too). */
  image(): MetadataImage;
  /** The active controller's id, or -1 when none is known. */
  controllerId(): number;
  /**
   * The metadata log offset the image includes (-1: none yet). ApiVersions gives it as the
   * finalized features epoch, as Kafka's KRaft brokers do: it only grows, so a client that hears
   * several brokers keeps the newest finalized levels.
   */
  appliedOffset(): number;
}

export interface ControllerRequestOptions {
  /** How long the caller waits for the change to commit and apply, in ms. */
  readonly timeoutMs: number;
}

export interface ValidatingRequestOptions extends ControllerRequestOptions {
  /** Check everything, answer as if done, change nothing. */
  readonly validateOnly: boolean;
}

/** One result per request entry, in request order: the controller's answer, or a typed error. */
export type ControllerResults<R> = readonly (R | ControllerError)[];

/**
 * The way to the active controller (in this process or over the quorum). Each promise resolves once
 * the change is committed in the metadata log AND applied to this broker's image and replica
 * manager, so the caller can answer the client and the next request here sees the change. Expected
 * failures (NOT_CONTROLLER, REQUEST_TIMED_OUT, TOPIC_ALREADY_EXISTS, ...) are ControllerError
 * values in the result list; a rejected promise is a bug.
 */
export interface ControllerChannel {
  createTopics(
    requests: readonly CreateTopicRequest[],
    options: ValidatingRequestOptions,
  ): Promise<ControllerResults<CreateTopicResponse>>;
  deleteTopics(
    selectors: readonly TopicSelector[],
    options: ControllerRequestOptions,
  ): Promise<ControllerResults<DeleteTopicResponse>>;
  createPartitions(
    requests: readonly CreatePartitionsRequest[],
    options: ValidatingRequestOptions,
  ): Promise<ControllerResults<CreatePartitionsResponse>>;
  incrementalAlterConfigs(
    requests: readonly IncrementalAlterTopicConfigsRequest[],
    options: ValidatingRequestOptions,
  ): Promise<ControllerResults<IncrementalAlterConfigsResponse>>;
  alterUserScramCredentials(
    request: AlterUserScramCredentialsRequest,
    options: ControllerRequestOptions,
  ): Promise<AlterUserScramCredentialsResponse | ControllerError>;
  /** CreateDelegationToken with the broker's token id; the controller sets the times. */
  createDelegationToken(
    request: CreateDelegationTokenRequest,
    options: ControllerRequestOptions,
  ): Promise<CreateDelegationTokenResponse | ControllerError>;
  renewDelegationToken(
    request: RenewDelegationTokenRequest,
    options: ControllerRequestOptions,
  ): Promise<DelegationTokenExpiryResponse | ControllerError>;
  expireDelegationToken(
    request: ExpireDelegationTokenRequest,
    options: ControllerRequestOptions,
  ): Promise<DelegationTokenExpiryResponse | ControllerError>;
  createAcls(
    bindings: readonly AclBinding[],
    options: ControllerRequestOptions,
  ): Promise<CreateAclsResponse | ControllerError>;
  deleteAcls(
    filters: readonly AclBindingFilter[],
    options: ControllerRequestOptions,
  ): Promise<DeleteAclsResponse | ControllerError>;
  /**
   * ElectLeaders: one result per partition named; for `null` (every partition) one per election
   * that happened or failed (none for partitions that needed none), as Kafka's controller answers.
   */
  electLeaders(
    electionType: ElectionType,
    partitions: readonly TopicPartitionName[] | null,
    options: ControllerRequestOptions,
  ): Promise<readonly ElectionResult[] | ControllerError>;
  alterClientQuotas(
    request: AlterClientQuotasRequest,
    options: ControllerRequestOptions,
  ): Promise<AlterClientQuotasResponse | ControllerError>;
  /**
   * UpdateFeatures (KIP-584): every update or none; INVALID_UPDATE_VERSION with Kafka's message for
   * the first refused one.
   */
  updateFeatures(
    request: UpdateFeaturesRequest,
    options: ControllerRequestOptions,
  ): Promise<Record<string, never> | ControllerError>;
  /** UnregisterBroker: BROKER_ID_NOT_REGISTERED for an id without a registration. */
  unregisterBroker(
    brokerId: number,
    options: ControllerRequestOptions,
  ): Promise<Record<string, never> | ControllerError>;
  /** AlterPartitionReassignments: one result per partition named, in request order. */
  alterPartitionReassignments(
    request: AlterPartitionReassignmentsRequest,
    options: ControllerRequestOptions,
  ): Promise<readonly ReassignmentResult[] | ControllerError>;
}

export interface BrokerContext {
  readonly brokerId: number;
  readonly clusterId: string;
  readonly settings: BrokerSettings;
  readonly metadata: BrokerMetadata;
  readonly controller: ControllerChannel;
  readonly replicaManager: ReplicaManager;
  /** Consumers' incremental fetch sessions (KIP-227), kept across their connections as Kafka does. */
  readonly fetchSessions: FetchSessionCache;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Where the request path counts and times what it does (`noBrokerMetrics` when metrics are off). */
  readonly metrics: BrokerMetrics;
  /** authorizer.class.name's authorizer; absent: every request is allowed. */
  readonly authorizer?: StandardAuthorizer;
  /** The client byte-rate quotas (producer_byte_rate, consumer_byte_rate); absent: none enforced. */
  readonly quotas?: ClientQuotas;
  /**
   * The features and levels this software supports (KIP-584), advertised in ApiVersions; the
   * controller checks UpdateFeatures against the same table. @gregor/metadata's table when absent.
   */
  readonly supportedFeatures?: readonly SupportedFeature[];
}

export function isFailure<R extends object>(result: R | ControllerError): result is ControllerError {
  return 'errorCode' in result;
}

// The cluster metadata as a log of typed records (KRaft, KIP-631). The active controller proposes
// them in atomic batches through Raft; every broker applies the committed ones, in log order, to its
// `MetadataImage`. A record states a fact; the image checks that the fact fits (see image.ts).

import type { QuotaEntity } from './client-quotas.js';
import type { Uuid } from './uuid.js';

export type BrokerId = number;
export type TopicId = Uuid;

/** The `leader` of a partition that has none (offline). */
export const noLeader = -1;

/** Kafka's `ConfigResource.Type.TOPIC`. */
export const topicResourceType = 2;
/**
 * Kafka's `ConfigResource.Type.BROKER`: dynamic broker configs, named '' for the cluster-wide default
 * (`--entity-default`) or by a broker id.
 */
export const brokerResourceType = 4;

export interface BrokerEndpoint {
  /** The listener name, e.g. `PLAINTEXT`. */
  readonly name: string;
  readonly host: string;
  readonly port: number;
  /** Kafka's security protocol id: 0 PLAINTEXT, 1 SSL, 2 SASL_PLAINTEXT, 3 SASL_SSL. */
  readonly securityProtocol: number;
}

/**
 * A broker (re)registered. `brokerEpoch` is new for every registration and larger than every epoch
 * before it, so requests from an earlier incarnation are refused with STALE_BROKER_EPOCH.
 * A broker registers fenced; it is unfenced once it has caught up with the metadata log.
 */
export interface RegisterBrokerRecord {
  readonly type: 'registerBroker';
  readonly brokerId: BrokerId;
  readonly incarnationId: Uuid;
  readonly brokerEpoch: number;
  readonly listeners: readonly BrokerEndpoint[];
  readonly rack: string | null;
  readonly fenced: boolean;
  readonly inControlledShutdown: boolean;
}

/** The broker may no longer lead or be in an ISR (session expired, re-registered or shut down). */
export interface FenceBrokerRecord {
  readonly type: 'fenceBroker';
  readonly brokerId: BrokerId;
  readonly brokerEpoch: number;
}

/**
 * The broker's registration is removed (UnregisterBroker, an operator's decommission): it is no
 * longer listed, and a broker still running under that id must register again.
 */
export interface UnregisterBrokerRecord {
  readonly type: 'unregisterBroker';
  readonly brokerId: BrokerId;
  readonly brokerEpoch: number;
}

/** The broker caught up with the metadata log and may lead and join ISRs again. */
export interface UnfenceBrokerRecord {
  readonly type: 'unfenceBroker';
  readonly brokerId: BrokerId;
  readonly brokerEpoch: number;
}

/** The broker asked to shut down cleanly; it is not unfenced again until it registers anew. */
export interface BrokerRegistrationChangeRecord {
  readonly type: 'brokerRegistrationChange';
  readonly brokerId: BrokerId;
  readonly brokerEpoch: number;
  readonly inControlledShutdown: boolean;
}

/** One partition's replica on a broker. */
export interface ReplicaOnBroker {
  readonly topicId: TopicId;
  readonly partitionIndex: number;
}

/**
 * A log dir of the broker failed (Kafka's LogDirFailureChannel; the heartbeat's OfflineLogDirs of
 * KIP-858): these replicas on it are offline. Kafka records the dir per replica in the partition
 * and the broker's online dirs in its registration; Gregor keeps no replica-to-dir assignment in the
 * metadata, so the broker names the replicas it held there. They may not lead or be in the ISR, and
 * Metadata reports them in `offlineReplicas`, until the broker registers again (a restart).
 */
export interface BrokerReplicasOfflineRecord {
  readonly type: 'brokerReplicasOffline';
  readonly brokerId: BrokerId;
  readonly brokerEpoch: number;
  /** The failed log dirs, as the broker names them (its `log.dirs` entries). */
  readonly logDirs: readonly string[];
  readonly replicas: readonly ReplicaOnBroker[];
}

/** A topic was created. Its partitions and configs follow in the same batch. */
export interface TopicRecord {
  readonly type: 'topic';
  readonly name: string;
  readonly topicId: TopicId;
}

/** A partition was created, with its full state. Partitions of a topic are created in index order. */
export interface PartitionRecord {
  readonly type: 'partition';
  readonly topicId: TopicId;
  readonly partitionIndex: number;
  readonly replicas: readonly BrokerId[];
  readonly isr: readonly BrokerId[];
  readonly leader: BrokerId;
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
  /**
   * A reassignment in progress (KIP-455): the replicas being added (not yet in the ISR) and the
   * ones to be removed once they are; both subsets of `replicas`. Absent: none.
   */
  readonly addingReplicas?: readonly BrokerId[];
  readonly removingReplicas?: readonly BrokerId[];
}

/**
 * A partition's leader and/or ISR changed. `null` fields are unchanged. Applying it adds one to the
 * partition epoch, and one to the leader epoch when `leader` is set (even to -1), as Kafka's
 * `PartitionRegistration.merge` does: followers and clients fence on those epochs.
 */
export interface PartitionChangeRecord {
  readonly type: 'partitionChange';
  readonly topicId: TopicId;
  readonly partitionIndex: number;
  readonly leader: BrokerId | null;
  readonly isr: readonly BrokerId[] | null;
  /**
   * A reassignment (KIP-455) changed the replica set and what is being added and removed; null or
   * absent fields are unchanged, as in Kafka's PartitionChangeRecord.
   */
  readonly replicas?: readonly BrokerId[] | null;
  readonly addingReplicas?: readonly BrokerId[] | null;
  readonly removingReplicas?: readonly BrokerId[] | null;
}

/** A topic or dynamic broker config was set (`value` a string) or removed (`value` null). */
export interface ConfigRecord {
  readonly type: 'config';
  readonly resourceType: typeof topicResourceType | typeof brokerResourceType;
  readonly resourceName: string;
  readonly name: string;
  readonly value: string | null;
}

/** A topic and its partitions and configs were deleted. */
export interface RemoveTopicRecord {
  readonly type: 'removeTopic';
  readonly topicId: TopicId;
}

/**
 * A block of producer ids was handed to a broker: it owns [previous nextProducerId, nextProducerId).
 * Committed before the broker hears of it, so two brokers never hand out the same id.
 */
export interface ProducerIdsRecord {
  readonly type: 'producerIds';
  readonly brokerId: BrokerId;
  readonly brokerEpoch: number;
  readonly nextProducerId: number;
}

/**
 * A controller became active in `controllerEpoch` (its Raft epoch). Proposed first by a new active
 * controller; once it is committed, every record of earlier epochs is too. Gregor's own record.
 */
export interface ControllerActivationRecord {
  readonly type: 'controllerActivation';
  readonly controllerId: number;
  readonly controllerEpoch: number;
}

/**
 * A user's SCRAM credential for one mechanism (Kafka's ScramMechanism type: 1 SCRAM-SHA-256,
 * 2 SCRAM-SHA-512), salted: the password itself is never stored. Replaces any earlier one.
 */
export interface UserScramCredentialRecord {
  readonly type: 'userScramCredential';
  readonly name: string;
  readonly mechanism: number;
  readonly salt: Buffer;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
  readonly iterations: number;
}

/** A user's SCRAM credential for one mechanism was deleted. */
export interface RemoveUserScramCredentialRecord {
  readonly type: 'removeUserScramCredential';
  readonly name: string;
  readonly mechanism: number;
}

/**
 * A delegation token (KIP-48) was created, renewed or had its expiry moved (Kafka's
 * DelegationTokenRecord): replaces any earlier record of the same token id. Principals are
 * `Type:name` strings (`User:alice`). The HMAC is not stored: every broker derives it from the token
 * id under its `delegation.token.secret.key`, as Kafka's brokers do.
 */
export interface DelegationTokenRecord {
  readonly type: 'delegationToken';
  readonly tokenId: string;
  readonly owner: string;
  readonly requester: string;
  readonly renewers: readonly string[];
  readonly issueTimestampMs: number;
  readonly maxTimestampMs: number;
  readonly expirationTimestampMs: number;
}

/** A delegation token was expired or removed once its expiry passed (Kafka's RemoveDelegationTokenRecord). */
export interface RemoveDelegationTokenRecord {
  readonly type: 'removeDelegationToken';
  readonly tokenId: string;
}

/** How many random bytes the cluster secret holds. */
export const clusterSecretBytes = 32;

/**
 * The cluster's own random secret, written once by the first active controller and never changed:
 * every node derives from it what must be the same on every node and across restarts but
 * unguessable from outside (the made-up SCRAM salt of a user that does not exist). It never leaves
 * the cluster: tools get the image without it (`imageToRecords(image, { secrets: 'omit' })`), and
 * the metadata shell shows a redacted marker. Gregor's own record.
 */
export interface ClusterSecretRecord {
  readonly type: 'clusterSecret';
  readonly secret: Buffer;
}

/** An ACL was created, under an id the controller chose (Kafka's AccessControlEntryRecord). */
export interface AccessControlEntryRecord {
  readonly type: 'accessControlEntry';
  readonly id: string;
  readonly resourceType: number;
  readonly resourceName: string;
  readonly patternType: number;
  readonly principal: string;
  readonly host: string;
  readonly operation: number;
  readonly permissionType: number;
}

/**
 * A client quota was set (`value` a number) or removed (`value` null) for one entity (Kafka's
 * ClientQuotaRecord). The controller has checked the entity and key (client-quotas.ts).
 */
export interface ClientQuotaRecord {
  readonly type: 'clientQuota';
  readonly entity: QuotaEntity;
  readonly key: string;
  readonly value: number | null;
}

/**
 * A feature's finalized level changed (Kafka's FeatureLevelRecord, KIP-584): `level` 0 removes the
 * feature from the finalized set. The controller has checked the level against the features this
 * software supports (features.ts).
 */
export interface FeatureLevelRecord {
  readonly type: 'featureLevel';
  readonly name: string;
  readonly level: number;
}

/** The ACL with this id was deleted. */
export interface RemoveAccessControlEntryRecord {
  readonly type: 'removeAccessControlEntry';
  readonly id: string;
}

export type MetadataRecord =
  | RegisterBrokerRecord
  | UnregisterBrokerRecord
  | FenceBrokerRecord
  | UnfenceBrokerRecord
  | BrokerRegistrationChangeRecord
  | BrokerReplicasOfflineRecord
  | TopicRecord
  | PartitionRecord
  | PartitionChangeRecord
  | ConfigRecord
  | RemoveTopicRecord
  | ProducerIdsRecord
  | ControllerActivationRecord
  | UserScramCredentialRecord
  | RemoveUserScramCredentialRecord
  | DelegationTokenRecord
  | RemoveDelegationTokenRecord
  | AccessControlEntryRecord
  | RemoveAccessControlEntryRecord
  | ClientQuotaRecord
  | FeatureLevelRecord
  | ClusterSecretRecord;

export type MetadataRecordType = MetadataRecord['type'];

/**
 * Record type ids on the wire: Kafka's `MetadataRecordType` ids where Kafka has the record, so a
 * dump reads the same; 100 and up are Gregor's own.
 */
export const metadataRecordTypeIds = {
  registerBroker: 0,
  unregisterBroker: 1,
  topic: 2,
  partition: 3,
  config: 4,
  featureLevel: 12,
  partitionChange: 5,
  fenceBroker: 8,
  unfenceBroker: 9,
  removeTopic: 10,
  clientQuota: 14,
  producerIds: 15,
  brokerRegistrationChange: 17,
  controllerActivation: 100,
  brokerReplicasOffline: 101,
  // Kafka has both records; Gregor's layout differs from theirs, so they take ids of its own.
  userScramCredential: 102,
  removeUserScramCredential: 103,
  accessControlEntry: 104,
  removeAccessControlEntry: 105,
  clusterSecret: 106,
  // Kafka has both records too; Gregor's layout differs, as for the SCRAM records.
  delegationToken: 107,
  removeDelegationToken: 108,
} as const satisfies Record<MetadataRecordType, number>;

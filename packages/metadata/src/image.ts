// The metadata image: the state the committed metadata log describes, immutable, with a delta that
// applies records in log order. Every broker (and the active controller, ahead of commit) holds one.
// Applying a record that does not fit the image throws InvariantViolation: the log is the truth
// every node shares, so a record that breaks it is a bug to stop at, not something to skip.

import { invariant } from '@gregor/ground';
import type { AclBinding } from './acls.js';
import { dynamicBrokerResourceNameProblem } from './broker-configs.js';
import { canonicalQuotaEntity, type QuotaEntity, quotaEntityKey } from './client-quotas.js';
import {
  type BrokerEndpoint,
  type BrokerId,
  clusterSecretBytes,
  type MetadataRecord,
  noLeader,
  type PartitionChangeRecord,
  type TopicId,
  topicResourceType,
} from './records.js';
import { topicNameProblem } from './topic-names.js';
import { isUuid, metadataTopicUuid, type Uuid, zeroUuid } from './uuid.js';

const int32Max = 0x7fffffff;
const int16Max = 0x7fff;

export interface BrokerRegistration {
  readonly brokerId: BrokerId;
  readonly incarnationId: Uuid;
  readonly brokerEpoch: number;
  readonly listeners: readonly BrokerEndpoint[];
  readonly rack: string | null;
  readonly fenced: boolean;
  readonly inControlledShutdown: boolean;
  /** Log dirs of this registration that failed (BrokerReplicasOfflineRecord), in the order they did. */
  readonly offlineLogDirs: readonly string[];
  /** Partition indexes by topic id whose replica on this broker is offline; cleared by a new registration. */
  readonly offlineReplicas: ReadonlyMap<TopicId, readonly number[]>;
}

const noOfflineReplicas: ReadonlyMap<TopicId, readonly number[]> = new Map();
const noOfflineLogDirs: readonly string[] = Object.freeze([]);

/** Whether the broker's replica of the partition is offline: its log dir failed. */
export function isReplicaOffline(
  broker: BrokerRegistration | undefined,
  topicId: TopicId,
  partitionIndex: number,
): boolean {
  return broker?.offlineReplicas.get(topicId)?.includes(partitionIndex) ?? false;
}

export interface PartitionState {
  readonly replicas: readonly BrokerId[];
  readonly isr: readonly BrokerId[];
  /** A member of `isr`, or -1 (`noLeader`) when the partition is offline. */
  readonly leader: BrokerId;
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
  /**
   * While a reassignment is in progress (KIP-455): the replicas being added, which join the ISR by
   * catching up, and the ones removed once every added one has. Both empty otherwise.
   */
  readonly addingReplicas: readonly BrokerId[];
  readonly removingReplicas: readonly BrokerId[];
}

/** Whether the partition is being reassigned. */
export function isReassigning(partition: PartitionState): boolean {
  return partition.addingReplicas.length > 0 || partition.removingReplicas.length > 0;
}

/** The replica set a reassignment in progress moves to: the replicas minus the ones being removed. */
export function targetReplicas(partition: PartitionState): readonly BrokerId[] {
  return partition.replicas.filter((id) => !partition.removingReplicas.includes(id));
}

export interface TopicImage {
  readonly name: string;
  readonly topicId: TopicId;
  /** Indexed by partition index: partitions are created in order, never removed one by one. */
  readonly partitions: readonly PartitionState[];
}

export interface ProducerIdsState {
  /** The broker that got the latest block, and its epoch then. */
  readonly brokerId: BrokerId;
  readonly brokerEpoch: number;
  /** The first id not yet handed out. */
  readonly nextProducerId: number;
}

export interface ActiveControllerState {
  readonly controllerId: number;
  readonly controllerEpoch: number;
}

/** A broker that may lead partitions and be in ISRs. */
export function isBrokerActive(broker: BrokerRegistration | undefined): boolean {
  return broker !== undefined && !broker.fenced && !broker.inControlledShutdown;
}

/** Read access shared by the image and a delta in progress, so the controller can read either. */
export interface MetadataView {
  broker(brokerId: BrokerId): BrokerRegistration | undefined;
  topic(name: string): TopicImage | undefined;
  topicById(topicId: TopicId): TopicImage | undefined;
  topicConfigs(name: string): ReadonlyMap<string, string>;
  topicNames(): Iterable<string>;
  /** Dynamic broker configs of one resource ('' the cluster default, else a broker id), by broker key. */
  brokerConfigs(resourceName: string): ReadonlyMap<string, string>;
}

const noConfigs: ReadonlyMap<string, string> = new Map();

interface ImageParts {
  readonly brokers: ReadonlyMap<BrokerId, BrokerRegistration>;
  readonly topics: ReadonlyMap<string, TopicImage>;
  readonly topicNamesById: ReadonlyMap<TopicId, string>;
  readonly configsByTopic: ReadonlyMap<string, ReadonlyMap<string, string>>;
  readonly dynamicBrokerConfigs: ReadonlyMap<string, ReadonlyMap<string, string>>;
  readonly highestBrokerEpoch: number;
  readonly producerIds: ProducerIdsState | null;
  readonly controller: ActiveControllerState | null;
  readonly scramCredentials: ReadonlyMap<string, ReadonlyMap<number, ScramCredentialState>>;
  readonly delegationTokens: ReadonlyMap<string, DelegationTokenState>;
  readonly acls: ReadonlyMap<string, AclBinding>;
  readonly clientQuotas: ReadonlyMap<string, ClientQuotaState>;
  readonly finalizedFeatures: ReadonlyMap<string, number>;
  readonly clusterSecret: Buffer | null;
}

/** A delegation token as the metadata log holds it (DelegationTokenRecord without its type). */
export interface DelegationTokenState {
  readonly tokenId: string;
  /** `Type:name`, as every principal here. */
  readonly owner: string;
  readonly requester: string;
  readonly renewers: readonly string[];
  readonly issueTimestampMs: number;
  readonly maxTimestampMs: number;
  readonly expirationTimestampMs: number;
}

/** One client quota entity's values by key (producer_byte_rate...), as the metadata log holds them. */
export interface ClientQuotaState {
  readonly entity: QuotaEntity;
  readonly values: ReadonlyMap<string, number>;
}

/** A user's salted SCRAM credential for one mechanism, as the metadata log holds it. */
export interface ScramCredentialState {
  readonly salt: Buffer;
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
  readonly iterations: number;
}

const noScramCredentials: ReadonlyMap<number, ScramCredentialState> = new Map();

export class MetadataImage implements MetadataView, ImageParts {
  static readonly empty = new MetadataImage({
    brokers: new Map(),
    topics: new Map(),
    topicNamesById: new Map(),
    configsByTopic: new Map(),
    dynamicBrokerConfigs: new Map(),
    highestBrokerEpoch: -1,
    producerIds: null,
    controller: null,
    scramCredentials: new Map(),
    delegationTokens: new Map(),
    acls: new Map(),
    clientQuotas: new Map(),
    finalizedFeatures: new Map(),
    clusterSecret: null,
  });

  readonly brokers: ReadonlyMap<BrokerId, BrokerRegistration>;
  /** By topic name. */
  readonly topics: ReadonlyMap<string, TopicImage>;
  readonly topicNamesById: ReadonlyMap<TopicId, string>;
  /** Non-default topic configs by topic name; a topic without any has no entry. */
  readonly configsByTopic: ReadonlyMap<string, ReadonlyMap<string, string>>;
  /**
   * Dynamic broker configs by resource name ('' the cluster-wide default, else a broker id), then by
   * broker key (`log.retention.ms`); a resource without any has no entry. A new map whenever one changes.
   */
  readonly dynamicBrokerConfigs: ReadonlyMap<string, ReadonlyMap<string, string>>;
  /** The largest broker epoch ever handed out (-1: none); a new registration must exceed it. */
  readonly highestBrokerEpoch: number;
  readonly producerIds: ProducerIdsState | null;
  /** The latest activated controller, from ControllerActivationRecord. */
  readonly controller: ActiveControllerState | null;
  /** SCRAM credentials by user name, then by mechanism type (1: SCRAM-SHA-256, 2: SCRAM-SHA-512). */
  readonly scramCredentials: ReadonlyMap<string, ReadonlyMap<number, ScramCredentialState>>;
  /** Delegation tokens by token id, expired ones included until the controller removes them. */
  readonly delegationTokens: ReadonlyMap<string, DelegationTokenState>;
  /** Every ACL, by the id its AccessControlEntryRecord gave it. */
  readonly acls: ReadonlyMap<string, AclBinding>;
  /** Client quotas by `quotaEntityKey` of their entity. */
  readonly clientQuotas: ReadonlyMap<string, ClientQuotaState>;
  /**
   * Finalized feature levels (KIP-584) by feature name, from FeatureLevelRecords; a feature at
   * level 0 has no entry, as in Kafka.
   */
  readonly finalizedFeatures: ReadonlyMap<string, number>;
  /**
   * The cluster secret (ClusterSecretRecord), null until the first active controller's activation
   * commits. Only for deriving values inside the node: never sent in any answer.
   */
  readonly clusterSecret: Buffer | null;

  /** @internal Images are made by `MetadataDelta.apply()`. */
  constructor(parts: ImageParts) {
    this.brokers = parts.brokers;
    this.topics = parts.topics;
    this.topicNamesById = parts.topicNamesById;
    this.configsByTopic = parts.configsByTopic;
    this.dynamicBrokerConfigs = parts.dynamicBrokerConfigs;
    this.highestBrokerEpoch = parts.highestBrokerEpoch;
    this.producerIds = parts.producerIds;
    this.controller = parts.controller;
    this.scramCredentials = parts.scramCredentials;
    this.delegationTokens = parts.delegationTokens;
    this.acls = parts.acls;
    this.clientQuotas = parts.clientQuotas;
    this.finalizedFeatures = parts.finalizedFeatures;
    this.clusterSecret = parts.clusterSecret;
    Object.freeze(this);
  }

  broker(brokerId: BrokerId): BrokerRegistration | undefined {
    return this.brokers.get(brokerId);
  }

  topic(name: string): TopicImage | undefined {
    return this.topics.get(name);
  }

  topicById(topicId: TopicId): TopicImage | undefined {
    const name = this.topicNamesById.get(topicId);
    return name === undefined ? undefined : this.topics.get(name);
  }

  topicConfigs(name: string): ReadonlyMap<string, string> {
    return this.configsByTopic.get(name) ?? noConfigs;
  }

  brokerConfigs(resourceName: string): ReadonlyMap<string, string> {
    return this.dynamicBrokerConfigs.get(resourceName) ?? noConfigs;
  }

  topicNames(): Iterable<string> {
    return this.topics.keys();
  }

  /** A user's SCRAM credentials by mechanism type (empty: none). */
  userScramCredentials(user: string): ReadonlyMap<number, ScramCredentialState> {
    return this.scramCredentials.get(user) ?? noScramCredentials;
  }

  /** The quotas of one entity, by `quotaEntityKey`. */
  clientQuota(entityKey: string): ClientQuotaState | undefined {
    return this.clientQuotas.get(entityKey);
  }

  /** A feature's finalized level, 0 when it is not finalized. */
  finalizedFeatureLevel(name: string): number {
    return this.finalizedFeatures.get(name) ?? 0;
  }

  partition(topicId: TopicId, partitionIndex: number): PartitionState | undefined {
    return this.topicById(topicId)?.partitions[partitionIndex];
  }
}

interface MutableTopic {
  readonly name: string;
  readonly topicId: TopicId;
  readonly partitions: PartitionState[];
}

function isDistinct(ids: readonly number[]): boolean {
  return new Set(ids).size === ids.length;
}

function isEpoch(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= int32Max;
}

function isBrokerId(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= int32Max;
}

/**
 * Records applied on top of a base image, copy-on-write: maps are copied on their first change, a
 * topic's partition list on the first change to that topic. `apply()` seals the result into a new
 * image; the base is never touched. Reads see the records replayed so far.
 */
export class MetadataDelta implements MetadataView {
  private brokers: Map<BrokerId, BrokerRegistration> | null = null;
  private topics: Map<string, TopicImage> | null = null;
  private topicNamesById: Map<TopicId, string> | null = null;
  private configsByTopic: Map<string, ReadonlyMap<string, string>> | null = null;
  private dynamicBrokerConfigs: Map<string, ReadonlyMap<string, string>> | null = null;
  private highestBrokerEpoch: number;
  private producerIds: ProducerIdsState | null;
  private controller: ActiveControllerState | null;
  private scramCredentials: Map<string, ReadonlyMap<number, ScramCredentialState>> | null = null;
  private delegationTokens: Map<string, DelegationTokenState> | null = null;
  private acls: Map<string, AclBinding> | null = null;
  private clientQuotas: Map<string, ClientQuotaState> | null = null;
  private finalizedFeatures: Map<string, number> | null = null;
  private clusterSecret: Buffer | null;
  /** Topics whose partition array this delta owns (copied), by name. */
  private readonly ownedTopics = new Map<string, MutableTopic>();
  private sealed = false;

  /** Brokers and topics this delta touched, for brokers that react to changes (become leader...). */
  readonly changedBrokerIds = new Set<BrokerId>();
  readonly changedTopicIds = new Set<TopicId>();
  readonly removedTopics = new Map<TopicId, string>();

  constructor(readonly base: MetadataImage) {
    this.highestBrokerEpoch = base.highestBrokerEpoch;
    this.producerIds = base.producerIds;
    this.controller = base.controller;
    this.clusterSecret = base.clusterSecret;
  }

  broker(brokerId: BrokerId): BrokerRegistration | undefined {
    return (this.brokers ?? this.base.brokers).get(brokerId);
  }

  topic(name: string): TopicImage | undefined {
    return (this.topics ?? this.base.topics).get(name);
  }

  topicById(topicId: TopicId): TopicImage | undefined {
    const name = (this.topicNamesById ?? this.base.topicNamesById).get(topicId);
    return name === undefined ? undefined : this.topic(name);
  }

  topicConfigs(name: string): ReadonlyMap<string, string> {
    return (this.configsByTopic ?? this.base.configsByTopic).get(name) ?? noConfigs;
  }

  brokerConfigs(resourceName: string): ReadonlyMap<string, string> {
    return (this.dynamicBrokerConfigs ?? this.base.dynamicBrokerConfigs).get(resourceName) ?? noConfigs;
  }

  topicNames(): Iterable<string> {
    return (this.topics ?? this.base.topics).keys();
  }

  userScramCredentials(user: string): ReadonlyMap<number, ScramCredentialState> {
    return (this.scramCredentials ?? this.base.scramCredentials).get(user) ?? noScramCredentials;
  }

  clientQuota(entityKey: string): ClientQuotaState | undefined {
    return (this.clientQuotas ?? this.base.clientQuotas).get(entityKey);
  }

  /** A feature's finalized level, 0 when it is not finalized. */
  finalizedFeatureLevel(name: string): number {
    return (this.finalizedFeatures ?? this.base.finalizedFeatures).get(name) ?? 0;
  }

  /** Applies one record; throws InvariantViolation if it does not fit. */
  replay(record: MetadataRecord): this {
    invariant(!this.sealed, 'a metadata delta cannot change after apply()');
    switch (record.type) {
      case 'registerBroker': {
        invariant(isBrokerId(record.brokerId), () => `invalid broker id ${record.brokerId}`);
        invariant(
          Number.isSafeInteger(record.brokerEpoch) && record.brokerEpoch > this.highestBrokerEpoch,
          () =>
            `broker ${record.brokerId} registered with epoch ${record.brokerEpoch}, not above ${this.highestBrokerEpoch}`,
        );
        invariant(isUuid(record.incarnationId), () => `invalid incarnation id ${record.incarnationId}`);
        invariant(record.listeners.length > 0, () => `broker ${record.brokerId} registered no listener`);
        for (const listener of record.listeners) {
          invariant(
            Number.isInteger(listener.port) && listener.port >= 0 && listener.port <= 0xffff,
            () => `broker ${record.brokerId} listener ${listener.name} has port ${listener.port}`,
          );
        }
        const { type: _type, ...registration } = record;
        this.writableBrokers().set(
          record.brokerId,
          Object.freeze({
            ...registration,
            listeners: Object.freeze(record.listeners.map((l) => ({ ...l }))),
            offlineLogDirs: noOfflineLogDirs,
            offlineReplicas: noOfflineReplicas,
          }),
        );
        this.highestBrokerEpoch = record.brokerEpoch;
        this.changedBrokerIds.add(record.brokerId);
        return this;
      }
      case 'unregisterBroker': {
        this.currentBroker(record.brokerId, record.brokerEpoch, record.type);
        this.writableBrokers().delete(record.brokerId);
        this.changedBrokerIds.add(record.brokerId);
        return this;
      }
      case 'fenceBroker':
      case 'unfenceBroker': {
        const broker = this.currentBroker(record.brokerId, record.brokerEpoch, record.type);
        const fenced = record.type === 'fenceBroker';
        invariant(broker.fenced !== fenced, () => `${record.type}: broker ${record.brokerId} already is`);
        invariant(
          fenced || !broker.inControlledShutdown,
          () => `broker ${record.brokerId} cannot be unfenced during controlled shutdown`,
        );
        this.writableBrokers().set(record.brokerId, Object.freeze({ ...broker, fenced }));
        this.changedBrokerIds.add(record.brokerId);
        return this;
      }
      case 'brokerRegistrationChange': {
        const broker = this.currentBroker(record.brokerId, record.brokerEpoch, record.type);
        this.writableBrokers().set(
          record.brokerId,
          Object.freeze({ ...broker, inControlledShutdown: record.inControlledShutdown }),
        );
        this.changedBrokerIds.add(record.brokerId);
        return this;
      }
      case 'brokerReplicasOffline': {
        const broker = this.currentBroker(record.brokerId, record.brokerEpoch, record.type);
        const offlineReplicas = new Map(broker.offlineReplicas);
        for (const { topicId, partitionIndex } of record.replicas) {
          const partition = this.topicById(topicId)?.partitions[partitionIndex];
          invariant(
            partition?.replicas.includes(record.brokerId) === true,
            () =>
              `${record.type}: broker ${record.brokerId} holds no replica of ${topicId}-${partitionIndex}`,
          );
          const offline = offlineReplicas.get(topicId) ?? [];
          invariant(
            !offline.includes(partitionIndex),
            () =>
              `${record.type}: ${topicId}-${partitionIndex} is already offline on broker ${record.brokerId}`,
          );
          offlineReplicas.set(topicId, Object.freeze([...offline, partitionIndex]));
          this.changedTopicIds.add(topicId);
        }
        const newLogDirs = record.logDirs.filter((logDir) => !broker.offlineLogDirs.includes(logDir));
        invariant(
          record.replicas.length > 0 || newLogDirs.length > 0,
          () => `${record.type}: nothing new for broker ${record.brokerId}`,
        );
        this.writableBrokers().set(
          record.brokerId,
          Object.freeze({
            ...broker,
            offlineLogDirs: Object.freeze([...broker.offlineLogDirs, ...new Set(newLogDirs)]),
            offlineReplicas,
          }),
        );
        this.changedBrokerIds.add(record.brokerId);
        return this;
      }
      case 'topic': {
        const problem = topicNameProblem(record.name);
        invariant(problem === null, () => `topic record: ${problem}`);
        invariant(this.topic(record.name) === undefined, () => `topic ${record.name} already exists`);
        invariant(
          isUuid(record.topicId) && record.topicId !== zeroUuid && record.topicId !== metadataTopicUuid,
          () => `topic ${record.name} has invalid or reserved id ${record.topicId}`,
        );
        invariant(this.topicById(record.topicId) === undefined, () => `topic id ${record.topicId} in use`);
        const topic: MutableTopic = { name: record.name, topicId: record.topicId, partitions: [] };
        this.writableTopics().set(record.name, topic);
        this.ownedTopics.set(record.name, topic);
        this.writableTopicNamesById().set(record.topicId, record.name);
        this.changedTopicIds.add(record.topicId);
        return this;
      }
      case 'partition': {
        const topic = this.ownTopic(record.topicId, 'partition');
        invariant(
          record.partitionIndex === topic.partitions.length,
          () =>
            `partition ${record.partitionIndex} of ${topic.name} created out of order (next is ${topic.partitions.length})`,
        );
        const state: PartitionState = Object.freeze({
          replicas: Object.freeze([...record.replicas]),
          isr: Object.freeze([...record.isr]),
          leader: record.leader,
          leaderEpoch: record.leaderEpoch,
          partitionEpoch: record.partitionEpoch,
          addingReplicas: Object.freeze([...(record.addingReplicas ?? [])]),
          removingReplicas: Object.freeze([...(record.removingReplicas ?? [])]),
        });
        this.checkPartition(topic.name, record.partitionIndex, state);
        topic.partitions.push(state);
        this.changedTopicIds.add(record.topicId);
        return this;
      }
      case 'partitionChange': {
        const topic = this.ownTopic(record.topicId, 'partitionChange');
        const current = topic.partitions[record.partitionIndex];
        invariant(
          current !== undefined,
          () => `partition change for unknown partition ${topic.name}-${record.partitionIndex}`,
        );
        const next = mergePartitionChange(current, record);
        this.checkPartition(topic.name, record.partitionIndex, next);
        topic.partitions[record.partitionIndex] = next;
        this.changedTopicIds.add(record.topicId);
        // A reassignment took the replica off these brokers: an offline marker of theirs for it goes
        // too (as for a deleted topic); the files stay on the failed dir until the broker restarts.
        for (const brokerId of current.replicas) {
          if (!next.replicas.includes(brokerId))
            this.forgetOfflineReplica(brokerId, record.topicId, record.partitionIndex);
        }
        return this;
      }
      case 'config': {
        if (record.resourceType !== topicResourceType) {
          const problem = dynamicBrokerResourceNameProblem(record.resourceName);
          invariant(problem === null, () => `broker config record: ${problem}`);
          invariant(record.name.length > 0, 'config record with an empty name');
          this.dynamicBrokerConfigs ??= new Map(this.base.dynamicBrokerConfigs);
          const configs = new Map(this.brokerConfigs(record.resourceName));
          if (record.value === null) configs.delete(record.name);
          else configs.set(record.name, record.value);
          if (configs.size === 0) this.dynamicBrokerConfigs.delete(record.resourceName);
          else this.dynamicBrokerConfigs.set(record.resourceName, configs);
          return this;
        }
        invariant(
          this.topic(record.resourceName) !== undefined,
          () => `config ${record.name} for unknown topic ${record.resourceName}`,
        );
        invariant(record.name.length > 0, 'config record with an empty name');
        const configs = new Map(this.topicConfigs(record.resourceName));
        if (record.value === null) configs.delete(record.name);
        else configs.set(record.name, record.value);
        if (configs.size === 0) this.writableConfigs().delete(record.resourceName);
        else this.writableConfigs().set(record.resourceName, configs);
        const topicId = this.topic(record.resourceName)!.topicId;
        this.changedTopicIds.add(topicId);
        return this;
      }
      case 'removeTopic': {
        const topic = this.topicById(record.topicId);
        invariant(topic !== undefined, () => `removal of unknown topic id ${record.topicId}`);
        this.writableTopics().delete(topic.name);
        this.writableTopicNamesById().delete(record.topicId);
        this.writableConfigs().delete(topic.name);
        this.ownedTopics.delete(topic.name);
        this.changedTopicIds.delete(record.topicId);
        this.removedTopics.set(record.topicId, topic.name);
        for (const broker of (this.brokers ?? this.base.brokers).values()) {
          if (!broker.offlineReplicas.has(record.topicId)) continue;
          const offlineReplicas = new Map(broker.offlineReplicas);
          offlineReplicas.delete(record.topicId);
          this.writableBrokers().set(broker.brokerId, Object.freeze({ ...broker, offlineReplicas }));
        }
        return this;
      }
      case 'producerIds': {
        invariant(
          this.broker(record.brokerId) !== undefined,
          () => `producer ids for unknown broker ${record.brokerId}`,
        );
        const previousNext = this.producerIds?.nextProducerId ?? 0;
        invariant(
          Number.isSafeInteger(record.nextProducerId) && record.nextProducerId > previousNext,
          () => `producer id block ends at ${record.nextProducerId}, not after ${previousNext}`,
        );
        this.producerIds = Object.freeze({
          brokerId: record.brokerId,
          brokerEpoch: record.brokerEpoch,
          nextProducerId: record.nextProducerId,
        });
        return this;
      }
      case 'userScramCredential': {
        invariant(record.name !== '', 'a SCRAM credential for an empty user name');
        invariant(
          Number.isInteger(record.iterations) && record.iterations > 0,
          () => `SCRAM credential of ${record.name} with ${record.iterations} iterations`,
        );
        const credentials = new Map(this.userScramCredentials(record.name));
        credentials.set(
          record.mechanism,
          Object.freeze({
            salt: record.salt,
            storedKey: record.storedKey,
            serverKey: record.serverKey,
            iterations: record.iterations,
          }),
        );
        this.writableScramCredentials().set(record.name, credentials);
        return this;
      }
      case 'removeUserScramCredential': {
        const credentials = new Map(this.userScramCredentials(record.name));
        invariant(
          credentials.delete(record.mechanism),
          () => `removing SCRAM credential ${record.mechanism} of ${record.name}, which does not exist`,
        );
        if (credentials.size === 0) this.writableScramCredentials().delete(record.name);
        else this.writableScramCredentials().set(record.name, credentials);
        return this;
      }
      case 'delegationToken': {
        invariant(record.tokenId !== '', 'a delegation token with an empty id');
        const { type: _type, ...token } = record;
        this.delegationTokens ??= new Map(this.base.delegationTokens);
        this.delegationTokens.set(record.tokenId, Object.freeze({ ...token, renewers: [...token.renewers] }));
        return this;
      }
      case 'removeDelegationToken': {
        this.delegationTokens ??= new Map(this.base.delegationTokens);
        invariant(
          this.delegationTokens.delete(record.tokenId),
          () => `removing delegation token ${record.tokenId}, which does not exist`,
        );
        return this;
      }
      case 'accessControlEntry': {
        const { type: _type, id, ...binding } = record;
        invariant(!(this.acls ?? this.base.acls).has(id), () => `ACL id ${id} is already in use`);
        this.acls ??= new Map(this.base.acls);
        this.acls.set(id, Object.freeze(binding));
        return this;
      }
      case 'clientQuota': {
        invariant(record.entity.length > 0, 'a client quota for an empty entity');
        invariant(record.key !== '', 'a client quota with an empty key');
        invariant(
          record.value === null || (Number.isFinite(record.value) && record.value >= 0),
          () => `client quota ${record.key} = ${record.value}`,
        );
        const key = quotaEntityKey(record.entity);
        this.clientQuotas ??= new Map(this.base.clientQuotas);
        const values = new Map(this.clientQuotas.get(key)?.values);
        if (record.value === null) values.delete(record.key);
        else values.set(record.key, record.value);
        if (values.size === 0) this.clientQuotas.delete(key);
        else
          this.clientQuotas.set(
            key,
            Object.freeze({ entity: Object.freeze(canonicalQuotaEntity(record.entity)), values }),
          );
        return this;
      }
      case 'featureLevel': {
        invariant(record.name !== '', 'a feature level for a feature without a name');
        invariant(
          Number.isInteger(record.level) && record.level >= 0 && record.level <= int16Max,
          () => `feature ${record.name} at level ${record.level}`,
        );
        this.finalizedFeatures ??= new Map(this.base.finalizedFeatures);
        if (record.level === 0) this.finalizedFeatures.delete(record.name);
        else this.finalizedFeatures.set(record.name, record.level);
        return this;
      }
      case 'removeAccessControlEntry': {
        this.acls ??= new Map(this.base.acls);
        invariant(this.acls.delete(record.id), () => `removing ACL ${record.id}, which does not exist`);
        return this;
      }
      case 'clusterSecret': {
        // Written once: a second one would change every node's derived values under their feet.
        invariant(this.clusterSecret === null, 'the cluster secret is written once and never replaced');
        invariant(
          record.secret.length === clusterSecretBytes,
          () => `a cluster secret of ${record.secret.length} bytes, not ${clusterSecretBytes}`,
        );
        this.clusterSecret = Buffer.from(record.secret);
        return this;
      }
      case 'controllerActivation': {
        invariant(isBrokerId(record.controllerId), () => `invalid controller id ${record.controllerId}`);
        const previousEpoch = this.controller?.controllerEpoch ?? -1;
        invariant(
          isEpoch(record.controllerEpoch) && record.controllerEpoch > previousEpoch,
          () => `controller epoch ${record.controllerEpoch} activated after epoch ${previousEpoch}`,
        );
        this.controller = Object.freeze({
          controllerId: record.controllerId,
          controllerEpoch: record.controllerEpoch,
        });
        return this;
      }
    }
  }

  /** Seals the delta into a new image. The delta cannot be replayed into afterwards. */
  apply(): MetadataImage {
    invariant(!this.sealed, 'a metadata delta is applied once');
    this.sealed = true;
    for (const [name, topic] of this.ownedTopics) {
      Object.freeze(topic.partitions);
      this.topics!.set(name, Object.freeze(topic));
    }
    return new MetadataImage({
      brokers: this.brokers ?? this.base.brokers,
      topics: this.topics ?? this.base.topics,
      topicNamesById: this.topicNamesById ?? this.base.topicNamesById,
      configsByTopic: this.configsByTopic ?? this.base.configsByTopic,
      dynamicBrokerConfigs: this.dynamicBrokerConfigs ?? this.base.dynamicBrokerConfigs,
      highestBrokerEpoch: this.highestBrokerEpoch,
      producerIds: this.producerIds,
      controller: this.controller,
      scramCredentials: this.scramCredentials ?? this.base.scramCredentials,
      delegationTokens: this.delegationTokens ?? this.base.delegationTokens,
      acls: this.acls ?? this.base.acls,
      clientQuotas: this.clientQuotas ?? this.base.clientQuotas,
      finalizedFeatures: this.finalizedFeatures ?? this.base.finalizedFeatures,
      clusterSecret: this.clusterSecret,
    });
  }

  private currentBroker(brokerId: BrokerId, brokerEpoch: number, what: string): BrokerRegistration {
    const broker = this.broker(brokerId);
    invariant(broker !== undefined, () => `${what} for unregistered broker ${brokerId}`);
    invariant(
      broker.brokerEpoch === brokerEpoch,
      () => `${what} for broker ${brokerId} epoch ${brokerEpoch}, registered epoch is ${broker.brokerEpoch}`,
    );
    return broker;
  }

  /** The topic with this id, with a partition array this delta may change in place. */
  private ownTopic(topicId: TopicId, what: string): MutableTopic {
    const topic = this.topicById(topicId);
    invariant(topic !== undefined, () => `${what} record for unknown topic id ${topicId}`);
    const owned = this.ownedTopics.get(topic.name);
    if (owned !== undefined) return owned;
    const copy: MutableTopic = {
      name: topic.name,
      topicId: topic.topicId,
      partitions: [...topic.partitions],
    };
    this.writableTopics().set(topic.name, copy);
    this.ownedTopics.set(topic.name, copy);
    return copy;
  }

  private checkPartition(topicName: string, partitionIndex: number, state: PartitionState): void {
    const where = `${topicName}-${partitionIndex}`;
    invariant(state.replicas.length > 0, () => `${where} has no replicas`);
    invariant(isDistinct(state.replicas), () => `${where} replicas ${state.replicas} repeat a broker`);
    // A replica's broker need not be registered: an unregistered broker's replicas stay in their
    // partitions (offline) until they are reassigned, as in Kafka's PartitionRegistration. New
    // replicas are checked where they are placed (replica-placement.ts, reassignment).
    for (const replica of state.replicas) {
      invariant(isBrokerIdValue(replica), () => `${where} replica ${replica} is not a broker id`);
    }
    invariant(state.isr.length > 0, () => `${where} has an empty ISR`);
    invariant(isDistinct(state.isr), () => `${where} ISR ${state.isr} repeats a broker`);
    invariant(
      state.isr.every((id) => state.replicas.includes(id)),
      () => `${where} ISR ${state.isr} is not a subset of replicas ${state.replicas}`,
    );
    invariant(
      state.leader === noLeader || state.isr.includes(state.leader),
      () => `${where} leader ${state.leader} is not in ISR ${state.isr}`,
    );
    invariant(
      isEpoch(state.leaderEpoch) && isEpoch(state.partitionEpoch),
      () => `${where} has invalid epochs ${state.leaderEpoch}/${state.partitionEpoch}`,
    );
    const { addingReplicas, removingReplicas } = state;
    invariant(
      isDistinct(addingReplicas) &&
        isDistinct(removingReplicas) &&
        addingReplicas.every((id) => state.replicas.includes(id) && !removingReplicas.includes(id)) &&
        removingReplicas.every((id) => state.replicas.includes(id)),
      () =>
        `${where} adding ${addingReplicas} / removing ${removingReplicas} are not disjoint subsets of replicas ${state.replicas}`,
    );
    invariant(
      removingReplicas.length < state.replicas.length,
      () => `${where} would remove every replica ${state.replicas}`,
    );
  }

  private forgetOfflineReplica(brokerId: BrokerId, topicId: TopicId, partitionIndex: number): void {
    const broker = this.broker(brokerId);
    const offline = broker?.offlineReplicas.get(topicId);
    if (broker === undefined || offline === undefined || !offline.includes(partitionIndex)) return;
    const offlineReplicas = new Map(broker.offlineReplicas);
    const rest = offline.filter((index) => index !== partitionIndex);
    if (rest.length === 0) offlineReplicas.delete(topicId);
    else offlineReplicas.set(topicId, Object.freeze(rest));
    this.writableBrokers().set(brokerId, Object.freeze({ ...broker, offlineReplicas }));
  }

  private writableBrokers(): Map<BrokerId, BrokerRegistration> {
    this.brokers ??= new Map(this.base.brokers);
    return this.brokers;
  }

  private writableTopics(): Map<string, TopicImage> {
    this.topics ??= new Map(this.base.topics);
    return this.topics;
  }

  private writableTopicNamesById(): Map<TopicId, string> {
    this.topicNamesById ??= new Map(this.base.topicNamesById);
    return this.topicNamesById;
  }

  private writableScramCredentials(): Map<string, ReadonlyMap<number, ScramCredentialState>> {
    this.scramCredentials ??= new Map(this.base.scramCredentials);
    return this.scramCredentials;
  }

  private writableConfigs(): Map<string, ReadonlyMap<string, string>> {
    this.configsByTopic ??= new Map(this.base.configsByTopic);
    return this.configsByTopic;
  }
}

/** The partition state after a change record: epochs move as Kafka's PartitionRegistration.merge. */
export function mergePartitionChange(current: PartitionState, change: PartitionChangeRecord): PartitionState {
  const replicas = change.replicas ?? null;
  const adding = change.addingReplicas ?? null;
  const removing = change.removingReplicas ?? null;
  invariant(
    change.leader !== null ||
      change.isr !== null ||
      replicas !== null ||
      adding !== null ||
      removing !== null,
    () => `empty partition change for partition ${change.partitionIndex} of ${change.topicId}`,
  );
  return Object.freeze({
    replicas: replicas === null ? current.replicas : Object.freeze([...replicas]),
    isr: change.isr === null ? current.isr : Object.freeze([...change.isr]),
    leader: change.leader ?? current.leader,
    leaderEpoch: change.leader === null ? current.leaderEpoch : current.leaderEpoch + 1,
    partitionEpoch: current.partitionEpoch + 1,
    addingReplicas: adding === null ? current.addingReplicas : Object.freeze([...adding]),
    removingReplicas: removing === null ? current.removingReplicas : Object.freeze([...removing]),
  });
}

export function applyRecords(image: MetadataImage, records: readonly MetadataRecord[]): MetadataImage {
  const delta = new MetadataDelta(image);
  for (const record of records) delta.replay(record);
  return delta.apply();
}

export function applyRecord(image: MetadataImage, record: MetadataRecord): MetadataImage {
  return applyRecords(image, [record]);
}

function isBrokerIdValue(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= 0x7fffffff;
}

// The active controller (KRaft's QuorumController, minus its I/O): the one entry point the driver
// calls, a facade over the managers that each own one part of the cluster's metadata, as Kafka
// divides them:
//   - ClusterControlManager (cluster-control.ts): broker registration, sessions, fencing;
//   - ReplicationControlManager (replication-control.ts): topics, partitions, leaders and ISRs;
//   - ConfigurationControlManager (configuration-control.ts): topic configs;
//   - ProducerIdControlManager (producer-id-control.ts): producer id blocks;
//   - ScramControlManager (scram-control.ts): users' SCRAM credentials;
//   - DelegationTokenControlManager (delegation-token-control.ts): delegation tokens (KIP-48);
//   - AclControlManager (acl-control.ts): ACLs;
//   - ClientQuotaControlManager (client-quota-control.ts): client quotas;
//   - FeatureControlManager (feature-control.ts): finalized feature levels (KIP-584).
// An operation gets one ControllerBatch; the managers it involves add their records to it in order
// (a fence, then the partition changes it causes), and the Controller seals it.
//
// Every method is pure apart from the controller's own state: it gets the time as `nowMs`, returns
// the records to propose as ONE atomic batch (or a typed error), and applies them at once to its
// working image, so the next call sees them before they commit (as Kafka's controller does). The
// driver proposes the batch and answers the request only after the batch commits. If the controller
// loses Raft leadership, its working image may hold records that will never commit: the driver drops
// the Controller and activates a new one, from the committed image, when it leads again.
//
// All controller state is derived from the image, except the liveness timers and the catch-up
// offsets of fenced brokers, which are reset at activation (see `Controller.activate`).

import { invariant, type Random } from '@gregor/ground';
import { AclControlManager, type CreateAclsResponse, type DeleteAclsResponse } from './acl-control.js';
import type { AclBinding, AclBindingFilter } from './acls.js';
import { clusterDefaultBrokerResource } from './broker-configs.js';
import {
  type AlterClientQuotasRequest,
  type AlterClientQuotasResponse,
  ClientQuotaControlManager,
} from './client-quota-control.js';
import {
  type BrokerHeartbeatRequest,
  type BrokerHeartbeatResponse,
  type BrokerRegistrationRequest,
  type BrokerRegistrationResponse,
  ClusterControlManager,
  isInt32Id,
} from './cluster-control.js';
import {
  ConfigurationControlManager,
  type IncrementalAlterConfigsResponse,
  type IncrementalAlterTopicConfigsRequest,
} from './configuration-control.js';
import { ControllerBatch } from './controller-batch.js';
import {
  type ControllerConfig,
  controllerConfigProblems,
  defaultControllerConfig,
} from './controller-config.js';
import {
  type CreateDelegationTokenRequest,
  type CreateDelegationTokenResponse,
  DelegationTokenControlManager,
  type DelegationTokenExpiryResponse,
  type ExpireDelegationTokenRequest,
  type RenewDelegationTokenRequest,
} from './delegation-token-control.js';
import {
  type ControllerError,
  type ControllerOutcome,
  type ControllerSuccess,
  isErrorValue,
} from './errors.js';
import {
  FeatureControlManager,
  type UpdateFeaturesRequest,
  type UpdateFeaturesResponse,
} from './feature-control.js';
import {
  bootstrapFeatureLevels,
  type SupportedFeature,
  supportedFeatureRange,
  supportedFeatures,
} from './features.js';
import type { MetadataImage } from './image.js';
import {
  type AllocateProducerIdsRequest,
  type AllocateProducerIdsResponse,
  ProducerIdControlManager,
} from './producer-id-control.js';
import { type BrokerId, brokerResourceType, clusterSecretBytes, type MetadataRecord } from './records.js';
import {
  type AlterPartitionReassignmentsRequest,
  type AlterPartitionRequest,
  type AlterPartitionResponse,
  type CreatePartitionsRequest,
  type CreatePartitionsResponse,
  type CreateTopicRequest,
  type CreateTopicResponse,
  type DeleteTopicResponse,
  type ElectionResult,
  type ElectionType,
  type PreferredElectionResult,
  type ReassignmentResult,
  ReplicationControlManager,
  type TopicPartitionName,
  type TopicSelector,
  type ValidateOnly,
} from './replication-control.js';
import {
  type AlterUserScramCredentialsRequest,
  type AlterUserScramCredentialsResponse,
  ScramControlManager,
} from './scram-control.js';

export interface ControllerActivation {
  /** The committed image, including every record of earlier controller epochs. */
  readonly image: MetadataImage;
  readonly controllerId: number;
  /** The Raft epoch in which this controller leads; stamped into the activation record. */
  readonly controllerEpoch: number;
  readonly clusterId: string;
  readonly nowMs: number;
  /**
   * The metadata log end offset at activation. A broker fenced at activation is unfenced once its
   * applied offset reaches it: at least the offset it had to reach under the previous controller,
   * whose in-memory requirement is lost with it.
   */
  readonly metadataLogEndOffset: number;
  readonly random: Random;
  /**
   * `byteCount` unpredictable bytes for the cluster secret (node:crypto's randomBytes in a node; a
   * seeded source in tests): drawn once, when the image has no secret yet.
   */
  readonly secretBytes: (byteCount: number) => Buffer;
  readonly config?: Partial<ControllerConfig>;
  /** The features and levels this software supports; features.ts's table unless a test gives one. */
  readonly supportedFeatures?: readonly SupportedFeature[];
}

export interface TickResponse {
  readonly fencedBrokerIds: readonly BrokerId[];
  readonly preferredLeaderElectionCount: number;
  /** How late this tick ran past the previous `nextDeadlineMs`, when that counted as a stall. */
  readonly stallMs: number;
  /** Call `tick` again by then (it is never more than one heartbeat interval away). */
  readonly nextDeadlineMs: number;
}

export class Controller {
  readonly config: ControllerConfig;
  readonly controllerId: number;
  readonly controllerEpoch: number;
  readonly clusterId: string;
  private workingImage: MetadataImage;
  private readonly cluster: ClusterControlManager;
  private readonly replication: ReplicationControlManager;
  private readonly configuration: ConfigurationControlManager;
  private readonly producerIds: ProducerIdControlManager;
  private readonly scram: ScramControlManager;
  private readonly delegationTokens: DelegationTokenControlManager;
  private readonly acls: AclControlManager;
  private readonly clientQuotas = new ClientQuotaControlManager();
  private readonly features: FeatureControlManager;
  private expectedTickMs: number | null = null;

  /**
   * Makes this node the active controller. Every registered broker gets a fresh session: the new
   * controller has heard no heartbeat yet, and must not fence a healthy cluster for that. Returns
   * the ControllerActivationRecord to propose first; none when the image already records this very
   * activation (a controller rebuilt from the committed image after a failed proposal, same epoch).
   * The first activation of a cluster (or the first after an upgrade to a version that has it) also
   * writes the cluster secret, in the same batch, so it commits with the activation; a new cluster's
   * first activation also finalizes `bootstrapFeatureLevels` (group.version 1, as Kafka 4).
   */
  static activate(activation: ControllerActivation): { controller: Controller; records: MetadataRecord[] } {
    const controller = new Controller(activation);
    const active = activation.image.controller;
    const batch = controller.newBatch();
    if (
      active?.controllerId !== activation.controllerId ||
      active.controllerEpoch !== activation.controllerEpoch
    ) {
      batch.add({
        type: 'controllerActivation',
        controllerId: activation.controllerId,
        controllerEpoch: activation.controllerEpoch,
      });
    }
    if (active === null) {
      // A new cluster's first activation: its feature levels start where Kafka 4's do, as far as
      // this node's table supports them (a test's table may hold less).
      const table = activation.supportedFeatures ?? supportedFeatures;
      for (const [name, level] of bootstrapFeatureLevels) {
        if (level <= supportedFeatureRange(table, name).maxLevel)
          batch.add({ type: 'featureLevel', name, level });
      }
    }
    if (activation.image.clusterSecret === null) {
      const secret = activation.secretBytes(clusterSecretBytes);
      invariant(secret.length === clusterSecretBytes, () => `secretBytes gave ${secret.length} bytes`);
      batch.add({ type: 'clusterSecret', secret });
    }
    if (batch.records.length === 0) return { controller, records: [] };
    controller.workingImage = batch.delta.apply();
    return { controller, records: batch.records };
  }

  private constructor(activation: ControllerActivation) {
    const config = { ...defaultControllerConfig, ...activation.config };
    const problems = controllerConfigProblems(config);
    invariant(problems.length === 0, () => `controller config: ${problems.join('; ')}`);
    invariant(isInt32Id(activation.controllerId), () => `invalid controller id ${activation.controllerId}`);
    this.config = Object.freeze(config);
    this.controllerId = activation.controllerId;
    this.controllerEpoch = activation.controllerEpoch;
    this.clusterId = activation.clusterId;
    this.workingImage = activation.image;
    const image = (): MetadataImage => this.workingImage;
    this.cluster = new ClusterControlManager(this.config, this.clusterId, image, activation);
    this.configuration = new ConfigurationControlManager(this.config, image);
    this.replication = new ReplicationControlManager(
      this.config,
      image,
      activation.random,
      this.cluster,
      this.configuration,
      activation.nowMs,
    );
    this.producerIds = new ProducerIdControlManager(this.config, image, this.cluster);
    this.scram = new ScramControlManager(image);
    this.delegationTokens = new DelegationTokenControlManager(this.config, image, activation.nowMs);
    this.acls = new AclControlManager(image, activation.random);
    this.features = new FeatureControlManager(activation.supportedFeatures ?? supportedFeatures);
  }

  /** The image with every record this controller proposed applied, committed or not. */
  get image(): MetadataImage {
    return this.workingImage;
  }

  /** When the broker's session expires unless it heartbeats (undefined: no session). */
  sessionDeadlineMs(brokerId: BrokerId): number | undefined {
    return this.cluster.sessionDeadlineMs(brokerId);
  }

  // --- Brokers ------------------------------------------------------------------------------------

  /**
   * A broker (re)registers. It starts fenced; it is unfenced by a heartbeat whose metadata offset
   * has reached `metadataLogEndOffset`, the log end when the registration was accepted, i.e. once it
   * has applied everything committed before it joined. A re-registration (a restart, maybe after
   * kill -9 with unflushed data) also takes the old incarnation out of every ISR and leadership.
   */
  registerBroker(
    request: BrokerRegistrationRequest,
    nowMs: number,
    metadataLogEndOffset: number,
  ): ControllerOutcome<BrokerRegistrationResponse> {
    const batch = this.newBatch();
    const response = this.cluster.registerBroker(batch, request, nowMs, metadataLogEndOffset);
    if (isErrorValue(response)) return response;
    this.replication.handleBrokerFenced(batch, request.brokerId);
    return this.finish(batch, response);
  }

  /**
   * A broker's heartbeat: renews its session, and unfences, fences or shuts it down as asked. A
   * broker fenced because its session expired is unfenced once it has applied `metadataLogEndOffset`
   * (the log end when this heartbeat came), as a registering one is.
   */
  brokerHeartbeat(
    request: BrokerHeartbeatRequest,
    nowMs: number,
    metadataLogEndOffset: number,
  ): ControllerOutcome<BrokerHeartbeatResponse> {
    const accepted = this.cluster.acceptHeartbeat(request, nowMs, metadataLogEndOffset);
    if (isErrorValue(accepted)) return accepted;
    const batch = this.newBatch();
    const { brokerId, brokerEpoch } = accepted.broker;
    // First, so that nothing this heartbeat decides (an unfencing) elects a replica that is offline.
    this.replication.handleReplicasOffline(
      batch,
      brokerId,
      brokerEpoch,
      request.offlineLogDirs ?? [],
      request.offlineReplicas ?? [],
    );
    const outcome = this.cluster.applyHeartbeat(batch, request, accepted);
    if (outcome.brokerChange === 'fenced') this.replication.handleBrokerFenced(batch, brokerId);
    if (outcome.brokerChange === 'unfenced') this.replication.handleBrokerUnfenced(batch, brokerId);
    return this.finish(batch, outcome.response);
  }

  /**
   * UnregisterBroker: the broker leaves every ISR and leadership (fenced first if it is active),
   * then its registration is removed. BROKER_ID_NOT_REGISTERED for an id without one.
   */
  unregisterBroker(brokerId: BrokerId): ControllerOutcome<Record<string, never>> {
    return this.run((batch) => {
      const fenced = this.cluster.fenceForUnregistration(batch, brokerId);
      if (isErrorValue(fenced)) return fenced;
      this.replication.handleBrokerFenced(batch, brokerId);
      this.cluster.unregisterBroker(batch, brokerId);
      return {};
    });
  }

  /**
   * Fences every active broker whose session expired, and restores preferred leaders when due.
   * Call it again by the returned `nextDeadlineMs`. A tick that runs much later than that reveals a
   * stall of the controller itself: heartbeats that arrived meanwhile are still queued, so every
   * session about to expire gets a short grace rather than the whole cluster being fenced.
   */
  tick(nowMs: number): ControllerSuccess<TickResponse> {
    const lateMs = this.expectedTickMs === null ? 0 : nowMs - this.expectedTickMs;
    const stallMs = lateMs > this.config.controllerStallToleranceMs ? lateMs : 0;
    if (stallMs > 0) this.cluster.graceSessionsAfterStall(nowMs);
    const batch = this.newBatch();
    const fencedBrokerIds = this.cluster.fenceExpiredBrokers(batch, nowMs);
    // Fenced all first, so no partition is handed from one expired broker to another.
    for (const brokerId of fencedBrokerIds) this.replication.handleBrokerFenced(batch, brokerId);
    const preferredLeaderElectionCount = this.replication.balancePartitionLeadersIfDue(batch, nowMs);
    this.delegationTokens.removeExpiredTokensIfDue(batch, nowMs);
    const nextDeadlineMs = this.cluster.nextSessionDeadlineMs(
      batch,
      Math.min(
        nowMs + this.config.brokerHeartbeatIntervalMs,
        this.replication.nextImbalanceCheckDueMs,
        this.delegationTokens.nextExpiryCheckDueMs,
      ),
    );
    this.expectedTickMs = nextDeadlineMs;
    return this.finish(batch, { fencedBrokerIds, preferredLeaderElectionCount, stallMs, nextDeadlineMs });
  }

  // --- Topics and partitions ----------------------------------------------------------------------

  createTopic(request: CreateTopicRequest, options: ValidateOnly): ControllerOutcome<CreateTopicResponse> {
    return this.run((batch) => this.replication.createTopic(batch, request, options));
  }

  deleteTopic(selector: TopicSelector): ControllerOutcome<DeleteTopicResponse> {
    return this.run((batch) => this.replication.deleteTopic(batch, selector));
  }

  /** CreatePartitions: grows a topic to `count` partitions, placed like new topics. */
  createPartitions(
    request: CreatePartitionsRequest,
    options: ValidateOnly,
  ): ControllerOutcome<CreatePartitionsResponse> {
    return this.run((batch) => this.replication.createPartitions(batch, request, options));
  }

  /**
   * AlterPartition from a partition leader (KIP-497). The request carries the leader and partition
   * epochs it read; if either is stale, the partition changed since (new leader, or another ISR
   * change won the race) and the request is refused so that the leader reconciles first.
   */
  alterPartition(request: AlterPartitionRequest): ControllerOutcome<AlterPartitionResponse> {
    return this.run((batch) => this.replication.alterPartition(batch, request));
  }

  /**
   * ElectLeaders (PREFERRED): moves each partition's leadership to its first replica when that one
   * is active and in the ISR. `null` means every partition, and then only partitions not led by
   * their preferred replica are reported (elected, or PREFERRED_LEADER_NOT_AVAILABLE).
   */
  electPreferredLeaders(
    partitions: readonly TopicPartitionName[] | null,
  ): ControllerSuccess<PreferredElectionResult[]> {
    const batch = this.newBatch();
    return this.finish(batch, this.replication.electPreferredLeaders(batch, partitions));
  }

  /**
   * ElectLeaders of either type (Kafka's ReplicationControlManager.electLeaders): PREFERRED as
   * above; UNCLEAN gives a leaderless partition a leader even from outside the ISR. One batch for
   * every partition named, so the elections commit together.
   */
  electLeaders(
    electionType: ElectionType,
    partitions: readonly TopicPartitionName[] | null,
  ): ControllerSuccess<ElectionResult[]> {
    if (electionType === 'preferred') return this.electPreferredLeaders(partitions);
    const batch = this.newBatch();
    return this.finish(batch, this.replication.electUncleanLeadersFor(batch, partitions));
  }

  /**
   * AlterPartitionReassignments (KIP-455): starts or cancels each partition's reassignment, one
   * result per partition, all in one batch. Completion follows from AlterPartition (ISR changes).
   */
  alterPartitionReassignments(
    request: AlterPartitionReassignmentsRequest,
  ): ControllerSuccess<ReassignmentResult[]> {
    const batch = this.newBatch();
    return this.finish(batch, this.replication.alterPartitionReassignments(batch, request));
  }

  // --- Configs ------------------------------------------------------------------------------------

  /** IncrementalAlterConfigs for one topic: set, delete, append and subtract, all or nothing. */
  incrementalAlterTopicConfigs(
    request: IncrementalAlterTopicConfigsRequest,
    options: ValidateOnly,
  ): ControllerOutcome<IncrementalAlterConfigsResponse> {
    if (request.resourceType === brokerResourceType)
      return this.incrementalAlterBrokerConfigs(request, options);
    const validated = this.configuration.validateAlterTopicConfigs(request);
    if (isErrorValue(validated)) return validated;
    const { topic, changes } = validated;
    if (options.validateOnly) return { records: [], response: { uncleanLeaderElectionCount: 0 } };
    const batch = this.newBatch();
    this.configuration.alterTopicConfigs(batch, topic.name, changes);
    // Enabling unclean election acts at once on partitions already offline, as Kafka's controller does.
    const uncleanLeaderElectionCount = this.configuration.uncleanLeaderElectionEnabled(batch, topic.name)
      ? this.replication.electUncleanLeaders(batch, topic.topicId)
      : 0;
    return this.finish(batch, { uncleanLeaderElectionCount });
  }

  /**
   * IncrementalAlterConfigs for a dynamic broker config resource ('' the cluster default, or a broker
   * id). Unclean election enabled as the cluster default acts at once on offline partitions of every
   * topic that does not turn it off itself.
   */
  private incrementalAlterBrokerConfigs(
    request: IncrementalAlterTopicConfigsRequest,
    options: ValidateOnly,
  ): ControllerOutcome<IncrementalAlterConfigsResponse> {
    const validated = this.configuration.validateAlterBrokerConfigs(request);
    if (isErrorValue(validated)) return validated;
    if (options.validateOnly) return { records: [], response: { uncleanLeaderElectionCount: 0 } };
    const batch = this.newBatch();
    this.configuration.alterBrokerConfigs(batch, validated.resourceName, validated.changes);
    let uncleanLeaderElectionCount = 0;
    if (validated.resourceName === clusterDefaultBrokerResource) {
      for (const topicName of this.configuration.uncleanElectionTopics(batch)) {
        uncleanLeaderElectionCount += this.replication.electUncleanLeaders(
          batch,
          batch.delta.topic(topicName)!.topicId,
        );
      }
    }
    return this.finish(batch, { uncleanLeaderElectionCount });
  }

  // --- SCRAM credentials --------------------------------------------------------------------------

  /** AlterUserScramCredentials: salted credentials set or removed, per user all or nothing. */
  alterUserScramCredentials(
    request: AlterUserScramCredentialsRequest,
  ): ControllerOutcome<AlterUserScramCredentialsResponse> {
    return this.run((batch) => this.scram.alterUserScramCredentials(batch, request));
  }

  // --- Delegation tokens -------------------------------------------------------------------------

  /** CreateDelegationToken: the broker's token id and principals, with lifetimes from the config. */
  createDelegationToken(
    request: CreateDelegationTokenRequest,
    nowMs: number,
  ): ControllerOutcome<CreateDelegationTokenResponse> {
    return this.run((batch) => this.delegationTokens.createDelegationToken(batch, request, nowMs));
  }

  /** RenewDelegationToken: a later expiry, never past the token's maximum. */
  renewDelegationToken(
    request: RenewDelegationTokenRequest,
    nowMs: number,
  ): ControllerOutcome<DelegationTokenExpiryResponse> {
    return this.run((batch) => this.delegationTokens.renewDelegationToken(batch, request, nowMs));
  }

  /** ExpireDelegationToken: an earlier expiry, or (negative period) the token removed at once. */
  expireDelegationToken(
    request: ExpireDelegationTokenRequest,
    nowMs: number,
  ): ControllerOutcome<DelegationTokenExpiryResponse> {
    return this.run((batch) => this.delegationTokens.expireDelegationToken(batch, request, nowMs));
  }

  // --- ACLs ---------------------------------------------------------------------------------------

  /** CreateAcls: each valid binding stored (once), each invalid one refused on its own. */
  createAcls(bindings: readonly AclBinding[]): ControllerOutcome<CreateAclsResponse> {
    return this.run((batch) => this.acls.createAcls(batch, bindings));
  }

  /** DeleteAcls: every stored binding a filter matches, removed. */
  deleteAcls(filters: readonly AclBindingFilter[]): ControllerOutcome<DeleteAclsResponse> {
    return this.run((batch) => this.acls.deleteAcls(batch, filters));
  }

  // --- Client quotas ------------------------------------------------------------------------------

  /** AlterClientQuotas: each valid entry's changed keys recorded, each invalid one refused on its own. */
  alterClientQuotas(request: AlterClientQuotasRequest): ControllerOutcome<AlterClientQuotasResponse> {
    return this.run((batch) => this.clientQuotas.alterClientQuotas(batch, request));
  }

  // --- Features -----------------------------------------------------------------------------------

  /** UpdateFeatures: every update checked, then all recorded or none (the first failure answers). */
  updateFeatures(request: UpdateFeaturesRequest): ControllerOutcome<UpdateFeaturesResponse> {
    return this.run((batch) => this.features.updateFeatures(batch, request));
  }

  // --- Producer ids -------------------------------------------------------------------------------

  /** AllocateProducerIds: a block no other broker got or will get, since the log records it. */
  allocateProducerIds(request: AllocateProducerIdsRequest): ControllerOutcome<AllocateProducerIdsResponse> {
    return this.run((batch) => this.producerIds.allocateProducerIds(batch, request));
  }

  // --- Internals ----------------------------------------------------------------------------------

  private newBatch(): ControllerBatch {
    return new ControllerBatch(this.workingImage);
  }

  /** One manager operation on a fresh batch: sealed if it answers, dropped if it refuses. */
  private run<R extends object>(
    operation: (batch: ControllerBatch) => R | ControllerError,
  ): ControllerOutcome<R> {
    const batch = this.newBatch();
    const response = operation(batch);
    if (isErrorValue(response)) return response;
    return this.finish(batch, response);
  }

  private finish<R>(batch: ControllerBatch, response: R): ControllerSuccess<R> {
    if (batch.records.length > 0) this.workingImage = batch.delta.apply();
    return { records: batch.records, response };
  }
}

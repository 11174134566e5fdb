// The active controller's decisions (KRaft's QuorumController, minus its I/O): broker registration
// and liveness, leader and ISR changes, topics, configs, producer id blocks. Run by the Raft leader.
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

import {
  type ControllerConfig,
  controllerConfigProblems,
  defaultControllerConfig,
} from './controller-config.js';
import { type ControllerError, ControllerErrorCode, controllerError } from './errors.js';
import {
  isBrokerActive,
  isReplicaOffline,
  MetadataDelta,
  type MetadataImage,
  type PartitionState,
  type TopicImage,
} from './image.js';
import { invariant } from './invariant.js';
import {
  electLeader,
  electPreferredLeader,
  type IsActive,
  partitionChange,
  removeBroker,
} from './partition-election.js';
import type { Random } from './random.js';
import {
  type BrokerEndpoint,
  type BrokerId,
  type MetadataRecord,
  noLeader,
  type ReplicaOnBroker,
  type TopicId,
  topicResourceType,
} from './records.js';
import { assignReplicas } from './replica-placement.js';
import {
  booleanTopicConfig,
  topicConfigProblem,
  uncleanLeaderElectionEnableConfig,
} from './topic-configs.js';
import { topicNameCollisionKey, topicNameProblem } from './topic-names.js';
import { isUuid, randomUuid, type Uuid } from './uuid.js';

export interface ControllerSuccess<R> {
  /** Records to propose as one atomic batch; empty when nothing changes (nothing to propose). */
  readonly records: readonly MetadataRecord[];
  readonly response: R;
}

export type ControllerOutcome<R> = ControllerSuccess<R> | ControllerError;

export function isControllerError<R>(outcome: ControllerOutcome<R>): outcome is ControllerError {
  return 'errorCode' in outcome;
}

/** Listeners one broker may register: each is copied into every broker's image. */
export const listenersPerBrokerMax = 16;
/** Longest rack id accepted. */
export const rackLengthMax = 256;
/** Offline replicas one heartbeat may report; a broker with more reports the rest in later ones. */
export const offlineReplicasPerHeartbeatMax = 10_000;
/** Offline log dirs one heartbeat may report (each one is a `log.dirs` entry). */
export const offlineLogDirsPerHeartbeatMax = 256;
/** Longest listener name or host accepted (a DNS name is at most 253 characters). */
export const listenerFieldLengthMax = 255;
/** Kafka's security protocol ids: PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL. */
const securityProtocolIds: ReadonlySet<number> = new Set([0, 1, 2, 3]);
/** Largest producer id handed out: ids are int64 on the wire but JS numbers here. */
export const producerIdMax = Number.MAX_SAFE_INTEGER;

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
  readonly config?: Partial<ControllerConfig>;
}

export interface BrokerRegistrationRequest {
  readonly brokerId: BrokerId;
  readonly clusterId: string;
  readonly incarnationId: Uuid;
  readonly listeners: readonly BrokerEndpoint[];
  readonly rack: string | null;
}

export interface BrokerRegistrationResponse {
  readonly brokerEpoch: number;
}

export interface BrokerHeartbeatRequest {
  readonly brokerId: BrokerId;
  readonly brokerEpoch: number;
  /** The offset of the last metadata record the broker has applied (-1: none). */
  readonly currentMetadataOffset: number;
  /** The broker wants to stay fenced (e.g. its log directory failed). */
  readonly wantFence: boolean;
  /** The broker is shutting down cleanly: move its leaderships now (controlled shutdown). */
  readonly wantShutDown: boolean;
  /** Log dirs of the broker that failed (Kafka's OfflineLogDirs); absent: none. */
  readonly offlineLogDirs?: readonly string[];
  /**
   * Replicas on those dirs, at most `offlineReplicasPerHeartbeatMax`: they leave their ISRs and
   * leaderships and stay offline until the broker registers again. Absent: none.
   */
  readonly offlineReplicas?: readonly ReplicaOnBroker[];
}

export interface BrokerHeartbeatResponse {
  readonly isCaughtUp: boolean;
  readonly isFenced: boolean;
  /** The controlled shutdown is done: the broker may exit once this batch has committed. */
  readonly shouldShutDown: boolean;
}

export interface TickResponse {
  readonly fencedBrokerIds: readonly BrokerId[];
  readonly preferredLeaderElectionCount: number;
  /** How late this tick ran past the previous `nextDeadlineMs`, when that counted as a stall. */
  readonly stallMs: number;
  /** Call `tick` again by then (it is never more than one heartbeat interval away). */
  readonly nextDeadlineMs: number;
}

export interface TopicConfigEntry {
  readonly name: string;
  readonly value: string;
}

export interface CreateTopicRequest {
  readonly name: string;
  /** -1: the controller's `defaultNumPartitions`. */
  readonly numPartitions: number;
  /** -1: the controller's `defaultReplicationFactor`. */
  readonly replicationFactor: number;
  readonly configs: readonly TopicConfigEntry[];
}

export interface CreateTopicResponse {
  readonly topicId: TopicId;
  readonly numPartitions: number;
  readonly replicationFactor: number;
  readonly configs: readonly TopicConfigEntry[];
}

export interface ValidateOnly {
  /** Check everything and answer as if done, but propose nothing. */
  readonly validateOnly: boolean;
}

export type TopicSelector = { readonly name: string } | { readonly topicId: TopicId };

export interface DeleteTopicResponse {
  readonly name: string;
  readonly topicId: TopicId;
}

export interface CreatePartitionsRequest {
  readonly name: string;
  /** The new total partition count. */
  readonly count: number;
}

export interface CreatePartitionsResponse {
  readonly topicId: TopicId;
  readonly count: number;
}

export interface AlterConfigOperation {
  readonly name: string;
  readonly operation: 'set' | 'delete';
  /** The new value for 'set'; ignored for 'delete'. */
  readonly value: string | null;
}

export interface IncrementalAlterTopicConfigsRequest {
  readonly topicName: string;
  readonly operations: readonly AlterConfigOperation[];
}

export interface IncrementalAlterConfigsResponse {
  /** Leaderless partitions that got a leader because unclean election was just enabled. */
  readonly uncleanLeaderElectionCount: number;
}

/** AlterPartition (KIP-497): a partition leader asks to change its ISR. */
export interface AlterPartitionRequest {
  readonly brokerId: BrokerId;
  readonly brokerEpoch: number;
  readonly topicId: TopicId;
  readonly partitionIndex: number;
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
  readonly newIsr: readonly BrokerId[];
}

export interface AlterPartitionResponse {
  readonly leader: BrokerId;
  readonly leaderEpoch: number;
  readonly isr: readonly BrokerId[];
  readonly partitionEpoch: number;
}

export interface AllocateProducerIdsRequest {
  readonly brokerId: BrokerId;
  readonly brokerEpoch: number;
}

export interface AllocateProducerIdsResponse {
  readonly firstProducerId: number;
  readonly producerIdCount: number;
}

export interface TopicPartitionName {
  readonly topicName: string;
  readonly partitionIndex: number;
}

export interface PreferredElectionResult extends TopicPartitionName {
  /** NONE, ELECTION_NOT_NEEDED, PREFERRED_LEADER_NOT_AVAILABLE or UNKNOWN_TOPIC_OR_PARTITION. */
  readonly errorCode: number;
}

interface BrokerSession {
  deadlineMs: number;
  /** A stall grace was given since the broker's last heartbeat (at most one per heartbeat). */
  graced: boolean;
}

/** Records built against a delta, so each sees the ones before it; sealed only on success. */
class Batch {
  readonly records: MetadataRecord[] = [];
  readonly delta: MetadataDelta;
  readonly isActive: IsActive = (brokerId) => isBrokerActive(this.delta.broker(brokerId));

  constructor(image: MetadataImage) {
    this.delta = new MetadataDelta(image);
  }

  /** Which replicas of one partition may lead or join its ISR: active, and not offline there. */
  eligible(topicId: TopicId, partitionIndex: number): IsActive {
    return (brokerId) => {
      const broker = this.delta.broker(brokerId);
      return isBrokerActive(broker) && !isReplicaOffline(broker, topicId, partitionIndex);
    };
  }

  add(record: MetadataRecord): void {
    this.delta.replay(record);
    this.records.push(record);
  }
}

function isInt32Id(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= 0x7fffffff;
}

const errors = ControllerErrorCode;

/**
 * Heartbeat intervals of grace after a controller stall: one for a heartbeat queued during the stall
 * to be read, one for a broker whose heartbeat timed out during it to send the next.
 */
const stallGraceHeartbeats = 2;

export class Controller {
  readonly config: ControllerConfig;
  readonly controllerId: number;
  readonly controllerEpoch: number;
  readonly clusterId: string;
  private workingImage: MetadataImage;
  private readonly random: Random;
  private readonly sessions = new Map<BrokerId, BrokerSession>();
  /** The metadata offset each fenced broker must reach before it is unfenced. */
  private readonly catchUpOffsets = new Map<BrokerId, number>();
  private expectedTickMs: number | null = null;
  private nextImbalanceCheckMs: number;

  /**
   * Makes this node the active controller. Every registered broker gets a fresh session: the new
   * controller has heard no heartbeat yet, and must not fence a healthy cluster for that. Returns
   * the ControllerActivationRecord to propose first; none when the image already records this very
   * activation (a controller rebuilt from the committed image after a failed proposal, same epoch).
   */
  static activate(activation: ControllerActivation): { controller: Controller; records: MetadataRecord[] } {
    const controller = new Controller(activation);
    const active = activation.image.controller;
    if (
      active?.controllerId === activation.controllerId &&
      active.controllerEpoch === activation.controllerEpoch
    )
      return { controller, records: [] };
    const batch = new Batch(controller.workingImage);
    batch.add({
      type: 'controllerActivation',
      controllerId: activation.controllerId,
      controllerEpoch: activation.controllerEpoch,
    });
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
    this.random = activation.random;
    this.nextImbalanceCheckMs = activation.nowMs + config.leaderImbalanceCheckIntervalMs;
    // The previous controller lost its quorum: in Gregor every broker is also a voter, so its broker
    // is most likely dead (a kill or a crash). It gets a short session, two heartbeats, instead of a
    // full one: if it is alive it heartbeats within one interval and keeps its place; if it is dead
    // its partitions move ~1 s sooner, which is what brings failover under 2 s when the node that
    // dies led both the quorum and partitions.
    const deposedControllerId = activation.image.controller?.controllerId;
    for (const broker of activation.image.brokers.values()) {
      const sessionMs =
        broker.brokerId === deposedControllerId && deposedControllerId !== activation.controllerId
          ? Math.min(config.brokerSessionTimeoutMs, 2 * config.brokerHeartbeatIntervalMs)
          : config.brokerSessionTimeoutMs;
      this.sessions.set(broker.brokerId, { deadlineMs: activation.nowMs + sessionMs, graced: false });
      if (broker.fenced && !broker.inControlledShutdown) {
        this.catchUpOffsets.set(broker.brokerId, activation.metadataLogEndOffset);
      }
    }
  }

  /** The image with every record this controller proposed applied, committed or not. */
  get image(): MetadataImage {
    return this.workingImage;
  }

  /** When the broker's session expires unless it heartbeats (undefined: no session). */
  sessionDeadlineMs(brokerId: BrokerId): number | undefined {
    return this.sessions.get(brokerId)?.deadlineMs;
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
    if (request.clusterId !== this.clusterId) {
      return controllerError(
        errors.INCONSISTENT_CLUSTER_ID,
        `cluster id ${request.clusterId} is not this cluster's ${this.clusterId}`,
      );
    }
    const problem = registrationProblem(request);
    if (problem !== null) return controllerError(errors.INVALID_REQUEST, problem);
    const existing = this.workingImage.broker(request.brokerId);
    if (
      existing !== undefined &&
      existing.incarnationId !== request.incarnationId &&
      !existing.fenced &&
      this.hasLiveSession(request.brokerId, nowMs)
    ) {
      // Two processes with one id: the old one is still heartbeating (or died less than a session ago).
      return controllerError(
        errors.DUPLICATE_BROKER_REGISTRATION,
        `broker ${request.brokerId} is registered by incarnation ${existing.incarnationId} with a live session`,
      );
    }
    const batch = new Batch(this.workingImage);
    const brokerEpoch = this.workingImage.highestBrokerEpoch + 1;
    batch.add({
      type: 'registerBroker',
      brokerId: request.brokerId,
      incarnationId: request.incarnationId,
      brokerEpoch,
      listeners: request.listeners,
      rack: request.rack,
      fenced: true,
      inControlledShutdown: false,
    });
    this.moveAwayFrom(batch, request.brokerId);
    this.sessions.set(request.brokerId, {
      deadlineMs: nowMs + this.config.brokerSessionTimeoutMs,
      graced: false,
    });
    this.catchUpOffsets.set(request.brokerId, metadataLogEndOffset);
    return this.finish(batch, { brokerEpoch });
  }

  /** A broker's heartbeat: renews its session, and unfences, fences or shuts it down as asked. */
  brokerHeartbeat(
    request: BrokerHeartbeatRequest,
    nowMs: number,
  ): ControllerOutcome<BrokerHeartbeatResponse> {
    const broker = this.workingImage.broker(request.brokerId);
    if (broker === undefined) {
      return controllerError(errors.BROKER_ID_NOT_REGISTERED, `broker ${request.brokerId} is not registered`);
    }
    if (broker.brokerEpoch !== request.brokerEpoch) {
      return controllerError(
        errors.STALE_BROKER_EPOCH,
        `broker ${request.brokerId} epoch ${request.brokerEpoch} is not its registered ${broker.brokerEpoch}`,
      );
    }
    this.sessions.set(request.brokerId, {
      deadlineMs: nowMs + this.config.brokerSessionTimeoutMs,
      graced: false,
    });
    const catchUpOffset = this.catchUpOffsets.get(request.brokerId);
    const isCaughtUp = catchUpOffset === undefined || request.currentMetadataOffset >= catchUpOffset;
    const offlineLogDirs = request.offlineLogDirs ?? [];
    const offlineReplicas = request.offlineReplicas ?? [];
    if (
      offlineReplicas.length > offlineReplicasPerHeartbeatMax ||
      offlineLogDirs.length > offlineLogDirsPerHeartbeatMax
    ) {
      return controllerError(
        errors.INVALID_REQUEST,
        `a heartbeat reports at most ${offlineReplicasPerHeartbeatMax} offline replicas and ${offlineLogDirsPerHeartbeatMax} offline log dirs`,
      );
    }
    const batch = new Batch(this.workingImage);
    const { brokerId, brokerEpoch } = broker;
    // First, so that nothing this heartbeat decides (an unfencing) elects a replica that is offline.
    this.takeReplicasOffline(batch, brokerId, brokerEpoch, offlineLogDirs, offlineReplicas);
    if (request.wantShutDown || broker.inControlledShutdown) {
      if (!broker.inControlledShutdown) {
        batch.add({ type: 'brokerRegistrationChange', brokerId, brokerEpoch, inControlledShutdown: true });
        if (!broker.fenced) batch.add({ type: 'fenceBroker', brokerId, brokerEpoch });
        this.moveAwayFrom(batch, brokerId);
      }
      return this.finish(batch, { isCaughtUp, isFenced: true, shouldShutDown: true });
    }
    if (request.wantFence) {
      if (!broker.fenced) {
        batch.add({ type: 'fenceBroker', brokerId, brokerEpoch });
        this.moveAwayFrom(batch, brokerId);
      }
      return this.finish(batch, { isCaughtUp, isFenced: true, shouldShutDown: false });
    }
    if (broker.fenced && isCaughtUp) {
      batch.add({ type: 'unfenceBroker', brokerId, brokerEpoch });
      this.catchUpOffsets.delete(brokerId);
      this.electLeaderlessPartitions(batch, (partition) => partition.replicas.includes(brokerId));
      return this.finish(batch, { isCaughtUp, isFenced: false, shouldShutDown: false });
    }
    return this.finish(batch, { isCaughtUp, isFenced: broker.fenced, shouldShutDown: false });
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
    if (stallMs > 0) {
      // Heartbeats that arrived during the stall are read right after this tick: give every
      // session that is (nearly) expired a short grace to let them through. Once per heartbeat,
      // so a driver that ticks too rarely (a "stall" at every tick) delays fencing a dead broker
      // by one grace, not forever.
      const graceDeadlineMs = nowMs + stallGraceHeartbeats * this.config.brokerHeartbeatIntervalMs;
      for (const session of this.sessions.values()) {
        if (session.graced || session.deadlineMs >= graceDeadlineMs) continue;
        session.deadlineMs = graceDeadlineMs;
        session.graced = true;
      }
    }
    const batch = new Batch(this.workingImage);
    const fencedBrokerIds: BrokerId[] = [];
    const expired = [...this.sessions]
      .filter(([brokerId, session]) => nowMs >= session.deadlineMs && batch.isActive(brokerId))
      .map(([brokerId]) => brokerId)
      .sort((a, b) => a - b);
    for (const brokerId of expired) {
      const broker = batch.delta.broker(brokerId)!;
      batch.add({ type: 'fenceBroker', brokerId, brokerEpoch: broker.brokerEpoch });
      fencedBrokerIds.push(brokerId);
    }
    // Fence them all first, so no partition is handed from one expired broker to another.
    for (const brokerId of expired) this.moveAwayFrom(batch, brokerId);
    let preferredLeaderElectionCount = 0;
    if (this.config.autoLeaderRebalanceEnable && nowMs >= this.nextImbalanceCheckMs) {
      preferredLeaderElectionCount = this.electPreferredInBatch(batch, null).filter(
        (result) => result.errorCode === errors.NONE,
      ).length;
      this.nextImbalanceCheckMs = nowMs + this.config.leaderImbalanceCheckIntervalMs;
    }
    let nextDeadlineMs = Math.min(nowMs + this.config.brokerHeartbeatIntervalMs, this.nextImbalanceCheckMs);
    for (const [brokerId, session] of this.sessions) {
      if (batch.isActive(brokerId)) nextDeadlineMs = Math.min(nextDeadlineMs, session.deadlineMs);
    }
    this.expectedTickMs = nextDeadlineMs;
    return this.finish(batch, { fencedBrokerIds, preferredLeaderElectionCount, stallMs, nextDeadlineMs });
  }

  // --- Topics -------------------------------------------------------------------------------------

  createTopic(request: CreateTopicRequest, options: ValidateOnly): ControllerOutcome<CreateTopicResponse> {
    const nameProblem = topicNameProblem(request.name);
    if (nameProblem !== null) return controllerError(errors.INVALID_TOPIC_EXCEPTION, nameProblem);
    if (this.workingImage.topic(request.name) !== undefined) {
      return controllerError(errors.TOPIC_ALREADY_EXISTS, `topic ${request.name} already exists`);
    }
    const collisionKey = topicNameCollisionKey(request.name);
    for (const existing of this.workingImage.topics.keys()) {
      if (topicNameCollisionKey(existing) === collisionKey) {
        return controllerError(
          errors.INVALID_TOPIC_EXCEPTION,
          `topic ${request.name} collides with existing topic ${existing} ('.' and '_' share metric names)`,
        );
      }
    }
    const numPartitions =
      request.numPartitions === -1 ? this.config.defaultNumPartitions : request.numPartitions;
    if (
      !Number.isInteger(numPartitions) ||
      numPartitions < 1 ||
      numPartitions > this.config.partitionsPerTopicMax
    ) {
      return controllerError(
        errors.INVALID_PARTITIONS,
        `partition count ${request.numPartitions} is not in [1, ${this.config.partitionsPerTopicMax}]`,
      );
    }
    const replicationFactor =
      request.replicationFactor === -1 ? this.config.defaultReplicationFactor : request.replicationFactor;
    const liveBrokerIds = this.liveBrokerIds();
    if (!Number.isInteger(replicationFactor) || replicationFactor < 1) {
      return controllerError(
        errors.INVALID_REPLICATION_FACTOR,
        `replication factor ${request.replicationFactor} is below 1`,
      );
    }
    if (replicationFactor > liveBrokerIds.length) {
      return controllerError(
        errors.INVALID_REPLICATION_FACTOR,
        `replication factor ${replicationFactor} is larger than the ${liveBrokerIds.length} live broker(s)`,
      );
    }
    const configProblem = configEntriesProblem(request.configs);
    if (configProblem !== null) return controllerError(errors.INVALID_CONFIG, configProblem);

    let topicId = randomUuid(this.random);
    while (this.workingImage.topicById(topicId) !== undefined) topicId = randomUuid(this.random);
    const assignment = assignReplicas(
      {
        brokerIds: liveBrokerIds,
        partitionCount: numPartitions,
        replicationFactor,
        firstPartitionIndex: 0,
        fixedStartIndex: null,
      },
      this.random,
    );
    const limitProblem = this.partitionsPerBrokerProblem(assignment);
    if (limitProblem !== null) return controllerError(errors.POLICY_VIOLATION, limitProblem);
    const response: CreateTopicResponse = {
      topicId,
      numPartitions,
      replicationFactor,
      configs: request.configs,
    };
    if (options.validateOnly) return { records: [], response };
    const batch = new Batch(this.workingImage);
    batch.add({ type: 'topic', name: request.name, topicId });
    for (const config of request.configs) {
      batch.add({
        type: 'config',
        resourceType: topicResourceType,
        resourceName: request.name,
        name: config.name,
        value: config.value,
      });
    }
    assignment.forEach((replicas, partitionIndex) => {
      batch.add({
        type: 'partition',
        topicId,
        partitionIndex,
        replicas,
        isr: replicas,
        leader: replicas[0]!,
        leaderEpoch: 0,
        partitionEpoch: 0,
      });
    });
    return this.finish(batch, response);
  }

  /**
   * Why placing `assignment` would give some broker more than partitionsPerBrokerMax replicas (its
   * replicas in the image, fenced brokers included, plus the new ones), or null when it would not.
   */
  private partitionsPerBrokerProblem(assignment: readonly (readonly BrokerId[])[]): string | null {
    const added = new Map<BrokerId, number>();
    for (const replicas of assignment) {
      for (const brokerId of replicas) added.set(brokerId, (added.get(brokerId) ?? 0) + 1);
    }
    const held = new Map<BrokerId, number>();
    for (const topic of this.workingImage.topics.values()) {
      for (const partition of topic.partitions) {
        for (const brokerId of partition.replicas) {
          if (added.has(brokerId)) held.set(brokerId, (held.get(brokerId) ?? 0) + 1);
        }
      }
    }
    const limit = this.config.partitionsPerBrokerMax;
    for (const [brokerId, count] of [...added].sort(([a], [b]) => a - b)) {
      const total = (held.get(brokerId) ?? 0) + count;
      if (total > limit) {
        return (
          `${assignment.length} new partition(s) would give broker ${brokerId} ${total} partition ` +
          `replicas (${held.get(brokerId) ?? 0} held), more than max.broker.partitions=${limit}`
        );
      }
    }
    return null;
  }

  deleteTopic(selector: TopicSelector): ControllerOutcome<DeleteTopicResponse> {
    const topic = this.selectTopic(selector);
    if (isErrorValue(topic)) return topic;
    const batch = new Batch(this.workingImage);
    batch.add({ type: 'removeTopic', topicId: topic.topicId });
    return this.finish(batch, { name: topic.name, topicId: topic.topicId });
  }

  /** CreatePartitions: grows a topic to `count` partitions, placed like new topics. */
  createPartitions(
    request: CreatePartitionsRequest,
    options: ValidateOnly,
  ): ControllerOutcome<CreatePartitionsResponse> {
    const topic = this.workingImage.topic(request.name);
    if (topic === undefined) {
      return controllerError(errors.UNKNOWN_TOPIC_OR_PARTITION, `topic ${request.name} does not exist`);
    }
    const currentCount = topic.partitions.length;
    if (!Number.isInteger(request.count) || request.count <= currentCount) {
      return controllerError(
        errors.INVALID_PARTITIONS,
        `topic ${request.name} has ${currentCount} partitions; ${request.count} is not more`,
      );
    }
    if (request.count > this.config.partitionsPerTopicMax) {
      return controllerError(
        errors.INVALID_PARTITIONS,
        `partition count ${request.count} is more than ${this.config.partitionsPerTopicMax}`,
      );
    }
    const first = topic.partitions[0];
    invariant(first !== undefined, () => `topic ${topic.name} has no partition 0`);
    const replicationFactor = first.replicas.length;
    const liveBrokerIds = this.liveBrokerIds().sort((a, b) => a - b);
    if (replicationFactor > liveBrokerIds.length) {
      return controllerError(
        errors.INVALID_REPLICATION_FACTOR,
        `replication factor ${replicationFactor} is larger than the ${liveBrokerIds.length} live broker(s)`,
      );
    }
    // Continue the round robin where partition 0 started, as Kafka does, so leaders stay spread.
    const startIndex = liveBrokerIds.indexOf(first.replicas[0]!);
    const assignment = assignReplicas(
      {
        brokerIds: liveBrokerIds,
        partitionCount: request.count - currentCount,
        replicationFactor,
        firstPartitionIndex: currentCount,
        fixedStartIndex: startIndex === -1 ? null : startIndex,
      },
      this.random,
    );
    const limitProblem = this.partitionsPerBrokerProblem(assignment);
    if (limitProblem !== null) return controllerError(errors.POLICY_VIOLATION, limitProblem);
    const response: CreatePartitionsResponse = { topicId: topic.topicId, count: request.count };
    if (options.validateOnly) return { records: [], response };
    const batch = new Batch(this.workingImage);
    assignment.forEach((replicas, offset) => {
      batch.add({
        type: 'partition',
        topicId: topic.topicId,
        partitionIndex: currentCount + offset,
        replicas,
        isr: replicas,
        leader: replicas[0]!,
        leaderEpoch: 0,
        partitionEpoch: 0,
      });
    });
    return this.finish(batch, response);
  }

  /** IncrementalAlterConfigs for one topic: set and delete, all or nothing. */
  incrementalAlterTopicConfigs(
    request: IncrementalAlterTopicConfigsRequest,
    options: ValidateOnly,
  ): ControllerOutcome<IncrementalAlterConfigsResponse> {
    const topic = this.workingImage.topic(request.topicName);
    if (topic === undefined) {
      return controllerError(errors.UNKNOWN_TOPIC_OR_PARTITION, `topic ${request.topicName} does not exist`);
    }
    const names = request.operations.map((operation) => operation.name);
    if (new Set(names).size !== names.length) {
      return controllerError(
        errors.INVALID_REQUEST,
        `config names repeat in one request: ${names.join(', ')}`,
      );
    }
    for (const operation of request.operations) {
      if (operation.operation === 'set') {
        const problem =
          operation.value === null
            ? `set ${operation.name} without a value`
            : topicConfigProblem(operation.name, operation.value);
        if (problem !== null) return controllerError(errors.INVALID_CONFIG, problem);
      } else if (topicConfigProblem(operation.name, '') === `unknown topic config ${operation.name}`) {
        return controllerError(errors.INVALID_CONFIG, `unknown topic config ${operation.name}`);
      }
    }
    if (options.validateOnly) return { records: [], response: { uncleanLeaderElectionCount: 0 } };
    const batch = new Batch(this.workingImage);
    const current = this.workingImage.topicConfigs(topic.name);
    for (const operation of request.operations) {
      const value = operation.operation === 'set' ? operation.value : null;
      if ((current.get(operation.name) ?? null) === value) continue;
      batch.add({
        type: 'config',
        resourceType: topicResourceType,
        resourceName: topic.name,
        name: operation.name,
        value,
      });
    }
    // Enabling unclean election acts at once on partitions already offline, as Kafka's controller does.
    let uncleanLeaderElectionCount = 0;
    if (this.uncleanAllowed(batch.delta.topicConfigs(topic.name))) {
      const before = batch.records.length;
      this.electLeaderlessPartitions(batch, () => true, topic.topicId);
      uncleanLeaderElectionCount = batch.records.length - before;
    }
    return this.finish(batch, { uncleanLeaderElectionCount });
  }

  // --- Partitions ---------------------------------------------------------------------------------

  /**
   * AlterPartition from a partition leader (KIP-497). The request carries the leader and partition
   * epochs it read; if either is stale, the partition changed since (new leader, or another ISR
   * change won the race) and the request is refused so that the leader reconciles first.
   */
  alterPartition(request: AlterPartitionRequest): ControllerOutcome<AlterPartitionResponse> {
    const broker = this.workingImage.broker(request.brokerId);
    if (broker === undefined || broker.brokerEpoch !== request.brokerEpoch) {
      return controllerError(
        errors.STALE_BROKER_EPOCH,
        `broker ${request.brokerId} epoch ${request.brokerEpoch} is not registered`,
      );
    }
    const topic = this.workingImage.topicById(request.topicId);
    if (topic === undefined)
      return controllerError(errors.UNKNOWN_TOPIC_ID, `unknown topic id ${request.topicId}`);
    const partition = topic.partitions[request.partitionIndex];
    const where = `${topic.name}-${request.partitionIndex}`;
    if (partition === undefined) {
      return controllerError(errors.UNKNOWN_TOPIC_OR_PARTITION, `partition ${where} does not exist`);
    }
    if (request.leaderEpoch < partition.leaderEpoch) {
      return controllerError(
        errors.FENCED_LEADER_EPOCH,
        `${where} leader epoch ${request.leaderEpoch} is older than ${partition.leaderEpoch}`,
      );
    }
    if (request.leaderEpoch > partition.leaderEpoch) {
      // The active controller's image is ahead of every broker's, so the sender is confused about
      // which controller is active: Kafka answers NOT_CONTROLLER so that it looks again.
      return controllerError(
        errors.NOT_CONTROLLER,
        `${where} leader epoch ${request.leaderEpoch} is in the future`,
      );
    }
    if (partition.leader !== request.brokerId) {
      return controllerError(errors.INVALID_REQUEST, `broker ${request.brokerId} does not lead ${where}`);
    }
    if (
      request.partitionEpoch < partition.partitionEpoch &&
      request.newIsr.length === partition.isr.length &&
      request.newIsr.every((id) => partition.isr.includes(id))
    ) {
      // A resend of a change that already committed (the leader never got the first answer): the
      // ISR is what it asks for, so answer with the current state rather than refuse. A leader that
      // took the refusal as final would stop counting a member the ISR already holds.
      return {
        records: [],
        response: {
          leader: partition.leader,
          leaderEpoch: partition.leaderEpoch,
          isr: partition.isr,
          partitionEpoch: partition.partitionEpoch,
        },
      };
    }
    if (request.partitionEpoch < partition.partitionEpoch) {
      return controllerError(
        errors.INVALID_UPDATE_VERSION,
        `${where} partition epoch ${request.partitionEpoch} is older than ${partition.partitionEpoch}`,
      );
    }
    if (request.partitionEpoch > partition.partitionEpoch) {
      return controllerError(
        errors.NOT_CONTROLLER,
        `${where} partition epoch ${request.partitionEpoch} is in the future`,
      );
    }
    const newIsr = request.newIsr;
    if (
      newIsr.length === 0 ||
      new Set(newIsr).size !== newIsr.length ||
      !newIsr.includes(partition.leader) ||
      !newIsr.every((id) => partition.replicas.includes(id))
    ) {
      return controllerError(
        errors.INVALID_REQUEST,
        `${where} ISR ${newIsr} must be distinct replicas (${partition.replicas}) including leader ${partition.leader}`,
      );
    }
    const ineligible = newIsr.filter((id) => {
      const member = this.workingImage.broker(id);
      return !isBrokerActive(member) || isReplicaOffline(member, topic.topicId, request.partitionIndex);
    });
    if (ineligible.length > 0) {
      return controllerError(
        errors.INELIGIBLE_REPLICA,
        `${where} ISR ${newIsr} includes fenced, shutting-down or offline replica(s) ${ineligible}`,
      );
    }
    const batch = new Batch(this.workingImage);
    const change = partitionChange(topic.topicId, request.partitionIndex, partition, {
      leader: partition.leader,
      isr: newIsr,
    });
    if (change !== null) batch.add(change);
    const next = batch.delta.topicById(topic.topicId)!.partitions[request.partitionIndex]!;
    return this.finish(batch, {
      leader: next.leader,
      leaderEpoch: next.leaderEpoch,
      isr: next.isr,
      partitionEpoch: next.partitionEpoch,
    });
  }

  /**
   * ElectLeaders (PREFERRED): moves each partition's leadership to its first replica when that one
   * is active and in the ISR. `null` means every partition, and then only changes are reported.
   */
  electPreferredLeaders(
    partitions: readonly TopicPartitionName[] | null,
  ): ControllerSuccess<PreferredElectionResult[]> {
    const batch = new Batch(this.workingImage);
    const results = this.electPreferredInBatch(batch, partitions);
    return this.finish(batch, results);
  }

  // --- Producer ids -------------------------------------------------------------------------------

  /** AllocateProducerIds: a block no other broker got or will get, since the log records it. */
  allocateProducerIds(request: AllocateProducerIdsRequest): ControllerOutcome<AllocateProducerIdsResponse> {
    const broker = this.workingImage.broker(request.brokerId);
    if (broker === undefined) {
      return controllerError(errors.BROKER_ID_NOT_REGISTERED, `broker ${request.brokerId} is not registered`);
    }
    if (broker.brokerEpoch !== request.brokerEpoch) {
      return controllerError(
        errors.STALE_BROKER_EPOCH,
        `broker ${request.brokerId} epoch ${request.brokerEpoch} is not its registered ${broker.brokerEpoch}`,
      );
    }
    const firstProducerId = this.workingImage.producerIds?.nextProducerId ?? 0;
    const producerIdCount = this.config.producerIdBlockSize;
    // 2^53 ids at 1000 a block would take millennia at any allocation rate; running out is a bug.
    invariant(firstProducerId + producerIdCount <= producerIdMax, 'producer ids exhausted');
    const batch = new Batch(this.workingImage);
    batch.add({
      type: 'producerIds',
      brokerId: broker.brokerId,
      brokerEpoch: broker.brokerEpoch,
      nextProducerId: firstProducerId + producerIdCount,
    });
    return this.finish(batch, { firstProducerId, producerIdCount });
  }

  // --- Internals ----------------------------------------------------------------------------------

  private finish<R>(batch: Batch, response: R): ControllerSuccess<R> {
    if (batch.records.length > 0) this.workingImage = batch.delta.apply();
    return { records: batch.records, response };
  }

  private hasLiveSession(brokerId: BrokerId, nowMs: number): boolean {
    const session = this.sessions.get(brokerId);
    return session !== undefined && nowMs < session.deadlineMs;
  }

  private liveBrokerIds(): BrokerId[] {
    return [...this.workingImage.brokers.values()].filter(isBrokerActive).map((broker) => broker.brokerId);
  }

  private uncleanAllowed(configs: ReadonlyMap<string, string>): boolean {
    return booleanTopicConfig(
      configs,
      uncleanLeaderElectionEnableConfig,
      this.config.uncleanLeaderElectionEnable,
    );
  }

  /** Every partition whose replicas include `brokerId`, with its topic, in a stable order. */
  private *partitionsOf(
    batch: Batch,
    include: (partition: PartitionState) => boolean,
    onlyTopicId: TopicId | null = null,
  ): Generator<[TopicImage, number, PartitionState]> {
    // A scan of every partition: fine for the partition counts a Gregor cluster holds (a broker-to-
    // partitions index would be the next step). The name list is copied: callers change topics.
    const topics = [...batch.delta.topicNames()].sort();
    for (const name of topics) {
      const topic = batch.delta.topic(name);
      if (topic === undefined || (onlyTopicId !== null && topic.topicId !== onlyTopicId)) continue;
      for (let index = 0; index < topic.partitions.length; index++) {
        const partition = topic.partitions[index]!;
        if (include(partition)) yield [topic, index, partition];
      }
    }
  }

  /** After `brokerId` stopped being active (in `batch`): leave its ISRs and leaderships. */
  private moveAwayFrom(batch: Batch, brokerId: BrokerId): void {
    invariant(!batch.isActive(brokerId), () => `broker ${brokerId} is still active`);
    const touched = [...this.partitionsOf(batch, (p) => p.leader === brokerId || p.isr.includes(brokerId))];
    for (const [topic, index, partition] of touched) {
      const next = removeBroker(
        partition,
        brokerId,
        batch.eligible(topic.topicId, index),
        this.uncleanAllowed(batch.delta.topicConfigs(topic.name)),
      );
      const change = partitionChange(topic.topicId, index, partition, next);
      if (change !== null) batch.add(change);
    }
  }

  /**
   * The broker's log dirs failed (Kafka's `handleDirectoriesOffline`): records its replicas there as
   * offline, then takes each out of its partition's ISR and leadership, as a fence does for every
   * partition of a broker. Replicas already offline, or of partitions gone meanwhile, are skipped.
   */
  private takeReplicasOffline(
    batch: Batch,
    brokerId: BrokerId,
    brokerEpoch: number,
    logDirs: readonly string[],
    replicas: readonly ReplicaOnBroker[],
  ): void {
    const broker = batch.delta.broker(brokerId)!;
    const newLogDirs = [...new Set(logDirs)].filter((logDir) => !broker.offlineLogDirs.includes(logDir));
    const seen = new Set<string>();
    const newReplicas = replicas.filter(({ topicId, partitionIndex }) => {
      const key = `${topicId}:${partitionIndex}`;
      if (seen.has(key)) return false;
      seen.add(key);
      const partition = batch.delta.topicById(topicId)?.partitions[partitionIndex];
      return (
        partition?.replicas.includes(brokerId) === true && !isReplicaOffline(broker, topicId, partitionIndex)
      );
    });
    if (newLogDirs.length === 0 && newReplicas.length === 0) return;
    batch.add({
      type: 'brokerReplicasOffline',
      brokerId,
      brokerEpoch,
      logDirs: newLogDirs,
      replicas: newReplicas,
    });
    for (const { topicId, partitionIndex } of newReplicas) {
      const topic = batch.delta.topicById(topicId)!;
      const partition = topic.partitions[partitionIndex]!;
      if (partition.leader !== brokerId && !partition.isr.includes(brokerId)) continue;
      const next = removeBroker(
        partition,
        brokerId,
        batch.eligible(topicId, partitionIndex),
        this.uncleanAllowed(batch.delta.topicConfigs(topic.name)),
      );
      const change = partitionChange(topicId, partitionIndex, partition, next);
      if (change !== null) batch.add(change);
    }
  }

  /** Gives leaderless partitions (matching `include`) a leader if one is now eligible. */
  private electLeaderlessPartitions(
    batch: Batch,
    include: (partition: PartitionState) => boolean,
    onlyTopicId: TopicId | null = null,
  ): void {
    const leaderless = [...this.partitionsOf(batch, (p) => p.leader === noLeader && include(p), onlyTopicId)];
    for (const [topic, index, partition] of leaderless) {
      const next = electLeader(
        partition,
        partition.isr,
        batch.eligible(topic.topicId, index),
        this.uncleanAllowed(batch.delta.topicConfigs(topic.name)),
      );
      const change = partitionChange(topic.topicId, index, partition, next);
      if (change !== null) batch.add(change);
    }
  }

  private electPreferredInBatch(
    batch: Batch,
    partitions: readonly TopicPartitionName[] | null,
  ): PreferredElectionResult[] {
    const results: PreferredElectionResult[] = [];
    const elect = (topic: TopicImage, partitionIndex: number, partition: PartitionState): number => {
      const election = electPreferredLeader(partition, batch.eligible(topic.topicId, partitionIndex));
      if (election.outcome !== 'elected') {
        return election.outcome === 'notNeeded'
          ? errors.ELECTION_NOT_NEEDED
          : errors.PREFERRED_LEADER_NOT_AVAILABLE;
      }
      const change = partitionChange(topic.topicId, partitionIndex, partition, {
        leader: election.leader,
        isr: partition.isr,
      });
      invariant(change !== null, 'a preferred election changes the leader');
      batch.add(change);
      return errors.NONE;
    };
    if (partitions === null) {
      const candidates = [...this.partitionsOf(batch, (p) => p.leader !== p.replicas[0])];
      for (const [topic, partitionIndex, partition] of candidates) {
        const errorCode = elect(topic, partitionIndex, partition);
        if (errorCode === errors.NONE) results.push({ topicName: topic.name, partitionIndex, errorCode });
      }
      return results;
    }
    for (const { topicName, partitionIndex } of partitions) {
      const topic = batch.delta.topic(topicName);
      const partition = topic?.partitions[partitionIndex];
      const errorCode =
        topic === undefined || partition === undefined
          ? errors.UNKNOWN_TOPIC_OR_PARTITION
          : elect(topic, partitionIndex, partition);
      results.push({ topicName, partitionIndex, errorCode });
    }
    return results;
  }

  private selectTopic(selector: TopicSelector): TopicImage | ControllerError {
    if ('name' in selector) {
      const topic = this.workingImage.topic(selector.name);
      return (
        topic ?? controllerError(errors.UNKNOWN_TOPIC_OR_PARTITION, `topic ${selector.name} does not exist`)
      );
    }
    const topic = this.workingImage.topicById(selector.topicId);
    return topic ?? controllerError(errors.UNKNOWN_TOPIC_ID, `topic id ${selector.topicId} does not exist`);
  }
}

function isErrorValue<T extends object>(value: T | ControllerError): value is ControllerError {
  return 'errorCode' in value;
}

function registrationProblem(request: BrokerRegistrationRequest): string | null {
  if (!isInt32Id(request.brokerId)) return `invalid broker id ${request.brokerId}`;
  if (!isUuid(request.incarnationId)) return `invalid incarnation id ${request.incarnationId}`;
  if (request.listeners.length === 0 || request.listeners.length > listenersPerBrokerMax) {
    return `a broker registers 1 to ${listenersPerBrokerMax} listeners, not ${request.listeners.length}`;
  }
  const listenerNames = request.listeners.map((listener) => listener.name);
  if (new Set(listenerNames).size !== listenerNames.length) return `listener names repeat: ${listenerNames}`;
  for (const listener of request.listeners) {
    if (!Number.isInteger(listener.port) || listener.port < 1 || listener.port > 0xffff) {
      return `listener ${listener.name} port ${listener.port} is not in [1, 65535]`;
    }
    if (!securityProtocolIds.has(listener.securityProtocol)) {
      return `listener ${listener.name} security protocol ${listener.securityProtocol} is not one of Kafka's (0-3)`;
    }
    if (listener.name.length > listenerFieldLengthMax || listener.host.length > listenerFieldLengthMax) {
      return `a listener name or host is longer than ${listenerFieldLengthMax} characters`;
    }
  }
  if (request.rack !== null && request.rack.length > rackLengthMax) {
    return `rack id is longer than ${rackLengthMax} characters`;
  }
  return null;
}

function configEntriesProblem(configs: readonly TopicConfigEntry[]): string | null {
  const names = configs.map((config) => config.name);
  if (new Set(names).size !== names.length) return `config names repeat: ${names.join(', ')}`;
  for (const config of configs) {
    const problem = topicConfigProblem(config.name, config.value);
    if (problem !== null) return problem;
  }
  return null;
}

// Replication control (Kafka's ReplicationControlManager): topics and their partitions, where their
// replicas go, and who leads and is in sync — CreateTopics, DeleteTopics, CreatePartitions,
// AlterPartition, preferred and unclean elections, and what a fenced, returning or failing broker
// means for every partition it holds. It adds partition records to the operation's batch; broker
// records are the ClusterControlManager's, topic configs the ConfigurationControlManager's.

import { invariant, type Random } from '@gregor/ground';
import type { ClusterControlManager } from './cluster-control.js';
import type { ConfigurationControlManager, TopicConfigEntry } from './configuration-control.js';
import type { ControllerBatch } from './controller-batch.js';
import type { ControllerConfig } from './controller-config.js';
import { type ControllerError, ControllerErrorCode, controllerError } from './errors.js';
import {
  isBrokerActive,
  isReassigning,
  isReplicaOffline,
  type MetadataImage,
  type PartitionState,
  type TopicImage,
} from './image.js';
import {
  electLeader,
  electPreferredLeader,
  type LeaderAndIsr,
  partitionChange,
  removeBroker,
} from './partition-election.js';
import {
  completeReassignmentIfCaughtUp,
  replicaSetChange,
  revertReassignment,
  startReassignment,
} from './partition-reassignment.js';
import { type BrokerId, noLeader, type ReplicaOnBroker, type TopicId } from './records.js';
import { assignReplicas } from './replica-placement.js';
import { topicNameCollisionKey, topicNameProblem } from './topic-names.js';
import { randomUuid } from './uuid.js';

const errors = ControllerErrorCode;

export interface CreateTopicRequest {
  readonly name: string;
  /** -1: the controller's `defaultNumPartitions` (must be -1 with manual assignments). */
  readonly numPartitions: number;
  /** -1: the controller's `defaultReplicationFactor` (must be -1 with manual assignments). */
  readonly replicationFactor: number;
  readonly configs: readonly TopicConfigEntry[];
  /** Manual replica assignments, one per partition; empty or absent: the controller places them. */
  readonly assignments?: readonly ManualReplicaAssignment[];
}

/** CreateTopics' CreatableReplicaAssignment: where one partition's replicas go, leader first. */
export interface ManualReplicaAssignment {
  readonly partitionIndex: number;
  readonly brokerIds: readonly BrokerId[];
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
  /**
   * The replicas of each new partition, in order, leader first; null or absent: the controller
   * places them. Non-null, it must name every new partition.
   */
  readonly assignments?: readonly (readonly BrokerId[])[] | null;
}

export interface CreatePartitionsResponse {
  readonly topicId: TopicId;
  readonly count: number;
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

export interface TopicPartitionName {
  readonly topicName: string;
  readonly partitionIndex: number;
}

export interface PreferredElectionResult extends TopicPartitionName {
  /** NONE, ELECTION_NOT_NEEDED, PREFERRED_LEADER_NOT_AVAILABLE or UNKNOWN_TOPIC_OR_PARTITION. */
  readonly errorCode: number;
}

/** Kafka's ElectionType. */
export type ElectionType = 'preferred' | 'unclean';

export interface ElectionResult extends TopicPartitionName {
  /**
   * NONE, ELECTION_NOT_NEEDED, UNKNOWN_TOPIC_OR_PARTITION, and PREFERRED_LEADER_NOT_AVAILABLE
   * (preferred) or ELIGIBLE_LEADERS_NOT_AVAILABLE (unclean).
   */
  readonly errorCode: number;
}

/** AlterPartitionReassignments, as the controller takes it. */
export interface AlterPartitionReassignmentsRequest {
  readonly topics: readonly {
    readonly name: string;
    readonly partitions: readonly {
      readonly partitionIndex: number;
      /** The target replicas, leader first; null cancels the partition's reassignment. */
      readonly replicas: readonly BrokerId[] | null;
    }[];
  }[];
  /** v1 (KIP-860): false refuses a target whose size differs from the partition's replica count. */
  readonly allowReplicationFactorChange: boolean;
}

export interface ReassignmentResult extends TopicPartitionName {
  /**
   * NONE, UNKNOWN_TOPIC_OR_PARTITION, INVALID_REPLICA_ASSIGNMENT, INVALID_REPLICATION_FACTOR or
   * NO_REASSIGNMENT_IN_PROGRESS.
   */
  readonly errorCode: number;
  readonly errorMessage: string | null;
}

export class ReplicationControlManager {
  private nextImbalanceCheckMs: number;

  constructor(
    private readonly config: ControllerConfig,
    /** The controller's working image: every record proposed so far applied, committed or not. */
    private readonly image: () => MetadataImage,
    private readonly random: Random,
    private readonly cluster: ClusterControlManager,
    private readonly configuration: ConfigurationControlManager,
    nowMs: number,
  ) {
    this.nextImbalanceCheckMs = nowMs + config.leaderImbalanceCheckIntervalMs;
  }

  /** When the next preferred-leader check is due (`autoLeaderRebalanceEnable`). */
  get nextImbalanceCheckDueMs(): number {
    return this.nextImbalanceCheckMs;
  }

  // --- Topics -------------------------------------------------------------------------------------

  createTopic(
    batch: ControllerBatch,
    request: CreateTopicRequest,
    options: ValidateOnly,
  ): CreateTopicResponse | ControllerError {
    const image = this.image();
    const nameProblem = topicNameProblem(request.name);
    if (nameProblem !== null) return controllerError(errors.INVALID_TOPIC_EXCEPTION, nameProblem);
    if (image.topic(request.name) !== undefined) {
      return controllerError(errors.TOPIC_ALREADY_EXISTS, `topic ${request.name} already exists`);
    }
    const collisionKey = topicNameCollisionKey(request.name);
    for (const existing of image.topics.keys()) {
      if (topicNameCollisionKey(existing) === collisionKey) {
        return controllerError(
          errors.INVALID_TOPIC_EXCEPTION,
          `topic ${request.name} collides with existing topic ${existing} ('.' and '_' share metric names)`,
        );
      }
    }
    const manual = request.assignments ?? [];
    if (manual.length > 0) return this.createTopicManually(batch, request, manual, options);
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
    const liveBrokerIds = this.cluster.activeBrokerIds();
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
    const configProblem = this.configuration.newTopicConfigsProblem(request.configs);
    if (configProblem !== null) return controllerError(errors.INVALID_CONFIG, configProblem);

    let topicId = randomUuid(this.random);
    while (image.topicById(topicId) !== undefined) topicId = randomUuid(this.random);
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
    if (options.validateOnly) return response;
    batch.add({ type: 'topic', name: request.name, topicId });
    this.configuration.addNewTopicConfigs(batch, request.name, request.configs);
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
    return response;
  }

  /** CreateTopics with a manual assignment: checked as Kafka's controller checks it, same messages. */
  private createTopicManually(
    batch: ControllerBatch,
    request: CreateTopicRequest,
    manual: readonly ManualReplicaAssignment[],
    options: ValidateOnly,
  ): CreateTopicResponse | ControllerError {
    if (request.replicationFactor !== -1) {
      return controllerError(
        errors.INVALID_REQUEST,
        'A manual partition assignment was specified, but replication factor was not set to -1.',
      );
    }
    if (request.numPartitions !== -1) {
      return controllerError(
        errors.INVALID_REQUEST,
        'A manual partition assignment was specified, but numPartitions was not set to -1.',
      );
    }
    if (manual.length > this.config.partitionsPerTopicMax) {
      return controllerError(
        errors.INVALID_PARTITIONS,
        `partition count ${manual.length} is not in [1, ${this.config.partitionsPerTopicMax}]`,
      );
    }
    const byPartition = new Map<number, { replicas: readonly BrokerId[]; isr: BrokerId[] }>();
    let replicationFactor: number | null = null;
    for (const assignment of manual) {
      if (byPartition.has(assignment.partitionIndex)) {
        return controllerError(
          errors.INVALID_REPLICA_ASSIGNMENT,
          `Found multiple manual partition assignments for partition ${assignment.partitionIndex}`,
        );
      }
      const problem = this.manualAssignmentProblem(assignment.brokerIds, replicationFactor);
      if (problem !== null) return controllerError(errors.INVALID_REPLICA_ASSIGNMENT, problem);
      replicationFactor = assignment.brokerIds.length;
      const isr = assignment.brokerIds.filter((brokerId) => this.cluster.isActive(brokerId));
      if (isr.length === 0) {
        return controllerError(
          errors.INVALID_REPLICA_ASSIGNMENT,
          `All brokers specified in the manual partition assignment for partition ` +
            `${assignment.partitionIndex} are fenced or in controlled shutdown.`,
        );
      }
      byPartition.set(assignment.partitionIndex, { replicas: assignment.brokerIds, isr });
    }
    for (let partitionIndex = 0; partitionIndex < byPartition.size; partitionIndex++) {
      if (!byPartition.has(partitionIndex)) {
        return controllerError(
          errors.INVALID_REPLICA_ASSIGNMENT,
          'partitions should be a consecutive 0-based integer sequence',
        );
      }
    }
    const configProblem = this.configuration.newTopicConfigsProblem(request.configs);
    if (configProblem !== null) return controllerError(errors.INVALID_CONFIG, configProblem);
    const placements = [...byPartition].sort(([a], [b]) => a - b).map(([, placement]) => placement);
    const limitProblem = this.partitionsPerBrokerProblem(placements.map((placement) => placement.replicas));
    if (limitProblem !== null) return controllerError(errors.POLICY_VIOLATION, limitProblem);
    const image = this.image();
    let topicId = randomUuid(this.random);
    while (image.topicById(topicId) !== undefined) topicId = randomUuid(this.random);
    const response: CreateTopicResponse = {
      topicId,
      numPartitions: placements.length,
      replicationFactor: placements[0]!.replicas.length,
      configs: request.configs,
    };
    if (options.validateOnly) return response;
    batch.add({ type: 'topic', name: request.name, topicId });
    this.configuration.addNewTopicConfigs(batch, request.name, request.configs);
    placements.forEach(({ replicas, isr }, partitionIndex) => {
      batch.add({
        type: 'partition',
        topicId,
        partitionIndex,
        replicas,
        isr,
        leader: isr[0]!,
        leaderEpoch: 0,
        partitionEpoch: 0,
      });
    });
    return response;
  }

  /**
   * Kafka's validateManualPartitionAssignment: a non-empty list of distinct registered brokers, as
   * many as the partitions before it have (when there are any). Null when the assignment is fine.
   */
  private manualAssignmentProblem(
    brokerIds: readonly BrokerId[],
    replicationFactor: number | null,
  ): string | null {
    if (brokerIds.length === 0) return 'The manual partition assignment includes an empty replica list.';
    const sorted = [...brokerIds].sort((a, b) => a - b);
    let previous: BrokerId | null = null;
    for (const brokerId of sorted) {
      if (this.image().broker(brokerId) === undefined) {
        return `The manual partition assignment includes broker ${brokerId}, but no such broker is registered.`;
      }
      if (brokerId === previous) {
        return `The manual partition assignment includes the broker ${previous} more than once.`;
      }
      previous = brokerId;
    }
    if (replicationFactor !== null && sorted.length !== replicationFactor) {
      return (
        `The manual partition assignment includes a partition with ${sorted.length} replica(s), but ` +
        `this is not consistent with previous partitions, which have ${replicationFactor} replica(s).`
      );
    }
    return null;
  }

  deleteTopic(batch: ControllerBatch, selector: TopicSelector): DeleteTopicResponse | ControllerError {
    const topic = this.selectTopic(selector);
    if ('errorCode' in topic) return topic;
    batch.add({ type: 'removeTopic', topicId: topic.topicId });
    return { name: topic.name, topicId: topic.topicId };
  }

  /** CreatePartitions: grows a topic to `count` partitions, placed like new topics. */
  createPartitions(
    batch: ControllerBatch,
    request: CreatePartitionsRequest,
    options: ValidateOnly,
  ): CreatePartitionsResponse | ControllerError {
    const topic = this.image().topic(request.name);
    if (topic === undefined) {
      return controllerError(errors.UNKNOWN_TOPIC_OR_PARTITION, `topic ${request.name} does not exist`);
    }
    const currentCount = topic.partitions.length;
    if (request.count === currentCount) {
      return controllerError(errors.INVALID_PARTITIONS, `Topic already has ${currentCount} partition(s).`);
    }
    if (!Number.isInteger(request.count) || request.count < currentCount) {
      return controllerError(
        errors.INVALID_PARTITIONS,
        `The topic ${request.name} currently has ${currentCount} partition(s); ${request.count} ` +
          'would not be an increase.',
      );
    }
    if (request.count > this.config.partitionsPerTopicMax) {
      return controllerError(
        errors.INVALID_PARTITIONS,
        `partition count ${request.count} is more than ${this.config.partitionsPerTopicMax}`,
      );
    }
    const additional = request.count - currentCount;
    const manual = request.assignments ?? null;
    if (manual !== null && manual.length !== additional) {
      return controllerError(
        errors.INVALID_REPLICA_ASSIGNMENT,
        `Attempted to add ${additional} additional partition(s), but only ${manual.length} ` +
          'assignment(s) were specified.',
      );
    }
    const first = topic.partitions[0];
    invariant(first !== undefined, () => `topic ${topic.name} has no partition 0`);
    const replicationFactor = first.replicas.length;
    if (manual !== null) {
      return this.createPartitionsManually(batch, topic, manual, replicationFactor, options);
    }
    const liveBrokerIds = this.cluster.activeBrokerIds().sort((a, b) => a - b);
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
    if (options.validateOnly) return response;
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
    return response;
  }

  private createPartitionsManually(
    batch: ControllerBatch,
    topic: TopicImage,
    manual: readonly (readonly BrokerId[])[],
    replicationFactor: number,
    options: ValidateOnly,
  ): CreatePartitionsResponse | ControllerError {
    const currentCount = topic.partitions.length;
    const placements: { replicas: readonly BrokerId[]; isr: BrokerId[] }[] = [];
    for (const [offset, brokerIds] of manual.entries()) {
      const problem = this.manualAssignmentProblem(brokerIds, replicationFactor);
      if (problem !== null) return controllerError(errors.INVALID_REPLICA_ASSIGNMENT, problem);
      const isr = brokerIds.filter((brokerId) => this.cluster.isActive(brokerId));
      if (isr.length === 0) {
        return controllerError(
          errors.INVALID_REPLICA_ASSIGNMENT,
          `All brokers specified in the manual partition assignment for partition ` +
            `${currentCount + offset} are fenced or in controlled shutdown.`,
        );
      }
      placements.push({ replicas: brokerIds, isr });
    }
    const limitProblem = this.partitionsPerBrokerProblem(placements.map((placement) => placement.replicas));
    if (limitProblem !== null) return controllerError(errors.POLICY_VIOLATION, limitProblem);
    const count = currentCount + manual.length;
    if (options.validateOnly) return { topicId: topic.topicId, count };
    placements.forEach(({ replicas, isr }, offset) => {
      batch.add({
        type: 'partition',
        topicId: topic.topicId,
        partitionIndex: currentCount + offset,
        replicas,
        isr,
        leader: isr[0]!,
        leaderEpoch: 0,
        partitionEpoch: 0,
      });
    });
    return { topicId: topic.topicId, count };
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
    for (const topic of this.image().topics.values()) {
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

  private selectTopic(selector: TopicSelector): TopicImage | ControllerError {
    if ('name' in selector) {
      const topic = this.image().topic(selector.name);
      return (
        topic ?? controllerError(errors.UNKNOWN_TOPIC_OR_PARTITION, `topic ${selector.name} does not exist`)
      );
    }
    const topic = this.image().topicById(selector.topicId);
    return topic ?? controllerError(errors.UNKNOWN_TOPIC_ID, `topic id ${selector.topicId} does not exist`);
  }

  // --- Leaders and ISRs ---------------------------------------------------------------------------

  /**
   * AlterPartition from a partition leader (KIP-497). The request carries the leader and partition
   * epochs it read; if either is stale, the partition changed since (new leader, or another ISR
   * change won the race) and the request is refused so that the leader reconciles first.
   */
  alterPartition(
    batch: ControllerBatch,
    request: AlterPartitionRequest,
  ): AlterPartitionResponse | ControllerError {
    const image = this.image();
    const broker = image.broker(request.brokerId);
    if (broker === undefined || broker.brokerEpoch !== request.brokerEpoch) {
      return controllerError(
        errors.STALE_BROKER_EPOCH,
        `broker ${request.brokerId} epoch ${request.brokerEpoch} is not registered`,
      );
    }
    const topic = image.topicById(request.topicId);
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
        leader: partition.leader,
        leaderEpoch: partition.leaderEpoch,
        isr: partition.isr,
        partitionEpoch: partition.partitionEpoch,
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
      const member = image.broker(id);
      return !isBrokerActive(member) || isReplicaOffline(member, topic.topicId, request.partitionIndex);
    });
    if (ineligible.length > 0) {
      return controllerError(
        errors.INELIGIBLE_REPLICA,
        `${where} ISR ${newIsr} includes fenced, shutting-down or offline replica(s) ${ineligible}`,
      );
    }
    const change = partitionChange(topic.topicId, request.partitionIndex, partition, {
      leader: partition.leader,
      isr: newIsr,
    });
    if (change !== null) batch.add(change);
    // An added replica that joined the ISR may be the last one a reassignment waited for.
    this.completeReassignmentIfCaughtUp(batch, topic, request.partitionIndex);
    const next = batch.delta.topicById(topic.topicId)!.partitions[request.partitionIndex]!;
    return {
      leader: next.leader,
      leaderEpoch: next.leaderEpoch,
      isr: next.isr,
      partitionEpoch: next.partitionEpoch,
    };
  }

  // --- Reassignments (KIP-455; the steps in partition-reassignment.ts) -----------------------------

  /**
   * AlterPartitionReassignments: each partition named starts moving to its target replicas (or, for
   * null replicas, its reassignment is cancelled), on its own: one partition's error does not stop
   * the others. A target the ISR already covers completes in the same batch.
   */
  alterPartitionReassignments(
    batch: ControllerBatch,
    request: AlterPartitionReassignmentsRequest,
  ): ReassignmentResult[] {
    const results: ReassignmentResult[] = [];
    for (const { name, partitions } of request.topics) {
      for (const { partitionIndex, replicas } of partitions) {
        const outcome = this.reassignPartition(batch, name, partitionIndex, replicas, request);
        results.push({
          topicName: name,
          partitionIndex,
          errorCode: outcome?.errorCode ?? errors.NONE,
          errorMessage: outcome?.errorMessage ?? null,
        });
      }
    }
    return results;
  }

  /** One partition of AlterPartitionReassignments; null when done. */
  private reassignPartition(
    batch: ControllerBatch,
    topicName: string,
    partitionIndex: number,
    target: readonly BrokerId[] | null,
    request: AlterPartitionReassignmentsRequest,
  ): ControllerError | null {
    const topic = batch.delta.topic(topicName);
    const partition = topic?.partitions[partitionIndex];
    if (topic === undefined || partition === undefined) {
      return controllerError(
        errors.UNKNOWN_TOPIC_OR_PARTITION,
        `partition ${topicName}-${partitionIndex} does not exist`,
      );
    }
    const where = `${topicName}-${partitionIndex}`;
    if (target === null) {
      if (!isReassigning(partition)) {
        return controllerError(
          errors.NO_REASSIGNMENT_IN_PROGRESS,
          `no reassignment of partition ${where} is in progress`,
        );
      }
      const reverted = revertReassignment(partition, batch.eligible(topic.topicId, partitionIndex));
      if (reverted === null) {
        return controllerError(
          errors.INVALID_REPLICA_ASSIGNMENT,
          `Unable to revert partition assignment for ${where} because it would require an unclean leader election.`,
        );
      }
      const change = replicaSetChange(topic.topicId, partitionIndex, partition, reverted);
      if (change !== null) batch.add(change);
      return null;
    }
    const problem = this.reassignmentTargetProblem(target);
    if (problem !== null) return controllerError(errors.INVALID_REPLICA_ASSIGNMENT, problem);
    const originalCount = partition.replicas.length - partition.addingReplicas.length;
    if (!request.allowReplicationFactorChange && target.length !== originalCount) {
      return controllerError(
        errors.INVALID_REPLICATION_FACTOR,
        `The replication factor of partition ${where} would change from ${originalCount} to ${target.length}, ` +
          'which the request does not allow.',
      );
    }
    const started = replicaSetChange(
      topic.topicId,
      partitionIndex,
      partition,
      startReassignment(partition, target),
    );
    if (started !== null) batch.add(started);
    this.completeReassignmentIfCaughtUp(batch, topic, partitionIndex);
    return null;
  }

  /** Kafka's validateManualPartitionAssignment for a reassignment target: null when it is fine. */
  private reassignmentTargetProblem(target: readonly BrokerId[]): string | null {
    if (target.length === 0) return 'The manual partition assignment includes an empty replica list.';
    const seen = new Set<BrokerId>();
    for (const brokerId of target) {
      if (this.image().broker(brokerId) === undefined) {
        return `The manual partition assignment includes broker ${brokerId}, but no such broker is registered.`;
      }
      if (seen.has(brokerId)) {
        return `The manual partition assignment includes the broker ${brokerId} more than once.`;
      }
      seen.add(brokerId);
    }
    return null;
  }

  /** Step 2 of a reassignment in progress, if the partition (as of `batch`) may take it now. */
  private completeReassignmentIfCaughtUp(
    batch: ControllerBatch,
    topic: TopicImage,
    partitionIndex: number,
  ): void {
    const partition = batch.delta.topicById(topic.topicId)!.partitions[partitionIndex]!;
    if (!isReassigning(partition)) return;
    const completed = completeReassignmentIfCaughtUp(
      partition,
      this.configuration.minInsyncReplicas(batch, topic.name),
      batch.eligible(topic.topicId, partitionIndex),
    );
    if (completed === null) return;
    const change = replicaSetChange(topic.topicId, partitionIndex, partition, completed);
    if (change !== null) batch.add(change);
  }

  /**
   * ElectLeaders (PREFERRED): moves each partition's leadership to its first replica when that one
   * is active and in the ISR. `null` means every partition, and then only partitions not led by
   * their preferred replica are reported (elected, or PREFERRED_LEADER_NOT_AVAILABLE).
   */
  electPreferredLeaders(
    batch: ControllerBatch,
    partitions: readonly TopicPartitionName[] | null,
  ): PreferredElectionResult[] {
    const elect = (topic: TopicImage, partitionIndex: number, partition: PartitionState): number => {
      const election = electPreferredLeader(partition, batch.eligible(topic.topicId, partitionIndex));
      if (election.outcome !== 'elected') {
        return election.outcome === 'notNeeded'
          ? errors.ELECTION_NOT_NEEDED
          : errors.PREFERRED_LEADER_NOT_AVAILABLE;
      }
      const next = { leader: election.leader, isr: partition.isr };
      const changed = this.changePartition(batch, topic, partitionIndex, partition, next);
      invariant(changed, 'a preferred election changes the leader');
      return errors.NONE;
    };
    // Partitions that already have their preferred leader are left out, as Kafka leaves them out.
    return this.electEach(batch, partitions, (p) => p.leader !== p.replicas[0], elect);
  }

  /**
   * ElectLeaders (UNCLEAN): a partition without a leader gets one even when no ISR member is alive,
   * as Kafka's controller does: an active ISR member if there is one, else the first active replica
   * (with an ISR of just itself). A partition that has a leader needs no election. `null` means
   * every partition, and then only elections that happened or failed are reported.
   */
  electUncleanLeadersFor(
    batch: ControllerBatch,
    partitions: readonly TopicPartitionName[] | null,
  ): ElectionResult[] {
    const elect = (topic: TopicImage, partitionIndex: number, partition: PartitionState): number => {
      if (partition.leader !== noLeader) return errors.ELECTION_NOT_NEEDED;
      const next = electLeader(partition, partition.isr, batch.eligible(topic.topicId, partitionIndex), true);
      if (next.leader === noLeader) return errors.ELIGIBLE_LEADERS_NOT_AVAILABLE;
      const changed = this.changePartition(batch, topic, partitionIndex, partition, next);
      invariant(changed, 'an unclean election changes the leader');
      return errors.NONE;
    };
    return this.electEach(batch, partitions, (p) => p.leader === noLeader, elect);
  }

  /**
   * `elect`'s error code for each partition named (UNKNOWN_TOPIC_OR_PARTITION for one that does not
   * exist), or, for `null`, for every partition `candidate` picks.
   */
  private electEach(
    batch: ControllerBatch,
    partitions: readonly TopicPartitionName[] | null,
    candidate: (partition: PartitionState) => boolean,
    elect: (topic: TopicImage, partitionIndex: number, partition: PartitionState) => number,
  ): ElectionResult[] {
    if (partitions === null) {
      // Listed before any election: an election changes the topics being walked.
      const candidates = [...this.partitionsOf(batch, candidate)];
      return candidates.map(([topic, partitionIndex, partition]) => ({
        topicName: topic.name,
        partitionIndex,
        errorCode: elect(topic, partitionIndex, partition),
      }));
    }
    return partitions.map(({ topicName, partitionIndex }) => {
      const topic = batch.delta.topic(topicName);
      const partition = topic?.partitions[partitionIndex];
      const errorCode =
        topic === undefined || partition === undefined
          ? errors.UNKNOWN_TOPIC_OR_PARTITION
          : elect(topic, partitionIndex, partition);
      return { topicName, partitionIndex, errorCode };
    });
  }

  /**
   * Every `leaderImbalanceCheckIntervalMs` (with `autoLeaderRebalanceEnable`), moves leadership back
   * to the first replica wherever it is active and in the ISR. Returns how many partitions moved.
   */
  balancePartitionLeadersIfDue(batch: ControllerBatch, nowMs: number): number {
    if (!this.config.autoLeaderRebalanceEnable || nowMs < this.nextImbalanceCheckMs) return 0;
    const moved = this.electPreferredLeaders(batch, null).filter(
      (result) => result.errorCode === errors.NONE,
    ).length;
    this.nextImbalanceCheckMs = nowMs + this.config.leaderImbalanceCheckIntervalMs;
    return moved;
  }

  /** After `brokerId` stopped being active (in `batch`): it leaves its ISRs and leaderships. */
  handleBrokerFenced(batch: ControllerBatch, brokerId: BrokerId): void {
    invariant(!batch.isActive(brokerId), () => `broker ${brokerId} is still active`);
    const touched = [...this.partitionsOf(batch, (p) => p.leader === brokerId || p.isr.includes(brokerId))];
    for (const [topic, index, partition] of touched)
      this.removeFromPartition(batch, topic, index, partition, brokerId);
  }

  /** The broker is active again: offline partitions it may lead get it as leader. */
  handleBrokerUnfenced(batch: ControllerBatch, brokerId: BrokerId): void {
    this.electLeaderlessPartitions(batch, (partition) => partition.replicas.includes(brokerId));
  }

  /**
   * The broker's log dirs failed (Kafka's `handleDirectoriesOffline`): records its replicas there as
   * offline, then takes each out of its partition's ISR and leadership, as a fence does for every
   * partition of a broker. Replicas already offline, or of partitions gone meanwhile, are skipped.
   */
  handleReplicasOffline(
    batch: ControllerBatch,
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
      this.removeFromPartition(batch, topic, partitionIndex, partition, brokerId);
    }
  }

  /** `brokerId` leaves the partition's ISR and, electing another, its leadership. */
  private removeFromPartition(
    batch: ControllerBatch,
    topic: TopicImage,
    partitionIndex: number,
    partition: PartitionState,
    brokerId: BrokerId,
  ): void {
    const next = removeBroker(
      partition,
      brokerId,
      batch.eligible(topic.topicId, partitionIndex),
      this.configuration.uncleanLeaderElectionEnabled(batch, topic.name),
    );
    this.changePartition(batch, topic, partitionIndex, partition, next);
  }

  /**
   * Unclean election was just enabled on the topic: its leaderless partitions get a leader now if
   * one is eligible, as Kafka's controller does. Returns how many partitions changed.
   */
  electUncleanLeaders(batch: ControllerBatch, topicId: TopicId): number {
    const before = batch.records.length;
    this.electLeaderlessPartitions(batch, () => true, topicId);
    return batch.records.length - before;
  }

  /** Gives leaderless partitions (matching `include`) a leader if one is now eligible. */
  private electLeaderlessPartitions(
    batch: ControllerBatch,
    include: (partition: PartitionState) => boolean,
    onlyTopicId: TopicId | null = null,
  ): void {
    const leaderless = [...this.partitionsOf(batch, (p) => p.leader === noLeader && include(p), onlyTopicId)];
    for (const [topic, index, partition] of leaderless) {
      const next = electLeader(
        partition,
        partition.isr,
        batch.eligible(topic.topicId, index),
        this.configuration.uncleanLeaderElectionEnabled(batch, topic.name),
      );
      this.changePartition(batch, topic, index, partition, next);
    }
  }

  /**
   * Records the partition's new leader and ISR when they change anything, and completes a
   * reassignment the change let catch up; false when nothing changed (nothing recorded).
   */
  private changePartition(
    batch: ControllerBatch,
    topic: TopicImage,
    partitionIndex: number,
    partition: PartitionState,
    next: LeaderAndIsr,
  ): boolean {
    const change = partitionChange(topic.topicId, partitionIndex, partition, next);
    if (change === null) return false;
    batch.add(change);
    this.completeReassignmentIfCaughtUp(batch, topic, partitionIndex);
    return true;
  }

  /** Every partition (of one topic, or all) matching `include`, with its topic, in a stable order. */
  private *partitionsOf(
    batch: ControllerBatch,
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
}

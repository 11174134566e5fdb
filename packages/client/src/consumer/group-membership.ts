// One member of a consumer group: JoinGroup (with the MEMBER_ID_REQUIRED round trip of KIP-394),
// the leader's assignment, SyncGroup, heartbeats, LeaveGroup, and the group's offsets
// (OffsetCommit, OffsetFetch), all at the group's coordinator, found again when it moves.
// A static member (KIP-345, `groupInstanceId`) sends its instance id in every request, so a restart
// within the session timeout takes its old place (and assignment) back without a rebalance; when
// another process takes the instance id, the coordinator answers FENCED_INSTANCE_ID, which is final.

import { ApiKey, ErrorCode, zeroUuid } from '@gregor/protocol';
import { type Cluster, preferredVersions } from '../cluster.js';
import {
  KafkaJSError,
  KafkaJSFencedInstanceIdError,
  KafkaJSNonRetriableError,
  KafkaJSProtocolError,
} from '../errors.js';
import type { Logger } from '../logger.js';
import { sleep, withRetry } from '../retry.js';
import { type ConsumerAssigner, encodeCooperativeStickyUserData, isCooperative } from './assigners.js';
import {
  decodeAssignment,
  decodeSubscription,
  encodeAssignment,
  encodeSubscription,
  type MemberAssignment,
  type MemberSubscription,
} from './consumer-protocol.js';
import { isKafkaJSAssigner } from './kafkajs-assigners.js';

/** The first OffsetCommit and OffsetFetch version that names topics by id (KIP-848). */
const offsetTopicIdsVersion = 10;

export interface GroupOptions {
  readonly groupId: string;
  /** Java's `group.instance.id`: a static member (KIP-345); null for a dynamic one. */
  readonly groupInstanceId: string | null;
  readonly sessionTimeoutMs: number;
  readonly rebalanceTimeoutMs: number;
  readonly assigners: readonly ConsumerAssigner[];
}

/** Errors after which the coordinator must be looked up again. */
const coordinatorErrors = new Set<number>([
  ErrorCode.NOT_COORDINATOR,
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
]);
/** LeaveGroup attempts when the coordinator moved or is loading (then the member is left to expire). */
const leaveAttemptsMax = 3;
/** Errors that mean this member must join again. */
export const rejoinErrors = new Set<number>([
  ErrorCode.REBALANCE_IN_PROGRESS,
  ErrorCode.ILLEGAL_GENERATION,
  ErrorCode.UNKNOWN_MEMBER_ID,
]);

/** JoinGroup v5 is the first to carry group_instance_id (KIP-345). */
const staticMembershipJoinVersionMin = 5;

/** Join attempts (each may wait up to the rebalance timeout) before join() gives up. */
const joinAttemptsMax = 20;

export class GroupMembership {
  memberId = '';
  generationId = -1;
  /** The generation of the last assignment taken (what the owned partitions are from), or -1. */
  private ownedGeneration = -1;
  isLeader = false;
  leaderId = '';
  /** The assignor the group chose at the last join. */
  protocolName = '';
  private coordinator: number | undefined;

  constructor(
    private readonly cluster: Cluster,
    private readonly options: GroupOptions,
    private readonly logger: Logger,
  ) {}

  private async coordinatorId(): Promise<number> {
    this.coordinator ??= await this.cluster.findCoordinator(this.options.groupId);
    return this.coordinator;
  }

  get groupInstanceId(): string | null {
    return this.options.groupInstanceId;
  }

  /** The error a response code stands for: FENCED_INSTANCE_ID as its own (final) error. */
  protocolError(code: number, context: string): KafkaJSProtocolError {
    if (code === ErrorCode.FENCED_INSTANCE_ID && this.options.groupInstanceId !== null)
      return new KafkaJSFencedInstanceIdError(this.options.groupInstanceId, context);
    return new KafkaJSProtocolError(code, context);
  }

  private coordinatorError(code: number): boolean {
    if (!coordinatorErrors.has(code)) return false;
    this.coordinator = undefined;
    return true;
  }

  /** Joins (or rejoins) the group and returns this member's assignment. */
  async join(topics: readonly string[], owned: MemberAssignment): Promise<MemberAssignment> {
    for (let attempt = 0; ; attempt++) {
      if (attempt >= joinAttemptsMax) throw new KafkaJSError(`could not join group ${this.options.groupId}`);
      try {
        const assignment = await this.joinOnce(topics, owned);
        if (assignment !== undefined) return assignment;
      } catch (error) {
        if (!(error instanceof KafkaJSError) || !error.retriable) throw error;
        this.coordinator = undefined;
        this.logger.debug('join failed, retrying', { error: error.message });
        await sleep(this.cluster.retry.initialRetryTime);
      }
    }
  }

  /** One JoinGroup + SyncGroup round; undefined when it must be tried again. */
  private async joinOnce(
    topics: readonly string[],
    owned: MemberAssignment,
  ): Promise<MemberAssignment | undefined> {
    const coordinator = await this.coordinatorId();
    // Owned partitions (subscription version 1) only matter to cooperative assignors.
    const cooperative = this.options.assigners.some(isCooperative);
    const metadata = encodeSubscription({
      topics,
      userData: null,
      ...(cooperative ? { ownedPartitions: owned } : {}),
    });
    // Java's CooperativeStickyAssignor user data: the generation the owned partitions are from, so
    // a leader given two claims to one partition keeps the newer one.
    const cooperativeMetadata = encodeSubscription({
      topics,
      userData: encodeCooperativeStickyUserData(this.ownedGeneration),
      ownedPartitions: owned,
    });
    const groupInstanceId = this.options.groupInstanceId;
    const joined = await this.cluster.sendVersioned(
      coordinator,
      ApiKey.JoinGroup,
      (version) => {
        // Joining as a dynamic member instead would silently drop what the option promises.
        if (groupInstanceId !== null && version < staticMembershipJoinVersionMin) {
          throw new KafkaJSNonRetriableError(
            `groupInstanceId needs JoinGroup v${staticMembershipJoinVersionMin}+ (static membership); broker ${coordinator} speaks v${version}`,
          );
        }
        return {
          groupId: this.options.groupId,
          sessionTimeoutMs: this.options.sessionTimeoutMs,
          rebalanceTimeoutMs: this.options.rebalanceTimeoutMs,
          memberId: this.memberId,
          groupInstanceId,
          protocolType: 'consumer',
          // A kafkajs-shaped assigner writes its own metadata (its version, user data).
          protocols: this.options.assigners.map((assigner) =>
            isKafkaJSAssigner(assigner)
              ? assigner.protocol({ topics: [...topics] })
              : { name: assigner.name, metadata: isCooperative(assigner) ? cooperativeMetadata : metadata },
          ),
        };
      },
      this.options.rebalanceTimeoutMs + 5_000,
    );
    if (joined.errorCode === ErrorCode.MEMBER_ID_REQUIRED) {
      this.memberId = joined.memberId;
      return undefined;
    }
    if (joined.errorCode === ErrorCode.UNKNOWN_MEMBER_ID) {
      this.memberId = '';
      return undefined;
    }
    if (this.coordinatorError(joined.errorCode) || joined.errorCode === ErrorCode.REBALANCE_IN_PROGRESS) {
      await sleep(this.cluster.retry.initialRetryTime);
      return undefined;
    }
    if (joined.errorCode !== 0) throw this.protocolError(joined.errorCode, `joining ${this.options.groupId}`);
    this.memberId = joined.memberId;
    this.generationId = joined.generationId;
    // A static member that took its old place back in a Stable group is told the leader from
    // before (its own old id, when it led) before v9, and from v9 that it leads but must skip the
    // assignment (KIP-814): either way it does not assign, the group keeps its assignment.
    this.leaderId = joined.leader;
    this.protocolName = joined.protocolName ?? '';
    this.isLeader = joined.leader === joined.memberId && !joined.skipAssignment;
    const assignments = this.isLeader ? await this.assign(this.protocolName, joined.members) : [];
    const synced = await this.cluster.send(
      coordinator,
      ApiKey.SyncGroup,
      {
        groupId: this.options.groupId,
        generationId: this.generationId,
        memberId: this.memberId,
        groupInstanceId,
        assignments,
      },
      this.options.rebalanceTimeoutMs + 5_000,
    );
    if (synced.errorCode === ErrorCode.FENCED_INSTANCE_ID)
      throw this.protocolError(synced.errorCode, `syncing ${this.options.groupId}`);
    if (rejoinErrors.has(synced.errorCode) || this.coordinatorError(synced.errorCode)) {
      if (synced.errorCode === ErrorCode.UNKNOWN_MEMBER_ID) this.memberId = '';
      return undefined;
    }
    if (synced.errorCode !== 0) throw this.protocolError(synced.errorCode, `syncing ${this.options.groupId}`);
    const assignment = decodeAssignment(synced.assignment);
    this.ownedGeneration = this.generationId;
    this.logger.info('joined group', {
      groupId: this.options.groupId,
      memberId: this.memberId,
      generationId: this.generationId,
      leader: this.isLeader,
      assignment: Object.fromEntries(assignment),
    });
    return assignment;
  }

  private async assign(
    protocolName: string,
    members: readonly { memberId: string; metadata: Buffer }[],
  ): Promise<{ memberId: string; assignment: Buffer }[]> {
    const assigner = this.options.assigners.find((candidate) => candidate.name === protocolName);
    if (assigner === undefined)
      throw new KafkaJSError(`the group chose assignor ${protocolName}, which we do not have`);
    const subscriptions = new Map<string, MemberSubscription>(
      members.map((member) => [member.memberId, decodeSubscription(member.metadata)]),
    );
    const topics = [...new Set([...subscriptions.values()].flatMap((subscription) => subscription.topics))];
    // Fresh metadata for every subscribed topic, as kafkajs's leader takes before it assigns: the
    // partitions a topic gained since this member last looked are assigned now, not after another
    // rebalance. (It also gives followers time to send their SyncGroup before the leader's, which
    // librdkafka's mock needs: it fails a follower's SyncGroup that comes after the leader's.)
    await this.cluster.refreshMetadata(topics);
    await this.cluster.ensureTopics(topics);
    if (isKafkaJSAssigner(assigner)) {
      const assigned = await assigner.assign({
        members: members.map((member) => ({ memberId: member.memberId, memberMetadata: member.metadata })),
        topics,
      });
      if (!Array.isArray(assigned) || !assigned.every((entry) => Buffer.isBuffer(entry?.memberAssignment))) {
        throw new KafkaJSNonRetriableError(
          `assigner ${assigner.name} must return [{ memberId, memberAssignment: Buffer }] (AssignerProtocol.MemberAssignment.encode)`,
        );
      }
      return assigned.map((entry) => ({ memberId: entry.memberId, assignment: entry.memberAssignment }));
    }
    const partitionCounts = new Map(topics.map((topic) => [topic, this.cluster.partitionCount(topic)]));
    const assignments = assigner.assign({ members: subscriptions, partitionCounts });
    return [...assignments].map(([memberId, assignment]) => ({
      memberId,
      assignment: encodeAssignment(assignment),
    }));
  }

  /** One heartbeat: the error code, 0 when all is well (a rejoin error means rebalance). */
  async heartbeat(): Promise<number> {
    const response = await this.cluster.send(await this.coordinatorId(), ApiKey.Heartbeat, {
      groupId: this.options.groupId,
      generationId: this.generationId,
      memberId: this.memberId,
      groupInstanceId: this.options.groupInstanceId,
    });
    this.coordinatorError(response.errorCode);
    return response.errorCode;
  }

  /**
   * LeaveGroup, for a dynamic member. A static member does not leave (Java's consumer does not
   * either): its place waits for it until the session timeout, so a restart keeps the assignment.
   */
  async leave(): Promise<void> {
    if (this.memberId === '') return;
    if (this.options.groupInstanceId !== null) {
      this.forget();
      return;
    }
    try {
      const memberId = this.memberId;
      for (let attempt = 1; ; attempt++) {
        const response = await this.cluster.sendVersioned(
          await this.coordinatorId(),
          ApiKey.LeaveGroup,
          (version) =>
            // Version 3 moved the member id into a list of members (KIP-345).
            version >= 3
              ? {
                  groupId: this.options.groupId,
                  memberId: '',
                  members: [{ memberId, groupInstanceId: null }],
                }
              : { groupId: this.options.groupId, memberId, members: [] },
        );
        if (response.errorCode === 0) break;
        // A coordinator that moved or is loading: the others would wait a whole session timeout
        // for this member if it gave up, so it asks the coordinator it finds next, a few times.
        if (!this.coordinatorError(response.errorCode) || attempt >= leaveAttemptsMax)
          throw new KafkaJSProtocolError(response.errorCode, 'LeaveGroup');
        await sleep(this.cluster.retry.initialRetryTime);
      }
    } catch (error) {
      // Leaving is a courtesy: the session timeout removes the member anyway.
      this.logger.warn('leave group failed', { error: (error as Error).message });
    }
    this.forget();
  }

  /** Forgets this process's place in the group (the next join starts as a new member). */
  forget(): void {
    this.memberId = '';
    this.generationId = -1;
    this.ownedGeneration = -1;
    this.isLeader = false;
    this.leaderId = '';
  }

  /**
   * Whether requests of `apiKey` to `coordinator` name the topics by id: OffsetCommit and OffsetFetch
   * v10 (KIP-848) do, used when the broker serves v10 and the metadata gave every topic's id (as
   * Fetch v13+ is); otherwise the by-name versions below.
   */
  private async byTopicId(
    coordinator: number,
    apiKey: typeof ApiKey.OffsetCommit | typeof ApiKey.OffsetFetch,
    topics: Iterable<string>,
  ): Promise<boolean> {
    for (const topic of topics) if (this.cluster.topicIdOf(topic) === undefined) return false;
    return (
      (await this.cluster.versionFor(coordinator, apiKey, offsetTopicIdsVersion)) >= offsetTopicIdsVersion
    );
  }

  /** A response topic's name: its own below v10, its id's (from the metadata) at v10. */
  private topicNameOf(topic: { readonly name: string; readonly topicId: string }, byId: boolean): string {
    return byId ? (this.cluster.topicNameOf(topic.topicId) ?? topic.topicId) : topic.name;
  }

  /**
   * OffsetCommit of `offsets` in this member's generation. A retriable failure (the coordinator
   * moved or is loading, the append timed out, the connection dropped) is retried with the
   * coordinator found again, as Java's commitSync does, up to the cluster's retries: a commit given
   * up on is a backlog the partition's next owner reads again. Every attempt carries the member id
   * and generation the commit started with, so a retry never moves old positions into a newer
   * generation; what is not retriable (REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION,
   * UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID) is thrown at once.
   */
  async commit(offsets: ReadonlyMap<string, ReadonlyMap<number, bigint>>): Promise<void> {
    if (offsets.size === 0) return;
    const memberId = this.memberId;
    const generationId = this.generationId;
    await withRetry(
      this.cluster.retry,
      () => this.commitOnce(offsets, memberId, generationId),
      (error) => {
        this.logger.debug('commit failed, retrying', { error: (error as Error).message });
        this.coordinator = undefined;
      },
    );
  }

  private async commitOnce(
    offsets: ReadonlyMap<string, ReadonlyMap<number, bigint>>,
    memberId: string,
    generationId: number,
  ): Promise<void> {
    const coordinator = await this.coordinatorId();
    const byId = await this.byTopicId(coordinator, ApiKey.OffsetCommit, offsets.keys());
    const response = await this.cluster.sendVersioned(
      coordinator,
      ApiKey.OffsetCommit,
      () => ({
        groupId: this.options.groupId,
        generationId,
        memberId,
        groupInstanceId: this.options.groupInstanceId,
        topics: [...offsets].map(([name, partitions]) => ({
          name,
          topicId: byId ? this.cluster.topicIdOf(name)! : zeroUuid,
          partitions: [...partitions].map(([partitionIndex, committedOffset]) => ({
            partitionIndex,
            committedOffset,
            committedLeaderEpoch: -1,
            commitTimestamp: -1n,
            committedMetadata: null,
          })),
        })),
      }),
      undefined,
      byId ? offsetTopicIdsVersion : preferredVersions[ApiKey.OffsetCommit],
    );
    for (const topic of response.topics) {
      for (const partition of topic.partitions) {
        if (partition.errorCode === 0) continue;
        this.coordinatorError(partition.errorCode);
        throw this.protocolError(
          partition.errorCode,
          `committing ${this.topicNameOf(topic, byId)}[${partition.partitionIndex}]`,
        );
      }
    }
  }

  /**
   * The committed offset of each partition, -1 where none is. Retriable failures (the coordinator
   * moved or is loading, UNSTABLE_OFFSET_COMMIT while a commit is being written) are retried as
   * commits are.
   */
  async committed(assignment: MemberAssignment): Promise<Map<string, Map<number, bigint>>> {
    return withRetry(
      this.cluster.retry,
      () => this.committedOnce(assignment),
      (error) => {
        this.logger.debug('fetching committed offsets failed, retrying', { error: (error as Error).message });
        this.coordinator = undefined;
      },
    );
  }

  private async committedOnce(assignment: MemberAssignment): Promise<Map<string, Map<number, bigint>>> {
    const coordinator = await this.coordinatorId();
    const byId = await this.byTopicId(coordinator, ApiKey.OffsetFetch, assignment.keys());
    const topics = [...assignment].map(([name, partitionIndexes]) => ({
      name,
      topicId: byId ? this.cluster.topicIdOf(name)! : zeroUuid,
      partitionIndexes: [...partitionIndexes],
    }));
    const response = await this.cluster.sendVersioned(
      coordinator,
      ApiKey.OffsetFetch,
      (version) => ({
        // The v0-7 layout, absent at v10: left at its defaults there.
        groupId: byId ? '' : this.options.groupId,
        topics: byId ? [] : topics,
        // v8+ (only asked for by id, v10): one group, this member's.
        groups: byId ? [{ groupId: this.options.groupId, memberId: null, memberEpoch: -1, topics }] : [],
        // Stable offsets need v7; against an older broker Java's consumer asks without, as here.
        requireStable: version >= 7,
      }),
      undefined,
      byId ? offsetTopicIdsVersion : preferredVersions[ApiKey.OffsetFetch],
    );
    const answer = byId
      ? (response.groups[0] ?? { errorCode: ErrorCode.INVALID_REQUEST, topics: [] })
      : {
          errorCode: response.errorCode,
          topics: response.topics.map((topic) => ({ ...topic, topicId: zeroUuid })),
        };
    if (answer.errorCode !== 0) {
      this.coordinatorError(answer.errorCode);
      throw new KafkaJSProtocolError(answer.errorCode, 'fetching committed offsets');
    }
    const result = new Map<string, Map<number, bigint>>();
    for (const topic of answer.topics) {
      const name = this.topicNameOf(topic, byId);
      const partitions = new Map<number, bigint>();
      for (const partition of topic.partitions) {
        if (partition.errorCode !== 0)
          throw new KafkaJSProtocolError(partition.errorCode, `offset of ${name}`);
        partitions.set(partition.partitionIndex, partition.committedOffset);
      }
      result.set(name, partitions);
    }
    return result;
  }
}

// KIP-848 consumer groups (the consumer-protocol part of Kafka's GroupMetadataManager):
// ConsumerGroupHeartbeat (join with epoch 0, leave with -1, a static member's temporary leave with
// -2), the target assignment from the server-side assignor, each member's reconciliation towards it,
// session and revocation deadlines, ConsumerGroupDescribe, the member-epoch check of offset commits
// and fetches, and the group's records in `__consumer_offsets` (consumer-group-records.ts). Pure: time
// comes in as `nowMs`, member ids from the injected Random.
// Offsets of a consumer group live where a classic group's do (the OffsetMetadataManager's group of
// the same id); GroupCoordinator joins the two and keeps the group types apart.

import { createRequire } from 'node:module';
import { invariant, type Random } from '@gregor/ground';
import { ErrorCode } from '@gregor/protocol';
import type { RE2JS } from 're2js';
import { storeGroupErrorCode } from './append-errors.js';
import type { GroupCoordinatorConfig } from './config.js';
import {
  type AssignableTopic,
  type AssignorName,
  assign,
  isAssignorName,
  type TopicAssignment,
} from './consumer-assignors.js';
import {
  assignmentOf,
  assignmentsEqual,
  ConsumerGroup,
  type ConsumerGroupMember,
  type ConsumerGroupSnapshot,
  emptyAssignment,
  holdsSinceEpoch,
  leaveGroupMemberEpoch,
  leaveGroupStaticMemberEpoch,
  reconcile,
} from './consumer-group.js';
import type {
  ConsumerGroupHeartbeatRequest,
  ConsumerGroupHeartbeatResponse,
  ConsumerTopicsImage,
  DescribedAssignment,
  DescribedConsumerGroup,
} from './consumer-group-messages.js';
import {
  consumerGroupMetadataRecord,
  consumerMemberAssignmentRecord,
  consumerMemberMetadataRecord,
  type DecodedConsumerGroupRecord,
  emptyConsumerGroupTombstones,
} from './consumer-group-records.js';
import type { CoordinatorOutbox } from './coordinator-outbox.js';
import { DeadlineQueue } from './deadline-queue.js';
import type { RequestId } from './messages.js';
import type { OffsetsRecord } from './offsets-records.js';

/**
 * What to do when a consumer group's records are appended: answer the heartbeat that wrote them, and
 * if the append was refused, put the group back as it was before (`rollback`; null for writes that
 * change no live group, such as deletion tombstones).
 */
export interface ConsumerGroupWriteContinuation {
  readonly kind: 'consumerGroupWrite';
  readonly requestId: RequestId | null;
  readonly response: ConsumerGroupHeartbeatResponse | null;
  readonly rollback: ConsumerGroupRollback | null;
}

interface ConsumerGroupRollback {
  readonly group: ConsumerGroup;
  /** The group before the write; null when the write created it. */
  readonly snapshot: ConsumerGroupSnapshot | null;
  /** The session or revocation deadline whose expiry wrote the records, retried if they are refused. */
  readonly expiry: ConsumerTimer | null;
}

/** A partition an offset commit names, with its topic's id when the broker knows it. */
export interface CommittedPartition {
  readonly topicId: string | undefined;
  readonly partition: number;
}

/** A heartbeat that waits for the write in flight of its group. */
interface QueuedHeartbeat {
  readonly requestId: RequestId;
  readonly request: ConsumerGroupHeartbeatRequest;
  readonly partitionIndex: number;
  readonly topics: ConsumerTopicsImage;
}

/** Where a waiting heartbeat is, to answer it when it has waited its longest. */
interface QueuedHeartbeatDeadline {
  readonly groupId: string;
  readonly requestId: RequestId;
}

interface ConsumerTimer {
  readonly kind: 'session' | 'revocation';
  readonly groupId: string;
  readonly memberId: string;
  /** For a revocation deadline: the member epoch it was armed at. */
  readonly memberEpoch: number;
}

/** Deadlines one call may fire before it is a bug (a timer re-arming at the same instant). */
const timerFiringsPerCallMax = 100_000;
/**
 * Heartbeats of one group held while its write is in flight (a client sends one at a time per
 * member, so this is only reached by a misbehaving client); beyond it: COORDINATOR_NOT_AVAILABLE.
 */
const queuedHeartbeatsPerGroupMax = 10_000;
/**
 * The longest a heartbeat waits for its group's write, as a fraction of the heartbeat interval: a
 * client gives a heartbeat about one interval (librdkafka's request timeout is the interval) and
 * then sends it again, so one answered later was computed for a client that moved on (its answer
 * is dropped, and the member's next heartbeat can carry an epoch the coordinator already replaced:
 * fenced, its partitions lost). Waiting half an interval leaves the other half for the heartbeat's
 * own write; past it, the heartbeat is answered COORDINATOR_NOT_AVAILABLE without being run, and the
 * client sends it again.
 */
const queuedHeartbeatWaitIntervalFraction = 0.5;
/** Kafka's coordinator timer retry backoff: an expiry whose records were refused runs again this much later. */
const expiryRetryBackoffMs = 500;
/** Kafka's Uuid: 16 random bytes, url-safe base64 without padding (22 characters). */
const memberIdBytes = 16;

function timerKey(kind: ConsumerTimer['kind'], groupId: string, memberId: string): string {
  return `${kind}\u0000${groupId}\u0000${memberId}`;
}

function errorResponse(
  errorCode: number,
  errorMessage: string | null = null,
): ConsumerGroupHeartbeatResponse {
  return {
    api: 'ConsumerGroupHeartbeat',
    errorCode,
    errorMessage,
    memberId: null,
    memberEpoch: 0,
    heartbeatIntervalMs: 0,
    assignment: null,
  };
}

function toWire(assignment: TopicAssignment): { topicId: string; partitions: readonly number[] }[] {
  return [...assignment].map(([topicId, partitions]) => ({ topicId, partitions }));
}

export class ConsumerGroupManager {
  private readonly groups = new Map<string, ConsumerGroup>();
  private readonly timers = new DeadlineQueue<ConsumerTimer>();
  /**
   * Groups with a write in flight, by id. A group has one at a time: its next heartbeat or expiry
   * waits (`queued`, `deferredExpiries`) until the write is replicated or refused, so every change is
   * computed from a state whose records are in the log, and a refused one can be undone alone.
   */
  private readonly writing = new Map<string, ConsumerGroup>();
  private readonly queued = new Map<string, QueuedHeartbeat[]>();
  /** When each waiting heartbeat stops waiting, by request id. */
  private readonly queuedDeadlines = new DeadlineQueue<QueuedHeartbeatDeadline>();
  private readonly deferredExpiries = new Map<string, ConsumerTimer[]>();

  constructor(
    private readonly config: GroupCoordinatorConfig,
    private readonly random: Random,
    private readonly outbox: CoordinatorOutbox,
    /** Asks for one append to `__consumer_offsets`; the continuation comes back to continueAfterWrite. */
    private readonly appendRecords: (
      partitionIndex: number,
      records: OffsetsRecord[],
      continuation: ConsumerGroupWriteContinuation,
    ) => void,
  ) {}

  get(groupId: string): ConsumerGroup | undefined {
    return this.groups.get(groupId);
  }

  groupIds(): string[] {
    return [...this.groups.keys()].sort();
  }

  private get defaultAssignor(): AssignorName {
    const name = this.config.consumerAssignors[0]!;
    invariant(isAssignorName(name), 'config checked the assignors');
    return name;
  }

  // ---------------------------------------------------------------- ConsumerGroupHeartbeat

  /**
   * One heartbeat for a group this coordinator serves (the caller checked the group id, ownership
   * and that no classic group with members holds the id). Answered after the records it wrote are
   * replicated, or at once when it wrote none; while the group has a write in flight it waits for it,
   * half a heartbeat interval at most (`queuedHeartbeatWaitIntervalFraction`) unless it is a leave.
   */
  heartbeat(
    requestId: RequestId,
    request: ConsumerGroupHeartbeatRequest,
    partitionIndex: number,
    topics: ConsumerTopicsImage,
    nowMs: number,
  ): void {
    if (!this.writing.has(request.groupId)) {
      this.processHeartbeat({ requestId, request, partitionIndex, topics }, nowMs);
      return;
    }
    const queue = this.queued.get(request.groupId) ?? [];
    if (queue.length >= queuedHeartbeatsPerGroupMax) {
      this.outbox.respond(requestId, errorResponse(ErrorCode.COORDINATOR_NOT_AVAILABLE));
      return;
    }
    queue.push({ requestId, request, partitionIndex, topics });
    this.queued.set(request.groupId, queue);
    // A leave (epoch -1, or -2 for a static member) keeps waiting: its client closed without waiting
    // for the answer, and run late it still hands the member's partitions on at once (answered
    // COORDINATOR_NOT_AVAILABLE, the member would hold them until its session expires).
    if (request.memberEpoch < 0) return;
    this.queuedDeadlines.set(
      String(requestId),
      nowMs +
        Math.max(
          1,
          Math.floor(this.config.consumerHeartbeatIntervalMs * queuedHeartbeatWaitIntervalFraction),
        ),
      { groupId: request.groupId, requestId },
    );
  }

  /**
   * Heartbeats that waited their longest for their group's write are answered
   * COORDINATOR_NOT_AVAILABLE and dropped from the queue unrun: nothing of them reaches the group,
   * and the client sends the heartbeat again (after finding the coordinator, which is still this one).
   */
  private expireQueuedHeartbeats(nowMs: number): void {
    for (
      let due = this.queuedDeadlines.popDue(nowMs);
      due !== null;
      due = this.queuedDeadlines.popDue(nowMs)
    ) {
      const { groupId, requestId } = due.value;
      const queue = this.queued.get(groupId);
      const index = queue?.findIndex((waiting) => waiting.requestId === requestId) ?? -1;
      invariant(queue !== undefined && index >= 0, () => `queued heartbeat ${requestId} outlived its queue`);
      queue.splice(index, 1);
      if (queue.length === 0) this.queued.delete(groupId);
      this.outbox.respond(requestId, errorResponse(ErrorCode.COORDINATOR_NOT_AVAILABLE));
    }
  }

  private processHeartbeat(heartbeat: QueuedHeartbeat, nowMs: number): void {
    const { requestId, request, partitionIndex, topics } = heartbeat;
    const snapshot = this.groups.get(request.groupId)?.snapshot() ?? null;
    const records: OffsetsRecord[] = [];
    const response = this.handleHeartbeat(request, partitionIndex, topics, nowMs, records);
    const group = this.groups.get(request.groupId);
    // Assertions stay on: one member per partition, epochs in order (O(group) per heartbeat).
    group?.checkInvariants();
    if (records.length === 0) {
      this.outbox.respond(requestId, response);
      return;
    }
    invariant(group !== undefined, 'a heartbeat that wrote records has its group');
    this.writing.set(group.groupId, group);
    this.appendRecords(partitionIndex, records, {
      kind: 'consumerGroupWrite',
      requestId,
      response,
      rollback: { group, snapshot, expiry: null },
    });
  }

  /**
   * The write's append completed. A refused append (the records are not in the log) undoes the
   * group's change, as Kafka's coordinator reverts its timeline to the last written offset; an append
   * whose records may still commit (timed out waiting for replicas) keeps it, as Kafka does. Then the
   * heartbeats and expiries that waited for the write run.
   */
  continueAfterWrite(
    continuation: ConsumerGroupWriteContinuation,
    appendErrorCode: number,
    nowMs: number,
  ): void {
    const rollback = continuation.rollback;
    const groupId = rollback?.group.groupId;
    let current = false;
    if (rollback !== null && groupId !== undefined) {
      invariant(this.writing.get(groupId) === rollback.group, 'one write in flight per consumer group');
      this.writing.delete(groupId);
      // DeleteGroups or a JoinGroup's conversion may have removed the group meanwhile.
      current = this.groups.get(groupId) === rollback.group;
      if (current && appendErrorCode !== ErrorCode.NONE && !recordsMayBeInLog(appendErrorCode)) {
        this.undo(rollback, nowMs);
      }
    }
    if (continuation.requestId !== null && continuation.response !== null) {
      this.outbox.respond(
        continuation.requestId,
        appendErrorCode === ErrorCode.NONE
          ? continuation.response
          : errorResponse(storeGroupErrorCode(appendErrorCode)),
      );
    }
    if (groupId !== undefined) this.resume(groupId, current, nowMs);
  }

  /** Puts the group back as it was before a refused write, with deadlines for the members it has again. */
  private undo(rollback: ConsumerGroupRollback, nowMs: number): void {
    const { group, snapshot, expiry } = rollback;
    const before = [...group.members.keys()];
    if (snapshot === null) {
      this.groups.delete(group.groupId);
      for (const memberId of before) this.deleteTimers(group.groupId, memberId);
      return;
    }
    group.restore(snapshot);
    for (const memberId of before) {
      if (!group.members.has(memberId)) this.deleteTimers(group.groupId, memberId);
    }
    for (const member of group.members.values()) {
      if (!this.timers.has(timerKey('session', group.groupId, member.memberId))) {
        this.scheduleSession(group, member.memberId, nowMs);
      }
      this.scheduleRevocation(group, member, nowMs);
    }
    if (expiry !== null && group.members.has(expiry.memberId)) {
      this.timers.set(
        timerKey(expiry.kind, group.groupId, expiry.memberId),
        nowMs + expiryRetryBackoffMs,
        expiry,
      );
    }
    group.checkInvariants();
  }

  /**
   * After a group's write: its deferred expiries are due again (unless a later deadline replaced
   * them) and its queued heartbeats run in order until one writes. If the group was removed while
   * the write was out, they are answered COORDINATOR_NOT_AVAILABLE and the client retries through
   * the coordinator's checks again.
   */
  private resume(groupId: string, current: boolean, nowMs: number): void {
    const group = this.groups.get(groupId);
    for (const timer of this.deferredExpiries.get(groupId) ?? []) {
      const key = timerKey(timer.kind, groupId, timer.memberId);
      if (group?.members.has(timer.memberId) && !this.timers.has(key)) this.timers.set(key, nowMs, timer);
    }
    this.deferredExpiries.delete(groupId);
    const queue = this.queued.get(groupId);
    if (queue === undefined) return;
    while (queue.length > 0 && !this.writing.has(groupId)) {
      const next = queue.shift()!;
      this.queuedDeadlines.delete(String(next.requestId));
      if (current) this.processHeartbeat(next, nowMs);
      else this.outbox.respond(next.requestId, errorResponse(ErrorCode.COORDINATOR_NOT_AVAILABLE));
    }
    if (queue.length === 0) this.queued.delete(groupId);
  }

  /** The partition was unloaded while the write was out: the heartbeat's answer is NOT_COORDINATOR. */
  cancelWrite(continuation: ConsumerGroupWriteContinuation): void {
    if (continuation.rollback !== null) this.writing.delete(continuation.rollback.group.groupId);
    if (continuation.requestId === null) return;
    this.outbox.respond(continuation.requestId, errorResponse(ErrorCode.NOT_COORDINATOR));
  }

  private validate(request: ConsumerGroupHeartbeatRequest): string | null {
    const epoch = request.memberEpoch;
    if (request.groupId === '') return 'GroupId can\u2019t be empty.';
    if (request.apiVersion >= 1 || epoch !== 0) {
      if (request.memberId === '') return 'MemberId can\u2019t be empty.';
    }
    if (epoch < leaveGroupStaticMemberEpoch) return `MemberEpoch ${epoch} is invalid.`;
    if (epoch === 0) {
      if (request.rebalanceTimeoutMs === -1) return 'RebalanceTimeoutMs must be provided in first request.';
      if (request.topicPartitions !== null && request.topicPartitions.length > 0)
        return 'TopicPartitions must be empty when (re-)joining.';
      if (request.subscribedTopicNames === null && request.subscribedTopicRegex === null)
        return 'SubscribedTopicNames or SubscribedTopicRegex must be set in first request.';
    }
    if (epoch === leaveGroupStaticMemberEpoch && request.instanceId === null)
      return 'InstanceId can\u2019t be null.';
    return null;
  }

  private handleHeartbeat(
    request: ConsumerGroupHeartbeatRequest,
    partitionIndex: number,
    topics: ConsumerTopicsImage,
    nowMs: number,
    records: OffsetsRecord[],
  ): ConsumerGroupHeartbeatResponse {
    const invalid = this.validate(request);
    if (invalid !== null) return errorResponse(ErrorCode.INVALID_REQUEST, invalid);
    if (request.serverAssignor !== null && !this.config.consumerAssignors.includes(request.serverAssignor)) {
      return errorResponse(
        ErrorCode.UNSUPPORTED_ASSIGNOR,
        `ServerAssignor ${request.serverAssignor} is not supported. Supported assignors: ${this.config.consumerAssignors.join(', ')}.`,
      );
    }
    if (request.subscribedTopicRegex !== null && compileRegex(request.subscribedTopicRegex) === null) {
      return errorResponse(
        ErrorCode.INVALID_REGULAR_EXPRESSION,
        `SubscribedTopicRegex \`${request.subscribedTopicRegex}\` is not a valid regular expression.`,
      );
    }
    const epoch = request.memberEpoch;
    let group = this.groups.get(request.groupId);
    if (group === undefined) {
      if (epoch !== 0)
        return errorResponse(
          ErrorCode.UNKNOWN_MEMBER_ID,
          `Member ${request.memberId} is not a member of group ${request.groupId}.`,
        );
      group = new ConsumerGroup(request.groupId, partitionIndex, this.defaultAssignor);
      this.groups.set(request.groupId, group);
    }
    if (epoch === leaveGroupMemberEpoch || epoch === leaveGroupStaticMemberEpoch) {
      return this.leave(group, request, records);
    }

    let member = epoch === 0 ? undefined : group.members.get(request.memberId);
    let bump = false;
    if (epoch === 0) {
      const joined = this.join(group, request, records);
      if ('errorCode' in joined) return joined;
      member = joined.member;
      bump = joined.bump;
    } else {
      if (member === undefined) {
        return errorResponse(
          ErrorCode.UNKNOWN_MEMBER_ID,
          `Member ${request.memberId} is not a member of group ${group.groupId}.`,
        );
      }
      const owned = request.topicPartitions === null ? null : assignmentOf(request.topicPartitions);
      if (
        epoch > member.memberEpoch ||
        (epoch < member.memberEpoch &&
          (epoch !== member.previousMemberEpoch || owned === null || !isSubset(owned, member.assigned)))
      ) {
        return errorResponse(
          ErrorCode.FENCED_MEMBER_EPOCH,
          `The consumer group member has a ${epoch > member.memberEpoch ? 'greater' : 'smaller'} member epoch (${epoch}) than the one known by the group coordinator (${member.memberEpoch}). The member must abandon all its partitions and rejoin.`,
        );
      }
    }
    invariant(member !== undefined, 'a heartbeat has its member by now');

    // Subscription changes (null fields mean unchanged).
    const updated: ConsumerGroupMember = {
      ...member,
      instanceId: request.instanceId ?? member.instanceId,
      rackId: request.rackId ?? member.rackId,
      clientId: request.clientId,
      clientHost: request.clientHost,
      rebalanceTimeoutMs:
        request.rebalanceTimeoutMs === -1 ? member.rebalanceTimeoutMs : request.rebalanceTimeoutMs,
      subscribedTopicNames: request.subscribedTopicNames ?? member.subscribedTopicNames,
      subscribedTopicRegex: request.subscribedTopicRegex ?? member.subscribedTopicRegex,
      serverAssignor: request.serverAssignor ?? member.serverAssignor,
    };
    const subscriptionChanged =
      bump ||
      !sameStrings(updated.subscribedTopicNames, member.subscribedTopicNames) ||
      updated.subscribedTopicRegex !== member.subscribedTopicRegex ||
      updated.serverAssignor !== member.serverAssignor;
    const metadataChanged =
      subscriptionChanged ||
      updated.instanceId !== member.instanceId ||
      updated.rackId !== member.rackId ||
      updated.clientId !== member.clientId ||
      updated.clientHost !== member.clientHost ||
      updated.rebalanceTimeoutMs !== member.rebalanceTimeoutMs;
    const before = group.members.get(updated.memberId);
    group.setMember(updated.memberId, updated);
    if (metadataChanged) records.push(memberMetadataRecord(group, updated));

    this.maybeBumpAndAssign(group, topics, subscriptionChanged, records);

    // Reconcile towards the target.
    const owned = request.topicPartitions === null ? null : assignmentOf(request.topicPartitions);
    const current = group.members.get(updated.memberId)!;
    const next = reconcile(
      group,
      current,
      group.assignmentEpoch,
      group.targetAssignment.get(updated.memberId) ?? emptyAssignment,
      owned,
    );
    if (next !== current) group.setMember(next.memberId, next);
    if (
      before === undefined ||
      next.memberEpoch !== before.memberEpoch ||
      next.state !== before.state ||
      !assignmentsEqual(next.assigned, before.assigned) ||
      !assignmentsEqual(next.pendingRevocation, before.pendingRevocation)
    ) {
      records.push(memberAssignmentRecord(group, next));
    }

    this.scheduleSession(group, next.memberId, nowMs);
    this.scheduleRevocation(group, next, nowMs);

    const assignmentChanged =
      epoch === 0 ||
      owned !== null ||
      before === undefined ||
      !assignmentsEqual(next.assigned, before.assigned);
    return {
      api: 'ConsumerGroupHeartbeat',
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      memberId: next.memberId,
      memberEpoch: next.memberEpoch,
      heartbeatIntervalMs: this.config.consumerHeartbeatIntervalMs,
      assignment: assignmentChanged ? { topicPartitions: toWire(next.assigned) } : null,
    };
  }

  /** Epoch 0: a new member, a dynamic member rejoining (it lost its partitions), or a static one replacing its previous self. */
  private join(
    group: ConsumerGroup,
    request: ConsumerGroupHeartbeatRequest,
    records: OffsetsRecord[],
  ): { member: ConsumerGroupMember; bump: boolean } | ConsumerGroupHeartbeatResponse {
    const memberId = request.memberId === '' ? this.newMemberId() : request.memberId;
    const fresh = (): ConsumerGroupMember => ({
      memberId,
      instanceId: request.instanceId,
      rackId: request.rackId,
      clientId: request.clientId,
      clientHost: request.clientHost,
      rebalanceTimeoutMs: request.rebalanceTimeoutMs,
      subscribedTopicNames: [],
      subscribedTopicRegex: null,
      serverAssignor: null,
      state: 'stable',
      memberEpoch: 0,
      previousMemberEpoch: 0,
      assigned: emptyAssignment,
      pendingRevocation: emptyAssignment,
    });
    if (request.instanceId !== null) {
      const previous = group.memberByInstanceId(request.instanceId);
      if (previous !== undefined && previous.memberId !== memberId) {
        if (previous.memberEpoch !== leaveGroupStaticMemberEpoch) {
          return errorResponse(
            ErrorCode.UNRELEASED_INSTANCE_ID,
            `Static member ${previous.memberId} with instance id ${request.instanceId} is not released yet.`,
          );
        }
        // The restarted static member takes its predecessor's place, epoch and partitions, without
        // a rebalance (Kafka's static member replacement).
        const successor: ConsumerGroupMember = {
          ...previous,
          memberId,
          clientId: request.clientId,
          clientHost: request.clientHost,
          memberEpoch: previous.previousMemberEpoch,
          previousMemberEpoch: previous.previousMemberEpoch,
        };
        const target = group.targetAssignment.get(previous.memberId);
        this.removeMember(group, previous.memberId, records);
        group.setMember(memberId, successor);
        if (target !== undefined) group.targetAssignment.set(memberId, target);
        records.push(memberMetadataRecord(group, successor), memberAssignmentRecord(group, successor));
        return { member: successor, bump: false };
      }
    }
    const existing = group.members.get(memberId);
    if (existing !== undefined) {
      // A rejoin (after fencing, or a restart reusing the id): it gave up everything it held.
      const reset: ConsumerGroupMember = {
        ...existing,
        ...{ state: 'stable', memberEpoch: 0, previousMemberEpoch: 0 },
        assigned: emptyAssignment,
        pendingRevocation: emptyAssignment,
        assignmentEpochs: new Map(),
      };
      group.setMember(memberId, reset);
      records.push(memberAssignmentRecord(group, reset));
      return { member: reset, bump: true };
    }
    if (group.members.size >= this.config.consumerMembersPerGroupMax) {
      return errorResponse(
        ErrorCode.GROUP_MAX_SIZE_REACHED,
        `The consumer group has reached its maximum capacity of ${this.config.consumerMembersPerGroupMax} members.`,
      );
    }
    const member = fresh();
    group.setMember(memberId, member);
    return { member, bump: true };
  }

  private leave(
    group: ConsumerGroup,
    request: ConsumerGroupHeartbeatRequest,
    records: OffsetsRecord[],
  ): ConsumerGroupHeartbeatResponse {
    const epoch = request.memberEpoch;
    let member = group.members.get(request.memberId);
    if (member === undefined && request.instanceId !== null) {
      member = group.memberByInstanceId(request.instanceId);
    }
    if (member === undefined) {
      return errorResponse(
        ErrorCode.UNKNOWN_MEMBER_ID,
        `Member ${request.memberId} is not a member of group ${group.groupId}.`,
      );
    }
    if (epoch === leaveGroupStaticMemberEpoch) {
      // A static member leaving for a restart keeps its place (and partitions) until its session
      // expires or its successor joins with the same instance id.
      const parked: ConsumerGroupMember = {
        ...member,
        previousMemberEpoch: member.memberEpoch,
        memberEpoch: leaveGroupStaticMemberEpoch,
      };
      group.setMember(member.memberId, parked);
      records.push(memberAssignmentRecord(group, parked));
      this.timers.delete(timerKey('revocation', group.groupId, member.memberId));
    } else {
      this.removeMember(group, member.memberId, records);
      this.bumpEpoch(group, records);
    }
    return {
      api: 'ConsumerGroupHeartbeat',
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      memberId: member.memberId,
      memberEpoch: epoch,
      heartbeatIntervalMs: 0,
      assignment: null,
    };
  }

  private newMemberId(): string {
    const bytes = Buffer.alloc(memberIdBytes);
    for (let i = 0; i < memberIdBytes; i++) bytes[i] = this.random.nextInt(256);
    return bytes.toString('base64url');
  }

  private deleteTimers(groupId: string, memberId: string): void {
    this.timers.delete(timerKey('session', groupId, memberId));
    this.timers.delete(timerKey('revocation', groupId, memberId));
  }

  private removeMember(group: ConsumerGroup, memberId: string, records: OffsetsRecord[]): void {
    group.setMember(memberId, null);
    this.deleteTimers(group.groupId, memberId);
    records.push(
      consumerMemberAssignmentRecord(group.groupId, memberId, null),
      consumerMemberMetadataRecord(group.groupId, memberId, null),
    );
  }

  private bumpEpoch(group: ConsumerGroup, records: OffsetsRecord[]): void {
    group.groupEpoch++;
    records.push(consumerGroupMetadataRecord(group.groupId, group.groupEpoch));
  }

  /**
   * Bumps the group epoch when membership or a subscription changed, or when the subscribed topics
   * did (created, deleted, more partitions), then computes a new target assignment if the epoch
   * moved past the last one.
   */
  private maybeBumpAndAssign(
    group: ConsumerGroup,
    topics: ConsumerTopicsImage,
    subscriptionChanged: boolean,
    records: OffsetsRecord[],
  ): void {
    const subscriptions = new Map<string, Set<string>>();
    const used = new Map<string, AssignableTopic>();
    for (const member of group.members.values()) {
      const ids = subscribedTopicIds(member, topics);
      subscriptions.set(member.memberId, ids);
      for (const id of ids) used.set(id, topics.byId.get(id)!);
    }
    const signature = [...used.values()]
      .map((t) => `${t.name}/${t.topicId}/${t.partitionCount}`)
      .sort()
      .join(',');
    if (subscriptionChanged || signature !== group.subscribedTopicsSignature) {
      group.subscribedTopicsSignature = signature;
      this.bumpEpoch(group, records);
    }
    if (group.groupEpoch === group.assignmentEpoch) return;
    const assignor = preferredAssignor(group, this.defaultAssignor);
    const previous = new Map<string, TopicAssignment>();
    for (const member of group.members.values()) {
      previous.set(member.memberId, group.targetAssignment.get(member.memberId) ?? member.assigned);
    }
    const target = assign(assignor, {
      members: [...group.members.values()].map((m) => ({
        memberId: m.memberId,
        subscribedTopicIds: subscriptions.get(m.memberId)!,
      })),
      topics: used,
      previous,
    });
    group.targetAssignment.clear();
    for (const [memberId, assignment] of target) group.targetAssignment.set(memberId, assignment);
    group.assignmentEpoch = group.groupEpoch;
    group.assignorName = assignor;
  }

  // ---------------------------------------------------------------- deadlines

  private scheduleSession(group: ConsumerGroup, memberId: string, nowMs: number): void {
    this.timers.set(
      timerKey('session', group.groupId, memberId),
      nowMs + this.config.consumerSessionTimeoutMs,
      {
        kind: 'session',
        groupId: group.groupId,
        memberId,
        memberEpoch: 0,
      },
    );
  }

  /** A member asked to revoke must do so within its rebalance timeout, or it is fenced (removed). */
  private scheduleRevocation(group: ConsumerGroup, member: ConsumerGroupMember, nowMs: number): void {
    const key = timerKey('revocation', group.groupId, member.memberId);
    if (member.state !== 'unrevoked_partitions') {
      this.timers.delete(key);
      return;
    }
    if (this.timers.has(key)) return;
    this.timers.set(key, nowMs + member.rebalanceTimeoutMs, {
      kind: 'revocation',
      groupId: group.groupId,
      memberId: member.memberId,
      memberEpoch: member.memberEpoch,
    });
  }

  nextDeadlineMs(): number | null {
    const member = this.timers.peekDeadlineMs();
    const queued = this.queuedDeadlines.peekDeadlineMs();
    if (member === null) return queued;
    return queued === null ? member : Math.min(member, queued);
  }

  fireDueTimers(nowMs: number): void {
    this.expireQueuedHeartbeats(nowMs);
    for (let fired = 0; ; fired++) {
      invariant(fired < timerFiringsPerCallMax, 'consumer group timers keep re-arming at the same instant');
      const due = this.timers.popDue(nowMs);
      if (due === null) return;
      const timer = due.value;
      if (this.writing.has(timer.groupId)) {
        // The group's write is in flight: the expiry runs once it is replicated or undone.
        const deferred = this.deferredExpiries.get(timer.groupId) ?? [];
        deferred.push(timer);
        this.deferredExpiries.set(timer.groupId, deferred);
        continue;
      }
      const group = this.groups.get(timer.groupId);
      invariant(group !== undefined, () => `timer ${due.key} outlived its group`);
      const member = group.members.get(timer.memberId);
      invariant(member !== undefined, () => `timer ${due.key} outlived its member`);
      if (
        timer.kind === 'revocation' &&
        (member.state !== 'unrevoked_partitions' || member.memberEpoch !== timer.memberEpoch)
      ) {
        continue;
      }
      const snapshot = group.snapshot();
      const records: OffsetsRecord[] = [];
      this.removeMember(group, member.memberId, records);
      this.bumpEpoch(group, records);
      group.checkInvariants();
      this.writing.set(group.groupId, group);
      this.appendRecords(group.partitionIndex, records, {
        kind: 'consumerGroupWrite',
        requestId: null,
        response: null,
        rollback: { group, snapshot, expiry: timer },
      });
    }
  }

  // ---------------------------------------------------------------- offsets

  /**
   * Kafka's ConsumerGroup.validateOffsetCommit / validateOffsetFetch for a consumer-protocol member:
   * an empty member id with a negative epoch is an admin or manual-assignment client (allowed while
   * the group has no members when committing, always when fetching); otherwise the member must be
   * known (UNKNOWN_MEMBER_ID) and send its current epoch (STALE_MEMBER_EPOCH). A commit at an older
   * epoch passes when every partition it names (`committed`, by topic id) is one the member has held
   * since that epoch or before (KIP-1251's assignment epochs, `holdsSinceEpoch`); a partition whose
   * topic id is unknown fails that check.
   */
  validateOffsetAccess(
    group: ConsumerGroup,
    memberId: string,
    memberEpoch: number,
    access: 'commit' | 'fetch',
    committed: readonly CommittedPartition[] = [],
  ): number {
    if (memberEpoch < 0 && memberId === '') {
      return access === 'fetch' || group.members.size === 0 ? ErrorCode.NONE : ErrorCode.UNKNOWN_MEMBER_ID;
    }
    const member = group.members.get(memberId);
    if (member === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (memberEpoch === member.memberEpoch) return ErrorCode.NONE;
    const heldAll =
      access === 'commit' &&
      memberEpoch >= 0 &&
      memberEpoch < member.memberEpoch &&
      committed.length > 0 &&
      committed.every(
        ({ topicId, partition }) =>
          topicId !== undefined && holdsSinceEpoch(member, topicId, partition, memberEpoch),
      );
    return heldAll ? ErrorCode.NONE : ErrorCode.STALE_MEMBER_EPOCH;
  }

  // ---------------------------------------------------------------- describe, list, delete

  /**
   * One group of ConsumerGroupDescribe. A group left without members stays (Empty) with its epoch,
   * so epochs stay monotonic if members come back; only DeleteGroups forgets it.
   */
  describe(groupId: string, topics: ConsumerTopicsImage): DescribedConsumerGroup {
    const group = this.groups.get(groupId);
    invariant(group !== undefined, 'describe of a group the caller found');
    const described = (assignment: TopicAssignment): DescribedAssignment => ({
      topicPartitions: [...assignment].map(([topicId, partitions]) => ({
        topicId,
        topicName: topics.byId.get(topicId)?.name ?? '',
        partitions,
      })),
    });
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      groupId,
      groupState: group.state,
      groupEpoch: group.groupEpoch,
      assignmentEpoch: group.assignmentEpoch,
      assignorName: group.assignorName,
      members: [...group.members.values()]
        .sort((a, b) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0))
        .map((m) => ({
          memberId: m.memberId,
          instanceId: m.instanceId,
          rackId: m.rackId,
          memberEpoch: m.memberEpoch,
          clientId: m.clientId,
          clientHost: m.clientHost,
          subscribedTopicNames: m.subscribedTopicNames,
          subscribedTopicRegex: m.subscribedTopicRegex,
          assignment: described(m.assigned),
          targetAssignment: described(group.targetAssignment.get(m.memberId) ?? emptyAssignment),
        })),
    };
  }

  /** DeleteGroups of a consumer group: only without members; the tombstones of its records. */
  deletionRecords(group: ConsumerGroup): OffsetsRecord[] | number {
    if (group.members.size > 0) return ErrorCode.NON_EMPTY_GROUP;
    return emptyConsumerGroupTombstones(group.groupId);
  }

  /** Whether a write of the group is in flight (its state may still be undone). */
  isWriting(groupId: string): boolean {
    return this.writing.has(groupId);
  }

  /** Kafka's ConsumerGroup.isSubscribedToTopic: some member subscribes to it by name or regex. */
  isSubscribedToTopic(group: ConsumerGroup, topic: string): boolean {
    for (const member of group.members.values()) {
      if (member.subscribedTopicNames.includes(topic)) return true;
      if (member.subscribedTopicRegex !== null && compileRegex(member.subscribedTopicRegex)?.matches(topic))
        return true;
    }
    return false;
  }

  /**
   * An empty group's expiry tombstones are being written: until they are replicated or refused it is
   * the group's write in flight, so its heartbeats wait and no member joins a group about to go.
   */
  beginExpiry(group: ConsumerGroup): OffsetsRecord[] {
    invariant(group.members.size === 0 && !this.writing.has(group.groupId), 'expiring a busy group');
    this.writing.set(group.groupId, group);
    return emptyConsumerGroupTombstones(group.groupId);
  }

  /**
   * The expiry's append completed: replicated, the group is gone and heartbeats that waited are
   * answered COORDINATOR_NOT_AVAILABLE (their retry starts a new group); refused, it stays.
   */
  finishExpiry(group: ConsumerGroup, replicated: boolean, nowMs: number): void {
    invariant(this.writing.get(group.groupId) === group, 'one write in flight per consumer group');
    this.writing.delete(group.groupId);
    const current = this.groups.get(group.groupId) === group;
    if (current && replicated) this.remove(group.groupId);
    this.resume(group.groupId, current && !replicated, nowMs);
  }

  remove(groupId: string): void {
    const group = this.groups.get(groupId);
    if (group === undefined) return;
    for (const memberId of [...group.members.keys()]) this.removeMember(group, memberId, []);
    this.groups.delete(groupId);
  }

  // ---------------------------------------------------------------- loading

  /**
   * Rebuilds the groups of a loaded partition from the last record per key. Members come back with
   * their epochs and current assignments and a fresh session; the target is recomputed at the next
   * heartbeat (the group epoch is bumped past the stored one, so every member reconciles).
   */
  load(partitionIndex: number, records: readonly DecodedConsumerGroupRecord[], nowMs: number): number {
    const epochs = new Map<string, number>();
    const metadata = new Map<
      string,
      Map<string, DecodedConsumerGroupRecord & { kind: 'consumerMemberMetadata' }>
    >();
    const assignments = new Map<
      string,
      Map<string, DecodedConsumerGroupRecord & { kind: 'consumerMemberAssignment' }>
    >();
    for (const record of records) {
      if (record.kind === 'consumerGroupMetadata') {
        if (record.epoch === null) epochs.delete(record.group);
        else epochs.set(record.group, record.epoch);
      } else {
        const byGroup = record.kind === 'consumerMemberMetadata' ? metadata : assignments;
        const members = (byGroup.get(record.group) ?? new Map()) as Map<string, typeof record>;
        if (record.value === null) members.delete(record.memberId);
        else members.set(record.memberId, record);
        byGroup.set(record.group, members as never);
      }
    }
    let loaded = 0;
    for (const [groupId, epoch] of epochs) {
      const group = new ConsumerGroup(groupId, partitionIndex, this.defaultAssignor);
      group.groupEpoch = epoch;
      for (const [memberId, record] of metadata.get(groupId) ?? []) {
        const value = record.value!;
        const current = assignments.get(groupId)?.get(memberId)?.value ?? null;
        group.setMember(memberId, {
          memberId,
          ...value,
          state: current?.state ?? 'stable',
          memberEpoch: Math.min(current?.memberEpoch ?? 0, epoch),
          previousMemberEpoch: current?.previousMemberEpoch ?? 0,
          assigned: current?.assigned ?? emptyAssignment,
          pendingRevocation: current?.pendingRevocation ?? emptyAssignment,
        });
        this.scheduleSession(group, memberId, nowMs);
      }
      // No target was stored: the next heartbeat computes one (subscribedTopicsSignature '' differs).
      group.assignmentEpoch = epoch;
      this.groups.set(groupId, group);
      group.checkInvariants();
      loaded++;
    }
    return loaded;
  }

  /** After the partition's writes were cancelled: its groups go, heartbeats waiting for them get NOT_COORDINATOR. */
  unload(partitionIndex: number): void {
    for (const [groupId, group] of this.writing) {
      if (group.partitionIndex === partitionIndex) this.writing.delete(groupId);
    }
    for (const [groupId, group] of this.groups) {
      if (group.partitionIndex !== partitionIndex) continue;
      for (const memberId of group.members.keys()) this.deleteTimers(groupId, memberId);
      this.groups.delete(groupId);
    }
    for (const [groupId, queue] of this.queued) {
      if (queue[0]?.partitionIndex !== partitionIndex) continue;
      for (const waiting of queue) {
        this.queuedDeadlines.delete(String(waiting.requestId));
        this.outbox.respond(waiting.requestId, errorResponse(ErrorCode.NOT_COORDINATOR));
      }
      this.queued.delete(groupId);
    }
    for (const [groupId, deferred] of this.deferredExpiries) {
      if (this.groups.has(groupId)) continue;
      // Expiries of groups unloaded (or deleted) with their writes: nothing left to expire.
      if (deferred.length > 0) this.deferredExpiries.delete(groupId);
    }
  }

  checkInvariants(): void {
    for (const group of this.groups.values()) group.checkInvariants();
  }
}

/**
 * Whether a failed append's records may be in the log all the same: appended, then not replicated in
 * time. Kafka keeps the state for these (its write timed out after the append); every other error
 * refused the records before they were written, and the change is undone.
 */
function recordsMayBeInLog(appendErrorCode: number): boolean {
  return (
    appendErrorCode === ErrorCode.REQUEST_TIMED_OUT ||
    appendErrorCode === ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND
  );
}

function memberMetadataRecord(group: ConsumerGroup, member: ConsumerGroupMember): OffsetsRecord {
  return consumerMemberMetadataRecord(group.groupId, member.memberId, {
    instanceId: member.instanceId,
    rackId: member.rackId,
    clientId: member.clientId,
    clientHost: member.clientHost,
    subscribedTopicNames: member.subscribedTopicNames,
    subscribedTopicRegex: member.subscribedTopicRegex,
    rebalanceTimeoutMs: member.rebalanceTimeoutMs,
    serverAssignor: member.serverAssignor,
  });
}

function memberAssignmentRecord(group: ConsumerGroup, member: ConsumerGroupMember): OffsetsRecord {
  return consumerMemberAssignmentRecord(group.groupId, member.memberId, {
    memberEpoch: member.memberEpoch,
    previousMemberEpoch: member.previousMemberEpoch,
    state: member.state,
    assigned: member.assigned,
    pendingRevocation: member.pendingRevocation,
  });
}

/** The assignor most members ask for (ties: the configured order), else the default. */
function preferredAssignor(group: ConsumerGroup, fallback: AssignorName): AssignorName {
  const votes = new Map<AssignorName, number>();
  for (const member of group.members.values()) {
    const name = member.serverAssignor;
    if (name !== null && isAssignorName(name)) votes.set(name, (votes.get(name) ?? 0) + 1);
  }
  let best: AssignorName = fallback;
  let bestVotes = 0;
  for (const [name, count] of votes) {
    if (count > bestVotes) {
      best = name;
      bestVotes = count;
    }
  }
  return best;
}

/** Longest subscribed-topic regex accepted, in UTF-16 code units: RE2's memory is linear in it. */
export const subscribedTopicRegexLengthMax = 4096;

const require = createRequire(import.meta.url);
/** re2js, loaded at the first regex subscription rather than with the broker (most never see one). */
let re2js: typeof RE2JS | undefined;

/**
 * A topic regex as Kafka matches it: compiled by RE2 (Kafka uses RE2J) and matched against the
 * whole topic name (`matches`). re2js is RE2's engine in JavaScript, linear in the pattern and the
 * name, so a member's `(a+)+$` cannot hold the coordinator's event loop as a backtracking RegExp
 * would; like RE2J it has no backreferences or lookaround, and such a pattern is refused.
 */
function compileRegex(regex: string): RE2JS | null {
  if (regex.length > subscribedTopicRegexLengthMax) return null;
  // Loaded outside the try: a broken install is an error to see, not a regex refused as invalid.
  re2js ??= (require('re2js') as typeof import('re2js')).RE2JS;
  try {
    return re2js.compile(regex);
  } catch {
    return null;
  }
}

function subscribedTopicIds(member: ConsumerGroupMember, topics: ConsumerTopicsImage): Set<string> {
  const ids = new Set<string>();
  for (const name of member.subscribedTopicNames) {
    const topic = topics.byName.get(name);
    if (topic !== undefined) ids.add(topic.topicId);
  }
  if (member.subscribedTopicRegex !== null) {
    const regex = compileRegex(member.subscribedTopicRegex);
    if (regex !== null) {
      for (const topic of topics.byName.values()) if (regex.matches(topic.name)) ids.add(topic.topicId);
    }
  }
  return ids;
}

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const sortedA = [...a].sort();
  const sortedB = [...b].sort();
  return sortedA.every((value, i) => value === sortedB[i]);
}

function isSubset(owned: TopicAssignment, assigned: TopicAssignment): boolean {
  for (const [topicId, partitions] of owned) {
    const mine = assigned.get(topicId) ?? [];
    if (!partitions.every((p) => mine.includes(p))) return false;
  }
  return true;
}

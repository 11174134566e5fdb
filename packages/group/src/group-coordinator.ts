// The group coordinator's decision core, after Kafka's GroupCoordinator + GroupMetadataManager
// (the "classic" protocol: JoinGroup/SyncGroup/Heartbeat/LeaveGroup, offsets in `__consumer_offsets`).
// It holds every group of the offsets partitions this broker leads and does no I/O: each call takes
// the time and returns effects (responses to send, records to append); appends come back through
// `onAppendComplete`, deadlines through `tick`. Kafka's purgatories (DelayedJoin, InitialDelayedJoin,
// DelayedHeartbeat, DelayedSync) are the deadlines of one DeadlineQueue here; its callbacks are the
// request ids held on members (`joinRequestId`, `syncRequestId`) and continuations keyed by append token.

import type { Random } from '@gregor/ground';
import { invariant } from '@gregor/ground';
import { ErrorCode } from '@gregor/protocol';
import { type GroupCoordinatorConfig, groupCoordinatorConfig } from './config.js';
import { DeadlineQueue } from './deadline-queue.js';
import { Group, Member, unknownGenerationId, unknownMemberId } from './group.js';
import { coordinatorPartitionFor } from './java-hash.js';
import type {
  AppendToken,
  DeleteGroupsRequest,
  DescribedGroup,
  DescribeGroupsRequest,
  GroupEffect,
  GroupResponse,
  HeartbeatRequest,
  JoinGroupRequest,
  JoinGroupResponse,
  LeaveGroupRequest,
  ListGroupsRequest,
  LoadSummary,
  OffsetCommitRequest,
  OffsetFetchPartition,
  OffsetFetchRequest,
  ProtocolMetadata,
  RequestId,
  SyncGroupRequest,
} from './messages.js';
import {
  decodeOffsetsRecord,
  type GroupMetadataValue,
  groupMetadataRecord,
  noLeaderEpoch,
  noTimestamp,
  type OffsetCommitValue,
  type OffsetsRecord,
  offsetCommitRecord,
  recordStringBytesMax,
} from './offsets-records.js';
import { randomUuidString } from './random.js';

/** Characters a generated member id adds to the client id: "-" and a 36-character UUID. */
const memberIdSuffixChars = 37;
/**
 * Timer firings one call may process. Each firing either removes something or moves a deadline
 * forward, so a well-formed state never comes close; reaching it means a timer re-arms itself at
 * the same instant forever.
 */
const timerFiringsPerCallMax = 1_000_000;
const emptyBytes = Buffer.alloc(0);

type TimerValue =
  | { readonly kind: 'session'; readonly groupId: string; readonly memberId: string }
  | { readonly kind: 'pendingMember'; readonly groupId: string; readonly memberId: string }
  | { readonly kind: 'join'; readonly groupId: string }
  | { readonly kind: 'sync'; readonly groupId: string; readonly generationId: number };

interface DeleteBatch {
  readonly requestId: RequestId;
  readonly results: { groupId: string; errorCode: number }[];
  waitingAppendCount: number;
}

interface CommitEntry {
  readonly topic: string;
  readonly partition: number;
  readonly value: OffsetCommitValue;
}

/** What to do when an append completes (Kafka's storeGroup / storeOffsets callbacks). */
type Continuation =
  | {
      readonly kind: 'storeAssignment';
      readonly group: Group;
      readonly generationId: number;
      readonly assignment: ReadonlyMap<string, Buffer>;
    }
  | {
      readonly kind: 'storeStaticRejoin';
      readonly group: Group;
      readonly requestId: RequestId;
      readonly groupInstanceId: string;
      readonly oldMemberId: string;
      readonly newMemberId: string;
      readonly leaderBeforeRejoin: string | null;
      readonly previous: {
        protocols: readonly ProtocolMetadata[];
        rebalanceTimeoutMs: number;
        sessionTimeoutMs: number;
      };
    }
  /** Persisting a group that became Empty: nobody waits for it (Kafka only logs a failure). */
  | { readonly kind: 'storeEmptyGroup' }
  | {
      readonly kind: 'commitOffsets';
      readonly group: Group;
      readonly requestId: RequestId;
      readonly appended: readonly CommitEntry[];
      /** Per request partition, in request order: null = appended, else its error code. */
      readonly layout: readonly {
        name: string;
        partitions: { partitionIndex: number; errorCode: number | null }[];
      }[];
    }
  | {
      readonly kind: 'deleteGroups';
      readonly batch: DeleteBatch;
      readonly groups: readonly { index: number; group: Group }[];
    };

interface PartitionState {
  status: 'loading' | 'loaded';
  /** Appends asked for and not yet completed, oldest first. */
  readonly appendTokens: AppendToken[];
}

interface StagedGroup {
  /** undefined: no metadata record seen; null: the last one was a tombstone. */
  value: GroupMetadataValue | null | undefined;
  readonly offsets: Map<string, { topic: string; partition: number; value: OffsetCommitValue | null }>;
}

interface LoadStage {
  readonly groups: Map<string, StagedGroup>;
  recordCount: number;
  unknownRecordCount: number;
}

function timerKey(kind: string, groupId: string, memberId = ''): string {
  // Length-prefixed so no group id / member id pair can collide with another.
  return `${kind}:${groupId.length}:${groupId}:${memberId}`;
}

function fitsRecordString(value: string, reservedBytes = 0): boolean {
  return Buffer.byteLength(value, 'utf8') + reservedBytes <= recordStringBytesMax;
}

/** Kafka's GroupMetadataManager.storeGroup error translation. */
function storeGroupErrorCode(appendErrorCode: number): number {
  switch (appendErrorCode) {
    case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
    case ErrorCode.NOT_ENOUGH_REPLICAS:
    case ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND:
    case ErrorCode.REQUEST_TIMED_OUT:
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    case ErrorCode.NOT_LEADER_OR_FOLLOWER:
    case ErrorCode.KAFKA_STORAGE_ERROR:
      return ErrorCode.NOT_COORDINATOR;
    case ErrorCode.MESSAGE_TOO_LARGE:
    case ErrorCode.RECORD_LIST_TOO_LARGE:
    case ErrorCode.INVALID_FETCH_SIZE:
      return ErrorCode.UNKNOWN_SERVER_ERROR;
    default:
      return appendErrorCode;
  }
}

/** Kafka's GroupMetadataManager.storeOffsets error translation. */
function storeOffsetsErrorCode(appendErrorCode: number): number {
  switch (appendErrorCode) {
    case ErrorCode.UNKNOWN_TOPIC_OR_PARTITION:
    case ErrorCode.NOT_ENOUGH_REPLICAS:
    case ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND:
      return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    case ErrorCode.NOT_LEADER_OR_FOLLOWER:
    case ErrorCode.KAFKA_STORAGE_ERROR:
      return ErrorCode.NOT_COORDINATOR;
    case ErrorCode.MESSAGE_TOO_LARGE:
    case ErrorCode.RECORD_LIST_TOO_LARGE:
    case ErrorCode.INVALID_FETCH_SIZE:
      return ErrorCode.INVALID_COMMIT_OFFSET_SIZE;
    default:
      return appendErrorCode;
  }
}

function joinError(memberId: string, errorCode: number): JoinGroupResponse {
  return {
    api: 'JoinGroup',
    errorCode,
    generationId: unknownGenerationId,
    protocolType: '',
    protocolName: '',
    leader: '',
    memberId,
    members: [],
  };
}

export class GroupCoordinator {
  readonly config: GroupCoordinatorConfig;
  private readonly groups = new Map<string, Group>();
  private readonly partitions = new Map<number, PartitionState>();
  private readonly loadStages = new Map<number, LoadStage>();
  private readonly timers = new DeadlineQueue<TimerValue>();
  private readonly pendingAppends = new Map<
    AppendToken,
    { partitionIndex: number; continuation: Continuation }
  >();
  /** Requests received and not yet answered: each id is answered exactly once. */
  private readonly inflightRequestIds = new Set<RequestId>();
  private nextAppendToken: AppendToken = 1;
  private effects: GroupEffect[] = [];
  private readonly touched = new Set<Group>();
  private running = false;

  constructor(
    config: Partial<GroupCoordinatorConfig>,
    private readonly random: Random,
  ) {
    this.config = groupCoordinatorConfig(config);
  }

  // ---------------------------------------------------------------- ownership and loading

  /** The offsets partition whose leader coordinates `groupId`. */
  partitionFor(groupId: string): number {
    return coordinatorPartitionFor(groupId, this.config.offsetsPartitionCount);
  }

  /** Partitions this coordinator owns (loading or loaded). */
  ownedPartitions(): number[] {
    return [...this.partitions.keys()].sort((a, b) => a - b);
  }

  isLoading(partitionIndex: number): boolean {
    return this.partitions.get(partitionIndex)?.status === 'loading';
  }

  /**
   * This broker became leader of offsets partition `partitionIndex`: requests for its groups answer
   * COORDINATOR_LOAD_IN_PROGRESS until `completeLoad`.
   */
  beginLoad(partitionIndex: number): void {
    this.checkPartitionIndex(partitionIndex);
    invariant(
      !this.partitions.has(partitionIndex),
      () => `offsets partition ${partitionIndex} is already owned`,
    );
    this.partitions.set(partitionIndex, { status: 'loading', appendTokens: [] });
    this.loadStages.set(partitionIndex, { groups: new Map(), recordCount: 0, unknownRecordCount: 0 });
  }

  /** Feeds the partition's records in log order (may be called once per batch). Last record per key wins. */
  loadRecords(partitionIndex: number, records: Iterable<OffsetsRecord>): void {
    const stage = this.loadStages.get(partitionIndex);
    invariant(stage !== undefined, () => `offsets partition ${partitionIndex} is not loading`);
    for (const record of records) {
      stage.recordCount++;
      const decoded = decodeOffsetsRecord(record);
      if (decoded.kind === 'unknown' || this.partitionFor(decoded.group) !== partitionIndex) {
        // A record type we do not handle, or a group that hashes elsewhere (only possible if the
        // partition count changed, which Kafka does not support either): not ours to interpret.
        stage.unknownRecordCount++;
        continue;
      }
      let staged = stage.groups.get(decoded.group);
      if (staged === undefined) {
        staged = { value: undefined, offsets: new Map() };
        stage.groups.set(decoded.group, staged);
      }
      if (decoded.kind === 'groupMetadata') {
        staged.value = decoded.value;
      } else {
        const key = `${decoded.topic}\u0000${decoded.partition}`;
        // Delete then set, so a re-committed partition moves to the end like the log order.
        staged.offsets.delete(key);
        staged.offsets.set(key, { topic: decoded.topic, partition: decoded.partition, value: decoded.value });
      }
    }
  }

  /**
   * Builds the partition's groups from what `loadRecords` saw. Groups that had members come back
   * Stable with their members, each given a fresh session deadline from `nowMs` (as Kafka does).
   */
  completeLoad(partitionIndex: number, nowMs: number): LoadSummary {
    const stage = this.loadStages.get(partitionIndex);
    const partition = this.partitions.get(partitionIndex);
    invariant(
      stage !== undefined && partition !== undefined,
      () => `offsets partition ${partitionIndex} is not loading`,
    );
    this.loadStages.delete(partitionIndex);
    let groupCount = 0;
    let offsetCount = 0;
    for (const [groupId, staged] of stage.groups) {
      const offsets = [...staged.offsets.values()].filter((o) => o.value !== null);
      if (!staged.value && offsets.length === 0) continue;
      invariant(!this.groups.has(groupId), () => `group ${groupId} loaded twice`);
      const group = staged.value
        ? this.groupFromRecord(groupId, partitionIndex, staged.value, nowMs)
        : new Group(groupId, partitionIndex, 'Empty', nowMs);
      for (const offset of offsets) group.setCommittedOffset(offset.topic, offset.partition, offset.value!);
      this.groups.set(groupId, group);
      groupCount++;
      offsetCount += offsets.length;
      for (const member of group.members.values()) this.scheduleSession(group, member, nowMs);
      if (group.members.size > this.config.membersPerGroupMax) {
        // Kafka: a group loaded over capacity rebalances, and the join limit trims it.
        this.prepareRebalance(group, nowMs);
      }
      group.checkInvariants();
    }
    partition.status = 'loaded';
    return {
      partitionIndex,
      recordCount: stage.recordCount,
      groupCount,
      offsetCount,
      unknownRecordCount: stage.unknownRecordCount,
    };
  }

  /** `beginLoad`, `loadRecords` and `completeLoad` in one call. */
  loadPartition(partitionIndex: number, records: Iterable<OffsetsRecord>, nowMs: number): LoadSummary {
    this.beginLoad(partitionIndex);
    this.loadRecords(partitionIndex, records);
    return this.completeLoad(partitionIndex, nowMs);
  }

  /**
   * This broker no longer leads `partitionIndex`: its groups are dropped, every request held for them
   * is answered NOT_COORDINATOR, and completions of its outstanding appends are ignored from now on.
   */
  unloadPartition(partitionIndex: number): GroupEffect[] {
    return this.run(null, () => {
      if (!this.partitions.has(partitionIndex)) return;
      for (const [token, pending] of [...this.pendingAppends]) {
        if (pending.partitionIndex !== partitionIndex) continue;
        this.pendingAppends.delete(token);
        this.cancelContinuation(pending.continuation);
      }
      for (const group of [...this.groups.values()]) {
        if (group.partitionIndex !== partitionIndex) continue;
        for (const member of group.members.values()) {
          if (member.joinRequestId !== null) {
            this.respond(member.joinRequestId, joinError(member.memberId, ErrorCode.NOT_COORDINATOR));
            member.joinRequestId = null;
          }
          if (member.syncRequestId !== null) {
            this.respondSyncError(member.syncRequestId, ErrorCode.NOT_COORDINATOR);
            member.syncRequestId = null;
          }
        }
        this.dropGroupTimers(group);
        this.groups.delete(group.groupId);
      }
      this.partitions.delete(partitionIndex);
      this.loadStages.delete(partitionIndex);
    });
  }

  // ---------------------------------------------------------------- time

  /** The earliest deadline (session, rebalance, sync), or null: call `tick` then. */
  nextDeadlineMs(): number | null {
    return this.timers.peekDeadlineMs();
  }

  /** Fires every deadline due at `nowMs`. Request calls do this too, before and after their work. */
  tick(nowMs: number): GroupEffect[] {
    return this.run(nowMs, () => {});
  }

  // ---------------------------------------------------------------- appends

  /**
   * An append asked for by an `append` effect finished: `errorCode` 0 once replicated, else the
   * append's Kafka error. Tokens of an unloaded partition are ignored.
   */
  onAppendComplete(token: AppendToken, errorCode: number, nowMs: number): GroupEffect[] {
    return this.run(nowMs, () => {
      const pending = this.pendingAppends.get(token);
      if (pending === undefined) {
        invariant(
          token > 0 && token < this.nextAppendToken,
          () => `append token ${token} was never handed out`,
        );
        return;
      }
      const partition = this.partitions.get(pending.partitionIndex);
      invariant(partition !== undefined, 'pending append of an unowned partition');
      invariant(
        partition.appendTokens[0] === token,
        () =>
          `appends to offsets partition ${pending.partitionIndex} must complete in order: got ${token}, expected ${partition.appendTokens[0]}`,
      );
      partition.appendTokens.shift();
      this.pendingAppends.delete(token);
      this.continueAfterAppend(pending.continuation, errorCode, nowMs);
    });
  }

  // ---------------------------------------------------------------- JoinGroup

  joinGroup(requestId: RequestId, request: JoinGroupRequest, nowMs: number): GroupEffect[] {
    return this.run(nowMs, () => {
      this.receive(requestId);
      this.handleJoinGroup(requestId, request, nowMs);
    });
  }

  private handleJoinGroup(requestId: RequestId, request: JoinGroupRequest, nowMs: number): void {
    const { groupId, memberId, groupInstanceId } = request;
    const reply = (errorCode: number, id = memberId): void =>
      this.respond(requestId, joinError(id, errorCode));
    const status = this.validateGroupStatus(groupId, true);
    if (status !== ErrorCode.NONE) {
      reply(status);
      return;
    }
    if (
      request.sessionTimeoutMs < this.config.sessionTimeoutMsMin ||
      request.sessionTimeoutMs > this.config.sessionTimeoutMsMax
    ) {
      reply(ErrorCode.INVALID_SESSION_TIMEOUT);
      return;
    }
    // Everything below may be written to the log, whose strings are int16-prefixed.
    const fits =
      fitsRecordString(memberId) &&
      fitsRecordString(request.clientId, memberIdSuffixChars) &&
      fitsRecordString(request.clientHost) &&
      fitsRecordString(request.protocolType) &&
      request.protocols.every((p) => fitsRecordString(p.name)) &&
      (groupInstanceId === null ||
        (groupInstanceId !== '' && fitsRecordString(groupInstanceId, memberIdSuffixChars)));
    if (!fits) {
      reply(ErrorCode.INVALID_REQUEST);
      return;
    }
    // JoinGroup v0 has no rebalance timeout: Kafka uses the session timeout for both.
    const rebalanceTimeoutMs =
      request.apiVersion === 0 ? request.sessionTimeoutMs : request.rebalanceTimeoutMs;
    const isUnknownMember = memberId === unknownMemberId;

    let group = this.groups.get(groupId);
    if (group === undefined) {
      // A group is created by a join with an unknown member id; a known id for a missing group is stale.
      if (!isUnknownMember) {
        reply(ErrorCode.UNKNOWN_MEMBER_ID);
        return;
      }
      if (this.groups.size >= this.config.groupsPerCoordinatorMax) {
        reply(ErrorCode.COORDINATOR_NOT_AVAILABLE);
        return;
      }
      group = this.createGroup(groupId, nowMs);
    }
    this.touched.add(group);

    if (!this.acceptJoiningMember(group, memberId)) {
      // Kafka (KIP-389) removes a known member that no longer fits, so the group shrinks to its limit.
      const member = group.members.get(memberId);
      if (member !== undefined) this.removeMemberAndUpdateGroup(group, member, nowMs);
      reply(ErrorCode.GROUP_MAX_SIZE_REACHED, unknownMemberId);
    } else if (isUnknownMember) {
      this.doNewMemberJoinGroup(group, requestId, request, rebalanceTimeoutMs, nowMs);
    } else {
      this.doCurrentMemberJoinGroup(group, requestId, request, rebalanceTimeoutMs, nowMs);
    }
    if (group.is('PreparingRebalance')) this.tryCompleteJoin(group, nowMs);
  }

  private acceptJoiningMember(group: Group, memberId: string): boolean {
    const max = this.config.membersPerGroupMax;
    switch (group.state) {
      case 'Empty':
      case 'Dead':
        return true;
      case 'PreparingRebalance':
        return (group.members.get(memberId)?.isAwaitingJoin ?? false) || group.awaitingJoinCount < max;
      case 'CompletingRebalance':
      case 'Stable':
        return group.has(memberId) || group.members.size < max;
    }
  }

  private doNewMemberJoinGroup(
    group: Group,
    requestId: RequestId,
    request: JoinGroupRequest,
    rebalanceTimeoutMs: number,
    nowMs: number,
  ): void {
    if (group.is('Dead')) {
      this.respond(requestId, joinError(unknownMemberId, ErrorCode.COORDINATOR_NOT_AVAILABLE));
      return;
    }
    if (
      !group.supportsProtocols(
        request.protocolType,
        request.protocols.map((p) => p.name),
      )
    ) {
      this.respond(requestId, joinError(unknownMemberId, ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
      return;
    }
    const newMemberId = this.generateMemberId(group, request.groupInstanceId ?? request.clientId);
    if (request.groupInstanceId !== null) {
      const oldMemberId = group.staticMemberId(request.groupInstanceId);
      if (oldMemberId !== null) {
        this.updateStaticMemberAndRebalance(
          group,
          requestId,
          request,
          request.groupInstanceId,
          oldMemberId,
          newMemberId,
          rebalanceTimeoutMs,
          nowMs,
        );
      } else {
        this.addMemberAndRebalance(group, requestId, request, newMemberId, rebalanceTimeoutMs, nowMs);
      }
    } else if (request.apiVersion >= 4) {
      // KIP-394: hand out an id and make the client rejoin with it, so a client that retries a join
      // it never heard back from does not leave an orphan member behind.
      if (group.pendingMemberIds.size >= this.config.pendingMembersPerGroupMax) {
        this.respond(requestId, joinError(unknownMemberId, ErrorCode.GROUP_MAX_SIZE_REACHED));
        return;
      }
      group.pendingMemberIds.add(newMemberId);
      this.timers.set(timerKey('pending', group.groupId, newMemberId), nowMs + request.sessionTimeoutMs, {
        kind: 'pendingMember',
        groupId: group.groupId,
        memberId: newMemberId,
      });
      this.respond(requestId, joinError(newMemberId, ErrorCode.MEMBER_ID_REQUIRED));
    } else {
      this.addMemberAndRebalance(group, requestId, request, newMemberId, rebalanceTimeoutMs, nowMs);
    }
  }

  private doCurrentMemberJoinGroup(
    group: Group,
    requestId: RequestId,
    request: JoinGroupRequest,
    rebalanceTimeoutMs: number,
    nowMs: number,
  ): void {
    const { memberId, groupInstanceId } = request;
    const reply = (errorCode: number): void => this.respond(requestId, joinError(memberId, errorCode));
    if (group.is('Dead')) {
      reply(ErrorCode.COORDINATOR_NOT_AVAILABLE);
      return;
    }
    if (
      !group.supportsProtocols(
        request.protocolType,
        request.protocols.map((p) => p.name),
      )
    ) {
      reply(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
      return;
    }
    if (group.pendingMemberIds.has(memberId)) {
      // The rejoin after MEMBER_ID_REQUIRED. Pending members are never static (static members skip
      // that step); Kafka throws IllegalStateException here, which its handler turns into this code.
      if (groupInstanceId !== null) {
        reply(ErrorCode.UNKNOWN_SERVER_ERROR);
        return;
      }
      this.timers.delete(timerKey('pending', group.groupId, memberId));
      this.addMemberAndRebalance(group, requestId, request, memberId, rebalanceTimeoutMs, nowMs);
      return;
    }
    const memberError = this.validateCurrentMember(group, memberId, groupInstanceId);
    if (memberError !== ErrorCode.NONE) {
      reply(memberError);
      return;
    }
    const member = group.get(memberId);
    switch (group.state) {
      case 'PreparingRebalance': {
        this.updateMemberAndRebalance(group, member, requestId, request, rebalanceTimeoutMs, nowMs);
        return;
      }
      case 'CompletingRebalance':
        if (member.matches(request.protocols)) {
          this.respond(requestId, this.joinResult(group, member, group.isLeader(memberId)));
          return;
        }
        this.updateMemberAndRebalance(group, member, requestId, request, rebalanceTimeoutMs, nowMs);
        return;
      case 'Stable':
        // A leader's rejoin always rebalances: it may have seen a change (new partitions) that the
        // member metadata does not show. A follower with unchanged metadata just gets the generation.
        if (group.isLeader(memberId) || !member.matches(request.protocols)) {
          this.updateMemberAndRebalance(group, member, requestId, request, rebalanceTimeoutMs, nowMs);
          return;
        }
        this.respond(requestId, this.joinResult(group, member, false));
        return;
      case 'Empty':
      case 'Dead':
        // Unreachable (validateCurrentMember found the member), kept as Kafka answers it.
        reply(ErrorCode.UNKNOWN_MEMBER_ID);
        return;
    }
  }

  private addMemberAndRebalance(
    group: Group,
    requestId: RequestId,
    request: JoinGroupRequest,
    memberId: string,
    rebalanceTimeoutMs: number,
    nowMs: number,
  ): void {
    const member = new Member(
      memberId,
      request.groupInstanceId,
      request.clientId,
      request.clientHost,
      rebalanceTimeoutMs,
      request.sessionTimeoutMs,
      request.protocolType,
      request.protocols,
    );
    member.isNew = true;
    // Members arriving during the first generation's initial delay extend it.
    if (group.is('PreparingRebalance') && group.generationId === 0) group.newMemberAdded = true;
    group.add(member);
    member.joinRequestId = requestId;
    // A new member that disconnects mid-rebalance must not hold it up for a whole rebalance timeout.
    this.scheduleSession(group, member, nowMs, this.config.newMemberJoinTimeoutMs);
    this.maybePrepareRebalance(group, nowMs);
  }

  private updateMemberAndRebalance(
    group: Group,
    member: Member,
    requestId: RequestId,
    request: JoinGroupRequest,
    rebalanceTimeoutMs: number,
    nowMs: number,
  ): void {
    group.updateMember(member, request.protocols, rebalanceTimeoutMs, request.sessionTimeoutMs);
    this.holdJoin(member, requestId);
    this.maybePrepareRebalance(group, nowMs);
  }

  private updateStaticMemberAndRebalance(
    group: Group,
    requestId: RequestId,
    request: JoinGroupRequest,
    groupInstanceId: string,
    oldMemberId: string,
    newMemberId: string,
    rebalanceTimeoutMs: number,
    nowMs: number,
  ): void {
    const leaderBeforeRejoin = group.leaderId;
    const old = group.get(oldMemberId);
    // Fence whoever still waits under the old id: only one process may own an instance id.
    if (old.joinRequestId !== null) {
      this.respond(old.joinRequestId, joinError(oldMemberId, ErrorCode.FENCED_INSTANCE_ID));
      old.joinRequestId = null;
    }
    if (old.syncRequestId !== null) {
      this.respondSyncError(old.syncRequestId, ErrorCode.FENCED_INSTANCE_ID);
      old.syncRequestId = null;
    }
    this.timers.delete(timerKey('session', group.groupId, oldMemberId));
    const member = group.replaceStaticMember(groupInstanceId, oldMemberId, newMemberId);
    this.scheduleSession(group, member, nowMs);
    const previous = {
      protocols: member.protocols,
      rebalanceTimeoutMs: member.rebalanceTimeoutMs,
      sessionTimeoutMs: member.sessionTimeoutMs,
    };
    group.updateMember(member, request.protocols, rebalanceTimeoutMs, request.sessionTimeoutMs);
    member.joinRequestId = requestId;
    switch (group.state) {
      case 'Stable':
        // KIP-345: a static member restarting does not rebalance the group unless the protocol the
        // group would pick changes. Persist the new member id, then answer with the current generation.
        if (group.protocolName === group.selectProtocol()) {
          const assignment = new Map([...group.members].map(([id, m]) => [id, m.assignment ?? emptyBytes]));
          this.storeGroup(group, assignment, {
            kind: 'storeStaticRejoin',
            group,
            requestId,
            groupInstanceId,
            oldMemberId,
            newMemberId,
            leaderBeforeRejoin,
            previous,
          });
        } else {
          this.maybePrepareRebalance(group, nowMs);
        }
        return;
      case 'CompletingRebalance':
        // The leader may already be assigning under the old id; rebalance so the assignment matches.
        this.prepareRebalance(group, nowMs);
        return;
      case 'PreparingRebalance':
        // The member is counted as joined; the rebalance answers it.
        return;
      case 'Empty':
      case 'Dead':
        invariant(
          false,
          () => `group ${group.groupId}: static member ${groupInstanceId} mapped while ${group.state}`,
        );
    }
  }

  private generateMemberId(group: Group, prefix: string): string {
    for (;;) {
      const id = `${prefix}-${randomUuidString(this.random)}`;
      // A collision is only possible with a degenerate generator; never hand out a live id twice.
      if (!group.has(id) && !group.pendingMemberIds.has(id)) return id;
    }
  }

  private joinResult(
    group: Group,
    member: Member,
    withMembers: boolean,
    leader = group.leaderId,
  ): JoinGroupResponse {
    return {
      api: 'JoinGroup',
      errorCode: ErrorCode.NONE,
      generationId: group.generationId,
      protocolType: group.protocolType ?? '',
      protocolName: group.protocolName ?? '',
      leader: leader ?? '',
      memberId: member.memberId,
      members: withMembers ? group.currentMemberMetadata() : [],
    };
  }

  /** Holds a member's JoinGroup; a join it sent before (its client gave up on it) is released. */
  private holdJoin(member: Member, requestId: RequestId): void {
    if (member.joinRequestId !== null) {
      // Kafka drops the superseded callback and lets the request time out; answering it keeps the
      // driver from holding a request forever. The client already abandoned it.
      this.respond(member.joinRequestId, joinError(member.memberId, ErrorCode.REBALANCE_IN_PROGRESS));
    }
    member.joinRequestId = requestId;
  }

  // ---------------------------------------------------------------- rebalance mechanics

  private maybePrepareRebalance(group: Group, nowMs: number): void {
    if (group.is('Stable') || group.is('CompletingRebalance') || group.is('Empty'))
      this.prepareRebalance(group, nowMs);
  }

  private prepareRebalance(group: Group, nowMs: number): void {
    // Followers waiting for an assignment that will never come: tell them to rejoin.
    if (group.is('CompletingRebalance'))
      this.resetAndPropagateAssignmentError(group, ErrorCode.REBALANCE_IN_PROGRESS, nowMs);
    group.pendingSyncMemberIds.clear();
    this.timers.delete(timerKey('sync', group.groupId));
    let deadlineMs: number;
    if (group.is('Empty')) {
      const delayMs = this.config.initialRebalanceDelayMs;
      group.joinTimer = {
        kind: 'initial',
        delayMs,
        remainingMs: Math.max(group.rebalanceTimeoutMs - delayMs, 0),
      };
      deadlineMs = nowMs + delayMs;
    } else {
      group.joinTimer = { kind: 'normal' };
      deadlineMs = nowMs + group.rebalanceTimeoutMs;
    }
    group.transitionTo('PreparingRebalance', nowMs);
    this.timers.set(timerKey('join', group.groupId), deadlineMs, { kind: 'join', groupId: group.groupId });
    this.tryCompleteJoin(group, nowMs);
  }

  /** Kafka's DelayedJoin.tryComplete: a normal rebalance ends as soon as everyone has rejoined. */
  private tryCompleteJoin(group: Group, nowMs: number): void {
    if (!group.is('PreparingRebalance') || group.joinTimer?.kind !== 'normal' || !group.hasAllMembersJoined())
      return;
    this.timers.delete(timerKey('join', group.groupId));
    this.onCompleteJoin(group, nowMs);
  }

  private onJoinDeadline(group: Group, nowMs: number): void {
    const timer = group.joinTimer;
    invariant(
      group.is('PreparingRebalance') && timer !== null,
      () => `group ${group.groupId}: join deadline while ${group.state}`,
    );
    if (timer.kind === 'initial' && group.newMemberAdded && timer.remainingMs !== 0) {
      // Kafka's InitialDelayedJoin: someone joined during the delay, wait another delay (bounded by
      // the rebalance timeout) in case more are coming.
      group.newMemberAdded = false;
      const delayMs = Math.min(this.config.initialRebalanceDelayMs, timer.remainingMs);
      const remainingMs = Math.max(timer.remainingMs - timer.delayMs, 0);
      group.joinTimer = { kind: 'initial', delayMs, remainingMs };
      this.timers.set(timerKey('join', group.groupId), nowMs + delayMs, {
        kind: 'join',
        groupId: group.groupId,
      });
      return;
    }
    this.onCompleteJoin(group, nowMs);
  }

  private onCompleteJoin(group: Group, nowMs: number): void {
    invariant(
      group.is('PreparingRebalance'),
      () => `group ${group.groupId}: completing a join while ${group.state}`,
    );
    // Dynamic members that did not rejoin in time are gone; static ones keep their place (KIP-345).
    for (const member of group.notYetRejoinedMembers()) {
      if (!member.isStatic) this.removeMember(group, member, ErrorCode.UNKNOWN_MEMBER_ID);
    }
    if (!group.maybeElectNewJoinedLeader() && group.members.size > 0) {
      // Only static members that have not rejoined are left: wait another rebalance timeout for them
      // (session timeouts remove the ones that are really gone).
      group.joinTimer = { kind: 'normal' };
      this.timers.set(timerKey('join', group.groupId), nowMs + group.rebalanceTimeoutMs, {
        kind: 'join',
        groupId: group.groupId,
      });
      return;
    }
    group.initNextGeneration(nowMs);
    group.newMemberAdded = false;
    if (group.is('Empty')) {
      this.storeGroup(group, new Map(), { kind: 'storeEmptyGroup' });
      return;
    }
    for (const member of group.members.values()) {
      if (member.joinRequestId !== null) {
        this.respond(member.joinRequestId, this.joinResult(group, member, group.isLeader(member.memberId)));
        member.joinRequestId = null;
      }
      this.scheduleSession(group, member, nowMs);
      member.isNew = false;
      group.pendingSyncMemberIds.add(member.memberId);
    }
    // Members that never send SyncGroup are removed after a rebalance timeout (Kafka 3.2+, KAFKA-13406).
    this.timers.set(timerKey('sync', group.groupId), nowMs + group.rebalanceTimeoutMs, {
      kind: 'sync',
      groupId: group.groupId,
      generationId: group.generationId,
    });
  }

  private onSyncDeadline(group: Group, generationId: number, nowMs: number): void {
    if (generationId !== group.generationId) return;
    if (!group.is('CompletingRebalance') && !group.is('Stable')) return;
    if (group.pendingSyncMemberIds.size === 0) return;
    for (const memberId of [...group.pendingSyncMemberIds])
      this.removeMember(group, group.get(memberId), ErrorCode.UNKNOWN_MEMBER_ID);
    this.prepareRebalance(group, nowMs);
  }

  private resetAndPropagateAssignmentError(group: Group, errorCode: number, nowMs: number): void {
    invariant(
      group.is('CompletingRebalance'),
      () => `group ${group.groupId}: resetting assignments while ${group.state}`,
    );
    for (const member of group.members.values()) member.assignment = null;
    this.propagateAssignment(group, errorCode, nowMs);
  }

  private setAndPropagateAssignment(
    group: Group,
    assignment: ReadonlyMap<string, Buffer>,
    nowMs: number,
  ): void {
    invariant(
      group.is('CompletingRebalance'),
      () => `group ${group.groupId}: assigning while ${group.state}`,
    );
    for (const member of group.members.values())
      member.assignment = assignment.get(member.memberId) ?? emptyBytes;
    this.propagateAssignment(group, ErrorCode.NONE, nowMs);
  }

  private propagateAssignment(group: Group, errorCode: number, nowMs: number): void {
    for (const member of group.members.values()) {
      if (member.syncRequestId === null) continue;
      this.respond(member.syncRequestId, {
        api: 'SyncGroup',
        errorCode,
        protocolType: errorCode === ErrorCode.NONE ? (group.protocolType ?? '') : '',
        protocolName: errorCode === ErrorCode.NONE ? (group.protocolName ?? '') : '',
        assignment: errorCode === ErrorCode.NONE ? (member.assignment ?? emptyBytes) : emptyBytes,
      });
      member.syncRequestId = null;
      // Its session may have expired while it waited (waiting members are kept alive): restart it.
      this.scheduleSession(group, member, nowMs);
    }
  }

  /** Kafka's removeMemberAndUpdateGroup: the member leaves (or expired) and the group reacts. */
  private removeMemberAndUpdateGroup(group: Group, member: Member, nowMs: number): void {
    this.removeMember(group, member, ErrorCode.UNKNOWN_MEMBER_ID);
    switch (group.state) {
      case 'Dead':
      case 'Empty':
        return;
      case 'Stable':
      case 'CompletingRebalance': {
        this.maybePrepareRebalance(group, nowMs);
        return;
      }
      case 'PreparingRebalance': {
        this.tryCompleteJoin(group, nowMs);
        return;
      }
    }
  }

  /** Removes a member, answering whatever it still waits for with `errorCode`. */
  private removeMember(group: Group, member: Member, errorCode: number): void {
    if (member.joinRequestId !== null) {
      this.respond(member.joinRequestId, joinError(unknownMemberId, errorCode));
      member.joinRequestId = null;
    }
    if (member.syncRequestId !== null) {
      // Kafka leaves this request unanswered until the client times out; we answer it.
      this.respondSyncError(member.syncRequestId, errorCode);
      member.syncRequestId = null;
    }
    this.timers.delete(timerKey('session', group.groupId, member.memberId));
    group.remove(member.memberId);
  }

  private scheduleSession(
    group: Group,
    member: Member,
    nowMs: number,
    timeoutMs = member.sessionTimeoutMs,
  ): void {
    this.timers.set(timerKey('session', group.groupId, member.memberId), nowMs + timeoutMs, {
      kind: 'session',
      groupId: group.groupId,
      memberId: member.memberId,
    });
  }

  private onSessionDeadline(group: Group, memberId: string, nowMs: number): void {
    const member = group.members.get(memberId);
    invariant(member !== undefined, () => `session timer of a removed member ${memberId}`);
    // A member waiting in a rebalance needs no heartbeat: its answer restarts the session. A new
    // member's first deadline is the new-member join timeout, which does expire it.
    if (!member.isNew && (member.isAwaitingJoin || member.isAwaitingSync)) return;
    this.removeMemberAndUpdateGroup(group, member, nowMs);
  }

  private onPendingMemberDeadline(group: Group, memberId: string, nowMs: number): void {
    group.pendingMemberIds.delete(memberId);
    if (group.is('PreparingRebalance')) this.tryCompleteJoin(group, nowMs);
  }

  // ---------------------------------------------------------------- SyncGroup

  syncGroup(requestId: RequestId, request: SyncGroupRequest, nowMs: number): GroupEffect[] {
    return this.run(nowMs, () => {
      this.receive(requestId);
      this.handleSyncGroup(requestId, request, nowMs);
    });
  }

  private handleSyncGroup(requestId: RequestId, request: SyncGroupRequest, nowMs: number): void {
    const { groupId, memberId } = request;
    const reply = (errorCode: number): void => this.respondSyncError(requestId, errorCode);
    const status = this.validateGroupStatus(groupId, true);
    if (status !== ErrorCode.NONE) {
      reply(status);
      return;
    }
    const group = this.groups.get(groupId);
    if (group === undefined) {
      reply(ErrorCode.UNKNOWN_MEMBER_ID);
      return;
    }
    this.touched.add(group);
    if (group.is('Dead')) {
      reply(ErrorCode.COORDINATOR_NOT_AVAILABLE);
      return;
    }
    const memberError = this.validateCurrentMember(group, memberId, request.groupInstanceId);
    if (memberError !== ErrorCode.NONE) {
      reply(memberError);
      return;
    }
    if (request.generationId !== group.generationId) {
      reply(ErrorCode.ILLEGAL_GENERATION);
      return;
    }
    if (
      (request.protocolType !== null && request.protocolType !== group.protocolType) ||
      (request.protocolName !== null && request.protocolName !== group.protocolName)
    ) {
      reply(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
      return;
    }
    switch (group.state) {
      case 'Empty': {
        reply(ErrorCode.UNKNOWN_MEMBER_ID);
        return;
      }
      case 'PreparingRebalance': {
        reply(ErrorCode.REBALANCE_IN_PROGRESS);
        return;
      }
      case 'CompletingRebalance': {
        const member = group.get(memberId);
        if (member.syncRequestId !== null)
          this.respondSyncError(member.syncRequestId, ErrorCode.REBALANCE_IN_PROGRESS);
        member.syncRequestId = requestId;
        this.removePendingSyncMember(group, memberId);
        if (group.isLeader(memberId)) {
          // Members the leader left out get an empty assignment; ids it made up are ignored.
          const assignment = new Map<string, Buffer>();
          for (const entry of request.assignments)
            if (group.has(entry.memberId)) assignment.set(entry.memberId, entry.assignment);
          for (const id of group.members.keys()) if (!assignment.has(id)) assignment.set(id, emptyBytes);
          this.storeGroup(group, assignment, {
            kind: 'storeAssignment',
            group,
            generationId: group.generationId,
            assignment,
          });
        }
        return;
      }
      case 'Stable': {
        this.removePendingSyncMember(group, memberId);
        const member = group.get(memberId);
        this.respond(requestId, {
          api: 'SyncGroup',
          errorCode: ErrorCode.NONE,
          protocolType: group.protocolType ?? '',
          protocolName: group.protocolName ?? '',
          assignment: member.assignment ?? emptyBytes,
        });
        this.scheduleSession(group, member, nowMs);
        return;
      }
    }
  }

  private removePendingSyncMember(group: Group, memberId: string): void {
    group.pendingSyncMemberIds.delete(memberId);
    if (group.pendingSyncMemberIds.size === 0) this.timers.delete(timerKey('sync', group.groupId));
  }

  // ---------------------------------------------------------------- Heartbeat

  heartbeat(requestId: RequestId, request: HeartbeatRequest, nowMs: number): GroupEffect[] {
    return this.run(nowMs, () => {
      this.receive(requestId);
      this.respond(requestId, { api: 'Heartbeat', errorCode: this.handleHeartbeat(request, nowMs) });
    });
  }

  private handleHeartbeat(request: HeartbeatRequest, nowMs: number): number {
    const status = this.validateGroupStatus(request.groupId, true);
    if (status !== ErrorCode.NONE) return status;
    const group = this.groups.get(request.groupId);
    if (group === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
    this.touched.add(group);
    if (group.is('Dead')) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const memberError = this.validateCurrentMember(group, request.memberId, request.groupInstanceId);
    if (memberError !== ErrorCode.NONE) return memberError;
    if (request.generationId !== group.generationId) return ErrorCode.ILLEGAL_GENERATION;
    const member = group.get(request.memberId);
    switch (group.state) {
      case 'Empty':
      case 'Dead':
        return ErrorCode.UNKNOWN_MEMBER_ID;
      case 'CompletingRebalance':
      case 'Stable':
        this.scheduleSession(group, member, nowMs);
        return ErrorCode.NONE;
      case 'PreparingRebalance':
        // The member's cue to rejoin; it is still alive, so its session restarts.
        this.scheduleSession(group, member, nowMs);
        return ErrorCode.REBALANCE_IN_PROGRESS;
    }
  }

  // ---------------------------------------------------------------- LeaveGroup

  leaveGroup(requestId: RequestId, request: LeaveGroupRequest, nowMs: number): GroupEffect[] {
    return this.run(nowMs, () => {
      this.receive(requestId);
      const respond = (
        errorCode: number,
        members: { memberId: string; groupInstanceId: string | null; errorCode: number }[],
      ): void => this.respond(requestId, { api: 'LeaveGroup', errorCode, members });
      const status = this.validateGroupStatus(request.groupId, true);
      if (status !== ErrorCode.NONE) return respond(status, []);
      const group = this.groups.get(request.groupId);
      if (group === undefined) {
        return respond(
          ErrorCode.NONE,
          request.members.map((m) => ({ ...m, errorCode: ErrorCode.UNKNOWN_MEMBER_ID })),
        );
      }
      this.touched.add(group);
      if (group.is('Dead')) return respond(ErrorCode.COORDINATOR_NOT_AVAILABLE, []);
      const results = request.members.map((leaving) => {
        const { memberId, groupInstanceId } = leaving;
        let errorCode: number = ErrorCode.NONE;
        if (memberId === unknownMemberId) {
          // KIP-345: an admin removes a static member by its instance id alone.
          const currentMemberId = group.staticMemberId(groupInstanceId);
          if (currentMemberId === null) errorCode = ErrorCode.UNKNOWN_MEMBER_ID;
          else this.removeMemberAndUpdateGroup(group, group.get(currentMemberId), nowMs);
        } else if (group.pendingMemberIds.has(memberId)) {
          group.pendingMemberIds.delete(memberId);
          this.timers.delete(timerKey('pending', group.groupId, memberId));
          if (group.is('PreparingRebalance')) this.tryCompleteJoin(group, nowMs);
        } else {
          errorCode = this.validateCurrentMember(group, memberId, groupInstanceId);
          if (errorCode === ErrorCode.NONE)
            this.removeMemberAndUpdateGroup(group, group.get(memberId), nowMs);
        }
        return { memberId, groupInstanceId, errorCode };
      });
      respond(ErrorCode.NONE, results);
    });
  }

  // ---------------------------------------------------------------- OffsetCommit

  offsetCommit(requestId: RequestId, request: OffsetCommitRequest, nowMs: number): GroupEffect[] {
    return this.run(nowMs, () => {
      this.receive(requestId);
      this.handleOffsetCommit(requestId, request, nowMs);
    });
  }

  private handleOffsetCommit(requestId: RequestId, request: OffsetCommitRequest, nowMs: number): void {
    const replyAll = (errorCode: number): void =>
      this.respond(requestId, {
        api: 'OffsetCommit',
        topics: request.topics.map((t) => ({
          name: t.name,
          partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })),
        })),
      });
    const status = this.validateGroupStatus(request.groupId, false);
    if (status !== ErrorCode.NONE) {
      replyAll(status);
      return;
    }
    let group = this.groups.get(request.groupId);
    if (group === undefined) {
      // A negative generation is a consumer that manages its own partitions (assign(), not
      // subscribe()); it may commit into a group of its own. Otherwise the group it knew is gone.
      if (request.generationId >= 0) {
        replyAll(ErrorCode.ILLEGAL_GENERATION);
        return;
      }
      if (this.groups.size >= this.config.groupsPerCoordinatorMax) {
        replyAll(ErrorCode.COORDINATOR_NOT_AVAILABLE);
        return;
      }
      group = this.createGroup(request.groupId, nowMs);
    }
    this.touched.add(group);
    const validation = this.validateOffsetCommit(group, request);
    if (validation !== ErrorCode.NONE) {
      replyAll(validation);
      return;
    }
    switch (group.state) {
      case 'Empty':
        break;
      case 'Stable':
      case 'PreparingRebalance':
        // Commits are allowed while preparing: the heartbeat tells the member to rejoin.
        this.scheduleSession(group, group.get(request.memberId), nowMs);
        break;
      case 'CompletingRebalance':
        // The member has this generation's JoinGroup response but not its assignment yet.
        replyAll(ErrorCode.REBALANCE_IN_PROGRESS);
        return;
      case 'Dead':
        invariant(false, 'validateOffsetCommit lets no commit into a Dead group');
    }
    this.storeOffsets(group, requestId, request, nowMs);
  }

  /** Kafka's validateOffsetCommit (non-transactional). */
  private validateOffsetCommit(group: Group, request: OffsetCommitRequest): number {
    if (group.is('Dead')) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (
      request.generationId >= 0 ||
      request.memberId !== unknownMemberId ||
      request.groupInstanceId !== null
    ) {
      const memberError = this.validateCurrentMember(group, request.memberId, request.groupInstanceId);
      if (memberError !== ErrorCode.NONE) return memberError;
      return request.generationId === group.generationId ? ErrorCode.NONE : ErrorCode.ILLEGAL_GENERATION;
    }
    // A commit without membership is only allowed while nobody is a member.
    return group.is('Empty') ? ErrorCode.NONE : ErrorCode.UNKNOWN_MEMBER_ID;
  }

  private storeOffsets(
    group: Group,
    requestId: RequestId,
    request: OffsetCommitRequest,
    nowMs: number,
  ): void {
    const appended: CommitEntry[] = [];
    const layout = request.topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.map((p) => {
        const metadata = p.committedMetadata ?? '';
        let errorCode: number | null = null;
        if (metadata.length > this.config.offsetMetadataCharsMax)
          errorCode = ErrorCode.OFFSET_METADATA_TOO_LARGE;
        else if (!fitsRecordString(topic.name)) errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        else {
          appended.push({
            topic: topic.name,
            partition: p.partitionIndex,
            value: {
              offset: p.committedOffset,
              leaderEpoch: p.committedLeaderEpoch < 0 ? noLeaderEpoch : p.committedLeaderEpoch,
              metadata,
              commitTimestampMs: p.commitTimestampMs === noTimestamp ? nowMs : p.commitTimestampMs,
              expireTimestampMs:
                request.retentionTimeMs === noTimestamp ? noTimestamp : nowMs + request.retentionTimeMs,
            },
          });
        }
        return { partitionIndex: p.partitionIndex, errorCode };
      }),
    }));
    const continuation: Continuation = { kind: 'commitOffsets', group, requestId, appended, layout };
    if (appended.length === 0) {
      this.finishCommit(continuation, ErrorCode.NONE);
      return;
    }
    for (const entry of appended) {
      const key = `${entry.topic}\u0000${entry.partition}`;
      group.pendingCommitCounts.set(key, (group.pendingCommitCounts.get(key) ?? 0) + 1);
    }
    this.append(
      group.partitionIndex,
      appended.map((e) => offsetCommitRecord(group.groupId, e.topic, e.partition, e.value)),
      continuation,
    );
  }

  private finishCommit(
    continuation: Extract<Continuation, { kind: 'commitOffsets' }>,
    appendErrorCode: number,
  ): void {
    const errorCode = storeOffsetsErrorCode(appendErrorCode);
    this.respond(continuation.requestId, {
      api: 'OffsetCommit',
      topics: continuation.layout.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({
          partitionIndex: p.partitionIndex,
          errorCode: p.errorCode ?? errorCode,
        })),
      })),
    });
  }

  // ---------------------------------------------------------------- OffsetFetch

  offsetFetch(requestId: RequestId, request: OffsetFetchRequest, nowMs: number): GroupEffect[] {
    return this.run(nowMs, () => {
      this.receive(requestId);
      const noOffset = (partitionIndex: number, errorCode: number): OffsetFetchPartition => ({
        partitionIndex,
        committedOffset: -1n,
        committedLeaderEpoch: noLeaderEpoch,
        metadata: '',
        errorCode,
      });
      const status = this.validateGroupStatus(request.groupId, false);
      if (status !== ErrorCode.NONE) {
        return this.respond(requestId, {
          api: 'OffsetFetch',
          errorCode: status,
          topics: (request.topics ?? []).map((t) => ({
            name: t.name,
            partitions: t.partitionIndexes.map((p) => noOffset(p, status)),
          })),
        });
      }
      const found = this.groups.get(request.groupId);
      const group = found !== undefined && !found.is('Dead') ? found : undefined;
      const fetch = (topic: string, partitionIndex: number): OffsetFetchPartition => {
        if (group === undefined) return noOffset(partitionIndex, ErrorCode.NONE);
        if (
          request.requireStable &&
          (group.pendingCommitCounts.get(`${topic}\u0000${partitionIndex}`) ?? 0) > 0
        ) {
          return noOffset(partitionIndex, ErrorCode.UNSTABLE_OFFSET_COMMIT);
        }
        const committed = group.committedOffset(topic, partitionIndex);
        if (committed === undefined) return noOffset(partitionIndex, ErrorCode.NONE);
        return {
          partitionIndex,
          committedOffset: committed.offset,
          committedLeaderEpoch: committed.leaderEpoch,
          metadata: committed.metadata,
          errorCode: ErrorCode.NONE,
        };
      };
      let topics: { name: string; partitions: OffsetFetchPartition[] }[];
      if (request.topics !== null) {
        topics = request.topics.map((t) => ({
          name: t.name,
          partitions: t.partitionIndexes.map((p) => fetch(t.name, p)),
        }));
      } else {
        topics = [];
        for (const { topic, partition } of group?.allCommittedOffsets() ?? []) {
          let entry = topics[topics.length - 1];
          if (entry?.name !== topic) {
            entry = { name: topic, partitions: [] };
            topics.push(entry);
          }
          entry.partitions.push(fetch(topic, partition));
        }
      }
      this.respond(requestId, { api: 'OffsetFetch', errorCode: ErrorCode.NONE, topics });
    });
  }

  // ---------------------------------------------------------------- DescribeGroups, ListGroups

  describeGroups(requestId: RequestId, request: DescribeGroupsRequest, nowMs: number): GroupEffect[] {
    return this.run(nowMs, () => {
      this.receive(requestId);
      const groups = request.groups.map((groupId): DescribedGroup => {
        const status = this.validateGroupStatus(groupId, false);
        if (status !== ErrorCode.NONE) {
          return {
            errorCode: status,
            groupId,
            groupState: '',
            protocolType: '',
            protocolData: '',
            members: [],
          };
        }
        const group = this.groups.get(groupId);
        if (group === undefined) {
          // Kafka describes an unknown group as Dead, without an error.
          return {
            errorCode: ErrorCode.NONE,
            groupId,
            groupState: 'Dead',
            protocolType: '',
            protocolData: '',
            members: [],
          };
        }
        const stable = group.is('Stable');
        const protocolName = group.protocolName ?? '';
        return {
          errorCode: ErrorCode.NONE,
          groupId,
          groupState: group.state,
          protocolType: group.protocolType ?? '',
          protocolData: stable ? protocolName : '',
          members: [...group.members.values()].map((m) => ({
            memberId: m.memberId,
            groupInstanceId: m.groupInstanceId,
            clientId: m.clientId,
            clientHost: m.clientHost,
            memberMetadata: stable ? m.metadataFor(protocolName) : emptyBytes,
            memberAssignment: stable ? (m.assignment ?? emptyBytes) : emptyBytes,
          })),
        };
      });
      this.respond(requestId, { api: 'DescribeGroups', groups });
    });
  }

  listGroups(requestId: RequestId, request: ListGroupsRequest, nowMs: number): GroupEffect[] {
    return this.run(nowMs, () => {
      this.receive(requestId);
      const states = new Set(request.statesFilter.map((s) => s.toLowerCase()));
      const loading = [...this.partitions.values()].some((p) => p.status === 'loading');
      const groups = [...this.groups.values()]
        .filter((g) => !g.is('Dead') && (states.size === 0 || states.has(g.state.toLowerCase())))
        .sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0))
        .map((g) => ({ groupId: g.groupId, protocolType: g.protocolType ?? '', groupState: g.state }));
      this.respond(requestId, {
        api: 'ListGroups',
        errorCode: loading ? ErrorCode.COORDINATOR_LOAD_IN_PROGRESS : ErrorCode.NONE,
        groups,
      });
    });
  }

  // ---------------------------------------------------------------- DeleteGroups

  deleteGroups(requestId: RequestId, request: DeleteGroupsRequest, nowMs: number): GroupEffect[] {
    return this.run(nowMs, () => {
      this.receive(requestId);
      const batch: DeleteBatch = { requestId, results: [], waitingAppendCount: 0 };
      const byPartition = new Map<number, { index: number; group: Group }[]>();
      request.groupsNames.forEach((groupId, index) => {
        const result = { groupId, errorCode: ErrorCode.NONE as number };
        batch.results.push(result);
        const status = this.validateGroupStatus(groupId, false);
        if (status !== ErrorCode.NONE) {
          result.errorCode = status;
          return;
        }
        const group = this.groups.get(groupId);
        if (group === undefined || group.is('Dead')) {
          result.errorCode = ErrorCode.GROUP_ID_NOT_FOUND;
          return;
        }
        this.touched.add(group);
        if (!group.is('Empty')) {
          result.errorCode = ErrorCode.NON_EMPTY_GROUP;
          return;
        }
        group.transitionTo('Dead', nowMs);
        // Members told to rejoin with an id (MEMBER_ID_REQUIRED) will find the group gone.
        for (const memberId of group.pendingMemberIds)
          this.timers.delete(timerKey('pending', groupId, memberId));
        group.pendingMemberIds.clear();
        const entries = byPartition.get(group.partitionIndex) ?? [];
        entries.push({ index, group });
        byPartition.set(group.partitionIndex, entries);
      });
      for (const [partitionIndex, entries] of byPartition) {
        const records: OffsetsRecord[] = [];
        for (const { group } of entries) {
          // Partitions with a commit still in flight get a tombstone too: that commit's record
          // precedes these in the log, and without one a reload would resurrect the group (Kafka's
          // removeAllOffsets tombstones only what is already committed).
          const partitions = new Map<string, { topic: string; partition: number }>();
          for (const { topic, partition } of group.allCommittedOffsets()) {
            partitions.set(`${topic}\u0000${partition}`, { topic, partition });
          }
          for (const key of group.pendingCommitKeys()) partitions.set(key.id, key);
          for (const { topic, partition } of partitions.values()) {
            records.push(offsetCommitRecord(group.groupId, topic, partition, null));
          }
          // Generation 0 means the group only ever stored offsets: it has no metadata record to delete.
          if (group.generationId > 0) records.push(groupMetadataRecord(group.groupId, null));
        }
        if (records.length === 0) {
          for (const { group } of entries) this.groups.delete(group.groupId);
          continue;
        }
        batch.waitingAppendCount++;
        this.append(partitionIndex, records, { kind: 'deleteGroups', batch, groups: entries });
      }
      if (batch.waitingAppendCount === 0)
        this.respond(requestId, { api: 'DeleteGroups', results: batch.results });
    });
  }

  // ---------------------------------------------------------------- persistence

  /** Kafka's storeGroup: the group's current metadata with `assignment`, as one record. */
  private storeGroup(
    group: Group,
    assignment: ReadonlyMap<string, Buffer>,
    continuation: Continuation,
  ): void {
    const protocolName = group.protocolName;
    const value: GroupMetadataValue = {
      protocolType: group.protocolType ?? '',
      generation: group.generationId,
      protocol: protocolName,
      leader: group.leaderId,
      currentStateTimestampMs: group.stateTimestampMs,
      members: [...group.members.values()].map((m) => {
        invariant(protocolName !== null, () => `group ${group.groupId}: storing members without a protocol`);
        return {
          memberId: m.memberId,
          groupInstanceId: m.groupInstanceId,
          clientId: m.clientId,
          clientHost: m.clientHost,
          rebalanceTimeoutMs: m.rebalanceTimeoutMs,
          sessionTimeoutMs: m.sessionTimeoutMs,
          subscription: m.metadataFor(protocolName),
          assignment: assignment.get(m.memberId) ?? emptyBytes,
        };
      }),
    };
    this.append(group.partitionIndex, [groupMetadataRecord(group.groupId, value)], continuation);
  }

  private append(partitionIndex: number, records: OffsetsRecord[], continuation: Continuation): void {
    const partition = this.partitions.get(partitionIndex);
    invariant(
      partition?.status === 'loaded',
      () => `append to offsets partition ${partitionIndex}, which is not loaded`,
    );
    const token = this.nextAppendToken++;
    partition.appendTokens.push(token);
    this.pendingAppends.set(token, { partitionIndex, continuation });
    this.effects.push({ kind: 'append', partitionIndex, token, records });
  }

  private continueAfterAppend(continuation: Continuation, appendErrorCode: number, nowMs: number): void {
    switch (continuation.kind) {
      case 'storeEmptyGroup':
        return;
      case 'storeAssignment': {
        const { group, generationId, assignment } = continuation;
        this.touched.add(group);
        // Another join may have restarted the rebalance meanwhile; then this assignment is void.
        if (!group.is('CompletingRebalance') || group.generationId !== generationId) return;
        const errorCode = storeGroupErrorCode(appendErrorCode);
        if (errorCode !== ErrorCode.NONE) {
          this.resetAndPropagateAssignmentError(group, errorCode, nowMs);
          this.maybePrepareRebalance(group, nowMs);
        } else {
          this.setAndPropagateAssignment(group, assignment, nowMs);
          group.transitionTo('Stable', nowMs);
        }
        return;
      }
      case 'storeStaticRejoin': {
        this.finishStaticRejoin(continuation, appendErrorCode, nowMs);
        return;
      }
      case 'commitOffsets': {
        const { group, appended } = continuation;
        this.touched.add(group);
        for (const entry of appended) {
          const key = `${entry.topic}\u0000${entry.partition}`;
          const count = (group.pendingCommitCounts.get(key) ?? 0) - 1;
          invariant(count >= 0, 'pending commit count below zero');
          if (count === 0) group.pendingCommitCounts.delete(key);
          else group.pendingCommitCounts.set(key, count);
        }
        // Applied even to a group being deleted: its tombstones come after this record in the log
        // (they cover pending commits too), and if they fail to be written the group is revived
        // with exactly what the log holds.
        if (appendErrorCode === ErrorCode.NONE && this.groups.get(group.groupId) === group) {
          for (const entry of appended) group.setCommittedOffset(entry.topic, entry.partition, entry.value);
        }
        this.finishCommit(continuation, appendErrorCode);
        return;
      }
      case 'deleteGroups': {
        const { batch, groups } = continuation;
        const errorCode = storeGroupErrorCode(appendErrorCode);
        for (const { index, group } of groups) {
          batch.results[index]!.errorCode = errorCode;
          if (this.groups.get(group.groupId) !== group) continue;
          if (errorCode === ErrorCode.NONE) this.groups.delete(group.groupId);
          else {
            // The tombstones are not in the log, so the group is not deleted: it is back, Empty.
            group.reviveAfterFailedDelete();
            this.touched.add(group);
          }
        }
        batch.waitingAppendCount--;
        if (batch.waitingAppendCount === 0)
          this.respond(batch.requestId, { api: 'DeleteGroups', results: batch.results });
        return;
      }
    }
  }

  private finishStaticRejoin(
    continuation: Extract<Continuation, { kind: 'storeStaticRejoin' }>,
    appendErrorCode: number,
    nowMs: number,
  ): void {
    const { group, requestId, groupInstanceId, oldMemberId, newMemberId, leaderBeforeRejoin, previous } =
      continuation;
    this.touched.add(group);
    const member = group.members.get(newMemberId);
    // If a rebalance answered the join meanwhile, the member has moved on with the new id.
    if (member === undefined || member.joinRequestId !== requestId) return;
    const errorCode = storeGroupErrorCode(appendErrorCode);
    if (errorCode === ErrorCode.NONE) {
      // Answer with the leader from before the rejoin: if this member is the leader, it must not
      // think so and compute an assignment that a Stable group would never distribute.
      this.respond(requestId, this.joinResult(group, member, false, leaderBeforeRejoin));
      member.joinRequestId = null;
      this.scheduleSession(group, member, nowMs);
      return;
    }
    // The new id is not in the log: restore the old one so the log and memory agree, and fail the join.
    member.joinRequestId = null;
    if (group.is('Stable') && member.syncRequestId === null) {
      group.updateMember(member, previous.protocols, previous.rebalanceTimeoutMs, previous.sessionTimeoutMs);
      this.timers.delete(timerKey('session', group.groupId, newMemberId));
      group.replaceStaticMember(groupInstanceId, newMemberId, oldMemberId);
      this.scheduleSession(group, member, nowMs);
    } else {
      this.scheduleSession(group, member, nowMs);
    }
    this.respond(requestId, joinError(unknownMemberId, errorCode));
  }

  /** The partition was unloaded while this append was out: answer who waits on it directly. */
  private cancelContinuation(continuation: Continuation): void {
    switch (continuation.kind) {
      case 'commitOffsets': {
        this.finishCommit(continuation, ErrorCode.NOT_LEADER_OR_FOLLOWER);
        return;
      }
      case 'deleteGroups': {
        const { batch, groups } = continuation;
        for (const { index } of groups) batch.results[index]!.errorCode = ErrorCode.NOT_COORDINATOR;
        batch.waitingAppendCount--;
        if (batch.waitingAppendCount === 0)
          this.respond(batch.requestId, { api: 'DeleteGroups', results: batch.results });
        return;
      }
      case 'storeAssignment':
      case 'storeStaticRejoin':
      case 'storeEmptyGroup':
        // Their requests are held on members, answered when the group is dropped.
        return;
    }
  }

  // ---------------------------------------------------------------- validation and helpers

  /** Kafka's validateGroupStatus: id validity, then whether this coordinator serves the group now. */
  private validateGroupStatus(groupId: string, requireNonEmptyId: boolean): number {
    if ((requireNonEmptyId && groupId === '') || !fitsRecordString(groupId))
      return ErrorCode.INVALID_GROUP_ID;
    const partition = this.partitions.get(this.partitionFor(groupId));
    if (partition === undefined) return ErrorCode.NOT_COORDINATOR;
    if (partition.status === 'loading') return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
    return ErrorCode.NONE;
  }

  /**
   * Kafka's validateCurrentMember: an instance id, if given and known, must map to this member id
   * (else another process took the instance over: FENCED_INSTANCE_ID); the member must exist.
   */
  private validateCurrentMember(group: Group, memberId: string, groupInstanceId: string | null): number {
    const mapped = group.staticMemberId(groupInstanceId);
    if (mapped !== null) return mapped === memberId ? ErrorCode.NONE : ErrorCode.FENCED_INSTANCE_ID;
    return group.has(memberId) ? ErrorCode.NONE : ErrorCode.UNKNOWN_MEMBER_ID;
  }

  private createGroup(groupId: string, nowMs: number): Group {
    const group = new Group(groupId, this.partitionFor(groupId), 'Empty', nowMs);
    this.groups.set(groupId, group);
    return group;
  }

  private groupFromRecord(
    groupId: string,
    partitionIndex: number,
    value: GroupMetadataValue,
    nowMs: number,
  ): Group {
    const hasMembers = value.members.length > 0;
    const group = new Group(
      groupId,
      partitionIndex,
      hasMembers ? 'Stable' : 'Empty',
      value.currentStateTimestampMs === noTimestamp ? nowMs : value.currentStateTimestampMs,
    );
    group.generationId = value.generation;
    group.protocolType = value.protocolType === '' ? null : value.protocolType;
    if (!hasMembers) return group;
    const protocolName = value.protocol;
    invariant(protocolName !== null, () => `group ${groupId}: the log holds members without a protocol`);
    group.protocolName = protocolName;
    for (const m of value.members) {
      const member = new Member(
        m.memberId,
        m.groupInstanceId,
        m.clientId,
        m.clientHost,
        m.rebalanceTimeoutMs,
        m.sessionTimeoutMs,
        value.protocolType,
        // The log keeps only the selected protocol's metadata, so that is all the member supports
        // until it rejoins (Kafka loads it the same way).
        [{ name: protocolName, metadata: m.subscription }],
      );
      member.assignment = m.assignment;
      group.add(member);
    }
    // Kafka trusts the recorded leader; a leader missing from the member list falls back to the first member.
    if (value.leader !== null && group.has(value.leader)) group.leaderId = value.leader;
    return group;
  }

  private dropGroupTimers(group: Group): void {
    for (const memberId of group.members.keys())
      this.timers.delete(timerKey('session', group.groupId, memberId));
    for (const memberId of group.pendingMemberIds)
      this.timers.delete(timerKey('pending', group.groupId, memberId));
    this.timers.delete(timerKey('join', group.groupId));
    this.timers.delete(timerKey('sync', group.groupId));
  }

  private checkPartitionIndex(partitionIndex: number): void {
    invariant(
      Number.isInteger(partitionIndex) &&
        partitionIndex >= 0 &&
        partitionIndex < this.config.offsetsPartitionCount,
      () => `offsets partition ${partitionIndex} outside [0, ${this.config.offsetsPartitionCount})`,
    );
  }

  private receive(requestId: RequestId): void {
    invariant(!this.inflightRequestIds.has(requestId), () => `request id ${requestId} is already in flight`);
    this.inflightRequestIds.add(requestId);
  }

  private respond(requestId: RequestId, response: GroupResponse): void {
    invariant(
      this.inflightRequestIds.delete(requestId),
      () => `request ${requestId} answered twice or never received`,
    );
    this.effects.push({ kind: 'respond', requestId, response });
  }

  private respondSyncError(requestId: RequestId, errorCode: number): void {
    this.respond(requestId, {
      api: 'SyncGroup',
      errorCode,
      protocolType: '',
      protocolName: '',
      assignment: emptyBytes,
    });
  }

  private fireDueTimers(nowMs: number): void {
    for (let fired = 0; ; fired++) {
      invariant(fired < timerFiringsPerCallMax, 'timers keep re-arming at the same instant');
      const due = this.timers.popDue(nowMs);
      if (due === null) return;
      const timer = due.value;
      const group = this.groups.get(timer.groupId);
      invariant(group !== undefined, () => `timer ${due.key} outlived its group`);
      this.touched.add(group);
      switch (timer.kind) {
        case 'session':
          this.onSessionDeadline(group, timer.memberId, nowMs);
          break;
        case 'pendingMember':
          this.onPendingMemberDeadline(group, timer.memberId, nowMs);
          break;
        case 'join':
          this.onJoinDeadline(group, nowMs);
          break;
        case 'sync':
          this.onSyncDeadline(group, timer.generationId, nowMs);
          break;
      }
    }
  }

  /**
   * Every public entry point: fire the deadlines due at `nowMs`, do the work, fire what became due,
   * check the invariants of every group touched, and hand back the effects in order.
   */
  private run(nowMs: number | null, body: () => void): GroupEffect[] {
    invariant(!this.running, 'the coordinator is not re-entrant');
    this.running = true;
    try {
      if (nowMs !== null) this.fireDueTimers(nowMs);
      body();
      if (nowMs !== null) this.fireDueTimers(nowMs);
      for (const group of this.touched) if (this.groups.get(group.groupId) === group) group.checkInvariants();
      return this.effects;
    } finally {
      this.effects = [];
      this.touched.clear();
      this.running = false;
    }
  }

  // ---------------------------------------------------------------- inspection (tests, tools)

  /** The group's live state; read it, never change it. */
  getGroup(groupId: string): Group | undefined {
    return this.groups.get(groupId);
  }

  groupIds(): string[] {
    return [...this.groups.keys()].sort();
  }

  /** The whole coordinator's invariants: every group's, and that timers and members agree. */
  checkInvariants(): void {
    for (const group of this.groups.values()) {
      group.checkInvariants();
      invariant(
        this.partitions.get(group.partitionIndex)?.status === 'loaded',
        () => `group ${group.groupId} in an unloaded partition`,
      );
      for (const member of group.members.values()) {
        invariant(
          this.timers.has(timerKey('session', group.groupId, member.memberId)) ||
            member.isAwaitingJoin ||
            member.isAwaitingSync,
          () => `member ${member.memberId} of ${group.groupId} has no session deadline`,
        );
      }
      for (const memberId of group.pendingMemberIds) {
        invariant(
          this.timers.has(timerKey('pending', group.groupId, memberId)),
          () => `pending member ${memberId} never expires`,
        );
      }
      invariant(
        group.is('PreparingRebalance') === this.timers.has(timerKey('join', group.groupId)),
        () => `group ${group.groupId}: join deadline and state ${group.state} disagree`,
      );
    }
  }

  /** Request ids received and not answered yet (held joins and syncs, commits awaiting their append). */
  inflightRequestCount(): number {
    return this.inflightRequestIds.size;
  }
}

// Group membership and rebalancing (Kafka's GroupMetadataManager, "classic" protocol): the groups
// of the offsets partitions this coordinator owns, JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
// DescribeGroups and ListGroups, and the deadlines that drive a rebalance. Kafka's purgatories
// (DelayedJoin, InitialDelayedJoin, DelayedHeartbeat, DelayedSync) are the deadlines of one
// DeadlineQueue here; their callbacks are the request ids held on members (`joinRequestId`,
// `syncRequestId`). A group's metadata is persisted with `storeGroup`; the append's completion comes
// back through `continueAfterStore`. Committed offsets are the OffsetMetadataManager's.

import { invariant, type Random } from '@gregor/ground';
import { ErrorCode } from '@gregor/protocol';
import { storeGroupErrorCode } from './append-errors.js';
import type { GroupCoordinatorConfig } from './config.js';
import type { CoordinatorOutbox } from './coordinator-outbox.js';
import { DeadlineQueue } from './deadline-queue.js';
import { Group, Member, unknownGenerationId, unknownMemberId } from './group.js';
import { coordinatorPartitionFor } from './java-hash.js';
import type {
  DescribedGroup,
  DescribeGroupsRequest,
  HeartbeatRequest,
  JoinGroupRequest,
  JoinGroupResponse,
  LeaveGroupRequest,
  ListGroupsRequest,
  ProtocolMetadata,
  RequestId,
  SyncGroupRequest,
} from './messages.js';
import type { OffsetsPartitionStatusView } from './offsets-partitions.js';
import {
  fitsRecordString,
  type GroupMetadataValue,
  groupMetadataRecord,
  type OffsetsRecord,
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

/** What to do when a group's metadata append completes (Kafka's storeGroup callbacks). */
export type StoreGroupContinuation =
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
      /** JoinGroup v9+ (KIP-814): a rejoining leader is told it leads and to skip the assignment. */
      readonly supportsSkipAssignment: boolean;
      readonly previous: {
        protocols: readonly ProtocolMetadata[];
        rebalanceTimeoutMs: number;
        sessionTimeoutMs: number;
      };
    }
  /** Persisting a group that became Empty: nobody waits for it (Kafka only logs a failure). */
  | { readonly kind: 'storeEmptyGroup' };

/** The JoinGroup version that can tell a rejoining static leader to skip the assignment (KIP-814). */
export const joinGroupSkipAssignmentVersion = 9;

function timerKey(kind: string, groupId: string, memberId = ''): string {
  // Length-prefixed so no group id / member id pair can collide with another.
  return `${kind}:${groupId.length}:${groupId}:${memberId}`;
}

export function joinError(memberId: string, errorCode: number): JoinGroupResponse {
  return {
    api: 'JoinGroup',
    errorCode,
    generationId: unknownGenerationId,
    protocolType: '',
    protocolName: '',
    leader: '',
    skipAssignment: false,
    memberId,
    members: [],
  };
}

export class GroupMetadataManager {
  private readonly groups = new Map<string, Group>();
  private readonly timers = new DeadlineQueue<TimerValue>();

  constructor(
    private readonly config: GroupCoordinatorConfig,
    private readonly random: Random,
    private readonly outbox: CoordinatorOutbox,
    private readonly partitions: OffsetsPartitionStatusView,
    /** Asks for one append to `__consumer_offsets`; `continuation` comes back to continueAfterStore. */
    private readonly appendRecords: (
      partitionIndex: number,
      records: OffsetsRecord[],
      continuation: StoreGroupContinuation,
    ) => void,
  ) {}

  // ---------------------------------------------------------------- the groups

  /** The group's live state; read it, never change it. */
  getGroup(groupId: string): Group | undefined {
    return this.groups.get(groupId);
  }

  groupIds(): string[] {
    return [...this.groups.keys()].sort();
  }

  get groupCount(): number {
    return this.groups.size;
  }

  /** Whether `group` is still the coordinator's group of that id (not deleted, unloaded or replaced). */
  isCurrent(group: Group): boolean {
    return this.groups.get(group.groupId) === group;
  }

  // ---------------------------------------------------------------- loading and unloading

  /**
   * A group of a partition being loaded, from its last metadata record (undefined: none; null: a
   * tombstone). One with members comes back Stable, one without Empty.
   */
  loadGroup(
    groupId: string,
    partitionIndex: number,
    value: GroupMetadataValue | null | undefined,
    nowMs: number,
  ): Group {
    invariant(!this.groups.has(groupId), () => `group ${groupId} loaded twice`);
    const group = value
      ? this.groupFromRecord(groupId, partitionIndex, value)
      : new Group(groupId, partitionIndex, 'Empty', nowMs);
    this.groups.set(groupId, group);
    return group;
  }

  /** A loaded group goes live: each member gets a fresh session deadline from `nowMs`, as in Kafka. */
  activateLoadedGroup(group: Group, nowMs: number): void {
    for (const member of group.members.values()) this.scheduleSession(group, member, nowMs);
    if (group.members.size > this.config.membersPerGroupMax) {
      // Kafka: a group loaded over capacity rebalances, and the join limit trims it.
      this.prepareRebalance(group, nowMs);
    }
    group.checkInvariants();
  }

  /** Drops the partition's groups; every join or sync held for them is answered NOT_COORDINATOR. */
  unloadGroups(partitionIndex: number): void {
    for (const group of [...this.groups.values()]) {
      if (group.partitionIndex !== partitionIndex) continue;
      for (const member of group.members.values()) {
        if (member.joinRequestId !== null) {
          this.outbox.respond(member.joinRequestId, joinError(member.memberId, ErrorCode.NOT_COORDINATOR));
          member.joinRequestId = null;
        }
        if (member.syncRequestId !== null) {
          this.outbox.respondSyncError(member.syncRequestId, ErrorCode.NOT_COORDINATOR);
          member.syncRequestId = null;
        }
      }
      this.dropGroupTimers(group);
      this.groups.delete(group.groupId);
    }
  }

  // ---------------------------------------------------------------- JoinGroup

  joinGroup(requestId: RequestId, request: JoinGroupRequest, nowMs: number): void {
    const { groupId, memberId, groupInstanceId } = request;
    const reply = (errorCode: number, id = memberId): void =>
      this.outbox.respond(requestId, joinError(id, errorCode));
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
    // JoinGroup v0 has no rebalance timeout: Kafka uses the session timeout for both. A v1+ join
    // that leaves it unset (kafkajs's low-level joinGroup sends 0 then) gets the same: a rebalance
    // timeout of 0 would expire the pending sync the moment the join completes, and the member would
    // be gone before its SyncGroup, heartbeat or OffsetCommit arrived.
    const rebalanceTimeoutMs =
      request.apiVersion === 0 || request.rebalanceTimeoutMs <= 0
        ? request.sessionTimeoutMs
        : request.rebalanceTimeoutMs;
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
    this.outbox.touch(group);

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
      this.outbox.respond(requestId, joinError(unknownMemberId, ErrorCode.COORDINATOR_NOT_AVAILABLE));
      return;
    }
    if (
      !group.supportsProtocols(
        request.protocolType,
        request.protocols.map((p) => p.name),
      )
    ) {
      this.outbox.respond(requestId, joinError(unknownMemberId, ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
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
        this.outbox.respond(requestId, joinError(unknownMemberId, ErrorCode.GROUP_MAX_SIZE_REACHED));
        return;
      }
      group.pendingMemberIds.add(newMemberId);
      this.timers.set(timerKey('pending', group.groupId, newMemberId), nowMs + request.sessionTimeoutMs, {
        kind: 'pendingMember',
        groupId: group.groupId,
        memberId: newMemberId,
      });
      this.outbox.respond(requestId, joinError(newMemberId, ErrorCode.MEMBER_ID_REQUIRED));
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
    const reply = (errorCode: number): void => this.outbox.respond(requestId, joinError(memberId, errorCode));
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
          this.outbox.respond(requestId, this.joinResult(group, member, group.isLeader(memberId)));
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
        this.outbox.respond(requestId, this.joinResult(group, member, false));
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
      this.outbox.respond(old.joinRequestId, joinError(oldMemberId, ErrorCode.FENCED_INSTANCE_ID));
      old.joinRequestId = null;
    }
    if (old.syncRequestId !== null) {
      this.outbox.respondSyncError(old.syncRequestId, ErrorCode.FENCED_INSTANCE_ID);
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
            supportsSkipAssignment: request.apiVersion >= joinGroupSkipAssignmentVersion,
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
      skipAssignment: false,
      memberId: member.memberId,
      members: withMembers ? group.currentMemberMetadata() : [],
    };
  }

  /** Holds a member's JoinGroup; a join it sent before (its client gave up on it) is released. */
  private holdJoin(member: Member, requestId: RequestId): void {
    if (member.joinRequestId !== null) {
      // Kafka drops the superseded callback and lets the request time out; answering it keeps the
      // driver from holding a request forever. The client already abandoned it.
      this.outbox.respond(member.joinRequestId, joinError(member.memberId, ErrorCode.REBALANCE_IN_PROGRESS));
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
        this.outbox.respond(
          member.joinRequestId,
          this.joinResult(group, member, group.isLeader(member.memberId)),
        );
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
      this.outbox.respond(member.syncRequestId, {
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
      this.outbox.respond(member.joinRequestId, joinError(unknownMemberId, errorCode));
      member.joinRequestId = null;
    }
    if (member.syncRequestId !== null) {
      // Kafka leaves this request unanswered until the client times out; we answer it.
      this.outbox.respondSyncError(member.syncRequestId, errorCode);
      member.syncRequestId = null;
    }
    this.timers.delete(timerKey('session', group.groupId, member.memberId));
    group.remove(member.memberId);
  }

  /** Restarts the member's session deadline (a heartbeat, a commit, an answered join or sync). */
  scheduleSession(group: Group, member: Member, nowMs: number, timeoutMs = member.sessionTimeoutMs): void {
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

  syncGroup(requestId: RequestId, request: SyncGroupRequest, nowMs: number): void {
    const { groupId, memberId } = request;
    const reply = (errorCode: number): void => this.outbox.respondSyncError(requestId, errorCode);
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
    this.outbox.touch(group);
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
          this.outbox.respondSyncError(member.syncRequestId, ErrorCode.REBALANCE_IN_PROGRESS);
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
        this.outbox.respond(requestId, {
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

  // ---------------------------------------------------------------- Heartbeat, LeaveGroup

  heartbeat(requestId: RequestId, request: HeartbeatRequest, nowMs: number): void {
    this.outbox.respond(requestId, { api: 'Heartbeat', errorCode: this.heartbeatErrorCode(request, nowMs) });
  }

  private heartbeatErrorCode(request: HeartbeatRequest, nowMs: number): number {
    const status = this.validateGroupStatus(request.groupId, true);
    if (status !== ErrorCode.NONE) return status;
    const group = this.groups.get(request.groupId);
    if (group === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
    this.outbox.touch(group);
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

  leaveGroup(requestId: RequestId, request: LeaveGroupRequest, nowMs: number): void {
    const respond = (
      errorCode: number,
      members: { memberId: string; groupInstanceId: string | null; errorCode: number }[],
    ): void => this.outbox.respond(requestId, { api: 'LeaveGroup', errorCode, members });
    const status = this.validateGroupStatus(request.groupId, true);
    if (status !== ErrorCode.NONE) {
      respond(status, []);
      return;
    }
    const group = this.groups.get(request.groupId);
    if (group === undefined) {
      respond(
        ErrorCode.NONE,
        request.members.map((m) => ({ ...m, errorCode: ErrorCode.UNKNOWN_MEMBER_ID })),
      );
      return;
    }
    this.outbox.touch(group);
    if (group.is('Dead')) {
      respond(ErrorCode.COORDINATOR_NOT_AVAILABLE, []);
      return;
    }
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
        if (errorCode === ErrorCode.NONE) this.removeMemberAndUpdateGroup(group, group.get(memberId), nowMs);
      }
      return { memberId, groupInstanceId, errorCode };
    });
    respond(ErrorCode.NONE, results);
  }

  // ---------------------------------------------------------------- DescribeGroups, ListGroups

  describeGroups(requestId: RequestId, request: DescribeGroupsRequest): void {
    const groups = request.groups.map((groupId): DescribedGroup => {
      const status = this.validateGroupStatus(groupId, false);
      if (status !== ErrorCode.NONE) return describedGroupRefusal(groupId, status);
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
    this.outbox.respond(requestId, { api: 'DescribeGroups', groups });
  }

  listGroups(requestId: RequestId, request: ListGroupsRequest): void {
    const states = new Set(request.statesFilter.map((s) => s.toLowerCase()));
    const loading = this.partitions.anyLoading();
    const groups = [...this.groups.values()]
      .filter((g) => !g.is('Dead') && (states.size === 0 || states.has(g.state.toLowerCase())))
      .sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0))
      .map((g) => ({ groupId: g.groupId, protocolType: g.protocolType ?? '', groupState: g.state }));
    this.outbox.respond(requestId, {
      api: 'ListGroups',
      errorCode: loading ? ErrorCode.COORDINATOR_LOAD_IN_PROGRESS : ErrorCode.NONE,
      groups,
    });
  }

  // ---------------------------------------------------------------- DeleteGroups

  /**
   * The group side of DeleteGroups: an Empty group becomes Dead (its pending members dropped) while
   * its tombstones are written. Returns the group, or the error code for this group id.
   */
  markGroupForDeletion(groupId: string, nowMs: number): Group | number {
    const status = this.validateGroupStatus(groupId, false);
    if (status !== ErrorCode.NONE) return status;
    const group = this.groups.get(groupId);
    if (group === undefined || group.is('Dead')) return ErrorCode.GROUP_ID_NOT_FOUND;
    this.outbox.touch(group);
    if (!group.is('Empty')) return ErrorCode.NON_EMPTY_GROUP;
    group.transitionTo('Dead', nowMs);
    // Members told to rejoin with an id (MEMBER_ID_REQUIRED) will find the group gone.
    for (const memberId of group.pendingMemberIds) this.timers.delete(timerKey('pending', groupId, memberId));
    group.pendingMemberIds.clear();
    return group;
  }

  /** The tombstone of the group's metadata record, if it ever wrote one. */
  groupTombstones(group: Group): OffsetsRecord[] {
    // Generation 0 means the group only ever stored offsets: it has no metadata record to delete.
    return group.generationId > 0 ? [groupMetadataRecord(group.groupId, null)] : [];
  }

  /** The group's tombstones are in the log: it is gone. */
  removeGroup(group: Group): void {
    this.groups.delete(group.groupId);
  }

  /** The tombstones are not in the log, so the group is not deleted: it is back, Empty. */
  reviveAfterFailedDelete(group: Group): void {
    group.reviveAfterFailedDelete();
    this.outbox.touch(group);
  }

  // ---------------------------------------------------------------- persistence

  /** Kafka's storeGroup: the group's current metadata with `assignment`, as one record. */
  private storeGroup(
    group: Group,
    assignment: ReadonlyMap<string, Buffer>,
    continuation: StoreGroupContinuation,
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
    this.appendRecords(group.partitionIndex, [groupMetadataRecord(group.groupId, value)], continuation);
  }

  private finishStaticRejoin(
    continuation: Extract<StoreGroupContinuation, { kind: 'storeStaticRejoin' }>,
    appendErrorCode: number,
    nowMs: number,
  ): void {
    const {
      group,
      requestId,
      groupInstanceId,
      oldMemberId,
      newMemberId,
      leaderBeforeRejoin,
      supportsSkipAssignment,
      previous,
    } = continuation;
    this.outbox.touch(group);
    const member = group.members.get(newMemberId);
    // If a rebalance answered the join meanwhile, the member has moved on with the new id.
    if (member === undefined || member.joinRequestId !== requestId) return;
    const errorCode = storeGroupErrorCode(appendErrorCode);
    if (errorCode === ErrorCode.NONE) {
      // A Stable group never distributes a new assignment, so the rejoining leader must not compute
      // one. v9+ tells it so (KIP-814: it leads, gets the members, and skips the assignment); older
      // versions are answered with the leader from before the rejoin, its old id, so it does not
      // think it leads.
      const leads = leaderBeforeRejoin === oldMemberId && group.leaderId === newMemberId;
      const response =
        supportsSkipAssignment && leads
          ? { ...this.joinResult(group, member, true), skipAssignment: true }
          : this.joinResult(group, member, false, leaderBeforeRejoin);
      this.outbox.respond(requestId, response);
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
    this.outbox.respond(requestId, joinError(unknownMemberId, errorCode));
  }

  /** A `storeGroup` append completed: `appendErrorCode` 0 once replicated, else its Kafka error. */
  continueAfterStore(continuation: StoreGroupContinuation, appendErrorCode: number, nowMs: number): void {
    switch (continuation.kind) {
      case 'storeEmptyGroup':
        return;
      case 'storeAssignment': {
        const { group, generationId, assignment } = continuation;
        this.outbox.touch(group);
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
    }
  }

  // ---------------------------------------------------------------- time

  /** The earliest deadline (session, rebalance, sync), or null. */
  nextDeadlineMs(): number | null {
    return this.timers.peekDeadlineMs();
  }

  /** Fires every deadline due at `nowMs`. */
  fireDueTimers(nowMs: number): void {
    for (let fired = 0; ; fired++) {
      invariant(fired < timerFiringsPerCallMax, 'timers keep re-arming at the same instant');
      const due = this.timers.popDue(nowMs);
      if (due === null) return;
      const timer = due.value;
      const group = this.groups.get(timer.groupId);
      invariant(group !== undefined, () => `timer ${due.key} outlived its group`);
      this.outbox.touch(group);
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

  // ---------------------------------------------------------------- validation and helpers

  /** Kafka's validateGroupStatus: id validity, then whether this coordinator serves the group now. */
  validateGroupStatus(groupId: string, requireNonEmptyId: boolean): number {
    if ((requireNonEmptyId && groupId === '') || !fitsRecordString(groupId))
      return ErrorCode.INVALID_GROUP_ID;
    const status = this.partitions.statusOf(
      coordinatorPartitionFor(groupId, this.config.offsetsPartitionCount),
    );
    if (status === undefined) return ErrorCode.NOT_COORDINATOR;
    if (status === 'loading') return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
    return ErrorCode.NONE;
  }

  /**
   * Kafka's validateCurrentMember: an instance id, if given and known, must map to this member id
   * (else another process took the instance over: FENCED_INSTANCE_ID); the member must exist.
   */
  validateCurrentMember(group: Group, memberId: string, groupInstanceId: string | null): number {
    const mapped = group.staticMemberId(groupInstanceId);
    if (mapped !== null) return mapped === memberId ? ErrorCode.NONE : ErrorCode.FENCED_INSTANCE_ID;
    return group.has(memberId) ? ErrorCode.NONE : ErrorCode.UNKNOWN_MEMBER_ID;
  }

  createGroup(groupId: string, nowMs: number): Group {
    const group = new Group(
      groupId,
      coordinatorPartitionFor(groupId, this.config.offsetsPartitionCount),
      'Empty',
      nowMs,
    );
    this.groups.set(groupId, group);
    return group;
  }

  private groupFromRecord(groupId: string, partitionIndex: number, value: GroupMetadataValue): Group {
    const hasMembers = value.members.length > 0;
    // The log's timestamp, as Kafka loads it: an Empty group's offsets expire from it, so a new
    // coordinator counts from when the group became Empty, not from when it loaded the log.
    const group = new Group(
      groupId,
      partitionIndex,
      hasMembers ? 'Stable' : 'Empty',
      value.currentStateTimestampMs,
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

  /** Every group's invariants, and that timers and members agree; `isLoaded` says which partitions are. */
  checkInvariants(isLoaded: (partitionIndex: number) => boolean): void {
    for (const group of this.groups.values()) {
      group.checkInvariants();
      invariant(isLoaded(group.partitionIndex), () => `group ${group.groupId} in an unloaded partition`);
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
}

/**
 * A group DescribeGroups answers with an error, without state ("no state", as Kafka's). Also what a
 * driver answers for a group whose coordinator could not confirm it still leads (NOT_COORDINATOR).
 */
export function describedGroupRefusal(groupId: string, errorCode: number): DescribedGroup {
  return { errorCode, groupId, groupState: '', protocolType: '', protocolData: '', members: [] };
}

// One consumer group's state, after Kafka's GroupMetadata/MemberMetadata: members, static-member
// mapping, generation, protocol, leader, committed offsets, and the state machine
//
//   Empty ──join──▶ PreparingRebalance ──all joined / timeout──▶ CompletingRebalance ──leader's sync──▶ Stable
//     ▲                    │   ▲                                        │                              │
//     └── no members left ─┘   └──────────── member joins, leaves or expires ─────────────────────────┘
//   any state ──deleted / unloaded──▶ Dead
//
// This module holds data and the rules that only need the group; the coordinator decides when to
// move it and answers the requests waiting on it (it owns time, timers and effects).

import { invariant } from '@gregor/ground';
import type { GroupStateName, JoinGroupResponseMember, ProtocolMetadata, RequestId } from './messages.js';
import type { OffsetCommitValue } from './offsets-records.js';

export type GroupState = GroupStateName;

/** Kafka's GroupState.validPreviousStates. */
const validPreviousStates: Readonly<Record<GroupState, readonly GroupState[]>> = {
  Empty: ['PreparingRebalance'],
  PreparingRebalance: ['Stable', 'CompletingRebalance', 'Empty'],
  CompletingRebalance: ['PreparingRebalance'],
  Stable: ['CompletingRebalance'],
  Dead: ['Stable', 'PreparingRebalance', 'CompletingRebalance', 'Empty', 'Dead'],
};

/** Kafka's JoinGroupRequest.UNKNOWN_MEMBER_ID and UNKNOWN_GENERATION_ID. */
export const unknownMemberId = '';
export const unknownGenerationId = -1;

export class Member {
  /** Replaced when a static member rejoins with an unknown member id. */
  memberId: string;
  rebalanceTimeoutMs: number;
  sessionTimeoutMs: number;
  /** In the member's order of preference. */
  protocols: readonly ProtocolMetadata[];
  /** This generation's assignment; null until the leader's SyncGroup has been persisted. */
  assignment: Buffer | null = null;
  /** The JoinGroup request held for the rebalance, if any (Kafka's awaitingJoinCallback). */
  joinRequestId: RequestId | null = null;
  /** The SyncGroup request waiting for the assignment, if any (Kafka's awaitingSyncCallback). */
  syncRequestId: RequestId | null = null;
  /** Joined during the current rebalance and has not had a JoinGroup response yet. */
  isNew = false;

  constructor(
    memberId: string,
    readonly groupInstanceId: string | null,
    readonly clientId: string,
    readonly clientHost: string,
    rebalanceTimeoutMs: number,
    sessionTimeoutMs: number,
    readonly protocolType: string,
    protocols: readonly ProtocolMetadata[],
  ) {
    this.memberId = memberId;
    this.rebalanceTimeoutMs = rebalanceTimeoutMs;
    this.sessionTimeoutMs = sessionTimeoutMs;
    this.protocols = protocols;
  }

  get isAwaitingJoin(): boolean {
    return this.joinRequestId !== null;
  }

  get isAwaitingSync(): boolean {
    return this.syncRequestId !== null;
  }

  get isStatic(): boolean {
    return this.groupInstanceId !== null;
  }

  /** Same protocols, same order, same metadata bytes: a rejoin that changes nothing. */
  matches(protocols: readonly ProtocolMetadata[]): boolean {
    return (
      protocols.length === this.protocols.length &&
      protocols.every(
        (p, i) => p.name === this.protocols[i]!.name && p.metadata.equals(this.protocols[i]!.metadata),
      )
    );
  }

  metadataFor(protocolName: string): Buffer {
    const protocol = this.protocols.find((p) => p.name === protocolName);
    invariant(
      protocol !== undefined,
      () => `member ${this.memberId} does not support protocol ${protocolName}`,
    );
    return protocol.metadata;
  }

  /** The member's most preferred protocol among the candidates (Kafka's MemberMetadata.vote). */
  vote(candidates: ReadonlySet<string>): string {
    const choice = this.protocols.find((p) => candidates.has(p.name));
    invariant(
      choice !== undefined,
      () => `member ${this.memberId} supports none of ${[...candidates].join(', ')}`,
    );
    return choice.name;
  }
}

/** How the rebalance in progress ends (Kafka's InitialDelayedJoin vs DelayedJoin). */
export type JoinTimer =
  /** Leaving Empty: wait `delayMs` whatever happens; extend while new members keep arriving. */
  | { readonly kind: 'initial'; readonly delayMs: number; readonly remainingMs: number }
  /** Otherwise: complete as soon as every member rejoined, else at the rebalance timeout. */
  | { readonly kind: 'normal' };

export class Group {
  state: GroupState;
  /**
   * When the group entered its current state (Kafka's currentStateTimestamp, written to the log as
   * current_state_timestamp); noTimestamp when loaded from a record without one. An Empty group's
   * offsets expire from it.
   */
  stateTimestampMs: number;
  /** The timestamp of the Empty state a deletion left, restored if the deletion fails. */
  private stateTimestampBeforeDeletionMs: number | null = null;
  generationId = 0;
  /** null until a member has joined (a group used only for offset storage has none). */
  protocolType: string | null = null;
  protocolName: string | null = null;
  leaderId: string | null = null;
  /** In join order, which is also the order new leaders are picked in. */
  readonly members = new Map<string, Member>();
  /** Ids handed out with MEMBER_ID_REQUIRED whose owners have not rejoined yet. */
  readonly pendingMemberIds = new Set<string>();
  /** group.instance.id → current member id. */
  readonly staticMembers = new Map<string, string>();
  /** Members of this generation that have not sent SyncGroup yet. */
  readonly pendingSyncMemberIds = new Set<string>();
  /** A member was added during the first generation's initial delay: extend the delay. */
  newMemberAdded = false;
  joinTimer: JoinTimer | null = null;
  /** topic → partition → the committed offset, as in the log. */
  readonly offsets = new Map<string, Map<number, OffsetCommitValue>>();
  /** "topic\0partition" → commits appended but not yet acknowledged (OffsetFetch require_stable). */
  readonly pendingCommitCounts = new Map<string, number>();
  /**
   * Offsets committed inside open transactions (TxnOffsetCommit, stored in the log): producer id →
   * "topic\0partition" → the offset, applied when the transaction's commit marker is written.
   */
  readonly pendingTransactionalOffsets = new Map<
    number,
    Map<string, { topic: string; partition: number; value: OffsetCommitValue }>
  >();
  constructor(
    readonly groupId: string,
    readonly partitionIndex: number,
    state: GroupState,
    nowMs: number,
  ) {
    this.state = state;
    this.stateTimestampMs = nowMs;
  }

  is(state: GroupState): boolean {
    return this.state === state;
  }

  transitionTo(state: GroupState, nowMs: number): void {
    invariant(
      validPreviousStates[state].includes(this.state),
      () => `group ${this.groupId}: illegal transition ${this.state} → ${state}`,
    );
    if (state === 'Dead') this.stateTimestampBeforeDeletionMs = this.stateTimestampMs;
    this.state = state;
    this.stateTimestampMs = nowMs;
  }

  /**
   * Undoes a deletion whose tombstones could not be written: the group is back as it was, Empty
   * since the time it was before (its offsets' retention does not start again).
   */
  reviveAfterFailedDelete(): void {
    invariant(
      this.is('Dead') && this.members.size === 0 && this.stateTimestampBeforeDeletionMs !== null,
      () => `group ${this.groupId}: cannot revive from ${this.state}`,
    );
    this.state = 'Empty';
    this.stateTimestampMs = this.stateTimestampBeforeDeletionMs;
    this.stateTimestampBeforeDeletionMs = null;
  }

  has(memberId: string): boolean {
    return this.members.has(memberId);
  }

  get(memberId: string): Member {
    const member = this.members.get(memberId);
    invariant(member !== undefined, () => `group ${this.groupId} has no member ${memberId}`);
    return member;
  }

  isLeader(memberId: string): boolean {
    return this.leaderId === memberId;
  }

  staticMemberId(groupInstanceId: string | null): string | null {
    if (groupInstanceId === null) return null;
    return this.staticMembers.get(groupInstanceId) ?? null;
  }

  get awaitingJoinCount(): number {
    let count = 0;
    for (const member of this.members.values()) if (member.isAwaitingJoin) count++;
    return count;
  }

  /** The largest rebalance timeout of the members: how long a rebalance may wait for them. */
  get rebalanceTimeoutMs(): number {
    let timeoutMs = 0;
    for (const member of this.members.values()) timeoutMs = Math.max(timeoutMs, member.rebalanceTimeoutMs);
    return timeoutMs;
  }

  add(member: Member): void {
    invariant(
      !this.members.has(member.memberId),
      () => `group ${this.groupId} already has ${member.memberId}`,
    );
    if (member.groupInstanceId !== null) {
      invariant(
        !this.staticMembers.has(member.groupInstanceId),
        () => `group ${this.groupId}: instance ${member.groupInstanceId} already mapped`,
      );
      this.staticMembers.set(member.groupInstanceId, member.memberId);
    }
    if (this.members.size === 0) this.protocolType = member.protocolType;
    invariant(this.protocolType === member.protocolType, 'member protocol type differs from the group');
    if (this.leaderId === null) this.leaderId = member.memberId;
    this.members.set(member.memberId, member);
    this.pendingMemberIds.delete(member.memberId);
  }

  /** Removes a member whose pending requests the caller has already answered. */
  remove(memberId: string): Member {
    const member = this.get(memberId);
    invariant(
      !member.isAwaitingJoin && !member.isAwaitingSync,
      () => `group ${this.groupId}: removing ${memberId} with a request still pending`,
    );
    this.members.delete(memberId);
    if (member.groupInstanceId !== null && this.staticMembers.get(member.groupInstanceId) === memberId) {
      this.staticMembers.delete(member.groupInstanceId);
    }
    this.pendingSyncMemberIds.delete(memberId);
    if (this.leaderId === memberId) {
      // Kafka takes "any" remaining member; join order makes the choice deterministic.
      this.leaderId = this.members.keys().next().value ?? null;
    }
    return member;
  }

  updateMember(
    member: Member,
    protocols: readonly ProtocolMetadata[],
    rebalanceTimeoutMs: number,
    sessionTimeoutMs: number,
  ): void {
    member.protocols = protocols;
    member.rebalanceTimeoutMs = rebalanceTimeoutMs;
    member.sessionTimeoutMs = sessionTimeoutMs;
  }

  /**
   * A static member rejoined with an unknown member id: the same member object carries on under the
   * new id (keeping its assignment and leadership). The caller has answered the old id's requests.
   */
  replaceStaticMember(groupInstanceId: string, oldMemberId: string, newMemberId: string): Member {
    const member = this.get(oldMemberId);
    invariant(member.groupInstanceId === groupInstanceId, 'replacing a member of another instance id');
    invariant(!this.members.has(newMemberId), () => `member id ${newMemberId} already in use`);
    invariant(!member.isAwaitingJoin && !member.isAwaitingSync, 'replacing a member with a request pending');
    // Keep the member's place in join order: rebuild the map with the new key in the same slot.
    const entries = [...this.members.entries()];
    this.members.clear();
    for (const [id, m] of entries) this.members.set(id === oldMemberId ? newMemberId : id, m);
    member.memberId = newMemberId;
    if (this.leaderId === oldMemberId) this.leaderId = newMemberId;
    if (this.pendingSyncMemberIds.delete(oldMemberId)) this.pendingSyncMemberIds.add(newMemberId);
    this.staticMembers.set(groupInstanceId, newMemberId);
    return member;
  }

  /**
   * Kafka's GroupMetadata.supportsProtocols: an Empty group takes any non-empty protocol type and
   * list; otherwise the type must match and one of the protocols must be supported by every member.
   */
  supportsProtocols(protocolType: string, protocolNames: readonly string[]): boolean {
    if (this.is('Empty')) return protocolType !== '' && protocolNames.length > 0;
    // Without members (all left during an initial delay) every protocol is "supported by all", as
    // in Kafka, whose per-protocol count then equals the member count of zero.
    const candidates = this.supportedByAll();
    return (
      this.protocolType === protocolType &&
      protocolNames.some((name) => this.members.size === 0 || candidates.has(name))
    );
  }

  /** Protocols every member supports (Kafka's candidateProtocols). */
  private supportedByAll(): Set<string> {
    const counts = new Map<string, number>();
    for (const member of this.members.values()) {
      for (const name of new Set(member.protocols.map((p) => p.name)))
        counts.set(name, (counts.get(name) ?? 0) + 1);
    }
    const all = new Set<string>();
    for (const [name, count] of counts) if (count === this.members.size) all.add(name);
    return all;
  }

  /**
   * Kafka's selectProtocol: each member votes for its most preferred protocol among those all members
   * support; the most votes wins. Kafka breaks a tie by hash-map order; we take the tied protocol the
   * earliest-joined member prefers most, so the choice is deterministic.
   */
  selectProtocol(): string {
    invariant(this.members.size > 0, () => `group ${this.groupId}: cannot select a protocol without members`);
    const candidates = this.supportedByAll();
    invariant(candidates.size > 0, () => `group ${this.groupId}: members share no protocol`);
    const votes = new Map<string, number>();
    for (const member of this.members.values()) {
      const choice = member.vote(candidates);
      votes.set(choice, (votes.get(choice) ?? 0) + 1);
    }
    const most = Math.max(...votes.values());
    const first = this.members.values().next().value!;
    const tied = first.protocols.find((p) => votes.get(p.name) === most);
    invariant(tied !== undefined, 'no protocol with the most votes');
    return tied.name;
  }

  /** Every member has rejoined and no MEMBER_ID_REQUIRED member is still expected. */
  hasAllMembersJoined(): boolean {
    return this.awaitingJoinCount === this.members.size && this.pendingMemberIds.size === 0;
  }

  notYetRejoinedMembers(): Member[] {
    return [...this.members.values()].filter((member) => !member.isAwaitingJoin);
  }

  /**
   * Kafka's maybeElectNewJoinedLeader: if the leader did not rejoin, a member that did takes over.
   * False when no leader can be found among the members that rejoined.
   */
  maybeElectNewJoinedLeader(): boolean {
    if (this.leaderId === null) return false;
    if (this.get(this.leaderId).isAwaitingJoin) return true;
    for (const member of this.members.values()) {
      if (member.isAwaitingJoin) {
        this.leaderId = member.memberId;
        return true;
      }
    }
    this.leaderId = null;
    return false;
  }

  /** Kafka's initNextGeneration: a new generation, CompletingRebalance with members, else Empty. */
  initNextGeneration(nowMs: number): void {
    invariant(
      this.is('PreparingRebalance'),
      () => `group ${this.groupId}: new generation from ${this.state}`,
    );
    this.generationId += 1;
    this.joinTimer = null;
    this.pendingSyncMemberIds.clear();
    for (const member of this.members.values()) member.assignment = null;
    if (this.members.size > 0) {
      this.protocolName = this.selectProtocol();
      this.transitionTo('CompletingRebalance', nowMs);
    } else {
      this.protocolName = null;
      this.transitionTo('Empty', nowMs);
    }
  }

  /** Every member's metadata for the selected protocol: what the leader assigns from. */
  currentMemberMetadata(): JoinGroupResponseMember[] {
    invariant(this.protocolName !== null, () => `group ${this.groupId} has no protocol`);
    const protocolName = this.protocolName;
    return [...this.members.values()].map((member) => ({
      memberId: member.memberId,
      groupInstanceId: member.groupInstanceId,
      metadata: member.metadataFor(protocolName),
    }));
  }

  // ---- offsets ----

  committedOffset(topic: string, partition: number): OffsetCommitValue | undefined {
    return this.offsets.get(topic)?.get(partition);
  }

  setCommittedOffset(topic: string, partition: number, value: OffsetCommitValue): void {
    let partitions = this.offsets.get(topic);
    if (partitions === undefined) {
      partitions = new Map();
      this.offsets.set(topic, partitions);
    }
    partitions.set(partition, value);
  }

  deleteCommittedOffset(topic: string, partition: number): void {
    const partitions = this.offsets.get(topic);
    if (partitions === undefined) return;
    partitions.delete(partition);
    if (partitions.size === 0) this.offsets.delete(topic);
  }

  get offsetCount(): number {
    let count = 0;
    for (const partitions of this.offsets.values()) count += partitions.size;
    return count;
  }

  /** Every committed offset, sorted by topic then partition. */
  allCommittedOffsets(): { topic: string; partition: number; value: OffsetCommitValue }[] {
    const result: { topic: string; partition: number; value: OffsetCommitValue }[] = [];
    for (const topic of [...this.offsets.keys()].sort()) {
      const partitions = this.offsets.get(topic)!;
      for (const partition of [...partitions.keys()].sort((a, b) => a - b)) {
        result.push({ topic, partition, value: partitions.get(partition)! });
      }
    }
    return result;
  }

  /** The pending commits' partitions, sorted like `allCommittedOffsets`. */
  pendingCommitKeys(): { id: string; topic: string; partition: number }[] {
    return [...this.pendingCommitCounts.keys()]
      .map((id) => {
        const separator = id.lastIndexOf('\u0000');
        return { id, topic: id.slice(0, separator), partition: Number(id.slice(separator + 1)) };
      })
      .sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
  }

  addPendingTransactionalOffset(
    producerId: number,
    topic: string,
    partition: number,
    value: OffsetCommitValue,
  ): void {
    let pending = this.pendingTransactionalOffsets.get(producerId);
    if (pending === undefined) {
      pending = new Map();
      this.pendingTransactionalOffsets.set(producerId, pending);
    }
    pending.set(`${topic}\u0000${partition}`, { topic, partition, value });
  }

  /** The producer's transaction ended: its offsets become the committed ones (commit) or go (abort). */
  completeTransaction(producerId: number, commit: boolean): boolean {
    const pending = this.pendingTransactionalOffsets.get(producerId);
    if (pending === undefined) return false;
    this.pendingTransactionalOffsets.delete(producerId);
    if (commit) {
      for (const { topic, partition, value } of pending.values())
        this.setCommittedOffset(topic, partition, value);
    }
    return true;
  }

  /** Whether an open transaction holds an offset for the partition (OffsetFetch require_stable). */
  hasPendingTransactionalOffset(topic: string, partition: number): boolean {
    const key = `${topic}\u0000${partition}`;
    for (const pending of this.pendingTransactionalOffsets.values()) if (pending.has(key)) return true;
    return false;
  }

  // ---- invariants ----

  /** The rules that hold between any two coordinator calls. Throws InvariantViolation. */
  checkInvariants(): void {
    const where = `group ${this.groupId} (${this.state}, generation ${this.generationId})`;
    invariant(this.generationId >= 0, `${where}: negative generation`);
    if (this.leaderId !== null)
      invariant(this.members.has(this.leaderId), `${where}: leader ${this.leaderId} is not a member`);
    for (const [instanceId, memberId] of this.staticMembers) {
      invariant(
        this.members.get(memberId)?.groupInstanceId === instanceId,
        `${where}: instance ${instanceId} maps to ${memberId}`,
      );
    }
    for (const [memberId, member] of this.members) {
      invariant(
        member.memberId === memberId,
        `${where}: member keyed ${memberId} calls itself ${member.memberId}`,
      );
      invariant(!this.pendingMemberIds.has(memberId), `${where}: ${memberId} is both member and pending`);
      if (member.groupInstanceId !== null) {
        invariant(
          this.staticMembers.get(member.groupInstanceId) === memberId,
          `${where}: static ${memberId} unmapped`,
        );
      }
      invariant(member.protocolType === this.protocolType, `${where}: ${memberId} has another protocol type`);
    }
    for (const memberId of this.pendingSyncMemberIds) {
      invariant(this.members.has(memberId), `${where}: pending sync ${memberId} is not a member`);
    }
    switch (this.state) {
      case 'Empty':
        invariant(this.members.size === 0, `${where}: members in an Empty group`);
        invariant(
          this.leaderId === null && this.protocolName === null,
          `${where}: leader or protocol while Empty`,
        );
        break;
      case 'PreparingRebalance':
        invariant(this.joinTimer !== null, `${where}: rebalancing without a join timer`);
        for (const member of this.members.values())
          invariant(!member.isAwaitingSync, `${where}: sync pending while preparing`);
        break;
      case 'CompletingRebalance':
      case 'Stable': {
        invariant(this.members.size > 0, `${where}: no members`);
        invariant(this.leaderId !== null, `${where}: no leader`);
        invariant(this.protocolName !== null, `${where}: no protocol`);
        invariant(this.joinTimer === null, `${where}: join timer outside a rebalance`);
        const protocolName = this.protocolName;
        for (const member of this.members.values()) {
          invariant(
            member.protocols.some((p) => p.name === protocolName),
            `${where}: ${member.memberId} lacks ${protocolName}`,
          );
          if (this.state === 'Stable') {
            invariant(member.assignment !== null, `${where}: ${member.memberId} has no assignment`);
            invariant(!member.isAwaitingSync, `${where}: ${member.memberId} still waits for its assignment`);
          } else {
            invariant(member.assignment === null, `${where}: ${member.memberId} assigned before the sync`);
          }
        }
        break;
      }
      case 'Dead':
        invariant(this.members.size === 0, `${where}: members in a Dead group`);
        break;
    }
  }
}

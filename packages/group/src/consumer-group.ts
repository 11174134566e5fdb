// A KIP-848 consumer group (Kafka's ConsumerGroup and ConsumerGroupMember): members with their
// subscriptions and epochs, the group epoch (bumped whenever membership, a subscription or the
// subscribed topics change), the target assignment computed at an assignment epoch, and each
// member's current assignment, which moves towards its target by the reconciliation rules of
// `reconcile` (Kafka's CurrentAssignmentBuilder). `partitionEpochs` records, for every partition some
// member holds (assigned or still to revoke), the epoch of that member: a partition is free, and may
// be given to its new owner, only when no member holds it.

import { invariant } from '@gregor/ground';
import type { AssignorName, TopicAssignment } from './consumer-assignors.js';

/** Kafka's LEAVE_GROUP_MEMBER_EPOCH and LEAVE_GROUP_STATIC_MEMBER_EPOCH. */
export const leaveGroupMemberEpoch = -1;
export const leaveGroupStaticMemberEpoch = -2;

/** Kafka's MemberState (lower case as its toString). */
export type ConsumerMemberState = 'stable' | 'unrevoked_partitions' | 'unreleased_partitions';

/** Kafka's ConsumerGroup.ConsumerGroupState names (ListGroups, ConsumerGroupDescribe). */
export type ConsumerGroupStateName = 'Empty' | 'Assigning' | 'Reconciling' | 'Stable';

export const emptyAssignment: TopicAssignment = new Map();

export interface ConsumerGroupMember {
  readonly memberId: string;
  readonly instanceId: string | null;
  readonly rackId: string | null;
  readonly clientId: string;
  readonly clientHost: string;
  readonly rebalanceTimeoutMs: number;
  readonly subscribedTopicNames: readonly string[];
  readonly subscribedTopicRegex: string | null;
  /** The server assignor the member asked for, or null for the group's default. */
  readonly serverAssignor: string | null;
  readonly state: ConsumerMemberState;
  readonly memberEpoch: number;
  readonly previousMemberEpoch: number;
  /** The partitions the member may consume now. */
  readonly assigned: TopicAssignment;
  /** Partitions the member must give up (and still owns until it says so in a heartbeat). */
  readonly pendingRevocation: TopicAssignment;
  /**
   * KIP-1251's assignment epochs: for a partition of `assigned` or `pendingRevocation`, the member
   * epoch at which it was given to the member, by `topicId:partition`. A partition without one (a
   * member rebuilt from the log, whose records do not carry them) counts as given at the member's
   * epoch, which keeps the strict check for it.
   */
  readonly assignmentEpochs?: ReadonlyMap<string, number>;
}

/** The epoch at which the member got the partition (KIP-1251); see `assignmentEpochs`. */
function assignmentEpochOf(member: ConsumerGroupMember, topicId: string, partition: number): number {
  return member.assignmentEpochs?.get(partitionKey(topicId, partition)) ?? member.memberEpoch;
}

/**
 * Kafka's relaxed check of an offset commit from a member at an older epoch (KIP-1251): the commit
 * names a partition the member still holds (assigned or pending revocation) and was given at or
 * before `clientEpoch`. A heartbeat moves the member's epoch on as soon as it runs, but its client
 * learns the new epoch only from the answer, sent once the records are replicated; a commit sent in
 * between carries the epoch before, for partitions the member held all along.
 */
export function holdsSinceEpoch(
  member: ConsumerGroupMember,
  topicId: string,
  partition: number,
  clientEpoch: number,
): boolean {
  const held =
    (member.assigned.get(topicId)?.includes(partition) ?? false) ||
    (member.pendingRevocation.get(topicId)?.includes(partition) ?? false);
  return held && assignmentEpochOf(member, topicId, partition) <= clientEpoch;
}

export function partitionCount(assignment: TopicAssignment): number {
  let count = 0;
  for (const partitions of assignment.values()) count += partitions.length;
  return count;
}

export function assignmentsEqual(a: TopicAssignment, b: TopicAssignment): boolean {
  if (a.size !== b.size) return false;
  for (const [topicId, partitions] of a) {
    const other = b.get(topicId);
    if (other === undefined || other.length !== partitions.length) return false;
    for (let i = 0; i < partitions.length; i++) if (other[i] !== partitions[i]) return false;
  }
  return true;
}

/** A sorted, duplicate-free assignment from a client's or a record's topic list. */
export function assignmentOf(
  topics: readonly { readonly topicId: string; readonly partitions: readonly number[] }[],
): Map<string, readonly number[]> {
  const result = new Map<string, Set<number>>();
  for (const { topicId, partitions } of topics) {
    const set = result.get(topicId) ?? new Set<number>();
    for (const p of partitions) set.add(p);
    result.set(topicId, set);
  }
  const sorted = new Map<string, readonly number[]>();
  for (const [topicId, set] of result) {
    if (set.size > 0)
      sorted.set(
        topicId,
        [...set].sort((a, b) => a - b),
      );
  }
  return sorted;
}

function partitionKey(topicId: string, partition: number): string {
  return `${topicId}:${partition}`;
}

/**
 * A group's state at one moment, to put back when the records of a change were refused (Kafka's
 * timeline reverted to the last written offset). Members and assignments are immutable values, so
 * copies of the maps are enough.
 */
export interface ConsumerGroupSnapshot {
  readonly groupEpoch: number;
  readonly assignmentEpoch: number;
  readonly assignorName: AssignorName;
  readonly subscribedTopicsSignature: string;
  readonly members: ReadonlyMap<string, ConsumerGroupMember>;
  readonly targetAssignment: ReadonlyMap<string, TopicAssignment>;
  readonly partitionEpochs: ReadonlyMap<string, { memberId: string; epoch: number }>;
}

export class ConsumerGroup {
  groupEpoch = 0;
  assignmentEpoch = 0;
  /** The assignor of the latest target assignment. */
  assignorName: AssignorName;
  readonly members = new Map<string, ConsumerGroupMember>();
  /** The target assignment of each member, computed at `assignmentEpoch`. */
  readonly targetAssignment = new Map<string, TopicAssignment>();
  /** What the subscribed topics looked like at the last epoch bump (names, ids, partition counts). */
  subscribedTopicsSignature = '';
  private readonly partitionEpochs = new Map<string, { memberId: string; epoch: number }>();

  constructor(
    readonly groupId: string,
    readonly partitionIndex: number,
    defaultAssignor: AssignorName,
  ) {
    this.assignorName = defaultAssignor;
  }

  get state(): ConsumerGroupStateName {
    if (this.members.size === 0) return 'Empty';
    if (this.groupEpoch > this.assignmentEpoch) return 'Assigning';
    for (const member of this.members.values()) {
      if (member.memberEpoch !== this.assignmentEpoch || member.state !== 'stable') return 'Reconciling';
    }
    return 'Stable';
  }

  memberByInstanceId(instanceId: string): ConsumerGroupMember | undefined {
    for (const member of this.members.values()) if (member.instanceId === instanceId) return member;
    return undefined;
  }

  /** The epoch of the member holding the partition, or -1 when it is free (Kafka's currentPartitionEpoch). */
  partitionEpoch(topicId: string, partition: number): number {
    return this.partitionEpochs.get(partitionKey(topicId, partition))?.epoch ?? -1;
  }

  partitionHolder(topicId: string, partition: number): string | undefined {
    return this.partitionEpochs.get(partitionKey(topicId, partition))?.memberId;
  }

  /** Adds, replaces or (with null) removes a member, keeping the partition epochs in step. */
  setMember(memberId: string, member: ConsumerGroupMember | null): void {
    const previous = this.members.get(memberId);
    if (previous !== undefined) {
      for (const assignment of [previous.assigned, previous.pendingRevocation]) {
        for (const [topicId, partitions] of assignment) {
          for (const p of partitions) {
            const key = partitionKey(topicId, p);
            invariant(this.partitionEpochs.get(key)?.memberId === memberId, () => `${key} held by another`);
            this.partitionEpochs.delete(key);
          }
        }
      }
    }
    if (member === null) {
      this.members.delete(memberId);
      this.targetAssignment.delete(memberId);
      return;
    }
    invariant(member.memberId === memberId, 'member stored under another id');
    for (const assignment of [member.assigned, member.pendingRevocation]) {
      for (const [topicId, partitions] of assignment) {
        for (const p of partitions) {
          const key = partitionKey(topicId, p);
          const holder = this.partitionEpochs.get(key);
          invariant(
            holder === undefined,
            () => `partition ${key} given to ${memberId} while ${holder?.memberId} holds it`,
          );
          this.partitionEpochs.set(key, { memberId, epoch: member.memberEpoch });
        }
      }
    }
    this.members.set(memberId, member);
  }

  snapshot(): ConsumerGroupSnapshot {
    return {
      groupEpoch: this.groupEpoch,
      assignmentEpoch: this.assignmentEpoch,
      assignorName: this.assignorName,
      subscribedTopicsSignature: this.subscribedTopicsSignature,
      members: new Map(this.members),
      targetAssignment: new Map(this.targetAssignment),
      partitionEpochs: new Map(this.partitionEpochs),
    };
  }

  restore(snapshot: ConsumerGroupSnapshot): void {
    this.groupEpoch = snapshot.groupEpoch;
    this.assignmentEpoch = snapshot.assignmentEpoch;
    this.assignorName = snapshot.assignorName;
    this.subscribedTopicsSignature = snapshot.subscribedTopicsSignature;
    const replace = <K, V>(target: Map<K, V>, source: ReadonlyMap<K, V>): void => {
      target.clear();
      for (const [key, value] of source) target.set(key, value);
    };
    replace(this.members, snapshot.members);
    replace(this.targetAssignment, snapshot.targetAssignment);
    replace(this.partitionEpochs, snapshot.partitionEpochs);
  }

  /** Every partition held by one member at most; epochs match their holders; targets of members only. */
  checkInvariants(): void {
    let held = 0;
    for (const member of this.members.values()) {
      for (const assignment of [member.assigned, member.pendingRevocation]) {
        for (const [topicId, partitions] of assignment) {
          for (const p of partitions) {
            held++;
            const holder = this.partitionEpochs.get(partitionKey(topicId, p));
            invariant(holder?.memberId === member.memberId, 'partition epoch names another holder');
          }
        }
      }
      invariant(member.memberEpoch <= this.groupEpoch, 'a member epoch beyond the group epoch');
    }
    invariant(held === this.partitionEpochs.size, 'partition epochs of partitions nobody holds');
    invariant(this.assignmentEpoch <= this.groupEpoch, 'assignment epoch beyond the group epoch');
    for (const memberId of this.targetAssignment.keys()) {
      invariant(this.members.has(memberId), 'a target assignment for a member that left');
    }
  }
}

/**
 * Kafka's CurrentAssignmentBuilder: the member's next state given the target assignment (at
 * `targetEpoch`) and the partitions the heartbeat says it owns (`owned`, null when not sent).
 *  - Partitions leaving the member's target are revoked first: the member keeps its epoch and waits
 *    in `unrevoked_partitions` until a heartbeat lists none of them.
 *  - Then it moves to the target epoch; target partitions still held by another member wait
 *    (`unreleased_partitions`) and are given once free.
 */
export function reconcile(
  group: ConsumerGroup,
  member: ConsumerGroupMember,
  targetEpoch: number,
  target: TopicAssignment,
  owned: TopicAssignment | null,
): ConsumerGroupMember {
  switch (member.state) {
    case 'stable':
      if (member.memberEpoch === targetEpoch) return member;
      return nextAssignment(group, member, targetEpoch, target, owned);
    case 'unrevoked_partitions':
      if (ownsAnyOf(owned, member.pendingRevocation)) return member;
      return nextAssignment(
        group,
        { ...member, pendingRevocation: emptyAssignment },
        targetEpoch,
        target,
        owned,
      );
    case 'unreleased_partitions':
      return nextAssignment(group, member, targetEpoch, target, owned);
  }
}

/** Whether the heartbeat's owned partitions include any of `partitions` (unknown: assume so). */
function ownsAnyOf(owned: TopicAssignment | null, partitions: TopicAssignment): boolean {
  if (owned === null) return true;
  for (const [topicId, list] of partitions) {
    const mine = owned.get(topicId);
    if (mine !== undefined && list.some((p) => mine.includes(p))) return true;
  }
  return false;
}

function nextAssignment(
  group: ConsumerGroup,
  member: ConsumerGroupMember,
  targetEpoch: number,
  target: TopicAssignment,
  owned: TopicAssignment | null,
): ConsumerGroupMember {
  const kept = new Map<string, readonly number[]>();
  const revoking = new Map<string, readonly number[]>();
  const granted = new Map<string, readonly number[]>();
  let unreleased = false;
  const topicIds = new Set([...target.keys(), ...member.assigned.keys()]);
  for (const topicId of topicIds) {
    const wanted = target.get(topicId) ?? [];
    const current = member.assigned.get(topicId) ?? [];
    const keep = current.filter((p) => wanted.includes(p));
    const revoke = current.filter((p) => !wanted.includes(p));
    const grant = [...keep];
    for (const p of wanted) {
      if (current.includes(p)) continue;
      const holder = group.partitionHolder(topicId, p);
      if (holder === undefined || holder === member.memberId) grant.push(p);
      else unreleased = true;
    }
    if (keep.length > 0) kept.set(topicId, keep);
    if (revoke.length > 0) revoking.set(topicId, revoke);
    if (grant.length > 0)
      granted.set(
        topicId,
        grant.sort((a, b) => a - b),
      );
  }
  if (revoking.size > 0 && ownsAnyOf(owned, revoking)) {
    // Nothing new until the revocation is acknowledged: the member keeps its epoch.
    return { ...member, state: 'unrevoked_partitions', assigned: kept, pendingRevocation: revoking };
  }
  // A partition the member kept keeps the epoch it was given at; one granted now is given at the target epoch.
  const assignmentEpochs = new Map<string, number>();
  for (const [topicId, partitions] of granted) {
    const held = member.assigned.get(topicId) ?? [];
    for (const p of partitions) {
      assignmentEpochs.set(
        partitionKey(topicId, p),
        held.includes(p) ? assignmentEpochOf(member, topicId, p) : targetEpoch,
      );
    }
  }
  return {
    ...member,
    state: unreleased ? 'unreleased_partitions' : 'stable',
    previousMemberEpoch: member.memberEpoch,
    memberEpoch: targetEpoch,
    assigned: granted,
    pendingRevocation: emptyAssignment,
    assignmentEpochs,
  };
}

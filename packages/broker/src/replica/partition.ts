// One partition replica on this broker: its log, its role in the current leader epoch and, as
// leader, the high watermark. Pure state: no timers, no I/O beyond reading the log's offsets; the
// ReplicaManager drives it from metadata changes, appends and (issue 5) follower fetches.
//
// High watermark rules (Kafka's ISR model, with the Raft rule for a new leader):
//   - HW = min(log end offset) over the ISR: the leader's own LEO and each follower's LEO as learnt
//     from the offset it fetches from (a follower fetching from N has everything below N).
//   - A follower the leader has not heard from in this epoch counts as LEO -1, so a new leader's HW
//     cannot move until every ISR member has fetched once.
//   - The HW only moves once it covers the start offset of the leader's own epoch (the LEO when it
//     became leader): everything before that point is then on every ISR member, so no record of an
//     earlier epoch is exposed that a later leader could lack.
//   - It never moves backwards while this broker leads.
// With replication factor 1 the ISR is the leader alone and the HW is simply the LEO.

import { ErrorCode } from '@gregor/protocol';
import type { PartitionLog } from '@gregor/storage';
import { invariant } from '@gregor/storage';

export type PartitionRole = 'leader' | 'follower' | 'none';

/** The partition's registration in the metadata image, as this broker sees it. */
export interface PartitionRegistration {
  readonly leader: number;
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
}

/** What a leader knows of one follower. */
interface FollowerState {
  /** -1 until the follower fetched in this leader epoch. */
  logEndOffset: number;
  lastFetchMs: number;
}

/** Offset of "not known yet". */
const unknownOffset = -1;

export class Partition {
  private roleValue: PartitionRole = 'none';
  private registration: PartitionRegistration;
  private highWatermarkValue: number;
  /** The LEO when this broker became leader in the current epoch; -1 when not leading. */
  private leaderEpochStartOffsetValue = unknownOffset;
  private readonly followers = new Map<number, FollowerState>();

  constructor(
    readonly topic: string,
    readonly topicId: string,
    readonly index: number,
    readonly log: PartitionLog,
    readonly localBrokerId: number,
    registration: PartitionRegistration,
  ) {
    this.registration = registration;
    // Without a high-watermark checkpoint (issue 5 adds one) the safe starting point is the log start:
    // a leader raises it as soon as the ISR has everything, a follower learns it from its leader.
    this.highWatermarkValue = log.logStartOffset;
  }

  /** `topic-index`, also the DelayedOperations key of this partition. */
  get key(): string {
    return `${this.topic}-${this.index}`;
  }

  get role(): PartitionRole {
    return this.roleValue;
  }

  get leaderId(): number {
    return this.registration.leader;
  }

  get leaderEpoch(): number {
    return this.registration.leaderEpoch;
  }

  get partitionEpoch(): number {
    return this.registration.partitionEpoch;
  }

  get replicas(): readonly number[] {
    return this.registration.replicas;
  }

  get isr(): readonly number[] {
    return this.registration.isr;
  }

  get highWatermark(): number {
    return this.highWatermarkValue;
  }

  get logEndOffset(): number {
    return this.log.logEndOffset;
  }

  get logStartOffset(): number {
    return this.log.logStartOffset;
  }

  get leaderEpochStartOffset(): number {
    return this.leaderEpochStartOffsetValue;
  }

  /** Whether `registration` is a newer state than the one this partition acts on. */
  isNewer(registration: PartitionRegistration): boolean {
    return (
      registration.leaderEpoch > this.registration.leaderEpoch ||
      registration.partitionEpoch > this.registration.partitionEpoch
    );
  }

  /**
   * This broker leads `state.leaderEpoch`. A new epoch starts at the current LEO and forgets what
   * it knew of followers; an ISR-only change in the same epoch keeps what followers reported.
   * Returns whether the high watermark moved.
   */
  makeLeader(state: PartitionRegistration, nowMs: number): boolean {
    invariant(
      state.leader === this.localBrokerId,
      () => `${this.key}: makeLeader for leader ${state.leader}`,
    );
    this.checkEpochsDoNotGoBack(state);
    const newEpoch = this.roleValue !== 'leader' || state.leaderEpoch !== this.registration.leaderEpoch;
    this.registration = state;
    this.roleValue = 'leader';
    if (newEpoch) {
      // The seam for issue 5's leader-epoch cache: record (leaderEpoch, leaderEpochStartOffset) here.
      this.leaderEpochStartOffsetValue = this.log.logEndOffset;
      this.followers.clear();
    }
    for (const replicaId of state.replicas) {
      if (replicaId === this.localBrokerId || this.followers.has(replicaId)) continue;
      this.followers.set(replicaId, { logEndOffset: unknownOffset, lastFetchMs: nowMs });
    }
    for (const replicaId of [...this.followers.keys()]) {
      if (!state.replicas.includes(replicaId)) this.followers.delete(replicaId);
    }
    return this.maybeAdvanceHighWatermark();
  }

  /** Another broker leads (or, with leader -1, nobody does): this replica only copies, never serves. */
  makeFollower(state: PartitionRegistration): void {
    invariant(state.leader !== this.localBrokerId, () => `${this.key}: makeFollower while leading`);
    this.checkEpochsDoNotGoBack(state);
    this.registration = state;
    this.roleValue = state.leader < 0 ? 'none' : 'follower';
    this.leaderEpochStartOffsetValue = unknownOffset;
    this.followers.clear();
    this.checkInvariants();
  }

  /**
   * A follower fetched from `fetchOffset`: it has every record below it. Issue 5's replication
   * fetch calls this; returns whether the high watermark moved.
   */
  recordFollowerFetch(replicaId: number, fetchOffset: number, nowMs: number): boolean {
    const follower = this.followers.get(replicaId);
    if (this.roleValue !== 'leader' || follower === undefined) return false;
    // A follower may legitimately restart lower (it truncated); its LEO is what it says now.
    follower.logEndOffset = Math.min(fetchOffset, this.log.logEndOffset);
    follower.lastFetchMs = nowMs;
    return this.maybeAdvanceHighWatermark();
  }

  /** The leader appended: with a lone ISR that alone can move the high watermark. */
  onLeaderAppend(): boolean {
    return this.roleValue === 'leader' && this.maybeAdvanceHighWatermark();
  }

  /**
   * A follower's high watermark comes from its leader (issue 5), capped at what it holds locally.
   * Returns whether it moved.
   */
  updateFollowerHighWatermark(leaderHighWatermark: number): boolean {
    invariant(this.roleValue !== 'leader', () => `${this.key}: a leader computes its own high watermark`);
    const next = Math.min(leaderHighWatermark, this.log.logEndOffset);
    if (next === this.highWatermarkValue) return false;
    this.highWatermarkValue = next;
    this.checkInvariants();
    return true;
  }

  /** A follower truncated its log (issue 5): its high watermark cannot stay above what it holds. */
  onFollowerTruncation(): void {
    invariant(this.roleValue !== 'leader', () => `${this.key}: a leader never truncates its own log`);
    this.highWatermarkValue = Math.min(this.highWatermarkValue, this.log.logEndOffset);
    this.checkInvariants();
  }

  /** Followers' last fetch times, for issue 5's ISR shrink (replica.lag.time.max.ms). */
  followerLastFetchMs(replicaId: number): number | undefined {
    return this.followers.get(replicaId)?.lastFetchMs;
  }

  /** The leader-epoch check of Fetch and ListOffsets: -1 skips it. */
  checkCurrentLeaderEpoch(currentLeaderEpoch: number): number {
    if (currentLeaderEpoch < 0) return ErrorCode.NONE;
    if (currentLeaderEpoch < this.registration.leaderEpoch) return ErrorCode.FENCED_LEADER_EPOCH;
    if (currentLeaderEpoch > this.registration.leaderEpoch) return ErrorCode.UNKNOWN_LEADER_EPOCH;
    return ErrorCode.NONE;
  }

  private maybeAdvanceHighWatermark(): boolean {
    let candidate = this.log.logEndOffset;
    for (const replicaId of this.registration.isr) {
      if (replicaId === this.localBrokerId) continue;
      const follower = this.followers.get(replicaId);
      candidate = Math.min(candidate, follower?.logEndOffset ?? unknownOffset);
    }
    if (candidate < this.leaderEpochStartOffsetValue || candidate <= this.highWatermarkValue) {
      this.checkInvariants();
      return false;
    }
    this.highWatermarkValue = candidate;
    this.checkInvariants();
    return true;
  }

  private checkEpochsDoNotGoBack(state: PartitionRegistration): void {
    invariant(
      state.leaderEpoch >= this.registration.leaderEpoch &&
        state.partitionEpoch >= this.registration.partitionEpoch,
      () =>
        `${this.key}: epochs went back from ${this.registration.leaderEpoch}/${this.registration.partitionEpoch} ` +
        `to ${state.leaderEpoch}/${state.partitionEpoch}`,
    );
  }

  private checkInvariants(): void {
    invariant(
      this.highWatermarkValue <= this.log.logEndOffset,
      () => `${this.key}: high watermark ${this.highWatermarkValue} above log end ${this.log.logEndOffset}`,
    );
    invariant(
      this.roleValue !== 'leader' || this.registration.isr.includes(this.localBrokerId),
      () => `${this.key}: leading outside the ISR ${this.registration.isr}`,
    );
  }
}

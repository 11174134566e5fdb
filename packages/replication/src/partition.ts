// One partition replica on a broker: its role in the current leader epoch, its leader-epoch cache
// and, as leader, the high watermark and the ISR decisions. Pure state: no timers, no I/O, only the
// log's offsets are read, time is passed in. The broker's ReplicaManager drives it from metadata
// changes, appends and follower fetches and does the I/O its decisions ask for; the replication
// simulation drives the same class over an in-memory log.
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
//   - "The ISR" here is the maximal ISR: the committed ISR plus the members of an AlterPartition
//     still in flight (Kafka's maximalIsr). A shrink takes effect only once committed, an expansion
//     already counts the joining follower, so the HW never relies on an ISR the controller may refuse.
// With replication factor 1 the ISR is the leader alone and the HW is simply the LEO.
//
// ISR rules (Kafka's Replica.updateFetchState / Partition.maybeShrinkIsr / maybeExpandIsr):
//   - lastCaughtUpTimeMs of a follower = the time of its latest fetch whose fetchOffset reached the
//     leader's LEO at that fetch, or the time of its previous fetch when this fetch's offset reached
//     the leader's LEO as of that previous fetch (it was caught up then, at the latest).
//   - Shrink: an ISR follower whose lastCaughtUpTimeMs is more than replica.lag.time.max.ms ago.
//   - Expand: a replica outside the ISR whose LEO reached the high watermark and the start of the
//     leader's epoch (Kafka's isFollowerInSync; "reaches the leader's log end" instead would keep a
//     follower out for as long as producers keep the log end moving).
//   - One AlterPartition in flight per partition; the change is applied only when the metadata
//     image carries it (makeLeader with a newer partition epoch).

import { invariant } from '@gregor/ground';
import { ErrorCode } from '@gregor/protocol';
import { LeaderEpochCache } from './leader-epoch-cache.js';

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
  /** The leader's LEO when this follower last fetched; -1 before its first fetch. */
  lastFetchLeaderLogEndOffset: number;
  /** The follower's log start offset as its latest fetch said; -1 until it fetched in this epoch. */
  logStartOffset: number;
  lastCaughtUpTimeMs: number;
}

/** An AlterPartition this leader sent and has not seen answered or committed yet. */
export interface PendingIsrChange {
  readonly proposedIsr: readonly number[];
  /** The partition epoch the proposal was made against. */
  readonly partitionEpoch: number;
}

export interface PartitionOptions {
  /** The leader-epoch cache loaded from the partition's leader-epoch-checkpoint. */
  readonly epochCache?: LeaderEpochCache;
  /** From replication-offset-checkpoint; clamped to [log start, log end]. */
  readonly initialHighWatermark?: number;
}

/**
 * What a Partition reads of its log: only offsets. The broker passes storage's PartitionLog; the
 * replication simulation (packages/sim) passes an in-memory log.
 */
export interface PartitionLogView {
  readonly logStartOffset: number;
  readonly logEndOffset: number;
}

/** Offset of "not known yet". */
const unknownOffset = -1;

export class Partition<Log extends PartitionLogView = PartitionLogView> {
  private roleValue: PartitionRole = 'none';
  private registration: PartitionRegistration;
  private highWatermarkValue: number;
  /** The LEO when this broker became leader in the current epoch; -1 when not leading. */
  private leaderEpochStartOffsetValue = unknownOffset;
  private readonly followers = new Map<number, FollowerState>();
  private pendingIsrChangeValue: PendingIsrChange | undefined;
  readonly epochCache: LeaderEpochCache;

  constructor(
    readonly topic: string,
    readonly topicId: string,
    readonly index: number,
    readonly log: Log,
    readonly localBrokerId: number,
    registration: PartitionRegistration,
    options: PartitionOptions = {},
  ) {
    this.registration = registration;
    this.epochCache = options.epochCache ?? new LeaderEpochCache();
    // A recovered log may be shorter than the checkpoints knew: entries past its end name nothing.
    this.epochCache.truncateFromEnd(log.logEndOffset);
    this.epochCache.truncateFromStart(log.logStartOffset);
    // Without a checkpoint the safe starting point is the log start: a leader raises it as soon as
    // the ISR has everything, a follower learns it from its leader.
    this.highWatermarkValue = Math.max(
      log.logStartOffset,
      Math.min(options.initialHighWatermark ?? log.logStartOffset, log.logEndOffset),
    );
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

  get pendingIsrChange(): PendingIsrChange | undefined {
    return this.pendingIsrChangeValue;
  }

  /** The committed ISR plus the members of an in-flight expansion: what the high watermark waits for. */
  get maximalIsr(): readonly number[] {
    const pending = this.pendingIsrChangeValue;
    if (pending === undefined) return this.registration.isr;
    return [...new Set([...this.registration.isr, ...pending.proposedIsr])];
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
    if (newEpoch || state.partitionEpoch !== this.registration.partitionEpoch) {
      // The image answered (or overtook) any AlterPartition in flight.
      this.pendingIsrChangeValue = undefined;
    }
    this.registration = state;
    this.roleValue = 'leader';
    if (newEpoch) {
      // Kafka's makeLeader: the new epoch starts at the current LEO, in the cache and for the HW rule.
      this.leaderEpochStartOffsetValue = this.log.logEndOffset;
      this.epochCache.assign(state.leaderEpoch, this.log.logEndOffset);
      this.followers.clear();
    }
    for (const replicaId of state.replicas) {
      if (replicaId === this.localBrokerId || this.followers.has(replicaId)) continue;
      this.followers.set(replicaId, {
        logEndOffset: unknownOffset,
        lastFetchMs: nowMs,
        lastFetchLeaderLogEndOffset: unknownOffset,
        logStartOffset: unknownOffset,
        // An ISR member gets the full lag time to show up under the new leader (as in Kafka).
        lastCaughtUpTimeMs: state.isr.includes(replicaId) ? nowMs : 0,
      });
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
    this.pendingIsrChangeValue = undefined;
    this.followers.clear();
    this.checkInvariants();
  }

  /**
   * A follower fetched from `fetchOffset`: it has every record below it, and none below its
   * `followerLogStartOffset` (-1: not said). Returns whether the high watermark moved. Applies the
   * caught-up rule in the file comment.
   */
  recordFollowerFetch(
    replicaId: number,
    fetchOffset: number,
    nowMs: number,
    followerLogStartOffset = unknownOffset,
  ): boolean {
    const follower = this.followers.get(replicaId);
    if (this.roleValue !== 'leader' || follower === undefined) return false;
    follower.logStartOffset = followerLogStartOffset;
    const leaderLogEndOffset = this.log.logEndOffset;
    // A follower may legitimately restart lower (it truncated); its LEO is what it says now.
    follower.logEndOffset = Math.min(fetchOffset, leaderLogEndOffset);
    if (fetchOffset >= leaderLogEndOffset) {
      follower.lastCaughtUpTimeMs = Math.max(follower.lastCaughtUpTimeMs, nowMs);
    } else if (
      follower.lastFetchLeaderLogEndOffset >= 0 &&
      fetchOffset >= follower.lastFetchLeaderLogEndOffset
    ) {
      follower.lastCaughtUpTimeMs = Math.max(follower.lastCaughtUpTimeMs, follower.lastFetchMs);
    }
    follower.lastFetchLeaderLogEndOffset = leaderLogEndOffset;
    follower.lastFetchMs = nowMs;
    return this.maybeAdvanceHighWatermark();
  }

  /**
   * The low watermark (Kafka's lowWatermarkIfLeader): the smallest log start offset of this leader
   * and every follower on a live broker (`isLive`: registered and unfenced), in the ISR or not, -1
   * while one of them has not said its own in this epoch. DeleteRecords answers once it reaches the
   * requested offset: every copy that can still serve then starts there, so a lagging follower that
   * rejoins the ISR later cannot bring deleted records back into reach.
   */
  lowWatermark(isLive: (brokerId: number) => boolean): number {
    invariant(this.roleValue === 'leader', () => `${this.key}: low watermark asked of a non-leader`);
    let lowWatermark = this.log.logStartOffset;
    for (const replicaId of this.registration.replicas) {
      if (replicaId === this.localBrokerId || !isLive(replicaId)) continue;
      const follower = this.followers.get(replicaId);
      lowWatermark = Math.min(lowWatermark, follower?.logStartOffset ?? unknownOffset);
    }
    return lowWatermark;
  }

  /** The log start offset follower `replicaId` reported in its latest fetch (-1: none yet). */
  followerLogStartOffset(replicaId: number): number {
    return this.followers.get(replicaId)?.logStartOffset ?? unknownOffset;
  }

  /**
   * ISR members this leader can vouch for now: itself, and followers that caught up within
   * `replicaLagTimeMaxMs`. Usually the whole ISR; smaller when followers stopped fetching and the
   * ISR shrink cannot commit (in Gregor every broker is a voter, so losing two of three brokers also
   * loses the metadata quorum). acks=all counts these against min.insync.replicas, so a producer
   * gets NOT_ENOUGH_REPLICAS instead of waiting on an ISR that exists only on paper.
   */
  liveIsrSize(nowMs: number, replicaLagTimeMaxMs: number): number {
    if (this.roleValue !== 'leader') return this.registration.isr.length;
    return this.registration.isr.filter((replicaId) => {
      if (replicaId === this.localBrokerId) return true;
      const follower = this.followers.get(replicaId);
      return follower !== undefined && nowMs - follower.lastCaughtUpTimeMs <= replicaLagTimeMaxMs;
    }).length;
  }

  /**
   * The ISR without the followers that have not caught up for more than `replicaLagTimeMaxMs`, or
   * undefined when nothing changes (or a change is already in flight, or this replica does not lead).
   */
  maybeShrinkIsr(nowMs: number, replicaLagTimeMaxMs: number): number[] | undefined {
    if (this.roleValue !== 'leader' || this.pendingIsrChangeValue !== undefined) return undefined;
    const lagging = this.registration.isr.filter((replicaId) => {
      if (replicaId === this.localBrokerId) return false;
      const follower = this.followers.get(replicaId);
      return follower === undefined || nowMs - follower.lastCaughtUpTimeMs > replicaLagTimeMaxMs;
    });
    if (lagging.length === 0) return undefined;
    return this.registration.isr.filter((replicaId) => !lagging.includes(replicaId));
  }

  /**
   * The ISR with `replicaId` added if it is a replica outside the ISR that has caught up (its LEO
   * reached the high watermark and the start of this leader's epoch); undefined otherwise.
   */
  maybeExpandIsr(replicaId: number): number[] | undefined {
    if (this.roleValue !== 'leader' || this.pendingIsrChangeValue !== undefined) return undefined;
    if (this.registration.isr.includes(replicaId)) return undefined;
    const follower = this.followers.get(replicaId);
    if (follower === undefined || follower.logEndOffset < 0) return undefined;
    if (
      follower.logEndOffset < this.highWatermarkValue ||
      follower.logEndOffset < this.leaderEpochStartOffsetValue
    ) {
      return undefined;
    }
    return [...this.registration.isr, replicaId];
  }

  /** An AlterPartition for `proposedIsr` is being sent: no other until it is answered or committed. */
  beginIsrChange(proposedIsr: readonly number[]): PendingIsrChange {
    invariant(this.roleValue === 'leader', () => `${this.key}: ISR change while not leading`);
    invariant(this.pendingIsrChangeValue === undefined, () => `${this.key}: two ISR changes in flight`);
    const pending = { proposedIsr: [...proposedIsr], partitionEpoch: this.registration.partitionEpoch };
    this.pendingIsrChangeValue = pending;
    return pending;
  }

  /**
   * The controller refused `pending` (or it never arrived): the committed ISR stands and a new
   * proposal may be made. Returns whether the high watermark moved (an expansion no longer counts).
   */
  isrChangeFailed(pending: PendingIsrChange): boolean {
    if (this.pendingIsrChangeValue !== pending) return false;
    this.pendingIsrChangeValue = undefined;
    return this.roleValue === 'leader' && this.maybeAdvanceHighWatermark();
  }

  /** A follower appended fetched batches: epochs it has not seen start at those batches. */
  assignEpochFromBatch(partitionLeaderEpoch: number, baseOffset: number): boolean {
    if (partitionLeaderEpoch < 0) return false;
    return this.epochCache.assign(partitionLeaderEpoch, baseOffset);
  }

  /** The leader appended: with a lone ISR that alone can move the high watermark. */
  onLeaderAppend(): boolean {
    return this.roleValue === 'leader' && this.maybeAdvanceHighWatermark();
  }

  /**
   * A follower's high watermark comes from its leader, capped at what it holds locally.
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

  /**
   * A follower truncated its log: its high watermark cannot stay above what it holds, and the epochs
   * that started in the removed range are gone with it.
   */
  onFollowerTruncation(): void {
    invariant(this.roleValue !== 'leader', () => `${this.key}: a leader never truncates its own log`);
    this.epochCache.truncateFromEnd(this.log.logEndOffset);
    this.epochCache.truncateFromStart(this.log.logStartOffset);
    this.highWatermarkValue = Math.max(
      Math.min(this.highWatermarkValue, this.log.logEndOffset),
      this.log.logStartOffset,
    );
    this.checkInvariants();
  }

  /** Retention moved the log start: epochs wholly below it are forgotten. */
  onLogStartOffsetMoved(): void {
    this.epochCache.truncateFromStart(this.log.logStartOffset);
    if (this.highWatermarkValue < this.log.logStartOffset && this.roleValue !== 'leader') {
      this.highWatermarkValue = Math.min(this.log.logStartOffset, this.log.logEndOffset);
    }
    this.checkInvariants();
  }

  /** A follower's last fetch time (what the ISR shrink measures replica.lag.time.max.ms from). */
  followerLastFetchMs(replicaId: number): number | undefined {
    return this.followers.get(replicaId)?.lastFetchMs;
  }

  /**
   * Whether a client may be told offsets now (Kafka's KIP-207): a new leader whose high watermark has
   * not yet reached the start of its own epoch would answer with a high watermark below the one its
   * predecessor already gave out, so it answers OFFSET_NOT_AVAILABLE (retriable) until it has.
   */
  checkOffsetsAvailable(): number {
    return this.roleValue === 'leader' && this.highWatermarkValue < this.leaderEpochStartOffsetValue
      ? ErrorCode.OFFSET_NOT_AVAILABLE
      : ErrorCode.NONE;
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
    for (const replicaId of this.maximalIsr) {
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

/**
 * The pure Raft core: KRaft's pull-based protocol (KIP-595) with pre-vote (KIP-996) and check-quorum,
 * shaped like etcd-raft's RawNode. It does no I/O and never reads a clock or Math.random: the driver
 * passes time in (nowMs), a seeded Random, messages and proposals, and drains its output:
 *
 *   const ready = node.ready();           // what to make durable
 *   await store.persist(ready);           // hard state, truncation, snapshot, entries; fsync
 *   const out = node.advance(ready);      // only now: messages to send, committed entries to apply
 *
 * Messages are only handed out by advance(), so a driver cannot send a vote or a fetch offset before
 * the state it promises is durable: persist-before-send is the shape of the API.
 */

import type { Random } from '@gregor/ground';
import { invariant } from '@gregor/ground';
import type { RaftConfig } from './config.js';
import { RaftLog } from './log.js';
import {
  type BeginQuorumEpoch,
  type FetchRequest,
  type FetchResponse,
  type FetchSnapshotRequest,
  type FetchSnapshotResponse,
  type RaftMessage,
  senderEpochOf,
  type VoteRequest,
  type VoteResponse,
} from './messages.js';
import type {
  CandidateState,
  FollowerState,
  LeaderState,
  ProspectiveState,
  ReplicaProgress,
  Role,
  RoleState,
} from './roles.js';
import {
  EMPTY_SNAPSHOT_ID,
  type HardState,
  type LogEntry,
  type PersistedState,
  type Snapshot,
} from './types.js';

/** Why the core refused a message; the driver logs it. */
export type MessageRejection =
  | { readonly kind: 'wrong-cluster'; readonly from: number; readonly clusterId: string }
  | { readonly kind: 'not-a-voter'; readonly from: number }
  | { readonly kind: 'misaddressed'; readonly from: number; readonly to: number };

export type StepOutcome = { readonly kind: 'accepted' } | MessageRejection;

export type ProposeResult =
  | { readonly kind: 'appended'; readonly offset: number; readonly epoch: number }
  | { readonly kind: 'not-leader'; readonly leaderId?: number }
  | { readonly kind: 'too-large'; readonly bytesMax: number }
  | { readonly kind: 'overloaded'; readonly uncommittedEntriesMax: number };

export type CreateSnapshotResult =
  | { readonly kind: 'created'; readonly snapshot: Snapshot }
  | { readonly kind: 'not-applied'; readonly appliedEndOffset: number }
  | { readonly kind: 'not-newer'; readonly logStartOffset: number };

/**
 * The durable part of the node's output. Apply in this order: write hardState; delete entries at or
 * above truncateFromOffset; write the snapshot and delete entries below its endOffset; write entries.
 * Then make it durable (fsync) and call advance(ready).
 */
export interface Ready {
  readonly hardState: HardState | undefined;
  readonly truncateFromOffset: number | undefined;
  readonly snapshot: Snapshot | undefined;
  readonly entries: readonly LogEntry[];
  /** Identifies this Ready to advance(); not for the store. */
  readonly readyId: number;
}

export interface OutboundMessage {
  readonly to: number;
  readonly message: RaftMessage;
}

/** What the driver may act on once a Ready is durable. */
export interface Advanced {
  readonly messages: readonly OutboundMessage[];
  /** Set when a snapshot from the leader replaced the log: reset the state machine to it first. */
  readonly restoredSnapshot: Snapshot | undefined;
  /**
   * Newly committed entries, in offset order, durable locally. A driver resolves the promise of a
   * proposal (offset, epoch) when an entry with that offset and epoch appears here, and rejects it when
   * that offset is committed with another epoch.
   */
  readonly committed: readonly LogEntry[];
}

export interface RaftStatus {
  readonly nodeId: number;
  readonly role: Role;
  readonly epoch: number;
  readonly leaderId: number | undefined;
  readonly votedFor: number | undefined;
  readonly highWatermark: number;
  readonly logStartOffset: number;
  readonly logEndOffset: number;
  readonly appliedEndOffset: number;
}

/** One voter as the leader knows it; -1 where it does not know yet. */
export interface QuorumReplicaState {
  readonly replicaId: number;
  readonly logEndOffset: number;
  readonly lastFetchMs: number;
  readonly lastCaughtUpMs: number;
}

export interface QuorumDescription {
  readonly leaderId: number;
  readonly epoch: number;
  readonly highWatermark: number;
  /** The node's time when it described the quorum (the clock the replica times are on). */
  readonly nowMs: number;
  /** The leader first, then the other voters in id order. */
  readonly voters: readonly QuorumReplicaState[];
}

export interface RaftNodeOptions {
  readonly config: RaftConfig;
  readonly random: Random;
  readonly nowMs: number;
  /** What the store loaded; undefined for a brand-new node. */
  readonly persisted?: PersistedState;
}

interface QueuedMessage {
  readonly seq: number;
  readonly outbound: OutboundMessage;
}

interface PendingReady {
  readonly readyId: number;
  readonly messagesThroughSeq: number;
  readonly truncateFromOffset: number | undefined;
  readonly snapshot: Snapshot | undefined;
  readonly restoresSnapshot: boolean;
  readonly entriesEndOffset: number | undefined;
}

/** Check-quorum window: KRaft resigns after 1.5 × fetch timeout without fetches from a majority. */
const CHECK_QUORUM_FACTOR = 1.5;
const LEADER_CHANGE_PAYLOAD_BYTES = 4;

export class RaftNode {
  readonly nodeId: number;
  private readonly config: RaftConfig;
  private readonly random: Random;
  private readonly voters: ReadonlySet<number>;
  private readonly otherVoters: readonly number[];
  private readonly majority: number;
  private readonly checkQuorumMs: number;

  private nowMs: number;
  private epoch: number;
  private votedFor: number | undefined;
  private readonly log: RaftLog;
  /** Bytes of the snapshot named by log.snapshotId (undefined only for the empty snapshot). */
  private snapshotBytes: Uint8Array | undefined;
  private highWatermark: number;
  private appliedEndOffset: number;
  /** Log end offset known to be durable (advanced by advance()). */
  private durableEndOffset: number;
  private state: RoleState;
  /**
   * The leader of this epoch we stopped hearing from. Voters may still name it for a while; that
   * hearsay must not pull us back to following it (only a message from it does), or every voter keeps
   * re-adopting a dead leader from the others and nobody campaigns.
   */
  private abandonedLeaderId: number | undefined;

  // Changes since the last ready(), to hand to the store.
  private hardStateDirty = false;
  private truncateFromOffset: number | undefined;
  private unstableFromOffset: number;
  private unpersistedSnapshot: Snapshot | undefined;
  private unpersistedSnapshotRestores = false;
  private readonly outbox: QueuedMessage[] = [];
  private nextMessageSeq = 1;
  private droppedMessages = 0;
  private pendingReady: PendingReady | undefined;
  private nextReadyId = 1;

  constructor(options: RaftNodeOptions) {
    const { config, random, nowMs, persisted } = options;
    this.config = config;
    this.random = random;
    this.nodeId = config.nodeId;
    this.voters = new Set(config.voterIds);
    invariant(this.voters.has(config.nodeId), `node ${config.nodeId} is not a voter`);
    this.otherVoters = config.voterIds.filter((id) => id !== config.nodeId);
    this.majority = Math.floor(config.voterIds.length / 2) + 1;
    this.checkQuorumMs = Math.ceil(config.fetchTimeoutMs * CHECK_QUORUM_FACTOR);
    this.nowMs = nowMs;
    this.epoch = persisted?.hardState.epoch ?? 0;
    this.votedFor = persisted?.hardState.votedFor;
    const snapshot = persisted?.snapshot;
    this.log = new RaftLog(snapshot?.id ?? EMPTY_SNAPSHOT_ID, persisted?.entries ?? []);
    this.snapshotBytes = snapshot?.bytes;
    // The high watermark is not persisted (as KRaft's metadata log): the snapshot is known committed,
    // the rest is learnt again from the leader.
    this.highWatermark = this.log.startOffset;
    this.appliedEndOffset = this.log.startOffset;
    this.durableEndOffset = this.log.endOffset;
    this.unstableFromOffset = this.log.endOffset;
    this.state = this.unattachedState();
  }

  // ---------------------------------------------------------------------------------------------------
  // Inputs

  /** Advances time and fires whatever deadline has passed. Returns the time of the next deadline. */
  tick(nowMs: number): number {
    this.setClock(nowMs);
    const state = this.state;
    switch (state.role) {
      case 'follower':
        this.tickFollower(state);
        break;
      case 'prospective':
      case 'candidate':
        this.tickCampaign(state);
        break;
      case 'leader':
        this.tickLeader(state);
        break;
    }
    return this.nextDeadlineMs();
  }

  step(message: RaftMessage, nowMs: number): StepOutcome {
    this.setClock(nowMs);
    if (message.clusterId !== this.config.clusterId) {
      return { kind: 'wrong-cluster', from: message.from, clusterId: message.clusterId };
    }
    if (message.to !== this.nodeId) return { kind: 'misaddressed', from: message.from, to: message.to };
    if (!this.voters.has(message.from) || message.from === this.nodeId) {
      return { kind: 'not-a-voter', from: message.from };
    }
    const senderEpoch = senderEpochOf(message);
    if (senderEpoch > this.epoch) {
      // Any message from a higher epoch moves us to it: that epoch may already have a leader.
      this.becomeFollower(senderEpoch, this.leaderNamedBy(message, senderEpoch));
    }
    switch (message.type) {
      case 'vote-request':
        this.onVoteRequest(message);
        break;
      case 'vote-response':
        this.onVoteResponse(message);
        break;
      case 'begin-quorum-epoch':
        this.onBeginQuorumEpoch(message);
        break;
      case 'fetch-request':
        this.onFetchRequest(message);
        break;
      case 'fetch-response':
        this.onFetchResponse(message);
        break;
      case 'fetch-snapshot-request':
        this.onFetchSnapshotRequest(message);
        break;
      case 'fetch-snapshot-response':
        this.onFetchSnapshotResponse(message);
        break;
    }
    return { kind: 'accepted' };
  }

  propose(payload: Uint8Array): ProposeResult {
    const state = this.state;
    if (state.role !== 'leader') {
      const leaderId = this.knownLeaderId();
      return leaderId === undefined ? { kind: 'not-leader' } : { kind: 'not-leader', leaderId };
    }
    if (payload.length > this.config.proposalBytesMax) {
      return { kind: 'too-large', bytesMax: this.config.proposalBytesMax };
    }
    if (this.log.endOffset - this.highWatermark >= this.config.uncommittedEntriesMax) {
      return { kind: 'overloaded', uncommittedEntriesMax: this.config.uncommittedEntriesMax };
    }
    const offset = this.log.endOffset;
    this.log.append({ offset, epoch: this.epoch, type: 'data', payload });
    this.answerParkedFetches(state);
    return { kind: 'appended', offset, epoch: this.epoch };
  }

  /**
   * The driver's state machine, applied up to endOffset, serialised to bytes. The log is trimmed behind
   * it; a follower that needs trimmed entries is sent this snapshot.
   */
  createSnapshot(endOffset: number, bytes: Uint8Array): CreateSnapshotResult {
    if (endOffset > this.appliedEndOffset) {
      return { kind: 'not-applied', appliedEndOffset: this.appliedEndOffset };
    }
    if (endOffset <= this.log.startOffset) return { kind: 'not-newer', logStartOffset: this.log.startOffset };
    const epoch = this.log.epochAt(endOffset - 1);
    invariant(epoch !== undefined, () => `no entry at ${endOffset - 1} to snapshot`);
    invariant(endOffset <= this.highWatermark, 'snapshot beyond the high watermark');
    const snapshot: Snapshot = { id: { endOffset, epoch }, bytes };
    this.log.trimPrefix(snapshot.id);
    this.snapshotBytes = bytes;
    invariant(this.unstableFromOffset >= endOffset, 'snapshot covers entries that are not durable');
    this.unpersistedSnapshot = snapshot;
    return { kind: 'created', snapshot };
  }

  // ---------------------------------------------------------------------------------------------------
  // Output

  hasReady(): boolean {
    if (this.pendingReady !== undefined) return false;
    return (
      this.hardStateDirty ||
      this.truncateFromOffset !== undefined ||
      this.unpersistedSnapshot !== undefined ||
      this.unstableFromOffset < this.log.endOffset ||
      this.outbox.length > 0 ||
      this.committableEndOffset() > this.appliedEndOffset
    );
  }

  /** Takes the changes to make durable. advance(ready) must be called before the next ready(). */
  ready(): Ready {
    invariant(this.pendingReady === undefined, 'ready() called again before advance()');
    const readyId = this.nextReadyId++;
    const entries: LogEntry[] = [];
    for (let offset = this.unstableFromOffset; offset < this.log.endOffset; offset++) {
      entries.push(this.log.entryAt(offset)!);
    }
    const ready: Ready = {
      hardState: this.hardStateDirty ? { epoch: this.epoch, votedFor: this.votedFor } : undefined,
      truncateFromOffset: this.truncateFromOffset,
      snapshot: this.unpersistedSnapshot,
      entries,
      readyId,
    };
    this.pendingReady = {
      readyId,
      messagesThroughSeq: this.nextMessageSeq - 1,
      truncateFromOffset: this.truncateFromOffset,
      snapshot: this.unpersistedSnapshot,
      restoresSnapshot: this.unpersistedSnapshotRestores,
      entriesEndOffset: entries.length > 0 ? this.log.endOffset : undefined,
    };
    this.hardStateDirty = false;
    this.truncateFromOffset = undefined;
    this.unpersistedSnapshot = undefined;
    this.unpersistedSnapshotRestores = false;
    this.unstableFromOffset = this.log.endOffset;
    return ready;
  }

  /** Declares the Ready durable; returns what may now be sent and applied. */
  advance(ready: Ready, nowMs: number): Advanced {
    this.setClock(nowMs);
    const pending = this.pendingReady;
    invariant(pending !== undefined && pending.readyId === ready.readyId, 'advance() of an unknown Ready');
    this.pendingReady = undefined;
    if (pending.truncateFromOffset !== undefined) {
      this.durableEndOffset = Math.min(this.durableEndOffset, pending.truncateFromOffset);
    }
    if (pending.snapshot !== undefined) {
      this.durableEndOffset = Math.max(this.durableEndOffset, pending.snapshot.id.endOffset);
    }
    if (pending.entriesEndOffset !== undefined) this.durableEndOffset = pending.entriesEndOffset;
    // A later truncation (not yet persisted) may have removed entries; never claim more than we hold.
    this.durableEndOffset = Math.min(this.durableEndOffset, this.log.endOffset);
    let restoredSnapshot: Snapshot | undefined;
    if (pending.restoresSnapshot && pending.snapshot !== undefined) {
      restoredSnapshot = pending.snapshot;
      this.appliedEndOffset = Math.max(this.appliedEndOffset, pending.snapshot.id.endOffset);
    }
    const messages: OutboundMessage[] = [];
    while (this.outbox.length > 0 && this.outbox[0]!.seq <= pending.messagesThroughSeq) {
      messages.push(this.outbox.shift()!.outbound);
    }
    if (this.state.role === 'leader') this.maybeAdvanceHighWatermark(this.state);
    const committed: LogEntry[] = [];
    const committableEnd = this.committableEndOffset();
    while (this.appliedEndOffset < committableEnd && committed.length < this.config.applyEntriesMax) {
      committed.push(this.log.entryAt(this.appliedEndOffset)!);
      this.appliedEndOffset++;
    }
    return { messages, restoredSnapshot, committed };
  }

  /** The earliest time tick() has something to do. */
  nextDeadlineMs(): number {
    const state = this.state;
    switch (state.role) {
      case 'follower': {
        if (state.leaderId === undefined) return state.electionDeadlineMs;
        const fetchDeadline = state.lastLeaderContactMs + this.config.fetchTimeoutMs;
        return Math.min(fetchDeadline, state.requestInFlightUntilMs ?? this.nowMs);
      }
      case 'prospective':
      case 'candidate':
        return Math.min(state.electionDeadlineMs, state.resendAtMs);
      case 'leader': {
        let deadline = this.checkQuorumDeadlineMs(state);
        for (const parked of state.parkedFetches.values()) deadline = Math.min(deadline, parked.deadlineMs);
        const unacknowledged = [...state.replicas.values()].some((replica) => !replica.hasFetched);
        if (unacknowledged) deadline = Math.min(deadline, state.beginQuorumResendAtMs);
        return deadline;
      }
    }
  }

  status(): RaftStatus {
    return {
      nodeId: this.nodeId,
      role: this.state.role,
      epoch: this.epoch,
      leaderId: this.knownLeaderId(),
      votedFor: this.votedFor,
      highWatermark: this.highWatermark,
      logStartOffset: this.log.startOffset,
      logEndOffset: this.log.endOffset,
      appliedEndOffset: this.appliedEndOffset,
    };
  }

  /**
   * The quorum as its leader sees it (Kafka's DescribeQuorum), or undefined on any other node: only
   * the leader learns the voters' log ends. Times are on the clock passed to this node; the leader's
   * own entry is its log end, fetched and caught up now.
   */
  describeQuorum(): QuorumDescription | undefined {
    const state = this.state;
    if (state.role !== 'leader') return undefined;
    const voters: QuorumReplicaState[] = [
      {
        replicaId: this.nodeId,
        logEndOffset: this.log.endOffset,
        lastFetchMs: this.nowMs,
        lastCaughtUpMs: this.nowMs,
      },
    ];
    for (const id of [...this.otherVoters].sort((a, b) => a - b)) {
      const replica = state.replicas.get(id)!;
      voters.push({
        replicaId: id,
        logEndOffset: replica.matchedEndOffset,
        lastFetchMs: replica.hasFetched ? replica.lastFetchMs : -1,
        lastCaughtUpMs: replica.lastCaughtUpMs,
      });
    }
    return {
      leaderId: this.nodeId,
      epoch: this.epoch,
      highWatermark: this.highWatermark,
      nowMs: this.nowMs,
      voters,
    };
  }

  /** Read-only look at the in-memory log, for drivers and invariant checkers. */
  entryAt(offset: number): LogEntry | undefined {
    return this.log.entryAt(offset);
  }

  epochAt(offset: number): number | undefined {
    return this.log.epochAt(offset);
  }

  snapshotId(): Snapshot['id'] {
    return this.log.snapshotId;
  }

  /** Messages dropped because the outbox hit outboxMessagesMax (the driver is not draining). */
  droppedMessageCount(): number {
    return this.droppedMessages;
  }

  // ---------------------------------------------------------------------------------------------------
  // Transitions (the only places that assign this.state)

  private unattachedState(): FollowerState {
    return {
      role: 'follower',
      leaderId: undefined,
      electionDeadlineMs: this.nowMs + this.randomElectionTimeoutMs(),
      lastLeaderContactMs: this.nowMs,
      requestInFlightUntilMs: undefined,
      snapshotFetch: undefined,
    };
  }

  /** Moves to epoch (if higher) as a follower of leaderId, or unattached if undefined. */
  private becomeFollower(epoch: number, leaderId: number | undefined): void {
    invariant(epoch >= this.epoch, () => `epoch going back from ${this.epoch} to ${epoch}`);
    invariant(leaderId !== this.nodeId, 'following ourselves');
    if (epoch > this.epoch) {
      this.epoch = epoch;
      this.votedFor = undefined;
      this.abandonedLeaderId = undefined;
      this.hardStateDirty = true;
    } else {
      invariant(
        this.state.role !== 'leader' || leaderId === undefined,
        () => `leader of epoch ${epoch} told of another leader ${leaderId}`,
      );
    }
    this.state = this.unattachedState();
    if (leaderId !== undefined) {
      this.state = { ...this.state, leaderId };
      this.sendFetch(this.state);
    }
  }

  private becomeProspective(): void {
    const state: ProspectiveState = {
      role: 'prospective',
      grantedBy: new Set([this.nodeId]),
      rejectedBy: new Set(),
      electionDeadlineMs: this.nowMs + this.randomElectionTimeoutMs(),
      resendAtMs: this.nowMs + this.config.requestTimeoutMs,
    };
    this.state = state;
    if (!this.campaignWon(state)) this.sendVoteRequests(state, true);
  }

  private becomeCandidate(): void {
    this.epoch += 1;
    this.votedFor = this.nodeId;
    this.hardStateDirty = true;
    const state: CandidateState = {
      role: 'candidate',
      grantedBy: new Set([this.nodeId]),
      rejectedBy: new Set(),
      electionDeadlineMs: this.nowMs + this.randomElectionTimeoutMs(),
      resendAtMs: this.nowMs + this.config.requestTimeoutMs,
    };
    this.state = state;
    if (!this.campaignWon(state)) this.sendVoteRequests(state, false);
  }

  private becomeLeader(): void {
    invariant(this.votedFor === this.nodeId, 'leader without its own vote');
    const replicas = new Map<number, ReplicaProgress>();
    for (const id of this.otherVoters) {
      // lastFetchMs starts now: a new leader gets one check-quorum window to collect its followers.
      replicas.set(id, {
        matchedEndOffset: -1,
        lastFetchMs: this.nowMs,
        hasFetched: false,
        highWatermarkSent: -1,
        leaderEndOffsetAtLastFetch: -1,
        lastCaughtUpMs: -1,
      });
    }
    const state: LeaderState = {
      role: 'leader',
      epochStartOffset: this.log.endOffset,
      replicas,
      parkedFetches: new Map(),
      beginQuorumResendAtMs: this.nowMs + this.config.requestTimeoutMs,
    };
    this.state = state;
    // The leader-change entry lets the high watermark advance in this epoch without a client write.
    const payload = new Uint8Array(LEADER_CHANGE_PAYLOAD_BYTES);
    new DataView(payload.buffer).setInt32(0, this.nodeId);
    this.log.append({ offset: this.log.endOffset, epoch: this.epoch, type: 'leader-change', payload });
    for (const id of this.otherVoters) this.sendBeginQuorumEpoch(id);
    this.maybeAdvanceHighWatermark(state);
  }

  /** A leader without fetches from a majority steps down, so clients look for the real leader. */
  private resign(): void {
    invariant(this.state.role === 'leader', 'resign while not leader');
    // Same epoch, still having voted for ourselves: the others elect a leader in a higher epoch.
    this.state = this.unattachedState();
  }

  // ---------------------------------------------------------------------------------------------------
  // Timers

  private tickFollower(state: FollowerState): void {
    if (state.leaderId === undefined) {
      if (this.nowMs >= state.electionDeadlineMs) this.becomeProspective();
      return;
    }
    if (this.nowMs >= state.lastLeaderContactMs + this.config.fetchTimeoutMs) {
      this.abandonedLeaderId = state.leaderId;
      this.becomeProspective();
      return;
    }
    if (state.requestInFlightUntilMs === undefined || this.nowMs >= state.requestInFlightUntilMs) {
      this.sendFetch(state);
    }
  }

  private tickCampaign(state: ProspectiveState | CandidateState): void {
    if (this.nowMs >= state.electionDeadlineMs) {
      // KIP-996: a candidate that did not win goes back to pre-voting, so it cannot bump epochs alone.
      this.becomeProspective();
      return;
    }
    if (this.nowMs >= state.resendAtMs) {
      state.resendAtMs = this.nowMs + this.config.requestTimeoutMs;
      // A pre-vote refusal is not final: the voter may since have lost its leader too. Asking again
      // within the round (instead of after a whole election timeout) is what keeps failover short.
      if (state.role === 'prospective') state.rejectedBy.clear();
      this.sendVoteRequests(state, state.role === 'prospective');
    }
  }

  private tickLeader(state: LeaderState): void {
    if (this.nowMs >= this.checkQuorumDeadlineMs(state)) {
      this.resign();
      return;
    }
    for (const [replicaId, parked] of state.parkedFetches) {
      if (this.nowMs >= parked.deadlineMs) {
        state.parkedFetches.delete(replicaId);
        this.answerFetch(state, parked.request);
      }
    }
    if (this.nowMs >= state.beginQuorumResendAtMs) {
      state.beginQuorumResendAtMs = this.nowMs + this.config.requestTimeoutMs;
      for (const [id, replica] of state.replicas) {
        if (!replica.hasFetched) this.sendBeginQuorumEpoch(id);
      }
    }
  }

  /** When the leader would lose sight of a majority if no further fetch arrived. */
  private checkQuorumDeadlineMs(state: LeaderState): number {
    const othersNeeded = this.majority - 1;
    if (othersNeeded === 0) return Number.POSITIVE_INFINITY;
    const recent = [...state.replicas.values()].map((replica) => replica.lastFetchMs).sort((a, b) => b - a);
    return recent[othersNeeded - 1]! + this.checkQuorumMs;
  }

  // ---------------------------------------------------------------------------------------------------
  // Elections

  private sendVoteRequests(state: ProspectiveState | CandidateState, preVote: boolean): void {
    for (const id of this.otherVoters) {
      if (state.grantedBy.has(id) || state.rejectedBy.has(id)) continue;
      this.send(id, {
        type: 'vote-request',
        candidateEpoch: preVote ? this.epoch + 1 : this.epoch,
        lastEpoch: this.log.lastEpoch,
        lastOffset: this.log.endOffset,
        preVote,
      });
    }
  }

  private onVoteRequest(request: VoteRequest): void {
    const upToDate =
      request.lastEpoch > this.log.lastEpoch ||
      (request.lastEpoch === this.log.lastEpoch && request.lastOffset >= this.log.endOffset);
    let granted: boolean;
    if (request.preVote) {
      // Pre-vote changes nothing here. Refused while we still hear from a leader: that is what keeps a
      // node coming back from a partition from deposing a healthy leader.
      granted = request.candidateEpoch > this.epoch && upToDate && !this.hasLiveLeader();
    } else {
      granted =
        request.candidateEpoch === this.epoch &&
        upToDate &&
        this.knownLeaderId() === undefined &&
        (this.votedFor === undefined || this.votedFor === request.from);
      if (granted && this.state.role !== 'leader') {
        if (this.votedFor !== request.from) {
          this.votedFor = request.from;
          this.hardStateDirty = true;
        }
        // Having voted, give the candidate a full election timeout before campaigning ourselves.
        this.state = this.unattachedState();
      }
    }
    this.send(request.from, {
      type: 'vote-response',
      epoch: this.epoch,
      granted,
      preVote: request.preVote,
      leaderId: this.knownLeaderId(),
    });
  }

  private onVoteResponse(response: VoteResponse): void {
    if (response.epoch !== this.epoch) return;
    const state = this.state;
    // A voter may still name us (after we resigned) or the leader we gave up on; that is no news.
    const namesAbandoned = response.leaderId !== undefined && response.leaderId === this.abandonedLeaderId;
    const hearsay = response.leaderId === this.nodeId || namesAbandoned;
    const leaderId = hearsay ? undefined : response.leaderId;
    if (state.role === 'prospective' && namesAbandoned && response.leaderId !== undefined) {
      // Others still follow the leader we lost: perhaps only our link to it broke. Ask it directly;
      // its answer (direct contact) brings us back as its follower, its silence changes nothing.
      this.sendFetchRequest(response.leaderId);
    }
    const knowsNoLeader =
      state.role !== 'leader' && (state.role !== 'follower' || state.leaderId === undefined);
    if (leaderId !== undefined && knowsNoLeader) {
      this.becomeFollower(this.epoch, leaderId);
      return;
    }
    if (state.role !== 'prospective' && state.role !== 'candidate') return;
    if (response.preVote !== (state.role === 'prospective')) return;
    if (response.granted) state.grantedBy.add(response.from);
    else state.rejectedBy.add(response.from);
    if (this.campaignWon(state)) return;
    if (state.role === 'candidate' && state.rejectedBy.size >= this.majority) {
      // Lost (split vote): back off a random time so that two candidates stop colliding.
      const backoffDeadlineMs = this.nowMs + this.random.nextInt(this.config.electionBackoffMaxMs);
      state.electionDeadlineMs = Math.min(state.electionDeadlineMs, backoffDeadlineMs);
    }
  }

  /** Moves on if a majority granted; returns whether it did. */
  private campaignWon(state: ProspectiveState | CandidateState): boolean {
    if (state.grantedBy.size < this.majority) return false;
    if (state.role === 'prospective') this.becomeCandidate();
    else this.becomeLeader();
    return true;
  }

  private onBeginQuorumEpoch(message: BeginQuorumEpoch): void {
    if (message.epoch !== this.epoch) return;
    invariant(message.leaderId === message.from, 'BeginQuorumEpoch from a node other than the leader');
    const state = this.state;
    invariant(
      state.role !== 'leader',
      () => `two leaders in epoch ${this.epoch}: ${this.nodeId}, ${message.from}`,
    );
    if (state.role === 'follower' && state.leaderId === message.leaderId) {
      state.lastLeaderContactMs = this.nowMs;
      return;
    }
    this.becomeFollower(this.epoch, message.leaderId);
  }

  private sendBeginQuorumEpoch(to: number): void {
    this.send(to, { type: 'begin-quorum-epoch', epoch: this.epoch, leaderId: this.nodeId });
  }

  // ---------------------------------------------------------------------------------------------------
  // Replication, leader side

  private onFetchRequest(request: FetchRequest): void {
    const state = this.state;
    if (state.role !== 'leader' || request.epoch !== this.epoch) {
      this.send(request.from, {
        ...this.emptyFetchResponse(request),
        error: request.epoch < this.epoch ? 'fenced-epoch' : 'not-leader',
      });
      return;
    }
    const replica = state.replicas.get(request.from)!;
    const previousFetchMs = replica.lastFetchMs;
    replica.lastFetchMs = this.nowMs;
    replica.hasFetched = true;
    state.parkedFetches.delete(request.from);

    const log = this.log;
    if (request.fetchOffset < log.startOffset) {
      this.send(request.from, { ...this.emptyFetchResponse(request), snapshotId: log.snapshotId });
      return;
    }
    const epochEnd = log.endOffsetForEpoch(request.lastFetchedEpoch);
    if (epochEnd === undefined) {
      this.send(request.from, { ...this.emptyFetchResponse(request), snapshotId: log.snapshotId });
      return;
    }
    if (epochEnd.epoch !== request.lastFetchedEpoch || epochEnd.endOffset < request.fetchOffset) {
      this.send(request.from, { ...this.emptyFetchResponse(request), divergingEpoch: epochEnd });
      return;
    }
    // The fetcher's log matches ours up to fetchOffset, and it is durable there.
    invariant(request.fetchOffset <= log.endOffset, 'matched fetch beyond our log end');
    replica.matchedEndOffset = request.fetchOffset;
    this.recordCaughtUp(replica, request.fetchOffset, previousFetchMs);
    this.maybeAdvanceHighWatermark(state);
    if (request.fetchOffset === log.endOffset && replica.highWatermarkSent === this.highWatermark) {
      // Nothing new: park it (long poll) until an append, a high-watermark move or fetchMaxWaitMs.
      state.parkedFetches.set(request.from, { request, deadlineMs: this.nowMs + this.config.fetchMaxWaitMs });
      return;
    }
    this.answerFetch(state, request);
  }

  /** Kafka's rule for lastCaughtUpTimestamp (LeaderState.ReplicaState.updateFetchState). */
  private recordCaughtUp(replica: ReplicaProgress, fetchOffset: number, previousFetchMs: number): void {
    if (fetchOffset >= this.log.endOffset) {
      replica.lastCaughtUpMs = Math.max(replica.lastCaughtUpMs, this.nowMs);
    } else if (replica.leaderEndOffsetAtLastFetch >= 0 && fetchOffset >= replica.leaderEndOffsetAtLastFetch) {
      replica.lastCaughtUpMs = Math.max(replica.lastCaughtUpMs, previousFetchMs);
    }
    replica.leaderEndOffsetAtLastFetch = this.log.endOffset;
  }

  /** Answers a fetch already validated against our log. */
  private answerFetch(state: LeaderState, request: FetchRequest): void {
    const replica = state.replicas.get(request.from)!;
    const entries = this.log.slice(
      request.fetchOffset,
      this.config.fetchEntriesMax,
      this.config.fetchBytesMax,
    );
    replica.highWatermarkSent = this.highWatermark;
    this.send(request.from, { ...this.emptyFetchResponse(request), entries });
  }

  private answerParkedFetches(state: LeaderState): void {
    for (const parked of state.parkedFetches.values()) this.answerFetch(state, parked.request);
    state.parkedFetches.clear();
  }

  private emptyFetchResponse(request: FetchRequest): Omit<FetchResponse, 'from' | 'to' | 'clusterId'> {
    return {
      type: 'fetch-response',
      epoch: this.epoch,
      leaderId: this.knownLeaderId(),
      error: undefined,
      fetchOffset: request.fetchOffset,
      lastFetchedEpoch: request.lastFetchedEpoch,
      highWatermark: this.highWatermark,
      entries: [],
      divergingEpoch: undefined,
      snapshotId: undefined,
    };
  }

  /** The high watermark: the largest end offset durable on a majority, once it passes our epoch start. */
  private maybeAdvanceHighWatermark(state: LeaderState): void {
    const ends = [Math.min(this.durableEndOffset, this.log.endOffset)];
    for (const replica of state.replicas.values()) ends.push(replica.matchedEndOffset);
    ends.sort((a, b) => b - a);
    const majorityEnd = ends[this.majority - 1]!;
    // Only an entry of our own epoch commits the entries before it (Raft §5.4.2).
    if (majorityEnd <= state.epochStartOffset || majorityEnd <= this.highWatermark) return;
    invariant(majorityEnd <= this.log.endOffset, 'high watermark beyond the log end');
    this.highWatermark = majorityEnd;
    this.answerParkedFetches(state);
  }

  private onFetchSnapshotRequest(request: FetchSnapshotRequest): void {
    const base = {
      type: 'fetch-snapshot-response' as const,
      epoch: this.epoch,
      leaderId: this.knownLeaderId(),
      snapshotId: request.snapshotId,
      position: request.position,
      totalBytes: 0,
      bytes: new Uint8Array(0),
    };
    const state = this.state;
    if (state.role !== 'leader' || request.epoch !== this.epoch) {
      this.send(request.from, { ...base, error: request.epoch < this.epoch ? 'fenced-epoch' : 'not-leader' });
      return;
    }
    const replica = state.replicas.get(request.from)!;
    replica.lastFetchMs = this.nowMs;
    replica.hasFetched = true;
    const id = this.log.snapshotId;
    const bytes = this.snapshotBytes;
    const sameSnapshot =
      id.endOffset === request.snapshotId.endOffset && id.epoch === request.snapshotId.epoch;
    if (!sameSnapshot || bytes === undefined || request.position > bytes.length) {
      this.send(request.from, { ...base, error: 'snapshot-not-found' });
      return;
    }
    const chunk = bytes.subarray(request.position, request.position + this.config.snapshotChunkBytesMax);
    this.send(request.from, { ...base, error: undefined, totalBytes: bytes.length, bytes: chunk });
  }

  // ---------------------------------------------------------------------------------------------------
  // Replication, follower side

  private sendFetch(state: FollowerState): void {
    invariant(state.leaderId !== undefined, 'fetch without a leader');
    state.requestInFlightUntilMs = this.nowMs + this.config.requestTimeoutMs;
    const snapshotFetch = state.snapshotFetch;
    if (snapshotFetch !== undefined) {
      this.send(state.leaderId, {
        type: 'fetch-snapshot-request',
        epoch: this.epoch,
        snapshotId: snapshotFetch.id,
        position: snapshotFetch.receivedBytes,
      });
      return;
    }
    this.sendFetchRequest(state.leaderId);
  }

  private sendFetchRequest(to: number): void {
    this.send(to, {
      type: 'fetch-request',
      epoch: this.epoch,
      fetchOffset: this.log.endOffset,
      lastFetchedEpoch: this.log.lastEpoch,
    });
  }

  /** Adopts the leader a same-epoch response names, if we do not know one yet. */
  private adoptLeaderFrom(
    from: number,
    leaderId: number | undefined,
    epoch: number,
  ): FollowerState | undefined {
    if (epoch !== this.epoch) return undefined;
    if (leaderId !== undefined && leaderId === this.abandonedLeaderId && from !== leaderId) return undefined;
    const state = this.state;
    if (state.role === 'leader') return undefined;
    if (state.role === 'follower' && state.leaderId !== undefined) return state;
    if (leaderId === undefined || leaderId === this.nodeId) return undefined;
    this.becomeFollower(this.epoch, leaderId);
    return undefined;
  }

  private onFetchResponse(response: FetchResponse): void {
    const state = this.adoptLeaderFrom(response.from, response.leaderId, response.epoch);
    if (state === undefined || state.leaderId !== response.from) return;
    const log = this.log;
    // Only the answer to our current position is acted on; duplicates and stale answers are dropped.
    if (response.fetchOffset !== log.endOffset || response.lastFetchedEpoch !== log.lastEpoch) return;
    if (state.snapshotFetch !== undefined) return;
    if (response.error !== undefined) {
      // Our leader resigned (check-quorum) in this epoch: campaign now rather than wait out the timeout.
      if (response.error === 'not-leader' && response.leaderId === undefined) this.becomeProspective();
      return;
    }
    state.lastLeaderContactMs = this.nowMs;
    if (response.snapshotId !== undefined) {
      state.snapshotFetch = { id: response.snapshotId, chunks: [], receivedBytes: 0 };
    } else if (response.divergingEpoch !== undefined) {
      const local = log.endOffsetForEpoch(response.divergingEpoch.epoch);
      const truncateTo = Math.min(response.divergingEpoch.endOffset, local?.endOffset ?? log.startOffset);
      this.truncate(truncateTo);
    } else {
      for (const entry of response.entries) {
        invariant(entry.epoch <= this.epoch, 'entry from a future epoch');
        log.append(entry);
      }
      // Our log matches the leader's up to our end, so its high watermark holds for our prefix.
      const highWatermark = Math.min(response.highWatermark, log.endOffset);
      if (highWatermark > this.highWatermark) this.highWatermark = highWatermark;
    }
    this.sendFetch(state);
  }

  private truncate(endOffset: number): void {
    invariant(
      endOffset >= this.highWatermark,
      () => `truncating to ${endOffset} below HW ${this.highWatermark}`,
    );
    if (endOffset >= this.log.endOffset) return;
    this.log.truncateTo(endOffset);
    this.truncateFromOffset = Math.min(this.truncateFromOffset ?? endOffset, endOffset);
    this.unstableFromOffset = Math.min(this.unstableFromOffset, endOffset);
  }

  private onFetchSnapshotResponse(response: FetchSnapshotResponse): void {
    const state = this.adoptLeaderFrom(response.from, response.leaderId, response.epoch);
    if (state === undefined || state.leaderId !== response.from) return;
    const fetch = state.snapshotFetch;
    if (fetch === undefined) return;
    const sameSnapshot =
      fetch.id.endOffset === response.snapshotId.endOffset && fetch.id.epoch === response.snapshotId.epoch;
    if (!sameSnapshot || response.position !== fetch.receivedBytes) return;
    state.lastLeaderContactMs = this.nowMs;
    if (response.error !== undefined) {
      // The leader moved to a newer snapshot: fetch again to learn its id.
      state.snapshotFetch = undefined;
      this.sendFetch(state);
      return;
    }
    fetch.chunks.push(response.bytes);
    fetch.receivedBytes += response.bytes.length;
    if (fetch.receivedBytes < response.totalBytes) {
      this.sendFetch(state);
      return;
    }
    const bytes = concat(fetch.chunks, fetch.receivedBytes);
    state.snapshotFetch = undefined;
    this.installSnapshot({ id: fetch.id, bytes });
    this.sendFetch(state);
  }

  private installSnapshot(snapshot: Snapshot): void {
    invariant(
      snapshot.id.endOffset >= this.highWatermark,
      'snapshot from the leader behind our high watermark',
    );
    // Every local entry goes: the snapshot is committed data and our tail may diverge from it.
    this.truncateFromOffset = Math.min(this.truncateFromOffset ?? this.log.startOffset, this.log.startOffset);
    this.log.installSnapshot(snapshot.id);
    this.snapshotBytes = snapshot.bytes;
    this.unstableFromOffset = snapshot.id.endOffset;
    this.unpersistedSnapshot = snapshot;
    this.unpersistedSnapshotRestores = true;
    this.highWatermark = snapshot.id.endOffset;
  }

  // ---------------------------------------------------------------------------------------------------
  // Helpers

  private send(to: number, body: DistributiveOmit<RaftMessage, 'from' | 'to' | 'clusterId'>): void {
    if (this.outbox.length >= this.config.outboxMessagesMax) {
      this.droppedMessages++;
      return;
    }
    const message = { ...body, clusterId: this.config.clusterId, from: this.nodeId, to } as RaftMessage;
    this.outbox.push({ seq: this.nextMessageSeq++, outbound: { to, message } });
  }

  private setClock(nowMs: number): void {
    invariant(nowMs >= this.nowMs, () => `clock went back from ${this.nowMs} to ${nowMs}`);
    this.nowMs = nowMs;
  }

  private randomElectionTimeoutMs(): number {
    return this.config.electionTimeoutMs + this.random.nextInt(this.config.electionTimeoutMs);
  }

  private knownLeaderId(): number | undefined {
    const state = this.state;
    if (state.role === 'leader') return this.nodeId;
    if (state.role === 'follower') return state.leaderId;
    return undefined;
  }

  private hasLiveLeader(): boolean {
    const state = this.state;
    if (state.role === 'leader') return true;
    return (
      state.role === 'follower' &&
      state.leaderId !== undefined &&
      this.nowMs - state.lastLeaderContactMs < this.config.fetchTimeoutMs
    );
  }

  /** The leader a message from a higher epoch names, if any. */
  private leaderNamedBy(message: RaftMessage, senderEpoch: number): number | undefined {
    switch (message.type) {
      case 'begin-quorum-epoch':
        return message.leaderId;
      case 'vote-response':
      case 'fetch-response':
      case 'fetch-snapshot-response':
        return message.epoch === senderEpoch && message.leaderId !== this.nodeId
          ? message.leaderId
          : undefined;
      default:
        return undefined;
    }
  }

  /** Entries that are committed and durable here, hence safe to hand to the state machine. */
  private committableEndOffset(): number {
    // After a snapshot from the leader, wait for advance() to hand the snapshot over first.
    if (this.appliedEndOffset < this.log.startOffset) return this.appliedEndOffset;
    return Math.min(this.highWatermark, this.durableEndOffset, this.log.endOffset);
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

function concat(chunks: readonly Uint8Array[], totalBytes: number): Uint8Array {
  const bytes = new Uint8Array(totalBytes);
  let position = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, position);
    position += chunk.length;
  }
  return bytes;
}

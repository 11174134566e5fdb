/**
 * The production driver around the pure RaftNode: it owns the node, its durable store, the transport,
 * the timer and the state machine, and runs etcd-raft's loop (the same protocol as the simulation's
 * driver in packages/sim/src/raft-cluster.ts):
 *
 *   input (message | tick | propose) -> while hasReady: ready -> await store.persist (fsync)
 *     -> advance -> send messages -> restore a snapshot from the leader -> apply committed entries
 *     -> resolve proposals -> maybe snapshot;  then arm the timer at nextDeadlineMs().
 *
 * Serialisation: inputs are stepped into the core at once (step/tick/propose are synchronous and run
 * to completion, so they never interleave with each other); only one persist loop runs at a time. An
 * input that arrives while a persist is in flight needs no driver-side queue: what it produces waits in
 * the core, which bounds it (outboxMessagesMax messages, uncommittedEntriesMax entries, one fetch in
 * flight per follower), and leaves with the next Ready, after its own persist.
 */

import {
  type Clock,
  invariant,
  monotonicClock,
  type Random,
  systemRandom,
  systemTimers,
  type TimerHandle,
  type TimerScheduler,
} from '@gregor/ground';
import { makeRaftConfig, type RaftConfig, type RaftLimits, type RaftTimeouts } from '../core/config.js';
import type { RaftMessage } from '../core/messages.js';
import { type QuorumDescription, RaftNode, type RaftStatus, type Ready } from '../core/node.js';
import type { LogEntry, Snapshot } from '../core/types.js';
import type { RaftStore } from '../storage/raft-store.js';
import {
  NotLeaderError,
  ProposalLostError,
  ProposalOutcomeUnknownError,
  ProposalTimeoutError,
  ProposalTooLargeError,
  RaftDriverClosedError,
  RaftOverloadedError,
} from './errors.js';
import { RefusalLog } from './refusal-log.js';
import type { RaftInboundVerdict, RaftLogger, RaftStateMachine, RaftTransport } from './types.js';

export interface SnapshotPolicy {
  /** Snapshot once this many entries were applied since the last snapshot (KRaft counts bytes only). */
  readonly snapshotEveryEntries: number;
  /** ... or once this many payload bytes were (metadata.log.max.record.bytes.between.snapshots). */
  readonly snapshotEveryBytes: number;
}

export const DEFAULT_SNAPSHOT_POLICY: SnapshotPolicy = Object.freeze({
  snapshotEveryEntries: 10_000,
  snapshotEveryBytes: 20 * 1024 * 1024,
});

/**
 * A persist (one fsynced write) at least this long is logged as a warning: the node's Raft messages
 * wait behind it. Half the fast-failover fetch timeout (1 s): a follower silent longer than that
 * timeout makes its leader count it gone.
 */
export const PERSIST_SLOW_WARN_MS = 500;

/** How long propose() waits for its entry to commit and apply, unless the call says otherwise. */
export const PROPOSAL_TIMEOUT_MS_DEFAULT = 5_000;

export interface LeaderChange {
  /** The leader this node knows of; undefined while there is none (or this node is not ready yet). */
  readonly leaderId: number | undefined;
  readonly epoch: number;
  /**
   * True once this node leads *and* its state machine has applied every entry before its epoch (its
   * own leader-change entry committed and applied, KRaft's rule): only then may a controller act.
   */
  readonly isLocalLeader: boolean;
}

export type LeaderChangeListener = (change: LeaderChange) => void;

export interface RaftDriverOptions {
  readonly config: RaftConfig;
  readonly store: RaftStore;
  readonly transport: RaftTransport;
  readonly stateMachine: RaftStateMachine;
  readonly logger: RaftLogger;
  readonly clock?: Clock;
  readonly timers?: TimerScheduler;
  readonly random?: Random;
  readonly snapshotPolicy?: Partial<SnapshotPolicy>;
  readonly proposalTimeoutMsDefault?: number;
  /**
   * Called once if the driver cannot go on (a failed fsync, an InvariantViolation, a throwing state
   * machine): the node must stop rather than run on state that may be wrong. Defaults to rethrowing
   * the error outside any promise, which crashes the process loudly.
   */
  readonly onFatalError?: (error: unknown) => void;
  /** Closed after the transport and the store (e.g. the gRPC service registration). */
  readonly releaseOnClose?: ReadonlyArray<() => Promise<void>>;
}

export interface ProposeOptions {
  readonly timeoutMs?: number;
}

export interface CommittedProposal {
  readonly offset: number;
  readonly epoch: number;
}

interface PendingProposal {
  readonly epoch: number;
  readonly resolve: (committed: CommittedProposal) => void;
  readonly reject: (error: Error) => void;
  readonly timer: TimerHandle;
}

type DriverState = 'running' | 'closed' | 'failed';

/** Builds a config from the pieces createRaftDriver and tests have. */
export function raftConfigFor(input: {
  readonly nodeId: number;
  readonly clusterId: string;
  readonly voterIds: readonly number[];
  readonly timeouts?: Partial<RaftTimeouts>;
  readonly limits?: Partial<RaftLimits>;
}): RaftConfig {
  return makeRaftConfig({
    nodeId: input.nodeId,
    clusterId: input.clusterId,
    voterIds: input.voterIds,
    ...input.timeouts,
    ...input.limits,
  });
}

export class RaftDriver {
  readonly nodeId: number;
  private readonly node: RaftNode;
  private readonly options: RaftDriverOptions;
  private readonly clock: Clock;
  private readonly timers: TimerScheduler;
  private readonly logger: RaftLogger;
  private readonly snapshotPolicy: SnapshotPolicy;
  private readonly proposalTimeoutMsDefault: number;
  private readonly refusals: RefusalLog;

  private state: DriverState = 'running';
  /** The persist loop in flight, if any; close() waits for it. */
  private loopRunning = false;
  private loop: Promise<void> = Promise.resolve();
  private timer: TimerHandle | undefined;
  private timerAtMs: number | undefined;
  /**
   * Proposals waiting for their offset to commit. Usually one per offset; more when this node led
   * again after a leader change truncated an earlier proposal at the same offset (that older one can
   * still commit if a later leader holds it, so it waits for the commit at its offset like the rest).
   * Bounded by the core's uncommittedEntriesMax per epoch and by each proposal's timeout.
   */
  private readonly pending = new Map<number, PendingProposal[]>();
  private readonly leaderListeners = new Set<LeaderChangeListener>();
  private announced: LeaderChange = { leaderId: undefined, epoch: -1, isLocalLeader: false };
  /** Epoch whose leader-change entry this node (as leader) has applied: it may act as leader. */
  private leaderReadyEpoch = -1;
  private entriesSinceSnapshot = 0;
  private bytesSinceSnapshot = 0;
  private closing: Promise<void> | undefined;

  private constructor(options: RaftDriverOptions, node: RaftNode, clock: Clock) {
    this.options = options;
    this.node = node;
    this.nodeId = node.nodeId;
    this.clock = clock;
    this.timers = options.timers ?? systemTimers;
    this.logger = options.logger;
    this.snapshotPolicy = { ...DEFAULT_SNAPSHOT_POLICY, ...options.snapshotPolicy };
    invariant(this.snapshotPolicy.snapshotEveryEntries >= 1, 'snapshotEveryEntries must be at least 1');
    invariant(this.snapshotPolicy.snapshotEveryBytes >= 1, 'snapshotEveryBytes must be at least 1');
    this.proposalTimeoutMsDefault = options.proposalTimeoutMsDefault ?? PROPOSAL_TIMEOUT_MS_DEFAULT;
    this.refusals = new RefusalLog(this.logger, () => this.clock.nowMs());
  }

  /**
   * Loads the durable state, hands the durable snapshot to the state machine and starts the loop.
   * The store, transport and state machine then belong to the driver until close().
   */
  static async start(options: RaftDriverOptions): Promise<RaftDriver> {
    const clock = options.clock ?? monotonicClock;
    const persisted = await options.store.load();
    if (persisted.snapshot !== undefined) {
      await options.stateMachine.restore(persisted.snapshot.bytes, persisted.snapshot.id);
    }
    const node = new RaftNode({
      config: options.config,
      random: options.random ?? systemRandom,
      nowMs: clock.nowMs(),
      persisted,
    });
    const driver = new RaftDriver(options, node, clock);
    const status = node.status();
    driver.logger.info(
      {
        nodeId: status.nodeId,
        epoch: status.epoch,
        votedFor: status.votedFor,
        logStartOffset: status.logStartOffset,
        logEndOffset: status.logEndOffset,
      },
      'raft driver started',
    );
    driver.kick();
    return driver;
  }

  // ---------------------------------------------------------------------------------------------------
  // Inputs

  /** A message from the transport. Returns whether it was taken in (the gRPC service reports refusals). */
  receive(message: RaftMessage): RaftInboundVerdict {
    if (this.state !== 'running') return { kind: 'not-running', from: message.from };
    const outcome = this.guard(() => this.node.step(message, this.clock.nowMs()));
    if (outcome === undefined) return { kind: 'not-running', from: message.from };
    if (outcome.kind !== 'accepted') {
      this.refusals.refused(
        outcome.from,
        outcome.kind,
        { nodeId: this.nodeId, messageType: message.type, ...outcome },
        'refused a raft message',
      );
      return outcome;
    }
    this.kick();
    return outcome;
  }

  /**
   * Appends payload as a new entry if this node leads. Resolves with its (offset, epoch) once it is
   * committed and applied here; rejects with one of the ProposalError classes otherwise.
   */
  propose(payload: Uint8Array, options: ProposeOptions = {}): Promise<CommittedProposal> {
    if (this.state !== 'running') {
      return Promise.reject(new RaftDriverClosedError(this.state === 'failed' ? 'failed' : 'closed'));
    }
    const result = this.guard(() => this.node.propose(payload));
    if (result === undefined) return Promise.reject(new RaftDriverClosedError('failed'));
    switch (result.kind) {
      case 'not-leader':
        return Promise.reject(new NotLeaderError(result.leaderId));
      case 'too-large':
        return Promise.reject(new ProposalTooLargeError(payload.length, result.bytesMax));
      case 'overloaded':
        return Promise.reject(new RaftOverloadedError(result.uncommittedEntriesMax));
      case 'appended':
        break;
    }
    const { offset, epoch } = result;
    const timeoutMs = options.timeoutMs ?? this.proposalTimeoutMsDefault;
    const promise = new Promise<CommittedProposal>((resolve, reject) => {
      const proposal: PendingProposal = {
        epoch,
        resolve,
        reject,
        timer: this.timers.schedule(() => {
          if (this.removePending(offset, proposal))
            reject(new ProposalTimeoutError(offset, epoch, timeoutMs));
        }, timeoutMs),
      };
      const atOffset = this.pending.get(offset);
      if (atOffset === undefined) this.pending.set(offset, [proposal]);
      else atOffset.push(proposal);
    });
    this.kick();
    return promise;
  }

  onLeaderChange(listener: LeaderChangeListener): () => void {
    this.leaderListeners.add(listener);
    return () => this.leaderListeners.delete(listener);
  }

  /** The last leader change announced to listeners. */
  leader(): LeaderChange {
    return this.announced;
  }

  status(): RaftStatus {
    return this.node.status();
  }

  /**
   * The quorum as this node sees it while it leads (undefined otherwise). The times are on the
   * driver's clock; `clockNowMs` is that clock now, so a caller can turn them into wall-clock times.
   */
  describeQuorum(): (QuorumDescription & { readonly clockNowMs: number }) | undefined {
    const description = this.node.describeQuorum();
    return description === undefined ? undefined : { ...description, clockNowMs: this.clock.nowMs() };
  }

  /** Stops timers, rejects pending proposals, waits for an in-flight persist, closes transport and store. */
  close(): Promise<void> {
    if (this.closing === undefined) this.closing = this.closeOnce();
    return this.closing;
  }

  private async closeOnce(): Promise<void> {
    const wasFailed = this.state === 'failed';
    this.state = this.state === 'failed' ? 'failed' : 'closed';
    this.cancelTimer();
    this.rejectAllPending(new RaftDriverClosedError(wasFailed ? 'failed' : 'closed'));
    // A persist in flight finishes (the store cannot be closed under it); nothing after it is sent.
    await this.loop;
    await this.options.transport.close();
    await this.options.store.close();
    for (const release of this.options.releaseOnClose ?? []) await release();
    this.logger.info({ nodeId: this.nodeId }, 'raft driver closed');
  }

  // ---------------------------------------------------------------------------------------------------
  // The loop

  /** Starts the persist loop unless one runs (it re-checks hasReady() before it stops), arms the timer. */
  private kick(): void {
    if (this.state !== 'running') return;
    if (!this.loopRunning && this.node.hasReady()) {
      this.loopRunning = true;
      this.loop = this.runLoop();
    }
    this.armTimer();
    this.announceLeader();
  }

  private async runLoop(): Promise<void> {
    try {
      while (this.state === 'running' && this.node.hasReady()) {
        const ready = this.node.ready();
        const persistStartMs = this.clock.nowMs();
        await this.options.store.persist(ready);
        this.reportSlowPersist(ready, this.clock.nowMs() - persistStartMs);
        // Closed during the fsync: the Ready is durable, but its messages stay unsent (as after a crash).
        if (this.state !== 'running') return;
        const advanced = this.node.advance(ready, this.clock.nowMs());
        for (const { message } of advanced.messages) this.options.transport.send(message);
        if (advanced.restoredSnapshot !== undefined) await this.restoreSnapshot(advanced.restoredSnapshot);
        if (advanced.committed.length > 0) await this.applyCommitted(advanced.committed);
        await this.maybeSnapshot();
        this.announceLeader();
      }
    } catch (error) {
      this.fail(error);
    } finally {
      this.loopRunning = false;
      if (this.state === 'running') {
        this.armTimer();
        this.announceLeader();
      }
    }
  }

  /**
   * A write (one fsynced batch) that took long is logged: every message of this node waits behind it
   * (a follower's next fetch, a leader's fetch answers), so a write longer than the leader's fetch
   * timeout looks to the quorum like a node that stopped, and nothing else in the log would say so.
   */
  private reportSlowPersist(ready: Ready, durationMs: number): void {
    if (durationMs < PERSIST_SLOW_WARN_MS) return;
    this.logger.warn(
      {
        nodeId: this.nodeId,
        durationMs: Math.round(durationMs),
        entries: ready.entries.length,
        role: this.node.status().role,
      },
      `raft log write (fsync) took ${Math.round(durationMs)} ms; this node sent no raft message meanwhile`,
    );
  }

  private async restoreSnapshot(snapshot: Snapshot): Promise<void> {
    this.logger.info(
      { nodeId: this.nodeId, endOffset: snapshot.id.endOffset, epoch: snapshot.id.epoch },
      'installing a snapshot fetched from the leader',
    );
    await this.options.stateMachine.restore(snapshot.bytes, snapshot.id);
    this.entriesSinceSnapshot = 0;
    this.bytesSinceSnapshot = 0;
    // Whatever this node proposed below the snapshot's end is in it or not; this node cannot tell.
    for (const [offset, proposals] of this.pending) {
      if (offset >= snapshot.id.endOffset) continue;
      this.pending.delete(offset);
      for (const proposal of proposals) {
        proposal.timer.cancel();
        proposal.reject(new ProposalOutcomeUnknownError(offset, proposal.epoch));
      }
    }
  }

  private async applyCommitted(entries: readonly LogEntry[]): Promise<void> {
    await this.options.stateMachine.apply(entries);
    const status = this.node.status();
    for (const entry of entries) {
      this.entriesSinceSnapshot++;
      this.bytesSinceSnapshot += entry.payload.length;
      if (entry.type === 'leader-change' && status.role === 'leader' && entry.epoch === status.epoch) {
        this.leaderReadyEpoch = entry.epoch;
      }
      const proposals = this.pending.get(entry.offset);
      if (proposals === undefined) continue;
      this.pending.delete(entry.offset);
      // (offset, epoch) names one entry (Log Matching): the proposal with this epoch is the one committed.
      for (const proposal of proposals) {
        proposal.timer.cancel();
        if (proposal.epoch === entry.epoch) proposal.resolve({ offset: entry.offset, epoch: entry.epoch });
        else proposal.reject(new ProposalLostError(entry.offset, proposal.epoch, entry.epoch));
      }
    }
  }

  private async maybeSnapshot(): Promise<void> {
    const policy = this.snapshotPolicy;
    if (
      this.entriesSinceSnapshot < policy.snapshotEveryEntries &&
      this.bytesSinceSnapshot < policy.snapshotEveryBytes
    ) {
      return;
    }
    const { bytes, endOffset } = await this.options.stateMachine.snapshot();
    const result = this.node.createSnapshot(endOffset, bytes);
    invariant(
      result.kind !== 'not-applied',
      () => `state machine snapshot ends at ${endOffset}, beyond what was applied`,
    );
    this.entriesSinceSnapshot = 0;
    this.bytesSinceSnapshot = 0;
    if (result.kind === 'created') {
      this.logger.info(
        { nodeId: this.nodeId, endOffset, epoch: result.snapshot.id.epoch, snapshotBytes: bytes.length },
        'snapshot taken; log trimmed behind it',
      );
    }
  }

  /** Keeps one timer, at the core's next deadline (an earlier one is kept: an early tick is harmless). */
  private armTimer(): void {
    const deadlineMs = this.node.nextDeadlineMs();
    if (!Number.isFinite(deadlineMs)) return;
    if (this.timerAtMs !== undefined && this.timerAtMs <= deadlineMs) return;
    this.cancelTimer();
    this.timerAtMs = deadlineMs;
    this.timer = this.timers.schedule(() => this.onTimer(), deadlineMs - this.clock.nowMs());
  }

  private onTimer(): void {
    this.timer = undefined;
    this.timerAtMs = undefined;
    if (this.state !== 'running') return;
    if (this.guard(() => this.node.tick(this.clock.nowMs())) === undefined) return;
    this.kick();
  }

  private cancelTimer(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.timerAtMs = undefined;
  }

  /** Tells listeners about a new leader, epoch or local readiness. */
  private announceLeader(): void {
    const status = this.node.status();
    let change: LeaderChange;
    if (status.role === 'leader') {
      const ready = this.leaderReadyEpoch === status.epoch;
      change = { leaderId: ready ? this.nodeId : undefined, epoch: status.epoch, isLocalLeader: ready };
    } else {
      change = { leaderId: status.leaderId, epoch: status.epoch, isLocalLeader: false };
    }
    const last = this.announced;
    if (
      change.leaderId === last.leaderId &&
      change.epoch === last.epoch &&
      change.isLocalLeader === last.isLocalLeader
    ) {
      return;
    }
    this.announced = change;
    this.logger.info({ nodeId: this.nodeId, ...change, role: status.role }, 'raft leader changed');
    for (const listener of this.leaderListeners) {
      try {
        listener(change);
      } catch (error) {
        this.logger.error({ nodeId: this.nodeId, err: error }, 'leader-change listener threw');
      }
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // Failure

  /** Runs a core call; an exception there is an InvariantViolation (a bug): the driver stops. */
  private guard<T>(call: () => T): T | undefined {
    try {
      return call();
    } catch (error) {
      this.fail(error);
      return undefined;
    }
  }

  private fail(error: unknown): void {
    if (this.state !== 'running') return;
    this.state = 'failed';
    this.cancelTimer();
    this.logger.error({ nodeId: this.nodeId, err: error }, 'raft driver failed; stopping');
    this.rejectAllPending(new RaftDriverClosedError('failed'));
    const onFatalError =
      this.options.onFatalError ??
      ((fatal: unknown) => {
        // Outside any promise chain, so it is an uncaught exception: the process stops loudly.
        setImmediate(() => {
          throw fatal;
        });
      });
    onFatalError(error);
  }

  private rejectAllPending(error: Error): void {
    for (const proposals of this.pending.values()) {
      for (const proposal of proposals) {
        proposal.timer.cancel();
        proposal.reject(error);
      }
    }
    this.pending.clear();
  }

  /** Returns whether the proposal was still pending. */
  private removePending(offset: number, proposal: PendingProposal): boolean {
    const proposals = this.pending.get(offset);
    const index = proposals?.indexOf(proposal) ?? -1;
    if (proposals === undefined || index < 0) return false;
    proposals.splice(index, 1);
    if (proposals.length === 0) this.pending.delete(offset);
    return true;
  }
}

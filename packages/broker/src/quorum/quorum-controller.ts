// The active controller: the Raft leader of the metadata quorum runs the pure Controller from
// @gregor/metadata and turns its decisions into committed metadata records.
//
// Operations run one at a time, and each waits until its records are committed AND applied to this
// node's image before the next starts. So the controller's working image never runs ahead of the
// committed log by more than one batch, and a failed proposal (leadership lost, no quorum) is
// handled by throwing the controller away and rebuilding it from the committed image (as KRaft
// does on failover): no metadata change is applied twice or lost.

import { randomBytes } from 'node:crypto';
import type { Random } from '@gregor/ground';
import {
  Controller,
  type ControllerConfig,
  type ControllerOutcome,
  encodeMetadataBatch,
  isControllerError,
  type MetadataRecord,
} from '@gregor/metadata';
import { ErrorCode } from '@gregor/protocol';
import type { Logger } from '../logging.js';
import type { MetadataPublisher } from './metadata-publisher.js';

export interface LeaderChange {
  readonly leaderId: number | undefined;
  readonly epoch: number;
  readonly isLocalLeader: boolean;
}

/** What the controller needs of the Raft driver. */
export interface MetadataLog {
  propose(payload: Uint8Array, timeoutMs: number): Promise<{ offset: number; epoch: number }>;
  status(): {
    readonly leaderId: number | undefined;
    readonly epoch: number;
    readonly highWatermark: number;
    readonly logEndOffset: number;
    readonly isLeader: boolean;
  };
  onLeaderChange(listener: (change: LeaderChange) => void): void;
  /**
   * Whether this node leads the quorum AND a majority of the voters (itself included) fetched from
   * it within the last `maxAgeMs`, on the clock now. A leader that was paused or cut off still
   * says it leads (its Raft core has not ticked since, or has not yet heard of the new epoch);
   * this is what tells.
   */
  leadershipConfirmedWithin(maxAgeMs: number): boolean;
}

/** A quorum as its leader describes it: each voter's last fetch, on the clock that `clockNowMs` reads. */
export interface QuorumFetchView {
  readonly leaderId: number;
  readonly clockNowMs: number;
  readonly voters: readonly { readonly replicaId: number; readonly lastFetchMs: number }[];
}

/**
 * Whether a majority of the voters (the leader counts itself) fetched within `maxAgeMs` of
 * `clockNowMs`. A voter that has not fetched in this epoch (lastFetchMs -1) does not count.
 */
export function majorityFetchedWithin(quorum: QuorumFetchView, maxAgeMs: number): boolean {
  let fresh = 0;
  for (const voter of quorum.voters) {
    if (
      voter.replicaId === quorum.leaderId ||
      (voter.lastFetchMs >= 0 && quorum.clockNowMs - voter.lastFetchMs <= maxAgeMs)
    ) {
      fresh++;
    }
  }
  return fresh * 2 > quorum.voters.length;
}

export type ControllerCallResult<R> =
  | { readonly ok: true; readonly response: R; readonly committedOffset: number }
  | { readonly ok: false; readonly errorCode: number; readonly message: string; readonly leaderId: number };

export interface OperationContext {
  readonly nowMs: number;
  /** The metadata log end offset now (a registering broker must catch up to it). */
  readonly metadataLogEndOffset: number;
  /** The metadata log's high watermark now: every entry below it is committed. */
  readonly metadataHighWatermark: number;
}

/** Operations waiting for the controller; past this new ones are refused as overloaded. */
export const controllerQueueDepthMax = 10_000;
/** How long one metadata proposal may take to commit before the controller resigns. */
export const proposalTimeoutMsDefault = 5_000;
/** Re-check interval while a new leader waits to have applied the committed log. */
const activationPollMs = 10;

export interface QuorumControllerOptions {
  readonly nodeId: number;
  readonly clusterId: string;
  readonly log: MetadataLog;
  readonly publisher: MetadataPublisher;
  readonly config: Partial<ControllerConfig>;
  readonly random: Random;
  readonly nowMs: () => number;
  readonly logger: Logger;
  readonly proposalTimeoutMs?: number;
  /**
   * `controller.quorum.fetch.timeout.ms`: an operation answered at once (callAtOnce: heartbeats,
   * the metadata barrier) is answered only if a majority of voters fetched from this node within
   * it. Past it the followers may have elected another leader, whose controller fences this
   * node's broker and moves its leaderships; an answer from here would renew that broker's leader
   * lease all the same, and it would go on leading beside its successors (a controller paused
   * for 3.9 s did exactly that in chaos: it answered its own broker's heartbeat the moment it
   * resumed, before its Raft core ticked, and its broker took Produce requests as a leader
   * deposed 2 s earlier). Undefined: no check (tests of a single node).
   */
  readonly leadershipMaxAgeMs?: number;
}

export class QuorumController {
  private controller: Controller | null = null;
  private activeEpoch = -1;
  private activating = false;
  private queueDepth = 0;
  private chain: Promise<unknown> = Promise.resolve();
  private tickTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** What the last callAtOnce found of the leadership (leadershipMaxAgeMs); logged when it changes. */
  private leadershipConfirmed = true;

  constructor(private readonly options: QuorumControllerOptions) {
    options.log.onLeaderChange((change) => this.onLeaderChange(change));
  }

  get isActive(): boolean {
    return this.controller !== null;
  }

  /** The Raft leader this node knows of (-1 if none): where NOT_CONTROLLER sends callers. */
  knownLeaderId(): number {
    return this.options.log.status().leaderId ?? -1;
  }

  private onLeaderChange(change: LeaderChange): void {
    if (change.isLocalLeader) {
      if (this.activeEpoch !== change.epoch) {
        this.deactivate(`new epoch ${change.epoch}`);
        void this.activate(change.epoch);
      }
    } else if (this.controller !== null || this.activating) {
      this.deactivate(`leader is now ${change.leaderId ?? 'unknown'} in epoch ${change.epoch}`);
    }
  }

  /**
   * Becomes the active controller for `epoch` once this node has applied every committed entry:
   * the controller must start from the complete committed image (KRaft's "replay before acting").
   */
  private async activate(epoch: number): Promise<void> {
    if (this.activating || this.closed) return;
    this.activating = true;
    try {
      for (;;) {
        const status = this.options.log.status();
        if (!status.isLeader || status.epoch !== epoch || this.closed) return;
        // The leader's own leader-change entry is the last one: once it is committed and applied,
        // the image holds everything any earlier controller committed.
        if (
          status.highWatermark >= status.logEndOffset &&
          this.options.publisher.appliedOffset >= status.highWatermark - 1
        ) {
          const { controller, records } = Controller.activate({
            image: this.options.publisher.image,
            controllerId: this.options.nodeId,
            controllerEpoch: epoch,
            clusterId: this.options.clusterId,
            nowMs: this.options.nowMs(),
            metadataLogEndOffset: status.logEndOffset,
            random: this.options.random,
            secretBytes: randomBytes,
            config: this.options.config,
          });
          this.controller = controller;
          this.activeEpoch = epoch;
          // No record when this epoch's activation is already committed (rebuilt after a failure).
          const committed =
            records.length === 0 ? { ok: true as const } : await this.proposeAndApply(records);
          if (!committed.ok) {
            this.deactivate(`activation record did not commit: ${committed.message}`);
            return;
          }
          this.options.logger.info({ epoch, controllerId: this.options.nodeId }, 'active controller');
          this.scheduleTick(0);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, activationPollMs));
      }
    } finally {
      this.activating = false;
    }
  }

  private deactivate(reason: string): void {
    if (this.controller !== null) this.options.logger.info({ reason }, 'controller resigned');
    this.controller = null;
    this.activeEpoch = -1;
    // A next term as controller logs its own refusals, not the end of this one's.
    this.leadershipConfirmed = true;
    if (this.tickTimer !== undefined) clearTimeout(this.tickTimer);
    this.tickTimer = undefined;
  }

  /** A failed proposal leaves the working image ahead of the log: rebuild from the committed image. */
  private resign(reason: string): void {
    this.deactivate(reason);
    const status = this.options.log.status();
    if (status.isLeader && !this.closed) void this.activate(status.epoch);
  }

  private scheduleTick(delayMs: number): void {
    if (this.closed || this.controller === null) return;
    if (this.tickTimer !== undefined) clearTimeout(this.tickTimer);
    this.tickTimer = setTimeout(() => {
      this.tickTimer = undefined;
      void this.call((controller, context) => controller.tick(context.nowMs)).then((result) => {
        if (result.ok) {
          if (result.response.fencedBrokerIds.length > 0) {
            this.options.logger.warn(
              { brokers: result.response.fencedBrokerIds },
              'fenced brokers whose sessions expired',
            );
          }
          this.scheduleTick(Math.max(1, result.response.nextDeadlineMs - this.options.nowMs()));
        }
      });
    }, delayMs);
  }

  /**
   * Runs one controller operation: its records are proposed as one atomic batch; the promise
   * resolves once they are committed and applied here (or at once when there is nothing to write).
   */
  call<R>(
    operation: (controller: Controller, context: OperationContext) => ControllerOutcome<R>,
  ): Promise<ControllerCallResult<R>> {
    if (this.queueDepth >= controllerQueueDepthMax) {
      return Promise.resolve(
        this.notController(ErrorCode.THROTTLING_QUOTA_EXCEEDED, 'controller queue is full'),
      );
    }
    this.queueDepth++;
    const run = this.chain.then(() => this.runNow(operation));
    this.chain = run.finally(() => {
      this.queueDepth--;
    });
    return run;
  }

  /**
   * Runs one operation at once, ahead of the operations queued behind an earlier one's commit: for
   * broker heartbeats, which renew a session (and the broker's leader lease) and must not wait
   * seconds behind a slow commit, or every broker would stop leading whenever the quorum is slow.
   * The operation still runs on the working image, after every operation already run, and any
   * records it writes are proposed at once, after theirs: the log keeps one order of operations.
   * Not waiting for a commit, it first checks that a majority of voters still fetch from this node
   * (`leadershipMaxAgeMs`): NOT_CONTROLLER otherwise.
   */
  callAtOnce<R>(
    operation: (controller: Controller, context: OperationContext) => ControllerOutcome<R>,
  ): Promise<ControllerCallResult<R>> {
    const maxAgeMs = this.options.leadershipMaxAgeMs;
    if (this.controller !== null && maxAgeMs !== undefined) {
      const confirmed = this.options.log.leadershipConfirmedWithin(maxAgeMs);
      if (confirmed !== this.leadershipConfirmed) {
        // Logged on each change only: heartbeats arrive several times a second.
        if (confirmed) this.options.logger.info('a majority of voters fetches again: answering heartbeats');
        else
          this.options.logger.warn(
            { maxAgeMs },
            'no majority of voters fetched within controller.quorum.fetch.timeout.ms: refusing heartbeats',
          );
        this.leadershipConfirmed = confirmed;
      }
    }
    if (this.controller !== null && maxAgeMs !== undefined && !this.leadershipConfirmed) {
      return Promise.resolve(
        this.notController(
          ErrorCode.NOT_CONTROLLER,
          `no majority of voters fetched from this node within ${maxAgeMs} ms: it may have been deposed`,
        ),
      );
    }
    return this.runNow(operation);
  }

  private async runNow<R>(
    operation: (controller: Controller, context: OperationContext) => ControllerOutcome<R>,
  ): Promise<ControllerCallResult<R>> {
    const controller = this.controller;
    if (controller === null)
      return this.notController(ErrorCode.NOT_CONTROLLER, 'this node is not the active controller');
    const status = this.options.log.status();
    const outcome = operation(controller, {
      nowMs: this.options.nowMs(),
      metadataLogEndOffset: status.logEndOffset,
      metadataHighWatermark: status.highWatermark,
    });
    if (isControllerError(outcome)) {
      return {
        ok: false,
        errorCode: outcome.errorCode,
        message: outcome.errorMessage,
        leaderId: this.options.nodeId,
      };
    }
    if (outcome.records.length === 0) return { ok: true, response: outcome.response, committedOffset: -1 };
    const committed = await this.proposeAndApply(outcome.records);
    if (!committed.ok) return this.notController(ErrorCode.NOT_CONTROLLER, committed.message);
    return { ok: true, response: outcome.response, committedOffset: committed.offset };
  }

  private async proposeAndApply(
    records: readonly MetadataRecord[],
  ): Promise<{ ok: true; offset: number } | { ok: false; message: string }> {
    const timeoutMs = this.options.proposalTimeoutMs ?? proposalTimeoutMsDefault;
    try {
      const { offset } = await this.options.log.propose(encodeMetadataBatch(records), timeoutMs);
      if (!(await this.options.publisher.waitForOffset(offset, timeoutMs))) {
        this.resign(`committed offset ${offset} was not applied within ${timeoutMs} ms`);
        return { ok: false, message: 'metadata change committed but not applied in time' };
      }
      return { ok: true, offset };
    } catch (error) {
      this.resign(`proposal failed: ${(error as Error).message}`);
      return { ok: false, message: (error as Error).message };
    }
  }

  private notController(
    errorCode: number,
    message: string,
  ): { ok: false; errorCode: number; message: string; leaderId: number } {
    return { ok: false, errorCode, message, leaderId: this.knownLeaderId() };
  }

  close(): void {
    this.closed = true;
    this.deactivate('shutting down');
  }
}

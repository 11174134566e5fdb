// A partition leader's ISR changes on their way to the controller (Kafka's AlterPartitionManager):
// the shrink check over the lagging followers, the expansion a caught-up follower earns, one
// AlterPartition in flight per partition, a pause after a refusal, and resends of a proposal whose
// fate is unknown.
//
// A proposal takes effect only when the metadata image carries it (Partition.makeLeader with the
// new partition epoch). Until then the Partition counts it in its maximal ISR, so the high watermark
// already waits for a joining follower. An answer that does not say whether the change committed
// (no controller reached, a timeout, a controller that lost its quorum mid-commit) is therefore
// never treated as a refusal: reverting would let the high watermark stop waiting for a member the
// controller may already list in the ISR, and may elect; the replication simulation lost
// acknowledged batches that way. The same proposal is sent again every `retryBackoffMs` until the
// image or a definite answer settles it; the controller answers a resend of a change it already
// committed with the current state.

import type { Clock, TimerHandle, TimerScheduler } from '@gregor/ground';
import { ErrorCode, errorName } from '@gregor/protocol';
import type { ReplicationLogger } from './logger.js';
import type { Partition } from './partition.js';

/** Kafka's `replica.lag.time.max.ms` default. */
export const replicaLagTimeMaxMsDefault = 30_000;
/** After a refused AlterPartition the partition's next proposal waits this long; unknown outcomes are resent as often. */
export const isrChangeRetryBackoffMs = 500;

export interface AlterPartitionProposal {
  readonly topicId: string;
  readonly partitionIndex: number;
  readonly leaderEpoch: number;
  readonly partitionEpoch: number;
  readonly newIsr: readonly number[];
}

export interface AlterPartitionOutcome {
  /** NONE when committed; otherwise the controller's (or the transport's) error. */
  readonly errorCode: number;
  /** The partition epoch the change committed with, -1 on error. */
  readonly partitionEpoch: number;
}

/** Sends one AlterPartition to the controller; a rejection counts as an unknown outcome. */
export type AlterPartitionTransport = (proposal: AlterPartitionProposal) => Promise<AlterPartitionOutcome>;

/**
 * AlterPartition answers that do not say whether the change committed (no controller reached, a
 * timeout, a controller that lost its quorum while proposing): the proposal is sent again as is.
 */
export const alterPartitionOutcomeUnknown: ReadonlySet<number> = new Set([
  ErrorCode.REQUEST_TIMED_OUT,
  ErrorCode.NOT_CONTROLLER,
  ErrorCode.UNKNOWN_SERVER_ERROR,
  ErrorCode.THROTTLING_QUOTA_EXCEEDED,
]);

export interface IsrProposalsOptions {
  /** How proposals reach the controller; absent, the ISR never changes (single-node tests). */
  readonly alterPartition?: AlterPartitionTransport;
  readonly clock: Clock;
  readonly timers: TimerScheduler;
  readonly logger: ReplicationLogger;
  readonly replicaLagTimeMaxMs?: number;
  readonly retryBackoffMs?: number;
  /** A refused expansion no longer counts: the partition's high watermark may have moved. */
  readonly onHighWatermarkMayHaveMoved: (partition: Partition) => void;
  /**
   * The answers resent rather than taken as refusals; `alterPartitionOutcomeUnknown` unless a test
   * needs otherwise (the replication simulation's bug re-introduction passes an empty set, which is
   * the old revert-on-timeout behaviour it must keep catching).
   */
  readonly outcomeUnknownErrors?: ReadonlySet<number>;
}

export class IsrProposals {
  /** Per partition key: no proposal before this time (after a refusal). */
  private readonly retryNotBeforeMs = new Map<string, number>();
  /** Resend timers of proposals whose outcome is unknown. */
  private readonly resends = new Set<TimerHandle>();
  private closed = false;

  constructor(private readonly options: IsrProposalsOptions) {}

  get replicaLagTimeMaxMs(): number {
    return this.options.replicaLagTimeMaxMs ?? replicaLagTimeMaxMsDefault;
  }

  /**
   * The ISR-expiration check (Kafka runs it every replica.lag.time.max.ms / 2): proposes removing
   * the followers that have not caught up for the lag time. Returns how many proposals are pending.
   */
  shrinkLaggingIsrs(partitions: Iterable<Partition>, nowMs: number): number {
    if (this.closed) return 0;
    let proposals = 0;
    for (const partition of partitions) {
      const shrunk = partition.maybeShrinkIsr(nowMs, this.replicaLagTimeMaxMs);
      if (shrunk === undefined) continue;
      this.propose(partition, shrunk, nowMs, 'shrink');
      if (partition.pendingIsrChange !== undefined) proposals++;
    }
    return proposals;
  }

  /** A follower's fetch may have earned it a place in the ISR: propose it. */
  maybeExpand(partition: Partition, replicaId: number, nowMs: number): void {
    const expanded = partition.maybeExpandIsr(replicaId);
    if (expanded !== undefined) this.propose(partition, expanded, nowMs, 'expand');
  }

  /** The partition is gone or changed hands: a pause after an old refusal no longer applies. */
  forget(partitionKey: string): void {
    this.retryNotBeforeMs.delete(partitionKey);
  }

  /** No more proposals or resends. */
  close(): void {
    this.closed = true;
    for (const timer of this.resends) timer.cancel();
    this.resends.clear();
  }

  /** Proposes `newIsr` for `partition` unless a proposal is in flight or recently refused. */
  private propose(partition: Partition, newIsr: readonly number[], nowMs: number, why: string): void {
    const alterPartition = this.options.alterPartition;
    if (alterPartition === undefined || this.closed) return;
    if ((this.retryNotBeforeMs.get(partition.key) ?? 0) > nowMs) return;
    const pending = partition.beginIsrChange(newIsr);
    const leaderEpoch = partition.leaderEpoch;
    const logger = this.options.logger;
    const outcomeUnknownErrors = this.options.outcomeUnknownErrors ?? alterPartitionOutcomeUnknown;
    logger.info(
      { partition: partition.key, isr: partition.isr, proposedIsr: newIsr, why },
      'proposing an ISR change',
    );
    const send = (): void => {
      alterPartition({
        topicId: partition.topicId,
        partitionIndex: partition.index,
        leaderEpoch,
        partitionEpoch: pending.partitionEpoch,
        newIsr,
      }).then(settle, (error: unknown) => {
        logger.warn({ partition: partition.key, err: error }, 'AlterPartition failed');
        settle({ errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, partitionEpoch: -1 });
      });
    };
    const stillPending = (): boolean =>
      !this.closed && partition.pendingIsrChange === pending && partition.leaderEpoch === leaderEpoch;
    const settle = (outcome: AlterPartitionOutcome): void => {
      if (outcome.errorCode === ErrorCode.NONE && outcome.partitionEpoch > partition.partitionEpoch) {
        // Committed; it takes effect when the image carries it (makeLeader clears the pending change).
        return;
      }
      if (outcomeUnknownErrors.has(outcome.errorCode)) {
        this.resendLater(stillPending, send);
        return;
      }
      if (outcome.errorCode !== ErrorCode.NONE) {
        logger.info(
          { partition: partition.key, proposedIsr: newIsr, error: errorName(outcome.errorCode) },
          'ISR change refused',
        );
        this.retryNotBeforeMs.set(partition.key, this.options.clock.nowMs() + this.retryBackoffMs);
      }
      if (partition.isrChangeFailed(pending)) this.options.onHighWatermarkMayHaveMoved(partition);
    };
    send();
  }

  private get retryBackoffMs(): number {
    return this.options.retryBackoffMs ?? isrChangeRetryBackoffMs;
  }

  /** Sends the proposal again after the backoff, unless the image or a new epoch settled it meanwhile. */
  private resendLater(stillPending: () => boolean, send: () => void): void {
    if (this.closed) return;
    const timer = this.options.timers.schedule(() => {
      this.resends.delete(timer);
      if (stillPending()) send();
    }, this.retryBackoffMs);
    this.resends.add(timer);
  }
}

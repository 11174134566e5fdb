// The leader's append with idempotent-producer checks: the duplicate and sequence checks, the append
// and the state update happen as one step per partition, in arrival order.
//
// Why a queue of its own: PartitionLog.append serializes writes, but the check must see the state
// left by every earlier append of the same producer, and that state is updated only once an append
// succeeded (a failed write must not leave a sequence number behind). So record sets that carry a
// producer id wait for the previous such append of their partition before being checked. Record
// sets without one never wait here: they go to the log at once, as before.
//
// The state update runs in the same microtask run as the append's completion, before any I/O can
// happen in between: a role change that truncates the log (and so rebuilds or trims the state) needs
// I/O first, so it always sees this update already made.
//
// Everything it needs of the batches comes from the validation (LogAppendInfo): the record set is
// not read again, here or in storage.

import { ErrorCode, KafkaError } from '@gregor/protocol';
import type { AppendResult as LogAppendResult } from '@gregor/storage';
import type { AppendOrigin, LogAppendInfo } from './log-validator.js';
import type { Partition } from './partition.js';
import type { TransactionVerification } from './producer-state.js';

/** Idempotent record sets that may wait for one partition before new ones are refused. */
export const idempotentAppendsQueuedMax = 1024;

export interface LeaderAppendOutcome {
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly logStartOffset: number;
  /** A retry of batches already in the log: nothing was stored, the offsets are the original ones. */
  readonly duplicate: boolean;
}

interface PartitionQueue {
  tail: Promise<unknown>;
  depth: number;
}

export class IdempotentLeaderAppends {
  private readonly queues = new Map<string, PartitionQueue>();

  /**
   * Appends the validated record set to `partition` as leader of `leaderEpoch`. Refusals (sequence,
   * epoch, leadership) are thrown as KafkaError, as the other append checks are.
   */
  append(
    partition: Partition,
    info: LogAppendInfo,
    leaderEpoch: number,
    nowMs: number,
    origin: AppendOrigin = 'client',
    verification: TransactionVerification = { required: false },
  ): Promise<LeaderAppendOutcome> {
    if (!info.hasProducerState) {
      return partition.log
        .append(info.records, leaderEpoch, { validatedBatches: info.batches })
        .then((appended) => ({ ...appended, duplicate: false }));
    }
    let queue = this.queues.get(partition.key);
    if (queue === undefined) {
      queue = { tail: Promise.resolve(), depth: 0 };
      this.queues.set(partition.key, queue);
    }
    if (queue.depth >= idempotentAppendsQueuedMax) {
      return Promise.reject(
        new KafkaError(
          ErrorCode.REQUEST_TIMED_OUT,
          `${partition.key}: ${idempotentAppendsQueuedMax} idempotent appends already waiting`,
        ),
      );
    }
    const owned = queue;
    owned.depth++;
    const run = owned.tail.then(() =>
      this.appendChecked(partition, info, leaderEpoch, nowMs, origin, verification),
    );
    owned.tail = run.then(
      () => undefined,
      () => undefined,
    );
    void owned.tail.then(() => {
      owned.depth--;
      if (owned.depth === 0 && this.queues.get(partition.key) === owned) this.queues.delete(partition.key);
    });
    return run;
  }

  private async appendChecked(
    partition: Partition,
    info: LogAppendInfo,
    leaderEpoch: number,
    nowMs: number,
    origin: AppendOrigin,
    verification: TransactionVerification,
  ): Promise<LeaderAppendOutcome> {
    // Earlier appends took time: this one may no longer belong to a leader of that epoch.
    if (partition.role !== 'leader' || partition.leaderEpoch !== leaderEpoch) {
      throw new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER, `${partition.key}: leadership moved`);
    }
    const check = partition.producerState.checkLeaderAppend(
      info.batches,
      nowMs,
      origin === 'coordinator',
      verification,
    );
    if (check.kind === 'refused') throw new KafkaError(check.errorCode, check.message);
    if (check.kind === 'duplicate') {
      return {
        baseOffset: check.firstOffset,
        lastOffset: check.lastOffset,
        logStartOffset: partition.logStartOffset,
        duplicate: true,
      };
    }
    const appended = await partition.log.append(info.records, leaderEpoch, {
      validatedBatches: info.batches,
    });
    rememberAppended(partition, info, appended, nowMs);
    return { ...appended, duplicate: false };
  }
}

/** The producer state learns every appended batch, with the offsets the log gave them. */
function rememberAppended(
  partition: Partition,
  info: LogAppendInfo,
  appended: LogAppendResult,
  nowMs: number,
): void {
  let baseOffset = appended.baseOffset;
  for (const batch of info.batches) {
    const lastOffset = baseOffset + batch.lastOffsetDelta;
    if (batch.markerCommits !== null) {
      partition.producerState.applyMarker(
        { ...batch, baseOffset, lastOffset },
        batch.markerCommits,
        batch.markerCoordinatorEpoch,
      );
    } else {
      partition.producerState.applyBatch({ ...batch, baseOffset, lastOffset }, nowMs);
    }
    baseOffset = lastOffset + 1;
  }
}

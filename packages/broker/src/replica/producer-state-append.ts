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

import { ErrorCode, KafkaError } from '@gregor/protocol';
import type { Partition } from './partition.js';
import { hasProducerState } from './producer-state.js';
import { applyRecordSet, storedBatchesOf } from './producer-state-log.js';

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
   * Appends `records` (validated by validateRecordSet, CRCs included; offsets not assigned) to
   * `partition` as leader of `leaderEpoch`.
   * Refusals (sequence, epoch, leadership) are thrown as KafkaError, as the other append checks are.
   */
  append(
    partition: Partition,
    records: Buffer,
    leaderEpoch: number,
    nowMs: number,
  ): Promise<LeaderAppendOutcome> {
    // Callers pass record sets validateRecordSet has just checked (CRCs included): storage need not
    // compute every CRC a second time.
    const headers = storedBatchesOf(records);
    if (!headers.some(hasProducerState)) {
      return partition.log
        .append(records, leaderEpoch, { crcVerified: true })
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
    const run = owned.tail.then(() => this.appendChecked(partition, records, headers, leaderEpoch, nowMs));
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
    records: Buffer,
    headers: ReturnType<typeof storedBatchesOf>,
    leaderEpoch: number,
    nowMs: number,
  ): Promise<LeaderAppendOutcome> {
    // Earlier appends took time: this one may no longer belong to a leader of that epoch.
    if (partition.role !== 'leader' || partition.leaderEpoch !== leaderEpoch) {
      throw new KafkaError(ErrorCode.NOT_LEADER_OR_FOLLOWER, `${partition.key}: leadership moved`);
    }
    const check = partition.producerState.checkLeaderAppend(headers, nowMs);
    if (check.kind === 'refused') throw new KafkaError(check.errorCode, check.message);
    if (check.kind === 'duplicate') {
      return {
        baseOffset: check.firstOffset,
        lastOffset: check.lastOffset,
        logStartOffset: partition.logStartOffset,
        duplicate: true,
      };
    }
    const appended = await partition.log.append(records, leaderEpoch, { crcVerified: true });
    // `records` now carries the assigned offsets (the log rewrote them in place).
    applyRecordSet(partition.producerState, records, nowMs);
    return { ...appended, duplicate: false };
  }
}

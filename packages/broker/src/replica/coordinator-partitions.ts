// What both coordinator drivers (groups/group-coordinator-driver.ts for `__consumer_offsets`,
// transactions/transaction-coordinator-driver.ts for `__transaction_state`) do with the internal
// topic partitions they lead, apart from which records they write and how they read them back:
//  - load: read a partition's log from its start to its end, chunk by chunk, for the coordinator
//    to rebuild its state from;
//  - append: hand each append's outcome back in append order per partition (a coordinator checks
//    that order), whatever order replication answers in;
//  - time: one timer, armed at the coordinator's next deadline.

import type { Clock, TimerHandle, TimerScheduler } from '@gregor/ground';
import { type DecodedBatch, ErrorCode, iterateBatches } from '@gregor/protocol';
import type { Partition } from './partition.js';

/**
 * Hands `loadChunk` the batches of `partition`'s log from its log start to its log end as of now,
 * read `chunkBytes` at a time, with the chunk they were decoded from. As Kafka's loaders do, it
 * reads to the log end, not the high watermark: this broker is the leader, so its log is the one
 * followers converge to, and records above the high watermark are those about to be committed.
 * Skips ahead when retention or the cleaner moved the log start past what it was about to read.
 * Resolves false as soon as `current()` is false (the load was superseded), else true; `what`
 * names the partition in the error thrown when its log shrank below the read.
 */
export async function readLogToEnd(
  partition: Partition,
  chunkBytes: number,
  current: () => boolean,
  what: string,
  loadChunk: (batches: readonly DecodedBatch[], chunk: Buffer) => void,
): Promise<boolean> {
  const log = partition.log;
  const endOffset = log.logEndOffset;
  let offset = log.logStartOffset;
  while (offset < endOffset) {
    const read = await log.read(offset, chunkBytes, { maxOffsetExclusive: endOffset });
    if (!current()) return false;
    if (read.errorCode !== ErrorCode.NONE) {
      // Retention or the cleaner moved the log start past `offset`: what was there is gone.
      if (read.logStartOffset > offset) {
        offset = read.logStartOffset;
        continue;
      }
      throw new Error(`${what} shrank below ${offset} while loading`);
    }
    if (read.records.length === 0) break;
    const batches: DecodedBatch[] = [];
    for (const batch of iterateBatches(read.records)) {
      batches.push(batch);
      offset = batch.header.lastOffset + 1;
    }
    loadChunk(batches, read.records);
  }
  return true;
}

/**
 * Per partition, the completions of appends started in order, run in that same order: each
 * `complete` runs once its own outcome is known and every earlier append's `complete` has run.
 */
export class OrderedAppendCompletions {
  /** Per partition: the completion of its latest append. */
  private readonly tails = new Map<number, Promise<void>>();

  add(partitionIndex: number, outcome: Promise<number>, complete: (errorCode: number) => void): void {
    const previous = this.tails.get(partitionIndex) ?? Promise.resolve();
    const tail = previous.then(() => outcome).then(complete);
    this.tails.set(partitionIndex, tail);
    void tail.then(() => {
      if (this.tails.get(partitionIndex) === tail) this.tails.delete(partitionIndex);
    });
  }
}

/**
 * One timer at a coordinator's next deadline: `arm` moves it (null: none), `fire` runs when it
 * passes. A deadline further than `delayMsMax` away is reached by firing early, and the coordinator
 * finds nothing due and arms again (Node's setTimeout takes at most 2^31-1 ms and fires at once
 * beyond it).
 */
export class DeadlineTimer {
  private timer: TimerHandle | undefined;
  private deadlineMs: number | null = null;

  constructor(
    private readonly timers: TimerScheduler,
    private readonly clock: Clock,
    private readonly delayMsMax: number,
    private readonly fire: () => void,
  ) {}

  arm(deadlineMs: number | null): void {
    if (deadlineMs === this.deadlineMs && (deadlineMs === null || this.timer !== undefined)) return;
    this.cancel();
    if (deadlineMs === null) return;
    const delayMs = Math.min(this.delayMsMax, Math.max(0, deadlineMs - this.clock.nowMs()));
    this.deadlineMs = deadlineMs;
    this.timer = this.timers.schedule(() => {
      this.timer = undefined;
      this.deadlineMs = null;
      this.fire();
    }, delayMs);
  }

  cancel(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.deadlineMs = null;
  }
}

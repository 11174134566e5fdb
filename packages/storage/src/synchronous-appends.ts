// The driver of append-write-policy.ts: writes an append synchronously when the current turn of the
// event loop has budget left, with performance.now() as the clock and setImmediate as "the next
// turn" (it runs after the I/O callbacks of this turn, where the produce and fetch handlers append).
// A synchronous write is a buffered write into the page cache (writeSync), not an fsync: durability
// is the flush policy's, as with the thread pool.
//
// One per process: the event loop it budgets is the process's. Off until `start()` (the broker
// starts it when gregor.log.append.synchronous.enable is true); while off, every append goes to
// the thread pool. start()/stop() are counted, so brokers sharing a process (tests) can each start
// and stop it.

import { writeSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import type { Clock } from '@gregor/ground';
import {
  type AppendWriteBudget,
  type AppendWriteCounts,
  AppendWritePolicy,
  appendWriteBudgetDefault,
} from './append-write-policy.js';

/** performance.now() unfloored: the budget is 1 ms, which a whole-millisecond clock cannot measure. */
const preciseClock: Clock = Object.freeze({ nowMs: () => performance.now() });

const atNextTurn = (reset: () => void): void => {
  setImmediate(reset);
};

export class SynchronousAppends {
  private policy: AppendWritePolicy;
  private starts = 0;

  constructor(
    private readonly clock: Clock = preciseClock,
    private readonly nextTurn: (reset: () => void) => void = atNextTurn,
  ) {
    this.policy = new AppendWritePolicy(clock, nextTurn);
  }

  /** The policy now (for the loop sampler and tests). */
  get current(): AppendWritePolicy {
    return this.policy;
  }

  /** What the current policy has done since the first start. */
  get counts(): AppendWriteCounts {
    return this.policy.counts;
  }

  get running(): boolean {
    return this.starts > 0;
  }

  /** Starts synchronous appends (the first start sets the budget; later ones only count). */
  start(budget: AppendWriteBudget = appendWriteBudgetDefault): void {
    this.starts++;
    if (this.starts === 1) this.policy = new AppendWritePolicy(this.clock, this.nextTurn, budget);
  }

  /** Undoes one start(); after the last one every append goes to the thread pool. */
  stop(): void {
    if (this.starts > 0) this.starts--;
  }

  /**
   * Writes all of `buffer` at `position` of `fd` synchronously and returns true, or returns false
   * without writing when the caller must write through the thread pool (off, too large, or the
   * turn's budget used). A failed write throws as the asynchronous one rejects; part of it may be
   * in the file.
   */
  tryWrite(fd: number, buffer: Buffer, position: number): boolean {
    if (this.starts === 0) return false;
    return this.policy.tryWrite(buffer.length, () => {
      let written = 0;
      // Loops only for a short write (rare on regular files).
      while (written < buffer.length) {
        written += writeSync(fd, buffer, written, buffer.length - written, position + written);
      }
    });
  }
}

/** The process's, used by every LogSegment. */
export const synchronousAppends = new SynchronousAppends();

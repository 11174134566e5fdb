// Whether a small append is written with one synchronous system call on the event loop or through
// the thread pool: synchronously while the current turn of the event loop has budget left (issue 13).
//
// Why both: a buffered write of a small append only copies bytes into the page cache (9 us for
// 100 B), while through the thread pool it costs two thread wake-ups and a promise (82 us on the
// leader, 140-180 us on each follower in series, in the timeline of one acks=all round, session
// s10: the round went 879 -> 683 us synchronously), and more CPU per MB (s14, s16: 26-39% less for
// the brokers of RF 3 acks=all on a loaded machine). But every synchronous write lengthens the turn
// of the loop it runs in, and a busy turn with many of them made the loop's stops longer (s14, s16).
// s16 decided after the fact, from 100 ms windows, and reacted too late. This rule bounds the stop
// before it happens: the synchronous writes of one turn may use `turnWriteMsMax` of measured write
// time and `turnBytesMax` bytes; once either is used up, appends go to the thread pool until the
// next turn. So a turn's synchronous writes stop the loop for at most the budget plus one write.
//
// Pure: the clock and "call this at the next turn" are passed in (the driver, synchronous-appends.ts,
// gives performance.now() and setImmediate); no I/O of its own.

import type { Clock } from '@gregor/ground';

export interface AppendWriteBudget {
  /** Appends larger than this always go to the thread pool (a follower catching up: 1 MiB fetches). */
  readonly synchronousBytesMax: number;
  /** Measured write time a turn's synchronous writes may use before the rest go to the thread pool. */
  readonly turnWriteMsMax: number;
  /** Bytes a turn's synchronous writes may copy before the rest go to the thread pool. */
  readonly turnBytesMax: number;
}

export const appendWriteBudgetDefault: AppendWriteBudget = Object.freeze({
  // A produce request's batch of one partition (16 KiB is the producers' default batch.size), or a
  // follower's append of what a caught-up fetch brought.
  synchronousBytesMax: 64 * 1024,
  // 1 ms: a 64 KiB copy into the page cache takes tens of microseconds and a 100 B one ~9 us, so a
  // turn of ordinary appends stays far below it; a turn that reaches it has many appends (a busy
  // loop, where s14/s16 saw the stops grow) or a slow write (the kernel throttling the writer, or
  // the thread preempted), and the turn's remaining appends then cost the loop nothing. Well under
  // the 5 ms a turn may take before the loop sampler counts it as a stop worth looking at.
  turnWriteMsMax: 1,
  // 256 KiB: four of the largest synchronous appends, or sixteen 16 KiB producer batches, per turn;
  // bounds the copying of one turn when the clock's measured time is too coarse or too low (a copy
  // whose page faults land after the clock was read).
  turnBytesMax: 256 * 1024,
});

/** What the policy has done since it was made (for the loop sampler and tests). */
export interface AppendWriteCounts {
  /** Appends written synchronously (a failed one counts). */
  readonly synchronous: number;
  /** Appends of at most `synchronousBytesMax` sent to the thread pool because the turn's budget was used. */
  readonly overBudget: number;
  /** Turns whose budget was used up with an append still wanting to write. */
  readonly turnsExhausted: number;
}

export class AppendWritePolicy {
  private turnWriteMs = 0;
  private turnBytes = 0;
  /** A reset is scheduled for the next turn (set by the first synchronous write of a turn). */
  private turnOpen = false;
  private turnCountedExhausted = false;
  private synchronous = 0;
  private overBudget = 0;
  private turnsExhausted = 0;

  /**
   * `clock` must have sub-millisecond resolution (not monotonicClock, which floors); `atNextTurn`
   * calls its argument once at the start of the next turn of the event loop.
   */
  constructor(
    private readonly clock: Clock,
    private readonly atNextTurn: (reset: () => void) => void,
    readonly budget: AppendWriteBudget = appendWriteBudgetDefault,
  ) {}

  get counts(): AppendWriteCounts {
    return {
      synchronous: this.synchronous,
      overBudget: this.overBudget,
      turnsExhausted: this.turnsExhausted,
    };
  }

  /** Whether an append of `bytes` would be written synchronously now. */
  writesSynchronously(bytes: number): boolean {
    return (
      bytes <= this.budget.synchronousBytesMax &&
      this.turnWriteMs < this.budget.turnWriteMsMax &&
      this.turnBytes < this.budget.turnBytesMax
    );
  }

  /**
   * Runs `write` (a synchronous write of `bytes`) and returns true if this turn's budget allows it;
   * otherwise returns false without running it, and the caller writes through the thread pool. The
   * write's time counts against the turn even when it throws (the throw goes to the caller).
   */
  tryWrite(bytes: number, write: () => void): boolean {
    if (!this.writesSynchronously(bytes)) {
      if (bytes <= this.budget.synchronousBytesMax) {
        this.overBudget++;
        if (!this.turnCountedExhausted) {
          this.turnCountedExhausted = true;
          this.turnsExhausted++;
        }
      }
      return false;
    }
    if (!this.turnOpen) {
      this.turnOpen = true;
      this.atNextTurn(this.resetTurn);
    }
    this.synchronous++;
    const startMs = this.clock.nowMs();
    try {
      write();
    } finally {
      this.turnWriteMs += this.clock.nowMs() - startMs;
      this.turnBytes += bytes;
    }
    return true;
  }

  private readonly resetTurn = (): void => {
    this.turnOpen = false;
    this.turnCountedExhausted = false;
    this.turnWriteMs = 0;
    this.turnBytes = 0;
  };
}

// Time enters Gregor's code only through a Clock, so tests and the simulator drive deadlines, rolls,
// retention and sessions by moving a ManualClock instead of sleeping.

export interface Clock {
  /** Milliseconds; which origin depends on the clock (wall time or monotonic). */
  nowMs(): number;
}

/**
 * Wall time (milliseconds since the Unix epoch): for what is compared with record timestamps or
 * written to a log (retention, commit timestamps). It can jump when NTP steps the clock.
 */
export const systemClock: Clock = Object.freeze({
  nowMs: () => Date.now(),
});

/**
 * A clock that never goes back (performance.now(), floored to whole milliseconds so deadlines and
 * logs stay readable): for timeouts and elections. The Raft core refuses time going back.
 */
export const monotonicClock: Clock = Object.freeze({
  nowMs: () => Math.floor(performance.now()),
});

/** A clock that moves only when told to; for tests and simulations. */
export class ManualClock implements Clock {
  constructor(private currentMs = 0) {}

  nowMs(): number {
    return this.currentMs;
  }

  advanceMs(deltaMs: number): void {
    if (deltaMs < 0) throw new RangeError(`clock cannot go back by ${deltaMs} ms`);
    this.currentMs += deltaMs;
  }
}

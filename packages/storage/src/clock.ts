// Time enters the log only through this interface, so tests and the simulator drive rolls, retention
// and flush.ms deadlines with a fake clock instead of sleeping.

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  nowMs(): number;
}

/** The production clock: wall time, because retention compares against record timestamps. */
export const systemClock: Clock = {
  nowMs: () => Date.now(),
};

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

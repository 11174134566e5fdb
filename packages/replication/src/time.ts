// Time enters replication only through these two interfaces: the broker passes the system clock and
// Node's timers, the simulation its simulated clock and event scheduler, unit tests manual ones.
// (The same shapes as storage's Clock and the broker's timers, so one object can serve all of them.)

export interface Clock {
  /** Milliseconds; the broker passes wall time, the simulation its simulated time. */
  nowMs(): number;
}

export interface TimerScheduler {
  setTimeout(callback: () => void, delayMs: number): unknown;
  clearTimeout(handle: unknown): void;
}

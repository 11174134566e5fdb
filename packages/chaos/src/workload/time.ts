// The campaign's two clocks (see history.ts): CLOCK_MONOTONIC in milliseconds, the same in every
// process on the machine (Python's time.monotonic_ns reads it too), and the wall clock.

export function monoMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export function stamp(): { wallMs: number; monoMs: number } {
  return { wallMs: Date.now(), monoMs: monoMs() };
}

// A mark-compact when the broker's external memory (the bytes of Buffers, mostly) has grown by
// `gregor.external.memory.gc.growth.bytes` since it was last at its lowest, at most once per
// `forcedMarkCompactIntervalMsMin`. Why: a request's Buffers that live through two scavenges (a few
// milliseconds under load with 4 MiB semi-spaces) are freed only by a mark-compact, and V8 starts
// one for external memory only after it grew by a fixed 64 MB (no flag changes that). Meanwhile
// malloc hands out those 64 MB and keeps them resident once they are freed (free chunks among live
// ones), so a broker that ran a high-rate cell held 75-90 MB of malloc's heap for good. Collecting
// earlier keeps that garbage, and so malloc's heap, small, and V8's old space with it.
// Off by default: at 16 MiB it took the brokers' most resident memory from 213 to 154 MB (median)
// but cost 1.5-2.5x the CPU per MB in the RF 3 cells of bench:replication (packages/broker/README.md,
// "Resident memory at steady load"). One per process: `gregor broker start` starts it, not
// GregorNode, since in-process clusters put several nodes in one process.

import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type Clock, invariant, monotonicClock } from '@gregor/ground';

/** The growth measured with (16 MiB): what `gregor.external.memory.gc.growth.bytes` was set to. */
export const externalMemoryGrowthBytesMeasured = 16 * 1024 * 1024;
/** The smallest growth accepted: below it the collections would mostly find live Buffers. */
export const externalMemoryGrowthBytesMin = 1024 * 1024;
/** Forced mark-compacts are at least this far apart, whatever the growth: a bound on their cost. */
export const forcedMarkCompactIntervalMsMin = 1_000;
/** How often external memory is read (v8.getHeapStatistics(): under a microsecond). */
export const externalMemorySampleIntervalMs = 100;

/** The pure part: given a reading of external memory, whether to collect now. */
export class ExternalMemoryGcPolicy {
  /** The lowest reading since the last forced collection; undefined right after one. */
  private floorBytes: number | undefined;
  private lastForcedMs: number | undefined;

  constructor(
    private readonly growthBytesMax: number,
    private readonly intervalMsMin: number,
  ) {
    invariant(growthBytesMax > 0, `growthBytesMax ${growthBytesMax} must be positive`);
    invariant(intervalMsMin >= 0, `intervalMsMin ${intervalMsMin} must not be negative`);
  }

  /**
   * A reading of `externalBytes` at `nowMs`: true when it is `growthBytesMax` above the lowest
   * reading since the last forced collection and that was at least `intervalMsMin` ago. The lowest
   * reading stands for what was live (V8's own collections lower it too); the reading after a
   * forced collection starts the next floor, so memory that stays live does not start another.
   */
  sample(nowMs: number, externalBytes: number): boolean {
    if (this.floorBytes === undefined || externalBytes < this.floorBytes) this.floorBytes = externalBytes;
    if (externalBytes - this.floorBytes < this.growthBytesMax) return false;
    if (this.lastForcedMs !== undefined && nowMs - this.lastForcedMs < this.intervalMsMin) return false;
    this.lastForcedMs = nowMs;
    this.floorBytes = undefined;
    return true;
  }
}

/**
 * V8's `gc()` (a full, atomic mark-compact) without exposing it to the process's own global:
 * `--expose-gc` set now installs it in contexts created afterwards, and one such context hands it
 * over.
 */
function markCompactFunction(): () => void {
  setFlagsFromString('--expose-gc');
  const gc: unknown = runInNewContext('gc');
  invariant(typeof gc === 'function', 'V8 did not expose gc() after --expose-gc');
  return gc as () => void;
}

export interface ExternalMemoryGcStats {
  /** Forced mark-compacts so far, and the ms they took together. */
  readonly count: number;
  readonly totalMs: number;
}

/**
 * Starts watching, collecting after `growthBytesMax` of growth; `stop` ends it. The timer never
 * keeps the process alive. `collect` is V8's gc() unless a test passes its own.
 */
export function collectExternalMemoryGarbage(
  growthBytesMax: number,
  clock: Clock = monotonicClock,
  collect: () => void = markCompactFunction(),
): { stop(): void; stats(): ExternalMemoryGcStats } {
  invariant(
    growthBytesMax >= externalMemoryGrowthBytesMin,
    `growthBytesMax ${growthBytesMax} below ${externalMemoryGrowthBytesMin}`,
  );
  const policy = new ExternalMemoryGcPolicy(growthBytesMax, forcedMarkCompactIntervalMsMin);
  let count = 0;
  let totalMs = 0;
  const timer = setInterval(() => {
    const startMs = clock.nowMs();
    if (!policy.sample(startMs, getHeapStatistics().external_memory)) return;
    collect();
    count++;
    totalMs += clock.nowMs() - startMs;
  }, externalMemorySampleIntervalMs);
  timer.unref();
  return {
    stop: () => clearInterval(timer),
    stats: () => ({ count, totalMs }),
  };
}

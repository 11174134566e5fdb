// Warns when the node's event loop was blocked. Every request, heartbeat, Raft round and replica
// fetch of a Gregor node waits on its one event loop, so a stall of a second or more (a busy loop, a
// synchronous call on a stalled disk, the process stopped or starved of CPU) explains the fencings,
// elections and client timeouts that follow; without this line the node's log shows only silence.
// A timer that should fire every `intervalMs` measures how late it ran.

import type { Clock } from '@gregor/ground';
import type { Logger } from 'pino';

/** The pure part: how late a tick due at `dueMs` ran, if that is a stall worth reporting. */
export class EventLoopStallDetector {
  private dueMs: number;

  constructor(
    private readonly intervalMs: number,
    private readonly thresholdMs: number,
    nowMs: number,
  ) {
    this.dueMs = nowMs + intervalMs;
  }

  /** Called at each tick: the stall in ms, or undefined when the tick was on time (within threshold). */
  tick(nowMs: number): number | undefined {
    const lateMs = nowMs - this.dueMs;
    this.dueMs = nowMs + this.intervalMs;
    return lateMs >= this.thresholdMs ? lateMs : undefined;
  }
}

export interface EventLoopStallWatchOptions {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly intervalMs?: number;
  readonly thresholdMs?: number;
}

/** Starts watching; returns the function that stops it. The timer never keeps the process alive. */
export function watchEventLoopStalls(options: EventLoopStallWatchOptions): () => void {
  const intervalMs = options.intervalMs ?? 500;
  const detector = new EventLoopStallDetector(
    intervalMs,
    options.thresholdMs ?? 1_000,
    options.clock.nowMs(),
  );
  const timer = setInterval(() => {
    const stalledMs = detector.tick(options.clock.nowMs());
    if (stalledMs !== undefined) {
      options.logger.warn({ stalledMs }, `event loop was blocked for ${stalledMs} ms`);
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

// Kafka's "purgatory": requests that wait for something (a long-polling Fetch waiting for bytes,
// an acks=all Produce waiting for the high watermark) park here, keyed by partition, and are
// re-checked only when that partition changes. Nothing polls; nothing busy-waits. Timeouts run on
// the TimerScheduler it is given: Node's timers in the broker, the simulated clock in the sim.

import type { TimerHandle, TimerScheduler } from '@gregor/ground';

/** Waiting operations held at once; past this a new one completes at once as if it had timed out. */
export const delayedOperationsMax = 100_000;

interface Waiter {
  readonly keys: readonly string[];
  readonly isSatisfied: () => boolean;
  readonly resolve: (satisfied: boolean) => void;
  timer: TimerHandle | undefined;
  done: boolean;
}

export class DelayedOperations {
  private readonly waitersByKey = new Map<string, Set<Waiter>>();
  private waiterCount = 0;

  constructor(private readonly scheduler: TimerScheduler) {}

  get size(): number {
    return this.waiterCount;
  }

  /**
   * Resolves true as soon as `isSatisfied()` holds (checked now and on every `notify` of one of
   * `keys`), or false when `timeoutMs` passes first.
   */
  waitUntil(keys: readonly string[], timeoutMs: number, isSatisfied: () => boolean): Promise<boolean> {
    if (isSatisfied()) return Promise.resolve(true);
    if (timeoutMs <= 0 || keys.length === 0 || this.waiterCount >= delayedOperationsMax) {
      return Promise.resolve(false);
    }
    return new Promise<boolean>((resolve) => {
      const waiter: Waiter = { keys, isSatisfied, resolve, timer: undefined, done: false };
      waiter.timer = this.scheduler.schedule(() => this.finish(waiter, false), timeoutMs);
      for (const key of keys) {
        let set = this.waitersByKey.get(key);
        if (set === undefined) {
          set = new Set();
          this.waitersByKey.set(key, set);
        }
        set.add(waiter);
      }
      this.waiterCount++;
    });
  }

  /** Something about `key` changed: complete every waiter on it that is now satisfied. */
  notify(key: string): void {
    const set = this.waitersByKey.get(key);
    if (set === undefined) return;
    for (const waiter of [...set]) {
      if (!waiter.done && waiter.isSatisfied()) this.finish(waiter, true);
    }
  }

  /** Completes every waiter on `key` now, satisfied or not (leadership lost, partition deleted). */
  expireKey(key: string): void {
    const set = this.waitersByKey.get(key);
    if (set === undefined) return;
    for (const waiter of [...set]) this.finish(waiter, waiter.isSatisfied());
  }

  /** Completes every waiter (shutdown). */
  expireAll(): void {
    for (const key of [...this.waitersByKey.keys()]) this.expireKey(key);
  }

  private finish(waiter: Waiter, satisfied: boolean): void {
    if (waiter.done) return;
    waiter.done = true;
    waiter.timer?.cancel();
    for (const key of waiter.keys) {
      const set = this.waitersByKey.get(key);
      if (set === undefined) continue;
      set.delete(waiter);
      if (set.size === 0) this.waitersByKey.delete(key);
    }
    this.waiterCount--;
    waiter.resolve(satisfied);
  }
}

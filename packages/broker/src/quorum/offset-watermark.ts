// A monotonically advancing offset that callers can wait on (e.g. "metadata applied up to N").

interface OffsetWaiter {
  readonly offset: number;
  readonly resolve: (reached: boolean) => void;
  readonly timer: NodeJS.Timeout;
}

/** Waiters held at once; past this, a new wait answers false at once rather than grow without bound. */
export const offsetWaitersMax = 100_000;

export class OffsetWatermark {
  private value: number;
  private waiters: OffsetWaiter[] = [];

  constructor(initial = -1) {
    this.value = initial;
  }

  get offset(): number {
    return this.value;
  }

  /** Moves the watermark forward (never back) and wakes every waiter it now covers. */
  advanceTo(offset: number): void {
    if (offset <= this.value) return;
    this.value = offset;
    if (this.waiters.length === 0) return;
    const still: OffsetWaiter[] = [];
    for (const waiter of this.waiters) {
      if (waiter.offset <= offset) {
        clearTimeout(waiter.timer);
        waiter.resolve(true);
      } else {
        still.push(waiter);
      }
    }
    this.waiters = still;
  }

  /** Resolves true once the watermark reaches `offset`, false after `timeoutMs`. */
  waitFor(offset: number, timeoutMs: number): Promise<boolean> {
    if (this.value >= offset) return Promise.resolve(true);
    if (this.waiters.length >= offsetWaitersMax) return Promise.resolve(false);
    return new Promise((resolve) => {
      const waiter: OffsetWaiter = {
        offset,
        resolve,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((other) => other !== waiter);
          resolve(false);
        }, timeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  close(): void {
    for (const waiter of this.waiters) {
      clearTimeout(waiter.timer);
      waiter.resolve(false);
    }
    this.waiters = [];
  }
}

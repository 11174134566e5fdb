// Runs independent async tasks with a bound on how many are in flight: enough to overlap the
// latency of file system calls (fsync above all) without queueing thousands of them at once.

/**
 * Calls `task` for every item, at most `concurrency` at a time, in order of start. Resolves once all
 * are done; if any failed, rejects with the first failure after the tasks already started settled
 * (no new one starts after a failure).
 */
export async function forEachConcurrently<T>(
  items: readonly T[],
  concurrency: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { readonly error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const item = items[next]!;
      next += 1;
      try {
        await task(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  const workers = Math.max(1, Math.min(concurrency, items.length));
  await Promise.all(Array.from({ length: workers }, worker));
  if (failure !== undefined) throw failure.error;
}

/**
 * At most `limit` tasks run at a time; the others wait their turn in order of arrival. For work
 * whose callers arrive on their own (each with memory of its own in flight) rather than as one list.
 */
export class ConcurrencyLimit {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((turn) => this.waiting.push(turn));
    else this.running += 1;
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next === undefined) this.running -= 1;
      else next();
    }
  }
}

// At most `limit` tasks at once; the others wait in the order they came. The consumer hands
// partitions' batches on through one (kafkajs's partitionsConsumedConcurrently).

export class ConcurrencyLimit {
  private running = 0;
  /** Tasks waiting for a slot, oldest first; at most one per partition of a Fetch round. */
  private readonly waiting: (() => void)[] = [];

  constructor(readonly limit: number) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new RangeError(`a concurrency limit is a whole number of at least 1, not ${limit}`);
    }
  }

  /** Runs `task` once a slot is free; a finished task hands its slot to the oldest waiting one. */
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running < this.limit) {
      this.running++;
    } else {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next === undefined) this.running--;
      else next();
    }
  }
}

// The bounded hand-over between the consumer's fetch loop and consumer.batches(): push() waits
// while maxItems are queued, so the loop fetches nothing more until the reader takes one; close()
// empties it, lets a waiting push() go (refused) and ends the reader (with an error, after a crash).

export class BatchQueue<T> {
  private readonly items: T[] = [];
  private readonly pushers: (() => void)[] = [];
  private reader: ((item: T | undefined) => void) | undefined;
  private readerFailed: ((error: Error) => void) | undefined;
  private closed = false;
  private failure: Error | undefined;

  constructor(readonly maxItems: number) {
    if (!Number.isInteger(maxItems) || maxItems < 1) {
      throw new RangeError(`maxItems must be a positive integer, not ${maxItems}`);
    }
  }

  get length(): number {
    return this.items.length;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Queues an item, waiting for room first; false when the queue was closed (the item is dropped). */
  async push(item: T): Promise<boolean> {
    while (!this.closed && this.items.length >= this.maxItems) {
      await new Promise<void>((resolve) => this.pushers.push(resolve));
    }
    if (this.closed) return false;
    if (this.reader !== undefined) {
      const reader = this.reader;
      this.reader = undefined;
      this.readerFailed = undefined;
      reader(item);
    } else {
      this.items.push(item);
    }
    return true;
  }

  /** The next item; undefined once closed (rejects with the close's error when it had one). */
  shift(): Promise<T | undefined> {
    if (this.items.length > 0) {
      const item = this.items.shift()!;
      this.pushers.shift()?.();
      return Promise.resolve(item);
    }
    if (this.closed)
      return this.failure === undefined ? Promise.resolve(undefined) : Promise.reject(this.failure);
    if (this.reader !== undefined) throw new Error('BatchQueue: one reader at a time');
    return new Promise((resolve, reject) => {
      this.reader = resolve;
      this.readerFailed = reject;
    });
  }

  /** Drops what is queued, refuses waiting and later pushes, ends the reader. */
  close(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.failure = error;
    this.items.length = 0;
    for (const wake of this.pushers.splice(0)) wake();
    const reader = this.reader;
    const readerFailed = this.readerFailed;
    this.reader = undefined;
    this.readerFailed = undefined;
    if (error !== undefined) readerFailed?.(error);
    else reader?.(undefined);
  }
}

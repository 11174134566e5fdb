// Runs async operations one at a time, in submission order. Each partition log owns one, so two
// appends (or an append and a truncation) never interleave their writes and in-memory updates.

import { StorageQueueFullError } from './errors.js';

export class SerialQueue {
  private tail: Promise<unknown> = Promise.resolve();
  private pendingCount = 0;

  constructor(
    private readonly name: string,
    /** Operations allowed to wait at once; beyond it submit() throws instead of growing memory. */
    private readonly pendingOperationsMax: number,
  ) {}

  get pending(): number {
    return this.pendingCount;
  }

  run<T>(operation: () => Promise<T>): Promise<T> {
    if (this.pendingCount >= this.pendingOperationsMax) {
      return Promise.reject(new StorageQueueFullError(this.name, this.pendingOperationsMax));
    }
    // Idle queue: start now instead of one promise hop later (the append hot path is usually idle).
    const result = this.pendingCount === 0 ? startNow(operation) : this.tail.then(operation);
    this.pendingCount += 1;
    // The chain continues whether the operation failed or not; the caller sees the failure.
    this.tail = result.then(
      () => {
        this.pendingCount -= 1;
      },
      () => {
        this.pendingCount -= 1;
      },
    );
    return result;
  }
}

function startNow<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return operation();
  } catch (error) {
    return Promise.reject(error);
  }
}

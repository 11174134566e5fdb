// The bytes that requests in flight may hold across every connection: Kafka's
// `queued.max.request.bytes` and its SimpleMemoryPool. A connection reserves a frame's full size
// as soon as it has read the frame's size header, before it buffers the body; the reservation is
// returned when the request has been handled, or when the connection closes with the frame still
// partial. A connection whose frame does not fit stops reading (Kafka mutes its channel) and waits
// here until enough is released.
//
// Unlike Kafka's pool (non-strict: it lends to anyone while a single byte is free, so the total can
// overshoot by one socket.request.max.bytes), this one is strict: the reserved total never exceeds
// the capacity. Kafka's rule that the pool holds at least one largest request (queued.max.request.bytes
// >= socket.request.max.bytes) is checked by the broker config, so every legal frame fits eventually.
// No I/O and no clock: the connection drives it.

import { invariant } from '@gregor/ground';

/** queued.max.request.bytes=-1: Kafka's "no limit"; reservations are still counted. */
export const requestMemoryUnbounded = -1;

/** What a frame decoder needs of the pool. */
export interface FrameMemory {
  /** Reserves `bytes` if they fit now; false otherwise (nothing is reserved). */
  tryReserve(bytes: number): boolean;
  release(bytes: number): void;
}

interface Waiter {
  readonly bytes: number;
  readonly onAvailable: () => void;
}

export class RequestMemoryPool implements FrameMemory {
  private reserved = 0;
  private reservedMax = 0;
  /** Connections waiting for memory, in the order they started to wait. */
  private readonly waiters: Waiter[] = [];
  private waking = false;
  private wakeRequested = false;

  /** `capacityBytes` -1 means unbounded (Kafka's default for queued.max.request.bytes). */
  constructor(readonly capacityBytes: number) {
    invariant(
      capacityBytes === requestMemoryUnbounded || (Number.isSafeInteger(capacityBytes) && capacityBytes > 0),
      `request memory capacity must be positive or -1, got ${capacityBytes}`,
    );
  }

  get reservedBytes(): number {
    return this.reserved;
  }

  /** The most ever reserved at once (never above the capacity: the pool is strict). */
  get reservedBytesMax(): number {
    return this.reservedMax;
  }

  get availableBytes(): number {
    return this.capacityBytes === requestMemoryUnbounded
      ? Number.POSITIVE_INFINITY
      : this.capacityBytes - this.reserved;
  }

  /** Connections waiting for memory. */
  get waitingCount(): number {
    return this.waiters.length;
  }

  tryReserve(bytes: number): boolean {
    invariant(Number.isSafeInteger(bytes) && bytes >= 0, `cannot reserve ${bytes} bytes`);
    if (bytes > this.availableBytes) return false;
    this.reserved += bytes;
    if (this.reserved > this.reservedMax) this.reservedMax = this.reserved;
    return true;
  }

  release(bytes: number): void {
    invariant(
      Number.isSafeInteger(bytes) && bytes >= 0 && bytes <= this.reserved,
      `cannot release ${bytes} bytes of ${this.reserved} reserved`,
    );
    this.reserved -= bytes;
    if (bytes > 0) this.wakeWaiters();
  }

  /**
   * Calls `onAvailable` once `bytes` fit (it must then call tryReserve itself; it may wait again if
   * an earlier waiter took the memory first). Returns a function that cancels the wait.
   */
  waitFor(bytes: number, onAvailable: () => void): () => void {
    const waiter: Waiter = { bytes, onAvailable };
    this.waiters.push(waiter);
    return () => {
      const index = this.waiters.indexOf(waiter);
      if (index >= 0) this.waiters.splice(index, 1);
    };
  }

  /**
   * Oldest waiters first, each only if its frame fits what is left: a large frame does not hold back
   * the small requests of other clients, and it is first in line whenever enough is released.
   * A waiter's callback may release memory itself (its connection failed and closed): that pass
   * then runs again instead of re-entering this one.
   */
  private wakeWaiters(): void {
    if (this.waking) {
      this.wakeRequested = true;
      return;
    }
    this.waking = true;
    try {
      do {
        this.wakeRequested = false;
        for (const waiter of [...this.waiters]) {
          if (waiter.bytes > this.availableBytes) continue;
          const index = this.waiters.indexOf(waiter);
          if (index < 0) continue;
          this.waiters.splice(index, 1);
          waiter.onAvailable();
        }
      } while (this.wakeRequested);
    } finally {
      this.waking = false;
    }
  }
}

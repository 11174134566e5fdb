// A min-heap of deadlines keyed by string, with in-place update and removal. The coordinator keeps one
// entry per timer (a member's session, a group's rebalance or sync deadline); a heartbeat moves its
// member's entry instead of adding one, so the heap never holds stale timers and stays the size of
// the live timer set.

import { invariant } from '@gregor/ground';

interface Entry<T> {
  readonly key: string;
  deadlineMs: number;
  value: T;
  index: number;
}

export class DeadlineQueue<T> {
  private readonly heap: Entry<T>[] = [];
  private readonly byKey = new Map<string, Entry<T>>();

  get size(): number {
    return this.heap.length;
  }

  has(key: string): boolean {
    return this.byKey.has(key);
  }

  deadlineOf(key: string): number | undefined {
    return this.byKey.get(key)?.deadlineMs;
  }

  /** Adds the timer or moves it to a new deadline. */
  set(key: string, deadlineMs: number, value: T): void {
    invariant(Number.isFinite(deadlineMs), `deadline must be finite, got ${deadlineMs}`);
    const existing = this.byKey.get(key);
    if (existing !== undefined) {
      const earlier = deadlineMs < existing.deadlineMs;
      existing.deadlineMs = deadlineMs;
      existing.value = value;
      if (earlier) this.up(existing.index);
      else this.down(existing.index);
      return;
    }
    const entry: Entry<T> = { key, deadlineMs, value, index: this.heap.length };
    this.heap.push(entry);
    this.byKey.set(key, entry);
    this.up(entry.index);
  }

  delete(key: string): boolean {
    const entry = this.byKey.get(key);
    if (entry === undefined) return false;
    this.byKey.delete(key);
    const last = this.heap.pop()!;
    if (last !== entry) {
      this.heap[entry.index] = last;
      last.index = entry.index;
      this.up(last.index);
      this.down(last.index);
    }
    return true;
  }

  /** The earliest deadline, or null when no timer is set. */
  peekDeadlineMs(): number | null {
    return this.heap[0]?.deadlineMs ?? null;
  }

  /** Removes and returns the earliest timer if it is due at `nowMs`. */
  popDue(nowMs: number): { key: string; deadlineMs: number; value: T } | null {
    const first = this.heap[0];
    if (first === undefined || first.deadlineMs > nowMs) return null;
    this.delete(first.key);
    return { key: first.key, deadlineMs: first.deadlineMs, value: first.value };
  }

  private less(a: number, b: number): boolean {
    const x = this.heap[a]!;
    const y = this.heap[b]!;
    // Ties break by key so the order timers fire in never depends on insertion history.
    return x.deadlineMs < y.deadlineMs || (x.deadlineMs === y.deadlineMs && x.key < y.key);
  }

  private swap(a: number, b: number): void {
    const x = this.heap[a]!;
    const y = this.heap[b]!;
    this.heap[a] = y;
    this.heap[b] = x;
    x.index = b;
    y.index = a;
  }

  private up(index: number): void {
    let i = index;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private down(index: number): void {
    let i = index;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < this.heap.length && this.less(left, smallest)) smallest = left;
      if (right < this.heap.length && this.less(right, smallest)) smallest = right;
      if (smallest === i) return;
      this.swap(i, smallest);
      i = smallest;
    }
  }
}

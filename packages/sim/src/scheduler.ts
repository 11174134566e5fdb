/**
 * A single-threaded event scheduler over a simulated clock. Events at the same time run in the order
 * they were scheduled (sequence numbers break ties), so a run is a pure function of its seed.
 */
interface ScheduledEvent {
  readonly atMs: number;
  readonly seq: number;
  readonly run: () => void;
  cancelled: boolean;
}

/** An event that has not run yet; `cancel` drops it (it then never runs and is not counted). */
export interface ScheduledHandle {
  cancel(): void;
}

export class SimScheduler {
  private nowMsValue = 0;
  private nextSeq = 0;
  /** Binary min-heap on (atMs, seq). */
  private readonly heap: ScheduledEvent[] = [];
  private executed = 0;

  get nowMs(): number {
    return this.nowMsValue;
  }

  get executedEvents(): number {
    return this.executed;
  }

  get pendingEvents(): number {
    return this.heap.length;
  }

  /** Runs fn at atMs (or now, if atMs is in the past). */
  at(atMs: number, run: () => void): ScheduledHandle {
    const event: ScheduledEvent = {
      atMs: Math.max(atMs, this.nowMsValue),
      seq: this.nextSeq++,
      run,
      cancelled: false,
    };
    this.push(event);
    return {
      cancel: () => {
        event.cancelled = true;
      },
    };
  }

  after(delayMs: number, run: () => void): ScheduledHandle {
    return this.at(this.nowMsValue + delayMs, run);
  }

  /** Runs the next event that was not cancelled; false when there is none or it is after untilMs. */
  runNext(untilMs: number): boolean {
    for (;;) {
      const next = this.heap[0];
      if (next === undefined || next.atMs > untilMs) return false;
      this.pop();
      if (next.cancelled) continue;
      this.nowMsValue = next.atMs;
      this.executed++;
      next.run();
      return true;
    }
  }

  private push(event: ScheduledEvent): void {
    const heap = this.heap;
    heap.push(event);
    let index = heap.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!before(heap[index]!, heap[parent]!)) break;
      [heap[index], heap[parent]] = [heap[parent]!, heap[index]!];
      index = parent;
    }
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    heap[0] = last;
    let index = 0;
    for (;;) {
      const left = index * 2 + 1;
      const right = left + 1;
      let smallest = index;
      if (left < heap.length && before(heap[left]!, heap[smallest]!)) smallest = left;
      if (right < heap.length && before(heap[right]!, heap[smallest]!)) smallest = right;
      if (smallest === index) return;
      [heap[index], heap[smallest]] = [heap[smallest]!, heap[index]!];
      index = smallest;
    }
  }
}

function before(a: ScheduledEvent, b: ScheduledEvent): boolean {
  return a.atMs < b.atMs || (a.atMs === b.atMs && a.seq < b.seq);
}

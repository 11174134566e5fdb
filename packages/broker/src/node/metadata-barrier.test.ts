import { ManualClock } from '@gregor/ground';
import { describe, expect, it } from 'vitest';
import { MetadataBarrier, type MetadataBarrierSource } from './metadata-barrier.js';

const roundTimeoutMs = 1_500;

/** A controller and an applied offset the test moves by hand; every question to the controller waits for `answer`. */
class FakeSource implements MetadataBarrierSource {
  readonly asked: ((endOffset: number | undefined) => void)[] = [];
  readonly waits: { endOffset: number; timeoutMs: number; resolve: (applied: boolean) => void }[] = [];
  appliedEnd = 0;

  committedEndOffset(): Promise<number | undefined> {
    return new Promise((resolve) => this.asked.push(resolve));
  }

  appliedUpTo(endOffset: number, timeoutMs: number): Promise<boolean> {
    if (this.appliedEnd >= endOffset) return Promise.resolve(true);
    return new Promise((resolve) => this.waits.push({ endOffset, timeoutMs, resolve }));
  }

  /** The controller answers the oldest question with `endOffset`. */
  answer(endOffset: number | undefined): void {
    const next = this.asked.shift();
    expect(next, 'a question to the controller').toBeDefined();
    next!(endOffset);
  }

  apply(endOffset: number): void {
    this.appliedEnd = endOffset;
    for (const wait of this.waits.splice(0)) {
      if (wait.endOffset <= endOffset) wait.resolve(true);
      else this.waits.push(wait);
    }
  }
}

async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

function outcome(promise: Promise<boolean>): { value: boolean | undefined } {
  const seen: { value: boolean | undefined } = { value: undefined };
  void promise.then((value) => {
    seen.value = value;
  });
  return seen;
}

describe('MetadataBarrier', () => {
  it('confirms once this broker has applied what the controller had committed', async () => {
    const source = new FakeSource();
    const barrier = new MetadataBarrier(source, new ManualClock(0), roundTimeoutMs);
    const confirmed = outcome(barrier.confirm());
    source.answer(7);
    await flush();
    // A leadership change at offset 6 is committed, not applied here yet: no answer from memory.
    expect(confirmed.value).toBeUndefined();
    expect(source.waits.map((wait) => wait.endOffset)).toEqual([7]);
    source.apply(7);
    await flush();
    expect(confirmed.value).toBe(true);
  });

  it('a confirmation asked while a round runs waits for the next round, which all such share', async () => {
    const source = new FakeSource();
    const barrier = new MetadataBarrier(source, new ManualClock(0), roundTimeoutMs);
    const first = outcome(barrier.confirm());
    // Asked after the first round put its question: that answer may predate these reads.
    const second = outcome(barrier.confirm());
    const third = outcome(barrier.confirm());
    expect(source.asked).toHaveLength(1);
    source.apply(3);
    source.answer(3);
    await flush();
    expect(first.value).toBe(true);
    expect(second.value).toBeUndefined();
    expect(source.asked).toHaveLength(1);
    source.answer(5);
    await flush();
    expect(second.value).toBeUndefined();
    source.apply(5);
    await flush();
    expect(second.value).toBe(true);
    expect(third.value).toBe(true);
    expect(source.asked).toHaveLength(0);
    // Nothing runs now: the next confirmation starts a round of its own at once.
    const fourth = outcome(barrier.confirm());
    expect(source.asked).toHaveLength(1);
    source.answer(5);
    await flush();
    expect(fourth.value).toBe(true);
  });

  it('fails when no controller answers, and the next confirmation tries again', async () => {
    const source = new FakeSource();
    const failures: string[] = [];
    const barrier = new MetadataBarrier(source, new ManualClock(0), roundTimeoutMs, (why) =>
      failures.push(why),
    );
    const refused = outcome(barrier.confirm());
    source.answer(undefined);
    await flush();
    expect(refused.value).toBe(false);
    expect(failures).toEqual(['no active controller answered']);
    const retried = outcome(barrier.confirm());
    source.answer(0);
    await flush();
    expect(retried.value).toBe(true);
  });

  it('waits for the applied offset only for what is left of the round timeout', async () => {
    const source = new FakeSource();
    const clock = new ManualClock(0);
    const barrier = new MetadataBarrier(source, clock, roundTimeoutMs);
    const slow = outcome(barrier.confirm());
    clock.advanceMs(1_000); // the controller took a second to answer
    source.answer(9);
    await flush();
    expect(source.waits.map((wait) => wait.timeoutMs)).toEqual([roundTimeoutMs - 1_000]);
    source.waits.shift()!.resolve(false);
    await flush();
    expect(slow.value).toBe(false);

    const tooLate = outcome(barrier.confirm());
    clock.advanceMs(roundTimeoutMs);
    source.answer(9);
    await flush();
    expect(tooLate.value).toBe(false);
    expect(source.waits).toHaveLength(0);
  });

  it('a controller call that throws is a failed round, not an exception', async () => {
    const source = new FakeSource();
    source.committedEndOffset = () => Promise.reject(new Error('connection reset'));
    const barrier = new MetadataBarrier(source, new ManualClock(0), roundTimeoutMs);
    await expect(barrier.confirm()).resolves.toBe(false);
  });
});

import { describe, expect, it } from 'vitest';
import { MetadataBarrier, type MetadataBarrierSource, type PartitionLeader } from './metadata-barrier.js';

const brokerId = 3;
const roundTimeoutMs = 1_500;

type Leaders = ReadonlyMap<number, PartitionLeader> | undefined;

/** A controller the test answers by hand: every question waits for `answer`. */
class FakeSource implements MetadataBarrierSource {
  readonly asked: { timeoutMs: number; resolve: (leaders: Leaders) => void }[] = [];

  partitionLeaders(timeoutMs: number): Promise<Leaders> {
    return new Promise((resolve) => this.asked.push({ timeoutMs, resolve }));
  }

  /** The controller answers the oldest question. */
  answer(leaders: Leaders): void {
    const next = this.asked.shift();
    expect(next, 'a question to the controller').toBeDefined();
    next!.resolve(leaders);
  }
}

const leading = (leaderEpoch: number): Leaders => new Map([[0, { leaderId: brokerId, leaderEpoch }]]);

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
  it('confirms only what the controller names: this broker, in the epoch the partition was loaded in', async () => {
    const source = new FakeSource();
    const barrier = new MetadataBarrier(source, brokerId, roundTimeoutMs);
    const confirmed = outcome(barrier.confirm(0, 4));
    expect(source.asked.map((question) => question.timeoutMs)).toEqual([roundTimeoutMs]);
    expect(confirmed.value).toBeUndefined();
    source.answer(leading(4));
    await flush();
    expect(confirmed.value).toBe(true);

    // Moved to another broker (a preferred election this broker has not applied yet).
    const moved = barrier.confirm(0, 4);
    source.answer(new Map([[0, { leaderId: 1, leaderEpoch: 5 }]]));
    await expect(moved).resolves.toBe(false);
    // Moved away and back: this broker's load is from the older epoch, whose successor may have
    // written what it never read.
    const movedBack = barrier.confirm(0, 4);
    source.answer(leading(6));
    await expect(movedBack).resolves.toBe(false);
    // No leader, or a partition the controller does not know (the topic was deleted).
    const leaderless = barrier.confirm(0, 4);
    source.answer(new Map([[0, { leaderId: -1, leaderEpoch: 5 }]]));
    await expect(leaderless).resolves.toBe(false);
    const unknown = barrier.confirm(1, 4);
    source.answer(leading(4));
    await expect(unknown).resolves.toBe(false);
  });

  it('a confirmation asked while a round runs waits for the next round, which all such share', async () => {
    const source = new FakeSource();
    const barrier = new MetadataBarrier(source, brokerId, roundTimeoutMs);
    const first = outcome(barrier.confirm(0, 4));
    // Asked after the first round put its question: that answer may predate these reads.
    const second = outcome(barrier.confirm(0, 4));
    const third = outcome(barrier.confirm(0, 4));
    expect(source.asked).toHaveLength(1);
    source.answer(leading(4));
    await flush();
    expect(first.value).toBe(true);
    expect(second.value).toBeUndefined();
    expect(source.asked).toHaveLength(1);
    // The move happened between the two questions: the later reads see it.
    source.answer(leading(5));
    await flush();
    expect(second.value).toBe(false);
    expect(third.value).toBe(false);
    expect(source.asked).toHaveLength(0);
    // Nothing runs now: the next confirmation starts a round of its own at once.
    const fourth = outcome(barrier.confirm(0, 5));
    expect(source.asked).toHaveLength(1);
    source.answer(leading(5));
    await flush();
    expect(fourth.value).toBe(true);
  });

  it('fails when no controller answers, and the next confirmation tries again', async () => {
    const source = new FakeSource();
    const failures: string[] = [];
    const barrier = new MetadataBarrier(source, brokerId, roundTimeoutMs, (why) => failures.push(why));
    const refused = outcome(barrier.confirm(0, 4));
    source.answer(undefined);
    await flush();
    expect(refused.value).toBe(false);
    expect(failures).toEqual(['no active controller answered']);
    const retried = outcome(barrier.confirm(0, 4));
    source.answer(leading(4));
    await flush();
    expect(retried.value).toBe(true);
  });

  it('a controller call that throws is a failed round, not an exception', async () => {
    const source = new FakeSource();
    source.partitionLeaders = () => Promise.reject(new Error('connection reset'));
    const failures: string[] = [];
    const barrier = new MetadataBarrier(source, brokerId, roundTimeoutMs, (why) => failures.push(why));
    await expect(barrier.confirm(0, 4)).resolves.toBe(false);
    expect(failures).toEqual(['controller call failed: connection reset']);
  });
});

import { describe, expect, it } from 'vitest';
import { ConcurrencyLimit } from './bounded-concurrency.js';

describe('ConcurrencyLimit', () => {
  it('runs at most its limit at once, the others in order of arrival, and frees a turn on failure', async () => {
    const limit = new ConcurrencyLimit(2);
    let running = 0;
    let most = 0;
    const started: number[] = [];
    const releases: (() => void)[] = [];
    const tasks = Array.from({ length: 5 }, (_, index) =>
      limit.run(async () => {
        started.push(index);
        running += 1;
        most = Math.max(most, running);
        await new Promise<void>((release) => releases.push(release));
        running -= 1;
        if (index === 1) throw new Error('task 1 failed');
        return index;
      }),
    );
    const flush = async () => {
      for (let i = 0; i < 10; i++) await Promise.resolve();
    };
    await flush();
    expect(started).toEqual([0, 1]);
    releases.shift()!();
    await flush();
    expect(started).toEqual([0, 1, 2]);
    // The failing task gives its turn back too.
    releases.shift()!();
    await flush();
    expect(started).toEqual([0, 1, 2, 3]);
    while (releases.length > 0 || started.length < 5) {
      releases.shift()?.();
      await flush();
    }
    const settled = await Promise.allSettled(tasks);
    expect(settled.map((outcome) => outcome.status)).toEqual([
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
      'fulfilled',
    ]);
    expect(most).toBe(2);
  });
});

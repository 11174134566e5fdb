import { describe, expect, it } from 'vitest';
import { ManualClock } from './clock.js';
import { InvariantViolation, invariant } from './invariant.js';
import { SeededRandom } from './random.js';
import { waitFor } from './testing/wait-for.js';
import { ManualTimers } from './timers.js';

describe('invariant', () => {
  it('throws an InvariantViolation with the message only when the condition fails', () => {
    let built = 0;
    const message = (): string => {
      built++;
      return 'leader outside the ISR';
    };
    expect(() => invariant(true, message)).not.toThrow();
    expect(built).toBe(0);
    expect(() => invariant(0, message)).toThrow(new InvariantViolation('leader outside the ISR'));
    expect(built).toBe(1);
  });
});

describe('ManualClock', () => {
  it('moves only forward, and only when told', () => {
    const clock = new ManualClock(100);
    clock.advanceMs(50);
    expect(clock.nowMs()).toBe(150);
    expect(() => clock.advanceMs(-1)).toThrow(RangeError);
    expect(clock.nowMs()).toBe(150);
  });
});

describe('ManualTimers', () => {
  it('fires due timers in deadline order (ties in schedule order), and no others', () => {
    const timers = new ManualTimers(new ManualClock());
    const fired: string[] = [];
    timers.schedule(() => fired.push('b@20'), 20);
    timers.schedule(() => fired.push('a@10'), 10);
    timers.schedule(() => fired.push('c@20'), 20);
    timers.schedule(() => fired.push('d@30'), 30);
    timers.advanceMs(20);
    expect(fired).toEqual(['a@10', 'b@20', 'c@20']);
    expect(timers.pendingCount).toBe(1);
  });

  it('never fires a cancelled timer, even one cancelled by an earlier callback of the same round', () => {
    const timers = new ManualTimers(new ManualClock());
    const fired: string[] = [];
    const later = timers.schedule(() => fired.push('later'), 10);
    timers.schedule(() => {
      fired.push('first');
      later.cancel();
    }, 5);
    const cancelled = timers.schedule(() => fired.push('cancelled'), 1);
    cancelled.cancel();
    timers.advanceMs(10);
    expect(fired).toEqual(['first']);
    expect(timers.pendingCount).toBe(0);
  });
});

describe('SeededRandom', () => {
  it('replays the same sequence from the same seed, and a different one from another', () => {
    const draw = (seed: number): number[] => {
      const random = new SeededRandom(seed);
      return Array.from({ length: 20 }, () => random.nextInt(1000));
    };
    expect(draw(7)).toEqual(draw(7));
    expect(draw(7)).not.toEqual(draw(8));
  });

  it('stays in range and covers it', () => {
    const random = new SeededRandom(1);
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) {
      const value = random.nextInt(6);
      expect(value).toBeGreaterThanOrEqual(0);
      expect(value).toBeLessThan(6);
      seen.add(value);
    }
    expect(seen.size).toBe(6);
    expect(() => random.nextInt(0)).toThrow(RangeError);
  });
});

describe('waitFor', () => {
  it('resolves with the first value that is neither undefined nor false; throws count as not yet', async () => {
    let calls = 0;
    const value = await waitFor(
      'the third probe',
      () => {
        calls++;
        if (calls === 1) throw new Error('not connected');
        return calls === 3 ? 'ready' : false;
      },
      { intervalMs: 1 },
    );
    expect(value).toBe('ready');
    expect(calls).toBe(3);
  });

  it('names what it waited for, the last error and the detail when it gives up', async () => {
    await expect(
      waitFor(
        'a leader',
        () => {
          throw new Error('no route');
        },
        { timeoutMs: 20, intervalMs: 5, detail: () => 'node 1: fenced' },
      ),
    ).rejects.toThrow(/waiting for a leader \(last error: Error: no route\)\nnode 1: fenced/);
  });
});

// Request time meters on a manual clock with v8's real promise hooks: a request's continuations
// after an await are counted, the time it waits is not, concurrent requests are each charged only
// their own continuations, and the hooks are on only while a meter is open.

import { setImmediate as nextTurn } from 'node:timers/promises';
import { ManualClock } from '@gregor/ground';
import { describe, expect, it } from 'vitest';
import {
  type ContinuationHooks,
  promiseContinuationHooks,
  type RequestTimeMeter,
  RequestTimeMeters,
} from './request-time-meters.js';

/** v8's hooks, counting how often they are enabled and whether they are on. */
function countingHooks(): ContinuationHooks & { enabled: number; on: boolean } {
  const hooks = {
    enabled: 0,
    on: false,
    enable: (callbacks: Parameters<ContinuationHooks['enable']>[0]) => {
      hooks.enabled++;
      hooks.on = true;
      const stop = promiseContinuationHooks.enable(callbacks);
      return () => {
        hooks.on = false;
        stop();
      };
    },
  };
  return hooks;
}

/** A promise the test settles when it likes: what a request waits on (the disk, the purgatory). */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

describe('RequestTimeMeters', () => {
  it('counts the work a handler does after its awaits, and not the time it waits', async () => {
    const clock = new ManualClock(1_000);
    const meters = new RequestTimeMeters(clock);
    const disk = gate();
    const handler = async (): Promise<string> => {
      clock.advanceMs(2); // before the first await: the synchronous part
      await disk.promise;
      clock.advanceMs(3); // the append's continuation
      await nextTurn(); // a real turn of the loop in between
      clock.advanceMs(4); // building the answer
      return 'answer';
    };
    let meter!: RequestTimeMeter;
    clock.advanceMs(1); // decoding, after the frame was taken at 1000
    const answered = meters.run(1_000, (opened) => {
      meter = opened;
      return (async () => {
        const answer = await handler();
        clock.advanceMs(5); // encoding the response
        return [answer, meter.close()] as const;
      })();
    });
    // The request waits for the disk: 100 ms pass that are none of its own.
    clock.advanceMs(100);
    await nextTurn();
    clock.advanceMs(100);
    disk.open();
    expect(await answered).toEqual(['answer', 1 + 2 + 3 + 4 + 5]);
    expect(meters.hooksEnabled).toBe(false);
  });

  it('charges each of two interleaved requests only its own continuations', async () => {
    const clock = new ManualClock(0);
    const meters = new RequestTimeMeters(clock);
    const gates = [gate(), gate()];
    const request = (index: number, workMs: number): Promise<number> =>
      meters.run(clock.nowMs(), (meter) =>
        (async () => {
          clock.advanceMs(workMs);
          await gates[index]!.promise;
          clock.advanceMs(workMs * 10);
          await Promise.resolve();
          clock.advanceMs(workMs * 100);
          return meter.close();
        })(),
      );
    const first = request(0, 1);
    const second = request(1, 2);
    gates[1]!.open();
    gates[0]!.open();
    expect(await Promise.all([first, second])).toEqual([111, 222]);
  });

  it('does not count a request opened inside another request twice', async () => {
    const clock = new ManualClock(0);
    const meters = new RequestTimeMeters(clock);
    let inner!: Promise<number>;
    const outer = meters.run(0, (meter) =>
      (async () => {
        await Promise.resolve();
        clock.advanceMs(1);
        // The next request of the connection starts from this continuation: its frame is taken,
        // then decoded (2 ms) before its meter opens.
        const takenMs = clock.nowMs();
        clock.advanceMs(2);
        inner = meters.run(takenMs, (innerMeter) => {
          clock.advanceMs(20);
          return (async () => {
            await Promise.resolve();
            clock.advanceMs(30);
            return innerMeter.close();
          })();
        });
        clock.advanceMs(4);
        return meter.close();
      })(),
    );
    expect(await outer).toBe(5);
    expect(await inner).toBe(52);
  });

  it('has the hooks on only while a meter is open, and stops following closed meters', async () => {
    const hooks = countingHooks();
    const clock = new ManualClock(0);
    const meters = new RequestTimeMeters(clock, hooks);
    expect(hooks.enabled).toBe(0);
    let meter!: RequestTimeMeter;
    let later!: Promise<void>;
    const answered = meters.run(0, (opened) => {
      meter = opened;
      expect(hooks.on).toBe(true);
      // Work the request starts that outlives it (a write it does not wait for).
      later = (async () => {
        await nextTurn();
        clock.advanceMs(1_000);
      })();
      return (async () => {
        await Promise.resolve();
        clock.advanceMs(7);
        return meter.close();
      })();
    });
    expect(await answered).toBe(7);
    expect(hooks.on).toBe(false);
    await later;
    expect(meter.close()).toBe(7);
    expect(hooks.enabled).toBe(1);
  });

  it('closes the meter of a request whose synchronous part throws', () => {
    const hooks = countingHooks();
    const meters = new RequestTimeMeters(new ManualClock(0), hooks);
    expect(() =>
      meters.run(0, () => {
        throw new Error('a bug');
      }),
    ).toThrow('a bug');
    expect(hooks.on).toBe(false);
    expect(meters.hooksEnabled).toBe(false);
  });
});

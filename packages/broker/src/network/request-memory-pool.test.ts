import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RequestMemoryPool, requestMemoryUnbounded } from './request-memory-pool.js';

describe('RequestMemoryPool', () => {
  it('never reserves past its capacity and gives back what is released', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1000 }),
        fc.array(fc.oneof(fc.integer({ min: 0, max: 400 }), fc.constant(-1)), { maxLength: 100 }),
        (capacity, steps) => {
          const pool = new RequestMemoryPool(capacity);
          const held: number[] = [];
          for (const step of steps) {
            if (step === -1) {
              const bytes = held.pop();
              if (bytes !== undefined) pool.release(bytes);
            } else if (pool.tryReserve(step)) {
              held.push(step);
            } else {
              expect(pool.reservedBytes + step).toBeGreaterThan(capacity);
            }
            expect(pool.reservedBytes).toBe(held.reduce((sum, bytes) => sum + bytes, 0));
            expect(pool.reservedBytes).toBeLessThanOrEqual(capacity);
          }
        },
      ),
    );
  });

  it('wakes a waiter once its frame fits, oldest first, skipping one that still does not fit', () => {
    const pool = new RequestMemoryPool(100);
    expect(pool.tryReserve(90)).toBe(true);
    const woken: string[] = [];
    pool.waitFor(60, () => {
      woken.push('big');
      expect(pool.tryReserve(60)).toBe(true);
    });
    pool.waitFor(20, () => {
      woken.push('small');
      expect(pool.tryReserve(20)).toBe(true);
    });
    pool.release(10); // 20 free: the big frame still does not fit, the small one does
    expect(woken).toEqual(['small']);
    expect(pool.waitingCount).toBe(1);
    pool.release(80); // 20 reserved, 80 free: now the big one fits
    expect(woken).toEqual(['small', 'big']);
    expect(pool.reservedBytes).toBe(80);
    expect(pool.waitingCount).toBe(0);
  });

  it('forgets a cancelled wait', () => {
    const pool = new RequestMemoryPool(10);
    pool.tryReserve(10);
    let woken = false;
    const cancel = pool.waitFor(5, () => {
      woken = true;
    });
    cancel();
    pool.release(10);
    expect(woken).toBe(false);
  });

  it('lets a waiter release memory while others are being woken', () => {
    const pool = new RequestMemoryPool(10);
    pool.tryReserve(10);
    const woken: string[] = [];
    // The first waiter's connection fails as it resumes and gives back a reservation it held.
    pool.tryReserve(0);
    pool.waitFor(5, () => {
      woken.push('a');
      pool.tryReserve(5);
      pool.release(5);
    });
    pool.waitFor(8, () => {
      woken.push('b');
      pool.tryReserve(8);
    });
    pool.release(10);
    expect(woken).toEqual(['a', 'b']);
    expect(pool.reservedBytes).toBe(8);
  });

  it('counts but never refuses when unbounded (-1)', () => {
    const pool = new RequestMemoryPool(requestMemoryUnbounded);
    expect(pool.tryReserve(2 ** 40)).toBe(true);
    expect(pool.reservedBytes).toBe(2 ** 40);
    pool.release(2 ** 40);
    expect(pool.reservedBytes).toBe(0);
  });

  it('refuses to release more than is reserved (an accounting bug)', () => {
    const pool = new RequestMemoryPool(10);
    pool.tryReserve(4);
    expect(() => pool.release(5)).toThrow(/cannot release 5 bytes of 4/);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DeadlineQueue } from './deadline-queue.js';

describe('DeadlineQueue', () => {
  it('pops due timers earliest first, ties by key, and moves a timer in place', () => {
    const queue = new DeadlineQueue<string>();
    queue.set('b', 20, 'b');
    queue.set('a', 20, 'a');
    queue.set('c', 10, 'c');
    queue.set('c', 30, 'c'); // moved later, not duplicated
    expect(queue.size).toBe(3);
    expect(queue.peekDeadlineMs()).toBe(20);
    expect(queue.popDue(19)).toBeNull();
    expect(queue.popDue(25)?.key).toBe('a');
    expect(queue.popDue(25)?.key).toBe('b');
    expect(queue.popDue(25)).toBeNull();
    expect(queue.delete('c')).toBe(true);
    expect(queue.peekDeadlineMs()).toBeNull();
  });

  it('matches a sorted-list model under random sets, moves and deletes', () => {
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('set' as const),
        key: fc.integer({ min: 0, max: 20 }),
        at: fc.integer({ min: 0, max: 100 }),
      }),
      fc.record({ kind: fc.constant('delete' as const), key: fc.integer({ min: 0, max: 20 }) }),
      fc.record({ kind: fc.constant('pop' as const), now: fc.integer({ min: 0, max: 100 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const queue = new DeadlineQueue<number>();
        const model = new Map<string, number>();
        for (const o of ops) {
          if (o.kind === 'set') {
            queue.set(`k${o.key}`, o.at, o.at);
            model.set(`k${o.key}`, o.at);
          } else if (o.kind === 'delete') {
            expect(queue.delete(`k${o.key}`)).toBe(model.delete(`k${o.key}`));
          } else {
            const expected = [...model]
              .filter(([, at]) => at <= o.now)
              .sort((x, y) => x[1] - y[1] || (x[0] < y[0] ? -1 : 1))[0];
            const popped = queue.popDue(o.now);
            expect(popped === null ? undefined : [popped.key, popped.deadlineMs]).toEqual(expected);
            if (expected) model.delete(expected[0]);
          }
          expect(queue.size).toBe(model.size);
          expect(queue.peekDeadlineMs()).toBe(model.size === 0 ? null : Math.min(...model.values()));
        }
      }),
    );
  });
});

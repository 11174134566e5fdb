import { describe, expect, it } from 'vitest';
import { EventLoopStallDetector } from './event-loop-stall-watch.js';

describe('EventLoopStallDetector', () => {
  it('reports how late a tick ran once that reaches the threshold, measured from the tick before', () => {
    const detector = new EventLoopStallDetector(500, 1_000, 0);
    expect(detector.tick(510)).toBeUndefined(); // 10 ms late
    expect(detector.tick(1_500)).toBeUndefined(); // due 1,010: 490 ms late
    expect(detector.tick(3_000)).toBe(1_000); // due 2,000
    // The next tick is due an interval after the late one ran, not at the old schedule.
    expect(detector.tick(3_500)).toBeUndefined();
    expect(detector.tick(7_300)).toBe(3_300);
  });
});

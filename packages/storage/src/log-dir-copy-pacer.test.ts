import { ManualClock } from '@gregor/ground';
import { describe, expect, it } from 'vitest';
import { LogDirCopyPacer, logDirCopyReadsRememberedMax } from './log-dir-copy-pacer.js';

interface CopyRun {
  /** [time, bytes] of every read. */
  readonly reads: Array<readonly [number, number]>;
  readonly copiedBytes: number;
}

/**
 * A copy driven by the pacer on a manual clock for `durationMs`: each read returns what it asked
 * (or `batchBytes` whole when that is more, as a record batch is never split) and takes `readMs`.
 */
function runCopy(options: {
  rateBytesPerSecond: number | (() => number);
  durationMs: number;
  readBytesMax: number;
  batchBytes?: number;
  readMs?: number;
}): CopyRun {
  const clock = new ManualClock(1_000_000);
  const pacer = new LogDirCopyPacer();
  const startMs = clock.nowMs();
  const reads: Array<readonly [number, number]> = [];
  const rate = options.rateBytesPerSecond;
  while (clock.nowMs() - startMs < options.durationMs) {
    const pace = pacer.next(clock.nowMs(), typeof rate === 'number' ? rate : rate(), options.readBytesMax);
    if (pace.kind === 'wait') {
      expect(pace.waitMs).toBeGreaterThan(0);
      clock.advanceMs(pace.waitMs);
      continue;
    }
    const bytes = Math.max(pace.readBytesMax, options.batchBytes ?? 0);
    reads.push([clock.nowMs() - startMs, bytes]);
    pacer.record(bytes, clock.nowMs());
    clock.advanceMs(options.readMs ?? 0);
  }
  return { reads, copiedBytes: reads.reduce((sum, [, bytes]) => sum + bytes, 0) };
}

/** The most bytes read in any span of `windowMs` (half-open: a read at t counts in [t, t + windowMs)). */
function maxInAnyWindow(reads: ReadonlyArray<readonly [number, number]>, windowMs: number): number {
  let max = 0;
  for (const [startMs] of reads) {
    let sum = 0;
    for (const [atMs, bytes] of reads) if (atMs >= startMs && atMs < startMs + windowMs) sum += bytes;
    max = Math.max(max, sum);
  }
  return max;
}

describe('LogDirCopyPacer', () => {
  it('reads without waiting when there is no bound', () => {
    const pacer = new LogDirCopyPacer();
    for (let i = 0; i < 1000; i++) {
      expect(pacer.next(0, Number.POSITIVE_INFINITY, 1 << 20)).toEqual({
        kind: 'read',
        readBytesMax: 1 << 20,
      });
      pacer.record(1 << 20, 0);
    }
    // Long.MAX_VALUE (Kafka's default, unthrottled) as a number.
    expect(pacer.next(0, 2 ** 63, 4096)).toEqual({ kind: 'read', readBytesMax: 4096 });
  });

  it.each([
    { rate: 100_000, readBytesMax: 1 << 20, readMs: 0 },
    { rate: 100_000, readBytesMax: 4096, readMs: 3 },
    { rate: 5_000_000, readBytesMax: 1 << 20, readMs: 7 },
    { rate: 1_000, readBytesMax: 300, readMs: 0 },
  ])(
    'copies about N*T at $rate B/s with reads of $readBytesMax, never more than a window allows',
    ({ rate, readBytesMax, readMs }) => {
      const durationMs = 30_000;
      const run = runCopy({ rateBytesPerSecond: rate, durationMs, readBytesMax, readMs });
      const expected = (rate * durationMs) / 1000;
      expect(run.copiedBytes).toBeLessThanOrEqual(expected + rate);
      expect(run.copiedBytes).toBeGreaterThanOrEqual(expected * 0.95);
      expect(maxInAnyWindow(run.reads, 1000)).toBeLessThanOrEqual(rate);
    },
  );

  it('splits the allowance into equal chunks: no remainder left unread, no sliver reads', () => {
    const run = runCopy({ rateBytesPerSecond: 10_000, durationMs: 10_000, readBytesMax: 4000 });
    // 10,000 B per window in reads of at most 4000 B: three reads of 3333 B per window.
    expect(new Set(run.reads.map(([, bytes]) => bytes))).toEqual(new Set([3333]));
    expect(run.reads.length).toBe(30);
    expect(maxInAnyWindow(run.reads, 1000)).toBeLessThanOrEqual(10_000);
  });

  it('a batch larger than the allowance is read whole, alone in its window, and paid for after', () => {
    const run = runCopy({
      rateBytesPerSecond: 1_000,
      durationMs: 20_000,
      readBytesMax: 4096,
      batchBytes: 2_500,
    });
    expect(maxInAnyWindow(run.reads, 1000)).toBe(2_500);
    // Each batch fills 2.5 windows' allowance: the next read waits 2.5 s, so the copy averages 1,000 B/s.
    for (let i = 1; i < run.reads.length; i++) expect(run.reads[i]![0] - run.reads[i - 1]![0]).toBe(2_500);
    expect(run.copiedBytes).toBe(2_500 * 8);
  });

  it('lowering the bound mid-copy makes the next reads wait out what the window already holds', () => {
    const pacer = new LogDirCopyPacer();
    expect(pacer.next(0, 1_000_000, 100_000)).toEqual({ kind: 'read', readBytesMax: 100_000 });
    pacer.record(100_000, 0);
    expect(pacer.next(10, 1_000_000, 100_000)).toEqual({ kind: 'read', readBytesMax: 100_000 });
    pacer.record(100_000, 10);
    // Down to 50,000 B/s: each read is two windows' allowance, so it holds its place for 2 s; the
    // next 50,000 B chunk fits once both left, at 2,010 ms (each wait at most a window).
    let nowMs = 20;
    const waits: number[] = [];
    for (;;) {
      const pace = pacer.next(nowMs, 50_000, 100_000);
      if (pace.kind === 'read') {
        expect(pace.readBytesMax).toBe(50_000);
        break;
      }
      waits.push(pace.waitMs);
      nowMs += pace.waitMs;
    }
    expect(nowMs).toBe(2_010);
    expect(waits).toEqual([1_000, 990]);
  });

  it('remembers a bounded number of reads, merging the rest into the newest', () => {
    const pacer = new LogDirCopyPacer();
    const rate = 10_000_000;
    for (let i = 0; i < logDirCopyReadsRememberedMax * 4; i++) {
      const pace = pacer.next(i, rate, 10);
      expect(pace).toEqual({ kind: 'read', readBytesMax: 10 });
      pacer.record(10, i);
    }
    expect((pacer as unknown as { reads: unknown[] }).reads.length).toBe(logDirCopyReadsRememberedMax);
  });

  it('never waits more than a window when the clock goes back', () => {
    const pacer = new LogDirCopyPacer();
    pacer.record(1_000, 50_000);
    const pace = pacer.next(10_000, 1_000, 1_000);
    expect(pace).toEqual({ kind: 'wait', waitMs: 1_000 });
  });
});

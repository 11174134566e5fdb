import { ManualClock, ManualTimers } from '@gregor/ground';
import { ErrorCode, encodeRecordBatch } from '@gregor/protocol';
import { describe, expect, it } from 'vitest';
import { DeadlineTimer, OrderedAppendCompletions, readLogToEnd } from './coordinator-partitions.js';
import type { Partition } from './partition.js';

/** A partition whose log holds one single-record batch per offset from `startOffset` to `endOffset`. */
function partitionWithLog(
  startOffset: number,
  endOffset: number,
  onRead: (offset: number) => void = () => {},
) {
  const log = {
    logStartOffset: startOffset,
    logEndOffset: endOffset,
    async read(offset: number, maxBytes: number) {
      onRead(offset);
      if (offset < log.logStartOffset) {
        return {
          errorCode: ErrorCode.OFFSET_OUT_OF_RANGE,
          logStartOffset: log.logStartOffset,
          records: Buffer.alloc(0),
        };
      }
      // Two batches a read: the chunk size only has to be passed through.
      expect(maxBytes).toBe(1024);
      const batches = [offset, offset + 1]
        .filter((at) => at < endOffset)
        .map((at) =>
          encodeRecordBatch({
            baseOffset: at,
            records: [{ key: Buffer.from(`k${at}`), value: null, timestamp: 0 }],
          }),
        );
      return {
        errorCode: ErrorCode.NONE,
        logStartOffset: log.logStartOffset,
        records: Buffer.concat(batches),
      };
    },
  };
  return { log } as unknown as Partition & { log: typeof log };
}

describe('readLogToEnd', () => {
  it('hands every batch from the log start to the log end, a chunk at a time', async () => {
    const reads: number[] = [];
    const chunks: number[][] = [];
    const done = await readLogToEnd(
      partitionWithLog(3, 8, (offset) => reads.push(offset)),
      1024,
      () => true,
      'p',
      (batches) => chunks.push(batches.map((batch) => batch.header.baseOffset)),
    );
    expect(done).toBe(true);
    expect(reads).toEqual([3, 5, 7]);
    expect(chunks).toEqual([[3, 4], [5, 6], [7]]);
  });

  it('skips ahead when the log start moved past the offset it was about to read', async () => {
    const partition = partitionWithLog(0, 6, (offset) => {
      if (offset === 2) partition.log.logStartOffset = 4;
    });
    const chunks: number[][] = [];
    await readLogToEnd(
      partition,
      1024,
      () => true,
      'p',
      (batches) => chunks.push(batches.map((batch) => batch.header.baseOffset)),
    );
    expect(chunks).toEqual([
      [0, 1],
      [4, 5],
    ]);
  });

  it('stops with false once the load is superseded', async () => {
    let reads = 0;
    const chunks: number[][] = [];
    const done = await readLogToEnd(
      partitionWithLog(0, 10, () => reads++),
      1024,
      () => reads < 2,
      'p',
      (batches) => chunks.push(batches.map((batch) => batch.header.baseOffset)),
    );
    expect(done).toBe(false);
    expect(chunks).toEqual([[0, 1]]);
  });
});

describe('OrderedAppendCompletions', () => {
  it('completes the appends of a partition in the order they started, whatever order they finish in', async () => {
    const completions = new OrderedAppendCompletions();
    const completed: string[] = [];
    let finishFirst: (errorCode: number) => void = () => {};
    completions.add(0, new Promise((resolve) => (finishFirst = resolve)), (code) =>
      completed.push(`first ${code}`),
    );
    completions.add(0, Promise.resolve(7), (code) => completed.push(`second ${code}`));
    completions.add(1, Promise.resolve(0), (code) => completed.push(`other partition ${code}`));
    await new Promise((resolve) => setImmediate(resolve));
    expect(completed).toEqual(['other partition 0']);
    finishFirst(0);
    await new Promise((resolve) => setImmediate(resolve));
    expect(completed).toEqual(['other partition 0', 'first 0', 'second 7']);
  });
});

describe('DeadlineTimer', () => {
  it('fires at the deadline armed last, once, and not after cancel or arm(null)', () => {
    const clock = new ManualClock(1_000);
    const timers = new ManualTimers(clock);
    const fired: number[] = [];
    const timer = new DeadlineTimer(timers, clock, 60_000, () => fired.push(clock.nowMs()));
    timer.arm(1_500);
    timer.arm(1_500);
    expect(timers.pendingCount).toBe(1);
    timer.arm(1_200);
    expect(timers.pendingCount).toBe(1);
    timers.advanceMs(199);
    expect(fired).toEqual([]);
    timers.advanceMs(1);
    expect(fired).toEqual([1_200]);
    timers.advanceMs(300);
    expect(fired).toEqual([1_200]);
    timer.arm(2_000);
    timer.arm(null);
    timers.advanceMs(1_000);
    timer.arm(3_000);
    timer.cancel();
    timers.advanceMs(1_000);
    expect(fired).toEqual([1_200]);
  });

  it('fires no later than delayMsMax ahead, however far the deadline', () => {
    const clock = new ManualClock(0);
    const timers = new ManualTimers(clock);
    const fired: number[] = [];
    const timer = new DeadlineTimer(timers, clock, 60_000, () => fired.push(clock.nowMs()));
    timer.arm(10 * 3_600_000);
    timers.advanceMs(60_000);
    expect(fired).toEqual([60_000]);
  });
});

import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManualClock } from '@gregor/ground';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseBrokerLogConfig } from './log-config.js';
import { LogManager } from './log-manager.js';
import {
  SynchronousAppends,
  synchronousAppendBytesMax,
  synchronousAppendPauseMs,
  synchronousAppendStallMsMax,
} from './synchronous-appends.js';
import { buildTestBatch } from './testing/batches.js';
import { makeTempDir, removeDir } from './testing/temp-dirs.js';

let root: string;

beforeEach(async () => {
  root = await makeTempDir('synchronous-appends-test');
});

afterEach(async () => {
  await removeDir(root);
});

/** A monotonic clock a test moves by hand; each write reads it twice (before and after). */
class ScriptedMonotonicClock {
  nowMs = 0;
  /** Added to the time after every read: how long the write between two reads "took". */
  stepMs = 0;
  read = (): number => {
    const now = this.nowMs;
    this.nowMs += this.stepMs;
    return now;
  };
}

function withFile<T>(body: (fd: number, path: string) => T): T {
  const path = join(root, 'file.log');
  const fd = openSync(path, 'w+');
  try {
    return body(fd, path);
  } finally {
    closeSync(fd);
  }
}

describe('SynchronousAppends', () => {
  it('writes a small append before returning, at its position', () => {
    const appends = new SynchronousAppends(new ScriptedMonotonicClock().read);
    withFile((fd, path) => {
      expect(appends.tryWrite(fd, Buffer.from('abc'), 0)).toBe(true);
      expect(appends.tryWrite(fd, Buffer.from('de'), 3)).toBe(true);
      expect(readFileSync(path, 'latin1')).toBe('abcde');
    });
    expect(appends.stalls).toBe(0);
  });

  it('leaves an append larger than synchronousAppendBytesMax to the thread pool, writing nothing', () => {
    const appends = new SynchronousAppends(new ScriptedMonotonicClock().read);
    withFile((fd, path) => {
      expect(appends.tryWrite(fd, Buffer.alloc(synchronousAppendBytesMax + 1), 0)).toBe(false);
      expect(readFileSync(path).length).toBe(0);
      expect(appends.tryWrite(fd, Buffer.alloc(synchronousAppendBytesMax), 0)).toBe(true);
      expect(readFileSync(path).length).toBe(synchronousAppendBytesMax);
    });
  });

  it('after a write slower than the stall limit, leaves appends to the thread pool for the pause, then writes again', () => {
    const clock = new ScriptedMonotonicClock();
    const appends = new SynchronousAppends(clock.read);
    withFile((fd, path) => {
      clock.stepMs = synchronousAppendStallMsMax; // exactly the limit: not a stall
      expect(appends.tryWrite(fd, Buffer.from('a'), 0)).toBe(true);
      expect(appends.stalls).toBe(0);
      clock.stepMs = synchronousAppendStallMsMax + 1;
      expect(appends.tryWrite(fd, Buffer.from('b'), 1)).toBe(true); // written, but it stalled
      expect(appends.stalls).toBe(1);
      const stallEndMs = clock.nowMs;
      clock.stepMs = 0;
      expect(appends.tryWrite(fd, Buffer.from('c'), 2)).toBe(false);
      clock.nowMs = stallEndMs - synchronousAppendStallMsMax - 1 + synchronousAppendPauseMs - 1;
      expect(appends.tryWrite(fd, Buffer.from('c'), 2)).toBe(false);
      expect(readFileSync(path, 'latin1')).toBe('ab');
      clock.nowMs = stallEndMs - synchronousAppendStallMsMax - 1 + synchronousAppendPauseMs;
      expect(appends.tryWrite(fd, Buffer.from('c'), 2)).toBe(true);
      expect(readFileSync(path, 'latin1')).toBe('abc');
    });
  });

  it("is what a partition log's append uses: the batch is in the segment and its file before the append yields to the event loop", async () => {
    const manager = await LogManager.open({
      config: parseBrokerLogConfig({ 'log.dirs': root }),
      clock: new ManualClock(1_700_000_000_000),
    });
    try {
      const log = await manager.getOrCreateLog('sync', 0);
      const first = buildTestBatch({ recordCount: 2, fillerBytes: 100, maxTimestamp: 1, seed: 1 });
      await log.append(first, 0); // opens the segment's descriptor
      const second = buildTestBatch({ recordCount: 3, fillerBytes: 200, maxTimestamp: 2, seed: 2 });
      const appended = log.append(second, 0);
      // Nothing has awaited yet: the segment took the batch in without waiting for the thread pool
      // (whose write would settle only on a later turn of the event loop).
      expect(log.logEndOffset).toBe(5);
      const segmentFile = join(log.dir, '00000000000000000000.log');
      expect(readFileSync(segmentFile)).toEqual(Buffer.concat([first, second]));
      expect((await appended).baseOffset).toBe(2);
    } finally {
      await manager.close();
    }
  });
});

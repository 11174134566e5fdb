import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManualClock } from '@gregor/ground';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendWritePolicyLimitsDefault } from './append-write-policy.js';
import { parseBrokerLogConfig } from './log-config.js';
import { LogManager } from './log-manager.js';
import { SynchronousAppends, synchronousAppends } from './synchronous-appends.js';
import { buildTestBatch } from './testing/batches.js';
import { makeTempDir, removeDir } from './testing/temp-dirs.js';

let root: string;

beforeEach(async () => {
  root = await makeTempDir('synchronous-appends-test');
});

afterEach(async () => {
  await removeDir(root);
});

/** The test feeds the policy its windows itself: no real sampling that could switch it meanwhile. */
const noSampler = () => () => undefined;

function withFile<T>(body: (fd: number, path: string) => T): T {
  const path = join(root, 'file.log');
  const fd = openSync(path, 'w+');
  try {
    return body(fd, path);
  } finally {
    closeSync(fd);
  }
}

/** Makes the policy of a started `appends` synchronous, as a quiet hold would. */
function makeQuiet(appends: SynchronousAppends): void {
  const holdMs = appendWritePolicyLimitsDefault.quietHoldMs;
  for (let endMs = 100; endMs <= holdMs + 200; endMs += 100) {
    appends.current.onWindow({ endMs, utilization: 0, lateMs: 0 });
  }
  expect(appends.current.mode).toBe('synchronous');
}

describe('SynchronousAppends', () => {
  it('writes nothing synchronously until started, nor after the last stop', () => {
    const appends = new SynchronousAppends();
    withFile((fd, path) => {
      makeQuiet(appends); // a quiet policy, but not started: off
      expect(appends.tryWrite(fd, Buffer.from('a'), 0)).toBe(false);
      appends.start(noSampler);
      appends.start(noSampler);
      makeQuiet(appends);
      expect(appends.tryWrite(fd, Buffer.from('ab'), 0)).toBe(true);
      appends.stop();
      expect(appends.running).toBe(true); // one start left
      expect(appends.tryWrite(fd, Buffer.from('c'), 2)).toBe(true);
      appends.stop();
      expect(appends.running).toBe(false);
      expect(appends.tryWrite(fd, Buffer.from('d'), 3)).toBe(false);
      expect(readFileSync(path, 'latin1')).toBe('abc');
    });
  });

  it('while started, writes what the policy allows at its position and leaves the rest', () => {
    const appends = new SynchronousAppends();
    appends.start(noSampler);
    try {
      withFile((fd, path) => {
        // Started but not yet quiet for a hold: the thread pool.
        expect(appends.tryWrite(fd, Buffer.from('x'), 0)).toBe(false);
        makeQuiet(appends);
        expect(appends.tryWrite(fd, Buffer.from('abc'), 0)).toBe(true);
        expect(appends.tryWrite(fd, Buffer.from('de'), 3)).toBe(true);
        const large = Buffer.alloc(appendWritePolicyLimitsDefault.synchronousBytesMax + 1);
        expect(appends.tryWrite(fd, large, 5)).toBe(false);
        appends.current.onWindow({ endMs: 10_000, utilization: 1, lateMs: 0 }); // busy
        expect(appends.tryWrite(fd, Buffer.from('f'), 5)).toBe(false);
        expect(readFileSync(path, 'latin1')).toBe('abcde');
      });
    } finally {
      appends.stop();
    }
  });

  it('throws a failed write (as the asynchronous one rejects)', () => {
    const appends = new SynchronousAppends();
    appends.start(noSampler);
    try {
      makeQuiet(appends);
      const path = join(root, 'read-only.log');
      closeSync(openSync(path, 'w'));
      const fd = openSync(path, 'r');
      try {
        expect(() => appends.tryWrite(fd, Buffer.from('a'), 0)).toThrow(/EBADF/);
      } finally {
        closeSync(fd);
      }
    } finally {
      appends.stop();
    }
  });

  it("is what a partition log's append uses: when quiet, the batch is in the segment and its file before the append yields", async () => {
    const manager = await LogManager.open({
      config: parseBrokerLogConfig({ 'log.dirs': root }),
      clock: new ManualClock(1_700_000_000_000),
    });
    synchronousAppends.start(noSampler);
    try {
      const log = await manager.getOrCreateLog('sync', 0);
      const first = buildTestBatch({ recordCount: 2, fillerBytes: 100, maxTimestamp: 1, seed: 1 });
      await log.append(first, 0); // opens the segment's descriptor
      makeQuiet(synchronousAppends);
      const second = buildTestBatch({ recordCount: 3, fillerBytes: 200, maxTimestamp: 2, seed: 2 });
      const appended = log.append(second, 0);
      // Nothing has awaited yet: the segment took the batch in without waiting for the thread pool
      // (whose write would settle only on a later turn of the event loop).
      expect(log.logEndOffset).toBe(5);
      const segmentFile = join(log.dir, '00000000000000000000.log');
      expect(readFileSync(segmentFile)).toEqual(Buffer.concat([first, second]));
      expect((await appended).baseOffset).toBe(2);

      // Busy: the next append goes through the thread pool and is not in the log before it yields.
      synchronousAppends.current.onWindow({ endMs: 100_000, utilization: 1, lateMs: 0 });
      const third = buildTestBatch({ recordCount: 1, fillerBytes: 50, maxTimestamp: 3, seed: 3 });
      const appendedLater = log.append(third, 0);
      expect(log.logEndOffset).toBe(5);
      expect((await appendedLater).baseOffset).toBe(5);
      expect(readFileSync(segmentFile)).toEqual(Buffer.concat([first, second, third]));
    } finally {
      synchronousAppends.stop();
      await manager.close();
    }
  });
});

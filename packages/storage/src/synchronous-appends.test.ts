import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ManualClock } from '@gregor/ground';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendWriteBudgetDefault } from './append-write-policy.js';
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

function withFile<T>(body: (fd: number, path: string) => T): T {
  const path = join(root, 'file.log');
  const fd = openSync(path, 'w+');
  try {
    return body(fd, path);
  } finally {
    closeSync(fd);
  }
}

/** Resolves at the next turn of the event loop (after setImmediate callbacks queued before it). */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('SynchronousAppends', () => {
  it('writes nothing synchronously until started, nor after the last stop', () => {
    const appends = new SynchronousAppends();
    withFile((fd, path) => {
      expect(appends.tryWrite(fd, Buffer.from('a'), 0)).toBe(false);
      appends.start();
      appends.start();
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

  it('writes what the budget allows at its position, leaves the rest, and has the whole budget again at the next turn', async () => {
    // A clock that stands still: only the bytes count here, however slow the machine is.
    const appends = new SynchronousAppends(new ManualClock(0));
    appends.start();
    try {
      const path = join(root, 'file.log');
      const fd = openSync(path, 'w+');
      try {
        expect(appends.tryWrite(fd, Buffer.from('abc'), 0)).toBe(true);
        expect(appends.tryWrite(fd, Buffer.from('de'), 3)).toBe(true);
        const large = Buffer.alloc(appendWriteBudgetDefault.synchronousBytesMax + 1, 'L');
        expect(appends.tryWrite(fd, large, 5)).toBe(false);
        // Use up this turn's bytes.
        const full = Buffer.alloc(appendWriteBudgetDefault.synchronousBytesMax, 'x');
        let position = 5;
        // At most 8 tries: a broken budget must fail the test, not fill the disk.
        for (let i = 0; i < 8 && appends.tryWrite(fd, full, position); i++) position += full.length;
        expect(position).toBe(5 + 4 * full.length); // 256 KiB: 5 B and three 64 KiB, then one more
        expect(appends.tryWrite(fd, Buffer.from('f'), position)).toBe(false);
        expect(readFileSync(path).length).toBe(position);
        await nextTurn();
        expect(appends.tryWrite(fd, Buffer.from('g'), position)).toBe(true);
        expect(readFileSync(path).subarray(position).toString('latin1')).toBe('g');
        expect(appends.counts).toEqual({ synchronous: 7, overBudget: 2, turnsExhausted: 1 });
      } finally {
        closeSync(fd);
      }
    } finally {
      appends.stop();
    }
  });

  it('throws a failed write (as the asynchronous one rejects)', () => {
    const appends = new SynchronousAppends();
    appends.start();
    try {
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

  it("is what a partition log's append uses: within the budget the batch is in the segment and its file before the append yields", async () => {
    const manager = await LogManager.open({
      config: parseBrokerLogConfig({ 'log.dirs': root }),
      clock: new ManualClock(1_700_000_000_000),
    });
    synchronousAppends.start();
    try {
      const log = await manager.getOrCreateLog('sync', 0);
      const first = buildTestBatch({ recordCount: 2, fillerBytes: 100, maxTimestamp: 1, seed: 1 });
      await log.append(first, 0); // opens the segment's descriptor
      await nextTurn();
      const second = buildTestBatch({ recordCount: 3, fillerBytes: 200, maxTimestamp: 2, seed: 2 });
      const appended = log.append(second, 0);
      // Nothing has awaited yet: the segment took the batch in without waiting for the thread pool
      // (whose write would settle only on a later turn of the event loop).
      expect(log.logEndOffset).toBe(5);
      const segmentFile = join(log.dir, '00000000000000000000.log');
      expect(readFileSync(segmentFile)).toEqual(Buffer.concat([first, second]));
      expect((await appended).baseOffset).toBe(2);

      // The turn's budget used up (by writes to another file): the next append goes through the
      // thread pool and is not in the log before it yields.
      withFile((fd) => {
        const full = Buffer.alloc(appendWriteBudgetDefault.synchronousBytesMax);
        for (let i = 0; i < 8 && synchronousAppends.tryWrite(fd, full, i * full.length); i++);
      });
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

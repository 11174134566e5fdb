import { cp, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ManualTimers, type TimerHandle } from '@gregor/ground';
import { ErrorCode } from '@gregor/protocol';
import { describe, expect, it } from 'vitest';
import { OffsetMap } from './log-cleaner-offset-map.js';
import { type ConfigProps, parseBrokerLogConfig } from './log-config.js';
import { LogManager, type LogManagerOptions } from './log-manager.js';
import type { PartitionLog } from './partition-log.js';
import { buildTestBatch } from './testing/batches.js';
import { keyedBatch } from './testing/keyed-records.js';
import { smallSegments, useTwoLogDirs } from './testing/two-log-dirs.js';

const dirs = useTwoLogDirs('log-dir-move');

async function openManager(props: ConfigProps = smallSegments, openFilesMax?: number): Promise<LogManager> {
  const manager = await LogManager.open({
    config: parseBrokerLogConfig({ 'log.dirs': `${dirs.a},${dirs.b}`, ...props }),
    clock: dirs.clock,
    ...(openFilesMax === undefined ? {} : { openFilesMax }),
    // A few batches per copy step, so appends and truncations land between steps.
    logDirMoveReadBytesMax: 4096,
  });
  dirs.managers.push(manager);
  return manager;
}

async function closeManager(manager: LogManager): Promise<void> {
  dirs.managers.splice(dirs.managers.indexOf(manager), 1);
  await manager.close();
}

let seed = 1;
function batch(recordCount = 3, fillerBytes = 500): Buffer {
  seed += 1;
  return buildTestBatch({ recordCount, fillerBytes, maxTimestamp: 1_700_000_000_000 + seed, seed });
}

/** Every batch of the log from `from`, as the bytes a reader gets. */
async function readAll(log: PartitionLog, from = log.logStartOffset): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let offset = from;
  while (offset < log.logEndOffset) {
    const result = await log.read(offset, 64 * 1024);
    if (result.errorCode !== ErrorCode.NONE) throw new Error(`read at ${offset}: ${result.errorCode}`);
    chunks.push(result.records);
    offset = nextOffsetAfter(result.records);
  }
  return Buffer.concat(chunks);
}

/** The offset after the last batch of a record set. */
function nextOffsetAfter(records: Buffer): number {
  let at = 0;
  let next = 0;
  while (at < records.length) {
    const base = Number(records.readBigInt64BE(at));
    const size = records.readInt32BE(at + 8) + 12;
    next = base + records.readInt32BE(at + 23) + 1;
    at += size;
  }
  return next;
}

/** A log placed in dir A (the first dir gets the first partition). */
async function logInA(manager: LogManager, topic = 'moving'): Promise<PartitionLog> {
  const log = await manager.getOrCreateLog(topic, 0);
  expect(log.logDir).toBe(dirs.a);
  return log;
}

describe('LogManager.moveLogDir (AlterReplicaLogDirs)', () => {
  it('moves a log while leader appends and reads race the copy, losing nothing, and the move survives a reopen', async () => {
    // Few descriptors: reads reopen segment files by path around the swap.
    const manager = await openManager(smallSegments, 8);
    const log = await logInA(manager);
    const appended: Buffer[] = [];
    for (let i = 0; i < 400; i++) {
      const records = batch();
      await log.append(records, 7);
      appended.push(records);
    }
    const started = await manager.moveLogDir('moving', 0, dirs.b, 'move1');
    if (started.errorCode !== ErrorCode.NONE || !started.moving) throw new Error('move did not start');
    let moved = false;
    // Readers go on through the swap: from the log start (old, cold segments) and at the tail.
    let reads = 0;
    const readers = (async () => {
      while (!moved) {
        for (const offset of [0, Math.max(0, log.logEndOffset - 3)]) {
          const result = await log.read(offset, 2048);
          expect(result.errorCode).toBe(ErrorCode.NONE);
          reads += 1;
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    let appendsWhileCopying = 0;
    let sawFuture = false;
    void started.done.then(() => {
      moved = true;
    });
    while (!moved) {
      const future = manager.futureLogs();
      if (future.length > 0) {
        sawFuture = true;
        expect(future[0]).toMatchObject({ logDir: dirs.b, topic: 'moving', partition: 0 });
        appendsWhileCopying += 1;
      }
      const records = batch();
      await log.append(records, 7);
      appended.push(records);
    }
    await started.done;
    await readers;
    expect(reads).toBeGreaterThan(10);
    expect(manager.offlineLogDirs).toEqual([]);
    expect(sawFuture).toBe(true);
    expect(appendsWhileCopying).toBeGreaterThan(10);
    // Appends after the swap go on in the new dir, through the same object.
    for (let i = 0; i < 5; i++) {
      const records = batch();
      await log.append(records, 7);
      appended.push(records);
    }
    expect(log.logDir).toBe(dirs.b);
    expect(log.dir).toBe(join(dirs.b, 'moving-0'));
    expect(manager.getLog('moving', 0)).toBe(log);
    expect(manager.partitionCountsByDir()).toEqual(
      new Map([
        [dirs.a, 0],
        [dirs.b, 1],
      ]),
    );
    expect(manager.futureLogs()).toEqual([]);
    expect((await readAll(log)).equals(Buffer.concat(appended))).toBe(true);
    expect(await readdir(dirs.a)).not.toContain('moving-0');
    expect((await readdir(dirs.a)).filter((name) => name.startsWith('moving'))).toEqual([]);
    expect((await readdir(dirs.b)).filter((name) => name.startsWith('moving'))).toEqual(['moving-0']);
    expect(log.segmentBaseOffsets().length).toBeGreaterThan(1);

    const logEnd = log.logEndOffset;
    await closeManager(manager);
    const reopened = await openManager();
    const again = reopened.getLog('moving', 0)!;
    expect(again.logDir).toBe(dirs.b);
    expect(again.logEndOffset).toBe(logEnd);
    expect((await readAll(again)).equals(Buffer.concat(appended))).toBe(true);
  });

  it('follows the log through truncations and follower appends during the copy', async () => {
    const manager = await openManager();
    const log = await logInA(manager);
    const kept: Buffer[] = [];
    let offset = 0;
    for (let i = 0; i < 300; i++) {
      const records = buildTestBatch({
        recordCount: 2,
        fillerBytes: 400,
        maxTimestamp: 1,
        seed: i,
        baseOffset: offset,
      });
      await log.appendAsFollower(records);
      if (offset < 200) kept.push(records);
      offset += 2;
    }
    const started = await manager.moveLogDir('moving', 0, dirs.b, 'move2');
    if (started.errorCode !== ErrorCode.NONE || !started.moving) throw new Error('move did not start');
    // Let the copy pass offset 200 before the truncation.
    while ((manager.futureLogs()[0]?.offsetLag ?? 600) > 300) await new Promise((r) => setImmediate(r));
    const copiedBeforeTruncation = 600 - manager.futureLogs()[0]!.offsetLag;
    expect(copiedBeforeTruncation).toBeGreaterThan(200);
    expect(copiedBeforeTruncation).toBeLessThan(600);
    await log.truncateTo(200);
    offset = 200;
    for (let i = 0; i < 50; i++) {
      const records = buildTestBatch({
        recordCount: 2,
        fillerBytes: 400,
        maxTimestamp: 2,
        seed: 1000 + i,
        baseOffset: offset,
      });
      await log.appendAsFollower(records);
      kept.push(records);
      offset += 2;
    }
    await started.done;
    expect(log.logDir).toBe(dirs.b);
    expect(log.logEndOffset).toBe(300);
    expect((await readAll(log)).equals(Buffer.concat(kept))).toBe(true);
  });

  it('carries a log start offset inside a batch (DeleteRecords) and the leader-epoch checkpoint file', async () => {
    const manager = await openManager();
    const log = await logInA(manager);
    const appended: Buffer[] = [];
    for (let i = 0; i < 50; i++) {
      const records = batch(4);
      await log.append(records, 3);
      appended.push(records);
    }
    await log.incrementLogStartOffset(42);
    await writeFile(join(log.dir, 'leader-epoch-checkpoint'), '0\n1\n3 0\n');
    const started = await manager.moveLogDir('moving', 0, dirs.b, 'move3');
    if (started.errorCode !== ErrorCode.NONE || !started.moving) throw new Error('move did not start');
    await started.done;
    expect(log.logDir).toBe(dirs.b);
    expect(log.logStartOffset).toBe(42);
    // The batch holding offset 42 starts at 40: readers get it whole, as before the move.
    expect((await readAll(log)).equals(Buffer.concat(appended.slice(10)))).toBe(true);
    expect(await readFile(join(log.dir, 'leader-epoch-checkpoint'), 'utf8')).toBe('0\n1\n3 0\n');
    await closeManager(manager);
    const reopened = await openManager();
    expect(reopened.getLog('moving', 0)!.logStartOffset).toBe(42);
  });

  it('answers NONE without moving when the log is there, and refuses unknown dirs and partitions', async () => {
    const manager = await openManager();
    await logInA(manager);
    expect(await manager.moveLogDir('moving', 0, dirs.a, 'x')).toEqual({
      errorCode: ErrorCode.NONE,
      moving: false,
    });
    expect(await manager.moveLogDir('moving', 0, join(dirs.root, 'elsewhere'), 'x')).toMatchObject({
      errorCode: ErrorCode.LOG_DIR_NOT_FOUND,
    });
    expect(await manager.moveLogDir('absent', 0, dirs.b, 'x')).toMatchObject({
      errorCode: ErrorCode.REPLICA_NOT_AVAILABLE,
    });
    expect(manager.futureLogs()).toEqual([]);
  });

  it('takes two requests for another dir, sent while a move runs, one after the other: one move, not two', async () => {
    const dirC = join(dirs.root, 'c');
    const manager = await LogManager.open({
      config: parseBrokerLogConfig({ 'log.dirs': `${dirs.a},${dirs.b},${dirC}`, ...smallSegments }),
      clock: dirs.clock,
      logDirMoveReadBytesMax: 4096,
    });
    dirs.managers.push(manager);
    const log = await logInA(manager);
    const appended: Buffer[] = [];
    for (let i = 0; i < 200; i++) {
      const records = batch();
      await log.append(records, 7);
      appended.push(records);
    }
    const first = await manager.moveLogDir('moving', 0, dirs.b, 'first');
    expect(first).toMatchObject({ errorCode: ErrorCode.NONE, moving: true });
    // Both wait for the first move's cancellation; before, both then started a move of their own.
    const [second, third] = await Promise.all([
      manager.moveLogDir('moving', 0, dirC, 'second'),
      manager.moveLogDir('moving', 0, dirC, 'third'),
    ]);
    if (second.errorCode !== ErrorCode.NONE || !second.moving) throw new Error('second move did not start');
    if (third.errorCode !== ErrorCode.NONE || !third.moving) throw new Error('third request started nothing');
    await Promise.all([second.done, third.done]);
    expect(log.logDir).toBe(dirC);
    expect(manager.offlineLogDirs).toEqual([]);
    expect((await readAll(log)).equals(Buffer.concat(appended))).toBe(true);
    const leftovers = async (dir: string) =>
      (await readdir(dir).catch(() => [])).filter((name) => name.startsWith('moving'));
    expect(await leftovers(dirs.a)).toEqual([]);
    expect(await leftovers(dirs.b)).toEqual([]);
    expect(await leftovers(dirC)).toEqual(['moving-0']);
  });

  it('cancels the copy and removes the future directory when the partition is deleted', async () => {
    const manager = await openManager();
    const log = await logInA(manager);
    for (let i = 0; i < 300; i++) await log.append(batch(), 0);
    const started = await manager.moveLogDir('moving', 0, dirs.b, 'move5');
    if (started.errorCode !== ErrorCode.NONE || !started.moving) throw new Error('move did not start');
    await manager.deleteLog('moving', 0, 'topicid');
    await started.done;
    expect(manager.getLog('moving', 0)).toBeUndefined();
    expect(manager.futureLogs()).toEqual([]);
    expect((await readdir(dirs.b)).filter((name) => name.startsWith('moving'))).toEqual([]);
    expect((await readdir(dirs.a)).filter((name) => name.startsWith('moving'))).toEqual([]);
  });
});

describe('a throttled move (replica.alter.log.dirs.io.max.bytes.per.second)', () => {
  const rateBytesPerSecond = 20_000;

  /** ManualTimers that say when the copy schedules its next wait. */
  class PauseTimers extends ManualTimers {
    private waiting: (() => void) | undefined;

    override schedule(callback: () => void, delayMs: number): TimerHandle {
      const handle = super.schedule(callback, delayMs);
      this.waiting?.();
      return handle;
    }

    scheduled(): Promise<void> {
      return new Promise((resolve) => {
        this.waiting = resolve;
      });
    }
  }

  async function openThrottled(
    copied: number[],
    faults: Pick<LogManagerOptions, 'openFile' | 'renameDir'> = {},
  ): Promise<{ manager: LogManager; timers: PauseTimers }> {
    const timers = new PauseTimers(dirs.clock);
    const manager = await LogManager.open({
      config: parseBrokerLogConfig({ 'log.dirs': `${dirs.a},${dirs.b}`, ...smallSegments }),
      clock: dirs.clock,
      logDirMoveReadBytesMax: 4096,
      logDirCopyThrottle: {
        rateBytesPerSecond: () => rateBytesPerSecond,
        recordCopied: (bytes) => copied.push(bytes),
      },
      timers,
      ...faults,
    });
    dirs.managers.push(manager);
    return { manager, timers };
  }

  /** Lets the copy run until it waits on a timer, or the move ended. */
  async function untilPaused(timers: PauseTimers, done: Promise<void>): Promise<void> {
    if (timers.pendingCount === 0) await Promise.race([timers.scheduled(), done]);
  }

  it('copies at most one window of allowance per second of the clock, and completes', async () => {
    const copied: number[] = [];
    const { manager, timers } = await openThrottled(copied);
    const log = await logInA(manager);
    for (let i = 0; i < 150; i++) await log.append(batch(), 7);
    const before = await readAll(log);
    expect(before.length).toBeGreaterThan(3 * rateBytesPerSecond);
    const started = await manager.moveLogDir('moving', 0, dirs.b, 'paced');
    if (started.errorCode !== ErrorCode.NONE || !started.moving) throw new Error('move did not start');
    let ended = false;
    void started.done.then(() => {
      ended = true;
    });
    let seconds = 0;
    for (; !ended && seconds < 100; seconds++) {
      await untilPaused(timers, started.done);
      const total = copied.reduce((sum, bytes) => sum + bytes, 0);
      // Nothing beyond the allowance of the windows the clock went through (the first one included).
      expect(total).toBeLessThanOrEqual(rateBytesPerSecond * (seconds + 1));
      if (!ended) timers.advanceMs(1_000);
    }
    await started.done;
    // At 20,000 B/s the copy of the log took about its size / rate seconds of the clock.
    expect(seconds).toBeGreaterThanOrEqual(Math.floor(before.length / rateBytesPerSecond));
    expect(seconds).toBeLessThanOrEqual(Math.ceil(before.length / rateBytesPerSecond) + 1);
    expect(copied.reduce((sum, bytes) => sum + bytes, 0)).toBe(before.length);
    expect(log.logDir).toBe(dirs.b);
    expect((await readAll(log)).equals(before)).toBe(true);
  });

  it('paces two moves together at the one broker-wide rate, not each at it', async () => {
    const copied: number[] = [];
    const { manager, timers } = await openThrottled(copied);
    const logs = [await logInA(manager, 'moving'), await manager.getOrCreateLog('moving-too', 0)];
    // The second partition placed in dir B: moved to A, so both copies run at once.
    expect(logs[1]!.logDir).toBe(dirs.b);
    for (const log of logs) for (let i = 0; i < 75; i++) await log.append(batch(), 7);
    const before = await Promise.all(logs.map((log) => readAll(log)));
    const totalBytes = before[0]!.length + before[1]!.length;
    const moves = [
      await manager.moveLogDir('moving', 0, dirs.b, 'paced-1'),
      await manager.moveLogDir('moving-too', 0, dirs.a, 'paced-2'),
    ];
    const dones = moves.map((started) => {
      if (started.errorCode !== ErrorCode.NONE || !started.moving) throw new Error('move did not start');
      return started.done;
    });
    const bothDone = Promise.all(dones).then(() => undefined);
    let ended = false;
    void bothDone.then(() => {
      ended = true;
    });
    let seconds = 0;
    for (; !ended && seconds < 100; seconds++) {
      await untilPaused(timers, bothDone);
      const total = copied.reduce((sum, bytes) => sum + bytes, 0);
      // One allowance per window for both; two steps may pass the pace check before either
      // records its read, so at most one read beyond it.
      expect(total).toBeLessThanOrEqual(rateBytesPerSecond * (seconds + 1) + 4096);
      if (!ended) timers.advanceMs(1_000);
    }
    await bothDone;
    // Each paced on its own, the two would have taken half as long.
    expect(seconds).toBeGreaterThanOrEqual(Math.floor(totalBytes / rateBytesPerSecond) - 1);
    expect(copied.reduce((sum, bytes) => sum + bytes, 0)).toBe(totalBytes);
    expect(logs.map((log) => log.logDir)).toEqual([dirs.b, dirs.a]);
    expect((await readAll(logs[0]!)).equals(before[0]!)).toBe(true);
    expect((await readAll(logs[1]!)).equals(before[1]!)).toBe(true);
  });

  it('copies on when the cleaner gave the offsets of the batch just copied to the next one (a compacted log)', async () => {
    // Paced at one read per second, so the cleaner runs between two copy steps.
    const timers = new PauseTimers(dirs.clock);
    const compacted: ConfigProps = { 'cleanup.policy': 'compact', 'segment.bytes': '2000' };
    const manager = await LogManager.open({
      config: parseBrokerLogConfig({ 'log.dirs': `${dirs.a},${dirs.b}` }),
      clock: dirs.clock,
      logDirMoveReadBytesMax: 4096,
      logDirCopyThrottle: { rateBytesPerSecond: () => 4096, recordCopied: () => undefined },
      timers,
      topicOverrides: () => compacted,
    });
    dirs.managers.push(manager);
    const log = await manager.getOrCreateLog('moving', 0, compacted);
    expect(log.logDir).toBe(dirs.a);
    // One record per batch, each key once: offset i holds key-i.
    const record = (key: number) => ({
      key: `key-${key}`,
      value: 'v'.repeat(150),
      timestamp: dirs.clock.nowMs(),
    });
    for (let i = 0; i < 60; i++) await log.append(keyedBatch([record(i)]), 3);
    const started = await manager.moveLogDir('moving', 0, dirs.b, 'compacted');
    if (started.errorCode !== ErrorCode.NONE || !started.moving) throw new Error('move did not start');
    await untilPaused(timers, started.done);
    const [future] = manager.futureLogs();
    const copiedEnd = log.logEndOffset - future!.offsetLag;
    expect(copiedEnd).toBeGreaterThan(1);
    expect(copiedEnd).toBeLessThan(60);
    // The last batch copied is superseded: the cleaner removes it and the next batch, kept, starts
    // at its offset (below the copy's end).
    await log.append(keyedBatch([record(copiedEnd - 1)]), 3);
    await log.roll();
    const result = await log.compact({
      nowMs: dirs.clock.nowMs(),
      offsetMap: new OffsetMap(1024 * 1024, 0.9),
    });
    expect(result.cleaned).toBe(true);
    const next = await log.read(copiedEnd, 1);
    if (next.errorCode !== ErrorCode.NONE) throw new Error(`read at ${copiedEnd}: ${next.errorCode}`);
    expect(next.firstBatchBaseOffset).toBe(copiedEnd - 1);
    const expected = await readAll(log);
    let ended = false;
    void started.done.then(
      () => {
        ended = true;
      },
      () => {
        ended = true;
      },
    );
    for (let seconds = 0; !ended && seconds < 100; seconds++) {
      timers.advanceMs(1_000);
      await untilPaused(timers, started.done);
    }
    await started.done;
    expect(log.logDir).toBe(dirs.b);
    expect(manager.offlineLogDirs).toEqual([]);
    expect((await readAll(log)).equals(expected)).toBe(true);
  });

  it('a failure in the target dir during the swap fails the move and takes that dir offline, not the source', async () => {
    const { manager, timers } = await openThrottled([]);
    const log = await logInA(manager);
    for (let i = 0; i < 150; i++) await log.append(batch(), 7);
    const started = await manager.moveLogDir('moving', 0, dirs.b, 'blocked');
    if (started.errorCode !== ErrorCode.NONE || !started.moving) throw new Error('move did not start');
    await untilPaused(timers, started.done);
    // The swap's rename of the future directory into the partition's name fails in dir B
    // (ENOTEMPTY), after the source directory was renamed to -moved.
    await mkdir(join(dirs.b, 'moving-0'));
    await writeFile(join(dirs.b, 'moving-0', 'in-the-way'), 'x');
    let failure: unknown;
    const ended = started.done.catch((error: unknown) => {
      failure = error;
    });
    let settled = false;
    void ended.then(() => {
      settled = true;
    });
    for (let seconds = 0; !settled && seconds < 100; seconds++) {
      timers.advanceMs(1_000);
      await Promise.race([untilPaused(timers, started.done), ended]);
    }
    await ended;
    expect(failure).toBeInstanceOf(Error);
    expect(String(failure)).toContain('ENOTEMPTY');
    expect(manager.offlineLogDirs.map((dir) => dir.logDir)).toEqual([dirs.b]);
    // The log goes on in dir A under its own name, with every batch.
    expect(log.logDir).toBe(dirs.a);
    expect(log.isOffline).toBe(false);
    expect((await readdir(dirs.a)).filter((name) => name.startsWith('moving'))).toEqual(['moving-0']);
    const before = await readAll(log);
    await log.append(batch(), 7);
    expect((await readAll(log)).subarray(0, before.length).equals(before)).toBe(true);
    expect(log.logEndOffset).toBe(151 * 3);
  });

  /** Lets a move run to its end, the clock moving a second at a time; what it failed with, if it did. */
  async function runToEnd(timers: PauseTimers, done: Promise<void>): Promise<unknown> {
    let failure: unknown;
    let settled = false;
    const ended = done.then(
      () => {
        settled = true;
      },
      (error: unknown) => {
        failure = error;
        settled = true;
      },
    );
    for (let seconds = 0; !settled && seconds < 100; seconds++) {
      timers.advanceMs(1_000);
      await Promise.race([untilPaused(timers, done), ended]);
    }
    await ended;
    return failure;
  }

  const ioError = (code: string, syscall: string, path: string): NodeJS.ErrnoException =>
    Object.assign(new Error(`${code}: i/o error, ${syscall} '${path}'`), { code, syscall, path });

  /**
   * After a move that failed in dir B: dir B is offline and holds nothing of the partition, the log
   * goes on in dir A under its own name with every batch, takes appends, and a broker opening the
   * dirs again finds it there whole.
   */
  async function expectServedFromA(manager: LogManager, log: PartitionLog, before: Buffer): Promise<void> {
    expect(manager.offlineLogDirs.map((dir) => dir.logDir)).toEqual([dirs.b]);
    expect(manager.futureLogs()).toEqual([]);
    expect(log.logDir).toBe(dirs.a);
    expect(log.isOffline).toBe(false);
    expect((await readdir(dirs.a)).filter((name) => name.startsWith('moving'))).toEqual(['moving-0']);
    expect((await readdir(dirs.b)).filter((name) => name.startsWith('moving'))).toEqual([]);
    expect((await readAll(log)).equals(before)).toBe(true);
    const appended = batch();
    await log.append(appended, 7);
    const after = await readAll(log);
    expect(after.subarray(0, before.length).equals(before)).toBe(true);
    await closeManager(manager);
    const reopened = await openManager();
    const again = reopened.getLog('moving', 0);
    expect(again?.logDir).toBe(dirs.a);
    expect((await readAll(again!)).equals(after)).toBe(true);
  }

  it('the reopen of the moved log failing in the target dir renames both directories back: dir B offline, the log served from dir A', async () => {
    // Once the future directory took the partition's name in dir B, no file under it opens (EIO).
    const fault = { failOpensUnder: undefined as string | undefined, refused: 0 };
    const { manager, timers } = await openThrottled([], {
      openFile: (path, flags) => {
        if (fault.failOpensUnder !== undefined && path.startsWith(`${fault.failOpensUnder}/`)) {
          fault.refused += 1;
          return Promise.reject(ioError('EIO', 'open', path));
        }
        return open(path, flags);
      },
      renameDir: async (from, to) => {
        await rename(from, to);
        fault.failOpensUnder = to === join(dirs.b, 'moving-0') ? to : undefined;
      },
    });
    const log = await logInA(manager);
    for (let i = 0; i < 150; i++) await log.append(batch(), 7);
    const before = await readAll(log);
    const started = await manager.moveLogDir('moving', 0, dirs.b, 'reopen');
    if (started.errorCode !== ErrorCode.NONE || !started.moving) throw new Error('move did not start');
    const failure = await runToEnd(timers, started.done);
    expect(fault.refused).toBeGreaterThan(0);
    expect(String(failure)).toContain('open of the moved log');
    expect(String(failure)).toContain('EIO');
    await expectServedFromA(manager, log, before);
  });

  it('the fsync of the target dir after the rename failing renames both directories back: dir B offline, the log served from dir A', async () => {
    // Dir B's own descriptor refuses fsync (EIO) once the future directory took the partition's name.
    const fault = { armed: false, refused: 0 };
    const { manager, timers } = await openThrottled([], {
      openFile: async (path, flags) => {
        const handle = await open(path, flags);
        if (path === dirs.b) {
          const sync = handle.sync.bind(handle);
          handle.sync = () => {
            if (!fault.armed) return sync();
            fault.refused += 1;
            return Promise.reject(ioError('EIO', 'fsync', path));
          };
        }
        return handle;
      },
      renameDir: async (from, to) => {
        await rename(from, to);
        fault.armed = to === join(dirs.b, 'moving-0');
      },
    });
    const log = await logInA(manager);
    for (let i = 0; i < 150; i++) await log.append(batch(), 7);
    const before = await readAll(log);
    const started = await manager.moveLogDir('moving', 0, dirs.b, 'fsync');
    if (started.errorCode !== ErrorCode.NONE || !started.moving) throw new Error('move did not start');
    const failure = await runToEnd(timers, started.done);
    expect(fault.refused).toBe(1);
    expect(String(failure)).toContain('fsync in');
    expect(String(failure)).toContain('EIO');
    await expectServedFromA(manager, log, before);
  });

  it('a partition file (the leader-epoch checkpoint) that cannot be written into the future directory fails the move before any rename: dir B offline, the log served from dir A', async () => {
    const { manager, timers } = await openThrottled([]);
    const log = await logInA(manager);
    for (let i = 0; i < 150; i++) await log.append(batch(), 7);
    const before = await readAll(log);
    // The replication layer keeps the partition's leader epochs in this file beside the segments.
    await writeFile(join(log.dir, 'leader-epoch-checkpoint'), '0\n1\n7 0\n');
    const started = await manager.moveLogDir('moving', 0, dirs.b, 'copy');
    if (started.errorCode !== ErrorCode.NONE || !started.moving) throw new Error('move did not start');
    await untilPaused(timers, started.done);
    // While the copy waits for the throttle, a directory takes the checkpoint's name in the future
    // directory: the swap's copy of the file there fails (EISDIR), as a write failing in dir B would.
    const [futureName] = (await readdir(dirs.b)).filter((name) => name.endsWith('-future'));
    const blocked = join(dirs.b, futureName!, 'leader-epoch-checkpoint');
    await mkdir(blocked);
    const failure = await runToEnd(timers, started.done);
    expect(String(failure)).toContain('copy of leader-epoch-checkpoint');
    await expectServedFromA(manager, log, before);
    expect(await readFile(join(dirs.a, 'moving-0', 'leader-epoch-checkpoint'), 'utf8')).toBe('0\n1\n7 0\n');
  });

  it('a future log whose roll finds the target disk full fails the move; no dir goes offline', async () => {
    const timers = new PauseTimers(dirs.clock);
    const diskFull = { armed: false, refused: 0 };
    const manager = await LogManager.open({
      config: parseBrokerLogConfig({ 'log.dirs': `${dirs.a},${dirs.b}`, ...smallSegments }),
      clock: dirs.clock,
      logDirMoveReadBytesMax: 4096,
      logDirCopyThrottle: { rateBytesPerSecond: () => rateBytesPerSecond, recordCopied: () => undefined },
      timers,
      // While armed, no new segment file can be created in dir B (a full disk).
      openFile: (path, flags) => {
        if (diskFull.armed && path.startsWith(dirs.b) && path.endsWith('.log')) {
          diskFull.refused += 1;
          const error = Object.assign(new Error(`ENOSPC: no space left on device, open '${path}'`), {
            code: 'ENOSPC',
            syscall: 'open',
            path,
          });
          return Promise.reject(error);
        }
        return open(path, flags);
      },
    });
    dirs.managers.push(manager);
    const log = await logInA(manager);
    for (let i = 0; i < 150; i++) await log.append(batch(), 7);
    const before = await readAll(log);
    const started = await manager.moveLogDir('moving', 0, dirs.b, 'full');
    if (started.errorCode !== ErrorCode.NONE || !started.moving) throw new Error('move did not start');
    await untilPaused(timers, started.done);
    diskFull.armed = true;
    let failure: unknown;
    const ended = started.done.catch((error: unknown) => {
      failure = error;
    });
    let settled = false;
    void ended.then(() => {
      settled = true;
    });
    for (let seconds = 0; !settled && seconds < 100; seconds++) {
      timers.advanceMs(1_000);
      await Promise.race([untilPaused(timers, started.done), ended]);
    }
    await ended;
    expect(diskFull.refused).toBeGreaterThan(0);
    expect(failure).toMatchObject({ code: ErrorCode.KAFKA_STORAGE_ERROR });
    expect(manager.offlineLogDirs).toEqual([]);
    expect(manager.futureLogs()).toEqual([]);
    expect((await readdir(dirs.b)).filter((name) => name.startsWith('moving'))).toEqual([]);
    expect(log.logDir).toBe(dirs.a);
    expect((await readAll(log)).equals(before)).toBe(true);
    // With space again, the move is asked for again and completes.
    diskFull.armed = false;
    const again = await manager.moveLogDir('moving', 0, dirs.b, 'space');
    if (again.errorCode !== ErrorCode.NONE || !again.moving) throw new Error('move did not start');
    let moved = false;
    void again.done.then(() => {
      moved = true;
    });
    for (let seconds = 0; !moved && seconds < 100; seconds++) {
      timers.advanceMs(1_000);
      await untilPaused(timers, again.done);
    }
    await again.done;
    expect(log.logDir).toBe(dirs.b);
    expect((await readAll(log)).equals(before)).toBe(true);
  });

  it('a copy waiting on the throttle is cancelled at once when the partition is deleted', async () => {
    const { manager, timers } = await openThrottled([]);
    const log = await logInA(manager);
    for (let i = 0; i < 60; i++) await log.append(batch(), 7);
    const started = await manager.moveLogDir('moving', 0, dirs.b, 'paced');
    if (started.errorCode !== ErrorCode.NONE || !started.moving) throw new Error('move did not start');
    await untilPaused(timers, started.done);
    expect(timers.pendingCount).toBe(1);
    expect(manager.futureLogs()).toHaveLength(1);
    // The clock does not move: the wait ends because the move is cancelled.
    await manager.deleteLog('moving', 0, 'gone');
    await started.done;
    expect(manager.futureLogs()).toEqual([]);
    expect((await readdir(dirs.b)).filter((name) => name.startsWith('moving'))).toEqual([]);
  });
});

describe('opening after a move a crash interrupted', () => {
  async function fillAndClose(): Promise<number> {
    const manager = await openManager();
    const log = await logInA(manager);
    for (let i = 0; i < 20; i++) await log.append(batch(), 0);
    const logEnd = log.logEndOffset;
    await closeManager(manager);
    return logEnd;
  }

  /** Opens the dirs again, counting the bytes a resumed copy reads (unbounded). */
  async function reopenCounting(): Promise<{ manager: LogManager; copied: number[] }> {
    const copied: number[] = [];
    const manager = await LogManager.open({
      config: parseBrokerLogConfig({ 'log.dirs': `${dirs.a},${dirs.b}`, ...smallSegments }),
      clock: dirs.clock,
      logDirMoveReadBytesMax: 4096,
      logDirCopyThrottle: {
        rateBytesPerSecond: () => Number.POSITIVE_INFINITY,
        recordCopied: (bytes) => copied.push(bytes),
      },
    });
    dirs.managers.push(manager);
    return { manager, copied };
  }

  /** Waits for the move the open resumed into dir B (asking for it again joins it), if any is left. */
  async function resumedMoveDone(manager: LogManager): Promise<void> {
    const started = await manager.moveLogDir('moving', 0, dirs.b, 'asked-again');
    if (started.errorCode !== ErrorCode.NONE) throw new Error(`move: ${started.errorCode}`);
    if (started.moving) await started.done;
  }

  /** The segment bytes of a partition directory, in order. */
  async function segmentBytes(dir: string): Promise<Buffer> {
    const names = (await readdir(dir)).filter((name) => name.endsWith('.log')).sort();
    return Buffer.concat(await Promise.all(names.map((name) => readFile(join(dir, name)))));
  }

  const sum = (values: readonly number[]) => values.reduce((total, value) => total + value, 0);

  it('resumes a copy from the end of its future directory, not from the log start', async () => {
    await fillAndClose();
    // The copy had taken the first 20 batches when the broker stopped; 10 more came after.
    // Kept aside while the log goes on (an open would resume it), placed in dir B before the reopen.
    await cp(join(dirs.a, 'moving-0'), join(dirs.root, 'copy-so-far'), { recursive: true });
    const before = await openManager();
    const log = before.getLog('moving', 0)!;
    const copiedEnd = log.logEndOffset;
    const later: Buffer[] = [];
    for (let i = 0; i < 10; i++) {
      const records = batch();
      await log.append(records, 0);
      later.push(records);
    }
    const whole = await readAll(log);
    await closeManager(before);
    await cp(join(dirs.root, 'copy-so-far'), join(dirs.b, 'moving-0.abc-future'), { recursive: true });

    const { manager, copied } = await reopenCounting();
    await resumedMoveDone(manager);
    const moved = manager.getLog('moving', 0)!;
    expect(moved.logDir).toBe(dirs.b);
    expect((await readAll(moved)).equals(whole)).toBe(true);
    // Only the batches after the copy's end were read again (the batches are stored as appended).
    expect(sum(copied)).toBe(Buffer.concat(later).length);
    expect(copiedEnd).toBeLessThan(moved.logEndOffset);
    expect((await readdir(dirs.a)).filter((name) => name.startsWith('moving'))).toEqual([]);
    expect((await readdir(dirs.b)).filter((name) => name.startsWith('moving'))).toEqual(['moving-0']);
  });

  it('cuts a torn tail of the future log (checked as after an unclean shutdown) and copies on from there', async () => {
    await fillAndClose();
    // Kept aside while the log goes on (an open would resume it), placed in dir B before the reopen.
    await cp(join(dirs.a, 'moving-0'), join(dirs.root, 'copy-so-far'), { recursive: true });
    const before = await openManager();
    const log = before.getLog('moving', 0)!;
    const next = batch();
    await log.append(next, 0);
    const whole = await readAll(log);
    await closeManager(before);
    await cp(join(dirs.root, 'copy-so-far'), join(dirs.b, 'moving-0.abc-future'), { recursive: true });
    // The crash cut the copy's append of that batch halfway.
    const futureDir = join(dirs.b, 'moving-0.abc-future');
    const lastSegment = (await readdir(futureDir))
      .filter((name) => name.endsWith('.log'))
      .sort()
      .at(-1)!;
    await writeFile(join(futureDir, lastSegment), next.subarray(0, next.length >> 1), { flag: 'a' });

    const { manager, copied } = await reopenCounting();
    await resumedMoveDone(manager);
    const moved = manager.getLog('moving', 0)!;
    expect(moved.logDir).toBe(dirs.b);
    expect((await readAll(moved)).equals(whole)).toBe(true);
    expect(sum(copied)).toBe(next.length);
    expect((await segmentBytes(join(dirs.b, 'moving-0'))).equals(whole)).toBe(true);
  });

  it('starts the copy again when the log was truncated and took other batches since the copy stopped', async () => {
    await fillAndClose();
    // Kept aside while the log goes on (an open would resume it), placed in dir B before the reopen.
    await cp(join(dirs.a, 'moving-0'), join(dirs.root, 'copy-so-far'), { recursive: true });
    const before = await openManager();
    const log = before.getLog('moving', 0)!;
    // A follower's truncation to offset 30 (batch 10) and a new leader's batches after it: the
    // copy's last batch (offset 57-59) is no longer the log's.
    await log.truncateTo(30);
    for (let i = 0; i < 15; i++) await log.append(batch(), 0);
    const whole = await readAll(log);
    await closeManager(before);
    await cp(join(dirs.root, 'copy-so-far'), join(dirs.b, 'moving-0.abc-future'), { recursive: true });

    const { manager, copied } = await reopenCounting();
    await resumedMoveDone(manager);
    const moved = manager.getLog('moving', 0)!;
    expect(moved.logDir).toBe(dirs.b);
    expect((await readAll(moved)).equals(whole)).toBe(true);
    // Everything was copied again.
    expect(sum(copied)).toBe(whole.length);
  });

  it('removes a future directory whose partition is gone, or is in the same dir', async () => {
    const logEnd = await fillAndClose();
    await mkdir(join(dirs.b, 'gone-3.abc-future'), { recursive: true });
    await cp(join(dirs.a, 'moving-0'), join(dirs.a, 'moving-0.def-future'), { recursive: true });
    const manager = await openManager();
    expect(manager.futureLogs()).toEqual([]);
    expect(manager.getLog('gone', 3)).toBeUndefined();
    expect(manager.getLog('moving', 0)!.logDir).toBe(dirs.a);
    expect(manager.getLog('moving', 0)!.logEndOffset).toBe(logEnd);
    expect(await readdir(dirs.b)).not.toContain('gone-3.abc-future');
    expect((await readdir(dirs.a)).filter((name) => name.startsWith('moving'))).toEqual(['moving-0']);
  });

  it('resumes an empty future directory: the copy starts at the log start', async () => {
    const logEnd = await fillAndClose();
    await mkdir(join(dirs.b, 'moving-0.abc-future'), { recursive: true });
    const { manager, copied } = await reopenCounting();
    await resumedMoveDone(manager);
    const log = manager.getLog('moving', 0)!;
    expect(log.logDir).toBe(dirs.b);
    expect(log.logEndOffset).toBe(logEnd);
    expect(sum(copied)).toBe((await readAll(log)).length);
    expect(await readdir(dirs.b)).not.toContain('moving-0.abc-future');
  });

  it('gives a moved directory its name back when the future one never took it, and the copy goes on', async () => {
    const logEnd = await fillAndClose();
    await rename(join(dirs.a, 'moving-0'), join(dirs.a, 'moving-0.abc-moved'));
    await mkdir(join(dirs.b, 'moving-0.abc-future'), { recursive: true });
    const manager = await openManager();
    const log = manager.getLog('moving', 0)!;
    expect(log.logEndOffset).toBe(logEnd);
    expect((await readdir(dirs.a)).filter((name) => name.startsWith('moving-0.'))).toEqual([]);
    await resumedMoveDone(manager);
    expect(log.logDir).toBe(dirs.b);
    expect(log.logEndOffset).toBe(logEnd);
    expect((await readdir(dirs.a)).filter((name) => name.startsWith('moving'))).toEqual([]);
  });
  it('removes a moved directory when the partition took its name in the other dir', async () => {
    const logEnd = await fillAndClose();
    await mkdir(dirs.b, { recursive: true });
    // As after step 2 of the swap: the complete copy is in B under the partition's name.
    await cp(join(dirs.a, 'moving-0'), join(dirs.b, 'moving-0'), { recursive: true });
    await rename(join(dirs.a, 'moving-0'), join(dirs.a, 'moving-0.abc-moved'));
    const manager = await openManager();
    const log = manager.getLog('moving', 0)!;
    expect(log.logDir).toBe(dirs.b);
    expect(log.logEndOffset).toBe(logEnd);
    expect((await readdir(dirs.a)).filter((name) => name.startsWith('moving'))).toEqual([]);
    expect((await stat(join(dirs.b, 'moving-0'))).isDirectory()).toBe(true);
  });

  it('a crash after the swap, before the checkpoints: the old dir keeps no cleaner bookmark for a log of that name made there later', async () => {
    const compacted: ConfigProps = { 'cleanup.policy': 'compact', 'segment.bytes': '2000' };
    const openCompacted = async () => {
      const manager = await LogManager.open({
        config: parseBrokerLogConfig({ 'log.dirs': `${dirs.a},${dirs.b}` }),
        clock: dirs.clock,
        topicOverrides: () => compacted,
      });
      dirs.managers.push(manager);
      return manager;
    };
    const fill = async (log: PartitionLog) => {
      for (let i = 0; i < 60; i++) {
        await log.append(
          keyedBatch([{ key: `key-${i % 20}`, value: 'v'.repeat(150), timestamp: dirs.clock.nowMs() }]),
          3,
        );
      }
      await log.roll();
    };
    const before = await openCompacted();
    await fill(await before.getOrCreateLog('moving', 0, compacted));
    const first = await before.runCleaner({ nowMs: dirs.clock.nowMs() });
    expect(first.cleaned[0]!.result.nextDirtyOffset).toBe(60);
    await closeManager(before);
    // The swap's renames happened, the dirs' checkpoints were not written: dir A's cleaner
    // checkpoint still has the partition, which now lives in dir B.
    await mkdir(dirs.b, { recursive: true });
    await rename(join(dirs.a, 'moving-0'), join(dirs.b, 'moving-0'));
    const manager = await openCompacted();
    expect(manager.getLog('moving', 0)!.logDir).toBe(dirs.b);
    // The topic is deleted and made again; its new log goes to dir A.
    await manager.deleteLog('moving', 0, 'old');
    const again = await manager.getOrCreateLog('moving', 0, compacted);
    expect(again.logDir).toBe(dirs.a);
    await fill(again);
    const cleaning = await manager.runCleaner({ nowMs: dirs.clock.nowMs() });
    expect(cleaning.cleaned.map((cleaned) => cleaned.result.firstDirtyOffset)).toEqual([0]);
  });

  it('keeps a moved directory unopened while the other dir cannot be read, and removes it once it can', async () => {
    const staleEnd = await fillAndClose();
    await cp(join(dirs.a, 'moving-0'), join(dirs.root, 'stale'), { recursive: true });
    await mkdir(dirs.b, { recursive: true });
    await rename(join(dirs.a, 'moving-0'), join(dirs.b, 'moving-0'));
    // The log took appends in dir B since the swap's second rename.
    const first = await openManager();
    const moved = first.getLog('moving', 0)!;
    expect(moved.logDir).toBe(dirs.b);
    for (let i = 0; i < 5; i++) await moved.append(batch(), 0);
    const logEnd = moved.logEndOffset;
    await closeManager(first);
    // A crash before the old copy was removed: it is still in dir A, stale.
    await cp(join(dirs.root, 'stale'), join(dirs.a, 'moving-0.abc-moved'), { recursive: true });
    // Dir B cannot be read at the next start (here: a file where the dir should be).
    await rename(dirs.b, `${dirs.b}.away`);
    await writeFile(dirs.b, '');
    const whileUnreadable = await openManager();
    expect(whileUnreadable.offlineLogDirs.map((failure) => failure.logDir)).toEqual([dirs.b]);
    // Not the stale copy: the partition is not served from dir A.
    expect(whileUnreadable.getLog('moving', 0)).toBeUndefined();
    expect((await readdir(dirs.a)).filter((name) => name.startsWith('moving'))).toEqual([
      'moving-0.abc-moved',
    ]);
    await closeManager(whileUnreadable);
    await rm(dirs.b);
    await rename(`${dirs.b}.away`, dirs.b);
    const readable = await openManager();
    const log = readable.getLog('moving', 0)!;
    expect(log.logDir).toBe(dirs.b);
    expect(log.logEndOffset).toBe(logEnd);
    expect(logEnd).toBeGreaterThan(staleEnd);
    expect((await readdir(dirs.a)).filter((name) => name.startsWith('moving'))).toEqual([]);
  });
});

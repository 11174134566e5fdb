// A log dir move's swap, stopped between its directory renames (LogManagerOptions.renameDir): what
// a crash there leaves on disk, and what reads do meanwhile.

import { cp, open, readFile, rename } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { ErrorCode } from '@gregor/protocol';
import { describe, expect, it } from 'vitest';
import { cleanerOffsetCheckpointName } from './checkpoint-file.js';
import type { FileOpener } from './file-handle-cache.js';
import { cleanedFileSuffix } from './log-cleaner-swap.js';
import { type ConfigProps, parseBrokerLogConfig } from './log-config.js';
import { LogManager } from './log-manager.js';
import { buildTestBatch } from './testing/batches.js';
import { keyedBatch, readWholeLog } from './testing/keyed-records.js';
import { smallSegments, useTwoLogDirs } from './testing/two-log-dirs.js';

const dirs = useTwoLogDirs('log-dir-move-swap');

interface Hooks {
  /** Runs before the rename whose destination is given. */
  readonly beforeRenameTo?: (to: string) => Promise<void>;
  /** Runs after it. */
  readonly afterRenameTo?: (to: string) => Promise<void>;
  readonly openFile?: FileOpener;
  readonly openFilesMax?: number;
  readonly topicOverrides?: ConfigProps;
}

async function openManager(logDirs: readonly string[], hooks: Hooks = {}): Promise<LogManager> {
  const manager = await LogManager.open({
    config: parseBrokerLogConfig({ 'log.dirs': logDirs.join(','), ...smallSegments }),
    clock: dirs.clock,
    logDirMoveReadBytesMax: 4096,
    ...(hooks.openFilesMax === undefined ? {} : { openFilesMax: hooks.openFilesMax }),
    ...(hooks.openFile === undefined ? {} : { openFile: hooks.openFile }),
    ...(hooks.topicOverrides === undefined ? {} : { topicOverrides: () => hooks.topicOverrides! }),
    renameDir: async (from, to) => {
      await hooks.beforeRenameTo?.(to);
      await rename(from, to);
      await hooks.afterRenameTo?.(to);
    },
  });
  dirs.managers.push(manager);
  return manager;
}

let seed = 1;
function batch(recordCount = 3, fillerBytes = 500): Buffer {
  seed += 1;
  return buildTestBatch({ recordCount, fillerBytes, maxTimestamp: 1_700_000_000_000 + seed, seed });
}

/**
 * Lets started operations run (their file I/O included) until `until` holds, or for `turnsMax`
 * turns of a few milliseconds: a bound on waiting, not an assertion.
 */
async function settle(until: () => boolean, turnsMax = 2000): Promise<void> {
  for (let turn = 0; turn < turnsMax && !until(); turn++) {
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

describe('a log dir move stopped between its renames', () => {
  it('a crash right after the moved log took its name opens it at the log start DeleteRecords set (the target checkpoint came first)', async () => {
    const crashed = join(dirs.root, 'crashed');
    const partitionInB = () => join(dirs.b, 'moving-0');
    const manager = await openManager([dirs.a, dirs.b], {
      // What a crash right after the second rename leaves: the disk as it is at that moment.
      afterRenameTo: async (to) => {
        if (to !== partitionInB()) return;
        await cp(dirs.a, join(crashed, 'a'), { recursive: true });
        await cp(dirs.b, join(crashed, 'b'), { recursive: true });
      },
    });
    const log = await manager.getOrCreateLog('moving', 0);
    expect(log.logDir).toBe(dirs.a);
    for (let i = 0; i < 50; i++) await log.append(batch(4), 3);
    // Inside the batch 40-43; the whole segments below it were never deleted (no retention run).
    await log.incrementLogStartOffset(42);
    const started = await manager.moveLogDir('moving', 0, dirs.b, 'crash');
    if (started.errorCode !== ErrorCode.NONE || !started.moving) throw new Error('move did not start');
    await started.done;
    expect(log.logDir).toBe(dirs.b);

    const afterCrash = await openManager([join(crashed, 'a'), join(crashed, 'b')]);
    const reopened = afterCrash.getLog('moving', 0)!;
    expect(reopened.logDir).toBe(join(crashed, 'b'));
    expect(reopened.logStartOffset).toBe(42);
    expect((await reopened.read(0, 1024)).errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    expect(reopened.logEndOffset).toBe(200);
  });

  it('a read that fails on the old directory while the directories are renamed waits for the swap and reads the moved log', async () => {
    const partitionDirA = join(dirs.a, 'moving-0') + sep;
    const opensOfOldDir: string[] = [];
    let renaming = false;
    let read: ReturnType<typeof log.read> | undefined;
    const manager = await openManager([dirs.a, dirs.b], {
      // Few descriptors: the first segment's files are closed by the time of the swap.
      openFilesMax: 8,
      openFile: (path, flags) => {
        if (renaming && path.startsWith(partitionDirA)) opensOfOldDir.push(path);
        return open(path, flags);
      },
      afterRenameTo: async (to) => {
        if (!to.endsWith('-moved')) return;
        // The log's directory has just been renamed away: a read of a cold segment opens its
        // file by the old path and fails.
        renaming = true;
        read = log.read(0, 2048);
        await settle(() => opensOfOldDir.length > 0);
        renaming = false;
      },
    });
    const log = await manager.getOrCreateLog('moving', 0);
    const appended: Buffer[] = [];
    for (let i = 0; i < 300; i++) {
      const records = batch();
      await log.append(records, 7);
      appended.push(records);
    }
    expect(log.segmentBaseOffsets().length).toBeGreaterThan(8);
    const started = await manager.moveLogDir('moving', 0, dirs.b, 'reads');
    if (started.errorCode !== ErrorCode.NONE || !started.moving) throw new Error('move did not start');
    await started.done;
    expect(opensOfOldDir.length).toBeGreaterThan(0);
    const result = await read!;
    expect(result.errorCode).toBe(ErrorCode.NONE);
    if (result.errorCode !== ErrorCode.NONE) return;
    expect(result.records.subarray(0, appended[0]!.length).equals(appended[0]!)).toBe(true);
    expect(manager.offlineLogDirs).toEqual([]);
    expect(log.logDir).toBe(dirs.b);
  });
});

describe("a failure of the swap's own catch-up read", () => {
  it('fails the move at once instead of waiting for the swap that waits for it', async () => {
    const compacted: ConfigProps = { 'cleanup.policy': 'compact', 'segment.bytes': '2000' };
    const partitionDirA = join(dirs.a, 'moving-0') + sep;
    // The cleaner is held at its `.cleaned` file: the swap then waits (not yet on the log's queue)
    // while appends go on, and the catch-up has segments to read.
    let releaseCleaner = (): void => undefined;
    const cleanerHeld = new Promise<void>((resolve) => {
      releaseCleaner = resolve;
    });
    let cleanerWaiting = false;
    // Once armed, no descriptor is left for the segments appended while the swap waited.
    let refuseFromOffset = Number.POSITIVE_INFINITY;
    let refused = 0;
    const manager = await openManager([dirs.a, dirs.b], {
      topicOverrides: compacted,
      openFilesMax: 8,
      openFile: async (path, flags) => {
        if (path.endsWith(cleanedFileSuffix)) {
          cleanerWaiting = true;
          await cleanerHeld;
        }
        const name = path.slice(partitionDirA.length);
        if (
          path.startsWith(partitionDirA) &&
          /^\d{20}\.log$/.test(name) &&
          Number(name.slice(0, 20)) >= refuseFromOffset
        ) {
          refused += 1;
          throw Object.assign(new Error(`EMFILE: too many open files, open '${path}'`), {
            code: 'EMFILE',
            syscall: 'open',
            path,
          });
        }
        return open(path, flags);
      },
    });
    const log = await manager.getOrCreateLog('moving', 0, compacted);
    const record = (i: number) => ({
      key: `key-${i % 20}`,
      value: 'v'.repeat(150),
      timestamp: dirs.clock.nowMs(),
    });
    for (let i = 0; i < 60; i++) await log.append(keyedBatch([record(i)]), 3);
    await log.roll();
    const cleaning = manager.runCleaner({ nowMs: dirs.clock.nowMs() });
    await settle(() => cleanerWaiting);
    const started = await manager.moveLogDir('moving', 0, dirs.b, 'catch-up');
    if (started.errorCode !== ErrorCode.NONE || !started.moving) throw new Error('move did not start');
    await settle(() => log.cleaningPaused);
    expect(log.cleaningPaused).toBe(true);
    // Segments enough that the first of them is no longer open when the catch-up reads it.
    for (let i = 60; i < 200; i++) await log.append(keyedBatch([record(i)]), 3);
    refuseFromOffset = 60;
    releaseCleaner();
    await cleaning;
    // On a log whose failing reads wait for the swap, the catch-up read waits for the swap it is
    // part of, and this never settles.
    const failure = await started.done.then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeGreaterThan(0);
    expect(String(failure)).toContain('EMFILE');
    expect(manager.offlineLogDirs).toEqual([]);
    expect(log.logDir).toBe(dirs.a);
    // With descriptors again the log is opened from its files, every record there, and moves.
    refuseFromOffset = Number.POSITIVE_INFINITY;
    const reopened = await manager.getOrCreateLog('moving', 0, compacted);
    expect(reopened.logEndOffset).toBe(200);
    const again = await manager.moveLogDir('moving', 0, dirs.b, 'catch-up-2');
    if (again.errorCode !== ErrorCode.NONE || !again.moving) throw new Error('move did not start');
    await again.done;
    expect(reopened.logDir).toBe(dirs.b);
    expect((await readWholeLog(reopened)).records.at(-1)?.offset).toBe(199);
  });
});

describe('the log cleaner and a log dir move', () => {
  it('a compaction running when the swap comes ends first in the old dir; the move then completes, no dir goes offline, and the cleaner cleans the moved copy again', async () => {
    const compacted: ConfigProps = { 'cleanup.policy': 'compact', 'segment.bytes': '2000' };
    // The cleaner is held where it opens its `.cleaned` file (it has read the dirty section).
    let releaseCleaner = (): void => undefined;
    const cleanerHeld = new Promise<void>((resolve) => {
      releaseCleaner = resolve;
    });
    let cleanerWaiting = false;
    const manager = await openManager([dirs.a, dirs.b], {
      topicOverrides: compacted,
      openFile: async (path, flags) => {
        if (path.endsWith(cleanedFileSuffix)) {
          cleanerWaiting = true;
          await cleanerHeld;
        }
        return open(path, flags);
      },
    });
    const log = await manager.getOrCreateLog('moving', 0, compacted);
    expect(log.logDir).toBe(dirs.a);
    // Each key three times: the cleaner keeps one record of each.
    for (let i = 0; i < 60; i++) {
      await log.append(
        keyedBatch([{ key: `key-${i % 20}`, value: 'v'.repeat(150), timestamp: dirs.clock.nowMs() }]),
        3,
      );
    }
    await log.roll();
    const cleaning = manager.runCleaner({ nowMs: dirs.clock.nowMs() });
    await settle(() => cleanerWaiting);
    expect(cleanerWaiting).toBe(true);
    const started = await manager.moveLogDir('moving', 0, dirs.b, 'cleaned');
    if (started.errorCode !== ErrorCode.NONE || !started.moving) throw new Error('move did not start');
    let moveEnded = false;
    const moveEnd = started.done.then(
      () => {
        moveEnded = true;
      },
      () => {
        moveEnded = true;
      },
    );
    // The copy reaches the swap, which waits for the cleaner (or, where nothing waits for it, the
    // whole move is done).
    await settle(() => moveEnded || log.cleaningPaused);
    expect(moveEnded || log.cleaningPaused).toBe(true);
    releaseCleaner();
    const stats = await cleaning;
    await moveEnd;
    await started.done;
    expect(manager.offlineLogDirs).toEqual([]);
    expect(stats.cleaned.map((cleaned) => cleaned.log)).toEqual(['moving-0']);
    expect(log.logDir).toBe(dirs.b);
    // Every key's latest value is there (the copy was taken before the cleaner swapped its
    // segments: the moved log is the uncleaned one, with the same offsets).
    const contents = await readWholeLog(log);
    const latest = new Map(contents.records.map((record) => [record.key, record.offset]));
    expect([...latest.values()].sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => 40 + i));

    // The cleaner's bookmark (60) was for the cleaned segments, not for this copy of them: the
    // next cleaning starts at the log start.
    expect(contents.records).toHaveLength(60);
    const again = await manager.runCleaner({ nowMs: dirs.clock.nowMs() });
    expect(again.cleaned.map((cleaned) => cleaned.log)).toEqual(['moving-0']);
    const cleanedAgain = again.cleaned[0]!.result;
    expect(cleanedAgain.firstDirtyOffset).toBe(0);
    // The copy's last segment is its active one: the keys whose latest record is there keep an
    // older one below it until it rolls.
    expect(cleanedAgain.recordsRemoved).toBeGreaterThan(30);
    expect((await readWholeLog(log)).records.length).toBe(60 - cleanedAgain.recordsRemoved);
    await manager.close();
    dirs.managers.splice(dirs.managers.indexOf(manager), 1);
    expect(await readFile(join(dirs.b, cleanerOffsetCheckpointName), 'utf8')).toContain(
      `moving 0 ${cleanedAgain.nextDirtyOffset}`,
    );
    expect(await readFile(join(dirs.a, cleanerOffsetCheckpointName), 'utf8')).not.toContain('moving');
  });
});

// Many partitions on a small descriptor budget, checked against the kernel's own count of the
// process's descriptors (/proc/self/fd), and a process that really runs out of descriptors (EMFILE,
// by lowering this process's soft `nofile` limit with prlimit).

import { execFileSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { access, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ManualClock } from '@gregor/ground';
import { ErrorCode, KafkaError } from '@gregor/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TooManyOpenFilesError } from './file-handle-cache.js';
import { parseBrokerLogConfig } from './log-config.js';
import { LogDirFailureChannel } from './log-dir-failure-channel.js';
import { cleanShutdownFileName, LogManager } from './log-manager.js';
import type { PartitionLog } from './partition-log.js';
import { buildTestBatch, readBaseOffsets } from './testing/batches.js';
import { makeTempDir, removeDir } from './testing/temp-dirs.js';

let root: string;
let clock: ManualClock;

beforeEach(async () => {
  root = await makeTempDir('open-files');
  clock = new ManualClock(1_700_000_000_000);
});

afterEach(async () => {
  await removeDir(root);
});

/** Descriptors this process holds on files under the log dir, as the kernel counts them. */
async function descriptorsUnderRoot(): Promise<number> {
  let count = 0;
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    if (target.startsWith(root)) count += 1;
  }
  return count;
}

function batch(seed: number, maxTimestamp = clock.nowMs()): Buffer {
  return buildTestBatch({ recordCount: 3, fillerBytes: 200, maxTimestamp, seed });
}

const partitionCount = 120;
const openFilesMax = 8;

describe('LogManager with more partitions than descriptors', () => {
  it('serves every operation of 120 partitions on 8 descriptors, across a restart', async () => {
    const config = parseBrokerLogConfig({
      'log.dirs': root,
      'log.segment.bytes': '600', // a few batches per segment: rolls, several files per partition
      'log.index.interval.bytes': '1',
    });
    let manager = await LogManager.open({ config, clock, openFilesMax });
    const checkDescriptors = async () => {
      expect(manager.fileHandleStats.open).toBeLessThanOrEqual(openFilesMax);
      expect(await descriptorsUnderRoot()).toBeLessThanOrEqual(openFilesMax);
    };
    const logs: PartitionLog[] = [];
    for (let p = 0; p < partitionCount; p++) logs.push(await manager.getOrCreateLog('many', p));
    await checkDescriptors();

    // Appends to every partition and reads of every partition, all in flight at once.
    for (let round = 0; round < 8; round++) {
      const appends = logs.map((log, p) => log.append(batch(round * 1000 + p), 0));
      const reads = logs.map((log) => log.read(0, 1 << 20));
      await Promise.all([...appends, ...reads]);
      await checkDescriptors();
    }
    for (const log of logs) {
      expect(log.logEndOffset).toBe(24);
      expect(log.segmentBaseOffsets().length).toBeGreaterThan(2);
      expect(readBaseOffsets(await log.read(0, 1 << 20))).toEqual([0, 3, 6, 9, 12, 15, 18, 21]);
    }
    await checkDescriptors();

    // Lookups, truncation, retention and flushes on every partition.
    for (const [p, log] of logs.entries()) {
      expect(await log.offsetForTimestamp(clock.nowMs())).toEqual({ offset: 0, timestamp: clock.nowMs() });
      if (p % 3 === 0) await log.truncateTo(13);
      if (p % 3 === 1) {
        log.updateConfig({ ...log.config, retentionBytes: 1 });
        await log.deleteOldSegments();
      }
      await log.flush();
    }
    await checkDescriptors();
    const expectedEnd = (p: number) => (p % 3 === 0 ? 12 : 24);
    const startOf = logs.map((log) => log.logStartOffset);
    expect(startOf.filter((start, p) => p % 3 === 1 && start > 0).length).toBe(partitionCount / 3);
    await manager.close();
    expect(await descriptorsUnderRoot()).toBe(0);

    // A clean restart, then an unclean one (every segment from the recovery point is re-read).
    for (const clean of [true, false]) {
      manager = await LogManager.open({ config, clock, openFilesMax });
      await checkDescriptors();
      for (let p = 0; p < partitionCount; p++) {
        const log = manager.getLog('many', p)!;
        expect([log.logStartOffset, log.logEndOffset]).toEqual([startOf[p], expectedEnd(p)]);
        const offsets = readBaseOffsets(await log.read(log.logStartOffset, 1 << 20));
        expect(offsets[offsets.length - 1]).toBe(expectedEnd(p) - 3);
      }
      await checkDescriptors();
      await manager.close();
      if (!clean) break;
      await (await import('node:fs/promises')).unlink(join(root, cleanShutdownFileName));
    }
  });

  it('compacts a partition while others are read, within the budget', async () => {
    const config = parseBrokerLogConfig({
      'log.dirs': root,
      'log.segment.bytes': '1200',
      'log.cleaner.dedupe.buffer.size': String(24 * 1024),
    });
    const manager = await LogManager.open({ config, clock, openFilesMax: 3 });
    try {
      const compacted = await manager.getOrCreateLog('c', 0, { 'cleanup.policy': 'compact' });
      const others = await Promise.all([1, 2, 3, 4].map((p) => manager.getOrCreateLog('o', p)));
      const { encodeRecordBatch } = await import('@gregor/protocol');
      for (let i = 0; i < 40; i++) {
        await compacted.append(
          encodeRecordBatch({
            records: [
              { key: Buffer.from(`k${i % 4}`), value: Buffer.from(`v${i}`), timestamp: clock.nowMs() },
            ],
          }),
          0,
        );
        await Promise.all(others.map((log) => log.append(batch(i), 0)));
      }
      const reads = others.map((log) => log.read(0, 1 << 20));
      const stats = await manager.runCleaner();
      await Promise.all(reads);
      expect(stats.cleaned.length).toBe(1);
      expect(stats.recordsRemoved).toBeGreaterThan(20);
      expect(manager.fileHandleStats.open).toBeLessThanOrEqual(3);
      expect(await descriptorsUnderRoot()).toBeLessThanOrEqual(3);
    } finally {
      await manager.close();
    }
  });
});

describe('LogManager when the process runs out of descriptors (real EMFILE)', () => {
  const currentLimits = async () => {
    const match = /Max open files\s+(\d+)\s+(\d+)/.exec(await readFile('/proc/self/limits', 'utf8'));
    return { soft: Number(match![1]), hard: Number(match![2]) };
  };
  const setSoftLimit = (soft: number, hard: number) =>
    execFileSync('prlimit', [`--pid=${process.pid}`, `--nofile=${soft}:${hard}`], { stdio: 'ignore' });
  /** Opens descriptors until the process has none left; returns them so they can be closed. */
  const exhaustDescriptors = (): number[] => {
    const taken: number[] = [];
    for (;;) {
      try {
        taken.push(openSync('/dev/null', 'r'));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EMFILE') throw error;
        return taken;
      }
    }
  };

  it('leaves a partition it cannot open unopened, opens the rest, and opens it later from its own data', async () => {
    // t-0 alone in the first log dir, t-1..t-3 in the second: dirs open one after the other.
    const [starvedDir, otherDir] = [join(root, 'a'), join(root, 'b')];
    for (const [dir, partitions] of [
      [starvedDir, [0]],
      [otherDir, [1, 2, 3]],
    ] as const) {
      const writer = await LogManager.open({ config: parseBrokerLogConfig({ 'log.dirs': dir }), clock });
      for (const p of partitions) {
        const log = await writer.getOrCreateLog('t', p);
        await log.append(batch(p), 0);
        await log.append(batch(p + 10), 0);
      }
      await writer.close();
    }
    const config = parseBrokerLogConfig({ 'log.dirs': `${starvedDir},${otherDir}` });
    const { soft, hard } = await currentLimits();

    /** Opens both dirs with no descriptor left while t-0 opens (and none idle to give back). */
    const openStarved = async (): Promise<{ manager: LogManager; failures: string[] }> => {
      setSoftLimit((await readdir('/proc/self/fd')).length + 64, hard);
      let taken: number[] = [];
      const failures: string[] = [];
      try {
        const manager = await LogManager.open({
          config,
          clock,
          // Called just before each partition is opened at start-up.
          topicOverrides: () => {
            if (failures.length === 0 && taken.length === 0) taken = exhaustDescriptors();
            return {};
          },
          onLogOpenFailure: (partition, error) => {
            expect(error).toBeInstanceOf(TooManyOpenFilesError);
            expect(error.code).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
            failures.push(partition);
            for (const fd of taken.splice(0)) closeSync(fd);
          },
        });
        return { manager, failures };
      } finally {
        for (const fd of taken.splice(0)) closeSync(fd);
        setSoftLimit(soft, hard);
      }
    };

    const first = await openStarved();
    try {
      expect(first.failures).toEqual(['t-0']);
      expect(first.manager.unopenedLogs()).toEqual(['t-0']);
      expect(first.manager.getLog('t', 0)).toBeUndefined();
      for (const p of [1, 2, 3]) expect(first.manager.getLog('t', p)!.logEndOffset).toBe(6);
      // Its checkpoint entry survives a checkpoint written while it is unopened.
      await first.manager.checkpointRecoveryPoints();
      expect(await readFile(join(starvedDir, 'recovery-point-offset-checkpoint'), 'utf8')).toContain('t 0 6');
      // Opened again from its own directory, with its data, once descriptors are back.
      const reopened = await first.manager.getOrCreateLog('t', 0);
      expect(reopened.dir).toBe(join(starvedDir, 't-0'));
      expect(reopened.logEndOffset).toBe(6);
      expect(readBaseOffsets(await reopened.read(0, 1 << 20))).toEqual([0, 3]);
      expect(first.manager.unopenedLogs()).toEqual([]);
    } finally {
      await first.manager.close();
    }
    await access(join(starvedDir, cleanShutdownFileName));

    // Closed while t-0 is unopened: its dir gets no clean-shutdown marker (its files were never checked).
    const second = await openStarved();
    expect(second.failures).toEqual(['t-0']);
    await second.manager.close();
    await expect(access(join(starvedDir, cleanShutdownFileName))).rejects.toThrow();
    await access(join(otherDir, cleanShutdownFileName));
    const third = await LogManager.open({ config, clock });
    try {
      for (const p of [0, 1, 2, 3]) expect(third.getLog('t', p)!.logEndOffset).toBe(6);
    } finally {
      await third.close();
    }
  });

  it('reopens from its files a log whose roll ran out of descriptors, and never takes its dir offline', async () => {
    const channel = new LogDirFailureChannel();
    const config = parseBrokerLogConfig({
      'log.dirs': root,
      'log.segment.bytes': String(2 * batch(0).length),
    });
    const manager = await LogManager.open({ config, clock, logDirFailureChannel: channel });
    try {
      const log = await manager.getOrCreateLog('t', 0);
      const neighbour = await manager.getOrCreateLog('t', 1);
      await log.append(batch(1), 0);
      await log.append(batch(2), 0);
      await neighbour.append(batch(3), 0);
      await manager.closeIdleFiles();
      const { soft, hard } = await currentLimits();
      setSoftLimit((await readdir('/proc/self/fd')).length + 64, hard);
      let refused: unknown;
      let taken: number[] = [];
      try {
        taken = exhaustDescriptors();
        // The third batch rolls the segment; no descriptor is left for that.
        refused = await log.append(batch(4), 0).catch((error: unknown) => error);
      } finally {
        for (const fd of taken) closeSync(fd);
        setSoftLimit(soft, hard);
      }
      expect(refused).toBeInstanceOf(TooManyOpenFilesError);
      expect(log.needsReopen).toBe(true);
      expect(channel.offlineLogDirs).toEqual([]);
      // The neighbour in the same dir never stopped.
      await neighbour.append(batch(5), 0);
      expect(readBaseOffsets(await neighbour.read(0, 1 << 20))).toEqual([0, 3]);

      const reopened = await manager.getOrCreateLog('t', 0);
      expect(reopened).not.toBe(log);
      expect(reopened.dir).toBe(log.dir);
      expect(manager.getLog('t', 0)).toBe(reopened);
      expect(readBaseOffsets(await reopened.read(0, 1 << 20))).toEqual([0, 3]);
      await reopened.append(batch(6), 0);
      expect(reopened.segmentBaseOffsets()).toEqual([0, 6]);
      expect(manager.unopenedLogs()).toEqual([]);
      expect(channel.offlineLogDirs).toEqual([]);
    } finally {
      await manager.close();
    }
    await access(join(root, cleanShutdownFileName));
  });

  it('refuses a new partition with KAFKA_STORAGE_ERROR when no descriptor is left, and keeps serving', async () => {
    const config = parseBrokerLogConfig({ 'log.dirs': root });
    const manager = await LogManager.open({ config, clock });
    const existing = await manager.getOrCreateLog('t', 0);
    await existing.append(batch(1), 0);
    await manager.closeIdleFiles();
    const { soft, hard } = await currentLimits();
    const inUse = (await readdir('/proc/self/fd')).length;
    setSoftLimit(inUse + 64, hard);
    let refused: unknown;
    let taken: number[] = [];
    try {
      taken = exhaustDescriptors();
      refused = await manager.getOrCreateLog('t', 1).catch((error: unknown) => error);
    } finally {
      for (const fd of taken) closeSync(fd);
      setSoftLimit(soft, hard);
    }
    try {
      expect(refused).toBeInstanceOf(KafkaError);
      expect((refused as KafkaError).code).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
      expect((refused as Error).message).toMatch(/EMFILE/);
      expect(readBaseOffsets(await existing.read(0, 1 << 20))).toEqual([0]);
      const created = await manager.getOrCreateLog('t', 1);
      await created.append(batch(2), 0);
      expect(created.logEndOffset).toBe(3);
    } finally {
      await manager.close();
    }
  });
});

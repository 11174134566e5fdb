// Running out of file descriptors is not a failed log dir. EMFILE/ENFILE (the process's or the
// system's limit) must never reach the LogDirFailureChannel: it fails that one operation, and an
// operation left halfway stops that log alone until it is reopened from its files. A genuine I/O
// error in the same place (EIO) still takes the whole dir offline, and so does a failed fsync (a
// full disk with delayed allocation, or a failing one), as Kafka's LogDirFailureChannel does. Also
// here: a log closed after its dir failed gives its cached descriptors back, and a deleted partition
// can be created again.

import type { FileHandle } from 'node:fs/promises';
import { access, mkdir, open, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { InvariantViolation, ManualClock } from '@gregor/ground';
import { ErrorCode } from '@gregor/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileHandleCache, TooManyOpenFilesError } from './file-handle-cache.js';
import { defaultLogConfig, parseBrokerLogConfig } from './log-config.js';
import { KafkaStorageError, LogDirFailureChannel } from './log-dir-failure-channel.js';
import { LogManager } from './log-manager.js';
import { PartitionLog } from './partition-log.js';
import { segmentFileName } from './segment-files.js';
import { buildTestBatch, readBaseOffsets } from './testing/batches.js';
import { makeTempDir, removeDir } from './testing/temp-dirs.js';

let root: string;
let clock: ManualClock;

beforeEach(async () => {
  root = await makeTempDir('descriptors-vs-dir-failure');
  clock = new ManualClock(1_700_000_000_000);
});

afterEach(async () => {
  await removeDir(root);
});

function batch(seed: number): Buffer {
  return buildTestBatch({ recordCount: 3, fillerBytes: 200, maxTimestamp: clock.nowMs(), seed });
}

/** An fs error as Node raises it (errno code and syscall). */
function fsError(code: string, path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: open '${path}'`), { code, syscall: 'open', path });
}

/** A descriptor cache whose opens of files ending in `failingSuffix` fail with `code` while armed. */
function cacheFailingOn(failingSuffix: string, code: string) {
  const state = { armed: false, failures: 0 };
  const cache = new FileHandleCache(64, (path, flags): Promise<FileHandle> => {
    if (state.armed && path.endsWith(failingSuffix)) {
      state.failures += 1;
      return Promise.reject(fsError(code, path));
    }
    return open(path, flags);
  });
  return { cache, state };
}

/**
 * A descriptor cache whose handles' fsyncs (datasync and sync) fail with `code` while armed, as
 * Node raises it: on a full disk (ENOSPC, delayed allocation) or a failing one (EIO).
 */
function cacheFailingFsync(code: string) {
  const state = { armed: false, failures: 0 };
  const cache = new FileHandleCache(64, async (path, flags): Promise<FileHandle> => {
    const handle = await open(path, flags);
    const failing = (syscall: string, real: () => Promise<void>) => () => {
      if (!state.armed) return real();
      state.failures += 1;
      return Promise.reject(Object.assign(new Error(`${code}: ${syscall}`), { code, syscall }));
    };
    handle.datasync = failing('fdatasync', handle.datasync.bind(handle));
    handle.sync = failing('fsync', handle.sync.bind(handle));
    return handle;
  });
  return { cache, state };
}

/** A log in `<root>/logs/t-<partition>` whose segments hold two batches, so the third append rolls. */
async function openLog(
  files: FileHandleCache,
  channel: LogDirFailureChannel,
  recoveryPoint = 0,
  partition = 0,
  configOverrides: Partial<typeof defaultLogConfig> = {},
) {
  const logDir = join(root, 'logs');
  await mkdir(logDir, { recursive: true });
  return PartitionLog.open({
    dir: join(logDir, `t-${partition}`),
    topic: 't',
    partition,
    config: { ...defaultLogConfig, segmentBytes: 2 * batch(0).length, ...configOverrides },
    clock,
    recoveryPoint,
    logStartOffset: undefined,
    hadCleanShutdown: false,
    checkpoints: { logStartOffsetChanged: async () => {}, recoveryPointLowered: async () => {} },
    files,
    logDirFailureChannel: channel,
  });
}

describe('a roll that fails halfway (the old segment sealed, the new one not created)', () => {
  const newSegmentLog = segmentFileName(6, '.log');

  it('for lack of descriptors: stops that log alone, the dir stays online, and a reopen loses nothing', async () => {
    const { cache, state } = cacheFailingOn(newSegmentLog, 'EMFILE');
    const channel = new LogDirFailureChannel();
    const log = await openLog(cache, channel);
    await log.append(batch(1), 0);
    await log.append(batch(2), 0);

    state.armed = true;
    const refused = await log.append(batch(3), 0).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(TooManyOpenFilesError);
    expect((refused as TooManyOpenFilesError).code).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect(state.failures).toBeGreaterThan(0);
    // Not a dir failure: nothing reported, the log is not offline in Kafka's sense.
    expect(channel.offlineLogDirs).toEqual([]);
    expect(log.isOffline).toBe(false);
    // But its memory no longer matches its files: it refuses everything (never an invariant crash
    // on the next append) until it is opened again.
    expect(log.needsReopen).toBe(true);
    state.armed = false;
    const again = await log.append(batch(4), 0).catch((error: unknown) => error);
    expect(again).toBeInstanceOf(TooManyOpenFilesError);
    expect(again).not.toBeInstanceOf(InvariantViolation);
    await expect(log.read(0, 1 << 20)).rejects.toBeInstanceOf(TooManyOpenFilesError);

    // Closed without writing and opened from its files (from its recovery point, as after a crash).
    const recoveryPoint = log.recoveryPoint;
    await log.closeWithoutWriting();
    const reopened = await openLog(cache, channel, recoveryPoint);
    expect(reopened.needsReopen).toBe(false);
    expect(reopened.logEndOffset).toBe(6);
    expect(readBaseOffsets(await reopened.read(0, 1 << 20))).toEqual([0, 3]);
    await reopened.append(batch(5), 0);
    expect(reopened.segmentBaseOffsets()).toEqual([0, 6]);
    expect(readBaseOffsets(await reopened.read(0, 1 << 20))).toEqual([0, 3, 6]);
    await reopened.close();
  });

  it('for an I/O error (EIO): takes the whole log dir offline, as Kafka does', async () => {
    const { cache, state } = cacheFailingOn(newSegmentLog, 'EIO');
    const channel = new LogDirFailureChannel();
    const log = await openLog(cache, channel);
    await log.append(batch(1), 0);
    await log.append(batch(2), 0);

    state.armed = true;
    const refused = await log.append(batch(3), 0).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(KafkaStorageError);
    expect(channel.offlineLogDirs.map((failure) => failure.logDir)).toEqual([join(root, 'logs')]);
    expect(channel.offlineLogDirs[0]!.reason).toMatch(/t-0: roll failed: EIO/);
    expect(log.isOffline).toBe(true);
    expect(log.needsReopen).toBe(false);
    await expect(log.read(0, 1 << 20)).rejects.toBeInstanceOf(KafkaStorageError);
    await log.closeAfterFailure('test');
  });
});

describe.each(['ENOSPC', 'EIO'])('an fsync that fails with %s', (code) => {
  it('takes the whole log dir offline (every partition on it answers KAFKA_STORAGE_ERROR), and a restart finds everything acknowledged', async () => {
    const { cache, state } = cacheFailingFsync(code);
    const channel = new LogDirFailureChannel();
    // t-0 fsyncs every append (flush.messages=1), t-1 only when asked.
    const everyAppend = await openLog(cache, channel, 0, 0, { flushMessages: 1 });
    const other = await openLog(cache, channel, 0, 1);
    expect((await everyAppend.append(batch(1), 0)).baseOffset).toBe(0);
    expect((await other.append(batch(2), 0)).baseOffset).toBe(0);
    expect((await other.append(batch(3), 0)).baseOffset).toBe(3);
    expect(everyAppend.recoveryPoint).toBe(3);

    state.armed = true;
    const refused = await everyAppend.append(batch(4), 0).catch((error: unknown) => error);
    expect(state.failures).toBeGreaterThan(0);
    // Not acknowledged: the producer sees Kafka's retriable storage error.
    expect(refused).toBeInstanceOf(KafkaStorageError);
    expect((refused as KafkaStorageError).code).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect(channel.offlineLogDirs.map((failure) => failure.logDir)).toEqual([join(root, 'logs')]);
    expect(channel.offlineLogDirs[0]!.reason).toMatch(new RegExp(`t-0: .* failed: ${code}`));
    // LogDirFailureChannel: the dir is offline, so every partition on it is, not only the one that
    // failed, whether the disk works again or not.
    state.armed = false;
    for (const log of [everyAppend, other]) {
      expect(log.isOffline).toBe(true);
      await expect(log.read(0, 1 << 20)).rejects.toBeInstanceOf(KafkaStorageError);
      const append = await log.append(batch(5), 0).catch((error: unknown) => error);
      expect((append as KafkaStorageError).code).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
      await expect(log.flush()).rejects.toBeInstanceOf(KafkaStorageError);
    }
    const recoveryPoints = [everyAppend.recoveryPoint, other.recoveryPoint];
    await everyAppend.closeAfterFailure('test');
    await other.closeAfterFailure('test');

    // The restart, with space (or a working disk) again: the dir is back, nothing acknowledged lost.
    const restarted = cacheFailingFsync(code);
    const freshChannel = new LogDirFailureChannel();
    const t0 = await openLog(restarted.cache, freshChannel, recoveryPoints[0], 0, { flushMessages: 1 });
    const t1 = await openLog(restarted.cache, freshChannel, recoveryPoints[1], 1);
    expect(freshChannel.offlineLogDirs).toEqual([]);
    // t-0's refused batch reached the page cache before its fsync failed, so it may be found: only
    // what was acknowledged is owed.
    expect(readBaseOffsets(await t0.read(0, 1 << 20)).slice(0, 1)).toEqual([0]);
    expect(readBaseOffsets(await t1.read(0, 1 << 20))).toEqual([0, 3]);
    const t0End = t0.logEndOffset;
    expect((await t0.append(batch(6), 0)).baseOffset).toBe(t0End);
    expect((await t1.append(batch(7), 0)).baseOffset).toBe(6);
    expect(readBaseOffsets(await t1.read(0, 1 << 20))).toEqual([0, 3, 6]);

    // An explicit flush (flush.ms) that fails goes the same way: the dir offline, t-0 with it. (The
    // append of batch 7 rolled: that segment's own fsync completes first.)
    await t1.rolledSegmentsSynced();
    restarted.state.armed = true;
    await expect(t1.flush()).rejects.toBeInstanceOf(KafkaStorageError);
    expect(freshChannel.offlineLogDirs[0]!.reason).toMatch(new RegExp(`t-1: flush failed: ${code}`));
    expect(t0.isOffline).toBe(true);
    await t0.closeAfterFailure('test');
    await t1.closeAfterFailure('test');
  });
});

describe('LogManager and descriptors', () => {
  /** Descriptors this process holds on files under `dir`, as the kernel counts them. */
  async function descriptorsUnder(dir: string): Promise<number> {
    let count = 0;
    for (const fd of await readdir('/proc/self/fd')) {
      const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
      if (target.startsWith(`${dir}/`)) count += 1;
    }
    return count;
  }

  it('gives every cached descriptor of a failed dir back, and keeps the other dir serving', async () => {
    const [failing, healthy] = [join(root, 'a'), join(root, 'b')];
    const channel = new LogDirFailureChannel();
    const manager = await LogManager.open({
      config: parseBrokerLogConfig({ 'log.dirs': `${failing},${healthy}` }),
      clock,
      logDirFailureChannel: channel,
    });
    try {
      // Placement alternates between the dirs: t-0 and t-2 in one, t-1 and t-3 in the other.
      const logs = [];
      for (let p = 0; p < 4; p++) {
        const log = await manager.getOrCreateLog('t', p);
        await log.append(batch(p), 0);
        expect(readBaseOffsets(await log.read(0, 1 << 20))).toEqual([0]);
        logs.push(log);
      }
      const onFailing = logs.filter((log) => log.logDir === failing);
      const onHealthy = logs.filter((log) => log.logDir === healthy);
      expect(onFailing).toHaveLength(2);
      expect(await descriptorsUnder(failing)).toBeGreaterThanOrEqual(2);
      const openBefore = manager.fileHandleStats.open;
      const healthyBefore = await descriptorsUnder(healthy);

      channel.maybeAddOfflineLogDir(failing, 'test: the disk went away');
      const deadline = Date.now() + 10_000;
      while ((await descriptorsUnder(failing)) > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(await descriptorsUnder(failing)).toBe(0);
      // The budget got them back too: it counts exactly the healthy dir's descriptors now.
      expect(await descriptorsUnder(healthy)).toBe(healthyBefore);
      expect(manager.fileHandleStats.open).toBe(healthyBefore);
      expect(manager.fileHandleStats.open).toBeLessThan(openBefore);
      for (const log of onFailing) {
        await expect(log.read(0, 1 << 20)).rejects.toBeInstanceOf(KafkaStorageError);
      }
      for (const log of onHealthy) {
        await log.append(batch(9), 0);
        expect(readBaseOffsets(await log.read(0, 1 << 20))).toEqual([0, 3]);
      }
    } finally {
      await manager.close();
    }
  });

  it('creates a deleted partition again in the same process, empty, and finds it after a restart', async () => {
    const config = parseBrokerLogConfig({ 'log.dirs': root });
    let manager = await LogManager.open({ config, clock });
    const old = await manager.getOrCreateLog('t', 0);
    await old.append(batch(1), 0);
    await old.append(batch(2), 0);
    await manager.deleteLog('t', 0, 'old-topic-id');
    expect(manager.getLog('t', 0)).toBeUndefined();
    await expect(old.append(batch(3), 0)).rejects.toThrow();
    const made = await manager.getOrCreateLog('t', 0);
    expect(made).not.toBe(old);
    expect([made.logStartOffset, made.logEndOffset]).toEqual([0, 0]);
    await made.append(batch(4), 0);
    expect((await readdir(root)).filter((name) => name.startsWith('t-0'))).toEqual(['t-0']);
    await manager.close();

    manager = await LogManager.open({ config, clock });
    try {
      const reopened = manager.getLog('t', 0)!;
      expect(reopened.logEndOffset).toBe(3);
      expect(readBaseOffsets(await reopened.read(0, 1 << 20))).toEqual([0]);
    } finally {
      await manager.close();
    }
  });

  it('deletes a batch of partitions with one checkpoint write per dir, leaving the rest', async () => {
    const config = parseBrokerLogConfig({ 'log.dirs': root });
    const manager = await LogManager.open({ config, clock });
    try {
      for (let p = 0; p < 10; p++) await (await manager.getOrCreateLog('t', p)).append(batch(p), 0);
      await manager.checkpointRecoveryPoints();
      await manager.deleteLogs(
        Array.from({ length: 8 }, (_, p) => ({ topic: 't', partition: p, suffix: 'id' })),
      );
      // Written by the deletion itself: only the survivors are left in the dir's checkpoints.
      for (const name of ['recovery-point-offset-checkpoint', 'log-start-offset-checkpoint']) {
        const text = await readFile(join(root, name), 'utf8');
        expect(
          text
            .split('\n')
            .filter((line) => line.startsWith('t '))
            .sort(),
        ).toEqual(['t 8 0', 't 9 0']);
      }
      expect((await readdir(root)).filter((name) => name.startsWith('t-')).sort()).toEqual(['t-8', 't-9']);
      expect(
        manager
          .allLogs()
          .map((log) => log.name)
          .sort(),
      ).toEqual(['t-8', 't-9']);
    } finally {
      await manager.close();
    }
  });

  it('removes a deleted partition directory a crash left behind when it opens', async () => {
    const leftover = join(root, 't-0.old-topic-id-delete');
    await mkdir(leftover, { recursive: true });
    const manager = await LogManager.open({ config: parseBrokerLogConfig({ 'log.dirs': root }), clock });
    try {
      await expect(access(leftover)).rejects.toThrow();
      expect(manager.allLogs()).toEqual([]);
    } finally {
      await manager.close();
    }
  });
});

// A full disk, for real: the log lives on a tiny tmpfs (mounting one needs root, which the
// development machines and CI have). Appends that do not fit are refused with KAFKA_STORAGE_ERROR,
// leave no torn bytes behind, and the log works again once there is space. A roll that fails there
// leaves the log in an unknown state: the whole log dir goes offline (LogDirFailureChannel) while
// the broker's other log dir keeps working.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { appendFile, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ManualClock } from '@gregor/ground';
import { ErrorCode, KafkaError } from '@gregor/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBrokerLogConfig } from './log-config.js';
import { KafkaStorageError, LogDirFailureChannel, type OfflineLogDir } from './log-dir-failure-channel.js';
import { LogManager } from './log-manager.js';
import { buildTestBatch } from './testing/batches.js';
import { makeTempDir, removeDir } from './testing/temp-dirs.js';

const tmpfsBytes = 512 * 1024;
let mountPoint: string;

beforeAll(() => {
  mountPoint = mkdtempSync(join(tmpdir(), 'gregor-full-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${tmpfsBytes}`, 'tmpfs', mountPoint], {
      stdio: 'pipe',
    });
  } catch (error) {
    throw new Error(
      `this test mounts a ${tmpfsBytes}-byte tmpfs and needs root: ${(error as Error).message}`,
    );
  }
});

afterAll(() => {
  // Lazy: a failed assertion may leave log files open; the mount still goes away.
  execFileSync('umount', ['-l', mountPoint], { stdio: 'pipe' });
  rmSync(mountPoint, { recursive: true, force: true });
});

describe('PartitionLog on a full disk', () => {
  it('refuses appends with KAFKA_STORAGE_ERROR, stores and serves exactly the acknowledged batches, and resumes with space', async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const config = parseBrokerLogConfig({ 'log.dirs': mountPoint });
    let manager = await LogManager.open({ config, clock });
    const log = await manager.getOrCreateLog('full', 0);
    // Most of the space goes to a filler file, so the log hits the wall after a few batches.
    const filler = join(mountPoint, 'filler');
    await writeFile(filler, Buffer.alloc(tmpfsBytes - 96 * 1024));

    // append() assigns offsets in the caller's buffer: these are the stored bytes of each batch.
    const acknowledged: Buffer[] = [];
    let refused: unknown;
    for (let i = 0; i < 100 && refused === undefined; i++) {
      const batch = buildTestBatch({ recordCount: 4, fillerBytes: 8 * 1024, maxTimestamp: i, seed: i });
      const appended = await log.append(batch, 0).catch((error: unknown) => {
        refused = error;
        return undefined;
      });
      if (appended !== undefined) acknowledged.push(batch);
    }
    expect(refused).toBeInstanceOf(KafkaError);
    expect((refused as KafkaError).code).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect(acknowledged.length).toBeGreaterThan(0);
    // Still full: a second attempt is refused too and changes nothing.
    await expect(
      log.append(buildTestBatch({ recordCount: 2, fillerBytes: 8 * 1024, maxTimestamp: 0, seed: 500 }), 0),
    ).rejects.toMatchObject({ code: ErrorCode.KAFKA_STORAGE_ERROR });
    const logEnd = acknowledged.length * 4;
    expect(log.logEndOffset).toBe(logEnd);
    // What is stored is exactly the acknowledged batches: no torn bytes past the last one.
    const segmentFile = join(log.dir, '00000000000000000000.log');
    const stored = Buffer.concat(acknowledged);
    expect(await readFile(segmentFile)).toEqual(stored);
    expect(log.sizeBytes).toBe(stored.length);
    // And that is what a reader gets: every acknowledged batch, nothing of the refused ones.
    const read = await log.read(0, 1 << 20);
    expect(read.errorCode).toBe(ErrorCode.NONE);
    if (read.errorCode === ErrorCode.NONE) expect(read.records).toEqual(stored);
    expect((await log.read(logEnd, 1 << 20)).errorCode).toBe(ErrorCode.NONE);
    expect((await log.read(logEnd + 1, 1 << 20)).errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);

    // Space again: appends continue at the next offset, and a restart finds everything.
    await unlink(filler);
    const next = buildTestBatch({ recordCount: 1, fillerBytes: 100, maxTimestamp: 999 });
    const after = await log.append(next, 0);
    expect(after.baseOffset).toBe(logEnd);
    await manager.close();
    manager = await LogManager.open({ config, clock });
    const reopened = manager.getLog('full', 0)!;
    expect(reopened.logEndOffset).toBe(logEnd + 1);
    const reread = await reopened.read(0, 1 << 20);
    expect(reread.errorCode).toBe(ErrorCode.NONE);
    if (reread.errorCode === ErrorCode.NONE) expect(reread.records).toEqual(Buffer.concat([stored, next]));
    await manager.close();
  });
});

/** Writes `path` until the file system refuses another byte: no free page is left. */
async function fillUp(path: string): Promise<void> {
  for (const chunkBytes of [64 * 1024, 4096, 512, 1]) {
    for (;;) {
      try {
        await appendFile(path, Buffer.alloc(chunkBytes));
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
        throw error;
      }
    }
  }
}

describe('LogManager when a log dir fails', () => {
  it('takes the dir offline on a failed roll, keeps the other dir serving, and finds everything on restart', async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const tmpfsDir = join(mountPoint, 'failing');
    await mkdir(tmpfsDir);
    const healthyDir = await makeTempDir('healthy-dir');
    const config = parseBrokerLogConfig({ 'log.dirs': `${tmpfsDir},${healthyDir}` });
    const channel = new LogDirFailureChannel();
    const failures: OfflineLogDir[] = [];
    channel.onLogDirFailure((failure) => failures.push(failure));
    let manager = await LogManager.open({ config, clock, logDirFailureChannel: channel });
    const failing = await manager.getOrCreateLog('failing', 0);
    const healthy = await manager.getOrCreateLog('healthy', 0);
    expect(failing.logDir).toBe(tmpfsDir);
    expect(healthy.logDir).toBe(healthyDir);
    const acknowledged: Buffer[] = [];
    for (let i = 0; i < 3; i++) {
      const batch = buildTestBatch({ recordCount: 2, fillerBytes: 6000, maxTimestamp: i, seed: i });
      await failing.append(batch, 0);
      acknowledged.push(Buffer.from(batch));
    }
    const filler = join(mountPoint, 'filler-2');
    await fillUp(filler);

    // A plain append that does not fit is refused; the dir stays online.
    const refused = await failing
      .append(buildTestBatch({ recordCount: 1, fillerBytes: 8000, maxTimestamp: 9 }), 0)
      .catch((error: unknown) => error);
    expect((refused as KafkaError).code).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect(channel.offlineLogDirs).toEqual([]);
    expect(failing.isOffline).toBe(false);

    // A roll must write the old segment's index entries: on a full disk it fails half done.
    const rollFailure = await failing.roll().catch((error: unknown) => error);
    expect(rollFailure).toBeInstanceOf(KafkaStorageError);
    expect(failures).toHaveLength(1);
    expect(failures[0]!.logDir).toBe(tmpfsDir);
    expect(failures[0]!.reason).toMatch(/failing-0: roll failed: ENOSPC/);
    expect(failing.isOffline).toBe(true);
    // Everything on that dir is refused from now on, reads included; nothing is created there.
    await expect(failing.read(0, 1 << 20)).rejects.toBeInstanceOf(KafkaStorageError);
    await expect(
      failing.append(buildTestBatch({ recordCount: 1, fillerBytes: 10, maxTimestamp: 9 }), 0),
    ).rejects.toMatchObject({ code: ErrorCode.KAFKA_STORAGE_ERROR });
    await expect(manager.getOrCreateLog('failing', 0)).rejects.toBeInstanceOf(KafkaStorageError);
    // A replica that should exist is not made again elsewhere while a dir is offline; a new one is.
    await expect(manager.getOrCreateLog('elsewhere', 0, {}, { isNew: false })).rejects.toBeInstanceOf(
      KafkaStorageError,
    );
    const created = await manager.getOrCreateLog('elsewhere', 0, {}, { isNew: true });
    expect(created.logDir).toBe(healthyDir);
    expect(
      manager
        .allLogs()
        .map((log) => log.name)
        .sort(),
    ).toEqual(['elsewhere-0', 'healthy-0']);
    expect(manager.partitionCountsByDir()).toEqual(new Map([[healthyDir, 2]]));
    // The other dir goes on: appends, flushes, checkpoints.
    const appended = await healthy.append(
      buildTestBatch({ recordCount: 5, fillerBytes: 100, maxTimestamp: 1 }),
      0,
    );
    expect(appended.lastOffset).toBe(4);
    await manager.checkpointRecoveryPoints();
    await manager.close();

    // A restart with space again: the dir is back, with every acknowledged batch, byte for byte.
    await unlink(filler);
    manager = await LogManager.open({ config, clock });
    const reopened = manager.getLog('failing', 0)!;
    expect(reopened.logEndOffset).toBe(6);
    const read = await reopened.read(0, 1 << 20);
    expect(read.errorCode).toBe(ErrorCode.NONE);
    if (read.errorCode === ErrorCode.NONE) {
      // The log stamped offsets into the batches it stored; the records themselves are unchanged.
      expect(read.records.length).toBe(acknowledged.reduce((sum, batch) => sum + batch.length, 0));
      let position = 0;
      for (const batch of acknowledged) {
        expect(read.records.subarray(position + 61, position + batch.length)).toEqual(batch.subarray(61));
        position += batch.length;
      }
    }
    expect(manager.getLog('healthy', 0)!.logEndOffset).toBe(5);
    await manager.close();
    await removeDir(healthyDir);
  });

  it('opens the other dirs when one cannot be read, and refuses to start when none can', async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const healthyDir = await makeTempDir('healthy-dir');
    // A regular file where a log dir should be: every operation on it fails (ENOTDIR / EEXIST).
    const brokenDir = join(await makeTempDir('broken-dir'), 'not-a-dir');
    await writeFile(brokenDir, 'x');
    const channel = new LogDirFailureChannel();
    const manager = await LogManager.open({
      config: parseBrokerLogConfig({ 'log.dirs': `${brokenDir},${healthyDir}` }),
      clock,
      logDirFailureChannel: channel,
    });
    expect(channel.offlineLogDirs.map((failure) => failure.logDir)).toEqual([brokenDir]);
    expect((await manager.getOrCreateLog('t', 0)).logDir).toBe(healthyDir);
    await manager.close();
    await expect(
      LogManager.open({ config: parseBrokerLogConfig({ 'log.dirs': brokenDir }), clock }),
    ).rejects.toThrow(/every log dir failed/);
    await removeDir(healthyDir);
    await removeDir(dirname(brokenDir));
  });
});

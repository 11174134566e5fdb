// A full disk, for real: the log lives on a tiny tmpfs (mounting one needs root, which the
// development machines and CI have). Appends that do not fit are refused with KAFKA_STORAGE_ERROR,
// leave no torn bytes behind, and the log works again once there is space.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, KafkaError } from '@gregor/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from './clock.js';
import { parseBrokerLogConfig } from './log-config.js';
import { LogManager } from './log-manager.js';
import { buildTestBatch } from './testing/batches.js';

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

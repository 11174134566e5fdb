// A full disk, for real: the log lives on a tiny tmpfs (mounting one needs root, which the
// development machines and CI have). Appends that do not fit are refused with KAFKA_STORAGE_ERROR,
// leave no torn bytes behind, and the log works again once there is space.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { stat, unlink, writeFile } from 'node:fs/promises';
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
  it('refuses appends with KAFKA_STORAGE_ERROR, keeps every acknowledged batch, and resumes with space', async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const config = parseBrokerLogConfig({ 'log.dirs': mountPoint });
    let manager = await LogManager.open({ config, clock });
    const log = await manager.getOrCreateLog('full', 0);
    // Most of the space goes to a filler file, so the log hits the wall after a few batches.
    const filler = join(mountPoint, 'filler');
    await writeFile(filler, Buffer.alloc(tmpfsBytes - 96 * 1024));

    const acknowledged: number[] = [];
    let refused: unknown;
    for (let i = 0; i < 100 && refused === undefined; i++) {
      const appended = await log
        .append(buildTestBatch({ recordCount: 4, fillerBytes: 8 * 1024, maxTimestamp: i, seed: i }), 0)
        .catch((error: unknown) => {
          refused = error;
          return undefined;
        });
      if (appended !== undefined) acknowledged.push(appended.lastOffset);
    }
    expect(refused).toBeInstanceOf(KafkaError);
    expect((refused as KafkaError).code).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect(acknowledged.length).toBeGreaterThan(0);
    const logEnd = acknowledged[acknowledged.length - 1]! + 1;
    expect(log.logEndOffset).toBe(logEnd);
    // No torn bytes past the last acknowledged batch: the file ends where the log says it does.
    const segmentFile = join(log.dir, '00000000000000000000.log');
    expect((await stat(segmentFile)).size).toBe(log.sizeBytes);
    // Every acknowledged batch reads back.
    const read = await log.read(0, 1 << 20);
    expect(read.errorCode).toBe(ErrorCode.NONE);

    // Space again: appends continue at the next offset, and a restart finds everything.
    await unlink(filler);
    const after = await log.append(
      buildTestBatch({ recordCount: 1, fillerBytes: 100, maxTimestamp: 999 }),
      0,
    );
    expect(after.baseOffset).toBe(logEnd);
    await manager.close();
    manager = await LogManager.open({ config, clock });
    const reopened = manager.getLog('full', 0)!;
    expect(reopened.logEndOffset).toBe(logEnd + 1);
    await manager.close();
  });
});

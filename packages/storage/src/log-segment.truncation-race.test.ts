// A read racing a replication truncation must not be taken for damage on disk. The read takes the
// segment's size, then scans; a truncation cuts the `.log` and a later append writes other batches
// at the same positions, so the scan finds bytes that do not continue where it expected a batch.
// That is the race (the next read sees the new log), not a CorruptRecordError. Damage found by a
// scan that no truncation raced is reported: crash.test.ts ("damage a clean shutdown does not check").

import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { ManualClock } from '@gregor/ground';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { CorruptRecordError } from './errors.js';
import { FileHandleCache } from './file-handle-cache.js';
import { summarizeBatch } from './file-records.js';
import { LogSegment } from './log-segment.js';
import { buildTestBatch } from './testing/batches.js';
import { makeTempDir, removeDir } from './testing/temp-dirs.js';

const clock = new ManualClock(1_700_000_000_000);
const limits = { indexIntervalBytes: 4096, offsetIndexEntriesMax: 1024, timeIndexEntriesMax: 1024 };

let dir: string;

beforeEach(async () => {
  dir = await makeTempDir('segment-truncation-race');
});

afterEach(async () => {
  await removeDir(dir);
});

/** A descriptor cache whose next `.log` read waits until the test releases it. */
function cacheHoldingNextRead() {
  const state = { armed: false, release: undefined as (() => void) | undefined, started: 0 };
  const cache = new FileHandleCache(64, async (path, flags): Promise<FileHandle> => {
    const handle = await open(path, flags);
    if (!path.endsWith('.log')) return handle;
    const read = handle.read.bind(handle) as (...args: unknown[]) => Promise<unknown>;
    handle.read = (async (...args: unknown[]) => {
      if (state.armed) {
        state.armed = false;
        state.started += 1;
        await new Promise<void>((resolve) => {
          state.release = resolve;
        });
      }
      return read(...args);
    }) as FileHandle['read'];
    return handle;
  });
  return { cache, state };
}

async function appendBatch(segment: LogSegment, baseOffset: number, fillerBytes: number): Promise<void> {
  const records = buildTestBatch({ recordCount: 1, fillerBytes, maxTimestamp: baseOffset, baseOffset });
  await segment.append(records, [summarizeBatch(records, 0, 0)!], clock.nowMs());
}

it('a scan whose end was taken before a truncation ends where the new bytes stop, without CORRUPT_MESSAGE', async () => {
  const { cache, state } = cacheHoldingNextRead();
  const segment = await LogSegment.create(dir, 0, limits, clock.nowMs(), cache);
  for (const offset of [0, 1, 2]) await appendBatch(segment, offset, 200);
  // Inactive, so reads go through the (held) asynchronous path, not the synchronous one of recent bytes.
  await segment.deactivate();
  const endBeforeCut = segment.sizeBytes;

  state.armed = true;
  const finding = segment.findBatch(2, endBeforeCut);
  await expect.poll(() => state.started).toBe(1);
  // Replication truncates to offset 1 and the leader's batch at offset 1 is larger: the old batch
  // 2 started where the new batch 1 is halfway, and the file now ends before the read's end.
  await segment.truncateTo(1);
  await segment.activate();
  await appendBatch(segment, 1, 300);
  expect(segment.sizeBytes).toBeLessThan(endBeforeCut);
  state.release!();
  expect(await finding).toBeUndefined();

  // The same scan over the same bytes with no truncation since its end was taken is damage.
  const scan = async () => {
    for await (const _ of segment.scanBatches(0, endBeforeCut)) {
      // the batches before the end of the file
    }
  };
  await expect(scan()).rejects.toBeInstanceOf(CorruptRecordError);
  await segment.close();
});

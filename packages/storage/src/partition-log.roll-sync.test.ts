// A segment roll does not hold the append that rolled for the old segment's fsync (Kafka's deferred
// "flush-log" on roll): the old segment is synced afterwards, off the operation queue, and only then
// does the recovery point move past it. Here the fsync of the rolled segment's `.log` is held by an
// injected descriptor layer, to see what the log does meanwhile: appends go on, the recovery point
// stays below the segment (and a crash recovers it), flush and close wait for it, retention and
// truncation wait before they touch segments, and a failed one stops the log as a failed flush does.

import type { FileHandle } from 'node:fs/promises';
import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { ManualClock } from '@gregor/ground';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { FileHandleCache } from './file-handle-cache.js';
import { defaultLogConfig, type LogConfig } from './log-config.js';
import { KafkaStorageError, LogDirFailureChannel } from './log-dir-failure-channel.js';
import { PartitionLog } from './partition-log.js';
import { segmentFileName } from './segment-files.js';
import { buildTestBatch, readBaseOffsets } from './testing/batches.js';
import { makeTempDir, removeDir } from './testing/temp-dirs.js';

let root: string;
let clock: ManualClock;

beforeEach(async () => {
  root = await makeTempDir('roll-sync');
  clock = new ManualClock(1_700_000_000_000);
});

afterEach(async () => {
  await removeDir(root);
});

/** Three records, 261 bytes. */
function batch(seed: number): Buffer {
  return buildTestBatch({ recordCount: 3, fillerBytes: 200, maxTimestamp: clock.nowMs(), seed });
}

interface HeldSync {
  readonly path: string;
  release(): void;
  fail(error: Error): void;
}

/**
 * A descriptor cache whose datasyncs (the first `heldMax`) of files named in `heldNames` wait until the test releases
 * them (or fails them); `events` records every datasync's start and end, by file name.
 */
function cacheHoldingSyncs(heldNames: readonly string[], heldMax = Number.POSITIVE_INFINITY) {
  const held: HeldSync[] = [];
  const events: string[] = [];
  let holding = true;
  /** Releases the datasyncs held so far and holds no more. */
  const stopHolding = (): void => {
    holding = false;
    for (const sync of held) sync.release();
  };
  const cache = new FileHandleCache(64, async (path, flags): Promise<FileHandle> => {
    const handle = await open(path, flags);
    const name = path.slice(path.lastIndexOf('/') + 1);
    const real = handle.datasync.bind(handle);
    handle.datasync = async () => {
      events.push(`start ${name}`);
      if (holding && held.length < heldMax && heldNames.includes(name)) {
        await new Promise<void>((resolve, reject) => {
          held.push({ path, release: resolve, fail: reject });
        });
      }
      await real();
      events.push(`end ${name}`);
    };
    return handle;
  });
  return { cache, held, events, stopHolding };
}

/** A log in `<root>/logs/t-0` whose segments hold two batches (6 offsets): the third append rolls. */
async function openLog(
  files: FileHandleCache,
  options: { recoveryPoint?: number; channel?: LogDirFailureChannel; config?: Partial<LogConfig> } = {},
) {
  const logDir = join(root, 'logs');
  await mkdir(logDir, { recursive: true });
  return PartitionLog.open({
    dir: join(logDir, 't-0'),
    topic: 't',
    partition: 0,
    config: { ...defaultLogConfig, segmentBytes: 2 * batch(0).length, ...options.config },
    clock,
    recoveryPoint: options.recoveryPoint ?? 0,
    logStartOffset: undefined,
    hadCleanShutdown: false,
    checkpoints: { logStartOffsetChanged: async () => {}, recoveryPointLowered: async () => {} },
    files,
    logDirFailureChannel: options.channel,
  });
}

const firstLog = segmentFileName(0, '.log');
const secondLog = segmentFileName(6, '.log');

/**
 * Appends batches 1 and 2 (offsets 0-5, segment 0 full), then batch 3, which rolls to segment 6;
 * then waits until the rolled segment's fsync, which starts after the roll's directory fsync, is
 * held.
 */
async function appendUntilRolled(log: PartitionLog, held: readonly HeldSync[]): Promise<void> {
  await log.append(batch(1), 0);
  await log.append(batch(2), 0);
  await log.append(batch(3), 0);
  expect(log.segmentBaseOffsets()).toEqual([0, 6]);
  await vi.waitFor(() => expect(held.length).toBeGreaterThan(0));
}

describe('a segment roll', () => {
  it("answers the append that rolled while the old segment's fsync is still held; the recovery point moves once it completes", async () => {
    const { cache, held, events } = cacheHoldingSyncs([firstLog]);
    const log = await openLog(cache);
    // Would never resolve if the roll waited for the held fsync.
    await appendUntilRolled(log, held);
    expect(held.map((h) => h.path)).toEqual([join(root, 'logs', 't-0', firstLog)]);
    expect(log.recoveryPoint).toBe(0);
    // Appends go on meanwhile, into the new segment.
    expect((await log.append(batch(4), 0)).baseOffset).toBe(9);
    expect(readBaseOffsets(await log.read(0, 1 << 20))).toEqual([0, 3, 6, 9]);
    expect(log.recoveryPoint).toBe(0);

    held[0]!.release();
    await log.rolledSegmentsSynced();
    expect(log.recoveryPoint).toBe(6);
    // The whole rolled segment was synced: its `.log` and both index files.
    expect(events).toEqual(
      expect.arrayContaining([
        `end ${firstLog}`,
        `end ${segmentFileName(0, '.index')}`,
        `end ${segmentFileName(0, '.timeindex')}`,
      ]),
    );
    await log.close();
  });

  it('moves the recovery point over a prefix of synced segments only, in roll order', async () => {
    const { cache, held } = cacheHoldingSyncs([firstLog]);
    const log = await openLog(cache);
    await appendUntilRolled(log, held);
    await log.append(batch(4), 0);
    await log.append(batch(5), 0); // rolls again: segment 6 (offsets 6-11) is sealed
    expect(log.segmentBaseOffsets()).toEqual([0, 6, 12]);
    // Segment 6's fsync waits behind segment 0's: the recovery point cannot skip segment 0.
    expect(held).toHaveLength(1);
    expect(log.recoveryPoint).toBe(0);

    held[0]!.release();
    await log.rolledSegmentsSynced();
    expect(log.recoveryPoint).toBe(12);
    await log.close();
  });

  it('a flush and a close wait for it, and a close leaves the recovery point at the log end', async () => {
    const { cache, held, events } = cacheHoldingSyncs([firstLog]);
    const log = await openLog(cache);
    await appendUntilRolled(log, held);
    const flushed = log.flush();
    const closed = log.close();
    held[0]!.release();
    await flushed;
    await closed;
    expect(log.recoveryPoint).toBe(log.logEndOffset);
    expect(log.recoveryPoint).toBe(9);
    // The flush synced the active segment only after the rolled one was synced.
    expect(events.indexOf(`end ${firstLog}`)).toBeGreaterThanOrEqual(0);
    expect(events.indexOf(`start ${secondLog}`)).toBeGreaterThan(events.indexOf(`end ${firstLog}`));
  });

  it('a crash before it completes recovers the old segment from disk at the next open', async () => {
    const { cache, held } = cacheHoldingSyncs([firstLog]);
    const channel = new LogDirFailureChannel();
    const log = await openLog(cache, { channel });
    await appendUntilRolled(log, held);
    const checkpointed = log.recoveryPoint;
    expect(checkpointed).toBe(0);
    // The process dies: nothing more is written, and the unsynced tail of segment 0 is lost (here:
    // its last batch torn).
    await log.closeWithoutWriting();
    const torn = await open(join(root, 'logs', 't-0', firstLog), 'r+');
    await torn.truncate(batch(0).length + 100);
    await torn.close();
    // The fsync of the given-up log stops without reopening its files or reporting anything.
    held[0]!.release();
    await log.rolledSegmentsSynced();
    expect(channel.offlineLogDirs).toEqual([]);

    const reopened = await openLog(new FileHandleCache(64), { recoveryPoint: checkpointed });
    // Segment 0 was re-validated and its torn batch cut; segment 6 after the cut goes with it.
    expect(reopened.logEndOffset).toBe(3);
    expect(reopened.segmentBaseOffsets()).toEqual([0]);
    expect(readBaseOffsets(await reopened.read(0, 1 << 20))).toEqual([0]);
    await reopened.close();
  });

  it('retention waits for it before it deletes the segment', async () => {
    const { cache, held, stopHolding } = cacheHoldingSyncs([firstLog]);
    const log = await openLog(cache, { config: { retentionBytes: 1 } });
    await appendUntilRolled(log, held);
    const retention = log.deleteOldSegments();
    stopHolding();
    // Segment 0's fsync completed on the file, then retention deleted it: nothing failed.
    expect(await retention).toBe(1);
    await log.rolledSegmentsSynced();
    expect(log.isOffline).toBe(false);
    expect(log.segmentBaseOffsets()).toEqual([6]);
    expect(log.recoveryPoint).toBe(6);
    await log.close();
  });

  it('a truncation into the rolled segment waits for it, and the recovery point stays at the new end', async () => {
    // Only the roll's fsync is held, not the truncation's own.
    const { cache, held } = cacheHoldingSyncs([firstLog], 1);
    const log = await openLog(cache);
    await appendUntilRolled(log, held);
    const truncation = log.truncateTo(3);
    // Time for a truncation that did not wait to finish (then the fsync would complete after it,
    // for a segment end the log no longer has); one that waits is not hurried by this.
    await Promise.race([truncation, new Promise((resolve) => setTimeout(resolve, 200))]);
    held[0]!.release();
    await truncation;
    await log.rolledSegmentsSynced();
    expect(log.isOffline).toBe(false);
    expect(log.segmentBaseOffsets()).toEqual([0]);
    expect([log.logEndOffset, log.recoveryPoint]).toEqual([3, 3]);
    // Appended again after the cut: above the recovery point until flushed.
    await log.append(batch(7), 0);
    expect(log.recoveryPoint).toBe(3);
    await log.close();
    expect(log.recoveryPoint).toBe(6);
  });

  it('a failed fsync of the rolled segment takes the log dir offline, as a failed flush does', async () => {
    const { cache, held } = cacheHoldingSyncs([firstLog]);
    const channel = new LogDirFailureChannel();
    const log = await openLog(cache, { channel });
    await appendUntilRolled(log, held);
    held[0]!.fail(Object.assign(new Error('EIO: fdatasync'), { code: 'EIO', syscall: 'fdatasync' }));
    await expect(log.rolledSegmentsSynced()).rejects.toThrow('EIO');
    expect(log.isOffline).toBe(true);
    expect(channel.offlineLogDirs.map((dir) => dir.reason)).toEqual([
      't-0: fsync of a rolled segment failed: EIO (EIO: fdatasync)',
    ]);
    // The recovery point never moved past the segment that was not synced.
    expect(log.recoveryPoint).toBe(0);
    await expect(log.append(batch(4), 0)).rejects.toBeInstanceOf(KafkaStorageError);
    await log.closeAfterFailure('test');
  });

  it("answers the append that rolled while the roll's directory fsync is still held; a flush waits for it", async () => {
    let releaseDirectory: () => void = () => undefined;
    const directoryHeld = new Promise<void>((resolve) => {
      releaseDirectory = resolve;
    });
    let directorySyncs = 0;
    const cache = new FileHandleCache(64, async (path, flags): Promise<FileHandle> => {
      const handle = await open(path, flags);
      if (path.endsWith('/t-0')) {
        const real = handle.sync.bind(handle);
        handle.sync = async () => {
          directorySyncs += 1;
          // The open's own directory fsyncs pass; the roll's is held.
          if (directorySyncs > 1) await directoryHeld;
          await real();
        };
      }
      return handle;
    });
    const log = await openLog(cache);
    const syncsAtOpen = directorySyncs;
    // Would never resolve if the roll waited for the held directory fsync.
    await log.append(batch(1), 0);
    await log.append(batch(2), 0);
    await log.append(batch(3), 0);
    expect(log.segmentBaseOffsets()).toEqual([0, 6]);
    await vi.waitFor(() => expect(directorySyncs).toBe(Math.max(syncsAtOpen, 1) + 1));
    let flushed = false;
    const flush = log.flush().then(() => {
      flushed = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    // Nothing counts as flushed in the new segment while its directory entry may not be durable.
    expect([flushed, log.recoveryPoint]).toEqual([false, 0]);
    releaseDirectory();
    await flush;
    expect(log.recoveryPoint).toBe(9);
    await log.close();
  });

  it('a log deleted under it (closed without writing, its directory renamed) does not take the log dir offline when it fails', async () => {
    const { cache, held } = cacheHoldingSyncs([firstLog]);
    const channel = new LogDirFailureChannel();
    const log = await openLog(cache, { channel });
    await appendUntilRolled(log, held);
    await log.closeWithoutWriting();
    // What a reopen by the old path meets once the directory was renamed for deletion.
    held[0]!.fail(Object.assign(new Error('ENOENT: open'), { code: 'ENOENT', syscall: 'open' }));
    await expect(log.rolledSegmentsSynced()).rejects.toThrow('ENOENT');
    expect(channel.offlineLogDirs).toEqual([]);
    expect(log.recoveryPoint).toBe(0);
  });
});

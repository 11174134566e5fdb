import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ManualClock } from '@gregor/ground';
import {
  BatchField,
  ErrorCode,
  encodeRecordBatch,
  KafkaError,
  readBatchHeader,
  readInt64AsNumber,
} from '@gregor/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UnexpectedAppendOffsetError } from './errors.js';
import { type ConfigProps, parseBrokerLogConfig } from './log-config.js';
import { cleanShutdownFileName, LogManager } from './log-manager.js';
import type { LogReadResult, PartitionLog } from './partition-log.js';
import { batchBaseOffsets, buildTestBatch } from './testing/batches.js';
import { makeTempDir, removeDir } from './testing/temp-dirs.js';

let root: string;
let clock: ManualClock;
const managers: LogManager[] = [];

beforeEach(async () => {
  root = await makeTempDir('storage-test');
  clock = new ManualClock(1_700_000_000_000);
});

afterEach(async () => {
  for (const manager of managers.splice(0)) await manager.close();
  await removeDir(root);
});

async function openManager(props: ConfigProps = {}, dirs = [root]): Promise<LogManager> {
  const manager = await LogManager.open({
    config: parseBrokerLogConfig({ 'log.dirs': dirs.join(','), ...props }),
    clock,
  });
  managers.push(manager);
  return manager;
}

async function closeManager(manager: LogManager): Promise<void> {
  managers.splice(managers.indexOf(manager), 1);
  await manager.close();
}

function batch(recordCount: number, fillerBytes: number, maxTimestamp: number, seed = 1): Buffer {
  return buildTestBatch({ recordCount, fillerBytes, maxTimestamp, seed });
}

function records(result: LogReadResult): Buffer {
  if (result.errorCode !== ErrorCode.NONE) throw new Error(`read failed with ${result.errorCode}`);
  return result.records;
}

async function logOf(manager: LogManager, overrides: ConfigProps = {}): Promise<PartitionLog> {
  return manager.getOrCreateLog('orders', 0, overrides);
}

describe('PartitionLog append and read', () => {
  it('assigns offsets, rewrites baseOffset and epoch in place, and reads whole batches back', async () => {
    const log = await logOf(await openManager());
    const first = batch(3, 100, 10);
    const result = await log.append(first, 7);
    expect(result).toMatchObject({
      baseOffset: 0,
      lastOffset: 2,
      logAppendTimeMs: clock.nowMs(),
      logStartOffset: 0,
    });
    expect(readBatchHeader(first).partitionLeaderEpoch).toBe(7);
    const second = await log.append(batch(2, 50, 20, 2), 7);
    expect(second).toMatchObject({ baseOffset: 3, lastOffset: 4 });
    expect(log.logEndOffset).toBe(5);

    const read = await log.read(0, 1_000_000);
    expect(batchBaseOffsets(records(read))).toEqual([0, 3]);
    expect(read).toMatchObject({ firstBatchBaseOffset: 0, logStartOffset: 0, logEndOffset: 5 });
    // Offset 4 is inside the second batch: the whole batch comes back.
    expect(batchBaseOffsets(records(await log.read(4, 1)))).toEqual([3]);
  });

  it('appends a record set of several batches with one write, validating all first', async () => {
    const log = await logOf(await openManager());
    const set = Buffer.concat([batch(2, 10, 1), batch(5, 20, 2), batch(1, 30, 3)]);
    expect(await log.append(set, 0)).toMatchObject({ baseOffset: 0, lastOffset: 7 });
    expect(batchBaseOffsets(records(await log.read(0, 1 << 20)))).toEqual([0, 2, 7]);
  });

  it('accepts batches made by encodeRecordBatch', async () => {
    const log = await logOf(await openManager());
    const encoded = encodeRecordBatch({
      records: [
        { timestamp: 5, key: Buffer.from('k'), value: Buffer.from('v1') },
        { timestamp: 6, key: null, value: Buffer.from('v2') },
      ],
    });
    expect(await log.append(encoded, 0)).toMatchObject({ baseOffset: 0, lastOffset: 1 });
    expect(records(await log.read(0, 1 << 20)).equals(encoded)).toBe(true);
  });

  it('refuses a corrupt batch with CORRUPT_MESSAGE and stores nothing', async () => {
    const log = await logOf(await openManager());
    await log.append(batch(1, 100, 1), 0);
    const logFile = join(log.dir, '00000000000000000000.log');
    const sizeBefore = (await stat(logFile)).size;
    const good = batch(2, 100, 2);
    const corrupt = Buffer.from(good);
    corrupt[corrupt.length - 1]! ^= 0xff;
    for (const bad of [corrupt, Buffer.concat([good, corrupt]), good.subarray(0, 70), Buffer.alloc(0)]) {
      const error = await log.append(bad, 0).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(KafkaError);
      expect((error as KafkaError).code).toBe(ErrorCode.CORRUPT_MESSAGE);
    }
    expect((await stat(logFile)).size).toBe(sizeBefore);
    expect(log.logEndOffset).toBe(1);
    // the good batch in the refused set was not given an offset either
    expect(readBatchHeader(good).baseOffset).toBe(0);
  });

  it('takes the batches a caller validated as they are, and refuses frames that do not tile the set', async () => {
    const log = await logOf(await openManager());
    const first = batch(3, 100, 1);
    const second = batch(2, 100, 4);
    const set = Buffer.concat([first, second]);
    const frames = [
      { position: 0, sizeBytes: first.length, lastOffsetDelta: 2, maxTimestamp: 1 },
      { position: first.length, sizeBytes: second.length, lastOffsetDelta: 1, maxTimestamp: 4 },
    ];
    for (const bad of [
      frames.slice(0, 1),
      [frames[1]!],
      [],
      [{ ...frames[0]!, lastOffsetDelta: -1 }, frames[1]!],
    ]) {
      await expect(log.append(set, 0, { validatedBatches: bad })).rejects.toThrow(/validated batches/);
    }
    expect(log.logEndOffset).toBe(0);
    expect(await log.append(set, 7, { validatedBatches: frames })).toMatchObject({
      baseOffset: 0,
      lastOffset: 4,
    });
    const stored = records(await log.read(0, 1 << 20));
    expect(readBatchHeader(stored, first.length)).toMatchObject({ baseOffset: 3, partitionLeaderEpoch: 7 });
  });

  it('refuses a batch above max.message.bytes with MESSAGE_TOO_LARGE', async () => {
    const log = await logOf(await openManager(), { 'max.message.bytes': '200' });
    const error = await log.append(batch(1, 500, 1), 0).catch((e: unknown) => e);
    expect((error as KafkaError).code).toBe(ErrorCode.MESSAGE_TOO_LARGE);
    expect(log.logEndOffset).toBe(0);
  });

  it('returns at least one whole batch above maxBytes and never a partial one', async () => {
    const log = await logOf(await openManager());
    for (let i = 0; i < 4; i++) await log.append(batch(1, 1000, i), 0);
    const batchBytes = 1061;
    expect(records(await log.read(0, 10)).length).toBe(batchBytes);
    expect(records(await log.read(0, 2 * batchBytes + 500)).length).toBe(2 * batchBytes);
    expect(records(await log.read(1, 3 * batchBytes)).length).toBe(3 * batchBytes);
  });

  it('reports OFFSET_OUT_OF_RANGE below the log start and beyond the log end, empty at the end', async () => {
    const log = await logOf(await openManager());
    await log.append(batch(3, 10, 1), 0);
    expect((await log.read(4, 100)).errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    const atEnd = await log.read(3, 100);
    expect(records(atEnd).length).toBe(0);
    expect(atEnd).toMatchObject({ firstBatchBaseOffset: -1, logEndOffset: 3 });
  });

  it('stops before the first batch that reaches maxOffsetExclusive (the high watermark)', async () => {
    const log = await logOf(await openManager());
    for (let i = 0; i < 3; i++) await log.append(batch(2, 10, i), 0); // offsets 0-1, 2-3, 4-5
    expect(batchBaseOffsets(records(await log.read(0, 1 << 20, { maxOffsetExclusive: 4 })))).toEqual([0, 2]);
    expect(records(await log.read(4, 1 << 20, { maxOffsetExclusive: 4 })).length).toBe(0);
    expect(records(await log.read(2, 1 << 20, { maxOffsetExclusive: 3 })).length).toBe(0);
  });

  it('serializes concurrent appends', async () => {
    const log = await logOf(await openManager({ 'log.segment.bytes': '2000' }));
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => log.append(batch(2, 100, i, i), 0)),
    );
    expect(results.map((r) => r.baseOffset)).toEqual(Array.from({ length: 50 }, (_, i) => 2 * i));
    expect(batchBaseOffsets(records(await log.read(0, 1 << 20)))).toEqual(results.map((r) => r.baseOffset));
  });
});

describe('follower append and truncation', () => {
  it('keeps offsets, refuses offsets below the log end, and starts a segment at a gap', async () => {
    const log = await logOf(await openManager());
    const b = buildTestBatch({
      recordCount: 3,
      fillerBytes: 10,
      maxTimestamp: 1,
      baseOffset: 0,
      partitionLeaderEpoch: 4,
    });
    await log.appendAsFollower(b);
    expect(log.logEndOffset).toBe(3);
    const stale = buildTestBatch({ recordCount: 1, fillerBytes: 10, maxTimestamp: 1, baseOffset: 2 });
    await expect(log.appendAsFollower(stale)).rejects.toBeInstanceOf(UnexpectedAppendOffsetError);
    const gap = buildTestBatch({ recordCount: 1, fillerBytes: 10, maxTimestamp: 2, baseOffset: 10 });
    await log.appendAsFollower(gap);
    expect(log.logEndOffset).toBe(11);
    expect(log.segmentBaseOffsets()).toEqual([0, 10]);
    expect(batchBaseOffsets(records(await log.read(5, 1 << 20)))).toEqual([10]);
    expect(readBatchHeader(records(await log.read(0, 1))).partitionLeaderEpoch).toBe(4);
  });

  it('truncates at batch boundaries: an offset inside a batch drops the whole batch', async () => {
    const manager = await openManager({ 'log.segment.bytes': '300' });
    const log = await logOf(manager);
    for (let i = 0; i < 10; i++) await log.append(batch(3, 100, i), 0); // 161-byte batches: one per segment
    expect(log.segmentBaseOffsets().length).toBe(10);
    await log.truncateTo(14); // inside the batch 12-14
    expect(log.logEndOffset).toBe(12);
    expect(log.segmentBaseOffsets()).toEqual([0, 3, 6, 9, 12]);
    await log.append(batch(1, 10, 99), 0);
    expect(log.logEndOffset).toBe(13);
    await closeManager(manager);
    const reopened = await logOf(await openManager({ 'log.segment.bytes': '300' }));
    expect(reopened.logEndOffset).toBe(13);
    expect(batchBaseOffsets(records(await reopened.read(0, 1 << 20)))).toEqual([0, 3, 6, 9, 12]);
  });

  it('reads at the tail return the batch holding the offset, across trims of the remembered batches and a truncation', async () => {
    const manager = await openManager();
    const log = await logOf(manager);
    // More batches than the segment remembers, of 1 to 3 records, then a cut among the recent ones
    // and batches of other sizes in their place: remembered positions would now be wrong.
    for (let i = 0; i < 150; i++) await log.append(batch(1 + (i % 3), 20, i), 0);
    const cutAt = log.logEndOffset - 10;
    await log.truncateTo(cutAt);
    for (let i = 0; i < 20; i++) await log.append(batch(1 + ((i + 1) % 3), 57, 1_000 + i), 0);
    const live = [];
    for (let offset = 0; offset < log.logEndOffset; offset++) live.push(records(await log.read(offset, 1)));
    await closeManager(manager);
    // A reopened log remembers nothing: it finds every batch through the index and the file.
    const reopened = await logOf(await openManager());
    for (let offset = 0; offset < reopened.logEndOffset; offset++) {
      const expected = records(await reopened.read(offset, 1));
      const header = readBatchHeader(expected);
      expect(header.baseOffset).toBeLessThanOrEqual(offset);
      expect(header.baseOffset + header.lastOffsetDelta).toBeGreaterThanOrEqual(offset);
      expect(live[offset]!.equals(expected)).toBe(true);
    }
  });

  it('truncateFullyAndStartAt empties the log and restarts it', async () => {
    const manager = await openManager();
    const log = await logOf(manager);
    await log.append(batch(3, 10, 1), 0);
    await log.truncateFullyAndStartAt(100);
    expect([log.logStartOffset, log.logEndOffset]).toEqual([100, 100]);
    await closeManager(manager);
    const reopened = await logOf(await openManager());
    expect([reopened.logStartOffset, reopened.logEndOffset]).toEqual([100, 100]);
    expect((await reopened.append(batch(1, 10, 1), 0)).baseOffset).toBe(100);
  });
});

describe('segments, retention and lookups', () => {
  it('rolls on segment.bytes, segment.ms and a full index', async () => {
    const manager = await openManager();
    const bySize = await manager.getOrCreateLog('size', 0, { 'segment.bytes': '1000' });
    for (let i = 0; i < 10; i++) await bySize.append(batch(1, 239, i), 0); // 300 bytes each: 3 per segment
    expect(bySize.segmentBaseOffsets()).toEqual([0, 3, 6, 9]);

    const byTime = await manager.getOrCreateLog('time', 0, { 'segment.ms': '1000' });
    await byTime.append(batch(1, 10, 1), 0);
    clock.advanceMs(999);
    await byTime.append(batch(1, 10, 1), 0);
    clock.advanceMs(1);
    await byTime.append(batch(1, 10, 1), 0);
    expect(byTime.segmentBaseOffsets()).toEqual([0, 2]);

    // 24 bytes: 3 offset index entries and 2 time index entries per segment
    const byIndex = await manager.getOrCreateLog('index', 0, {
      'segment.index.bytes': '24',
      'index.interval.bytes': '0',
    });
    for (let i = 0; i < 8; i++) await byIndex.append(batch(1, 10, i), 0);
    expect(byIndex.segmentBaseOffsets()).toEqual([0, 3, 6]);
  });

  it('moves the log start offset for DeleteRecords durably, and retention then drops the segments below it', async () => {
    const manager = await openManager();
    // compact-only: time and size retention never run, the log start offset still frees segments
    const log = await logOf(manager, {
      'segment.bytes': '300',
      'cleanup.policy': 'compact',
      'retention.ms': '-1',
    });
    for (let i = 0; i < 4; i++) await log.append(batch(3, 100, i), 0); // one 3-record batch per segment
    expect(log.segmentBaseOffsets()).toEqual([0, 3, 6, 9]);
    expect(await log.incrementLogStartOffset(7)).toBe(true);
    expect(await log.incrementLogStartOffset(5)).toBe(false);
    expect(log.logStartOffset).toBe(7);
    expect(log.earliestOffset()).toBe(7);
    expect((await log.read(6, 1 << 20)).errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    // the batch holding offset 7 is returned whole, as Kafka does
    expect(batchBaseOffsets(records(await log.read(7, 1 << 20)))).toEqual([6, 9]);
    expect(await readFile(join(root, 'log-start-offset-checkpoint'), 'utf8')).toBe('0\n1\norders 0 7\n');
    await expect(log.incrementLogStartOffset(13)).rejects.toThrow(/beyond the log end/);

    expect(await log.deleteOldSegments({ highWatermark: 12 })).toBe(2);
    expect(log.segmentBaseOffsets()).toEqual([6, 9]);
    expect(log.logStartOffset).toBe(7);
    await closeManager(manager);
    const reopened = await logOf(await openManager());
    expect(reopened.logStartOffset).toBe(7);
    expect((await reopened.read(6, 1 << 20)).errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
  });

  it('deletes whole old segments by retention.ms and retention.bytes, crash-safely', async () => {
    const manager = await openManager();
    const log = await logOf(manager, { 'segment.bytes': '400', 'retention.ms': '10000' });
    const now = clock.nowMs();
    // 300-byte batches, one segment each; timestamps 20 s, 15 s, 10 s, 5 s ago, and now
    for (const ageMs of [20000, 15000, 10000, 5000, 0]) await log.append(batch(1, 239, now - ageMs), 0);
    expect(log.segmentBaseOffsets()).toEqual([0, 1, 2, 3, 4]);
    expect(await log.deleteOldSegments()).toBe(2);
    expect(log.logStartOffset).toBe(2);
    expect((await log.read(1, 100)).errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    const checkpoint = await readFile(join(root, 'log-start-offset-checkpoint'), 'utf8');
    expect(checkpoint).toBe('0\n1\norders 0 2\n');
    expect((await readdir(log.dir)).filter((n) => n.endsWith('.deleted'))).toEqual([]);

    log.updateConfig({ ...log.config, retentionMs: -1, retentionBytes: 700 });
    // 900 bytes: dropping the oldest 300 leaves 600 < 700, so Kafka's rule keeps it
    expect(await log.deleteOldSegments()).toBe(0);
    log.updateConfig({ ...log.config, retentionBytes: 500 });
    expect(await log.deleteOldSegments()).toBe(1);
    expect(log.logStartOffset).toBe(3);
    // the active segment is never deleted
    log.updateConfig({ ...log.config, retentionBytes: 0 });
    expect(await log.deleteOldSegments()).toBe(1);
    expect(log.segmentBaseOffsets()).toEqual([4]);
  });

  it('keeps segments at or above the high watermark whatever retention says', async () => {
    const manager = await openManager();
    const log = await logOf(manager, { 'segment.bytes': '400', 'retention.ms': '1000' });
    const now = clock.nowMs();
    for (const ageMs of [20000, 15000, 10000, 5000, 0]) await log.append(batch(1, 239, now - ageMs), 0);
    expect(log.segmentBaseOffsets()).toEqual([0, 1, 2, 3, 4]);
    // Segments 0 and 1 end at or below offset 2; segment 2 ends at 3, above the high watermark.
    expect(await log.deleteOldSegments({ highWatermark: 2 })).toBe(2);
    expect(log.logStartOffset).toBe(2);
    expect(await log.deleteOldSegments({ highWatermark: 2 })).toBe(0);
    expect(await log.deleteOldSegments({ highWatermark: 5 })).toBe(2);
    expect(log.segmentBaseOffsets()).toEqual([4]);
  });

  it('finds the first batch whose max timestamp reaches a target, across segments', async () => {
    const log = await logOf(
      await openManager({ 'log.segment.bytes': '700', 'log.index.interval.bytes': '100' }),
    );
    const timestamps = [100, 300, 200, 300, 500, 400, 900, 600];
    for (const ts of timestamps) await log.append(batch(2, 150, ts), 0);
    expect(await log.offsetForTimestamp(0)).toEqual({ offset: 0, timestamp: 100 });
    expect(await log.offsetForTimestamp(250)).toEqual({ offset: 2, timestamp: 300 });
    expect(await log.offsetForTimestamp(301)).toEqual({ offset: 8, timestamp: 500 });
    expect(await log.offsetForTimestamp(550)).toEqual({ offset: 12, timestamp: 900 });
    expect(await log.offsetForTimestamp(901)).toBeNull();
    expect(log.earliestOffset()).toBe(0);
    expect(log.latestOffset()).toBe(16);
  });
});

describe('flush policy and recovery point', () => {
  it('leaves flushing to the OS by default and flushes on flush.messages and flush.ms', async () => {
    const manager = await openManager();
    const byDefault = await manager.getOrCreateLog('default', 0);
    await byDefault.append(batch(3, 10, 1), 0);
    expect(byDefault.recoveryPoint).toBe(0);
    await byDefault.flush();
    expect(byDefault.recoveryPoint).toBe(3);

    const always = await manager.getOrCreateLog('always', 0, { 'flush.messages': 'always' });
    await always.append(batch(2, 10, 1), 0);
    expect(always.recoveryPoint).toBe(2);

    const everyFive = await manager.getOrCreateLog('five', 0, { 'flush.messages': '5' });
    await everyFive.append(batch(3, 10, 1), 0);
    expect(everyFive.recoveryPoint).toBe(0);
    await everyFive.append(batch(2, 10, 1), 0);
    expect(everyFive.recoveryPoint).toBe(5);

    const timed = await manager.getOrCreateLog('timed', 0, { 'flush.ms': '1000' });
    await timed.append(batch(1, 10, 1), 0);
    expect(await timed.flushIfDue()).toBe(false);
    clock.advanceMs(1000);
    expect(await manager.flushDueLogs()).toBe(1);
    expect(timed.recoveryPoint).toBe(1);
  });

  it('moves the recovery point past a rolled segment and back on truncation, checkpointing it', async () => {
    const manager = await openManager({ 'log.segment.bytes': '300' });
    const log = await logOf(manager);
    for (let i = 0; i < 3; i++) await log.append(batch(2, 150, i), 0); // 211 bytes: one per segment
    // Segments 0 and 2 are synced after the appends that rolled them, not inside them.
    await log.rolledSegmentsSynced();
    expect(log.recoveryPoint).toBe(4);
    await log.flush();
    expect(log.recoveryPoint).toBe(6);
    await log.truncateTo(3);
    expect([log.logEndOffset, log.recoveryPoint]).toEqual([2, 2]);
    expect(await readFile(join(root, 'recovery-point-offset-checkpoint'), 'utf8')).toBe('0\n1\norders 0 2\n');
  });
});

describe('int32 relative offsets', () => {
  it('rolls before a relative offset would overflow', async () => {
    const log = await logOf(await openManager());
    await log.append(batch(1, 10, 1), 0);
    await log.append(batch(0x7fff_ffff, 10, 1), 0); // last offset 2^31 - 1: relative offset still fits
    expect(log.segmentBaseOffsets()).toEqual([0]);
    await log.append(batch(1, 10, 1), 0);
    expect(log.segmentBaseOffsets()).toEqual([0, 0x8000_0000]);
    expect(batchBaseOffsets(records(await log.read(0x7fff_ffff, 1 << 20)))).toEqual([1, 0x8000_0000]);
  });
});

describe("Kafka's on-disk format", () => {
  it('writes 20-digit segment names, 8-byte .index and 12-byte .timeindex entries', async () => {
    const manager = await openManager({ 'log.index.interval.bytes': '100', 'log.segment.bytes': '2000' });
    const log = await logOf(manager);
    const timestamps = [10, 30, 20, 40, 50, 45, 60, 70, 80, 90, 100];
    for (const ts of timestamps) await log.append(batch(2, 139, ts), 0); // 200 bytes each: 10 per segment
    await closeManager(manager);
    const names = (await readdir(log.dir)).sort();
    expect(names).toEqual([
      '00000000000000000000.index',
      '00000000000000000000.log',
      '00000000000000000000.timeindex',
      '00000000000000000020.index',
      '00000000000000000020.log',
      '00000000000000000020.timeindex',
    ]);
    // Segment 0 holds batches 0..9 (2000 bytes). Kafka indexes a batch once more than
    // index.interval.bytes were appended since the last entry: batches 1, 2, ... each start >100 bytes
    // after the previous entry, so every batch but the first is indexed with (lastOffset, position).
    const index = await readFile(join(log.dir, '00000000000000000000.index'));
    expect(index.length).toBe(9 * 8);
    for (let i = 0; i < 9; i++) {
      expect(index.readInt32BE(i * 8)).toBe(2 * (i + 1) + 1);
      expect(index.readInt32BE(i * 8 + 4)).toBe(200 * (i + 1));
    }
    // The time index has (max timestamp so far, last offset of the batch that reached it) whenever
    // the maximum grew at an indexed batch: 30@3, 40@7, 50@9, 60@13, 70@15, 80@17, 90@19.
    const timeIndex = await readFile(join(log.dir, '00000000000000000000.timeindex'));
    const entries: [number, number][] = [];
    for (let at = 0; at < timeIndex.length; at += 12) {
      entries.push([readInt64AsNumber(timeIndex, at), timeIndex.readInt32BE(at + 8)]);
    }
    expect(entries).toEqual([
      [30, 3],
      [40, 7],
      [50, 9],
      [60, 13],
      [70, 15],
      [80, 17],
      [90, 19],
    ]);
    const logBytes = await readFile(join(log.dir, '00000000000000000000.log'));
    expect(batchBaseOffsets(logBytes)).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
    expect(readInt64AsNumber(logBytes, 200 + BatchField.baseOffset)).toBe(2);
  });

  it('writes the checkpoint files and the clean-shutdown marker in Kafka format', async () => {
    const manager = await openManager();
    const log = await logOf(manager);
    await log.append(batch(5, 10, 1), 0);
    await closeManager(manager);
    expect(await readFile(join(root, 'recovery-point-offset-checkpoint'), 'utf8')).toBe('0\n1\norders 0 5\n');
    expect(await readFile(join(root, 'log-start-offset-checkpoint'), 'utf8')).toBe('0\n1\norders 0 0\n');
    expect((await stat(join(root, cleanShutdownFileName))).isFile()).toBe(true);
    await openManager();
    await expect(stat(join(root, cleanShutdownFileName))).rejects.toThrow();
  });
});

describe('LogManager', () => {
  it('places new partitions on the log dir with the fewest and finds them again', async () => {
    const dirs = [join(root, 'a'), join(root, 'b'), join(root, 'c')];
    const manager = await openManager({}, dirs);
    const logs = await Promise.all(Array.from({ length: 6 }, (_, p) => manager.getOrCreateLog('t', p)));
    expect([...manager.partitionCountsByDir().values()]).toEqual([2, 2, 2]);
    for (const [p, log] of logs.entries()) await log.append(batch(p + 1, 10, 1), 0);
    await closeManager(manager);
    const reopened = await openManager({}, dirs);
    for (let p = 0; p < 6; p++) expect(reopened.getLog('t', p)?.logEndOffset).toBe(p + 1);
  });

  it('refuses illegal topic names', async () => {
    const manager = await openManager();
    const error = await manager.getOrCreateLog('../etc', 0).catch((e: unknown) => e);
    expect((error as KafkaError).code).toBe(ErrorCode.INVALID_TOPIC_EXCEPTION);
  });

  it('ignores garbage in the log dir', async () => {
    await writeFile(join(root, 'not-a-partition'), 'x');
    const manager = await openManager();
    expect(manager.allLogs()).toEqual([]);
  });
});

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ManualClock } from '@gregor/ground';
import { CompressionType, ErrorCode } from '@gregor/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OffsetMap } from './log-cleaner-offset-map.js';
import type { SwapStep } from './log-cleaner-swap.js';
import { type ConfigProps, parseBrokerLogConfig, parseLogConfig } from './log-config.js';
import { LogManager } from './log-manager.js';
import type { PartitionLog } from './partition-log.js';
import { keyedBatch, type ReadRecord, readWholeLog, type TestRecord } from './testing/keyed-records.js';
import { makeTempDir, removeDir } from './testing/temp-dirs.js';

const startMs = 1_700_000_000_000;
const dayMs = 24 * 60 * 60 * 1000;
const compactTopic: ConfigProps = { 'cleanup.policy': 'compact', 'segment.bytes': '2000' };

let root: string;
let caseCounter = 0;

beforeAll(async () => {
  root = await makeTempDir('cleaner');
});

afterAll(async () => {
  await removeDir(root);
});

async function newDir(): Promise<string> {
  caseCounter += 1;
  return join(root, `case-${caseCounter}`);
}

async function openLog(
  dir: string,
  clock: ManualClock,
  overrides: ConfigProps = compactTopic,
  brokerProps: ConfigProps = {},
): Promise<{ manager: LogManager; log: PartitionLog }> {
  const manager = await LogManager.open({
    config: parseBrokerLogConfig({
      'log.dirs': dir,
      'log.cleaner.dedupe.buffer.size': '1048576',
      ...brokerProps,
    }),
    clock,
    topicOverrides: () => overrides,
  });
  return { manager, log: await manager.getOrCreateLog('events', 0, overrides) };
}

function smallMap(): OffsetMap {
  return new OffsetMap(1024 * 1024, 0.9);
}

/**
 * What a compacted log must hold: below `cleanedEnd`, the latest record of each key within that
 * section (the cleaner never looks above it); everything from `cleanedEnd` on.
 */
function expectedAfterCompaction(all: readonly ReadRecord[], cleanedEnd: number, dropTombstones: boolean) {
  const latest = new Map<string, number>();
  for (const r of all) if (r.key !== null && r.offset < cleanedEnd) latest.set(r.key, r.offset);
  return all.filter((r) => {
    if (r.offset >= cleanedEnd) return true;
    if (r.key === null || latest.get(r.key) !== r.offset) return false;
    return !(dropTombstones && r.value === null);
  });
}

/** Appends `rounds` batches of keyed records and rolls between every `perSegment` batches. */
async function fill(
  log: PartitionLog,
  clock: ManualClock,
  batches: readonly (readonly TestRecord[])[],
  compression = CompressionType.None,
): Promise<void> {
  for (const records of batches) {
    await log.append(keyedBatch(records, { compression }), 3);
    clock.advanceMs(1);
  }
}

function updates(keys: number, rounds: number, perBatch: number, atMs: number): TestRecord[][] {
  const batches: TestRecord[][] = [];
  let current: TestRecord[] = [];
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < keys; k++) {
      current.push({ key: `key-${k}`, value: `value-${k}-${round}`, timestamp: atMs + round });
      if (current.length === perBatch) {
        batches.push(current);
        current = [];
      }
    }
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** Batches inside each segment are contiguous, as recovery and follower appends require. */
function expectContiguous(batches: readonly { baseOffset: number; lastOffset: number }[], start: number) {
  let next = start;
  for (const b of batches) {
    expect(b.baseOffset).toBe(next);
    next = b.lastOffset + 1;
  }
}

describe('compact', () => {
  it('keeps the latest record per key in the cleaned section, preserves offsets and leaves the rest alone', async () => {
    const clock = new ManualClock(startMs);
    const { manager, log } = await openLog(await newDir(), clock);
    await fill(log, clock, updates(12, 20, 4, startMs));
    const before = await readWholeLog(log);
    const activeBase = log.segmentBaseOffsets().at(-1)!;
    expect(log.segmentBaseOffsets().length).toBeGreaterThan(3);
    const result = await log.compact({ nowMs: clock.nowMs(), offsetMap: smallMap() });
    expect(result.cleaned).toBe(true);
    expect(result.nextDirtyOffset).toBe(activeBase);
    const after = await readWholeLog(log);
    expect(after.records).toEqual(expectedAfterCompaction(before.records, activeBase, false));
    expect(result.recordsRemoved).toBe(before.records.length - after.records.length);
    expect(result.bytesAfter).toBeLessThan(result.bytesBefore);
    expect(log.logEndOffset).toBe(before.records.at(-1)!.offset + 1);
    expect(log.segmentBaseOffsets().at(-1)).toBe(activeBase);
    expectContiguous(after.batches, log.logStartOffset);
    // Every offset can still be read; a read at a removed offset starts at the next kept record.
    for (let offset = 0; offset < log.logEndOffset; offset++) {
      const read = await log.read(offset, 1);
      expect(read.errorCode).toBe(ErrorCode.NONE);
      if (read.errorCode === ErrorCode.NONE) expect(read.records.length).toBeGreaterThan(0);
    }
    // Leader epoch and the producer's record headers survive the rewrite.
    expect(after.batches.every((b) => b.partitionLeaderEpoch === 3)).toBe(true);
    expect(after.records.every((r) => r.header === `hdr-${r.key}`)).toBe(true);
    // A second compaction without new data has nothing dirty.
    const again = await log.compact({
      nowMs: clock.nowMs(),
      firstDirtyOffset: result.nextDirtyOffset,
      offsetMap: smallMap(),
    });
    expect(again.cleaned).toBe(false);
    await manager.close();
  });

  it('survives a restart: the cleaned log reopens (clean and unclean) with the same contents', async () => {
    const clock = new ManualClock(startMs);
    const dir = await newDir();
    let { manager, log } = await openLog(dir, clock);
    await fill(log, clock, updates(8, 12, 3, startMs));
    await log.compact({ nowMs: clock.nowMs(), offsetMap: smallMap() });
    const after = await readWholeLog(log);
    await manager.close();
    ({ manager, log } = await openLog(dir, clock));
    expect(await readWholeLog(log)).toEqual(after);
    // An unclean reopen (no marker, no recovery point) re-validates every cleaned segment.
    await log.flush();
    const abandoned = manager;
    ({ manager, log } = await openLog(dir, clock));
    expect(await readWholeLog(log)).toEqual(after);
    await manager.close();
    await abandoned.close();
  });

  it('a follower can append the cleaned log as it reads it (batches stay contiguous)', async () => {
    const clock = new ManualClock(startMs);
    const { manager, log } = await openLog(await newDir(), clock);
    await fill(log, clock, updates(5, 20, 2, startMs));
    await log.compact({ nowMs: clock.nowMs(), offsetMap: smallMap() });
    const follower = await manager.getOrCreateLog('events', 1, compactTopic);
    let offset = 0;
    while (offset < log.logEndOffset) {
      const read = await log.read(offset, 500);
      if (read.errorCode !== ErrorCode.NONE) throw new Error('read failed');
      const appended = await follower.appendAsFollower(Buffer.from(read.records));
      offset = appended.lastOffset + 1;
    }
    expect((await readWholeLog(follower)).records).toEqual((await readWholeLog(log)).records);
    await manager.close();
  });

  it('removes tombstones only once their batch is older than delete.retention.ms', async () => {
    const clock = new ManualClock(startMs);
    const { manager, log } = await openLog(await newDir(), clock);
    await fill(log, clock, updates(6, 4, 3, startMs));
    await fill(log, clock, [
      [
        { key: 'key-1', value: null, timestamp: startMs + 100 },
        { key: 'key-2', value: null, timestamp: startMs + 100 },
      ],
    ]);
    // Only key-0 from here on, enough to push the tombstones out of the active segment.
    await fill(log, clock, updates(1, 30, 3, startMs + 200));
    await log.roll();
    const before = await readWholeLog(log);
    const end = log.segmentBaseOffsets().at(-1)!;
    const first = await log.compact({ nowMs: startMs + dayMs - 1000, offsetMap: smallMap() });
    // Young tombstones stay: each is its key's latest record.
    const afterFirst = await readWholeLog(log);
    expect(afterFirst.records).toEqual(expectedAfterCompaction(before.records, end, false));
    expect(afterFirst.records.filter((r) => r.value === null).map((r) => r.key)).toEqual(['key-1', 'key-2']);
    expect(first.tombstonesRemoved).toBe(0);
    // A day later (now in the clean section) they go, and nothing of key-1 or key-2 is left.
    const second = await log.compact({
      nowMs: startMs + dayMs + 1000,
      firstDirtyOffset: first.nextDirtyOffset,
      offsetMap: smallMap(),
    });
    expect(second.dirtyRatio).toBe(0);
    // Nothing dirty: tombstones in the clean section wait for the next cleaning the ratio allows.
    const third = await log.compact({ nowMs: startMs + dayMs + 1000, offsetMap: smallMap() });
    expect(third.tombstonesRemoved).toBe(2);
    const afterThird = await readWholeLog(log);
    expect(afterThird.records).toEqual(expectedAfterCompaction(before.records, end, true));
    expect(afterThird.records.some((r) => r.key === 'key-1' || r.key === 'key-2')).toBe(false);
    await manager.close();
  });

  it('never cleans the active segment, at or above the upper bound, or within min.compaction.lag.ms', async () => {
    const clock = new ManualClock(startMs);
    const { manager, log } = await openLog(await newDir(), clock, {
      ...compactTopic,
      'min.compaction.lag.ms': '1000',
    });
    await fill(log, clock, updates(6, 30, 3, startMs));
    const bases = log.segmentBaseOffsets();
    expect(bases.length).toBeGreaterThan(3);
    const before = await readWholeLog(log);
    // Everything is younger than the lag: nothing to clean.
    expect((await log.compact({ nowMs: startMs + 500, offsetMap: smallMap() })).cleaned).toBe(false);
    // The upper bound stops at the segment that reaches it.
    const bound = bases[2]! + 1;
    const bounded = await log.compact({
      nowMs: startMs + 10_000,
      upperBoundOffset: bound,
      offsetMap: smallMap(),
    });
    expect(bounded.cleanableEndOffset).toBe(bases[2]);
    expect((await readWholeLog(log)).records).toEqual(
      expectedAfterCompaction(before.records, bases[2]!, false),
    );
    expect(log.segmentBaseOffsets().at(-1)).toBe(bases.at(-1));
    await manager.close();
  });

  it('cleans only as far as a full offset map got, and continues from there next time', async () => {
    const clock = new ManualClock(startMs);
    const { manager, log } = await openLog(await newDir(), clock);
    await fill(log, clock, updates(40, 5, 4, startMs));
    const before = await readWholeLog(log);
    const activeBase = log.segmentBaseOffsets().at(-1)!;
    // 64 slots, 32 entries: fewer than the 40 keys.
    const tiny = new OffsetMap(64 * 24, 0.5);
    expect(tiny.entriesMax).toBe(32);
    let firstDirtyOffset = 0;
    let rounds = 0;
    while (firstDirtyOffset < activeBase) {
      const result = await log.compact({ nowMs: clock.nowMs(), firstDirtyOffset, offsetMap: tiny });
      expect(result.nextDirtyOffset).toBeGreaterThan(firstDirtyOffset);
      firstDirtyOffset = result.nextDirtyOffset;
      rounds += 1;
    }
    expect(rounds).toBeGreaterThan(1);
    expect((await readWholeLog(log)).records).toEqual(
      expectedAfterCompaction(before.records, activeBase, false),
    );
    await manager.close();
  });

  it.each([
    ['gzip', CompressionType.Gzip],
    ['snappy', CompressionType.Snappy],
    ['lz4', CompressionType.Lz4],
    ['zstd', CompressionType.Zstd],
  ])('keeps the %s codec of rewritten batches', async (_name, codec) => {
    const clock = new ManualClock(startMs);
    const { manager, log } = await openLog(await newDir(), clock);
    await fill(log, clock, updates(6, 10, 4, startMs), codec);
    const before = await readWholeLog(log);
    const activeBase = log.segmentBaseOffsets().at(-1)!;
    await log.compact({ nowMs: clock.nowMs(), offsetMap: smallMap() });
    const after = await readWholeLog(log);
    expect(after.records).toEqual(expectedAfterCompaction(before.records, activeBase, false));
    expect(after.batches.every((b) => b.compression === codec)).toBe(true);
    await manager.close();
  });

  it('keeps an emptied batch header-only when it is an idempotent producer’s last, with its last sequence', async () => {
    const clock = new ManualClock(startMs);
    const { manager, log } = await openLog(await newDir(), clock, {
      ...compactTopic,
      'segment.bytes': '100000',
    });
    // Producer 7 writes key a twice (sequences 0-1 and 2-3), then a plain writer overwrites a and b.
    await log.append(
      keyedBatch(
        [
          { key: 'a', value: '1', timestamp: startMs },
          { key: 'b', value: '1', timestamp: startMs },
        ],
        { producerId: 7, baseSequence: 0 },
      ),
      0,
    );
    await log.append(
      keyedBatch(
        [
          { key: 'a', value: '2', timestamp: startMs },
          { key: 'b', value: '2', timestamp: startMs },
        ],
        { producerId: 7, baseSequence: 2 },
      ),
      0,
    );
    await log.append(keyedBatch([{ key: 'c', value: '1', timestamp: startMs }]), 0);
    await log.append(
      keyedBatch([
        { key: 'a', value: '3', timestamp: startMs },
        { key: 'b', value: '3', timestamp: startMs },
      ]),
      0,
    );
    await log.append(keyedBatch([{ key: 'z', value: '1', timestamp: startMs }]), 0);
    await log.roll();
    await log.compact({ nowMs: clock.nowMs(), offsetMap: smallMap() });
    const { batches, records } = await readWholeLog(log);
    expect(records.map((r) => `${r.offset}:${r.key}=${r.value}`)).toEqual([
      '4:c=1',
      '5:a=3',
      '6:b=3',
      '7:z=1',
    ]);
    // The first producer batch went; the second stayed empty, covering offsets 0-3, last sequence 3.
    expect(batches[0]).toMatchObject({ baseOffset: 0, lastOffset: 3, recordsCount: 0, producerId: 7 });
    expect(batches[0]!.baseSequence + batches[0]!.lastOffsetDelta).toBe(3);
    expectContiguous(batches, 0);
    await manager.close();
  });
});

describe('crash during the swap', () => {
  const steps: SwapStep[] = [
    'cleaned-written',
    'renamed-to-swap',
    'old-segment-renamed-to-deleted',
    'swap-renamed-into-place',
    'indexes-rebuilt',
  ];
  const cases: { step: SwapStep; n: number }[] = steps.flatMap((step) =>
    (step === 'old-segment-renamed-to-deleted' ? [1, 2, 3] : [1]).map((n) => ({ step, n })),
  );

  it.each(cases)('at $step (#$n) leaves a readable log with every latest value', async ({ step, n }) => {
    const clock = new ManualClock(startMs);
    const dir = await newDir();
    const opened = await openLog(dir, clock, { ...compactTopic, 'segment.bytes': '1500' });
    await fill(opened.log, clock, updates(10, 12, 3, startMs));
    await opened.log.flush();
    // Bigger segments from now on: the cleaner merges the small ones, so one swap replaces several.
    opened.log.updateConfig(parseLogConfig({ ...compactTopic, 'segment.bytes': '100000' }));
    expect(opened.log.segmentBaseOffsets().length).toBeGreaterThan(3);
    const before = await readWholeLog(opened.log);
    const activeBase = opened.log.segmentBaseOffsets().at(-1)!;
    let seen = 0;
    const crash = new Error('simulated crash');
    await expect(
      opened.log.compact({
        nowMs: clock.nowMs(),
        offsetMap: smallMap(),
        onSwapStep: (current) => {
          if (current === step && ++seen === n) throw crash;
        },
      }),
    ).rejects.toBe(crash);
    // The process is gone: reopen the directory as it is (no clean-shutdown marker).
    const { manager, log } = await openLog(dir, clock, { ...compactTopic, 'segment.bytes': '1500' });
    const after = await readWholeLog(log);
    const latest = (records: readonly ReadRecord[]) => {
      const map = new Map<string, string | null>();
      for (const r of records) if (r.key !== null) map.set(r.key, r.value);
      return map;
    };
    expect(latest(after.records)).toEqual(latest(before.records));
    expect(log.logEndOffset).toBe(before.records.at(-1)!.offset + 1);
    const compacted = expectedAfterCompaction(before.records, activeBase, false);
    // Either the first group was swapped or not; each record is an original one at its offset.
    const byOffset = new Map(before.records.map((r) => [r.offset, r]));
    for (const r of after.records) expect(byOffset.get(r.offset)).toEqual(r);
    expect(after.records.length).toBeGreaterThanOrEqual(compacted.length);
    const partitionDir = join(dir, 'events-0');
    const names = await readdir(partitionDir);
    expect(names.filter((name) => /\.(swap|cleaned|deleted)$/.test(name))).toEqual([]);
    // A new cleaning finishes the job.
    log.updateConfig(parseLogConfig({ ...compactTopic, 'segment.bytes': '100000' }));
    await log.compact({ nowMs: clock.nowMs(), offsetMap: smallMap() });
    expect(log.segmentBaseOffsets()).toEqual([0, activeBase]);
    expect((await readWholeLog(log)).records).toEqual(compacted);
    await manager.close();
  });
});

describe('LogManager.runCleaner', () => {
  it('cleans compacted logs above the dirty ratio, checkpoints the first dirty offset and leaves delete logs alone', async () => {
    const clock = new ManualClock(startMs);
    const dir = await newDir();
    const topicConfigs: Record<string, ConfigProps> = {
      offsets: { 'cleanup.policy': 'compact', 'segment.bytes': '2000' },
      plain: { 'cleanup.policy': 'delete', 'segment.bytes': '2000' },
    };
    const open = () =>
      LogManager.open({
        config: parseBrokerLogConfig({ 'log.dirs': dir, 'log.cleaner.dedupe.buffer.size': '65536' }),
        clock,
        topicOverrides: (topic) => topicConfigs[topic] ?? {},
      });
    let manager = await open();
    const offsets = await manager.getOrCreateLog('offsets', 0, topicConfigs.offsets);
    const plain = await manager.getOrCreateLog('plain', 0, topicConfigs.plain);
    await fill(offsets, clock, updates(10, 10, 2, startMs));
    await fill(plain, clock, updates(10, 10, 2, startMs));
    const plainBefore = await readWholeLog(plain);
    const stats = await manager.runCleaner();
    expect(stats.cleaned.map((c) => c.log)).toEqual(['offsets-0']);
    expect(stats.recordsKept).toBe(stats.cleaned[0]!.result.recordsKept);
    expect(await readWholeLog(plain)).toEqual(plainBefore);
    const checkpoint = await readFile(join(dir, 'cleaner-offset-checkpoint'), 'utf8');
    const firstDirty = offsets.segmentBaseOffsets().at(-1)!;
    expect(checkpoint).toBe(`0\n1\noffsets 0 ${firstDirty}\n`);
    // Below the dirty ratio (nothing new): no cleaning.
    expect((await manager.runCleaner()).cleaned).toEqual([]);
    // Compact-only logs are never shortened by retention.
    clock.advanceMs(30 * dayMs);
    expect(await offsets.deleteOldSegments()).toBe(0);
    await manager.close();
    manager = await open();
    expect((await manager.runCleaner()).cleaned).toEqual([]);
    await manager.close();
  });

  it('does nothing with log.cleaner.enable=false', async () => {
    const clock = new ManualClock(startMs);
    const { manager, log } = await openLog(await newDir(), clock, compactTopic, {
      'log.cleaner.enable': 'false',
    });
    await fill(log, clock, updates(10, 10, 2, startMs));
    expect((await manager.runCleaner()).cleaned).toEqual([]);
    await manager.close();
  });

  it('shrinks 10,000 keys × 20 updates to about one record per key', async () => {
    const clock = new ManualClock(startMs);
    const { manager, log } = await openLog(
      await newDir(),
      clock,
      { 'cleanup.policy': 'compact', 'segment.bytes': String(1024 * 1024) },
      { 'log.cleaner.dedupe.buffer.size': String(8 * 1024 * 1024) },
    );
    const keys = 10_000;
    const rounds = 20;
    // Offset commits are small batches; ten records per produce keeps the test quick.
    const batches = updates(keys, rounds, 10, startMs);
    for (let i = 0; i < batches.length; i += 100) {
      await log.append(Buffer.concat(batches.slice(i, i + 100).map((b) => keyedBatch(b))), 0);
    }
    await log.roll();
    const sizeBefore = log.sizeBytes;
    const segmentsBefore = log.segmentBaseOffsets().length;
    const startedAt = performance.now();
    const stats = await manager.runCleaner();
    const elapsedMs = performance.now() - startedAt;
    const result = stats.cleaned[0]!.result;
    expect(result.recordsKept).toBe(keys);
    expect(result.recordsRemoved).toBe(keys * (rounds - 1));
    const { records } = await readWholeLog(log);
    expect(records.length).toBe(keys);
    expect(new Set(records.map((r) => r.value))).toEqual(
      new Set(Array.from({ length: keys }, (_, k) => `value-${k}-${rounds - 1}`)),
    );
    expect(log.sizeBytes).toBeLessThan(sizeBefore / 10);
    console.info(
      `10k keys × 20: ${segmentsBefore} segments, ${sizeBefore} → ${log.sizeBytes} bytes, ` +
        `${log.segmentBaseOffsets().length} segments, cleaned in ${elapsedMs.toFixed(0)} ms`,
    );
    await manager.close();
  });
});

// Crash and damage tests: the log is built once, closed cleanly, and copied into a fresh directory per
// case; the copy is damaged the way a crash or a bad disk would, then reopened.

import { cp, readdir, readFile, rename, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ManualClock } from '@gregor/ground';
import { ErrorCode, readBatchHeader } from '@gregor/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CorruptRecordError } from './errors.js';
import { type ConfigProps, parseBrokerLogConfig } from './log-config.js';
import { cleanShutdownFileName, LogManager } from './log-manager.js';
import type { PartitionLog } from './partition-log.js';
import { buildTestBatch } from './testing/batches.js';
import { makeTempDir, removeDir } from './testing/temp-dirs.js';

const brokerProps: ConfigProps = { 'log.segment.bytes': '1000', 'log.index.interval.bytes': '150' };
const partitionDirName = 'events-0';
const clock = new ManualClock(1_700_000_000_000);

let root: string;
let template: string;
let caseCounter = 0;
/** Every batch in the template log, in offset order, with where it lives. */
let batches: { bytes: Buffer; baseOffset: number; lastOffset: number; maxTimestamp: number }[];

async function openAt(dir: string): Promise<{ manager: LogManager; log: PartitionLog }> {
  const manager = await LogManager.open({
    config: parseBrokerLogConfig({ 'log.dirs': dir, ...brokerProps }),
    clock,
  });
  return { manager, log: await manager.getOrCreateLog('events', 0) };
}

async function freshCopy(): Promise<string> {
  caseCounter += 1;
  const dir = join(root, `case-${caseCounter}`);
  await cp(template, dir, { recursive: true });
  return dir;
}

/** Everything a client can observe through reads and lookups. */
async function observe(log: PartitionLog): Promise<unknown> {
  const reads: string[] = [];
  for (let offset = log.logStartOffset; offset <= log.logEndOffset; offset++) {
    for (const maxBytes of [1, 400, 100_000]) {
      const result = await log.read(offset, maxBytes);
      reads.push(
        result.errorCode === ErrorCode.NONE ? result.records.toString('hex') : `error ${result.errorCode}`,
      );
    }
  }
  const byTimestamp: unknown[] = [];
  for (let ts = 0; ts <= 1300; ts += 25) byTimestamp.push(await log.offsetForTimestamp(ts));
  return { start: log.logStartOffset, end: log.logEndOffset, reads, byTimestamp };
}

let templateObservation: unknown;

beforeAll(async () => {
  root = await makeTempDir('storage-crash');
  template = join(root, 'template');
  const { manager, log } = await openAt(template);
  batches = [];
  // Varying sizes, record counts and (non-monotonic) timestamps; about four segments.
  const batchesInActiveSegment = () =>
    batches.filter((b) => b.baseOffset >= log.segmentBaseOffsets().at(-1)!).length;
  for (let i = 0; i < 16 || batchesInActiveSegment() < 4; i++) {
    const bytes = buildTestBatch({
      recordCount: 1 + (i % 4),
      fillerBytes: 40 + ((i * 37) % 130),
      maxTimestamp: 50 * i + (i % 3 === 0 ? 200 : 0),
      seed: i + 1,
    });
    const result = await log.append(bytes, 3);
    batches.push({
      bytes,
      baseOffset: result.baseOffset,
      lastOffset: result.lastOffset,
      maxTimestamp: readBatchHeader(bytes).maxTimestamp,
    });
  }
  const bases = log.segmentBaseOffsets();
  expect(bases.length).toBeGreaterThanOrEqual(3);
  templateObservation = await observe(log);
  await manager.close();
});

afterAll(async () => {
  await removeDir(root);
});

/** Opens `dir` and checks that exactly the first `keptBatches` batches survived. */
async function expectRecoveredPrefix(dir: string, keptBatches: number): Promise<void> {
  const { manager, log } = await openAt(dir);
  try {
    const kept = batches.slice(0, keptBatches);
    const expectedEnd = kept.length === 0 ? 0 : kept[kept.length - 1]!.lastOffset + 1;
    expect(log.logEndOffset).toBe(expectedEnd);
    const all = await log.read(0, 1 << 20);
    if (all.errorCode !== ErrorCode.NONE) throw new Error('read failed');
    expect(all.records.equals(Buffer.concat(kept.map((b) => b.bytes)))).toBe(true);
    // The log keeps working after recovery.
    const next = await log.append(buildTestBatch({ recordCount: 1, fillerBytes: 10, maxTimestamp: 5 }), 3);
    expect(next.baseOffset).toBe(expectedEnd);
  } finally {
    await manager.close();
  }
}

// Damage at every byte of the active and of a rolled segment: recovery-sweep.test.ts. A real process
// killed while appending: partition-log.kill.integration.test.ts.
describe('recovery of a damaged older segment', () => {
  it('damage in an older segment beyond the recovery point drops later segments too', async () => {
    const dir = await freshCopy();
    const partitionDir = join(dir, partitionDirName);
    // An unclean shutdown with no recovery point: every segment is re-validated.
    await unlink(join(dir, cleanShutdownFileName));
    await unlink(join(dir, 'recovery-point-offset-checkpoint'));
    const firstSegment = join(partitionDir, '00000000000000000000.log');
    const bytes = await readFile(firstSegment);
    const secondBatchStart = batches[0]!.bytes.length;
    bytes[secondBatchStart + 70]! ^= 0xff; // inside batch 1's records
    await writeFile(firstSegment, bytes);
    await expectRecoveredPrefix(dir, 1);
    const names = await readdir(partitionDir);
    expect(names.filter((n) => n.endsWith('.log'))).toEqual(['00000000000000000000.log']);
  });
});

describe('damaged index files', () => {
  const damages: [string, (path: string) => Promise<void>][] = [
    ['deleted', (path) => unlink(path)],
    ['truncated mid-entry', async (path) => truncate(path, Math.max(0, (await stat(path)).size - 5))],
    ['truncated to zero', (path) => truncate(path, 0)],
    [
      'garbage',
      async (path) => {
        const size = Math.max((await stat(path)).size, 24);
        await writeFile(
          path,
          buildTestBatch({ recordCount: 1, fillerBytes: size, maxTimestamp: 1, seed: 99 }).subarray(61),
        );
      },
    ],
    [
      'zero padding after the entries (crash during preallocation)',
      async (path) => writeFile(path, Buffer.concat([await readFile(path), Buffer.alloc(120)])),
    ],
  ];

  for (const clean of [true, false]) {
    for (const [name, damage] of damages) {
      it(`${name}, ${clean ? 'clean' : 'unclean'} shutdown: lookups are identical after reopening`, async () => {
        const dir = await freshCopy();
        const partitionDir = join(dir, partitionDirName);
        if (!clean) await unlink(join(dir, cleanShutdownFileName));
        for (const file of await readdir(partitionDir)) {
          if (file.endsWith('.index') || file.endsWith('.timeindex')) await damage(join(partitionDir, file));
        }
        const { manager, log } = await openAt(dir);
        expect(await observe(log)).toEqual(templateObservation);
        await manager.close();
        if (name === 'deleted') {
          // Rebuilt indexes are byte-for-byte what the appends wrote.
          for (const file of await readdir(join(template, partitionDirName))) {
            const original = await readFile(join(template, partitionDirName, file));
            expect((await readFile(join(partitionDir, file))).equals(original), file).toBe(true);
          }
        }
        await removeDir(dir);
      });
    }
  }
});

describe('interrupted deletes', () => {
  it('removes .deleted, .swap and .cleaned leftovers and orphan index files on open', async () => {
    const dir = await freshCopy();
    const partitionDir = join(dir, partitionDirName);
    const [first, second] = (await readdir(partitionDir)).filter((n) => n.endsWith('.log')).sort();
    // Retention renamed the first segment and crashed before unlinking.
    for (const suffix of ['.log', '.index', '.timeindex']) {
      const name = first!.replace('.log', suffix);
      await rename(join(partitionDir, name), join(partitionDir, `${name}.deleted`));
    }
    // A second delete got as far as renaming only the .log.
    await rename(join(partitionDir, second!), join(partitionDir, `${second!}.deleted`));
    await writeFile(join(partitionDir, '00000000000000000000.log.swap'), 'x');
    await writeFile(join(partitionDir, '00000000000000000000.log.cleaned'), 'x');
    const { manager, log } = await openAt(dir);
    const third = batches.find((b) => b.baseOffset > Number(second!.slice(0, 20)))!;
    const thirdSegmentBase = log.segmentBaseOffsets()[0]!;
    expect(thirdSegmentBase).toBeGreaterThan(Number(second!.slice(0, 20)));
    expect(log.logStartOffset).toBe(thirdSegmentBase);
    expect(third.baseOffset).toBeLessThanOrEqual(thirdSegmentBase);
    const names = await readdir(partitionDir);
    expect(names.filter((n) => !/^\d{20}\.(log|index|timeindex)$/.test(n))).toEqual([]);
    expect(names.some((n) => n.startsWith(second!.slice(0, 20)))).toBe(false);
    expect((await log.read(0, 100)).errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    await manager.close();
  });
});

describe('damage a clean shutdown does not check', () => {
  it('a read stops before a batch whose length field is damaged (a size of zero would never end the walk)', async () => {
    const dir = await freshCopy();
    // The clean-shutdown marker stays: the open trusts the files, as after a real clean shutdown.
    const file = join(dir, partitionDirName, '00000000000000000000.log');
    const bytes = await readFile(file);
    // The second batch's length field (bytes 8-11 of its header): -12 makes its whole size 0.
    bytes.writeInt32BE(-12, batches[0]!.bytes.length + 8);
    await writeFile(file, bytes);
    const { manager, log } = await openAt(dir);
    const read = await log.read(0, 100_000);
    if (read.errorCode !== ErrorCode.NONE) throw new Error(`read failed: ${read.errorCode}`);
    expect(read.records.equals(batches[0]!.bytes)).toBe(true);
    await manager.close();
  });

  // Kafka answers a read of a corrupt batch with CorruptRecordException (CORRUPT_MESSAGE). Before,
  // the scan for the damaged batch ended silently and the read went on in the next segment (the
  // offsets up to it skipped) or, in the active segment, answered empty for ever.
  it('a read at a batch whose length field is damaged in an older segment fails with CORRUPT_MESSAGE, not a skip', async () => {
    const dir = await freshCopy();
    const damaged = batches[1]!;
    await damageLengthField(
      join(dir, partitionDirName, '00000000000000000000.log'),
      batches[0]!.bytes.length,
    );
    const { manager, log } = await openAt(dir);
    try {
      expect(log.segmentBaseOffsets()[1]).toBeGreaterThan(damaged.lastOffset); // an older segment
      for (const offset of [damaged.baseOffset, damaged.lastOffset]) {
        const error = await log.read(offset, 100_000).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(CorruptRecordError);
        expect((error as CorruptRecordError).code).toBe(ErrorCode.CORRUPT_MESSAGE);
        expect((error as CorruptRecordError).position).toBe(batches[0]!.bytes.length);
      }
      // The batch before it is still served, and the log still takes appends.
      const before = await log.read(0, 100_000);
      if (before.errorCode !== ErrorCode.NONE) throw new Error(`read failed: ${before.errorCode}`);
      expect(before.records.equals(batches[0]!.bytes)).toBe(true);
      const next = await log.append(buildTestBatch({ recordCount: 1, fillerBytes: 10, maxTimestamp: 5 }), 3);
      expect(next.baseOffset).toBe(batches.at(-1)!.lastOffset + 1);
    } finally {
      await manager.close();
    }
  });

  it('a read at a batch whose length field is damaged in the middle of the active segment fails with CORRUPT_MESSAGE', async () => {
    const dir = await freshCopy();
    const { manager: templateManager, log: templateLog } = await openAt(template);
    const activeBase = templateLog.segmentBaseOffsets().at(-1)!;
    await templateManager.close();
    const partitionDir = join(dir, partitionDirName);
    const activeName = `${String(activeBase).padStart(20, '0')}`;
    // A batch before the active segment's last offset index entry: the clean open re-reads the
    // batches after that entry (and would recover the segment), not the ones before it.
    const index = await readFile(join(partitionDir, `${activeName}.index`));
    expect(index.length).toBeGreaterThanOrEqual(8);
    const lastIndexedPosition = index.readInt32BE(index.length - 4);
    let position = 0;
    const inActive = batches
      .filter((b) => b.baseOffset >= activeBase)
      .map((b) => {
        const at = position;
        position += b.bytes.length;
        return { ...b, position: at };
      });
    const damaged = inActive.filter((b) => b.position > 0 && b.position < lastIndexedPosition).at(-1);
    if (damaged === undefined) throw new Error('no batch in the middle of the active segment');
    await damageLengthField(join(partitionDir, `${activeName}.log`), damaged.position);
    const { manager, log } = await openAt(dir);
    try {
      expect(log.segmentBaseOffsets().at(-1)).toBe(activeBase);
      expect(log.logEndOffset).toBe(batches.at(-1)!.lastOffset + 1); // not recovered: a clean open
      const error = await log.read(damaged.baseOffset, 100_000).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CorruptRecordError);
      expect((error as CorruptRecordError).code).toBe(ErrorCode.CORRUPT_MESSAGE);
      // A read from the batch before stops before the damage and returns what is whole.
      const previous = inActive[inActive.indexOf(damaged) - 1]!;
      const before = await log.read(previous.baseOffset, 100_000);
      if (before.errorCode !== ErrorCode.NONE) throw new Error(`read failed: ${before.errorCode}`);
      expect(before.records.equals(previous.bytes)).toBe(true);
    } finally {
      await manager.close();
    }
  });
});

describe('damage under an open log', () => {
  it('a read at a batch appended in this process whose length field was damaged since fails with CORRUPT_MESSAGE', async () => {
    const dir = await freshCopy();
    const { manager, log } = await openAt(dir);
    try {
      // A new active segment, so both appends fit in it.
      await log.roll();
      const activeBase = log.segmentBaseOffsets().at(-1)!;
      const activeFile = join(dir, partitionDirName, `${String(activeBase).padStart(20, '0')}.log`);
      await log.append(buildTestBatch({ recordCount: 1, fillerBytes: 30, maxTimestamp: 6 }), 3);
      const positionBytes = (await stat(activeFile)).size;
      const appended = await log.append(
        buildTestBatch({ recordCount: 2, fillerBytes: 30, maxTimestamp: 7 }),
        3,
      );
      await log.append(buildTestBatch({ recordCount: 1, fillerBytes: 30, maxTimestamp: 8 }), 3);
      expect(log.segmentBaseOffsets().at(-1)).toBe(activeBase);
      // The log found this batch from the header its append kept, not from the file.
      await damageLengthField(activeFile, positionBytes);
      const error = await log.read(appended.baseOffset, 100_000).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CorruptRecordError);
      expect((error as CorruptRecordError).position).toBe(positionBytes);
    } finally {
      await manager.close();
    }
  });
});

/** Sets the length field (bytes 8-11 of its header) of the batch at `position` to 0: below a header. */
async function damageLengthField(file: string, position: number): Promise<void> {
  const bytes = await readFile(file);
  bytes.writeInt32BE(0, position + 8);
  await writeFile(file, bytes);
}

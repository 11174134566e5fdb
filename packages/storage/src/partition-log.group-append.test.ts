// Group appends (PartitionLog.append): leader appends that wait for the same turn on the log's queue
// are written with one write. Concurrent appends must leave the same files and get the same answers
// as the same appends made one by one, across rolls; a refused append fails alone; an operation
// queued between two appends keeps its place. A failed group write: partition-log.full-disk.test.ts.

import { open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ManualClock } from '@gregor/ground';
import { ErrorCode, type KafkaError } from '@gregor/protocol';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type ConfigProps, parseBrokerLogConfig } from './log-config.js';
import { LogManager } from './log-manager.js';
import type { AppendResult, PartitionLog } from './partition-log.js';
import { buildTestBatch, readBaseOffsets } from './testing/batches.js';
import { makeTempDir, removeDir } from './testing/temp-dirs.js';

let root: string;

beforeEach(async () => {
  root = await makeTempDir('group-append-test');
});

afterEach(async () => {
  vi.restoreAllMocks();
  await removeDir(root);
});

/** One append's record set: batches of `recordCount` records and `fillerBytes` of filler each. */
interface SetSpec {
  readonly batches: readonly { readonly recordCount: number; readonly fillerBytes: number }[];
}

function recordSet(spec: SetSpec, seed: number): Buffer {
  return Buffer.concat(
    spec.batches.map((b, i) => buildTestBatch({ ...b, maxTimestamp: 1_000 + seed, seed: seed * 16 + i + 1 })),
  );
}

/** Every segment file of the log's directory, by name, once the manager closed (clean shutdown). */
async function segmentFiles(dir: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const name of (await readdir(dir)).sort()) {
    if (/\.(log|index|timeindex)$/.test(name)) files.set(name, await readFile(join(dir, name)));
  }
  return files;
}

/**
 * Appends `specs` to a new log in its own dir, all at once (`concurrent`) or one after the other,
 * and returns each append's result and the segment files it left.
 */
async function appendAll(
  name: string,
  specs: readonly SetSpec[],
  concurrent: boolean,
  props: ConfigProps,
): Promise<{ results: AppendResult[]; files: Map<string, Buffer> }> {
  const clock = new ManualClock(1_700_000_000_000);
  const dir = join(root, name);
  const manager = await LogManager.open({
    config: parseBrokerLogConfig({ 'log.dirs': dir, ...props }),
    clock,
  });
  const log = await manager.getOrCreateLog('orders', 0);
  const sets = specs.map((spec, i) => recordSet(spec, i));
  let results: AppendResult[];
  if (concurrent) {
    results = await Promise.all(sets.map((set) => log.append(set, 3)));
  } else {
    results = [];
    for (const set of sets) results.push(await log.append(set, 3));
  }
  const logDir = log.dir;
  await manager.close();
  return { results, files: await segmentFiles(logDir) };
}

/** Counts FileHandle.writev calls and the buffers each wrote. */
async function spyOnWritev(): Promise<number[]> {
  const probe = await open(join(root, 'probe'), 'w');
  const prototype = Object.getPrototypeOf(probe) as { writev: (...args: unknown[]) => unknown };
  await probe.close();
  const calls: number[] = [];
  const original = prototype.writev;
  vi.spyOn(prototype, 'writev').mockImplementation(function (this: unknown, ...args: unknown[]) {
    calls.push((args[0] as Buffer[]).length);
    return original.apply(this, args);
  });
  return calls;
}

const oneBatch = (fillerBytes: number, recordCount = 2): SetSpec => ({
  batches: [{ recordCount, fillerBytes }],
});

describe('PartitionLog group appends', () => {
  it('writes appends that waited for the same turn with one write, as one-by-one appends would', async () => {
    const specs = Array.from({ length: 20 }, (_, i) =>
      i % 3 === 0
        ? { batches: [oneBatch(100 + i).batches[0]!, oneBatch(50, 3).batches[0]!] }
        : oneBatch(200 + i),
    );
    const writevCalls = await spyOnWritev();
    const grouped = await appendAll('grouped', specs, true, {});
    // The first append found the queue idle and went alone; the 19 behind it shared the next turn.
    expect(writevCalls).toEqual([19]);
    const sequential = await appendAll('sequential', specs, false, {});
    expect(grouped.results).toEqual(sequential.results);
    expect(grouped.files).toEqual(sequential.files);
    expect([...grouped.files.keys()]).toEqual([
      '00000000000000000000.index',
      '00000000000000000000.log',
      '00000000000000000000.timeindex',
    ]);
  });

  it('splits a group where one-by-one appends would roll', async () => {
    const specs = Array.from({ length: 30 }, (_, i) => oneBatch(300 + 10 * i));
    const grouped = await appendAll('grouped', specs, true, { 'log.segment.bytes': '2000' });
    const sequential = await appendAll('sequential', specs, false, { 'log.segment.bytes': '2000' });
    expect(grouped.results).toEqual(sequential.results);
    expect(grouped.files).toEqual(sequential.files);
    expect(grouped.files.size).toBeGreaterThan(3 * 5);
  });

  it('fails only the append refused by validation; the others of its group are stored in order', async () => {
    const manager = await LogManager.open({
      config: parseBrokerLogConfig({ 'log.dirs': root }),
      clock: new ManualClock(0),
    });
    const log = await manager.getOrCreateLog('orders', 0);
    const corrupt = recordSet(oneBatch(100), 9);
    corrupt[corrupt.length - 1]! ^= 0xff;
    const sets = [
      recordSet(oneBatch(100), 1),
      recordSet(oneBatch(100), 2),
      corrupt,
      recordSet(oneBatch(100), 3),
    ];
    const settled = await Promise.allSettled(sets.map((set) => log.append(set, 0)));
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect(((settled[2] as PromiseRejectedResult).reason as KafkaError).code).toBe(ErrorCode.CORRUPT_MESSAGE);
    expect(
      settled
        .filter((s) => s.status === 'fulfilled')
        .map((s) => (s as PromiseFulfilledResult<AppendResult>).value.baseOffset),
    ).toEqual([0, 2, 4]);
    expect(readBaseOffsets(await log.read(0, 1 << 20))).toEqual([0, 2, 4]);
    await manager.close();
  });

  it('keeps an operation queued between two appends in its place: a later append does not join the earlier turn', async () => {
    const manager = await LogManager.open({
      config: parseBrokerLogConfig({ 'log.dirs': root }),
      clock: new ManualClock(0),
    });
    const log: PartitionLog = await manager.getOrCreateLog('orders', 0);
    const first = log.append(recordSet(oneBatch(100), 1), 0); // runs at once
    const second = log.append(recordSet(oneBatch(100), 2), 0); // waits for the next turn
    const roll = log.roll(); // queued after it
    const third = log.append(recordSet(oneBatch(100), 3), 0); // must come after the roll
    const results = await Promise.all([first, second, third]);
    await roll;
    expect(results.map((r) => r.baseOffset)).toEqual([0, 2, 4]);
    expect(log.segmentBaseOffsets()).toEqual([0, 4]);
    await manager.close();
  });

  it('gives the same files and answers as one-by-one appends for any sizes and segment size (property)', async () => {
    const setSpec = fc.record({
      batches: fc.array(
        fc.record({
          recordCount: fc.integer({ min: 1, max: 5 }),
          fillerBytes: fc.integer({ min: 0, max: 1500 }),
        }),
        { minLength: 1, maxLength: 3 },
      ),
    });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(setSpec, { minLength: 1, maxLength: 25 }),
        fc.integer({ min: 1200, max: 20_000 }),
        async (specs, segmentBytes) => {
          run++;
          const props = { 'log.segment.bytes': String(segmentBytes) };
          const grouped = await appendAll(`grouped-${run}`, specs, true, props);
          const sequential = await appendAll(`sequential-${run}`, specs, false, props);
          expect(grouped.results).toEqual(sequential.results);
          expect(grouped.files).toEqual(sequential.files);
        },
      ),
      { numRuns: 30 },
    );
  });
});

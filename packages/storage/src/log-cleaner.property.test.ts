// The cleaner against a model: random keyed appends (tombstones and the odd keyless record
// included, all codecs), rolls, clock moves, cleaner runs with random upper bounds and a tiny offset
// map (so cleanings stop part way), and clean or unclean reopens. The model applies the cleaner's
// rule to the sections the log reports (cleanable end, map end); after every step the log must hold
// exactly the model's records at their original offsets, batches must stay contiguous, and against
// the full history: a key's latest record is never lost, except a tombstone older than
// delete.retention.ms, and then nothing older of that key is left either.
// A failure prints fast-check's seed: replay it with CLEANER_PROPERTY_SEED=<seed>.

import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ManualClock } from '@gregor/ground';
import { CompressionType } from '@gregor/protocol';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConfigProps, parseBrokerLogConfig } from './log-config.js';
import { cleanShutdownFileName, LogManager } from './log-manager.js';
import type { PartitionLog } from './partition-log.js';
import { keyedBatch, type ReadRecord, readWholeLog } from './testing/keyed-records.js';
import { makeTempDir, removeDir } from './testing/temp-dirs.js';

const deleteRetentionMs = 1000;
const topicConfig: ConfigProps = {
  'cleanup.policy': 'compact',
  'segment.bytes': '700',
  'index.interval.bytes': '100',
  'delete.retention.ms': String(deleteRetentionMs),
  'min.cleanable.dirty.ratio': '0',
};
/**
 * 4 slots, 3 entries (batches hold at most 3 records): far fewer than the 10 keys, so cleanings
 * usually stop where the map filled up, often inside a segment.
 */
const brokerProps: ConfigProps = { 'log.cleaner.dedupe.buffer.size': String(4 * 24) };

const recordSpec = fc.record({
  key: fc.oneof(
    { weight: 12, arbitrary: fc.integer({ min: 0, max: 9 }) },
    { weight: 1, arbitrary: fc.constant(null) },
  ),
  // One write in five deletes its key.
  tombstone: fc.integer({ min: 0, max: 4 }).map((n) => n === 0),
});

const command = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      records: fc.array(recordSpec, { minLength: 1, maxLength: 3 }),
      compression: fc.constantFrom(
        CompressionType.None,
        CompressionType.None,
        CompressionType.Gzip,
        CompressionType.Lz4,
      ),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('roll' as const) }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 800 }) }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('clean' as const),
      boundBack: fc.option(fc.integer({ min: 0, max: 30 })),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reopen' as const), clean: fc.boolean() }) },
);

interface ModelRecord extends ReadRecord {
  /** The batch's timestamp (every record of a test batch has it, so drops never change it). */
  readonly batchTimestamp: number;
}

let root: string;
let runCounter = 0;

beforeAll(async () => {
  root = await makeTempDir('cleaner-prop');
});

afterAll(async () => {
  await removeDir(root);
});

describe('log cleaner against a model', () => {
  it('keeps exactly the latest record per key in the cleaned section and everything else', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(command, { minLength: 5, maxLength: 60 }),
        // Tiny descriptor budgets: the cleaner's reads, its `.cleaned` file and the swap compete.
        fc.constantFrom(2, 3, 1024),
        async (commands, openFilesMax) => {
          runCounter += 1;
          const dir = join(root, `run-${runCounter}`);
          const clock = new ManualClock(1_000_000);
          const open = () =>
            LogManager.open({
              config: parseBrokerLogConfig({ 'log.dirs': dir, ...brokerProps }),
              clock,
              openFilesMax,
              topicOverrides: () => topicConfig,
            });
          let manager = await open();
          let log: PartitionLog = await manager.getOrCreateLog('compacted', 0, topicConfig);
          let model: ModelRecord[] = [];
          const history: ModelRecord[] = [];
          try {
            for (const cmd of commands) {
              switch (cmd.kind) {
                case 'append': {
                  const timestamp = clock.nowMs();
                  const records = cmd.records.map((r) => ({
                    key: r.key === null ? null : `k${r.key}`,
                    value: r.tombstone ? null : `v${history.length}-${r.key}`,
                    timestamp,
                  }));
                  const appended = await log.append(keyedBatch(records, { compression: cmd.compression }), 0);
                  const added = records.map((r, i) => ({
                    offset: appended.baseOffset + i,
                    key: r.key,
                    value: r.value,
                    timestamp,
                    header: `hdr-${r.key ?? ''}`,
                    batchTimestamp: timestamp,
                  }));
                  model.push(...added);
                  history.push(...added);
                  break;
                }
                case 'roll':
                  await log.roll();
                  break;
                case 'tick':
                  clock.advanceMs(cmd.ms);
                  break;
                case 'clean': {
                  const bases = log.segmentBaseOffsets();
                  const bound =
                    cmd.boundBack === null ? undefined : Math.max(0, log.logEndOffset - cmd.boundBack);
                  const stats = await manager.runCleaner({
                    upperBoundOffset: () => bound,
                  });
                  const cleaned = stats.cleaned[0]?.result;
                  if (cleaned === undefined) break;
                  expect(cleaned.groupsAbandoned).toBe(0);
                  expect(cleaned.cleanableEndOffset).toBeLessThanOrEqual(bases.at(-1)!);
                  if (bound !== undefined) expect(cleaned.cleanableEndOffset).toBeLessThanOrEqual(bound);
                  const mapEnd = cleaned.nextDirtyOffset;
                  const rewriteEnd = bases.find((b) => b >= mapEnd) ?? log.logEndOffset;
                  const latest = new Map<string, number>();
                  for (const r of model) {
                    if (r.key !== null && r.offset >= cleaned.firstDirtyOffset && r.offset < mapEnd) {
                      latest.set(r.key, r.offset);
                    }
                  }
                  const horizonMs = clock.nowMs() - deleteRetentionMs;
                  model = model.filter((r) => {
                    if (r.offset >= rewriteEnd) return true;
                    if (r.key === null) return false;
                    if ((latest.get(r.key) ?? -1) > r.offset) return false;
                    return !(r.value === null && r.offset < mapEnd && r.batchTimestamp < horizonMs);
                  });
                  break;
                }
                case 'reopen': {
                  await manager.close();
                  if (!cmd.clean) await unlink(join(dir, cleanShutdownFileName));
                  manager = await open();
                  log = manager.getLog('compacted', 0)!;
                  break;
                }
              }
              const { records, batches } = await readWholeLog(log);
              expect(records).toEqual(model.map(({ batchTimestamp: _, ...r }) => r));
              let next = batches[0]?.baseOffset ?? 0;
              for (const b of batches) {
                // Contiguous inside segments; a new segment may only start later (never overlap).
                expect(b.baseOffset).toBeGreaterThanOrEqual(next);
                next = b.lastOffset + 1;
              }
              expect(log.logEndOffset).toBe(history.at(-1) === undefined ? 0 : history.at(-1)!.offset + 1);
              checkAgainstHistory(history, records, clock.nowMs());
            }
          } finally {
            await manager.close();
            await removeDir(dir);
          }
        },
      ),
      {
        numRuns: 100,
        ...(process.env.CLEANER_PROPERTY_SEED ? { seed: Number(process.env.CLEANER_PROPERTY_SEED) } : {}),
      },
    );
  });
});

/** Every key's latest write is still readable, unless it is a tombstone past delete.retention.ms. */
function checkAgainstHistory(
  history: readonly ModelRecord[],
  log: readonly ReadRecord[],
  nowMs: number,
): void {
  const latest = new Map<string, ModelRecord>();
  for (const r of history) if (r.key !== null) latest.set(r.key, r);
  const present = new Set(log.map((r) => r.offset));
  for (const [key, r] of latest) {
    if (present.has(r.offset)) continue;
    expect(r.value, `latest record of ${key} at ${r.offset} is gone`).toBeNull();
    expect(r.batchTimestamp).toBeLessThan(nowMs - deleteRetentionMs);
    expect(log.some((other) => other.key === key)).toBe(false);
  }
}

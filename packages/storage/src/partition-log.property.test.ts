// The log against an in-memory model: random appends (leader and follower), reads, timestamp lookups,
// rolls, retention runs, truncations and clean or unclean reopens. After every step the log and the
// model agree on the log start/end offsets; reads and lookups must return exactly what the model
// says. Segment boundaries are the log's choice; retention is checked against Kafka's rule applied to
// the boundaries the log reports. A failure prints fast-check's seed and the shrunk command list.

import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ManualClock } from '@gregor/ground';
import { ErrorCode, readBatchHeader } from '@gregor/protocol';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBrokerLogConfig } from './log-config.js';
import { cleanShutdownFileName, LogManager } from './log-manager.js';
import type { PartitionLog } from './partition-log.js';
import { buildTestBatch } from './testing/batches.js';
import { makeTempDir, removeDir } from './testing/temp-dirs.js';

interface ModelBatch {
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly maxTimestamp: number;
  readonly bytes: Buffer;
}

class LogModel {
  batches: ModelBatch[] = [];
  logStartOffset = 0;
  logEndOffset = 0;

  append(batches: ModelBatch[]): void {
    if (this.batches.length === 0 && this.logStartOffset === this.logEndOffset) {
      this.logStartOffset = batches[0]!.baseOffset;
    }
    this.batches.push(...batches);
    this.logEndOffset = batches[batches.length - 1]!.lastOffset + 1;
  }

  read(offset: number, maxBytes: number, maxOffsetExclusive: number): Buffer | 'out-of-range' {
    if (offset < this.logStartOffset || offset > this.logEndOffset) return 'out-of-range';
    const limit = Math.min(maxOffsetExclusive, this.logEndOffset);
    const first = this.batches.findIndex((b) => b.lastOffset >= offset);
    if (first < 0 || this.batches[first]!.lastOffset >= limit) return Buffer.alloc(0);
    const budget = Math.max(maxBytes, this.batches[first]!.bytes.length);
    const taken: Buffer[] = [];
    let total = 0;
    for (const batch of this.batches.slice(first)) {
      if (batch.lastOffset >= limit || total + batch.bytes.length > budget) break;
      taken.push(batch.bytes);
      total += batch.bytes.length;
    }
    return Buffer.concat(taken);
  }

  offsetForTimestamp(timestampMs: number): { offset: number; timestamp: number } | null {
    const batch = this.batches.find((b) => b.maxTimestamp >= timestampMs);
    return batch === undefined ? null : { offset: batch.baseOffset, timestamp: batch.maxTimestamp };
  }

  truncateTo(offset: number): void {
    if (offset >= this.logEndOffset) return;
    if (offset <= this.logStartOffset) {
      this.batches = [];
      this.logStartOffset = offset;
      this.logEndOffset = offset;
      return;
    }
    const cut = this.batches.findIndex((b) => b.lastOffset >= offset);
    const cutBatch = this.batches[cut]!;
    this.batches = this.batches.slice(0, cut);
    // Inside a batch: the log ends at its base. In a follower gap: at the end of the previous batch.
    const previous = this.batches[this.batches.length - 1];
    this.logEndOffset =
      cutBatch.baseOffset <= offset
        ? cutBatch.baseOffset
        : (previous?.lastOffset ?? this.logStartOffset - 1) + 1;
  }

  /** Kafka's retention rule over the segment boundaries the log reports. */
  expectedStartAfterRetention(
    segmentBases: number[],
    nowMs: number,
    retentionMs: number,
    retentionBytes: number,
  ): number {
    const segments = segmentBases.map((base, i) => {
      const next = segmentBases[i + 1] ?? Number.MAX_SAFE_INTEGER;
      const inside = this.batches.filter((b) => b.baseOffset >= base && b.baseOffset < next);
      return {
        base,
        sizeBytes: inside.reduce((sum, b) => sum + b.bytes.length, 0),
        maxTimestamp: Math.max(-1, ...inside.map((b) => b.maxTimestamp)),
      };
    });
    const candidates = segments.slice(0, -1);
    let deleteCount = 0;
    if (retentionMs >= 0) {
      while (deleteCount < candidates.length && candidates[deleteCount]!.maxTimestamp < nowMs - retentionMs) {
        deleteCount += 1;
      }
    }
    if (retentionBytes >= 0) {
      let excess = segments.reduce((sum, s) => sum + s.sizeBytes, 0) - retentionBytes;
      for (let i = 0; i < deleteCount; i++) excess -= candidates[i]!.sizeBytes;
      while (deleteCount < candidates.length && excess - candidates[deleteCount]!.sizeBytes >= 0) {
        excess -= candidates[deleteCount]!.sizeBytes;
        deleteCount += 1;
      }
    }
    return deleteCount === 0
      ? this.logStartOffset
      : Math.max(this.logStartOffset, segments[deleteCount]!.base);
  }

  advanceStart(newStart: number): void {
    this.batches = this.batches.filter((b) => b.baseOffset >= newStart);
    this.logStartOffset = newStart;
  }
}

const batchSpec = fc.record({
  recordCount: fc.integer({ min: 1, max: 6 }),
  fillerBytes: fc.integer({ min: 0, max: 400 }),
  maxTimestamp: fc.integer({ min: 0, max: 3000 }),
});

const command = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      batches: fc.array(batchSpec, { minLength: 1, maxLength: 3 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('follower' as const),
      gap: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 20 })),
      batches: fc.array(batchSpec, { minLength: 1, maxLength: 3 }),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('read' as const),
      at: fc.double({ min: 0, max: 1, noNaN: true }),
      outside: fc.constantFrom(0, 0, 0, -1, 1),
      maxBytes: fc.integer({ min: 1, max: 3000 }),
      highWatermark: fc.option(fc.double({ min: 0, max: 1, noNaN: true })),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('lookup' as const),
      timestampMs: fc.integer({ min: -10, max: 3100 }),
      // Most lookups aim at (or next to) a stored batch's timestamp, where off-by-ones show.
      nearBatch: fc.option(
        fc.record({ at: fc.double({ min: 0, max: 1, noNaN: true }), delta: fc.constantFrom(-1, 0, 1) }),
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('retention' as const),
      retentionMs: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 4000 })),
      retentionBytes: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 5000 })),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('truncate' as const),
      at: fc.double({ min: 0, max: 1, noNaN: true }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('roll' as const) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('reopen' as const),
      clean: fc.boolean(),
      // Unclean only: without a recovery point every segment is re-validated, not just the last.
      forgetRecoveryPoint: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 2000 }) }),
  },
);

const scenario = fc.record({
  segmentBytes: fc.integer({ min: 200, max: 2500 }),
  indexIntervalBytes: fc.integer({ min: 0, max: 600 }),
  segmentMs: fc.integer({ min: 500, max: 20000 }),
  // Tiny descriptor budgets close and reopen segment files between almost every I/O.
  openFilesMax: fc.constantFrom(2, 3, 8, 1024),
  commands: fc.array(command, { minLength: 1, maxLength: 60 }),
});

let root: string;
let runCounter = 0;

beforeAll(async () => {
  root = await makeTempDir('storage-property');
});

afterAll(async () => {
  await removeDir(root);
});

function offsetIn(model: LogModel, fraction: number): number {
  return model.logStartOffset + Math.floor(fraction * (model.logEndOffset - model.logStartOffset + 0.999));
}

describe('PartitionLog against a model', () => {
  it('agrees with the model after every step', async () => {
    await fc.assert(
      fc.asyncProperty(
        scenario,
        async ({ segmentBytes, indexIntervalBytes, segmentMs, openFilesMax, commands }) => {
          runCounter += 1;
          const dir = join(root, `run-${runCounter}`);
          const clock = new ManualClock(3000);
          const config = parseBrokerLogConfig({
            'log.dirs': dir,
            'log.segment.bytes': segmentBytes,
            'log.index.interval.bytes': indexIntervalBytes,
            'log.roll.ms': segmentMs,
            'log.retention.ms': -1,
          });
          const open = async (): Promise<[LogManager, PartitionLog]> => {
            const manager = await LogManager.open({ config, clock, openFilesMax });
            return [manager, await manager.getOrCreateLog('p', 0)];
          };
          let [manager, log] = await open();
          const model = new LogModel();
          let seed = 0;
          try {
            for (const cmd of commands) {
              switch (cmd.kind) {
                case 'append': {
                  const built = cmd.batches.map((spec) => buildTestBatch({ ...spec, seed: ++seed }));
                  const set = Buffer.concat(built);
                  const result = await log.append(set, 1);
                  expect(result.baseOffset).toBe(model.logEndOffset);
                  let at = 0;
                  model.append(
                    built.map((b) => {
                      const bytes = Buffer.from(set.subarray(at, at + b.length));
                      at += b.length;
                      const header = readBatchHeader(bytes);
                      return {
                        baseOffset: header.baseOffset,
                        lastOffset: header.lastOffset,
                        maxTimestamp: header.maxTimestamp,
                        bytes,
                      };
                    }),
                  );
                  break;
                }
                case 'follower': {
                  let next = model.logEndOffset + cmd.gap;
                  const built = cmd.batches.map((spec) => {
                    const bytes = buildTestBatch({
                      ...spec,
                      seed: ++seed,
                      baseOffset: next,
                      partitionLeaderEpoch: 2,
                    });
                    const batch = {
                      baseOffset: next,
                      lastOffset: next + spec.recordCount - 1,
                      maxTimestamp: spec.maxTimestamp,
                      bytes,
                    };
                    next = batch.lastOffset + 1;
                    return batch;
                  });
                  await log.appendAsFollower(Buffer.concat(built.map((b) => b.bytes)));
                  model.append(built);
                  break;
                }
                case 'read': {
                  const offset =
                    cmd.outside < 0
                      ? model.logStartOffset - 1
                      : cmd.outside > 0
                        ? model.logEndOffset + 1
                        : offsetIn(model, cmd.at);
                  const highWatermark =
                    cmd.highWatermark === null ? undefined : offsetIn(model, cmd.highWatermark);
                  const expected = model.read(offset, cmd.maxBytes, highWatermark ?? Number.MAX_SAFE_INTEGER);
                  const actual = await log.read(
                    offset,
                    cmd.maxBytes,
                    highWatermark === undefined ? {} : { maxOffsetExclusive: highWatermark },
                  );
                  if (expected === 'out-of-range') {
                    expect(actual.errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
                  } else {
                    if (actual.errorCode !== ErrorCode.NONE)
                      throw new Error(`read(${offset}) failed: ${actual.errorCode}`);
                    expect(actual.records.toString('hex')).toBe(expected.toString('hex'));
                    expect(actual.firstBatchBaseOffset).toBe(
                      expected.length === 0 ? -1 : readBatchHeader(expected).baseOffset,
                    );
                  }
                  break;
                }
                case 'lookup': {
                  const target =
                    model.batches[Math.floor((cmd.nearBatch?.at ?? 0) * (model.batches.length - 1))];
                  const timestampMs =
                    cmd.nearBatch === null || target === undefined
                      ? cmd.timestampMs
                      : target.maxTimestamp + cmd.nearBatch.delta;
                  expect(await log.offsetForTimestamp(timestampMs)).toEqual(
                    model.offsetForTimestamp(timestampMs),
                  );
                  break;
                }
                case 'retention': {
                  log.updateConfig({
                    ...log.config,
                    retentionMs: cmd.retentionMs,
                    retentionBytes: cmd.retentionBytes,
                  });
                  const expectedStart = model.expectedStartAfterRetention(
                    log.segmentBaseOffsets(),
                    clock.nowMs(),
                    cmd.retentionMs,
                    cmd.retentionBytes,
                  );
                  await log.deleteOldSegments();
                  expect(log.logStartOffset).toBe(expectedStart);
                  model.advanceStart(expectedStart);
                  log.updateConfig({ ...log.config, retentionMs: -1, retentionBytes: -1 });
                  break;
                }
                case 'truncate': {
                  const offset = Math.max(0, offsetIn(model, cmd.at) - (cmd.at < 0.05 ? 1 : 0));
                  await log.truncateTo(offset);
                  model.truncateTo(offset);
                  break;
                }
                case 'roll':
                  await log.roll();
                  break;
                case 'reopen':
                  await manager.close();
                  // An unclean reopen: everything reached the disk, but recovery re-validates.
                  if (!cmd.clean) await unlink(join(dir, cleanShutdownFileName));
                  if (!cmd.clean && cmd.forgetRecoveryPoint)
                    await unlink(join(dir, 'recovery-point-offset-checkpoint'));
                  [manager, log] = await open();
                  break;
                case 'tick':
                  clock.advanceMs(cmd.ms);
                  break;
              }
              expect([log.logStartOffset, log.logEndOffset]).toEqual([
                model.logStartOffset,
                model.logEndOffset,
              ]);
              expect(log.recoveryPoint).toBeLessThanOrEqual(log.logEndOffset);
              expect(manager.fileHandleStats.open).toBeLessThanOrEqual(openFilesMax);
            }
            const whole = model.read(model.logStartOffset, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
            const actual = await log.read(model.logStartOffset, 1 << 30);
            if (actual.errorCode !== ErrorCode.NONE || whole === 'out-of-range')
              throw new Error('final read failed');
            expect(actual.records.equals(whole)).toBe(true);
          } finally {
            await manager.close();
            await removeDir(dir);
          }
        },
      ),
      // Replay a failure with STORAGE_PROPERTY_SEED=<seed printed by fast-check>.
      {
        numRuns: 150,
        ...(process.env.STORAGE_PROPERTY_SEED ? { seed: Number(process.env.STORAGE_PROPERTY_SEED) } : {}),
      },
    );
  });
});

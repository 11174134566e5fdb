import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '@gregor/ground';
import { CompressionType, ErrorCode, encodeRecordBatch } from '@gregor/protocol';
import { PartitionLog, parseLogConfig } from '@gregor/storage';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ProducerStateManager } from './producer-state.js';
import { rebuildProducerState } from './producer-state-log.js';

let root: string;
const clock = new ManualClock(1_700_000_000_000);
const noCheckpoints = { logStartOffsetChanged: async () => {}, recoveryPointLowered: async () => {} };

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'producer-state-log-'));
  await mkdir(join(root, 'a'));
  await mkdir(join(root, 'b'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function openLog(dir: string): Promise<PartitionLog> {
  return PartitionLog.open({
    dir,
    topic: 't',
    partition: 0,
    config: parseLogConfig({ 'segment.bytes': '400' }),
    clock,
    recoveryPoint: 0,
    logStartOffset: undefined,
    hadCleanShutdown: true,
    checkpoints: noCheckpoints,
  });
}

function idempotentBatch(producerId: number, baseSequence: number): Buffer {
  return encodeRecordBatch({
    partitionLeaderEpoch: -1,
    compression: CompressionType.None,
    producerId,
    producerEpoch: 0,
    baseSequence,
    records: [{ key: null, value: Buffer.alloc(100, 1), timestamp: clock.nowMs() }],
  });
}

describe('rebuildProducerState across a log dir move (AlterReplicaLogDirs)', () => {
  it('started while the swap renames the directories, reads the log in its new directory', async () => {
    const log = await openLog(join(root, 'a', 't-0'));
    const future = await openLog(join(root, 'b', 't-0.m-future'));
    for (let i = 0; i < 12; i++) {
      const appended = idempotentBatch(1000 + (i % 3), Math.floor(i / 3));
      await log.append(appended, 0);
      const read = await log.read(i, 1);
      if (read.errorCode !== ErrorCode.NONE) throw new Error(`read at ${i}: ${read.errorCode}`);
      await future.appendAsFollower(read.records);
    }
    expect(log.segmentBaseOffsets().length).toBeGreaterThan(3);
    const expected = new ProducerStateManager();
    await rebuildProducerState(log, expected, clock.nowMs());
    expect(expected.entries()).toHaveLength(3);

    const rebuilt = new ProducerStateManager();
    let rebuild: Promise<unknown> | undefined;
    // Tells when the rebuild waits for the swap (the old code never does: it reads at once).
    let waiting = (): void => undefined;
    const waitsForSwap = new Promise<void>((resolve) => {
      waiting = resolve;
    });
    const watched = new Proxy(log, {
      get(target, property) {
        if (property === 'afterRelocation') {
          return () => {
            waiting();
            return target.afterRelocation();
          };
        }
        const value = Reflect.get(target, property, target);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    await log.replaceWithFuture(future, {
      catchUp: async () => {},
      moveDirs: async () => {
        await rename(log.dir, `${log.dir}.m-moved`);
        await rename(future.dir, join(root, 'b', 't-0'));
        // The directories are renamed, the log not yet reopened from the new one.
        rebuild = rebuildProducerState(watched, rebuilt, clock.nowMs());
        await Promise.race([rebuild, waitsForSwap]);
      },
      moveDirsBack: async () => {},
      targetDir: join(root, 'b', 't-0'),
      checkpoints: noCheckpoints,
      onSwapped: () => undefined,
    });
    await rebuild;
    expect(log.logDir).toBe(join(root, 'b'));
    expect(rebuilt.entries()).toEqual(expected.entries());
    await log.close();
  });
});

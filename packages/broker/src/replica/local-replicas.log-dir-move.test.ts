// The leader-epoch-checkpoint written while a log dir move (AlterReplicaLogDirs) swaps the log into
// its new dir: it must end up in the directory the log lives in afterwards, and take no dir offline.

import { mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '@gregor/ground';
import { ErrorCode } from '@gregor/protocol';
import { formatLeaderEpochCheckpoint, type IsrProposals, LeaderEpochCache } from '@gregor/replication';
import { LogDirFailureChannel, LogManager, parseBrokerLogConfig } from '@gregor/storage';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DelayedOperations } from '../delayed/delayed-operations.js';
import { createLogger } from '../logging.js';
import { LocalReplicas } from './local-replicas.js';
import type { Partition } from './partition.js';

let root: string;
let manager: LogManager | undefined;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'gregor-epoch-checkpoint-move-'));
});

afterEach(async () => {
  await manager?.close();
  manager = undefined;
  await rm(root, { recursive: true, force: true });
});

/** Lets a started write go as far as it can: turns of the event loop, and a little real time for the disk. */
async function letRun(write: Promise<unknown>): Promise<void> {
  let done = false;
  void write.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  for (let turn = 0; turn < 50 && !done; turn++) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe('LocalReplicas.persistEpochCache during a log dir move', () => {
  it('a write before the renames and one between them both land in the moved log, and no dir goes offline', async () => {
    const [dirA, dirB] = [join(root, 'a'), join(root, 'b')];
    const failures = new LogDirFailureChannel();
    const writes: Promise<void>[] = [];
    const epochCache = new LeaderEpochCache([{ epoch: 0, startOffset: 0 }]);
    let replicas: LocalReplicas | undefined;
    let partition: Partition | undefined;
    const persistNewEpoch = async (epoch: number): Promise<void> => {
      epochCache.assign(epoch, partition!.log.logEndOffset);
      const write = replicas!.persistEpochCache(partition!);
      writes.push(write);
      await letRun(write);
    };
    manager = await LogManager.open({
      config: parseBrokerLogConfig({ 'log.dirs': `${dirA},${dirB}` }),
      clock: new ManualClock(1_700_000_000_000),
      logDirFailureChannel: failures,
      renameDir: async (from, to) => {
        // Before the log's directory is renamed away (its other files were copied already), and
        // between that rename and the one giving the copy the partition's name.
        if (to.endsWith('-moved')) await persistNewEpoch(1);
        if (to === join(dirB, 'moving-0')) await persistNewEpoch(2);
        await rename(from, to);
      },
    });
    const log = await manager.getOrCreateLog('moving', 0);
    expect(log.logDir).toBe(dirA);
    partition = { key: 'moving-0', log, epochCache } as unknown as Partition;
    replicas = new LocalReplicas({
      brokerId: 1,
      delayedOperations: { notify: () => undefined } as unknown as DelayedOperations,
      isrProposals: {} as IsrProposals,
      logger: createLogger({ nodeId: 1, level: 'silent', prettyPrint: false }),
      logDirFailureChannel: failures,
    });
    await replicas.persistEpochCache(partition);

    const started = await manager.moveLogDir('moving', 0, dirB, 'epochs');
    if (started.errorCode !== ErrorCode.NONE || !started.moving) throw new Error('move did not start');
    await started.done;
    await Promise.allSettled(writes);
    expect(failures.offlineLogDirs).toEqual([]);
    expect(log.logDir).toBe(dirB);
    for (const write of writes) await write;
    expect(await readFile(join(log.dir, 'leader-epoch-checkpoint'), 'utf8')).toBe(
      formatLeaderEpochCheckpoint(epochCache.entries),
    );
    expect(epochCache.entries.at(-1)?.epoch).toBe(2);
  });
});

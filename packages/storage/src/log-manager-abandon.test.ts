// LogManager.abandon(): the storage side of killing a node inside a shared process. It must leave
// the dirs as a crash does (no clean-shutdown marker, no checkpoint written at close), keep what was
// written (as a killed process's writes stay in the page cache), refuse anything asked afterwards,
// and the next open must recover the logs.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ManualClock } from '@gregor/ground';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseBrokerLogConfig } from './log-config.js';
import { cleanShutdownFileName, LogManager } from './log-manager.js';
import { buildTestBatch } from './testing/batches.js';
import { makeTempDir, removeDir } from './testing/temp-dirs.js';

const recoveryPointFileName = 'recovery-point-offset-checkpoint';
let root: string;
beforeEach(async () => {
  root = await makeTempDir('abandon');
});
afterEach(async () => {
  await removeDir(root);
});

const open = () =>
  LogManager.open({
    config: parseBrokerLogConfig({ 'log.dirs': root }),
    clock: new ManualClock(1_700_000_000_000),
  });

const batch = (seed: number) =>
  buildTestBatch({ recordCount: 5, fillerBytes: 200, maxTimestamp: 1_700_000_000_000, seed });

describe('LogManager.abandon', () => {
  it('closes like a crash: no marker, no checkpoint; data written stays and is recovered on the next open', async () => {
    const manager = await open();
    const log = await manager.getOrCreateLog('events', 0);
    for (let i = 0; i < 4; i++) await log.append(batch(i + 1), 3);
    expect(log.logEndOffset).toBe(20);

    await manager.abandon();
    expect(existsSync(join(root, cleanShutdownFileName))).toBe(false);
    expect(existsSync(join(root, recoveryPointFileName))).toBe(false);
    // Nothing more is done for the abandoned node.
    await expect(log.append(batch(9), 3)).rejects.toThrow(/killed/);
    await manager.checkpointRecoveryPoints();
    expect(existsSync(join(root, recoveryPointFileName))).toBe(false);
    await expect(manager.getOrCreateLog('events', 1)).rejects.toThrow(/closed/);

    const reopened = await open();
    const recovered = reopened.getLog('events', 0)!;
    expect(recovered.logEndOffset).toBe(20);
    await reopened.close();
    // A clean close, by contrast, leaves the marker.
    expect(existsSync(join(root, cleanShutdownFileName))).toBe(true);
  });
});

// The metadata quorum's Raft log lives in a log dir as `__cluster_metadata-0` (a LevelDB, as KRaft
// places its log there): the LogManager must leave it alone, above all after an unclean shutdown,
// when every partition dir is re-validated segment by segment.

import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ManualClock } from '@gregor/ground';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBrokerLogConfig } from './log-config.js';
import { LogManager, metadataTopicName } from './log-manager.js';
import { makeTempDir, removeDir } from './testing/temp-dirs.js';

let root: string;
beforeAll(async () => {
  root = await makeTempDir('metadata-dir');
});
afterAll(async () => {
  await removeDir(root);
});

describe('LogManager and the metadata log dir', () => {
  it('does not open, validate or add files to __cluster_metadata-0, even after an unclean shutdown', async () => {
    const metadataDir = join(root, `${metadataTopicName}-0`);
    await mkdir(metadataDir, { recursive: true });
    // LevelDB's write-ahead log is named like a segment; its bytes are not record batches.
    const walBytes = Buffer.from('leveldb write-ahead log, not Kafka record batches');
    await writeFile(join(metadataDir, '000003.log'), walBytes);
    await writeFile(join(metadataDir, 'CURRENT'), 'MANIFEST-000002\n');

    // No clean-shutdown marker in the dir: every partition would be re-validated.
    const manager = await LogManager.open({
      config: parseBrokerLogConfig({ 'log.dirs': root }),
      clock: new ManualClock(1_700_000_000_000),
    });
    await manager.getOrCreateLog('events', 0);
    expect(manager.allLogs().map((log) => `${log.topic}-${log.partition}`)).toEqual(['events-0']);
    await manager.close();

    expect((await readdir(metadataDir)).sort()).toEqual(['000003.log', 'CURRENT']);
    expect(await readFile(join(metadataDir, '000003.log'))).toEqual(walBytes);
  });
});

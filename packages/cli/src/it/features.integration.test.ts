// `gregor features` against a real Gregor node in the test process (@gregor/testkit): describe reads
// ApiVersions v4, the updates go through UpdateFeatures to the controller over gRPC and back. With
// Gregor's feature table (every feature at 0-0 today) an upgrade is refused with Kafka's error and
// exit code 1, and setting a feature to the level it has succeeds without a change.

import { startCluster, type TestCluster } from '@gregor/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../commands.js';

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startCluster({ brokers: 1 });
});

afterAll(async () => {
  await cluster?.stop();
});

async function gregor(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(
    ['features', '--bootstrap-server', cluster.bootstrapServers[0]!, ...args],
    { write: (text: string) => out.push(text) },
    { write: (text: string) => err.push(text) },
  );
  return { code, out: out.join(''), err: err.join('') };
}

describe('gregor features', () => {
  it('describes no feature above level 0', async () => {
    expect(await gregor('describe')).toEqual({
      code: 0,
      out: '',
      err: 'The cluster supports no feature above level 0.\n',
    });
  });

  it("refuses an upgrade past what Gregor supports with the controller's error, dry run or not", async () => {
    for (const dryRun of [[], ['--dry-run']]) {
      expect(await gregor('upgrade', '--feature', 'group.version=1', ...dryRun)).toEqual({
        code: 1,
        out:
          'Could not upgrade group.version to 1. INVALID_UPDATE_VERSION: Invalid update version 1 for feature ' +
          'group.version. Local controller does not support this feature.\n',
        err: 'Error: 1 out of 1 operation(s) failed.\n',
      });
    }
  });

  it('disables a feature that is at level 0 already', async () => {
    expect(await gregor('disable', '--feature', 'group.version')).toEqual({
      code: 0,
      out: 'group.version was disabled.\n',
      err: '',
    });
  });
});

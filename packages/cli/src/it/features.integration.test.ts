// `gregor features` against a real Gregor node in the test process (@gregor/testkit): describe reads
// ApiVersions v4, the updates go through UpdateFeatures to the controller over gRPC and back. A new
// cluster has group.version 1 (KIP-848 groups on) and transaction.version 2 (KIP-890 transactions v2),
// as Kafka 4; group.version can be disabled and upgraded
// again; a level Gregor's table does not have is refused with Kafka's error and exit code 1.

import { startCluster, type TestCluster } from '@gregor/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runVerb } from '../testing/run-cli.js';

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startCluster({ brokers: 1 });
});

afterAll(async () => {
  await cluster?.stop();
});

const gregor = (...args: string[]) => runVerb('features', cluster.bootstrapServers[0]!, args);

describe('gregor features', () => {
  it('describes group.version (0-1, finalized at 1) and transaction.version (0-2, finalized at 2) on a new cluster', async () => {
    const described = await gregor('describe');
    expect(described.code).toBe(0);
    expect(described.err).toBe('');
    expect(described.out).toMatch(
      /^Feature: group\.version\tSupportedMinVersion: 0\tSupportedMaxVersion: 1\tFinalizedVersionLevel: 1\tEpoch: \d+\nFeature: transaction\.version\tSupportedMinVersion: 0\tSupportedMaxVersion: 2\tFinalizedVersionLevel: 2\tEpoch: \d+\n$/,
    );
  });

  it("refuses an upgrade past what Gregor supports with the controller's error, dry run or not", async () => {
    for (const dryRun of [[], ['--dry-run']]) {
      expect(await gregor('upgrade', '--feature', 'eligible.leader.replicas.version=1', ...dryRun)).toEqual({
        code: 1,
        out:
          'Could not upgrade eligible.leader.replicas.version to 1. INVALID_UPDATE_VERSION: Invalid update version 1 for feature ' +
          'eligible.leader.replicas.version. Local controller does not support this feature.\n',
        err: 'Error: 1 out of 1 operation(s) failed.\n',
      });
    }
  });

  it('disables group.version and upgrades it to 1 again', async () => {
    expect(await gregor('disable', '--feature', 'group.version')).toEqual({
      code: 0,
      out: 'group.version was disabled.\n',
      err: '',
    });
    expect((await gregor('describe')).out).toMatch(/group\.version\t.*FinalizedVersionLevel: 0\t/);
    expect(await gregor('upgrade', '--feature', 'group.version=1')).toEqual({
      code: 0,
      out: 'group.version was upgraded to 1.\n',
      err: '',
    });
    expect((await gregor('describe')).out).toMatch(/group\.version\t.*FinalizedVersionLevel: 1\t/);
  });
});

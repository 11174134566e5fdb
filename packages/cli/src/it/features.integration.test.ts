// `gregor features` against a real Gregor node in the test process (@gregor/testkit): describe reads
// ApiVersions v4, the updates go through UpdateFeatures to the controller over gRPC and back. A new
// cluster has group.version 1 (KIP-848 groups on) and transaction.version 2 (KIP-890 transactions v2),
// as Kafka 4; group.version can be disabled and upgraded
// again; a level Gregor's table does not have is refused with Kafka's error and exit code 1.
// @platformatic/kafka's UpdateFeatures v1 codec (a second client, written without Gregor) makes the
// same changes: a downgrade sent as an upgrade is refused, a validate-only downgrade changes nothing,
// a safe downgrade and an upgrade take effect; its ApiVersions v4 codec sees the KIP-848 APIs leave
// and come back with group.version, and `gregor features describe` the finalized level.

import { startCluster, type TestCluster } from '@gregor/testkit';
import { apiVersionsV4, Connection, ResponseError, updateFeaturesV1 } from '@platformatic/kafka';
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

  it('@platformatic/kafka downgrades and upgrades group.version (UpdateFeatures v1), read back by ApiVersions v4 and gregor features', async () => {
    const [host, port] = cluster.bootstrapServers[0]!.split(':') as [string, string];
    const connection = new Connection('platformatic-features');
    await connection.connect(host, Number(port));
    try {
      /** The KIP-848 API keys ApiVersions advertises: ConsumerGroupHeartbeat (68), ConsumerGroupDescribe (69). */
      const consumerGroupApis = async () =>
        (await apiVersionsV4.api.async(connection, 'platformatic-kafka', '1.35.0')).apiKeys
          .filter((api) => api.apiKey === 68 || api.apiKey === 69)
          .map((api) => `${api.apiKey} v${api.minVersion}-${api.maxVersion}`);
      const groupVersionLevel = async () =>
        /group\.version\t.*FinalizedVersionLevel: (\d+)\t/.exec((await gregor('describe')).out)?.[1];
      const update = (maxVersionLevel: number, upgradeType: number, validateOnly: boolean) =>
        updateFeaturesV1.api.async(
          connection,
          10_000,
          [{ feature: 'group.version', maxVersionLevel, upgradeType }],
          validateOnly,
        );
      const upgrade = 1;
      const safeDowngrade = 2;
      const ok = { throttleTimeMs: 0, errorCode: 0, errorMessage: null };
      expect(await consumerGroupApis()).toEqual(['68 v0-1', '69 v0-1']);
      expect(await groupVersionLevel()).toBe('1');

      // A lower level with the upgrade type: Kafka's INVALID_UPDATE_VERSION (95), at the top level and
      // for the feature; nothing changes.
      const refused = await update(0, upgrade, false).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(ResponseError);
      const message =
        'Invalid update version 0 for feature group.version. ' +
        "Can't downgrade the version of this feature without setting the upgrade type to either safe or unsafe downgrade.";
      expect((refused as ResponseError).response).toEqual({
        throttleTimeMs: 0,
        errorCode: 95,
        errorMessage: message,
        results: [{ feature: 'group.version', errorCode: 95, errorMessage: message }],
      });
      expect(await groupVersionLevel()).toBe('1');

      // validate_only: accepted, and nothing is written.
      expect(await update(0, safeDowngrade, true)).toEqual({
        ...ok,
        results: [{ feature: 'group.version', errorCode: 0, errorMessage: null }],
      });
      expect(await groupVersionLevel()).toBe('1');
      expect(await consumerGroupApis()).toEqual(['68 v0-1', '69 v0-1']);

      expect(await update(0, safeDowngrade, false)).toEqual({
        ...ok,
        results: [{ feature: 'group.version', errorCode: 0, errorMessage: null }],
      });
      expect(await groupVersionLevel()).toBe('0');
      expect(await consumerGroupApis()).toEqual([]);

      expect(await update(1, upgrade, false)).toEqual({
        ...ok,
        results: [{ feature: 'group.version', errorCode: 0, errorMessage: null }],
      });
      expect(await groupVersionLevel()).toBe('1');
      expect(await consumerGroupApis()).toEqual(['68 v0-1', '69 v0-1']);
    } finally {
      await connection.close();
    }
  });
});

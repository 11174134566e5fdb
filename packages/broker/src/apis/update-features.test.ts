import { FeatureUpgradeType, type SupportedFeature, supportedFeatures } from '@gregor/metadata';
import { ApiKey, ErrorCode } from '@gregor/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { StandardAuthorizer } from '../security/authorizer.js';
import { userPrincipal } from '../security/kafka-principal.js';
import { LocalClusterFixture } from '../testing/local-cluster-fixture.js';

let cluster: LocalClusterFixture;
afterEach(async () => {
  await cluster.close();
});

/** A table with levels to move between (Gregor's own has none above 0 yet). */
const features: readonly SupportedFeature[] = [
  { name: 'alpha.version', minLevel: 0, maxLevel: 1, semantics: 'test' },
  { name: 'test.version', minLevel: 0, maxLevel: 3, semantics: 'test' },
];

const { UPGRADE, SAFE_DOWNGRADE, UNSAFE_DOWNGRADE } = FeatureUpgradeType;

function updateV1(updates: [string, number, number][], validateOnly = false) {
  return cluster.request(ApiKey.UpdateFeatures, 1, {
    timeoutMs: 1000,
    featureUpdates: updates.map(([feature, maxVersionLevel, upgradeType]) => ({
      feature,
      maxVersionLevel,
      upgradeType,
    })),
    validateOnly,
  });
}

async function apiVersionsFeatures(version: number) {
  const response = await cluster.request(ApiKey.ApiVersions, version, {
    clientSoftwareName: 'test',
    clientSoftwareVersion: '1.0',
  });
  return {
    supported: response.supportedFeatures,
    epoch: response.finalizedFeaturesEpoch,
    finalized: response.finalizedFeatures,
  };
}

describe('UpdateFeatures and the features ApiVersions gives (KIP-584)', () => {
  it('finalizes levels through the metadata log, and ApiVersions gives them with a newer epoch', async () => {
    cluster = await LocalClusterFixture.start({ supportedFeatures: features });
    const before = await apiVersionsFeatures(4);
    expect(before.supported).toEqual([
      { name: 'alpha.version', minVersion: 0, maxVersion: 1 },
      { name: 'test.version', minVersion: 0, maxVersion: 3 },
    ]);
    expect(before.finalized).toEqual([]);

    const upgraded = await updateV1([
      ['alpha.version', 1, UPGRADE],
      ['test.version', 2, UPGRADE],
    ]);
    expect(upgraded).toEqual({
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      results: [
        { feature: 'alpha.version', errorCode: ErrorCode.NONE, errorMessage: null },
        { feature: 'test.version', errorCode: ErrorCode.NONE, errorMessage: null },
      ],
    });
    expect([...cluster.image().finalizedFeatures]).toEqual([
      ['alpha.version', 1],
      ['test.version', 2],
    ]);
    const after = await apiVersionsFeatures(4);
    expect(after.finalized).toEqual([
      { name: 'alpha.version', maxVersionLevel: 1, minVersionLevel: 1 },
      { name: 'test.version', maxVersionLevel: 2, minVersionLevel: 2 },
    ]);
    expect(after.epoch).toBeGreaterThan(before.epoch);
    // Before v4 a minimum of 0 is sent as 1 (KAFKA-17011).
    expect((await apiVersionsFeatures(3)).supported).toEqual([
      { name: 'alpha.version', minVersion: 1, maxVersion: 1 },
      { name: 'test.version', minVersion: 1, maxVersion: 3 },
    ]);
  });

  it('downgrades only with a downgrade type; disabling removes the feature', async () => {
    cluster = await LocalClusterFixture.start({ supportedFeatures: features });
    await updateV1([['test.version', 3, UPGRADE]]);
    const refused = await updateV1([['test.version', 1, UPGRADE]]);
    expect(refused.errorCode).toBe(ErrorCode.INVALID_UPDATE_VERSION);
    expect(refused.results).toEqual([
      {
        feature: 'test.version',
        errorCode: ErrorCode.INVALID_UPDATE_VERSION,
        errorMessage: refused.errorMessage,
      },
    ]);
    expect(refused.errorMessage).toContain("Can't downgrade the version of this feature");
    expect(cluster.image().finalizedFeatureLevel('test.version')).toBe(3);

    expect((await updateV1([['test.version', 1, UNSAFE_DOWNGRADE]])).errorCode).toBe(ErrorCode.NONE);
    expect(cluster.image().finalizedFeatureLevel('test.version')).toBe(1);
    expect((await updateV1([['test.version', 0, SAFE_DOWNGRADE]])).errorCode).toBe(ErrorCode.NONE);
    expect(cluster.image().finalizedFeatures.has('test.version')).toBe(false);
    expect((await apiVersionsFeatures(4)).finalized).toEqual([]);
  });

  it('validate_only answers as if done and changes nothing', async () => {
    cluster = await LocalClusterFixture.start({ supportedFeatures: features });
    const checked = await updateV1([['alpha.version', 1, UPGRADE]], true);
    expect(checked.errorCode).toBe(ErrorCode.NONE);
    expect(cluster.image().finalizedFeatures.size).toBe(0);
  });

  it('v0: allow_downgrade is a safe downgrade, otherwise an upgrade', async () => {
    cluster = await LocalClusterFixture.start({ supportedFeatures: features });
    const v0 = (feature: string, maxVersionLevel: number, allowDowngrade: boolean) =>
      cluster.request(ApiKey.UpdateFeatures, 0, {
        timeoutMs: 1000,
        featureUpdates: [{ feature, maxVersionLevel, allowDowngrade }],
      });
    expect((await v0('test.version', 2, false)).errorCode).toBe(ErrorCode.NONE);
    expect((await v0('test.version', 1, false)).errorCode).toBe(ErrorCode.INVALID_UPDATE_VERSION);
    expect((await v0('test.version', 1, true)).errorCode).toBe(ErrorCode.NONE);
    expect(cluster.image().finalizedFeatureLevel('test.version')).toBe(1);
  });

  it('v2 answers with the top-level error only; all or nothing', async () => {
    cluster = await LocalClusterFixture.start({ supportedFeatures: features });
    const response = await cluster.request(ApiKey.UpdateFeatures, 2, {
      timeoutMs: 1000,
      featureUpdates: [
        { feature: 'alpha.version', maxVersionLevel: 1, upgradeType: UPGRADE },
        { feature: 'test.version', maxVersionLevel: 4, upgradeType: UPGRADE },
      ],
      validateOnly: false,
    });
    expect(response).toEqual({
      throttleTimeMs: 0,
      errorCode: ErrorCode.INVALID_UPDATE_VERSION,
      errorMessage:
        'Invalid update version 4 for feature test.version. Local controller only supports versions 0-3.',
      results: [],
    });
    expect(cluster.image().finalizedFeatures.size).toBe(0);
  });

  it("with Gregor's own table a new cluster has group.version 1 and transaction.version 2 (as Kafka 4), and every other level 1 is refused", async () => {
    cluster = await LocalClusterFixture.start();
    const features = await apiVersionsFeatures(4);
    expect(features.supported).toEqual([
      { name: 'transaction.version', minVersion: 0, maxVersion: 2 },
      { name: 'group.version', minVersion: 0, maxVersion: 1 },
    ]);
    expect(features.finalized).toEqual([
      { name: 'group.version', maxVersionLevel: 1, minVersionLevel: 1 },
      { name: 'transaction.version', maxVersionLevel: 2, minVersionLevel: 2 },
    ]);
    for (const feature of supportedFeatures) {
      if (feature.name === 'group.version' || feature.name === 'transaction.version') continue;
      const response = await updateV1([[feature.name, 1, UPGRADE]]);
      expect(response.errorCode).toBe(ErrorCode.INVALID_UPDATE_VERSION);
      expect(response.errorMessage).toBe(
        `Invalid update version 1 for feature ${feature.name}. Local controller does not support this feature.`,
      );
    }
    // transaction.version goes down to the classic protocol and back up; 3 is refused.
    expect((await updateV1([['transaction.version', 0, SAFE_DOWNGRADE]])).errorCode).toBe(ErrorCode.NONE);
    expect(cluster.image().finalizedFeatureLevel('transaction.version')).toBe(0);
    expect((await updateV1([['transaction.version', 2, UPGRADE]])).errorCode).toBe(ErrorCode.NONE);
    expect(cluster.image().finalizedFeatureLevel('transaction.version')).toBe(2);
    expect((await updateV1([['transaction.version', 3, UPGRADE]])).errorCode).toBe(
      ErrorCode.INVALID_UPDATE_VERSION,
    );
  });

  it('needs ALTER on the cluster (CLUSTER_AUTHORIZATION_FAILED) and changes nothing without it', async () => {
    const authorizer = new StandardAuthorizer(
      { superUsers: new Set(['User:admin']), allowEveryoneIfNoAclFound: false },
      () => cluster.image().acls,
    );
    cluster = await LocalClusterFixture.start({ supportedFeatures: features, authorizer });
    cluster.actAs(userPrincipal('bob'));
    const refused = await updateV1([['alpha.version', 1, UPGRADE]]);
    expect(refused.errorCode).toBe(ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    expect(refused.results[0]?.errorCode).toBe(ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    expect(cluster.image().finalizedFeatures.size).toBe(0);
    cluster.actAs(userPrincipal('admin'));
    expect((await updateV1([['alpha.version', 1, UPGRADE]])).errorCode).toBe(ErrorCode.NONE);
  });
});

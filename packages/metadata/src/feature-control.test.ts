import { describe, expect, it } from 'vitest';
import { ControllerBatch } from './controller-batch.js';
import { ControllerErrorCode, isErrorValue } from './errors.js';
import { FeatureControlManager, FeatureUpgradeType, type UpdateFeaturesRequest } from './feature-control.js';
import { advertisedFeatures, type SupportedFeature, supportedFeatures } from './features.js';
import { MetadataImage } from './image.js';
import { decodeMetadataBatch, encodeMetadataBatch } from './record-codec.js';
import type { MetadataRecord } from './records.js';
import { decodeImageSnapshot, encodeImageSnapshot } from './snapshot.js';

/** A table with a feature that has levels, as group.version will once KIP-848 groups are served. */
const testFeatures: readonly SupportedFeature[] = [
  { name: 'group.version', minLevel: 0, maxLevel: 1, semantics: 'test' },
  { name: 'test.version', minLevel: 0, maxLevel: 3, semantics: 'test' },
];

function update(image: MetadataImage, request: UpdateFeaturesRequest, features = testFeatures) {
  const batch = new ControllerBatch(image);
  const response = new FeatureControlManager(features).updateFeatures(batch, request);
  return { response, records: batch.records as MetadataRecord[], image: batch.delta.apply() };
}

const { UPGRADE, SAFE_DOWNGRADE, UNSAFE_DOWNGRADE } = FeatureUpgradeType;
const upgrade = (feature: string, level: number, upgradeType: number = UPGRADE) => ({
  feature,
  maxVersionLevel: level,
  upgradeType,
});

describe('finalized features (KIP-584)', () => {
  it('records an upgrade as a feature-level record that every image replaying the log applies', () => {
    const result = update(MetadataImage.empty, {
      validateOnly: false,
      updates: [upgrade('group.version', 1), upgrade('test.version', 3)],
    });
    expect(result.response).toEqual({
      changed: new Map([
        ['group.version', 1],
        ['test.version', 3],
      ]),
    });
    expect(result.records).toEqual([
      { type: 'featureLevel', name: 'group.version', level: 1 },
      { type: 'featureLevel', name: 'test.version', level: 3 },
    ]);
    // A broker decodes the committed batch and replays it.
    const replayed = decodeMetadataBatch(encodeMetadataBatch(result.records)).reduce((image, record) => {
      const batch = new ControllerBatch(image);
      batch.add(record);
      return batch.delta.apply();
    }, MetadataImage.empty);
    expect([...replayed.finalizedFeatures]).toEqual([
      ['group.version', 1],
      ['test.version', 3],
    ]);
    // Snapshots keep them.
    expect([...decodeImageSnapshot(encodeImageSnapshot(result.image)).finalizedFeatures]).toEqual([
      ['group.version', 1],
      ['test.version', 3],
    ]);
  });

  it('validateOnly checks and writes nothing', () => {
    const result = update(MetadataImage.empty, {
      validateOnly: true,
      updates: [upgrade('group.version', 1)],
    });
    expect(isErrorValue(result.response)).toBe(false);
    expect(result.records).toEqual([]);
    const refused = update(MetadataImage.empty, {
      validateOnly: true,
      updates: [upgrade('group.version', 2)],
    });
    expect(refused.response).toMatchObject({ errorCode: ControllerErrorCode.INVALID_UPDATE_VERSION });
  });

  it('refuses a level this software does not support, naming the supported range', () => {
    const result = update(MetadataImage.empty, {
      validateOnly: false,
      updates: [upgrade('test.version', 4)],
    });
    expect(result.response).toEqual({
      errorCode: ControllerErrorCode.INVALID_UPDATE_VERSION,
      errorMessage:
        'Invalid update version 4 for feature test.version. Local controller only supports versions 0-3.',
    });
    const unknown = update(MetadataImage.empty, { validateOnly: false, updates: [upgrade('no.such', 1)] });
    expect(unknown.response).toEqual({
      errorCode: ControllerErrorCode.INVALID_UPDATE_VERSION,
      errorMessage:
        'Invalid update version 1 for feature no.such. Local controller does not support this feature.',
    });
    const negative = update(MetadataImage.empty, {
      validateOnly: false,
      updates: [upgrade('test.version', -1)],
    });
    expect(negative.response).toMatchObject({
      errorMessage:
        'Invalid update version -1 for feature test.version. A feature version cannot be less than 0.',
    });
  });

  it('is all or nothing: one failing update leaves every feature as it was', () => {
    const result = update(MetadataImage.empty, {
      validateOnly: false,
      updates: [upgrade('group.version', 1), upgrade('test.version', 9)],
    });
    expect(result.response).toMatchObject({ errorCode: ControllerErrorCode.INVALID_UPDATE_VERSION });
    expect(result.records).toEqual([]);
  });

  it('needs a downgrade type to go down and the upgrade type to go up', () => {
    const at3 = update(MetadataImage.empty, {
      validateOnly: false,
      updates: [upgrade('test.version', 3)],
    }).image;
    const plain = update(at3, { validateOnly: false, updates: [upgrade('test.version', 1)] });
    expect(plain.response).toEqual({
      errorCode: ControllerErrorCode.INVALID_UPDATE_VERSION,
      errorMessage:
        "Invalid update version 1 for feature test.version. Can't downgrade the version of this feature without setting the upgrade type to either safe or unsafe downgrade.",
    });
    for (const downgradeType of [SAFE_DOWNGRADE, UNSAFE_DOWNGRADE]) {
      const down = update(at3, { validateOnly: false, updates: [upgrade('test.version', 1, downgradeType)] });
      expect(down.records).toEqual([{ type: 'featureLevel', name: 'test.version', level: 1 }]);
      expect(down.image.finalizedFeatureLevel('test.version')).toBe(1);
    }
    const upByDowngrade = update(at3, {
      validateOnly: false,
      updates: [upgrade('group.version', 1, SAFE_DOWNGRADE)],
    });
    expect(upByDowngrade.response).toMatchObject({
      errorMessage: "Invalid update version 1 for feature group.version. Can't downgrade to a newer version.",
    });
    const unknownType = update(at3, { validateOnly: false, updates: [upgrade('test.version', 2, 7)] });
    expect(unknownType.response).toMatchObject({
      errorMessage:
        'Invalid update version 2 for feature test.version. The controller does not support the given upgrade type.',
    });
  });

  it('disabling (level 0) removes the feature from the finalized set', () => {
    const on = update(MetadataImage.empty, {
      validateOnly: false,
      updates: [upgrade('group.version', 1)],
    }).image;
    const off = update(on, { validateOnly: false, updates: [upgrade('group.version', 0, SAFE_DOWNGRADE)] });
    expect(off.records).toEqual([{ type: 'featureLevel', name: 'group.version', level: 0 }]);
    expect(off.image.finalizedFeatures.has('group.version')).toBe(false);
    // Setting the level a feature already has writes nothing.
    const again = update(off.image, { validateOnly: false, updates: [upgrade('group.version', 0)] });
    expect(again.records).toEqual([]);
    expect(again.response).toEqual({ changed: new Map() });
  });

  it('refuses a feature named twice or an empty name', () => {
    const twice = update(MetadataImage.empty, {
      validateOnly: false,
      updates: [upgrade('test.version', 1), upgrade('test.version', 2)],
    });
    expect(twice.response).toMatchObject({ errorCode: ControllerErrorCode.INVALID_REQUEST });
    const empty = update(MetadataImage.empty, { validateOnly: false, updates: [upgrade('', 0)] });
    expect(empty.response).toMatchObject({ errorCode: ControllerErrorCode.INVALID_REQUEST });
  });

  it("Gregor's own table advertises only features with a level above 0, and refuses level 1 of each today", () => {
    expect(advertisedFeatures(supportedFeatures).map((feature) => feature.name)).toEqual(
      supportedFeatures.filter((feature) => feature.maxLevel > 0).map((feature) => feature.name),
    );
    for (const feature of supportedFeatures.filter((one) => one.maxLevel === 0)) {
      const result = update(
        MetadataImage.empty,
        { validateOnly: false, updates: [upgrade(feature.name, 1)] },
        supportedFeatures,
      );
      expect(result.response).toMatchObject({ errorCode: ControllerErrorCode.INVALID_UPDATE_VERSION });
    }
  });
});

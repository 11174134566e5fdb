import { InvariantViolation, SeededRandom } from '@gregor/ground';
import { describe, expect, it } from 'vitest';
import { Controller } from './controller.js';
import { applyRecord, applyRecords, MetadataImage } from './image.js';
import { metadataTree, redactedMarker } from './metadata-tree.js';
import { decodeMetadataRecord, encodeMetadataRecord } from './record-codec.js';
import { clusterSecretBytes, metadataRecordTypeIds } from './records.js';
import { decodeImageSnapshot, encodeImageSnapshot, imageToRecords } from './snapshot.js';

const secret = Buffer.alloc(clusterSecretBytes, 0xab);

function activate(image: MetadataImage, controllerEpoch: number, fill: number) {
  const drawn: number[] = [];
  const activation = Controller.activate({
    image,
    controllerId: 3000,
    controllerEpoch,
    clusterId: 'cluster-secret-test',
    nowMs: 0,
    metadataLogEndOffset: 0,
    random: new SeededRandom(1),
    secretBytes: (byteCount) => {
      drawn.push(byteCount);
      return Buffer.alloc(byteCount, fill);
    },
  });
  return { ...activation, drawn };
}

describe('the cluster secret', () => {
  it('encodes as its type id, version 0 and the secret bytes, and decodes back', () => {
    const bytes = encodeMetadataRecord({ type: 'clusterSecret', secret });
    expect(bytes[0]).toBe(metadataRecordTypeIds.clusterSecret);
    expect(bytes[1]).toBe(0);
    expect(bytes.length).toBe(2 + 1 + clusterSecretBytes);
    expect(decodeMetadataRecord(bytes)).toEqual({ type: 'clusterSecret', secret });
  });

  it('is written by the first activation, in the activation batch, and never again', () => {
    const first = activate(MetadataImage.empty, 1, 0x11);
    expect(first.records.map((record) => record.type)).toEqual([
      'controllerActivation',
      'featureLevel',
      'featureLevel',
      'clusterSecret',
    ]);
    expect(first.drawn).toEqual([clusterSecretBytes]);
    const committed = applyRecords(MetadataImage.empty, first.records);
    expect(committed.clusterSecret).toEqual(Buffer.alloc(clusterSecretBytes, 0x11));

    const second = activate(committed, 2, 0x22);
    expect(second.records.map((record) => record.type)).toEqual(['controllerActivation']);
    expect(second.drawn).toEqual([]);
    expect(applyRecords(committed, second.records).clusterSecret).toEqual(
      Buffer.alloc(clusterSecretBytes, 0x11),
    );
  });

  it('is added by a later activation of a cluster whose log has none (written before it existed)', () => {
    const old = applyRecord(MetadataImage.empty, {
      type: 'controllerActivation',
      controllerId: 3000,
      controllerEpoch: 4,
    });
    const sameEpoch = activate(old, 4, 0x33);
    expect(sameEpoch.records).toEqual([
      { type: 'clusterSecret', secret: Buffer.alloc(clusterSecretBytes, 0x33) },
    ]);
  });

  it("a new cluster's first activation finalizes group.version 1 and transaction.version 2 (as Kafka 4); later ones leave the levels alone", () => {
    const first = activate(MetadataImage.empty, 1, 0x11);
    expect(first.records.filter((record) => record.type === 'featureLevel')).toEqual([
      { type: 'featureLevel', name: 'group.version', level: 1 },
      { type: 'featureLevel', name: 'transaction.version', level: 2 },
    ]);
    // An operator turned it off: a new controller does not turn it on again.
    const committed = applyRecords(applyRecords(MetadataImage.empty, first.records), [
      { type: 'featureLevel', name: 'group.version', level: 0 },
    ]);
    const second = activate(committed, 2, 0x22);
    expect(second.records.filter((record) => record.type === 'featureLevel')).toEqual([]);
    expect(applyRecords(committed, second.records).finalizedFeatureLevel('group.version')).toBe(0);
    // Nor does the first activation after an upgrade of a cluster that predates features.
    const old = applyRecord(MetadataImage.empty, {
      type: 'controllerActivation',
      controllerId: 3000,
      controllerEpoch: 4,
    });
    expect(activate(old, 5, 0x33).records.filter((record) => record.type === 'featureLevel')).toEqual([]);
  });

  it('cannot be replaced, nor be of another length', () => {
    const image = applyRecord(MetadataImage.empty, { type: 'clusterSecret', secret });
    expect(() => applyRecord(image, { type: 'clusterSecret', secret: Buffer.alloc(32, 1) })).toThrow(
      InvariantViolation,
    );
    expect(() =>
      applyRecord(MetadataImage.empty, { type: 'clusterSecret', secret: Buffer.alloc(16) }),
    ).toThrow(InvariantViolation);
  });

  it('survives a snapshot, and is left out of the records given to tools', () => {
    const image = applyRecord(MetadataImage.empty, { type: 'clusterSecret', secret });
    expect(decodeImageSnapshot(encodeImageSnapshot(image)).clusterSecret).toEqual(secret);
    expect(imageToRecords(image, { secrets: 'omit' })).toEqual([]);
    expect(imageToRecords(image)).toEqual([{ type: 'clusterSecret', secret }]);
  });

  it('shows in the metadata shell as a redacted marker only', () => {
    const image = applyRecord(MetadataImage.empty, { type: 'clusterSecret', secret });
    const root = metadataTree(image, { clusterId: 'c', controllerId: null });
    expect(root.children.get('clusterSecret')?.data).toBe(redactedMarker);
    const everything = JSON.stringify(root, (_key, value) =>
      value instanceof Map ? Object.fromEntries(value) : value,
    );
    expect(everything).not.toContain(secret.toString('hex'));
    expect(everything).not.toContain(secret.toString('base64'));
    expect(
      metadataTree(MetadataImage.empty, { clusterId: 'c', controllerId: null }).children.has('clusterSecret'),
    ).toBe(false);
  });
});

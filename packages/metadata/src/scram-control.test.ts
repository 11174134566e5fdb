import { describe, expect, it } from 'vitest';
import { ControllerBatch } from './controller-batch.js';
import { ControllerErrorCode } from './errors.js';
import { applyRecords, MetadataImage } from './image.js';
import type { MetadataRecord } from './records.js';
import { ScramControlManager, type ScramCredentialUpsertion } from './scram-control.js';
import { decodeImageSnapshot, encodeImageSnapshot } from './snapshot.js';

const upsertion = (name: string, mechanism: number, iterations = 4096): ScramCredentialUpsertion => ({
  name,
  mechanism,
  iterations,
  salt: Buffer.from(`salt-${name}`),
  storedKey: Buffer.alloc(mechanism === 1 ? 32 : 64, `stored-${name}-${mechanism}`),
  serverKey: Buffer.alloc(mechanism === 1 ? 32 : 64, `server-${name}-${mechanism}`),
});

function alter(
  image: MetadataImage,
  request: Parameters<ScramControlManager['alterUserScramCredentials']>[1],
) {
  const batch = new ControllerBatch(image);
  const response = new ScramControlManager(() => image).alterUserScramCredentials(batch, request);
  return { response, records: batch.records as MetadataRecord[], image: batch.delta.apply() };
}

describe('SCRAM credentials in the metadata log', () => {
  it('refuses, with no record, a credential the image could not hold (as a fuzzed gRPC call sends)', () => {
    const cases: [ScramCredentialUpsertion, number, string][] = [
      [
        { ...upsertion('a', 2), iterations: -304_638_850 },
        ControllerErrorCode.UNACCEPTABLE_CREDENTIAL,
        'Too few',
      ],
      [{ ...upsertion('b', 2), iterations: 16_385 }, ControllerErrorCode.UNACCEPTABLE_CREDENTIAL, 'Too many'],
      [{ ...upsertion('c', 2), iterations: 4096.5 }, ControllerErrorCode.UNACCEPTABLE_CREDENTIAL, 'Too few'],
      [{ ...upsertion('d', 2), salt: Buffer.alloc(0) }, ControllerErrorCode.UNACCEPTABLE_CREDENTIAL, 'Salt'],
      [
        { ...upsertion('e', 2), storedKey: Buffer.alloc(32) },
        ControllerErrorCode.UNACCEPTABLE_CREDENTIAL,
        '64 bytes',
      ],
      [{ ...upsertion('f', 1), mechanism: 7 }, ControllerErrorCode.UNSUPPORTED_SASL_MECHANISM, 'Unknown'],
    ];
    for (const [bad, errorCode, message] of cases) {
      const outcome = alter(MetadataImage.empty, { deletions: [], upsertions: [bad] });
      expect(outcome.records).toEqual([]);
      expect(outcome.response.results).toEqual([
        { user: bad.name, errorCode, errorMessage: expect.stringContaining(message) },
      ]);
    }
  });

  it('stores upsertions, replaces them, deletes them, and survives a snapshot', () => {
    const first = alter(MetadataImage.empty, {
      deletions: [],
      upsertions: [upsertion('alice', 2), upsertion('alice', 1)],
    });
    expect(first.response.results).toEqual([{ user: 'alice', errorCode: 0, errorMessage: null }]);
    expect(first.records.map((record) => record.type)).toEqual([
      'userScramCredential',
      'userScramCredential',
    ]);
    expect([...first.image.userScramCredentials('alice').keys()].sort()).toEqual([1, 2]);

    const replaced = alter(first.image, { deletions: [], upsertions: [upsertion('alice', 2, 8192)] });
    expect(replaced.image.userScramCredentials('alice').get(2)!.iterations).toBe(8192);
    const restored = decodeImageSnapshot(encodeImageSnapshot(replaced.image));
    expect(restored.userScramCredentials('alice')).toEqual(replaced.image.userScramCredentials('alice'));

    const deleted = alter(replaced.image, {
      deletions: [
        { name: 'alice', mechanism: 1 },
        { name: 'alice', mechanism: 2 },
      ],
      upsertions: [],
    });
    expect(deleted.response.results).toEqual([{ user: 'alice', errorCode: 0, errorMessage: null }]);
    expect(deleted.image.scramCredentials.size).toBe(0);
  });

  it("refuses, per user and all or nothing, Kafka's cases", () => {
    const image = applyRecords(MetadataImage.empty, [
      { type: 'userScramCredential', ...upsertion('bob', 1) },
    ]);
    const outcome = alter(image, {
      deletions: [
        { name: 'carol', mechanism: 1 },
        { name: 'bob', mechanism: 1 },
      ],
      upsertions: [upsertion('bob', 1), upsertion('carol', 2), upsertion('dave', 2), upsertion('', 2)],
    });
    expect(outcome.response.results).toEqual([
      {
        user: 'carol',
        errorCode: ControllerErrorCode.RESOURCE_NOT_FOUND,
        errorMessage: 'Attempt to delete a user credential that does not exist',
      },
      {
        user: 'bob',
        errorCode: ControllerErrorCode.DUPLICATE_RESOURCE,
        errorMessage: 'A user credential cannot be altered twice in the same request',
      },
      { user: 'dave', errorCode: 0, errorMessage: null },
      {
        user: '',
        errorCode: ControllerErrorCode.UNACCEPTABLE_CREDENTIAL,
        errorMessage: 'Username must not be empty',
      },
    ]);
    expect(outcome.records).toEqual([{ type: 'userScramCredential', ...upsertion('dave', 2) }]);
  });
});

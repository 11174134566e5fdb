import { DecodeError } from '@gregor/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeMetadataBatch,
  decodeMetadataRecord,
  encodeMetadataBatch,
  encodeMetadataRecord,
  metadataRecordVersion,
} from './record-codec.js';
import { metadataRecordTypeIds } from './records.js';
import { metadataRecordArb } from './testing/record-arbitraries.js';

describe('metadata record codec', () => {
  it('round-trips every record type', () => {
    fc.assert(
      fc.property(metadataRecordArb, (record) => {
        expect(decodeMetadataRecord(encodeMetadataRecord(record))).toEqual(record);
      }),
      { numRuns: 2000 },
    );
  });

  it('round-trips batches', () => {
    fc.assert(
      fc.property(fc.array(metadataRecordArb, { minLength: 1, maxLength: 20 }), (records) => {
        expect(decodeMetadataBatch(encodeMetadataBatch(records))).toEqual(records);
      }),
    );
  });

  it('starts each record with its type id and version byte', () => {
    const bytes = encodeMetadataRecord({ type: 'removeTopic', topicId: 'AAAAAAAAAAAAAAAAAAAAAQ' });
    expect(bytes[0]).toBe(metadataRecordTypeIds.removeTopic);
    expect(bytes[1]).toBe(metadataRecordVersion);
    expect(bytes.length).toBe(2 + 16);
  });

  it('writes partition records at version 0 unless they carry a reassignment (version 1)', () => {
    const partition = {
      type: 'partition' as const,
      topicId: 'AAAAAAAAAAAAAAAAAAAAAQ',
      partitionIndex: 0,
      replicas: [1, 2],
      isr: [1, 2],
      leader: 1,
      leaderEpoch: 0,
      partitionEpoch: 0,
    };
    const plain = encodeMetadataRecord(partition);
    expect(plain[1]).toBe(0);
    const moving = encodeMetadataRecord({ ...partition, addingReplicas: [3], removingReplicas: [1] });
    expect(moving[1]).toBe(1);
    expect(moving.subarray(2, plain.length)).toEqual(plain.subarray(2));
    const change = {
      type: 'partitionChange' as const,
      topicId: partition.topicId,
      partitionIndex: 0,
      leader: 2,
      isr: null,
    };
    expect(encodeMetadataRecord(change)[1]).toBe(0);
    expect(
      encodeMetadataRecord({ ...change, replicas: [2, 3], addingReplicas: [], removingReplicas: [] })[1],
    ).toBe(1);
    // Other record types know no version 1.
    const fence = encodeMetadataRecord({ type: 'fenceBroker', brokerId: 1, brokerEpoch: 7 });
    fence[1] = 1;
    expect(() => decodeMetadataRecord(fence)).toThrow(DecodeError);
  });

  it('refuses unknown types, unknown versions, truncation and trailing bytes with DecodeError', () => {
    const good = encodeMetadataRecord({ type: 'fenceBroker', brokerId: 1, brokerEpoch: 7 });
    const unknownType = Buffer.from(good);
    unknownType[0] = 99;
    const unknownVersion = Buffer.from(good);
    unknownVersion[1] = 2;
    expect(() => decodeMetadataRecord(unknownType)).toThrow(DecodeError);
    expect(() => decodeMetadataRecord(unknownVersion)).toThrow(DecodeError);
    expect(() => decodeMetadataRecord(good.subarray(0, good.length - 1))).toThrow(DecodeError);
    expect(() => decodeMetadataRecord(Buffer.concat([good, Buffer.of(0)]))).toThrow(DecodeError);
  });

  it('never throws anything but DecodeError on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          decodeMetadataBatch(Buffer.from(bytes));
        } catch (error) {
          expect(error).toBeInstanceOf(DecodeError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

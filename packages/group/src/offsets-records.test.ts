import { DecodeError } from '@gregor/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeGroupMetadataValue,
  decodeOffsetCommitValue,
  decodeOffsetsKey,
  decodeOffsetsRecord,
  encodeGroupMetadataValue,
  encodeOffsetCommitValue,
  encodeOffsetsKey,
  type GroupMetadataValue,
  groupMetadataRecord,
  type OffsetCommitValue,
  offsetCommitRecord,
} from './offsets-records.js';

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ''), 'hex');
const ascii = (text: string): string => Buffer.from(text, 'ascii').toString('hex');

describe('hand-assembled bytes, field by field from the Kafka JSON specs', () => {
  it('OffsetCommitKey: version 1, group, topic, partition', () => {
    const bytes = hex(`0001  0001 ${ascii('g')}  0001 ${ascii('t')}  00000003`);
    expect(encodeOffsetsKey({ kind: 'offsetCommit', group: 'g', topic: 't', partition: 3 })).toEqual(bytes);
    expect(decodeOffsetsKey(bytes)).toEqual({ kind: 'offsetCommit', group: 'g', topic: 't', partition: 3 });
    // Version 0 has the same layout and is still read.
    expect(decodeOffsetsKey(hex(`0000  0001 ${ascii('g')}  0001 ${ascii('t')}  00000003`))).toEqual({
      kind: 'offsetCommit',
      group: 'g',
      topic: 't',
      partition: 3,
    });
  });

  it('GroupMetadataKey: version 2, group', () => {
    const bytes = hex(`0002  0005 ${ascii('group')}`);
    expect(encodeOffsetsKey({ kind: 'groupMetadata', group: 'group' })).toEqual(bytes);
    expect(decodeOffsetsKey(bytes)).toEqual({ kind: 'groupMetadata', group: 'group' });
  });

  it('OffsetCommitValue v3: offset, leader epoch, metadata, commit timestamp', () => {
    const bytes = hex(`0003  000000000000002a  00000007  0001 ${ascii('m')}  00000000000003e8`);
    const value: OffsetCommitValue = {
      offset: 42n,
      leaderEpoch: 7,
      metadata: 'm',
      commitTimestampMs: 1000,
      expireTimestampMs: -1,
    };
    expect(encodeOffsetCommitValue(value)).toEqual(bytes);
    expect(decodeOffsetCommitValue(bytes)).toEqual(value);
  });

  it('OffsetCommitValue v1 (what Kafka writes when the commit expires): offset, metadata, commit, expire', () => {
    const bytes = hex('0001  000000000000002a  0000  00000000000003e8  00000000000007d0');
    const value: OffsetCommitValue = {
      offset: 42n,
      leaderEpoch: -1,
      metadata: '',
      commitTimestampMs: 1000,
      expireTimestampMs: 2000,
    };
    expect(encodeOffsetCommitValue(value)).toEqual(bytes);
    expect(decodeOffsetCommitValue(bytes)).toEqual(value);
  });

  it('GroupMetadataValue v3 with one static member', () => {
    const bytes = hex(
      `0003  0008 ${ascii('consumer')}  00000001  0005 ${ascii('range')}  0002 ${ascii('m1')}  0000000000001388
       00000001
         0002 ${ascii('m1')}  0002 ${ascii('i1')}  0001 ${ascii('c')}  0001 ${ascii('h')}
         000493e0  00002710  00000002 0102  00000001 03`,
    );
    const value: GroupMetadataValue = {
      protocolType: 'consumer',
      generation: 1,
      protocol: 'range',
      leader: 'm1',
      currentStateTimestampMs: 5000,
      members: [
        {
          memberId: 'm1',
          groupInstanceId: 'i1',
          clientId: 'c',
          clientHost: 'h',
          rebalanceTimeoutMs: 300000,
          sessionTimeoutMs: 10000,
          subscription: Buffer.from([1, 2]),
          assignment: Buffer.from([3]),
        },
      ],
    };
    expect(encodeGroupMetadataValue(value)).toEqual(bytes);
    expect(decodeGroupMetadataValue(bytes)).toEqual(value);
  });

  it('GroupMetadataValue v3 of an Empty group: null protocol and leader, no members', () => {
    const bytes = hex(`0003  0008 ${ascii('consumer')}  00000004  ffff  ffff  0000000000000064  00000000`);
    const value: GroupMetadataValue = {
      protocolType: 'consumer',
      generation: 4,
      protocol: null,
      leader: null,
      currentStateTimestampMs: 100,
      members: [],
    };
    expect(encodeGroupMetadataValue(value)).toEqual(bytes);
    expect(decodeGroupMetadataValue(bytes)).toEqual(value);
  });

  it('GroupMetadataValue v0 has no rebalance timeout: it reads back as the session timeout', () => {
    const bytes = hex(
      `0000  0001 ${ascii('x')}  00000002  0001 ${ascii('p')}  0001 ${ascii('m')}
       00000001  0001 ${ascii('m')}  0001 ${ascii('c')}  0001 ${ascii('h')}  00001770  00000000  00000000`,
    );
    expect(decodeGroupMetadataValue(bytes).members[0]).toMatchObject({
      rebalanceTimeoutMs: 6000,
      sessionTimeoutMs: 6000,
    });
  });
});

describe('records and tombstones', () => {
  it('decodes a commit, a group and their tombstones', () => {
    const value: OffsetCommitValue = {
      offset: 5n,
      leaderEpoch: -1,
      metadata: '',
      commitTimestampMs: 1,
      expireTimestampMs: -1,
    };
    expect(decodeOffsetsRecord(offsetCommitRecord('g', 't', 0, value))).toEqual({
      kind: 'offsetCommit',
      group: 'g',
      topic: 't',
      partition: 0,
      value,
    });
    expect(decodeOffsetsRecord(offsetCommitRecord('g', 't', 0, null))).toEqual({
      kind: 'offsetCommit',
      group: 'g',
      topic: 't',
      partition: 0,
      value: null,
    });
    expect(decodeOffsetsRecord(groupMetadataRecord('g', null))).toEqual({
      kind: 'groupMetadata',
      group: 'g',
      value: null,
    });
    expect(groupMetadataRecord('g', null)[1]).toBeNull();
  });

  it('reports record types it does not handle instead of guessing, and rejects garbage', () => {
    expect(decodeOffsetsRecord([hex('0003 0001 67'), hex('00')])).toEqual({ kind: 'unknown', keyVersion: 3 });
    expect(() => decodeOffsetsKey(hex('ffff'))).toThrow(DecodeError);
    expect(() => decodeOffsetsKey(hex('0002 0005 6162'))).toThrow(DecodeError);
    expect(() => decodeOffsetCommitValue(hex('0009 00'))).toThrow(DecodeError);
    expect(() =>
      decodeGroupMetadataValue(
        hex(`0003 0001 ${ascii('x')} 00000001 ffff ffff 0000000000000000 00000000 00`),
      ),
    ).toThrow(DecodeError);
  });
});

const int32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const timestamp = fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }));
const text = fc.string({ maxLength: 40 });
const bytes = fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b));

const offsetValueArb = fc.record({
  offset: fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }),
  leaderEpoch: int32,
  metadata: text,
  commitTimestampMs: timestamp,
  expireTimestampMs: timestamp,
});

const groupValueArb = fc.record({
  protocolType: text,
  generation: int32,
  protocol: fc.option(text, { nil: null }),
  leader: fc.option(text, { nil: null }),
  currentStateTimestampMs: timestamp,
  members: fc.array(
    fc.record({
      memberId: text,
      groupInstanceId: fc.option(text, { nil: null }),
      clientId: text,
      clientHost: text,
      rebalanceTimeoutMs: int32,
      sessionTimeoutMs: int32,
      subscription: bytes,
      assignment: bytes,
    }),
    { maxLength: 4 },
  ),
});

describe('round trips at every version', () => {
  it('OffsetCommitValue keeps what its version stores and defaults the rest', () => {
    fc.assert(
      fc.property(offsetValueArb, fc.integer({ min: 0, max: 4 }), (value, version) => {
        const decoded = decodeOffsetCommitValue(encodeOffsetCommitValue(value, version));
        expect(decoded).toEqual({
          ...value,
          leaderEpoch: version >= 3 ? value.leaderEpoch : -1,
          expireTimestampMs: version === 1 ? value.expireTimestampMs : -1,
        });
      }),
    );
  });

  it('OffsetCommitValue picks v1 exactly when the commit has an expire timestamp, as Kafka does', () => {
    fc.assert(
      fc.property(offsetValueArb, (value) => {
        const version = encodeOffsetCommitValue(value).readInt16BE(0);
        expect(version).toBe(value.expireTimestampMs === -1 ? 3 : 1);
      }),
    );
  });

  it('GroupMetadataValue keeps what its version stores and defaults the rest', () => {
    fc.assert(
      fc.property(groupValueArb, fc.integer({ min: 0, max: 4 }), (value, version) => {
        const decoded = decodeGroupMetadataValue(encodeGroupMetadataValue(value, version));
        expect(decoded).toEqual({
          ...value,
          currentStateTimestampMs: version >= 2 ? value.currentStateTimestampMs : -1,
          members: value.members.map((m) => ({
            ...m,
            groupInstanceId: version >= 3 ? m.groupInstanceId : null,
            rebalanceTimeoutMs: version >= 1 ? m.rebalanceTimeoutMs : m.sessionTimeoutMs,
          })),
        });
      }),
    );
  });

  it('keys round-trip', () => {
    fc.assert(
      fc.property(text, text, int32, (group, topic, partition) => {
        expect(decodeOffsetsKey(encodeOffsetsKey({ kind: 'offsetCommit', group, topic, partition }))).toEqual(
          {
            kind: 'offsetCommit',
            group,
            topic,
            partition,
          },
        );
        expect(decodeOffsetsKey(encodeOffsetsKey({ kind: 'groupMetadata', group }))).toEqual({
          kind: 'groupMetadata',
          group,
        });
      }),
    );
  });
});

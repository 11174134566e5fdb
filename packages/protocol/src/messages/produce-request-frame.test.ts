import { describe, expect, it } from 'vitest';
import { ApiKey } from './api-keys.js';
import { encodeRequest } from './frames.js';
import { produceRequestFrameSegments, producesFrameSegments } from './produce-request-frame.js';
import type { RequestInput } from './registry.js';

const bytes = (length: number, fill: number) => Buffer.alloc(length, fill);

const bodies: RequestInput<typeof ApiKey.Produce>[] = [
  { transactionalId: null, acks: -1, timeoutMs: 30_000, topics: [] },
  {
    transactionalId: 'txn-é',
    acks: 1,
    timeoutMs: 5_000,
    topics: [
      {
        name: 'orders',
        topicId: '0123456789abcdef0123456789abcdef',
        partitions: [
          { partitionIndex: 0, records: bytes(10_000, 1) },
          { partitionIndex: 2, records: bytes(100, 2) },
          { partitionIndex: 1, records: null },
          { partitionIndex: 3, records: bytes(4096, 3) },
        ],
      },
      {
        name: 'payments',
        topicId: 'ffeeddccbbaa99887766554433221100',
        partitions: [{ partitionIndex: 7, records: bytes(70_000, 4) }],
      },
      { name: 'empty', topicId: '00000000000000000000000000000001', partitions: [] },
    ],
  },
];

describe('produceRequestFrameSegments', () => {
  it('gives the bytes encodeRequest gives, for v3 to v13 (flexible from v9, topic ids at v13)', () => {
    for (let version = 3; version <= 13; version++) {
      for (const body of bodies) {
        for (const clientId of ['gregor', null]) {
          const segments = produceRequestFrameSegments(version, 12_345, clientId, body);
          const expected = encodeRequest(ApiKey.Produce, version, 12_345, clientId, body, {
            sizePrefix: true,
          });
          // Buffer.equals: toEqual walks a large buffer byte by byte.
          expect(Buffer.concat(segments).equals(expected)).toBe(true);
        }
      }
    }
  });

  it('references large record batches instead of copying them, and copies small ones', () => {
    const body = bodies[1]!;
    for (const version of [8, 13]) {
      const segments = produceRequestFrameSegments(version, 1, 'gregor', body);
      const large = [
        body.topics[0]!.partitions[0]!.records,
        body.topics[0]!.partitions[3]!.records,
        body.topics[1]!.partitions[0]!.records,
      ];
      for (const batch of large) expect(segments).toContain(batch);
      expect(segments).not.toContain(body.topics[0]!.partitions[1]!.records);
    }
  });

  it('writes versions 3 to 13 only', () => {
    expect(producesFrameSegments(2)).toBe(false);
    expect(producesFrameSegments(13)).toBe(true);
    expect(producesFrameSegments(14)).toBe(false);
    expect(() => produceRequestFrameSegments(14, 1, 'gregor', bodies[0]!)).toThrow(/v14/);
  });

  it('names topics by id at v13: the 16 bytes of the id where v12 has the compact name', () => {
    const body: RequestInput<typeof ApiKey.Produce> = {
      transactionalId: null,
      acks: 1,
      timeoutMs: 1000,
      topics: [{ name: 'ab', topicId: '0123456789abcdef0123456789abcdef', partitions: [] }],
    };
    const header = 4 + 2 + 2 + 4 + 2 + 'g'.length + 1;
    // transactional_id (compact null), acks, timeout, topics count (1 + 1)
    const bodyStart = header + 1 + 2 + 4 + 1;
    const v12 = Buffer.concat(produceRequestFrameSegments(12, 1, 'g', body));
    const v13 = Buffer.concat(produceRequestFrameSegments(13, 1, 'g', body));
    expect(v12.subarray(bodyStart, bodyStart + 3)).toEqual(Buffer.from([3, 0x61, 0x62]));
    expect(v13.subarray(bodyStart, bodyStart + 16).toString('hex')).toBe('0123456789abcdef0123456789abcdef');
    // partitions (empty: 1), the topic's tagged fields, the body's tagged fields
    expect([...v13.subarray(bodyStart + 16)]).toEqual([1, 0, 0]);
    expect(v13.readInt32BE(0)).toBe(v13.length - 4);
  });
});

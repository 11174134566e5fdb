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
        partitions: [
          { partitionIndex: 0, records: bytes(10_000, 1) },
          { partitionIndex: 2, records: bytes(100, 2) },
          { partitionIndex: 1, records: null },
          { partitionIndex: 3, records: bytes(4096, 3) },
        ],
      },
      { name: 'payments', partitions: [{ partitionIndex: 7, records: bytes(70_000, 4) }] },
      { name: 'empty', partitions: [] },
    ],
  },
];

describe('produceRequestFrameSegments', () => {
  it('gives the bytes encodeRequest gives, for v3 to v8', () => {
    for (let version = 3; version <= 8; version++) {
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
    const segments = produceRequestFrameSegments(8, 1, 'gregor', body);
    const large = [
      body.topics[0]!.partitions[0]!.records,
      body.topics[0]!.partitions[3]!.records,
      body.topics[1]!.partitions[0]!.records,
    ];
    for (const batch of large) expect(segments).toContain(batch);
    expect(segments).not.toContain(body.topics[0]!.partitions[1]!.records);
  });

  it('writes only the non-flexible versions 3 to 8', () => {
    expect(producesFrameSegments(2)).toBe(false);
    expect(producesFrameSegments(9)).toBe(false);
    expect(() => produceRequestFrameSegments(9, 1, 'gregor', bodies[0]!)).toThrow(/v9/);
  });
});

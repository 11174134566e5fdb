import { describe, expect, it } from 'vitest';
import { ApiKey } from './api-keys.js';
import { decodeRequest, encodeRequest } from './frames.js';
import { zeroUuid } from './schema.js';

/**
 * A Produce v8 request with one partition holding `recordsBytes` bytes of (opaque) records; its topic
 * id (a v13 field) is the zero uuid that decoding a v8 request gives.
 */
function produce(recordsBytes: number) {
  return {
    transactionalId: null,
    acks: 1,
    timeoutMs: 30_000,
    topics: [
      {
        name: 'orders',
        topicId: zeroUuid,
        partitions: [{ partitionIndex: 2, records: Buffer.alloc(recordsBytes, 7) }],
      },
    ],
  };
}

describe('encodeRequest buffers', () => {
  it('with a size hint, writes a big frame into the hinted buffer and hands that buffer over', () => {
    const body = produce(100_000);
    const hint = 100_000 + 512;
    const frame = encodeRequest(ApiKey.Produce, 8, 9, 'client', body, {
      sizePrefix: true,
      sizeHintBytes: hint,
    });
    expect(frame.buffer.byteLength).toBe(hint);
    expect(frame.readInt32BE(0)).toBe(frame.length - 4);
    const decoded = decodeRequest(frame.subarray(4));
    expect(decoded.ok && decoded.body).toEqual(body);
  });

  it('without one, copies a frame that would keep much unused memory', () => {
    // The writer doubles past 100 000 bytes to 131 072: the frame gets a buffer of its own size.
    const frame = encodeRequest(ApiKey.Produce, 8, 9, 'client', produce(100_000), { sizePrefix: true });
    expect(frame.buffer.byteLength - frame.length).toBeLessThanOrEqual(4096);
    expect(frame.readInt32BE(0)).toBe(frame.length - 4);
  });
});

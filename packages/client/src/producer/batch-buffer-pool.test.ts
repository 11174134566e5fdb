import { decodeRecordBatch } from '@gregor/protocol';
import { describe, expect, it } from 'vitest';
import { BatchBufferPool, pooledBatchBytesMin } from './batch-buffer-pool.js';
import { ProducerBatch, type RecordOwner } from './producer-batch.js';

const owner: RecordOwner = { acknowledge: () => undefined, fail: () => undefined };

/** A batch of `count` records of `bytes` bytes, values "<letter><index>..." */
function batchOf(count: number, bytes: number, letter: string): ProducerBatch {
  const batch = new ProducerBatch('events', 0, 1, 0, 0);
  for (let index = 0; index < count; index++) {
    const value = Buffer.from(`${letter}${index}`.padEnd(bytes, letter));
    batch.append({ key: null, value, timestamp: 1_700_000_000_000 + index }, bytes + 21, owner);
  }
  return batch;
}

const values = (encoded: Buffer) =>
  decodeRecordBatch(encoded).records.map((record) => record.value!.toString());

describe('BatchBufferPool', () => {
  it('pools only batches of 16 KiB or more, and reuses a given-back buffer for a batch of about its size', () => {
    const pool = new BatchBufferPool();
    expect(pool.take(pooledBatchBytesMin - 1)).toBeUndefined();
    const buffer = pool.take(200_000)!;
    expect(buffer.length).toBeGreaterThanOrEqual(200_000);
    pool.give(buffer);
    expect(pool.pooledBytes).toBe(buffer.length);
    // Not for a batch so small that it would hold more than twice its bytes (and a step) in flight,
    // nor one larger than the buffer.
    expect(pool.take(20_000)).not.toBe(buffer);
    expect(pool.take(buffer.length + 1)).not.toBe(buffer);
    expect(pool.take(150_000)).toBe(buffer);
    expect(pool.pooledBytes).toBe(0);
  });

  it('keeps free buffers only up to its bound', () => {
    const pool = new BatchBufferPool(100_000);
    const first = pool.take(60_000)!;
    const second = pool.take(60_000)!;
    pool.give(first);
    pool.give(second);
    expect(pool.pooledBytes).toBe(first.length);
  });
});

describe('ProducerBatch encodings in pooled buffers', () => {
  it('encodes into a pooled buffer over the bytes a previous batch left there, and gives it back once', () => {
    const pool = new BatchBufferPool();
    const first = batchOf(40, 1_000, 'a');
    first.attempts = 1;
    const firstEncoded = first.encode(pool);
    expect(values(firstEncoded)).toHaveLength(40);
    first.recycleEncoding();
    expect(pool.pooledBytes).toBeGreaterThan(0);
    // Fewer, shorter records into the same buffer: what is left of the first must not show.
    const second = batchOf(35, 990, 'b');
    const secondEncoded = second.encode(pool);
    expect(secondEncoded.buffer).toBe(firstEncoded.buffer);
    expect(pool.pooledBytes).toBe(0);
    expect(values(secondEncoded)).toEqual(Array.from({ length: 35 }, (_, i) => `b${i}`.padEnd(990, 'b')));
    expect(secondEncoded.equals(batchOf(35, 990, 'b').encode())).toBe(true);
  });

  it('does not give back the buffer of a batch sent more than once, or one encoded again since', () => {
    const pool = new BatchBufferPool();
    const resent = batchOf(40, 1_000, 'a');
    resent.encode(pool);
    resent.attempts = 2;
    resent.recycleEncoding();
    expect(pool.pooledBytes).toBe(0);

    const reencoded = batchOf(40, 1_000, 'a');
    const before = reencoded.encode(pool);
    reencoded.attempts = 1;
    // A new sequence: encoded again into a buffer of its own; the old one may still be on its way out.
    reencoded.assignSequence(7n, 0, 40, false);
    const after = reencoded.encode();
    expect(after.buffer).not.toBe(before.buffer);
    reencoded.recycleEncoding();
    expect(pool.pooledBytes).toBe(0);
  });
});

import { describe, expect, it } from 'vitest';
import type { PartitionMetadata } from '../cluster.js';
import { createDefaultPartitioner, murmur2, murmur2Partition } from './partitioners.js';

describe('murmur2', () => {
  // The expected values are Apache Kafka's UtilsTest.testMurmur2.
  it.each([
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ])('hashes %s as the Java client does', (key, expected) => {
    expect(murmur2(Buffer.from(key))).toBe(expected);
  });

  it('maps a negative hash with toPositive, not Math.abs', () => {
    // murmur2('21') is negative: Math.abs would give 973932308 % 7 = 4, toPositive gives 3.
    expect(murmur2Partition('21', 7)).toBe((-973932308 & 0x7fffffff) % 7);
    expect(murmur2Partition('21', 7)).not.toBe(973932308 % 7);
  });
});

function partitions(count: number): PartitionMetadata[] {
  return Array.from({ length: count }, (_, partitionId) => ({
    partitionErrorCode: 0,
    partitionId,
    leader: 1,
    leaderEpoch: 0,
    replicas: [1],
    isr: [1],
    offlineReplicas: [],
  }));
}

describe('default partitioner', () => {
  it('puts keyed records where murmur2 says and honours an explicit partition', () => {
    const partitioner = createDefaultPartitioner();
    const partitionMetadata = partitions(12);
    expect(partitioner({ topic: 't', partitionMetadata, message: { key: 'foobar', value: 'x' } })).toBe(
      murmur2Partition('foobar', 12),
    );
    expect(
      partitioner({ topic: 't', partitionMetadata, message: { key: 'k', value: 'x', partition: 5 } }),
    ).toBe(5);
  });

  it('sticks keyless records to one partition until a batch of bytes went there, then moves', () => {
    const partitioner = createDefaultPartitioner(1000);
    const partitionMetadata = partitions(4);
    const picked = Array.from({ length: 30 }, () =>
      partitioner({ topic: 't', partitionMetadata, message: { value: Buffer.alloc(100) } }),
    );
    // 100 bytes each: ten records per partition before it changes.
    for (let start = 0; start < 30; start += 10) {
      expect(new Set(picked.slice(start, start + 10)).size).toBe(1);
    }
    expect(picked[10]).not.toBe(picked[9]);
    expect(picked[20]).not.toBe(picked[19]);
  });
});

describe('default partitioner with partition load (KIP-794 adaptive)', () => {
  /** A seeded linear congruential generator: the same picks on every run. */
  function seededRandom(seed: number): () => number {
    let state = seed;
    return () => {
      state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
      return state / 2 ** 32;
    };
  }

  function shares(load: ((topic: string, partition: number) => number) | undefined): number[] {
    // 100 bytes per sticky partition and records of 100 bytes: every record moves on.
    const partitioner = createDefaultPartitioner(100, seededRandom(16), load);
    const partitionMetadata = partitions(3);
    const counts = [0, 0, 0];
    const switches = 3_000;
    for (let record = 0; record < switches; record++) {
      counts[partitioner({ topic: 't', partitionMetadata, message: { value: Buffer.alloc(100) } })]! += 1;
    }
    return counts.map((count) => count / switches);
  }

  it('moves keyless records away from a partition with more batches buffered or in flight', () => {
    // Partition 0 has 4 batches behind it, the others none: weights 1 : 5 : 5 among the choices.
    const loaded = shares((_topic, partition) => (partition === 0 ? 4 : 0));
    expect(loaded[0]).toBeLessThan(0.2);
    expect(loaded[1]).toBeGreaterThan(0.4);
    expect(loaded[2]).toBeGreaterThan(0.4);
  });

  it('picks uniformly among the other partitions when the loads are equal or unknown', () => {
    for (const load of [undefined, () => 2]) {
      for (const share of shares(load)) {
        expect(share).toBeGreaterThan(0.3);
        expect(share).toBeLessThan(0.37);
      }
    }
  });
});

import { InvariantViolation } from '@gregor/ground';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { coordinatorPartitionFor, javaStringHashCode, kafkaUtilsAbs } from './java-hash.js';

// Printed by a JVM (openjdk, `String.hashCode()` and Kafka's `Utils.abs(h) % 50`).
const javaVectors: [string, number, number][] = [
  ['', 0, 0],
  ['hello', 99162322, 22],
  ['polygenelubricants', -2147483648, 0],
  ['GydZG_', -2147483648, 0],
  ['a', 97, 47],
  ['Aa', 2112, 12],
  ['BB', 2112, 12],
  ['console-consumer-12345', 158455506, 6],
  ['my-group', -1906497762, 12],
  ['\u{1F600}', 1772899, 49],
  ['groupé', -1237460406, 6],
  ['test-group-42', -559024281, 31],
  ['kafka', 101807910, 10],
];

/** The definition, in exact integer arithmetic: sum of s[i]·31^(n-1-i), reduced to a signed int32. */
function referenceHash(value: string): number {
  let hash = 0n;
  for (let i = 0; i < value.length; i++) hash = hash * 31n + BigInt(value.charCodeAt(i));
  return Number(BigInt.asIntN(32, hash));
}

describe('javaStringHashCode', () => {
  it.each(javaVectors)('hashes %j as Java does', (value, hash) => {
    expect(javaStringHashCode(value)).toBe(hash);
  });

  it('agrees with the exact-arithmetic definition on any UTF-16 string, lone surrogates included', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 64 }), (value) => {
        expect(javaStringHashCode(value)).toBe(referenceHash(value));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('coordinatorPartitionFor', () => {
  it.each(javaVectors)('puts %j in Kafka’s partition of 50', (value, _hash, partition) => {
    expect(coordinatorPartitionFor(value, 50)).toBe(partition);
  });

  it('maps Integer.MIN_VALUE to 0 as Kafka’s Utils.abs does, not to a negative partition', () => {
    expect(kafkaUtilsAbs(-2147483648)).toBe(0);
    expect(kafkaUtilsAbs(-5)).toBe(5);
    expect(coordinatorPartitionFor('polygenelubricants', 7)).toBe(0);
  });

  it('always lands inside [0, n)', () => {
    fc.assert(
      fc.property(fc.string(), fc.integer({ min: 1, max: 1000 }), (groupId, n) => {
        const partition = coordinatorPartitionFor(groupId, n);
        expect(Number.isInteger(partition) && partition >= 0 && partition < n).toBe(true);
      }),
    );
  });

  it('refuses a partition count that is not a positive integer', () => {
    expect(() => coordinatorPartitionFor('g', 0)).toThrow(InvariantViolation);
    expect(() => coordinatorPartitionFor('g', 1.5)).toThrow(InvariantViolation);
  });
});

// Which `__consumer_offsets` partition coordinates a group. Kafka computes it as
// `Utils.abs(groupId.hashCode()) % offsets.topic.num.partitions`; clients never compute it themselves
// (they ask FindCoordinator), but brokers must agree with each other and with Kafka so that a
// `__consumer_offsets` log written by one is read back by the right coordinator.

import { invariant } from '@gregor/ground';

const int32Min = -0x80000000;

/**
 * Java's `String.hashCode()`: `s[0]*31^(n-1) + ... + s[n-1]` over UTF-16 code units, in 32-bit
 * two's-complement arithmetic. JavaScript strings are UTF-16 too, so `charCodeAt` gives the same units
 * Java sees, surrogate halves included.
 */
export function javaStringHashCode(value: string): number {
  let hash = 0;
  for (let i = 0; i < value.length; i++) {
    hash = (Math.imul(31, hash) + value.charCodeAt(i)) | 0;
  }
  return hash;
}

/**
 * Kafka's `Utils.abs`: `Math.abs` except that `Integer.MIN_VALUE`, whose absolute value does not fit
 * in an int, maps to 0 (Java's own `Math.abs(MIN_VALUE)` stays negative).
 */
export function kafkaUtilsAbs(value: number): number {
  invariant(Number.isInteger(value) && value >= int32Min && value <= 0x7fffffff, `not an int32: ${value}`);
  return value === int32Min ? 0 : Math.abs(value);
}

/** The `__consumer_offsets` partition whose leader coordinates `groupId`. */
export function coordinatorPartitionFor(groupId: string, offsetsPartitionCount: number): number {
  invariant(
    Number.isInteger(offsetsPartitionCount) && offsetsPartitionCount > 0,
    `offsets topic partition count must be a positive integer, got ${offsetsPartitionCount}`,
  );
  return kafkaUtilsAbs(javaStringHashCode(groupId)) % offsetsPartitionCount;
}

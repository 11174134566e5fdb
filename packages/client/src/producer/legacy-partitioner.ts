// kafkajs's LegacyPartitioner (its default before 2.0), for code that must keep putting keys where
// kafkajs 1.x put them: kafkajs's own murmur2 port, whose JavaScript arithmetic (float products,
// not 32-bit ones) gives other hashes than Java's for most keys; keyless records round robin over
// the partitions that have a leader.

import type { Partitioner } from './partitioners.js';

const seed = 0x9747b28c;
const m = 0x5bd1e995;
const r = 24;

/** kafkajs's legacy murmur2, operation for operation (the overflow behaviour is the point). */
export function legacyMurmur2(key: Buffer | string): number {
  const data = Buffer.isBuffer(key) ? key : Buffer.from(String(key));
  const length = data.length;
  let h = seed ^ length;
  // A fractional bound, as kafkajs has it: the loop runs ceil(length / 4) times.
  const length4 = length / 4;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k =
      (data[i4]! & 0xff) +
      ((data[i4 + 1]! & 0xff) << 8) +
      ((data[i4 + 2]! & 0xff) << 16) +
      ((data[i4 + 3]! & 0xff) << 24);
    k *= m;
    k ^= k >>> r;
    k *= m;
    h *= m;
    h ^= k;
  }
  const tail = length & ~3;
  const tailLength = length % 4;
  if (tailLength === 3) h ^= (data[tail + 2]! & 0xff) << 16;
  if (tailLength >= 2) h ^= (data[tail + 1]! & 0xff) << 8;
  if (tailLength >= 1) {
    h ^= data[tail]! & 0xff;
    h *= m;
  }
  h ^= h >>> 13;
  h *= m;
  h ^= h >>> 15;
  return h;
}

const toPositive = (value: number): number => value & 0x7fffffff;

export function createLegacyPartitioner(random: () => number = Math.random): Partitioner {
  const counters = new Map<string, number>();
  return ({ topic, partitionMetadata, message }) => {
    if (message.partition !== null && message.partition !== undefined) return message.partition;
    if (message.key !== null && message.key !== undefined) {
      return toPositive(legacyMurmur2(message.key)) % partitionMetadata.length;
    }
    const counter = (counters.get(topic) ?? Math.floor(random() * 0x1_0000_0000)) + 1;
    counters.set(topic, counter);
    const available = partitionMetadata.filter((partition) => partition.leader >= 0);
    if (available.length > 0) return available[toPositive(counter) % available.length]!.partitionId;
    return toPositive(counter) % partitionMetadata.length;
  };
}

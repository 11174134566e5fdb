// Partitioners in kafkajs's shape: a factory returning `({ topic, partitionMetadata, message }) =>
// partition`. The default is the Java client's: murmur2 of the key (the same partition as Java and
// librdkafka's murmur2_random), and for keyless records a sticky partition that changes once a
// batch's worth of bytes went to it (KIP-480/KIP-794), so keyless records fill whole batches.

import type { PartitionMetadata } from '../cluster.js';
import { createLegacyPartitioner } from './legacy-partitioner.js';

export interface PartitionerMessage {
  readonly key?: Buffer | string | null;
  readonly value: Buffer | string | null;
  readonly partition?: number;
}

export interface PartitionerArgs {
  readonly topic: string;
  readonly partitionMetadata: readonly PartitionMetadata[];
  readonly message: PartitionerMessage;
}

export type Partitioner = (args: PartitionerArgs) => number;
export type ICustomPartitioner = () => Partitioner;

/** The Java client's Utils.murmur2 (seed 0x9747b28c), as a signed 32-bit integer. */
export function murmur2(data: Buffer): number {
  const length = data.length;
  const m = 0x5bd1e995;
  const r = 24;
  let h = 0x9747b28c ^ length;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k = data[i4]! | (data[i4 + 1]! << 8) | (data[i4 + 2]! << 16) | (data[i4 + 3]! << 24);
    k = Math.imul(k, m);
    k ^= k >>> r;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
  }
  const tail = length & ~3;
  // Java's switch falls through from the third tail byte to the first.
  const tailLength = length & 3;
  if (tailLength === 3) h ^= data[tail + 2]! << 16;
  if (tailLength >= 2) h ^= data[tail + 1]! << 8;
  if (tailLength >= 1) {
    h ^= data[tail]!;
    h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/** Java's Utils.toPositive: drops the sign bit (not Math.abs, which differs for negatives). */
export const toPositive = (value: number): number => value & 0x7fffffff;

export function keyBytes(key: Buffer | string): Buffer {
  return typeof key === 'string' ? Buffer.from(key) : key;
}

/** The partition Java's and librdkafka's murmur2 partitioners pick for a key. */
export function murmur2Partition(key: Buffer | string, partitionCount: number): number {
  return toPositive(murmur2(keyBytes(key))) % partitionCount;
}

/** Bytes sent to one sticky partition before a keyless record picks another. */
export const stickyPartitionBytesDefault = 16_384;

/**
 * How loaded a partition is: its batches buffered or in flight. The producer gives it to its
 * default partitioner, which moves keyless records away from partitions that are behind.
 */
export type PartitionLoad = (topic: string, partition: number) => number;

/**
 * The next sticky partition among `candidates` other than `current` (when there is another): at
 * random, each weighted by how much less loaded it is than the most loaded (KIP-794's adaptive
 * partitioning, which weighs Java's partitions by maxQueueSize + 1 - queueSize); uniform when all
 * are equally loaded or no load is known.
 */
function pickStickyPartition(
  topic: string,
  candidates: readonly PartitionMetadata[],
  current: number | undefined,
  random: () => number,
  load: PartitionLoad | undefined,
): number {
  const others =
    current !== undefined && candidates.length > 1
      ? candidates.filter((partition) => partition.partitionId !== current)
      : candidates;
  if (load === undefined) return others[Math.floor(random() * others.length)]!.partitionId;
  const loads = others.map((partition) => load(topic, partition.partitionId));
  const loadMax = Math.max(...loads);
  const weights = loads.map((value) => loadMax + 1 - value);
  let target = random() * weights.reduce((sum, weight) => sum + weight, 0);
  for (let index = 0; index < others.length; index++) {
    target -= weights[index]!;
    if (target < 0) return others[index]!.partitionId;
  }
  return others[others.length - 1]!.partitionId;
}

export function createDefaultPartitioner(
  stickyPartitionBytes = stickyPartitionBytesDefault,
  random: () => number = Math.random,
  load?: PartitionLoad,
): Partitioner {
  const sticky = new Map<string, { partition: number; bytes: number }>();
  return ({ topic, partitionMetadata, message }) => {
    if (message.partition !== undefined && message.partition !== null) return message.partition;
    const count = partitionMetadata.length;
    if (message.key !== undefined && message.key !== null) return murmur2Partition(message.key, count);
    const size = message.value === null ? 0 : Buffer.byteLength(message.value);
    let current = sticky.get(topic);
    if (current === undefined || current.partition >= count || current.bytes >= stickyPartitionBytes) {
      const available = partitionMetadata.filter((partition) => partition.leader >= 0);
      const candidates = available.length > 0 ? available : partitionMetadata;
      // Changing partition means changing it: with two or more, never pick the same one again.
      const next = pickStickyPartition(topic, candidates, current?.partition, random, load);
      current = { partition: next, bytes: 0 };
      sticky.set(topic, current);
    }
    current.bytes += size;
    return current.partition;
  };
}

/**
 * kafkajs's names: DefaultPartitioner and JavaCompatiblePartitioner both mean the Java client's;
 * LegacyPartitioner is kafkajs 1.x's default.
 */
export const Partitioners = {
  DefaultPartitioner: (() => createDefaultPartitioner()) as ICustomPartitioner,
  JavaCompatiblePartitioner: (() => createDefaultPartitioner()) as ICustomPartitioner,
  LegacyPartitioner: (() => createLegacyPartitioner()) as ICustomPartitioner,
};

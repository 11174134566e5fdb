// What a segment's `.index` and `.timeindex` share (Kafka's AbstractIndex): sparse, fixed-size
// entries of two numbers, a key that strictly increases (a relative offset, a timestamp) and a value,
// kept in memory in two growable typed arrays (Kafka memory-maps the file); a floor lookup on the key;
// truncation from the end; an entry limit (`segment.index.bytes` / entry size); and `writtenCount`, how
// many entries are on disk, so index writes can be batched instead of costing a syscall per entry.

import { invariant } from '@gregor/ground';
import { floorIndex } from './floor-search.js';

/**
 * Entries allocated for a new index; they double as needed. Small, because a broker with tens of
 * thousands of partitions holds tens of thousands of mostly young segments.
 */
export const indexInitialCapacityEntries = 8;

type NumberColumn = Int32Array | Float64Array;

export abstract class AbstractIndex<Keys extends NumberColumn, Values extends NumberColumn> {
  protected keys: Keys;
  protected values: Values;
  protected count = 0;
  /** Entries [0, writtenCount) are in the file; the rest still have to be written. */
  writtenCount = 0;

  protected constructor(
    readonly maxEntries: number,
    /** Bytes of one entry in the file. */
    readonly entryBytes: number,
    private readonly newKeys: (capacity: number) => Keys,
    private readonly newValues: (capacity: number) => Values,
    /** The arrays never grow past this many entries (Infinity: past the limit, for a final entry). */
    private readonly capacityMaxEntries: number,
  ) {
    this.keys = newKeys(indexInitialCapacityEntries);
    this.values = newValues(indexInitialCapacityEntries);
  }

  get entries(): number {
    return this.count;
  }

  get isFull(): boolean {
    return this.count >= this.maxEntries;
  }

  /** Index of the greatest entry whose key is <= target, or -1. */
  floorEntry(targetKey: number): number {
    return floorIndex(this.keys, this.count, targetKey);
  }

  clear(): void {
    this.count = 0;
    this.writtenCount = 0;
  }

  /** Encodes entries [from, count) in the file's format. */
  encode(from = 0): Buffer {
    const buffer = Buffer.allocUnsafe((this.count - from) * this.entryBytes);
    this.writeEntries(buffer, from);
    return buffer;
  }

  /** Writes entries [from, count) into `buffer` from its start (one loop per subclass, no call per entry). */
  protected abstract writeEntries(buffer: Buffer, from: number): void;

  /** Appends an entry (the caller checked order and limit), growing the arrays when needed. */
  protected appendEntry(key: number, value: number): void {
    if (this.count === this.keys.length) {
      const capacity = Math.min(this.count * 2, this.capacityMaxEntries);
      invariant(
        capacity > this.count,
        () => `index arrays cannot grow past ${this.capacityMaxEntries} entries`,
      );
      const keys = this.newKeys(capacity);
      keys.set(this.keys);
      const values = this.newValues(capacity);
      values.set(this.values);
      this.keys = keys;
      this.values = values;
    }
    this.keys[this.count] = key;
    this.values[this.count] = value;
    this.count += 1;
  }

  /** Drops entries from the end while `column` (keys or values) is >= `threshold` there. */
  protected truncateWhileAtLeast(column: NumberColumn, threshold: number): void {
    let keep = this.count;
    while (keep > 0 && column[keep - 1]! >= threshold) keep -= 1;
    this.count = keep;
    this.writtenCount = Math.min(this.writtenCount, keep);
  }

  /** The number of entries in an index file of `bytes`, or why it cannot be one. */
  protected static entryCountOf(bytes: Buffer, entryBytes: number): number | string {
    if (bytes.length % entryBytes !== 0) return `size ${bytes.length} is not a multiple of ${entryBytes}`;
    return bytes.length / entryBytes;
  }
}

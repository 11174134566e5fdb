// A segment's `.index`, in Kafka's byte format: 8-byte big-endian entries
//   relativeOffset: int32   (offset - segment base offset; the batch's LAST offset, as Kafka writes)
//   position: int32         (byte position of that batch's start in the `.log`)
// Sparse: one entry after every `index.interval.bytes` of appended data. Lookup finds the greatest
// entry <= target and the caller scans forward from its position.
//
// Entries live in memory as well (Kafka memory-maps the file); `writtenCount` tracks how many are on
// disk so index writes can be batched instead of costing a syscall per indexed batch.

import { invariant } from '@gregor/ground';
import { floorIndex } from './floor-search.js';

export const offsetIndexEntryBytes = 8;
/**
 * Entries allocated for a new index; they double as needed. Small, because a broker with tens of
 * thousands of partitions holds tens of thousands of mostly young segments.
 */
const initialCapacityEntries = 8;

export class OffsetIndex {
  private relativeOffsets = new Int32Array(initialCapacityEntries);
  private positions = new Int32Array(initialCapacityEntries);
  private count = 0;
  /** Entries [0, writtenCount) are in the file; the rest still have to be written. */
  writtenCount = 0;

  constructor(readonly maxEntries: number) {}

  get entries(): number {
    return this.count;
  }

  get isFull(): boolean {
    return this.count >= this.maxEntries;
  }

  relativeOffsetAt(i: number): number {
    return this.relativeOffsets[i]!;
  }

  positionAt(i: number): number {
    return this.positions[i]!;
  }

  /** Adds an entry; returns false (and adds nothing) when the index is full. */
  add(relativeOffset: number, position: number): boolean {
    if (this.isFull) return false;
    if (this.count > 0) {
      invariant(
        relativeOffset > this.relativeOffsets[this.count - 1]! && position > this.positions[this.count - 1]!,
        () =>
          `offset index entries must increase: (${relativeOffset}, ${position}) after entry ${this.count - 1}`,
      );
    }
    if (this.count === this.relativeOffsets.length) {
      const capacity = Math.min(this.count * 2, Math.max(this.maxEntries, 1));
      const offsets = new Int32Array(capacity);
      offsets.set(this.relativeOffsets);
      const positions = new Int32Array(capacity);
      positions.set(this.positions);
      this.relativeOffsets = offsets;
      this.positions = positions;
    }
    this.relativeOffsets[this.count] = relativeOffset;
    this.positions[this.count] = position;
    this.count += 1;
    return true;
  }

  /** Index of the greatest entry with relativeOffset <= target, or -1. */
  floorEntry(targetRelativeOffset: number): number {
    return floorIndex(this.relativeOffsets, this.count, targetRelativeOffset);
  }

  /** Start position for a forward scan to `targetRelativeOffset`. */
  lookupPosition(targetRelativeOffset: number): number {
    const i = this.floorEntry(targetRelativeOffset);
    return i < 0 ? 0 : this.positions[i]!;
  }

  /** Drops entries for batches at or after `relativeOffset` (their last offset is >= it). */
  truncateToRelativeOffset(relativeOffset: number): void {
    let keep = this.count;
    while (keep > 0 && this.relativeOffsets[keep - 1]! >= relativeOffset) keep -= 1;
    this.count = keep;
    this.writtenCount = Math.min(this.writtenCount, keep);
  }

  clear(): void {
    this.count = 0;
    this.writtenCount = 0;
  }

  /** Encodes entries [from, count) in Kafka's format. */
  encode(from = 0): Buffer {
    const buffer = Buffer.allocUnsafe((this.count - from) * offsetIndexEntryBytes);
    for (let i = from; i < this.count; i++) {
      const at = (i - from) * offsetIndexEntryBytes;
      buffer.writeInt32BE(this.relativeOffsets[i]!, at);
      buffer.writeInt32BE(this.positions[i]!, at + 4);
    }
    return buffer;
  }

  /**
   * Parses an index file and checks it is sane for a `.log` of `logSizeBytes`: a whole number of
   * entries, relative offsets and positions strictly increasing, positions inside the log. Trailing
   * all-zero entries (a preallocated file cut short by a crash) end the index. Returns the reason
   * when the file is not usable, so the caller rebuilds it.
   */
  static parse(bytes: Buffer, maxEntries: number, logSizeBytes: number): OffsetIndex | string {
    if (bytes.length % offsetIndexEntryBytes !== 0) {
      return `size ${bytes.length} is not a multiple of ${offsetIndexEntryBytes}`;
    }
    const index = new OffsetIndex(maxEntries);
    const entryCount = bytes.length / offsetIndexEntryBytes;
    for (let i = 0; i < entryCount; i++) {
      const relativeOffset = bytes.readInt32BE(i * offsetIndexEntryBytes);
      const position = bytes.readInt32BE(i * offsetIndexEntryBytes + 4);
      // The first batch of a segment is never indexed (nothing was appended before it), so no real
      // entry has position 0 and an all-zero entry is always preallocation padding.
      if (relativeOffset === 0 && position === 0) break;
      if (relativeOffset < 0 || position <= 0 || position >= logSizeBytes) {
        return `entry ${i} (${relativeOffset}, ${position}) is outside the segment`;
      }
      if (i > 0 && (relativeOffset <= index.relativeOffsetAt(i - 1) || position <= index.positionAt(i - 1))) {
        return `entry ${i} does not increase`;
      }
      if (!index.add(relativeOffset, position)) return `more than ${maxEntries} entries`;
    }
    index.writtenCount = index.count;
    return index;
  }
}

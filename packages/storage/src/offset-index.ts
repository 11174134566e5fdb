// A segment's `.index`, in Kafka's byte format: 8-byte big-endian entries
//   relativeOffset: int32   (offset - segment base offset; the batch's LAST offset, as Kafka writes)
//   position: int32         (byte position of that batch's start in the `.log`)
// Sparse: one entry after every `index.interval.bytes` of appended data. Lookup finds the greatest
// entry <= target and the caller scans forward from its position. What it shares with the time index
// (storage, limits, lookup, truncation) is in abstract-index.ts.

import { invariant } from '@gregor/ground';
import { AbstractIndex } from './abstract-index.js';

export const offsetIndexEntryBytes = 8;

/** Keys: relative offsets; values: positions in the `.log`. */
export class OffsetIndex extends AbstractIndex<Int32Array, Int32Array> {
  constructor(maxEntries: number) {
    super(
      maxEntries,
      offsetIndexEntryBytes,
      (capacity) => new Int32Array(capacity),
      (capacity) => new Int32Array(capacity),
      Math.max(maxEntries, 1),
    );
  }

  relativeOffsetAt(i: number): number {
    return this.keys[i]!;
  }

  positionAt(i: number): number {
    return this.values[i]!;
  }

  /** Adds an entry; returns false (and adds nothing) when the index is full. */
  add(relativeOffset: number, position: number): boolean {
    if (this.isFull) return false;
    if (this.count > 0) {
      invariant(
        relativeOffset > this.keys[this.count - 1]! && position > this.values[this.count - 1]!,
        () =>
          `offset index entries must increase: (${relativeOffset}, ${position}) after entry ${this.count - 1}`,
      );
    }
    this.appendEntry(relativeOffset, position);
    return true;
  }

  /** Start position for a forward scan to `targetRelativeOffset`. */
  lookupPosition(targetRelativeOffset: number): number {
    const i = this.floorEntry(targetRelativeOffset);
    return i < 0 ? 0 : this.values[i]!;
  }

  /** Drops entries for batches at or after `relativeOffset` (their last offset is >= it). */
  truncateToRelativeOffset(relativeOffset: number): void {
    this.truncateWhileAtLeast(this.keys, relativeOffset);
  }

  protected writeEntries(buffer: Buffer, from: number): void {
    for (let i = from; i < this.count; i++) {
      const at = (i - from) * offsetIndexEntryBytes;
      buffer.writeInt32BE(this.keys[i]!, at);
      buffer.writeInt32BE(this.values[i]!, at + 4);
    }
  }

  /**
   * Parses an index file and checks it is sane for a `.log` of `logSizeBytes`: a whole number of
   * entries, relative offsets and positions strictly increasing, positions inside the log. Trailing
   * all-zero entries (a preallocated file cut short by a crash) end the index. Returns the reason
   * when the file is not usable, so the caller rebuilds it.
   */
  static parse(bytes: Buffer, maxEntries: number, logSizeBytes: number): OffsetIndex | string {
    const entryCount = AbstractIndex.entryCountOf(bytes, offsetIndexEntryBytes);
    if (typeof entryCount === 'string') return entryCount;
    const index = new OffsetIndex(maxEntries);
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

// A segment's `.timeindex`, in Kafka's byte format: 12-byte big-endian entries
//   timestamp: int64        (the largest batch maxTimestamp seen so far in the segment)
//   relativeOffset: int32   (last offset of the batch that first reached that timestamp)
// An entry is added with each offset index entry when the maximum grew, plus one when the segment
// stops being active, so the last entry is the segment's largest timestamp. Timestamps and offsets
// strictly increase. Lookup: greatest entry with timestamp <= target, then scan forward. What it
// shares with the offset index (storage, limits, lookup, truncation) is in abstract-index.ts.

import { invariant } from '@gregor/ground';
import { readInt64AsNumber, writeInt64FromNumber } from '@gregor/protocol';
import { AbstractIndex } from './abstract-index.js';

export const timeIndexEntryBytes = 12;
/** Kafka's RecordBatch.NO_TIMESTAMP. */
export const noTimestamp = -1;

/** Keys: timestamps; values: relative offsets. */
export class TimeIndex extends AbstractIndex<Float64Array, Int32Array> {
  constructor(maxEntries: number) {
    // No cap on growth: the final entry on roll is written even when the index is full.
    super(
      maxEntries,
      timeIndexEntryBytes,
      (capacity) => new Float64Array(capacity),
      (capacity) => new Int32Array(capacity),
      Number.POSITIVE_INFINITY,
    );
  }

  timestampAt(i: number): number {
    return this.keys[i]!;
  }

  relativeOffsetAt(i: number): number {
    return this.values[i]!;
  }

  get lastTimestamp(): number {
    return this.count === 0 ? noTimestamp : this.keys[this.count - 1]!;
  }

  /**
   * Adds (timestamp, relativeOffset) when the timestamp is larger than the last entry's, as Kafka's
   * TimeIndex.maybeAppend. `ignoreFull` is for the final entry on roll, which Kafka always writes.
   */
  maybeAdd(timestamp: number, relativeOffset: number, ignoreFull = false): boolean {
    if (timestamp <= this.lastTimestamp) return false;
    if (this.isFull && !ignoreFull) return false;
    if (this.count > 0) {
      invariant(
        relativeOffset >= this.values[this.count - 1]!,
        () => `time index offsets must not decrease: ${relativeOffset} after entry ${this.count - 1}`,
      );
    }
    this.appendEntry(timestamp, relativeOffset);
    return true;
  }

  /** Drops entries whose offset is >= `relativeOffset`. */
  truncateToRelativeOffset(relativeOffset: number): void {
    this.truncateWhileAtLeast(this.values, relativeOffset);
  }

  protected writeEntries(buffer: Buffer, from: number): void {
    for (let i = from; i < this.count; i++) {
      const at = (i - from) * timeIndexEntryBytes;
      writeInt64FromNumber(buffer, at, this.keys[i]!);
      buffer.writeInt32BE(this.values[i]!, at + 8);
    }
  }

  /**
   * Parses a time index and checks it: a whole number of entries, timestamps and offsets increasing,
   * offsets not negative. Trailing all-zero entries end it. Returns the reason when unusable.
   */
  static parse(bytes: Buffer, maxEntries: number): TimeIndex | string {
    const entryCount = AbstractIndex.entryCountOf(bytes, timeIndexEntryBytes);
    if (typeof entryCount === 'string') return entryCount;
    const index = new TimeIndex(maxEntries);
    for (let i = 0; i < entryCount; i++) {
      const at = i * timeIndexEntryBytes;
      const high = bytes.readInt32BE(at);
      if (high > 0x1fffff || high < -0x200000) return `entry ${i} timestamp is beyond 2^53`;
      const timestamp = readInt64AsNumber(bytes, at);
      const relativeOffset = bytes.readInt32BE(at + 8);
      if (i > 0 && timestamp === 0 && relativeOffset === 0) break;
      if (timestamp < 0 || relativeOffset < 0) return `entry ${i} is negative`;
      if (
        i > 0 &&
        (timestamp <= index.timestampAt(i - 1) || relativeOffset < index.relativeOffsetAt(i - 1))
      ) {
        return `entry ${i} does not increase`;
      }
      if (!index.maybeAdd(timestamp, relativeOffset, true)) return `entry ${i} was refused`;
    }
    if (index.entries > maxEntries + 1) return `more than ${maxEntries} entries`;
    index.writtenCount = index.count;
    return index;
  }
}

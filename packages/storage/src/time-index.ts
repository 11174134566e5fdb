// A segment's `.timeindex`, in Kafka's byte format: 12-byte big-endian entries
//   timestamp: int64        (the largest batch maxTimestamp seen so far in the segment)
//   relativeOffset: int32   (last offset of the batch that first reached that timestamp)
// An entry is added with each offset index entry when the maximum grew, plus one when the segment
// stops being active, so the last entry is the segment's largest timestamp. Timestamps and offsets
// strictly increase. Lookup: greatest entry with timestamp <= target, then scan forward.

import { invariant } from '@gregor/ground';
import { readInt64AsNumber, writeInt64FromNumber } from '@gregor/protocol';
import { floorIndex } from './floor-search.js';

export const timeIndexEntryBytes = 12;
/** Kafka's RecordBatch.NO_TIMESTAMP. */
export const noTimestamp = -1;
/**
 * Entries allocated for a new index; they double as needed. Small, because a broker with tens of
 * thousands of partitions holds tens of thousands of mostly young segments.
 */
const initialCapacityEntries = 8;

export class TimeIndex {
  private timestamps = new Float64Array(initialCapacityEntries);
  private relativeOffsets = new Int32Array(initialCapacityEntries);
  private count = 0;
  /** Entries [0, writtenCount) are in the file. */
  writtenCount = 0;

  constructor(readonly maxEntries: number) {}

  get entries(): number {
    return this.count;
  }

  get isFull(): boolean {
    return this.count >= this.maxEntries;
  }

  timestampAt(i: number): number {
    return this.timestamps[i]!;
  }

  relativeOffsetAt(i: number): number {
    return this.relativeOffsets[i]!;
  }

  get lastTimestamp(): number {
    return this.count === 0 ? noTimestamp : this.timestamps[this.count - 1]!;
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
        relativeOffset >= this.relativeOffsets[this.count - 1]!,
        () => `time index offsets must not decrease: ${relativeOffset} after entry ${this.count - 1}`,
      );
    }
    if (this.count === this.timestamps.length) {
      const capacity = this.count * 2;
      const timestamps = new Float64Array(capacity);
      timestamps.set(this.timestamps);
      const offsets = new Int32Array(capacity);
      offsets.set(this.relativeOffsets);
      this.timestamps = timestamps;
      this.relativeOffsets = offsets;
    }
    this.timestamps[this.count] = timestamp;
    this.relativeOffsets[this.count] = relativeOffset;
    this.count += 1;
    return true;
  }

  /** Index of the greatest entry with timestamp <= target, or -1. */
  floorEntry(targetTimestamp: number): number {
    return floorIndex(this.timestamps, this.count, targetTimestamp);
  }

  /** Drops entries whose offset is >= `relativeOffset`. */
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

  encode(from = 0): Buffer {
    const buffer = Buffer.allocUnsafe((this.count - from) * timeIndexEntryBytes);
    for (let i = from; i < this.count; i++) {
      const at = (i - from) * timeIndexEntryBytes;
      writeInt64FromNumber(buffer, at, this.timestamps[i]!);
      buffer.writeInt32BE(this.relativeOffsets[i]!, at + 8);
    }
    return buffer;
  }

  /**
   * Parses a time index and checks it: a whole number of entries, timestamps and offsets increasing,
   * offsets not negative. Trailing all-zero entries end it. Returns the reason when unusable.
   */
  static parse(bytes: Buffer, maxEntries: number): TimeIndex | string {
    if (bytes.length % timeIndexEntryBytes !== 0) {
      return `size ${bytes.length} is not a multiple of ${timeIndexEntryBytes}`;
    }
    const index = new TimeIndex(maxEntries);
    const entryCount = bytes.length / timeIndexEntryBytes;
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

import { invariant } from '@gregor/ground';
import { EMPTY_SNAPSHOT_ID, type LogEntry, type SnapshotId } from './types.js';

/** The end of the latest epoch <= a requested epoch, as KRaft's endOffsetForEpoch answers it. */
export interface EpochEnd {
  readonly epoch: number;
  readonly endOffset: number;
}

/**
 * The in-memory view of the replicated log: a snapshot (everything below startOffset) plus the entries
 * after it. The core keeps the whole tail in memory because the metadata log is small and trimmed behind
 * snapshots; the driver's store holds the durable copy.
 */
export class RaftLog {
  private snapshot: SnapshotId = EMPTY_SNAPSHOT_ID;
  /** entries[i].offset === startOffset + i */
  private entries: LogEntry[] = [];

  constructor(snapshotId: SnapshotId, entries: readonly LogEntry[]) {
    this.snapshot = snapshotId;
    for (const entry of entries) this.append(entry);
  }

  get startOffset(): number {
    return this.snapshot.endOffset;
  }

  get endOffset(): number {
    return this.snapshot.endOffset + this.entries.length;
  }

  get snapshotId(): SnapshotId {
    return this.snapshot;
  }

  get lastEpoch(): number {
    return this.entries.at(-1)?.epoch ?? this.snapshot.epoch;
  }

  entryAt(offset: number): LogEntry | undefined {
    return this.entries[offset - this.snapshot.endOffset];
  }

  /** Epoch of the entry at offset, including the snapshot's last entry; undefined if unknown. */
  epochAt(offset: number): number | undefined {
    if (offset === this.snapshot.endOffset - 1) return this.snapshot.epoch;
    return this.entryAt(offset)?.epoch;
  }

  append(entry: LogEntry): void {
    invariant(
      entry.offset === this.endOffset,
      () => `append at ${entry.offset}, log end is ${this.endOffset}`,
    );
    invariant(entry.epoch >= this.lastEpoch, () => `epoch ${entry.epoch} after epoch ${this.lastEpoch}`);
    this.entries.push(entry);
  }

  /** Removes every entry at or above endOffset. */
  truncateTo(endOffset: number): void {
    invariant(
      endOffset >= this.startOffset,
      () => `truncate to ${endOffset} below start ${this.startOffset}`,
    );
    if (endOffset < this.endOffset) this.entries.length = endOffset - this.startOffset;
  }

  /** Entries from offset, at most entriesMax of them and bytesMax payload bytes, but at least one. */
  slice(offset: number, entriesMax: number, bytesMax: number): LogEntry[] {
    invariant(offset >= this.startOffset, () => `slice from ${offset} below start ${this.startOffset}`);
    const result: LogEntry[] = [];
    let bytes = 0;
    for (let index = offset - this.startOffset; index < this.entries.length; index++) {
      const entry = this.entries[index]!;
      if (result.length >= entriesMax) break;
      if (result.length > 0 && bytes + entry.payload.length > bytesMax) break;
      bytes += entry.payload.length;
      result.push(entry);
    }
    return result;
  }

  /**
   * The largest epoch <= epoch present in the log (or the snapshot) and the offset where it ends;
   * undefined when that history is inside the snapshot and cannot be answered (fetch the snapshot).
   */
  endOffsetForEpoch(epoch: number): EpochEnd | undefined {
    // Scan from the end: fetchers are nearly always in the last epoch, so this stops at once.
    for (let index = this.entries.length - 1; index >= 0; index--) {
      const entry = this.entries[index]!;
      if (entry.epoch <= epoch) return { epoch: entry.epoch, endOffset: entry.offset + 1 };
    }
    if (this.snapshot.epoch <= epoch) return { epoch: this.snapshot.epoch, endOffset: this.startOffset };
    return undefined;
  }

  /** Replaces the whole log with a snapshot received from the leader. */
  installSnapshot(id: SnapshotId): void {
    this.snapshot = id;
    this.entries = [];
  }

  /** Drops the entries a newer local snapshot covers. */
  trimPrefix(id: SnapshotId): void {
    invariant(id.endOffset > this.startOffset && id.endOffset <= this.endOffset, 'snapshot outside the log');
    invariant(this.epochAt(id.endOffset - 1) === id.epoch, 'snapshot epoch differs from the log');
    this.entries = this.entries.slice(id.endOffset - this.startOffset);
    this.snapshot = id;
  }
}

import type { HardState, LogEntry, PersistedState, Ready, Snapshot } from '@gregor/raft';

/**
 * The durable state of one simulated node. It only ever holds what the driver wrote and declared
 * durable (a Ready applied once its simulated fsync completed); a crash loses everything else because
 * the in-flight write is simply never applied.
 */
export class SimDisk {
  private hardState: HardState = { epoch: 0, votedFor: undefined };
  private snapshot: Snapshot | undefined;
  /** Entries by offset; contiguous from the snapshot end. */
  private entries = new Map<number, LogEntry>();

  /** Applies a Ready in the order the core specifies. */
  write(ready: Ready): void {
    if (ready.hardState !== undefined) this.hardState = ready.hardState;
    if (ready.truncateFromOffset !== undefined) {
      for (const offset of [...this.entries.keys()]) {
        if (offset >= ready.truncateFromOffset) this.entries.delete(offset);
      }
    }
    if (ready.snapshot !== undefined) {
      this.snapshot = ready.snapshot;
      for (const offset of [...this.entries.keys()]) {
        if (offset < ready.snapshot.id.endOffset) this.entries.delete(offset);
      }
    }
    for (const entry of ready.entries) this.entries.set(entry.offset, entry);
  }

  load(): PersistedState {
    const start = this.snapshot?.id.endOffset ?? 0;
    const entries: LogEntry[] = [];
    for (let offset = start; this.entries.has(offset); offset++) entries.push(this.entries.get(offset)!);
    if (entries.length !== this.entries.size) {
      throw new Error(
        `simulated disk has a hole: ${this.entries.size} entries, ${entries.length} contiguous`,
      );
    }
    return { hardState: this.hardState, snapshot: this.snapshot, entries };
  }
}

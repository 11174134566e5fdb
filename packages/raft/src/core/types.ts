/**
 * Data types shared by the core, its driver and the stores. Offsets are 0-based, Kafka style; an "end
 * offset" is exclusive (the offset the next entry would get).
 */

/** 'leader-change' is the control entry a new leader appends first, as KRaft's LeaderChangeMessage. */
export type EntryType = 'data' | 'leader-change';

export interface LogEntry {
  readonly offset: number;
  readonly epoch: number;
  readonly type: EntryType;
  /** Opaque to the core. */
  readonly payload: Uint8Array;
}

/** KRaft's OffsetAndEpoch for snapshots: the snapshot holds every entry below endOffset. */
export interface SnapshotId {
  readonly endOffset: number;
  /** Epoch of the entry at endOffset - 1 (0 for the empty snapshot). */
  readonly epoch: number;
}

export interface Snapshot {
  readonly id: SnapshotId;
  /** State-machine bytes supplied by the driver; opaque to the core. */
  readonly bytes: Uint8Array;
}

/** What must survive a crash besides the log: KRaft's quorum-state file. */
export interface HardState {
  readonly epoch: number;
  readonly votedFor: number | undefined;
}

/** What a store hands back to a restarting node. */
export interface PersistedState {
  readonly hardState: HardState;
  readonly snapshot: Snapshot | undefined;
  /** Contiguous entries starting at the snapshot's endOffset (or 0). */
  readonly entries: readonly LogEntry[];
}

export const EMPTY_SNAPSHOT_ID: SnapshotId = Object.freeze({ endOffset: 0, epoch: 0 });

import { Level } from 'level';
import type { Ready } from '../core/node.js';
import type { EntryType, HardState, LogEntry, PersistedState, Snapshot } from '../core/types.js';
import type { RaftStore } from './raft-store.js';

/**
 * The Raft log, quorum state and latest snapshot in one LevelDB. Each Ready becomes one atomic batch
 * written with sync: true, so it is durable (or absent) as a whole when persist() resolves.
 *
 * Keys (ordered as strings): 'hard-state' -> JSON; 'snapshot' -> header + bytes;
 * 'entry:' + 16-digit zero-padded offset -> epoch i32 | type u8 | payload.
 */
const HARD_STATE_KEY = 'hard-state';
const SNAPSHOT_KEY = 'snapshot';
const ENTRY_PREFIX = 'entry:';
/** 16 digits cover Number.MAX_SAFE_INTEGER, the largest offset we can represent. */
const OFFSET_DIGITS = 16;
/** After every entry key: ':' + 1 sorts after any digit. */
const ENTRY_KEYS_END = 'entry;';
const ENTRY_HEADER_BYTES = 5;
const SNAPSHOT_HEADER_BYTES = 12;
const ENTRY_TYPES: readonly EntryType[] = ['data', 'leader-change'];

/** The store found something it never writes: a bug or a damaged disk, never an expected state. */
export class RaftStoreCorruptionError extends Error {
  override readonly name = 'RaftStoreCorruptionError';
}

/** Another process holds the store (LevelDB allows one): a running node, for an offline tool. */
export class RaftStoreLockedError extends Error {
  override readonly name = 'RaftStoreLockedError';
}

/** openExisting() found no store in the directory. */
export class RaftStoreNotFoundError extends Error {
  override readonly name = 'RaftStoreNotFoundError';
}

type BatchOperation = { type: 'put'; key: string; value: Uint8Array } | { type: 'del'; key: string };

export class LevelRaftStore implements RaftStore {
  private constructor(private readonly db: Level<string, Uint8Array>) {}

  static async open(directory: string): Promise<LevelRaftStore> {
    const db = new Level<string, Uint8Array>(directory, { valueEncoding: 'view' });
    await db.open();
    return new LevelRaftStore(db);
  }

  /**
   * Opens a store that must already exist, for offline tools (`gregor metadata-shell --data-dir`):
   * never creates an empty one in a mistyped directory, and tells a store held by a running node
   * (LevelDB's LOCK file) apart from other failures. Opening replays LevelDB's own write-ahead log,
   * exactly as the node does on restart, so it changes no Raft state; the tool only calls load().
   */
  static async openExisting(directory: string): Promise<LevelRaftStore> {
    const db = new Level<string, Uint8Array>(directory, { valueEncoding: 'view', createIfMissing: false });
    try {
      await db.open();
    } catch (error) {
      const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
      if (cause?.code === 'LEVEL_LOCKED') {
        throw new RaftStoreLockedError(`${directory} is held by another process: ${String(cause.message)}`);
      }
      if (typeof cause?.message === 'string' && cause.message.includes('does not exist')) {
        throw new RaftStoreNotFoundError(`${directory} holds no Raft store`);
      }
      throw error;
    }
    return new LevelRaftStore(db);
  }

  async load(): Promise<PersistedState> {
    const hardStateBytes = await this.db.get(HARD_STATE_KEY);
    const hardState: HardState =
      hardStateBytes === undefined ? { epoch: 0, votedFor: undefined } : decodeHardState(hardStateBytes);
    const snapshotBytes = await this.db.get(SNAPSHOT_KEY);
    const snapshot = snapshotBytes === undefined ? undefined : decodeSnapshot(snapshotBytes);
    const entries: LogEntry[] = [];
    let expected = snapshot?.id.endOffset ?? 0;
    for await (const [key, value] of this.db.iterator({ gte: ENTRY_PREFIX, lt: ENTRY_KEYS_END })) {
      const entry = decodeEntry(key, value);
      if (entry.offset !== expected) {
        throw new RaftStoreCorruptionError(
          `log has a hole: expected offset ${expected}, found ${entry.offset}`,
        );
      }
      entries.push(entry);
      expected++;
    }
    return { hardState, snapshot, entries };
  }

  async persist(ready: Ready): Promise<void> {
    const operations: BatchOperation[] = [];
    if (ready.hardState !== undefined) {
      operations.push({ type: 'put', key: HARD_STATE_KEY, value: encodeHardState(ready.hardState) });
    }
    if (ready.truncateFromOffset !== undefined) {
      for (const key of await this.entryKeys(entryKey(ready.truncateFromOffset), ENTRY_KEYS_END)) {
        operations.push({ type: 'del', key });
      }
    }
    if (ready.snapshot !== undefined) {
      operations.push({ type: 'put', key: SNAPSHOT_KEY, value: encodeSnapshot(ready.snapshot) });
      for (const key of await this.entryKeys(ENTRY_PREFIX, entryKey(ready.snapshot.id.endOffset))) {
        operations.push({ type: 'del', key });
      }
    }
    for (const entry of ready.entries) {
      operations.push({ type: 'put', key: entryKey(entry.offset), value: encodeEntry(entry) });
    }
    if (operations.length === 0) return;
    // One atomic batch, fsynced: a crash leaves either all of this Ready or none of it.
    await this.db.batch(operations, { sync: true });
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  private async entryKeys(gte: string, lt: string): Promise<string[]> {
    return this.db.keys({ gte, lt }).all();
  }
}

function entryKey(offset: number): string {
  return ENTRY_PREFIX + offset.toString().padStart(OFFSET_DIGITS, '0');
}

function encodeHardState(hardState: HardState): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify({ epoch: hardState.epoch, votedFor: hardState.votedFor ?? null }),
  );
}

function decodeHardState(bytes: Uint8Array): HardState {
  const value = JSON.parse(new TextDecoder().decode(bytes)) as { epoch: unknown; votedFor: unknown };
  if (typeof value.epoch !== 'number' || (value.votedFor !== null && typeof value.votedFor !== 'number')) {
    throw new RaftStoreCorruptionError('hard state is malformed');
  }
  return { epoch: value.epoch, votedFor: value.votedFor ?? undefined };
}

function encodeEntry(entry: LogEntry): Uint8Array {
  const bytes = new Uint8Array(ENTRY_HEADER_BYTES + entry.payload.length);
  const view = new DataView(bytes.buffer);
  view.setInt32(0, entry.epoch);
  view.setUint8(4, ENTRY_TYPES.indexOf(entry.type));
  bytes.set(entry.payload, ENTRY_HEADER_BYTES);
  return bytes;
}

/** Payloads are copied out: LevelDB hands out Buffers, callers get plain Uint8Arrays they may keep. */
function decodeEntry(key: string, bytes: Uint8Array): LogEntry {
  const type = ENTRY_TYPES[bytes[4] ?? -1];
  if (bytes.length < ENTRY_HEADER_BYTES || type === undefined) {
    throw new RaftStoreCorruptionError(`entry ${key} is malformed`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    offset: Number(key.slice(ENTRY_PREFIX.length)),
    epoch: view.getInt32(0),
    type,
    payload: Uint8Array.from(bytes.subarray(ENTRY_HEADER_BYTES)),
  };
}

function encodeSnapshot(snapshot: Snapshot): Uint8Array {
  const bytes = new Uint8Array(SNAPSHOT_HEADER_BYTES + snapshot.bytes.length);
  const view = new DataView(bytes.buffer);
  view.setFloat64(0, snapshot.id.endOffset);
  view.setInt32(8, snapshot.id.epoch);
  bytes.set(snapshot.bytes, SNAPSHOT_HEADER_BYTES);
  return bytes;
}

function decodeSnapshot(bytes: Uint8Array): Snapshot {
  if (bytes.length < SNAPSHOT_HEADER_BYTES) throw new RaftStoreCorruptionError('snapshot header is short');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    id: { endOffset: view.getFloat64(0), epoch: view.getInt32(8) },
    bytes: Uint8Array.from(bytes.subarray(SNAPSHOT_HEADER_BYTES)),
  };
}

// `gregor metadata-shell --data-dir`: the metadata of a stopped node, read from its Raft store.
// Only the snapshot is known to be committed: the high watermark is not stored on disk (as in
// KRaft), so entries after the snapshot are applied too and the shell says they may be uncommitted
// (a new leader may still truncate a follower's tail).

import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { metadataLogDirName, metaPropertiesFileName } from '@gregor/broker';
import {
  applyRecords,
  decodeImageSnapshot,
  decodeMetadataBatch,
  MetadataImage,
  type MetadataNode,
  metadataTree,
} from '@gregor/metadata';
import {
  LevelRaftStore,
  type PersistedState,
  RaftStoreLockedError,
  RaftStoreNotFoundError,
} from '@gregor/raft';

export interface OfflineMetadata {
  readonly image: MetadataImage;
  /** Exclusive end of the snapshot the image started from (0: none). */
  readonly snapshotEndOffset: number;
  /** Exclusive end of the log read. */
  readonly logEndOffset: number;
  /** Data entries after the snapshot, which may not be committed. */
  readonly entriesAfterSnapshot: number;
  readonly epoch: number;
}

/** Expected failures of the offline reader, with the message to print. */
export class OfflineMetadataError extends Error {
  override readonly name = 'OfflineMetadataError';
}

/** Replays a persisted Raft state as the node's metadata publisher does on restart. */
export function imageFromPersistedState(state: PersistedState): OfflineMetadata {
  let image =
    state.snapshot === undefined
      ? MetadataImage.empty
      : decodeImageSnapshot(Buffer.from(state.snapshot.bytes));
  let entriesAfterSnapshot = 0;
  for (const entry of state.entries) {
    if (entry.type !== 'data') continue;
    image = applyRecords(image, decodeMetadataBatch(Buffer.from(entry.payload)));
    entriesAfterSnapshot++;
  }
  const snapshotEndOffset = state.snapshot?.id.endOffset ?? 0;
  const last = state.entries.at(-1);
  return {
    image,
    snapshotEndOffset,
    logEndOffset: last === undefined ? snapshotEndOffset : last.offset + 1,
    entriesAfterSnapshot,
    epoch: state.hardState.epoch,
  };
}

/** The metadata log directory: `dir/__cluster_metadata-0`, or `dir` itself when it is that. */
export function metadataLogDirIn(dir: string): string {
  const nested = join(dir, metadataLogDirName);
  if (existsSync(nested)) return nested;
  if (basename(dir) === metadataLogDirName && existsSync(dir)) return dir;
  throw new OfflineMetadataError(`${dir}: no ${metadataLogDirName} directory here`);
}

/** cluster.id from meta.properties beside the metadata log; null when there is none. */
export function clusterIdBeside(logDir: string): string | null {
  const path = join(dirname(logDir), metaPropertiesFileName);
  if (!existsSync(path)) return null;
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const match = /^\s*cluster\.id\s*[=:]\s*(.*?)\s*$/.exec(line);
    if (match !== null) return match[1] ?? null;
  }
  return null;
}

export async function readOfflineMetadata(
  dir: string,
): Promise<OfflineMetadata & { clusterId: string | null }> {
  const logDir = metadataLogDirIn(dir);
  let store: LevelRaftStore;
  try {
    store = await LevelRaftStore.openExisting(logDir);
  } catch (error) {
    if (error instanceof RaftStoreLockedError) {
      throw new OfflineMetadataError(
        `${logDir}: the node is running; use --controller or --bootstrap-server`,
      );
    }
    if (error instanceof RaftStoreNotFoundError) throw new OfflineMetadataError(error.message);
    throw error;
  }
  try {
    return { ...imageFromPersistedState(await store.load()), clusterId: clusterIdBeside(logDir) };
  } finally {
    await store.close();
  }
}

/** The tree, with the last activated controller as `/controller` (no quorum to ask offline). */
export function offlineTree(metadata: OfflineMetadata & { clusterId: string | null }): MetadataNode {
  return metadataTree(metadata.image, {
    clusterId: metadata.clusterId ?? '',
    controllerId: metadata.image.controller?.controllerId ?? null,
  });
}

/** The caveat printed (to stderr) with offline output. */
export function offlineNote(metadata: OfflineMetadata): string {
  const where = `metadata log read up to offset ${metadata.logEndOffset} (epoch ${metadata.epoch})`;
  if (metadata.entriesAfterSnapshot === 0) return `${where}; everything shown is committed`;
  return (
    `${where}, snapshot at ${metadata.snapshotEndOffset}: ` +
    `including ${metadata.entriesAfterSnapshot} entries that may not be committed ` +
    '(the high watermark is not stored on disk)'
  );
}

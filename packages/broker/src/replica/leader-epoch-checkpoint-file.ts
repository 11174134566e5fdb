// The partition directory's `leader-epoch-checkpoint` file (the I/O beside the pure cache):
// written atomically (temp file, fsync, rename, directory fsync), so a crash leaves the old or the
// new list, never a mix. A missing file on a non-empty log is rebuilt from the batches' own
// partitionLeaderEpoch fields, so a follower never fetches without a lastFetchedEpoch it could have.

import { open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { readBatchHeader } from '@gregor/protocol';
import {
  type EpochEntry,
  formatLeaderEpochCheckpoint,
  LeaderEpochCache,
  leaderEpochCheckpointFileName,
  parseLeaderEpochCheckpoint,
} from '@gregor/replication';
import type { PartitionLog } from '@gregor/storage';

/** Bytes read per step when rebuilding a cache from the log. */
const rebuildReadBytes = 1024 * 1024;

/** The entries in `partitionDir`'s checkpoint; undefined when the file is missing or unreadable. */
export async function readLeaderEpochCheckpoint(partitionDir: string): Promise<EpochEntry[] | undefined> {
  let text: string;
  try {
    text = await readFile(join(partitionDir, leaderEpochCheckpointFileName), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  return parseLeaderEpochCheckpoint(text);
}

export async function writeLeaderEpochCheckpoint(
  partitionDir: string,
  entries: readonly EpochEntry[],
): Promise<void> {
  const finalPath = join(partitionDir, leaderEpochCheckpointFileName);
  const tmpPath = `${finalPath}.tmp`;
  const file = await open(tmpPath, 'w');
  try {
    await file.writeFile(formatLeaderEpochCheckpoint(entries));
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(tmpPath, finalPath);
  const dir = await open(partitionDir, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

export interface LoadedLeaderEpochCache {
  readonly cache: LeaderEpochCache;
  /** The cache is exactly what the checkpoint file holds (no need to write it again). */
  readonly fromCheckpoint: boolean;
}

/** The cache from the checkpoint, or rebuilt from every batch header when there is none. */
export async function loadLeaderEpochCache(log: PartitionLog): Promise<LoadedLeaderEpochCache> {
  const entries = await log.withPartitionDir((dir) => readLeaderEpochCheckpoint(dir));
  if (entries !== undefined) return { cache: new LeaderEpochCache(entries), fromCheckpoint: true };
  if (log.logEndOffset <= log.logStartOffset) return { cache: new LeaderEpochCache(), fromCheckpoint: false };
  const cache = new LeaderEpochCache();
  let offset = log.logStartOffset;
  while (offset < log.logEndOffset) {
    const read = await log.read(offset, rebuildReadBytes);
    if (read.errorCode !== 0 || read.records.length === 0) break;
    let position = 0;
    while (position < read.records.length) {
      const header = readBatchHeader(read.records, position);
      if (header.partitionLeaderEpoch >= 0) cache.assign(header.partitionLeaderEpoch, header.baseOffset);
      position += header.sizeBytes;
      offset = header.lastOffset + 1;
    }
  }
  return { cache, fromCheckpoint: false };
}

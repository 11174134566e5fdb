// Start-up loading of the broker's log dirs (Kafka's LogManager.loadLogs): each `log.dirs` entry's
// checkpoint files are read, every partition directory in it is opened (recovered after a crash,
// log-loader.ts), leftovers of deleted partitions are removed, and the clean-shutdown markers are
// consumed once every dir is loaded, so a crash from then on is unclean.
//
// A dir that cannot be read is offline from the start and the others load (Kafka's rule); a
// partition that cannot be opened for lack of descriptors stays unopened and the others open.

import { access, mkdir, readdir, rename, rm, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { forEachConcurrently } from './bounded-concurrency.js';
import {
  cleanerOffsetCheckpointName,
  fsyncDirectory,
  logStartOffsetCheckpointName,
  partitionKey,
  readCheckpointFile,
  recoveryPointCheckpointName,
} from './checkpoint-file.js';
import { asTooManyOpenFiles, type FileHandleCache } from './file-handle-cache.js';
import { type BrokerLogConfig, parseLogConfig } from './log-config.js';
import { isIoError, type LogDirFailureChannel } from './log-dir-failure-channel.js';
import { LogDirectory, type UnopenedLog } from './log-directory.js';
import type { LogManagerOptions } from './log-manager.js';
import { PartitionLog, type PartitionLogOptions } from './partition-log.js';
import {
  isDeletedDirName,
  isFutureDirName,
  parseFutureDirName,
  parsePartitionDirName,
  partitionDirOfMoved,
} from './segment-files.js';

export const cleanShutdownFileName = '.kafka_cleanshutdown';
/**
 * Partitions opened at once per log dir at start-up: their reads, index checks and recovery fsyncs
 * overlap (Kafka's num.recovery.threads.per.data.dir does the same with threads).
 */
export const logOpenConcurrencyPerDir = 16;
/** Kafka's legal topic names. */
export const topicNamePattern = /^[a-zA-Z0-9._-]{1,249}$/;
/**
 * The metadata quorum's Raft log (`__cluster_metadata-0`, a LevelDB) may live in a log dir, as in
 * KRaft; it is not a partition log, and re-validating its files as segments after an unclean
 * shutdown destroys it. Kafka's LogManager skips it the same way.
 */
export const metadataTopicName = '__cluster_metadata';

export async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** Whether `path` is there; 'unknown' when asking failed for another reason than ENOENT. */
async function probe(path: string): Promise<'present' | 'absent' | 'unknown'> {
  try {
    await access(path);
    return 'present';
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'absent' : 'unknown';
  }
}

/** How a partition found on disk (or set aside) is opened from its dir's checkpoints. */
export function openOptions(
  dir: LogDirectory,
  entry: UnopenedLog,
  config: BrokerLogConfig,
  options: LogManagerOptions,
  files: FileHandleCache,
  logDirFailureChannel: LogDirFailureChannel,
): PartitionLogOptions {
  return {
    dir: join(dir.path, partitionKey(entry.topic, entry.partition)),
    topic: entry.topic,
    partition: entry.partition,
    config: parseLogConfig(options.topicOverrides?.(entry.topic) ?? {}, config.defaults),
    clock: options.clock,
    recoveryPoint: entry.recoveryPoint,
    logStartOffset: entry.logStartOffset,
    hadCleanShutdown: entry.hadCleanShutdown,
    checkpoints: dir,
    files,
    logDirFailureChannel,
  };
}

/** A future replica's directory a restart found (log-dir-move.ts): its copy is resumed or removed. */
export interface InterruptedMove {
  readonly dir: LogDirectory;
  /** The `-future` directory's name in `dir`. */
  readonly name: string;
  readonly topic: string;
  readonly partition: number;
  readonly uniqueId: string;
}

/**
 * Opens every log dir and every partition in it. A dir with the clean-shutdown marker skips
 * re-validation; the marker is removed once all logs are open, so a crash from now on is unclean.
 * Future replicas' directories are left for the LogManager to resume (`interruptedMoves`). Throws
 * when no dir could be loaded.
 */
export async function loadLogDirs(
  options: LogManagerOptions,
  files: FileHandleCache,
  failures: LogDirFailureChannel,
): Promise<{ dirs: LogDirectory[]; interruptedMoves: InterruptedMove[] }> {
  const dirs = options.config.logDirs.map((path) => new LogDirectory(path, files, failures));
  const seen = new Map<string, string>();
  const interruptedMoves: InterruptedMove[] = [];
  for (const dir of dirs) {
    try {
      await loadLogDir(options, dir, seen, files, failures, interruptedMoves);
    } catch (error) {
      // No descriptor left while reading the dir itself is the process's limit, not the disk:
      // the broker cannot start like this (the operator raises the limit), and the dir is fine.
      if (asTooManyOpenFiles(error, dir.path) !== undefined || !isIoError(error)) throw error;
      // A dir that cannot be read is offline from the start (Kafka loads the others); the logs
      // it did open are closed, and its partitions are unknown to this broker until a restart.
      const reason = `${dir.path}: loading failed: ${error.code} (${error.message})`;
      failures.maybeAddOfflineLogDir(dir.path, reason);
      for (const log of dir.logs.values()) await log.closeAfterFailure(reason);
      for (const key of [...dir.logs.keys(), ...dir.unopened.keys()]) seen.delete(key);
      dir.logs.clear();
      dir.unopened.clear();
    }
  }
  if (dirs.every((dir) => dir.isOffline)) {
    throw new Error(
      `every log dir failed: ${failures.offlineLogDirs.map((failure) => failure.reason).join('; ')}`,
    );
  }
  for (const dir of dirs) {
    if (dir.isOffline) continue;
    const marker = join(dir.path, cleanShutdownFileName);
    if (await exists(marker)) {
      await unlink(marker);
      await fsyncDirectory(dir.path, files);
    }
  }
  return { dirs, interruptedMoves: interruptedMoves.filter((move) => !move.dir.isOffline) };
}

async function loadLogDir(
  options: LogManagerOptions,
  dir: LogDirectory,
  seen: Map<string, string>,
  files: FileHandleCache,
  failures: LogDirFailureChannel,
  interruptedMoves: InterruptedMove[],
): Promise<void> {
  await mkdir(dir.path, { recursive: true });
  const hadCleanShutdown = await exists(join(dir.path, cleanShutdownFileName));
  const recoveryPoints = await readCheckpointFile(dir.path, recoveryPointCheckpointName, files);
  const logStartOffsets = await readCheckpointFile(dir.path, logStartOffsetCheckpointName, files);
  const cleanerOffsets = await readCheckpointFile(dir.path, cleanerOffsetCheckpointName, files);
  for (const [key, entry] of cleanerOffsets) dir.firstDirtyOffsets.set(key, entry.offset);
  const entries = await files.withTransientDescriptor(dir.path, () =>
    readdir(dir.path, { withFileTypes: true }),
  );
  const toOpen: UnopenedLog[] = [];
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    const future = parseFutureDirName(entry.name);
    const futurePartition = future === undefined ? undefined : parsePartitionDirName(future.partitionDir);
    if (future !== undefined && futurePartition !== undefined) {
      // The future replica of a move a restart interrupted (log-dir-move.ts): resumed once every
      // log is open, when its partition's log is in another dir.
      interruptedMoves.push({ dir, name: entry.name, ...futurePartition, uniqueId: future.uniqueId });
      continue;
    }
    if (isDeletedDirName(entry.name) || isFutureDirName(entry.name)) {
      // A partition deleted before a crash or restart finished removing it (or a future replica's
      // directory with no partition name).
      const doomed = join(dir.path, entry.name);
      await files.withTransientDescriptor(doomed, () => rm(doomed, { recursive: true, force: true }));
      continue;
    }
    let name = entry.name;
    const movedFrom = partitionDirOfMoved(name);
    if (movedFrom !== undefined) {
      // The old copy of a swap a crash interrupted (log-dir-move.ts): the new copy took the name
      // in another log dir, or it did not and this one takes it back. Where another dir cannot
      // say (it cannot be read), the copy here stays as it is and is not opened: the new copy may
      // have taken the name there and taken appends since, and serving this one would serve a
      // stale log; a start with that dir readable again decides.
      const moved = join(dir.path, name);
      const found = await Promise.all(options.config.logDirs.map((logDir) => probe(join(logDir, movedFrom))));
      if (found.includes('present')) {
        await files.withTransientDescriptor(moved, () => rm(moved, { recursive: true, force: true }));
        continue;
      }
      if (found.includes('unknown')) continue;
      await rename(moved, join(dir.path, movedFrom));
      await fsyncDirectory(dir.path, files);
      name = movedFrom;
    }
    const parsed = parsePartitionDirName(name);
    if (parsed === undefined || !topicNamePattern.test(parsed.topic)) continue;
    if (parsed.topic === metadataTopicName) continue;
    const key = partitionKey(parsed.topic, parsed.partition);
    const other = seen.get(key);
    if (other !== undefined) {
      throw new Error(`partition ${key} is in two log dirs: ${other} and ${dir.path}`);
    }
    seen.set(key, dir.path);
    toOpen.push({
      topic: parsed.topic,
      partition: parsed.partition,
      recoveryPoint: recoveryPoints.get(key)?.offset ?? 0,
      logStartOffset: logStartOffsets.get(key)?.offset,
      hadCleanShutdown,
    });
  }
  // The cleaner's bookmarks of partitions that are not here (a crash after a move's swap, before
  // the dirs' checkpoints were written, leaves the moved log's in the dir it left): none may apply
  // to a log created here later under that name.
  const here = new Set(toOpen.map((unopened) => partitionKey(unopened.topic, unopened.partition)));
  for (const key of [...dir.firstDirtyOffsets.keys()]) if (!here.has(key)) dir.firstDirtyOffsets.delete(key);
  await forEachConcurrently(toOpen, logOpenConcurrencyPerDir, async (unopened) => {
    const key = partitionKey(unopened.topic, unopened.partition);
    try {
      dir.logs.set(
        key,
        await PartitionLog.open(openOptions(dir, unopened, options.config, options, files, failures)),
      );
    } catch (error) {
      // Out of descriptors: this partition waits (unopened) and the others open; the dir is fine.
      const exhaustion = asTooManyOpenFiles(error, join(dir.path, key));
      if (exhaustion === undefined) throw error;
      dir.unopened.set(key, unopened);
      options.onLogOpenFailure?.(key, exhaustion);
    }
  });
}

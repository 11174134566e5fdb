// Kafka's per-log-dir offset checkpoint files (`recovery-point-offset-checkpoint`,
// `log-start-offset-checkpoint`, `cleaner-offset-checkpoint`), in Kafka's text format:
//
//   0                      <- format version
//   2                      <- entry count
//   orders 0 1500          <- topic partition offset
//   orders 1 1432
//
// Written atomically: a temp file is written and fsynced, renamed over the old one, and the directory
// is fsynced so the rename itself survives a crash. A reader therefore sees the old or the new file,
// never a mix.
//
// Every descriptor these helpers open counts against the broker's FileHandleCache when one is given
// (storage always passes its own); callers outside storage may leave it out.

import { type FileHandle, open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { FileHandleCache } from './file-handle-cache.js';

export const recoveryPointCheckpointName = 'recovery-point-offset-checkpoint';
export const logStartOffsetCheckpointName = 'log-start-offset-checkpoint';
/** The log cleaner's first dirty offset per compacted partition. */
export const cleanerOffsetCheckpointName = 'cleaner-offset-checkpoint';
export const checkpointVersion = 0;

/** Key for a partition in checkpoint maps: `<topic>-<partition>`, the same as its directory name. */
export function partitionKey(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}

export interface CheckpointEntry {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

export function formatCheckpoint(entries: readonly CheckpointEntry[]): string {
  const lines = [String(checkpointVersion), String(entries.length)];
  for (const e of entries) lines.push(`${e.topic} ${e.partition} ${e.offset}`);
  return `${lines.join('\n')}\n`;
}

/**
 * Parses a checkpoint; returns undefined when the text is not a valid version-0 checkpoint. The caller
 * then treats every partition as unknown, which is safe: recovery starts from the first segment and
 * the log start offset falls back to the first segment's base offset.
 */
export function parseCheckpoint(text: string): Map<string, CheckpointEntry> | undefined {
  const lines = text.split('\n').filter((line) => line.length > 0);
  if (lines[0] !== String(checkpointVersion)) return undefined;
  const count = Number(lines[1]);
  if (!Number.isSafeInteger(count) || count !== lines.length - 2) return undefined;
  const entries = new Map<string, CheckpointEntry>();
  for (const line of lines.slice(2)) {
    // Topic names cannot contain spaces (Kafka allows [a-zA-Z0-9._-]), so split from the right.
    const match = /^(\S+) (\d+) (-?\d+)$/.exec(line);
    if (match === null) return undefined;
    const entry = { topic: match[1]!, partition: Number(match[2]), offset: Number(match[3]) };
    if (!Number.isSafeInteger(entry.partition) || !Number.isSafeInteger(entry.offset)) return undefined;
    entries.set(partitionKey(entry.topic, entry.partition), entry);
  }
  return entries;
}

/** Runs `operation` on `path` opened with `flags`, through `files` when given. */
async function withDescriptor<T>(
  files: FileHandleCache | undefined,
  path: string,
  flags: string,
  operation: (handle: FileHandle) => Promise<T>,
): Promise<T> {
  if (files !== undefined) return files.withFile(path, flags, operation);
  const handle = await open(path, flags);
  try {
    return await operation(handle);
  } finally {
    await handle.close();
  }
}

export async function readCheckpointFile(
  dir: string,
  name: string,
  files?: FileHandleCache,
): Promise<Map<string, CheckpointEntry>> {
  let text: string;
  try {
    text = await withDescriptor(files, join(dir, name), 'r', (handle) => handle.readFile('utf8'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw error;
  }
  return parseCheckpoint(text) ?? new Map();
}

/** fsyncs a directory so that renames, creations and unlinks in it are durable. */
export async function fsyncDirectory(dir: string, files?: FileHandleCache): Promise<void> {
  await withDescriptor(files, dir, 'r', (handle) => handle.sync());
}

/** Writes `data` to `dir/name` atomically: tmp file + fsync + rename + directory fsync. */
export async function writeFileAtomically(
  dir: string,
  name: string,
  data: string | Buffer,
  files?: FileHandleCache,
): Promise<void> {
  const finalPath = join(dir, name);
  const tmpPath = `${finalPath}.tmp`;
  await withDescriptor(files, tmpPath, 'w', async (handle) => {
    await handle.writeFile(data);
    await handle.sync();
  });
  await rename(tmpPath, finalPath);
  await fsyncDirectory(dir, files);
}

export async function writeCheckpointFile(
  dir: string,
  name: string,
  entries: readonly CheckpointEntry[],
  files?: FileHandleCache,
): Promise<void> {
  await writeFileAtomically(dir, name, formatCheckpoint(entries), files);
}

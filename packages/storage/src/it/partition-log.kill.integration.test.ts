// A real process crash: a child process (dist-test/testing/append-until-killed.js, built from
// src/testing/ by tsconfig.test-programs.json) appends to a partition
// log with appends in flight and is killed with SIGKILL; a second child recovers and continues that
// log and is killed too; this process then opens the directory and checks the recovery. A kill loses no
// written byte (the page cache survives it), so every acknowledged batch must be there, the log must
// be an unbroken prefix of the child's sequence, the indexes must be what a clean append of that
// prefix writes (the child's unwritten index entries died with it), and appends continue at the end.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ManualClock } from '@gregor/ground';
import { ErrorCode, readBatchHeader } from '@gregor/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBrokerLogConfig } from '../log-config.js';
import { cleanShutdownFileName, LogManager } from '../log-manager.js';
import type { PartitionLog } from '../partition-log.js';
import {
  killTestBatch,
  killTestBatchIndexAt,
  killTestBrokerProps,
  killTestLeaderEpoch,
  killTestTopic,
} from '../testing/append-until-killed.js';
import { makeTempDir, removeDir } from '../testing/temp-dirs.js';

const childPath = join(
  resolve(dirname(fileURLToPath(import.meta.url)), '..', '..'),
  'dist-test',
  'testing',
  'append-until-killed.js',
);
const segmentBytes = 64 * 1024;
const indexIntervalBytes = 1024;
const partitionDirName = `${killTestTopic}-0`;

let root: string;

beforeAll(async () => {
  if (!existsSync(childPath)) throw new Error(`${childPath} is missing: run npm run build first`);
  root = await makeTempDir('storage-kill');
});

afterAll(async () => {
  await removeDir(root);
});

async function openAt(dir: string): Promise<{ manager: LogManager; log: PartitionLog }> {
  const manager = await LogManager.open({
    config: parseBrokerLogConfig(killTestBrokerProps(dir, segmentBytes, indexIntervalBytes)),
    clock: new ManualClock(1_700_000_000_000),
  });
  return { manager, log: await manager.getOrCreateLog(killTestTopic, 0) };
}

/**
 * Starts the appending child on `dir`, waits until it has acknowledged `acksBeforeKill` appends, and
 * kills it with SIGKILL right away (with appends still in flight). Returns the last acknowledged
 * offset.
 */
async function appendThenKill(dir: string, acksBeforeKill: number): Promise<number> {
  const child: ChildProcess = spawn(
    process.execPath,
    [childPath, dir, String(segmentBytes), String(indexIntervalBytes)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const stderr: string[] = [];
  child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk.toString()));
  const exited = once(child, 'exit');
  let acks = 0;
  let lastAckedOffset = -1;
  for await (const line of createInterface({ input: child.stdout! })) {
    const [word, , lastOffset] = line.split(' ');
    expect(word).toBe('acked');
    lastAckedOffset = Math.max(lastAckedOffset, Number(lastOffset));
    acks += 1;
    if (acks === acksBeforeKill) {
      child.kill('SIGKILL');
      break;
    }
  }
  const [code, signal] = await exited;
  expect({ code, signal, stderr: stderr.join('') }).toEqual({ code: null, signal: 'SIGKILL', stderr: '' });
  return lastAckedOffset;
}

/** The stored bytes of the child's batches 0..count-1, offsets and epoch as the log assigns them. */
function expectedBatches(count: number): Buffer[] {
  const out: Buffer[] = [];
  let offset = 0;
  for (let i = 0; i < count; i++) {
    const bytes = killTestBatch(i);
    bytes.writeBigInt64BE(BigInt(offset), 0);
    bytes.writeInt32BE(killTestLeaderEpoch, 12);
    offset = readBatchHeader(bytes).lastOffset + 1;
    out.push(bytes);
  }
  return out;
}

async function readTree(dir: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const name of await readdir(dir)) files.set(name, await readFile(join(dir, name)));
  return files;
}

/** The partition directory a clean run appending `batches` and closing leaves behind. */
async function referenceFiles(batches: readonly Buffer[]): Promise<Map<string, Buffer>> {
  const dir = await makeTempDir('storage-kill-reference');
  try {
    const { manager, log } = await openAt(dir);
    for (const bytes of batches) await log.appendAsFollower(Buffer.from(bytes));
    await manager.close();
    return await readTree(join(dir, partitionDirName));
  } finally {
    await removeDir(dir);
  }
}

/** Opens the killed child's log and checks it; returns the log end offset. */
async function checkRecovered(dir: string, lastAckedOffset: number): Promise<void> {
  expect(existsSync(join(dir, cleanShutdownFileName))).toBe(false);
  const { manager, log } = await openAt(dir);
  const logEnd = log.logEndOffset;
  const count = killTestBatchIndexAt(logEnd);
  const expected = expectedBatches(count);
  try {
    // Everything acknowledged is there, and the log ends at a batch boundary of the sequence.
    expect(logEnd).toBeGreaterThan(lastAckedOffset);
    expect(readBatchHeader(expected.at(-1)!).lastOffset + 1).toBe(logEnd);
    const all = await log.read(0, 1 << 30);
    expect(all.errorCode).toBe(ErrorCode.NONE);
    if (all.errorCode === ErrorCode.NONE) expect(all.records.equals(Buffer.concat(expected))).toBe(true);
    // Every offset is found through the indexes as they stand after recovery.
    for (const bytes of expected) {
      const header = readBatchHeader(bytes);
      for (let offset = header.baseOffset; offset <= header.lastOffset; offset++) {
        const one = await log.read(offset, 1);
        expect(one.errorCode === ErrorCode.NONE && one.records.equals(bytes), `read ${offset}`).toBe(true);
      }
    }
    expect((await log.read(logEnd + 1, 1 << 20)).errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    expect(log.segmentBaseOffsets().length).toBeGreaterThan(2);
    // Appends continue at the end: the next batch of the sequence.
    expect((await log.append(killTestBatch(count), killTestLeaderEpoch)).baseOffset).toBe(logEnd);
  } finally {
    await manager.close();
  }
  // The files, indexes included, are what a clean run with the same batches leaves.
  const expectedFiles = await referenceFiles(expectedBatches(count + 1));
  const actualFiles = await readTree(join(dir, partitionDirName));
  expect([...actualFiles.keys()].sort()).toEqual([...expectedFiles.keys()].sort());
  for (const [name, bytes] of expectedFiles) expect(actualFiles.get(name)!.equals(bytes), name).toBe(true);
}

describe('processes killed with SIGKILL while appending', () => {
  it('lose no acknowledged batch; the indexes are rebuilt and appends continue at the end', async () => {
    const dir = join(root, 'log-dir');
    const firstAcked = await appendThenKill(dir, 400);
    // The second child opens the log the first one left (an unclean shutdown), continues it, and is
    // killed in turn; this process then recovers what the second one left.
    const secondAcked = await appendThenKill(dir, 300);
    expect(secondAcked).toBeGreaterThan(firstAcked);
    await checkRecovered(dir, secondAcked);
  });
});

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir, readFile, readlink, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode } from '@gregor/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CachedFile, FileHandleCache, TooManyOpenFilesError } from './file-handle-cache.js';
import { makeTempDir, removeDir } from './testing/temp-dirs.js';

let root: string;

beforeEach(async () => {
  root = await makeTempDir('handle-cache');
});

afterEach(async () => {
  await removeDir(root);
});

async function makeFiles(count: number): Promise<string[]> {
  const paths: string[] = [];
  for (let i = 0; i < count; i++) {
    const path = join(root, `file-${i}`);
    await writeFile(path, `content of file ${i}`);
    paths.push(path);
  }
  return paths;
}

function readAll(file: CachedFile): Promise<string> {
  return file.use(async (handle) => {
    const buffer = Buffer.alloc(64);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return buffer.subarray(0, bytesRead).toString();
  });
}

/** Descriptors this process holds on files under the test directory, counted by the kernel. */
async function descriptorsUnderRoot(): Promise<number> {
  let count = 0;
  for (const fd of await readdir('/proc/self/fd')) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    if (target.startsWith(root)) count += 1;
  }
  return count;
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('FileHandleCache', () => {
  it('keeps at most `capacity` descriptors open and closes the least recently used idle one', async () => {
    const cache = new FileHandleCache(3);
    const paths = await makeFiles(6);
    const files = paths.map((path) => cache.file(path, 'r'));
    for (const [i, file] of files.entries()) {
      expect(await readAll(file)).toBe(`content of file ${i}`);
      expect(cache.stats.open).toBeLessThanOrEqual(3);
      expect(await descriptorsUnderRoot()).toBeLessThanOrEqual(3);
    }
    expect(files.map((file) => file.isOpen)).toEqual([false, false, false, true, true, true]);
    await readAll(files[3]!); // 4 is now the least recently used
    await readAll(files[0]!);
    expect(files.map((file) => file.isOpen)).toEqual([true, false, false, true, false, true]);
    expect(await descriptorsUnderRoot()).toBe(3);
    await cache.closeIdle();
    expect(await descriptorsUnderRoot()).toBe(0);
    expect(cache.stats.open).toBe(0);
  });

  it('never closes a pinned descriptor: an open past the budget waits until one is unpinned', async () => {
    const cache = new FileHandleCache(2);
    const [a, b, c] = (await makeFiles(3)).map((path) => cache.file(path, 'r'));
    await a!.pin();
    await b!.pin();
    let cRead: string | undefined;
    const pending = readAll(c!).then((text) => {
      cRead = text;
    });
    for (let i = 0; i < 20; i++) await tick();
    expect(cRead).toBeUndefined();
    expect(cache.stats.waits).toBe(1);
    // The pinned files stay usable while c waits.
    expect(await readAll(a!)).toBe('content of file 0');
    expect(await readAll(b!)).toBe('content of file 1');
    a!.unpin();
    await pending;
    expect(cRead).toBe('content of file 2');
    expect([a!.isOpen, b!.isOpen]).toEqual([false, true]);
    b!.unpin();
    expect(await descriptorsUnderRoot()).toBeLessThanOrEqual(2);
    await cache.closeIdle();
  });

  it('runs hundreds of concurrent I/Os over more files than descriptors without touching a closed one', async () => {
    const cache = new FileHandleCache(4);
    const paths = await makeFiles(40);
    const files = paths.map((path) => cache.file(path, 'r'));
    const reads = Array.from({ length: 800 }, (_, i) => {
      const index = (i * 7) % files.length;
      return readAll(files[index]!).then((text) => [index, text] as const);
    });
    for (const [index, text] of await Promise.all(reads)) expect(text).toBe(`content of file ${index}`);
    expect(cache.stats.open).toBeLessThanOrEqual(4);
    expect(cache.stats.evictions).toBeGreaterThan(0);
    await cache.closeIdle();
  });

  it('reopens a renamed file under its new name, and closes a discarded one when its last pin goes', async () => {
    const cache = new FileHandleCache(2);
    const [first, second, third] = await makeFiles(3);
    const file = cache.file(first!, 'r');
    await readAll(file);
    await rename(first!, `${first}.deleted`);
    file.renamed(`${first}.deleted`);
    // Two other files push it out; the next read reopens it by its new name.
    await readAll(cache.file(second!, 'r'));
    await readAll(cache.file(third!, 'r'));
    expect(file.isOpen).toBe(false);
    expect(await readAll(file)).toBe('content of file 0');

    await file.pin();
    await file.discard();
    expect(file.isOpen).toBe(true); // a read in flight finishes on its open descriptor
    expect(await readAll(file)).toBe('content of file 0');
    file.unpin();
    await tick();
    expect(file.isOpen).toBe(false);
    await expect(file.pin()).rejects.toThrow(/closed/);
    await cache.closeIdle();
  });

  it('creates a file with its create flags once, then reopens it without truncating', async () => {
    const cache = new FileHandleCache(2);
    const path = join(root, 'created');
    const file = cache.file(path, 'r+', 'w+');
    await file.use((handle) => handle.write(Buffer.from('kept'), 0, 4, 0));
    await cache.closeIdle();
    await file.use((handle) => handle.write(Buffer.from('!'), 0, 1, 4));
    await cache.closeIdle();
    expect(await readFile(path, 'utf8')).toBe('kept!');
  });
});

describe('FileHandleCache when the process runs out of descriptors (real EMFILE)', () => {
  // The limit is set by a shell started before descriptors run out and driven over its existing pipes:
  // once this process is at its limit it cannot create the pipes a new child process needs.
  const startLimitSetter = async () => {
    const shell = spawn(
      'sh',
      [
        '-c',
        'while read soft hard; do prlimit --pid=$PPID --nofile=$soft:$hard && echo ok || echo failed; done',
      ],
      {
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    );
    shell.stdout.setEncoding('utf8');
    const lines = shell.stdout[Symbol.asyncIterator]();
    return {
      async set(soft: number, hard: number) {
        shell.stdin.write(`${soft} ${hard}\n`);
        const { value } = await lines.next();
        if (String(value).trim() !== 'ok') throw new Error(`prlimit --nofile=${soft}:${hard} failed`);
      },
      async stop() {
        shell.stdin.end();
        await once(shell, 'exit');
      },
    };
  };

  it('gives back its idle descriptors and retries; with every descriptor pinned it fails that one open', async () => {
    const limits = await readFile('/proc/self/limits', 'utf8');
    const match = /Max open files\s+(\d+)\s+(\d+)/.exec(limits);
    expect(match).not.toBeNull();
    const [soft, hard] = [Number(match![1]), Number(match![2])];
    const paths = await makeFiles(12);
    // The budget is larger than what the process may open: descriptors run out outside its count.
    const cache = new FileHandleCache(100);
    const files = paths.map((path) => cache.file(path, 'r'));
    const limitSetter = await startLimitSetter();
    const inUse = (await readdir('/proc/self/fd')).length;
    await limitSetter.set(inUse + 4, hard);
    const pinned: CachedFile[] = [];
    let refused: unknown;
    try {
      for (const [i, file] of files.entries()) {
        expect(await readAll(file)).toBe(`content of file ${i}`);
      }
      expect(cache.stats.descriptorExhaustions).toBeGreaterThan(0);
      for (const file of files) {
        try {
          await file.pin();
          pinned.push(file);
        } catch (error) {
          refused = error;
          break;
        }
      }
    } finally {
      for (const file of pinned) file.unpin();
      await cache.closeIdle();
      await limitSetter.set(soft, hard);
      await limitSetter.stop();
    }
    expect(pinned.length).toBeGreaterThan(0);
    expect(pinned.length).toBeLessThan(files.length);
    expect(refused).toBeInstanceOf(TooManyOpenFilesError);
    expect((refused as TooManyOpenFilesError).code).toBe(ErrorCode.KAFKA_STORAGE_ERROR);
    expect((refused as Error).message).toMatch(/EMFILE/);
    expect(cache.stats.open).toBe(0);
  });
});

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../config/config-def.js';
import {
  defaultOpenFilesMax,
  parseOpenFileLimit,
  raiseOpenFileLimit,
  readOpenFileLimit,
  storageOpenFilesMax,
} from './open-file-limit.js';

const silent = pino({ level: 'silent' });

describe('open-file limit', () => {
  it('parses the "Max open files" line of /proc/<pid>/limits', () => {
    const text = [
      'Limit                     Soft Limit           Hard Limit           Units',
      'Max processes             63448                63448                processes',
      'Max open files            1024                 4096                 files',
      'Max locked memory         8388608              8388608              bytes',
    ].join('\n');
    expect(parseOpenFileLimit(text)).toEqual({ soft: 1024, hard: 4096 });
    expect(parseOpenFileLimit('Max open files  unlimited  unlimited  files')).toEqual({
      soft: 1_048_576,
      hard: 1_048_576,
    });
    expect(parseOpenFileLimit('no such line')).toBeUndefined();
  });

  it('raises the soft limit of a real process (started with 1024:4096) to its hard limit', async () => {
    // A process that is not Node (Node raises its own limit when it starts), held by prlimit's limits.
    const child = spawn('prlimit', ['--nofile=1024:4096', 'sleep', '30'], { stdio: 'ignore' });
    try {
      await once(child, 'spawn');
      // prlimit execs sleep in the same process once it has set the limit.
      let before = readOpenFileLimit(child.pid!);
      for (let i = 0; i < 100 && before?.soft !== 1024; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        before = readOpenFileLimit(child.pid!);
      }
      expect(before).toEqual({ soft: 1024, hard: 4096 });
      const outcome = raiseOpenFileLimit(child.pid!);
      expect(outcome).toEqual({
        kind: 'raised',
        before: { soft: 1024, hard: 4096 },
        limit: { soft: 4096, hard: 4096 },
      });
      expect(readOpenFileLimit(child.pid!)).toEqual({ soft: 4096, hard: 4096 });
      expect(raiseOpenFileLimit(child.pid!).kind).toBe('already-at-hard-limit');
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('gives storage half the limit by default and refuses a budget at or above the limit', () => {
    const { soft } = readOpenFileLimit()!;
    expect(storageOpenFilesMax(-1, silent)).toBe(defaultOpenFilesMax(soft));
    expect(defaultOpenFilesMax(20_000)).toBe(10_000);
    expect(defaultOpenFilesMax(20)).toBe(16);
    expect(storageOpenFilesMax(soft - 1, silent)).toBe(soft - 1);
    expect(() => storageOpenFilesMax(soft, silent)).toThrow(ConfigError);
    expect(() => storageOpenFilesMax(soft, silent)).toThrow(/gregor\.log\.open\.files\.max.*open-file limit/);
  });
});

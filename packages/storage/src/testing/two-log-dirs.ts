// The set-up of the tests of a log dir move (log-dir-move.test.ts, log-dir-move.swap-window.test.ts):
// two log dirs `a` and `b` in a fresh temporary root, a manual clock, and every LogManager a test
// opened closed after it.

import { join } from 'node:path';
import { ManualClock } from '@gregor/ground';
import { afterEach, beforeEach } from 'vitest';
import type { ConfigProps } from '../log-config.js';
import type { LogManager } from '../log-manager.js';
import { makeTempDir, removeDir } from './temp-dirs.js';

/** Segments of 20,000 bytes: a move copies several of them. */
export const smallSegments: ConfigProps = { 'log.segment.bytes': '20000' };

export interface TwoLogDirs {
  /** The temporary directory holding both log dirs (and whatever else a test puts there). */
  root: string;
  a: string;
  b: string;
  clock: ManualClock;
  /** The managers to close after the test (a test that closes one itself takes it out). */
  readonly managers: LogManager[];
}

/** Registers the hooks that make fresh dirs before each test of the file and clean up after it. */
export function useTwoLogDirs(prefix: string): TwoLogDirs {
  const dirs: TwoLogDirs = { root: '', a: '', b: '', clock: new ManualClock(0), managers: [] };
  beforeEach(async () => {
    dirs.root = await makeTempDir(prefix);
    dirs.a = join(dirs.root, 'a');
    dirs.b = join(dirs.root, 'b');
    dirs.clock = new ManualClock(1_700_000_000_000);
  });
  afterEach(async () => {
    for (const manager of dirs.managers.splice(0)) await manager.close();
    await removeDir(dirs.root);
  });
  return dirs;
}

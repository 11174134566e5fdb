// The process's open-file limit (RLIMIT_NOFILE), which bounds partitions, segments and connections
// together. Kafka's documentation tells operators to raise it; the broker does it for them: the soft
// limit goes up to the hard limit at start-up, and storage gets half of it for its file handles
// (`gregor.log.open.files.max`), the rest staying for sockets, the metadata store and short-lived
// files.
//
// Node has no setrlimit. Node itself raises the soft limit to the hard one when it starts (its
// PlatformInit does, for every process not embedded with kNoAdjustResourceLimits), so usually there
// is nothing left to do; when the soft limit is still below the hard one, util-linux `prlimit
// --pid <own pid>` raises it (a process may raise its own soft limit up to its hard limit). The
// limit is read back from /proc/<pid>/limits either way, so the log says what is really in force.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { isDescriptorExhaustion, openFilesMaxDefault } from '@gregor/storage';
import { ConfigError } from '../config/config-def.js';
import type { Logger } from '../logging.js';

export interface OpenFileLimit {
  readonly soft: number;
  readonly hard: number;
}

/** How the soft limit ended up where it is. */
export type RaiseOutcome =
  | { readonly kind: 'already-at-hard-limit'; readonly limit: OpenFileLimit }
  | { readonly kind: 'raised'; readonly before: OpenFileLimit; readonly limit: OpenFileLimit }
  | { readonly kind: 'not-raised'; readonly limit: OpenFileLimit; readonly reason: string }
  | { readonly kind: 'unknown'; readonly reason: string };

/** How long `prlimit` may take before the broker gives up on it. */
const prlimitTimeoutMs = 5_000;
/** Linux's RLIM_INFINITY shows as "unlimited"; no process can use more than this many anyway. */
const unlimitedOpenFiles = 1_048_576;

/** Parses the "Max open files" line of /proc/<pid>/limits; undefined if it is not there. */
export function parseOpenFileLimit(limitsText: string): OpenFileLimit | undefined {
  const match = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(limitsText);
  if (match === null) return undefined;
  const value = (text: string) => (text === 'unlimited' ? unlimitedOpenFiles : Number(text));
  return { soft: value(match[1]!), hard: value(match[2]!) };
}

export function readOpenFileLimit(pid: number = process.pid): OpenFileLimit | undefined {
  try {
    return parseOpenFileLimit(readFileSync(`/proc/${pid}/limits`, 'utf8'));
  } catch {
    return undefined; // not Linux, or no /proc
  }
}

/** Raises the soft `nofile` limit of `pid` (this process by default) to its hard limit. */
export function raiseOpenFileLimit(pid: number = process.pid): RaiseOutcome {
  const before = readOpenFileLimit(pid);
  if (before === undefined) return { kind: 'unknown', reason: `cannot read /proc/${pid}/limits` };
  if (before.soft >= before.hard) return { kind: 'already-at-hard-limit', limit: before };
  try {
    execFileSync('prlimit', [`--pid=${pid}`, `--nofile=${before.hard}:${before.hard}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: prlimitTimeoutMs,
    });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    return {
      kind: 'not-raised',
      limit: readOpenFileLimit(pid) ?? before,
      reason: stderr !== undefined && stderr !== '' ? stderr : (error as Error).message,
    };
  }
  const after = readOpenFileLimit(pid) ?? before;
  return after.soft > before.soft
    ? { kind: 'raised', before, limit: after }
    : { kind: 'not-raised', limit: after, reason: 'prlimit ran but the soft limit did not change' };
}

/** Storage's share of the descriptors when `gregor.log.open.files.max` is not set: half. */
export function defaultOpenFilesMax(softLimit: number): number {
  return Math.max(openFilesMaxFloor, Math.floor(softLimit / 2));
}

/** The smallest descriptor budget `gregor.log.open.files.max` accepts. */
export const openFilesMaxFloor = 16;

/**
 * At start-up: raises the soft `nofile` limit to the hard one, logs both, and returns storage's
 * descriptor budget: `configured` (`gregor.log.open.files.max`), or half the limit for -1. A budget
 * at or above the limit is refused: storage alone could then exhaust the process.
 */
export function storageOpenFilesMax(configured: number, logger: Logger): number {
  const outcome = raiseOpenFileLimit();
  if (outcome.kind === 'unknown') {
    const openFilesMax = configured === -1 ? openFilesMaxDefault : configured;
    logger.warn(
      { reason: outcome.reason, openFilesMax },
      'cannot read the open-file limit; storage keeps at most openFilesMax files open',
    );
    return openFilesMax;
  }
  const { soft, hard } = outcome.limit;
  if (configured !== -1 && configured >= soft) {
    throw new ConfigError(
      openFilesMaxKey,
      `${configured} is not below the process's open-file limit ${soft} (ulimit -n); ` +
        'sockets and the metadata store need descriptors too',
    );
  }
  const openFilesMax = configured === -1 ? defaultOpenFilesMax(soft) : configured;
  const fields = { nofileSoft: soft, nofileHard: hard, openFilesMax };
  switch (outcome.kind) {
    case 'already-at-hard-limit':
      logger.info(fields, 'open-file limit (soft limit at the hard limit)');
      break;
    case 'raised':
      logger.info(
        { ...fields, nofileSoftBefore: outcome.before.soft },
        'open-file limit raised to the hard limit',
      );
      break;
    case 'not-raised':
      logger.warn(
        { ...fields, reason: outcome.reason },
        'cannot raise the open-file soft limit to the hard limit; raise it with ulimit -n',
      );
      break;
  }
  return openFilesMax;
}

const openFilesMaxKey = 'gregor.log.open.files.max';

/**
 * Notices when the process has no descriptor left. libuv hides EMFILE on accept (it drops the
 * pending connections with a spare descriptor and reports nothing), so without this the operator
 * would only see clients failing to connect. `check()` opens and closes one descriptor: the first
 * failure of a streak is logged as an error, the recovery as info.
 */
export class DescriptorExhaustionWatch {
  private exhausted = false;

  constructor(
    private readonly logger: Logger,
    private readonly probePath = '/dev/null',
  ) {}

  async check(): Promise<void> {
    let failure: NodeJS.ErrnoException | undefined;
    try {
      const handle = await open(this.probePath, 'r');
      await handle.close();
    } catch (error) {
      if (!isDescriptorExhaustion(error)) throw error;
      failure = error;
    }
    if (failure !== undefined && !this.exhausted) {
      this.exhausted = true;
      this.logger.error(
        { code: failure.code, nofileSoft: readOpenFileLimit()?.soft },
        'no file descriptor left: new connections are dropped and storage operations fail until some are closed',
      );
    } else if (failure === undefined && this.exhausted) {
      this.exhausted = false;
      this.logger.info('file descriptors available again');
    }
  }
}

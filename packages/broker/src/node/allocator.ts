// The malloc a broker process runs on. glibc's malloc keeps the pages of freed chunks resident
// unless they are at the top of its heap, so the Buffers that died after being promoted (freed only
// by a mark-compact) leave 60–75 MB of free but resident memory in every busy broker; jemalloc
// gives freed pages back to the kernel (madvise) after `dirty_decay_ms`. Measured with
// bench:replication (3 alternated pairs): a broker's resident memory over the run 190 -> 122 MB
// (median of 9 brokers' medians) and 187 -> 117 MB at the end, but its most only 241 -> 204 MB and
// 10-34% more broker CPU per MB in the 100 B cells; so it is opt-in, not the default
// (packages/broker/README.md, "The allocator").
//
// The allocator is chosen when the process starts (the dynamic loader reads LD_PRELOAD before any
// code runs), so, as with `brokerNodeFlags`, the launchers set it in the environment of the broker
// processes they start: scripts/cluster.mjs, the benchmarks' and the tests' clusters, and the
// container image (its entry point, docker/entrypoint.sh, which a test keeps equal to this module).
// GREGOR_ALLOCATOR=jemalloc asks for jemalloc; where libjemalloc is not installed nothing is set and
// the broker runs on the system's malloc. `gregor broker start` logs at info which one it runs on.

import { existsSync, readFileSync } from 'node:fs';

/** Where Debian/Ubuntu (libjemalloc2, per architecture), Fedora/RHEL and Alpine install jemalloc. */
export const jemallocLibraryPaths: readonly string[] = [
  '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2',
  '/usr/lib/aarch64-linux-gnu/libjemalloc.so.2',
  '/usr/lib64/libjemalloc.so.2',
  '/usr/lib/libjemalloc.so.2',
  '/usr/local/lib/libjemalloc.so.2',
];

/**
 * jemalloc's settings when the operator's environment has no MALLOC_CONF of its own:
 * background_thread purges freed pages on jemalloc's own thread (not in the allocating call, and
 * also while the broker is idle); dirty_decay_ms 1000 gives them back within about a second
 * instead of jemalloc's 10 s.
 */
export const jemallocConfDefault = 'background_thread:true,dirty_decay_ms:1000';

/** The variable that chooses the allocator of the brokers a launcher starts: `jemalloc` or `system`. */
export const allocatorEnvironmentVariable = 'GREGOR_ALLOCATOR';

/** The allocator when GREGOR_ALLOCATOR is not set: the system's malloc (jemalloc costs CPU, above). */
export const allocatorDefault: 'jemalloc' | 'system' = 'system';

/** The error for a GREGOR_ALLOCATOR that is neither `jemalloc` nor `system` (docker/entrypoint.sh says the same). */
export function unknownAllocatorMessage(value: string): string {
  return `${allocatorEnvironmentVariable}=${value} is not an allocator: use jemalloc or system`;
}

/**
 * What a launcher adds to a broker process's environment (`{ ...env, ...result }`): LD_PRELOAD of
 * the first of `libraries` that exists, before what LD_PRELOAD already held, and MALLOC_CONF
 * unless the environment has one, when GREGOR_ALLOCATOR (or, unset, `allocatorDefault`) is
 * `jemalloc`. Nothing otherwise, when LD_PRELOAD already names a jemalloc, or when no jemalloc is
 * installed. Throws for a GREGOR_ALLOCATOR that is neither `jemalloc` nor `system`.
 */
export function brokerAllocatorEnvironment(
  environment: Readonly<Record<string, string | undefined>>,
  exists: (path: string) => boolean = existsSync,
  libraries: readonly string[] = jemallocLibraryPaths,
): Record<string, string> {
  // Empty counts as unset, as the entry point's ${GREGOR_ALLOCATOR:-system} reads it.
  const asked = environment[allocatorEnvironmentVariable] || allocatorDefault;
  // A value it does not know is refused, not taken as the default: a misspelt `jemalloc` would
  // otherwise run on the system's malloc with nothing saying so.
  if (asked !== 'jemalloc' && asked !== 'system') throw new Error(unknownAllocatorMessage(asked));
  if (asked !== 'jemalloc') return {};
  const preload = environment.LD_PRELOAD ?? '';
  if (preload.includes('libjemalloc')) return {};
  const library = libraries.find((path) => exists(path));
  if (library === undefined) return {};
  return {
    LD_PRELOAD: preload === '' ? library : `${library}:${preload}`,
    MALLOC_CONF: environment.MALLOC_CONF ?? jemallocConfDefault,
  };
}

/** The allocator a process runs on, from its memory map (/proc/<pid>/maps). */
export function allocatorOf(maps: string): 'jemalloc' | 'system malloc' {
  return /\/libjemalloc[^/\n]*\.so/.test(maps) ? 'jemalloc' : 'system malloc';
}

/** The allocator this process runs on; `system malloc` where /proc cannot be read. */
export function runningAllocator(): 'jemalloc' | 'system malloc' {
  try {
    return allocatorOf(readFileSync('/proc/self/maps', 'utf8'));
  } catch {
    return 'system malloc';
  }
}

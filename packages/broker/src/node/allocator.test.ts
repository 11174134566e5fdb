import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  allocatorDefault,
  allocatorOf,
  brokerAllocatorEnvironment,
  jemallocConfDefault,
  jemallocLibraryPaths,
  unknownAllocatorMessage,
} from './allocator.js';

const installed = (path: string) => path === '/usr/lib64/libjemalloc.so.2';
const nothingInstalled = () => false;
const jemalloc = { GREGOR_ALLOCATOR: 'jemalloc' };

describe("the launchers' allocator environment", () => {
  it('is the system malloc by default: nothing added, jemalloc installed or not', () => {
    expect(allocatorDefault).toBe('system');
    expect(brokerAllocatorEnvironment({}, installed)).toEqual({});
    expect(brokerAllocatorEnvironment({ GREGOR_ALLOCATOR: 'system' }, installed)).toEqual({});
    expect(brokerAllocatorEnvironment({ GREGOR_ALLOCATOR: '' }, installed)).toEqual({});
  });

  it('with GREGOR_ALLOCATOR=jemalloc, preloads the first jemalloc installed, with the default MALLOC_CONF', () => {
    expect(brokerAllocatorEnvironment(jemalloc, installed)).toEqual({
      LD_PRELOAD: '/usr/lib64/libjemalloc.so.2',
      MALLOC_CONF: jemallocConfDefault,
    });
    // The first of the list wins when several are installed.
    expect(brokerAllocatorEnvironment(jemalloc, () => true).LD_PRELOAD).toBe(jemallocLibraryPaths[0]);
  });

  it('adds nothing where no jemalloc is installed: the broker runs on the system malloc', () => {
    expect(brokerAllocatorEnvironment(jemalloc, nothingInstalled)).toEqual({});
  });

  it("keeps the operator's LD_PRELOAD (after jemalloc) and MALLOC_CONF", () => {
    expect(
      brokerAllocatorEnvironment(
        { ...jemalloc, LD_PRELOAD: '/opt/x.so', MALLOC_CONF: 'dirty_decay_ms:0' },
        installed,
      ),
    ).toEqual({ LD_PRELOAD: '/usr/lib64/libjemalloc.so.2:/opt/x.so', MALLOC_CONF: 'dirty_decay_ms:0' });
    // A jemalloc the operator preloads already is left as it is.
    expect(
      brokerAllocatorEnvironment({ ...jemalloc, LD_PRELOAD: '/somewhere/libjemalloc.so.2' }, installed),
    ).toEqual({});
  });

  it('refuses a GREGOR_ALLOCATOR it does not know, naming the values it takes', () => {
    for (const value of ['jemaloc', 'tcmalloc', 'JEMALLOC']) {
      expect(() => brokerAllocatorEnvironment({ GREGOR_ALLOCATOR: value }, () => true)).toThrow(
        unknownAllocatorMessage(value),
      );
    }
  });

  it('names the allocator from a memory map', () => {
    const glibc = '7f00-7f10 r-xp 00000000 08:01 1 /usr/lib/x86_64-linux-gnu/libc.so.6\n';
    const jemalloc = `${glibc}7f20-7f30 r-xp 00000000 08:01 2 /usr/lib/x86_64-linux-gnu/libjemalloc.so.2\n`;
    expect(allocatorOf(glibc)).toBe('system malloc');
    expect(allocatorOf(jemalloc)).toBe('jemalloc');
  });
});

/** The allocator of a child Node process started with `environment`, from its memory map. */
function childAllocator(environment: Record<string, string>): string {
  const { LD_PRELOAD: _preload, MALLOC_CONF: _conf, GREGOR_ALLOCATOR: _allocator, ...rest } = process.env;
  const maps = execFileSync(
    process.execPath,
    ['-e', "process.stdout.write(require('node:fs').readFileSync('/proc/self/maps', 'utf8'))"],
    { encoding: 'utf8', env: { ...rest, ...environment } },
  );
  return allocatorOf(maps);
}

describe('a process started with that environment (libjemalloc2 installed: scripts/install-test-deps.sh)', () => {
  it('runs on jemalloc with GREGOR_ALLOCATOR=jemalloc, and on the system malloc otherwise', () => {
    expect(jemallocLibraryPaths.some((path) => existsSync(path))).toBe(true);
    expect(childAllocator(brokerAllocatorEnvironment(jemalloc))).toBe('jemalloc');
    expect(childAllocator({})).toBe('system malloc');
    expect(childAllocator(brokerAllocatorEnvironment({}))).toBe('system malloc');
    expect(childAllocator(brokerAllocatorEnvironment({ GREGOR_ALLOCATOR: 'system' }))).toBe('system malloc');
  });
});

describe("the image's entry point (docker/entrypoint.sh)", () => {
  it('is what the image starts', () => {
    const dockerfile = readFileSync(new URL('../../../../Dockerfile', import.meta.url), 'utf8');
    expect(dockerfile).toContain('ENTRYPOINT ["/opt/gregor/docker/entrypoint.sh", "broker", "start"]');
    expect(dockerfile).toMatch(/apt-get install[^\n]* libjemalloc2/);
  });

  const entrypoint = new URL('../../../../docker/entrypoint.sh', import.meta.url).pathname;
  const text = readFileSync(entrypoint, 'utf8');
  const scratch = mkdtempSync(join(tmpdir(), 'gregor-entrypoint-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('looks for the same libraries and sets the same MALLOC_CONF as the launchers', () => {
    expect(/for library in ([^;]+);/.exec(text)?.[1]?.trim().split(/\s+/)).toEqual(jemallocLibraryPaths);
    expect(text).toContain(`MALLOC_CONF-${jemallocConfDefault}}`);
  });

  /**
   * The entry point's environment for `gregor`, run with its library list replaced by `libraries`
   * (files in a scratch directory) and a `gregor` on PATH that prints its environment.
   */
  function entrypointEnvironment(libraries: string[], environment: Record<string, string>) {
    const script = join(scratch, 'entrypoint.sh');
    writeFileSync(script, text.replace(/for library in [^;]+;/, `for library in ${libraries.join(' ')};`));
    const bin = join(scratch, 'bin');
    rmSync(bin, { recursive: true, force: true });
    execFileSync('mkdir', ['-p', bin]);
    writeFileSync(
      join(bin, 'gregor'),
      // The shell's ${NAME-unset}: the variable's value, or "unset" when it is not set at all.
      ['#!/bin/sh', 'echo "args=$*"', 'LD_PRELOAD', 'MALLOC_CONF']
        .map((line) =>
          line.startsWith('#') || line.startsWith('echo') ? line : `echo "${line}=$\{${line}-unset}"`,
        )
        .join('\n'),
    );
    chmodSync(join(bin, 'gregor'), 0o755);
    const output = execFileSync('/bin/sh', [script, 'broker', 'start'], {
      encoding: 'utf8',
      env: { PATH: `${bin}:/usr/bin:/bin`, ...environment },
    });
    return Object.fromEntries(
      output
        .trim()
        .split('\n')
        .map((line) => line.split(/=(.*)/s).slice(0, 2)),
    );
  }

  it('preloads an installed jemalloc when asked, the way brokerAllocatorEnvironment does, or nothing', () => {
    const absent = join(scratch, 'absent.so');
    const present = join(scratch, 'libjemalloc.so.2');
    writeFileSync(present, '');
    const exists = (path: string) => path === present;
    const cases: Record<string, string>[] = [
      {},
      { GREGOR_ALLOCATOR: 'system' },
      { GREGOR_ALLOCATOR: '' },
      jemalloc,
      { ...jemalloc, LD_PRELOAD: '/opt/x.so', MALLOC_CONF: 'dirty_decay_ms:0' },
      { ...jemalloc, LD_PRELOAD: '/elsewhere/libjemalloc.so.2' },
      { LD_PRELOAD: '/opt/x.so' },
    ];
    for (const environment of cases) {
      const seen = entrypointEnvironment([absent, present], environment);
      const expected = {
        ...environment,
        ...brokerAllocatorEnvironment(environment, exists, [absent, present]),
      };
      expect(seen, JSON.stringify(environment)).toEqual({
        args: 'broker start',
        LD_PRELOAD: expected.LD_PRELOAD ?? 'unset',
        MALLOC_CONF: expected.MALLOC_CONF ?? 'unset',
      });
    }
    // A value it does not know: refused with the launchers' message, and gregor is not run.
    const refused = spawnSync('/bin/sh', [join(scratch, 'entrypoint.sh'), 'broker', 'start'], {
      encoding: 'utf8',
      env: { PATH: `${join(scratch, 'bin')}:/usr/bin:/bin`, GREGOR_ALLOCATOR: 'jemaloc' },
    });
    expect({ status: refused.status, stdout: refused.stdout, stderr: refused.stderr.trim() }).toEqual({
      status: 64,
      stdout: '',
      stderr: unknownAllocatorMessage('jemaloc'),
    });
    // None installed: nothing set, and gregor still runs.
    expect(entrypointEnvironment([absent], jemalloc)).toEqual({
      args: 'broker start',
      LD_PRELOAD: 'unset',
      MALLOC_CONF: 'unset',
    });
  });
});

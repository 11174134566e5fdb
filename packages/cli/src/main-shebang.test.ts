import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brokerNodeFlags, youngGenerationSemiSpaceMiBMax } from '@gregor/broker';
import { beforeAll, describe, expect, it } from 'vitest';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const builtMainPath = join(repoRoot, 'packages', 'cli', 'dist', 'main.js');
const buildTimeoutMs = 120_000;

/**
 * Preloaded into the started process (NODE_OPTIONS=--import): churns 2 million short-lived objects
 * and prints its execArgv and its new space's size in MiB to stderr.
 */
const probe = `
  import v8 from 'node:v8';
  const kept = [];
  for (let i = 0; i < 2e6; i++) {
    const object = { i, list: [i] };
    if (i % 5 === 0) kept.push(object);
    if (kept.length > 1e5) kept.length = 0;
  }
  const space = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
  const seen = { execArgv: process.execArgv, newSpaceMiB: space.space_size / 1048576 };
  process.stderr.write('probe ' + JSON.stringify(seen) + '\\n');`;

/**
 * Preloaded into the started process: a module hook that appends the URL of every file module it
 * loads, and at exit every CommonJS module in require's cache, to the file named by LOADED_LOG.
 */
const loadHook = `
  import { appendFileSync } from 'node:fs';
  export async function load(url, context, next) {
    if (url.startsWith('file:')) appendFileSync(process.env.LOADED_LOG, url + '\\n');
    return next(url, context);
  }`;
const loadedProbe = `
  import { appendFileSync } from 'node:fs';
  import { createRequire, register } from 'node:module';
  register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(loadHook)}));
  process.on('exit', () => {
    const cached = Object.keys(createRequire(process.cwd() + '/').cache);
    appendFileSync(process.env.LOADED_LOG, cached.map((path) => path + '\\n').join(''));
  });`;

describe('the gregor command', () => {
  it("starts Node with the broker's flags: its shebang passes exactly brokerNodeFlags", () => {
    const shebang = readFileSync(new URL('./main.ts', import.meta.url), 'utf8').split('\n')[0]!;
    // `env -S` splits the rest of the line into node's arguments.
    const [interpreter, split, node, ...flags] = shebang.slice('#!'.length).split(/\s+/);
    expect([interpreter, split, node]).toEqual(['/usr/bin/env', '-S', 'node']);
    expect(flags).toEqual(brokerNodeFlags);
  });

  describe('the built binary', () => {
    beforeAll(() => {
      execFileSync('npx', ['tsc', '-b', 'packages/cli'], { cwd: repoRoot, stdio: 'pipe' });
    }, buildTimeoutMs);

    it('run through its shebang, as the kernel runs it, has the flags and a bounded young generation', () => {
      const shebang = readFileSync(builtMainPath, 'utf8').split('\n')[0]!;
      // The kernel passes everything after the interpreter as one argument, then the script's path.
      const [interpreter, ...rest] = shebang.slice('#!'.length).trim().split(' ');
      const started = spawnSync(interpreter!, [rest.join(' '), builtMainPath, 'broker', '--help'], {
        encoding: 'utf8',
        env: { ...process.env, NODE_OPTIONS: `--import=data:text/javascript,${encodeURIComponent(probe)}` },
      });
      expect(started.stdout).toContain('Usage: gregor broker start');
      const line = started.stderr.split('\n').find((text) => text.startsWith('probe '));
      expect(line, started.stderr).toBeDefined();
      const seen = JSON.parse(line!.slice('probe '.length));
      for (const flag of brokerNodeFlags) expect(seen.execArgv).toContain(flag);
      expect(seen.newSpaceMiB).toBeLessThanOrEqual(2 * youngGenerationSemiSpaceMiBMax);
    });
    it("gregor broker loads the broker's modules, not the other commands', the client's or kafkajs", () => {
      const dir = mkdtempSync(join(tmpdir(), 'gregor-loaded-'));
      const log = join(dir, 'loaded');
      try {
        const started = spawnSync(process.execPath, [builtMainPath, 'broker', '--help'], {
          encoding: 'utf8',
          env: {
            ...process.env,
            LOADED_LOG: log,
            NODE_OPTIONS: `--import=data:text/javascript,${encodeURIComponent(loadedProbe)}`,
          },
        });
        expect(started.stdout).toContain('Usage: gregor broker start');
        const loaded = readFileSync(log, 'utf8').split('\n');
        const loads = (pattern: RegExp) => loaded.some((path) => pattern.test(path));
        // What `gregor broker` needs is there (so the probe sees the modules it should)...
        expect(loads(/packages\/cli\/dist\/broker-start\.js$/)).toBe(true);
        expect(loads(/packages\/broker\/dist\/index\.js$/)).toBe(true);
        expect(loads(/node_modules\/pino\//)).toBe(true);
        expect(loads(/node_modules\/@grpc\/grpc-js\//)).toBe(true);
        // ...and what it never uses is not: other commands, the client, the chaos tool and its
        // kafkajs, pino-pretty for a log that is not a terminal's, re2js before any pattern,
        // prom-client while no node serves metrics.
        expect(loads(/packages\/cli\/dist\/topics\.js$/)).toBe(false);
        expect(loads(/packages\/client\/dist\//)).toBe(false);
        expect(loads(/packages\/chaos\/dist\//)).toBe(false);
        expect(loads(/node_modules\/kafkajs\//)).toBe(false);
        expect(loads(/node_modules\/pino-pretty\//)).toBe(false);
        expect(loads(/node_modules\/re2js\//)).toBe(false);
        expect(loads(/node_modules\/prom-client\//)).toBe(false);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});

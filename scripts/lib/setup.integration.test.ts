// buildStaleness decides whether `npm run cluster` (and `npm test`) must run `npm run build` first:
// it must ask for a build exactly when one would change something, or a start rebuilds forever.

import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs module without types
import { buildStaleness } from './setup.mjs';

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

/** A workspace of one package (`pkg`) and one extra project file (`pkg/tsconfig.extra.json`). */
function workspace(): string {
  const root = mkdtempSync(join(tmpdir(), 'gregor-setup-'));
  roots.push(root);
  const write = (path: string, text: string) => {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
  };
  write(
    'tsconfig.json',
    JSON.stringify({ references: [{ path: 'pkg' }, { path: 'pkg/tsconfig.extra.json' }] }),
  );
  write(
    'pkg/tsconfig.json',
    JSON.stringify({ compilerOptions: { outDir: 'dist', tsBuildInfoFile: 'dist/.tsbuildinfo' } }),
  );
  write(
    'pkg/tsconfig.extra.json',
    JSON.stringify({ compilerOptions: { outDir: 'dist-extra', tsBuildInfoFile: 'dist-extra/.tsbuildinfo' } }),
  );
  write('pkg/src/index.ts', 'export {};\n');
  write('pkg/src/it/python/helper.py', 'print(1)\n');
  write('pkg/src/index.test.ts', 'export {};\n');
  return root;
}

/** Sets a path's mtime `secondsAgo` seconds in the past. */
function age(root: string, path: string, secondsAgo: number): void {
  const at = new Date(Date.now() - secondsAgo * 1_000);
  utimesSync(join(root, path), at, at);
}

function built(root: string): void {
  for (const dir of ['pkg/dist', 'pkg/dist-extra']) {
    mkdirSync(join(root, dir), { recursive: true });
    writeFileSync(join(root, dir, '.tsbuildinfo'), '{}');
    age(root, join(dir, '.tsbuildinfo'), 50);
  }
  for (const path of [
    'pkg/tsconfig.json',
    'pkg/tsconfig.extra.json',
    'pkg/src/index.ts',
    'pkg/src/index.test.ts',
  ])
    age(root, path, 100);
  age(root, 'pkg/src/it/python/helper.py', 100);
}

describe('buildStaleness', () => {
  it('asks for a build while a project, the extra tsconfig file included, has no build info', () => {
    const root = workspace();
    expect(buildStaleness(root)).toBe('pkg/dist/.tsbuildinfo is missing');
    mkdirSync(join(root, 'pkg/dist'));
    writeFileSync(join(root, 'pkg/dist/.tsbuildinfo'), '{}');
    expect(buildStaleness(root)).toBe('pkg/dist-extra/.tsbuildinfo is missing');
  });

  it('is satisfied once built, and stays so when only tests, other files or folders change', () => {
    const root = workspace();
    built(root);
    expect(buildStaleness(root)).toBeUndefined();
    writeFileSync(join(root, 'pkg/src/index.test.ts'), 'export const changed = 1;\n');
    writeFileSync(join(root, 'pkg/src/it/python/helper.py'), 'print(2)\n');
    writeFileSync(join(root, 'pkg/src/added.test.ts'), 'export {};\n');
    expect(buildStaleness(root)).toBeUndefined();
  });

  it('asks again when a source file or a project file is newer than the build', () => {
    const root = workspace();
    built(root);
    writeFileSync(join(root, 'pkg/src/index.ts'), 'export const changed = 1;\n');
    expect(buildStaleness(root)).toBe('pkg/src changed since the last build');
    age(root, 'pkg/src/index.ts', 100);
    writeFileSync(
      join(root, 'pkg/tsconfig.extra.json'),
      JSON.stringify({
        compilerOptions: { outDir: 'dist-extra', tsBuildInfoFile: 'dist-extra/.tsbuildinfo' },
      }),
    );
    expect(buildStaleness(root)).toBe('pkg/src changed since the last build');
  });
});

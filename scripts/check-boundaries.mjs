#!/usr/bin/env node
// Keeps the package boundaries mechanical (run by `npm run check`, after `biome check`).
//
// Each package README's "## May import" section is the one list of the Gregor packages it may import
// (`@gregor/x` names in backticks; those after "Tests also" only in tests). From those lists this
// script generates the `overrides` of the root biome.json, where biome's noRestrictedImports refuses
// any other `@gregor/*` import and any import of test support from production code, and where the
// pure folders get noRestrictedGlobals (no Date, timers, performance, process, crypto),
// noJsRestrictedProperties (no Math.random) and no Node I/O modules. What biome cannot express is
// checked here:
//   - biome.json's overrides are exactly what the READMEs say (`--write` regenerates them);
//   - every package declares what it imports: the README's production list is its package.json
//     `dependencies` on Gregor packages, its test list the `devDependencies`, every imported package
//     is declared, and every package its production code imports is a tsconfig reference;
//   - test support lives in `src/testing/` (never in dist: every tsconfig excludes it), so no
//     production file is imported only by tests, and every integration test lives in `src/it/`.
//
// Usage: node scripts/check-boundaries.mjs [--write]

import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const packagesDir = join(root, 'packages');
const biomePath = join(root, 'biome.json');
const write = process.argv.includes('--write');

/** Folders whose code decides and must stay deterministic: no clock, timers, randomness or I/O. */
const pureFolders = [
  'packages/raft/src/core',
  'packages/metadata/src',
  'packages/group/src',
  'packages/txn/src',
  'packages/protocol/src',
  'packages/replication/src',
  'packages/broker/src/fetch-sessions',
  'packages/sim/src',
];
/**
 * Files of a pure folder that the globals rules leave out, each the one place its folder meets Node's
 * event loop without reading the clock, delaying or drawing random numbers.
 */
const pureFolderEventLoopFiles = [
  // The replication simulation waits for the promise continuations of each simulated event.
  'packages/sim/src/node-event-loop.ts',
];
/** A folder inside a package with a narrower list than its package: Raft's core sees only ground. */
const coreFolders = [{ pkg: 'raft', dir: 'packages/raft/src/core', allowed: ['@gregor/ground'] }];

const deniedGlobals = {
  Date: 'Pure code takes the time as an argument or through a Clock (@gregor/ground).',
  performance: 'Pure code takes the time as an argument or through a Clock (@gregor/ground).',
  setTimeout: 'Pure code returns deadlines; its driver schedules them (TimerScheduler, @gregor/ground).',
  setInterval: 'Pure code returns deadlines; its driver schedules them (TimerScheduler, @gregor/ground).',
  setImmediate: 'Pure code returns deadlines; its driver schedules them (TimerScheduler, @gregor/ground).',
  clearTimeout: 'Pure code returns deadlines; its driver schedules them (TimerScheduler, @gregor/ground).',
  clearInterval: 'Pure code returns deadlines; its driver schedules them (TimerScheduler, @gregor/ground).',
  process: 'Pure code gets its settings and environment from its driver.',
  crypto: 'Pure code takes its randomness through a Random (@gregor/ground).',
};
const ioModules = [
  'child_process',
  'cluster',
  'crypto',
  'dgram',
  'dns',
  'fs',
  'fs/promises',
  'http',
  'http2',
  'https',
  'net',
  'os',
  'perf_hooks',
  'process',
  'readline',
  'timers',
  'timers/promises',
  'tls',
  'worker_threads',
];
const ioMessage = 'Pure code does no I/O and reads no clock: its driver passes what it needs.';

const problems = [];
const problem = (message) => problems.push(message);

function readJson(path) {
  return JSON.parse(readFileSync(path, 'utf8'));
}

function packageNames() {
  return readdirSync(packagesDir)
    .filter((name) => existsSync(join(packagesDir, name, 'package.json')))
    .sort();
}

/** The package a specifier names: `@gregor/broker/replica-core` → `@gregor/broker`. */
function packageOf(specifier) {
  return specifier.split('/').slice(0, 2).join('/');
}

/** The README's "## May import" lists: production imports, and those only tests may add. */
function mayImport(name) {
  const readmePath = join(packagesDir, name, 'README.md');
  if (!existsSync(readmePath)) {
    problem(`packages/${name} has no README.md with a "## May import" section`);
    return { production: [], tests: [] };
  }
  const text = readFileSync(readmePath, 'utf8');
  const start = text.search(/^## May import\s*$/m);
  if (start < 0) {
    problem(`packages/${name}/README.md has no "## May import" section`);
    return { production: [], tests: [] };
  }
  const rest = text.slice(start).split('\n').slice(1).join('\n');
  const end = rest.search(/^## /m);
  const section = end < 0 ? rest : rest.slice(0, end);
  const split = section.indexOf('Tests also');
  const names = (part) =>
    [...new Set([...part.matchAll(/`(@gregor\/[a-z-]+(?:\/[a-z-]+)?)`/g)].map((m) => m[1]))]
      .filter((specifier) => packageOf(specifier) !== `@gregor/${name}`)
      .sort();
  const production = names(split < 0 ? section : section.slice(0, split));
  const tests = split < 0 ? [] : names(section.slice(split)).filter((s) => !production.includes(s));
  return { production, tests };
}

function sourceFiles(dir) {
  if (!existsSync(dir)) return [];
  const files = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) files.push(...sourceFiles(path));
    else if (path.endsWith('.ts')) files.push(path);
  }
  return files;
}

const isTestFile = (path) => path.endsWith('.test.ts') || path.includes('/src/testing/');

/** Every `@gregor/...` specifier a file imports or re-exports (static and dynamic imports). */
function gregorImports(path) {
  const text = readFileSync(path, 'utf8');
  const found = [];
  for (const match of text.matchAll(/(?:from|import)\s*\(?\s*['"](@gregor\/[^'"]+)['"]/g))
    found.push(match[1]);
  return found;
}

/** Gitignore-style exceptions for the allowed specifiers (a package, or one exact subpath). */
function exceptions(allowed) {
  return allowed.map((specifier) => `!${specifier}`);
}

function importRule(patterns, ioPaths) {
  const options = { patterns };
  if (ioPaths) {
    options.paths = Object.fromEntries(
      ioModules.flatMap((module) => [
        [`node:${module}`, ioMessage],
        [module, ioMessage],
      ]),
    );
  }
  return { linter: { rules: { style: { noRestrictedImports: { level: 'error', options } } } } };
}

const testSupportPattern = {
  group: ['**/testing', '**/testing/**', '@gregor/*/testing', '@gregor/*/testing/**'],
  message:
    'Test support (src/testing/, @gregor/ground/testing) is for tests only: it is not built into dist.',
};

function generatedOverrides(lists) {
  const pureIncludes = pureFolders.flatMap((dir) => [`${dir}/**`]);
  const overrides = [
    {
      includes: [
        ...pureIncludes,
        '!**/*.test.ts',
        '!**/testing/**',
        ...pureFolderEventLoopFiles.map((file) => `!${file}`),
      ],
      linter: {
        rules: {
          style: { noRestrictedGlobals: { level: 'error', options: { deniedGlobals } } },
          nursery: {
            noJsRestrictedProperties: {
              level: 'error',
              options: {
                entries: [
                  {
                    object: 'Math',
                    property: 'random',
                    message: 'Pure code takes its randomness through a Random (@gregor/ground).',
                  },
                ],
              },
            },
          },
        },
      },
    },
  ];
  for (const [name, { production, tests }] of lists) {
    const dir = `packages/${name}/src`;
    const pure = pureFolders.includes(dir);
    const listed = production.length === 0 ? 'nothing of Gregor' : production.join(', ');
    overrides.push({
      includes: [`${dir}/**`, '!**/*.test.ts', `!${dir}/testing/**`],
      ...importRule(
        [
          {
            group: ['@gregor/**', ...exceptions(production)],
            message: `${name} may import ${listed} (its README's "May import"; package.json declares the same).`,
          },
          testSupportPattern,
        ],
        pure,
      ),
    });
    const testAllowed = [...production, ...tests];
    if (testAllowed.includes('@gregor/ground')) testAllowed.push('@gregor/ground/testing');
    overrides.push({
      includes: [`${dir}/**/*.test.ts`, `${dir}/testing/**`],
      ...importRule(
        [
          {
            group: ['@gregor/**', ...exceptions(testAllowed)],
            message: `tests of ${name} may import ${testAllowed.join(', ') || 'nothing of Gregor'} (its README's "May import").`,
          },
        ],
        false,
      ),
    });
    for (const core of coreFolders.filter((folder) => folder.pkg === name)) {
      overrides.push({
        includes: [`${core.dir}/**`, '!**/*.test.ts'],
        ...importRule(
          [
            {
              group: ['@gregor/**', ...exceptions(core.allowed)],
              message: `${core.dir} may import ${core.allowed.join(', ')} and nothing else of Gregor's.`,
            },
            { group: ['../**'], message: `${core.dir} imports nothing outside itself (its driver does).` },
            testSupportPattern,
          ],
          true,
        ),
      });
    }
  }
  return overrides;
}

// --- the packages --------------------------------------------------------------------------------

const lists = new Map();
for (const name of packageNames()) {
  const pkgDir = join(packagesDir, name);
  const list = mayImport(name);
  lists.set(name, list);
  const manifest = readJson(join(pkgDir, 'package.json'));
  const gregorKeys = (deps) =>
    Object.keys(deps ?? {})
      .filter((key) => key.startsWith('@gregor/'))
      .sort();
  const dependencies = gregorKeys(manifest.dependencies);
  const devDependencies = gregorKeys(manifest.devDependencies);
  const readmeProduction = [...new Set(list.production.map(packageOf))].sort();
  const readmeTests = [...new Set(list.tests.map(packageOf))]
    .filter((p) => !readmeProduction.includes(p))
    .sort();
  if (readmeProduction.join() !== dependencies.join()) {
    problem(
      `packages/${name}: README "May import" lists ${readmeProduction.join(', ') || 'nothing'}, package.json dependencies declare ${dependencies.join(', ') || 'nothing'}`,
    );
  }
  if (readmeTests.join() !== devDependencies.join()) {
    problem(
      `packages/${name}: README "Tests also" lists ${readmeTests.join(', ') || 'nothing'}, package.json devDependencies declare ${devDependencies.join(', ') || 'nothing'}`,
    );
  }
  const tsconfig = readJson(join(pkgDir, 'tsconfig.json'));
  const references = new Set(
    (tsconfig.references ?? []).map((ref) => ref.path.replace(/^\.\.\//, '@gregor/')),
  );
  const excluded = new Set(tsconfig.exclude ?? []);
  for (const required of ['src/**/*.test.ts', 'src/testing']) {
    if (!excluded.has(required))
      problem(`packages/${name}/tsconfig.json does not exclude ${required} from dist`);
  }
  for (const file of sourceFiles(join(pkgDir, 'src'))) {
    const where = relative(root, file);
    if (file.endsWith('.integration.test.ts') && !file.includes(`/packages/${name}/src/it/`)) {
      problem(`${where}: integration tests live in packages/${name}/src/it/`);
    }
    if (/\.test-support\.ts$/.test(file) || file.includes('/test-support/')) {
      problem(`${where}: test support lives in packages/${name}/src/testing/`);
    }
    for (const specifier of gregorImports(file)) {
      const imported = packageOf(specifier);
      if (imported === `@gregor/${name}`) continue;
      if (isTestFile(file)) {
        if (!dependencies.includes(imported) && !devDependencies.includes(imported)) {
          problem(`${where} imports ${specifier}, which packages/${name}/package.json does not declare`);
        }
      } else {
        if (!dependencies.includes(imported)) {
          problem(
            `${where} imports ${specifier}, which packages/${name}/package.json dependencies do not declare`,
          );
        }
        if (!references.has(imported)) {
          problem(`${where} imports ${specifier}, but packages/${name}/tsconfig.json has no reference to it`);
        }
      }
    }
  }
}

// --- Test support outside src/testing/ --------------------------------------------------------------
// A production file that only tests import is test support that tsc builds into dist: it belongs in
// src/testing/, and so does a file only such files import. (Files nothing imports are entry points:
// bins, workers; index.ts is the package's.)

/** The package files a file imports or re-exports by relative path (`./x.js` → `x.ts`). */
function relativeImports(path) {
  const text = readFileSync(path, 'utf8');
  const found = [];
  for (const match of text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g))
    found.push(join(path, '..', match[1].replace(/\.js$/, '.ts')));
  return found;
}

for (const name of packageNames()) {
  const files = sourceFiles(join(packagesDir, name, 'src'));
  const importers = new Map();
  for (const file of files) {
    for (const imported of relativeImports(file)) {
      if (!importers.has(imported)) importers.set(imported, []);
      importers.get(imported).push(file);
    }
  }
  // Transitively: a file only such files import is test support too.
  const testOnly = new Set();
  for (let grew = true; grew; ) {
    grew = false;
    for (const file of files) {
      if (isTestFile(file) || file.endsWith('/src/index.ts') || testOnly.has(file)) continue;
      const by = importers.get(file) ?? [];
      if (by.length > 0 && by.every((importer) => isTestFile(importer) || testOnly.has(importer))) {
        testOnly.add(file);
        grew = true;
      }
    }
  }
  for (const file of testOnly) {
    problem(
      `${relative(root, file)} is imported only by tests: test support lives in packages/${name}/src/testing/`,
    );
  }
}

// --- biome.json ----------------------------------------------------------------------------------

const biome = readJson(biomePath);
const expected = generatedOverrides(lists);
if (JSON.stringify(biome.overrides ?? []) !== JSON.stringify(expected)) {
  if (write) {
    biome.overrides = expected;
    writeFileSync(biomePath, `${JSON.stringify(biome, null, 2)}\n`);
    execFileSync(join(root, 'node_modules', '.bin', 'biome'), ['format', '--write', biomePath], {
      stdio: 'ignore',
    });
    console.log('biome.json: overrides regenerated from the READMEs');
  } else {
    problem(
      'biome.json overrides differ from the READMEs\' "May import" lists: run node scripts/check-boundaries.mjs --write',
    );
  }
}

// The image installs the workspaces from their package.json files before the sources are copied
// (so `npm ci` is cached): a package missing from that list is not linked and the build fails.
const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8');
for (const name of packageNames()) {
  if (!dockerfile.includes(`COPY packages/${name}/package.json packages/${name}/`))
    problem(`Dockerfile does not copy packages/${name}/package.json before npm ci`);
}

if (problems.length > 0) {
  for (const message of problems) console.error(`✗ ${message}`);
  console.error(`\n${problems.length} boundary problem(s)`);
  process.exit(1);
}
console.log(`boundaries: ${lists.size} packages, imports as their READMEs say, test support out of dist`);

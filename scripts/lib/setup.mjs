// Brings a checkout to the point where it runs: dependencies installed as package-lock.json says,
// and every package's dist/ built from its current sources. Uses nothing but Node's own modules, so
// it can run on a fresh clone before `npm ci`.
//
// Installed: every package package-lock.json names (optional ones aside: they are other platforms'
// native builds) is in node_modules/.package-lock.json, the record npm keeps of what it installed,
// at the same version. Content, not timestamps: a git checkout touches package-lock.json without
// changing what it asks for.
// Built: each package's dist/.tsbuildinfo is newer than every source file the build reads (tests
// and test fixtures aside). `tsc -b` updates it even when nothing had to be emitted, so an edit
// that changed nothing costs one build, not one per start.

import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** Why `npm ci` must run, or undefined when node_modules matches package-lock.json. */
export function installStaleness(root = repoRoot) {
  const installedPath = join(root, 'node_modules', '.package-lock.json');
  if (!existsSync(installedPath)) return 'node_modules is missing';
  const wanted = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')).packages ?? {};
  const installed = JSON.parse(readFileSync(installedPath, 'utf8')).packages ?? {};
  for (const [path, entry] of Object.entries(wanted)) {
    if (!path.startsWith('node_modules/') || entry.optional === true) continue;
    const have = installed[path];
    if (have === undefined) return `${path} is not installed`;
    if (have.version !== entry.version)
      return `${path} is ${have.version ?? 'a link'}, package-lock.json wants ${entry.version ?? 'a link'}`;
  }
  return undefined;
}

/**
 * The projects the root build (tsconfig.json's references) compiles: a package folder (its
 * tsconfig.json) or a tsconfig file of its own (storage's test programs), each with the build info
 * file its config names.
 */
function builtProjects(root) {
  const config = JSON.parse(readFileSync(join(root, 'tsconfig.json'), 'utf8'));
  return config.references.map((reference) => {
    const path = join(root, reference.path);
    const configPath = path.endsWith('.json') ? path : join(path, 'tsconfig.json');
    const dir = dirname(configPath);
    const options = JSON.parse(readFileSync(configPath, 'utf8')).compilerOptions ?? {};
    const buildInfo = join(dir, options.tsBuildInfoFile ?? join(options.outDir ?? 'dist', '.tsbuildinfo'));
    return { dir, configPath, buildInfo };
  });
}

/** Test sources are not compiled into dist/ (each package's tsconfig excludes them), nor is anything but TypeScript. */
function isBuildInput(name, isDirectory) {
  if (isDirectory) return name !== 'testing' && name !== 'test-support';
  return name.endsWith('.ts') && !name.endsWith('.test.ts');
}

/**
 * The newest source file's mtime. A folder's own mtime is left out: it changes when a test file is
 * added or removed, which tsc -b (rightly) does not rebuild for, so it would ask for a build forever.
 */
function newestMtimeMs(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = 0;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    if (isBuildInput(entry.name, entry.isDirectory()))
      newest = Math.max(newest, newestMtimeMs(join(path, entry.name)));
  }
  return newest;
}

/** Why `npm run build` must run, or undefined when every dist/ is newer than its sources. */
export function buildStaleness(root = repoRoot) {
  for (const { dir, configPath, buildInfo } of builtProjects(root)) {
    if (!existsSync(buildInfo)) return `${relative(root, buildInfo)} is missing`;
    const builtMs = statSync(buildInfo).mtimeMs;
    const sourcesMs = Math.max(newestMtimeMs(join(dir, 'src')), statSync(configPath).mtimeMs);
    if (sourcesMs > builtMs) return `${relative(root, dir)}/src changed since the last build`;
  }
  return undefined;
}

function run(command, args, root) {
  console.log(`> ${command} ${args.join(' ')}`);
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (result.error !== undefined) throw new Error(`${command} could not run: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (exit ${result.status})`);
}

/** Runs `npm ci` (and checks the native addons load) when node_modules is missing or stale. */
export function ensureInstalled(root = repoRoot) {
  const why = installStaleness(root);
  if (why === undefined) return false;
  console.log(`Installing dependencies (${why})`);
  // What npm ci compiles zstd-napi's addon with: installed, or a stop with the command to run.
  run('bash', [join(root, 'scripts', 'install-test-deps.sh'), '--install-only'], root);
  run('npm', ['ci', '--no-audit', '--no-fund'], root);
  // npm 11 may skip install scripts it was not told to trust: prove every native addon loads.
  run(process.execPath, [join(root, 'scripts', 'check-native-modules.mjs')], root);
  return true;
}

/** Runs `npm run build` when a package's dist/ is missing or older than its sources. */
export function ensureBuilt(root = repoRoot) {
  const why = buildStaleness(root);
  if (why === undefined) return false;
  console.log(`Building (${why})`);
  run('npm', ['run', 'build'], root);
  return true;
}

// `node scripts/lib/setup.mjs` (the first step of `npm test`): `npm ci` when node_modules is missing
// or stale. The build is left to the caller: `npm test` always runs `tsc -b`, which knows best.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    ensureInstalled();
  } catch (error) {
    console.error(error.message);
    process.exit(1);
  }
}

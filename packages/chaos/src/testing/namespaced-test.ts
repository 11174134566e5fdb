// Integration tests that cut real processes apart with iptables and tmpfs mounts must not touch the
// machine: such a test runs itself again inside `unshare --net --mount --pid --fork --kill-child`
// (as a campaign does, root only), where the scenario runs; the outer test passes when that run
// passes. This is that outer half, and the work directory the inner half's LocalCluster needs.

import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

/** Whether this process is the run inside the namespaces (`insideVariable` is set to 1 there). */
export function insideNamespaces(insideVariable: string): boolean {
  return process.env[insideVariable] === '1';
}

/**
 * Runs the integration test file `testFile` again inside namespaces of its own, with
 * `insideVariable`=1, echoing what it prints; resolves with its exit code and output.
 */
export async function runInsideNamespaces(
  testFile: string,
  insideVariable: string,
): Promise<{ code: number | null; output: string }> {
  const child = spawn(
    'unshare',
    [
      '--net',
      '--mount',
      '--pid',
      '--fork',
      '--kill-child',
      '--mount-proc',
      process.execPath,
      join(repoRoot, 'node_modules', 'vitest', 'vitest.mjs'),
      'run',
      '--project',
      'integration',
      testFile,
    ],
    { cwd: repoRoot, env: { ...process.env, [insideVariable]: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const keep = (chunk: Buffer) => {
    output += chunk.toString('utf8');
    process.stdout.write(chunk);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const code = await new Promise<number | null>((done) => child.on('close', (exitCode) => done(exitCode)));
  return { code, output };
}

/**
 * A fresh work directory for a LocalCluster inside the namespaces: `workDir` (remove it when done),
 * `clusterDir` for the nodes and `logDir` for their logs. The nodes run as uids of their own and
 * must reach their directories.
 */
export function namespacedWorkDir(prefix: string): { workDir: string; clusterDir: string; logDir: string } {
  const workDir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(workDir, 0o755);
  const logDir = join(workDir, 'logs');
  const clusterDir = join(workDir, 'cluster');
  mkdirSync(logDir);
  mkdirSync(clusterDir);
  return { workDir, clusterDir, logDir };
}

/**
 * The outer half as a test: runs `testFile` again inside namespaces of its own (root only) and
 * passes when that run exits 0 having printed `expectedOutput` (what the inner scenario prints once
 * it got that far, so that a run that skipped it does not pass).
 */
export function itRunsInsideNamespaces(
  title: string,
  testFile: string,
  insideVariable: string,
  expectedOutput: string,
): void {
  it(title, async () => {
    expect(process.getuid?.(), 'needs root: network namespace, iptables, tmpfs').toBe(0);
    const { code, output } = await runInsideNamespaces(testFile, insideVariable);
    expect(output).toContain(expectedOutput);
    expect(code, output.slice(-4_000)).toBe(0);
  }, 240_000);
}

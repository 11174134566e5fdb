// `npm run chaos` / `gregor chaos`: parse the options, put a local campaign in namespaces of its
// own, run it, print the verdict, exit 0 on no anomaly and 1 on any.
//
// A local campaign runs inside `unshare --net --mount --pid --fork --kill-child`: a network
// namespace (its own loopback, iptables and tc: no rule ever touches the machine's), a mount
// namespace (the nodes' tmpfs mounts) and a PID namespace (every node and client). However the
// campaign ends, even by kill -9, the kernel removes all three with everything in them. The outer
// process forwards Ctrl-C as a request to stop early (the campaign then heals, reads back and
// reports); a second Ctrl-C ends it at once.

import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { recheckCampaign, runCampaign } from './campaign.js';
import { composeScript } from './driver/compose-cluster.js';
import { run } from './driver/exec.js';
import { filterChain, natChain } from './driver/network.js';
import { parseOptions, usage } from './options.js';

export interface TextOutput {
  write(text: string): unknown;
}

const insideVariable = 'GREGOR_CHAOS_IN_NAMESPACE';
export const ownerPidVariable = 'GREGOR_CHAOS_OWNER_PID';
const mainPath = fileURLToPath(new URL('./main.js', import.meta.url));
/** The pipe (fd 3) on which the outer process asks the campaign to stop early. */
const stopFd = 3;

export async function runChaosCommand(
  argv: readonly string[],
  out: TextOutput,
  err: TextOutput,
): Promise<number> {
  let options: ReturnType<typeof parseOptions>;
  try {
    options = parseOptions(argv);
  } catch (error) {
    err.write(`chaos: ${(error as Error).message}\n`);
    return 2;
  }
  if (options.help) {
    out.write(usage);
    return 0;
  }
  if (options.cleanupOnly) return cleanup(out);
  if (options.recheckDir !== undefined) {
    try {
      const outcome = await recheckCampaign(options.recheckDir);
      out.write(`[chaos] ${outcome.verdict}\n`);
      return outcome.result.valid ? 0 : 1;
    } catch (error) {
      err.write(`chaos: --recheck ${options.recheckDir}: ${(error as Error).message}\n`);
      return 3;
    }
  }
  if (options.target === 'local' && process.env[insideVariable] !== '1') return runInNamespaces(argv, err);
  return runHere(options, out, err);
}

async function runInNamespaces(argv: readonly string[], err: TextOutput): Promise<number> {
  if (process.getuid?.() !== 0) {
    err.write('chaos: a local campaign needs root (network namespace, iptables, tc, tmpfs mounts)\n');
    return 2;
  }
  for (const tool of ['unshare', 'iptables', 'tc', 'ip', 'mount']) {
    try {
      await run('sh', ['-c', `command -v ${tool}`]);
    } catch {
      err.write(
        `chaos: '${tool}' is missing; install it: apt-get install -y iptables iproute2 util-linux faketime\n`,
      );
      return 2;
    }
  }
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
      mainPath,
      ...argv,
    ],
    {
      env: { ...process.env, [insideVariable]: '1', [ownerPidVariable]: String(process.pid) },
      stdio: ['inherit', 'inherit', 'inherit', 'pipe'],
    },
  );
  let interrupts = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts++;
    if (interrupts === 1) {
      err.write(
        `chaos: ${signal}: stopping early: healing, reading back and reporting (again to end at once)\n`,
      );
      (child.stdio[stopFd] as NodeJS.WritableStream | null)?.write('stop\n');
    } else child.kill('SIGKILL');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const code = await new Promise<number>((done) =>
    child.on('exit', (exitCode, signal) => done(exitCode ?? (signal === null ? 1 : 128 + 9))),
  );
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  return code;
}

async function runHere(
  options: ReturnType<typeof parseOptions>,
  out: TextOutput,
  err: TextOutput,
): Promise<number> {
  const stop = new AbortController();
  let interrupts = 0;
  const requestStop = () => {
    interrupts++;
    if (interrupts > 1) process.exit(130);
    stop.abort();
  };
  process.on('SIGINT', requestStop);
  process.on('SIGTERM', requestStop);
  if (process.env[insideVariable] === '1') {
    // The outer process's pipe: a line, or its end (the outer process died), asks for a stop.
    // A socket, not an fs stream: an fs read of a pipe blocks a libuv thread until the outer process
    // writes or closes it, and Node waits for that thread at exit, so a finished campaign never ended.
    try {
      const pipe = new Socket({ fd: stopFd, readable: true, writable: false });
      pipe.on('data', () => stop.abort());
      pipe.on('end', () => stop.abort());
      pipe.on('error', () => undefined);
      pipe.unref();
    } catch {
      // started by hand with the variable set and no pipe: signals still work
    }
  }
  const say = (line: string) => out.write(`[chaos] ${line}\n`);
  try {
    const outcome = await runCampaign(options, say, stop.signal);
    say(outcome.verdict);
    return outcome.result.valid ? 0 : 1;
  } catch (error) {
    err.write(`chaos: the campaign could not run: ${(error as Error).stack ?? error}\n`);
    return 3;
  } finally {
    process.off('SIGINT', requestStop);
    process.off('SIGTERM', requestStop);
  }
}

/**
 * What a campaign can leave behind: local campaigns leave nothing in the kernel (their namespaces go
 * with them), only their emptied work directories; a campaign run by hand without namespaces may
 * leave its iptables chains; a compose campaign may leave its containers (paused, even).
 */
async function cleanup(out: TextOutput): Promise<number> {
  let removed = 0;
  for (const name of readdirSync(tmpdir()).filter((entry) => entry.startsWith('gregor-chaos-'))) {
    const path = join(tmpdir(), name);
    try {
      if (!statSync(path).isDirectory()) continue;
      // A campaign still running (its outer process alive) keeps its directory.
      const owner = Number(readFileSafe(join(path, 'owner-pid')));
      if (owner > 0 && isAlive(owner)) {
        out.write(`[chaos] ${path} belongs to a running campaign (pid ${owner}); left alone\n`);
        continue;
      }
      rmSync(path, { recursive: true, force: true });
      removed++;
    } catch (error) {
      out.write(`[chaos] could not remove ${path}: ${(error as Error).message}\n`);
    }
  }
  out.write(`[chaos] removed ${removed} work directories\n`);
  for (const [table, chain, hook] of [
    ['filter', filterChain, 'OUTPUT'],
    ['nat', natChain, 'POSTROUTING'],
  ] as const) {
    const exists = await run('iptables', ['-t', table, '-S', chain]).then(
      () => true,
      () => false,
    );
    if (!exists) continue;
    await run('iptables', ['-t', table, '-D', hook, '-j', chain], { allowFailure: true });
    await run('iptables', ['-t', table, '-F', chain], { allowFailure: true });
    await run('iptables', ['-t', table, '-X', chain], { allowFailure: true });
    out.write(`[chaos] removed the iptables chain ${chain} (${table})\n`);
  }
  if (
    existsSync(composeScript) &&
    (await run('sh', ['-c', 'command -v docker']).then(
      () => true,
      () => false,
    ))
  ) {
    await run('bash', [composeScript, 'down'], { allowFailure: true, timeoutMs: 120_000 });
    out.write('[chaos] removed the gregor-chaos compose project, if there was one\n');
  }
  return 0;
}

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return '';
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

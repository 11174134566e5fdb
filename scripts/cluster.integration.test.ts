// `node scripts/cluster.mjs` for real, as a person runs it, on a port range checked free first.
// A node killed with kill -9 under an acks=all producer (kafkajs): the other nodes keep
// acknowledging, the launcher says which node died and how, restarts it (new pid), and it rejoins
// every ISR; everything acknowledged is read back (kcat). And however the launcher itself ends
// (Ctrl-C, SIGTERM, its terminal closing, `timeout`, SIGKILL), no node outlives it.

import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allocatorOf, brokerNodeFlags } from '@gregor/broker';
import { sleep, waitFor } from '@gregor/ground/testing';
import { Kafka, logLevel } from 'kafkajs';
import { afterEach, describe, type ExpectStatic, expect, it, type TestContext } from 'vitest';

const repoRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));
const launcherPath = join(repoRoot, 'scripts', 'cluster.mjs');
const host = '127.0.0.1';
const readyTimeoutMs = 90_000;
/** A node's controlled shutdown takes up to 10 s, then the stop-with-launcher deadline is 30 s. */
const goneTimeoutMs = 45_000;
const waitPollMs = 100;

async function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen({ host, port, exclusive: true }, () => server.close(() => done(true)));
  });
}

/** Ports handed out by freeBasePort: tests running at the same time must not draw the same ones. */
const portsHandedOut = new Set<number>();

/** A base port whose Kafka and quorum ranges (base.., base+100..) are free now, in 20000-29999. */
async function freeBasePort(nodeCount: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 99) * 100 + Math.floor(Math.random() * 90);
    const ports = Array.from({ length: nodeCount }, (_, i) => [base + i, base + 100 + i]).flat();
    let free = ports.every((port) => !portsHandedOut.has(port));
    for (const port of ports) free &&= await portFree(port);
    if (free) {
      for (const port of ports) portsHandedOut.add(port);
      return base;
    }
  }
  throw new Error('no free port range found');
}

/** Whether `pid` is a process that has not ended (a zombie waiting to be reaped has ended). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // pid (comm) state ...: comm may hold spaces and parentheses, the state follows the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function waitUntil(what: string, timeoutMs: number, done: () => boolean | Promise<boolean>): Promise<true> {
  return waitFor(what, done, { timeoutMs, intervalMs: waitPollMs });
}

/** A launcher process and what it printed. */
class Launcher {
  readonly output: string[] = [];
  private pending = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(readonly child: ChildProcess) {
    for (const stream of [child.stdout, child.stderr]) {
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        this.pending += chunk;
        const lines = this.pending.split('\n');
        this.pending = lines.pop() ?? '';
        this.output.push(...lines);
      });
    }
    this.exited = new Promise((done) => child.on('close', (code, signal) => done({ code, signal })));
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** The first printed line matching `pattern` from line `from` on, waiting for it. */
  async line(pattern: RegExp, timeoutMs = readyTimeoutMs, from = 0): Promise<RegExpMatchArray> {
    let found: RegExpMatchArray | undefined;
    await waitUntil(`a line matching ${pattern}\n${this.tail()}`, timeoutMs, () => {
      for (const line of this.output.slice(from)) {
        found = line.match(pattern) ?? undefined;
        if (found !== undefined) return true;
      }
      return false;
    });
    return found!;
  }

  /** The pid of every node as last printed (started, restarted, or in the ready list). */
  nodePids(): Map<number, number> {
    const pids = new Map<number, number>();
    for (const line of this.output) {
      const match = line.match(/^\[cluster\] +node (\d+)(?: started| restarted)?: pid (\d+)/);
      if (match !== null) pids.set(Number(match[1]), Number(match[2]));
    }
    return pids;
  }

  tail(lines = 40): string {
    return this.output.slice(-lines).join('\n');
  }
}

/** What a test started: cleaned up after it, whatever it left. */
class Started {
  readonly launchers: Launcher[] = [];
  readonly dataDirs: string[] = [];

  /** kill -9 every node and launcher still running, and remove the data dirs. */
  cleanUp(): void {
    for (const launcher of this.launchers.splice(0)) {
      for (const pid of launcher.nodePids().values()) if (running(pid)) process.kill(pid, 'SIGKILL');
      if (running(launcher.pid)) process.kill(launcher.pid, 'SIGKILL');
    }
    for (const dir of this.dataDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  }
}

/** What the tests that run one after the other started (the concurrent ones keep their own). */
const started = new Started();
const { dataDirs } = started;

/** Starts `node scripts/cluster.mjs` in its own process group, as a shell starts a job. */
function launch(
  args: readonly string[],
  command: readonly string[] = [process.execPath, launcherPath],
  into: Started = started,
  env: Record<string, string> = {},
) {
  const dataDir = mkdtempSync(join(tmpdir(), 'gregor-launcher-it-'));
  into.dataDirs.push(dataDir);
  const child = spawn(command[0]!, [...command.slice(1), ...args, '--data-dir', join(dataDir, 'data')], {
    cwd: repoRoot,
    env: { ...process.env, ...env, GREGOR_LOG_FORMAT: 'json' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const launcher = new Launcher(child);
  into.launchers.push(launcher);
  return { launcher, dataDir: join(dataDir, 'data') };
}

async function expectAllGone(pids: Iterable<number>, launcher: Launcher) {
  for (const pid of pids) {
    await waitUntil(`node pid ${pid} to end\n${launcher.tail()}`, goneTimeoutMs, () => !running(pid));
  }
}

afterEach(() => {
  // Whatever a failed test left: kill -9 every node it started, then the launcher.
  started.cleanUp();
});

describe('npm run cluster: a node killed with kill -9', () => {
  it('is restarted while the others keep serving acks=all, rejoins every ISR, and loses nothing acknowledged', async () => {
    const nodeCount = 3;
    const basePort = await freeBasePort(nodeCount);
    const restartAfterS = 3;
    const { launcher } = launch([
      '--nodes',
      String(nodeCount),
      '--base-port',
      String(basePort),
      '--restart-after',
      String(restartAfterS),
    ]);
    const ready = await launcher.line(/Gregor cluster ready: 3 nodes/);
    const bootstrapLine = await launcher.line(/bootstrap servers: (\S+)/);
    const bootstrap = bootstrapLine[1]!.split(',');
    expect(bootstrap).toEqual([0, 1, 2].map((i) => `${host}:${basePort + i}`));
    expect(ready).toBeDefined();
    const pidsBefore = launcher.nodePids();
    expect([...pidsBefore.keys()].sort()).toEqual([1, 2, 3]);
    for (const pid of pidsBefore.values()) expect(running(pid)).toBe(true);

    const kafka = new Kafka({
      clientId: 'launcher-it',
      brokers: bootstrap,
      logLevel: logLevel.NOTHING,
      retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 1000 },
    });
    const admin = kafka.admin();
    await admin.connect();
    const topic = 'survives-kill';
    const partitions = 3;
    await admin.createTopics({
      topics: [{ topic, numPartitions: partitions, replicationFactor: 3 }],
      waitForLeaders: true,
    });
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();

    // One record per send, to one partition, so an acknowledgement names exactly that record.
    const acked = new Map<string, { partition: number; offset: number; atMs: number }>();
    let nextValue = 0;
    let producing = true;
    let failedSends = 0;
    const sending = (async () => {
      while (producing) {
        const value = `record-${nextValue}`;
        const partition = nextValue % partitions;
        nextValue++;
        try {
          const [answer] = await producer.send({
            topic,
            acks: -1,
            timeout: 5_000,
            messages: [{ value, partition }],
          });
          if (answer?.errorCode === 0 && answer.baseOffset !== undefined)
            acked.set(value, { partition, offset: Number(answer.baseOffset), atMs: Date.now() });
        } catch {
          // Not acknowledged: maybe stored, maybe not; nothing is claimed for it.
          failedSends++;
          await sleep(50);
        }
      }
    })();
    const ackedAfter = (count: number, what: string) => {
      const before = acked.size;
      return waitUntil(what, 60_000, () => acked.size >= before + count);
    };

    try {
      await ackedAfter(100, 'acknowledgements before the kill');
      const leaders = (await admin.fetchTopicMetadata({ topics: [topic] })).topics[0]!.partitions.map(
        (p) => p.leader,
      );
      const victim = leaders[0]!;
      const victimPid = pidsBefore.get(victim)!;
      const linesBeforeKill = launcher.output.length;
      const killedAtMs = Date.now();
      process.kill(victimPid, 'SIGKILL');

      await launcher.line(
        new RegExp(
          `node ${victim} \\(pid ${victimPid}\\) killed by SIGKILL; restarting it in ${restartAfterS} s`,
        ),
        30_000,
        linesBeforeKill,
      );
      // The survivors acknowledge acks=all writes while the victim is down (two of three in the ISR
      // still meet min.insync.replicas=2).
      await ackedAfter(20, 'acknowledgements while a node is down');
      const restarted = await launcher.line(
        new RegExp(`node ${victim} restarted: pid (\\d+)`),
        30_000,
        linesBeforeKill,
      );
      const restartedPid = Number(restarted[1]);
      const restartedAtMs = Date.now();
      const ackedWhileDown = [...acked.values()].filter(
        (at) => at.atMs > killedAtMs && at.atMs < restartedAtMs,
      );
      expect(ackedWhileDown.length).toBeGreaterThan(0);
      expect(restartedPid).not.toBe(victimPid);
      expect(running(victimPid)).toBe(false);
      expect(running(restartedPid)).toBe(true);
      await launcher.line(
        new RegExp(`node ${victim} is back \\(pid ${restartedPid}\\)`),
        90_000,
        linesBeforeKill,
      );
      expect(launcher.nodePids().get(victim)).toBe(restartedPid);

      // Back in every ISR of the topic.
      await waitUntil(`node ${victim} back in every ISR`, 60_000, async () => {
        const metadata = await admin.fetchTopicMetadata({ topics: [topic] }).catch(() => undefined);
        return metadata?.topics[0]?.partitions.every((p) => p.isr.includes(victim)) === true;
      });
      await ackedAfter(50, 'acknowledgements after the node is back');
    } finally {
      producing = false;
      await sending;
      await producer.disconnect();
      await admin.disconnect();
    }

    // Everything acknowledged is there, at the offset the acknowledgement named (kcat reads it).
    const read = execFileSync(
      'kcat',
      ['-b', bootstrap.join(','), '-C', '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%p %o %s\n'],
      { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 1024 * 1024 },
    );
    const stored = new Map<string, string>();
    for (const line of read.split('\n')) {
      const [partition, offset, value] = line.split(' ');
      if (value !== undefined) stored.set(`${partition}:${offset}`, value);
    }
    const lost = [...acked].filter(([value, at]) => stored.get(`${at.partition}:${at.offset}`) !== value);
    expect(acked.size).toBeGreaterThan(170);
    expect(
      lost.map(([value, at]) => `${value}@${at.partition}:${at.offset}`),
      `failed sends ${failedSends}`,
    ).toEqual([]);

    // Ctrl-C (SIGINT to the launcher's process group, as a terminal sends it): every node stops
    // with a controlled shutdown and the launcher exits 0.
    const pids = [...launcher.nodePids().values()];
    process.kill(-launcher.pid, 'SIGINT');
    expect(await launcher.exited).toEqual({ code: 0, signal: null });
    await expectAllGone(pids, launcher);
    expect(launcher.output.join('\n')).toContain('leaderships handed over');
  }, 300_000);
});

// These tests run at the same time (describe.concurrent): each starts a two-node cluster of its own on
// ports no other test was handed, ends it its own way and mostly waits (for shutdowns, timeout(1)'s
// 8 s, the restart delays); each cleans up what it started (onTestFinished), not what the others did.
// Assertions use the test's own `expect`.
describe.concurrent('npm run cluster: no node outlives the launcher', () => {
  /** What the running test started, cleaned up when it ends (pass and fail alike). */
  function startedByTest(onTestFinished: TestContext['onTestFinished']): Started {
    const own = new Started();
    onTestFinished(() => own.cleanUp());
    return own;
  }

  /** Starts a two-node cluster and waits until it is ready; returns its node pids. */
  async function readyCluster(
    expect: ExpectStatic,
    into: Started,
    extra: readonly string[] = [],
    command?: readonly string[],
    env: Record<string, string> = {},
  ) {
    const basePort = await freeBasePort(2);
    const started = launch(['--nodes', '2', '--base-port', String(basePort), ...extra], command, into, env);
    await started.launcher.line(/Gregor cluster ready: 2 nodes/);
    const pids = [...started.launcher.nodePids().values()];
    expect(pids).toHaveLength(2);
    // Every node runs with the broker's Node flags (V8 takes them only at start-up).
    for (const pid of pids) {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      for (const flag of brokerNodeFlags) expect(argv, `node pid ${pid}`).toContain(flag);
      // ...on the system's malloc, or on jemalloc with GREGOR_ALLOCATOR=jemalloc (libjemalloc2 is
      // installed by scripts/install-test-deps.sh).
      expect(allocatorOf(readFileSync(`/proc/${pid}/maps`, 'utf8')), `node pid ${pid}`).toBe(
        env.GREGOR_ALLOCATOR === 'jemalloc' ? 'jemalloc' : 'system malloc',
      );
    }
    return { ...started, pids };
  }

  /** Every node's log dirs hold the clean-shutdown marker: it stopped by closing its logs. */
  function expectCleanShutdown(expect: ExpectStatic, dataDir: string) {
    for (const id of [1, 2]) {
      expect(existsSync(join(dataDir, `node-${id}`, 'logs', '.kafka_cleanshutdown')), `node ${id}`).toBe(
        true,
      );
    }
  }

  it('SIGTERM to the launcher stops every node cleanly (and --restart-after never leaves a node down)', async ({
    expect,
    onTestFinished,
  }) => {
    const { launcher, pids, dataDir } = await readyCluster(expect, startedByTest(onTestFinished), [
      '--restart-after',
      'never',
    ]);
    // Node 1 stopped on its own (a controlled shutdown, exit code 0): reported, and left down.
    const node1 = launcher.nodePids().get(1)!;
    process.kill(node1, 'SIGTERM');
    await launcher.line(new RegExp(`node 1 \\(pid ${node1}\\) exited with code 0; left down`), 30_000);
    await sleep(2_000);
    expect(launcher.output.filter((line) => line.includes('restarted'))).toEqual([]);
    expect(running(launcher.nodePids().get(2)!)).toBe(true);
    process.kill(launcher.pid, 'SIGTERM');
    expect(await launcher.exited).toEqual({ code: 0, signal: null });
    await expectAllGone(pids, launcher);
    expectCleanShutdown(expect, dataDir);
  }, 180_000);

  it('SIGKILL of the launcher: every node notices and stops cleanly (nodes on jemalloc)', async ({
    expect,
    onTestFinished,
  }) => {
    const { launcher, pids, dataDir } = await readyCluster(
      expect,
      startedByTest(onTestFinished),
      [],
      undefined,
      { GREGOR_ALLOCATOR: 'jemalloc' },
    );
    process.kill(launcher.pid, 'SIGKILL');
    expect((await launcher.exited).signal).toBe('SIGKILL');
    await expectAllGone(pids, launcher);
    expectCleanShutdown(expect, dataDir);
  }, 180_000);

  it('its terminal closing (SIGHUP from a real pseudo-terminal) stops every node', async ({
    expect,
    onTestFinished,
  }) => {
    const own = startedByTest(onTestFinished);
    // script(1) runs the launcher on a pseudo-terminal whose master it holds; killing script
    // closes the master, and the kernel hangs the terminal up: SIGHUP to the launcher.
    const basePort = await freeBasePort(2);
    const dataDir = mkdtempSync(join(tmpdir(), 'gregor-launcher-it-'));
    own.dataDirs.push(dataDir);
    const command = `exec ${process.execPath} ${launcherPath} --nodes 2 --base-port ${basePort} --data-dir ${join(dataDir, 'data')}`;
    const child = spawn('script', ['-qfec', command, '/dev/null'], {
      cwd: repoRoot,
      env: { ...process.env, GREGOR_LOG_FORMAT: 'json' },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    const launcher = new Launcher(child);
    own.launchers.push(launcher);
    await launcher.line(/Gregor cluster ready: 2 nodes/);
    const pids = [...launcher.nodePids().values()];
    expect(pids).toHaveLength(2);
    process.kill(child.pid!, 'SIGKILL');
    await expectAllGone(pids, launcher);
    expectCleanShutdown(expect, join(dataDir, 'data'));
  }, 180_000);

  it('a node that keeps dying at start is restarted with a doubling delay, and comes back once it can', async ({
    expect,
    onTestFinished,
  }) => {
    const { launcher, pids, dataDir } = await readyCluster(expect, startedByTest(onTestFinished), [
      '--restart-after',
      '0.25',
    ]);
    // Node 2's directory is made to belong to another node: every start of it now fails at once.
    const metaPath = join(dataDir, 'node-2', 'logs', 'meta.properties');
    const meta = readFileSync(metaPath, 'utf8');
    writeFileSync(metaPath, meta.replace(/^node\.id=.*$/m, 'node.id=7'));
    const node2 = launcher.nodePids().get(2)!;
    process.kill(node2, 'SIGKILL');
    // The kill itself is a first quick death: the usual delay. Then each failed start doubles it.
    await launcher.line(
      new RegExp(`node 2 \\(pid ${node2}\\) killed by SIGKILL; restarting it in 0.25 s$`),
      30_000,
    );
    await launcher.line(
      /node 2 \(pid \d+\) exited with code \d+; restarting it in 0.5 s \(it died 2 times in a row/,
      60_000,
    );
    await launcher.line(
      /node 2 \(pid \d+\) exited with code \d+; restarting it in 1 s \(it died 3 times in a row/,
      60_000,
    );
    expect(running(launcher.nodePids().get(1)!)).toBe(true);
    writeFileSync(metaPath, meta);
    await launcher.line(/node 2 is back \(pid \d+\)/, 90_000);
    process.kill(launcher.pid, 'SIGTERM');
    expect(await launcher.exited).toEqual({ code: 0, signal: null });
    await expectAllGone([...pids, ...launcher.nodePids().values()], launcher);
  }, 240_000);

  it('timeout(1) ending the launcher stops every node', async ({ expect, onTestFinished }) => {
    const basePort = await freeBasePort(2);
    // Whether or not the cluster was ready by then: the pids are printed as each node starts (in
    // the first second or two, at most a few seconds on a loaded machine).
    const { launcher } = launch(
      ['--nodes', '2', '--base-port', String(basePort)],
      ['timeout', '8', process.execPath, launcherPath],
      startedByTest(onTestFinished),
    );
    await launcher.line(/node 2 started: pid \d+/);
    const pids = [...launcher.nodePids().values()];
    expect(pids).toHaveLength(2);
    const { code } = await launcher.exited;
    // timeout(1) exits 124 when it had to end the command.
    expect(code).toBe(124);
    await expectAllGone(pids, launcher);
  }, 180_000);
});

describe('npm run cluster: options', () => {
  function runLauncher(args: readonly string[]): { status: number | null; output: string } {
    const result = spawnSync(process.execPath, [launcherPath, ...args], {
      cwd: repoRoot,
      encoding: 'utf8',
      timeout: 60_000,
    });
    return { status: result.status, output: `${result.stdout}${result.stderr}` };
  }

  it('--help prints the usage; a bad option or value is refused with it', () => {
    const help = runLauncher(['--help']);
    expect(help.status).toBe(0);
    for (const option of ['--nodes', '--base-port', '--data-dir', '--restart-after'])
      expect(help.output).toContain(option);
    const tooMany = runLauncher(['--nodes', '10']);
    expect(tooMany.status).toBe(2);
    expect(tooMany.output).toContain("--nodes must be a whole number from 1 to 9, not '10'");
    expect(runLauncher(['--restart-after', 'soon']).output).toContain(
      "--restart-after must be a number of seconds or 'never', not 'soon'",
    );
    expect(runLauncher(['--colour']).status).toBe(2);
  });

  it('refuses a port in use, naming it, before starting anything', async () => {
    const basePort = await freeBasePort(3);
    const blocker = createServer();
    await new Promise<void>((done) => blocker.listen({ host, port: basePort + 101 }, done));
    try {
      const dataDir = mkdtempSync(join(tmpdir(), 'gregor-launcher-it-'));
      dataDirs.push(dataDir);
      const result = runLauncher(['--base-port', String(basePort), '--data-dir', join(dataDir, 'data')]);
      expect(result.status).toBe(1);
      expect(result.output).toContain(`port ${basePort + 101} on ${host} is in use`);
      expect(existsSync(join(dataDir, 'data'))).toBe(false);
    } finally {
      blocker.close();
    }
  });

  it('refuses to start a data dir made for another number of nodes', async () => {
    const basePort = await freeBasePort(2);
    const dataDir = mkdtempSync(join(tmpdir(), 'gregor-launcher-it-'));
    dataDirs.push(dataDir);
    mkdirSync(join(dataDir, 'data'));
    writeFileSync(join(dataDir, 'data', 'cluster.nodes'), '3\n');
    const result = runLauncher([
      '--nodes',
      '2',
      '--base-port',
      String(basePort),
      '--data-dir',
      join(dataDir, 'data'),
    ]);
    expect(result.status).toBe(2);
    expect(result.output).toContain('holds a 3-node cluster; start it with --nodes 3');
  });
});

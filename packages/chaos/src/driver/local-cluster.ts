// A campaign's own cluster of Gregor processes, inside the campaign's namespaces (namespace.ts).
// Node N listens on 127.0.1.N (Kafka on 9092, the CONTROLLER listener on 9093) and runs as uid
// nodeUid(N), so iptables can tell its packets apart (network.ts). Its data lives on a tmpfs of its
// own (`diskMb`), which the disk-full fault fills. One node, drawn from the seed, runs under
// libfaketime with a wall-clock offset the clock-jump fault changes (its monotonic clock is left
// alone, as an NTP step leaves it).

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statfsSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Cut, FaultKind } from '../scheduler.js';
import { faultKinds } from '../scheduler.js';
import {
  type ClientSecurity,
  clientPropertiesText,
  nodeListenerProperties,
  type SecurityMode,
  securityBootstrapCommands,
  workloadUser,
} from '../security.js';
import { makeCampaignCertificates } from './certificates.js';
import type { ChaosCluster } from './cluster.js';
import { run } from './exec.js';
import { NodeNetwork, nodeAddress, nodeUid } from './network.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
export const cliPath = join(repoRoot, 'packages', 'cli', 'dist', 'main.js');
/** Debian's libfaketime (package faketime), wherever this architecture keeps it. */
export const libfaketimePath = findLibfaketime();

function findLibfaketime(): string {
  const fallback = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
  try {
    for (const entry of readdirSync('/usr/lib')) {
      const candidate = join('/usr/lib', entry, 'faketime', 'libfaketime.so.1');
      if (existsSync(candidate)) return candidate;
    }
  } catch {
    // no /usr/lib to search: the fallback is reported missing where it is used
  }
  return fallback;
}
export const kafkaPort = 9092;
export const controllerPort = 9093;
/** A node that exits by itself (not killed by the nemesis) is started again after this long. */
const crashRestartDelayMs = 2_000;
const fillChunkBytes = 8 * 1024 * 1024;
/** How long the workload user and its ACLs may take to be created (the quorum forming first). */
const securityBootstrapTimeoutMs = 60_000;

export interface LocalClusterOptions {
  readonly nodeCount: number;
  /** Where the nodes' tmpfs mounts and configs go (a fresh directory). */
  readonly workDir: string;
  /** Where each node's output is written (`node-N.log`). */
  readonly logDir: string;
  readonly diskMb: number;
  readonly clockNode: number | undefined;
  readonly clusterId: string;
  readonly partitions: number;
  readonly security: SecurityMode;
  /** The topic the workload user is given ACLs on (security on). */
  readonly topic: string;
}

interface LocalNode {
  readonly id: number;
  readonly root: string;
  process: ChildProcess | undefined;
  /** Down on purpose (killed by the nemesis): not restarted by the crash handler. */
  heldDown: boolean;
  paused: boolean;
  restartTimer: NodeJS.Timeout | undefined;
}

export class LocalCluster implements ChaosCluster {
  readonly supported: ReadonlySet<FaultKind>;
  readonly network: NodeNetwork;
  onNote: (text: string) => void = () => undefined;
  private readonly nodes: LocalNode[] = [];
  private closing = false;
  private security: ClientSecurity | undefined;

  constructor(private readonly options: LocalClusterOptions) {
    this.network = new NodeNetwork(options.nodeCount);
    const kinds = new Set<FaultKind>(faultKinds);
    if (options.clockNode === undefined || !existsSync(libfaketimePath)) kinds.delete('clock-jump');
    this.supported = kinds;
    for (let id = 1; id <= options.nodeCount; id++)
      this.nodes.push({
        id,
        root: join(options.workDir, `node-${id}`),
        process: undefined,
        heldDown: false,
        paused: false,
        restartTimer: undefined,
      });
  }

  get nodeCount(): number {
    return this.options.nodeCount;
  }

  get clockNode(): number | undefined {
    return this.supported.has('clock-jump') ? this.options.clockNode : undefined;
  }

  get bootstrap(): string {
    return this.nodes.map((node) => `${nodeAddress(node.id)}:${kafkaPort}`).join(',');
  }

  get clientSecurity(): ClientSecurity | undefined {
    return this.security;
  }

  /** librdkafka's settings for the clients (a properties file, as kcat -F reads), once started. */
  get clientPropertiesFile(): string {
    return join(this.options.workDir, 'client.properties');
  }

  private node(id: number): LocalNode {
    const node = this.nodes[id - 1];
    if (node === undefined) throw new Error(`no node ${id}`);
    return node;
  }

  private clockFile(id: number): string {
    return join(this.options.workDir, `faketime-node-${id}`);
  }

  async start(): Promise<void> {
    if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run npm run build first`);
    // Whose it is, for `--cleanup` (the pid outside the campaign's PID namespace when there is one).
    // mkdtemp makes it 0700: the nodes run as their own uids and must reach their directories.
    chmodSync(this.options.workDir, 0o755);
    writeFileSync(
      join(this.options.workDir, 'owner-pid'),
      `${process.env.GREGOR_CHAOS_OWNER_PID ?? process.pid}\n`,
    );
    await this.network.setup();
    const replicationFactor = Math.min(3, this.nodeCount);
    const voters = this.nodes.map((node) => `${node.id}@${nodeAddress(node.id)}:${controllerPort}`).join(',');
    const certificates =
      this.options.security === 'sasl_ssl'
        ? await makeCampaignCertificates(
            join(this.options.workDir, 'certs'),
            this.nodes.map((node) => ({ id: node.id, address: nodeAddress(node.id), uid: nodeUid(node.id) })),
          )
        : undefined;
    if (certificates !== undefined)
      this.security = {
        mode: 'sasl_ssl',
        caCertificate: certificates.caCertificate,
        username: workloadUser,
        password: randomBytes(18).toString('base64url'),
      };
    writeFileSync(this.clientPropertiesFile, clientPropertiesText(this.security), { mode: 0o600 });
    for (const node of this.nodes) {
      mkdirSync(node.root, { recursive: true });
      const uid = nodeUid(node.id);
      await run('mount', [
        '-t',
        'tmpfs',
        '-o',
        `size=${this.options.diskMb}m,uid=${uid},gid=${uid},mode=0755`,
        'tmpfs',
        node.root,
      ]);
      mkdirSync(join(node.root, 'logs'));
      chownSync(join(node.root, 'logs'), uid, uid);
      const properties = [
        `node.id=${node.id}`,
        'process.roles=broker,controller',
        `cluster.id=${this.options.clusterId}`,
        ...nodeListenerProperties(
          this.options.security,
          { node: node.id, address: nodeAddress(node.id), kafkaPort, controllerPort },
          certificates,
        ),
        'controller.listener.names=CONTROLLER',
        `controller.quorum.voters=${voters}`,
        `log.dirs=${join(node.root, 'logs')}`,
        `num.partitions=${this.options.partitions}`,
        `default.replication.factor=${replicationFactor}`,
        `offsets.topic.replication.factor=${replicationFactor}`,
        `transaction.state.log.replication.factor=${replicationFactor}`,
        `min.insync.replicas=${Math.min(2, replicationFactor)}`,
      ];
      writeFileSync(join(node.root, 'server.properties'), `${properties.join('\n')}\n`);
      if (node.id === this.clockNode) writeFileSync(this.clockFile(node.id), '+0\n');
    }
    for (const node of this.nodes) this.spawnNode(node);
    if (this.security !== undefined) await this.bootstrapSecurity(this.security);
  }

  /**
   * The workload user and its ACLs, created as an operator would: `gregor users` and `gregor acls`
   * through node 1's ADMIN listener, tried again until the quorum has formed and answers.
   */
  private async bootstrapSecurity(security: ClientSecurity): Promise<void> {
    const deadline = performance.now() + securityBootstrapTimeoutMs;
    for (const args of securityBootstrapCommands(security, this.options.topic, 1)) {
      for (;;) {
        try {
          await run(process.execPath, [cliPath, ...args], { timeoutMs: 30_000 });
          break;
        } catch (error) {
          if (performance.now() > deadline)
            throw new Error(
              `could not create the workload user and its ACLs: ${(error as Error).message.replaceAll(security.password, '***')}`,
            );
          await new Promise((done) => setTimeout(done, 500));
        }
      }
    }
  }

  private spawnNode(node: LocalNode): void {
    const uid = nodeUid(node.id);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      HOME: node.root,
      GREGOR_LOG_FORMAT: 'json',
      GREGOR_LOG_LEVEL: process.env.GREGOR_CHAOS_NODE_LOG_LEVEL ?? 'info',
    };
    if (node.id === this.clockNode) {
      env.LD_PRELOAD = libfaketimePath;
      env.FAKETIME_TIMESTAMP_FILE = this.clockFile(node.id);
      env.FAKETIME_CACHE_DURATION = '1';
      env.FAKETIME_DONT_FAKE_MONOTONIC = '1';
    }
    const log = openSync(join(this.options.logDir, `node-${node.id}.log`), 'a');
    const child = spawn(
      process.execPath,
      [cliPath, 'broker', 'start', '--config', join(node.root, 'server.properties')],
      {
        env,
        uid,
        gid: uid,
        cwd: node.root,
        stdio: ['ignore', log, log],
      },
    );
    closeSync(log);
    node.process = child;
    node.paused = false;
    child.on('exit', (code, signal) => {
      if (node.process !== child) return;
      node.process = undefined;
      if (this.closing || node.heldDown) return;
      this.onNote(
        `node ${node.id} exited by itself (${signal ?? `code ${code}`}); restarting it in ${crashRestartDelayMs} ms`,
      );
      node.restartTimer = setTimeout(() => {
        node.restartTimer = undefined;
        if (!this.closing && !node.heldDown && node.process === undefined) this.spawnNode(node);
      }, crashRestartDelayMs);
    });
  }

  isRunning(id: number): boolean {
    return this.node(id).process !== undefined;
  }

  async kill(id: number): Promise<void> {
    const node = this.node(id);
    node.heldDown = true;
    clearTimeout(node.restartTimer);
    const child = node.process;
    if (child === undefined) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }

  async restart(id: number): Promise<void> {
    const node = this.node(id);
    node.heldDown = false;
    if (node.process === undefined) this.spawnNode(node);
  }

  async pause(id: number): Promise<void> {
    const node = this.node(id);
    if (node.process?.kill('SIGSTOP')) node.paused = true;
  }

  async resume(id: number): Promise<void> {
    const node = this.node(id);
    node.process?.kill('SIGCONT');
    node.paused = false;
  }

  cut(cut: Cut): Promise<void> {
    return this.network.cut(cut);
  }

  lossy(node: number, percent: number): Promise<void> {
    return this.network.lossy(node, percent);
  }

  slow(node: number, rateKbit: number): Promise<void> {
    return this.network.slow(node, rateKbit);
  }

  healNetwork(): Promise<void> {
    return this.network.heal();
  }

  /** Fills the node's tmpfs to the last byte with a file of its own, as another tenant would. */
  async fillDisk(id: number): Promise<void> {
    const filler = join(this.node(id).root, 'chaos-filler');
    const chunk = Buffer.alloc(fillChunkBytes);
    const fd = openSync(filler, 'a');
    try {
      for (;;) {
        const stats = statfsSync(this.node(id).root);
        const free = stats.bavail * stats.bsize;
        if (free === 0) break;
        try {
          writeSync(fd, chunk, 0, Math.min(chunk.length, free));
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw error;
        }
      }
    } finally {
      closeSync(fd);
    }
  }

  async freeDisk(id: number): Promise<void> {
    rmSync(join(this.node(id).root, 'chaos-filler'), { force: true });
  }

  /** Sets the clock node's wall clock `seconds` away from the real time (0: back to it). */
  async jumpClock(id: number, seconds: number): Promise<void> {
    if (id !== this.clockNode) throw new Error(`node ${id} does not run under faketime`);
    const file = this.clockFile(id);
    writeFileSync(`${file}.tmp`, `${seconds >= 0 ? '+' : ''}${seconds}\n`);
    renameSync(`${file}.tmp`, file);
  }

  async healAll(): Promise<void> {
    await this.healNetwork();
    for (const node of this.nodes) {
      if (node.paused) await this.resume(node.id);
      await this.freeDisk(node.id);
      if (node.id === this.clockNode) await this.jumpClock(node.id, 0);
      if (node.process === undefined) await this.restart(node.id);
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    const exits: Array<Promise<unknown>> = [];
    for (const node of this.nodes) {
      clearTimeout(node.restartTimer);
      const child = node.process;
      if (child === undefined) continue;
      exits.push(once(child, 'exit'));
      child.kill('SIGCONT');
      child.kill('SIGKILL');
    }
    await Promise.all(exits);
    await this.network.teardown();
    for (const node of this.nodes) await run('umount', [node.root], { allowFailure: true });
    rmSync(this.options.workDir, { recursive: true, force: true });
  }
}

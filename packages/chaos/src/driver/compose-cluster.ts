// The docker-compose cluster (docker-compose.yml: gregor-1..3, clients on localhost:9092-9094) as a
// campaign target. Faults are what Docker does to a container: `docker kill` (SIGKILL) and `docker
// start`, `docker pause` (the cgroup freezer) and `docker unpause`. Network, disk and clock faults
// need the local target.

import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FaultKind } from '../scheduler.js';
import type { ChaosCluster } from './cluster.js';
import { run } from './exec.js';

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const composeScript = join(packageRoot, 'scripts', 'compose-cluster.sh');
/** Building the image on a machine that is not yet a Docker host takes minutes. */
const composeUpTimeoutMs = 15 * 60_000;

export interface ComposeClusterOptions {
  readonly logDir: string;
}

export class ComposeCluster implements ChaosCluster {
  readonly nodeCount = 3;
  readonly bootstrap = 'localhost:9092,localhost:9093,localhost:9094';
  readonly supported: ReadonlySet<FaultKind> = new Set<FaultKind>([
    'kill-leader',
    'kill-controller',
    'kill-random',
    'pause-leader',
    'pause-controller',
    'pause-follower',
  ]);
  readonly clockNode = undefined;
  /** docker-compose.yml's listeners are PLAINTEXT. */
  readonly clientSecurity = undefined;
  readonly clientPropertiesFile = undefined;
  onNote: (text: string) => void = () => undefined;
  private readonly down = new Set<number>();
  private readonly paused = new Set<number>();

  constructor(readonly options: ComposeClusterOptions) {}

  async start(): Promise<void> {
    const output = await run('bash', [composeScript, 'up'], { timeoutMs: composeUpTimeoutMs });
    const dockerHost = /DOCKER_HOST=(.*)$/m.exec(output.trim().split('\n').pop() ?? '')?.[1] ?? '';
    // The faults' docker commands must reach the same engine (podman's socket, when up made one).
    if (dockerHost !== '') process.env.DOCKER_HOST = dockerHost;
  }

  private docker(args: string[]): Promise<string> {
    return run('docker', args);
  }

  isRunning(node: number): boolean {
    return !this.down.has(node);
  }

  async kill(node: number): Promise<void> {
    this.down.add(node);
    await this.docker(['kill', `gregor-${node}`]);
  }

  async restart(node: number): Promise<void> {
    await this.docker(['start', `gregor-${node}`]);
    this.down.delete(node);
  }

  async pause(node: number): Promise<void> {
    await this.docker(['pause', `gregor-${node}`]);
    this.paused.add(node);
  }

  async resume(node: number): Promise<void> {
    await this.docker(['unpause', `gregor-${node}`]);
    this.paused.delete(node);
  }

  private unsupported(what: string): Promise<never> {
    return Promise.reject(new Error(`--target compose cannot ${what}; use --target local`));
  }

  cut(): Promise<void> {
    return this.unsupported('cut links');
  }
  lossy(): Promise<void> {
    return this.unsupported('drop packets');
  }
  slow(): Promise<void> {
    return this.unsupported('slow links');
  }
  async healNetwork(): Promise<void> {}
  fillDisk(): Promise<void> {
    return this.unsupported('fill a disk');
  }
  async freeDisk(): Promise<void> {}
  jumpClock(): Promise<void> {
    return this.unsupported('jump a clock');
  }

  async healAll(): Promise<void> {
    for (const node of [...this.paused]) await this.resume(node);
    for (const node of [...this.down]) await this.restart(node);
  }

  async close(): Promise<void> {
    for (let node = 1; node <= this.nodeCount; node++) {
      const logs = await run('docker', ['logs', `gregor-${node}`], { allowFailure: true });
      writeFileSync(join(this.options.logDir, `node-${node}.log`), logs);
    }
    await run('bash', [composeScript, 'down'], { allowFailure: true, timeoutMs: 120_000 });
  }
}

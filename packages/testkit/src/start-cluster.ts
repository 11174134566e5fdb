// startCluster(): real Gregor nodes (GregorNode, both roles: broker and metadata-quorum voter) inside
// the calling process, on loopback ports the operating system chooses, with their data in a
// temporary directory. It is how a Node project tests its Kafka code against a real multi-node
// cluster without Docker or a JVM.
//
// Ports: every node binds port 0 for its Kafka and CONTROLLER listeners and writes what it got to
// `bound-ports`; once every node has, the voters' addresses go into the file each node reads
// through gregor.controller.quorum.voters.file, and the quorum forms (as the process fixtures do).
// A restarted node asks for the ports it had, so clients' bootstrap lists stay right; if one was
// taken meanwhile it binds new ones and the voters file follows.
//
// Several nodes share one process, so nothing a node does may reach beyond itself: a node that
// must halt (its storage failed) is killed instead of exiting the process; loggers are per node and
// silent unless asked; no signal handler is installed; watchers of the shared voters file are
// removed one by one.

import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brokerConfigFrom, GregorNode, type Logger, readBoundListeners } from '@gregor/broker';
import pino from 'pino';

/** How long a starting node may take to bind its listeners and write `bound-ports`. */
const bindWaitMsMax = 30_000;
const bindPollMs = 5;
export const brokersMax = 9;
const host = '127.0.0.1';

export interface StartClusterOptions {
  /** How many nodes, 1 to 9; each is a broker and a voter of the metadata quorum. Default 3. */
  readonly brokers?: number;
  /** server.properties keys for every node, over the defaults below (Kafka's key names). */
  readonly properties?: Readonly<Record<string, string>>;
  /** Where the temporary data directory is made (default: the OS temp dir). */
  readonly parentDir?: string;
  /** Log level of every node's pino logger: 'silent' (the default), 'info', 'debug'... */
  readonly logLevel?: string;
  /** Where log lines go when logLevel is not silent (default: stderr). */
  readonly logStream?: NodeJS.WritableStream;
}

export interface TestBroker {
  readonly id: number;
  readonly host: string;
  /** Its Kafka listener's port (the same after a restart unless that port was taken meanwhile). */
  readonly port: number;
}

export interface TestCluster {
  /** `host:port` of every broker, as kafkajs's `brokers` wants; `.join(',')` for bootstrap.servers. */
  readonly bootstrapServers: string[];
  readonly brokers: readonly TestBroker[];
  readonly clusterId: string;
  /** The temporary directory holding every node's data. */
  readonly dataDir: string;
  /** Whether the node runs (false after kill(), or after it halted on its own). */
  isRunning(id: number): boolean;
  /** Abrupt stop, as near kill -9 as in-process allows: no controlled shutdown, no flush. */
  kill(id: number): Promise<void>;
  /** Starts a killed node again on its data; resolves once it serves Kafka clients again. */
  restart(id: number): Promise<void>;
  /** Stops every running node with a controlled shutdown, then removes dataDir unless kept. */
  stop(options?: { readonly keepData?: boolean }): Promise<void>;
}

/**
 * Settings of a test cluster that differ from a production node's defaults, and why. Override any
 * of them with `properties`.
 */
function testDefaults(brokerCount: number): Record<string, string> {
  const replicationFactor = String(Math.min(3, brokerCount));
  return {
    // What is auto-created is replicated like a real cluster's topics would be, and acks=all needs
    // two copies whenever there are two brokers: a test that kills one loses nothing acknowledged.
    'default.replication.factor': replicationFactor,
    'offsets.topic.replication.factor': replicationFactor,
    'min.insync.replicas': String(Math.min(2, brokerCount)),
    // Kafka's 50 partitions make the first consumer group wait for 50 partitions to be created and
    // led; Kafka's own test harness uses few too.
    'offsets.topic.num.partitions': '5',
    // Kafka waits 3 s for more members before the first rebalance; its test harness sets 0.
    'group.initial.rebalance.delay.ms': '0',
  };
}

interface NodeSlot {
  readonly id: number;
  readonly logDir: string;
  node: GregorNode | undefined;
  running: boolean;
  kafkaPort: number;
  quorumPort: number;
  /** Set while a kill() or a halt is closing the node. */
  stopping: Promise<void> | undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

class InProcessCluster implements TestCluster {
  readonly clusterId = `testkit-${Math.random().toString(36).slice(2, 12)}`;
  readonly dataDir: string;
  private readonly votersFile: string;
  private readonly slots: NodeSlot[];
  private readonly loggerRoot: Logger;
  private stopped = false;

  constructor(private readonly options: StartClusterOptions) {
    const brokerCount = options.brokers ?? 3;
    if (!Number.isInteger(brokerCount) || brokerCount < 1 || brokerCount > brokersMax)
      throw new RangeError(`brokers must be a whole number from 1 to ${brokersMax}, not ${brokerCount}`);
    this.dataDir = mkdtempSync(join(options.parentDir ?? tmpdir(), 'gregor-testkit-'));
    this.votersFile = join(this.dataDir, 'quorum-voters');
    this.slots = Array.from({ length: brokerCount }, (_, index) => {
      const id = index + 1;
      const logDir = join(this.dataDir, `node-${id}`, 'logs');
      mkdirSync(logDir, { recursive: true });
      return {
        id,
        logDir,
        node: undefined,
        running: false,
        kafkaPort: 0,
        quorumPort: 0,
        stopping: undefined,
      };
    });
    const level = options.logLevel ?? 'silent';
    this.loggerRoot =
      level === 'silent'
        ? pino({ level })
        : pino({ level }, (options.logStream as pino.DestinationStream | undefined) ?? process.stderr);
  }

  get brokers(): TestBroker[] {
    return this.slots.map((slot) => ({ id: slot.id, host, port: slot.kafkaPort }));
  }

  get bootstrapServers(): string[] {
    return this.slots.map((slot) => `${host}:${slot.kafkaPort}`);
  }

  isRunning(id: number): boolean {
    return this.slot(id).running;
  }

  async start(): Promise<void> {
    const starting = this.slots.map((slot) => this.launch(slot, 0, 0));
    // A failed start ends the wait for ports at once (a node that cannot bind never writes them).
    const failed = Promise.all(starting).then(() => new Promise<never>(() => undefined));
    try {
      await Promise.race([Promise.all(this.slots.map((slot) => this.waitBound(slot))), failed]);
      this.writeVoters();
      await Promise.all(starting);
    } catch (error) {
      await this.stop().catch(() => undefined);
      throw error;
    }
  }

  private slot(id: number): NodeSlot {
    const slot = this.slots.find((candidate) => candidate.id === id);
    if (slot === undefined) throw new RangeError(`no broker ${id} (brokers are 1 to ${this.slots.length})`);
    return slot;
  }

  private properties(slot: NodeSlot, kafkaPort: number, quorumPort: number): Map<string, string> {
    return new Map(
      Object.entries({
        ...testDefaults(this.slots.length),
        ...this.options.properties,
        // What makes it this cluster's node: not overridable.
        'node.id': String(slot.id),
        'process.roles': 'broker,controller',
        'cluster.id': this.clusterId,
        listeners: `PLAINTEXT://${host}:${kafkaPort},CONTROLLER://${host}:${quorumPort}`,
        'controller.listener.names': 'CONTROLLER',
        'controller.quorum.voters': this.slots.map((other) => `${other.id}@${host}:0`).join(','),
        'gregor.controller.quorum.voters.file': this.votersFile,
        'log.dirs': slot.logDir,
      }),
    );
  }

  /** Creates and starts the slot's node; resolves when it serves Kafka clients. */
  private launch(slot: NodeSlot, kafkaPort: number, quorumPort: number): Promise<unknown> {
    // A leftover file from the previous run must not be taken for this one's ports.
    rmSync(join(slot.logDir, 'bound-ports'), { force: true });
    const config = brokerConfigFrom(this.properties(slot, kafkaPort, quorumPort));
    const logger = this.loggerRoot.child({ node: slot.id });
    const node = new GregorNode(config, logger, {
      // A node that must halt takes only itself down, as its own process would.
      halt: (exitCode, reason) => {
        logger.fatal({ exitCode, reason }, 'node halted; the testkit killed it');
        void this.kill(slot.id);
      },
    });
    slot.node = node;
    slot.running = true;
    return node.start();
  }

  /** Waits for the slot's node to write `bound-ports`, and takes its ports from it. */
  private async waitBound(slot: NodeSlot): Promise<void> {
    const deadline = Date.now() + bindWaitMsMax;
    for (;;) {
      const bound = readBoundListeners(slot.logDir);
      if (bound !== undefined) {
        slot.kafkaPort = bound.find((listener) => listener.name === 'PLAINTEXT')!.port;
        slot.quorumPort = bound.find((listener) => listener.name === 'CONTROLLER')!.port;
        return;
      }
      if (Date.now() > deadline) throw new Error(`node ${slot.id} did not bind its listeners`);
      await sleep(bindPollMs);
    }
  }

  /** Every node's CONTROLLER address, replaced atomically: the nodes poll the file. */
  private writeVoters(): void {
    const voters = this.slots.map((slot) => `${slot.id}@${host}:${slot.quorumPort}`).join(',');
    writeFileSync(`${this.votersFile}.tmp`, voters);
    renameSync(`${this.votersFile}.tmp`, this.votersFile);
  }

  kill(id: number): Promise<void> {
    const slot = this.slot(id);
    if (slot.stopping !== undefined) return slot.stopping;
    const node = slot.node;
    if (node === undefined || !slot.running) return Promise.resolve();
    slot.running = false;
    slot.stopping = node.kill().finally(() => {
      slot.stopping = undefined;
      slot.node = undefined;
    });
    return slot.stopping;
  }

  async restart(id: number): Promise<void> {
    if (this.stopped) throw new Error('the cluster was stopped');
    const slot = this.slot(id);
    await slot.stopping;
    if (slot.running) throw new Error(`broker ${id} is running; kill it first`);
    const { kafkaPort, quorumPort } = slot;
    let started = this.launch(slot, kafkaPort, quorumPort);
    try {
      await Promise.race([this.waitBound(slot), started]);
    } catch (error) {
      // Its old ports were taken meanwhile: new ones, and the voters file tells the others.
      if (!/cannot bind|EADDRINUSE/.test(String(error))) throw error;
      await this.kill(id);
      started = this.launch(slot, 0, 0);
      await Promise.race([this.waitBound(slot), started]);
    }
    if (slot.quorumPort !== quorumPort) this.writeVoters();
    await started;
  }

  async stop(options: { readonly keepData?: boolean } = {}): Promise<void> {
    this.stopped = true;
    await Promise.all(
      this.slots.map(async (slot) => {
        await slot.stopping;
        const node = slot.node;
        if (node === undefined || !slot.running) return;
        slot.running = false;
        slot.node = undefined;
        await node.stop();
      }),
    );
    if (options.keepData !== true) rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/**
 * Starts `brokers` Gregor nodes in this process and resolves once every one serves Kafka clients
 * (registered with the controller and unfenced). Call `stop()` when done.
 */
export async function startCluster(options: StartClusterOptions = {}): Promise<TestCluster> {
  const cluster = new InProcessCluster(options);
  await cluster.start();
  return cluster;
}

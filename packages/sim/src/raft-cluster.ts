import { SeededRandom } from '@gregor/ground';
import {
  FAST_FAILOVER_TIMEOUTS,
  type LogEntry,
  makeRaftConfig,
  type RaftConfig,
  type RaftMessage,
  RaftNode,
  type RaftTimeouts,
  type Ready,
} from '@gregor/raft';
import { SimDisk } from './disk.js';
import { HEALTHY_NETWORK, SimNetwork } from './network.js';
import { RaftSafetyChecker, SafetyViolation } from './raft-checker.js';
import { SimScheduler } from './scheduler.js';

export interface RaftSimOptions {
  readonly seed: number;
  readonly voters: number;
  readonly timeouts?: RaftTimeouts;
  /** Simulated time with faults injected. */
  readonly chaosMs: number;
  /** After everything heals, a proposal must be committed on every node within this bound. */
  readonly livenessBoundMs: number;
  /**
   * 'chaos': random faults for chaosMs, then heal. 'leader-kill': a healthy network, the leader is
   * killed at chaosMs and never restarted; the run measures how long until a new leader commits.
   */
  readonly scenario?: 'chaos' | 'leader-kill';
}

export interface RaftSimResult {
  readonly seed: number;
  readonly voters: number;
  readonly events: number;
  readonly committedEntries: number;
  readonly leaderEpochs: number;
  readonly crashes: number;
  readonly partitions: number;
  readonly snapshotsInstalled: number;
  /** Simulated ms from the final heal until a new proposal was applied on every node. */
  readonly recoveryMs: number;
  /** 'leader-kill' only: ms from the kill until a new leader committed an entry of its own epoch. */
  readonly failoverMs: number | undefined;
}

const CLUSTER_ID = 'sim-cluster';
/** Simulated fsync latency range. */
const DISK_LATENCY_MS_MAX = 3;
/** Mean gap between client proposals. */
const PROPOSAL_INTERVAL_MS_MEAN = 60;
/** Gap between fault injections during the chaos phase. */
const FAULT_INTERVAL_MS_MIN = 150;
const FAULT_INTERVAL_MS_MAX = 1200;
/** How long a crashed node stays down / a partition lasts. */
const DOWNTIME_MS_MAX = 2500;
/** Small limits so that multi-entry fetches, chunked snapshots and trimming are exercised. */
const SIM_LIMITS = {
  fetchEntriesMax: 8,
  fetchBytesMax: 64,
  snapshotChunkBytesMax: 5,
  uncommittedEntriesMax: 200,
};
/** A node snapshots its state machine after applying this many entries (drawn per seed). */
const SNAPSHOT_EVERY_ENTRIES_MIN = 5;
const SNAPSHOT_EVERY_ENTRIES_MAX = 40;
/** Guard against a run that never ends (a livelock would otherwise hang CI). */
const EVENTS_PER_RUN_MAX = 2_000_000;

interface SimStateMachine {
  appliedEndOffset: number;
  digest: number;
}

/** One simulated server: the core plus the driver a real broker would have around it. */
class SimHost {
  core: RaftNode | undefined;
  readonly disk = new SimDisk();
  /** Bumped at each crash: callbacks of an older incarnation are ignored. */
  incarnation = 0;
  persistInFlight = false;
  timerAtMs: number | undefined;
  timerToken = 0;
  stateMachine: SimStateMachine = { appliedEndOffset: 0, digest: 0 };
  snapshotEndOffset = 0;

  constructor(
    readonly id: number,
    readonly config: RaftConfig,
    readonly random: SeededRandom,
  ) {}
}

/**
 * N Raft cores over a simulated network, disk and clock, with random crashes, restarts, partitions,
 * message loss, duplication and reordering, and random proposals. Every event is followed by the
 * safety checks of RaftSafetyChecker; a violation throws with the seed in the message.
 */
export class RaftSimulation {
  private readonly random: SeededRandom;
  private readonly scheduler = new SimScheduler();
  private readonly network: SimNetwork<RaftMessage>;
  private readonly checker = new RaftSafetyChecker();
  private readonly hosts: SimHost[] = [];
  private readonly snapshotEveryEntries: number;
  private proposalSeq = 0;
  private crashes = 0;
  private partitions = 0;
  private snapshotsInstalled = 0;
  /** Proposals made after the final heal, and how many nodes applied each. */
  private readonly probes = new Map<string, number>();
  private healedAtMs: number | undefined;
  private recoveredAtMs: number | undefined;
  private killed: { atMs: number; epoch: number } | undefined;
  private failoverMs: number | undefined;

  constructor(private readonly options: RaftSimOptions) {
    this.random = new SeededRandom(options.seed);
    this.network = new SimNetwork(this.scheduler, this.random.fork(), (to, message) =>
      this.deliver(to, message),
    );
    this.snapshotEveryEntries = this.random.between(SNAPSHOT_EVERY_ENTRIES_MIN, SNAPSHOT_EVERY_ENTRIES_MAX);
    const voterIds = Array.from({ length: options.voters }, (_, index) => index + 1);
    for (const id of voterIds) {
      const config = makeRaftConfig({
        nodeId: id,
        clusterId: CLUSTER_ID,
        voterIds,
        ...(options.timeouts ?? FAST_FAILOVER_TIMEOUTS),
        ...SIM_LIMITS,
      });
      this.hosts.push(new SimHost(id, config, this.random.fork()));
    }
  }

  run(): RaftSimResult {
    try {
      return this.runUnchecked();
    } catch (error) {
      if (error instanceof Error) {
        error.message =
          `seed ${this.options.seed}, ${this.options.voters} voters, at ${this.scheduler.nowMs} ms: ` +
          error.message;
      }
      throw error;
    }
  }

  private runUnchecked(): RaftSimResult {
    for (const host of this.hosts) this.start(host);
    this.scheduleProposal();
    const chaosEndMs = this.options.chaosMs;
    if (this.options.scenario === 'leader-kill') {
      this.scheduler.at(chaosEndMs, () => this.killLeader());
    } else {
      this.scheduleFault();
      this.scheduler.at(chaosEndMs, () => this.healEverything());
    }
    const deadlineMs = chaosEndMs + this.options.livenessBoundMs;
    while (!this.finished() && this.scheduler.runNext(deadlineMs)) {
      if (this.scheduler.executedEvents > EVENTS_PER_RUN_MAX) {
        throw new SafetyViolation(`more than ${EVENTS_PER_RUN_MAX} events: livelock?`);
      }
      this.checkAll();
    }
    if (this.options.scenario === 'leader-kill') {
      if (this.failoverMs === undefined) throw new SafetyViolation(`no failover: ${this.describe()}`);
    } else if (this.recoveredAtMs === undefined) {
      throw new SafetyViolation(
        `liveness: no proposal committed on all ${this.options.voters} nodes within ` +
          `${this.options.livenessBoundMs} ms of the final heal (${this.describe()})`,
      );
    }
    const cores = new Map<number, RaftNode>();
    for (const host of this.hosts) if (host.core !== undefined) cores.set(host.id, host.core);
    this.checker.fullLogMatchingCheck(cores);
    return {
      seed: this.options.seed,
      voters: this.options.voters,
      events: this.scheduler.executedEvents,
      committedEntries: this.checker.committedEndOffset,
      leaderEpochs: Math.max(...[...cores.values()].map((core) => core.status().epoch)),
      crashes: this.crashes,
      partitions: this.partitions,
      snapshotsInstalled: this.snapshotsInstalled,
      recoveryMs: (this.recoveredAtMs ?? chaosEndMs) - (this.healedAtMs ?? chaosEndMs),
      failoverMs: this.failoverMs,
    };
  }

  private finished(): boolean {
    return this.options.scenario === 'leader-kill'
      ? this.failoverMs !== undefined
      : this.recoveredAtMs !== undefined;
  }

  private killLeader(): void {
    const leader = this.hosts.find((host) => host.core?.status().role === 'leader');
    if (leader === undefined) throw new SafetyViolation(`no leader to kill: ${this.describe()}`);
    this.killed = { atMs: this.scheduler.nowMs, epoch: leader.core!.status().epoch };
    this.crash(leader);
  }

  /** A leader newer than the killed one whose high watermark covers an entry of its own epoch. */
  private checkFailover(): void {
    const killed = this.killed;
    if (killed === undefined || this.failoverMs !== undefined) return;
    for (const host of this.hosts) {
      const status = host.core?.status();
      if (status?.role !== 'leader' || status.epoch <= killed.epoch || status.highWatermark === 0) continue;
      if (host.core!.epochAt(status.highWatermark - 1) === status.epoch) {
        this.failoverMs = this.scheduler.nowMs - killed.atMs;
      }
    }
  }

  private describe(): string {
    return this.hosts
      .map((host) => {
        const status = host.core?.status();
        if (status === undefined) return `${host.id}: down`;
        return `${host.id}: ${status.role} e${status.epoch} leader=${status.leaderId} hw=${status.highWatermark} leo=${status.logEndOffset}`;
      })
      .join('; ');
  }

  private checkAll(): void {
    for (const host of this.hosts) {
      if (host.core !== undefined) this.checker.onNodeState(host.id, host.core);
    }
    this.checkFailover();
  }

  // ---------------------------------------------------------------------------------------------------
  // The driver loop of one host

  private start(host: SimHost): void {
    const persisted = host.disk.load();
    host.core = new RaftNode({
      config: host.config,
      random: host.random,
      nowMs: this.scheduler.nowMs,
      persisted,
    });
    // The state machine comes back from the durable snapshot; later entries are applied again.
    const snapshot = persisted.snapshot;
    host.stateMachine =
      snapshot === undefined
        ? { appliedEndOffset: 0, digest: 0 }
        : { appliedEndOffset: snapshot.id.endOffset, digest: decodeDigest(snapshot.bytes) };
    host.snapshotEndOffset = snapshot?.id.endOffset ?? 0;
    this.checker.onRestart(host.id);
    this.pump(host);
  }

  private crash(host: SimHost): void {
    if (host.core === undefined) return;
    this.crashes++;
    host.core = undefined;
    host.incarnation++;
    // An unfinished write never reaches the simulated disk: that is the data a crash loses.
    host.persistInFlight = false;
    host.timerAtMs = undefined;
    host.timerToken++;
  }

  private deliver(to: number, message: RaftMessage): void {
    const host = this.hosts[to - 1]!;
    const core = host.core;
    if (core === undefined) return;
    const outcome = core.step(message, this.scheduler.nowMs);
    if (outcome.kind !== 'accepted')
      throw new SafetyViolation(`node ${to} refused a message: ${outcome.kind}`);
    this.pump(host);
  }

  /** Drains the core: persist a Ready, then (after the simulated fsync) advance, send and apply. */
  private pump(host: SimHost): void {
    const core = host.core;
    if (core === undefined) return;
    if (!host.persistInFlight && core.hasReady()) {
      const ready = core.ready();
      this.checker.onEntriesWritten(host.id, core, ready.entries);
      host.persistInFlight = true;
      const incarnation = host.incarnation;
      this.scheduler.after(this.random.nextInt(DISK_LATENCY_MS_MAX + 1), () => {
        if (host.incarnation !== incarnation) return;
        this.persisted(host, ready);
      });
    }
    this.armTimer(host);
  }

  private persisted(host: SimHost, ready: Ready): void {
    const core = host.core!;
    host.disk.write(ready);
    host.persistInFlight = false;
    const advanced = core.advance(ready, this.scheduler.nowMs);
    for (const { to, message } of advanced.messages) this.network.send(host.id, to, message);
    if (advanced.restoredSnapshot !== undefined) {
      const snapshot = advanced.restoredSnapshot;
      const digest = decodeDigest(snapshot.bytes);
      this.checker.onSnapshotRestored(host.id, snapshot.id.endOffset, digest);
      host.stateMachine = { appliedEndOffset: snapshot.id.endOffset, digest };
      host.snapshotEndOffset = snapshot.id.endOffset;
      this.snapshotsInstalled++;
    }
    for (const entry of advanced.committed) this.apply(host, entry);
    this.maybeSnapshot(host, core);
    this.pump(host);
  }

  private apply(host: SimHost, entry: LogEntry): void {
    const machine = host.stateMachine;
    if (entry.offset !== machine.appliedEndOffset) {
      throw new SafetyViolation(
        `node ${host.id} applied ${entry.offset}, expected ${machine.appliedEndOffset}`,
      );
    }
    const epoch = host.core!.status().epoch;
    machine.digest = this.checker.onApplied(host.id, entry, machine.digest, epoch);
    machine.appliedEndOffset++;
    const key = payloadText(entry);
    const appliedBy = this.probes.get(key);
    if (appliedBy !== undefined) {
      this.probes.set(key, appliedBy + 1);
      if (appliedBy + 1 === this.hosts.length && this.recoveredAtMs === undefined) {
        this.recoveredAtMs = this.scheduler.nowMs;
      }
    }
  }

  private maybeSnapshot(host: SimHost, core: RaftNode): void {
    const machine = host.stateMachine;
    if (machine.appliedEndOffset - host.snapshotEndOffset < this.snapshotEveryEntries) return;
    const result = core.createSnapshot(machine.appliedEndOffset, encodeDigest(machine.digest));
    if (result.kind === 'created') host.snapshotEndOffset = machine.appliedEndOffset;
  }

  /** Schedules a tick at the core's next deadline, unless an earlier one is already scheduled. */
  private armTimer(host: SimHost): void {
    const core = host.core;
    if (core === undefined) return;
    const deadlineMs = core.nextDeadlineMs();
    if (!Number.isFinite(deadlineMs)) return;
    if (host.timerAtMs !== undefined && host.timerAtMs <= deadlineMs) return;
    host.timerAtMs = Math.max(deadlineMs, this.scheduler.nowMs);
    const token = ++host.timerToken;
    this.scheduler.at(host.timerAtMs, () => {
      if (host.timerToken !== token || host.core === undefined) return;
      host.timerAtMs = undefined;
      host.core.tick(this.scheduler.nowMs);
      this.pump(host);
    });
  }

  // ---------------------------------------------------------------------------------------------------
  // Workload and faults

  private scheduleProposal(): void {
    this.scheduler.after(this.random.nextInt(PROPOSAL_INTERVAL_MS_MEAN * 2) + 1, () => {
      this.propose();
      this.scheduleProposal();
    });
  }

  /** A client: asks a random live node, follows one redirect, as a Kafka client would. */
  private propose(): void {
    const live = this.hosts.filter((host) => host.core !== undefined);
    if (live.length === 0) return;
    let host = this.random.pick(live);
    const text = `p${++this.proposalSeq}`;
    const payload = new TextEncoder().encode(text);
    let result = host.core!.propose(payload);
    if (result.kind === 'not-leader' && result.leaderId !== undefined) {
      const leader = this.hosts[result.leaderId - 1]!;
      if (leader.core === undefined) return;
      host = leader;
      result = leader.core!.propose(payload);
    }
    if (result.kind !== 'appended') return;
    if (this.healedAtMs !== undefined) this.probes.set(text, 0);
    this.pump(host);
  }

  private scheduleFault(): void {
    this.scheduler.after(this.random.between(FAULT_INTERVAL_MS_MIN, FAULT_INTERVAL_MS_MAX), () => {
      if (this.healedAtMs !== undefined) return;
      this.injectFault();
      this.scheduleFault();
    });
  }

  private injectFault(): void {
    const random = this.random;
    const choice = random.nextInt(6);
    if (choice === 0) {
      // Kill the leader, the case failover is about.
      const leader = this.hosts.find((host) => host.core?.status().role === 'leader');
      if (leader !== undefined) this.crashFor(leader);
    } else if (choice === 1) {
      this.crashFor(random.pick(this.hosts));
    } else if (choice === 2) {
      this.partitionRandomly();
    } else if (choice === 3) {
      // Isolate one node (often a leader, so that check-quorum and pre-vote are exercised).
      const isolated = random.pick(this.hosts).id;
      this.partitions++;
      this.network.partition([[isolated], this.hosts.map((host) => host.id).filter((id) => id !== isolated)]);
      this.scheduler.after(random.nextInt(DOWNTIME_MS_MAX), () => this.healNetworkIfChaos());
    } else if (choice === 4) {
      this.network.faults = {
        dropProbability: random.nextFloat() * 0.3,
        duplicateProbability: random.nextFloat() * 0.2,
        delayMinMs: 1,
        delayMaxMs: random.between(2, 40),
        delaySpikeProbability: random.nextFloat() * 0.05,
        delaySpikeMaxMs: random.between(50, 1500),
      };
    } else {
      this.network.faults = { ...HEALTHY_NETWORK };
    }
  }

  private crashFor(host: SimHost): void {
    if (host.core === undefined) return;
    this.crash(host);
    this.scheduler.after(this.random.nextInt(DOWNTIME_MS_MAX), () => {
      if (host.core === undefined) this.start(host);
    });
  }

  private partitionRandomly(): void {
    const groups: number[][] = [[], []];
    for (const host of this.hosts) groups[this.random.nextInt(2)]!.push(host.id);
    this.partitions++;
    this.network.partition(groups);
    this.scheduler.after(this.random.nextInt(DOWNTIME_MS_MAX), () => this.healNetworkIfChaos());
  }

  private healNetworkIfChaos(): void {
    if (this.healedAtMs === undefined) this.network.heal();
  }

  /** End of chaos: every node up, no partition, no loss (delays and reordering stay). */
  private healEverything(): void {
    this.healedAtMs = this.scheduler.nowMs;
    this.network.heal();
    this.network.faults = { ...HEALTHY_NETWORK, delayMaxMs: 20 };
    for (const host of this.hosts) {
      if (host.core === undefined) this.start(host);
    }
  }
}

function payloadText(entry: LogEntry): string {
  return entry.type === 'data' ? new TextDecoder().decode(entry.payload) : '';
}

function encodeDigest(digest: number): Uint8Array {
  // Padded so that snapshots span several FetchSnapshot chunks.
  const bytes = new Uint8Array(12);
  new DataView(bytes.buffer).setUint32(0, digest);
  return bytes;
}

function decodeDigest(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0);
}

export function runRaftSimulation(options: RaftSimOptions): RaftSimResult {
  return new RaftSimulation(options).run();
}

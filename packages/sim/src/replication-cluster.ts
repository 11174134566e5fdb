import { SeededRandom } from '@gregor/ground';
import type { PartitionState } from '@gregor/metadata';
import { ErrorCode } from '@gregor/protocol';
import type { Partition } from '@gregor/replication';
import { HEALTHY_NETWORK, SimNetwork } from './network.js';
import { drainContinuations, eventLoopTurn } from './node-event-loop.js';
import { SafetyViolation } from './raft-checker.js';
import {
  HEARTBEAT_INTERVAL_MS,
  type SimAnswer,
  SimBroker,
  type SimBrokerEvents,
  SimReplicaDisk,
  type SimReplicaParts,
  type SimRequest,
  type SimRpc,
} from './replication-broker.js';
import { ReplicationChecker, type ReplicaView } from './replication-checker.js';
import { SimControllerNode } from './replication-controller.js';
import type { SimBatch, SimReplicaLog } from './replication-log.js';
import { type ScheduledHandle, SimScheduler } from './scheduler.js';

export interface ReplicationSimOptions {
  readonly seed: number;
  /** Replication factor: 3 or 5. */
  readonly replicas: number;
  /** Simulated time with faults injected. */
  readonly chaosMs: number;
  /** After everything heals, an acknowledged batch must reach every replica within this bound. */
  readonly livenessBoundMs: number;
  /** Receives a line per notable event (crashes, role changes, ISR changes, truncations, acks). */
  readonly trace?: (line: string) => void;
  /** Variants of the replicas' production parts (tests that put a known bug back); production's by default. */
  readonly parts?: SimReplicaParts;
}

export interface ReplicationSimResult {
  readonly seed: number;
  readonly replicas: number;
  readonly events: number;
  readonly acknowledgedBatches: number;
  readonly crashes: number;
  /** Crashes that lost page-cache data (power loss), and how many batches they took. */
  readonly lossyCrashes: number;
  readonly lostBatches: number;
  readonly leaderElections: number;
  readonly divergenceTruncations: number;
  readonly isrChanges: number;
  /** Simulated ms from the final heal until a new acknowledged batch was on every replica. */
  readonly recoveryMs: number;
}

// Kafka's timings scaled down about 50x (the brokers' are in replication-broker.ts).
/** broker.session.timeout.ms. */
const SESSION_TIMEOUT_MS = 600;
const CONTROLLER_TICK_MS = 50;
/** leader.imbalance.check.interval.seconds, scaled: preferred leaders come back a few times a run. */
const LEADER_IMBALANCE_CHECK_INTERVAL_MS = 2_000;
const PRODUCE_INTERVAL_MS_MEAN = 25;
const PRODUCE_ANSWER_TIMEOUT_MS = 1_500;
const RECORDS_PER_BATCH_MAX = 3;
const METADATA_REFRESH_MS = 200;
/** The OS writes dirty pages back this often (drawn per seed). */
const WRITEBACK_INTERVAL_MS_MIN = 20;
const WRITEBACK_INTERVAL_MS_MAX = 500;
const FAULT_INTERVAL_MS_MIN = 150;
const FAULT_INTERVAL_MS_MAX = 1200;
/** How long a crashed replica stays down / a partition lasts. */
const DOWNTIME_MS_MAX = 2500;
/** Guard against a run that never ends. */
const EVENTS_PER_RUN_MAX = 3_000_000;

const CONTROLLER_ID = 0;

type Body =
  | { readonly kind: 'request'; readonly token: number; readonly request: SimRequest }
  | { readonly kind: 'answer'; readonly token: number; readonly answer: SimAnswer };

/**
 * A message and the incarnations at both ends. A crash closes the node's connections: what its
 * previous incarnation sent and what was sent to it is not delivered (TCP, not a datagram network).
 */
interface Envelope {
  readonly from: number;
  readonly fromIncarnation: number;
  readonly toIncarnation: number;
  readonly body: Body;
}

interface PendingCall {
  readonly resolve: (answer: SimAnswer) => void;
  readonly timeout: ScheduledHandle;
}

/** One replica: its disk, which survives crashes, and the broker process running on it, if any. */
class SimReplica implements ReplicaView {
  incarnation = 0;
  readonly disk = new SimReplicaDisk();
  process: SimBroker | undefined;

  constructor(readonly id: number) {}

  get up(): boolean {
    return this.process !== undefined;
  }

  get log(): SimReplicaLog {
    return this.disk.log;
  }

  get partition(): Partition<SimReplicaLog> | undefined {
    return this.process?.partition;
  }
}

/** Every this many events a run lets the test runner in (eventLoopTurn); between, it only drains continuations. */
const eventsPerEventLoopTurn = 10_000;

/**
 * One partition replicated over N simulated brokers that run the production replication code
 * (@gregor/replication, see SimBroker), with Gregor's real controller (SimControllerNode), an acks=all
 * producer, crashes that lose unsynced data, partitions and message loss, delay and reordering.
 * Every event is followed by ReplicationChecker's checks; a violation throws with the seed in its
 * message.
 *
 * Fault budget (what Kafka's guarantee assumes: an acknowledged batch survives while one replica
 * that holds it stays in the ISR): a crash loses page-cache data only when no earlier lossy crash is
 * outstanding (that replica has rejoined the ISR since) and every other replica is running, active
 * at the controller, in the ISR and heard from more recently than the crashing one, so that the
 * controller fences the crashed replica first and some holder always remains electable. Any other
 * crash is a process crash: the page cache, and so the whole log, survives.
 */
export class ReplicationSimulation {
  private readonly random: SeededRandom;
  private readonly faultRandom: SeededRandom;
  private readonly scheduler = new SimScheduler();
  private readonly network: SimNetwork<Envelope>;
  private readonly checker = new ReplicationChecker();
  private readonly controller: SimControllerNode;
  private readonly replicas: SimReplica[] = [];
  private readonly producerId: number;
  private readonly writebackIntervalMs: number;
  private readonly pendingCalls = new Map<number, PendingCall>();
  /** Requests already delivered once (by token). */
  private readonly servedRequests = new Set<number>();
  private nextToken = 0;
  /** Replicas that lost data in a crash and have not rejoined the ISR since. */
  private readonly suspects = new Set<number>();
  private producerLeader = -1;
  private producedSeq = 0;
  private crashes = 0;
  private lossyCrashes = 0;
  private lostBatches = 0;
  private divergenceTruncations = 0;
  private healedAtMs: number | undefined;
  /** Batches produced after the final heal are numbered above this. */
  private healedAtSeq = Number.POSITIVE_INFINITY;
  private recoveredAtMs: number | undefined;
  private probe: SimBatch | undefined;
  private tracedState: PartitionState | undefined;
  /** The first failure inside a continuation of the production code; ends the run. */
  private failure: unknown;
  private readonly brokerEvents: SimBrokerEvents = {
    onAcknowledged: (broker, batch) => {
      this.checker.onAcknowledged(this.replicaById(broker.id), batch);
      // The first batch acknowledged that was produced after the final heal.
      if (this.probe === undefined && batchSeq(batch) > this.healedAtSeq) this.probe = batch;
      this.trace(
        () => `${broker.id}: acknowledged [${batch.baseOffset}..${batch.lastOffset}] ${batch.payload}`,
      );
    },
    onTruncated: (broker, why) => {
      this.divergenceTruncations++;
      this.trace(() => `${broker.id}: truncated (${why}) to leo ${broker.disk.log.logEndOffset}`);
    },
    trace: (line) => this.trace(line),
    fail: (error) => {
      this.failure ??= error;
    },
  };

  constructor(private readonly options: ReplicationSimOptions) {
    this.random = new SeededRandom(options.seed);
    this.faultRandom = this.random.fork();
    this.network = new SimNetwork(this.scheduler, this.random.fork(), (to, envelope) =>
      this.deliver(to, envelope),
    );
    const ids = Array.from({ length: options.replicas }, (_, index) => index + 1);
    for (const id of ids) this.replicas.push(new SimReplica(id));
    this.producerId = options.replicas + 1;
    this.controller = new SimControllerNode(ids, this.random.fork(), {
      brokerSessionTimeoutMs: SESSION_TIMEOUT_MS,
      brokerHeartbeatIntervalMs: HEARTBEAT_INTERVAL_MS,
      leaderImbalanceCheckIntervalMs: LEADER_IMBALANCE_CHECK_INTERVAL_MS,
    });
    this.writebackIntervalMs = this.random.between(WRITEBACK_INTERVAL_MS_MIN, WRITEBACK_INTERVAL_MS_MAX);
  }

  async run(): Promise<ReplicationSimResult> {
    try {
      return await this.runUnchecked();
    } catch (error) {
      if (error instanceof Error) {
        error.message =
          `seed ${this.options.seed}, ${this.options.replicas} replicas, at ${this.scheduler.nowMs} ms: ` +
          `${error.message}\n  ${this.describe()}`;
      }
      throw error;
    } finally {
      for (const replica of this.replicas) replica.process?.crash();
    }
  }

  private async runUnchecked(): Promise<ReplicationSimResult> {
    for (const replica of this.replicas) this.startProcess(replica);
    this.every(CONTROLLER_TICK_MS, () => this.controller.tick(this.scheduler.nowMs));
    this.every(this.writebackIntervalMs, () => {
      for (const replica of this.replicas) if (replica.up) replica.log.writeBack();
    });
    this.every(METADATA_REFRESH_MS, () => this.refreshProducerMetadata());
    this.scheduleProduce();
    this.scheduleFault();
    const chaosEndMs = this.options.chaosMs;
    this.scheduler.at(chaosEndMs, () => this.healEverything());
    const deadlineMs = chaosEndMs + this.options.livenessBoundMs;
    await this.runWhile(() => this.recoveredAtMs === undefined, deadlineMs);
    // A broker fenced for its silence is unfenced (and may lead) only once it has caught up with
    // the metadata, a heartbeat after it came back: the partition may be leaderless at the instant
    // the probe is everywhere. The final check wants a leader within the same bound.
    await this.runWhile(() => this.controller.state.leader < 0, deadlineMs);
    if (this.recoveredAtMs === undefined || this.probe === undefined) {
      throw new SafetyViolation(
        `liveness: no acknowledged batch reached all ${this.options.replicas} replicas within ` +
          `${this.options.livenessBoundMs} ms of the final heal`,
      );
    }
    this.checker.finalCheck(this.controller.state, this.replicas, this.probe.lastOffset + 1);
    return {
      seed: this.options.seed,
      replicas: this.options.replicas,
      events: this.scheduler.executedEvents,
      acknowledgedBatches: this.checker.acknowledgedBatches.length,
      crashes: this.crashes,
      lossyCrashes: this.lossyCrashes,
      lostBatches: this.lostBatches,
      leaderElections: this.controller.leaderElections,
      divergenceTruncations: this.divergenceTruncations,
      isrChanges: this.controller.isrChanges,
      recoveryMs: this.recoveredAtMs - (this.healedAtMs ?? chaosEndMs),
    };
  }

  /** Runs events while `condition` holds, up to `deadlineMs`, checking safety after each. */
  private async runWhile(condition: () => boolean, deadlineMs: number): Promise<void> {
    while (condition() && this.scheduler.runNext(deadlineMs)) {
      if (this.scheduler.executedEvents > EVENTS_PER_RUN_MAX) {
        throw new SafetyViolation(`more than ${EVENTS_PER_RUN_MAX} events: livelock?`);
      }
      await drainContinuations();
      if (this.scheduler.executedEvents % eventsPerEventLoopTurn === 0) await eventLoopTurn();
      if (this.failure !== undefined) throw this.failure;
      this.afterEvent();
    }
  }

  private trace(line: () => string): void {
    this.options.trace?.(`${this.scheduler.nowMs} ms: ${line()}`);
  }

  private afterEvent(): void {
    const state = this.controller.state;
    if (this.options.trace !== undefined && state !== this.tracedState) {
      this.tracedState = state;
      this.trace(
        () =>
          `controller: leader ${state.leader} e${state.leaderEpoch}/p${state.partitionEpoch} isr=[${state.isr}]`,
      );
    }
    for (const id of [...this.suspects]) {
      const replica = this.replicaById(id);
      const rejoined =
        replica.partition !== undefined &&
        state.isr.includes(id) &&
        this.controller.brokerEpoch(id) === replica.process?.brokerEpoch;
      if (rejoined) this.suspects.delete(id);
    }
    this.checker.checkAll(state, this.replicas);
    this.checkRecovered();
  }

  /** After the heal: the first acknowledged batch produced since then, once every replica holds it. */
  private checkRecovered(): void {
    const probe = this.probe;
    if (probe === undefined) return;
    if (this.replicas.every((replica) => replica.log.batchAt(probe.baseOffset)?.bytes.equals(probe.bytes))) {
      this.recoveredAtMs = this.scheduler.nowMs;
    }
  }

  private describe(): string {
    const state = this.controller.state;
    const replicas = this.replicas.map((replica) => {
      const partition = replica.partition;
      if (!replica.up) return `${replica.id}: down (leo ${replica.log.logEndOffset})`;
      if (partition === undefined) return `${replica.id}: starting`;
      return (
        `${replica.id}: ${partition.role} e${partition.leaderEpoch}/p${partition.partitionEpoch} ` +
        `hw=${partition.highWatermark} leo=${partition.logEndOffset} isr=[${partition.isr}]`
      );
    });
    return (
      `controller: leader ${state.leader} e${state.leaderEpoch}/p${state.partitionEpoch} isr=[${state.isr}]; ` +
      replicas.join('; ')
    );
  }

  private replicaById(id: number): SimReplica {
    const replica = this.replicas[id - 1];
    if (replica === undefined) throw new Error(`no replica ${id}`);
    return replica;
  }

  private every(intervalMs: number, run: () => void): void {
    this.scheduler.after(intervalMs, () => {
      run();
      this.every(intervalMs, run);
    });
  }

  // ---------------------------------------------------------------------------------------------------
  // Network: requests and their answers between the controller (0), the brokers and the producer

  private incarnationOf(nodeId: number): number {
    if (nodeId === CONTROLLER_ID || nodeId === this.producerId) return 0;
    return this.replicaById(nodeId).incarnation;
  }

  private isUp(nodeId: number): boolean {
    if (nodeId === CONTROLLER_ID || nodeId === this.producerId) return true;
    return this.replicaById(nodeId).up;
  }

  private send(from: number, to: number, body: Body): void {
    this.network.send(from, to, {
      from,
      fromIncarnation: this.incarnationOf(from),
      toIncarnation: this.incarnationOf(to),
      body,
    });
  }

  /** Node `from`'s way to call the others; a call unanswered after its timeout rejects. */
  private rpcFrom(from: number): SimRpc {
    return {
      call: (to, request, timeoutMs) =>
        new Promise<SimAnswer>((resolve, reject) => {
          const token = ++this.nextToken;
          const fromIncarnation = this.incarnationOf(from);
          const timeout = this.scheduler.after(timeoutMs, () => {
            this.pendingCalls.delete(token);
            // A crashed caller hears nothing more: its continuations are gone with it.
            if (this.incarnationOf(from) === fromIncarnation && this.isUp(from)) {
              reject(new Error(`no answer from ${to} in ${timeoutMs} ms`));
            }
          });
          this.pendingCalls.set(token, { resolve, timeout });
          this.send(from, to, { kind: 'request', token, request });
        }),
    };
  }

  private deliver(to: number, envelope: Envelope): void {
    const { from, body } = envelope;
    if (!this.isUp(from) || this.incarnationOf(from) !== envelope.fromIncarnation) return;
    if (!this.isUp(to) || this.incarnationOf(to) !== envelope.toIncarnation) return;
    if (body.kind === 'answer') {
      const pending = this.pendingCalls.get(body.token);
      if (pending === undefined) return;
      this.pendingCalls.delete(body.token);
      pending.timeout.cancel();
      pending.resolve(body.answer);
      return;
    }
    // One call, one execution, as over TCP: a copy the network duplicated is not served again.
    if (this.servedRequests.has(body.token)) return;
    this.servedRequests.add(body.token);
    const answer = (reply: SimAnswer | undefined): void => {
      if (reply === undefined || !this.isUp(to) || this.incarnationOf(to) !== envelope.toIncarnation) return;
      this.send(to, from, { kind: 'answer', token: body.token, answer: reply });
    };
    if (to === CONTROLLER_ID) {
      answer(this.serveController(from, body.request));
      return;
    }
    const process = this.replicaById(to).process;
    process?.serve(body.request).then(answer, (error: unknown) => {
      this.failure ??= error;
    });
  }

  private serveController(from: number, request: SimRequest): SimAnswer | undefined {
    const nowMs = this.scheduler.nowMs;
    const controller = this.controller;
    switch (request.kind) {
      case 'register':
        return { kind: 'register', ...controller.register(from, request.incarnation, nowMs) };
      case 'heartbeat':
        return {
          kind: 'heartbeat',
          errorCode: controller.heartbeat(from, request.brokerEpoch, request.appliedOffset, nowMs),
          image: controller.image,
          offset: controller.offset,
        };
      case 'alter-partition':
        return { kind: 'alter-partition', ...controller.alterPartition(request.request) };
      case 'metadata':
        return { kind: 'metadata', leader: controller.state.leader };
      default:
        return undefined;
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // Processes, the producer, faults, heal

  private startProcess(replica: SimReplica): void {
    this.trace(() => `${replica.id}: starts, leo ${replica.log.logEndOffset}`);
    const process = new SimBroker(
      replica.id,
      replica.incarnation,
      replica.disk,
      this.scheduler,
      this.rpcFrom(replica.id),
      CONTROLLER_ID,
      this.brokerEvents,
      this.options.parts,
    );
    replica.process = process;
    // The first incarnations are registered with the controller from the start.
    process.start(replica.incarnation === 0 ? this.controller.brokerEpoch(replica.id) : -1);
  }

  private refreshProducerMetadata(): void {
    this.rpcFrom(this.producerId)
      .call(CONTROLLER_ID, { kind: 'metadata' }, METADATA_REFRESH_MS)
      .then(
        (answer) => {
          if (answer.kind === 'metadata') this.producerLeader = answer.leader;
        },
        () => undefined,
      );
  }

  private scheduleProduce(): void {
    this.scheduler.after(this.random.nextInt(PRODUCE_INTERVAL_MS_MEAN * 2) + 1, () => {
      this.produce();
      this.scheduleProduce();
    });
  }

  private produce(): void {
    if (this.producerLeader < 0) return;
    const payload = `b${++this.producedSeq}`;
    const recordCount = this.random.between(1, RECORDS_PER_BATCH_MAX + 1);
    this.rpcFrom(this.producerId)
      .call(this.producerLeader, { kind: 'produce', payload, recordCount }, PRODUCE_ANSWER_TIMEOUT_MS)
      .then(
        (answer) => {
          if (answer.kind === 'produce' && answer.errorCode !== ErrorCode.NONE)
            this.refreshProducerMetadata();
        },
        () => undefined,
      );
  }

  private scheduleFault(): void {
    this.scheduler.after(this.faultRandom.between(FAULT_INTERVAL_MS_MIN, FAULT_INTERVAL_MS_MAX), () => {
      if (this.healedAtMs !== undefined) return;
      this.injectFault();
      this.scheduleFault();
    });
  }

  private injectFault(): void {
    const random = this.faultRandom;
    const choice = random.nextInt(6);
    if (choice === 0) {
      const leader = this.replicas.find((replica) => replica.partition?.role === 'leader');
      if (leader !== undefined) this.crashFor(leader);
    } else if (choice === 1) {
      this.crashFor(random.pick(this.replicas));
    } else if (choice === 2) {
      // Any split of the replicas, the controller and the producer.
      const groups: number[][] = [[], []];
      for (let id = CONTROLLER_ID; id <= this.producerId; id++) groups[random.nextInt(2)]!.push(id);
      this.partitionFor(groups);
    } else if (choice === 3) {
      const isolated = random.pick(this.replicas).id;
      const rest = [CONTROLLER_ID, this.producerId, ...this.replicas.map((replica) => replica.id)];
      this.partitionFor([[isolated], rest.filter((id) => id !== isolated)]);
    } else if (choice === 4) {
      this.network.faults = {
        dropProbability: random.nextFloat() * 0.2,
        duplicateProbability: random.nextFloat() * 0.1,
        delayMinMs: 1,
        delayMaxMs: random.between(2, 30),
        delaySpikeProbability: random.nextFloat() * 0.05,
        delaySpikeMaxMs: random.between(50, 300),
      };
    } else {
      this.network.faults = { ...HEALTHY_NETWORK };
    }
  }

  private partitionFor(groups: readonly (readonly number[])[]): void {
    this.trace(() => `network partition ${JSON.stringify(groups)}`);
    this.network.partition(groups);
    this.scheduler.after(this.faultRandom.nextInt(DOWNTIME_MS_MAX), () => {
      if (this.healedAtMs !== undefined) return;
      this.trace(() => 'network healed');
      this.network.heal();
    });
  }

  private crashFor(replica: SimReplica): void {
    if (!replica.up) return;
    this.crash(replica);
    this.scheduler.after(this.faultRandom.nextInt(DOWNTIME_MS_MAX), () => {
      if (!replica.up) this.startProcess(replica);
    });
  }

  /** The fault budget in the class comment. */
  private mayLoseData(replica: SimReplica): boolean {
    if (this.suspects.size > 0) return false;
    const state = this.controller.state;
    const ownHeartbeatMs = this.controller.lastHeartbeatMs(replica.id);
    return this.replicas.every(
      (other) =>
        other === replica ||
        (other.up &&
          this.controller.isActive(other.id) &&
          state.isr.includes(other.id) &&
          this.controller.lastHeartbeatMs(other.id) > ownHeartbeatMs),
    );
  }

  private crash(replica: SimReplica): void {
    this.crashes++;
    const leoBefore = replica.log.logEndOffset;
    if (this.mayLoseData(replica)) {
      this.lossyCrashes++;
      this.suspects.add(replica.id);
      this.lostBatches += replica.log.loseUnsyncedTail(
        this.faultRandom.nextInt(replica.log.unsyncedBatches + 1),
      );
    }
    this.trace(() => `${replica.id}: crashes, leo ${leoBefore} -> ${replica.log.logEndOffset}`);
    replica.process?.crash();
    replica.process = undefined;
    replica.incarnation++;
  }

  /** End of chaos: every replica up, no partition, no loss (delays and reordering stay). */
  private healEverything(): void {
    this.healedAtMs = this.scheduler.nowMs;
    this.healedAtSeq = this.producedSeq;
    this.network.heal();
    this.network.faults = { ...HEALTHY_NETWORK, delayMaxMs: 20 };
    for (const replica of this.replicas) if (!replica.up) this.startProcess(replica);
  }
}

function batchSeq(batch: SimBatch): number {
  return Number(batch.payload.slice(1));
}

export function runReplicationSimulation(options: ReplicationSimOptions): Promise<ReplicationSimResult> {
  return new ReplicationSimulation(options).run();
}

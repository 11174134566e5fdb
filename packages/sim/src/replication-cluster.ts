import {
  divergingEpoch,
  type EpochEndOffset,
  type EpochEntry,
  followerTruncationOffset,
  LeaderEpochCache,
  Partition,
  type PartitionRegistration,
  type PendingIsrChange,
} from '@gregor/replication';
import { HEALTHY_NETWORK, SimNetwork } from './network.js';
import { SeededRandom } from './prng.js';
import { SafetyViolation } from './raft-checker.js';
import { ReplicationChecker, type ReplicaView } from './replication-checker.js';
import {
  type AlterPartitionProposal,
  ControllerError,
  type HeartbeatOutcome,
  noLeader,
  SimPartitionController,
} from './replication-controller.js';
import { type SimBatch, SimReplicaLog } from './replication-log.js';
import { SimScheduler } from './scheduler.js';

export interface ReplicationSimOptions {
  readonly seed: number;
  /** Replication factor: 3 or 5. */
  readonly replicas: number;
  /** Simulated time with faults injected. */
  readonly chaosMs: number;
  /** After everything heals, an acknowledged batch must reach every replica within this bound. */
  readonly livenessBoundMs: number;
  /**
   * What a leader does when an AlterPartition call gets no answer in time. 'retry' (default): it
   * keeps the proposal pending (the high watermark keeps waiting for the proposed members) and sends
   * it again, as Kafka's AlterPartitionManager does; the controller answers a retry of a change it
   * already made with success. 'revert': the call counts as failed and the committed ISR is used
   * again, as Gregor's ReplicaManager does today; this loses acknowledged batches when the change
   * was in fact committed (seed 12 with 5 replicas shows it).
   */
  readonly alterPartitionNoAnswer?: 'retry' | 'revert';
  /** Receives a line per notable event (crashes, role changes, ISR changes, truncations, acks). */
  readonly trace?: (line: string) => void;
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

/** Kafka error codes the simulated protocol uses. */
const Errors = {
  NONE: 0,
  OFFSET_OUT_OF_RANGE: 1,
  CORRUPT_MESSAGE: 2,
  NOT_LEADER_OR_FOLLOWER: 6,
  REQUEST_TIMED_OUT: 7,
  NOT_ENOUGH_REPLICAS: 19,
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: 20,
  UNKNOWN_SERVER_ERROR: -1,
} as const;

// Kafka's timings scaled down about 50x, in the same proportions, so that a few simulated seconds
// hold many elections, ISR shrinks and expansions.
/** replica.lag.time.max.ms; the shrink check runs every half of it, as in Kafka. */
const REPLICA_LAG_TIME_MAX_MS = 400;
/** broker.session.timeout.ms / broker.heartbeat.interval.ms. */
const SESSION_TIMEOUT_MS = 600;
const HEARTBEAT_INTERVAL_MS = 100;
const CONTROLLER_TICK_MS = 50;
/** replica.fetch.wait.max.ms (the leader's long poll) and the follower's own deadline beyond it. */
const FETCH_WAIT_MAX_MS = 100;
const FETCH_TIMEOUT_MS = FETCH_WAIT_MAX_MS + 200;
const FETCH_BACKOFF_MS = 50;
/** Small, so that catching up takes several rounds. */
const FETCH_BATCHES_MAX = 4;
/** After a refused or failed AlterPartition (the broker's isrChangeRetryBackoffMs, scaled). */
const ISR_CHANGE_RETRY_BACKOFF_MS = 100;
const ALTER_PARTITION_TIMEOUT_MS = 300;
const PRODUCE_TIMEOUT_MS = 1000;
const MIN_INSYNC_REPLICAS = 2;
const PRODUCE_INTERVAL_MS_MEAN = 25;
const RECORDS_PER_BATCH_MAX = 3;
const METADATA_REFRESH_MS = 200;
/** replica.high.watermark.checkpoint.interval.ms, scaled. */
const HIGH_WATERMARK_CHECKPOINT_INTERVAL_MS = 100;
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

interface FetchRequest {
  readonly token: number;
  readonly currentLeaderEpoch: number;
  readonly fetchOffset: number;
  readonly lastFetchedEpoch: number;
}

/** What the follower's fetch asked, to drop a response the partition has moved past. */
interface FetchContext {
  readonly leaderId: number;
  readonly leaderEpoch: number;
  readonly fetchOffset: number;
}

interface FetchResult {
  readonly errorCode: number;
  readonly highWatermark: number;
  readonly logStartOffset: number;
  readonly logEndOffset: number;
  readonly divergingEpoch: EpochEndOffset | undefined;
  readonly batches: readonly SimBatch[];
}

type Body =
  | { readonly kind: 'heartbeat' }
  | { readonly kind: 'heartbeat-response'; readonly outcome: HeartbeatOutcome }
  | { readonly kind: 'fetch'; readonly request: FetchRequest }
  | { readonly kind: 'fetch-response'; readonly token: number; readonly result: FetchResult }
  | { readonly kind: 'alter-partition'; readonly token: number; readonly proposal: AlterPartitionProposal }
  | {
      readonly kind: 'alter-partition-response';
      readonly token: number;
      readonly errorCode: number;
      readonly state: PartitionRegistration;
    }
  | { readonly kind: 'produce'; readonly payload: string; readonly recordCount: number }
  | { readonly kind: 'produce-response'; readonly payload: string; readonly errorCode: number }
  | { readonly kind: 'metadata' }
  | { readonly kind: 'metadata-response'; readonly leader: number };

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

interface ParkedFetch {
  readonly from: number;
  readonly request: FetchRequest;
  readonly deadlineMs: number;
  readonly leaderEpoch: number;
  readonly highWatermark: number;
}

interface ProduceWaiter {
  readonly batch: SimBatch;
  readonly leaderEpoch: number;
  readonly deadlineMs: number;
}

/** One replica's broker: its durable state, and the volatile state of the running process. */
class SimReplica implements ReplicaView {
  up = true;
  incarnation = 0;
  readonly log = new SimReplicaLog();
  /** leader-epoch-checkpoint: written (atomically, fsynced) before any batch of a new epoch. */
  epochCheckpoint: readonly EpochEntry[] = [];
  /** replication-offset-checkpoint. */
  highWatermarkCheckpoint: number | undefined;
  // Volatile: gone with a crash.
  partition: Partition<SimReplicaLog> | undefined;
  brokerEpoch = -1;
  fetchInFlight: { token: number; context: FetchContext } | undefined;
  fetchScheduled = false;
  nextToken = 0;
  parkedFetches: ParkedFetch[] = [];
  produceWaiters: ProduceWaiter[] = [];
  isrRetryNotBeforeMs = 0;
  readonly alterInFlight = new Map<
    number,
    { partition: Partition<SimReplicaLog>; pending: PendingIsrChange }
  >();

  constructor(readonly id: number) {}
}

/**
 * One partition replicated over N simulated brokers running the broker's real replication core
 * (`Partition`, `LeaderEpochCache`, `divergingEpoch`, `followerTruncationOffset`), driven the way
 * `ReplicaManager` and `ReplicaFetcher` drive it, with a simulated controller, an acks=all producer,
 * crashes that lose unsynced data, partitions and message loss, delay and reordering. Every event is
 * followed by ReplicationChecker's checks; a violation throws with the seed in its message.
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
  private readonly controller: SimPartitionController;
  private readonly replicas: SimReplica[] = [];
  private readonly producerId: number;
  private readonly writebackIntervalMs: number;
  /** Replicas that lost data in a crash and have not rejoined the ISR since. */
  private readonly suspects = new Set<number>();
  private producerLeader = noLeader;
  private producedSeq = 0;
  private crashes = 0;
  private lossyCrashes = 0;
  private lostBatches = 0;
  private divergenceTruncations = 0;
  private isrChanges = 0;
  private healedAtMs: number | undefined;
  /** Batches produced after the final heal are numbered above this. */
  private healedAtSeq = Number.POSITIVE_INFINITY;
  private recoveredAtMs: number | undefined;
  private probe: SimBatch | undefined;
  private tracedState: PartitionRegistration | undefined;

  constructor(private readonly options: ReplicationSimOptions) {
    this.random = new SeededRandom(options.seed);
    this.faultRandom = this.random.fork();
    this.network = new SimNetwork(this.scheduler, this.random.fork(), (to, envelope) =>
      this.deliver(to, envelope),
    );
    const ids = Array.from({ length: options.replicas }, (_, index) => index + 1);
    for (const id of ids) this.replicas.push(new SimReplica(id));
    this.producerId = options.replicas + 1;
    this.controller = new SimPartitionController(
      ids,
      SESSION_TIMEOUT_MS,
      (options.alterPartitionNoAnswer ?? 'retry') === 'retry',
    );
    this.writebackIntervalMs = this.random.between(WRITEBACK_INTERVAL_MS_MIN, WRITEBACK_INTERVAL_MS_MAX);
  }

  run(): ReplicationSimResult {
    try {
      return this.runUnchecked();
    } catch (error) {
      if (error instanceof Error) {
        error.message =
          `seed ${this.options.seed}, ${this.options.replicas} replicas, at ${this.scheduler.nowMs} ms: ` +
          `${error.message}\n  ${this.describe()}`;
      }
      throw error;
    }
  }

  private runUnchecked(): ReplicationSimResult {
    for (const replica of this.replicas) this.startProcess(replica);
    this.every(CONTROLLER_TICK_MS, () => this.controller.tick(this.scheduler.nowMs));
    this.every(this.writebackIntervalMs, () => {
      for (const replica of this.replicas) if (replica.up) replica.log.writeBack();
    });
    this.every(METADATA_REFRESH_MS, () => this.send(this.producerId, CONTROLLER_ID, { kind: 'metadata' }));
    this.scheduleProduce();
    this.scheduleFault();
    const chaosEndMs = this.options.chaosMs;
    this.scheduler.at(chaosEndMs, () => this.healEverything());
    const deadlineMs = chaosEndMs + this.options.livenessBoundMs;
    while (this.recoveredAtMs === undefined && this.scheduler.runNext(deadlineMs)) {
      if (this.scheduler.executedEvents > EVENTS_PER_RUN_MAX) {
        throw new SafetyViolation(`more than ${EVENTS_PER_RUN_MAX} events: livelock?`);
      }
      this.afterEvent();
    }
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
      isrChanges: this.isrChanges,
      recoveryMs: this.recoveredAtMs - (this.healedAtMs ?? chaosEndMs),
    };
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
        replica.up &&
        replica.partition !== undefined &&
        state.isr.includes(id) &&
        this.controller.brokerEpoch(id) === replica.brokerEpoch;
      if (rejoined) this.suspects.delete(id);
    }
    this.checker.checkAll(state, this.replicas);
    this.checkRecovered();
  }

  /** After the heal: the first acknowledged batch produced since then, once every replica holds it. */
  private checkRecovered(): void {
    if (this.healedAtMs === undefined) return;
    if (this.probe === undefined) {
      this.probe = this.checker.acknowledgedBatches.find((batch) => batchSeq(batch) > this.healedAtSeq);
      if (this.probe === undefined) return;
    }
    const probe = this.probe;
    if (this.replicas.every((replica) => replica.log.batchAt(probe.baseOffset)?.payload === probe.payload)) {
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
  // Network

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

  private deliver(to: number, envelope: Envelope): void {
    const { from, body } = envelope;
    if (!this.isUp(from) || this.incarnationOf(from) !== envelope.fromIncarnation) return;
    if (!this.isUp(to) || this.incarnationOf(to) !== envelope.toIncarnation) return;
    const nowMs = this.scheduler.nowMs;
    switch (body.kind) {
      case 'heartbeat': {
        const outcome = this.controller.heartbeat(from, envelope.fromIncarnation, nowMs);
        this.send(CONTROLLER_ID, from, { kind: 'heartbeat-response', outcome });
        return;
      }
      case 'alter-partition': {
        const { errorCode, state } = this.controller.alterPartition(body.proposal);
        if (errorCode === ControllerError.NONE) this.isrChanges++;
        this.send(CONTROLLER_ID, from, {
          kind: 'alter-partition-response',
          token: body.token,
          errorCode,
          state,
        });
        return;
      }
      case 'metadata':
        this.send(CONTROLLER_ID, from, { kind: 'metadata-response', leader: this.controller.state.leader });
        return;
      case 'metadata-response':
        this.producerLeader = body.leader;
        return;
      case 'produce-response':
        if (body.errorCode !== Errors.NONE) this.send(this.producerId, CONTROLLER_ID, { kind: 'metadata' });
        return;
      case 'heartbeat-response':
        this.onHeartbeatResponse(this.replicaById(to), body.outcome);
        return;
      case 'fetch':
        this.serveFetch(this.replicaById(to), from, body.request, nowMs + FETCH_WAIT_MAX_MS);
        return;
      case 'fetch-response':
        this.onFetchResponse(this.replicaById(to), body.token, body.result);
        return;
      case 'alter-partition-response':
        this.onAlterPartitionResponse(this.replicaById(to), body.token, body.errorCode, body.state);
        return;
      case 'produce':
        this.onProduce(this.replicaById(to), body.payload, body.recordCount);
        return;
    }
  }

  // ---------------------------------------------------------------------------------------------------
  // A replica's process: start, metadata, role changes (ReplicaManager.transition)

  private startProcess(replica: SimReplica): void {
    this.trace(() => `${replica.id}: starts, leo ${replica.log.logEndOffset}`);
    replica.up = true;
    replica.partition = undefined;
    replica.brokerEpoch = -1;
    const incarnation = replica.incarnation;
    const heartbeat = (): void => {
      if (!replica.up || replica.incarnation !== incarnation) return;
      this.send(replica.id, CONTROLLER_ID, { kind: 'heartbeat' });
      this.scheduler.after(HEARTBEAT_INTERVAL_MS, heartbeat);
    };
    heartbeat();
    const checkpoint = (): void => {
      if (!replica.up || replica.incarnation !== incarnation) return;
      if (replica.partition !== undefined) replica.highWatermarkCheckpoint = replica.partition.highWatermark;
      this.scheduler.after(HIGH_WATERMARK_CHECKPOINT_INTERVAL_MS, checkpoint);
    };
    this.scheduler.after(HIGH_WATERMARK_CHECKPOINT_INTERVAL_MS, checkpoint);
    const shrinkCheck = (): void => {
      if (!replica.up || replica.incarnation !== incarnation) return;
      this.shrinkLaggingIsr(replica);
      this.scheduler.after(REPLICA_LAG_TIME_MAX_MS / 2, shrinkCheck);
    };
    this.scheduler.after(REPLICA_LAG_TIME_MAX_MS / 2, shrinkCheck);
  }

  private onHeartbeatResponse(replica: SimReplica, outcome: HeartbeatOutcome): void {
    if (outcome.kind !== 'accepted') return;
    replica.brokerEpoch = outcome.brokerEpoch;
    const state = outcome.state;
    const nowMs = this.scheduler.nowMs;
    if (replica.partition === undefined) {
      // The process opens its log: the checkpoints name what it had; the Partition clamps them.
      const partition = new Partition('sim', 'sim-topic-id', 0, replica.log, replica.id, state, {
        epochCache: new LeaderEpochCache(replica.epochCheckpoint),
        initialHighWatermark: replica.highWatermarkCheckpoint,
      });
      replica.partition = partition;
      this.transition(replica, partition, state, nowMs);
    } else if (replica.partition.isNewer(state)) {
      this.transition(replica, replica.partition, state, nowMs);
    }
  }

  private transition(
    replica: SimReplica,
    partition: Partition<SimReplicaLog>,
    state: PartitionRegistration,
    nowMs: number,
  ): void {
    this.trace(
      () =>
        `${replica.id}: ${state.leader === replica.id ? 'leads' : 'follows'} e${state.leaderEpoch}/p${state.partitionEpoch} at leo ${partition.logEndOffset} hw ${partition.highWatermark}`,
    );
    if (state.leader === replica.id) {
      if (partition.role !== 'leader' || partition.leaderEpoch !== state.leaderEpoch) {
        // The new epoch is durable before the first record of it can be appended.
        partition.epochCache.assign(state.leaderEpoch, partition.log.logEndOffset);
        this.persistEpochCache(replica, partition);
      }
      partition.makeLeader(state, nowMs);
    } else {
      partition.makeFollower(state);
    }
    this.persistEpochCache(replica, partition);
    this.notify(replica);
    this.maybeFetch(replica);
  }

  private persistEpochCache(replica: SimReplica, partition: Partition<SimReplicaLog>): void {
    replica.epochCheckpoint = [...partition.epochCache.entries];
  }

  private stillLeads(replica: SimReplica, partition: Partition<SimReplicaLog>, leaderEpoch: number): boolean {
    return (
      replica.partition === partition && partition.role === 'leader' && partition.leaderEpoch === leaderEpoch
    );
  }

  // ---------------------------------------------------------------------------------------------------
  // Leader side: produce (ReplicaManager.appendOne), follower fetches (readForFollower), ISR changes

  private onProduce(replica: SimReplica, payload: string, recordCount: number): void {
    const partition = replica.partition;
    const answer = (errorCode: number): void =>
      this.send(replica.id, this.producerId, { kind: 'produce-response', payload, errorCode });
    if (partition === undefined || partition.role !== 'leader') {
      answer(Errors.NOT_LEADER_OR_FOLLOWER);
      return;
    }
    const nowMs = this.scheduler.nowMs;
    if (partition.liveIsrSize(nowMs, REPLICA_LAG_TIME_MAX_MS) < MIN_INSYNC_REPLICAS) {
      answer(Errors.NOT_ENOUGH_REPLICAS);
      return;
    }
    const leaderEpoch = partition.leaderEpoch;
    const batch = replica.log.appendAsLeader(recordCount, leaderEpoch, payload);
    partition.onLeaderAppend();
    replica.produceWaiters.push({ batch, leaderEpoch, deadlineMs: nowMs + PRODUCE_TIMEOUT_MS });
    const incarnation = replica.incarnation;
    this.scheduler.after(PRODUCE_TIMEOUT_MS, () => {
      if (replica.incarnation === incarnation) this.notify(replica);
    });
    this.notify(replica);
  }

  /** DelayedOperations.notify: waiting produces and parked follower fetches re-check. */
  private notify(replica: SimReplica): void {
    if (!replica.up) return;
    this.completeProduceWaiters(replica);
    this.wakeParkedFetches(replica);
  }

  private completeProduceWaiters(replica: SimReplica): void {
    if (replica.produceWaiters.length === 0) return;
    const nowMs = this.scheduler.nowMs;
    const partition = replica.partition;
    const waiting: ProduceWaiter[] = [];
    for (const waiter of replica.produceWaiters) {
      const answer = (errorCode: number): void =>
        this.send(replica.id, this.producerId, {
          kind: 'produce-response',
          payload: waiter.batch.payload,
          errorCode,
        });
      if (partition === undefined || !this.stillLeads(replica, partition, waiter.leaderEpoch)) {
        answer(Errors.NOT_LEADER_OR_FOLLOWER);
      } else if (partition.highWatermark >= waiter.batch.lastOffset + 1) {
        if (partition.liveIsrSize(nowMs, REPLICA_LAG_TIME_MAX_MS) < MIN_INSYNC_REPLICAS) {
          answer(Errors.NOT_ENOUGH_REPLICAS_AFTER_APPEND);
        } else {
          this.checker.onAcknowledged(replica, waiter.batch);
          this.trace(
            () =>
              `${replica.id}: acknowledged [${waiter.batch.baseOffset}..${waiter.batch.lastOffset}] ${waiter.batch.payload}`,
          );
          answer(Errors.NONE);
        }
      } else if (nowMs >= waiter.deadlineMs) {
        answer(Errors.REQUEST_TIMED_OUT);
      } else {
        waiting.push(waiter);
      }
    }
    replica.produceWaiters = waiting;
  }

  private readForFollower(
    leader: SimReplica,
    from: number,
    request: FetchRequest,
  ): { result: FetchResult; watch: { leaderEpoch: number; highWatermark: number } | undefined } {
    const failed = (errorCode: number): FetchResult => ({
      errorCode,
      highWatermark: -1,
      logStartOffset: -1,
      logEndOffset: -1,
      divergingEpoch: undefined,
      batches: [],
    });
    const partition = leader.partition;
    if (partition === undefined || partition.role !== 'leader') {
      return { result: failed(Errors.NOT_LEADER_OR_FOLLOWER), watch: undefined };
    }
    if (!partition.replicas.includes(from) || from === leader.id) {
      return { result: failed(Errors.NOT_LEADER_OR_FOLLOWER), watch: undefined };
    }
    const epochError = partition.checkCurrentLeaderEpoch(request.currentLeaderEpoch);
    if (epochError !== Errors.NONE) return { result: failed(epochError), watch: undefined };
    const log = leader.log;
    const logEndOffset = log.logEndOffset;
    const diverging = divergingEpoch(
      partition.epochCache,
      logEndOffset,
      request.fetchOffset,
      request.lastFetchedEpoch,
    );
    const positions = {
      highWatermark: partition.highWatermark,
      logStartOffset: log.logStartOffset,
      logEndOffset,
    };
    if (diverging !== undefined) {
      // Nothing about the follower's LEO is learnt: the offsets it holds past the split are not ours.
      return {
        result: { ...positions, errorCode: Errors.NONE, divergingEpoch: diverging, batches: [] },
        watch: undefined,
      };
    }
    if (request.fetchOffset < log.logStartOffset || request.fetchOffset > logEndOffset) {
      return {
        result: {
          ...positions,
          errorCode: Errors.OFFSET_OUT_OF_RANGE,
          divergingEpoch: undefined,
          batches: [],
        },
        watch: undefined,
      };
    }
    const nowMs = this.scheduler.nowMs;
    partition.recordFollowerFetch(from, request.fetchOffset, nowMs);
    const expanded = partition.maybeExpandIsr(from);
    if (expanded !== undefined) this.proposeIsr(leader, partition, expanded);
    const highWatermark = partition.highWatermark;
    return {
      result: {
        errorCode: Errors.NONE,
        highWatermark,
        logStartOffset: log.logStartOffset,
        logEndOffset,
        divergingEpoch: undefined,
        batches: log.read(request.fetchOffset, FETCH_BATCHES_MAX),
      },
      watch: { leaderEpoch: partition.leaderEpoch, highWatermark },
    };
  }

  /** Answers at once when there are batches or news; otherwise parks the fetch (the long poll). */
  private serveFetch(leader: SimReplica, from: number, request: FetchRequest, deadlineMs: number): void {
    const { result, watch } = this.readForFollower(leader, from, request);
    // The read may have moved the high watermark: produces waiting on it complete now.
    this.completeProduceWaiters(leader);
    const answerNow =
      result.batches.length > 0 ||
      result.errorCode !== Errors.NONE ||
      result.divergingEpoch !== undefined ||
      watch === undefined ||
      this.scheduler.nowMs >= deadlineMs;
    if (answerNow) {
      this.send(leader.id, from, { kind: 'fetch-response', token: request.token, result });
      return;
    }
    leader.parkedFetches.push({ from, request, deadlineMs, ...watch });
    const incarnation = leader.incarnation;
    this.scheduler.at(deadlineMs, () => {
      if (leader.incarnation === incarnation) this.wakeParkedFetches(leader);
    });
  }

  private wakeParkedFetches(leader: SimReplica): void {
    if (leader.parkedFetches.length === 0) return;
    const nowMs = this.scheduler.nowMs;
    const partition = leader.partition;
    const parked = leader.parkedFetches;
    leader.parkedFetches = [];
    for (const fetch of parked) {
      const changed =
        partition === undefined ||
        !this.stillLeads(leader, partition, fetch.leaderEpoch) ||
        partition.logEndOffset > fetch.request.fetchOffset ||
        partition.highWatermark !== fetch.highWatermark;
      if (changed || nowMs >= fetch.deadlineMs)
        this.serveFetch(leader, fetch.from, fetch.request, fetch.deadlineMs);
      else leader.parkedFetches.push(fetch);
    }
  }

  /** ReplicaManager.proposeIsr: one AlterPartition in flight, a backoff after a failure. */
  private proposeIsr(
    replica: SimReplica,
    partition: Partition<SimReplicaLog>,
    newIsr: readonly number[],
  ): void {
    const nowMs = this.scheduler.nowMs;
    if (replica.isrRetryNotBeforeMs > nowMs) return;
    const pending = partition.beginIsrChange(newIsr);
    const token = ++replica.nextToken;
    replica.alterInFlight.set(token, { partition, pending });
    const proposal = {
      brokerId: replica.id,
      brokerEpoch: replica.brokerEpoch,
      leaderEpoch: partition.leaderEpoch,
      partitionEpoch: pending.partitionEpoch,
      newIsr,
    };
    const incarnation = replica.incarnation;
    const attempt = (): void => {
      this.send(replica.id, CONTROLLER_ID, { kind: 'alter-partition', token, proposal });
      this.scheduler.after(ALTER_PARTITION_TIMEOUT_MS, () => {
        if (replica.incarnation !== incarnation || !replica.alterInFlight.has(token)) return;
        if ((this.options.alterPartitionNoAnswer ?? 'retry') === 'retry') {
          // Still the proposal in flight (a new role or epoch would have dropped it): ask again.
          if (replica.partition === partition && partition.pendingIsrChange === pending) attempt();
          else replica.alterInFlight.delete(token);
          return;
        }
        replica.alterInFlight.delete(token);
        this.settleIsrChange(replica, partition, pending, Errors.UNKNOWN_SERVER_ERROR, -1);
      });
    };
    attempt();
  }

  private onAlterPartitionResponse(
    replica: SimReplica,
    token: number,
    errorCode: number,
    state: PartitionRegistration,
  ): void {
    const inFlight = replica.alterInFlight.get(token);
    if (inFlight === undefined) return;
    replica.alterInFlight.delete(token);
    this.settleIsrChange(replica, inFlight.partition, inFlight.pending, errorCode, state.partitionEpoch);
  }

  private settleIsrChange(
    replica: SimReplica,
    partition: Partition<SimReplicaLog>,
    pending: PendingIsrChange,
    errorCode: number,
    partitionEpoch: number,
  ): void {
    // Committed: it takes effect when the metadata carries it (makeLeader clears the pending change).
    if (errorCode === ControllerError.NONE && partitionEpoch > partition.partitionEpoch) return;
    if (errorCode !== ControllerError.NONE) {
      replica.isrRetryNotBeforeMs = this.scheduler.nowMs + ISR_CHANGE_RETRY_BACKOFF_MS;
    }
    if (partition.isrChangeFailed(pending)) this.notify(replica);
  }

  private shrinkLaggingIsr(replica: SimReplica): void {
    const partition = replica.partition;
    if (partition === undefined) return;
    const shrunk = partition.maybeShrinkIsr(this.scheduler.nowMs, REPLICA_LAG_TIME_MAX_MS);
    if (shrunk !== undefined) this.proposeIsr(replica, partition, shrunk);
  }

  // ---------------------------------------------------------------------------------------------------
  // Follower side: the fetcher loop and ReplicaManager.applyFollowerFetch

  private maybeFetch(replica: SimReplica): void {
    const partition = replica.partition;
    if (!replica.up || partition === undefined || partition.role !== 'follower') return;
    if (replica.fetchInFlight !== undefined || replica.fetchScheduled) return;
    const token = ++replica.nextToken;
    const context = {
      leaderId: partition.leaderId,
      leaderEpoch: partition.leaderEpoch,
      fetchOffset: partition.logEndOffset,
    };
    replica.fetchInFlight = { token, context };
    this.send(replica.id, partition.leaderId, {
      kind: 'fetch',
      request: {
        token,
        currentLeaderEpoch: partition.leaderEpoch,
        fetchOffset: partition.logEndOffset,
        lastFetchedEpoch: partition.epochCache.latestEpoch,
      },
    });
    const incarnation = replica.incarnation;
    this.scheduler.after(FETCH_TIMEOUT_MS, () => {
      if (replica.incarnation !== incarnation || replica.fetchInFlight?.token !== token) return;
      replica.fetchInFlight = undefined;
      this.fetchLater(replica, FETCH_BACKOFF_MS);
    });
  }

  private fetchLater(replica: SimReplica, delayMs: number): void {
    if (replica.fetchScheduled) return;
    replica.fetchScheduled = true;
    const incarnation = replica.incarnation;
    this.scheduler.after(delayMs, () => {
      if (replica.incarnation !== incarnation) return;
      replica.fetchScheduled = false;
      this.maybeFetch(replica);
    });
  }

  private onFetchResponse(replica: SimReplica, token: number, result: FetchResult): void {
    const inFlight = replica.fetchInFlight;
    if (inFlight?.token !== token) return;
    replica.fetchInFlight = undefined;
    const errorCode = this.applyFollowerFetch(replica, inFlight.context, result);
    if (errorCode === Errors.NONE) this.maybeFetch(replica);
    else this.fetchLater(replica, FETCH_BACKOFF_MS);
  }

  private applyFollowerFetch(replica: SimReplica, context: FetchContext, result: FetchResult): number {
    const partition = replica.partition;
    if (
      partition === undefined ||
      partition.role !== 'follower' ||
      partition.leaderId !== context.leaderId ||
      partition.leaderEpoch !== context.leaderEpoch ||
      partition.logEndOffset !== context.fetchOffset
    ) {
      return Errors.NONE;
    }
    const log = replica.log;
    if (result.errorCode === Errors.OFFSET_OUT_OF_RANGE) {
      this.trace(
        () =>
          `${replica.id}: offset out of range at ${log.logEndOffset} (leader ${result.logStartOffset}..${result.logEndOffset})`,
      );
      if (log.logEndOffset > result.logEndOffset) log.truncateTo(result.logEndOffset);
      else log.truncateFullyAndStartAt(result.logStartOffset);
      partition.onFollowerTruncation();
      this.persistEpochCache(replica, partition);
      this.divergenceTruncations++;
      return Errors.NONE;
    }
    if (result.errorCode !== Errors.NONE) return result.errorCode;
    if (result.divergingEpoch !== undefined) {
      const target = followerTruncationOffset(result.divergingEpoch, partition.epochCache, log.logEndOffset);
      this.trace(
        () =>
          `${replica.id}: diverging epoch ${JSON.stringify(result.divergingEpoch)}, truncates ${log.logEndOffset} -> ${target}`,
      );
      log.truncateTo(target);
      partition.onFollowerTruncation();
      this.persistEpochCache(replica, partition);
      this.divergenceTruncations++;
      return Errors.NONE;
    }
    if (result.batches.length > 0) {
      // The epochs are durable first: a crash after the append still knows them.
      for (const batch of result.batches) partition.assignEpochFromBatch(batch.leaderEpoch, batch.baseOffset);
      this.persistEpochCache(replica, partition);
      if (result.batches[0]!.baseOffset !== log.logEndOffset) return Errors.CORRUPT_MESSAGE;
      log.appendAsFollower(result.batches);
    }
    partition.updateFollowerHighWatermark(result.highWatermark);
    return Errors.NONE;
  }

  // ---------------------------------------------------------------------------------------------------
  // Producer, faults, heal

  private scheduleProduce(): void {
    this.scheduler.after(this.random.nextInt(PRODUCE_INTERVAL_MS_MEAN * 2) + 1, () => {
      this.produce();
      this.scheduleProduce();
    });
  }

  private produce(): void {
    if (this.producerLeader === noLeader) return;
    const payload = `b${++this.producedSeq}`;
    const recordCount = this.random.between(1, RECORDS_PER_BATCH_MAX + 1);
    this.send(this.producerId, this.producerLeader, { kind: 'produce', payload, recordCount });
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
    replica.up = false;
    replica.incarnation++;
    replica.partition = undefined;
    replica.fetchInFlight = undefined;
    replica.fetchScheduled = false;
    replica.parkedFetches = [];
    replica.produceWaiters = [];
    replica.alterInFlight.clear();
    replica.isrRetryNotBeforeMs = 0;
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

export function runReplicationSimulation(options: ReplicationSimOptions): ReplicationSimResult {
  return new ReplicationSimulation(options).run();
}

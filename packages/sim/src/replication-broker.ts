import type { Clock, TimerHandle, TimerScheduler } from '@gregor/ground';
import type { AlterPartitionRequest, MetadataImage, PartitionState } from '@gregor/metadata';
import { ErrorCode } from '@gregor/protocol';
import {
  type AlterPartitionProposal,
  applyFollowerFetch,
  awaitReplication,
  changeRole,
  checkEnoughReplicas,
  DelayedOperations,
  type EpochEntry,
  type FollowedPartition,
  type FollowerFetchContext,
  type FollowerFetchPosition,
  type FollowerLogWriter,
  type FollowerReplicas,
  IsrProposals,
  LeaderEpochCache,
  type LeaderLogRead,
  Partition,
  ReplicaFetcherManager,
  type ReplicaFetchHost,
  type ReplicaFetchPartitionResult,
  type ReplicaFetchRequest,
  type ReplicaFetchResponse,
  type ReplicaFetchTransport,
  type ReplicationLogger,
  type ReplicationWait,
  serveReplicaFetch,
  silentLogger,
} from '@gregor/replication';
import { simTopic } from './replication-controller.js';
import { SimAppendOffsetError, type SimBatch, SimReplicaLog } from './replication-log.js';
import type { SimScheduler } from './scheduler.js';

// Kafka's timings scaled down about 50x, in the same proportions, so that a few simulated seconds
// hold many elections, ISR shrinks and expansions.
/** replica.lag.time.max.ms; the shrink check runs every half of it, as in Kafka. */
export const REPLICA_LAG_TIME_MAX_MS = 400;
/** broker.heartbeat.interval.ms (broker.session.timeout.ms is the controller's). */
export const HEARTBEAT_INTERVAL_MS = 100;
/** replica.fetch.wait.max.ms (the leader's long poll) and the follower's own deadline beyond it. */
const FETCH_WAIT_MAX_MS = 100;
const FETCH_DEADLINE_MARGIN_MS = 200;
const FETCH_BACKOFF_MS = 50;
/** replica.fetch.max.bytes: small, so that catching up takes several rounds (2-4 batches). */
const FETCH_PARTITION_MAX_BYTES = 256;
const FETCH_RESPONSE_MAX_BYTES = 1024;
/** After a refused AlterPartition, and between resends of an unanswered one (isrChangeRetryBackoffMs, scaled). */
const ISR_CHANGE_RETRY_BACKOFF_MS = 100;
const ALTER_PARTITION_TIMEOUT_MS = 300;
const REGISTRATION_TIMEOUT_MS = 300;
const PRODUCE_TIMEOUT_MS = 1000;
const MIN_INSYNC_REPLICAS = 2;
/** replica.high.watermark.checkpoint.interval.ms, scaled. */
const HIGH_WATERMARK_CHECKPOINT_INTERVAL_MS = 100;

/**
 * Parts of a replica that a test may swap for a variant, each defaulting to production's. They
 * exist so that a test can put back a bug the simulation once found and show that it still finds
 * it (replication-bugs.sim.test.ts); every other run uses the defaults.
 */
export interface SimReplicaParts {
  /** The leader-epoch cache a process opens from its checkpoint; production's LeaderEpochCache. */
  readonly epochCache?: (entries: readonly EpochEntry[]) => LeaderEpochCache;
  /** IsrProposals' `outcomeUnknownErrors` (the AlterPartition answers resent, not taken as refusals). */
  readonly alterPartitionOutcomeUnknown?: ReadonlySet<number>;
}

/** What survives a crash of a replica's process: its log and its checkpoint files. */
export class SimReplicaDisk {
  readonly log = new SimReplicaLog();
  /** leader-epoch-checkpoint: written (atomically, fsynced) before any batch of a new epoch. */
  epochCheckpoint: readonly EpochEntry[] = [];
  /** replication-offset-checkpoint. */
  highWatermarkCheckpoint: number | undefined;
}

/** The messages between the simulated nodes (each an RPC request or its answer, matched by token). */
export type SimRequest =
  | { readonly kind: 'register'; readonly incarnation: number }
  | { readonly kind: 'heartbeat'; readonly brokerEpoch: number; readonly appliedOffset: number }
  | { readonly kind: 'fetch'; readonly request: ReplicaFetchRequest }
  | { readonly kind: 'alter-partition'; readonly request: AlterPartitionRequest }
  | { readonly kind: 'produce'; readonly payload: string; readonly recordCount: number }
  | { readonly kind: 'metadata' };

export type SimAnswer =
  | { readonly kind: 'register'; readonly errorCode: number; readonly brokerEpoch: number }
  | {
      readonly kind: 'heartbeat';
      readonly errorCode: number;
      readonly image: MetadataImage;
      readonly offset: number;
    }
  | { readonly kind: 'fetch'; readonly response: ReplicaFetchResponse }
  | { readonly kind: 'alter-partition'; readonly errorCode: number; readonly partitionEpoch: number }
  | { readonly kind: 'produce'; readonly errorCode: number }
  | { readonly kind: 'metadata'; readonly leader: number };

/** How a node talks to the others: requests that are answered, or time out. */
export interface SimRpc {
  call(to: number, request: SimRequest, timeoutMs: number): Promise<SimAnswer>;
}

/** What the simulation wants to hear about a replica's process. */
export interface SimBrokerEvents {
  onAcknowledged(broker: SimBroker, batch: SimBatch): void;
  onTruncated(broker: SimBroker, why: string): void;
  trace(line: () => string): void;
  /** A production module failed (an invariant, a checker violation inside a continuation). */
  fail(error: unknown): void;
}

/** This process's timers: they stop firing when it crashes, so nothing of it outlives the crash. */
class ProcessTimers implements TimerScheduler {
  alive = true;

  constructor(private readonly scheduler: SimScheduler) {}

  schedule(callback: () => void, delayMs: number): TimerHandle {
    return this.scheduler.after(delayMs, () => {
      if (this.alive) callback();
    });
  }
}

/**
 * One running incarnation of a replica's broker process, made of the production replication code
 * (@gregor/replication): the Partition and its role changes, the leader's serveReplicaFetch with
 * its long poll in a DelayedOperations, IsrProposals with resends, acks=all through
 * checkEnoughReplicas / awaitReplication, and the follower's ReplicaFetcherManager applying answers
 * through applyFollowerFetch. What it adds is what the broker's ReplicaManager adds around them, over
 * an in-memory log: the I/O, registration and heartbeats. Without real I/O every continuation runs
 * before the next simulated event (the simulation drains them), so the broker's per-partition
 * exclusive sections have nothing to order here.
 */
export class SimBroker implements FollowerReplicas, ReplicaFetchHost<Partition<SimReplicaLog>> {
  readonly clock: Clock;
  readonly delayedOperations: DelayedOperations;
  readonly isrProposals: IsrProposals;
  private readonly timers: ProcessTimers;
  private readonly fetchers: ReplicaFetcherManager;
  private readonly replicationWait: ReplicationWait<Partition<SimReplicaLog>>;
  private readonly logger: ReplicationLogger = silentLogger;
  brokerEpoch = -1;
  private heartbeating = false;
  private image: MetadataImage | undefined;
  private appliedOffset = -1;
  partition: Partition<SimReplicaLog> | undefined;

  constructor(
    readonly id: number,
    readonly incarnation: number,
    readonly disk: SimReplicaDisk,
    scheduler: SimScheduler,
    private readonly rpc: SimRpc,
    private readonly controllerId: number,
    private readonly events: SimBrokerEvents,
    private readonly parts: SimReplicaParts = {},
  ) {
    this.clock = { nowMs: () => scheduler.nowMs };
    this.timers = new ProcessTimers(scheduler);
    this.delayedOperations = new DelayedOperations(this.timers);
    this.isrProposals = new IsrProposals({
      alterPartition: (proposal) => this.alterPartition(proposal),
      clock: this.clock,
      timers: this.timers,
      logger: this.logger,
      replicaLagTimeMaxMs: REPLICA_LAG_TIME_MAX_MS,
      retryBackoffMs: ISR_CHANGE_RETRY_BACKOFF_MS,
      onHighWatermarkMayHaveMoved: (partition) => this.delayedOperations.notify(partition.key),
      ...(parts.alterPartitionOutcomeUnknown === undefined
        ? {}
        : { outcomeUnknownErrors: parts.alterPartitionOutcomeUnknown }),
    });
    this.fetchers = new ReplicaFetcherManager((leaderId) => this.fetchTransport(leaderId), {
      settings: {
        brokerId: id,
        maxWaitMs: FETCH_WAIT_MAX_MS,
        partitionMaxBytes: FETCH_PARTITION_MAX_BYTES,
        responseMaxBytes: FETCH_RESPONSE_MAX_BYTES,
        backoffMs: FETCH_BACKOFF_MS,
        deadlineMarginMs: FETCH_DEADLINE_MARGIN_MS,
      },
      replicas: this,
      brokerEpoch: () => this.brokerEpoch,
      clock: this.clock,
      timers: this.timers,
      logger: this.logger,
    });
    this.replicationWait = {
      clock: this.clock,
      delayedOperations: this.delayedOperations,
      replicaLagTimeMaxMs: REPLICA_LAG_TIME_MAX_MS,
      stillLeads: (partition, leaderEpoch) => this.stillLeads(partition, leaderEpoch),
      lostLeadershipError: () => ErrorCode.NOT_LEADER_OR_FOLLOWER,
    };
  }

  get alive(): boolean {
    return this.timers.alive;
  }

  /**
   * Starts the process: registration (unless `registeredEpoch` says the controller already holds
   * this incarnation's registration, as for the brokers a run starts with), then heartbeats, the ISR
   * check and the checkpoint timer.
   */
  start(registeredEpoch = -1): void {
    if (registeredEpoch >= 0) this.registered(registeredEpoch);
    else this.guard(this.register());
    this.every(REPLICA_LAG_TIME_MAX_MS / 2, () => {
      if (this.partition !== undefined)
        this.isrProposals.shrinkLaggingIsrs([this.partition], this.clock.nowMs());
    });
    this.every(HIGH_WATERMARK_CHECKPOINT_INTERVAL_MS, () => {
      if (this.partition !== undefined) this.disk.highWatermarkCheckpoint = this.partition.highWatermark;
    });
  }

  /** kill -9: every timer, parked request and RPC of this incarnation is gone with it. */
  crash(): void {
    this.timers.alive = false;
    this.isrProposals.close();
    void this.fetchers.close();
  }

  /** A request from another node. */
  async serve(request: SimRequest): Promise<SimAnswer | undefined> {
    if (request.kind === 'fetch') {
      return {
        kind: 'fetch',
        response: { errorCode: ErrorCode.NONE, partitions: await serveReplicaFetch(request.request, this) },
      };
    }
    if (request.kind === 'produce') {
      return { kind: 'produce', errorCode: await this.produce(request.payload, request.recordCount) };
    }
    return undefined;
  }

  // --- Registration, heartbeats, metadata ----------------------------------------------------------

  private async register(): Promise<void> {
    while (this.alive && this.brokerEpoch < 0) {
      const answer = await this.rpc
        .call(this.controllerId, { kind: 'register', incarnation: this.incarnation }, REGISTRATION_TIMEOUT_MS)
        .catch(() => undefined);
      if (answer?.kind === 'register' && answer.errorCode === ErrorCode.NONE) {
        this.registered(answer.brokerEpoch);
        return;
      }
      // Refused while the previous incarnation's session lives (DUPLICATE_BROKER_REGISTRATION), or lost.
      await new Promise<void>((resolve) => this.timers.schedule(resolve, HEARTBEAT_INTERVAL_MS));
    }
  }

  private registered(brokerEpoch: number): void {
    const first = this.brokerEpoch < 0 && !this.heartbeating;
    this.brokerEpoch = brokerEpoch;
    if (!first) return;
    this.heartbeating = true;
    this.every(HEARTBEAT_INTERVAL_MS, () => this.guard(this.heartbeat()), 0);
  }

  private async heartbeat(): Promise<void> {
    if (this.brokerEpoch < 0) return;
    const request = {
      kind: 'heartbeat',
      brokerEpoch: this.brokerEpoch,
      appliedOffset: this.appliedOffset,
    } as const;
    const answer = await this.rpc
      .call(this.controllerId, request, HEARTBEAT_INTERVAL_MS)
      .catch(() => undefined);
    if (answer?.kind !== 'heartbeat') return;
    if (
      answer.errorCode === ErrorCode.STALE_BROKER_EPOCH ||
      answer.errorCode === ErrorCode.BROKER_ID_NOT_REGISTERED
    ) {
      // As the broker's lifecycle: the controller no longer knows this registration (a resent or
      // duplicated registration replaced it), so register again.
      if (this.brokerEpoch !== request.brokerEpoch) return;
      this.brokerEpoch = -1;
      await this.register();
      return;
    }
    if (answer.errorCode !== ErrorCode.NONE) return;
    if (answer.offset <= this.appliedOffset) return;
    await this.applyImage(answer.image, answer.offset);
  }

  /** The broker's ReplicaManager.applyMetadata for the one partition. */
  private async applyImage(image: MetadataImage, offset: number): Promise<void> {
    this.image = image;
    this.appliedOffset = offset;
    const state = image.topic(simTopic)?.partitions[0];
    if (state === undefined) return;
    const nowMs = this.clock.nowMs();
    let partition = this.partition;
    if (partition === undefined) {
      // The process opens its log: the checkpoints name what it had; the Partition clamps them.
      const topicId = image.topic(simTopic)!.topicId;
      partition = new Partition(simTopic, topicId, 0, this.disk.log, this.id, state, {
        epochCache: (this.parts.epochCache ?? ((entries) => new LeaderEpochCache(entries)))(
          this.disk.epochCheckpoint,
        ),
        initialHighWatermark: this.disk.highWatermarkCheckpoint,
      });
      this.partition = partition;
      await this.transition(partition, state, nowMs);
    } else if (partition.isNewer(state)) {
      await this.transition(partition, state, nowMs);
    }
    this.fetchers.reconcile();
  }

  private async transition(
    partition: Partition<SimReplicaLog>,
    state: PartitionState,
    nowMs: number,
  ): Promise<void> {
    this.events.trace(
      () =>
        `${this.id}: ${state.leader === this.id ? 'leads' : 'follows'} e${state.leaderEpoch}/p${state.partitionEpoch} at leo ${partition.logEndOffset} hw ${partition.highWatermark}`,
    );
    await changeRole(partition, state, nowMs, async () => this.persistEpochCache(partition));
    this.delayedOperations.notify(partition.key);
  }

  private persistEpochCache(partition: Partition<SimReplicaLog>): void {
    this.disk.epochCheckpoint = [...partition.epochCache.entries];
  }

  private async alterPartition(
    proposal: AlterPartitionProposal,
  ): Promise<{ errorCode: number; partitionEpoch: number }> {
    const answer = await this.rpc.call(
      this.controllerId,
      { kind: 'alter-partition', request: { ...proposal, brokerId: this.id, brokerEpoch: this.brokerEpoch } },
      ALTER_PARTITION_TIMEOUT_MS,
    );
    if (answer.kind !== 'alter-partition') throw new Error(`unexpected answer ${answer.kind}`);
    return answer;
  }

  // --- Leader: produce, follower fetches (the ReplicaFetchHost) ------------------------------------

  /** The broker's LeaderAppends for one record set, acks=all. */
  private async produce(payload: string, recordCount: number): Promise<number> {
    const partition = this.partition;
    if (partition === undefined || partition.role !== 'leader') return ErrorCode.NOT_LEADER_OR_FOLLOWER;
    const nowMs = this.clock.nowMs();
    const enough = checkEnoughReplicas(partition, nowMs, REPLICA_LAG_TIME_MAX_MS, MIN_INSYNC_REPLICAS);
    if (enough.errorCode !== ErrorCode.NONE) return enough.errorCode;
    const leaderEpoch = partition.leaderEpoch;
    const batch = this.disk.log.appendAsLeader(payload, recordCount, leaderEpoch, nowMs);
    partition.onLeaderAppend();
    this.delayedOperations.notify(partition.key);
    const outcome = await awaitReplication(
      partition,
      leaderEpoch,
      batch.lastOffset + 1,
      PRODUCE_TIMEOUT_MS,
      MIN_INSYNC_REPLICAS,
      this.replicationWait,
    );
    if (outcome.errorCode === ErrorCode.NONE) this.events.onAcknowledged(this, batch);
    return outcome.errorCode;
  }

  registeredBrokerEpoch(brokerId: number): number | undefined {
    return this.image?.broker(brokerId)?.brokerEpoch;
  }

  leaderReplica(topic: string, index: number): Partition<SimReplicaLog> | number {
    if (topic !== simTopic || index !== 0) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    const partition = this.partition;
    if (!this.alive || partition === undefined || partition.role !== 'leader')
      return ErrorCode.NOT_LEADER_OR_FOLLOWER;
    return partition;
  }

  stillLeads(partition: Partition<SimReplicaLog>, leaderEpoch: number): boolean {
    return (
      this.alive &&
      this.partition === partition &&
      partition.role === 'leader' &&
      partition.leaderEpoch === leaderEpoch
    );
  }

  async read(
    partition: Partition<SimReplicaLog>,
    fetchOffset: number,
    maxBytes: number,
  ): Promise<LeaderLogRead> {
    const log = partition.log;
    const positions = { logStartOffset: log.logStartOffset, logEndOffset: log.logEndOffset };
    if (fetchOffset < log.logStartOffset || fetchOffset > log.logEndOffset) {
      return { errorCode: ErrorCode.OFFSET_OUT_OF_RANGE, ...positions };
    }
    return { errorCode: ErrorCode.NONE, records: log.read(fetchOffset, maxBytes), ...positions };
  }

  // --- Follower: the fetchers' view (the broker's FollowerReplicas) ---------------------------------

  followedPartitions(): FollowedPartition[] {
    const partition = this.partition;
    if (!this.alive || partition === undefined || partition.role !== 'follower') return [];
    return [
      { topic: simTopic, partition: 0, leaderId: partition.leaderId, leaderEpoch: partition.leaderEpoch },
    ];
  }

  followerFetchPosition(topic: string, index: number): FollowerFetchPosition | undefined {
    const partition = this.partition;
    if (topic !== simTopic || index !== 0 || partition === undefined || partition.role !== 'follower')
      return undefined;
    return {
      fetchOffset: partition.logEndOffset,
      lastFetchedEpoch: partition.epochCache.latestEpoch,
      logStartOffset: partition.logStartOffset,
      leaderEpoch: partition.leaderEpoch,
      leaderId: partition.leaderId,
    };
  }

  async applyFollowerFetch(
    context: FollowerFetchContext,
    result: ReplicaFetchPartitionResult,
  ): Promise<number> {
    const partition = this.partition;
    if (!this.alive || partition === undefined) return ErrorCode.NONE;
    const log = partition.log;
    const writer: FollowerLogWriter = {
      truncateTo: async (offset) => log.truncateTo(offset),
      truncateFullyAndStartAt: async (offset) => log.truncateFullyAndStartAt(offset),
      afterTruncation: async () => undefined,
      persistEpochCache: async () => this.persistEpochCache(partition),
      appendAsFollower: async (records) => log.appendAsFollower(records),
      incrementLogStartOffset: async (offset) => log.incrementLogStartOffset(offset),
    };
    try {
      const applied = await applyFollowerFetch(partition, context, result, writer);
      if (applied.kind === 'backOff') return applied.errorCode;
      if (applied.kind === 'truncated') this.events.onTruncated(this, applied.why);
      if (applied.kind === 'appended') this.delayedOperations.notify(partition.key);
      return ErrorCode.NONE;
    } catch (error) {
      // As the broker answers storage's UnexpectedAppendOffsetError.
      if (error instanceof SimAppendOffsetError) return ErrorCode.CORRUPT_MESSAGE;
      // Anything else is a bug: it fails the run (the fetcher loop would only log it).
      this.events.fail(error);
      return ErrorCode.UNKNOWN_SERVER_ERROR;
    }
  }

  /** The follower's way to `leaderId`: fetches over the simulated network. */
  private fetchTransport(leaderId: number): ReplicaFetchTransport {
    return {
      fetch: async (request, timeoutMs, signal) => {
        const call = this.rpc.call(leaderId, { kind: 'fetch', request }, timeoutMs);
        // An aborted fetch rejects at once; the leader's answer, when it comes, is dropped.
        const answer =
          signal === undefined
            ? await call
            : await new Promise<Awaited<typeof call>>((resolve, reject) => {
                const onAbort = () => reject(new Error('replica fetch aborted'));
                if (signal.aborted) onAbort();
                signal.addEventListener('abort', onAbort, { once: true });
                call.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
              });
        if (answer.kind !== 'fetch') throw new Error(`unexpected answer ${answer.kind}`);
        return answer.response;
      },
      close: () => undefined,
    };
  }

  // --- Helpers -------------------------------------------------------------------------------------

  private every(intervalMs: number, run: () => void, firstDelayMs = intervalMs): void {
    this.timers.schedule(() => {
      run();
      this.every(intervalMs, run);
    }, firstDelayMs);
  }

  /** An async task of this process: a failure inside it fails the simulation, not a lost promise. */
  private guard(task: Promise<unknown>): void {
    task.catch((error: unknown) => this.events.fail(error));
  }
}

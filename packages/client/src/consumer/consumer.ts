// kafkajs's Consumer: subscribe, run({ eachMessage | eachBatch }), commitOffsets, seek,
// pause/resume, stop, disconnect. A group member (eager rebalancing: every partition is given up,
// its offsets committed, before joining again) with a fetch loop: one Fetch per leader of the
// assigned, unpaused partitions, records handed on in offset order per partition, positions
// committed automatically (every autoCommitInterval ms or autoCommitThreshold records) or by hand.
// With `groupInstanceId` a static member (KIP-345): no LeaveGroup on stop, and a FENCED_INSTANCE_ID
// (another process took the instance id) crashes the consumer for good.

import {
  ApiKey,
  ErrorCode,
  earliestTimestamp,
  fetchTopicIdVersionMin,
  latestTimestamp,
  type ResponseBody,
  zeroUuid,
} from '@gregor/protocol';
import type { Cluster } from '../cluster.js';
import {
  KafkaJSError,
  KafkaJSFencedInstanceIdError,
  KafkaJSNonRetriableError,
  KafkaJSNumberOfRetriesExceeded,
  KafkaJSProtocolError,
} from '../errors.js';
import {
  createInstrumentation,
  type InstrumentationEmitter,
  type InstrumentationListener,
} from '../instrumentation.js';
import type { Logger } from '../logger.js';
import { retryDelayMs, sleep, withRetry } from '../retry.js';
import {
  type ConsumerAssigner,
  isCooperative,
  type PartitionAssigner,
  PartitionAssigners,
} from './assigners.js';
import { BatchQueue } from './batch-queue.js';
import { ConcurrencyLimit } from './concurrency-limit.js';
import type { MemberAssignment } from './consumer-protocol.js';
import { type FetchedMessage, fetchedRecords, nextFetchOffset } from './fetch-records.js';
import {
  closeSessionEpoch,
  FetchSessionHandler,
  type SessionFetch,
  type SessionPartition,
} from './fetch-session.js';
import { GroupMembership, rejoinErrors } from './group-membership.js';
import {
  type BatchProcessPayload,
  type ConsumerEventName,
  type ConsumerEventPayloads,
  consumerEvents,
} from './instrumentation.js';
import type { KafkaJSAssignerCreator } from './kafkajs-assigners.js';

export interface ConsumerConfig {
  readonly groupId: string;
  /**
   * Java's `group.instance.id` (not in kafkajs): a static member (KIP-345). A restart within
   * `sessionTimeout` takes the old assignment back without rebalancing the group; `stop()` and
   * `disconnect()` send no LeaveGroup, so the group waits for the session timeout.
   */
  readonly groupInstanceId?: string;
  /**
   * Ours (PartitionAssigners.*) and kafkajs-shaped ones: a function `({ cluster, groupId, logger })`
   * returning `{ name, version, protocol, assign }` (see kafkajs-assigners.ts). The group uses the
   * first one every member offers.
   */
  readonly partitionAssigners?: readonly (PartitionAssigner | KafkaJSAssignerCreator)[];
  readonly sessionTimeout?: number;
  readonly rebalanceTimeout?: number;
  readonly heartbeatInterval?: number;
  /**
   * A partition's share of a Fetch; by default the Fetch's `maxBytes` (as @platformatic/kafka), not
   * kafkajs's 1 MiB, which set it until 2026-12-07 and can be set here to have it back.
   */
  readonly maxBytesPerPartition?: number;
  readonly minBytes?: number;
  readonly maxBytes?: number;
  readonly maxWaitTimeInMs?: number;
  readonly allowAutoTopicCreation?: boolean;
  /** false (the default) reads committed records only (read_committed). */
  readonly readUncommitted?: boolean;
}

export interface KafkaMessage extends FetchedMessage {}

export interface EachMessagePayload {
  readonly topic: string;
  readonly partition: number;
  readonly message: KafkaMessage;
  heartbeat(): Promise<void>;
  pause(): () => void;
}

export interface Batch {
  readonly topic: string;
  readonly partition: number;
  readonly highWatermark: string;
  readonly messages: KafkaMessage[];
  isEmpty(): boolean;
  firstOffset(): string | null;
  lastOffset(): string;
  offsetLag(): string;
  offsetLagLow(): string;
}

export interface EachBatchPayload {
  readonly batch: Batch;
  resolveOffset(offset: string): void;
  heartbeat(): Promise<void>;
  pause(): () => void;
  commitOffsetsIfNecessary(): Promise<void>;
  uncommittedOffsets(): { topics: { topic: string; partitions: { partition: number; offset: string }[] }[] };
  isRunning(): boolean;
  isStale(): boolean;
}

export interface ConsumerRunConfig {
  readonly autoCommit?: boolean;
  readonly autoCommitInterval?: number | null;
  readonly autoCommitThreshold?: number | null;
  readonly eachBatchAutoResolve?: boolean;
  readonly eachMessage?: (payload: EachMessagePayload) => Promise<void>;
  readonly eachBatch?: (payload: EachBatchPayload) => Promise<void>;
  /**
   * How many partitions' batches are handed to eachMessage/eachBatch at once (kafkajs's option,
   * default 1). Each partition's records still come one batch at a time, in offset order.
   */
  readonly partitionsConsumedConcurrently?: number;
}

export interface TopicPartitionOffset {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

/** A seek to the first record at or after `timestamp` (ms since the epoch); past the last record, the end. */
export interface TopicPartitionTimestamp {
  readonly topic: string;
  readonly partition: number;
  readonly timestamp: number | string;
}

type SeekTarget = { readonly offset: bigint } | { readonly timestamp: bigint };

interface PartitionPosition {
  /** Next offset to fetch and hand on. */
  offset: bigint;
  /** Next offset to commit: past the last record handed on and resolved. */
  resolved: bigint;
  committed: bigint;
  highWatermark: bigint;
  /** Bumped when a seek or an offset reset moves the position: batches fetched before it are stale. */
  moves: number;
}

/** What `consumer.batches()` yields: one partition's records from one Fetch, in offset order. */
export interface ConsumerBatch {
  readonly topic: string;
  readonly partition: number;
  readonly messages: KafkaMessage[];
  /** The partition's high watermark when it was fetched. */
  readonly highWatermark: string;
  readonly firstOffset: () => string;
  readonly lastOffset: () => string;
  /** Records after this batch's last one, up to the high watermark. */
  readonly offsetLag: () => string;
}

export interface ConsumerBatchesConfig {
  /** Batches fetched and not taken by the loop yet, at most: the consumer fetches no more until one is. Default 4. */
  readonly maxBufferedBatches?: number;
  /** Commit what the loop is done with, every autoCommitInterval ms or autoCommitThreshold records (as run()). Default true. */
  readonly autoCommit?: boolean;
  readonly autoCommitInterval?: number | null;
  readonly autoCommitThreshold?: number | null;
}

type FetchResponse = ResponseBody<typeof ApiKey.Fetch>;
type FetchPartitions = readonly { topic: string; partition: number; offset: bigint }[];

/**
 * run()'s next Fetch to a leader, sent when the last one's answer came and before its records were
 * handed on, so that the broker reads and sends while eachMessage/eachBatch run. Its answer is used
 * only if the next round asks that leader for exactly these partitions at these offsets in the same
 * position epoch (else it is dropped and the round fetches again): one answer per leader at most
 * waits so, which bounds what is fetched ahead to one Fetch's maxBytes per leader.
 */
interface Prefetch {
  readonly epoch: number;
  readonly partitions: FetchPartitions;
  readonly startMs: number;
  /** The answer and when it came; undefined when the Fetch failed. */
  readonly answer: Promise<{ readonly response: FetchResponse; readonly endMs: number } | undefined>;
}

/** A batch waiting in consumer.batches()'s queue, with what marks it done once the loop is. */
interface QueuedBatch {
  readonly batch: ConsumerBatch;
  /** Its partition was revoked, sought or reset since it was fetched: it is not handed on. */
  readonly isStale: () => boolean;
  /** The loop is done with it: its offsets are the next commit's. */
  readonly resolve: () => void;
}

const defaultMaxBufferedBatches = 4;
/** A Fetch's maxBytes unless the config names one: kafkajs's 10 MiB (Java's fetch.max.bytes is 50 MiB). */
const defaultFetchMaxBytes = 10_485_760;

const key = (topic: string, partition: number) => `${topic}\u0000${partition}`;

/** Whether two Fetches ask for the same partitions at the same offsets, in the same order. */
function samePartitions(a: FetchPartitions, b: FetchPartitions): boolean {
  if (a.length !== b.length) return false;
  for (let index = 0; index < a.length; index++) {
    const x = a[index]!;
    const y = b[index]!;
    if (x.topic !== y.topic || x.partition !== y.partition || x.offset !== y.offset) return false;
  }
  return true;
}

/** How long stop() waits for a broker to close this consumer's fetch session. */
const fetchSessionCloseTimeoutMs = 5_000;

export class Consumer {
  private readonly membership: GroupMembership;
  private readonly assigners: readonly ConsumerAssigner[];
  private readonly subscriptions = new Map<string, { fromBeginning: boolean }>();
  private assignment: MemberAssignment = new Map();
  private readonly positions = new Map<string, PartitionPosition>();
  /** Seeks asked for before the partition was assigned, or to apply at the next fetch. */
  private readonly pendingSeeks = new Map<string, SeekTarget>();
  private readonly pausedPartitions = new Map<string, Set<number> | 'all'>();
  /** One incremental fetch session (KIP-227) per broker fetched from, by node id. */
  private readonly fetchSessions = new Map<number, FetchSessionHandler>();
  /** Whether each broker's session names topics by id (Fetch v13+). */
  private readonly fetchSessionsById = new Map<number, boolean>();
  /** run()'s Fetches sent ahead, by leader (see Prefetch). */
  private prefetches = new Map<number, Prefetch>();
  private running = false;
  private needsJoin = true;
  /** A join is under way: heartbeats would carry the old generation and ask for another rebalance. */
  private joining = false;
  /**
   * The coordinator said this member is out of its generation (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID):
   * the group may have given its partitions to others, who may have committed past this member's
   * positions. The next join gives them all up without committing (Java's onPartitionsLost), also
   * under cooperative rebalancing, and reads them again from the group's committed offsets.
   */
  private partitionsLost = false;
  private loop: Promise<void> | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private lastCommitMs = Date.now();
  private uncommittedCount = 0;
  private runConfig: ConsumerRunConfig = {};
  /** Set while consumer.batches() runs: the fetch loop hands batches to it instead of eachBatch. */
  private batchQueue: BatchQueue<QueuedBatch> | undefined;
  private readonly sessionTimeoutMs: number;
  private readonly heartbeatIntervalMs: number;
  /** Bumped by every rebalance and seek: a batch being handed on stops when its partition moved. */
  private positionEpoch = 0;
  /** Set once a fatal error (FENCED_INSTANCE_ID...) stopped the consumer; it stays stopped. */
  private crashError: Error | undefined;
  /** A restart after a retriable crash, waiting its retry time (kafkajs's restartOnFailure). */
  private restartTimer: NodeJS.Timeout | undefined;
  /** stop() or disconnect() was called: a crash's restart must not start the consumer again. */
  private stopRequested = false;
  /** kafkajs's event names, for `on()`. */
  readonly events = consumerEvents;

  constructor(
    private readonly cluster: Cluster,
    private readonly logger: Logger,
    private readonly config: ConsumerConfig,
    private readonly instrumentation: InstrumentationEmitter<ConsumerEventPayloads> = createInstrumentation<ConsumerEventPayloads>(
      consumerEvents,
      'consumer.events',
      logger,
    ),
  ) {
    if (!config.groupId) throw new KafkaJSError('a consumer needs a groupId');
    if (config.groupInstanceId !== undefined && config.groupInstanceId === '')
      throw new KafkaJSNonRetriableError('groupInstanceId must not be empty');
    this.sessionTimeoutMs = config.sessionTimeout ?? 30_000;
    this.heartbeatIntervalMs = config.heartbeatInterval ?? 3_000;
    const groupId = config.groupId;
    this.assigners = (config.partitionAssigners ?? [PartitionAssigners.roundRobin]).map((assigner) =>
      typeof assigner === 'function'
        ? assigner({
            cluster: {
              findTopicPartitionMetadata: (topic) => [...(cluster.topicMetadata(topic)?.partitions ?? [])],
            },
            groupId,
            logger: logger.namespace('assigner'),
          })
        : assigner,
    );
    this.membership = new GroupMembership(
      cluster,
      {
        groupId: config.groupId,
        groupInstanceId: config.groupInstanceId ?? null,
        sessionTimeoutMs: this.sessionTimeoutMs,
        rebalanceTimeoutMs: config.rebalanceTimeout ?? 60_000,
        assigners: this.assigners,
      },
      logger,
    );
  }

  async connect(): Promise<void> {
    await this.cluster.connect();
    this.instrumentation.emit(consumerEvents.CONNECT, undefined);
  }

  /** kafkajs's `consumer.on(consumer.events.X, listener)`; returns the listener's remover. */
  on<E extends ConsumerEventName>(
    eventName: E,
    listener: InstrumentationListener<ConsumerEventPayloads[E]>,
  ): () => void {
    return this.instrumentation.on(eventName, listener);
  }

  async subscribe(subscription: {
    readonly topic?: string;
    readonly topics?: readonly string[];
    readonly fromBeginning?: boolean;
  }): Promise<void> {
    if (this.running) throw new KafkaJSError('subscribe before run()');
    const topics = [
      ...(subscription.topics ?? []),
      ...(subscription.topic === undefined ? [] : [subscription.topic]),
    ];
    if (topics.length === 0) throw new KafkaJSError('subscribe needs a topic or topics');
    await this.cluster.ensureTopics(topics);
    for (const topic of topics)
      this.subscriptions.set(topic, { fromBeginning: subscription.fromBeginning ?? false });
  }

  /** Starts consuming; resolves once the loop runs (as kafkajs's does), not when it ends. */
  async run(config: ConsumerRunConfig): Promise<void> {
    if (this.crashError !== undefined) throw this.crashError;
    if (this.running) throw new KafkaJSError('the consumer is already running');
    if (config.eachMessage === undefined && config.eachBatch === undefined) {
      throw new KafkaJSError('run() needs eachMessage or eachBatch');
    }
    if (this.subscriptions.size === 0) throw new KafkaJSError('subscribe to a topic before run()');
    const concurrently = config.partitionsConsumedConcurrently ?? 1;
    if (!Number.isInteger(concurrently) || concurrently < 1) {
      throw new KafkaJSError(
        `partitionsConsumedConcurrently is a whole number of at least 1, not ${config.partitionsConsumedConcurrently}`,
      );
    }
    this.start(config);
  }

  private start(config: ConsumerRunConfig): void {
    this.stopRequested = false;
    this.partitionsLost = false;
    this.prefetches = new Map();
    this.runConfig = config;
    this.running = true;
    this.needsJoin = true;
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.heartbeatIntervalMs);
    this.loop = this.consumeLoop().catch((error: unknown) => {
      this.logger.error('consumer crashed', { error: (error as Error).message });
      this.running = false;
      this.batchQueue?.close(error as Error);
    });
  }

  /**
   * The lower-level streaming API: starts the consumer (as run() does) and yields each partition's
   * records of each Fetch, in offset order per partition. The loop's pace is the back-pressure: at
   * most `maxBufferedBatches` wait to be taken, and no Fetch goes out while they do. A batch's
   * offsets become committable once the loop asks for the next one (autoCommit commits them as
   * run() does; with `autoCommit: false`, commitOffsets()). It ends when stop() or disconnect() is
   * called; leaving the loop (break, throw) stops the consumer, the batch it was in not committed.
   */
  batches(config: ConsumerBatchesConfig = {}): AsyncIterableIterator<ConsumerBatch> {
    if (this.crashError !== undefined) throw this.crashError;
    if (this.running) throw new KafkaJSError('the consumer is already running');
    if (this.subscriptions.size === 0) throw new KafkaJSError('subscribe to a topic before batches()');
    const queue = new BatchQueue<QueuedBatch>(config.maxBufferedBatches ?? defaultMaxBufferedBatches);
    this.batchQueue = queue;
    this.start({
      autoCommit: config.autoCommit,
      autoCommitInterval: config.autoCommitInterval,
      autoCommitThreshold: config.autoCommitThreshold,
    });
    let current: QueuedBatch | undefined;
    // START_BATCH_PROCESS when a batch is yielded, END_BATCH_PROCESS when the loop asks for the next.
    let started: ReturnType<Consumer['startBatchProcess']>;
    const iterator: AsyncIterableIterator<ConsumerBatch> = {
      [Symbol.asyncIterator]: () => iterator,
      next: async () => {
        current?.resolve();
        current = undefined;
        this.endBatchProcess(started);
        started = undefined;
        for (;;) {
          const queued = await queue.shift().catch((error: unknown) => {
            throw this.crashError ?? error;
          });
          if (queued === undefined) {
            if (this.crashError !== undefined) throw this.crashError;
            return { done: true, value: undefined };
          }
          if (queued.isStale()) continue;
          current = queued;
          const { topic, partition, highWatermark, messages } = queued.batch;
          started = this.startMessagesBatch(topic, partition, BigInt(highWatermark), messages);
          return { done: false, value: queued.batch };
        }
      },
      return: async () => {
        current = undefined;
        started = undefined;
        if (this.batchQueue === queue) await this.stop();
        return { done: true, value: undefined };
      },
    };
    return iterator;
  }

  private async heartbeat(): Promise<void> {
    if (!this.running || this.needsJoin || this.joining || this.membership.generationId < 0) return;
    const memberId = this.membership.memberId;
    const groupGenerationId = this.membership.generationId;
    try {
      const code = await this.membership.heartbeat();
      // An answer to a heartbeat of a generation this member has left since (a join began or ended
      // while it was out) says nothing about the current one, as in Java's consumer: acting on it
      // would start a needless rebalance, or drop partitions of the new generation as lost.
      if (
        this.joining ||
        this.membership.memberId !== memberId ||
        this.membership.generationId !== groupGenerationId
      ) {
        return;
      }
      if (code === ErrorCode.NONE) {
        this.instrumentation.emit(consumerEvents.HEARTBEAT, {
          groupId: this.config.groupId,
          memberId,
          groupGenerationId,
        });
        return;
      }
      if (code === ErrorCode.FENCED_INSTANCE_ID) {
        this.crash(this.membership.protocolError(code, `heartbeat to ${this.config.groupId}`));
        return;
      }
      if (rejoinErrors.has(code)) {
        this.logger.info('rebalance', {
          groupId: this.config.groupId,
          reason: new KafkaJSProtocolError(code).type,
        });
        this.rebalancing(code);
        if (code === ErrorCode.UNKNOWN_MEMBER_ID) this.membership.memberId = '';
        this.outOfGeneration(code);
        this.needsJoin = true;
      }
    } catch (error) {
      this.logger.debug('heartbeat failed', { error: (error as Error).message });
    }
  }

  /** ILLEGAL_GENERATION or UNKNOWN_MEMBER_ID: this member's partitions are lost (see partitionsLost). */
  private outOfGeneration(code: number): void {
    if (code === ErrorCode.ILLEGAL_GENERATION || code === ErrorCode.UNKNOWN_MEMBER_ID)
      this.partitionsLost = true;
  }

  /** kafkajs's REBALANCING: the coordinator said the group is rebalancing (or moved past this generation). */
  private rebalancing(code: number): void {
    if (code !== ErrorCode.REBALANCE_IN_PROGRESS && code !== ErrorCode.ILLEGAL_GENERATION) return;
    this.instrumentation.emit(consumerEvents.REBALANCING, {
      groupId: this.config.groupId,
      memberId: this.membership.memberId,
    });
  }

  private async consumeLoop(): Promise<void> {
    let failures = 0;
    /** Failures in a row other than rebalances: past retry.retries the consumer crashes. */
    let unrecovered = 0;
    while (this.running) {
      try {
        if (this.needsJoin) await this.rejoin();
        await this.fetchOnce();
        await this.commitIfNecessary();
        failures = 0;
        unrecovered = 0;
      } catch (error) {
        if (!this.running) return;
        if (error instanceof KafkaJSFencedInstanceIdError || error instanceof KafkaJSNonRetriableError) {
          this.crash(error);
          return;
        }
        failures++;
        if (error instanceof KafkaJSProtocolError && rejoinErrors.has(error.code)) {
          // A rebalance is no failure to give up on: the member joins again (as kafkajs's runner).
          this.rebalancing(error.code);
          this.outOfGeneration(error.code);
          this.needsJoin = true;
        } else if (++unrecovered > this.cluster.retry.retries) {
          // As kafkajs's runner: its retries spent, the consumer crashes, and may start again.
          void this.crashRetriable(new KafkaJSNumberOfRetriesExceeded(error, unrecovered - 1));
          return;
        }
        this.logger.warn('consume loop error', { error: (error as Error).message });
        await sleep(retryDelayMs(this.cluster.retry, Math.min(failures, 5)));
      }
    }
  }

  /**
   * kafkajs's crash of a running consumer on a retriable error (its retries spent): it stops
   * (commits what it processed, leaves the group), asks `retry.restartOnFailure`, emits CRASH with
   * the answer and starts again after the retry time when it is yes. Under consumer.batches() the
   * reader's loop ends with the error instead (nothing would read a restarted loop).
   */
  private async crashRetriable(error: Error): Promise<void> {
    if (this.batchQueue !== undefined) {
      this.crash(error);
      return;
    }
    this.logger.error('consumer crashed', { groupId: this.config.groupId, error: error.message });
    await this.halt();
    const restartOnFailure = this.cluster.retry.restartOnFailure;
    const restart =
      restartOnFailure === undefined
        ? true
        : await restartOnFailure(error).catch((callbackError: unknown) => {
            this.logger.error(
              'Caught error when invoking user-provided "restartOnFailure" callback. Defaulting to restarting.',
              { error: (callbackError as Error).message, cause: error.message, groupId: this.config.groupId },
            );
            return true;
          });
    this.instrumentation.emit(consumerEvents.CRASH, { error, groupId: this.config.groupId, restart });
    if (!restart) {
      this.crashError = error;
      return;
    }
    if (this.stopRequested) return;
    const retryTimeMs = this.cluster.retry.initialRetryTime;
    this.logger.error(`Restarting the consumer in ${retryTimeMs}ms`, { groupId: this.config.groupId });
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.stopRequested && !this.running) this.start(this.runConfig);
    }, retryTimeMs);
  }

  /**
   * Stops for good after a fatal error (non-retriable, as FENCED_INSTANCE_ID): no more fetches,
   * heartbeats or commits (a fenced member's partitions belong to the process that fenced it), CRASH
   * emitted with `restart: false`, as kafkajs does for an error that is not retriable.
   */
  private crash(error: Error): void {
    if (this.crashError !== undefined) return;
    this.crashError = error;
    this.running = false;
    this.batchQueue?.close(error);
    if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer);
    this.positionEpoch++;
    this.assignment = new Map();
    this.positions.clear();
    this.membership.forget();
    this.logger.error('consumer crashed', { groupId: this.config.groupId, error: error.message });
    this.instrumentation.emit(consumerEvents.CRASH, { error, groupId: this.config.groupId, restart: false });
  }

  /** Cooperative rebalancing: every assignor this member offers is cooperative (as in Java). */
  private get cooperative(): boolean {
    return this.assigners.every(isCooperative);
  }

  private async rejoin(): Promise<void> {
    // What this member processed is committed before the group may move its partitions (retried
    // while the coordinator moves; see GroupMembership.commit). Not once the member is out of its
    // generation: the coordinator would refuse it, and the partitions may be others' by now.
    if (!this.partitionsLost && this.assignment.size > 0 && this.membership.generationId >= 0) {
      await this.commitResolved().catch((error: unknown) => {
        if (error instanceof KafkaJSProtocolError) this.outOfGeneration(error.code);
        this.logger.warn('commit before rebalance failed', { error: (error as Error).message });
      });
    }
    const cooperative = this.cooperative;
    if (!cooperative || this.partitionsLost) {
      // Eager: every partition is given up before joining. Lost: given up without a commit, and
      // not claimed as owned in the join (their positions may be behind the group's commits).
      if (this.partitionsLost && this.assignment.size > 0)
        this.logger.info('partitions lost', { groupId: this.config.groupId });
      this.partitionsLost = false;
      this.positionEpoch++;
      this.assignment = new Map();
      this.positions.clear();
    }
    const owned = this.assignment;
    this.needsJoin = false;
    this.joining = true;
    const joinStartMs = Date.now();
    let assignment: MemberAssignment;
    try {
      assignment = await this.membership.join([...this.subscriptions.keys()], owned);
    } catch (error) {
      // Out of the group: nothing is owned any more, whatever the protocol, and the next round
      // joins again (without this a failed join left the member outside the group for good).
      this.needsJoin = true;
      this.positionEpoch++;
      this.assignment = new Map();
      this.positions.clear();
      throw error;
    } finally {
      this.joining = false;
    }
    assignment = this.withoutUnsubscribedTopics(assignment);
    const has = (map: MemberAssignment, topic: string, partition: number) =>
      map.get(topic)?.includes(partition) ?? false;
    const revoked: [string, number][] = [];
    for (const [topic, partitions] of owned) {
      for (const partition of partitions)
        if (!has(assignment, topic, partition)) revoked.push([topic, partition]);
    }
    if (revoked.length > 0) {
      // Cooperative: give up only what moves; the others keep their positions and keep being read.
      this.positionEpoch++;
      for (const [topic, partition] of revoked) this.positions.delete(key(topic, partition));
      this.logger.info('partitions revoked', { groupId: this.config.groupId, revoked });
    }
    const added = new Map<string, number[]>();
    for (const [topic, partitions] of assignment) {
      const fresh = partitions.filter((partition) => !has(owned, topic, partition));
      if (fresh.length > 0) added.set(topic, fresh);
    }
    try {
      await this.positionsOf(added);
    } catch (error) {
      // The assignment came without the offsets to read it from (retries spent): join again rather
      // than hold partitions nobody reads until the next rebalance. What it keeps (cooperative)
      // stays read meanwhile.
      for (const [topic, partitions] of added)
        for (const partition of partitions) this.positions.delete(key(topic, partition));
      const kept = new Map<string, number[]>();
      for (const [topic, partitions] of owned) {
        const still = partitions.filter((partition) => has(assignment, topic, partition));
        if (still.length > 0) kept.set(topic, still);
      }
      this.assignment = kept;
      this.needsJoin = true;
      throw error;
    }
    this.assignment = assignment;
    this.lastCommitMs = Date.now();
    this.instrumentation.emit(consumerEvents.GROUP_JOIN, {
      duration: Date.now() - joinStartMs,
      groupId: this.config.groupId,
      isLeader: this.membership.isLeader,
      leaderId: this.membership.leaderId,
      groupProtocol: this.membership.protocolName,
      memberId: this.membership.memberId,
      memberAssignment: Object.fromEntries(
        [...assignment].map(([topic, partitions]) => [topic, [...partitions]]),
      ),
      generationId: this.membership.generationId,
      groupInstanceId: this.membership.groupInstanceId,
    });
    // What was given up may be waiting for this member to let go: a second round hands it on.
    if (cooperative && revoked.length > 0) this.needsJoin = true;
  }

  /** Positions of newly assigned partitions: the group's committed offsets, else the reset offset. */
  private async positionsOf(added: MemberAssignment): Promise<void> {
    await this.cluster.ensureTopics([...added.keys()]);
    const committed =
      added.size > 0 ? await this.membership.committed(added) : new Map<string, Map<number, bigint>>();
    for (const [topic, partitions] of added) {
      const resetNeeded: number[] = [];
      for (const partition of partitions) {
        const offset = committed.get(topic)?.get(partition) ?? -1n;
        if (offset < 0n) resetNeeded.push(partition);
        else
          this.positions.set(key(topic, partition), {
            offset,
            resolved: offset,
            committed: offset,
            highWatermark: -1n,
            moves: 0,
          });
      }
      if (resetNeeded.length > 0) {
        const reset = await this.listOffsets(topic, resetNeeded, this.resetTimestamp(topic));
        for (const [partition, offset] of reset) {
          this.positions.set(key(topic, partition), {
            offset,
            resolved: offset,
            committed: -1n,
            highWatermark: -1n,
            moves: 0,
          });
        }
      }
    }
  }

  /**
   * As kafkajs: partitions of topics this member did not subscribe to (a leader's assignor gave
   * them) are not read; RECEIVED_UNSUBSCRIBED_TOPICS says so.
   */
  private withoutUnsubscribedTopics(assignment: MemberAssignment): MemberAssignment {
    const assignedTopics = [...assignment.keys()];
    const topicsNotSubscribed = assignedTopics.filter((topic) => !this.subscriptions.has(topic));
    if (topicsNotSubscribed.length === 0) return assignment;
    const payload = {
      groupId: this.config.groupId,
      generationId: this.membership.generationId,
      memberId: this.membership.memberId,
      assignedTopics,
      topicsSubscribed: [...this.subscriptions.keys()],
      topicsNotSubscribed,
    };
    this.instrumentation.emit(consumerEvents.RECEIVED_UNSUBSCRIBED_TOPICS, payload);
    this.logger.warn('Consumer group received unsubscribed topics', payload);
    return new Map([...assignment].filter(([topic]) => this.subscriptions.has(topic)));
  }

  private resetTimestamp(topic: string): bigint {
    return this.subscriptions.get(topic)?.fromBeginning ? earliestTimestamp : latestTimestamp;
  }

  private async listOffsets(
    topic: string,
    partitions: readonly number[],
    timestamp: bigint,
  ): Promise<Map<number, bigint>> {
    return withRetry(
      this.cluster.retry,
      async () => {
        const byLeader = new Map<number, number[]>();
        for (const partition of partitions) {
          const leader = this.cluster.leaderFor(topic, partition);
          if (leader < 0)
            throw new KafkaJSProtocolError(ErrorCode.LEADER_NOT_AVAILABLE, `${topic}[${partition}]`);
          byLeader.set(leader, [...(byLeader.get(leader) ?? []), partition]);
        }
        const result = new Map<number, bigint>();
        for (const [leader, leaderPartitions] of byLeader) {
          const response = await this.cluster.send(leader, ApiKey.ListOffsets, {
            replicaId: -1,
            isolationLevel: this.config.readUncommitted ? 0 : 1,
            topics: [
              {
                name: topic,
                partitions: leaderPartitions.map((partitionIndex) => ({
                  partitionIndex,
                  currentLeaderEpoch: -1,
                  timestamp,
                  maxNumOffsets: 1,
                })),
              },
            ],
          });
          for (const partition of response.topics[0]?.partitions ?? []) {
            if (partition.errorCode !== 0) throw new KafkaJSProtocolError(partition.errorCode, topic);
            result.set(partition.partitionIndex, partition.offset);
          }
        }
        return result;
      },
      () => this.cluster.refreshMetadata([topic]),
    );
  }

  private isPaused(topic: string, partition: number): boolean {
    const paused = this.pausedPartitions.get(topic);
    return paused === 'all' || (paused?.has(partition) ?? false);
  }

  private async applyPendingSeeks(): Promise<void> {
    for (const [partitionKey, seek] of this.pendingSeeks) {
      const position = this.positions.get(partitionKey);
      if (position === undefined) continue;
      this.pendingSeeks.delete(partitionKey);
      const [topic, partitionText] = partitionKey.split('\u0000') as [string, string];
      const partition = Number(partitionText);
      const lookUp = async (timestamp: bigint) =>
        (await this.listOffsets(topic, [partition], timestamp)).get(partition)!;
      let target: bigint;
      if ('timestamp' in seek) {
        // ListOffsets with a timestamp: -1 when every record is older, then the end, as Kafka's
        // offsetsForTimes leaves the caller to do.
        target = await lookUp(seek.timestamp);
        if (target < 0n) target = await lookUp(latestTimestamp);
      } else if (seek.offset < 0n) {
        target = await lookUp(seek.offset === -2n ? earliestTimestamp : latestTimestamp);
      } else {
        target = seek.offset;
      }
      position.offset = target;
      position.resolved = target;
      position.moves++;
    }
  }

  private async fetchOnce(): Promise<void> {
    await this.applyPendingSeeks();
    // Each leader's Fetch sent ahead is this round's answer if it asked what this round asks; the
    // others are waited for (one Fetch at a time per fetch session) and dropped.
    const prefetches = this.prefetches;
    this.prefetches = new Map();
    const byLeader = new Map<number, { topic: string; partition: number; offset: bigint }[]>();
    for (const [topic, partitions] of this.assignment) {
      for (const partition of partitions) {
        if (this.isPaused(topic, partition)) continue;
        const position = this.positions.get(key(topic, partition));
        if (position === undefined) continue;
        const leader = this.cluster.leaderFor(topic, partition);
        if (leader < 0) continue;
        byLeader.set(leader, [
          ...(byLeader.get(leader) ?? []),
          { topic, partition, offset: position.offset },
        ]);
      }
    }
    const dropped = [...prefetches].filter(([leader]) => !byLeader.has(leader));
    if (dropped.length > 0) await Promise.all(dropped.map(([, prefetch]) => prefetch.answer));
    if (byLeader.size === 0) {
      await sleep(Math.min(this.config.maxWaitTimeInMs ?? 5_000, 100));
      if (this.assignment.size > 0) await this.cluster.refreshMetadata().catch(() => undefined);
      return;
    }
    const epoch = this.positionEpoch;
    // The leaders are fetched from together; what they answer is handed on through one limit:
    // partitionsConsumedConcurrently partitions at a time (kafkajs's default of 1 is one
    // eachMessage/eachBatch call at a time, which code such as a transactional read-process-write
    // loop, one transaction at a time per producer, relies on). A partition appears once in a
    // round and the next round waits for this one, so its batches stay in offset order.
    // consumer.batches() takes them one at a time into its queue.
    const limit = new ConcurrencyLimit(
      this.batchQueue === undefined ? (this.runConfig.partitionsConsumedConcurrently ?? 1) : 1,
    );
    let failed = false;
    const settled = await Promise.allSettled(
      [...byLeader].map(async ([leader, partitions]) => {
        let startFetchMs: number;
        let endFetchMs: number | undefined;
        let response: FetchResponse | undefined;
        const prefetch = prefetches.get(leader);
        const prefetched = prefetch === undefined ? undefined : await prefetch.answer;
        if (
          prefetched !== undefined &&
          prefetch!.epoch === epoch &&
          samePartitions(prefetch!.partitions, partitions)
        ) {
          startFetchMs = prefetch!.startMs;
          endFetchMs = prefetched.endMs;
          response = prefetched.response;
        } else {
          startFetchMs = Date.now();
          if (this.instrumentation.listening(consumerEvents.FETCH_START))
            this.instrumentation.emit(consumerEvents.FETCH_START, { nodeId: leader });
          response = await this.fetchFrom(leader, partitions).catch((error: unknown) => {
            this.logger.debug('fetch failed', { leader, error: (error as Error).message });
            void this.cluster.refreshMetadata().catch(() => undefined);
            return undefined;
          });
        }
        if (response === undefined) return;
        this.prefetch(leader, partitions, response, epoch);
        if (this.instrumentation.listening(consumerEvents.FETCH)) {
          let numberOfBatches = 0;
          for (const topic of response.responses) {
            for (const partition of topic.partitions)
              if (partition.records !== null && partition.records.length > 0) numberOfBatches++;
          }
          this.instrumentation.emit(consumerEvents.FETCH, {
            numberOfBatches,
            duration: (endFetchMs ?? Date.now()) - startFetchMs,
            nodeId: leader,
          });
        }
        // Every partition is handed on, or skipped, before the round ends, so no handler of this
        // round still runs when the next fetches. After a failure (an eachMessage that threw) the
        // ones still waiting are skipped: the loop backs off and fetches them again.
        const handed = await Promise.allSettled(
          response.responses.flatMap((topic) =>
            topic.partitions.map((partition) =>
              limit.run(async () => {
                if (failed || !this.running || this.needsJoin || epoch !== this.positionEpoch) return;
                try {
                  await this.handlePartition(topic.topic, partition, epoch);
                } catch (error) {
                  failed = true;
                  throw error;
                }
              }),
            ),
          ),
        );
        const refused = handed.find((outcome) => outcome.status === 'rejected');
        if (refused !== undefined) throw refused.reason;
      }),
    );
    const refused = settled.find((outcome) => outcome.status === 'rejected');
    if (refused !== undefined) throw refused.reason;
  }

  /**
   * Under run(), sends `leader` the Fetch that will follow `response` once its records are handed on
   * (see Prefetch): the same partitions, each from past what the answer brought. Not when the answer
   * brought no records (the next round asks the same again anyway, and a long poll sent ahead would
   * hold a stop back), nor when a partition failed (the round refreshes metadata and backs off).
   */
  private prefetch(
    leader: number,
    partitions: FetchPartitions,
    response: FetchResponse,
    epoch: number,
  ): void {
    if (this.batchQueue !== undefined || !this.running || this.needsJoin || epoch !== this.positionEpoch)
      return;
    if (response.errorCode !== 0) return;
    const fetched = new Map<string, Buffer>();
    for (const topic of response.responses) {
      for (const partition of topic.partitions) {
        if (partition.errorCode !== 0) return;
        if (partition.records !== null && partition.records.length > 0)
          fetched.set(key(topic.topic, partition.partitionIndex), partition.records);
      }
    }
    if (fetched.size === 0) return;
    let next: FetchPartitions;
    try {
      next = partitions.map(({ topic, partition, offset }) => {
        const records = fetched.get(key(topic, partition));
        return {
          topic,
          partition,
          offset: records === undefined ? offset : nextFetchOffset(records, offset),
        };
      });
    } catch {
      return; // A corrupt batch: the round's own reading of it says so.
    }
    const startMs = Date.now();
    if (this.instrumentation.listening(consumerEvents.FETCH_START))
      this.instrumentation.emit(consumerEvents.FETCH_START, { nodeId: leader });
    const answer = this.fetchFrom(leader, next).then(
      (response) => ({ response, endMs: Date.now() }),
      (error: unknown) => {
        this.logger.debug('fetch failed', { leader, error: (error as Error).message });
        return undefined;
      },
    );
    this.prefetches.set(leader, { epoch, partitions: next, startMs, answer });
  }

  /**
   * As the Java consumer does on close: a Fetch with epoch -1 (and no partitions) to each broker that
   * holds a session for this consumer, so its slot is free at once rather than after two idle minutes.
   */
  private async closeFetchSessions(): Promise<void> {
    const open = [...this.fetchSessions].filter(([, session]) => session.openSessionId !== 0);
    this.fetchSessions.clear();
    this.fetchSessionsById.clear();
    await Promise.all(
      open.map(([leader, session]) =>
        this.cluster
          .send(
            leader,
            ApiKey.Fetch,
            {
              replicaId: -1,
              maxWaitMs: 0,
              minBytes: 0,
              maxBytes: 0,
              isolationLevel: 0,
              sessionId: session.openSessionId,
              sessionEpoch: closeSessionEpoch,
              topics: [],
              forgottenTopicsData: [],
              rackId: '',
            },
            fetchSessionCloseTimeoutMs,
          )
          .catch((error: unknown) =>
            this.logger.debug('closing the fetch session failed', {
              leader,
              error: (error as Error).message,
            }),
          ),
      ),
    );
  }

  private fetchSessionWith(leader: number): FetchSessionHandler {
    let handler = this.fetchSessions.get(leader);
    if (handler === undefined) {
      handler = new FetchSessionHandler();
      this.fetchSessions.set(leader, handler);
    }
    return handler;
  }

  /**
   * A Fetch to `leader` in its fetch session: full the first time, then only what changed. Topics go
   * by id (Fetch v13+, KIP-516) when the broker speaks it and the metadata gave every topic's id,
   * else by name; the answer comes back with names either way.
   */
  private async fetchFrom(
    leader: number,
    partitions: readonly { topic: string; partition: number; offset: bigint }[],
  ): Promise<ResponseBody<typeof ApiKey.Fetch>> {
    // Not kafkajs's 1 MiB by default but the whole Fetch's maxBytes, as @platformatic/kafka: the
    // answer is bounded by maxBytes either way (the broker moves partitions that answered to the
    // back of the session, so one partition does not keep the others out), and a backlog comes in
    // a tenth of the Fetches (client README, "Consumer throughput").
    const partitionMaxBytes =
      this.config.maxBytesPerPartition ?? this.config.maxBytes ?? defaultFetchMaxBytes;
    const idsKnown = partitions.every(({ topic }) => this.cluster.topicIdOf(topic) !== undefined);
    let session = this.fetchSessionWith(leader);
    let request: SessionFetch | undefined;
    let byId = false;
    const maxWaitMs = this.config.maxWaitTimeInMs ?? 5_000;
    let response: ResponseBody<typeof ApiKey.Fetch>;
    try {
      response = await this.cluster.sendVersioned(
        leader,
        ApiKey.Fetch,
        (version) => {
          byId = version >= fetchTopicIdVersionMin;
          // A session names its topics one way (Kafka refuses a switch with
          // FETCH_SESSION_TOPIC_ID_ERROR): a switch starts a new one, the broker drops the old.
          if (this.fetchSessionsById.get(leader) !== byId) {
            session = new FetchSessionHandler();
            this.fetchSessions.set(leader, session);
            this.fetchSessionsById.set(leader, byId);
          }
          request = session.build(
            partitions.map(({ topic, partition, offset }) => ({
              topic,
              partition,
              fetchOffset: offset,
              partitionMaxBytes,
            })),
          );
          const topics = new Map<string, SessionPartition[]>();
          for (const entry of request.partitions) {
            topics.set(entry.topic, [...(topics.get(entry.topic) ?? []), entry]);
          }
          this.logger.debug('fetch', {
            leader,
            version,
            sessionId: request.sessionId,
            sessionEpoch: request.sessionEpoch,
            full: request.full,
            partitions: request.partitions.length,
            forgotten: request.forgotten.reduce((sum, topic) => sum + topic.partitions.length, 0),
          });
          // Ids are never forgotten by the cluster, so a forgotten topic always has one here.
          const idOf = (topic: string) => (byId ? this.cluster.topicIdOf(topic)! : zeroUuid);
          return {
            replicaId: -1,
            maxWaitMs,
            minBytes: this.config.minBytes ?? 1,
            maxBytes: this.config.maxBytes ?? defaultFetchMaxBytes,
            isolationLevel: this.config.readUncommitted ? 0 : 1,
            sessionId: request.sessionId,
            sessionEpoch: request.sessionEpoch,
            topics: [...topics].map(([topic, entries]) => ({
              topic,
              topicId: idOf(topic),
              partitions: entries.map((entry) => ({
                partition: entry.partition,
                currentLeaderEpoch: -1,
                fetchOffset: entry.fetchOffset,
                lastFetchedEpoch: -1,
                logStartOffset: -1n,
                partitionMaxBytes: entry.partitionMaxBytes,
              })),
            })),
            forgottenTopicsData: request.forgotten.map(({ topic, partitions: indexes }) => ({
              topic,
              topicId: idOf(topic),
              partitions: [...indexes],
            })),
            rackId: '',
          };
        },
        maxWaitMs + 30_000,
        idsKnown ? fetchTopicIdVersionMin : fetchTopicIdVersionMin - 1,
      );
    } catch (error) {
      session.handleError();
      throw error;
    }
    if (!session.handleResponse(request!, response)) {
      this.logger.debug('fetch session refused', {
        leader,
        sessionId: request!.sessionId,
        sessionEpoch: request!.sessionEpoch,
        code: response.errorCode,
      });
    }
    if (!byId) return response;
    const responses: (typeof response.responses)[number][] = [];
    for (const topic of response.responses) {
      const name = this.cluster.topicNameOf(topic.topicId);
      if (name === undefined) {
        // Not an id this consumer asked for: nothing to hand it to.
        this.logger.warn('fetch answered an unknown topic id', { leader, topicId: topic.topicId });
        continue;
      }
      responses.push({ ...topic, topic: name });
    }
    return { ...response, responses };
  }

  private async handlePartition(
    topic: string,
    partition: {
      partitionIndex: number;
      errorCode: number;
      highWatermark: bigint;
      abortedTransactions: readonly { producerId: bigint; firstOffset: bigint }[] | null;
      records: Buffer | null;
    },
    epoch: number,
  ): Promise<void> {
    const position = this.positions.get(key(topic, partition.partitionIndex));
    // Paused (or moved by a seek) while the fetch was out: what it brought is not handed on.
    if (
      position === undefined ||
      this.isPaused(topic, partition.partitionIndex) ||
      this.pendingSeeks.has(key(topic, partition.partitionIndex))
    ) {
      return;
    }
    if (partition.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) {
      const reset = await this.listOffsets(topic, [partition.partitionIndex], this.resetTimestamp(topic));
      position.offset = reset.get(partition.partitionIndex)!;
      position.resolved = position.offset;
      position.moves++;
      return;
    }
    if (partition.errorCode !== 0) {
      this.logger.debug('fetch partition error', {
        topic,
        partition: partition.partitionIndex,
        code: partition.errorCode,
      });
      await this.cluster.refreshMetadata([topic]).catch(() => undefined);
      // A leader election takes a moment: do not ask the same question again at once.
      await sleep(this.cluster.retry.initialRetryTime);
      return;
    }
    position.highWatermark = partition.highWatermark;
    const fetchOffset = position.offset;
    const { messages, nextOffset, firstOffset } = fetchedRecords(
      partition.records,
      fetchOffset,
      partition.abortedTransactions,
    );
    const stale = () => !this.running || this.needsJoin || epoch !== this.positionEpoch;
    if (
      messages.length === 0 &&
      firstOffset !== null &&
      nextOffset > fetchOffset &&
      this.batchQueue === undefined
    ) {
      // Only control records or aborted transactions: nothing to hand on, but the position moves
      // past them, resolved (so the group's offset and lag reach the end, e.g. past a commit marker)
      // between kafkajs's START and END_BATCH_PROCESS of a batch of size 0, as kafkajs does.
      const started = this.startBatchProcess(
        topic,
        partition.partitionIndex,
        partition.highWatermark,
        0,
        String(firstOffset),
        String(nextOffset - 1n),
      );
      if (!stale() && !this.pendingSeeks.has(key(topic, partition.partitionIndex))) {
        position.offset = nextOffset;
        if (nextOffset > position.resolved) {
          this.uncommittedCount += Number(nextOffset - position.resolved);
          position.resolved = nextOffset;
        }
        await this.commitIfNecessary();
      }
      this.endBatchProcess(started);
      return;
    }
    const partitionIndex = partition.partitionIndex;
    const pause = () => {
      this.pause([{ topic, partitions: [partitionIndex] }]);
      return () => this.resume([{ topic, partitions: [partitionIndex] }]);
    };
    const heartbeat = () => this.heartbeat();
    if (this.runConfig.eachMessage !== undefined) {
      const eachMessage = this.runConfig.eachMessage;
      const handOn = async (): Promise<void> => {
        for (const message of messages) {
          if (
            stale() ||
            this.isPaused(topic, partitionIndex) ||
            this.pendingSeeks.has(key(topic, partitionIndex))
          ) {
            return;
          }
          try {
            await eachMessage({ topic, partition: partitionIndex, message, heartbeat, pause });
          } catch (error) {
            // The message is handed on again after a backoff, as kafkajs does.
            this.logger.error('eachMessage failed', {
              topic,
              partition: partitionIndex,
              offset: message.offset,
              error: (error as Error).message,
            });
            throw error;
          }
          if (epoch !== this.positionEpoch) return;
          position.offset = BigInt(message.offset) + 1n;
          position.resolved = position.offset;
          this.uncommittedCount++;
          await this.commitIfThreshold();
        }
        // Every record was handed on: skip past what the batches held beyond them (control records,
        // aborted transactions) too.
        if (!stale() && nextOffset > position.offset) {
          position.offset = nextOffset;
          if (
            messages.length === 0 ||
            position.resolved === BigInt(messages[messages.length - 1]!.offset) + 1n
          ) {
            position.resolved = nextOffset;
          }
        }
      };
      const started = this.startMessagesBatch(topic, partitionIndex, partition.highWatermark, messages);
      await handOn();
      this.endBatchProcess(started);
      return;
    }
    if (this.batchQueue !== undefined) {
      await this.queueBatch(
        this.batchQueue,
        topic,
        partition.partitionIndex,
        position,
        messages,
        nextOffset,
        partition.highWatermark,
      );
      return;
    }
    const eachBatch = this.runConfig.eachBatch!;
    const highWatermark = partition.highWatermark;
    const batch: Batch = {
      topic,
      partition: partitionIndex,
      highWatermark: String(highWatermark),
      messages,
      isEmpty: () => messages.length === 0,
      firstOffset: () => messages[0]?.offset ?? null,
      lastOffset: () =>
        messages.length > 0 ? messages[messages.length - 1]!.offset : String(highWatermark - 1n),
      offsetLag: () =>
        String(
          highWatermark -
            1n -
            (messages.length > 0 ? BigInt(messages[messages.length - 1]!.offset) : highWatermark - 1n),
        ),
      offsetLagLow: () =>
        String(highWatermark - 1n - (messages.length > 0 ? BigInt(messages[0]!.offset) : highWatermark - 1n)),
    };
    if (messages.length === 0) {
      if (nextOffset > position.offset) position.offset = nextOffset;
      return;
    }
    const resolveOffset = (offset: string) => {
      if (epoch !== this.positionEpoch) return;
      const next = BigInt(offset) + 1n;
      if (next > position.resolved) {
        this.uncommittedCount += Number(next - position.resolved);
        position.resolved = next;
      }
    };
    const started = this.startMessagesBatch(topic, partitionIndex, highWatermark, messages);
    await eachBatch({
      batch,
      resolveOffset,
      heartbeat,
      pause,
      commitOffsetsIfNecessary: () => this.commitIfNecessary(),
      uncommittedOffsets: () => ({ topics: this.uncommitted() }),
      isRunning: () => this.running,
      isStale: stale,
    });
    this.endBatchProcess(started);
    if (epoch !== this.positionEpoch || this.pendingSeeks.has(key(topic, partitionIndex))) return;
    if (this.runConfig.eachBatchAutoResolve ?? true) resolveOffset(batch.lastOffset());
    // What was not resolved is handed on again from the first unresolved offset.
    position.offset = position.resolved >= BigInt(batch.lastOffset()) + 1n ? nextOffset : position.resolved;
  }

  /** START_BATCH_PROCESS of the records about to be handed on; none for no records. */
  private startMessagesBatch(
    topic: string,
    partition: number,
    highWatermark: bigint,
    messages: readonly KafkaMessage[],
  ): { readonly payload: BatchProcessPayload; readonly startMs: number } | undefined {
    if (messages.length === 0) return undefined;
    return this.startBatchProcess(
      topic,
      partition,
      highWatermark,
      messages.length,
      messages[0]!.offset,
      messages[messages.length - 1]!.offset,
    );
  }

  /**
   * kafkajs's START_BATCH_PROCESS before a partition's records are handed on; returns what
   * END_BATCH_PROCESS needs, or undefined when nobody listens to either (nothing is built then).
   */
  private startBatchProcess(
    topic: string,
    partition: number,
    highWatermark: bigint,
    batchSize: number,
    firstOffset: string,
    lastOffset: string,
  ): { readonly payload: BatchProcessPayload; readonly startMs: number } | undefined {
    if (
      !this.instrumentation.listening(consumerEvents.START_BATCH_PROCESS) &&
      !this.instrumentation.listening(consumerEvents.END_BATCH_PROCESS)
    ) {
      return undefined;
    }
    const payload: BatchProcessPayload = {
      topic,
      partition,
      highWatermark: String(highWatermark),
      offsetLag: String(highWatermark - 1n - BigInt(lastOffset)),
      offsetLagLow: String(highWatermark - 1n - BigInt(firstOffset)),
      batchSize,
      firstOffset,
      lastOffset,
    };
    this.instrumentation.emit(consumerEvents.START_BATCH_PROCESS, payload);
    return { payload, startMs: Date.now() };
  }

  /** kafkajs's END_BATCH_PROCESS, once the records of a started batch were handed on. */
  private endBatchProcess(
    started: { readonly payload: BatchProcessPayload; readonly startMs: number } | undefined,
  ): void {
    if (started === undefined) return;
    this.instrumentation.emit(consumerEvents.END_BATCH_PROCESS, {
      ...started.payload,
      duration: Date.now() - started.startMs,
    });
  }

  /**
   * consumer.batches(): waits for room in the queue (the fetch loop fetches nothing meanwhile), then
   * fetches on past the batch; its offsets are resolved once the reader's loop is done with it.
   */
  private async queueBatch(
    queue: BatchQueue<QueuedBatch>,
    topic: string,
    partition: number,
    position: PartitionPosition,
    messages: KafkaMessage[],
    nextOffset: bigint,
    highWatermark: bigint,
  ): Promise<void> {
    if (messages.length === 0) {
      // Only control records or aborted ones (or nothing): past them, resolved too when no batch
      // of the partition waits in the queue (resolving past one would commit what it holds).
      if (nextOffset > position.offset) {
        if (position.resolved === position.offset) {
          this.uncommittedCount += Number(nextOffset - position.resolved);
          position.resolved = nextOffset;
        }
        position.offset = nextOffset;
      }
      return;
    }
    const partitionKey = key(topic, partition);
    const moves = position.moves;
    // The partition is no longer this member's as it was when fetched (an eager rebalance makes new
    // positions, a revoked one has none), or a seek or reset moved it.
    const isStale = () =>
      this.positions.get(partitionKey) !== position ||
      position.moves !== moves ||
      this.pendingSeeks.has(partitionKey);
    const firstOffset = messages[0]!.offset;
    const lastOffset = messages[messages.length - 1]!.offset;
    const batch: ConsumerBatch = {
      topic,
      partition,
      messages,
      highWatermark: String(highWatermark),
      firstOffset: () => firstOffset,
      lastOffset: () => lastOffset,
      offsetLag: () => String(highWatermark - 1n - BigInt(lastOffset)),
    };
    const resolve = () => {
      if (isStale() || nextOffset <= position.resolved) return;
      this.uncommittedCount += Number(nextOffset - position.resolved);
      position.resolved = nextOffset;
    };
    const queued = await queue.push({ batch, isStale, resolve });
    // Fetch on past it: the next batch of the partition is queued behind this one.
    if (queued && !isStale()) position.offset = nextOffset;
  }

  private uncommitted(): { topic: string; partitions: { partition: number; offset: string }[] }[] {
    const byTopic = new Map<string, { partition: number; offset: string }[]>();
    for (const [partitionKey, position] of this.positions) {
      if (position.resolved === position.committed) continue;
      const [topic, partition] = partitionKey.split('\u0000') as [string, string];
      byTopic.set(topic, [
        ...(byTopic.get(topic) ?? []),
        { partition: Number(partition), offset: String(position.resolved) },
      ]);
    }
    return [...byTopic].map(([topic, partitions]) => ({ topic, partitions }));
  }

  private async commitIfThreshold(): Promise<void> {
    const threshold = this.runConfig.autoCommitThreshold;
    if ((this.runConfig.autoCommit ?? true) && threshold && this.uncommittedCount >= threshold) {
      await this.commitResolved();
    }
  }

  private async commitIfNecessary(): Promise<void> {
    if (!(this.runConfig.autoCommit ?? true)) return;
    const interval =
      this.runConfig.autoCommitInterval === undefined ? 5_000 : this.runConfig.autoCommitInterval;
    const threshold = this.runConfig.autoCommitThreshold;
    const due =
      (interval !== null && Date.now() - this.lastCommitMs >= interval) ||
      (threshold !== undefined && threshold !== null && this.uncommittedCount >= threshold) ||
      (interval === null && (threshold === undefined || threshold === null));
    if (due) await this.commitResolved();
  }

  /** Commits every partition's resolved position that is not committed yet. */
  private async commitResolved(): Promise<void> {
    const offsets = new Map<string, Map<number, bigint>>();
    const committing: [PartitionPosition, bigint][] = [];
    for (const [partitionKey, position] of this.positions) {
      if (position.resolved === position.committed) continue;
      const [topic, partition] = partitionKey.split('\u0000') as [string, string];
      if (!offsets.has(topic)) offsets.set(topic, new Map());
      offsets.get(topic)!.set(Number(partition), position.resolved);
      committing.push([position, position.resolved]);
    }
    this.lastCommitMs = Date.now();
    if (committing.length === 0) return;
    await this.commit(offsets);
    for (const [position, offset] of committing) position.committed = offset;
    this.uncommittedCount = 0;
  }

  /** OffsetCommit at the coordinator, then kafkajs's COMMIT_OFFSETS. */
  private async commit(offsets: ReadonlyMap<string, ReadonlyMap<number, bigint>>): Promise<void> {
    const memberId = this.membership.memberId;
    const groupGenerationId = this.membership.generationId;
    await this.membership.commit(offsets);
    if (offsets.size === 0 || !this.instrumentation.listening(consumerEvents.COMMIT_OFFSETS)) return;
    this.instrumentation.emit(consumerEvents.COMMIT_OFFSETS, {
      groupId: this.config.groupId,
      memberId,
      groupGenerationId,
      topics: [...offsets].map(([topic, partitions]) => ({
        topic,
        partitions: [...partitions].map(([partition, offset]) => ({ partition, offset: String(offset) })),
      })),
    });
  }

  /** Commits the given offsets (the next offset to read, as in kafkajs). */
  async commitOffsets(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    if (this.crashError !== undefined) throw this.crashError;
    const byTopic = new Map<string, Map<number, bigint>>();
    for (const { topic, partition, offset } of offsets) {
      if (!byTopic.has(topic)) byTopic.set(topic, new Map());
      byTopic.get(topic)!.set(partition, BigInt(offset));
    }
    await this.commit(byTopic);
    for (const { topic, partition, offset } of offsets) {
      const position = this.positions.get(key(topic, partition));
      if (position !== undefined) position.committed = BigInt(offset);
    }
  }

  /**
   * Moves a partition's position; the next records handed on start at `offset` (-2 earliest, -1
   * latest), or, given `timestamp` instead, at the first record at or after it (the end when none is).
   */
  seek(target: TopicPartitionOffset | TopicPartitionTimestamp): void {
    const { topic, partition } = target;
    if ('timestamp' in target) {
      const timestamp = BigInt(target.timestamp);
      if (timestamp < 0n) throw new KafkaJSError(`cannot seek to timestamp ${target.timestamp}`);
      this.pendingSeeks.set(key(topic, partition), { timestamp });
    } else {
      const offset = BigInt(target.offset);
      if (offset < -2n) throw new KafkaJSError(`cannot seek to offset ${target.offset}`);
      this.pendingSeeks.set(key(topic, partition), { offset });
    }
    this.positionEpoch++;
  }

  pause(topics: readonly { topic: string; partitions?: readonly number[] }[]): void {
    for (const { topic, partitions } of topics) {
      if (partitions === undefined) {
        this.pausedPartitions.set(topic, 'all');
        continue;
      }
      const current = this.pausedPartitions.get(topic);
      if (current === 'all') continue;
      this.pausedPartitions.set(topic, new Set([...(current ?? []), ...partitions]));
    }
  }

  resume(topics: readonly { topic: string; partitions?: readonly number[] }[]): void {
    for (const { topic, partitions } of topics) {
      const current = this.pausedPartitions.get(topic);
      if (partitions === undefined || current === undefined) {
        this.pausedPartitions.delete(topic);
        continue;
      }
      const remaining =
        current === 'all'
          ? new Set((this.assignment.get(topic) ?? []).filter((partition) => !partitions.includes(partition)))
          : new Set([...current].filter((partition) => !partitions.includes(partition)));
      if (remaining.size === 0) this.pausedPartitions.delete(topic);
      else this.pausedPartitions.set(topic, remaining);
    }
  }

  paused(): { topic: string; partitions: number[] }[] {
    return [...this.pausedPartitions].map(([topic, partitions]) => ({
      topic,
      partitions: partitions === 'all' ? [...(this.assignment.get(topic) ?? [])] : [...partitions],
    }));
  }

  /** This member's partitions, as the last rebalance gave them. */
  assignments(): { topic: string; partitions: number[] }[] {
    return [...this.assignment].map(([topic, partitions]) => ({ topic, partitions: [...partitions] }));
  }

  /**
   * Stops the loop, commits what was processed (with autoCommit) and leaves the group (a static
   * member does not leave: its place waits for it until the session timeout).
   */
  async stop(): Promise<void> {
    this.stopRequested = true;
    if (this.restartTimer !== undefined) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    await this.halt();
  }

  private async halt(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    // A fetch loop waiting for room in batches()'s queue goes on (and ends); the reader's loop ends.
    this.batchQueue?.close();
    if (this.heartbeatTimer !== undefined) clearInterval(this.heartbeatTimer);
    await this.loop;
    this.batchQueue = undefined;
    await this.closeFetchSessions();
    if ((this.runConfig.autoCommit ?? true) && !this.partitionsLost && this.membership.generationId >= 0) {
      await this.commitResolved().catch((error: unknown) =>
        this.logger.warn('final commit failed', { error: (error as Error).message }),
      );
    }
    await this.membership.leave();
    this.assignment = new Map();
    this.positions.clear();
    this.instrumentation.emit(consumerEvents.STOP, undefined);
  }

  async disconnect(): Promise<void> {
    await this.stop();
    this.cluster.disconnect();
    this.instrumentation.emit(consumerEvents.DISCONNECT, undefined);
  }
}

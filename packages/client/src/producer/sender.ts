// Drains ready batches to partition leaders and handles the answers. Ordering under retries follows
// the Java client: an idempotent producer numbers each partition's batches (sequences kept across
// retries, so a resent batch the leader already has is answered as a duplicate, not written twice);
// up to maxInFlightRequests batches of a partition may be in flight; when one fails retriably the
// partition stops sending until all its in-flight batches are answered, then the failed ones go
// again, first to last, after a backoff and a metadata refresh. A batch that fails for good leaves a
// gap in its partition's sequences, so the producer takes a new producer id before sending more.
// A batch of several records refused MESSAGE_TOO_LARGE was not written: as Java's
// splitAndReenqueue, it is split and its pieces go again before the partition's later batches (which
// the leader refuses out of order meanwhile, and which keep their sequences: the pieces take the
// refused batch's range); its topic's batches take at most half of it from then on, so a topic whose
// max.message.bytes is below batchSize gets batches it accepts after a few halvings.

import { ApiKey, ErrorCode, type RequestInput, zeroUuid } from '@gregor/protocol';
import { type Cluster, preferredVersions } from '../cluster.js';
import { KafkaJSError, KafkaJSProtocolError } from '../errors.js';
import type { Logger } from '../logger.js';
import { retryDelayMs, withRetry } from '../retry.js';
import { BatchBufferPool } from './batch-buffer-pool.js';
import type { ProducerBatch } from './producer-batch.js';
import { partitionKey, type RecordAccumulator } from './record-accumulator.js';

/** Produce v12: a transactional producer of transactions v2 (KIP-890) adds partitions through it. */
const produceTransactionsV2Version = 12;
/**
 * Produce v13 (KIP-516) names topics by id: asked for when every topic of the request has an id from
 * the metadata, by any producer but a classic (transactions v1) transactional one, to which v12+
 * would mean adding its partitions through its produces.
 */
const produceTopicIdsVersion = 13;

export interface SenderOptions {
  readonly idempotent: boolean;
  /** Produce requests in flight per broker, and batches in flight per partition (at most 5 when idempotent). */
  readonly maxInFlightRequests: number;
  /** Largest Produce request (Java's max.request.size). */
  readonly maxRequestSizeBytes: number;
  readonly requestTimeoutMs: number;
  /** A batch not acknowledged this long after it was made fails (Java's delivery.timeout.ms). */
  readonly deliveryTimeoutMs: number;
  readonly transactionTimeoutMs: number;
  /**
   * Set for a transactional producer: its TransactionManager gives the producer id (useProducerId),
   * batches carry the transactional attribute, and Produce requests the id.
   */
  readonly transactionalId?: string;
  /** Called for every batch that failed for good (a transaction cannot commit after one). */
  readonly onBatchFailed?: (error: Error) => void;
}

interface PartitionState {
  nextSequence: number;
  readonly inFlight: Set<ProducerBatch>;
  /** Batches that failed retriably while others were still in flight; resent once those return. */
  retryList: ProducerBatch[];
  /**
   * The producer id and epoch the partition's leader acknowledged a sequenced batch of. Until it
   * did, the leader may not know the producer and takes any sequence (Kafka since 2.5, KIP-360):
   * a later batch would be appended ahead of a first one refused (MESSAGE_TOO_LARGE, or lost with
   * its connection), so only one batch goes until the first acknowledgement.
   */
  acknowledgedProducer: string | undefined;
  /** A batch of retryList failed retriably (not split, nor refused behind one): back off first. */
  retryNeedsBackoff: boolean;
  backoffUntilMs: number;
}

/** Answers that refuse a batch before it is appended: it was not written, so it may be split. */
const refusedUnwrittenErrors = new Set<number>([
  ErrorCode.MESSAGE_TOO_LARGE,
  ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
]);

/** Errors after which the partition's leader may have moved: refresh the metadata before resending. */
const staleMetadataErrors = new Set<number>([
  ErrorCode.NOT_LEADER_OR_FOLLOWER,
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  ErrorCode.LEADER_NOT_AVAILABLE,
  ErrorCode.FENCED_LEADER_EPOCH,
  ErrorCode.UNKNOWN_LEADER_EPOCH,
  ErrorCode.NOT_ENOUGH_REPLICAS,
  // Produce v13: the topic's id is not the broker's (the topic was deleted, perhaps created again).
  ErrorCode.UNKNOWN_TOPIC_ID,
]);

export class Sender {
  private readonly partitions = new Map<string, PartitionState>();
  private readonly requestsInFlightByNode = new Map<number, number>();
  private batchesInFlight = 0;
  /**
   * Buffers of answered batches, reused for the next ones. It keeps at most what was in flight at
   * once (which bufferMemory bounds), and no more than 8 MiB.
   */
  private readonly bufferPool = new BatchBufferPool();
  private producerId = -1n;
  private producerEpoch = -1;
  private producerIdPending: Promise<void> | undefined;
  /** Set when a sequenced batch failed for good: a new producer id is needed before sending more. */
  private sequenceGapValue = false;
  /** Whether this transactional producer uses transactions v2 (Produce v12+ adds its partitions). */
  private transactionsV2 = false;
  private drainScheduled = false;
  private timer: NodeJS.Timeout | undefined;
  private timerAtMs = Number.POSITIVE_INFINITY;
  private closed = false;
  /** While set (an abort), batches not sent fail with it and failed ones are not retried. */
  private abandonedWith: Error | undefined;

  constructor(
    private readonly cluster: Cluster,
    private readonly accumulator: RecordAccumulator,
    private readonly options: SenderOptions,
    private readonly logger: Logger,
  ) {}

  /** Schedules a drain soon (once, however many records asked for it). */
  wake(): void {
    if (this.drainScheduled || this.closed) return;
    this.drainScheduled = true;
    setImmediate(() => {
      this.drainScheduled = false;
      this.drain();
    });
  }

  /**
   * A batch just filled up: sends the full batches that may go, now, rather than after the rest of
   * the caller's records are buffered (Java's sender thread takes a full batch while the
   * application still appends). A send() of many batches' worth of records, or a window of sends
   * awaited together, then has its first batches at the brokers while it buffers the rest; batches
   * that are not full wait for the next drain, which wake() schedules as before.
   */
  sendFullBatches(): void {
    if (this.closed || this.abandonedWith !== undefined || this.needsProducerId()) return;
    const nowMs = Date.now();
    let metadataStale = false;
    for (;;) {
      const pass = this.drainRound(nowMs, { expire: false, fullOnly: true });
      metadataStale ||= pass.metadataStale;
      if (pass.batchesTaken === 0) break;
    }
    if (metadataStale) this.refreshMetadata();
  }

  /** After close(): a producer connected again sends again. */
  open(): void {
    this.closed = false;
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
  }

  private wakeAt(atMs: number): void {
    if (this.closed || atMs >= this.timerAtMs) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAtMs = atMs;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.timerAtMs = Number.POSITIVE_INFINITY;
        this.drain();
      },
      Math.max(0, atMs - Date.now()),
    );
  }

  private partitionState(key: string): PartitionState {
    let state = this.partitions.get(key);
    if (state === undefined) {
      state = {
        nextSequence: 0,
        inFlight: new Set(),
        retryList: [],
        acknowledgedProducer: undefined,
        retryNeedsBackoff: false,
        backoffUntilMs: 0,
      };
      this.partitions.set(key, state);
    }
    return state;
  }

  private producerKey(): string {
    return `${this.producerId}:${this.producerEpoch}`;
  }

  private needsProducerId(): boolean {
    // A transactional producer's id comes from its TransactionManager (useProducerId).
    if (this.options.transactionalId !== undefined) return false;
    return this.options.idempotent && (this.producerId < 0n || this.sequenceGapValue);
  }

  /** A sequenced batch failed for good: its sequences must not be used again under this epoch. */
  get sequenceGap(): boolean {
    return this.sequenceGapValue;
  }

  /** Transactions v2 (KIP-890 part 2): Produce v12, with which the broker adds the partition. */
  useTransactionsV2(on: boolean): void {
    this.transactionsV2 = on;
  }

  /**
   * The highest Produce version a request may be sent at: a classic transactional producer stays
   * below v12 (the preferred v8); any other asks for v13 when every topic has a known id, else v12
   * (transactions v2) or v8.
   */
  private produceMaxVersion(idsKnown: boolean): number {
    const classicTransactional = this.options.transactionalId !== undefined && !this.transactionsV2;
    if (classicTransactional) return preferredVersions[ApiKey.Produce];
    if (idsKnown) return produceTopicIdsVersion;
    return this.transactionsV2 ? produceTransactionsV2Version : preferredVersions[ApiKey.Produce];
  }

  /** The transactional producer's id and epoch (new after InitProducerId): sequences start at 0. */
  useProducerId(producerId: bigint, producerEpoch: number): void {
    this.producerId = producerId;
    this.producerEpoch = producerEpoch;
    this.resetSequences();
    this.sequenceGapValue = false;
  }

  /**
   * Fails every batch not yet sent (queued, or waiting to be resent) with `error`; until resume(),
   * batches that fail are not retried and records buffered later fail too. What is in flight is
   * left to its answer.
   */
  abandon(error: Error): void {
    this.abandonedWith = error;
    this.failQueued(error);
    for (const state of this.partitions.values()) {
      const retries = state.retryList;
      state.retryList = [];
      for (const batch of retries) this.failBatch(batch, error);
    }
  }

  resume(): void {
    this.abandonedWith = undefined;
  }

  private failQueued(error: Error): void {
    // Emptied first: failing a batch may call back here (a failed transaction drops what is queued),
    // and drain() may hold one of these queues while it expires batches.
    const batches = this.accumulator.allBatches();
    for (const queue of this.accumulator.queues.values()) queue.length = 0;
    this.accumulator.queues.clear();
    for (const batch of batches) this.failBatch(batch, error);
  }

  private ensureProducerId(): void {
    if (this.producerIdPending !== undefined) return;
    // A new id only once nothing numbered under the old one is in flight.
    if (this.sequenceGapValue && this.batchesInFlight > 0) return;
    this.producerIdPending = withRetry(this.cluster.retry, async () => {
      const response = await this.cluster.sendAny(ApiKey.InitProducerId, {
        transactionalId: null,
        transactionTimeoutMs: this.options.transactionTimeoutMs,
        producerId: -1n,
        producerEpoch: -1,
      });
      if (response.errorCode !== 0) throw new KafkaJSProtocolError(response.errorCode, 'InitProducerId');
      return response;
    })
      .then((response) => {
        this.producerId = response.producerId;
        this.producerEpoch = response.producerEpoch;
        if (this.sequenceGapValue) this.resetSequences();
        this.sequenceGapValue = false;
        this.logger.debug('producer id', { producerId: String(this.producerId), epoch: this.producerEpoch });
      })
      .catch((error: unknown) => {
        this.logger.error('InitProducerId failed', { error: (error as Error).message });
        // Nothing can go without an id: fail what waits rather than hold it forever.
        this.failQueued(error as Error);
      })
      .finally(() => {
        this.producerIdPending = undefined;
        this.wake();
      });
  }

  private resetSequences(): void {
    for (const state of this.partitions.values()) state.nextSequence = 0;
    for (const batch of this.accumulator.allBatches()) batch.clearSequence();
  }

  private drain(): void {
    if (this.closed) return;
    if (this.abandonedWith !== undefined) this.failQueued(this.abandonedWith);
    const nowMs = Date.now();
    if (this.needsProducerId()) {
      this.ensureProducerId();
      return;
    }
    let nextWakeMs = Number.POSITIVE_INFINITY;
    let metadataStale = false;
    // A Produce request carries one batch per partition, so a partition with several ready batches
    // (a send() larger than batchSize, or batches that queued while others were answered) sends its
    // next one in the next round's request: rounds go on while they take batches, up to the
    // in-flight limits, rather than leaving ready batches queued until an answer comes back.
    for (let round = 0; ; round++) {
      const pass = this.drainRound(nowMs, { expire: round === 0, fullOnly: false });
      nextWakeMs = Math.min(nextWakeMs, pass.nextWakeMs);
      metadataStale ||= pass.metadataStale;
      if (pass.batchesTaken === 0) break;
    }
    if (metadataStale) this.refreshMetadata();
    if (nextWakeMs <= nowMs) this.wake();
    else if (nextWakeMs < Number.POSITIVE_INFINITY) this.wakeAt(nextWakeMs);
  }

  /**
   * One round of drain(): the head batch of every partition that may send, gathered into one
   * Produce request per (leader, acks). Expires old batches when `expire` (the first round only);
   * takes only full (closed) head batches when `fullOnly`.
   */
  private drainRound(
    nowMs: number,
    { expire, fullOnly }: { expire: boolean; fullOnly: boolean },
  ): { batchesTaken: number; nextWakeMs: number; metadataStale: boolean } {
    let nextWakeMs = Number.POSITIVE_INFINITY;
    let metadataStale = false;
    let batchesTaken = 0;
    // One request per (leader, acks): a Produce request has one acks for all it carries.
    const requests = new Map<
      string,
      { nodeId: number; acks: number; batches: ProducerBatch[]; bytes: number }
    >();
    for (const [key, queue] of this.accumulator.queues) {
      if (expire) this.expire(queue, nowMs);
      let head = queue[0];
      if (head === undefined) {
        this.accumulator.queues.delete(key);
        continue;
      }
      if (fullOnly && !head.closed) continue;
      if (!this.accumulator.isReady(head, nowMs)) {
        nextWakeMs = Math.min(nextWakeMs, this.accumulator.lingerDeadline(head));
        continue;
      }
      const state = this.partitionState(key);
      const sequenced = this.options.idempotent && head.acks === -1;
      const inFlightMax =
        sequenced && state.acknowledgedProducer !== this.producerKey() ? 1 : this.options.maxInFlightRequests;
      if (state.retryList.length > 0 || state.inFlight.size >= inFlightMax) continue;
      if (state.backoffUntilMs > nowMs) {
        nextWakeMs = Math.min(nextWakeMs, state.backoffUntilMs);
        continue;
      }
      const nodeId = this.cluster.leaderFor(head.topic, head.partition);
      if (nodeId < 0) {
        metadataStale = true;
        nextWakeMs = Math.min(nextWakeMs, nowMs + this.cluster.retry.initialRetryTime);
        continue;
      }
      if ((this.requestsInFlightByNode.get(nodeId) ?? 0) >= this.options.maxInFlightRequests) continue;
      // Made before its topic refused a batch, or refused and put back: split to what it accepts.
      const batchLimitBytes = this.accumulator.batchSizeFor(head.topic);
      if (head.sizeBytes > batchLimitBytes && head.records.length > 1 && !head.possiblyWritten) {
        head = this.accumulator.splitHead(key, batchLimitBytes);
      }
      const requestKey = `${nodeId}:${head.acks}`;
      let request = requests.get(requestKey);
      if (request === undefined) {
        request = { nodeId, acks: head.acks, batches: [], bytes: 0 };
        requests.set(requestKey, request);
      }
      if (request.batches.length > 0 && request.bytes + head.sizeBytes > this.options.maxRequestSizeBytes) {
        nextWakeMs = nowMs;
        continue;
      }
      this.accumulator.takeHead(key);
      batchesTaken++;
      if (sequenced && head.baseSequence < 0) {
        head.assignSequence(
          this.producerId,
          this.producerEpoch,
          state.nextSequence,
          this.options.transactionalId !== undefined,
        );
        state.nextSequence = (state.nextSequence + head.records.length) & 0x7fffffff;
      }
      state.inFlight.add(head);
      request.batches.push(head);
      request.bytes += head.sizeBytes;
    }
    for (const request of requests.values()) this.sendRequest(request.nodeId, request.acks, request.batches);
    return { batchesTaken, nextWakeMs, metadataStale };
  }

  /** Fails the queued batches older than the delivery timeout; they never went or are spent. */
  private expire(queue: ProducerBatch[], nowMs: number): void {
    while (queue.length > 0 && nowMs - queue[0]!.createdAtMs > this.options.deliveryTimeoutMs) {
      const batch = queue.shift()!;
      this.failBatch(
        batch,
        new KafkaJSError(`delivery timeout: not acknowledged within ${this.options.deliveryTimeoutMs} ms`),
      );
    }
  }

  private refreshMetadata(): void {
    this.cluster.refreshMetadata().then(
      () => this.wake(),
      (error: unknown) => this.logger.warn('metadata refresh failed', { error: (error as Error).message }),
    );
  }

  private sendRequest(nodeId: number, acks: number, batches: ProducerBatch[]): void {
    const topics = new Map<string, { partitionIndex: number; records: Buffer }[]>();
    for (const batch of batches) {
      batch.attempts++;
      let partitions = topics.get(batch.topic);
      if (partitions === undefined) {
        partitions = [];
        topics.set(batch.topic, partitions);
      }
      partitions.push({ partitionIndex: batch.partition, records: batch.encode(this.bufferPool) });
    }
    // Each topic goes with its name and, when the metadata gave one, its id: the version sent
    // writes one of them (v13 the id), and the answer's ids are named back from this request.
    const namesById = new Map<string, string>();
    const body: RequestInput<typeof ApiKey.Produce> = {
      transactionalId: this.options.transactionalId ?? null,
      acks,
      timeoutMs: this.options.requestTimeoutMs,
      topics: [...topics].map(([name, partitions]) => {
        const topicId = this.cluster.topicIdOf(name);
        if (topicId !== undefined) namesById.set(topicId, name);
        return { name, topicId: topicId ?? zeroUuid, partitions };
      }),
    };
    const maxVersion = this.produceMaxVersion(namesById.size === topics.size);
    this.batchesInFlight += batches.length;
    this.requestsInFlightByNode.set(nodeId, (this.requestsInFlightByNode.get(nodeId) ?? 0) + 1);
    const finished = () => {
      this.requestsInFlightByNode.set(nodeId, (this.requestsInFlightByNode.get(nodeId) ?? 1) - 1);
      this.batchesInFlight -= batches.length;
      this.wake();
    };
    if (acks === 0) {
      this.cluster
        .connectionTo(nodeId)
        .then((connection) => {
          connection.sendOneWay(ApiKey.Produce, connection.version(ApiKey.Produce, maxVersion), body);
          for (const batch of batches) this.complete(batch, -1n, -1n, -1n);
        })
        .catch((error: unknown) => {
          for (const batch of batches) this.handleFailure(batch, error as Error);
        })
        .finally(finished);
      return;
    }
    // Twice the broker's own timeout: the broker answers acks=all waits itself; past that the
    // connection is presumed dead and the batches go again (the sequences make that safe).
    const timeoutMs = this.options.requestTimeoutMs * 2;
    this.cluster
      .sendVersioned(nodeId, ApiKey.Produce, () => body, timeoutMs, maxVersion)
      .then((response) => {
        const answered = new Set<ProducerBatch>();
        for (const topic of response.responses) {
          // v13 answers by id (and an empty name); earlier versions by name.
          const name = topic.name || namesById.get(topic.topicId ?? '');
          for (const partition of topic.partitions) {
            const batch = batches.find(
              (candidate) => candidate.topic === name && candidate.partition === partition.partitionIndex,
            );
            if (batch === undefined || answered.has(batch)) continue;
            answered.add(batch);
            if (partition.errorCode === 0 || partition.errorCode === ErrorCode.DUPLICATE_SEQUENCE_NUMBER) {
              this.complete(batch, partition.baseOffset, partition.logAppendTimeMs, partition.logStartOffset);
              // Answered: the leader read the whole request, so the batch's buffer is free again.
              batch.recycleEncoding();
            } else if (
              partition.errorCode === ErrorCode.MESSAGE_TOO_LARGE &&
              batch.records.length > 1 &&
              !batch.possiblyWritten &&
              this.abandonedWith === undefined
            ) {
              this.splitRefused(batch);
            } else {
              this.handleFailure(
                batch,
                new KafkaJSProtocolError(
                  partition.errorCode,
                  partition.errorMessage ?? `producing to ${batch.topic}[${batch.partition}]`,
                ),
              );
            }
          }
        }
        for (const batch of batches) {
          if (!answered.has(batch)) {
            this.handleFailure(
              batch,
              new KafkaJSError(`no answer for ${batch.topic}[${batch.partition}]`, { retriable: true }),
            );
          }
        }
      })
      .catch((error: unknown) => {
        for (const batch of batches) this.handleFailure(batch, error as Error);
      })
      .finally(finished);
  }

  private complete(
    batch: ProducerBatch,
    baseOffset: bigint,
    logAppendTimeMs: bigint,
    logStartOffset: bigint,
  ): void {
    const state = this.partitionState(partitionKey(batch.topic, batch.partition));
    state.inFlight.delete(batch);
    if (batch.baseSequence >= 0) state.acknowledgedProducer = `${batch.producerId}:${batch.producerEpoch}`;
    batch.succeed(baseOffset, logAppendTimeMs, logStartOffset);
    this.accumulator.release(batch.reservedBytes);
    this.resendIfDrained(state);
  }

  /**
   * A batch of several records refused MESSAGE_TOO_LARGE: not written, so its pieces (of half its
   * size at most, the topic's limit from now on) go again, as new batches, before the partition's
   * later ones.
   */
  private splitRefused(batch: ProducerBatch): void {
    const state = this.partitionState(partitionKey(batch.topic, batch.partition));
    state.inFlight.delete(batch);
    const limitBytes = this.accumulator.learnBatchLimit(batch.topic, batch.sizeBytes);
    const pieces = batch.split(limitBytes);
    this.logger.info('batch too large: split', {
      topic: batch.topic,
      partition: batch.partition,
      records: batch.records.length,
      bytes: batch.sizeBytes,
      batches: pieces.length,
      batchLimitBytes: limitBytes,
    });
    state.retryList.push(...pieces);
    this.resendIfDrained(state);
  }

  private handleFailure(batch: ProducerBatch, error: Error): void {
    const state = this.partitionState(partitionKey(batch.topic, batch.partition));
    state.inFlight.delete(batch);
    const code = error instanceof KafkaJSProtocolError ? error.code : -1;
    if (!refusedUnwrittenErrors.has(code)) batch.possiblyWritten = true;
    // Out of order behind a batch that is being retried (or split, or after a gap) is the
    // consequence of that batch, not a failure of this one: it costs this one no attempt.
    const outOfOrderBehindRetry =
      code === ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER &&
      (state.retryList.length > 0 || this.sequenceGapValue);
    if (outOfOrderBehindRetry) batch.attempts--;
    const retriable = (error instanceof KafkaJSError && error.retriable) || outOfOrderBehindRetry;
    const expired = Date.now() - batch.createdAtMs > this.options.deliveryTimeoutMs;
    if (
      retriable &&
      !expired &&
      this.abandonedWith === undefined &&
      batch.attempts <= this.cluster.retry.retries
    ) {
      this.logger.debug('retrying batch', {
        topic: batch.topic,
        partition: batch.partition,
        attempt: batch.attempts,
        error: error.message,
      });
      state.retryList.push(batch);
      if (!outOfOrderBehindRetry) state.retryNeedsBackoff = true;
      if (code < 0 || staleMetadataErrors.has(code)) this.refreshMetadata();
    } else {
      this.logger.warn('batch failed', {
        topic: batch.topic,
        partition: batch.partition,
        error: error.message,
      });
      this.failBatch(batch, error);
    }
    this.resendIfDrained(state);
  }

  private failBatch(batch: ProducerBatch, error: Error): void {
    if (batch.baseSequence >= 0) this.sequenceGapValue = true;
    batch.fail(error);
    this.accumulator.release(batch.reservedBytes);
    this.options.onBatchFailed?.(error);
  }

  /** Once nothing of the partition is in flight, its failed batches go back, first to last. */
  private resendIfDrained(state: PartitionState): void {
    if (state.inFlight.size > 0 || state.retryList.length === 0) return;
    // Sorted by sequence; without sequences (not idempotent) the sort keeps the order of the answers.
    const retries = state.retryList.sort((a, b) => a.baseSequence - b.baseSequence);
    state.retryList = [];
    if (state.retryNeedsBackoff) {
      const attempts = Math.max(...retries.map((batch) => batch.attempts));
      state.backoffUntilMs = Date.now() + retryDelayMs(this.cluster.retry, Math.max(0, attempts - 1));
    }
    state.retryNeedsBackoff = false;
    this.accumulator.requeueFront(retries);
    this.wake();
  }

  /** Batches of a partition sent and not yet answered, or waiting to be resent. */
  partitionBatchesInFlight(topic: string, partition: number): number {
    const state = this.partitions.get(partitionKey(topic, partition));
    return state === undefined ? 0 : state.inFlight.size + state.retryList.length;
  }

  /** Batches sent and not yet answered, or waiting to be resent. */
  inFlightBatches(): ProducerBatch[] {
    return [...this.partitions.values()].flatMap((state) => [...state.inFlight, ...state.retryList]);
  }
}

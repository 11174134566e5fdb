// kafkajs's Producer: connect, send, sendBatch, disconnect, plus flush(). Records go through the
// accumulator (per-partition batches) and the sender; send() resolves once every record it holds is
// acknowledged and rejects with KafkaJSSendError naming those that were not.

import { CompressionType, type RecordHeader } from '@gregor/protocol';
import type { Cluster } from '../cluster.js';
import { KafkaJSError, KafkaJSNonRetriableError, KafkaJSSendError } from '../errors.js';
import {
  createInstrumentation,
  type InstrumentationListener,
  type ProducerEventName,
  type ProducerEventPayloads,
  producerEvents,
} from '../instrumentation.js';
import type { Logger } from '../logger.js';
import { createDefaultPartitioner, type ICustomPartitioner, type Partitioner } from './partitioners.js';
import { type RecordMetadata, recordSizeEstimate, SendTracker } from './producer-batch.js';
import {
  type PreparedRecord,
  ProducerStream,
  type ProducerStreamOptions,
  type ProducerStreamSink,
} from './producer-stream.js';
import { RecordAccumulator } from './record-accumulator.js';
import { Sender } from './sender.js';
import { Transaction } from './transaction.js';
import { TransactionManager } from './transaction-manager.js';

export const CompressionTypes = {
  None: CompressionType.None,
  GZIP: CompressionType.Gzip,
  Snappy: CompressionType.Snappy,
  LZ4: CompressionType.Lz4,
  ZSTD: CompressionType.Zstd,
} as const;

export type IHeaders = Record<string, Buffer | string | (Buffer | string)[] | undefined>;

export interface Message {
  readonly key?: Buffer | string | null;
  readonly value: Buffer | string | null;
  readonly partition?: number;
  readonly headers?: IHeaders;
  /** Milliseconds since the epoch, as a string (kafkajs) or a number. */
  readonly timestamp?: string | number;
}

export interface ProducerRecord {
  readonly topic: string;
  readonly messages: readonly Message[];
  /** -1 (all in-sync replicas, the default), 1 (the leader) or 0 (no answer). */
  readonly acks?: number;
  /** How long the broker may wait for acks=all, ms. */
  readonly timeout?: number;
  readonly compression?: CompressionType;
}

export interface ProducerBatchRecord {
  readonly topicMessages: readonly { readonly topic: string; readonly messages: readonly Message[] }[];
  readonly acks?: number;
  readonly timeout?: number;
  readonly compression?: CompressionType;
}

export interface ProducerConfig {
  readonly createPartitioner?: ICustomPartitioner;
  /** Default true: producer ids and sequences, so retries never duplicate or reorder (acks=-1 only). */
  readonly idempotent?: boolean;
  /** Produce requests in flight per broker and batches per partition; at most 5 when idempotent. */
  readonly maxInFlightRequests?: number;
  /**
   * Makes the producer transactional (Java's transactional.id): records go through transaction()
   * only, and a producer started later with the same id fences this one.
   */
  readonly transactionalId?: string;
  /** How long a transaction may stay open before the coordinator aborts it, ms (Java's transaction.timeout.ms). Default 60000. */
  readonly transactionTimeout?: number;
  readonly allowAutoTopicCreation?: boolean;
  /**
   * Bytes per partition batch (Java's batch.size). Default 1,000,000, librdkafka's: a batch holds
   * only the records it was given (memory is bufferMemory's, taken per record), so a large limit
   * costs nothing up front and sends a busy partition's records in few requests. Against a topic
   * whose max.message.bytes (Kafka's default 1,048,588) is lower, batches refused MESSAGE_TOO_LARGE
   * are split and sent again and the topic's batches shrink to what it takes (see sender.ts).
   */
  readonly batchSize?: number;
  /**
   * How long a batch that is not full waits for more records, ms (Java's linger.ms). Default 0:
   * each send() goes at once, as kafkajs's does (the sends called in the same turn of the event loop
   * still share batches and requests); 5 is Java's and librdkafka's batching (the default until
   * 2026-12-07), for records that come one at a time across turns.
   */
  readonly lingerMs?: number;
  /** Bytes buffered before send() waits (Java's buffer.memory). Default 32 MiB. */
  readonly bufferMemory?: number;
  /** Largest Produce request, bytes (Java's max.request.size). Default 1 MiB. */
  readonly maxRequestSize?: number;
  /** A record not acknowledged this long after send() fails, ms (Java's delivery.timeout.ms). Default 120000. */
  readonly deliveryTimeout?: number;
  /** Default compression for send() calls that do not name one. */
  readonly compression?: CompressionType;
}

const maxInFlightIdempotent = 5;
/**
 * librdkafka's batch.size. Java's 16384 sends a busy partition's records in many small requests,
 * each with a fixed cost in the client and the brokers (see the client README's benchmark notes).
 */
export const batchSizeBytesDefault = 1_000_000;
/**
 * kafkajs's send semantics: each send() goes at once, and code switched from kafkajs by changing an
 * import keeps its latency; the sends called in one turn of the event loop are buffered before the
 * sender drains (wake() runs it on setImmediate), so they still share batches and requests. 5 (Java
 * 4.x's and librdkafka's linger.ms) until session s13: on a quiet machine 0 had p50 latency 2 ms
 * instead of 5 and 1.6-2.3x the records/s of bench:client's 100 B cells (client README, "Default
 * lingerMs: 0"); under heavy load its p99 at fixed rates rose more (a request per turn that sends).
 */
export const lingerMsDefault = 0;

function toBuffer(value: Buffer | string | null | undefined): Buffer | null {
  if (value === null || value === undefined) return null;
  return typeof value === 'string' ? Buffer.from(value) : value;
}

function toHeaders(headers: IHeaders | undefined): RecordHeader[] | undefined {
  if (headers === undefined) return undefined;
  const out: RecordHeader[] = [];
  for (const [key, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) out.push({ key, value: toBuffer(item) });
  }
  return out;
}

function refusalOf(transactions: TransactionManager): Error {
  try {
    transactions.checkCanSend();
  } catch (error) {
    return error as Error;
  }
  return new KafkaJSNonRetriableError('the transaction this send belonged to has ended');
}

export class Producer {
  private readonly accumulator: RecordAccumulator;
  private readonly sender: Sender;
  private readonly partitioner: Partitioner;
  private readonly maxRequestSizeBytes: number;
  private readonly defaultCompression: CompressionType;
  private readonly idempotent: boolean;
  private connected = false;
  /** Set for a transactional producer (transactionalId given). */
  private readonly transactions: TransactionManager | undefined;
  /** send() calls whose records are not all in the accumulator yet; flush() waits for them. */
  private readonly appending = new Set<Promise<unknown>>();

  /** kafkajs's event names, for `on()`. */
  readonly events = producerEvents;

  constructor(
    private readonly cluster: Cluster,
    logger: Logger,
    requestTimeoutMs: number,
    config: ProducerConfig = {},
    private readonly instrumentation = createInstrumentation<ProducerEventPayloads>(
      producerEvents,
      'producer.events',
      logger,
    ),
  ) {
    const transactionalId = config.transactionalId;
    if (
      transactionalId !== undefined &&
      (typeof transactionalId !== 'string' || transactionalId.length === 0)
    ) {
      throw new KafkaJSError('transactionalId must be a non-empty string');
    }
    // Transactions rest on the producer id and sequences (Java refuses the same combination).
    if (transactionalId !== undefined && config.idempotent === false) {
      throw new KafkaJSError('a transactional producer must be idempotent: do not set idempotent: false');
    }
    const idempotent = config.idempotent ?? true;
    const maxInFlightRequests = config.maxInFlightRequests ?? maxInFlightIdempotent;
    if (idempotent && maxInFlightRequests > maxInFlightIdempotent) {
      throw new KafkaJSError(
        `an idempotent producer allows at most ${maxInFlightIdempotent} requests in flight`,
      );
    }
    this.idempotent = idempotent;
    const batchSizeBytes = config.batchSize ?? batchSizeBytesDefault;
    this.maxRequestSizeBytes = config.maxRequestSize ?? 1_048_576;
    this.defaultCompression = config.compression ?? CompressionType.None;
    // The default partitioner moves keyless records away from partitions with more batches
    // buffered or in flight (KIP-794's adaptive partitioning): the sender and accumulator are made
    // below, before the first record asks.
    this.partitioner =
      config.createPartitioner?.() ??
      createDefaultPartitioner(
        batchSizeBytes,
        Math.random,
        (topic, partition) =>
          this.accumulator.batchesQueued(topic, partition) +
          this.sender.partitionBatchesInFlight(topic, partition),
      );
    this.accumulator = new RecordAccumulator({
      batchSizeBytes,
      lingerMs: config.lingerMs ?? lingerMsDefault,
      bufferMemoryBytes: config.bufferMemory ?? 32 * 1024 * 1024,
    });
    this.sender = new Sender(
      cluster,
      this.accumulator,
      {
        idempotent,
        maxInFlightRequests,
        maxRequestSizeBytes: this.maxRequestSizeBytes,
        requestTimeoutMs,
        deliveryTimeoutMs: config.deliveryTimeout ?? 120_000,
        transactionTimeoutMs: config.transactionTimeout ?? 60_000,
        transactionalId,
        onBatchFailed: (error) => this.transactions?.recordFailed(error),
      },
      logger,
    );
    const sender = this.sender;
    this.transactions =
      transactionalId === undefined
        ? undefined
        : new TransactionManager(
            {
              findCoordinator: (key, keyType) => cluster.findCoordinator(key, keyType),
              send: (nodeId, apiKey, body, maxVersion) =>
                maxVersion === undefined
                  ? cluster.send(nodeId, apiKey, body)
                  : cluster.sendVersioned(nodeId, apiKey, () => body, undefined, maxVersion),
              transactionVersion: (nodeId) => cluster.finalizedFeatureLevel(nodeId, 'transaction.version'),
            },
            {
              flush: () => this.flush(),
              abandon: (error) => sender.abandon(error),
              resume: () => sender.resume(),
              get sequenceGap() {
                return sender.sequenceGap;
              },
              useProducerId: (producerId, producerEpoch) => sender.useProducerId(producerId, producerEpoch),
              useTransactionsV2: (on) => sender.useTransactionsV2(on),
            },
            {
              transactionalId,
              transactionTimeoutMs: config.transactionTimeout ?? 60_000,
              retry: cluster.retry,
            },
            logger,
          );
  }

  /**
   * Begins a transaction (kafkajs's API): the first one asks the coordinator for the transactional
   * id's producer id and epoch, which fences any earlier producer with the same id.
   */
  async transaction(): Promise<Transaction> {
    if (this.transactions === undefined) {
      throw new KafkaJSNonRetriableError('Must provide transactional id for transactional producer');
    }
    if (!this.connected) throw new KafkaJSError('the producer is not connected: call connect() first');
    await this.transactions.initialize();
    const transactionNumber = this.transactions.begin();
    return new Transaction(this.transactions, transactionNumber, (batch) =>
      this.produce(batch, transactionNumber),
    );
  }

  /** kafkajs's isIdempotent(). */
  isIdempotent(): boolean {
    return this.transactions !== undefined || this.idempotent;
  }

  async connect(): Promise<void> {
    await this.cluster.connect();
    this.sender.open();
    this.connected = true;
    this.instrumentation.emit(producerEvents.CONNECT, undefined);
  }

  async disconnect(): Promise<void> {
    if (!this.connected) return;
    await this.flush();
    this.sender.close();
    this.cluster.disconnect();
    this.connected = false;
    this.instrumentation.emit(producerEvents.DISCONNECT, undefined);
  }

  /** kafkajs's `producer.on(producer.events.X, listener)`; returns the listener's remover. */
  on<E extends ProducerEventName>(
    eventName: E,
    listener: InstrumentationListener<ProducerEventPayloads[E]>,
  ): () => void {
    return this.instrumentation.on(eventName, listener);
  }

  send(record: ProducerRecord): Promise<RecordMetadata[]> {
    return this.sendBatch({
      topicMessages: [{ topic: record.topic, messages: record.messages }],
      acks: record.acks,
      timeout: record.timeout,
      compression: record.compression,
    });
  }

  async sendBatch(batch: ProducerBatchRecord): Promise<RecordMetadata[]> {
    if (this.transactions !== undefined) {
      throw new KafkaJSNonRetriableError(
        'a transactional producer sends through a transaction: const txn = await producer.transaction(); await txn.send(...)',
      );
    }
    return this.produce(batch, undefined);
  }

  /** Buffers a send's records and waits for their answers; `transactionNumber` for a transaction's sends. */
  private async produce(
    batch: ProducerBatchRecord,
    transactionNumber: number | undefined,
  ): Promise<RecordMetadata[]> {
    if (!this.connected) throw new KafkaJSError('the producer is not connected: call connect() first');
    const acks = batch.acks ?? -1;
    if (acks !== -1 && acks !== 0 && acks !== 1)
      throw new KafkaJSError(`acks must be -1, 0 or 1, not ${acks}`);
    const transactions = transactionNumber === undefined ? undefined : this.transactions!;
    // kafkajs's words: a transaction's records are only as safe as acks=all makes them.
    if (transactions !== undefined && acks !== -1) {
      throw new KafkaJSNonRetriableError(
        "Not requiring ack for all messages invalidates the idempotent producer's EoS guarantees",
      );
    }
    transactions?.checkCanSend();
    const tracker = new SendTracker();
    const buffering = this.buffer(batch, acks, tracker, transactions, transactionNumber);
    // A commit() called now waits until this send's records are buffered, then flushes them; so
    // does a flush().
    transactions?.trackBuffering(buffering);
    this.appending.add(buffering);
    let refused: Error | undefined;
    try {
      refused = await buffering;
    } finally {
      this.appending.delete(buffering);
    }
    tracker.seal();
    this.sender.wake();
    await tracker.done;
    if (refused !== undefined) throw refused;
    // Fenced (or otherwise unusable for good): say so, not only that the records were not written.
    const fatal = transactions?.fatalError;
    if (tracker.failed.size > 0 && fatal !== undefined) throw fatal;
    if (tracker.failed.size > 0) {
      throw new KafkaJSSendError(
        [...tracker.failed.values()].map(({ topic, partition, count, error }) => ({
          topic,
          partition,
          count,
          error,
        })),
        [...tracker.delivered.values()].map((entry) => ({
          topicName: entry.topicName,
          partition: entry.partition,
          baseOffset: entry.baseOffset ?? '-1',
        })),
      );
    }
    return [...tracker.delivered.values()];
  }

  /**
   * Checks every record of a send and buffers them; resolves with the reason it stopped when the
   * transaction ended while it waited for memory (undefined when all were buffered).
   */
  private async buffer(
    batch: ProducerBatchRecord,
    acks: number,
    tracker: SendTracker,
    transactions: TransactionManager | undefined,
    transactionNumber: number | undefined,
  ): Promise<Error | undefined> {
    const compression = batch.compression ?? this.defaultCompression;
    await this.cluster.ensureTopics(batch.topicMessages.map((entry) => entry.topic));
    // Everything is checked before the first record is buffered, so a bad message buffers nothing.
    const prepared: PreparedRecord[] = [];
    const nowMs = Date.now();
    for (const { topic, messages } of batch.topicMessages) {
      for (const message of messages) prepared.push(this.prepare(topic, message, nowMs));
    }
    if (transactions !== undefined) {
      // Every partition joins the transaction before a record of it is buffered.
      await transactions.addPartitions(prepared.map(({ topic, partition }) => ({ topic, partition })));
    }
    // The clock is read once for the records buffered back to back (microseconds apart: a new
    // batch's linger starts then), and again after what takes longer: a wait for memory, a send.
    let appendedAtMs = Date.now();
    for (const record of prepared) {
      const sizeBytes = record.sizeBytes;
      const waiting = this.accumulator.reserve(sizeBytes);
      if (waiting !== undefined) {
        this.sender.wake();
        await waiting;
        appendedAtMs = Date.now();
      }
      if (transactions !== undefined && !transactions.acceptsRecords(transactionNumber!)) {
        // The transaction was aborted (or failed) while this send waited: buffer nothing more of it.
        this.accumulator.release(sizeBytes);
        return refusalOf(transactions);
      }
      tracker.add(1);
      const filledBefore = this.accumulator.batchesFilled;
      this.accumulator.append(
        record.topic,
        record.partition,
        acks,
        compression,
        record,
        sizeBytes,
        tracker,
        appendedAtMs,
      );
      if (this.accumulator.batchesFilled !== filledBefore) {
        // A full batch goes now, while the rest of this send (and of the sends called with it) is
        // still being buffered; the others wait for the drain that wake() schedules.
        this.sender.sendFullBatches();
        this.sender.wake();
        appendedAtMs = Date.now();
      }
    }
    return undefined;
  }

  /**
   * Checks one message and picks its partition: what the accumulator takes. The topic's metadata
   * must be known (ensureTopics).
   */
  private prepare(topic: string, message: Message, nowMs: number): PreparedRecord {
    const partitionMetadata = this.cluster.topicMetadata(topic)!.partitions;
    const partition = this.partitioner({ topic, partitionMetadata, message });
    if (!Number.isInteger(partition) || partition < 0 || partition >= partitionMetadata.length) {
      throw new KafkaJSError(
        `partition ${partition} of ${topic} does not exist (it has ${partitionMetadata.length})`,
      );
    }
    const key = toBuffer(message.key);
    const value = toBuffer(message.value);
    const headers = toHeaders(message.headers);
    const sizeBytes = recordSizeEstimate(key, value, headers);
    if (sizeBytes + 61 > this.maxRequestSizeBytes) {
      throw new KafkaJSError(
        `a record of ${sizeBytes} bytes is larger than maxRequestSize (${this.maxRequestSizeBytes})`,
      );
    }
    // The record and where it goes in one object: the batch holds it as its RecordInput.
    return {
      key,
      value,
      headers,
      timestamp: message.timestamp === undefined ? nowMs : Number(message.timestamp),
      topic,
      partition,
      sizeBytes,
    };
  }

  /**
   * A Writable (object mode) of one topic's records, for throughput work: the same batches, sender
   * and buffer memory as send(), with the Writable's back-pressure when the buffer is full, and
   * 'finish' only once every record written is acknowledged (see producer-stream.ts).
   */
  stream(options: ProducerStreamOptions): ProducerStream {
    if (this.transactions !== undefined) {
      throw new KafkaJSNonRetriableError(
        'a transactional producer sends through a transaction: producer.stream() is not for it',
      );
    }
    if (!this.connected) throw new KafkaJSError('the producer is not connected: call connect() first');
    const sink: ProducerStreamSink = {
      ensureTopic: (topic) => this.cluster.ensureTopics([topic]),
      prepare: (topic, message) => {
        if (!this.connected) throw new KafkaJSError('the producer is disconnected');
        return this.prepare(topic, message, Date.now());
      },
      reserve: (sizeBytes) => {
        const waiting = this.accumulator.reserve(sizeBytes);
        if (waiting === undefined) return undefined;
        this.sender.wake();
        // A flush() (or disconnect()) called now waits for this record to be buffered too.
        this.appending.add(waiting);
        void waiting.then(() => this.appending.delete(waiting));
        return waiting;
      },
      release: (sizeBytes) => this.accumulator.release(sizeBytes),
      append: (record, acks, compression, owner) => {
        const filledBefore = this.accumulator.batchesFilled;
        this.accumulator.append(
          record.topic,
          record.partition,
          acks,
          compression,
          record,
          record.sizeBytes,
          owner,
          Date.now(),
        );
        if (this.accumulator.batchesFilled !== filledBefore) {
          this.sender.sendFullBatches();
          this.sender.wake();
        }
      },
      flush: () => this.flush(),
    };
    return new ProducerStream(sink, {
      ...options,
      compression: options.compression ?? this.defaultCompression,
    });
  }

  /** Sends every buffered batch now and resolves once each is answered. */
  async flush(): Promise<void> {
    this.accumulator.beginFlush();
    try {
      this.sender.wake();
      // A send() called before flush() may still be on its way into the accumulator (awaiting the
      // topic's metadata or buffer memory): its records belong to this flush too.
      await Promise.allSettled([...this.appending]);
      await Promise.all(
        [...this.accumulator.allBatches(), ...this.sender.inFlightBatches()].map((batch) => batch.settled),
      );
    } finally {
      this.accumulator.endFlush();
    }
  }

  /** Bytes of records buffered or in flight (what bufferMemory bounds). */
  get bufferedBytes(): number {
    return this.accumulator.buffered;
  }
}

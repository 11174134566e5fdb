// The producer's buffer: one queue of batches per partition, a batch taking records until it holds
// batchSizeBytes, and a memory limit (bufferMemoryBytes) that makes send() wait rather than grow.

import type { CompressionType, RecordInput } from '@gregor/protocol';
import { ProducerBatch, type RecordOwner } from './producer-batch.js';

export interface AccumulatorLimits {
  /** A batch closes once it holds this many bytes (Java's batch.size). */
  readonly batchSizeBytes: number;
  /** How long a batch that is not full waits for more records (Java's linger.ms). */
  readonly lingerMs: number;
  /** Bytes of records buffered or in flight before send() waits (Java's buffer.memory). */
  readonly bufferMemoryBytes: number;
}

export const partitionKey = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

export class RecordAccumulator {
  readonly queues = new Map<string, ProducerBatch[]>();
  private bufferedBytes = 0;
  private readonly memoryWaiters: { bytes: number; resolve: () => void }[] = [];
  private flushesInProgress = 0;
  /**
   * Batches append() closed: full (a record that did not fit, or one that filled it), or followed by
   * a record of other acks or compression. The producer compares it before and after append() to
   * send such batches at once.
   */
  batchesFilled = 0;
  /**
   * Batch sizes learned from MESSAGE_TOO_LARGE, per topic (max.message.bytes is a topic's config):
   * half of each refused batch of several records, so a topic set below batchSizeBytes gets batches
   * it accepts after a few refusals, and keeps getting them.
   */
  private readonly learnedBatchBytes = new Map<string, number>();
  /**
   * The partition key of the last append: records come in runs to one partition (a send's keyless
   * records stick to one), and a key built anew for each would be concatenated and hashed each time.
   */
  private lastKeyTopic: string | undefined;
  private lastKeyPartition = -1;
  private lastKey = '';

  constructor(private readonly limits: AccumulatorLimits) {}

  get buffered(): number {
    return this.bufferedBytes;
  }

  /**
   * Takes `bytes` of buffer memory, or returns a promise that resolves once answered batches gave
   * enough back. A record larger than the whole buffer gets it alone, once it is empty.
   */
  reserve(bytes: number): Promise<void> | undefined {
    if (this.memoryWaiters.length === 0 && this.fits(bytes)) {
      this.bufferedBytes += bytes;
      return undefined;
    }
    return new Promise((resolve) => this.memoryWaiters.push({ bytes, resolve }));
  }

  private fits(bytes: number): boolean {
    return this.bufferedBytes === 0 || this.bufferedBytes + bytes <= this.limits.bufferMemoryBytes;
  }

  release(bytes: number): void {
    this.bufferedBytes -= bytes;
    while (this.memoryWaiters.length > 0 && this.fits(this.memoryWaiters[0]!.bytes)) {
      const waiter = this.memoryWaiters.shift()!;
      this.bufferedBytes += waiter.bytes;
      waiter.resolve();
    }
  }

  /** The most bytes a new batch of `topic` takes: batchSizeBytes, or less once the topic refused one. */
  batchSizeFor(topic: string): number {
    return Math.min(
      this.limits.batchSizeBytes,
      this.learnedBatchBytes.get(topic) ?? Number.POSITIVE_INFINITY,
    );
  }

  /**
   * A batch of `refusedBytes` of `topic` was refused MESSAGE_TOO_LARGE: its batches take at most
   * half of that from now on. Returns the new limit.
   */
  learnBatchLimit(topic: string, refusedBytes: number): number {
    const limit = Math.min(this.batchSizeFor(topic), Math.floor(refusedBytes / 2));
    this.learnedBatchBytes.set(topic, limit);
    return limit;
  }

  /**
   * Appends a record whose memory was reserved; returns its batch (closed when it became full).
   * A batch that the record did not fit in is closed, and a new one takes the record.
   */
  append(
    topic: string,
    partition: number,
    acks: number,
    compression: CompressionType,
    record: RecordInput,
    sizeBytes: number,
    tracker: RecordOwner,
    nowMs: number,
  ): ProducerBatch {
    if (topic !== this.lastKeyTopic || partition !== this.lastKeyPartition) {
      this.lastKeyTopic = topic;
      this.lastKeyPartition = partition;
      this.lastKey = partitionKey(topic, partition);
    }
    const key = this.lastKey;
    let queue = this.queues.get(key);
    if (queue === undefined) {
      queue = [];
      this.queues.set(key, queue);
    }
    const batchSizeBytes = this.batchSizeFor(topic);
    let batch = queue[queue.length - 1];
    if (
      batch === undefined ||
      batch.closed ||
      batch.acks !== acks ||
      batch.compression !== compression ||
      (batch.records.length > 0 && batch.sizeBytes + sizeBytes > batchSizeBytes)
    ) {
      if (batch !== undefined && !batch.closed) {
        batch.closed = true;
        this.batchesFilled++;
      }
      batch = new ProducerBatch(topic, partition, acks, compression, nowMs);
      queue.push(batch);
    }
    batch.append(record, sizeBytes, tracker);
    if (batch.sizeBytes >= batchSizeBytes) {
      batch.closed = true;
      this.batchesFilled++;
    }
    return batch;
  }

  /** Whether a batch at the head of its queue may go now. */
  isReady(batch: ProducerBatch, nowMs: number): boolean {
    return (
      batch.closed ||
      nowMs - batch.createdAtMs >= this.limits.lingerMs ||
      this.flushesInProgress > 0 ||
      // Someone waits for memory: lingering would only make them wait longer.
      this.memoryWaiters.length > 0
    );
  }

  lingerDeadline(batch: ProducerBatch): number {
    return batch.createdAtMs + this.limits.lingerMs;
  }

  /**
   * Takes the head batch of a partition's queue to send it. It takes no more records from here on:
   * what goes on the wire is its encoding as of now, and a record added later would be acknowledged
   * with the batch without ever having been sent.
   */
  takeHead(key: string): ProducerBatch | undefined {
    const queue = this.queues.get(key);
    const batch = queue?.shift();
    if (queue !== undefined && queue.length === 0) this.queues.delete(key);
    if (batch !== undefined) batch.closed = true;
    return batch;
  }

  /**
   * Splits the head batch of a partition's queue into batches of at most `limitBytes` in its place
   * (a batch built before its topic's limit was learned, or one refused and put back); returns the
   * new head.
   */
  splitHead(key: string, limitBytes: number): ProducerBatch {
    const queue = this.queues.get(key)!;
    const pieces = queue[0]!.split(limitBytes);
    queue.splice(0, 1, ...pieces);
    return pieces[0]!;
  }

  /**
   * Puts retried batches back at the head of their partition's queue, in sequence order. They stay
   * closed: new records go to a batch behind them, never into one that was already sent.
   */
  requeueFront(batches: readonly ProducerBatch[]): void {
    if (batches.length === 0) return;
    for (const batch of batches) batch.closed = true;
    const key = partitionKey(batches[0]!.topic, batches[0]!.partition);
    const queue = this.queues.get(key) ?? [];
    this.queues.set(key, [...batches, ...queue]);
  }

  /** Batches of a partition waiting to be sent. */
  batchesQueued(topic: string, partition: number): number {
    return this.queues.get(partitionKey(topic, partition))?.length ?? 0;
  }

  allBatches(): ProducerBatch[] {
    return [...this.queues.values()].flat();
  }

  beginFlush(): void {
    this.flushesInProgress++;
  }

  endFlush(): void {
    this.flushesInProgress--;
  }
}

// producer.stream(): the producer as a Node Writable in object mode, for throughput work. Each item
// goes into the producer's own accumulator (the same batches, sender, retries and idempotence as
// send()); an item waits for buffer memory instead of being refused, and while it waits the
// Writable holds the items behind it, so write() returns false and 'drain' follows once answered
// batches give memory back. 'finish' (and so stream.pipeline) comes only once every record written
// is acknowledged; a record that is not makes the stream fail with KafkaJSSendError.

import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { CompressionType, RecordInput } from '@gregor/protocol';
import { KafkaJSError, KafkaJSSendError, type UndeliveredRecords } from '../errors.js';
import type { Message } from './producer.js';
import type { RecordMetadata, RecordOwner } from './producer-batch.js';

/**
 * A checked record with its partition: the record the batch holds (what encodeRecordBatch reads)
 * and where it goes, one object per record.
 */
export interface PreparedRecord extends RecordInput {
  readonly topic: string;
  readonly partition: number;
  readonly sizeBytes: number;
}

/** What a producer stream needs of its producer: the producer's own paths into the accumulator. */
export interface ProducerStreamSink {
  ensureTopic(topic: string): Promise<void>;
  /** Checks a message (size, partition) and picks its partition; throws when it cannot go. */
  prepare(topic: string, message: Message): PreparedRecord;
  /** Takes buffer memory; a promise when the buffer is full (resolves once memory was given back). */
  reserve(sizeBytes: number): Promise<void> | undefined;
  release(sizeBytes: number): void;
  append(prepared: PreparedRecord, acks: number, compression: CompressionType, owner: RecordOwner): void;
  /** Sends everything buffered now; resolves once all of it is answered. */
  flush(): Promise<void>;
}

export interface ProducerStreamOptions {
  readonly topic: string;
  /** -1 (all in-sync replicas, the default), 1 (the leader) or 0 (no answer). */
  readonly acks?: number;
  readonly compression?: CompressionType;
  /**
   * Items the Writable holds while the one before them waits for buffer memory, before write()
   * returns false (Node's highWaterMark, in items). Default 16.
   */
  readonly highWaterMark?: number;
}

/** One item written to a producer stream: kafkajs's Message (key, value, headers, partition, timestamp). */
export type StreamRecord = Message;

/** What flush() puts in the Writable's queue: it runs once every item written before it is buffered. */
class FlushRequest {
  constructor(
    readonly resolve: () => void,
    readonly reject: (error: Error) => void,
  ) {}
}

const defaultHighWaterMarkItems = 16;

export class ProducerStream extends Writable implements RecordOwner {
  readonly topic: string;
  private readonly acks: number;
  private readonly compression: CompressionType;
  /** Records appended to the accumulator and not answered yet. */
  private outstanding = 0;
  private acknowledgedCount = 0;
  private readonly failures = new Map<string, UndeliveredRecords>();
  private readonly idleWaiters: (() => void)[] = [];
  private readonly pendingFlushes = new Set<FlushRequest>();

  constructor(
    private readonly sink: ProducerStreamSink,
    options: ProducerStreamOptions & { readonly compression: CompressionType },
  ) {
    super({ objectMode: true, highWaterMark: options.highWaterMark ?? defaultHighWaterMarkItems });
    const acks = options.acks ?? -1;
    if (acks !== -1 && acks !== 0 && acks !== 1)
      throw new KafkaJSError(`acks must be -1, 0 or 1, not ${acks}`);
    if (typeof options.topic !== 'string' || options.topic.length === 0) {
      throw new KafkaJSError('a producer stream needs a topic');
    }
    this.topic = options.topic;
    this.acks = acks;
    this.compression = options.compression;
  }

  /** Records written and acknowledged so far. */
  get acknowledged(): number {
    return this.acknowledgedCount;
  }

  /** Records in the producer's buffer or in flight, not answered yet. */
  get unacknowledged(): number {
    return this.outstanding;
  }

  /**
   * Resolves once every item written before it is acknowledged; rejects with the stream's error
   * when a record was not (or the stream ended or failed before).
   */
  flush(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.errored !== null) return reject(this.errored);
      if (this.destroyed || this.writableEnded)
        return reject(new KafkaJSError('the producer stream is closed'));
      const request = new FlushRequest(resolve, reject);
      this.pendingFlushes.add(request);
      this.write(request);
    });
  }

  /** Ends the stream and resolves once every record is acknowledged ('finish'); rejects with its error. */
  async close(): Promise<void> {
    if (!this.writableEnded) this.end();
    await finished(this);
  }

  override _construct(callback: (error?: Error | null) => void): void {
    this.sink.ensureTopic(this.topic).then(
      () => callback(),
      (error: unknown) => callback(error as Error),
    );
  }

  override _write(item: unknown, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (item instanceof FlushRequest) {
      this.settle().then(
        () => {
          this.pendingFlushes.delete(item);
          const failure = this.failure();
          if (failure === undefined) item.resolve();
          else item.reject(failure);
          callback();
        },
        (error: unknown) => callback(error as Error),
      );
      return;
    }
    let prepared: PreparedRecord;
    try {
      prepared = this.sink.prepare(this.topic, item as StreamRecord);
    } catch (error) {
      callback(error as Error);
      return;
    }
    const waiting = this.sink.reserve(prepared.sizeBytes);
    if (waiting === undefined) {
      this.append(prepared);
      callback();
      return;
    }
    // The buffer is full: this item waits, the Writable queues what follows it (back-pressure).
    void waiting.then(() => {
      if (this.destroyed) {
        this.sink.release(prepared.sizeBytes);
      } else {
        this.append(prepared);
      }
      callback();
    });
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.settle().then(
      () => callback(this.failure()),
      (error: unknown) => callback(error as Error),
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const reason = error ?? new KafkaJSError('the producer stream was destroyed');
    for (const request of this.pendingFlushes) request.reject(reason);
    this.pendingFlushes.clear();
    callback(error);
  }

  acknowledge(_topic: string, _partition: number, count: number, _metadata: RecordMetadata): void {
    this.acknowledgedCount += count;
    this.answered(count);
  }

  fail(topic: string, partition: number, count: number, error: Error): void {
    const key = `${topic}\u0000${partition}`;
    const previous = this.failures.get(key);
    this.failures.set(key, { topic, partition, count: (previous?.count ?? 0) + count, error });
    this.answered(count);
    // At once, not at the end: a pipeline stops feeding a stream whose records are being lost.
    if (!this.destroyed) this.destroy(this.failure());
  }

  private append(prepared: PreparedRecord): void {
    this.outstanding++;
    this.sink.append(prepared, this.acks, this.compression, this);
  }

  private answered(count: number): void {
    this.outstanding -= count;
    if (this.outstanding === 0) for (const wake of this.idleWaiters.splice(0)) wake();
  }

  /** Flushes the producer and waits until every record of this stream is answered. */
  private async settle(): Promise<void> {
    await this.sink.flush();
    if (this.outstanding > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  private failure(): KafkaJSSendError | undefined {
    if (this.failures.size === 0) return undefined;
    return new KafkaJSSendError([...this.failures.values()], []);
  }
}

// One partition's batch of records on its way to the leader, and the send() calls that own them.

import { type CompressionType, encodeRecordBatch, type RecordInput } from '@gregor/protocol';

/** Bytes a record takes in a batch, near enough to size batches and count buffered memory. */
export function recordSizeEstimate(record: RecordInput): number {
  let size = 21 + (record.key?.length ?? 0) + (record.value?.length ?? 0);
  for (const header of record.headers ?? []) size += 10 + header.key.length + (header.value?.length ?? 0);
  return size;
}

/** The answer for one partition of one send(): what kafkajs's RecordMetadata holds. */
export interface RecordMetadata {
  readonly topicName: string;
  readonly partition: number;
  readonly errorCode: number;
  readonly baseOffset?: string;
  readonly logAppendTime?: string;
  readonly logStartOffset?: string;
}

/** Whoever waits for a batch's records: a send() call, or a producer stream. */
export interface RecordOwner {
  acknowledge(topic: string, partition: number, count: number, metadata: RecordMetadata): void;
  fail(topic: string, partition: number, count: number, error: Error): void;
}

/** A send() call waiting for its records: it settles when its last record is acknowledged or failed. */
export class SendTracker implements RecordOwner {
  private outstanding = 0;
  private sealed = false;
  readonly delivered = new Map<string, RecordMetadata>();
  readonly failed = new Map<string, { topic: string; partition: number; count: number; error: Error }>();
  private settle!: () => void;
  readonly done = new Promise<void>((resolve) => {
    this.settle = resolve;
  });

  add(count: number): void {
    this.outstanding += count;
  }

  /** No more records will be added; settles now if they are all answered already. */
  seal(): void {
    this.sealed = true;
    if (this.outstanding === 0) this.settle();
  }

  acknowledge(topic: string, partition: number, count: number, metadata: RecordMetadata): void {
    const key = `${topic}\u0000${partition}`;
    const previous = this.delivered.get(key);
    // The partition's first batch holds this send's lowest offset there.
    if (previous === undefined || BigInt(metadata.baseOffset ?? '-1') < BigInt(previous.baseOffset ?? '-1')) {
      this.delivered.set(key, metadata);
    }
    this.finish(count);
  }

  fail(topic: string, partition: number, count: number, error: Error): void {
    const key = `${topic}\u0000${partition}`;
    const previous = this.failed.get(key);
    this.failed.set(key, { topic, partition, count: (previous?.count ?? 0) + count, error });
    this.finish(count);
  }

  private finish(count: number): void {
    this.outstanding -= count;
    if (this.sealed && this.outstanding === 0) this.settle();
  }
}

export class ProducerBatch {
  readonly records: RecordInput[] = [];
  /** Which send() (or stream) owns how many of the records, in order. */
  readonly owners: { tracker: RecordOwner; count: number }[] = [];
  sizeBytes = 61;
  /** Buffer memory this batch holds until it is answered. */
  reservedBytes = 0;
  /** Set once the batch takes no more records (full, or followed by another). */
  closed = false;
  attempts = 0;
  baseSequence = -1;
  producerId = -1n;
  producerEpoch = -1;
  /** Part of a transaction: the batch carries the transactional attribute. */
  transactional = false;
  private encoded: Buffer | undefined;
  private settle!: () => void;
  /** Resolves once every record of the batch is acknowledged or failed (flush() waits on it). */
  readonly settled = new Promise<void>((resolve) => {
    this.settle = resolve;
  });

  constructor(
    readonly topic: string,
    readonly partition: number,
    readonly acks: number,
    readonly compression: CompressionType,
    readonly createdAtMs: number,
  ) {}

  append(record: RecordInput, size: number, tracker: RecordOwner): void {
    // A batch that was encoded went out as that encoding: a record added now would be acknowledged
    // with it without being in it.
    if (this.closed || this.encoded !== undefined) {
      throw new Error(`${this.topic}[${this.partition}]: a record appended to a closed batch`);
    }
    this.records.push(record);
    this.sizeBytes += size;
    this.reservedBytes += size;
    const last = this.owners[this.owners.length - 1];
    if (last !== undefined && last.tracker === tracker) last.count++;
    else this.owners.push({ tracker, count: 1 });
  }

  /** Gives the batch its producer id and sequence (kept across retries, so the broker can dedupe). */
  assignSequence(
    producerId: bigint,
    producerEpoch: number,
    baseSequence: number,
    transactional: boolean,
  ): void {
    this.producerId = producerId;
    this.transactional = transactional;
    this.producerEpoch = producerEpoch;
    this.baseSequence = baseSequence;
    this.encoded = undefined;
  }

  clearSequence(): void {
    this.baseSequence = -1;
    this.producerId = -1n;
    this.producerEpoch = -1;
    this.encoded = undefined;
  }

  encode(): Buffer {
    this.encoded ??= encodeRecordBatch({
      records: this.records,
      compression: this.compression,
      producerId: Number(this.producerId),
      producerEpoch: this.producerEpoch,
      baseSequence: this.baseSequence,
      isTransactional: this.transactional,
    });
    return this.encoded;
  }

  succeed(baseOffset: bigint, logAppendTimeMs: bigint, logStartOffset: bigint): void {
    let offset = baseOffset;
    for (const owner of this.owners) {
      owner.tracker.acknowledge(this.topic, this.partition, owner.count, {
        topicName: this.topic,
        partition: this.partition,
        errorCode: 0,
        baseOffset: String(offset),
        logAppendTime: String(logAppendTimeMs),
        logStartOffset: String(logStartOffset),
      });
      if (offset >= 0n) offset += BigInt(owner.count);
    }
    this.settle();
  }

  fail(error: Error): void {
    for (const owner of this.owners) owner.tracker.fail(this.topic, this.partition, owner.count, error);
    this.settle();
  }
}

// One partition's batch of records on its way to the leader, and the send() calls that own them.

import {
  type CompressionType,
  encodeRecordBatch,
  type RecordHeader,
  type RecordInput,
} from '@gregor/protocol';
import type { BatchBufferPool } from './batch-buffer-pool.js';

function invariant(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`invariant: ${message}`);
}

/** Bytes a record takes in a batch, near enough to size batches and count buffered memory. */
export function recordSizeEstimate(
  key: Buffer | null,
  value: Buffer | null,
  headers: readonly RecordHeader[] | undefined,
): number {
  let size = 21 + (key?.length ?? 0) + (value?.length ?? 0);
  if (headers !== undefined) {
    for (const header of headers) size += 10 + header.key.length + (header.value?.length ?? 0);
  }
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
  /** The bytes each record counted against sizeBytes and reservedBytes, to split the batch exactly. */
  readonly recordSizes: number[] = [];
  /** Which send() (or stream) owns how many of the records, in order. */
  readonly owners: { tracker: RecordOwner; count: number }[] = [];
  sizeBytes = 61;
  /** Buffer memory this batch holds until it is answered. */
  reservedBytes = 0;
  /** Set once the batch takes no more records (full, or followed by another). */
  closed = false;
  attempts = 0;
  /**
   * Set once an answer (or its absence) leaves open whether the leader wrote the batch: from then on
   * it goes again only as it is (same records, same sequences), so the broker can tell a resend of
   * it. Only a batch every answer of which refused it before the append (MESSAGE_TOO_LARGE,
   * OUT_OF_ORDER_SEQUENCE_NUMBER) may be split.
   */
  possiblyWritten = false;
  baseSequence = -1;
  producerId = -1n;
  producerEpoch = -1;
  /** Part of a transaction: the batch carries the transactional attribute. */
  transactional = false;
  private encoded: Buffer | undefined;
  /** The pooled buffer `encoded` is a view of, and its pool (undefined when not pooled). */
  private encodedBacking: Buffer | undefined;
  private encodedPool: BatchBufferPool | undefined;
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
    this.recordSizes.push(size);
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
    this.dropEncoding();
  }

  clearSequence(): void {
    this.baseSequence = -1;
    this.producerId = -1n;
    this.producerEpoch = -1;
    this.dropEncoding();
  }

  /**
   * Forgets the encoding (to encode the batch again with new sequences). Its buffer is not given
   * back to the pool: a request that carried it may still be on its way out.
   */
  private dropEncoding(): void {
    this.encoded = undefined;
    this.encodedBacking = undefined;
    this.encodedPool = undefined;
  }

  /**
   * Splits a batch that was never written into batches of at most `limitBytes` (a record larger
   * than that alone), in record order, as Java's ProducerBatch.split: a sequenced batch's pieces
   * take its sequence range in turn, so the partition's later batches keep theirs. The pieces take
   * over the records' owners and buffer memory; this batch settles once they all have.
   */
  split(limitBytes: number): ProducerBatch[] {
    if (this.possiblyWritten || this.records.length < 2) {
      throw new Error(`${this.topic}[${this.partition}]: only an unwritten batch of several records splits`);
    }
    const pieces: ProducerBatch[] = [];
    let piece: ProducerBatch | undefined;
    let ownerIndex = 0;
    let ownerLeft = this.owners[0]?.count ?? 0;
    for (let index = 0; index < this.records.length; index++) {
      const size = this.recordSizes[index]!;
      if (piece === undefined || (piece.records.length > 0 && piece.sizeBytes + size > limitBytes)) {
        piece = new ProducerBatch(this.topic, this.partition, this.acks, this.compression, this.createdAtMs);
        pieces.push(piece);
      }
      while (ownerLeft === 0) ownerLeft = this.owners[++ownerIndex]!.count;
      piece.append(this.records[index]!, size, this.owners[ownerIndex]!.tracker);
      ownerLeft--;
    }
    let sequence = this.baseSequence;
    for (const each of pieces) {
      each.closed = true;
      if (sequence >= 0) {
        each.assignSequence(this.producerId, this.producerEpoch, sequence, this.transactional);
        sequence = (sequence + each.records.length) & 0x7fffffff;
      }
    }
    invariant(
      pieces.reduce((sum, each) => sum + each.reservedBytes, 0) === this.reservedBytes,
      'a split batch hands its buffer memory to its pieces',
    );
    // The pieces hold the records and their memory now; this batch settles with them.
    this.reservedBytes = 0;
    this.owners.length = 0;
    void Promise.all(pieces.map((each) => each.settled)).then(() => this.settle());
    return pieces;
  }

  /** The batch's bytes, encoded once (into a buffer of `pool` when given and the batch is large). */
  encode(pool?: BatchBufferPool): Buffer {
    if (this.encoded !== undefined) return this.encoded;
    let backing: Buffer | undefined;
    this.encoded = encodeRecordBatch(
      {
        records: this.records,
        compression: this.compression,
        producerId: Number(this.producerId),
        producerEpoch: this.producerEpoch,
        baseSequence: this.baseSequence,
        isTransactional: this.transactional,
      },
      {
        allocate: (bytes) => {
          backing = pool?.take(bytes);
          return backing === undefined ? Buffer.allocUnsafe(bytes) : backing.subarray(0, bytes);
        },
      },
    );
    this.encodedBacking = backing;
    this.encodedPool = backing === undefined ? undefined : pool;
    return this.encoded;
  }

  /**
   * Gives the encoding's buffer back to its pool: only once the batch was acknowledged by an
   * answer to the one request that carried it (attempts 1), so every byte of it reached the leader
   * and no socket still writes from it. The batch is not encoded again after.
   */
  recycleEncoding(): void {
    if (this.encodedBacking === undefined || this.attempts !== 1) return;
    this.encodedPool!.give(this.encodedBacking);
    this.dropEncoding();
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

import { decodeRecordBatch, encodeRecordBatch, readBatchHeader } from '@gregor/protocol';
import type { PartitionLogView } from '@gregor/replication';

/** One record batch as a replica stores it: its offsets, the epoch of the leader that wrote it, its bytes. */
export class SimBatch {
  constructor(
    readonly baseOffset: number,
    readonly lastOffset: number,
    readonly leaderEpoch: number,
    /** CRC-32C of the batch (attributes to the end): tells batches of different records apart. */
    readonly crc: number,
    /** The whole RecordBatch v2, as the leader wrote it and followers copy it. */
    readonly bytes: Buffer,
    /** Known where the batch was written; a copy decodes it when asked. */
    private payloadValue?: string,
  ) {}

  /** The producer's name for the batch (`b<seq>`), the value of its first record; for messages. */
  get payload(): string {
    this.payloadValue ??=
      decodeRecordBatch(this.bytes, 0, { verifyCrc: false }).records[0]?.value?.toString() ?? '';
    return this.payloadValue;
  }
}

/** Two 32-bit digests of a prefix of batches: comparing them is comparing the prefixes. */
export interface PrefixDigest {
  readonly a: number;
  readonly b: number;
}

const emptyDigest: PrefixDigest = { a: 0x811c9dc5, b: 5381 };

/** A follower append that does not continue the log (storage's UnexpectedAppendOffsetError). */
export class SimAppendOffsetError extends Error {
  override readonly name = 'SimAppendOffsetError';
}

/**
 * The log of one simulated replica: whole record batches (real RecordBatch v2 bytes, so the
 * production code reads their headers as it reads storage's), with a mark of how many of them the
 * OS has written to the platter.
 *
 * Durability model (Kafka's default: `flush.messages`/`flush.ms` never fsync; the page cache holds
 * the tail): an append or a follower append lands in the page cache; a periodic OS writeback makes
 * every batch present at that moment durable. A crash either keeps the page cache (a process crash,
 * kill -9) or loses the unsynced tail except some whole batches the writeback had reached (a power
 * loss; recovery truncates a torn batch, so only whole batches survive). Truncation is durable at
 * once: a file that was cut never grows back.
 */
export class SimReplicaLog implements PartitionLogView {
  private batchList: SimBatch[] = [];
  /** digests[i] covers batches [0, i); digests[0] is the empty prefix. */
  private digests: PrefixDigest[] = [emptyDigest];
  private startOffset = 0;
  private syncedBatchCount = 0;
  /** Bumped by every truncation: lets the checker know that verified batches may be gone. */
  private truncationCount = 0;

  get logStartOffset(): number {
    return this.startOffset;
  }

  get logEndOffset(): number {
    const last = this.batchList[this.batchList.length - 1];
    return last === undefined ? this.startOffset : last.lastOffset + 1;
  }

  get batches(): readonly SimBatch[] {
    return this.batchList;
  }

  get truncations(): number {
    return this.truncationCount;
  }

  get unsyncedBatches(): number {
    return this.batchList.length - this.syncedBatchCount;
  }

  /** A leader append: a batch of `recordCount` records at the log end, written by `leaderEpoch`. */
  appendAsLeader(payload: string, recordCount: number, leaderEpoch: number, timestampMs: number): SimBatch {
    const baseOffset = this.logEndOffset;
    const bytes = encodeRecordBatch({
      baseOffset,
      partitionLeaderEpoch: leaderEpoch,
      records: Array.from({ length: recordCount }, (_, index) => ({
        key: null,
        value: Buffer.from(index === 0 ? payload : `${payload}.${index}`),
        timestamp: timestampMs,
      })),
    });
    const crc = bytes.readUInt32BE(17);
    const batch = new SimBatch(baseOffset, baseOffset + recordCount - 1, leaderEpoch, crc, bytes, payload);
    this.push(batch);
    return batch;
  }

  /**
   * A follower append of whole batches that keep the leader's offsets and epochs. As storage's
   * appendAsFollower: the first may start past the log end (a gap), the rest must follow each other,
   * and one that starts below the log end appends nothing (SimAppendOffsetError).
   */
  appendAsFollower(records: Buffer): void {
    const batches: SimBatch[] = [];
    let expected = this.logEndOffset;
    let position = 0;
    while (position < records.length) {
      const header = readBatchHeader(records, position);
      const first = batches.length === 0;
      if (first ? header.baseOffset < expected : header.baseOffset !== expected) {
        throw new SimAppendOffsetError(`follower append at ${header.baseOffset}, expected ${expected}`);
      }
      const bytes = records.subarray(position, position + header.sizeBytes);
      batches.push(
        new SimBatch(header.baseOffset, header.lastOffset, header.partitionLeaderEpoch, header.crc, bytes),
      );
      expected = header.lastOffset + 1;
      position += header.sizeBytes;
    }
    for (const batch of batches) this.push(batch);
  }

  /**
   * Whole batches from the one holding `offset` on, at most `maxBytes` of them unless the first
   * alone is larger (it is returned whole), as storage's read.
   */
  read(offset: number, maxBytes: number): Buffer {
    let first = this.batchCountBelow(offset);
    if (first > 0 && this.batchList[first - 1]!.lastOffset >= offset) first--;
    const chosen: Buffer[] = [];
    let bytes = 0;
    for (let index = first; index < this.batchList.length; index++) {
      const batch = this.batchList[index]!;
      if (chosen.length > 0 && bytes + batch.bytes.length > maxBytes) break;
      chosen.push(batch.bytes);
      bytes += batch.bytes.length;
    }
    return Buffer.concat(chosen);
  }

  /** Kafka's truncateTo: removes every batch that holds an offset at or above `offset`. */
  truncateTo(offset: number): void {
    // As storage's truncateTo: below the log start nothing stays, the log restarts there.
    if (offset < this.startOffset) {
      this.truncateFullyAndStartAt(offset);
      return;
    }
    let kept = this.batchList.length;
    while (kept > 0 && this.batchList[kept - 1]!.lastOffset >= offset) kept--;
    this.cut(kept);
  }

  /**
   * Kafka's maybeIncrementLogStartOffset, as a follower follows its leader's: offsets below
   * `offset` are no longer served (the batches stay, as Kafka's stay until retention).
   */
  incrementLogStartOffset(offset: number): void {
    this.startOffset = Math.max(this.startOffset, Math.min(offset, this.logEndOffset));
  }

  /** Kafka's truncateFullyAndStartAt: an empty log that starts at `offset`. */
  truncateFullyAndStartAt(offset: number): void {
    this.cut(0);
    this.startOffset = offset;
  }

  /** The OS wrote every dirty page back. */
  writeBack(): void {
    this.syncedBatchCount = this.batchList.length;
  }

  /** A power loss: only synced batches and `survivingUnsyncedBatches` more are left. */
  loseUnsyncedTail(survivingUnsyncedBatches: number): number {
    const kept = Math.min(this.batchList.length, this.syncedBatchCount + survivingUnsyncedBatches);
    const lost = this.batchList.length - kept;
    if (lost > 0) this.cut(kept);
    this.syncedBatchCount = this.batchList.length;
    return lost;
  }

  /** How many batches start below `offset`. */
  batchCountBelow(offset: number): number {
    let low = 0;
    let high = this.batchList.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if (this.batchList[middle]!.baseOffset < offset) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /** The batch starting at `baseOffset`, if there is one. */
  batchAt(baseOffset: number): SimBatch | undefined {
    const batch = this.batchList[this.batchCountBelow(baseOffset)];
    return batch?.baseOffset === baseOffset ? batch : undefined;
  }

  prefixDigest(batchCount: number): PrefixDigest {
    const digest = this.digests[batchCount];
    if (digest === undefined) throw new RangeError(`no prefix of ${batchCount} batches`);
    return digest;
  }

  private push(batch: SimBatch): void {
    const previous = this.digests[this.digests.length - 1]!;
    this.batchList.push(batch);
    this.digests.push(extendDigest(previous, batch));
  }

  private cut(keptBatches: number): void {
    if (keptBatches === this.batchList.length) return;
    this.batchList.length = keptBatches;
    this.digests.length = keptBatches + 1;
    this.syncedBatchCount = Math.min(this.syncedBatchCount, keptBatches);
    this.truncationCount++;
  }
}

/** Same offsets, same epoch, same bytes. */
export function sameBatch(x: SimBatch, y: SimBatch): boolean {
  return (
    x.baseOffset === y.baseOffset &&
    x.lastOffset === y.lastOffset &&
    x.leaderEpoch === y.leaderEpoch &&
    x.bytes.equals(y.bytes)
  );
}

export function describeBatch(batch: SimBatch | undefined): string {
  if (batch === undefined) return 'nothing';
  return `[${batch.baseOffset}..${batch.lastOffset}] e${batch.leaderEpoch} ${batch.payload}`;
}

/** FNV-1a and djb2 over the batch's offsets, epoch and CRC, each chained onto the prefix before it. */
function extendDigest(previous: PrefixDigest, batch: SimBatch): PrefixDigest {
  let a = previous.a;
  let b = previous.b;
  for (const word of [batch.baseOffset, batch.lastOffset, batch.leaderEpoch, batch.crc]) {
    for (let shift = 0; shift < 32; shift += 8) {
      const byte = (word >>> shift) & 0xff;
      a = Math.imul(a ^ byte, 0x01000193) >>> 0;
      b = (Math.imul(b, 33) + byte) >>> 0;
    }
  }
  return { a, b };
}

import type { PartitionLogView } from '@gregor/replication';

/** One record batch as a replica stores it: offsets, the epoch of the leader that wrote it, bytes. */
export interface SimBatch {
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly leaderEpoch: number;
  /** Stands for the batch's bytes: unique per produced batch, so equal payloads mean equal bytes. */
  readonly payload: string;
}

/** Two 32-bit digests of a prefix of batches: comparing them is comparing the prefixes. */
export interface PrefixDigest {
  readonly a: number;
  readonly b: number;
}

const emptyDigest: PrefixDigest = { a: 0x811c9dc5, b: 5381 };

/**
 * The log of one simulated replica: whole batches, contiguous from the log start, with a mark of
 * how many of them the OS has written to the platter.
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

  /** A leader append: the batch gets the next offsets and the leader's epoch. */
  appendAsLeader(recordCount: number, leaderEpoch: number, payload: string): SimBatch {
    const baseOffset = this.logEndOffset;
    const batch = { baseOffset, lastOffset: baseOffset + recordCount - 1, leaderEpoch, payload };
    this.push(batch);
    return batch;
  }

  /** A follower append: batches keep the leader's offsets; they must continue this log exactly. */
  appendAsFollower(batches: readonly SimBatch[]): void {
    for (const batch of batches) {
      if (batch.baseOffset !== this.logEndOffset) {
        throw new Error(`follower append at ${batch.baseOffset}, log end ${this.logEndOffset}`);
      }
      this.push(batch);
    }
  }

  /** Kafka's truncateTo: removes every batch that holds an offset at or above `offset`. */
  truncateTo(offset: number): void {
    let kept = this.batchList.length;
    while (kept > 0 && this.batchList[kept - 1]!.lastOffset >= offset) kept--;
    this.cut(kept);
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

  /** At most `batchesMax` batches from the one holding `offset` on (as a Kafka read returns them). */
  read(offset: number, batchesMax: number): SimBatch[] {
    let first = this.batchCountBelow(offset);
    if (first > 0 && this.batchList[first - 1]!.lastOffset >= offset) first--;
    return this.batchList.slice(first, first + batchesMax);
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

export function sameBatch(x: SimBatch, y: SimBatch): boolean {
  return (
    x.baseOffset === y.baseOffset &&
    x.lastOffset === y.lastOffset &&
    x.leaderEpoch === y.leaderEpoch &&
    x.payload === y.payload
  );
}

export function describeBatch(batch: SimBatch | undefined): string {
  if (batch === undefined) return 'nothing';
  return `[${batch.baseOffset}..${batch.lastOffset}] e${batch.leaderEpoch} ${batch.payload}`;
}

/** FNV-1a and djb2 over the batch's fields, each chained onto the prefix before it. */
function extendDigest(previous: PrefixDigest, batch: SimBatch): PrefixDigest {
  const text = `${batch.baseOffset}:${batch.lastOffset}:${batch.leaderEpoch}:${batch.payload}`;
  let a = previous.a;
  let b = previous.b;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    a = Math.imul(a ^ code, 0x01000193) >>> 0;
    b = (Math.imul(b, 33) + code) >>> 0;
  }
  a = Math.imul(a ^ 0xff, 0x01000193) >>> 0;
  b = (Math.imul(b, 33) + 0xff) >>> 0;
  return { a, b };
}

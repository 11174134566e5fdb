// What one partition knows of its idempotent producers (Kafka's ProducerStateManager, without
// transactions): per producer id, its epoch and the metadata of its last few batches in the log.
// Pure: no I/O, no clock (time is passed in). The ReplicaManager keeps one per partition and feeds it
// every batch that enters the log, whoever wrote it, so a follower that becomes leader already knows
// what its predecessor accepted.
//
// The leader's checks for a batch with a producer id (checkLeaderAppend), as Kafka 3.x does them:
//   - same epoch, and (first sequence, last sequence) equal to one of the producer's last
//     `producerBatchesRetained` batches: a retry of a batch already stored. The whole record set is
//     answered with that batch's offsets and nothing is stored (Kafka answers NONE, with the original
//     offsets; clients expect exactly that).
//   - epoch lower than the known one: INVALID_PRODUCER_EPOCH (a zombie producer).
//   - epoch higher than the known one: a new epoch starts at sequence 0, else OUT_OF_ORDER_SEQUENCE_NUMBER.
//   - same epoch: the first sequence must follow the last one (int32 wraps to 0), else
//     OUT_OF_ORDER_SEQUENCE_NUMBER (a gap, or a retry older than the retained batches).
//   - a producer this partition does not know: any sequence is accepted. This is Kafka's rule since
//     2.5 (KIP-360): the state of a producer may be gone for good reasons (retention or the cleaner
//     removed its batches, it expired after producer.id.expiration.ms), and the broker then cannot
//     tell a gap from a lost history. Java 3.x and librdkafka 2.x expect it; UNKNOWN_PRODUCER_ID is
//     not answered.
//   Several batches in one record set are checked in order, each against the state the earlier ones
//   would leave. Transactional batches are refused (INVALID_TXN_STATE): Gregor has no transaction
//   coordinator, so nothing could ever commit or abort them.
//
// Replicated and recovered batches (applyBatch) are taken as they are: the leader already checked
// them, and a follower must hold what the leader holds.
//
// Memory: at most `producersMax` producers per partition (the least recently active goes first;
// losing it only means a retry from that long-idle producer is not recognised as a duplicate), and
// producers whose last batch is older than producer.id.expiration.ms are dropped, swept every
// `expirationCheckIntervalMs`.

import { invariant } from '@gregor/ground';
import { ErrorCode } from '@gregor/protocol';

/** Batches remembered per producer: clients keep at most 5 requests in flight per partition. */
export const producerBatchesRetained = 5;
/** Kafka's `producer.id.expiration.ms` default (one day). */
export const producerIdExpirationMsDefault = 86_400_000;
/** Kafka's `producer.id.expiration.check.interval.ms` default. */
export const producerIdExpirationCheckIntervalMsDefault = 600_000;
/** Producers remembered per partition; beyond it the least recently active one is forgotten. */
export const producersPerPartitionMaxDefault = 50_000;
/** Sequence numbers are int32 and wrap to 0 after this. */
export const sequenceMax = 2_147_483_647;

/** The producer fields of one batch header (what a record batch carries about its producer). */
export interface ProducerBatchHeader {
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly baseSequence: number;
  readonly lastOffsetDelta: number;
  readonly maxTimestamp: number;
  readonly isTransactional: boolean;
  readonly isControl: boolean;
}

/** A batch as it sits in the log: its header and its offsets. */
export interface StoredProducerBatch extends ProducerBatchHeader {
  readonly baseOffset: number;
  readonly lastOffset: number;
}

/** One remembered batch of a producer. */
export interface ProducerBatchMetadata {
  readonly firstSequence: number;
  readonly lastSequence: number;
  readonly firstOffset: number;
  readonly lastOffset: number;
  readonly maxTimestampMs: number;
}

export interface ProducerEntry {
  readonly producerId: number;
  readonly producerEpoch: number;
  /** Oldest first; never empty; at most producerBatchesRetained. */
  readonly batches: readonly ProducerBatchMetadata[];
  /** The max timestamp of the producer's latest batch: what expiration measures from, as in Kafka. */
  readonly lastTimestampMs: number;
}

export type LeaderAppendCheck =
  | { readonly kind: 'append' }
  | { readonly kind: 'duplicate'; readonly firstOffset: number; readonly lastOffset: number }
  | { readonly kind: 'refused'; readonly errorCode: number; readonly message: string };

export interface ProducerStateOptions {
  readonly producerIdExpirationMs?: number;
  readonly expirationCheckIntervalMs?: number;
  readonly producersMax?: number;
}

/** The sequence `delta` after `sequence`, wrapping past int32 max to 0 (Kafka's incrementSequence). */
export function incrementSequence(sequence: number, delta: number): number {
  if (sequence > sequenceMax - delta) return delta - (sequenceMax - sequence) - 1;
  return sequence + delta;
}

/** Whether `next` directly follows `last`. */
export function inSequence(last: number, next: number): boolean {
  return last === sequenceMax ? next === 0 : next === last + 1;
}

/** Whether a batch takes part in producer state: it has a producer id and carries data. */
export function hasProducerState(header: ProducerBatchHeader): boolean {
  return header.producerId >= 0 && !header.isControl;
}

export class ProducerStateManager {
  /** Insertion order is activity order: every update moves the producer to the end. */
  private readonly producers = new Map<number, ProducerEntry>();
  private nextExpirationCheckMs = Number.NEGATIVE_INFINITY;
  private readonly expirationMs: number;
  private readonly checkIntervalMs: number;
  private readonly producersMax: number;

  constructor(options: ProducerStateOptions = {}) {
    this.expirationMs = options.producerIdExpirationMs ?? producerIdExpirationMsDefault;
    this.checkIntervalMs = options.expirationCheckIntervalMs ?? producerIdExpirationCheckIntervalMsDefault;
    this.producersMax = options.producersMax ?? producersPerPartitionMaxDefault;
    invariant(this.producersMax >= 1, 'producersMax must be positive');
  }

  get size(): number {
    return this.producers.size;
  }

  entry(producerId: number): ProducerEntry | undefined {
    return this.producers.get(producerId);
  }

  /** Every producer, ordered by id: for comparisons in tests and for logs. */
  entries(): ProducerEntry[] {
    return [...this.producers.values()].sort((a, b) => a.producerId - b.producerId);
  }

  /**
   * The leader's check of a produced record set (its batch headers, in order), before it is stored.
   * Changes nothing: call applyBatch for each batch once the append succeeded.
   */
  checkLeaderAppend(headers: readonly ProducerBatchHeader[], nowMs: number): LeaderAppendCheck {
    this.maybeExpire(nowMs);
    // The state each producer would be in after the earlier batches of this record set.
    const pending = new Map<number, { producerEpoch: number; lastSequence: number }>();
    for (const header of headers) {
      if (!hasProducerState(header)) continue;
      const { producerId, producerEpoch, baseSequence } = header;
      if (header.isTransactional) {
        return refused(
          ErrorCode.INVALID_TXN_STATE,
          `producer ${producerId}: transactional batches need a transaction coordinator, which Gregor does not have`,
        );
      }
      if (producerEpoch < 0 || baseSequence < 0 || header.lastOffsetDelta < 0) {
        return refused(
          ErrorCode.INVALID_RECORD,
          `producer ${producerId}: epoch ${producerEpoch}, base sequence ${baseSequence} and last offset delta ${header.lastOffsetDelta} must not be negative`,
        );
      }
      const lastSequence = incrementSequence(baseSequence, header.lastOffsetDelta);
      const stored = this.producers.get(producerId);
      if (stored !== undefined && stored.producerEpoch === producerEpoch) {
        const duplicate = stored.batches.find(
          (batch) => batch.firstSequence === baseSequence && batch.lastSequence === lastSequence,
        );
        if (duplicate !== undefined) {
          return { kind: 'duplicate', firstOffset: duplicate.firstOffset, lastOffset: duplicate.lastOffset };
        }
      }
      const current =
        pending.get(producerId) ??
        (stored === undefined
          ? undefined
          : { producerEpoch: stored.producerEpoch, lastSequence: stored.batches.at(-1)!.lastSequence });
      if (current !== undefined) {
        if (producerEpoch < current.producerEpoch) {
          return refused(
            ErrorCode.INVALID_PRODUCER_EPOCH,
            `producer ${producerId}: epoch ${producerEpoch} is older than the current ${current.producerEpoch}`,
          );
        }
        if (producerEpoch > current.producerEpoch && baseSequence !== 0) {
          return refused(
            ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
            `producer ${producerId}: new epoch ${producerEpoch} starts at sequence ${baseSequence}, not 0`,
          );
        }
        if (producerEpoch === current.producerEpoch && !inSequence(current.lastSequence, baseSequence)) {
          return refused(
            ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
            `producer ${producerId} epoch ${producerEpoch}: sequence ${baseSequence} after ${current.lastSequence}`,
          );
        }
      }
      pending.set(producerId, { producerEpoch, lastSequence });
    }
    return { kind: 'append' };
  }

  /** A batch entered the log (leader append, replication or recovery): remember it, unchecked. */
  applyBatch(batch: StoredProducerBatch, nowMs: number): void {
    if (!hasProducerState(batch)) return;
    invariant(
      batch.lastOffset >= batch.baseOffset,
      () => `batch ${batch.baseOffset}: last offset before base`,
    );
    const metadata: ProducerBatchMetadata = {
      firstSequence: batch.baseSequence,
      lastSequence: incrementSequence(batch.baseSequence, Math.max(0, batch.lastOffsetDelta)),
      firstOffset: batch.baseOffset,
      lastOffset: batch.lastOffset,
      maxTimestampMs: batch.maxTimestamp,
    };
    const previous = this.producers.get(batch.producerId);
    let batches: ProducerBatchMetadata[];
    if (previous === undefined || previous.producerEpoch !== batch.producerEpoch) {
      // A new epoch starts a new history (Kafka resets the batch metadata on an epoch change).
      batches = [metadata];
    } else {
      invariant(
        batch.baseOffset > previous.batches.at(-1)!.lastOffset,
        () => `producer ${batch.producerId}: batch at ${batch.baseOffset} is not after its last one`,
      );
      batches = [...previous.batches, metadata].slice(-producerBatchesRetained);
    }
    this.producers.delete(batch.producerId);
    this.producers.set(batch.producerId, {
      producerId: batch.producerId,
      producerEpoch: batch.producerEpoch,
      batches,
      lastTimestampMs: metadata.maxTimestampMs,
    });
    if (this.producers.size > this.producersMax) {
      const leastRecent = this.producers.keys().next().value as number;
      this.producers.delete(leastRecent);
    }
    this.maybeExpire(nowMs);
  }

  /**
   * The log was truncated to end at `logEndOffset`. Returns true when no remembered batch was at or
   * past it (nothing to forget). Otherwise returns false and changes nothing: a producer that lost
   * batches must remember the ones before them, which only the log still has, so the caller
   * rebuilds the state from the log (what Kafka does from its latest snapshot below the offset).
   */
  truncateTo(logEndOffset: number): boolean {
    for (const entry of this.producers.values()) {
      if (entry.batches.at(-1)!.lastOffset >= logEndOffset) return false;
    }
    return true;
  }

  /** Producers whose last batch lies below the log start (retention removed it) are forgotten, as in Kafka. */
  removeBelow(logStartOffset: number): void {
    for (const [producerId, entry] of [...this.producers]) {
      if (entry.batches.at(-1)!.lastOffset < logStartOffset) this.producers.delete(producerId);
    }
  }

  clear(): void {
    this.producers.clear();
  }

  /** Drops producers idle for producer.id.expiration.ms now, whatever the check interval says. */
  expire(nowMs: number): void {
    for (const [producerId, entry] of [...this.producers]) {
      if (nowMs - entry.lastTimestampMs >= this.expirationMs) this.producers.delete(producerId);
    }
    this.nextExpirationCheckMs = nowMs + this.checkIntervalMs;
  }

  private maybeExpire(nowMs: number): void {
    if (nowMs >= this.nextExpirationCheckMs) this.expire(nowMs);
  }
}

function refused(errorCode: number, message: string): LeaderAppendCheck {
  return { kind: 'refused', errorCode, message };
}

// What one partition knows of its idempotent and transactional producers (Kafka's
// ProducerStateManager): per producer id, its epoch and the metadata of its last few batches in the
// log; the transactions open on the partition (first offset per producer); the aborted ones (for
// read_committed fetches) and the last stable offset.
// Pure: no I/O, no clock (time is passed in). The ReplicaManager keeps one per partition and feeds it
// every batch that enters the log, whoever wrote it, so a follower that becomes leader already knows
// what its predecessor accepted.
//
// The leader's checks for a batch with a producer id (checkLeaderAppend), as Kafka 3.x does them:
//   - same epoch, and (first sequence, last sequence) equal to one of the producer's last
//     `producerBatchesRetained` batches: a retry of a batch already stored. The whole record set is
//     answered with that batch's offsets and nothing is stored (Kafka answers NONE, with the original
//     offsets; clients expect exactly that).
//     Stricter than Kafka for transactional batches: the stored batch must lie in the producer's
//     open transaction on this partition. A retry cannot outlive its transaction (a commit waits for
//     every batch, an abort ends the transaction), so a match in a transaction that has ended is a
//     sequence number used twice, and is refused with OUT_OF_ORDER_SEQUENCE_NUMBER, as Kafka refuses
//     a reused sequence whose range does not happen to line up. librdkafka does reuse one:
//     abort_transaction purges a record that a lost connection put back in its retry queue, although
//     it may be in the log, and the next transaction's first record on that partition gets its
//     sequence. Answered as a duplicate, that record is acknowledged and never stored: a committed
//     transaction missing a record (found by the chaos suite's transactional workload). Refused,
//     librdkafka raises a fatal error and the application starts a new producer; nothing is lost.
//   - epoch lower than the known one: INVALID_PRODUCER_EPOCH (a zombie producer).
//   - epoch higher than the known one: a new epoch starts at sequence 0, else OUT_OF_ORDER_SEQUENCE_NUMBER.
//   - same epoch: the first sequence must follow the last one (int32 wraps to 0), else
//     OUT_OF_ORDER_SEQUENCE_NUMBER (a gap, or a retry older than the retained batches).
//   - a producer this partition does not know: any sequence is accepted. This is Kafka's rule since
//     2.5 (KIP-360): the state of a producer may be gone for good reasons (retention or the cleaner
//     removed its batches, it expired after producer.id.expiration.ms), and the broker then cannot
//     tell a gap from a lost history. Java 3.x and librdkafka 2.x expect it; UNKNOWN_PRODUCER_ID is
//     not answered.
//   - a transaction marker whose coordinator epoch is older than the one of the producer's last
//     marker: TRANSACTION_COORDINATOR_FENCED (Kafka's appendEndTxnMarker check: a zombie coordinator).
//   Several batches in one record set are checked in order, each against the state the earlier ones
//   would leave. A transactional batch opens a transaction of its producer on this partition (if
//   none is open); the coordinator's marker (a control batch, applyMarker) closes it.
//   - KIP-890 part 1 (`transaction.partition.verification.enable`): a transactional batch of a
//     producer with no transaction open here is appended only if the leader asked the coordinator
//     first and the partition is in the producer's ongoing transaction. The leader takes a
//     verification guard (startVerification, Kafka's VerificationStateEntry) before asking, and the
//     append must carry the same guard; a marker or a transaction opened in between drops the
//     guard, so a verification that raced with the end of the transaction does not open a new one:
//     INVALID_TXN_STATE. A late batch of an ended transaction can thus no longer open a transaction
//     that nothing will close (a hanging transaction holding the last stable offset).
//
// Transactions: a transaction is open from its first batch to its marker. The last stable offset
// (LSO) is the smallest first offset of an open transaction, or of a closed one whose marker is not
// yet below the high watermark, capped by the high watermark: read_committed consumers read below
// it. Aborted transactions are kept (producer id, first offset, marker offset) while their marker is
// in the log, so a read_committed fetch can list those its records overlap; Kafka keeps them in
// `.txnindex` files, Gregor in memory, rebuilt from the log with the rest of the state.
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
  /** For a transaction marker being appended, the coordinator epoch its record carries. */
  readonly markerCoordinatorEpoch?: number;
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
  /**
   * The epoch `batches` were written with. Below `producerEpoch` when a marker bumped the epoch
   * (KIP-890 transactions v2 bumps it at the end of every transaction): the next batch of the new
   * epoch starts at sequence 0 and none of the remembered batches is its duplicate, as Kafka's
   * ProducerStateEntry clears its batch metadata when a marker changes the epoch.
   */
  readonly batchesEpoch: number;
  /** The max timestamp of the producer's latest batch: what expiration measures from, as in Kafka. */
  readonly lastTimestampMs: number;
  /** The coordinator epoch of the last transaction marker for this producer; -1 before any. */
  readonly coordinatorEpoch: number;
}

/** A transaction that was aborted on this partition: its records span firstOffset..lastOffset (the marker). */
export interface AbortedTransaction {
  readonly producerId: number;
  readonly firstOffset: number;
  readonly lastOffset: number;
}

/** Aborted transactions remembered per partition; beyond it the oldest are forgotten (see above). */
export const abortedTransactionsPerPartitionMax = 100_000;

export type LeaderAppendCheck =
  | { readonly kind: 'append' }
  | { readonly kind: 'duplicate'; readonly firstOffset: number; readonly lastOffset: number }
  | { readonly kind: 'refused'; readonly errorCode: number; readonly message: string };

/**
 * Proof that the coordinator was asked before a producer's first transactional batch (Kafka's
 * VerificationGuard): compared by identity.
 */
export type VerificationGuard = { readonly producerId: number };

/** What checkLeaderAppend knows of KIP-890's verification for the record set. */
export type TransactionVerification =
  | { readonly required: false }
  | { readonly required: true; readonly guard: VerificationGuard | undefined };

const verificationOff: TransactionVerification = { required: false };

interface VerificationEntry {
  readonly guard: VerificationGuard;
  readonly createdMs: number;
}

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
  /** Open transactions: producer id → the offset of its first batch in this partition. */
  private readonly ongoing = new Map<number, number>();
  /** Verifications in flight (KIP-890): producer id → the guard its first transactional batch needs. */
  private readonly verifications = new Map<number, VerificationEntry>();
  /** Closed transactions whose marker may still be above the high watermark, by marker offset. */
  private completed: AbortedTransaction[] = [];
  /** Aborted transactions, by marker offset. */
  private aborted: AbortedTransaction[] = [];
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
  checkLeaderAppend(
    headers: readonly ProducerBatchHeader[],
    nowMs: number,
    fromCoordinator = false,
    verification: TransactionVerification = verificationOff,
  ): LeaderAppendCheck {
    this.maybeExpire(nowMs);
    // The state each producer would be in after the earlier batches of this record set.
    const pending = new Map<number, { producerEpoch: number; lastSequence: number }>();
    for (const header of headers) {
      if (header.isControl && header.producerId >= 0 && header.markerCoordinatorEpoch !== undefined) {
        // A marker from a coordinator older than the one that wrote this producer's last marker:
        // a coordinator that lost its __transaction_state partition and has not learned it yet.
        const known = this.producers.get(header.producerId);
        if (known !== undefined && header.markerCoordinatorEpoch < known.coordinatorEpoch) {
          return refused(
            ErrorCode.TRANSACTION_COORDINATOR_FENCED,
            `producer ${header.producerId}: marker from coordinator epoch ${header.markerCoordinatorEpoch}, older than ${known.coordinatorEpoch}`,
          );
        }
        continue;
      }
      if (!hasProducerState(header)) continue;
      const { producerId, producerEpoch, baseSequence } = header;
      if (fromCoordinator) {
        // A group coordinator's transactional offsets carry the producer but no sequence (Kafka's
        // AppendOrigin.COORDINATOR): only a fenced epoch is refused.
        const known = this.producers.get(producerId);
        if (known !== undefined && producerEpoch < known.producerEpoch) {
          return refused(
            ErrorCode.INVALID_PRODUCER_EPOCH,
            `producer ${producerId}: epoch ${producerEpoch} is older than the current ${known.producerEpoch}`,
          );
        }
        continue;
      }
      if (producerEpoch < 0 || baseSequence < 0 || header.lastOffsetDelta < 0) {
        return refused(
          ErrorCode.INVALID_RECORD,
          `producer ${producerId}: epoch ${producerEpoch}, base sequence ${baseSequence} and last offset delta ${header.lastOffsetDelta} must not be negative`,
        );
      }
      const lastSequence = incrementSequence(baseSequence, header.lastOffsetDelta);
      const stored = this.producers.get(producerId);
      if (
        stored !== undefined &&
        stored.producerEpoch === producerEpoch &&
        stored.batchesEpoch === producerEpoch
      ) {
        const duplicate = stored.batches.find(
          (batch) => batch.firstSequence === baseSequence && batch.lastSequence === lastSequence,
        );
        if (duplicate !== undefined) {
          if (header.isTransactional && !this.isInOpenTransaction(producerId, duplicate)) {
            return refused(
              ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
              `producer ${producerId} epoch ${producerEpoch}: sequence ${baseSequence}..${lastSequence} belongs to the batch at offset ${duplicate.firstOffset}, of a transaction that has ended; a retry belongs to the open transaction, so the sequence was reused`,
            );
          }
          return { kind: 'duplicate', firstOffset: duplicate.firstOffset, lastOffset: duplicate.lastOffset };
        }
      }
      if (
        header.isTransactional &&
        verification.required &&
        !this.ongoing.has(producerId) &&
        !pending.has(producerId) &&
        (verification.guard === undefined || this.verifications.get(producerId)?.guard !== verification.guard)
      ) {
        return refused(
          ErrorCode.INVALID_TXN_STATE,
          `producer ${producerId}: the record was not part of an ongoing transaction (not verified with the transaction coordinator)`,
        );
      }
      const current =
        pending.get(producerId) ??
        (stored === undefined
          ? undefined
          : {
              producerEpoch: stored.producerEpoch,
              // An epoch a marker started has no batches yet: its first starts at sequence 0.
              lastSequence:
                stored.batchesEpoch === stored.producerEpoch ? stored.batches.at(-1)!.lastSequence : -1,
            });
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

  /**
   * KIP-890: before asking the coordinator whether this partition is in the transaction of
   * `producerId`, the leader takes this guard and hands it to checkLeaderAppend. Undefined when the
   * producer has a transaction open here already (nothing to verify). An existing guard is reused
   * (a retry while a verification is in flight), as Kafka's maybeCreateVerificationStateEntry does.
   */
  startVerification(producerId: number, nowMs: number): VerificationGuard | undefined {
    if (this.ongoing.has(producerId)) return undefined;
    const existing = this.verifications.get(producerId);
    if (existing !== undefined) return existing.guard;
    const entry: VerificationEntry = { guard: { producerId }, createdMs: nowMs };
    this.verifications.set(producerId, entry);
    if (this.verifications.size > this.producersMax) {
      const oldest = this.verifications.keys().next().value as number;
      this.verifications.delete(oldest);
    }
    return entry.guard;
  }

  /** Whether `batch` lies in the transaction `producerId` has open on this partition. */
  private isInOpenTransaction(producerId: number, batch: ProducerBatchMetadata): boolean {
    const firstOffset = this.ongoing.get(producerId);
    return firstOffset !== undefined && batch.firstOffset >= firstOffset;
  }

  /** A batch entered the log (leader append, replication or recovery): remember it, unchecked. */
  applyBatch(batch: StoredProducerBatch, nowMs: number): void {
    if (!hasProducerState(batch)) return;
    if (batch.isTransactional && !this.ongoing.has(batch.producerId)) {
      this.ongoing.set(batch.producerId, batch.baseOffset);
      // The transaction is open: its verification is done (Kafka clears the entry on append).
      this.verifications.delete(batch.producerId);
    }
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
    if (
      previous === undefined ||
      previous.producerEpoch !== batch.producerEpoch ||
      previous.batchesEpoch !== batch.producerEpoch
    ) {
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
      batchesEpoch: batch.producerEpoch,
      lastTimestampMs: metadata.maxTimestampMs,
      coordinatorEpoch: previous?.coordinatorEpoch ?? -1,
    });
    if (this.producers.size > this.producersMax) {
      const leastRecent = this.producers.keys().next().value as number;
      this.producers.delete(leastRecent);
    }
    this.maybeExpire(nowMs);
  }

  /**
   * A transaction marker entered the log (a control batch at `batch.baseOffset`): the producer's
   * open transaction closes, as aborted or committed. The marker's epoch fences older ones: the
   * coordinator bumps the epoch when it aborts a transaction for its producer.
   */
  applyMarker(batch: StoredProducerBatch, commit: boolean, coordinatorEpoch = -1): void {
    invariant(batch.isControl, () => `batch ${batch.baseOffset} is not a control batch`);
    // A verification that started before this marker was about the transaction it closes.
    this.verifications.delete(batch.producerId);
    const firstOffset = this.ongoing.get(batch.producerId);
    if (firstOffset !== undefined) {
      this.ongoing.delete(batch.producerId);
      const closed = { producerId: batch.producerId, firstOffset, lastOffset: batch.baseOffset };
      this.completed.push(closed);
      if (!commit) {
        this.aborted.push(closed);
        if (this.aborted.length > abortedTransactionsPerPartitionMax) this.aborted.shift();
      }
    }
    const entry = this.producers.get(batch.producerId);
    if (entry !== undefined) {
      this.producers.set(batch.producerId, {
        ...entry,
        producerEpoch: Math.max(entry.producerEpoch, batch.producerEpoch),
        coordinatorEpoch: Math.max(entry.coordinatorEpoch, coordinatorEpoch),
      });
    }
  }

  /** The open transactions: producer id → first offset. */
  ongoingTransactions(): ReadonlyMap<number, number> {
    return this.ongoing;
  }

  /**
   * The last stable offset for `highWatermark`: read_committed consumers read below it. Forgets
   * the closed transactions whose marker is below the high watermark.
   */
  lastStableOffset(highWatermark: number): number {
    if (this.completed.length > 0 && this.completed[0]!.lastOffset < highWatermark) {
      this.completed = this.completed.filter((closed) => closed.lastOffset >= highWatermark);
    }
    let stable = highWatermark;
    for (const firstOffset of this.ongoing.values()) stable = Math.min(stable, firstOffset);
    for (const closed of this.completed) stable = Math.min(stable, closed.firstOffset);
    return stable;
  }

  /** The aborted transactions with records in [fetchOffset, upperBoundOffset), for a read_committed fetch. */
  abortedTransactions(fetchOffset: number, upperBoundOffset: number): AbortedTransaction[] {
    return this.aborted.filter(
      (aborted) => aborted.lastOffset >= fetchOffset && aborted.firstOffset < upperBoundOffset,
    );
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
    if ((this.aborted.at(-1)?.lastOffset ?? -1) >= logEndOffset) return false;
    if ((this.completed.at(-1)?.lastOffset ?? -1) >= logEndOffset) return false;
    for (const firstOffset of this.ongoing.values()) if (firstOffset >= logEndOffset) return false;
    return true;
  }

  /** Producers whose last batch lies below the log start (retention removed it) are forgotten, as in Kafka. */
  removeBelow(logStartOffset: number): void {
    for (const [producerId, entry] of [...this.producers]) {
      if (entry.batches.at(-1)!.lastOffset < logStartOffset) this.producers.delete(producerId);
    }
    if ((this.aborted[0]?.lastOffset ?? logStartOffset) < logStartOffset) {
      this.aborted = this.aborted.filter((aborted) => aborted.lastOffset >= logStartOffset);
    }
  }

  clear(): void {
    this.producers.clear();
    this.ongoing.clear();
    this.verifications.clear();
    this.completed = [];
    this.aborted = [];
  }

  /** Drops producers idle for producer.id.expiration.ms now, whatever the check interval says. */
  expire(nowMs: number): void {
    for (const [producerId, entry] of [...this.producers]) {
      if (nowMs - entry.lastTimestampMs >= this.expirationMs) this.producers.delete(producerId);
    }
    for (const [producerId, entry] of [...this.verifications]) {
      if (nowMs - entry.createdMs >= this.expirationMs) this.verifications.delete(producerId);
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

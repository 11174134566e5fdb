import { SeededRandom } from '@gregor/ground';
import { ErrorCode } from '@gregor/protocol';
import { describe, expect, it } from 'vitest';
import {
  incrementSequence,
  inSequence,
  type LeaderAppendCheck,
  type ProducerBatchHeader,
  ProducerStateManager,
  producerBatchesRetained,
  type StoredProducerBatch,
  sequenceMax,
} from './producer-state.js';

const nowMs = 1_700_000_000_000;

function header(
  producerId: number,
  producerEpoch: number,
  baseSequence: number,
  recordCount = 1,
  overrides: Partial<ProducerBatchHeader> = {},
): ProducerBatchHeader {
  return {
    producerId,
    producerEpoch,
    baseSequence,
    lastOffsetDelta: recordCount - 1,
    maxTimestamp: nowMs,
    isTransactional: false,
    isControl: false,
    ...overrides,
  };
}

/** A log in memory: checks like the leader, assigns offsets, remembers what it stored. */
class LeaderModel {
  readonly state = new ProducerStateManager();
  readonly stored: StoredProducerBatch[] = [];
  logEndOffset = 0;

  produce(headers: readonly ProducerBatchHeader[]): LeaderAppendCheck & { baseOffset?: number } {
    const check = this.state.checkLeaderAppend(headers, nowMs);
    if (check.kind !== 'append') return check;
    const baseOffset = this.logEndOffset;
    for (const batch of headers) {
      const stored = {
        ...batch,
        baseOffset: this.logEndOffset,
        lastOffset: this.logEndOffset + batch.lastOffsetDelta,
      };
      this.logEndOffset = stored.lastOffset + 1;
      this.stored.push(stored);
      this.state.applyBatch(stored, nowMs);
    }
    return { ...check, baseOffset };
  }
}

function rebuilt(batches: readonly StoredProducerBatch[], atMs = nowMs): ProducerStateManager {
  const state = new ProducerStateManager();
  for (const batch of batches) state.applyBatch(batch, atMs);
  state.expire(atMs);
  return state;
}

describe('sequence arithmetic', () => {
  it('wraps from int32 max to 0', () => {
    expect(incrementSequence(5, 3)).toBe(8);
    expect(incrementSequence(sequenceMax, 1)).toBe(0);
    expect(incrementSequence(sequenceMax - 1, 4)).toBe(2);
    expect(inSequence(sequenceMax, 0)).toBe(true);
    expect(inSequence(4, 5)).toBe(true);
    expect(inSequence(4, 6)).toBe(false);
    expect(inSequence(sequenceMax, sequenceMax + 1)).toBe(false);
  });
});

describe('ProducerStateManager: the leader checks', () => {
  it('accepts consecutive batches and answers a retry of any of the last five with its original offsets', () => {
    const leader = new LeaderModel();
    const offsets: number[] = [];
    for (let batch = 0; batch < 7; batch++) {
      const outcome = leader.produce([header(10, 0, batch * 3, 3)]);
      expect(outcome.kind).toBe('append');
      offsets.push(outcome.baseOffset!);
    }
    expect(offsets).toEqual([0, 3, 6, 9, 12, 15, 18]);
    for (let batch = 7 - producerBatchesRetained; batch < 7; batch++) {
      expect(leader.produce([header(10, 0, batch * 3, 3)])).toEqual({
        kind: 'duplicate',
        firstOffset: batch * 3,
        lastOffset: batch * 3 + 2,
      });
    }
    // Older than the retained batches: Kafka cannot tell it from a gap either.
    expect(leader.produce([header(10, 0, 3, 3)])).toMatchObject({
      kind: 'refused',
      errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
    });
    expect(leader.logEndOffset).toBe(21);
  });

  it('refuses a gap and a sequence range that only overlaps a stored batch', () => {
    const leader = new LeaderModel();
    leader.produce([header(1, 0, 0, 5)]);
    expect(leader.produce([header(1, 0, 6)])).toMatchObject({
      kind: 'refused',
      errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
    });
    expect(leader.produce([header(1, 0, 0, 3)])).toMatchObject({
      kind: 'refused',
      errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
    });
    expect(leader.produce([header(1, 0, 5)]).kind).toBe('append');
  });

  it('starts a new epoch at sequence 0 and fences the older epoch', () => {
    const leader = new LeaderModel();
    leader.produce([header(1, 0, 0, 2)]);
    expect(leader.produce([header(1, 1, 2)])).toMatchObject({
      kind: 'refused',
      errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
    });
    expect(leader.produce([header(1, 1, 0)]).kind).toBe('append');
    expect(leader.produce([header(1, 0, 2)])).toMatchObject({
      kind: 'refused',
      errorCode: ErrorCode.INVALID_PRODUCER_EPOCH,
    });
    // A retry from the old epoch is fenced too, not answered as a duplicate.
    expect(leader.produce([header(1, 0, 0, 2)])).toMatchObject({
      errorCode: ErrorCode.INVALID_PRODUCER_EPOCH,
    });
    expect(leader.state.entry(1)).toMatchObject({ producerEpoch: 1, batches: [{ firstOffset: 2 }] });
  });

  it('accepts any sequence from a producer it does not know (Kafka 2.5+), and keeps producers apart', () => {
    const leader = new LeaderModel();
    expect(leader.produce([header(7, 3, 42)]).kind).toBe('append');
    expect(leader.produce([header(8, 0, 0)]).kind).toBe('append');
    expect(leader.produce([header(7, 3, 43)]).kind).toBe('append');
    expect(leader.produce([header(8, 0, 1)]).kind).toBe('append');
    expect(leader.state.entries().map((entry) => [entry.producerId, entry.batches.length])).toEqual([
      [7, 2],
      [8, 2],
    ]);
  });

  it('follows sequences across the int32 wrap', () => {
    const leader = new LeaderModel();
    expect(leader.produce([header(1, 0, sequenceMax - 1, 2)]).kind).toBe('append');
    expect(leader.produce([header(1, 0, 1)])).toMatchObject({
      errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
    });
    expect(leader.produce([header(1, 0, 0, 3)]).kind).toBe('append');
    expect(leader.produce([header(1, 0, 0, 3)])).toEqual({
      kind: 'duplicate',
      firstOffset: 2,
      lastOffset: 4,
    });
    expect(leader.produce([header(1, 0, 3)]).kind).toBe('append');
  });

  it('checks the batches of one record set in order, each against the state the earlier ones leave', () => {
    const leader = new LeaderModel();
    expect(leader.produce([header(1, 0, 0, 2), header(1, 0, 2, 2), header(2, 0, 0)]).kind).toBe('append');
    expect(leader.state.entry(1)!.batches.map((batch) => batch.firstOffset)).toEqual([0, 2]);
    // The second batch has a gap after the first: nothing of the set is stored.
    expect(leader.produce([header(1, 0, 4), header(1, 0, 6)])).toMatchObject({
      errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
    });
    expect(leader.logEndOffset).toBe(5);
    // A set whose first batch was stored already is answered as that duplicate.
    expect(leader.produce([header(1, 0, 2, 2), header(1, 0, 4)])).toEqual({
      kind: 'duplicate',
      firstOffset: 2,
      lastOffset: 3,
    });
  });

  it('refuses negative producer fields; ignores batches without a producer id', () => {
    const leader = new LeaderModel();
    expect(leader.produce([header(1, -1, 0)])).toMatchObject({ errorCode: ErrorCode.INVALID_RECORD });
    expect(leader.produce([header(1, 0, -1)])).toMatchObject({ errorCode: ErrorCode.INVALID_RECORD });
    expect(leader.produce([header(-1, -1, -1), header(-1, -1, -1)]).kind).toBe('append');
    expect(leader.state.size).toBe(0);
  });
});

describe('ProducerStateManager: transactions', () => {
  const stored = (
    producerId: number,
    producerEpoch: number,
    baseOffset: number,
    overrides: Partial<ProducerBatchHeader> = {},
  ): StoredProducerBatch => ({
    ...header(producerId, producerEpoch, baseOffset, 1, { isTransactional: true, ...overrides }),
    baseOffset,
    lastOffset: baseOffset,
  });
  const marker = (producerId: number, producerEpoch: number, offset: number): StoredProducerBatch =>
    stored(producerId, producerEpoch, offset, { isControl: true, baseSequence: -1 });

  it('holds the last stable offset at the first open transaction until its marker is below the high watermark', () => {
    const state = new ProducerStateManager();
    state.applyBatch({ ...header(9, 0, 0), baseOffset: 0, lastOffset: 0 }, nowMs); // idempotent, no txn
    state.applyBatch(stored(1, 0, 1), nowMs);
    state.applyBatch(stored(2, 0, 2), nowMs);
    state.applyBatch(stored(1, 0, 3, { baseSequence: 1 }), nowMs);
    expect(state.lastStableOffset(4)).toBe(1);
    state.applyMarker(marker(1, 0, 4), true);
    // Producer 1's marker is at 4: not replicated with a high watermark of 4.
    expect(state.lastStableOffset(4)).toBe(1);
    expect(state.lastStableOffset(5)).toBe(2);
    state.applyMarker(marker(2, 0, 5), false);
    expect(state.lastStableOffset(6)).toBe(6);
    expect(state.ongoingTransactions().size).toBe(0);
  });

  it('starts the epoch a marker bumped (transactions v2) at sequence 0, with no duplicate from the old epoch', () => {
    const state = new ProducerStateManager();
    const txn = { isTransactional: true };
    state.applyBatch({ ...header(1, 3, 0, 2, txn), baseOffset: 0, lastOffset: 1 }, nowMs);
    state.applyMarker(marker(1, 4, 2), true);
    // The old epoch is fenced by the marker.
    expect(state.checkLeaderAppend([header(1, 3, 2, 1, txn)], nowMs)).toMatchObject({
      kind: 'refused',
      errorCode: ErrorCode.INVALID_PRODUCER_EPOCH,
    });
    // Only sequence 0 starts the bumped epoch.
    expect(state.checkLeaderAppend([header(1, 4, 2, 1, txn)], nowMs)).toMatchObject({
      kind: 'refused',
      errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
    });
    // Sequences 0-1 of the new epoch are new records, not the old epoch's batch at offsets 0-1.
    expect(state.checkLeaderAppend([header(1, 4, 0, 2, txn)], nowMs)).toEqual({ kind: 'append' });
    state.applyBatch({ ...header(1, 4, 0, 2, txn), baseOffset: 3, lastOffset: 4 }, nowMs);
    // From then on the epoch's own history counts: its retry is a duplicate, the next batch follows.
    expect(state.checkLeaderAppend([header(1, 4, 0, 2, txn)], nowMs)).toEqual({
      kind: 'duplicate',
      firstOffset: 3,
      lastOffset: 4,
    });
    expect(state.checkLeaderAppend([header(1, 4, 2, 1, txn)], nowMs)).toEqual({ kind: 'append' });
  });

  it('lists the aborted transactions a fetch range overlaps, and forgets them below the log start', () => {
    const state = new ProducerStateManager();
    state.applyBatch(stored(1, 0, 0), nowMs);
    state.applyMarker(marker(1, 0, 1), false);
    state.applyBatch(stored(2, 0, 2), nowMs);
    state.applyMarker(marker(2, 0, 3), true);
    state.applyBatch(stored(1, 0, 4, { baseSequence: 1 }), nowMs);
    state.applyMarker(marker(1, 0, 5), false);
    expect(state.abortedTransactions(0, 6)).toEqual([
      { producerId: 1, firstOffset: 0, lastOffset: 1 },
      { producerId: 1, firstOffset: 4, lastOffset: 5 },
    ]);
    expect(state.abortedTransactions(2, 4)).toEqual([]);
    expect(state.abortedTransactions(5, 6)).toEqual([{ producerId: 1, firstOffset: 4, lastOffset: 5 }]);
    state.removeBelow(2);
    expect(state.abortedTransactions(0, 6)).toEqual([{ producerId: 1, firstOffset: 4, lastOffset: 5 }]);
    // A truncation below a marker cannot be undone in memory: the caller rebuilds from the log.
    expect(state.truncateTo(5)).toBe(false);
  });

  it('answers a retry inside the open transaction as a duplicate, and refuses a sequence reused after the transaction ended', () => {
    const state = new ProducerStateManager();
    const transactional = (baseSequence: number) => header(1, 0, baseSequence, 1, { isTransactional: true });
    state.applyBatch(stored(1, 0, 0), nowMs); // sequence 0, offset 0: transaction A opens
    // A retry of sequence 0 while A is open: the stored batch, nothing appended.
    expect(state.checkLeaderAppend([transactional(0)], nowMs)).toEqual({
      kind: 'duplicate',
      firstOffset: 0,
      lastOffset: 0,
    });
    state.applyMarker(marker(1, 0, 1), false); // A aborted
    // What librdkafka sends after abort_transaction purged its retry of sequence 0: the next
    // transaction's record with the same sequence. A duplicate answer would acknowledge a record
    // that is never stored.
    const reused = state.checkLeaderAppend([transactional(0)], nowMs);
    expect(reused).toMatchObject({ kind: 'refused', errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER });
    expect((reused as { message: string }).message).toContain('reused');
    // The next sequence opens transaction B; within B a retry is a duplicate again.
    expect(state.checkLeaderAppend([transactional(1)], nowMs).kind).toBe('append');
    state.applyBatch(stored(1, 0, 2, { baseSequence: 1 }), nowMs);
    expect(state.checkLeaderAppend([transactional(1)], nowMs)).toMatchObject({
      kind: 'duplicate',
      firstOffset: 2,
    });
    // ...but not a batch of A, although still among the last five.
    expect(state.checkLeaderAppend([transactional(0)], nowMs)).toMatchObject({
      errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
    });
    // Idempotent producers have no transactions: a retry after any time is a duplicate, as in Kafka.
    state.applyBatch({ ...header(2, 0, 0), baseOffset: 3, lastOffset: 3 }, nowMs);
    state.applyMarker(marker(1, 0, 4), true);
    expect(state.checkLeaderAppend([header(2, 0, 0)], nowMs)).toMatchObject({
      kind: 'duplicate',
      firstOffset: 3,
    });
  });

  it('refuses a marker from a coordinator epoch older than the last marker of the producer', () => {
    const state = new ProducerStateManager();
    state.applyBatch(stored(1, 0, 0), nowMs);
    state.applyMarker(marker(1, 0, 1), true, 5);
    const markerHeader = (coordinatorEpoch: number) =>
      header(1, 0, -1, 1, {
        isTransactional: true,
        isControl: true,
        markerCoordinatorEpoch: coordinatorEpoch,
      });
    expect(state.checkLeaderAppend([markerHeader(4)], nowMs, true)).toMatchObject({
      kind: 'refused',
      errorCode: ErrorCode.TRANSACTION_COORDINATOR_FENCED,
    });
    expect(state.checkLeaderAppend([markerHeader(5)], nowMs, true).kind).toBe('append');
    expect(state.checkLeaderAppend([markerHeader(6)], nowMs, true).kind).toBe('append');
    // A producer this partition never saw: nothing to fence against.
    expect(state.checkLeaderAppend([{ ...markerHeader(0), producerId: 2 }], nowMs, true).kind).toBe('append');
  });

  it('fences the epoch a marker carries', () => {
    const state = new ProducerStateManager();
    state.applyBatch(stored(1, 3, 0), nowMs);
    state.applyMarker(marker(1, 4, 1), false);
    expect(state.checkLeaderAppend([header(1, 3, 1, 1, { isTransactional: true })], nowMs)).toMatchObject({
      errorCode: ErrorCode.INVALID_PRODUCER_EPOCH,
    });
    expect(state.checkLeaderAppend([header(1, 5, 0, 1, { isTransactional: true })], nowMs).kind).toBe(
      'append',
    );
  });
});

describe('ProducerStateManager: transaction verification (KIP-890)', () => {
  const transactional = (producerId: number, baseSequence: number) =>
    header(producerId, 0, baseSequence, 1, { isTransactional: true });
  const opened = (producerId: number, offset: number, baseSequence = 0): StoredProducerBatch => ({
    ...transactional(producerId, baseSequence),
    baseOffset: offset,
    lastOffset: offset,
  });
  const markerAt = (producerId: number, offset: number): StoredProducerBatch => ({
    ...header(producerId, 0, -1, 1, { isTransactional: true, isControl: true }),
    baseOffset: offset,
    lastOffset: offset,
  });

  it('refuses the first transactional batch of a producer without the guard taken for its verification', () => {
    const state = new ProducerStateManager();
    const refusedCheck = { kind: 'refused', errorCode: ErrorCode.INVALID_TXN_STATE };
    expect(
      state.checkLeaderAppend([transactional(1, 0)], nowMs, false, { required: true, guard: undefined }),
    ).toMatchObject(refusedCheck);
    // A guard of another producer, or one never handed out, is not this producer's.
    const otherGuard = state.startVerification(2, nowMs);
    expect(
      state.checkLeaderAppend([transactional(1, 0)], nowMs, false, { required: true, guard: otherGuard }),
    ).toMatchObject(refusedCheck);
    expect(
      state.checkLeaderAppend([transactional(1, 0)], nowMs, false, {
        required: true,
        guard: { producerId: 1 },
      }),
    ).toMatchObject(refusedCheck);
    const guard = state.startVerification(1, nowMs);
    expect(guard).toBeDefined();
    // A second verification while one is in flight shares its guard (a retry).
    expect(state.startVerification(1, nowMs)).toBe(guard);
    expect(state.checkLeaderAppend([transactional(1, 0)], nowMs, false, { required: true, guard }).kind).toBe(
      'append',
    );
    // Idempotent (non-transactional) batches need no verification; neither does anything when it is off.
    expect(
      state.checkLeaderAppend([header(3, 0, 0)], nowMs, false, { required: true, guard: undefined }).kind,
    ).toBe('append');
    expect(state.checkLeaderAppend([transactional(1, 0)], nowMs).kind).toBe('append');
  });

  it('needs no verification inside an open transaction, and a marker drops a guard taken before it', () => {
    const state = new ProducerStateManager();
    const guard = state.startVerification(1, nowMs);
    state.applyBatch(opened(1, 0), nowMs);
    // The transaction is open: nothing to verify, and the next batch needs no guard.
    expect(state.startVerification(1, nowMs)).toBeUndefined();
    expect(
      state.checkLeaderAppend([transactional(1, 1)], nowMs, false, { required: true, guard: undefined }).kind,
    ).toBe('append');
    // The guard was used up when the transaction opened.
    state.applyMarker(markerAt(1, 1), false);
    expect(state.checkLeaderAppend([transactional(1, 1)], nowMs, false, { required: true, guard }).kind).toBe(
      'refused',
    );
    // The guard: a verification starts, the transaction's marker lands before the append, and the
    // append with the guard from before the marker is refused (it would open a hanging transaction).
    const raced = state.startVerification(1, nowMs);
    state.applyMarker(markerAt(1, 2), true);
    expect(
      state.checkLeaderAppend([transactional(1, 1)], nowMs, false, { required: true, guard: raced }),
    ).toMatchObject({
      kind: 'refused',
      errorCode: ErrorCode.INVALID_TXN_STATE,
    });
    // A fresh verification after the marker gives a fresh guard that works.
    const fresh = state.startVerification(1, nowMs);
    expect(fresh).not.toBe(raced);
    expect(
      state.checkLeaderAppend([transactional(1, 1)], nowMs, false, { required: true, guard: fresh }).kind,
    ).toBe('append');
  });

  it('forgets guards after producer.id.expiration.ms and on clear', () => {
    const state = new ProducerStateManager({ producerIdExpirationMs: 1_000, expirationCheckIntervalMs: 1 });
    const guard = state.startVerification(1, nowMs);
    state.expire(nowMs + 1_000);
    expect(
      state.checkLeaderAppend([transactional(1, 0)], nowMs + 1_000, false, { required: true, guard }).kind,
    ).toBe('refused');
    const again = state.startVerification(1, nowMs + 1_000);
    expect(again).not.toBe(guard);
    state.clear();
    expect(
      state.checkLeaderAppend([transactional(1, 0)], nowMs + 1_000, false, { required: true, guard: again })
        .kind,
    ).toBe('refused');
  });
});

describe('ProducerStateManager: memory', () => {
  it('forgets producers idle for producer.id.expiration.ms, checked every interval', () => {
    const state = new ProducerStateManager({ producerIdExpirationMs: 1000, expirationCheckIntervalMs: 100 });
    state.applyBatch({ ...header(1, 0, 0), baseOffset: 0, lastOffset: 0, maxTimestamp: nowMs }, nowMs);
    state.applyBatch(
      { ...header(2, 0, 0), baseOffset: 1, lastOffset: 1, maxTimestamp: nowMs + 500 },
      nowMs + 500,
    );
    expect(state.checkLeaderAppend([header(3, 0, 0)], nowMs + 1000).kind).toBe('append');
    expect(state.entries().map((entry) => entry.producerId)).toEqual([2]);
    state.expire(nowMs + 1500);
    expect(state.size).toBe(0);
  });

  it('keeps at most producersMax producers, dropping the least recently active', () => {
    const state = new ProducerStateManager({ producersMax: 2 });
    let offset = 0;
    const apply = (producerId: number, sequence: number): void => {
      state.applyBatch({ ...header(producerId, 0, sequence), baseOffset: offset, lastOffset: offset }, nowMs);
      offset++;
    };
    apply(1, 0);
    apply(2, 0);
    apply(1, 1);
    apply(3, 0);
    expect(state.entries().map((entry) => entry.producerId)).toEqual([1, 3]);
  });

  it('forgets producers below the log start', () => {
    const state = rebuilt([
      { ...header(1, 0, 0), baseOffset: 0, lastOffset: 0 },
      { ...header(2, 0, 0), baseOffset: 1, lastOffset: 1 },
    ]);
    state.removeBelow(1);
    expect(state.entries().map((entry) => entry.producerId)).toEqual([2]);
  });
});

describe('ProducerStateManager: rebuilt from the log', () => {
  /** A random history of producers (retries, epoch bumps, several batches per set) through a leader. */
  function randomHistory(seed: number): LeaderModel {
    const random = new SeededRandom(seed);
    const leader = new LeaderModel();
    const next = new Map<number, { epoch: number; sequence: number }>();
    for (let step = 0; step < 300; step++) {
      const producerId = random.nextInt(4);
      const known = next.get(producerId) ?? { epoch: 0, sequence: 0 };
      if (random.nextInt(20) === 0) {
        known.epoch++;
        known.sequence = 0;
      }
      const headers: ProducerBatchHeader[] = [];
      for (let batch = 0, count = 1 + random.nextInt(3); batch < count; batch++) {
        const records = 1 + random.nextInt(4);
        headers.push(
          header(producerId, known.epoch, known.sequence, records, { maxTimestamp: nowMs + step }),
        );
        known.sequence = incrementSequence(known.sequence, records);
      }
      if (random.nextInt(2) === 0) headers.push(header(-1, -1, -1));
      expect(leader.produce(headers).kind).toBe('append');
      next.set(producerId, known);
      const retried = leader.stored[random.nextInt(leader.stored.length)]!;
      if (retried.producerId >= 0) leader.produce([retried]);
    }
    return leader;
  }

  it('equals the state built append by append', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const leader = randomHistory(seed);
      expect(rebuilt(leader.stored).entries(), `seed ${seed}`).toEqual(leader.state.entries());
    }
  });

  it('after a truncation is kept only when nothing remembered was cut; otherwise the log decides', () => {
    for (let seed = 1; seed <= 20; seed++) {
      const leader = randomHistory(seed);
      const before = leader.state.entries();
      expect(leader.state.truncateTo(leader.logEndOffset)).toBe(true);
      const lastBatch = leader.stored.at(-1)!;
      const lastProducerBatch = leader.stored.filter((batch) => batch.producerId >= 0).at(-1)!;
      expect(leader.state.truncateTo(lastProducerBatch.baseOffset), `seed ${seed}`).toBe(false);
      expect(leader.state.entries()).toEqual(before);
      if (lastBatch.producerId < 0) expect(leader.state.truncateTo(lastBatch.baseOffset)).toBe(true);
    }
  });
});

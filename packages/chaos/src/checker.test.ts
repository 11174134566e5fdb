import { describe, expect, it } from 'vitest';
import { type AnomalyKind, anomalyKinds, checkHistory, quantile } from './checker.js';
import type {
  FinalReadEvent,
  HistoryEvent,
  IsolationLevel,
  NoteEvent,
  PollEvent,
  ReadRecord,
  TxnRecord,
} from './history.js';

// A small history builder: a clean campaign that the checker must accept, and the same campaign
// with one anomaly planted at a time, which it must report (so the checker can fail).

let clock = 0;
const at = () => {
  clock += 10;
  return { wallMs: 1_700_000_000_000 + clock, monoMs: clock };
};

function send(
  process: string,
  partition: number,
  seq: number,
  offset: number | undefined,
  options: { acks?: 'all' | '1'; idempotent?: boolean; outcome?: 'ok' | 'fail' } = {},
): HistoryEvent[] {
  const acks = options.acks ?? 'all';
  const idempotent = options.idempotent ?? acks === 'all';
  const value = `${process}#${seq}`;
  const base = { f: 'send' as const, process, partition, value, acks, idempotent };
  const outcome = options.outcome ?? 'ok';
  return [
    { ...base, type: 'invoke', ...at() },
    outcome === 'ok'
      ? { ...base, type: 'ok', offset, ...at() }
      : { ...base, type: 'fail', error: 'timeout', ...at() },
  ];
}

const poll = (process: string, records: ReadRecord[]): HistoryEvent => ({
  f: 'poll',
  type: 'ok',
  process,
  records,
  ...at(),
});
const finalRead = (
  partition: number,
  records: ReadRecord[],
  highWatermark = records.length,
): HistoryEvent => ({
  f: 'final-read',
  type: 'ok',
  process: 'final-reader',
  partition,
  records,
  highWatermark,
  ...at(),
});
const commit = (process: string, type: 'invoke' | 'ok', offsets: Record<string, number>): HistoryEvent => ({
  f: 'commit',
  type,
  process,
  group: 'g',
  offsets,
  ...at(),
});
const hwm = (offsets: Record<string, number>): HistoryEvent => ({
  f: 'hwm',
  type: 'ok',
  process: 'observer',
  offsets,
  ...at(),
});

/** Two producers on partition 0, a consumer, commits, observations and a final read: no anomaly. */
function cleanHistory(): HistoryEvent[] {
  clock = 0;
  return [
    ...send('p1', 0, 0, 0),
    ...send('p2', 0, 0, 1),
    ...send('p1', 0, 1, 2),
    ...send('a1', 0, 0, 3, { acks: '1' }),
    ...send('p1', 0, 2, undefined, { outcome: 'fail' }),
    hwm({ 0: 2 }),
    poll('c1', [
      [0, 0, 'p1#0'],
      [0, 1, 'p2#0'],
    ]),
    commit('c1', 'invoke', { 0: 2 }),
    commit('c1', 'ok', { 0: 2 }),
    poll('c1', [
      [0, 2, 'p1#1'],
      [0, 3, 'a1#0'],
    ]),
    commit('c1', 'invoke', { 0: 4 }),
    commit('c1', 'ok', { 0: 4 }),
    hwm({ 0: 4 }),
    finalRead(0, [
      [0, 0, 'p1#0'],
      [0, 1, 'p2#0'],
      [0, 2, 'p1#1'],
      [0, 3, 'a1#0'],
    ]),
  ];
}

function only(kind: AnomalyKind, events: HistoryEvent[]): void {
  const result = checkHistory(events);
  expect(result.valid).toBe(false);
  expect(result.anomalyCounts[kind]).toBeGreaterThan(0);
  for (const other of anomalyKinds) if (other !== kind) expect(result.anomalyCounts[other], other).toBe(0);
  expect(result.anomalies.some((anomaly) => anomaly.kind === kind)).toBe(true);
}

describe('the checker', () => {
  it('accepts a clean history and counts what happened', () => {
    const result = checkHistory(cleanHistory());
    expect(result.anomalies).toEqual([]);
    expect(result.valid).toBe(true);
    expect(result.acksAllAcked).toBe(3);
    expect(result.acks1).toEqual({ acked: 1, lost: 0 });
    expect(result.finalRecords).toBe(4);
    expect(result.operations.get('p1')).toEqual({ invoke: 3, ok: 2, fail: 1, info: 0 });
  });

  it('reports an acknowledged acks=all write missing from the final read (lost write)', () => {
    const events = cleanHistory();
    const last = events[events.length - 1] as HistoryEvent & { f: 'final-read' };
    events[events.length - 1] = { ...last, records: last.records!.filter((record) => record[2] !== 'p2#0') };
    only('lost-write', events);
  });

  it('lists a lost write the client acknowledged itself (librdkafka implicit ack) apart, and reports any other', () => {
    // p2's second record (msgid 2 of partition 0) was acknowledged without an offset and is not in
    // the final read; librdkafka logged that it implicitly acked msgids `first..last` of p2 there.
    const implicitlyAcked = (first: number, last: number, offset?: number): HistoryEvent[] => {
      const events = cleanHistory();
      const sent = send('p2', 0, 1, offset);
      const note: HistoryEvent = {
        f: 'note',
        type: 'info',
        process: 'p2',
        text: 'librdkafka: chaos [0] 1 message(s) implicitly acked by subsequent batch success',
        implicitAck: { partition: 0, msgidFirst: first, msgidLast: last },
        ...at(),
      };
      events.splice(events.length - 1, 0, ...sent, note);
      return events;
    };
    const result = checkHistory(implicitlyAcked(2, 3));
    expect(result.anomalies).toEqual([]);
    expect(result.valid).toBe(true);
    expect(result.clientImplicitAckLosses).toHaveLength(1);
    expect(result.clientImplicitAckLosses[0]).toContain('"p2#1" (partition 0, msgid 2)');
    expect(result.clientImplicitAckLosses[0]).toContain('msgids 2..3');

    // Outside every logged range (msgid 2 is not in 3..5), or on another partition, it is a lost write.
    only('lost-write', implicitlyAcked(3, 5));
    const elsewhere = implicitlyAcked(2, 3);
    const note = elsewhere.find(
      (event): event is NoteEvent => event.f === 'note' && event.implicitAck !== undefined,
    )!;
    elsewhere[elsewhere.indexOf(note)] = {
      ...note,
      implicitAck: { partition: 1, msgidFirst: 2, msgidLast: 3 },
    };
    only('lost-write', elsewhere);
    // A broker's acknowledgement (with an offset) is never the client's own.
    only('lost-write', implicitlyAcked(2, 3, 4));
    // The logged range does not excuse a write of the same producer that a broker acknowledged.
    const brokerAcked = implicitlyAcked(1, 3);
    const last = brokerAcked[brokerAcked.length - 1] as HistoryEvent & { f: 'final-read' };
    brokerAcked[brokerAcked.length - 1] = {
      ...last,
      records: last.records!.filter((record) => record[2] !== 'p2#0'),
    };
    const both = checkHistory(brokerAcked);
    expect(both.anomalyCounts['lost-write']).toBe(1);
    expect(both.anomalies[0]!.message).toContain('"p2#0"');
    expect(both.clientImplicitAckLosses).toHaveLength(1);
  });

  it('counts a missing acks=1 record without calling it an anomaly', () => {
    const events = cleanHistory();
    const last = events[events.length - 1] as HistoryEvent & { f: 'final-read' };
    events[events.length - 1] = { ...last, records: last.records!.filter((record) => record[2] !== 'a1#0') };
    const result = checkHistory(events);
    expect(result.valid).toBe(true);
    expect(result.acks1).toEqual({ acked: 1, lost: 1 });
  });

  it('reports an idempotent producer value at two offsets (duplicate)', () => {
    const events = cleanHistory();
    events.splice(
      events.length - 1,
      1,
      finalRead(0, [
        [0, 0, 'p1#0'],
        [0, 1, 'p2#0'],
        [0, 2, 'p1#1'],
        [0, 3, 'a1#0'],
        [0, 4, 'p2#0'],
      ]),
    );
    only('duplicate', events);
  });

  it('counts duplicates of a producer without idempotence apart', () => {
    const events = cleanHistory();
    events.splice(
      events.length - 1,
      1,
      finalRead(0, [
        [0, 0, 'p1#0'],
        [0, 1, 'p2#0'],
        [0, 2, 'p1#1'],
        [0, 3, 'a1#0'],
        [0, 4, 'a1#0'],
      ]),
    );
    const result = checkHistory(events);
    expect(result.valid).toBe(true);
    expect(result.nonIdempotentDuplicates).toBe(1);
  });

  it("reports a producer's records out of send order (reorder)", () => {
    clock = 0;
    // Acknowledged without offsets (a client that does not report them), so only the order shows.
    only('reorder', [
      ...send('p1', 0, 0, undefined),
      ...send('p1', 0, 1, undefined),
      finalRead(0, [
        [0, 0, 'p1#1'],
        [0, 1, 'p1#0'],
      ]),
    ]);
  });

  it('reports one offset read with two values (inconsistent offsets)', () => {
    const events = cleanHistory();
    events.splice(7, 0, poll('reader', [[0, 1, 'p1#1']]));
    only('inconsistent-offset', events);
  });

  it('reports an acknowledged offset that the log holds another value at', () => {
    clock = 0;
    only('inconsistent-offset', [
      ...send('p1', 0, 0, 0),
      ...send('p1', 0, 1, 0),
      finalRead(0, [
        [0, 0, 'p1#0'],
        [0, 1, 'p1#1'],
      ]),
    ]);
  });

  it('takes an acknowledgement without an offset (null: learnt from a later answer) as no offset', () => {
    const events = cleanHistory();
    const ackIndex = events.findIndex(
      (event) => event.f === 'send' && event.type === 'ok' && event.value === 'p2#0',
    );
    events[ackIndex] = {
      ...(events[ackIndex] as HistoryEvent & { f: 'send' }),
      offset: null as unknown as number,
    };
    expect(checkHistory(events).valid).toBe(true);
  });

  it('reports a poll going backwards without a rebalance (non-monotonic poll), not after one', () => {
    const backwards = cleanHistory();
    backwards.splice(backwards.length - 1, 0, poll('c1', [[0, 1, 'p2#0']]));
    only('non-monotonic-poll', backwards);

    const afterRebalance = cleanHistory();
    afterRebalance.splice(
      afterRebalance.length - 1,
      0,
      { f: 'assign', type: 'ok', process: 'c1', partitions: [0], ...at() },
      poll('c1', [[0, 1, 'p2#0']]),
    );
    expect(checkHistory(afterRebalance).valid).toBe(true);

    const afterSeek = cleanHistory();
    afterSeek.splice(
      afterSeek.length - 1,
      0,
      { f: 'seek', type: 'ok', process: 'c1', partition: 0, offset: 0, ...at() },
      poll('c1', [[0, 0, 'p1#0']]),
    );
    expect(checkHistory(afterSeek).valid).toBe(true);
  });

  it('reports a commit acknowledged lower than one acknowledged before it was sent', () => {
    const events = cleanHistory();
    events.splice(events.length - 1, 0, commit('c2', 'invoke', { 0: 1 }), commit('c2', 'ok', { 0: 1 }));
    only('commit-backwards', events);
  });

  it('does not call a rejected or concurrent lower commit backwards', () => {
    const events = cleanHistory();
    events.splice(events.length - 1, 0, commit('c2', 'invoke', { 0: 1 }), {
      ...(commit('c2', 'ok', { 0: 1 }) as object),
      type: 'fail',
    } as HistoryEvent);
    expect(checkHistory(events).valid).toBe(true);
  });

  it('reports committed offsets observed going down', () => {
    const events = cleanHistory();
    const committed = (offset: number): HistoryEvent => ({
      f: 'committed',
      type: 'ok',
      process: 'observer',
      group: 'g',
      offsets: { 0: offset },
      ...at(),
    });
    events.splice(events.length - 1, 0, committed(4), committed(2));
    only('commit-backwards', events);
  });

  it('reports a high watermark going backwards, between observations and at the final read', () => {
    const events = cleanHistory();
    events.splice(events.length - 1, 0, hwm({ 0: 3 }));
    only('hwm-backwards', events);

    const finalBelow = cleanHistory();
    finalBelow.splice(finalBelow.length - 2, 1, hwm({ 0: 9 }));
    only('hwm-backwards', finalBelow);
  });

  it('counts a node answering in an older leader epoch as a stale leader, not an anomaly', () => {
    const events = cleanHistory();
    const answer = (node: number, hwmOffset: number, epoch: number): HistoryEvent => ({
      f: 'hwm',
      type: 'ok',
      process: 'observer',
      node,
      offsets: { 0: hwmOffset },
      epochs: { 0: epoch },
      ...at(),
    });
    // Node 1 led in epoch 3; node 2 took over in epoch 4 and moved on; node 1 still answers in 3.
    events.splice(events.length - 1, 0, answer(1, 4, 3), answer(2, 4, 4), answer(1, 3, 3));
    const result = checkHistory(events);
    expect(result.valid).toBe(true);
    expect(result.staleLeaderAnswers).toHaveLength(1);
    expect(result.staleLeaderAnswers[0]).toMatchObject({ partition: 0, node: 1, epoch: 3, newerEpoch: 4 });
    expect(result.staleLeaderAnswers[0]!.staleForMs).toBeGreaterThan(0);

    // The newest epoch answering lower than seen before is an anomaly (a new leader's lagging
    // high watermark given out).
    const lagging = cleanHistory();
    lagging.splice(lagging.length - 1, 0, answer(1, 4, 3), answer(2, 3, 4));
    only('hwm-backwards', lagging);
  });

  it('lists a duplicate after the producer began a new epoch apart, and reports one without', () => {
    const duplicated = (): HistoryEvent[] => {
      const events = cleanHistory();
      events.splice(
        events.length - 1,
        1,
        finalRead(0, [
          [0, 0, 'p1#0'],
          [0, 1, 'p2#0'],
          [0, 2, 'p1#1'],
          [0, 3, 'a1#0'],
          [0, 4, 'p1#1'],
        ]),
      );
      return events;
    };
    // p1#1 was sent (events 4-5) and acknowledged; an epoch bump of p1 between the two.
    const bumped = duplicated();
    const invokeIndex = bumped.findIndex((event) => event.f === 'send' && event.value === 'p1#1');
    const bump: HistoryEvent = {
      f: 'note',
      type: 'info',
      process: 'p1',
      text: 'librdkafka: Beginning partition drain for epoch bump',
      epochBump: true,
      wallMs: bumped[invokeIndex]!.wallMs + 1,
      monoMs: bumped[invokeIndex]!.monoMs + 1,
    };
    bumped.splice(invokeIndex + 1, 0, bump);
    const result = checkHistory(bumped);
    expect(result.valid).toBe(true);
    expect(result.clientEpochBumpDuplicates).toHaveLength(1);
    expect(result.clientEpochBumpDuplicates[0]).toContain('"p1#1"');

    // The same bump long after the acknowledgement explains nothing.
    const late = duplicated();
    late.splice(late.length - 1, 0, { ...bump, monoMs: 1e9, wallMs: 1e12 });
    only('duplicate', late);
  });

  it('does not take the re-sends after a client epoch bump for a reorder', () => {
    // p1#0 was written, then p1 bumped its epoch before its acknowledgement and sent it again
    // (librdkafka does): the second copy stands after p1#1, yet nothing was reordered.
    const events = cleanHistory();
    const firstInvoke = events.findIndex((event) => event.f === 'send' && event.value === 'p1#0');
    const bump: HistoryEvent = {
      f: 'note',
      type: 'info',
      process: 'p1',
      text: 'librdkafka: Idempotent producer state change Assigned -> DrainBump',
      epochBump: true,
      wallMs: events[firstInvoke]!.wallMs + 1,
      monoMs: events[firstInvoke]!.monoMs + 1,
    };
    events.splice(firstInvoke + 1, 0, bump);
    const resent = (records: ReadRecord[]) => {
      const copy = [...events];
      copy.splice(copy.length - 1, 1, finalRead(0, records));
      return copy;
    };
    const result = checkHistory(
      resent([
        [0, 0, 'p1#0'],
        [0, 1, 'p2#0'],
        [0, 2, 'p1#1'],
        [0, 3, 'a1#0'],
        [0, 4, 'p1#0'],
      ]),
    );
    expect(result.anomalies).toEqual([]);
    expect(result.clientEpochBumpDuplicates).toHaveLength(1);
    // A first write out of order is still a reorder, bump or not.
    only(
      'reorder',
      resent([
        [0, 0, 'p1#0'],
        [0, 1, 'p2#0'],
        [0, 2, 'p1#1'],
        [0, 3, 'a1#0'],
        [0, 4, 'p1#3'],
        [0, 5, 'p1#2'],
      ]),
    );
  });

  it('reports a final read that could not finish, and does not guess lost writes there', () => {
    const events = cleanHistory();
    events[events.length - 1] = {
      f: 'final-read',
      type: 'fail',
      process: 'final-reader',
      partition: 0,
      error: 'timed out at offset 1 of 4',
      ...at(),
    };
    only('final-read-incomplete', events);
  });

  it('measures failover after a leader kill and unavailability per fault kind', () => {
    clock = 0;
    const events: HistoryEvent[] = [...send('p1', 0, 0, 0), ...send('p1', 1, 1, 0)];
    // The kill at t=1000; partition 0 (led by the killed node) acknowledged again at 2500,
    // partition 1 kept going.
    clock = 990;
    events.push({
      f: 'fault',
      type: 'invoke',
      process: 'nemesis',
      kind: 'kill-leader',
      id: 1,
      nodes: [2],
      ledPartitions: [0],
      ...at(),
    });
    clock = 1490;
    events.push(...send('p1', 1, 2, 1));
    clock = 2000;
    events.push({ f: 'fault', type: 'ok', process: 'nemesis', kind: 'kill-leader', id: 1, ...at() });
    clock = 2480;
    events.push(...send('p1', 0, 3, 1));
    clock = 4000;
    events.push(...send('p1', 1, 4, 2), ...send('p1', 0, 5, 2));
    events.push(
      finalRead(0, [
        [0, 0, 'p1#0'],
        [0, 1, 'p1#3'],
        [0, 2, 'p1#5'],
      ]),
    );
    events.push(
      finalRead(1, [
        [1, 0, 'p1#1'],
        [1, 1, 'p1#2'],
        [1, 2, 'p1#4'],
      ]),
    );
    const result = checkHistory(events, 5_000);
    expect(result.valid).toBe(true);
    expect(result.failoverMs).toEqual([1_500]);
    const fault = result.faults[0]!;
    expect(fault.unavailableMs.get(0)).toBe(1_540);
    expect(fault.unavailableMs.get(1)).toBe(2_510);
    expect(result.availability.get('kill-leader')?.longestUnavailableMs).toBe(2_510);
  });

  it('counts acks=1 records lost during an isolation against that isolation', () => {
    clock = 0;
    const events: HistoryEvent[] = [];
    events.push({
      f: 'fault',
      type: 'invoke',
      process: 'nemesis',
      kind: 'isolate-leader',
      id: 7,
      nodes: [1],
      ledPartitions: [0],
      ...at(),
    });
    events.push(...send('a1', 0, 0, 0, { acks: '1' }), ...send('a1', 0, 1, 1, { acks: '1' }));
    events.push({ f: 'fault', type: 'ok', process: 'nemesis', kind: 'isolate-leader', id: 7, ...at() });
    events.push(finalRead(0, [[0, 0, 'p9#0']]));
    const result = checkHistory(events);
    expect(result.faults[0]!.acks1Lost).toBe(2);
    expect(result.faults[0]!.acks1Acked).toBe(2);
    expect(result.acks1.lost).toBe(2);
  });

  it('takes quantiles by nearest rank', () => {
    expect(quantile([], 0.5)).toBeUndefined();
    expect(quantile([3, 1, 2], 0.5)).toBe(2);
    expect(quantile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.99)).toBe(10);
  });
});

// Transactions: a transactional producer `tx` with one committed transaction over three partitions,
// one aborted on purpose, one of unknown outcome that committed and one of unknown outcome that
// aborted; a read_committed reader and a read_committed final read that agree with all of it.
const txn = (
  number: number,
  type: 'ok' | 'fail' | 'info',
  records: TxnRecord[],
  planned: 'commit' | 'abort' = type === 'fail' ? 'abort' : 'commit',
): HistoryEvent[] => {
  const base = { f: 'txn' as const, process: 'tx', txn: number, transactionalId: 'tx', planned, records };
  return [
    { ...base, type: 'invoke', ...at() },
    { ...base, type, ...at() },
  ];
};
const readCommitted = (
  process: string,
  records: ReadRecord[],
  isolation: IsolationLevel = 'read_committed',
): HistoryEvent => ({
  ...(poll(process, records) as PollEvent),
  isolation,
});
const committedFinalRead = (
  partition: number,
  records: ReadRecord[],
  highWatermark: number,
): HistoryEvent => ({
  ...(finalRead(partition, records, highWatermark) as FinalReadEvent),
  isolation: 'read_committed',
});

/** The final read of each partition, keyed by value, for the tests to take records out of or add. */
const txnFinal: Record<number, ReadRecord[]> = {
  0: [
    [0, 0, 'tx#0'],
    [0, 2, 'tx#5'],
  ],
  1: [
    [1, 0, 'tx#1'],
    [1, 5, 'tx#6'],
  ],
  2: [[2, 0, 'tx#2']],
};

function txnHistory(
  change: { drop?: string[]; add?: ReadRecord[]; polls?: HistoryEvent[]; before?: HistoryEvent[] } = {},
): HistoryEvent[] {
  clock = 0;
  const events: HistoryEvent[] = [
    ...(change.before ?? []),
    ...txn(0, 'ok', [
      [0, 'tx#0'],
      [1, 'tx#1'],
      [2, 'tx#2'],
    ]),
    ...txn(1, 'fail', [
      [1, 'tx#3'],
      [2, 'tx#4'],
    ]),
    ...txn(2, 'info', [
      [0, 'tx#5'],
      [1, 'tx#6'],
    ]),
    ...txn(3, 'info', [
      [2, 'tx#7'],
      [0, 'tx#8'],
    ]),
    readCommitted('reader', [
      [0, 0, 'tx#0'],
      [1, 0, 'tx#1'],
      [2, 0, 'tx#2'],
    ]),
    ...(change.polls ?? []),
  ];
  for (const [partition, records] of Object.entries(txnFinal)) {
    const kept = records.filter((record) => !(change.drop ?? []).includes(record[2]));
    const added = (change.add ?? []).filter((record) => record[0] === Number(partition));
    events.push(committedFinalRead(Number(partition), [...kept, ...added], 8));
  }
  return events;
}

describe('the checker, on transactions', () => {
  it('accepts a clean history and counts the transactions by outcome', () => {
    const result = checkHistory(txnHistory());
    expect(result.anomalies).toEqual([]);
    expect(result.transactions.get('tx')).toEqual({
      committed: 1,
      aborted: 1,
      unknown: 2,
      unknownCommitted: 1,
      unknownAborted: 1,
      plannedAborts: 1,
      committedRecords: 3,
    });
    expect(result.operations.get('tx')).toEqual({ invoke: 4, ok: 1, fail: 1, info: 2 });
  });

  it('reports a record of an aborted transaction in the read_committed final read (aborted read)', () => {
    only('aborted-read', txnHistory({ add: [[1, 2, 'tx#3']] }));
  });

  it('reports a record of an aborted transaction polled by a read_committed reader, not by a read_uncommitted one', () => {
    only('aborted-read', txnHistory({ polls: [readCommitted('member-1', [[2, 3, 'tx#4']])] }));
    // The reader's line may come before the producer's: the read still counts.
    only('aborted-read', txnHistory({ before: [readCommitted('member-1', [[2, 3, 'tx#4']])] }));
    expect(
      checkHistory(txnHistory({ polls: [readCommitted('member-1', [[2, 3, 'tx#4']], 'read_uncommitted')] }))
        .valid,
    ).toBe(true);
  });

  it('reports a record polled read_committed of a transaction of unknown outcome that the final read shows aborted', () => {
    only('aborted-read', txnHistory({ polls: [readCommitted('reader', [[2, 6, 'tx#7']])] }));
  });

  it('reports a committed transaction only partly in the final read (torn transaction)', () => {
    only('torn-transaction', txnHistory({ drop: ['tx#1'] }));
  });

  it('reports a transaction of unknown outcome only partly in the final read (torn transaction)', () => {
    only('torn-transaction', txnHistory({ drop: ['tx#6'] }));
    only('torn-transaction', txnHistory({ add: [[2, 6, 'tx#7']] }));
  });

  it('reports a committed transaction with none of its records in the final read (lost transaction)', () => {
    only('lost-transaction', txnHistory({ drop: ['tx#0', 'tx#1', 'tx#2'] }));
  });

  it('reports a record of a committed transaction written twice (duplicate), epoch bump or not', () => {
    const bump: HistoryEvent = {
      f: 'note',
      type: 'info',
      process: 'tx',
      text: 'librdkafka: Idempotent producer state change Assigned -> DrainBump',
      epochBump: true,
      ...at(),
    };
    only('duplicate', txnHistory({ before: [bump], add: [[1, 6, 'tx#1']] }));
  });

  it('does not judge a transaction on a partition the final read could not finish', () => {
    const events = txnHistory({ drop: ['tx#1'] }).filter(
      (event) => !(event.f === 'final-read' && event.partition === 1),
    );
    events.push({
      f: 'final-read',
      type: 'fail',
      process: 'final-reader',
      partition: 1,
      isolation: 'read_committed',
      error: 'the last stable offset 2 stayed below the high watermark 8 (a transaction left open)',
      ...at(),
    });
    only('final-read-incomplete', events);
  });
});

// Consume-transform-produce: `ctp` (group cg) transforms the records of `tx` and commits the group's
// offsets in the same transactions.
const ctpTxn = (number: number, records: TxnRecord[], inputs: string[]): HistoryEvent[] =>
  txn(number, 'ok', records).map(
    (event) => ({ ...event, process: 'ctp', group: 'cg', inputs }) as HistoryEvent,
  );

function transformHistory(
  change: { ctp?: HistoryEvent[]; committed?: Record<string, number>; extraFinal?: ReadRecord[] } = {},
): HistoryEvent[] {
  clock = 0;
  const events: HistoryEvent[] = [
    ...txn(0, 'ok', [
      [0, 'tx#0'],
      [1, 'tx#1'],
    ]),
    ...(change.ctp ??
      ctpTxn(
        0,
        [
          [0, 'ctp#0'],
          [1, 'ctp#1'],
        ],
        ['tx#0', 'tx#1'],
      )),
    {
      f: 'committed',
      type: 'ok',
      process: 'ctp',
      group: 'cg',
      offsets: change.committed ?? { 0: 1, 1: 1 },
      ...at(),
    },
  ];
  const final: ReadRecord[] = [
    [0, 0, 'tx#0'],
    [0, 2, 'ctp#0'],
    [1, 0, 'tx#1'],
    [1, 2, 'ctp#1'],
    ...(change.extraFinal ?? []),
  ];
  for (const partition of [0, 1])
    events.push(
      committedFinalRead(
        partition,
        final.filter((record) => record[0] === partition),
        8,
      ),
    );
  return events;
}

describe('the checker, on consume-transform-produce', () => {
  it('accepts each input transformed once', () => {
    const result = checkHistory(transformHistory());
    expect(result.anomalies).toEqual([]);
  });

  it('reports an input whose outputs of two transactions are in the final read (processed twice)', () => {
    only(
      'processed-twice',
      transformHistory({
        ctp: [
          ...ctpTxn(
            0,
            [
              [0, 'ctp#0'],
              [1, 'ctp#1'],
            ],
            ['tx#0', 'tx#1'],
          ),
          ...ctpTxn(1, [[0, 'ctp#2']], ['tx#0']),
        ],
        extraFinal: [[0, 3, 'ctp#2']],
      }),
    );
  });

  it("reports an input below the group's committed offset with no output (never processed), not one above it", () => {
    const onlyFirst = ctpTxn(0, [[0, 'ctp#0']], ['tx#0']);
    const missing = transformHistory({ ctp: onlyFirst }).map((event) =>
      event.f === 'final-read' && event.partition === 1
        ? { ...event, records: [[1, 0, 'tx#1'] as ReadRecord] }
        : event,
    );
    only('never-processed', missing);
    const notYet = transformHistory({ ctp: onlyFirst, committed: { 0: 1, 1: 0 } }).map((event) =>
      event.f === 'final-read' && event.partition === 1
        ? { ...event, records: [[1, 0, 'tx#1'] as ReadRecord] }
        : event,
    );
    expect(checkHistory(notYet).anomalies).toEqual([]);
  });
});

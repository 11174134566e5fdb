// The checker: reads a campaign's history and says what went wrong, as Jepsen's Kafka analyses do.
// Pure: events in, a result out. It is incremental (`add` one event at a time, `finish` once), so a
// running campaign can show anomalies as they appear and never holds the whole history in memory.
//
// Anomalies (each is a broken guarantee):
// - lost-write: an acks=all send was acknowledged, and the final read of its partition lacks it
//   (unless only the client acknowledged it: librdkafka's logged implicit acknowledgement, below);
// - duplicate: an idempotent producer's value stands at two offsets in the final read;
// - reorder: an idempotent producer's records of one partition are not in the order it sent them;
// - inconsistent-offset: one offset of a partition was read (or acknowledged) with two values;
// - non-monotonic-poll: a reader's offsets of a partition went backwards (or repeated) without a
//   rebalance or a seek in between;
// - commit-backwards: a group's committed offset of a partition went down, by a commit acknowledged
//   after another had been, or between two observations;
// - hwm-backwards: a partition's high watermark went down between two observations;
// - final-read-incomplete: the final read could not read a partition to its high watermark (the
//   lost-write check of that partition is then not possible);
// - aborted-read: a record of an aborted transaction returned to a read_committed reader, or in the
//   (read_committed) final read;
// - torn-transaction: a transaction committed, or of unknown outcome, with some but not all of its
//   records in the final read (a transaction is all or nothing);
// - lost-transaction: a transaction whose commit was acknowledged with none of its records in the
//   final read;
// - processed-twice: consume-transform-produce: an input record with outputs of two transactions in
//   the final read (its group's offsets were committed with the first, so the second is a re-read);
// - never-processed: an input record of the transformed producer below its group's final committed
//   offset, with no output in the final read.
//
// Counted, not anomalies: acks=1 records acknowledged and then missing (acks=1 promises nothing
// more); duplicates of producers without idempotence; duplicates of an idempotent producer that
// began a new epoch of its own accord while the value was unacknowledged (the client re-sent it as a
// new record); acks=all writes missing from the final read that no broker acknowledged, which the
// client took as written from the answer to a later batch of its own (librdkafka's implicit
// acknowledgement, logged with the msgids); answers from a node still acting as leader in an older
// epoch than one already seen (stale leaders: what a leader lease removes).

import type {
  CommitEvent,
  FaultEvent,
  HighWatermarkEvent,
  HistoryEvent,
  PollEvent,
  ReadRecord,
  SendEvent,
  TxnEvent,
  TxnRecord,
} from './history.js';
import { parseValue } from './history.js';

export const anomalyKinds = [
  'lost-write',
  'duplicate',
  'reorder',
  'inconsistent-offset',
  'non-monotonic-poll',
  'commit-backwards',
  'hwm-backwards',
  'final-read-incomplete',
  'aborted-read',
  'torn-transaction',
  'lost-transaction',
  'processed-twice',
  'never-processed',
] as const;
export type AnomalyKind = (typeof anomalyKinds)[number];

export interface Anomaly {
  readonly kind: AnomalyKind;
  readonly message: string;
}

/** How many examples of each anomaly kind the result keeps (all are counted). */
const anomalyExamplesMax = 20;
/** After a fault is healed, its effects (unavailability, acks=1 losses) are still counted this long. */
export const settleMsDefault = 5_000;

export interface FaultOutcome {
  readonly id: number;
  readonly kind: string;
  readonly target: number | undefined;
  readonly nodes: readonly number[];
  readonly ledPartitions: readonly number[];
  readonly detail: string | undefined;
  readonly startMonoMs: number;
  readonly endMonoMs: number | undefined;
  /** Kills: from the kill to the first acks=all acknowledgement on each partition the node led. */
  readonly failoverMs: ReadonlyMap<number, number | undefined>;
  /** Per partition: the longest time without an acks=all acknowledgement, from the fault's start to settle. */
  readonly unavailableMs: ReadonlyMap<number, number>;
  /** acks=1 records acknowledged between the fault's start and its settle, missing from the final read. */
  readonly acks1Lost: number;
  readonly acks1Acked: number;
  /** Stale-leader answers between the fault's start and its settle, and the longest staleness. */
  readonly staleLeaderAnswers: number;
  readonly staleLeaderMsMax: number | undefined;
}

export interface KindAvailability {
  readonly faults: number;
  readonly sends: number;
  readonly failed: number;
  /** The longest acks=all unavailability of any partition during a fault of this kind. */
  readonly longestUnavailableMs: number;
}

export interface ProcessCounts {
  invoke: number;
  ok: number;
  fail: number;
  info: number;
}

/** The transactional producers' transactions by outcome, and what the final read made of them. */
export interface TransactionCounts {
  readonly committed: number;
  readonly aborted: number;
  /** The commit failed or timed out, or the producer never said (it was killed). */
  readonly unknown: number;
  /** Of the unknown: every record in the final read (it committed), none (it aborted). */
  readonly unknownCommitted: number;
  readonly unknownAborted: number;
  /** Aborted on purpose (the workload's seeded share), of all aborted. */
  readonly plannedAborts: number;
  /** Records of committed transactions. */
  readonly committedRecords: number;
}

export interface CheckResult {
  readonly valid: boolean;
  readonly anomalyCounts: Readonly<Record<AnomalyKind, number>>;
  readonly anomalies: readonly Anomaly[];
  /** Per client process: its operations by outcome. */
  readonly operations: ReadonlyMap<string, ProcessCounts>;
  readonly operationCount: number;
  readonly recordsRead: number;
  readonly finalRecords: number;
  readonly acks1: { readonly acked: number; readonly lost: number };
  readonly acksAllAcked: number;
  readonly nonIdempotentDuplicates: number;
  /**
   * Duplicates of an idempotent producer that began a new epoch of its own accord while the value
   * was unacknowledged: the client re-sent it with new sequence numbers, which no broker can tell
   * from a new record (librdkafka issue 4953; Kafka behaves the same). Listed, not anomalies.
   */
  readonly clientEpochBumpDuplicates: readonly string[];
  /**
   * acks=all writes missing from the final read whose acknowledgement was librdkafka's own: it took
   * them as written when a later batch of the same producer and partition was acknowledged
   * ("implicitly acked by subsequent batch success", with their msgids), and no broker ever
   * acknowledged them. A client's loss, listed apart; any other lost write is an anomaly.
   */
  readonly clientImplicitAckLosses: readonly string[];
  /** Answers from nodes acting as leader in an epoch older than one already seen. */
  readonly staleLeaderAnswers: readonly StaleLeaderAnswer[];
  readonly faults: readonly FaultOutcome[];
  readonly availability: ReadonlyMap<string, KindAvailability>;
  /** Failover times of every kill of a node that led a watched partition (the worst partition each). */
  readonly failoverMs: readonly number[];
  /** Per transactional producer (process). */
  readonly transactions: ReadonlyMap<string, TransactionCounts>;
  /**
   * Clients whose process ended by itself before the campaign stopped it: not anomalies of the
   * brokers, but the verdict names them, since what they did not do was not checked.
   */
  readonly clientsEndedEarly: readonly ClientEndedEarly[];
}

export interface ClientEndedEarly {
  readonly process: string;
  readonly monoMs: number;
  readonly exitCode: number | null;
  readonly lastError: string;
}

/** A node answered as leader in an older epoch than one already seen from another. */
export interface StaleLeaderAnswer {
  readonly partition: number;
  readonly node: number | undefined;
  readonly epoch: number;
  readonly newerEpoch: number;
  readonly monoMs: number;
  /** How long after the newer epoch was first seen. */
  readonly staleForMs: number;
}

interface AckedSend {
  readonly partition: number;
  readonly okMonoMs: number;
  /** The acknowledgement named the record's offset (a broker's answer does; a client's own, not). */
  readonly withOffset: boolean;
}

interface Transaction {
  readonly process: string;
  readonly txn: number;
  readonly planned: 'commit' | 'abort';
  records: readonly TxnRecord[];
  outcome: 'committed' | 'aborted' | 'unknown';
  inputs: readonly string[] | undefined;
}

interface OpenFault {
  readonly event: FaultEvent;
  endMonoMs: number | undefined;
}

export class HistoryChecker {
  private readonly counts = Object.fromEntries(anomalyKinds.map((kind) => [kind, 0])) as Record<
    AnomalyKind,
    number
  >;
  private readonly examples: Anomaly[] = [];
  private readonly operations = new Map<string, ProcessCounts>();
  /** partition -> offset -> value, from every read and every acks=all acknowledgement. */
  private readonly offsetValues = new Map<number, Map<number, string>>();
  private readonly ackedAll = new Map<string, AckedSend>();
  private readonly acked1 = new Map<string, AckedSend>();
  /** Producers with idempotence on (by process name, from their sends). */
  private readonly idempotentProducers = new Set<string>();
  /** Every acks=all acknowledgement time per partition, in arrival order (for availability). */
  private readonly ackTimes = new Map<number, number[]>();
  /** Sends by invoke time and whether they failed (for error rates per fault). */
  private readonly sendOutcomes: Array<readonly [monoMs: number, failed: boolean]> = [];
  private readonly pendingSends = new Map<string, number>();
  /** reader process -> partition -> last offset polled. */
  private readonly pollPositions = new Map<string, Map<number, number>>();
  /** group/partition -> the highest committed offset acknowledged so far. */
  private readonly committedMax = new Map<string, number>();
  /** process -> the committedMax snapshot taken at its commit's invoke. */
  private readonly commitFloors = new Map<string, Map<string, number>>();
  private readonly observedCommitted = new Map<string, number>();
  private readonly observedHwm = new Map<number, number>();
  private readonly newestEpoch = new Map<number, { epoch: number; firstSeenMonoMs: number }>();
  private readonly staleLeaderAnswers: StaleLeaderAnswer[] = [];
  private readonly clientsEndedEarly: ClientEndedEarly[] = [];
  /** Per producer: when it began a new epoch of its own accord (see NoteEvent.epochBump). */
  private readonly epochBumps = new Map<string, number[]>();
  /** Idempotent sends: value -> invoke time (to tell which duplicates an epoch bump explains). */
  private readonly idempotentInvokes = new Map<string, number>();
  /** producer/partition -> idempotent sends invoked so far: librdkafka's msgid of the last one. */
  private readonly lastMsgids = new Map<string, number>();
  /** Idempotent sends: value -> librdkafka's msgid (its producer's nth record of its partition). */
  private readonly msgids = new Map<string, number>();
  /** producer/partition -> the msgid ranges the client acknowledged itself (NoteEvent.implicitAck). */
  private readonly implicitAcks = new Map<string, { first: number; last: number }[]>();
  private readonly finalReads = new Map<
    number,
    { records: ReadRecord[]; complete: boolean; readCommitted: boolean; hwm?: number }
  >();
  private readonly faults = new Map<number, OpenFault>();
  /** process/txn -> the transaction (unknown until its end event says otherwise). */
  private readonly transactions = new Map<string, Transaction>();
  /** Producers seen in send or txn events; those of txn events are transactional. */
  private readonly knownProducers = new Set<string>();
  private readonly transactionalProducers = new Set<string>();
  /**
   * Values of transactional producers (or of producers not seen yet: a reader's line can arrive
   * before its producer's) that a read_committed reader returned: value -> where, the first time.
   */
  private readonly committedReads = new Map<string, string>();
  /** Consume-transform-produce groups -> the producers whose records they transform. */
  private readonly transformingGroups = new Map<string, Set<string>>();
  private recordsRead = 0;
  private operationCount = 0;

  constructor(private readonly settleMs = settleMsDefault) {}

  anomalyCount(): number {
    return Object.values(this.counts).reduce((sum, count) => sum + count, 0);
  }

  opCount(): number {
    return this.operationCount;
  }

  faultCount(): number {
    return this.faults.size;
  }

  private report(kind: AnomalyKind, message: string): void {
    this.counts[kind]++;
    if (this.examples.filter((example) => example.kind === kind).length < anomalyExamplesMax)
      this.examples.push({ kind, message });
  }

  private count(event: HistoryEvent): void {
    if (event.f === 'fault' || event.f === 'note' || event.f === 'leaders') return;
    let counts = this.operations.get(event.process);
    if (counts === undefined) {
      counts = { invoke: 0, ok: 0, fail: 0, info: 0 };
      this.operations.set(event.process, counts);
    }
    counts[event.type]++;
    if (event.type !== 'invoke' && event.f !== 'hwm' && event.f !== 'committed') this.operationCount++;
  }

  add(event: HistoryEvent): void {
    this.count(event);
    switch (event.f) {
      case 'send':
        this.addSend(event);
        break;
      case 'poll':
        if (event.type === 'ok') this.addPoll(event);
        break;
      case 'txn':
        this.addTxn(event);
        break;
      case 'assign':
        this.pollPositions.delete(event.process);
        break;
      case 'seek':
        this.pollPositions.get(event.process)?.delete(event.partition);
        break;
      case 'commit':
        this.addCommit(event);
        break;
      case 'committed':
        for (const [partition, offset] of Object.entries(event.offsets)) {
          const key = `${event.group}/${partition}`;
          const before = this.observedCommitted.get(key);
          if (before !== undefined && offset < before)
            this.report(
              'commit-backwards',
              `group ${event.group} partition ${partition}: committed offset observed at ${before}, then at ${offset} (wall ${iso(event.wallMs)})`,
            );
          if (before === undefined || offset > before) this.observedCommitted.set(key, offset);
        }
        break;
      case 'hwm':
        this.addHighWatermarks(event);
        break;
      case 'final-read':
        this.addFinalRead(event);
        break;
      case 'note':
        if (event.endedEarly !== undefined)
          this.clientsEndedEarly.push({
            process: event.process,
            monoMs: event.monoMs,
            exitCode: event.endedEarly.exitCode,
            lastError: event.endedEarly.lastError,
          });
        if (event.epochBump === true) {
          const bumps = this.epochBumps.get(event.process) ?? [];
          bumps.push(event.monoMs);
          this.epochBumps.set(event.process, bumps);
        }
        if (event.implicitAck !== undefined) {
          const key = `${event.process}/${event.implicitAck.partition}`;
          const ranges = this.implicitAcks.get(key) ?? [];
          ranges.push({ first: event.implicitAck.msgidFirst, last: event.implicitAck.msgidLast });
          this.implicitAcks.set(key, ranges);
        }
        break;
      case 'fault':
        if (event.type === 'invoke') this.faults.set(event.id, { event, endMonoMs: undefined });
        else {
          const open = this.faults.get(event.id);
          if (open !== undefined) open.endMonoMs = event.monoMs;
        }
        break;
      default:
        break;
    }
  }

  /**
   * A node's high watermarks, each with the leader epoch it answered in. An answer in an older epoch
   * than one already seen comes from a node that lost the leadership and still acts as leader: a
   * stale-leader answer, counted (what a leader lease removes), not an anomaly, since a client that
   * sends its current leader epoch (KIP-320) is refused there. A lower high watermark in the newest
   * epoch seen, or without epochs, is an anomaly.
   */
  private addHighWatermarks(event: HighWatermarkEvent): void {
    for (const [partitionText, offset] of Object.entries(event.offsets)) {
      const partition = Number(partitionText);
      const epoch = event.epochs?.[partitionText];
      if (epoch !== undefined) {
        const newest = this.newestEpoch.get(partition);
        if (newest !== undefined && epoch < newest.epoch) {
          this.staleLeaderAnswers.push({
            partition,
            node: event.node,
            epoch,
            newerEpoch: newest.epoch,
            monoMs: event.monoMs,
            staleForMs: event.monoMs - newest.firstSeenMonoMs,
          });
          continue;
        }
        if (newest === undefined || epoch > newest.epoch)
          this.newestEpoch.set(partition, { epoch, firstSeenMonoMs: event.monoMs });
      }
      const before = this.observedHwm.get(partition);
      if (before !== undefined && offset < before)
        this.report(
          'hwm-backwards',
          `partition ${partition}: high watermark observed at ${before}, then at ${offset}${epoch === undefined ? '' : ` from node ${event.node} in leader epoch ${epoch}`} (wall ${iso(event.wallMs)})`,
        );
      if (before === undefined || offset > before) this.observedHwm.set(partition, offset);
    }
  }

  private addSend(event: SendEvent): void {
    this.knownProducers.add(parseValue(event.value)?.producer ?? event.process);
    if (event.idempotent) this.idempotentProducers.add(parseValue(event.value)?.producer ?? event.process);
    if (event.type === 'invoke') {
      this.pendingSends.set(event.value, event.monoMs);
      if (event.idempotent) {
        this.idempotentInvokes.set(event.value, event.monoMs);
        const key = `${parseValue(event.value)?.producer ?? event.process}/${event.partition}`;
        const msgid = (this.lastMsgids.get(key) ?? 0) + 1;
        this.lastMsgids.set(key, msgid);
        this.msgids.set(event.value, msgid);
      }
      return;
    }
    const invokedMonoMs = this.pendingSends.get(event.value) ?? event.monoMs;
    this.pendingSends.delete(event.value);
    this.sendOutcomes.push([invokedMonoMs, event.type !== 'ok']);
    if (event.type !== 'ok') return;
    const acked = {
      partition: event.partition,
      okMonoMs: event.monoMs,
      withOffset: typeof event.offset === 'number' && event.offset >= 0,
    };
    if (event.acks === 'all') {
      this.ackedAll.set(event.value, acked);
      let times = this.ackTimes.get(event.partition);
      if (times === undefined) {
        times = [];
        this.ackTimes.set(event.partition, times);
      }
      times.push(event.monoMs);
      // No offset (null) when the client learnt of the write only from the answer to a later one.
      if (typeof event.offset === 'number' && event.offset >= 0)
        this.observeOffset(event.partition, event.offset, event.value, `ack to ${event.process}`);
    } else {
      this.acked1.set(event.value, acked);
    }
  }

  /**
   * A transaction's begin (its planned records) or end (ok: committed, fail: aborted, info:
   * unknown). A transactional producer is idempotent: its values follow the duplicate and reorder
   * rules too, and no epoch bump explains a duplicate of a committed transaction.
   */
  private addTxn(event: TxnEvent): void {
    const key = `${event.process}/${event.txn}`;
    for (const [, value] of event.records) {
      const producer = parseValue(value)?.producer ?? event.process;
      this.knownProducers.add(producer);
      this.transactionalProducers.add(producer);
      this.idempotentProducers.add(producer);
    }
    const known = this.transactions.get(key);
    if (event.type === 'invoke' || known === undefined) {
      this.transactions.set(key, {
        process: event.process,
        txn: event.txn,
        planned: event.planned,
        records: event.records,
        outcome: 'unknown',
        inputs: event.inputs,
      });
      if (event.type === 'invoke') return;
    }
    if (event.group !== undefined && event.inputs !== undefined) {
      const sources = this.transformingGroups.get(event.group) ?? new Set<string>();
      for (const input of event.inputs) sources.add(parseValue(input)?.producer ?? input);
      this.transformingGroups.set(event.group, sources);
    }
    const transaction = this.transactions.get(key)!;
    transaction.records = event.records;
    transaction.inputs = event.inputs;
    transaction.outcome = event.type === 'ok' ? 'committed' : event.type === 'fail' ? 'aborted' : 'unknown';
  }

  private observeOffset(partition: number, offset: number, value: string, source: string): void {
    let values = this.offsetValues.get(partition);
    if (values === undefined) {
      values = new Map();
      this.offsetValues.set(partition, values);
    }
    const before = values.get(offset);
    if (before === undefined) values.set(offset, value);
    else if (before !== value)
      this.report(
        'inconsistent-offset',
        `partition ${partition} offset ${offset}: ${JSON.stringify(before)} earlier, ${JSON.stringify(value)} in ${source}`,
      );
  }

  private addPoll(event: PollEvent): void {
    let positions = this.pollPositions.get(event.process);
    if (positions === undefined) {
      positions = new Map();
      this.pollPositions.set(event.process, positions);
    }
    const readCommitted = event.isolation === 'read_committed';
    for (const [partition, offset, value] of event.records) {
      this.recordsRead++;
      this.observeOffset(partition, offset, value, `a poll by ${event.process}`);
      if (readCommitted && !this.committedReads.has(value)) {
        const producer = parseValue(value)?.producer;
        if (
          producer !== undefined &&
          (this.transactionalProducers.has(producer) || !this.knownProducers.has(producer))
        )
          this.committedReads.set(
            value,
            `${event.process} (read_committed) polled it at offset ${offset} of partition ${partition} (wall ${iso(event.wallMs)})`,
          );
      }
      const last = positions.get(partition);
      if (last !== undefined && offset <= last)
        this.report(
          'non-monotonic-poll',
          `${event.process} partition ${partition}: offset ${offset} after ${last} with no rebalance or seek between (wall ${iso(event.wallMs)})`,
        );
      positions.set(partition, offset);
    }
  }

  private addCommit(event: CommitEvent): void {
    if (event.type === 'invoke') {
      const floors = new Map<string, number>();
      for (const partition of Object.keys(event.offsets)) {
        const key = `${event.group}/${partition}`;
        const floor = this.committedMax.get(key);
        if (floor !== undefined) floors.set(key, floor);
      }
      this.commitFloors.set(event.process, floors);
      return;
    }
    const floors = this.commitFloors.get(event.process);
    this.commitFloors.delete(event.process);
    if (event.type !== 'ok') return;
    for (const [partition, offset] of Object.entries(event.offsets)) {
      const key = `${event.group}/${partition}`;
      const floor = floors?.get(key);
      if (floor !== undefined && offset < floor)
        this.report(
          'commit-backwards',
          `group ${event.group} partition ${partition}: ${event.process} committed ${offset} after a commit of ${floor} had been acknowledged (wall ${iso(event.wallMs)})`,
        );
      if ((this.committedMax.get(key) ?? -1) < offset) this.committedMax.set(key, offset);
    }
  }

  private addFinalRead(event: HistoryEvent & { f: 'final-read' }): void {
    let read = this.finalReads.get(event.partition);
    if (read === undefined) {
      read = { records: [], complete: false, readCommitted: true };
      this.finalReads.set(event.partition, read);
    }
    if (event.isolation !== 'read_committed') read.readCommitted = false;
    if (event.type === 'ok') {
      for (const record of event.records ?? []) {
        read.records.push(record);
        this.observeOffset(record[0], record[1], record[2], 'the final read');
      }
      if (event.highWatermark !== undefined) {
        read.complete = true;
        read.hwm = event.highWatermark;
      }
    } else if (event.type === 'fail') {
      read.complete = false;
      this.report(
        'final-read-incomplete',
        `partition ${event.partition}: the final read failed (${event.error ?? 'no reason given'})`,
      );
    }
  }

  finish(): CheckResult {
    // Acknowledgements arrive from several clients, each a little late: order them by time.
    for (const times of this.ackTimes.values()) times.sort((a, b) => a - b);
    // The final read: which values stand where.
    const finalValues = new Map<string, number>();
    const unreadablePartitions = new Set<number>();
    let finalRecords = 0;
    let nonIdempotentDuplicates = 0;
    const clientEpochBumpDuplicates: string[] = [];
    for (const [partition, read] of this.finalReads) {
      if (!read.complete) {
        unreadablePartitions.add(partition);
        continue;
      }
      const observedHwm = this.observedHwm.get(partition);
      if (read.hwm !== undefined && observedHwm !== undefined && read.hwm < observedHwm)
        this.report(
          'hwm-backwards',
          `partition ${partition}: high watermark observed at ${observedHwm}, the final read found ${read.hwm}`,
        );
      const lastSeqByProducer = new Map<string, { seq: number; offset: number }>();
      const byOffset = [...read.records].sort((a, b) => a[1] - b[1]);
      for (const [, offset, value] of byOffset) {
        finalRecords++;
        const seen = finalValues.get(value);
        const parsed = parseValue(value);
        const idempotent = parsed !== undefined && this.idempotentProducers.has(parsed.producer);
        if (seen !== undefined) {
          if (!idempotent) nonIdempotentDuplicates++;
          else if (this.explainedByEpochBump(parsed!.producer, value))
            clientEpochBumpDuplicates.push(
              `${JSON.stringify(value)} at offsets ${seen} and ${offset} of partition ${partition}, after ${parsed!.producer} began a new epoch`,
            );
          else
            this.report(
              'duplicate',
              `${JSON.stringify(value)} at offsets ${seen} and ${offset} of partition ${partition}`,
            );
        } else {
          finalValues.set(value, offset);
        }
        // Order is judged on each value's first write: a second copy is the duplicate rule's to judge
        // (an anomaly unless a client epoch bump explains it). A re-send after a bump writes again
        // records already written, so it always stands after later ones.
        if (parsed !== undefined && idempotent && seen === undefined) {
          const last = lastSeqByProducer.get(parsed.producer);
          if (last !== undefined && parsed.seq < last.seq)
            this.report(
              'reorder',
              `partition ${partition}: ${parsed.producer}'s record #${parsed.seq} at offset ${offset} after its #${last.seq} at offset ${last.offset}`,
            );
          if (last === undefined || parsed.seq > last.seq)
            lastSeqByProducer.set(parsed.producer, { seq: parsed.seq, offset });
        }
      }
    }
    const haveFinalRead = this.finalReads.size > 0;
    const clientImplicitAckLosses: string[] = [];
    if (haveFinalRead) {
      for (const [value, acked] of this.ackedAll) {
        if (unreadablePartitions.has(acked.partition) || !this.finalReads.has(acked.partition)) continue;
        if (finalValues.has(value)) continue;
        // A broker's acknowledgement carries the record's offset; the client's own has none.
        const implicitAck = acked.withOffset ? undefined : this.implicitAckOf(value, acked.partition);
        if (implicitAck !== undefined)
          clientImplicitAckLosses.push(
            `${JSON.stringify(value)} (partition ${acked.partition}, msgid ${implicitAck.msgid}): implicitly acked by the client (msgids ${implicitAck.first}..${implicitAck.last}), never acknowledged by a broker, not in the final read`,
          );
        else
          this.report(
            'lost-write',
            `${JSON.stringify(value)} (partition ${acked.partition}) was acknowledged with acks=all and is not in the final read`,
          );
      }
    }
    const transactions = this.checkTransactions(finalValues);
    const acks1LostTimes: number[] = [];
    if (haveFinalRead)
      for (const [value, acked] of this.acked1)
        if (this.finalReads.get(acked.partition)?.complete && !finalValues.has(value))
          acks1LostTimes.push(acked.okMonoMs);
    const acked1Times = [...this.acked1.values()].map((acked) => acked.okMonoMs);

    const faults = [...this.faults.values()].map((open) =>
      this.faultOutcome(open, acks1LostTimes, acked1Times),
    );
    const availability = new Map<string, KindAvailability>();
    for (const outcome of faults) {
      const end = (outcome.endMonoMs ?? outcome.startMonoMs) + this.settleMs;
      let sends = 0;
      let failed = 0;
      for (const [monoMs, didFail] of this.sendOutcomes)
        if (monoMs >= outcome.startMonoMs && monoMs <= end) {
          sends++;
          if (didFail) failed++;
        }
      const before = availability.get(outcome.kind) ?? {
        faults: 0,
        sends: 0,
        failed: 0,
        longestUnavailableMs: 0,
      };
      availability.set(outcome.kind, {
        faults: before.faults + 1,
        sends: before.sends + sends,
        failed: before.failed + failed,
        longestUnavailableMs: Math.max(before.longestUnavailableMs, ...outcome.unavailableMs.values()),
      });
    }
    const failoverMs = faults
      .filter((outcome) => outcome.kind.startsWith('kill-') && outcome.failoverMs.size > 0)
      .map((outcome) =>
        Math.max(...[...outcome.failoverMs.values()].map((ms) => ms ?? Number.POSITIVE_INFINITY)),
      )
      .filter((ms) => Number.isFinite(ms));

    return {
      valid: this.anomalyCount() === 0,
      anomalyCounts: { ...this.counts },
      anomalies: [...this.examples],
      operations: this.operations,
      operationCount: this.operationCount,
      recordsRead: this.recordsRead,
      finalRecords,
      acks1: { acked: this.acked1.size, lost: acks1LostTimes.length },
      acksAllAcked: this.ackedAll.size,
      nonIdempotentDuplicates,
      clientEpochBumpDuplicates,
      clientImplicitAckLosses,
      clientsEndedEarly: this.clientsEndedEarly,
      staleLeaderAnswers: [...this.staleLeaderAnswers],
      faults,
      availability,
      failoverMs,
      transactions,
    };
  }

  /**
   * Every transaction against the final read (only records of partitions read completely count):
   * committed ones whole, aborted ones absent (from it if it read committed, and from every
   * read_committed poll), unknown ones all or nothing.
   */
  private checkTransactions(finalValues: ReadonlyMap<string, number>): Map<string, TransactionCounts> {
    const byProcess = new Map<string, { -readonly [key in keyof TransactionCounts]: number }>();
    for (const transaction of this.transactions.values()) {
      let counts = byProcess.get(transaction.process);
      if (counts === undefined) {
        counts = {
          committed: 0,
          aborted: 0,
          unknown: 0,
          unknownCommitted: 0,
          unknownAborted: 0,
          plannedAborts: 0,
          committedRecords: 0,
        };
        byProcess.set(transaction.process, counts);
      }
      counts[transaction.outcome]++;
      if (transaction.outcome === 'aborted' && transaction.planned === 'abort') counts.plannedAborts++;
      if (transaction.outcome === 'committed') counts.committedRecords += transaction.records.length;
      const name = `transaction ${transaction.txn} of ${transaction.process}`;
      if (transaction.outcome === 'aborted') {
        for (const [partition, value] of transaction.records) {
          const polled = this.committedReads.get(value);
          if (polled !== undefined)
            this.report('aborted-read', `${JSON.stringify(value)} of aborted ${name}: ${polled}`);
          const read = this.finalReads.get(partition);
          const offset = finalValues.get(value);
          if (offset !== undefined && read?.readCommitted === true)
            this.report(
              'aborted-read',
              `${JSON.stringify(value)} of aborted ${name} is in the read_committed final read at offset ${offset} of partition ${partition}`,
            );
        }
        continue;
      }
      const judged = transaction.records.filter(
        ([partition]) => this.finalReads.get(partition)?.complete === true,
      );
      if (judged.length === 0) continue;
      const missing = judged.filter(([, value]) => !finalValues.has(value));
      const describeRecords = (records: readonly TxnRecord[]) =>
        records
          .slice(0, 6)
          .map(([partition, value]) => `${JSON.stringify(value)} on partition ${partition}`)
          .join(', ') + (records.length > 6 ? ', ...' : '');
      if (transaction.outcome === 'committed' && missing.length === judged.length)
        this.report(
          'lost-transaction',
          `${name} was committed and none of its ${judged.length} records is in the final read (${describeRecords(judged)})`,
        );
      else if (missing.length > 0 && missing.length < judged.length)
        this.report(
          'torn-transaction',
          `${name} (${transaction.outcome === 'committed' ? 'committed' : 'outcome unknown'}): ${judged.length - missing.length} of its ${judged.length} records in the final read, missing ${describeRecords(missing)}`,
        );
      else if (transaction.outcome === 'unknown') {
        if (missing.length === 0) counts.unknownCommitted++;
        else {
          counts.unknownAborted++;
          // The final read says it aborted: no read_committed reader may have seen any of it.
          for (const [, value] of judged) {
            const polled = this.committedReads.get(value);
            if (polled !== undefined)
              this.report(
                'aborted-read',
                `${JSON.stringify(value)} of ${name} (outcome unknown, none of it in the final read): ${polled}`,
              );
          }
        }
      }
    }
    this.checkTransforms(finalValues);
    return byProcess;
  }

  /**
   * Consume-transform-produce, exactly once: each input record's output is in the final read at
   * most once, and at least once when the input lies below its group's last committed offset.
   */
  private checkTransforms(finalValues: ReadonlyMap<string, number>): void {
    if (this.transformingGroups.size === 0) return;
    const outputsOf = new Map<string, string[]>();
    for (const transaction of this.transactions.values()) {
      if (transaction.inputs === undefined) continue;
      transaction.records.forEach(([, output], index) => {
        const input = transaction.inputs![index];
        if (input === undefined || !finalValues.has(output)) return;
        const outputs = outputsOf.get(input) ?? [];
        outputs.push(`${JSON.stringify(output)} (transaction ${transaction.txn} of ${transaction.process})`);
        outputsOf.set(input, outputs);
      });
    }
    for (const [input, outputs] of outputsOf)
      if (outputs.length > 1)
        this.report(
          'processed-twice',
          `${JSON.stringify(input)} was transformed into ${outputs.join(' and ')}, all in the final read`,
        );
    for (const [group, sources] of this.transformingGroups)
      for (const [partition, read] of this.finalReads) {
        if (!read.complete) continue;
        const committed = this.observedCommitted.get(`${group}/${partition}`);
        if (committed === undefined) continue;
        for (const [, offset, value] of read.records) {
          const producer = parseValue(value)?.producer;
          if (offset < committed && producer !== undefined && sources.has(producer) && !outputsOf.has(value))
            this.report(
              'never-processed',
              `${JSON.stringify(value)} at offset ${offset} of partition ${partition}, below group ${group}'s committed offset ${committed}, has no output in the final read`,
            );
        }
      }
  }

  /**
   * The client's own acknowledgement of `value`, if librdkafka logged one: its msgid lies in a range
   * its producer said it implicitly acked on `partition`.
   */
  private implicitAckOf(
    value: string,
    partition: number,
  ): { msgid: number; first: number; last: number } | undefined {
    const msgid = this.msgids.get(value);
    const producer = parseValue(value)?.producer;
    if (msgid === undefined || producer === undefined) return undefined;
    const range = this.implicitAcks
      .get(`${producer}/${partition}`)
      ?.find((candidate) => msgid >= candidate.first && msgid <= candidate.last);
    return range === undefined ? undefined : { msgid, ...range };
  }

  /** Whether `producer` bumped its epoch between sending `value` and its acknowledgement (if any). */
  private explainedByEpochBump(producer: string, value: string): boolean {
    const invoked = this.idempotentInvokes.get(value);
    const bumps = this.epochBumps.get(producer);
    if (invoked === undefined || bumps === undefined) return false;
    const acked = this.ackedAll.get(value)?.okMonoMs ?? Number.POSITIVE_INFINITY;
    return bumps.some((monoMs) => monoMs >= invoked && monoMs <= acked);
  }

  private faultOutcome(open: OpenFault, acks1LostTimes: number[], acked1Times: number[]): FaultOutcome {
    const { event } = open;
    const start = event.monoMs;
    const settleEnd = (open.endMonoMs ?? start) + this.settleMs;
    const failoverMs = new Map<number, number | undefined>();
    if (event.kind.startsWith('kill-'))
      for (const partition of event.ledPartitions ?? []) {
        const first = (this.ackTimes.get(partition) ?? []).find((monoMs) => monoMs > start);
        failoverMs.set(partition, first === undefined ? undefined : first - start);
      }
    const unavailableMs = new Map<number, number>();
    for (const [partition, times] of this.ackTimes) {
      let previous = start;
      let longest = 0;
      let ackedAfter = false;
      for (const monoMs of times) {
        if (monoMs <= start) continue;
        longest = Math.max(longest, monoMs - previous);
        previous = monoMs;
        ackedAfter = true;
        if (monoMs > settleEnd) break;
      }
      // Never acknowledged again: unavailable at least until the settle ended.
      if (!ackedAfter) longest = settleEnd - start;
      unavailableMs.set(partition, Math.round(longest));
    }
    const inWindow = (monoMs: number) => monoMs >= start && monoMs <= settleEnd;
    const stale = this.staleLeaderAnswers.filter((answer) => inWindow(answer.monoMs));
    return {
      id: event.id,
      kind: event.kind,
      target: event.target,
      nodes: event.nodes ?? [],
      ledPartitions: event.ledPartitions ?? [],
      detail: event.detail,
      startMonoMs: start,
      endMonoMs: open.endMonoMs,
      failoverMs,
      unavailableMs,
      acks1Lost: acks1LostTimes.filter(inWindow).length,
      acks1Acked: acked1Times.filter(inWindow).length,
      staleLeaderAnswers: stale.length,
      staleLeaderMsMax:
        stale.length === 0 ? undefined : Math.max(...stale.map((answer) => answer.staleForMs)),
    };
  }
}

/** Checks a whole history at once. */
export function checkHistory(events: Iterable<HistoryEvent>, settleMs = settleMsDefault): CheckResult {
  const checker = new HistoryChecker(settleMs);
  for (const event of events) checker.add(event);
  return checker.finish();
}

/** The value at quantile `q` (0..1) of `values` (nearest rank), or undefined for none. */
export function quantile(values: readonly number[], q: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

function iso(wallMs: number): string {
  return new Date(wallMs).toISOString();
}

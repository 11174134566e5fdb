// The recorded history of a campaign: one JSON object a line, in the order the driver learnt of
// each event. Every client operation is an `invoke` followed by `ok` (it happened), `fail` (it did
// not happen, or may have: a send that failed may still have been written) or `info` (unknown),
// as in Jepsen's histories. Faults and observations are events too, so one file tells the whole
// story and the checker needs nothing else.
//
// Times: `wallMs` is the wall clock (Date.now / time.time), `monoMs` the system-wide
// CLOCK_MONOTONIC in milliseconds (process.hrtime / time.monotonic_ns), the same clock in every
// process on the machine, so events from different clients can be ordered and subtracted.

export type EventType = 'invoke' | 'ok' | 'fail' | 'info';

/** One record as a reader saw it: [partition, offset, value]. */
export type ReadRecord = readonly [partition: number, offset: number, value: string];

interface EventBase {
  readonly type: EventType;
  /** The client (or `nemesis`, `observer`, `driver`) the event belongs to. */
  readonly process: string;
  readonly wallMs: number;
  readonly monoMs: number;
}

/** A produce of one record. `value` is `<process>#<seq>`, unique in the campaign. */
export interface SendEvent extends EventBase {
  readonly f: 'send';
  readonly partition: number;
  readonly value: string;
  readonly acks: 'all' | '1';
  readonly idempotent: boolean;
  /** On `ok`: the offset the broker acknowledged. */
  readonly offset?: number;
  readonly error?: string;
}

/** How a reader reads: read_committed readers must never see a record of an aborted transaction. */
export type IsolationLevel = 'read_committed' | 'read_uncommitted';

/** Records a consumer or reader got from one poll (`ok`), in the order the client returned them. */
export interface PollEvent extends EventBase {
  readonly f: 'poll';
  readonly records: readonly ReadRecord[];
  readonly group?: string;
  /** Unset in histories from before transactions: read as read_uncommitted (nothing is assumed). */
  readonly isolation?: IsolationLevel;
}

/** One record of a transaction: [partition, value]; the value is `<process>#<seq>` as a send's. */
export type TxnRecord = readonly [partition: number, value: string];

/**
 * A transaction of a transactional producer: `invoke` when it begins, with the records planned;
 * then `ok` (committed: commit_transaction returned), `fail` (aborted: no commit was ever asked for,
 * so it cannot have committed) or `info` (unknown: a commit was asked for and failed or timed out,
 * so it is committed or aborted, all or nothing). The end event lists the records handed to the
 * producer.
 */
export interface TxnEvent extends EventBase {
  readonly f: 'txn';
  /** The transaction's number in its producer's run. */
  readonly txn: number;
  readonly transactionalId: string;
  /** What the workload meant to do with it (a seeded share is aborted). */
  readonly planned: 'commit' | 'abort';
  readonly records: readonly TxnRecord[];
  readonly error?: string;
  /**
   * Consume-transform-produce: the input value each record transforms (records[i] from inputs[i]),
   * and the group whose consumed offsets the transaction commits (send_offsets_to_transaction).
   */
  readonly inputs?: readonly string[];
  readonly group?: string;
}

/** A group member's assignment after a rebalance (`ok`), or its revocation (`info`, empty). */
export interface AssignEvent extends EventBase {
  readonly f: 'assign';
  readonly partitions: readonly number[];
  readonly group?: string;
}

/** A reader moved its position on purpose (a seek): offsets may go back after it. */
export interface SeekEvent extends EventBase {
  readonly f: 'seek';
  readonly partition: number;
  readonly offset: number;
}

/** A group member's offset commit: partition -> next offset to read. */
export interface CommitEvent extends EventBase {
  readonly f: 'commit';
  readonly group: string;
  readonly offsets: Readonly<Record<string, number>>;
  readonly error?: string;
}

/** An observation of a group's committed offsets (OffsetFetch), `ok` only. */
export interface CommittedEvent extends EventBase {
  readonly f: 'committed';
  readonly group: string;
  readonly offsets: Readonly<Record<string, number>>;
}

/**
 * An observation of high watermarks (ListOffsets latest), `ok` only: what `node` answered for the
 * partitions it answered as leader, and the leader epoch of each answer.
 */
export interface HighWatermarkEvent extends EventBase {
  readonly f: 'hwm';
  readonly offsets: Readonly<Record<string, number>>;
  readonly epochs?: Readonly<Record<string, number>>;
  readonly node?: number;
}

/** Who led each partition and who was the active controller, as the observer saw it. */
export interface LeadersEvent extends EventBase {
  readonly f: 'leaders';
  readonly leaders: Readonly<Record<string, number>>;
  readonly controller: number;
}

/** The final read of one partition from its start, after the cluster healed. */
export interface FinalReadEvent extends EventBase {
  readonly f: 'final-read';
  readonly partition: number;
  /**
   * On `ok`: every record from the log start up to `highWatermark` (read_committed: every record
   * not of an aborted transaction; the read waits until no transaction is open).
   */
  readonly records?: readonly ReadRecord[];
  readonly highWatermark?: number;
  readonly error?: string;
  /** read_committed: it holds exactly the committed records (unset in older histories). */
  readonly isolation?: IsolationLevel;
}

/**
 * A fault: `invoke` when the nemesis starts it, `ok` when it is healed. `kind` names it
 * (kill-leader, isolate-leader, ...); `nodes` are the nodes it hit; `ledPartitions` the partitions
 * those nodes led when it started (what a leader kill or isolation measures).
 */
export interface FaultEvent extends EventBase {
  readonly f: 'fault';
  readonly kind: string;
  readonly id: number;
  /** The node the fault was aimed at (the leader, the controller, the isolated node...). */
  readonly target?: number;
  readonly nodes?: readonly number[];
  readonly ledPartitions?: readonly number[];
  readonly detail?: string;
}

/** A client or node lifecycle note (a member crashed, a node exited by itself, ...). */
export interface NoteEvent extends EventBase {
  readonly f: 'note';
  readonly text: string;
  /**
   * The producer began a new epoch (or producer id) of its own accord: librdkafka does this after
   * some sequence errors and re-sends what was not yet acknowledged, with new sequence numbers.
   */
  readonly epochBump?: boolean;
  /**
   * librdkafka took records of the producer on `partition` as written because a later batch of it
   * was acknowledged ("implicitly acked by subsequent batch success"), with no answer saying they
   * were: msgids count the producer's records of that partition from 1, in the order it produced
   * them (its send invokes).
   */
  readonly implicitAck?: {
    readonly partition: number;
    readonly msgidFirst: number;
    readonly msgidLast: number;
  };
  /**
   * The client's process ended by itself before the campaign stopped it (a fatal client error, a
   * crash): from then on it did nothing, so what the checker judges of it covers less.
   */
  readonly endedEarly?: { readonly exitCode: number | null; readonly lastError: string };
}

export type HistoryEvent =
  | SendEvent
  | PollEvent
  | TxnEvent
  | AssignEvent
  | SeekEvent
  | CommitEvent
  | CommittedEvent
  | HighWatermarkEvent
  | LeadersEvent
  | FinalReadEvent
  | FaultEvent
  | NoteEvent;

/** Parses a history file's text (JSON lines); a line that is not an event is an error with its number. */
export function parseHistory(text: string): HistoryEvent[] {
  const events: HistoryEvent[] = [];
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index]!.trim();
    if (line === '') continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (error) {
      throw new Error(`history line ${index + 1}: ${(error as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || typeof (parsed as { f?: unknown }).f !== 'string')
      throw new Error(`history line ${index + 1}: not an event`);
    events.push(parsed as HistoryEvent);
  }
  return events;
}

/** The producer and sequence number a value encodes (`<process>#<seq>`), or undefined. */
export function parseValue(value: string): { producer: string; seq: number } | undefined {
  const hash = value.lastIndexOf('#');
  if (hash <= 0) return undefined;
  const seq = Number(value.slice(hash + 1));
  if (!Number.isInteger(seq)) return undefined;
  return { producer: value.slice(0, hash), seq };
}

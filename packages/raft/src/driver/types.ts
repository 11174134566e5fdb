/**
 * The small interfaces the Raft driver is built from, beside @gregor/ground's Clock, TimerScheduler
 * and Random. Production passes the system implementations; tests pass fakes or in-memory ones. Only
 * the driver sees these: the core gets plain values.
 */
import type { RaftMessage } from '../core/messages.js';
import type { LogEntry, SnapshotId } from '../core/types.js';

/** pino-compatible: structured fields first, then the message. */
export interface RaftLogger {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** How Raft messages leave a node. Delivery is best effort: Raft resends what it still needs. */
export interface RaftTransport {
  send(message: RaftMessage): void;
  close(): Promise<void>;
}

export interface StateMachineSnapshot {
  /** The state machine's state after applying every entry below endOffset. */
  readonly bytes: Uint8Array;
  /** Exclusive; at most the end offset of what was applied (never beyond it). */
  readonly endOffset: number;
}

/**
 * What Raft replicates into. The driver assumes an in-memory state machine rebuilt at every start: it
 * starts empty, is handed the durable snapshot (if any) through restore(), then every later committed
 * entry through apply(). Calls never overlap and come in offset order.
 */
export interface RaftStateMachine {
  /**
   * Committed entries, contiguous and in offset order. Leader-change control entries are included
   * (type 'leader-change') so that offsets stay contiguous; a state machine skips them.
   */
  apply(entries: readonly LogEntry[]): void | Promise<void>;
  /** Serialises what has been applied; the driver calls it when its snapshot policy says so. */
  snapshot(): StateMachineSnapshot | Promise<StateMachineSnapshot>;
  /** Replaces the whole state with a snapshot (on start, or one fetched from the leader). */
  restore(bytes: Uint8Array, id: SnapshotId): void | Promise<void>;
}

/** Why the driver did not take a message in (the gRPC service answers it with a status). */
export type RaftInboundRefusal =
  | { readonly kind: 'wrong-cluster'; readonly from: number; readonly clusterId: string }
  | { readonly kind: 'not-a-voter'; readonly from: number }
  | { readonly kind: 'misaddressed'; readonly from: number; readonly to: number }
  | { readonly kind: 'not-running'; readonly from: number };

export type RaftInboundVerdict = { readonly kind: 'accepted' } | RaftInboundRefusal;

export const silentLogger: RaftLogger = Object.freeze({
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
});

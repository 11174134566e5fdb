/**
 * RaftMessage <-> the plain objects @grpc/proto-loader reads and writes for proto/raft.proto
 * (options: camelCase fields, int64 as Number, enums as strings, defaults, oneofs). Decoding checks
 * every field the core relies on: a peer's bytes are input, and a malformed message is refused with a
 * reason rather than reaching the core, whose invariants would otherwise crash the node.
 */
import type { RaftMessage } from '../core/messages.js';
import type { EntryType, LogEntry, SnapshotId } from '../core/types.js';

type WireEntryType = 'ENTRY_TYPE_UNSPECIFIED' | 'ENTRY_TYPE_DATA' | 'ENTRY_TYPE_LEADER_CHANGE';
type WireError =
  | 'RAFT_ERROR_NONE'
  | 'RAFT_ERROR_FENCED_EPOCH'
  | 'RAFT_ERROR_NOT_LEADER'
  | 'RAFT_ERROR_SNAPSHOT_NOT_FOUND';

interface WireLogEntry {
  offset: number;
  epoch: number;
  type: WireEntryType;
  payload: Uint8Array;
}

interface WireSnapshotId {
  endOffset: number;
  epoch: number;
}

/** The envelope as written; on read, unset message fields are null and the oneof is named by `body`. */
export interface WireEnvelope {
  clusterId: string;
  from: number;
  to: number;
  body?: string;
  voteRequest?: { candidateEpoch: number; lastEpoch: number; lastOffset: number; preVote: boolean } | null;
  voteResponse?: { epoch: number; granted: boolean; preVote: boolean; leaderId?: number } | null;
  beginQuorumEpoch?: { epoch: number; leaderId: number } | null;
  fetchRequest?: { epoch: number; fetchOffset: number; lastFetchedEpoch: number } | null;
  fetchResponse?: {
    epoch: number;
    leaderId?: number;
    error: WireError;
    fetchOffset: number;
    lastFetchedEpoch: number;
    highWatermark: number;
    entries: WireLogEntry[];
    divergingEpoch?: { epoch: number; endOffset: number } | null;
    snapshotId?: WireSnapshotId | null;
  } | null;
  fetchSnapshotRequest?: { epoch: number; snapshotId: WireSnapshotId | null; position: number } | null;
  fetchSnapshotResponse?: {
    epoch: number;
    leaderId?: number;
    error: WireError;
    snapshotId: WireSnapshotId | null;
    position: number;
    totalBytes: number;
    bytes: Uint8Array;
  } | null;
}

const ENTRY_TYPES_TO_WIRE: Record<EntryType, WireEntryType> = {
  data: 'ENTRY_TYPE_DATA',
  'leader-change': 'ENTRY_TYPE_LEADER_CHANGE',
};
const ERRORS_TO_WIRE = {
  'fenced-epoch': 'RAFT_ERROR_FENCED_EPOCH',
  'not-leader': 'RAFT_ERROR_NOT_LEADER',
  'snapshot-not-found': 'RAFT_ERROR_SNAPSHOT_NOT_FOUND',
} as const satisfies Record<string, WireError>;

export function encodeRaftEnvelope(message: RaftMessage): WireEnvelope {
  const envelope = { clusterId: message.clusterId, from: message.from, to: message.to };
  switch (message.type) {
    case 'vote-request':
      return {
        ...envelope,
        voteRequest: {
          candidateEpoch: message.candidateEpoch,
          lastEpoch: message.lastEpoch,
          lastOffset: message.lastOffset,
          preVote: message.preVote,
        },
      };
    case 'vote-response':
      return {
        ...envelope,
        voteResponse: {
          epoch: message.epoch,
          granted: message.granted,
          preVote: message.preVote,
          ...optionalLeader(message.leaderId),
        },
      };
    case 'begin-quorum-epoch':
      return { ...envelope, beginQuorumEpoch: { epoch: message.epoch, leaderId: message.leaderId } };
    case 'fetch-request':
      return {
        ...envelope,
        fetchRequest: {
          epoch: message.epoch,
          fetchOffset: message.fetchOffset,
          lastFetchedEpoch: message.lastFetchedEpoch,
        },
      };
    case 'fetch-response':
      return {
        ...envelope,
        fetchResponse: {
          epoch: message.epoch,
          ...optionalLeader(message.leaderId),
          error: message.error === undefined ? 'RAFT_ERROR_NONE' : ERRORS_TO_WIRE[message.error],
          fetchOffset: message.fetchOffset,
          lastFetchedEpoch: message.lastFetchedEpoch,
          highWatermark: message.highWatermark,
          entries: message.entries.map((entry) => ({
            offset: entry.offset,
            epoch: entry.epoch,
            type: ENTRY_TYPES_TO_WIRE[entry.type],
            payload: entry.payload,
          })),
          divergingEpoch: message.divergingEpoch ?? null,
          snapshotId: message.snapshotId ?? null,
        },
      };
    case 'fetch-snapshot-request':
      return {
        ...envelope,
        fetchSnapshotRequest: {
          epoch: message.epoch,
          snapshotId: message.snapshotId,
          position: message.position,
        },
      };
    case 'fetch-snapshot-response':
      return {
        ...envelope,
        fetchSnapshotResponse: {
          epoch: message.epoch,
          ...optionalLeader(message.leaderId),
          error: message.error === undefined ? 'RAFT_ERROR_NONE' : ERRORS_TO_WIRE[message.error],
          snapshotId: message.snapshotId,
          position: message.position,
          totalBytes: message.totalBytes,
          bytes: message.bytes,
        },
      };
  }
}

function optionalLeader(leaderId: number | undefined): { leaderId?: number } {
  return leaderId === undefined ? {} : { leaderId };
}

export type DecodeResult =
  | { readonly ok: true; readonly message: RaftMessage }
  | { readonly ok: false; readonly reason: string };

/** Thrown inside decoding only, turned into a DecodeResult at its edge. */
class MalformedEnvelope extends Error {}

export function decodeRaftEnvelope(wire: WireEnvelope): DecodeResult {
  try {
    return { ok: true, message: decodeUnchecked(wire) };
  } catch (error) {
    if (error instanceof MalformedEnvelope) return { ok: false, reason: error.message };
    throw error;
  }
}

function decodeUnchecked(wire: WireEnvelope): RaftMessage {
  if (typeof wire.clusterId !== 'string' || wire.clusterId === '') malformed('cluster_id is empty');
  const envelope = { clusterId: wire.clusterId, from: nodeId(wire.from, 'from'), to: nodeId(wire.to, 'to') };
  switch (wire.body) {
    case 'voteRequest': {
      const body = present(wire.voteRequest, 'vote_request');
      return {
        ...envelope,
        type: 'vote-request',
        candidateEpoch: epoch(body.candidateEpoch, 'candidate_epoch'),
        lastEpoch: epoch(body.lastEpoch, 'last_epoch'),
        lastOffset: offset(body.lastOffset, 'last_offset'),
        preVote: body.preVote === true,
      };
    }
    case 'voteResponse': {
      const body = present(wire.voteResponse, 'vote_response');
      return {
        ...envelope,
        type: 'vote-response',
        epoch: epoch(body.epoch, 'epoch'),
        granted: body.granted === true,
        preVote: body.preVote === true,
        leaderId: optionalNodeId(body.leaderId),
      };
    }
    case 'beginQuorumEpoch': {
      const body = present(wire.beginQuorumEpoch, 'begin_quorum_epoch');
      return {
        ...envelope,
        type: 'begin-quorum-epoch',
        epoch: epoch(body.epoch, 'epoch'),
        leaderId: nodeId(body.leaderId, 'leader_id'),
      };
    }
    case 'fetchRequest': {
      const body = present(wire.fetchRequest, 'fetch_request');
      return {
        ...envelope,
        type: 'fetch-request',
        epoch: epoch(body.epoch, 'epoch'),
        fetchOffset: offset(body.fetchOffset, 'fetch_offset'),
        lastFetchedEpoch: epoch(body.lastFetchedEpoch, 'last_fetched_epoch'),
      };
    }
    case 'fetchResponse': {
      const body = present(wire.fetchResponse, 'fetch_response');
      const error = fetchError(body.error);
      const diverging = body.divergingEpoch ?? undefined;
      return {
        ...envelope,
        type: 'fetch-response',
        epoch: epoch(body.epoch, 'epoch'),
        leaderId: optionalNodeId(body.leaderId),
        error: error === 'snapshot-not-found' ? malformed('fetch error snapshot-not-found') : error,
        fetchOffset: offset(body.fetchOffset, 'fetch_offset'),
        lastFetchedEpoch: epoch(body.lastFetchedEpoch, 'last_fetched_epoch'),
        highWatermark: offset(body.highWatermark, 'high_watermark'),
        entries: (body.entries ?? []).map(logEntry),
        divergingEpoch:
          diverging === undefined
            ? undefined
            : {
                epoch: epoch(diverging.epoch, 'diverging_epoch.epoch'),
                endOffset: offset(diverging.endOffset, 'diverging_epoch.end_offset'),
              },
        snapshotId: body.snapshotId == null ? undefined : snapshotId(body.snapshotId),
      };
    }
    case 'fetchSnapshotRequest': {
      const body = present(wire.fetchSnapshotRequest, 'fetch_snapshot_request');
      return {
        ...envelope,
        type: 'fetch-snapshot-request',
        epoch: epoch(body.epoch, 'epoch'),
        snapshotId: snapshotId(present(body.snapshotId, 'snapshot_id')),
        position: offset(body.position, 'position'),
      };
    }
    case 'fetchSnapshotResponse': {
      const body = present(wire.fetchSnapshotResponse, 'fetch_snapshot_response');
      return {
        ...envelope,
        type: 'fetch-snapshot-response',
        epoch: epoch(body.epoch, 'epoch'),
        leaderId: optionalNodeId(body.leaderId),
        error: fetchError(body.error),
        snapshotId: snapshotId(present(body.snapshotId, 'snapshot_id')),
        position: offset(body.position, 'position'),
        totalBytes: offset(body.totalBytes, 'total_bytes'),
        bytes: bytes(body.bytes, 'bytes'),
      };
    }
    default:
      return malformed(`no message body (body=${String(wire.body)})`);
  }
}

function malformed(reason: string): never {
  throw new MalformedEnvelope(reason);
}

function present<T>(value: T | null | undefined, field: string): T {
  if (value === null || value === undefined) malformed(`${field} is missing`);
  return value;
}

function nonNegativeSafe(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    malformed(`${field} is not a non-negative safe integer: ${String(value)}`);
  }
  return value;
}

const nodeId = nonNegativeSafe;
const epoch = nonNegativeSafe;
const offset = nonNegativeSafe;

function optionalNodeId(value: number | undefined): number | undefined {
  return value === undefined || value === null ? undefined : nodeId(value, 'leader_id');
}

/** A copy: protobufjs hands out views into the received message, and the log keeps payloads. */
function bytes(value: unknown, field: string): Uint8Array {
  if (!(value instanceof Uint8Array)) malformed(`${field} is not bytes`);
  return new Uint8Array(value);
}

function snapshotId(wire: WireSnapshotId): SnapshotId {
  return {
    endOffset: offset(wire.endOffset, 'snapshot_id.end_offset'),
    epoch: epoch(wire.epoch, 'snapshot_id.epoch'),
  };
}

function logEntry(wire: WireLogEntry): LogEntry {
  let type: EntryType;
  if (wire.type === 'ENTRY_TYPE_DATA') type = 'data';
  else if (wire.type === 'ENTRY_TYPE_LEADER_CHANGE') type = 'leader-change';
  else return malformed(`entry type ${String(wire.type)}`);
  return {
    offset: offset(wire.offset, 'entry.offset'),
    epoch: epoch(wire.epoch, 'entry.epoch'),
    type,
    payload: bytes(wire.payload, 'entry.payload'),
  };
}

function fetchError(wire: WireError): 'fenced-epoch' | 'not-leader' | 'snapshot-not-found' | undefined {
  switch (wire) {
    case 'RAFT_ERROR_NONE':
      return undefined;
    case 'RAFT_ERROR_FENCED_EPOCH':
      return 'fenced-epoch';
    case 'RAFT_ERROR_NOT_LEADER':
      return 'not-leader';
    case 'RAFT_ERROR_SNAPSHOT_NOT_FOUND':
      return 'snapshot-not-found';
    default:
      return malformed(`error ${String(wire)}`);
  }
}

/**
 * The Raft RPCs, modelled on KIP-595 (Vote, BeginQuorumEpoch, Fetch, FetchSnapshot) with KIP-996's
 * pre-vote flag. Requests and responses are separate messages: the core never waits for a reply, so a
 * driver may carry them over any transport (gRPC later, the simulated network now).
 */
import type { LogEntry, SnapshotId } from './types.js';

interface Envelope {
  /** Every message names its cluster; a message from another cluster is refused. */
  readonly clusterId: string;
  readonly from: number;
  readonly to: number;
}

export interface VoteRequest extends Envelope {
  readonly type: 'vote-request';
  /** For a pre-vote, the epoch the sender would campaign in (its current epoch + 1). */
  readonly candidateEpoch: number;
  readonly lastEpoch: number;
  /** The sender's log end offset. */
  readonly lastOffset: number;
  readonly preVote: boolean;
}

export interface VoteResponse extends Envelope {
  readonly type: 'vote-response';
  /** The responder's epoch. */
  readonly epoch: number;
  readonly granted: boolean;
  readonly preVote: boolean;
  readonly leaderId: number | undefined;
}

/** Sent by a new leader so that voters start fetching without waiting for their timeouts. */
export interface BeginQuorumEpoch extends Envelope {
  readonly type: 'begin-quorum-epoch';
  readonly epoch: number;
  readonly leaderId: number;
}

export interface FetchRequest extends Envelope {
  readonly type: 'fetch-request';
  readonly epoch: number;
  /** The fetcher's log end offset; everything below it is durable on the fetcher. */
  readonly fetchOffset: number;
  readonly lastFetchedEpoch: number;
}

export type FetchError = 'fenced-epoch' | 'not-leader';

export interface FetchResponse extends Envelope {
  readonly type: 'fetch-response';
  readonly epoch: number;
  readonly leaderId: number | undefined;
  readonly error: FetchError | undefined;
  /** Echo of the request, so a follower can drop a stale or duplicated response. */
  readonly fetchOffset: number;
  readonly lastFetchedEpoch: number;
  readonly highWatermark: number;
  readonly entries: readonly LogEntry[];
  /** Set when the fetcher's log diverges: truncate to the end of this epoch, then fetch again. */
  readonly divergingEpoch: { readonly epoch: number; readonly endOffset: number } | undefined;
  /** Set when the fetch offset is behind the leader's log start: fetch this snapshot first. */
  readonly snapshotId: SnapshotId | undefined;
}

export interface FetchSnapshotRequest extends Envelope {
  readonly type: 'fetch-snapshot-request';
  readonly epoch: number;
  readonly snapshotId: SnapshotId;
  /** Byte position of the chunk wanted. */
  readonly position: number;
}

export interface FetchSnapshotResponse extends Envelope {
  readonly type: 'fetch-snapshot-response';
  readonly epoch: number;
  readonly leaderId: number | undefined;
  readonly error: 'fenced-epoch' | 'not-leader' | 'snapshot-not-found' | undefined;
  readonly snapshotId: SnapshotId;
  readonly position: number;
  readonly totalBytes: number;
  readonly bytes: Uint8Array;
}

export type RaftMessage =
  | VoteRequest
  | VoteResponse
  | BeginQuorumEpoch
  | FetchRequest
  | FetchResponse
  | FetchSnapshotRequest
  | FetchSnapshotResponse;

/** The epoch the sender of a message is in (a pre-vote is sent from the epoch before the campaign). */
export function senderEpochOf(message: RaftMessage): number {
  if (message.type === 'vote-request') {
    return message.preVote ? message.candidateEpoch - 1 : message.candidateEpoch;
  }
  return message.epoch;
}

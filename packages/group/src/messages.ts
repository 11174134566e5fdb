// What the coordinator takes and gives back. Requests mirror the decoded Kafka messages of
// @gregor/protocol (same field names) minus what only the wire needs; the version-dependent rules
// (JoinGroup v0 has no rebalance timeout, v4+ requires a known member id) come from `apiVersion`.
// Every response is wrapped in an effect with the caller's request id, even when it is immediate, so
// the driver has one path for answers.

import type { ConsumerGroupStateName } from './consumer-group.js';
import type {
  ConsumerGroupDescribeResponse,
  ConsumerGroupHeartbeatResponse,
} from './consumer-group-messages.js';
import type { OffsetsRecord } from './offsets-records.js';

/** The driver's handle for an inbound request; any number it can map back to the network request. */
export type RequestId = number;

/** The driver's handle for an append it was asked to make; passed back to `onAppendComplete`. */
export type AppendToken = number;

export type GroupStateName = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

export interface ProtocolMetadata {
  readonly name: string;
  readonly metadata: Buffer;
}

export interface JoinGroupRequest {
  readonly apiVersion: number;
  readonly groupId: string;
  readonly sessionTimeoutMs: number;
  /** Ignored for v0, which has none: the session timeout is used (as Kafka does). */
  readonly rebalanceTimeoutMs: number;
  readonly memberId: string;
  /** `group.instance.id` (v5+): a static member. */
  readonly groupInstanceId: string | null;
  readonly protocolType: string;
  readonly protocols: readonly ProtocolMetadata[];
  /** From the request header and the connection; kept for DescribeGroups and the log. */
  readonly clientId: string;
  readonly clientHost: string;
}

export interface JoinGroupResponseMember {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly metadata: Buffer;
}

export interface JoinGroupResponse {
  readonly api: 'JoinGroup';
  readonly errorCode: number;
  readonly generationId: number;
  /** '' when the group has none (v7+ carries it as nullable; v0-6 do not carry it). */
  readonly protocolType: string;
  readonly protocolName: string;
  readonly leader: string;
  /** v9+: the static leader rejoined a Stable group; it gets the members but must not assign. */
  readonly skipAssignment: boolean;
  readonly memberId: string;
  /** Every member's metadata for the chosen protocol; filled for the leader only. */
  readonly members: readonly JoinGroupResponseMember[];
}

export interface SyncGroupRequest {
  readonly groupId: string;
  readonly generationId: number;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  /** v5+; null when the request has none. A mismatch answers INCONSISTENT_GROUP_PROTOCOL. */
  readonly protocolType: string | null;
  readonly protocolName: string | null;
  /** The leader's assignment; ignored from followers. */
  readonly assignments: readonly { readonly memberId: string; readonly assignment: Buffer }[];
}

export interface SyncGroupResponse {
  readonly api: 'SyncGroup';
  readonly errorCode: number;
  readonly protocolType: string;
  readonly protocolName: string;
  readonly assignment: Buffer;
}

export interface HeartbeatRequest {
  readonly groupId: string;
  readonly generationId: number;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
}

export interface HeartbeatResponse {
  readonly api: 'Heartbeat';
  readonly errorCode: number;
}

/** v0-2 leave one member by id: pass it as a one-element `members`. */
export interface LeaveGroupRequest {
  readonly groupId: string;
  readonly members: readonly { readonly memberId: string; readonly groupInstanceId: string | null }[];
}

export interface LeaveGroupResponse {
  readonly api: 'LeaveGroup';
  /** The group-level error; per-member errors are in `members` (see `legacyLeaveGroupErrorCode`). */
  readonly errorCode: number;
  readonly members: readonly {
    readonly memberId: string;
    readonly groupInstanceId: string | null;
    readonly errorCode: number;
  }[];
}

export interface OffsetCommitRequest {
  /** The request's version when known: a KIP-848 member must commit with v9+ (UNSUPPORTED_VERSION). */
  readonly apiVersion?: number;
  readonly groupId: string;
  /** -1 with an empty member id: a standalone ("simple") consumer not using group membership. */
  readonly generationId: number;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  /** v2-4: -1 keeps the offsets until the group's retention; otherwise they expire this long after the commit. */
  readonly retentionTimeMs: number;
  readonly topics: readonly {
    readonly name: string;
    /**
     * The topic's id (wire form) in the broker's metadata, when known: a KIP-848 member committing
     * at an older epoch is checked against the partitions it holds, which are kept by topic id.
     */
    readonly topicId?: string;
    readonly partitions: readonly {
      readonly partitionIndex: number;
      readonly committedOffset: bigint;
      /** -1 when unknown (before v6). */
      readonly committedLeaderEpoch: number;
      /** v1 only; -1 means "now". */
      readonly commitTimestampMs: number;
      readonly committedMetadata: string | null;
    }[];
  }[];
}

/** TxnOffsetCommit: offsets committed inside a producer's transaction, visible once it commits. */
export interface TxnOffsetCommitRequest {
  readonly transactionalId: string;
  readonly groupId: string;
  readonly producerId: number;
  readonly producerEpoch: number;
  /** -1 with an empty member id: no membership check (before v3, and standalone consumers). */
  readonly generationId: number;
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly topics: readonly {
    readonly name: string;
    readonly partitions: readonly {
      readonly partitionIndex: number;
      readonly committedOffset: bigint;
      readonly committedLeaderEpoch: number;
      readonly committedMetadata: string | null;
    }[];
  }[];
}

export interface TopicPartitionErrors {
  readonly name: string;
  readonly partitions: readonly { readonly partitionIndex: number; readonly errorCode: number }[];
}

export interface OffsetCommitResponse {
  readonly api: 'OffsetCommit';
  readonly topics: readonly TopicPartitionErrors[];
}

export interface TxnOffsetCommitResponse {
  readonly api: 'TxnOffsetCommit';
  readonly topics: readonly TopicPartitionErrors[];
}

/** The producer of a transactional append: its batch carries the id and epoch, and the transactional bit. */
export interface TransactionalProducer {
  readonly producerId: number;
  readonly producerEpoch: number;
}

export interface OffsetFetchRequest {
  readonly groupId: string;
  /** null: every partition the group has committed (v2+). */
  readonly topics: readonly { readonly name: string; readonly partitionIndexes: readonly number[] }[] | null;
  /** v7+: answer UNSTABLE_OFFSET_COMMIT for partitions with a commit still being written. */
  readonly requireStable: boolean;
  /** v9+: the consumer-protocol member asking and its epoch (checked for KIP-848 groups). */
  readonly memberId?: string | null;
  readonly memberEpoch?: number;
}

export interface OffsetFetchPartition {
  readonly partitionIndex: number;
  /** -1 when nothing is committed. */
  readonly committedOffset: bigint;
  readonly committedLeaderEpoch: number;
  readonly metadata: string;
  readonly errorCode: number;
}

export interface OffsetFetchResponse {
  readonly api: 'OffsetFetch';
  /** A group-level error (v2+); the requested partitions carry it too, as v0-1 expect. */
  readonly errorCode: number;
  readonly topics: readonly { readonly name: string; readonly partitions: readonly OffsetFetchPartition[] }[];
}

export interface DescribeGroupsRequest {
  readonly groups: readonly string[];
}

export interface DescribedGroup {
  readonly errorCode: number;
  /** v6+: why (a KIP-848 group is "not a classic group"). */
  readonly errorMessage?: string | null;
  readonly groupId: string;
  /** '' with an error (Kafka's "no state"); 'Dead' for a group this coordinator does not know. */
  readonly groupState: GroupStateName | '';
  readonly protocolType: string;
  /** The selected protocol while Stable, '' otherwise. */
  readonly protocolData: string;
  readonly members: readonly {
    readonly memberId: string;
    readonly groupInstanceId: string | null;
    readonly clientId: string;
    readonly clientHost: string;
    /** Filled while Stable only, as Kafka does. */
    readonly memberMetadata: Buffer;
    readonly memberAssignment: Buffer;
  }[];
}

export interface DescribeGroupsResponse {
  readonly api: 'DescribeGroups';
  readonly groups: readonly DescribedGroup[];
}

export interface ListGroupsRequest {
  /** v4+: only groups in these states (case-insensitive); empty = all. */
  readonly statesFilter: readonly string[];
}

export interface ListGroupsResponse {
  readonly api: 'ListGroups';
  /** COORDINATOR_LOAD_IN_PROGRESS while a partition loads; the groups of loaded partitions are listed anyway. */
  readonly errorCode: number;
  readonly groups: readonly {
    readonly groupId: string;
    readonly protocolType: string;
    readonly groupState: GroupStateName | ConsumerGroupStateName;
    /** Kafka's group type: a KIP-848 group is 'consumer'; absent means 'classic'. */
    readonly groupType?: 'consumer';
  }[];
}

export interface DeleteGroupsRequest {
  readonly groupsNames: readonly string[];
}

export interface DeleteGroupsResponse {
  readonly api: 'DeleteGroups';
  readonly results: readonly { readonly groupId: string; readonly errorCode: number }[];
}

export interface OffsetDeleteRequest {
  readonly groupId: string;
  readonly topics: readonly {
    readonly name: string;
    readonly partitions: readonly { readonly partitionIndex: number }[];
  }[];
}

export interface OffsetDeleteResponse {
  readonly api: 'OffsetDelete';
  readonly errorCode: number;
  readonly topics: readonly {
    readonly name: string;
    readonly partitions: readonly { readonly partitionIndex: number; readonly errorCode: number }[];
  }[];
}

export type GroupResponse =
  | JoinGroupResponse
  | SyncGroupResponse
  | HeartbeatResponse
  | LeaveGroupResponse
  | OffsetCommitResponse
  | TxnOffsetCommitResponse
  | OffsetFetchResponse
  | DescribeGroupsResponse
  | ListGroupsResponse
  | DeleteGroupsResponse
  | OffsetDeleteResponse
  | ConsumerGroupHeartbeatResponse
  | ConsumerGroupDescribeResponse;

/**
 * What the driver must do after each call, in order:
 *  - `respond`: send `response` for the request it registered as `requestId` (each id is answered
 *    exactly once);
 *  - `append`: append `records` to `__consumer_offsets` partition `partitionIndex` as one batch, wait
 *    until it is replicated (acks=all, the high watermark passed it), then call
 *    `onAppendComplete(token, errorCode, nowMs)` with 0 or the append's Kafka error code. Appends to a
 *    partition complete in the order they were asked for. With `producer` the batch is transactional
 *    (TxnOffsetCommit): it carries that producer's id and epoch, and its transaction's marker later
 *    decides whether the offsets count (`completeTransaction`).
 */
export type GroupEffect =
  | { readonly kind: 'respond'; readonly requestId: RequestId; readonly response: GroupResponse }
  | {
      readonly kind: 'append';
      readonly partitionIndex: number;
      readonly token: AppendToken;
      readonly records: readonly OffsetsRecord[];
      readonly producer?: TransactionalProducer;
    };

/** What loading a partition found, for the driver's log line. */
export interface LoadSummary {
  readonly partitionIndex: number;
  readonly recordCount: number;
  readonly groupCount: number;
  readonly offsetCount: number;
  /** Records of types this coordinator does not handle (KIP-848 consumer groups and later). */
  readonly unknownRecordCount: number;
}

/** LeaveGroup v0-2 carry one error: the group's, else the single member's. */
export function legacyLeaveGroupErrorCode(response: LeaveGroupResponse): number {
  if (response.errorCode !== 0) return response.errorCode;
  return response.members[0]?.errorCode ?? 0;
}

// Committed offsets (Kafka's OffsetMetadataManager): OffsetCommit and OffsetFetch for the groups the
// GroupMetadataManager holds, commits appended to `__consumer_offsets` and answered once replicated,
// the offsets a loaded partition's log held, and the tombstones that delete a group's offsets.
// TxnOffsetCommit appends the same records in a transactional batch of the producer; once stored
// they wait in the group (pendingTransactionalOffsets) for the transaction's marker: a commit makes
// them the committed offsets, an abort drops them.

import { invariant } from '@gregor/ground';
import { ErrorCode } from '@gregor/protocol';
import { storeOffsetsErrorCode } from './append-errors.js';
import type { GroupCoordinatorConfig } from './config.js';
import type { CoordinatorOutbox } from './coordinator-outbox.js';
import type { Group } from './group.js';
import { unknownMemberId } from './group.js';
import type { GroupMetadataManager } from './group-metadata-manager.js';
import type {
  OffsetCommitRequest,
  OffsetFetchPartition,
  OffsetFetchRequest,
  OffsetFetchResponse,
  RequestId,
  TransactionalProducer,
  TxnOffsetCommitRequest,
} from './messages.js';
import {
  fitsRecordString,
  noLeaderEpoch,
  noTimestamp,
  type OffsetCommitValue,
  type OffsetsRecord,
  offsetCommitRecord,
} from './offsets-records.js';

interface CommitEntry {
  readonly topic: string;
  readonly partition: number;
  readonly value: OffsetCommitValue;
}

/** What to do when an OffsetCommit's append completes (Kafka's storeOffsets callback). */
export interface CommitOffsetsContinuation {
  readonly kind: 'commitOffsets';
  readonly group: Group;
  readonly requestId: RequestId;
  readonly appended: readonly CommitEntry[];
  /** A TxnOffsetCommit's producer: its offsets wait for the transaction's marker. */
  readonly producer: TransactionalProducer | null;
  /** Per request partition, in request order: null = appended, else its error code. */
  readonly layout: readonly {
    name: string;
    partitions: { partitionIndex: number; errorCode: number | null }[];
  }[];
}

export class OffsetMetadataManager {
  constructor(
    private readonly config: GroupCoordinatorConfig,
    private readonly outbox: CoordinatorOutbox,
    private readonly groups: GroupMetadataManager,
    /** Asks for one append to `__consumer_offsets`; `continuation` comes back to continueAfterCommit. */
    private readonly appendRecords: (
      partitionIndex: number,
      records: OffsetsRecord[],
      continuation: CommitOffsetsContinuation,
      producer?: TransactionalProducer,
    ) => void,
  ) {}

  // ---------------------------------------------------------------- OffsetCommit

  offsetCommit(requestId: RequestId, request: OffsetCommitRequest, nowMs: number): void {
    const replyAll = (errorCode: number): void =>
      this.outbox.respond(requestId, {
        api: 'OffsetCommit',
        topics: request.topics.map((t) => ({
          name: t.name,
          partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })),
        })),
      });
    const status = this.groups.validateGroupStatus(request.groupId, false);
    if (status !== ErrorCode.NONE) {
      replyAll(status);
      return;
    }
    let group = this.groups.getGroup(request.groupId);
    if (group === undefined) {
      // A negative generation is a consumer that manages its own partitions (assign(), not
      // subscribe()); it may commit into a group of its own. Otherwise the group it knew is gone.
      if (request.generationId >= 0) {
        replyAll(ErrorCode.ILLEGAL_GENERATION);
        return;
      }
      if (this.groups.groupCount >= this.config.groupsPerCoordinatorMax) {
        replyAll(ErrorCode.COORDINATOR_NOT_AVAILABLE);
        return;
      }
      group = this.groups.createGroup(request.groupId, nowMs);
    }
    this.outbox.touch(group);
    const validation = this.validateOffsetCommit(group, request);
    if (validation !== ErrorCode.NONE) {
      replyAll(validation);
      return;
    }
    switch (group.state) {
      case 'Empty':
        break;
      case 'Stable':
      case 'PreparingRebalance':
        // Commits are allowed while preparing: the heartbeat tells the member to rejoin.
        this.groups.scheduleSession(group, group.get(request.memberId), nowMs);
        break;
      case 'CompletingRebalance':
        // The member has this generation's JoinGroup response but not its assignment yet.
        replyAll(ErrorCode.REBALANCE_IN_PROGRESS);
        return;
      case 'Dead':
        invariant(false, 'validateOffsetCommit lets no commit into a Dead group');
    }
    this.storeOffsets(group, requestId, request, null, nowMs);
  }

  // ---------------------------------------------------------------- TxnOffsetCommit

  /**
   * Kafka's TxnOffsetCommit: the group may be new (it is created) or have members, whose generation
   * and member id are then checked when the request names them (v3+).
   */
  txnOffsetCommit(requestId: RequestId, request: TxnOffsetCommitRequest, nowMs: number): void {
    const replyAll = (errorCode: number): void =>
      this.outbox.respond(requestId, {
        api: 'TxnOffsetCommit',
        topics: request.topics.map((t) => ({
          name: t.name,
          partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })),
        })),
      });
    const status = this.groups.validateGroupStatus(request.groupId, false);
    if (status !== ErrorCode.NONE) {
      replyAll(status);
      return;
    }
    let group = this.groups.getGroup(request.groupId);
    if (group === undefined) {
      if (this.groups.groupCount >= this.config.groupsPerCoordinatorMax) {
        replyAll(ErrorCode.COORDINATOR_NOT_AVAILABLE);
        return;
      }
      group = this.groups.createGroup(request.groupId, nowMs);
    }
    this.outbox.touch(group);
    if (group.is('Dead')) {
      replyAll(ErrorCode.COORDINATOR_NOT_AVAILABLE);
      return;
    }
    if (
      request.generationId >= 0 ||
      request.memberId !== unknownMemberId ||
      request.groupInstanceId !== null
    ) {
      const memberError = this.groups.validateCurrentMember(group, request.memberId, request.groupInstanceId);
      if (memberError !== ErrorCode.NONE) {
        replyAll(memberError);
        return;
      }
      if (request.generationId !== group.generationId) {
        replyAll(ErrorCode.ILLEGAL_GENERATION);
        return;
      }
    }
    this.storeOffsets(
      group,
      requestId,
      {
        groupId: request.groupId,
        generationId: request.generationId,
        memberId: request.memberId,
        groupInstanceId: request.groupInstanceId,
        retentionTimeMs: noTimestamp,
        topics: request.topics.map((topic) => ({
          name: topic.name,
          partitions: topic.partitions.map((p) => ({ ...p, commitTimestampMs: noTimestamp })),
        })),
      },
      { producerId: request.producerId, producerEpoch: request.producerEpoch },
      nowMs,
    );
  }

  /** A transaction marker reached the group's partition: its pending offsets of `producerId` settle. */
  completeTransaction(group: Group, producerId: number, commit: boolean): void {
    if (group.completeTransaction(producerId, commit)) this.outbox.touch(group);
  }

  /** Kafka's validateOffsetCommit (non-transactional). */
  private validateOffsetCommit(group: Group, request: OffsetCommitRequest): number {
    if (group.is('Dead')) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (
      request.generationId >= 0 ||
      request.memberId !== unknownMemberId ||
      request.groupInstanceId !== null
    ) {
      const memberError = this.groups.validateCurrentMember(group, request.memberId, request.groupInstanceId);
      if (memberError !== ErrorCode.NONE) return memberError;
      return request.generationId === group.generationId ? ErrorCode.NONE : ErrorCode.ILLEGAL_GENERATION;
    }
    // A commit without membership is only allowed while nobody is a member.
    return group.is('Empty') ? ErrorCode.NONE : ErrorCode.UNKNOWN_MEMBER_ID;
  }

  private storeOffsets(
    group: Group,
    requestId: RequestId,
    request: OffsetCommitRequest,
    producer: TransactionalProducer | null,
    nowMs: number,
  ): void {
    const appended: CommitEntry[] = [];
    const layout = request.topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.map((p) => {
        const metadata = p.committedMetadata ?? '';
        let errorCode: number | null = null;
        if (metadata.length > this.config.offsetMetadataCharsMax)
          errorCode = ErrorCode.OFFSET_METADATA_TOO_LARGE;
        else if (!fitsRecordString(topic.name)) errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        else {
          appended.push({
            topic: topic.name,
            partition: p.partitionIndex,
            value: {
              offset: p.committedOffset,
              leaderEpoch: p.committedLeaderEpoch < 0 ? noLeaderEpoch : p.committedLeaderEpoch,
              metadata,
              commitTimestampMs: p.commitTimestampMs === noTimestamp ? nowMs : p.commitTimestampMs,
              expireTimestampMs:
                request.retentionTimeMs === noTimestamp ? noTimestamp : nowMs + request.retentionTimeMs,
            },
          });
        }
        return { partitionIndex: p.partitionIndex, errorCode };
      }),
    }));
    const continuation: CommitOffsetsContinuation = {
      kind: 'commitOffsets',
      group,
      requestId,
      appended,
      producer,
      layout,
    };
    if (appended.length === 0) {
      this.finishCommit(continuation, ErrorCode.NONE);
      return;
    }
    for (const entry of appended) {
      const key = `${entry.topic}\u0000${entry.partition}`;
      group.pendingCommitCounts.set(key, (group.pendingCommitCounts.get(key) ?? 0) + 1);
    }
    this.appendRecords(
      group.partitionIndex,
      appended.map((e) => offsetCommitRecord(group.groupId, e.topic, e.partition, e.value)),
      continuation,
      producer ?? undefined,
    );
  }

  private finishCommit(continuation: CommitOffsetsContinuation, appendErrorCode: number): void {
    const errorCode = storeOffsetsErrorCode(appendErrorCode);
    this.outbox.respond(continuation.requestId, {
      api: continuation.producer === null ? 'OffsetCommit' : 'TxnOffsetCommit',
      topics: continuation.layout.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({
          partitionIndex: p.partitionIndex,
          errorCode: p.errorCode ?? errorCode,
        })),
      })),
    });
  }

  /** A commit's append completed: `appendErrorCode` 0 once replicated, else its Kafka error. */
  continueAfterCommit(continuation: CommitOffsetsContinuation, appendErrorCode: number): void {
    const { group, appended } = continuation;
    this.outbox.touch(group);
    for (const entry of appended) {
      const key = `${entry.topic}\u0000${entry.partition}`;
      const count = (group.pendingCommitCounts.get(key) ?? 0) - 1;
      invariant(count >= 0, 'pending commit count below zero');
      if (count === 0) group.pendingCommitCounts.delete(key);
      else group.pendingCommitCounts.set(key, count);
    }
    // Applied even to a group being deleted: its tombstones come after this record in the log
    // (they cover pending commits too), and if they fail to be written the group is revived
    // with exactly what the log holds.
    if (appendErrorCode === ErrorCode.NONE && this.groups.isCurrent(group)) {
      const producer = continuation.producer;
      for (const entry of appended) {
        if (producer === null) group.setCommittedOffset(entry.topic, entry.partition, entry.value);
        else
          group.addPendingTransactionalOffset(producer.producerId, entry.topic, entry.partition, entry.value);
      }
    }
    this.finishCommit(continuation, appendErrorCode);
  }

  /** The partition was unloaded while the commit's append was out: it failed, as far as the client knows. */
  cancelCommit(continuation: CommitOffsetsContinuation): void {
    this.finishCommit(continuation, ErrorCode.NOT_LEADER_OR_FOLLOWER);
  }

  // ---------------------------------------------------------------- OffsetFetch

  offsetFetch(requestId: RequestId, request: OffsetFetchRequest): void {
    const status = this.groups.validateGroupStatus(request.groupId, false);
    if (status !== ErrorCode.NONE) {
      this.outbox.respond(requestId, offsetFetchRefusal(request, status));
      return;
    }
    const found = this.groups.getGroup(request.groupId);
    const group = found !== undefined && !found.is('Dead') ? found : undefined;
    const fetch = (topic: string, partitionIndex: number): OffsetFetchPartition => {
      if (group === undefined) return noOffset(partitionIndex, ErrorCode.NONE);
      if (
        request.requireStable &&
        ((group.pendingCommitCounts.get(`${topic}\u0000${partitionIndex}`) ?? 0) > 0 ||
          group.hasPendingTransactionalOffset(topic, partitionIndex))
      ) {
        return noOffset(partitionIndex, ErrorCode.UNSTABLE_OFFSET_COMMIT);
      }
      const committed = group.committedOffset(topic, partitionIndex);
      if (committed === undefined) return noOffset(partitionIndex, ErrorCode.NONE);
      return {
        partitionIndex,
        committedOffset: committed.offset,
        committedLeaderEpoch: committed.leaderEpoch,
        metadata: committed.metadata,
        errorCode: ErrorCode.NONE,
      };
    };
    let topics: { name: string; partitions: OffsetFetchPartition[] }[];
    if (request.topics !== null) {
      topics = request.topics.map((t) => ({
        name: t.name,
        partitions: t.partitionIndexes.map((p) => fetch(t.name, p)),
      }));
    } else {
      topics = [];
      for (const { topic, partition } of group?.allCommittedOffsets() ?? []) {
        let entry = topics[topics.length - 1];
        if (entry?.name !== topic) {
          entry = { name: topic, partitions: [] };
          topics.push(entry);
        }
        entry.partitions.push(fetch(topic, partition));
      }
    }
    this.outbox.respond(requestId, { api: 'OffsetFetch', errorCode: ErrorCode.NONE, topics });
  }

  // ---------------------------------------------------------------- loading and deleting

  /** The offsets a loaded partition's log held for `group`, in log order (tombstones already dropped). */
  loadOffsets(
    group: Group,
    offsets: Iterable<{ topic: string; partition: number; value: OffsetCommitValue }>,
  ): void {
    for (const offset of offsets) group.setCommittedOffset(offset.topic, offset.partition, offset.value);
  }

  /**
   * Tombstones for every offset of a group being deleted, including partitions with a commit still
   * in flight: that commit's record precedes these in the log, and without one a reload would
   * resurrect the group (Kafka's removeAllOffsets tombstones only what is already committed).
   */
  offsetTombstones(group: Group): OffsetsRecord[] {
    const partitions = new Map<string, { topic: string; partition: number }>();
    for (const { topic, partition } of group.allCommittedOffsets()) {
      partitions.set(`${topic}\u0000${partition}`, { topic, partition });
    }
    for (const key of group.pendingCommitKeys()) partitions.set(key.id, key);
    return [...partitions.values()].map(({ topic, partition }) =>
      offsetCommitRecord(group.groupId, topic, partition, null),
    );
  }
}

function noOffset(partitionIndex: number, errorCode: number): OffsetFetchPartition {
  return {
    partitionIndex,
    committedOffset: -1n,
    committedLeaderEpoch: noLeaderEpoch,
    metadata: '',
    errorCode,
  };
}

/**
 * An OffsetFetch answered with a group-level error: every requested partition carries it too, as
 * v0-1 (which have no group-level error) read it. Also what a driver answers when it may not serve
 * the read (a coordinator that could not confirm it still leads answers NOT_COORDINATOR).
 */
export function offsetFetchRefusal(request: OffsetFetchRequest, errorCode: number): OffsetFetchResponse {
  return {
    api: 'OffsetFetch',
    errorCode,
    topics: (request.topics ?? []).map((t) => ({
      name: t.name,
      partitions: t.partitionIndexes.map((p) => noOffset(p, errorCode)),
    })),
  };
}

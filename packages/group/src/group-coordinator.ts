// The group coordinator (Kafka's GroupCoordinatorShard for the "classic" protocol: JoinGroup,
// SyncGroup, Heartbeat, LeaveGroup, offsets in `__consumer_offsets`). It holds the groups of the
// offsets partitions this broker leads and does no I/O: each call takes the time and returns effects
// (responses to send, records to append); appends come back through `onAppendComplete`, deadlines
// through `tick`. It is the one entry point the broker calls, over the parts Kafka divides it into:
//   - GroupMetadataManager (group-metadata-manager.ts): membership and rebalances;
//   - OffsetMetadataManager (offset-metadata-manager.ts): committed offsets;
//   - OffsetsPartitions (offsets-partitions.ts): which partitions are owned, loading them, the order
//     of their appends;
//   - CoordinatorOutbox (coordinator-outbox.ts): the effects of one call, each request answered once.
// What spans them stays here: loading a partition's groups and offsets, unloading it, DeleteGroups
// (tombstones from both managers), OffsetDelete (the group's state decides which offsets may go),
// and routing each completed append to its manager.

import { invariant, type Random } from '@gregor/ground';
import { ErrorCode } from '@gregor/protocol';
import { storeGroupErrorCode, storeOffsetsErrorCode } from './append-errors.js';
import { type GroupCoordinatorConfig, groupCoordinatorConfig } from './config.js';
import type { ConsumerGroup } from './consumer-group.js';
import { ConsumerGroupManager, type ConsumerGroupWriteContinuation } from './consumer-group-manager.js';
import type {
  ConsumerGroupDescribeRequest,
  ConsumerGroupHeartbeatRequest,
  ConsumerTopicsImage,
  DescribedConsumerGroup,
} from './consumer-group-messages.js';
import { subscribedTopicsOf } from './consumer-subscription.js';
import { CoordinatorOutbox } from './coordinator-outbox.js';
import { DeadlineQueue } from './deadline-queue.js';
import type { Group } from './group.js';
import { GroupMetadataManager, joinError, type StoreGroupContinuation } from './group-metadata-manager.js';
import { coordinatorPartitionFor } from './java-hash.js';
import type {
  AppendToken,
  DeleteGroupsRequest,
  DescribeGroupsRequest,
  GroupEffect,
  HeartbeatRequest,
  JoinGroupRequest,
  LeaveGroupRequest,
  ListGroupsRequest,
  LoadSummary,
  OffsetCommitRequest,
  OffsetDeleteRequest,
  OffsetDeleteResponse,
  OffsetFetchRequest,
  RequestId,
  SyncGroupRequest,
  TransactionalProducer,
  TxnOffsetCommitRequest,
} from './messages.js';
import {
  classicExpirationCondition,
  consumerExpirationCondition,
  type ExpiredOffset,
  expiredOffsets,
} from './offset-expiration.js';
import { type CommitOffsetsContinuation, OffsetMetadataManager } from './offset-metadata-manager.js';
import { OffsetsPartitions } from './offsets-partitions.js';
import { decodeOffsetsRecord, type OffsetsRecord, offsetCommitRecord } from './offsets-records.js';

/** The first OffsetCommit version a KIP-848 member may commit with. */
const consumerProtocolOffsetCommitVersionMin = 9;

interface DeleteBatch {
  readonly requestId: RequestId;
  readonly results: { groupId: string; errorCode: number }[];
  waitingAppendCount: number;
}

/** What to do when DeleteGroups' tombstones of one partition are appended. */
interface DeleteGroupsContinuation {
  readonly kind: 'deleteGroups';
  readonly batch: DeleteBatch;
  readonly groups: readonly { index: number; group: Group }[];
}

/** What to do when OffsetDelete's tombstones are appended. */
interface DeleteOffsetsContinuation {
  readonly kind: 'deleteOffsets';
  readonly requestId: RequestId;
  readonly group: Group;
  readonly deleted: readonly { readonly topic: string; readonly partition: number }[];
  /** The answer, with `null` for the partitions whose outcome is the append's. */
  readonly layout: readonly {
    name: string;
    partitions: { partitionIndex: number; errorCode: number | null }[];
  }[];
}

/** What to do when the tombstones of one offsets partition's expired offsets and groups are appended. */
interface ExpireContinuation {
  readonly kind: 'expire';
  /** KIP-848 consumer groups. */
  readonly entries: readonly {
    readonly consumerGroup: ConsumerGroup;
    /** The group keeping its offsets, if it has any. */
    readonly holder: Group | undefined;
    readonly expired: readonly ExpiredOffset[];
    /** Empty with every offset expired: the group's own tombstones are in the batch too. */
    readonly deleteGroup: boolean;
  }[];
  /** Classic groups (and groups of standalone commits). */
  readonly classicEntries: readonly {
    readonly group: Group;
    readonly expired: readonly ExpiredOffset[];
    /** Dead while its tombstones are written: removed once they are replicated, else Empty again. */
    readonly deleteGroup: boolean;
  }[];
}

/** What to do when an append completes, by the manager that asked for it. */
type Continuation =
  | StoreGroupContinuation
  | CommitOffsetsContinuation
  | DeleteGroupsContinuation
  | DeleteOffsetsContinuation
  | ConsumerGroupWriteContinuation
  | ExpireContinuation;

export class GroupCoordinator {
  readonly config: GroupCoordinatorConfig;
  private readonly outbox = new CoordinatorOutbox();
  private readonly partitions: OffsetsPartitions<Continuation>;
  private readonly groups: GroupMetadataManager;
  private readonly offsets: OffsetMetadataManager;
  private readonly consumerGroups: ConsumerGroupManager;
  /** The next expiration cycle of each loaded offsets partition (Kafka's cleanupGroupMetadata), by partition. */
  private readonly expirationCycles = new DeadlineQueue<number>();
  private running = false;

  constructor(config: Partial<GroupCoordinatorConfig>, random: Random) {
    this.config = groupCoordinatorConfig(config);
    this.partitions = new OffsetsPartitions(this.config.offsetsPartitionCount, (effect) =>
      this.outbox.push(effect),
    );
    const append = (
      partitionIndex: number,
      records: OffsetsRecord[],
      continuation: Continuation,
      producer?: TransactionalProducer,
    ): void => this.partitions.append(partitionIndex, records, continuation, producer);
    this.groups = new GroupMetadataManager(this.config, random, this.outbox, this.partitions, append);
    this.offsets = new OffsetMetadataManager(this.config, this.outbox, this.groups, append);
    this.consumerGroups = new ConsumerGroupManager(this.config, random, this.outbox, append);
  }

  // ---------------------------------------------------------------- ownership and loading

  /** The offsets partition whose leader coordinates `groupId`. */
  partitionFor(groupId: string): number {
    return coordinatorPartitionFor(groupId, this.config.offsetsPartitionCount);
  }

  /** Partitions this coordinator owns (loading or loaded). */
  ownedPartitions(): number[] {
    return this.partitions.owned();
  }

  isLoading(partitionIndex: number): boolean {
    return this.partitions.statusOf(partitionIndex) === 'loading';
  }

  /**
   * This broker became leader of offsets partition `partitionIndex`: requests for its groups answer
   * COORDINATOR_LOAD_IN_PROGRESS until `completeLoad`.
   */
  beginLoad(partitionIndex: number): void {
    this.partitions.beginLoad(partitionIndex);
  }

  /** Feeds the partition's records in log order (may be called once per batch). Last record per key wins. */
  loadRecords(partitionIndex: number, records: Iterable<OffsetsRecord>): void {
    this.partitions.loadRecords(partitionIndex, records);
  }

  /**
   * Builds the partition's groups from what `loadRecords` saw. Groups that had members come back
   * Stable with their members, each given a fresh session deadline from `nowMs` (as Kafka does).
   */
  completeLoad(partitionIndex: number, nowMs: number): LoadSummary {
    const stage = this.partitions.finishLoading(partitionIndex);
    let groupCount = 0;
    let offsetCount = 0;
    for (const [groupId, staged] of stage.groups) {
      const offsets = [...staged.offsets.values()].flatMap((o) =>
        o.value === null ? [] : [{ topic: o.topic, partition: o.partition, value: o.value }],
      );
      if (!staged.value && offsets.length === 0) continue;
      const group = this.groups.loadGroup(groupId, partitionIndex, staged.value, nowMs);
      this.offsets.loadOffsets(group, offsets);
      groupCount++;
      offsetCount += offsets.length;
      this.groups.activateLoadedGroup(group, nowMs);
    }
    groupCount += this.consumerGroups.load(partitionIndex, stage.consumerGroupRecords, nowMs);
    this.partitions.markLoaded(partitionIndex);
    this.expirationCycles.set(
      String(partitionIndex),
      nowMs + this.config.offsetsRetentionCheckIntervalMs,
      partitionIndex,
    );
    return {
      partitionIndex,
      recordCount: stage.recordCount,
      groupCount,
      offsetCount,
      unknownRecordCount: stage.unknownRecordCount,
    };
  }

  /**
   * After `completeLoad`: offsets the log holds in transactional batches of `producerId` whose
   * transaction has no marker yet; they wait for it like those of a TxnOffsetCommit. (Transactions
   * whose marker was in the log are resolved by the caller: committed ones fed to `loadRecords` at
   * their marker, aborted ones dropped.)
   */
  loadPendingTransactionalOffsets(
    partitionIndex: number,
    producerId: number,
    records: Iterable<OffsetsRecord>,
    nowMs: number,
  ): GroupEffect[] {
    return this.run(nowMs, () => {
      for (const record of records) {
        const decoded = decodeOffsetsRecord(record);
        if (decoded.kind !== 'offsetCommit' || decoded.value === null) continue;
        if (this.partitionFor(decoded.group) !== partitionIndex) continue;
        const group = this.groups.getGroup(decoded.group) ?? this.groups.createGroup(decoded.group, nowMs);
        group.addPendingTransactionalOffset(producerId, decoded.topic, decoded.partition, decoded.value);
        this.outbox.touch(group);
      }
    });
  }

  /**
   * A transaction marker of `producerId` was written to offsets partition `partitionIndex`: the
   * offsets its TxnOffsetCommits stored there become committed (commit) or are dropped (abort).
   */
  completeTransaction(
    partitionIndex: number,
    producerId: number,
    commit: boolean,
    nowMs: number,
  ): GroupEffect[] {
    return this.run(nowMs, () => {
      if (this.partitions.statusOf(partitionIndex) !== 'loaded') return;
      for (const groupId of this.groups.groupIds()) {
        const group = this.groups.getGroup(groupId);
        if (group?.partitionIndex === partitionIndex)
          this.offsets.completeTransaction(group, producerId, commit);
      }
    });
  }

  /**
   * TxnOffsetCommit. For a KIP-848 consumer group the member named (v3+) must be known and at its
   * epoch (UNKNOWN_MEMBER_ID; ILLEGAL_GENERATION for a transactional commit, as Kafka's
   * ConsumerGroup.validateOffsetCommit); then the offsets are stored like those of a group without
   * classic members.
   */
  txnOffsetCommit(requestId: RequestId, request: TxnOffsetCommitRequest, nowMs: number): GroupEffect[] {
    return this.request(requestId, nowMs, () => {
      const consumerGroup = this.servedConsumerGroup(request.groupId);
      if (consumerGroup === undefined) {
        this.offsets.txnOffsetCommit(requestId, request, nowMs);
        return;
      }
      if (request.generationId >= 0 || request.memberId !== '') {
        const validation = this.consumerGroups.validateOffsetAccess(
          consumerGroup,
          request.memberId,
          request.generationId,
          'fetch',
        );
        const errorCode =
          validation === ErrorCode.STALE_MEMBER_EPOCH ? ErrorCode.ILLEGAL_GENERATION : validation;
        if (errorCode !== ErrorCode.NONE) {
          this.outbox.respond(requestId, {
            api: 'TxnOffsetCommit',
            topics: request.topics.map((t) => ({
              name: t.name,
              partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })),
            })),
          });
          return;
        }
      }
      this.offsets.txnOffsetCommit(
        requestId,
        { ...request, generationId: -1, memberId: '', groupInstanceId: null },
        nowMs,
      );
    });
  }

  /** `beginLoad`, `loadRecords` and `completeLoad` in one call. */
  loadPartition(partitionIndex: number, records: Iterable<OffsetsRecord>, nowMs: number): LoadSummary {
    this.beginLoad(partitionIndex);
    this.loadRecords(partitionIndex, records);
    return this.completeLoad(partitionIndex, nowMs);
  }

  /**
   * This broker no longer leads `partitionIndex`: its groups are dropped, every request held for them
   * is answered NOT_COORDINATOR, and completions of its outstanding appends are ignored from now on.
   */
  unloadPartition(partitionIndex: number): GroupEffect[] {
    return this.run(null, () => {
      if (!this.partitions.has(partitionIndex)) return;
      for (const continuation of this.partitions.unload(partitionIndex))
        this.cancelContinuation(continuation);
      this.groups.unloadGroups(partitionIndex);
      this.consumerGroups.unload(partitionIndex);
      this.expirationCycles.delete(String(partitionIndex));
    });
  }

  // ---------------------------------------------------------------- time

  /** The earliest deadline (session, rebalance, sync), or null: call `tick` then. */
  nextDeadlineMs(): number | null {
    const deadlines = [
      this.groups.nextDeadlineMs(),
      this.consumerGroups.nextDeadlineMs(),
      this.expirationCycles.peekDeadlineMs(),
    ].filter((deadline): deadline is number => deadline !== null);
    return deadlines.length === 0 ? null : Math.min(...deadlines);
  }

  /** Fires every deadline due at `nowMs`. Request calls do this too, before and after their work. */
  tick(nowMs: number): GroupEffect[] {
    return this.run(nowMs, () => {});
  }

  // ---------------------------------------------------------------- appends

  /**
   * An append asked for by an `append` effect finished: `errorCode` 0 once replicated, else the
   * append's Kafka error. Tokens of an unloaded partition are ignored.
   */
  onAppendComplete(token: AppendToken, errorCode: number, nowMs: number): GroupEffect[] {
    return this.run(nowMs, () => {
      const continuation = this.partitions.completeAppend(token);
      if (continuation === undefined) return;
      switch (continuation.kind) {
        case 'commitOffsets':
          this.offsets.continueAfterCommit(continuation, errorCode);
          return;
        case 'deleteGroups':
          this.finishDeleteGroups(continuation, errorCode);
          return;
        case 'deleteOffsets':
          this.finishDeleteOffsets(continuation, errorCode);
          return;
        case 'consumerGroupWrite':
          this.consumerGroups.continueAfterWrite(continuation, errorCode, nowMs);
          return;
        case 'expire':
          this.finishExpiration(continuation, errorCode, nowMs);
          return;
        default:
          this.groups.continueAfterStore(continuation, errorCode, nowMs);
          return;
      }
    });
  }

  /** The partition was unloaded while this append was out: answer who waits on it directly. */
  private cancelContinuation(continuation: Continuation): void {
    switch (continuation.kind) {
      case 'commitOffsets':
        this.offsets.cancelCommit(continuation);
        return;
      case 'deleteGroups': {
        const { batch, groups } = continuation;
        for (const { index } of groups) batch.results[index]!.errorCode = ErrorCode.NOT_COORDINATOR;
        batch.waitingAppendCount--;
        if (batch.waitingAppendCount === 0)
          this.outbox.respond(batch.requestId, { api: 'DeleteGroups', results: batch.results });
        return;
      }
      case 'deleteOffsets':
        this.respondDeleteOffsets(continuation, ErrorCode.NOT_COORDINATOR);
        return;
      case 'consumerGroupWrite':
        this.consumerGroups.cancelWrite(continuation);
        return;
      case 'expire':
        // Nothing waits on it; the partition's groups go with the unload.
        return;
      case 'storeAssignment':
      case 'storeStaticRejoin':
      case 'storeEmptyGroup':
        // Their requests are held on members, answered when the group is dropped.
        return;
    }
  }

  // ---------------------------------------------------------------- requests

  /**
   * JoinGroup. A KIP-848 consumer group with members refuses classic members
   * (INCONSISTENT_GROUP_PROTOCOL; Kafka 4 can instead take them in through its migration path, which
   * Gregor does not have); an empty one becomes a classic group again, as Kafka converts it.
   */
  joinGroup(requestId: RequestId, request: JoinGroupRequest, nowMs: number): GroupEffect[] {
    return this.request(requestId, nowMs, () => {
      const consumerGroup = this.consumerGroups.get(request.groupId);
      if (
        consumerGroup !== undefined &&
        this.partitions.statusOf(consumerGroup.partitionIndex) === 'loaded'
      ) {
        const records = this.consumerGroups.deletionRecords(consumerGroup);
        if (typeof records === 'number') {
          this.outbox.respond(requestId, joinError(request.memberId, ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
          return;
        }
        this.consumerGroups.remove(request.groupId);
        this.partitions.append(consumerGroup.partitionIndex, records, {
          kind: 'consumerGroupWrite',
          requestId: null,
          response: null,
          rollback: null,
        });
      }
      this.groups.joinGroup(requestId, request, nowMs);
    });
  }

  syncGroup(requestId: RequestId, request: SyncGroupRequest, nowMs: number): GroupEffect[] {
    return this.request(requestId, nowMs, () => this.groups.syncGroup(requestId, request, nowMs));
  }

  heartbeat(requestId: RequestId, request: HeartbeatRequest, nowMs: number): GroupEffect[] {
    return this.request(requestId, nowMs, () => this.groups.heartbeat(requestId, request, nowMs));
  }

  leaveGroup(requestId: RequestId, request: LeaveGroupRequest, nowMs: number): GroupEffect[] {
    return this.request(requestId, nowMs, () => this.groups.leaveGroup(requestId, request, nowMs));
  }

  /**
   * OffsetCommit. For a KIP-848 consumer group the member id and epoch (sent where a classic member
   * sends its generation) are checked here (UNKNOWN_MEMBER_ID, STALE_MEMBER_EPOCH, as Kafka's
   * ConsumerGroup.validateOffsetCommit); the offsets are then stored like those of a group without
   * classic members.
   */
  offsetCommit(requestId: RequestId, request: OffsetCommitRequest, nowMs: number): GroupEffect[] {
    return this.request(requestId, nowMs, () => {
      const consumerGroup = this.servedConsumerGroup(request.groupId);
      if (consumerGroup === undefined) {
        this.offsets.offsetCommit(requestId, request, nowMs);
        return;
      }
      let errorCode = this.consumerGroups.validateOffsetAccess(
        consumerGroup,
        request.memberId,
        request.generationId,
        'commit',
        request.topics.flatMap((t) =>
          t.partitions.map((p) => ({ topicId: t.topicId, partition: p.partitionIndex })),
        ),
      );
      if (
        errorCode === ErrorCode.NONE &&
        request.memberId !== '' &&
        request.apiVersion !== undefined &&
        request.apiVersion < consumerProtocolOffsetCommitVersionMin
      ) {
        // Kafka's "OffsetCommit version 9 or above must be used by members using the modern group protocol".
        errorCode = ErrorCode.UNSUPPORTED_VERSION;
      }
      if (errorCode !== ErrorCode.NONE) {
        this.outbox.respond(requestId, {
          api: 'OffsetCommit',
          topics: request.topics.map((t) => ({
            name: t.name,
            partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })),
          })),
        });
        return;
      }
      this.offsets.offsetCommit(
        requestId,
        { ...request, generationId: -1, memberId: '', groupInstanceId: null },
        nowMs,
      );
    });
  }

  /** OffsetFetch; v9's member id and epoch are checked against a KIP-848 group's member. */
  offsetFetch(requestId: RequestId, request: OffsetFetchRequest, nowMs: number): GroupEffect[] {
    return this.request(requestId, nowMs, () => {
      const consumerGroup = this.servedConsumerGroup(request.groupId);
      const memberId = request.memberId ?? null;
      if (consumerGroup !== undefined && memberId !== null) {
        const errorCode = this.consumerGroups.validateOffsetAccess(
          consumerGroup,
          memberId,
          request.memberEpoch ?? -1,
          'fetch',
        );
        if (errorCode !== ErrorCode.NONE) {
          this.outbox.respond(requestId, { api: 'OffsetFetch', errorCode, topics: [] });
          return;
        }
      }
      this.offsets.offsetFetch(requestId, request);
    });
  }

  /** The consumer group of `groupId` when this coordinator serves it now (loaded partition). */
  private servedConsumerGroup(groupId: string): ConsumerGroup | undefined {
    const group = this.consumerGroups.get(groupId);
    if (group === undefined || this.partitions.statusOf(group.partitionIndex) !== 'loaded') return undefined;
    return group;
  }

  // ---------------------------------------------------------------- KIP-848 consumer groups

  /**
   * ConsumerGroupHeartbeat. `topics` is the metadata image's topics at the time of the request (the
   * subscriptions resolve against it). A classic group with members holds the id: GROUP_ID_NOT_FOUND
   * ("not a consumer group", as Kafka answers without its migration path); a classic group with only
   * offsets becomes a consumer group and keeps them.
   */
  consumerGroupHeartbeat(
    requestId: RequestId,
    request: ConsumerGroupHeartbeatRequest,
    topics: ConsumerTopicsImage,
    nowMs: number,
  ): GroupEffect[] {
    return this.request(requestId, nowMs, () => {
      const fail = (errorCode: number, errorMessage: string | null): void =>
        this.outbox.respond(requestId, {
          api: 'ConsumerGroupHeartbeat',
          errorCode,
          errorMessage,
          memberId: null,
          memberEpoch: 0,
          heartbeatIntervalMs: 0,
          assignment: null,
        });
      const status = this.groups.validateGroupStatus(request.groupId, true);
      if (status !== ErrorCode.NONE) return fail(status, null);
      const classic = this.groups.getGroup(request.groupId);
      if (classic?.is('Dead')) return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE, null);
      if (classic !== undefined && !classic.is('Empty')) {
        return fail(ErrorCode.GROUP_ID_NOT_FOUND, `Group ${request.groupId} is not a consumer group.`);
      }
      this.consumerGroups.heartbeat(requestId, request, this.partitionFor(request.groupId), topics, nowMs);
    });
  }

  /** ConsumerGroupDescribe: unknown groups and classic groups are GROUP_ID_NOT_FOUND, as Kafka's. */
  consumerGroupDescribe(
    requestId: RequestId,
    request: ConsumerGroupDescribeRequest,
    topics: ConsumerTopicsImage,
    nowMs: number,
  ): GroupEffect[] {
    return this.request(requestId, nowMs, () => {
      const groups = request.groupIds.map((groupId): DescribedConsumerGroup => {
        const error = (errorCode: number, errorMessage: string | null): DescribedConsumerGroup => ({
          errorCode,
          errorMessage,
          groupId,
          groupState: '',
          groupEpoch: 0,
          assignmentEpoch: 0,
          assignorName: '',
          members: [],
        });
        const status = this.groups.validateGroupStatus(groupId, false);
        if (status !== ErrorCode.NONE) return error(status, null);
        if (this.consumerGroups.get(groupId) !== undefined)
          return this.consumerGroups.describe(groupId, topics);
        const classic = this.groups.getGroup(groupId);
        if (classic !== undefined && !classic.is('Dead'))
          return error(ErrorCode.GROUP_ID_NOT_FOUND, `Group ${groupId} is not a consumer group.`);
        return error(ErrorCode.GROUP_ID_NOT_FOUND, `Group ${groupId} not found.`);
      });
      this.outbox.respond(requestId, { api: 'ConsumerGroupDescribe', groups });
    });
  }

  /**
   * DescribeGroups describes classic groups; a KIP-848 consumer group is GROUP_ID_NOT_FOUND with
   * "not a classic group" (Kafka 4's answer; DescribeGroups before v6 has no error message).
   */
  describeGroups(requestId: RequestId, request: DescribeGroupsRequest, nowMs: number): GroupEffect[] {
    return this.request(requestId, nowMs, () => {
      this.groups.describeGroups(requestId, request);
      this.outbox.amendResponse(requestId, (response) => {
        if (response.api !== 'DescribeGroups') return response;
        return {
          ...response,
          groups: response.groups.map((group) =>
            this.servedConsumerGroup(group.groupId) === undefined
              ? group
              : {
                  errorCode: ErrorCode.GROUP_ID_NOT_FOUND,
                  errorMessage: `Group ${group.groupId} is not a classic group.`,
                  groupId: group.groupId,
                  groupState: 'Dead' as const,
                  protocolType: '',
                  protocolData: '',
                  members: [],
                },
          ),
        };
      });
    });
  }

  /**
   * ListGroups: the classic groups and the KIP-848 consumer groups (type 'consumer', protocol type
   * 'consumer', their own states: Empty, Assigning, Reconciling, Stable).
   */
  listGroups(requestId: RequestId, request: ListGroupsRequest, nowMs: number): GroupEffect[] {
    return this.request(requestId, nowMs, () => {
      this.groups.listGroups(requestId, request);
      const states = new Set(request.statesFilter.map((state) => state.toLowerCase()));
      this.outbox.amendResponse(requestId, (response) => {
        if (response.api !== 'ListGroups') return response;
        const consumer = this.consumerGroups.groupIds().flatMap((groupId) => {
          const group = this.servedConsumerGroup(groupId);
          if (group === undefined || (states.size > 0 && !states.has(group.state.toLowerCase()))) return [];
          return [
            { groupId, protocolType: 'consumer', groupState: group.state, groupType: 'consumer' as const },
          ];
        });
        const ids = new Set(this.consumerGroups.groupIds());
        return {
          ...response,
          groups: [...response.groups.filter((g) => !ids.has(g.groupId)), ...consumer].sort((a, b) =>
            a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0,
          ),
        };
      });
    });
  }

  /**
   * DeleteGroups: Empty groups only; each is Dead while the tombstones of its offsets and metadata
   * are appended (one batch per offsets partition), and is answered once they are replicated.
   */
  deleteGroups(requestId: RequestId, request: DeleteGroupsRequest, nowMs: number): GroupEffect[] {
    return this.request(requestId, nowMs, () => {
      const batch: DeleteBatch = { requestId, results: [], waitingAppendCount: 0 };
      const byPartition = new Map<number, { index: number; group: Group }[]>();
      /** A KIP-848 group's own tombstones, written with those of its offsets. */
      const consumerTombstones = new Map<string, OffsetsRecord[]>();
      request.groupsNames.forEach((groupId, index) => {
        const result = { groupId, errorCode: ErrorCode.NONE as number };
        batch.results.push(result);
        const consumerGroup = this.servedConsumerGroup(groupId);
        if (consumerGroup !== undefined) {
          const records = this.consumerGroups.deletionRecords(consumerGroup);
          if (typeof records === 'number') {
            result.errorCode = records;
            return;
          }
          consumerTombstones.set(groupId, records);
          this.consumerGroups.remove(groupId);
          if (this.groups.getGroup(groupId) === undefined) {
            // No offsets either: only the consumer group's own tombstones.
            batch.waitingAppendCount++;
            this.partitions.append(consumerGroup.partitionIndex, records, {
              kind: 'deleteGroups',
              batch,
              groups: [],
            });
            return;
          }
        }
        const group = this.groups.markGroupForDeletion(groupId, nowMs);
        if (typeof group === 'number') {
          result.errorCode = group;
          return;
        }
        const entries = byPartition.get(group.partitionIndex) ?? [];
        entries.push({ index, group });
        byPartition.set(group.partitionIndex, entries);
      });
      for (const [partitionIndex, entries] of byPartition) {
        const records: OffsetsRecord[] = [];
        for (const { group } of entries) {
          records.push(
            ...this.offsets.offsetTombstones(group),
            ...this.groups.groupTombstones(group),
            ...(consumerTombstones.get(group.groupId) ?? []),
          );
        }
        if (records.length === 0) {
          for (const { group } of entries) this.groups.removeGroup(group);
          continue;
        }
        batch.waitingAppendCount++;
        this.partitions.append(partitionIndex, records, { kind: 'deleteGroups', batch, groups: entries });
      }
      if (batch.waitingAppendCount === 0)
        this.outbox.respond(requestId, { api: 'DeleteGroups', results: batch.results });
    });
  }

  private finishDeleteGroups(continuation: DeleteGroupsContinuation, appendErrorCode: number): void {
    const { batch, groups } = continuation;
    const errorCode = storeGroupErrorCode(appendErrorCode);
    for (const { index, group } of groups) {
      batch.results[index]!.errorCode = errorCode;
      if (!this.groups.isCurrent(group)) continue;
      if (errorCode === ErrorCode.NONE) this.groups.removeGroup(group);
      else this.groups.reviveAfterFailedDelete(group);
    }
    batch.waitingAppendCount--;
    if (batch.waitingAppendCount === 0)
      this.outbox.respond(batch.requestId, { api: 'DeleteGroups', results: batch.results });
  }

  /**
   * OffsetDelete (Kafka's GroupCoordinator.handleDeleteOffsets): an Empty group may lose any of its
   * offsets; a "consumer" group with members only those of topics no member subscribes to (the
   * others GROUP_SUBSCRIBED_TO_TOPIC); any other group with members is NON_EMPTY_GROUP. The
   * tombstones (for committed offsets and commits still being written) are appended to the group's
   * offsets partition and the answer waits for them, so a coordinator that loads the partition
   * later finds the offsets gone too.
   */
  offsetDelete(requestId: RequestId, request: OffsetDeleteRequest, nowMs: number): GroupEffect[] {
    return this.request(requestId, nowMs, () => {
      // A group-level error answers no partitions, as Kafka's OffsetDeleteRequest.getErrorResponse.
      const replyAll = (errorCode: number): void =>
        this.outbox.respond(requestId, { api: 'OffsetDelete', errorCode, topics: [] });
      const status = this.groups.validateGroupStatus(request.groupId, false);
      if (status !== ErrorCode.NONE) return replyAll(status);
      const group = this.groups.getGroup(request.groupId);
      if (group === undefined || group.is('Dead')) return replyAll(ErrorCode.GROUP_ID_NOT_FOUND);
      this.outbox.touch(group);
      let subscribed: ReadonlySet<string> | 'all' = new Set();
      const consumerGroup = this.servedConsumerGroup(request.groupId);
      if (consumerGroup !== undefined && consumerGroup.members.size > 0) {
        // A KIP-848 group: its members' subscriptions (a regex could match any topic).
        const names = new Set<string>();
        for (const member of consumerGroup.members.values()) {
          if (member.subscribedTopicRegex !== null) subscribed = 'all';
          for (const name of member.subscribedTopicNames) names.add(name);
        }
        if (subscribed !== 'all') subscribed = names;
      } else if (!group.is('Empty')) {
        if (group.protocolType !== 'consumer') return replyAll(ErrorCode.NON_EMPTY_GROUP);
        subscribed = this.subscribedTopics(group);
      }
      const deleted: { topic: string; partition: number }[] = [];
      const pending = new Set(group.pendingCommitKeys().map((key) => key.id));
      const layout = request.topics.map((topic) => ({
        name: topic.name,
        partitions: topic.partitions.map(({ partitionIndex }) => {
          if (subscribed === 'all' || subscribed.has(topic.name)) {
            return { partitionIndex, errorCode: ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC as number | null };
          }
          if (
            group.committedOffset(topic.name, partitionIndex) !== undefined ||
            pending.has(`${topic.name}\u0000${partitionIndex}`)
          ) {
            deleted.push({ topic: topic.name, partition: partitionIndex });
            return { partitionIndex, errorCode: null };
          }
          return { partitionIndex, errorCode: ErrorCode.NONE };
        }),
      }));
      const continuation: DeleteOffsetsContinuation = {
        kind: 'deleteOffsets',
        requestId,
        group,
        deleted,
        layout,
      };
      if (deleted.length === 0) return this.respondDeleteOffsets(continuation, ErrorCode.NONE);
      this.partitions.append(
        group.partitionIndex,
        deleted.map(({ topic, partition }) => offsetCommitRecord(group.groupId, topic, partition, null)),
        continuation,
      );
    });
  }

  /**
   * The topics the members of a non-empty consumer group subscribe to (Kafka's subscribedTopics),
   * from their metadata for the group's protocol; 'all' when that cannot be known (no protocol chosen
   * yet, or metadata that is not a consumer subscription), so nothing is deleted under a consumer.
   */
  private subscribedTopics(group: Group): ReadonlySet<string> | 'all' {
    const protocolName = group.protocolName;
    if (protocolName === null) return 'all';
    const topics = new Set<string>();
    for (const member of group.members.values()) {
      if (!member.protocols.some((protocol) => protocol.name === protocolName)) return 'all';
      const subscription = subscribedTopicsOf(member.metadataFor(protocolName));
      if (subscription === null) return 'all';
      for (const topic of subscription) topics.add(topic);
    }
    return topics;
  }

  private finishDeleteOffsets(continuation: DeleteOffsetsContinuation, appendErrorCode: number): void {
    const { group, deleted } = continuation;
    this.outbox.touch(group);
    if (appendErrorCode === ErrorCode.NONE && this.groups.isCurrent(group)) {
      for (const { topic, partition } of deleted) group.deleteCommittedOffset(topic, partition);
    }
    this.respondDeleteOffsets(continuation, storeOffsetsErrorCode(appendErrorCode));
  }

  private respondDeleteOffsets(continuation: DeleteOffsetsContinuation, deletedErrorCode: number): void {
    const response: OffsetDeleteResponse = {
      api: 'OffsetDelete',
      errorCode: ErrorCode.NONE,
      topics: continuation.layout.map((topic) => ({
        name: topic.name,
        partitions: topic.partitions.map((p) => ({
          partitionIndex: p.partitionIndex,
          errorCode: p.errorCode ?? deletedErrorCode,
        })),
      })),
    };
    this.outbox.respond(continuation.requestId, response);
  }

  // ---------------------------------------------------------------- one call

  private request(requestId: RequestId, nowMs: number, body: () => void): GroupEffect[] {
    return this.run(nowMs, () => {
      this.outbox.receive(requestId);
      body();
    });
  }

  /**
   * Every public entry point: fire the deadlines due at `nowMs`, do the work, fire what became due,
   * check the invariants of every group touched, and hand back the effects in order.
   */
  private fireDueTimers(nowMs: number): void {
    this.groups.fireDueTimers(nowMs);
    this.consumerGroups.fireDueTimers(nowMs);
    for (
      let due = this.expirationCycles.popDue(nowMs);
      due !== null;
      due = this.expirationCycles.popDue(nowMs)
    ) {
      this.expireGroupMetadata(due.value, nowMs);
      this.expirationCycles.set(due.key, nowMs + this.config.offsetsRetentionCheckIntervalMs, due.value);
    }
  }

  // ---------------------------------------------------------------- expiration

  /**
   * Kafka's GroupCoordinatorShard.cleanupGroupMetadata for the groups of one loaded partition: the
   * expired offsets of each group (offset-expiration.ts) are tombstoned, and an Empty group whose
   * offsets all expired (or that has none) is deleted with its own tombstones in the same batch, so
   * a coordinator loading the log later finds it gone too. Offsets change in memory only once the
   * batch is replicated (an offset committed again meanwhile stays).
   */
  private expireGroupMetadata(partitionIndex: number, nowMs: number): void {
    if (this.partitions.statusOf(partitionIndex) !== 'loaded') return;
    const records: OffsetsRecord[] = [];
    const entries = this.expireConsumerGroups(partitionIndex, nowMs, records);
    const classicEntries = this.expireClassicGroups(partitionIndex, nowMs, records);
    if (records.length === 0) return;
    this.partitions.append(partitionIndex, records, { kind: 'expire', entries, classicEntries });
  }

  /**
   * The KIP-848 consumer groups' part: a group without members whose offsets all expired goes with
   * Kafka's tombstones for it. A group with a write in flight waits for the next cycle.
   */
  private expireConsumerGroups(
    partitionIndex: number,
    nowMs: number,
    records: OffsetsRecord[],
  ): ExpireContinuation['entries'][number][] {
    const entries: ExpireContinuation['entries'][number][] = [];
    for (const groupId of this.consumerGroups.groupIds()) {
      const consumerGroup = this.consumerGroups.get(groupId)!;
      if (consumerGroup.partitionIndex !== partitionIndex || this.consumerGroups.isWriting(groupId)) continue;
      const holder = this.groups.getGroup(groupId);
      if (holder?.is('Dead')) continue; // DeleteGroups is writing its tombstones
      const { expired, allExpired } = expiredOffsets(
        holder,
        consumerExpirationCondition((topic) => this.consumerGroups.isSubscribedToTopic(consumerGroup, topic)),
        nowMs,
        this.config.offsetsRetentionMs,
      );
      const deleteGroup = allExpired && consumerGroup.members.size === 0;
      if (expired.length === 0 && !deleteGroup) continue;
      for (const { topic, partition } of expired)
        records.push(offsetCommitRecord(groupId, topic, partition, null));
      if (deleteGroup) {
        if (holder !== undefined) records.push(...this.groups.groupTombstones(holder));
        records.push(...this.consumerGroups.beginExpiry(consumerGroup));
      }
      entries.push({ consumerGroup, holder, expired, deleteGroup });
    }
    return entries;
  }

  /**
   * The classic groups' part (Kafka's ClassicGroup.offsetExpirationCondition and maybeDeleteGroup):
   * an Empty group whose offsets all expired, or that has none, is Dead while its tombstones are
   * written, so no join or commit changes it meanwhile (they get COORDINATOR_NOT_AVAILABLE and
   * retry); one that never wrote a record of its own and has no offsets goes at once. A group with a
   * member still to rejoin (MEMBER_ID_REQUIRED) is kept for the next cycle.
   */
  private expireClassicGroups(
    partitionIndex: number,
    nowMs: number,
    records: OffsetsRecord[],
  ): ExpireContinuation['classicEntries'][number][] {
    const entries: ExpireContinuation['classicEntries'][number][] = [];
    for (const groupId of this.groups.groupIds()) {
      const group = this.groups.getGroup(groupId)!;
      if (group.partitionIndex !== partitionIndex || group.is('Dead')) continue;
      // A KIP-848 group's offsets are kept by a classic Group: its part above decides for them.
      if (this.consumerGroups.get(groupId) !== undefined) continue;
      // No condition: a group with members, rebalancing or of another protocol type keeps everything.
      const condition = classicExpirationCondition(group, () => this.subscribedTopics(group));
      if (condition === null) continue;
      const { expired, allExpired } = expiredOffsets(group, condition, nowMs, this.config.offsetsRetentionMs);
      const deleteGroup = allExpired && group.is('Empty') && group.pendingMemberIds.size === 0;
      if (expired.length === 0 && !deleteGroup) continue;
      const tombstones = expired.map(({ topic, partition }) =>
        offsetCommitRecord(groupId, topic, partition, null),
      );
      if (deleteGroup) tombstones.push(...this.groups.groupTombstones(group));
      if (tombstones.length === 0) {
        // Nothing of it is in the log (no offsets, no metadata record): it only lived in memory.
        this.groups.removeGroup(group);
        continue;
      }
      if (deleteGroup) {
        const marked = this.groups.markGroupForDeletion(groupId, nowMs);
        invariant(marked === group, () => `group ${groupId}: an Empty group refused its deletion`);
      }
      records.push(...tombstones);
      entries.push({ group, expired, deleteGroup });
    }
    return entries;
  }

  private hasPendingOffsets(group: Group): boolean {
    return group.pendingCommitCounts.size > 0 || group.pendingTransactionalOffsets.size > 0;
  }

  private finishExpiration(continuation: ExpireContinuation, appendErrorCode: number, nowMs: number): void {
    const replicated = appendErrorCode === ErrorCode.NONE;
    for (const { consumerGroup, holder, expired, deleteGroup } of continuation.entries) {
      if (replicated && holder !== undefined && this.groups.isCurrent(holder)) {
        this.outbox.touch(holder);
        this.removeExpiredOffsets(holder, expired);
        if (
          deleteGroup &&
          holder.is('Empty') &&
          holder.offsetCount === 0 &&
          !this.hasPendingOffsets(holder)
        ) {
          this.groups.removeGroup(holder);
        }
      }
      if (deleteGroup) this.consumerGroups.finishExpiry(consumerGroup, replicated, nowMs);
    }
    for (const { group, expired, deleteGroup } of continuation.classicEntries) {
      if (!this.groups.isCurrent(group)) continue;
      this.outbox.touch(group);
      if (deleteGroup) {
        // Dead meanwhile: nothing could commit to it or join it.
        if (replicated) this.groups.removeGroup(group);
        else this.groups.reviveAfterFailedDelete(group);
      } else if (replicated) {
        this.removeExpiredOffsets(group, expired);
      }
    }
  }

  /** The expired offsets whose tombstones are replicated; one committed again since stays (its record came later). */
  private removeExpiredOffsets(group: Group, expired: readonly ExpiredOffset[]): void {
    for (const { topic, partition, value } of expired) {
      if (group.committedOffset(topic, partition) === value) group.deleteCommittedOffset(topic, partition);
    }
  }

  private run(nowMs: number | null, body: () => void): GroupEffect[] {
    invariant(!this.running, 'the coordinator is not re-entrant');
    this.running = true;
    try {
      if (nowMs !== null) this.fireDueTimers(nowMs);
      body();
      if (nowMs !== null) this.fireDueTimers(nowMs);
      for (const group of this.outbox.touched) if (this.groups.isCurrent(group)) group.checkInvariants();
      return this.outbox.drain();
    } finally {
      this.outbox.discard();
      this.running = false;
    }
  }

  // ---------------------------------------------------------------- inspection (tests, tools)

  /** The group's live state; read it, never change it. */
  getGroup(groupId: string): Group | undefined {
    return this.groups.getGroup(groupId);
  }

  groupIds(): string[] {
    return this.groups.groupIds();
  }

  /** The whole coordinator's invariants: every group's, and that timers and members agree. */
  checkInvariants(): void {
    this.groups.checkInvariants((partitionIndex) => this.partitions.statusOf(partitionIndex) === 'loaded');
    this.consumerGroups.checkInvariants();
  }

  /** A KIP-848 consumer group's live state; read it, never change it. */
  getConsumerGroup(groupId: string): ConsumerGroup | undefined {
    return this.consumerGroups.get(groupId);
  }

  /** Request ids received and not answered yet (held joins and syncs, commits awaiting their append). */
  inflightRequestCount(): number {
    return this.outbox.inflightRequestCount;
  }
}

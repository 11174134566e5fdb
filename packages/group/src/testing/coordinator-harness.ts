// A fake driver for the coordinator: a clock that moves only when told, a log per offsets partition,
// appends completed on demand (or at once), and every response kept by request id. Tests read it
// like a transcript of what a broker would have sent.

import { type Random, SeededRandom } from '@gregor/ground';
import { expect } from 'vitest';
import type { GroupCoordinatorConfig } from '../config.js';
import { GroupCoordinator } from '../group-coordinator.js';
import type {
  AppendToken,
  GroupEffect,
  GroupResponse,
  HeartbeatResponse,
  JoinGroupRequest,
  JoinGroupResponse,
  OffsetCommitRequest,
  OffsetCommitResponse,
  OffsetFetchResponse,
  ProtocolMetadata,
  RequestId,
  SyncGroupResponse,
} from '../messages.js';
import type { OffsetsRecord } from '../offsets-records.js';

export const sessionTimeoutMs = 10_000;
export const rebalanceTimeoutMs = 30_000;

export function protocols(...names: string[]): ProtocolMetadata[] {
  return names.map((name) => ({ name, metadata: Buffer.from(`${name}-subscription`) }));
}

/** A ConsumerProtocolSubscription v0 (what a "consumer" member joins with): version, topics, null user data. */
export function consumerSubscription(...topics: string[]): Buffer {
  const parts = [Buffer.from([0, 0]), Buffer.alloc(4)];
  parts[1]!.writeInt32BE(topics.length);
  for (const topic of topics) {
    const length = Buffer.alloc(2);
    length.writeInt16BE(Buffer.byteLength(topic));
    parts.push(length, Buffer.from(topic));
  }
  parts.push(Buffer.from([0xff, 0xff, 0xff, 0xff]));
  return Buffer.concat(parts);
}

export interface JoinOptions {
  memberId?: string;
  groupInstanceId?: string | null;
  apiVersion?: number;
  protocols?: ProtocolMetadata[];
  protocolType?: string;
  sessionTimeoutMs?: number;
  rebalanceTimeoutMs?: number;
  clientId?: string;
}

interface OutstandingAppend {
  readonly token: AppendToken;
  readonly partitionIndex: number;
  readonly records: readonly OffsetsRecord[];
}

/** The harness clock's start: wall-clock milliseconds, as the coordinator writes them to the log. */
export const harnessStartMs = 1_700_000_000_000;

export class Harness {
  nowMs: number;
  readonly coordinator: GroupCoordinator;
  readonly responses = new Map<RequestId, GroupResponse>();
  /** Appends asked for and not completed, oldest first. */
  readonly outstanding: OutstandingAppend[] = [];
  /** Records of completed appends, per offsets partition, in log order. */
  readonly logs = new Map<number, OffsetsRecord[]>();
  /** Complete every append as soon as it is asked for. */
  autoAppend = true;
  private nextRequestId: RequestId = 1;

  /**
   * `logs`: what each offsets partition already holds (a coordinator taking over), empty by default;
   * `startMs`: the clock when the partitions load.
   */
  constructor(
    config: Partial<GroupCoordinatorConfig> = {},
    random: Random = new SeededRandom(1),
    logs: ReadonlyMap<number, readonly OffsetsRecord[]> = new Map(),
    startMs = harnessStartMs,
  ) {
    this.nowMs = startMs;
    this.coordinator = new GroupCoordinator({ offsetsPartitionCount: 1, ...config }, random);
    for (let p = 0; p < this.coordinator.config.offsetsPartitionCount; p++) {
      const records = logs.get(p) ?? [];
      this.coordinator.loadPartition(p, records, this.nowMs);
      this.logs.set(p, [...records]);
    }
  }

  apply(effects: GroupEffect[]): void {
    for (const effect of effects) {
      if (effect.kind === 'respond') {
        // (A plain check first: property tests send hundreds of thousands of requests.)
        if (this.responses.has(effect.requestId)) expect.fail(`request ${effect.requestId} answered twice`);
        this.responses.set(effect.requestId, effect.response);
      } else {
        this.outstanding.push({
          token: effect.token,
          partitionIndex: effect.partitionIndex,
          records: effect.records,
        });
      }
    }
    while (this.autoAppend && this.outstanding.length > 0) this.completeAppend(0);
  }

  /** Completes the oldest outstanding append (appends complete in order), writing it to the log on success. */
  completeAppend(errorCode = 0): void {
    const append = this.outstanding.shift();
    if (append === undefined) throw new Error('no outstanding append');
    if (errorCode === 0) {
      const log = this.logs.get(append.partitionIndex) ?? [];
      log.push(...append.records);
      this.logs.set(append.partitionIndex, log);
    }
    this.apply(this.coordinator.onAppendComplete(append.token, errorCode, this.nowMs));
  }

  advance(ms: number): void {
    this.nowMs += ms;
    this.apply(this.coordinator.tick(this.nowMs));
  }

  /** Moves the clock to the next deadline, if it is at most `maxMs` away. */
  advanceToNextDeadline(maxMs = Number.POSITIVE_INFINITY): boolean {
    const deadline = this.coordinator.nextDeadlineMs();
    if (deadline === null || deadline - this.nowMs > maxMs) return false;
    this.advance(Math.max(0, deadline - this.nowMs));
    return true;
  }

  private id(): RequestId {
    return this.nextRequestId++;
  }

  join(groupId: string, options: JoinOptions = {}): RequestId {
    const request: JoinGroupRequest = {
      // v3 unless static: tests of the MEMBER_ID_REQUIRED round trip (v4+) ask for it explicitly.
      apiVersion: options.apiVersion ?? (options.groupInstanceId ? 5 : 3),
      groupId,
      sessionTimeoutMs: options.sessionTimeoutMs ?? sessionTimeoutMs,
      rebalanceTimeoutMs: options.rebalanceTimeoutMs ?? rebalanceTimeoutMs,
      memberId: options.memberId ?? '',
      groupInstanceId: options.groupInstanceId ?? null,
      protocolType: options.protocolType ?? 'consumer',
      protocols: options.protocols ?? protocols('range'),
      clientId: options.clientId ?? 'client',
      clientHost: '/127.0.0.1',
    };
    const requestId = this.id();
    this.apply(this.coordinator.joinGroup(requestId, request, this.nowMs));
    return requestId;
  }

  sync(
    groupId: string,
    memberId: string,
    generationId: number,
    assignments: Record<string, string> = {},
    groupInstanceId: string | null = null,
  ): RequestId {
    const requestId = this.id();
    this.apply(
      this.coordinator.syncGroup(
        requestId,
        {
          groupId,
          generationId,
          memberId,
          groupInstanceId,
          protocolType: null,
          protocolName: null,
          assignments: Object.entries(assignments).map(([id, a]) => ({
            memberId: id,
            assignment: Buffer.from(a),
          })),
        },
        this.nowMs,
      ),
    );
    return requestId;
  }

  heartbeat(
    groupId: string,
    memberId: string,
    generationId: number,
    groupInstanceId: string | null = null,
  ): number {
    const requestId = this.id();
    this.apply(
      this.coordinator.heartbeat(requestId, { groupId, memberId, generationId, groupInstanceId }, this.nowMs),
    );
    return this.response<HeartbeatResponse>(requestId).errorCode;
  }

  leave(groupId: string, members: { memberId: string; groupInstanceId?: string | null }[]): RequestId {
    const requestId = this.id();
    this.apply(
      this.coordinator.leaveGroup(
        requestId,
        {
          groupId,
          members: members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId ?? null })),
        },
        this.nowMs,
      ),
    );
    return requestId;
  }

  commit(
    groupId: string,
    memberId: string,
    generationId: number,
    offsets: Record<string, number | [number, string]>,
    extra: Partial<OffsetCommitRequest> = {},
  ): RequestId {
    const byTopic = new Map<string, OffsetCommitRequest['topics'][number]['partitions'][number][]>();
    for (const [tp, spec] of Object.entries(offsets)) {
      const [topic, partition] = tp.split(':') as [string, string];
      const [offset, metadata] = typeof spec === 'number' ? [spec, ''] : spec;
      const list = byTopic.get(topic) ?? [];
      list.push({
        partitionIndex: Number(partition),
        committedOffset: BigInt(offset),
        committedLeaderEpoch: -1,
        commitTimestampMs: -1,
        committedMetadata: metadata,
      });
      byTopic.set(topic, list);
    }
    const requestId = this.id();
    this.apply(
      this.coordinator.offsetCommit(
        requestId,
        {
          groupId,
          generationId,
          memberId,
          groupInstanceId: null,
          retentionTimeMs: -1,
          topics: [...byTopic].map(([name, partitions]) => ({ name, partitions })),
          ...extra,
        },
        this.nowMs,
      ),
    );
    return requestId;
  }

  /** The commit's per-partition error codes as "topic:partition" → code. */
  commitErrors(requestId: RequestId): Record<string, number> {
    const response = this.response<OffsetCommitResponse>(requestId);
    return Object.fromEntries(
      response.topics.flatMap((t) => t.partitions.map((p) => [`${t.name}:${p.partitionIndex}`, p.errorCode])),
    );
  }

  fetch(
    groupId: string,
    topics: Record<string, number[]> | null,
    requireStable = false,
  ): OffsetFetchResponse {
    const requestId = this.id();
    this.apply(
      this.coordinator.offsetFetch(
        requestId,
        {
          groupId,
          topics:
            topics === null
              ? null
              : Object.entries(topics).map(([name, partitionIndexes]) => ({ name, partitionIndexes })),
          requireStable,
        },
        this.nowMs,
      ),
    );
    return this.response<OffsetFetchResponse>(requestId);
  }

  /** Committed offsets as "topic:partition" → offset (-1 for none). */
  fetchOffsets(groupId: string, topics: Record<string, number[]> | null): Record<string, number> {
    const response = this.fetch(groupId, topics);
    return Object.fromEntries(
      response.topics.flatMap((t) =>
        t.partitions.map((p) => [`${t.name}:${p.partitionIndex}`, Number(p.committedOffset)]),
      ),
    );
  }

  /** Moves through deadlines until every one of `requestIds` is answered. */
  settle(requestIds: RequestId[], maxMs = 10 * rebalanceTimeoutMs): void {
    const start = this.nowMs;
    while (!requestIds.every((r) => this.answered(r))) {
      if (!this.advanceToNextDeadline(start + maxMs - this.nowMs))
        throw new Error(`requests ${requestIds} never answered`);
    }
  }

  /** Sends a request through `invoke` and returns its id, answered or not. */
  send(invoke: (requestId: RequestId, nowMs: number) => GroupEffect[]): RequestId {
    const requestId = this.id();
    this.apply(invoke(requestId, this.nowMs));
    return requestId;
  }

  call<T extends GroupResponse>(invoke: (requestId: RequestId, nowMs: number) => GroupEffect[]): T {
    const requestId = this.id();
    this.apply(invoke(requestId, this.nowMs));
    return this.response<T>(requestId);
  }

  answered(requestId: RequestId): boolean {
    return this.responses.has(requestId);
  }

  response<T extends GroupResponse>(requestId: RequestId): T {
    const response = this.responses.get(requestId);
    if (response === undefined) throw new Error(`request ${requestId} has no response yet`);
    return response as T;
  }

  joinResponse(requestId: RequestId): JoinGroupResponse {
    return this.response<JoinGroupResponse>(requestId);
  }

  syncResponse(requestId: RequestId): SyncGroupResponse {
    return this.response<SyncGroupResponse>(requestId);
  }

  /** Joins dynamic members one after another and runs the rebalance and sync to Stable. */
  stableGroup(
    groupId: string,
    memberCount: number,
    options: JoinOptions = {},
  ): { memberIds: string[]; generationId: number } {
    const joins: RequestId[] = [];
    for (let i = 0; i < memberCount; i++)
      joins.push(this.join(groupId, { ...options, clientId: `client-${i}` }));
    this.settle(joins);
    const results = joins.map((j) => this.joinResponse(j));
    const leader = results.find((r) => r.memberId === r.leader)!;
    const assignments = Object.fromEntries(results.map((r) => [r.memberId, `assignment-of-${r.memberId}`]));
    for (const r of results) this.sync(groupId, r.memberId, r.generationId, r === leader ? assignments : {});
    expect(this.coordinator.getGroup(groupId)?.state).toBe('Stable');
    return { memberIds: results.map((r) => r.memberId), generationId: leader.generationId };
  }
}

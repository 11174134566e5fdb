// Random sequences of client requests, clock moves, append completions (some failing) and partition
// moves (unload, then reload from the log) must keep the coordinator's invariants at every step:
// Group.checkInvariants (leader is a member, Stable ⇒ every member assigned, static ids mapped, ...),
// timers agree with members, generations never go back while a group stays loaded, no member id in
// two groups, acknowledged commits are what OffsetFetch returns (across reloads too), and in the end
// every request was answered exactly once. fast-check prints the seed and path of a failure.
// A second run sets a short `offsets.retention.minutes`: an acknowledged offset may then read as
// gone only once Kafka's rule lets it expire (a retention after its commit and, for the topic the
// members subscribe to, after the group was last Stable), and once the clients stop every group and
// offset expires, in memory and in a coordinator loaded from the log.

import { SeededRandom } from '@gregor/ground';
import { ErrorCode, errorInfo } from '@gregor/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type {
  DeleteGroupsResponse,
  JoinGroupResponse,
  OffsetCommitResponse,
  RequestId,
  SyncGroupResponse,
} from './messages.js';
import { decodeOffsetsRecord } from './offsets-records.js';
import { consumerSubscription, Harness } from './testing/coordinator-harness.js';

const groupIds = ['alpha', 'beta', 'gamma'];

/** Outcome counts over all runs, to check that the generator reaches the interesting states. */
const stats = new Map<string, number>();
/** Replay a failure with GROUP_PROPERTY_SEED=<seed printed by fast-check>. */
const propertySeed = Number(process.env.GROUP_PROPERTY_SEED ?? 20240601);

function count(key: string): void {
  stats.set(key, (stats.get(key) ?? 0) + 1);
}
const slotCount = 4;
const offsetsPartitionCount = 2;
/** Every member subscribes to topic `t`; commits go to `t` and to `u`, which nobody subscribes to. */
const subscribedTopic = 't';
const committedTopics = ['t', 'u'] as const;
const metadata = consumerSubscription(subscribedTopic);
const protocolChoices = [['range'], ['range', 'roundrobin'], ['roundrobin', 'range']].map((names) =>
  names.map((name) => ({ name, metadata })),
);

interface Slot {
  memberId: string;
  generationId: number;
  /** Static slots (the first two of each group) join with an instance id. */
  readonly groupInstanceId: string | null;
  leaderOf: string[] | null;
}

const slotArb = fc.record({
  group: fc.integer({ min: 0, max: groupIds.length - 1 }),
  slot: fc.integer({ min: 0, max: slotCount - 1 }),
});

interface SlotRef {
  group: number;
  slot: number;
}

type Op =
  | { kind: 'syncAll' | 'heartbeatAll' | 'fetch' | 'delete'; group: number }
  | { kind: 'join'; at: SlotRef; version: number; protocols: number }
  | { kind: 'sync' | 'heartbeat'; at: SlotRef }
  | { kind: 'leave'; at: SlotRef; byInstance: boolean }
  | {
      kind: 'commit';
      at: SlotRef;
      standalone: boolean;
      topic: (typeof committedTopics)[number];
      partition: number;
      offset: number;
    }
  | { kind: 'describe' }
  | { kind: 'advance'; ms: number }
  | { kind: 'appendDone'; fail: boolean }
  | { kind: 'move'; partition: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  // Every member of a group that has a generation syncs, or heartbeats: what live clients do.
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('syncAll' as const),
      group: fc.integer({ min: 0, max: groupIds.length - 1 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('heartbeatAll' as const),
      group: fc.integer({ min: 0, max: groupIds.length - 1 }),
    }),
  },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('join' as const),
      at: slotArb,
      version: fc.constantFrom(0, 3, 4, 5),
      protocols: fc.integer({ min: 0, max: 2 }),
    }),
  },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('sync' as const), at: slotArb }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('heartbeat' as const), at: slotArb }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('leave' as const), at: slotArb, byInstance: fc.boolean() }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('commit' as const),
      at: slotArb,
      standalone: fc.boolean(),
      topic: fc.constantFrom(...committedTopics),
      partition: fc.integer({ min: 0, max: 2 }),
      offset: fc.integer({ min: 0, max: 1000 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('fetch' as const),
      group: fc.integer({ min: 0, max: groupIds.length - 1 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('delete' as const),
      group: fc.integer({ min: 0, max: groupIds.length - 1 }),
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      // Mostly within a session timeout (10 s), sometimes far beyond it.
      ms: fc.oneof(
        { weight: 8, arbitrary: fc.integer({ min: 0, max: 3000 }) },
        fc.integer({ min: 0, max: 40_000 }),
      ),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('appendDone' as const),
      fail: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('move' as const),
      partition: fc.integer({ min: 0, max: offsetsPartitionCount - 1 }),
    }),
  },
);

interface Retention {
  readonly offsetsRetentionMs: number;
  readonly offsetsRetentionCheckIntervalMs: number;
}

/** An acknowledged commit: the offset and the clock when it was sent (its commit timestamp). */
interface Acknowledged {
  readonly offset: number;
  readonly committedAtMs: number;
  /** Kafka's rule let it expire at some step: it may read as gone from then on. */
  expirable: boolean;
  /**
   * Seen expired: from then on it reads as gone, or as itself again if its tombstones were refused
   * or lost with a partition move before they were written.
   */
  expired: boolean;
}

function run(ops: Op[], seed: number, retention?: Retention): void {
  const config = { offsetsPartitionCount, initialRebalanceDelayMs: 1000, ...retention };
  const h = new Harness(config, new SeededRandom(seed));
  const retentionMs = h.coordinator.config.offsetsRetentionMs;
  h.autoAppend = false;
  const slots = groupIds.map((g) =>
    Array.from(
      { length: slotCount },
      (_, i): Slot => ({
        memberId: '',
        generationId: -1,
        groupInstanceId: i < 2 ? `${g}-instance-${i}` : null,
        leaderOf: null,
      }),
    ),
  );
  /** Request id → what to do with its answer. */
  const pending = new Map<RequestId, (response: unknown) => void>();
  const sent: RequestId[] = [];
  /** Offsets acknowledged to clients, per group: "topic:partition" → the latest. */
  const acknowledged = new Map<string, Map<string, Acknowledged>>();
  /**
   * When each group last had members. Until a retention after it (and after the commit) the
   * subscribed topic's offsets must stay. A coordinator that loads the log knows only what the log
   * says: its last record of the group has members (in use now) or is Empty since a time (members
   * that joined later but never had an assignment written are not in the log).
   */
  const lastInUseMs = new Map<string, number>();
  const wasInUse = new Set<string>();
  const lastGeneration = new Map<string, number>();
  /** Groups with a DeleteGroups in flight: Dead until it is written, so their offsets read as -1. */
  const deleting = new Map<string, number>();

  const track = (requestId: RequestId, onAnswer: (response: unknown) => void = () => {}): void => {
    sent.push(requestId);
    pending.set(requestId, onAnswer);
  };
  const deliver = (): void => {
    for (const [requestId, onAnswer] of [...pending]) {
      const response = h.responses.get(requestId);
      if (response === undefined) continue;
      pending.delete(requestId);
      onAnswer(response);
    }
  };
  const forget = (slot: Slot): void => {
    slot.memberId = '';
    slot.generationId = -1;
    slot.leaderOf = null;
  };

  const check = (): void => {
    h.coordinator.checkInvariants();
    const owners = new Map<string, string>();
    for (const groupId of h.coordinator.groupIds()) {
      const group = h.coordinator.getGroup(groupId)!;
      for (const memberId of group.members.keys()) {
        expect(owners.get(memberId), `member ${memberId} in two groups`).toBeUndefined();
        owners.set(memberId, groupId);
      }
      count(`state:${group.state}`);
      const inUse = group.members.size > 0;
      if (inUse || wasInUse.has(groupId)) lastInUseMs.set(groupId, h.nowMs);
      if (inUse) wasInUse.add(groupId);
      else wasInUse.delete(groupId);
      const previous = lastGeneration.get(groupId);
      if (previous !== undefined) expect(group.generationId).toBeGreaterThanOrEqual(previous);
      lastGeneration.set(groupId, group.generationId);
    }
    for (const groupId of lastGeneration.keys())
      if (!h.coordinator.getGroup(groupId)) lastGeneration.delete(groupId);
    for (const groupId of wasInUse) if (!h.coordinator.getGroup(groupId)) wasInUse.delete(groupId);
    for (const response of h.responses.values()) {
      const codes: number[] = [];
      if ('errorCode' in response) codes.push(response.errorCode);
      for (const code of codes) expect(errorInfo(code).name.startsWith('UNKNOWN_ERROR_')).toBe(false);
    }
  };

  const sync = (groupIndex: number, slotIndex: number): void => {
    const groupId = groupIds[groupIndex]!;
    const slot = slots[groupIndex]![slotIndex]!;
    const assignments = Object.fromEntries((slot.leaderOf ?? []).map((id) => [id, `for-${id}`]));
    const memberId = slot.memberId;
    const requestId = h.sync(groupId, memberId, slot.generationId, assignments, slot.groupInstanceId);
    track(requestId, (r) => {
      const response = r as SyncGroupResponse;
      count(`sync:${errorInfo(response.errorCode).name}${response.assignment.length > 0 ? ':assigned' : ''}`);
      if (response.errorCode === ErrorCode.NONE && response.assignment.length > 0) {
        expect(response.assignment.toString()).toBe(`for-${memberId}`);
      }
      if (response.errorCode === ErrorCode.UNKNOWN_MEMBER_ID) forget(slot);
    });
  };

  /** OffsetFetch of the group answers every acknowledged offset, or -1 once it may have expired. */
  const checkFetched = (groupIndex: number): void => {
    const groupId = groupIds[groupIndex]!;
    const partition = offsetsPartitionCount > 0 ? h.coordinator.partitionFor(groupId) : 0;
    if (!h.coordinator.ownedPartitions().includes(partition) || (deleting.get(groupId) ?? 0) > 0) return;
    const fetched = h.fetchOffsets(groupId, { t: [0, 1, 2], u: [0, 1, 2] });
    for (const topic of committedTopics) {
      for (const p of [0, 1, 2]) {
        const tp = `${topic}:${p}`;
        const expected = acknowledged.get(groupId)?.get(tp);
        if (fetched[tp] === -1 && expected !== undefined) {
          if (expected.expired) continue;
          // Gone: only if Kafka's rule let it expire.
          expected.expired = true;
          if (!expected.expirable) expect.fail(`${groupId} ${tp} expired early`);
          count('fetch:expired');
          continue;
        }
        // (A plain comparison first: this runs for every partition after every step.)
        if (fetched[tp] !== (expected?.offset ?? -1))
          expect(fetched[tp], `${groupId} ${tp}`).toBe(expected?.offset ?? -1);
      }
    }
  };

  /**
   * Marks the acknowledged offsets Kafka's rule lets expire at `atMs`, judged on the state the
   * previous step left (an expiration cycle runs first in a call): a retention after the commit
   * and, for the subscribed topic, after the group last had members (until `atMs` if it has some).
   */
  const markExpirable = (atMs: number): void => {
    for (const [groupId, offsets] of acknowledged) {
      const inUseUntilMs = wasInUse.has(groupId) ? atMs : (lastInUseMs.get(groupId) ?? 0);
      for (const [tp, entry] of offsets) {
        const baseMs = tp.startsWith(`${subscribedTopic}:`)
          ? Math.max(entry.committedAtMs, inUseUntilMs)
          : entry.committedAtMs;
        if (atMs - baseMs >= retentionMs) entry.expirable = true;
      }
    }
  };

  let traced = 0;
  for (const op of ops) {
    markExpirable(op.kind === 'advance' ? h.nowMs + op.ms : h.nowMs);
    switch (op.kind) {
      case 'join': {
        const groupId = groupIds[op.at.group]!;
        const slot = slots[op.at.group]![op.at.slot]!;
        const isStatic = slot.groupInstanceId !== null && op.version >= 5;
        const requestId = h.join(groupId, {
          memberId: slot.memberId,
          groupInstanceId: isStatic ? slot.groupInstanceId : null,
          apiVersion: op.version,
          protocols: protocolChoices[op.protocols],
          clientId: `c${op.at.slot}`,
        });
        track(requestId, (r) => {
          const response = r as JoinGroupResponse;
          count(`join:${errorInfo(response.errorCode).name}`);
          if (response.errorCode === ErrorCode.NONE) {
            slot.memberId = response.memberId;
            slot.generationId = response.generationId;
            slot.leaderOf =
              response.leader === response.memberId ? response.members.map((m) => m.memberId) : null;
            if (slot.leaderOf !== null && response.members.length > 0)
              expect(slot.leaderOf).toContain(response.memberId);
          } else if (response.errorCode === ErrorCode.MEMBER_ID_REQUIRED) {
            slot.memberId = response.memberId;
          } else if (
            response.errorCode === ErrorCode.UNKNOWN_MEMBER_ID ||
            response.errorCode === ErrorCode.FENCED_INSTANCE_ID
          ) {
            forget(slot);
          }
        });
        break;
      }
      case 'sync':
        sync(op.at.group, op.at.slot);
        break;
      case 'syncAll':
        for (let i = 0; i < slotCount; i++) if (slots[op.group]![i]!.generationId >= 0) sync(op.group, i);
        break;
      case 'heartbeatAll':
        for (const slot of slots[op.group]!) {
          if (slot.generationId < 0) continue;
          const code = h.heartbeat(
            groupIds[op.group]!,
            slot.memberId,
            slot.generationId,
            slot.groupInstanceId,
          );
          count(`heartbeat:${errorInfo(code).name}`);
          if (code === ErrorCode.UNKNOWN_MEMBER_ID) forget(slot);
        }
        break;
      case 'heartbeat': {
        const slot = slots[op.at.group]![op.at.slot]!;
        const code = h.heartbeat(
          groupIds[op.at.group]!,
          slot.memberId,
          slot.generationId,
          slot.groupInstanceId,
        );
        if (code === ErrorCode.UNKNOWN_MEMBER_ID) forget(slot);
        break;
      }
      case 'leave': {
        const slot = slots[op.at.group]![op.at.slot]!;
        const requestId =
          op.byInstance && slot.groupInstanceId !== null
            ? h.leave(groupIds[op.at.group]!, [{ memberId: '', groupInstanceId: slot.groupInstanceId }])
            : h.leave(groupIds[op.at.group]!, [{ memberId: slot.memberId }]);
        track(requestId);
        forget(slot);
        break;
      }
      case 'commit': {
        const groupId = groupIds[op.at.group]!;
        const slot = slots[op.at.group]![op.at.slot]!;
        const tp = `${op.topic}:${op.partition}`;
        const committedAtMs = h.nowMs;
        const requestId = op.standalone
          ? h.commit(groupId, '', -1, { [tp]: op.offset })
          : h.commit(groupId, slot.memberId, slot.generationId, { [tp]: op.offset });
        track(requestId, (r) => {
          const code = (r as OffsetCommitResponse).topics[0]!.partitions[0]!.errorCode;
          count(`commit:${errorInfo(code).name}`);
          if (!op.standalone) count(`member-commit:${errorInfo(code).name}`);
          if (code === ErrorCode.NONE) {
            const offsets = acknowledged.get(groupId) ?? new Map<string, Acknowledged>();
            offsets.set(tp, { offset: op.offset, committedAtMs, expirable: false, expired: false });
            acknowledged.set(groupId, offsets);
          }
        });
        break;
      }
      case 'fetch':
        checkFetched(op.group);
        break;
      case 'delete': {
        const groupId = groupIds[op.group]!;
        const requestId = h.send((id, now) =>
          h.coordinator.deleteGroups(id, { groupsNames: [groupId] }, now),
        );
        deleting.set(groupId, (deleting.get(groupId) ?? 0) + 1);
        track(requestId, (r) => {
          deleting.set(groupId, deleting.get(groupId)! - 1);
          count(`delete:${errorInfo((r as DeleteGroupsResponse).results[0]!.errorCode).name}`);
          if ((r as DeleteGroupsResponse).results[0]!.errorCode === ErrorCode.NONE)
            acknowledged.delete(groupId);
        });
        break;
      }
      case 'describe':
        track(h.send((id, now) => h.coordinator.describeGroups(id, { groups: groupIds }, now)));
        track(h.send((id, now) => h.coordinator.listGroups(id, { statesFilter: [] }, now)));
        break;
      case 'advance':
        h.advance(op.ms);
        break;
      case 'appendDone':
        if (h.outstanding.length > 0)
          h.completeAppend(op.fail ? ErrorCode.NOT_ENOUGH_REPLICAS : ErrorCode.NONE);
        break;
      case 'move': {
        // Leadership of the partition moves away and back: whatever was not appended is lost, the
        // rest is read back from the log.
        h.apply(h.coordinator.unloadPartition(op.partition));
        for (let i = h.outstanding.length - 1; i >= 0; i--)
          if (h.outstanding[i]!.partitionIndex === op.partition) h.outstanding.splice(i, 1);
        for (const groupId of groupIds)
          if (h.coordinator.partitionFor(groupId) === op.partition) lastGeneration.delete(groupId);
        h.coordinator.loadPartition(op.partition, h.logs.get(op.partition) ?? [], h.nowMs);
        for (const groupId of groupIds) {
          if (h.coordinator.partitionFor(groupId) !== op.partition) continue;
          wasInUse.delete(groupId);
          const last = (h.logs.get(op.partition) ?? [])
            .map((record) => decodeOffsetsRecord(record))
            .filter((record) => record.kind === 'groupMetadata' && record.group === groupId)
            .at(-1);
          const value = last?.kind === 'groupMetadata' ? last.value : null;
          if (value === null) lastInUseMs.delete(groupId);
          else lastInUseMs.set(groupId, value.members.length > 0 ? h.nowMs : value.currentStateTimestampMs);
        }
        break;
      }
    }
    deliver();
    if (process.env.GROUP_TRACE) {
      const fresh = [...h.responses.entries()].slice(traced);
      traced = h.responses.size;
      const text = (v: unknown): string =>
        JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? Number(x) : x));
      console.log(
        `${text(op)}\n  ${fresh.map(([id, r]) => `${id} ${text(r).slice(0, 220)}`).join('\n  ')}\n  outstanding ${h.outstanding.map((a) => a.token)}`,
      );
    }
    check();
    // With a short retention, every step that can expire something (the clock moving runs the
    // cycles, a completed append removes what they expired, a move reloads) checks every group.
    if (retention !== undefined && (op.kind === 'advance' || op.kind === 'appendDone' || op.kind === 'move'))
      for (let g = 0; g < groupIds.length; g++) checkFetched(g);
  }

  // Finish every append, then hand every partition away: nothing may be left unanswered.
  while (h.outstanding.length > 0) h.completeAppend();
  if (retention !== undefined) {
    // The clients stop: members' sessions and pending joins time out, the groups empty, and a
    // retention later every offset and group is gone, in memory and in the log.
    deliver();
    h.autoAppend = true;
    const stopMs = h.nowMs + h.coordinator.config.newMemberJoinTimeoutMs + 2 * retentionMs;
    while (h.nowMs < stopMs) h.advance(5_000);
    deliver();
    check();
    expect(h.coordinator.groupIds()).toEqual([]);
    const reloaded = new Harness(config, new SeededRandom(seed), h.logs, h.nowMs);
    expect(reloaded.coordinator.groupIds()).toEqual([]);
    for (const groupId of groupIds) {
      if (h.coordinator.ownedPartitions().includes(h.coordinator.partitionFor(groupId)))
        expect(Object.values(h.fetchOffsets(groupId, { t: [0, 1, 2], u: [0, 1, 2] }))).toEqual(
          Array(6).fill(-1),
        );
    }
    count('expiration:all-gone');
  }
  for (const partition of h.coordinator.ownedPartitions()) h.apply(h.coordinator.unloadPartition(partition));
  deliver();
  expect(h.coordinator.inflightRequestCount()).toBe(0);
  expect(pending.size).toBe(0);
  expect(sent.every((id) => h.responses.has(id))).toBe(true);
  expect(h.coordinator.nextDeadlineMs()).toBeNull();
  // Everything written decodes.
  for (const log of h.logs.values()) for (const record of log) decodeOffsetsRecord(record);
}

describe('group coordinator under random operations', () => {
  it('expires offsets and groups only by Kafka’s rule, and all of them once the clients stop', () => {
    // Shorter than a session timeout, so offsets expire within a run's minutes of clock.
    const retention = { offsetsRetentionMs: 3_000, offsetsRetentionCheckIntervalMs: 500 };
    stats.clear();
    fc.assert(
      fc.property(
        fc.array(opArb, { minLength: 20, maxLength: 200 }),
        fc.integer({ min: 1, max: 0x7fffffff }),
        (ops, seed) => run(ops, seed, retention),
      ),
      { numRuns: 200, seed: propertySeed },
    );
    if (process.env.GROUP_STATS) console.log([...stats].sort());
    for (const reached of ['fetch:expired', 'expiration:all-gone', 'commit:NONE', 'state:Stable']) {
      expect(stats.get(reached) ?? 0, reached).toBeGreaterThan(0);
    }
  });

  it('keeps its invariants and answers every request exactly once', () => {
    stats.clear();
    fc.assert(
      fc.property(
        fc.array(opArb, { minLength: 20, maxLength: 200 }),
        fc.integer({ min: 1, max: 0x7fffffff }),
        (ops, seed) => run(ops, seed),
      ),
      { numRuns: 300, seed: propertySeed },
    );
    if (process.env.GROUP_STATS) console.log([...stats].sort());
    for (const reached of [
      'state:Stable',
      'state:CompletingRebalance',
      'state:PreparingRebalance',
      'join:NONE',
      'join:MEMBER_ID_REQUIRED',
      'join:FENCED_INSTANCE_ID',
      'heartbeat:REBALANCE_IN_PROGRESS',
      'join:NOT_COORDINATOR',
      'sync:NONE:assigned',
      'sync:REBALANCE_IN_PROGRESS',
      'commit:NONE',
      'commit:COORDINATOR_NOT_AVAILABLE',
      'delete:NONE',
      'delete:NON_EMPTY_GROUP',
    ]) {
      expect(stats.get(reached) ?? 0, reached).toBeGreaterThan(0);
    }
  });
});

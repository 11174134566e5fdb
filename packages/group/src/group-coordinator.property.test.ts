// Random sequences of client requests, clock moves, append completions (some failing) and partition
// moves (unload, then reload from the log) must keep the coordinator's invariants at every step:
// Group.checkInvariants (leader is a member, Stable ⇒ every member assigned, static ids mapped, ...),
// timers agree with members, generations never go back while a group stays loaded, no member id in
// two groups, acknowledged commits are what OffsetFetch returns (across reloads too), and in the end
// every request was answered exactly once. fast-check prints the seed and path of a failure.

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
import { Harness, protocols } from './testing/coordinator-harness.js';

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
const protocolChoices = [
  protocols('range'),
  protocols('range', 'roundrobin'),
  protocols('roundrobin', 'range'),
];

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
  | { kind: 'commit'; at: SlotRef; standalone: boolean; partition: number; offset: number }
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

function run(ops: Op[], seed: number): void {
  const h = new Harness({ offsetsPartitionCount, initialRebalanceDelayMs: 1000 }, new SeededRandom(seed));
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
  /** Offsets acknowledged to clients, per group: "topic:partition" → offset. */
  const acknowledged = new Map<string, Map<string, number>>();
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
      const previous = lastGeneration.get(groupId);
      if (previous !== undefined) expect(group.generationId).toBeGreaterThanOrEqual(previous);
      lastGeneration.set(groupId, group.generationId);
    }
    for (const groupId of lastGeneration.keys())
      if (!h.coordinator.getGroup(groupId)) lastGeneration.delete(groupId);
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

  let traced = 0;
  for (const op of ops) {
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
        const tp = `t:${op.partition}`;
        const requestId = op.standalone
          ? h.commit(groupId, '', -1, { [tp]: op.offset })
          : h.commit(groupId, slot.memberId, slot.generationId, { [tp]: op.offset });
        track(requestId, (r) => {
          const code = (r as OffsetCommitResponse).topics[0]!.partitions[0]!.errorCode;
          count(`commit:${errorInfo(code).name}`);
          if (code === ErrorCode.NONE) {
            const offsets = acknowledged.get(groupId) ?? new Map<string, number>();
            offsets.set(tp, op.offset);
            acknowledged.set(groupId, offsets);
          }
        });
        break;
      }
      case 'fetch': {
        const groupId = groupIds[op.group]!;
        const partition = offsetsPartitionCount > 0 ? h.coordinator.partitionFor(groupId) : 0;
        if (!h.coordinator.ownedPartitions().includes(partition) || (deleting.get(groupId) ?? 0) > 0) break;
        const fetched = h.fetchOffsets(groupId, { t: [0, 1, 2] });
        for (const p of [0, 1, 2]) {
          expect(fetched[`t:${p}`], `${groupId} t:${p}`).toBe(acknowledged.get(groupId)?.get(`t:${p}`) ?? -1);
        }
        break;
      }
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
  }

  // Finish every append, then hand every partition away: nothing may be left unanswered.
  while (h.outstanding.length > 0) h.completeAppend();
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
  it('keeps its invariants and answers every request exactly once', () => {
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

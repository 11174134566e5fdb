// Offset retention of classic groups and of standalone commits (Kafka's cleanupGroupMetadata with
// ClassicGroup.offsetExpirationCondition, KIP-211): an Empty group's offsets expire
// `offsets.retention.minutes` after it became Empty (the log's current_state_timestamp, so a new
// coordinator agrees), a standalone commit's after its own commit, a Stable consumer group's only for
// topics no member subscribes to; an Empty group left without offsets is deleted with tombstones.

import { SeededRandom } from '@gregor/ground';
import { ErrorCode } from '@gregor/protocol';
import { describe, expect, it } from 'vitest';
import type { DeleteGroupsResponse, JoinGroupResponse } from './messages.js';
import {
  type DecodedOffsetsRecord,
  decodeOffsetsRecord,
  groupMetadataRecord,
  type OffsetsRecord,
  offsetCommitRecord,
} from './offsets-records.js';
import { consumerSubscription, Harness } from './testing/coordinator-harness.js';

const G = 'retained';
const retentionMs = 60_000;
const checkIntervalMs = 5_000;
const config = { offsetsRetentionMs: retentionMs, offsetsRetentionCheckIntervalMs: checkIntervalMs };

/** What the records say, one line each: "offset t:0 -", "offset t:0 +", "group -", "group +". */
function describeRecords(records: readonly OffsetsRecord[]): string[] {
  return records.map((record) => {
    const decoded: DecodedOffsetsRecord = decodeOffsetsRecord(record);
    switch (decoded.kind) {
      case 'offsetCommit':
        return `offset ${decoded.topic}:${decoded.partition} ${decoded.value === null ? '-' : '+'}`;
      case 'groupMetadata':
        return `group ${decoded.value === null ? '-' : '+'}`;
      default:
        return decoded.kind;
    }
  });
}

/** Advances the clock in heartbeat-sized steps, the members heartbeating, up to `untilMs`. */
function heartbeatUntil(h: Harness, members: readonly string[], generationId: number, untilMs: number): void {
  while (h.nowMs < untilMs) {
    h.advance(Math.min(3_000, untilMs - h.nowMs));
    for (const memberId of members) expect(h.heartbeat(G, memberId, generationId)).toBe(ErrorCode.NONE);
  }
}

/** A consumer group of one member subscribed to `topics`, Stable; returns its member and generation. */
function stableConsumer(h: Harness, ...topics: string[]): { memberId: string; generationId: number } {
  const { memberIds, generationId } = h.stableGroup(G, 1, {
    protocols: [{ name: 'range', metadata: consumerSubscription(...topics) }],
  });
  return { memberId: memberIds[0]!, generationId };
}

describe('classic group offset expiration', () => {
  it('expires an Empty group’s offsets a retention after it became Empty, then deletes the group with tombstones', () => {
    const h = new Harness(config);
    const { memberId, generationId } = stableConsumer(h, 't');
    h.commit(G, memberId, generationId, { 't:0': 10, 't:1': 11 });
    const committedAt = h.nowMs;
    // Consuming for two retentions without committing again: the group has a member, nothing expires.
    heartbeatUntil(h, [memberId], generationId, committedAt + 2 * retentionMs);
    expect(h.fetchOffsets(G, { t: [0, 1] })).toEqual({ 't:0': 10, 't:1': 11 });
    h.leave(G, [{ memberId }]);
    const emptyAt = h.nowMs;
    expect(h.coordinator.getGroup(G)?.state).toBe('Empty');
    const logLength = h.logs.get(0)!.length;
    // Retention counts from the Empty transition, not from the commit two retentions ago.
    h.advance(retentionMs - 1);
    expect(h.fetchOffsets(G, { t: [0, 1] })).toEqual({ 't:0': 10, 't:1': 11 });
    expect(h.logs.get(0)!.length).toBe(logLength);
    h.advance(checkIntervalMs);
    expect(h.nowMs - emptyAt).toBeGreaterThanOrEqual(retentionMs);
    expect(h.fetchOffsets(G, { t: [0, 1] })).toEqual({ 't:0': -1, 't:1': -1 });
    // One batch: the offsets' tombstones and the group's.
    expect(describeRecords(h.logs.get(0)!.slice(logLength))).toEqual([
      'offset t:0 -',
      'offset t:1 -',
      'group -',
    ]);
    expect(h.coordinator.getGroup(G)).toBeUndefined();
    const reloaded = new Harness(config, new SeededRandom(2), h.logs, h.nowMs);
    expect(reloaded.coordinator.getGroup(G)).toBeUndefined();
    expect(reloaded.fetchOffsets(G, { t: [0, 1] })).toEqual({ 't:0': -1, 't:1': -1 });
  });

  it('counts from the Empty transition the log holds after a failover, not from the load', () => {
    const h = new Harness(config);
    const { memberId, generationId } = stableConsumer(h, 't');
    h.commit(G, memberId, generationId, { 't:0': 10 });
    h.advance(1_000);
    h.leave(G, [{ memberId }]);
    const emptyAt = h.nowMs;
    // Another coordinator takes the partition over half a retention later.
    const next = new Harness(config, new SeededRandom(2), h.logs, emptyAt + retentionMs / 2);
    expect(next.coordinator.getGroup(G)).toMatchObject({ state: 'Empty', stateTimestampMs: emptyAt });
    while (next.nowMs < emptyAt + retentionMs - checkIntervalMs) {
      next.advance(checkIntervalMs);
      expect(next.fetchOffsets(G, { t: [0] })).toEqual({ 't:0': 10 });
    }
    // Its cycles run every 5 s from the load: the first at or after emptyAt + retention expires it.
    next.advance(2 * checkIntervalMs);
    expect(next.fetchOffsets(G, { t: [0] })).toEqual({ 't:0': -1 });
    expect(next.coordinator.getGroup(G)).toBeUndefined();
  });

  it('expires each standalone (assign and commit) offset a retention after its own commit', () => {
    const h = new Harness(config);
    h.commit(G, '', -1, { 't:0': 5 });
    h.advance(retentionMs / 2);
    h.commit(G, '', -1, { 't:1': 6 });
    expect(h.coordinator.getGroup(G)?.protocolType).toBeNull();
    const logLength = h.logs.get(0)!.length;
    h.advance(retentionMs / 2 + checkIntervalMs);
    expect(h.fetchOffsets(G, { t: [0, 1] })).toEqual({ 't:0': -1, 't:1': 6 });
    expect(h.coordinator.getGroup(G)).toBeDefined();
    h.advance(retentionMs / 2);
    expect(h.fetchOffsets(G, { t: [0, 1] })).toEqual({ 't:0': -1, 't:1': -1 });
    expect(h.coordinator.getGroup(G)).toBeUndefined();
    // The group never wrote a metadata record: only the offsets' tombstones.
    expect(describeRecords(h.logs.get(0)!.slice(logLength))).toEqual(['offset t:0 -', 'offset t:1 -']);
    expect(new Harness(config, new SeededRandom(2), h.logs, h.nowMs).coordinator.getGroup(G)).toBeUndefined();
  });

  it('keeps a commit made after the group became Empty a full retention from that commit', () => {
    const h = new Harness(config);
    const { memberId, generationId } = stableConsumer(h, 't');
    h.commit(G, memberId, generationId, { 't:0': 10 });
    h.leave(G, [{ memberId }]);
    const emptyAt = h.nowMs;
    h.advance(retentionMs / 2);
    // An admin resets one partition of the Empty group (generation -1, no member).
    h.commit(G, '', -1, { 't:1': 20 });
    h.advance(retentionMs / 2 + checkIntervalMs);
    expect(h.nowMs - emptyAt).toBeGreaterThanOrEqual(retentionMs);
    expect(h.fetchOffsets(G, { t: [0, 1] })).toEqual({ 't:0': -1, 't:1': 20 });
    h.advance(retentionMs / 2);
    expect(h.fetchOffsets(G, { t: [0, 1] })).toEqual({ 't:0': -1, 't:1': -1 });
    expect(h.coordinator.getGroup(G)).toBeUndefined();
  });

  it('expires nothing while the group has members of another protocol type or is rebalancing', () => {
    const h = new Harness(config);
    const { memberIds, generationId } = h.stableGroup(G, 1, { protocolType: 'connect' });
    h.commit(G, memberIds[0]!, generationId, { 't:0': 3 });
    heartbeatUntil(h, memberIds, generationId, h.nowMs + 3 * retentionMs);
    expect(h.fetchOffsets(G, { t: [0] })).toEqual({ 't:0': 3 });
    // A second member joins: the group prepares a rebalance for up to the rebalance timeout (30 s).
    h.join(G, { protocolType: 'connect', clientId: 'second' });
    expect(h.coordinator.getGroup(G)?.state).toBe('PreparingRebalance');
    h.advance(checkIntervalMs);
    expect(h.coordinator.getGroup(G)?.state).toBe('PreparingRebalance');
    expect(h.fetchOffsets(G, { t: [0] })).toEqual({ 't:0': 3 });
  });

  it('expires a Stable consumer group’s offsets of topics no member subscribes to, by commit time', () => {
    const h = new Harness(config);
    const { memberId, generationId } = stableConsumer(h, 'orders');
    h.commit(G, memberId, generationId, { 'orders:0': 1, 'payments:0': 2 });
    const logLength = h.logs.get(0)!.length;
    heartbeatUntil(h, [memberId], generationId, h.nowMs + retentionMs + checkIntervalMs);
    expect(h.fetchOffsets(G, { orders: [0], payments: [0] })).toEqual({ 'orders:0': 1, 'payments:0': -1 });
    expect(describeRecords(h.logs.get(0)!.slice(logLength))).toEqual(['offset payments:0 -']);
    expect(h.coordinator.getGroup(G)?.state).toBe('Stable');
    const reloaded = new Harness(config, new SeededRandom(2), h.logs, h.nowMs);
    expect(reloaded.fetchOffsets(G, { orders: [0], payments: [0] })).toEqual({
      'orders:0': 1,
      'payments:0': -1,
    });
  });

  it('keeps every offset of a Stable consumer group whose subscriptions cannot be read', () => {
    const h = new Harness(config);
    const { memberIds, generationId } = h.stableGroup(G, 1); // metadata "range-subscription"
    h.commit(G, memberIds[0]!, generationId, { 'orders:0': 1, 'payments:0': 2 });
    heartbeatUntil(h, memberIds, generationId, h.nowMs + 2 * retentionMs);
    expect(h.fetchOffsets(G, { orders: [0], payments: [0] })).toEqual({ 'orders:0': 1, 'payments:0': 2 });
  });

  it('counts from the commit when the log’s group record has no state timestamp (before v2), as Kafka', () => {
    const start = 1_700_000_000_000;
    const committedAt = start - retentionMs; // a retention ago
    const log: OffsetsRecord[] = [
      offsetCommitRecord(G, 't', 0, {
        offset: 7n,
        leaderEpoch: -1,
        metadata: '',
        commitTimestampMs: committedAt,
        expireTimestampMs: -1,
      }),
      groupMetadataRecord(G, {
        protocolType: 'consumer',
        generation: 4,
        protocol: null,
        leader: null,
        currentStateTimestampMs: -1,
        members: [],
      }),
    ];
    const h = new Harness(config, new SeededRandom(2), new Map([[0, log]]), start);
    expect(h.coordinator.getGroup(G)).toMatchObject({ state: 'Empty', stateTimestampMs: -1 });
    h.advance(checkIntervalMs);
    expect(h.fetchOffsets(G, { t: [0] })).toEqual({ 't:0': -1 });
    expect(h.coordinator.getGroup(G)).toBeUndefined();
  });

  it('deletes an Empty group without offsets at the next cycle, as Kafka does', () => {
    const h = new Harness(config);
    const { memberId } = stableConsumer(h, 't');
    h.leave(G, [{ memberId }]);
    const logLength = h.logs.get(0)!.length;
    h.advance(checkIntervalMs);
    expect(h.coordinator.getGroup(G)).toBeUndefined();
    expect(describeRecords(h.logs.get(0)!.slice(logLength))).toEqual(['group -']);
    // A group that never reached the log (its only commit failed) goes without a write.
    h.autoAppend = false;
    h.commit('ghost', '', -1, { 't:0': 1 });
    h.completeAppend(ErrorCode.NOT_ENOUGH_REPLICAS);
    h.autoAppend = true;
    expect(h.coordinator.getGroup('ghost')?.offsetCount).toBe(0);
    h.advance(checkIntervalMs);
    expect(h.coordinator.getGroup('ghost')).toBeUndefined();
    expect(h.logs.get(0)!.length).toBe(logLength + 1);
  });

  it('keeps an offset whose commit is being written, and the group with it', () => {
    const h = new Harness(config);
    h.commit(G, '', -1, { 't:0': 1 });
    h.advance(retentionMs - 1);
    h.autoAppend = false;
    h.commit(G, '', -1, { 't:0': 2 }); // appended, not yet acknowledged
    h.advance(checkIntervalMs);
    expect(h.outstanding).toHaveLength(1);
    h.completeAppend(0);
    h.autoAppend = true;
    expect(h.fetchOffsets(G, { t: [0] })).toEqual({ 't:0': 2 });
    expect(h.coordinator.getGroup(G)).toBeDefined();
  });

  it('holds joins and commits off while the tombstones are written, and brings the group back, still Empty since the same time, when they are refused', () => {
    const h = new Harness(config);
    const { memberId, generationId } = stableConsumer(h, 't');
    h.commit(G, memberId, generationId, { 't:0': 10 });
    h.leave(G, [{ memberId }]);
    const emptyAt = h.nowMs;
    h.autoAppend = false;
    h.advance(retentionMs);
    expect(h.outstanding).toHaveLength(1);
    expect(h.coordinator.getGroup(G)?.state).toBe('Dead');
    const join = h.join(G, { clientId: 'late' });
    expect(h.joinResponse(join).errorCode).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    const commit = h.commit(G, '', -1, { 't:0': 11 });
    expect(h.commitErrors(commit)).toEqual({ 't:0': ErrorCode.COORDINATOR_NOT_AVAILABLE });
    h.completeAppend(ErrorCode.NOT_ENOUGH_REPLICAS);
    expect(h.coordinator.getGroup(G)).toMatchObject({ state: 'Empty', stateTimestampMs: emptyAt });
    expect(h.fetchOffsets(G, { t: [0] })).toEqual({ 't:0': 10 });
    // The next cycle tries again, and this time the tombstones are written.
    h.advance(checkIntervalMs);
    expect(h.outstanding).toHaveLength(1);
    h.completeAppend(0);
    expect(h.coordinator.getGroup(G)).toBeUndefined();
    // A member joining now starts a new group.
    h.autoAppend = true;
    const again = h.join(G, { clientId: 'again' });
    h.settle([again]);
    expect(h.response<JoinGroupResponse>(again)).toMatchObject({
      errorCode: ErrorCode.NONE,
      generationId: 1,
    });
  });

  it('does not restart the retention of an Empty group whose DeleteGroups failed', () => {
    const h = new Harness(config);
    h.commit(G, '', -1, { 't:0': 1 });
    const { memberId } = (() => {
      const { memberIds } = h.stableGroup(G, 1);
      return { memberId: memberIds[0]! };
    })();
    h.leave(G, [{ memberId }]);
    const emptyAt = h.nowMs;
    h.advance(retentionMs / 2);
    h.autoAppend = false;
    const deletion = h.send((id, now) => h.coordinator.deleteGroups(id, { groupsNames: [G] }, now));
    h.completeAppend(ErrorCode.NOT_ENOUGH_REPLICAS);
    expect(h.response<DeleteGroupsResponse>(deletion).results[0]!.errorCode).not.toBe(ErrorCode.NONE);
    expect(h.coordinator.getGroup(G)).toMatchObject({ state: 'Empty', stateTimestampMs: emptyAt });
    h.autoAppend = true;
    h.advance(retentionMs / 2 + checkIntervalMs);
    expect(h.coordinator.getGroup(G)).toBeUndefined();
  });

  it('runs per loaded partition: an unloaded partition’s offsets wait for its next coordinator', () => {
    const h = new Harness({ ...config, offsetsPartitionCount: 4 });
    const groups = ['g-a', 'g-b', 'g-c', 'g-d', 'g-e'];
    for (const groupId of groups) h.commit(groupId, '', -1, { 't:0': 1 });
    expect(new Set(groups.map((g) => h.coordinator.partitionFor(g))).size).toBeGreaterThan(1);
    const moved = h.coordinator.partitionFor('g-a');
    h.apply(h.coordinator.unloadPartition(moved));
    h.advance(retentionMs + checkIntervalMs);
    for (const groupId of groups) {
      const unloaded = h.coordinator.partitionFor(groupId) === moved;
      expect(h.coordinator.getGroup(groupId), groupId).toBeUndefined();
      if (!unloaded) expect(h.fetchOffsets(groupId, { t: [0] })).toEqual({ 't:0': -1 });
    }
    // The unloaded partition's log still has its offsets: its next coordinator expires them.
    const next = new Harness({ ...config, offsetsPartitionCount: 4 }, new SeededRandom(2), h.logs, h.nowMs);
    expect(next.fetchOffsets('g-a', { t: [0] })).toEqual({ 't:0': 1 });
    next.advance(checkIntervalMs);
    expect(next.fetchOffsets('g-a', { t: [0] })).toEqual({ 't:0': -1 });
  });
});

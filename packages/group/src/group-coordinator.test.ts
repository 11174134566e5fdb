import { InvariantViolation } from '@gregor/ground';
import { ErrorCode } from '@gregor/protocol';
import { describe, expect, it } from 'vitest';
import type {
  DeleteGroupsResponse,
  DescribeGroupsResponse,
  LeaveGroupResponse,
  ListGroupsResponse,
  OffsetCommitResponse,
  SyncGroupResponse,
} from './messages.js';
import { legacyLeaveGroupErrorCode } from './messages.js';
import { decodeOffsetsRecord } from './offsets-records.js';
import { Harness, protocols, rebalanceTimeoutMs, sessionTimeoutMs } from './testing/coordinator-harness.js';

const G = 'group';

describe('JoinGroup and the initial rebalance delay', () => {
  it('holds three joins through the initial delay, extended while members keep arriving, then answers all', () => {
    const h = new Harness({ initialRebalanceDelayMs: 3000 });
    const start = h.nowMs;
    const a = h.join(G, { clientId: 'a' });
    expect(h.coordinator.getGroup(G)?.state).toBe('PreparingRebalance');
    h.advance(1000);
    const b = h.join(G, { clientId: 'b' });
    h.advance(1000);
    const c = h.join(G, { clientId: 'c' });
    // All three have joined, but the initial delay never ends early.
    expect([a, b, c].some((r) => h.answered(r))).toBe(false);
    // At 3 s new members had arrived: wait another delay (the rebalance timeout still has room).
    h.advance(1000);
    expect([a, b, c].some((r) => h.answered(r))).toBe(false);
    expect(h.coordinator.nextDeadlineMs()).toBe(start + 6000);
    h.advance(2999);
    expect(h.answered(a)).toBe(false);
    h.advance(1);
    const [ra, rb, rc] = [a, b, c].map((r) => h.joinResponse(r));
    for (const r of [ra!, rb!, rc!]) {
      expect(r).toMatchObject({
        errorCode: ErrorCode.NONE,
        generationId: 1,
        protocolName: 'range',
        leader: ra!.memberId,
      });
    }
    expect(ra!.memberId).toMatch(/^a-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    // Only the leader learns the members and their subscriptions.
    expect(ra!.members.map((m) => m.memberId)).toEqual([ra!.memberId, rb!.memberId, rc!.memberId]);
    expect(ra!.members[0]!.metadata.toString()).toBe('range-subscription');
    expect(rb!.members).toEqual([]);
    expect(h.coordinator.getGroup(G)?.state).toBe('CompletingRebalance');
  });

  it('caps the extensions at the rebalance timeout', () => {
    const h = new Harness({ initialRebalanceDelayMs: 3000 });
    const start = h.nowMs;
    const first = h.join(G, { rebalanceTimeoutMs: 5000 });
    // Someone new arrives every second, for ever.
    while (!h.answered(first)) {
      h.advance(1000);
      h.join(G, { rebalanceTimeoutMs: 5000 });
    }
    expect(h.joinResponse(first).generationId).toBe(1);
    // First delay 3000 (leaving 2000 of the rebalance timeout), then one of min(3000, 2000).
    expect(h.nowMs - start).toBe(5000);
  });

  it('answers INVALID_SESSION_TIMEOUT, INVALID_GROUP_ID and UNKNOWN_MEMBER_ID for a made-up id', () => {
    const h = new Harness();
    expect(h.joinResponse(h.join(G, { sessionTimeoutMs: 10 })).errorCode).toBe(
      ErrorCode.INVALID_SESSION_TIMEOUT,
    );
    expect(h.joinResponse(h.join(''))).toMatchObject({
      errorCode: ErrorCode.INVALID_GROUP_ID,
      generationId: -1,
    });
    expect(h.joinResponse(h.join(G, { memberId: 'made-up' })).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it('uses the session timeout as the rebalance timeout for JoinGroup v0', () => {
    const h = new Harness();
    h.join(G, { apiVersion: 0, sessionTimeoutMs: 7000, rebalanceTimeoutMs: -1 });
    const member = [...h.coordinator.getGroup(G)!.members.values()][0]!;
    expect(member.rebalanceTimeoutMs).toBe(7000);
  });

  it('uses the session timeout when a v1+ join gives no rebalance timeout (0), so the member survives its sync', () => {
    const h = new Harness({ initialRebalanceDelayMs: 0 });
    const joined = h.joinResponse(h.join(G, { sessionTimeoutMs: 7000, rebalanceTimeoutMs: 0 }));
    expect(joined.errorCode).toBe(ErrorCode.NONE);
    const member = h.coordinator.getGroup(G)!.get(joined.memberId);
    expect(member.rebalanceTimeoutMs).toBe(7000);
    // The pending-sync deadline is the session timeout away, not now: time passes, the member syncs.
    h.advance(100);
    const synced = h.sync(G, joined.memberId, joined.generationId, { [joined.memberId]: 'a' });
    expect(h.response<SyncGroupResponse>(synced).errorCode).toBe(ErrorCode.NONE);
    expect(h.heartbeat(G, joined.memberId, joined.generationId)).toBe(ErrorCode.NONE);
    const committed = h.commit(G, joined.memberId, joined.generationId, { 't:0': 5 });
    expect(h.commitErrors(committed)).toEqual({ 't:0': ErrorCode.NONE });
  });
});

describe('MEMBER_ID_REQUIRED (JoinGroup v4+)', () => {
  it('hands out an id, keeps the group Empty, and admits the member when it rejoins with the id', () => {
    const h = new Harness({ initialRebalanceDelayMs: 0 });
    const first = h.joinResponse(h.join(G, { apiVersion: 4, clientId: 'kafkajs' }));
    expect(first).toMatchObject({ errorCode: ErrorCode.MEMBER_ID_REQUIRED, generationId: -1 });
    expect(first.memberId).toMatch(/^kafkajs-/);
    expect(h.coordinator.getGroup(G)?.state).toBe('Empty');
    const second = h.joinResponse(h.join(G, { apiVersion: 4, memberId: first.memberId }));
    expect(second).toMatchObject({
      errorCode: ErrorCode.NONE,
      memberId: first.memberId,
      leader: first.memberId,
      generationId: 1,
    });
  });

  it('v3 and older join at once, without the extra round trip', () => {
    const h = new Harness({ initialRebalanceDelayMs: 0 });
    expect(h.joinResponse(h.join(G, { apiVersion: 3 })).errorCode).toBe(ErrorCode.NONE);
  });

  it('waits for a pending member during a rebalance, until its session timeout passes', () => {
    const h = new Harness();
    const { memberIds, generationId } = h.stableGroup(G, 1);
    const pending = h.joinResponse(h.join(G, { apiVersion: 4 }));
    expect(pending.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);
    // The existing member rejoins (say its subscription changed): everyone known has joined, but the
    // pending member has not, so the rebalance waits for it.
    const rejoin = h.join(G, { memberId: memberIds[0], protocols: protocols('range', 'roundrobin') });
    expect(h.answered(rejoin)).toBe(false);
    h.advance(sessionTimeoutMs);
    expect(h.joinResponse(rejoin)).toMatchObject({
      errorCode: ErrorCode.NONE,
      generationId: generationId + 1,
    });
    // Its id is no longer valid.
    expect(h.joinResponse(h.join(G, { memberId: pending.memberId })).errorCode).toBe(
      ErrorCode.UNKNOWN_MEMBER_ID,
    );
  });
});

describe('SyncGroup', () => {
  it('gives followers the leader’s assignment only once it is persisted', () => {
    const h = new Harness();
    h.autoAppend = false;
    const joins = [h.join(G), h.join(G), h.join(G)];
    h.settle(joins);
    const [leader, f1, f2] = joins.map((j) => h.joinResponse(j));
    const gen = leader!.generationId;
    const s1 = h.sync(G, f1!.memberId, gen);
    expect(h.answered(s1)).toBe(false);
    const s0 = h.sync(G, leader!.memberId, gen, {
      [leader!.memberId]: 'L',
      [f1!.memberId]: 'F1',
      'not-a-member': 'X',
    });
    // The assignment goes to the log first; nobody hears about it before it is replicated.
    expect(h.outstanding).toHaveLength(1);
    expect([s0, s1].some((s) => h.answered(s))).toBe(false);
    h.completeAppend();
    expect(h.syncResponse(s0)).toMatchObject({
      errorCode: ErrorCode.NONE,
      assignment: Buffer.from('L'),
      protocolName: 'range',
    });
    expect(h.syncResponse(s1).assignment).toEqual(Buffer.from('F1'));
    expect(h.coordinator.getGroup(G)?.state).toBe('Stable');
    // A member the leader left out gets an empty assignment, right away now that the group is Stable.
    const s2 = h.sync(G, f2!.memberId, gen);
    expect(h.syncResponse(s2)).toMatchObject({ errorCode: ErrorCode.NONE, assignment: Buffer.alloc(0) });

    const stored = decodeOffsetsRecord(h.logs.get(0)![0]!);
    expect(stored).toMatchObject({
      kind: 'groupMetadata',
      group: G,
      value: { generation: gen, protocol: 'range', leader: leader!.memberId },
    });
    if (stored.kind !== 'groupMetadata' || stored.value === null) throw new Error('expected group metadata');
    expect(stored.value.members.map((m) => m.assignment.toString())).toEqual(['L', 'F1', '']);
  });

  it('fails waiting syncs when the assignment cannot be written, and rebalances', () => {
    const h = new Harness();
    h.autoAppend = false;
    const joins = [h.join(G), h.join(G)];
    h.settle(joins);
    const [leader, follower] = joins.map((j) => h.joinResponse(j));
    const s1 = h.sync(G, follower!.memberId, 1);
    const s0 = h.sync(G, leader!.memberId, 1, {});
    h.completeAppend(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    expect(h.syncResponse(s0).errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    expect(h.syncResponse(s1).errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    expect(h.coordinator.getGroup(G)?.state).toBe('PreparingRebalance');
  });

  it('refuses wrong generations, strangers and syncs during a rebalance', () => {
    const h = new Harness();
    const { memberIds, generationId } = h.stableGroup(G, 2);
    expect(h.syncResponse(h.sync(G, memberIds[0]!, generationId + 1)).errorCode).toBe(
      ErrorCode.ILLEGAL_GENERATION,
    );
    expect(h.syncResponse(h.sync(G, 'stranger', generationId)).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(h.syncResponse(h.sync('nobody', 'stranger', 1)).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    h.join(G, { memberId: memberIds[0] }); // the leader rejoins: rebalance
    expect(h.syncResponse(h.sync(G, memberIds[1]!, generationId)).errorCode).toBe(
      ErrorCode.REBALANCE_IN_PROGRESS,
    );
  });

  it('removes members that never sync after a rebalance timeout, and rebalances without them', () => {
    const h = new Harness();
    const joins = [h.join(G), h.join(G)];
    h.settle(joins);
    const [leader, silent] = joins.map((j) => h.joinResponse(j));
    h.sync(G, leader!.memberId, 1, { [leader!.memberId]: 'L', [silent!.memberId]: 'S' });
    expect(h.coordinator.getGroup(G)?.state).toBe('Stable');
    for (let t = 0; t < rebalanceTimeoutMs; t += 3000) {
      h.advance(3000);
      h.heartbeat(G, leader!.memberId, 1);
      h.heartbeat(G, silent!.memberId, 1); // heartbeats are not a sync
    }
    const group = h.coordinator.getGroup(G)!;
    expect(group.has(silent!.memberId)).toBe(false);
    expect(group.state).toBe('PreparingRebalance');
  });
});

describe('rebalancing a Stable group', () => {
  it('a member rejoining starts a rebalance; the others hear REBALANCE_IN_PROGRESS and the join completes once all rejoined', () => {
    const h = new Harness();
    const { memberIds, generationId } = h.stableGroup(G, 3);
    const [a, b, c] = memberIds as [string, string, string];
    const rejoinB = h.join(G, { memberId: b, protocols: protocols('range', 'sticky') });
    expect(h.coordinator.getGroup(G)?.state).toBe('PreparingRebalance');
    expect(h.heartbeat(G, a, generationId)).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    expect(h.heartbeat(G, c, generationId)).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    // Commits are still accepted while preparing (Kafka relies on the heartbeat to signal the rebalance).
    expect(h.commitErrors(h.commit(G, a, generationId, { 't:0': 10 }))).toEqual({ 't:0': ErrorCode.NONE });
    const rejoinA = h.join(G, { memberId: a });
    expect(h.answered(rejoinB) || h.answered(rejoinA)).toBe(false);
    const rejoinC = h.join(G, { memberId: c });
    // No waiting for the rebalance timeout: everyone is back.
    for (const r of [rejoinA, rejoinB, rejoinC])
      expect(h.joinResponse(r)).toMatchObject({ errorCode: 0, generationId: generationId + 1, leader: a });
    // The old generation is over.
    expect(h.heartbeat(G, a, generationId)).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect(h.heartbeat(G, a, generationId + 1)).toBe(ErrorCode.NONE);
    // So are its commits: positions of the old generation never overwrite the new one's offsets.
    expect(h.commitErrors(h.commit(G, a, generationId, { 't:0': 5 }))).toEqual({
      't:0': ErrorCode.ILLEGAL_GENERATION,
    });
    // And a member that left commits nothing, whatever generation it names.
    h.leave(G, [{ memberId: c }]);
    for (const generation of [generationId, generationId + 1])
      expect(h.commitErrors(h.commit(G, c, generation, { 't:0': 5 }))).toEqual({
        't:0': ErrorCode.UNKNOWN_MEMBER_ID,
      });
    expect(h.fetchOffsets(G, { t: [0] })).toEqual({ 't:0': 10 });
  });

  it('a follower rejoining with unchanged metadata gets the current generation without a rebalance', () => {
    const h = new Harness();
    const { memberIds, generationId } = h.stableGroup(G, 2);
    const again = h.joinResponse(h.join(G, { memberId: memberIds[1] }));
    expect(again).toMatchObject({ errorCode: 0, generationId, members: [] });
    expect(h.coordinator.getGroup(G)?.state).toBe('Stable');
  });

  it('drops a dynamic member that does not rejoin within the rebalance timeout, and moves leadership', () => {
    const h = new Harness();
    const { memberIds, generationId } = h.stableGroup(G, 2);
    const [leader, follower] = memberIds as [string, string];
    h.leave(G, []); // no-op batch
    const rejoin = h.join(G, { memberId: follower, protocols: protocols('roundrobin', 'range') });
    for (let t = 0; t < rebalanceTimeoutMs; t += 5000) {
      h.advance(5000);
      if (!h.answered(rejoin)) h.heartbeat(G, follower, generationId);
    }
    expect(h.joinResponse(rejoin)).toMatchObject({
      errorCode: 0,
      generationId: generationId + 1,
      leader: follower,
    });
    expect(h.coordinator.getGroup(G)!.has(leader)).toBe(false);
  });
});

describe('session timeouts', () => {
  it('expels a silent member and rebalances the rest', () => {
    const h = new Harness();
    const { memberIds, generationId } = h.stableGroup(G, 2);
    const [talker, silent] = memberIds as [string, string];
    let heard = ErrorCode.NONE as number;
    for (let t = 0; t <= sessionTimeoutMs; t += 3000) {
      h.advance(3000);
      heard = h.heartbeat(G, talker, generationId);
      if (heard !== ErrorCode.NONE) break;
    }
    expect(heard).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    const group = h.coordinator.getGroup(G)!;
    expect(group.has(silent)).toBe(false);
    expect(h.heartbeat(G, silent, generationId)).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    const rejoin = h.joinResponse(h.join(G, { memberId: talker }));
    expect(rejoin).toMatchObject({ errorCode: 0, generationId: generationId + 1, leader: talker });
    expect(rejoin.members.map((m) => m.memberId)).toEqual([talker]);
  });

  it('keeps a member alive while its join is held, and restarts its session when answered', () => {
    const h = new Harness();
    const { memberIds, generationId } = h.stableGroup(G, 2);
    const [a, b] = memberIds as [string, string];
    const joinA = h.join(G, { memberId: a, protocols: protocols('range', 'x') });
    // b stays silent far past its session timeout, a just waits in the join.
    h.advance(sessionTimeoutMs + 1);
    expect(h.coordinator.getGroup(G)!.has(a)).toBe(true);
    expect(h.coordinator.getGroup(G)!.has(b)).toBe(false);
    expect(h.joinResponse(joinA)).toMatchObject({ errorCode: 0, generationId: generationId + 1 });
  });

  it('gives up on a new member that never hears back within the new-member join timeout', () => {
    const h = new Harness({ newMemberJoinTimeoutMs: 20_000 });
    const { memberIds, generationId } = h.stableGroup(G, 1);
    const newcomer = h.join(G, { rebalanceTimeoutMs: 60_000 });
    // The existing member does not rejoin either; the newcomer is dropped at its join timeout.
    for (let t = 0; t < 20_000; t += 5000) {
      h.advance(5000);
      h.heartbeat(G, memberIds[0]!, generationId);
    }
    expect(h.joinResponse(newcomer)).toMatchObject({ errorCode: ErrorCode.UNKNOWN_MEMBER_ID, memberId: '' });
  });
});

describe('static membership (group.instance.id)', () => {
  function staticStableGroup(h: Harness): { a: string; b: string; generationId: number } {
    const ja = h.join(G, { groupInstanceId: 'instance-a', clientId: 'a' });
    const jb = h.join(G, { groupInstanceId: 'instance-b', clientId: 'b' });
    h.settle([ja, jb]);
    const [ra, rb] = [h.joinResponse(ja), h.joinResponse(jb)];
    h.sync(G, ra.memberId, ra.generationId, { [ra.memberId]: 'A', [rb.memberId]: 'B' }, 'instance-a');
    h.sync(G, rb.memberId, rb.generationId, {}, 'instance-b');
    expect(h.coordinator.getGroup(G)?.state).toBe('Stable');
    return { a: ra.memberId, b: rb.memberId, generationId: ra.generationId };
  }

  it('a restarted static member rejoins without a rebalance: same generation, new id, old id fenced', () => {
    const h = new Harness();
    const { a, b, generationId } = staticStableGroup(h);
    h.autoAppend = false;
    const rejoin = h.join(G, { groupInstanceId: 'instance-a', clientId: 'a' });
    // The new member id is persisted before the answer.
    expect(h.answered(rejoin)).toBe(false);
    h.completeAppend();
    const response = h.joinResponse(rejoin);
    expect(response.errorCode).toBe(ErrorCode.NONE);
    expect(response.generationId).toBe(generationId);
    expect(response.memberId).not.toBe(a);
    expect(response.memberId).toMatch(/^instance-a-/);
    // It was the leader; before v9 it is told the old leader id so that it does not compute an
    // assignment.
    expect(response.leader).toBe(a);
    expect(response.skipAssignment).toBe(false);
    const group = h.coordinator.getGroup(G)!;
    expect(group.state).toBe('Stable');
    expect(group.leaderId).toBe(response.memberId);
    expect(h.heartbeat(G, a, generationId, 'instance-a')).toBe(ErrorCode.FENCED_INSTANCE_ID);
    expect(h.heartbeat(G, response.memberId, generationId, 'instance-a')).toBe(ErrorCode.NONE);
    expect(h.heartbeat(G, b, generationId, 'instance-b')).toBe(ErrorCode.NONE);
    // Its assignment survived the restart.
    expect(h.syncResponse(h.sync(G, response.memberId, generationId, {}, 'instance-a')).assignment).toEqual(
      Buffer.from('A'),
    );
  });

  it('JoinGroup v9 tells a rejoining static leader that it leads and must skip the assignment (KIP-814)', () => {
    const h = new Harness();
    const { a, b, generationId } = staticStableGroup(h);
    const rejoin = h.join(G, { groupInstanceId: 'instance-a', clientId: 'a', apiVersion: 9 });
    const response = h.joinResponse(rejoin);
    expect(response).toMatchObject({ errorCode: ErrorCode.NONE, generationId, skipAssignment: true });
    expect(response.memberId).not.toBe(a);
    expect(response.leader).toBe(response.memberId);
    expect(response.members.map((member) => member.memberId).sort()).toEqual([response.memberId, b].sort());
    expect(h.coordinator.getGroup(G)?.state).toBe('Stable');
    // A follower rejoining with v9 is no leader: nothing to skip, no members.
    const follower = h.joinResponse(
      h.join(G, { groupInstanceId: 'instance-b', clientId: 'b', apiVersion: 9 }),
    );
    expect(follower).toMatchObject({ errorCode: ErrorCode.NONE, skipAssignment: false, members: [] });
    expect(follower.leader).toBe(response.memberId);
  });

  it('reverts the new id if it cannot be persisted', () => {
    const h = new Harness();
    const { a, generationId } = staticStableGroup(h);
    h.autoAppend = false;
    const rejoin = h.join(G, { groupInstanceId: 'instance-a' });
    h.completeAppend(ErrorCode.NOT_ENOUGH_REPLICAS);
    expect(h.joinResponse(rejoin)).toMatchObject({
      errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE,
      memberId: '',
    });
    expect(h.heartbeat(G, a, generationId, 'instance-a')).toBe(ErrorCode.NONE);
  });

  it('a static member rejoining with other metadata keeps the generation if the group’s protocol stays', () => {
    const h = new Harness();
    const { generationId } = staticStableGroup(h);
    const rejoin = h.join(G, { groupInstanceId: 'instance-a', protocols: protocols('roundrobin', 'range') });
    // b supports only range, so range it stays: no rebalance.
    expect(h.joinResponse(rejoin)).toMatchObject({ errorCode: 0, generationId });
    expect(h.coordinator.getGroup(G)?.state).toBe('Stable');
  });

  it('a static member rejoining so that the group would pick another protocol does rebalance', () => {
    const h = new Harness();
    const ja = h.join(G, { groupInstanceId: 'instance-a', protocols: protocols('range', 'roundrobin') });
    const jb = h.join(G, { groupInstanceId: 'instance-b', protocols: protocols('roundrobin', 'range') });
    h.settle([ja, jb]);
    // One vote each: the tie goes to the earliest member's preference.
    expect(h.joinResponse(ja).protocolName).toBe('range');
    const [a, b] = [h.joinResponse(ja).memberId, h.joinResponse(jb).memberId];
    h.sync(G, a, 1, {}, 'instance-a');
    const rejoin = h.join(G, { groupInstanceId: 'instance-a', protocols: protocols('roundrobin', 'range') });
    expect(h.coordinator.getGroup(G)?.state).toBe('PreparingRebalance');
    h.join(G, { memberId: b, groupInstanceId: 'instance-b', protocols: protocols('roundrobin', 'range') });
    expect(h.joinResponse(rejoin)).toMatchObject({
      errorCode: 0,
      generationId: 2,
      protocolName: 'roundrobin',
    });
  });

  it('a static member that misses a rebalance keeps its place; a dynamic one would be dropped', () => {
    const h = new Harness();
    const { a, b, generationId } = staticStableGroup(h);
    const rejoin = h.join(G, {
      memberId: a,
      groupInstanceId: 'instance-a',
      protocols: protocols('range', 'x'),
    });
    for (let t = 0; t < rebalanceTimeoutMs; t += 3000) {
      h.advance(3000);
      h.heartbeat(G, b, generationId, 'instance-b');
    }
    const response = h.joinResponse(rejoin);
    expect(response).toMatchObject({ errorCode: 0, generationId: generationId + 1 });
    expect(response.members.map((m) => [m.memberId, m.groupInstanceId])).toEqual([
      [a, 'instance-a'],
      [b, 'instance-b'],
    ]);
  });

  it('a second process with the same instance id fences the first one’s held join', () => {
    const h = new Harness();
    const { a, b } = staticStableGroup(h);
    const heldA = h.join(G, {
      memberId: a,
      groupInstanceId: 'instance-a',
      protocols: protocols('range', 'x'),
    });
    const usurper = h.join(G, { groupInstanceId: 'instance-a' });
    expect(h.joinResponse(heldA).errorCode).toBe(ErrorCode.FENCED_INSTANCE_ID);
    h.join(G, { memberId: b, groupInstanceId: 'instance-b' });
    expect(h.joinResponse(usurper).errorCode).toBe(ErrorCode.NONE);
  });
});

describe('protocol selection', () => {
  it('answers INCONSISTENT_GROUP_PROTOCOL to a member sharing no protocol or protocol type', () => {
    const h = new Harness();
    h.join(G, { protocols: protocols('range') });
    expect(h.joinResponse(h.join(G, { protocols: protocols('roundrobin') })).errorCode).toBe(
      ErrorCode.INCONSISTENT_GROUP_PROTOCOL,
    );
    expect(h.joinResponse(h.join(G, { protocolType: 'connect' })).errorCode).toBe(
      ErrorCode.INCONSISTENT_GROUP_PROTOCOL,
    );
    expect(h.joinResponse(h.join('other', { protocols: [] })).errorCode).toBe(
      ErrorCode.INCONSISTENT_GROUP_PROTOCOL,
    );
    expect(h.joinResponse(h.join('other2', { protocolType: '' })).errorCode).toBe(
      ErrorCode.INCONSISTENT_GROUP_PROTOCOL,
    );
  });

  it('accepts any protocol of the group’s type once everyone left during the initial delay', () => {
    const h = new Harness();
    const first = h.join(G, { protocols: protocols('range') });
    const firstId = [...h.coordinator.getGroup(G)!.members.keys()][0]!;
    h.leave(G, [{ memberId: firstId }]);
    expect(h.joinResponse(first).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(h.coordinator.getGroup(G)?.state).toBe('PreparingRebalance');
    const second = h.join(G, { protocols: protocols('roundrobin') });
    h.settle([second]);
    expect(h.joinResponse(second)).toMatchObject({
      errorCode: 0,
      generationId: 1,
      protocolName: 'roundrobin',
    });
  });

  it('picks the common protocol with the most first-choice votes', () => {
    const h = new Harness();
    const joins = [
      h.join(G, { protocols: protocols('range', 'roundrobin', 'sticky') }),
      h.join(G, { protocols: protocols('roundrobin', 'range') }),
      h.join(G, { protocols: protocols('sticky', 'roundrobin', 'range') }),
    ];
    h.settle(joins);
    // Common: range, roundrobin. Votes: range, roundrobin, roundrobin (sticky is not common).
    expect(h.joinResponse(joins[0]!).protocolName).toBe('roundrobin');
    expect(h.joinResponse(joins[0]!).members[2]!.metadata.toString()).toBe('roundrobin-subscription');
  });
});

describe('OffsetCommit and OffsetFetch', () => {
  it('acknowledges a commit only once it is replicated, and fetch sees it only then', () => {
    const h = new Harness();
    const { memberIds, generationId } = h.stableGroup(G, 1);
    h.autoAppend = false;
    const commit = h.commit(G, memberIds[0]!, generationId, { 't:0': 42, 't:1': [7, 'checkpoint'] });
    expect(h.answered(commit)).toBe(false);
    expect(h.fetchOffsets(G, { t: [0, 1, 2] })).toEqual({ 't:0': -1, 't:1': -1, 't:2': -1 });
    expect(h.fetch(G, { t: [0] }, true).topics[0]!.partitions[0]!.errorCode).toBe(
      ErrorCode.UNSTABLE_OFFSET_COMMIT,
    );
    h.completeAppend();
    expect(h.commitErrors(commit)).toEqual({ 't:0': 0, 't:1': 0 });
    expect(h.fetchOffsets(G, { t: [0, 1, 2] })).toEqual({ 't:0': 42, 't:1': 7, 't:2': -1 });
    expect(h.fetch(G, { t: [1] }).topics[0]!.partitions[0]).toMatchObject({
      metadata: 'checkpoint',
      committedLeaderEpoch: -1,
    });
    // null topics: everything the group committed.
    expect(h.fetchOffsets(G, null)).toEqual({ 't:0': 42, 't:1': 7 });
  });

  it('translates a failed append, and keeps nothing of it', () => {
    const h = new Harness();
    const { memberIds, generationId } = h.stableGroup(G, 1);
    h.autoAppend = false;
    const commit = h.commit(G, memberIds[0]!, generationId, { 't:0': 42 });
    h.completeAppend(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    expect(h.commitErrors(commit)).toEqual({ 't:0': ErrorCode.NOT_COORDINATOR });
    expect(h.fetchOffsets(G, { t: [0] })).toEqual({ 't:0': -1 });
  });

  it('checks generation and membership', () => {
    const h = new Harness();
    const { memberIds, generationId } = h.stableGroup(G, 2);
    const [a, b] = memberIds as [string, string];
    expect(h.commitErrors(h.commit(G, a, generationId - 1, { 't:0': 1 }))).toEqual({
      't:0': ErrorCode.ILLEGAL_GENERATION,
    });
    expect(h.commitErrors(h.commit(G, 'stranger', generationId, { 't:0': 1 }))).toEqual({
      't:0': ErrorCode.UNKNOWN_MEMBER_ID,
    });
    // A simple (standalone) commit into a group with members is refused.
    expect(h.commitErrors(h.commit(G, '', -1, { 't:0': 1 }))).toEqual({ 't:0': ErrorCode.UNKNOWN_MEMBER_ID });
    // Between the join and the sync: the member should wait for its assignment.
    const rejoins = [
      h.join(G, { memberId: a, protocols: protocols('range', 'y') }),
      h.join(G, { memberId: b }),
    ];
    expect(h.joinResponse(rejoins[0]!).generationId).toBe(generationId + 1);
    expect(h.commitErrors(h.commit(G, a, generationId + 1, { 't:0': 1 }))).toEqual({
      't:0': ErrorCode.REBALANCE_IN_PROGRESS,
    });
    // A group this coordinator has never seen, with a real generation: the client is stale.
    expect(h.commitErrors(h.commit('unknown', a, 3, { 't:0': 1 }))).toEqual({
      't:0': ErrorCode.ILLEGAL_GENERATION,
    });
  });

  it('accepts standalone commits (generation -1, no member) for a group without members, creating it', () => {
    const h = new Harness();
    expect(h.commitErrors(h.commit('standalone', '', -1, { 't:0': 5 }))).toEqual({ 't:0': 0 });
    expect(h.fetchOffsets('standalone', null)).toEqual({ 't:0': 5 });
    expect(h.coordinator.getGroup('standalone')).toMatchObject({ state: 'Empty', generationId: 0 });
  });

  it('refuses metadata above the limit per partition, storing the rest', () => {
    const h = new Harness();
    const commit = h.commit('standalone', '', -1, {
      't:0': [1, 'x'.repeat(4097)],
      't:1': [2, 'x'.repeat(4096)],
    });
    expect(h.commitErrors(commit)).toEqual({ 't:0': ErrorCode.OFFSET_METADATA_TOO_LARGE, 't:1': 0 });
    expect(h.fetchOffsets('standalone', null)).toEqual({ 't:1': 2 });
  });

  it('writes value v1 with an expire timestamp when the commit carries a retention time', () => {
    const h = new Harness();
    h.commit('standalone', '', -1, { 't:0': 1 }, { retentionTimeMs: 60_000 });
    const [key, value] = h.logs.get(0)!.at(-1)!;
    expect(value!.readInt16BE(0)).toBe(1);
    expect(decodeOffsetsRecord([key, value])).toMatchObject({
      value: { commitTimestampMs: h.nowMs, expireTimestampMs: h.nowMs + 60_000 },
    });
  });

  it('answers -1 for a group it does not know', () => {
    const h = new Harness();
    expect(h.fetch('nobody', { t: [0] }).topics[0]!.partitions[0]).toEqual({
      partitionIndex: 0,
      committedOffset: -1n,
      committedLeaderEpoch: -1,
      metadata: '',
      errorCode: 0,
    });
    expect(h.fetch('nobody', null).topics).toEqual([]);
  });
});

describe('LeaveGroup', () => {
  it('removes a batch of members by member id or instance id and rebalances the rest', () => {
    const h = new Harness();
    const js = [h.join(G, { groupInstanceId: 's1' }), h.join(G), h.join(G)];
    h.settle(js);
    const [s1, d1, d2] = js.map((j) => h.joinResponse(j).memberId) as [string, string, string];
    h.sync(G, s1, 1, {}, 's1');
    const response = h.response<LeaveGroupResponse>(
      h.leave(G, [
        { memberId: '', groupInstanceId: 's1' },
        { memberId: d1 },
        { memberId: 'ghost' },
        { memberId: '', groupInstanceId: 'nope' },
      ]),
    );
    expect(response.errorCode).toBe(ErrorCode.NONE);
    expect(response.members.map((m) => m.errorCode)).toEqual([
      0,
      0,
      ErrorCode.UNKNOWN_MEMBER_ID,
      ErrorCode.UNKNOWN_MEMBER_ID,
    ]);
    const group = h.coordinator.getGroup(G)!;
    expect([...group.members.keys()]).toEqual([d2]);
    expect(group.state).toBe('PreparingRebalance');
    // The last member leaving empties the group at once; its metadata is rewritten as Empty.
    h.leave(G, [{ memberId: d2 }]);
    expect(group.state).toBe('Empty');
    expect(decodeOffsetsRecord(h.logs.get(0)!.at(-1)!)).toMatchObject({
      kind: 'groupMetadata',
      value: { members: [], protocol: null },
    });
  });

  it('v0-2 report the single member’s error as the response’s', () => {
    const h = new Harness();
    expect(
      legacyLeaveGroupErrorCode(h.response<LeaveGroupResponse>(h.leave('nobody', [{ memberId: 'x' }]))),
    ).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  it('fences a leave naming a member id that is not the instance’s current one', () => {
    const h = new Harness();
    h.join(G, { groupInstanceId: 's1' });
    const response = h.response<LeaveGroupResponse>(
      h.leave(G, [{ memberId: 'old-id', groupInstanceId: 's1' }]),
    );
    expect(response.members[0]!.errorCode).toBe(ErrorCode.FENCED_INSTANCE_ID);
  });
});

describe('DescribeGroups, ListGroups, DeleteGroups', () => {
  it('describes a Stable group with metadata and assignments, others without', () => {
    const h = new Harness();
    const { memberIds } = h.stableGroup(G, 1);
    h.join('preparing');
    const response = h.call<DescribeGroupsResponse>((id, now) =>
      h.coordinator.describeGroups(id, { groups: [G, 'preparing', 'unknown'] }, now),
    );
    expect(response.groups[0]).toMatchObject({
      groupState: 'Stable',
      protocolType: 'consumer',
      protocolData: 'range',
    });
    expect(response.groups[0]!.members[0]).toMatchObject({
      memberId: memberIds[0],
      clientId: 'client-0',
      clientHost: '/127.0.0.1',
    });
    expect(response.groups[0]!.members[0]!.memberAssignment.toString()).toBe(`assignment-of-${memberIds[0]}`);
    expect(response.groups[1]).toMatchObject({ groupState: 'PreparingRebalance', protocolData: '' });
    expect(response.groups[1]!.members[0]!.memberMetadata).toEqual(Buffer.alloc(0));
    expect(response.groups[2]).toMatchObject({ errorCode: 0, groupState: 'Dead', members: [] });
  });

  it('lists groups, filtered by state case-insensitively', () => {
    const h = new Harness();
    h.stableGroup('b-stable', 1);
    h.join('a-preparing');
    h.commit('c-empty', '', -1, { 't:0': 1 });
    const all = h.call<ListGroupsResponse>((id, now) =>
      h.coordinator.listGroups(id, { statesFilter: [] }, now),
    );
    expect(all.groups.map((g) => [g.groupId, g.groupState])).toEqual([
      ['a-preparing', 'PreparingRebalance'],
      ['b-stable', 'Stable'],
      ['c-empty', 'Empty'],
    ]);
    const some = h.call<ListGroupsResponse>((id, now) =>
      h.coordinator.listGroups(id, { statesFilter: ['stable', 'EMPTY'] }, now),
    );
    expect(some.groups.map((g) => g.groupId)).toEqual(['b-stable', 'c-empty']);
    expect(some.groups[1]!.protocolType).toBe('');
  });

  it('deletes only Empty groups, writing tombstones before answering', () => {
    const h = new Harness();
    h.stableGroup('busy', 1);
    const { memberIds } = h.stableGroup('done', 1);
    h.commit('done', memberIds[0]!, 1, { 't:0': 3, 'u:1': 4 });
    h.leave('done', [{ memberId: memberIds[0]! }]);
    h.autoAppend = false;
    const del = h.send((id, now) =>
      h.coordinator.deleteGroups(id, { groupsNames: ['busy', 'done', 'never', 'done'] }, now),
    );
    expect(h.answered(del)).toBe(false);
    const records = h.outstanding[0]!.records.map((r) => decodeOffsetsRecord(r));
    expect(records).toEqual([
      { kind: 'offsetCommit', group: 'done', topic: 't', partition: 0, value: null },
      { kind: 'offsetCommit', group: 'done', topic: 'u', partition: 1, value: null },
      { kind: 'groupMetadata', group: 'done', value: null },
    ]);
    h.completeAppend();
    expect(h.response<DeleteGroupsResponse>(del).results.map((r) => r.errorCode)).toEqual([
      ErrorCode.NON_EMPTY_GROUP,
      ErrorCode.NONE,
      ErrorCode.GROUP_ID_NOT_FOUND,
      // Named twice: the second sees it being deleted.
      ErrorCode.GROUP_ID_NOT_FOUND,
    ]);
  });
});

describe('DeleteGroups answers', () => {
  it('NON_EMPTY_GROUP, GROUP_ID_NOT_FOUND, and NONE once the tombstones are written', () => {
    const h = new Harness();
    h.stableGroup('busy', 1);
    h.commit('done', '', -1, { 't:0': 3 });
    h.autoAppend = false;
    const requestId = h.send((id, now) =>
      h.coordinator.deleteGroups(id, { groupsNames: ['busy', 'done', 'never'] }, now),
    );
    expect(h.answered(requestId)).toBe(false);
    h.completeAppend();
    expect(h.response<DeleteGroupsResponse>(requestId).results).toEqual([
      { groupId: 'busy', errorCode: ErrorCode.NON_EMPTY_GROUP },
      { groupId: 'done', errorCode: 0 },
      { groupId: 'never', errorCode: ErrorCode.GROUP_ID_NOT_FOUND },
    ]);
    expect(h.coordinator.getGroup('done')).toBeUndefined();
    expect(h.fetchOffsets('done', { t: [0] })).toEqual({ 't:0': -1 });
  });

  it('keeps the group if the tombstones cannot be written', () => {
    const h = new Harness();
    h.commit('done', '', -1, { 't:0': 3 });
    h.autoAppend = false;
    const requestId = h.send((id, now) => h.coordinator.deleteGroups(id, { groupsNames: ['done'] }, now));
    h.completeAppend(ErrorCode.NOT_ENOUGH_REPLICAS);
    const response = h.response<DeleteGroupsResponse>(requestId);
    expect(response.results[0]!.errorCode).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    expect(h.coordinator.getGroup('done')?.state).toBe('Empty');
    expect(h.fetchOffsets('done', null)).toEqual({ 't:0': 3 });
  });
});

describe('loading and unloading offsets partitions', () => {
  it('rebuilds groups and offsets from the log, with fresh sessions, and serves them like before', () => {
    const h = new Harness({ offsetsPartitionCount: 1 });
    const { memberIds, generationId } = h.stableGroup(G, 2);
    h.commit(G, memberIds[0]!, generationId, { 't:0': 10, 't:1': 11 });
    h.commit(G, memberIds[1]!, generationId, { 't:0': 12 }); // later record for t:0 wins
    h.commit('standalone', '', -1, { 'x:0': 1 });
    h.commit('deleted', '', -1, { 'y:0': 1 });
    h.call((id, now) => h.coordinator.deleteGroups(id, { groupsNames: ['deleted'] }, now));
    const log = h.logs.get(0)!;

    const other = new Harness({ offsetsPartitionCount: 1 });
    other.apply(other.coordinator.unloadPartition(0));
    other.nowMs = h.nowMs + 60_000;
    other.coordinator.beginLoad(0);
    expect(other.heartbeat(G, memberIds[0]!, generationId)).toBe(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    expect(
      other.call<ListGroupsResponse>((id, now) => other.coordinator.listGroups(id, { statesFilter: [] }, now))
        .errorCode,
    ).toBe(ErrorCode.COORDINATOR_LOAD_IN_PROGRESS);
    other.coordinator.loadRecords(0, log);
    const summary = other.coordinator.completeLoad(0, other.nowMs);
    expect(summary).toMatchObject({
      partitionIndex: 0,
      groupCount: 2,
      offsetCount: 3,
      unknownRecordCount: 0,
      recordCount: log.length,
    });

    const group = other.coordinator.getGroup(G)!;
    expect(group).toMatchObject({
      state: 'Stable',
      generationId,
      protocolName: 'range',
      leaderId: memberIds[0],
    });
    expect(other.fetchOffsets(G, null)).toEqual({ 't:0': 12, 't:1': 11 });
    expect(other.fetchOffsets('standalone', null)).toEqual({ 'x:0': 1 });
    expect(other.coordinator.getGroup('deleted')).toBeUndefined();
    // Sessions restart at load time, not at the last heartbeat the old coordinator saw.
    expect(other.coordinator.nextDeadlineMs()).toBe(other.nowMs + sessionTimeoutMs);
    expect(other.heartbeat(G, memberIds[1]!, generationId)).toBe(ErrorCode.NONE);
    expect(other.syncResponse(other.sync(G, memberIds[1]!, generationId)).assignment.toString()).toBe(
      `assignment-of-${memberIds[1]}`,
    );
    other.coordinator.checkInvariants();
  });

  it('answers NOT_COORDINATOR after unloading, including requests it was holding', () => {
    const h = new Harness();
    h.stableGroup(G, 1);
    const held = h.join(G);
    h.autoAppend = false;
    const commit = h.commit('standalone', '', -1, { 't:0': 1 });
    h.apply(h.coordinator.unloadPartition(0));
    expect(h.joinResponse(held).errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    expect(h.commitErrors(commit)).toEqual({ 't:0': ErrorCode.NOT_COORDINATOR });
    expect(h.heartbeat(G, 'x', 1)).toBe(ErrorCode.NOT_COORDINATOR);
    expect(h.coordinator.inflightRequestCount()).toBe(0);
    expect(h.coordinator.nextDeadlineMs()).toBeNull();
    // A late completion of the dropped append is ignored.
    h.completeAppend(ErrorCode.NOT_LEADER_OR_FOLLOWER);
  });

  it('answers NOT_COORDINATOR for groups of partitions it does not own', () => {
    const h = new Harness({ offsetsPartitionCount: 50, initialRebalanceDelayMs: 0 });
    h.apply(h.coordinator.unloadPartition(22)); // "hello" → 22
    expect(h.joinResponse(h.join('hello')).errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    expect(h.joinResponse(h.join('kafka')).errorCode).toBe(ErrorCode.NONE);
    expect(h.coordinator.getGroup('kafka')?.partitionIndex).toBe(10);
  });
});

describe('driver contract', () => {
  it('refuses appends completed out of order and request ids reused while in flight', () => {
    const h = new Harness();
    h.autoAppend = false;
    h.commit('a', '', -1, { 't:0': 1 });
    h.commit('b', '', -1, { 't:0': 1 });
    const second = h.outstanding[1]!.token;
    expect(() => h.coordinator.onAppendComplete(second, 0, h.nowMs)).toThrow(InvariantViolation);
    const fresh = new Harness();
    fresh.coordinator.joinGroup(
      77,
      {
        apiVersion: 3,
        groupId: G,
        sessionTimeoutMs,
        rebalanceTimeoutMs,
        memberId: '',
        groupInstanceId: null,
        protocolType: 'consumer',
        protocols: protocols('range'),
        clientId: 'c',
        clientHost: 'h',
      },
      fresh.nowMs,
    );
    expect(() =>
      fresh.coordinator.heartbeat(
        77,
        { groupId: G, generationId: 0, memberId: 'x', groupInstanceId: null },
        fresh.nowMs,
      ),
    ).toThrow(InvariantViolation);
  });

  it('every OffsetCommit answer lists every partition of the request', () => {
    const h = new Harness();
    const response = h.response<OffsetCommitResponse>(
      h.commit('g', 'x', 5, { 'a:0': 1, 'a:1': 2, 'b:0': 3 }),
    );
    expect(response.topics.map((t) => [t.name, t.partitions.map((p) => p.partitionIndex)])).toEqual([
      ['a', [0, 1]],
      ['b', [0]],
    ]);
  });
});

import type { Random } from '@gregor/ground';
import { describe, expect, it } from 'vitest';
import { FAST_FAILOVER_TIMEOUTS, makeRaftConfig } from './config.js';
import type { FetchResponse, RaftMessage } from './messages.js';
import { type Advanced, RaftNode, type Ready } from './node.js';
import type { LogEntry, PersistedState } from './types.js';

/** Random that always answers 0: election timeouts are exactly electionTimeoutMs. */
const noJitter: Random = { nextInt: () => 0 };
const T = FAST_FAILOVER_TIMEOUTS;
const text = (value: string) => new TextEncoder().encode(value);

function makeNode(id: number, persisted?: PersistedState, voterIds = [1, 2, 3], nowMs = 0): RaftNode {
  const config = makeRaftConfig({ nodeId: id, clusterId: 'c', voterIds, ...T, snapshotChunkBytesMax: 3 });
  return new RaftNode({ config, random: noJitter, nowMs, ...(persisted ? { persisted } : {}) });
}

function entry(offset: number, epoch: number, payload = `e${offset}`): LogEntry {
  return { offset, epoch, type: 'data', payload: text(payload) };
}

function persisted(epoch: number, entries: LogEntry[], votedFor?: number): PersistedState {
  return { hardState: { epoch, votedFor }, snapshot: undefined, entries };
}

/** A tiny synchronous network: persists (instantly), advances and delivers until quiet. */
class Net {
  nowMs = 0;
  readonly nodes = new Map<number, RaftNode>();
  readonly cut = new Set<number>();
  readonly readies: { id: number; ready: Ready }[] = [];

  add(node: RaftNode): RaftNode {
    this.nodes.set(node.nodeId, node);
    return node;
  }

  flush(id: number): Advanced | undefined {
    const node = this.nodes.get(id)!;
    if (!node.hasReady()) return undefined;
    const ready = node.ready();
    this.readies.push({ id, ready });
    return node.advance(ready, this.nowMs);
  }

  /** Delivers messages until none is left; returns everything delivered. */
  settle(): RaftMessage[] {
    const delivered: RaftMessage[] = [];
    for (let round = 0; round < 1000; round++) {
      const batch: RaftMessage[] = [];
      for (const id of this.nodes.keys()) {
        for (const { message } of this.flush(id)?.messages ?? []) batch.push(message);
      }
      if (batch.length === 0) return delivered;
      for (const message of batch) {
        if (this.cut.has(message.from) || this.cut.has(message.to)) continue;
        const target = this.nodes.get(message.to);
        if (target === undefined) continue;
        delivered.push(message);
        expect(target.step(message, this.nowMs).kind).toBe('accepted');
      }
    }
    throw new Error('network did not settle');
  }

  tickAll(nowMs: number): void {
    this.nowMs = nowMs;
    for (const node of this.nodes.values()) node.tick(nowMs);
  }
}

/** Three nodes, node 1 elected leader of epoch 1 with followers attached. */
function electedCluster(): Net {
  const net = new Net();
  for (const id of [1, 2, 3]) net.add(makeNode(id));
  net.nowMs = T.electionTimeoutMs;
  net.nodes.get(1)!.tick(net.nowMs);
  net.settle();
  expect(net.nodes.get(1)!.status()).toMatchObject({ role: 'leader', epoch: 1 });
  return net;
}

/** Moves time forward in small steps, delivering everything in between, as a real driver would. */
function advance(net: Net, durationMs: number): void {
  const stepMs = 50;
  const endMs = net.nowMs + durationMs;
  while (net.nowMs < endMs) {
    net.tickAll(Math.min(net.nowMs + stepMs, endMs));
    net.settle();
  }
}

function voteRequest(
  from: number,
  to: number,
  candidateEpoch: number,
  lastEpoch: number,
  lastOffset: number,
) {
  return {
    type: 'vote-request',
    clusterId: 'c',
    from,
    to,
    candidateEpoch,
    lastEpoch,
    lastOffset,
    preVote: false,
  } as const;
}

function responsesOf(node: RaftNode, nowMs = 0): RaftMessage[] {
  if (!node.hasReady()) return [];
  const ready = node.ready();
  return node.advance(ready, nowMs).messages.map((outbound) => outbound.message);
}

describe('RaftNode elections', () => {
  it('grants a vote only to a candidate whose log is at least as up to date', () => {
    const voter = makeNode(2, persisted(3, [entry(0, 1), entry(1, 3)]));
    voter.step(voteRequest(1, 2, 4, 2, 10), 0);
    expect(responsesOf(voter)).toMatchObject([{ type: 'vote-response', granted: false, epoch: 4 }]);
    const voter2 = makeNode(2, persisted(3, [entry(0, 1), entry(1, 3)]));
    voter2.step(voteRequest(3, 2, 4, 3, 1), 0);
    expect(responsesOf(voter2)).toMatchObject([{ granted: false }]);
    voter2.step(voteRequest(1, 2, 4, 3, 2), 0);
    expect(responsesOf(voter2)).toMatchObject([{ granted: true, epoch: 4 }]);
  });

  it('votes once per epoch, and the vote is in the Ready before the response is released', () => {
    const voter = makeNode(3);
    voter.step(voteRequest(1, 3, 1, 0, 0), 0);
    const ready = voter.ready();
    expect(ready.hardState).toEqual({ epoch: 1, votedFor: 1 });
    const messages = voter.advance(ready, 0).messages.map((outbound) => outbound.message);
    expect(messages).toMatchObject([{ type: 'vote-response', granted: true }]);
    voter.step(voteRequest(2, 3, 1, 0, 0), 0);
    expect(responsesOf(voter)).toMatchObject([{ granted: false }]);
    // The same candidate asking again (a retry) gets the same answer.
    voter.step(voteRequest(1, 3, 1, 0, 0), 0);
    expect(responsesOf(voter)).toMatchObject([{ granted: true }]);
  });

  it('a leader steps down when it sees a higher epoch', () => {
    const net = electedCluster();
    const leader = net.nodes.get(1)!;
    leader.step(voteRequest(2, 1, 5, 0, 0), net.nowMs);
    expect(leader.status()).toMatchObject({ role: 'follower', epoch: 5, leaderId: undefined });
  });

  it('pre-vote does not bump the epoch, and only a granted pre-vote leads to a real election', () => {
    const net = new Net();
    for (const id of [1, 2, 3]) net.add(makeNode(id));
    net.cut.add(2).add(3);
    net.nowMs = T.electionTimeoutMs;
    const node = net.nodes.get(1)!;
    node.tick(net.nowMs);
    expect(node.status()).toMatchObject({ role: 'prospective', epoch: 0 });
    const ready = node.ready();
    expect(ready.hardState).toBeUndefined();
    const requests = node.advance(ready, net.nowMs).messages.map((outbound) => outbound.message);
    expect(requests).toMatchObject([
      { type: 'vote-request', preVote: true, candidateEpoch: 1 },
      { type: 'vote-request', preVote: true, candidateEpoch: 1 },
    ]);
    // Nobody answers for many election timeouts: the epoch stays where it was.
    for (let round = 2; round < 10; round++) net.tickAll(round * 2 * T.electionTimeoutMs);
    net.settle();
    expect(node.status().epoch).toBe(0);
  });

  it('voters refuse a pre-vote while their leader is alive: a rejoining node cannot depose it', () => {
    const net = electedCluster();
    const isolated = net.nodes.get(3)!;
    net.cut.add(3);
    advance(net, T.fetchTimeoutMs);
    expect(isolated.status().role).toBe('prospective');
    net.cut.clear();
    // Refused pre-votes name leader 1; node 3 asks it directly and its (long-polled) answer brings it back.
    advance(net, T.requestTimeoutMs + T.fetchMaxWaitMs * 2);
    expect(net.nodes.get(1)!.status()).toMatchObject({ role: 'leader', epoch: 1 });
    // Node 3 learnt the leader from the refusals and follows it again.
    expect(isolated.status()).toMatchObject({ role: 'follower', epoch: 1, leaderId: 1 });
  });

  it('check-quorum: a leader without fetches from a majority for 1.5 x fetch timeout resigns', () => {
    const net = electedCluster();
    const leader = net.nodes.get(1)!;
    net.cut.add(2).add(3);
    const start = net.nowMs;
    leader.tick(start + T.fetchTimeoutMs * 1.5 - 1);
    expect(leader.status().role).toBe('leader');
    leader.tick(start + T.fetchTimeoutMs * 1.5 + T.fetchMaxWaitMs);
    expect(leader.status()).toMatchObject({ role: 'follower', leaderId: undefined, epoch: 1 });
  });

  it('refuses messages from another cluster or from a node that is not a voter', () => {
    const node = makeNode(1);
    expect(node.step({ ...voteRequest(2, 1, 1, 0, 0), clusterId: 'other' }, 0)).toEqual({
      kind: 'wrong-cluster',
      from: 2,
      clusterId: 'other',
    });
    expect(node.step(voteRequest(9, 1, 1, 0, 0), 0)).toEqual({ kind: 'not-a-voter', from: 9 });
    expect(node.status().epoch).toBe(0);
  });
});

describe('RaftNode replication', () => {
  it('a new leader appends a leader-change entry; proposals commit once fetched by a majority', () => {
    const net = electedCluster();
    const leader = net.nodes.get(1)!;
    expect(leader.entryAt(0)).toMatchObject({ type: 'leader-change', epoch: 1 });
    expect(makeNode(2).propose(text('x'))).toEqual({ kind: 'not-leader' });
    expect(net.nodes.get(2)!.propose(text('x'))).toEqual({ kind: 'not-leader', leaderId: 1 });
    expect(leader.propose(text('x'))).toEqual({ kind: 'appended', offset: 1, epoch: 1 });
    net.settle();
    for (const node of net.nodes.values()) expect(node.status().highWatermark).toBe(2);
  });

  it('the high watermark only advances through an entry of the leader own epoch', () => {
    // Node 1 has an entry of epoch 1 that no one else has; it becomes leader of epoch 3.
    const net = new Net();
    net.add(makeNode(1, persisted(2, [entry(0, 1), entry(1, 2)])));
    net.add(makeNode(2, persisted(2, [entry(0, 1)])));
    net.add(makeNode(3, persisted(2, [entry(0, 1)])));
    const leader = net.nodes.get(1)!;
    // Normal path: the leader-change entry of epoch 3 reaches a majority and commits all before it.
    net.nowMs = T.electionTimeoutMs;
    leader.tick(net.nowMs);
    net.settle();
    expect(leader.status()).toMatchObject({ role: 'leader', epoch: 3 });
    expect(leader.status().highWatermark).toBe(3);
    // Now the same shape, checked step by step: follower at offset 2 of epoch 2 only.
    const lone = new Net();
    lone.add(makeNode(1, persisted(2, [entry(0, 1), entry(1, 2)])));
    lone.add(makeNode(2, persisted(2, [entry(0, 1), entry(1, 2)])));
    lone.add(makeNode(3, persisted(2, [entry(0, 1)])));
    const leader2 = lone.nodes.get(1)!;
    lone.nowMs = T.electionTimeoutMs;
    leader2.tick(lone.nowMs);
    // Deliver everything except fetch responses to node 2 and 3 carrying the leader-change entry.
    for (let round = 0; round < 50; round++) {
      for (const id of [1, 2, 3]) {
        for (const { message } of lone.flush(id)?.messages ?? []) {
          const carriesNewEpoch =
            message.type === 'fetch-response' && message.entries.some((e) => e.epoch === 3);
          if (carriesNewEpoch) continue;
          lone.nodes.get(message.to)!.step(message, lone.nowMs);
        }
      }
    }
    expect(leader2.status()).toMatchObject({ role: 'leader', epoch: 3, logEndOffset: 3 });
    // Node 2 has offsets 0..1 (matching), so a majority holds offset 1 of epoch 2 - still not committed.
    expect(leader2.status().highWatermark).toBe(0);
  });

  it('a follower with a divergent tail truncates to the DivergingEpoch and catches up', () => {
    const net = new Net();
    // Node 3 has stale entries of epoch 1 that the others replaced in epoch 2.
    net.add(makeNode(1, persisted(2, [entry(0, 1), entry(1, 2, 'new'), entry(2, 2, 'new2')])));
    net.add(makeNode(2, persisted(2, [entry(0, 1), entry(1, 2, 'new'), entry(2, 2, 'new2')])));
    net.add(makeNode(3, persisted(2, [entry(0, 1), entry(1, 1, 'old'), entry(2, 1, 'old2'), entry(3, 1)])));
    net.nowMs = T.electionTimeoutMs;
    net.nodes.get(1)!.tick(net.nowMs);
    const delivered = net.settle();
    const diverging = delivered.find(
      (message): message is FetchResponse =>
        message.type === 'fetch-response' && message.divergingEpoch !== undefined,
    );
    expect(diverging?.divergingEpoch).toEqual({ epoch: 1, endOffset: 1 });
    expect(net.readies.some(({ id, ready }) => id === 3 && ready.truncateFromOffset === 1)).toBe(true);
    const follower = net.nodes.get(3)!;
    expect(new TextDecoder().decode(follower.entryAt(1)!.payload)).toBe('new');
    expect(follower.status()).toMatchObject({ logEndOffset: 4, highWatermark: 4 });
  });

  it('a follower behind the leader log start fetches the snapshot in chunks and resumes from it', () => {
    const net = electedCluster();
    const leader = net.nodes.get(1)!;
    net.cut.add(3);
    for (let index = 0; index < 5; index++) leader.propose(text(`v${index}`));
    net.settle();
    expect(leader.status().highWatermark).toBe(6);
    const state = text('state-at-6');
    expect(leader.createSnapshot(6, state)).toMatchObject({
      kind: 'created',
      snapshot: { id: { endOffset: 6 } },
    });
    expect(leader.status().logStartOffset).toBe(6);
    leader.propose(text('after'));
    net.settle();
    net.cut.clear();
    // Node 3 gave up on a silent leader meanwhile; let it time out, then be refused and re-attach.
    net.tickAll(net.nowMs + T.requestTimeoutMs);
    const delivered = net.settle();
    expect(delivered.filter((message) => message.type === 'fetch-snapshot-request').length).toBe(4);
    const follower = net.nodes.get(3)!;
    const install = net.readies.find(({ id, ready }) => id === 3 && ready.snapshot !== undefined);
    expect(install?.ready.snapshot?.bytes).toEqual(state);
    expect(follower.status()).toMatchObject({ logStartOffset: 6, logEndOffset: 7, highWatermark: 7 });
  });
});

describe('RaftNode describeQuorum', () => {
  it('is the leader view only: every voter log end, last fetch and last caught-up time', () => {
    const net = electedCluster();
    expect(net.nodes.get(2)!.describeQuorum()).toBeUndefined();
    advance(net, 200);
    const leader = net.nodes.get(1)!;
    leader.propose(text('x'));
    advance(net, 200);
    const caughtUp = leader.describeQuorum()!;
    const end = leader.status().logEndOffset;
    expect(caughtUp).toMatchObject({ leaderId: 1, epoch: 1, highWatermark: end });
    expect(caughtUp.voters.map((voter) => [voter.replicaId, voter.logEndOffset])).toEqual([
      [1, end],
      [2, end],
      [3, end],
    ]);
    for (const voter of caughtUp.voters) {
      expect(voter.lastFetchMs).toBeGreaterThan(0);
      expect(voter.lastCaughtUpMs).toBeGreaterThan(0);
    }

    // Voter 3 stops fetching: its log end and caught-up time stay where they were.
    const before = caughtUp.voters[2]!;
    net.cut.add(3);
    leader.propose(text('y'));
    advance(net, 300);
    const lagging = leader.describeQuorum()!;
    expect(lagging.voters[0]!.logEndOffset).toBe(end + 1);
    expect(lagging.voters[1]).toMatchObject({ logEndOffset: end + 1 });
    expect(lagging.voters[1]!.lastCaughtUpMs).toBeGreaterThan(before.lastCaughtUpMs);
    expect(lagging.voters[2]).toEqual(before);
  });
});

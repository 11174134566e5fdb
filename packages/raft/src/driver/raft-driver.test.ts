import { rm } from 'node:fs/promises';
import { type Clock, monotonicClock } from '@gregor/ground';
import { waitFor } from '@gregor/ground/testing';
import { afterEach, describe, expect, it } from 'vitest';
import type { RaftMessage } from '../core/messages.js';
import { LevelRaftStore } from '../storage/level-raft-store.js';
import type { RaftStore } from '../storage/raft-store.js';
import {
  encode,
  RecordingLogger,
  RecordingStateMachine,
  TEST_TIMEOUTS,
  TempDirectories,
} from '../testing/driver-harness.js';
import {
  NotLeaderError,
  ProposalLostError,
  ProposalTimeoutError,
  ProposalTooLargeError,
  RaftDriverClosedError,
} from './errors.js';
import { InMemoryRaftNetwork } from './in-memory-transport.js';
import {
  type LeaderChange,
  PERSIST_SLOW_WARN_MS,
  RaftDriver,
  raftConfigFor,
  type SnapshotPolicy,
} from './raft-driver.js';

const CLUSTER_ID = 'driver-test-cluster';
const VOTER_IDS = [1, 2, 3];

interface Member {
  driver: RaftDriver;
  readonly stateMachine: RecordingStateMachine;
  readonly logger: RecordingLogger;
  readonly directory: string;
  readonly leaderChanges: LeaderChange[];
}

/** Three drivers over an in-memory network, each with a real LevelRaftStore in its own temp dir. */
class Cluster {
  readonly network = new InMemoryRaftNetwork();
  readonly members = new Map<number, Member>();

  constructor(
    private readonly directories: TempDirectories,
    private readonly snapshotPolicy: Partial<SnapshotPolicy> = {},
  ) {}

  async startAll(): Promise<void> {
    for (const id of VOTER_IDS) await this.start(id);
  }

  /** Starts node id on directory (a fresh one if absent); a stopped node restarts on its old one. */
  async start(id: number, directory?: string): Promise<Member> {
    const dir =
      directory ?? this.members.get(id)?.directory ?? (await this.directories.create(`raft-${id}-`));
    const stateMachine = new RecordingStateMachine();
    const logger = new RecordingLogger();
    const driver = await RaftDriver.start({
      config: raftConfigFor({
        nodeId: id,
        clusterId: CLUSTER_ID,
        voterIds: VOTER_IDS,
        timeouts: TEST_TIMEOUTS,
      }),
      store: await LevelRaftStore.open(dir),
      transport: this.network.transport(id),
      stateMachine,
      logger,
      snapshotPolicy: this.snapshotPolicy,
    });
    const member: Member = { driver, stateMachine, logger, directory: dir, leaderChanges: [] };
    driver.onLeaderChange((change) => member.leaderChanges.push(change));
    this.network.attach(id, (message) => driver.receive(message));
    this.members.set(id, member);
    return member;
  }

  async stop(id: number): Promise<void> {
    this.network.detach(id);
    await this.member(id).driver.close();
  }

  member(id: number): Member {
    const member = this.members.get(id);
    if (member === undefined) throw new Error(`no node ${id}`);
    return member;
  }

  /** The node that leads and has announced it (its leader-change entry applied). */
  readyLeader(): Member | undefined {
    return [...this.members.values()].find((member) => member.driver.leader().isLocalLeader);
  }

  async waitForLeader(): Promise<Member> {
    await waitFor('a ready leader', () => this.readyLeader() !== undefined);
    return this.readyLeader()!;
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.members.values()].map((member) => member.driver.close()));
  }
}

const directories = new TempDirectories();
const clusters: Cluster[] = [];
afterEach(async () => {
  await Promise.all(clusters.splice(0).map((cluster) => cluster.closeAll()));
  await directories.removeAll();
});

function newCluster(snapshotPolicy: Partial<SnapshotPolicy> = {}): Cluster {
  const cluster = new Cluster(directories, snapshotPolicy);
  clusters.push(cluster);
  return cluster;
}

describe('RaftDriver', () => {
  it('elects a leader, commits proposals and applies them in the same order on every node', async () => {
    const cluster = newCluster();
    await cluster.startAll();
    const leader = await cluster.waitForLeader();
    const texts = Array.from({ length: 50 }, (_, index) => `record-${index}`);
    const committed = await Promise.all(texts.map((text) => leader.driver.propose(encode(text))));
    const offsets = committed.map((proposal) => proposal.offset);
    expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    expect(new Set(offsets).size).toBe(texts.length);
    // Resolved means applied locally.
    expect(leader.stateMachine.applied).toEqual(texts);
    await waitFor('every node applied all proposals', () =>
      [...cluster.members.values()].every((member) => member.stateMachine.applied.length === texts.length),
    );
    for (const member of cluster.members.values()) expect(member.stateMachine.applied).toEqual(texts);
    const leaderId = leader.driver.nodeId;
    for (const member of cluster.members.values()) {
      expect(member.leaderChanges.at(-1)).toMatchObject({ leaderId, isLocalLeader: member === leader });
    }
  });

  it('refuses a proposal on a follower with NotLeaderError naming the leader', async () => {
    const cluster = newCluster();
    await cluster.startAll();
    const leader = await cluster.waitForLeader();
    const follower = [...cluster.members.values()].find((member) => member !== leader)!;
    await waitFor(
      'the follower to know the leader',
      () => follower.driver.status().leaderId === leader.driver.nodeId,
    );
    const error = await follower.driver.propose(encode('x')).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(NotLeaderError);
    expect((error as NotLeaderError).leaderId).toBe(leader.driver.nodeId);
  });

  it('times a proposal out when the leader has lost its quorum', async () => {
    const cluster = newCluster();
    await cluster.startAll();
    const leader = await cluster.waitForLeader();
    for (const member of cluster.members.values()) {
      if (member !== leader) cluster.network.isolate(member.driver.nodeId);
    }
    // Still leader at this instant, so the entry is appended; it can never reach a majority.
    const error = await leader.driver
      .propose(encode('lonely'), { timeoutMs: 300 })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ProposalTimeoutError);
    expect(leader.stateMachine.applied).not.toContain('lonely');
  });

  it('refuses a payload above proposalBytesMax with ProposalTooLargeError', async () => {
    const cluster = newCluster();
    await cluster.startAll();
    const leader = await cluster.waitForLeader();
    const error = await leader.driver
      .propose(new Uint8Array(1024 * 1024 + 1))
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ProposalTooLargeError);
  });

  it('rejects with ProposalLostError when a new leader commits another entry at the offset', async () => {
    const cluster = newCluster();
    await cluster.startAll();
    const old = await cluster.waitForLeader();
    cluster.network.isolate(old.driver.nodeId);
    // Appended in the old epoch, never replicated: the others elect a leader without it.
    const orphan = old.driver
      .propose(encode('orphan'), { timeoutMs: 60_000 })
      .catch((caught: unknown) => caught);
    const others = [...cluster.members.values()].filter((member) => member !== old);
    await waitFor('a new leader among the others', () =>
      others.some((member) => member.driver.leader().isLocalLeader),
    );
    const next = others.find((member) => member.driver.leader().isLocalLeader)!;
    for (let index = 0; index < 3; index++) await next.driver.propose(encode(`new-${index}`));
    cluster.network.heal();
    const error = await orphan;
    expect(error).toBeInstanceOf(ProposalLostError);
    expect((error as ProposalLostError).committedEpoch).toBeGreaterThan((error as ProposalLostError).epoch);
    expect(old.stateMachine.applied).not.toContain('orphan');
  });

  it('keeps its log across a restart on the same directory and catches up', async () => {
    const cluster = newCluster();
    await cluster.startAll();
    const leader = await cluster.waitForLeader();
    for (let index = 0; index < 10; index++) await leader.driver.propose(encode(`before-${index}`));
    const follower = [...cluster.members.values()].find((member) => member !== leader)!;
    const followerId = follower.driver.nodeId;
    await waitFor('the follower to apply the first batch', () => follower.stateMachine.applied.length === 10);
    const logEndBeforeStop = follower.driver.status().logEndOffset;
    await cluster.stop(followerId);
    for (let index = 0; index < 10; index++) await leader.driver.propose(encode(`while-down-${index}`));

    const restarted = await cluster.start(followerId);
    // The log came back from LevelDB before any fetch could have run.
    expect(restarted.driver.status().logEndOffset).toBeGreaterThanOrEqual(logEndBeforeStop);
    await waitFor('the restarted node to catch up', () => restarted.stateMachine.applied.length === 20);
    expect(restarted.stateMachine.applied).toEqual(leader.stateMachine.applied);
  });

  it('snapshots every N entries, and a wiped node catches up from the snapshot', async () => {
    const cluster = newCluster({ snapshotEveryEntries: 10 });
    await cluster.startAll();
    const leader = await cluster.waitForLeader();
    const wipedId = [...cluster.members.values()].find((member) => member !== leader)!.driver.nodeId;
    await cluster.stop(wipedId);
    for (let index = 0; index < 35; index++) await leader.driver.propose(encode(`r${index}`));
    expect(leader.driver.status().logStartOffset).toBeGreaterThan(0);

    await rm(cluster.member(wipedId).directory, { recursive: true, force: true });
    const wiped = await cluster.start(wipedId, await directories.create('raft-wiped-'));
    await waitFor('the wiped node to catch up', () => wiped.stateMachine.applied.length === 35);
    expect(wiped.stateMachine.restores.length).toBeGreaterThan(0);
    expect(wiped.stateMachine.applied).toEqual(leader.stateMachine.applied);

    // Its own restart now begins from the durable snapshot it installed.
    await cluster.stop(wipedId);
    const again = await cluster.start(wipedId);
    expect(again.stateMachine.restores.length).toBe(1);
    await waitFor(
      'the restarted node to apply everything again',
      () => again.stateMachine.applied.length === 35,
    );
  });

  it('refuses messages from another cluster or a non-voter and logs each sender at warn, rate-limited', async () => {
    const cluster = newCluster();
    const member = await cluster.start(1);
    const fetch = (clusterId: string, from: number): RaftMessage => ({
      type: 'fetch-request',
      clusterId,
      from,
      to: 1,
      epoch: 1,
      fetchOffset: 0,
      lastFetchedEpoch: 0,
    });
    for (let attempt = 0; attempt < 5; attempt++) {
      expect(member.driver.receive(fetch('someone-else', 2))).toMatchObject({
        kind: 'wrong-cluster',
        from: 2,
      });
      expect(member.driver.receive(fetch(CLUSTER_ID, 99))).toMatchObject({ kind: 'not-a-voter', from: 99 });
    }
    const warnings = member.logger.lines.filter((line) => line.level === 'warn');
    expect(warnings).toHaveLength(2);
    expect(warnings[0]!.fields).toMatchObject({
      from: 2,
      reason: 'wrong-cluster',
      clusterId: 'someone-else',
    });
    expect(warnings[1]!.fields).toMatchObject({ from: 99, reason: 'not-a-voter' });
    expect(member.driver.status().epoch).toBe(0);
  });

  it('logs a warning when one write (fsync) took PERSIST_SLOW_WARN_MS or longer, and none for quick ones', async () => {
    // A store on a clock the test moves: a write "takes" as long as the clock is moved during it.
    let clockShiftMs = 0;
    let nextPersistMs = 0;
    const clock: Clock = { nowMs: () => monotonicClock.nowMs() + clockShiftMs };
    const level = await LevelRaftStore.open(await directories.create('raft-slow-'));
    const store: RaftStore = {
      load: () => level.load(),
      persist: async (ready) => {
        await level.persist(ready);
        clockShiftMs += nextPersistMs;
        nextPersistMs = 0;
      },
      close: () => level.close(),
    };
    const logger = new RecordingLogger();
    const driver = await RaftDriver.start({
      config: raftConfigFor({ nodeId: 1, clusterId: CLUSTER_ID, voterIds: [1], timeouts: TEST_TIMEOUTS }),
      store,
      transport: { send: () => {}, close: async () => {} },
      stateMachine: new RecordingStateMachine(),
      logger,
      clock,
    });
    try {
      await waitFor('the single node to lead', () => driver.leader().isLocalLeader);
      await driver.propose(encode('quick'));
      const slowWarnings = () => logger.lines.filter((line) => line.message.startsWith('raft log write'));
      expect(slowWarnings()).toEqual([]);
      nextPersistMs = PERSIST_SLOW_WARN_MS + 700;
      await driver.propose(encode('slow'));
      expect(slowWarnings()).toHaveLength(1);
      expect(slowWarnings()[0]).toMatchObject({
        level: 'warn',
        fields: { nodeId: 1, entries: 1, role: 'leader' },
      });
      expect(slowWarnings()[0]!.fields.durationMs).toBeGreaterThanOrEqual(PERSIST_SLOW_WARN_MS + 700);
    } finally {
      await driver.close();
    }
  });

  it('rejects pending proposals on close and refuses new ones', async () => {
    const cluster = newCluster();
    await cluster.startAll();
    const leader = await cluster.waitForLeader();
    for (const member of cluster.members.values()) {
      if (member !== leader) cluster.network.isolate(member.driver.nodeId);
    }
    const pending = leader.driver
      .propose(encode('never'), { timeoutMs: 60_000 })
      .catch((caught: unknown) => caught);
    await leader.driver.close();
    expect(await pending).toBeInstanceOf(RaftDriverClosedError);
    await expect(leader.driver.propose(encode('late'))).rejects.toBeInstanceOf(RaftDriverClosedError);
  });
});

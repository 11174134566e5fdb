// A member's commits around a rebalance and at stop, over a scripted coordinator (leader of
// `orders`, two partitions, every Fetch three records per partition). A commit refused for a
// retriable reason (the coordinator moved: NOT_COORDINATOR) is sent again, to the coordinator found
// anew, before the member joins again or leaves: dropped, it left the group's offsets behind what
// the member had read, and the partition's next owner read the backlog again (the in-process
// consumer test's member c, session s16). A member told it is out of its generation
// (ILLEGAL_GENERATION) gives its partitions up as lost, cooperative or not: it commits nothing of
// them and reads them again from the group's committed offsets, never from its old positions. The
// committed offsets after a join are fetched again while the coordinator is loading.

import { waitFor } from '@gregor/ground/testing';
import { ErrorCode } from '@gregor/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import type { Cluster } from '../cluster.js';
import { createLogger, logLevel } from '../logger.js';
import {
  endlessFetchAnswer,
  type ScriptedFetchBody,
  ScriptedGroupCluster,
} from '../testing/scripted-group-cluster.js';
import { PartitionAssigners } from './assigners.js';
import { Consumer, type ConsumerConfig } from './consumer.js';

const recordsPerBatch = 3;

interface Commit {
  readonly generationId: number;
  readonly memberId: string;
  /** `partition:offset`, in request order. */
  readonly offsets: string[];
  readonly errorCode: number;
}

class ScriptedBroker extends ScriptedGroupCluster {
  joins = 0;
  readonly commits: Commit[] = [];
  /** Error codes the next OffsetCommits are answered with, one each. */
  commitErrors: number[] = [];
  /** Error codes the next OffsetFetches are answered with, one each. */
  offsetFetchErrors: number[] = [];
  /** What OffsetFetch answers for every partition. */
  committedOffset = 0n;
  /** Every Fetch's partitions, as `partition@fetchOffset`. */
  readonly fetches: string[][] = [];

  constructor(private readonly protocolName = 'RoundRobinAssigner') {
    super(new Map([['orders', [0, 1]]]));
  }
  override partitionCount(): number {
    return 2;
  }
  protected override joinGroup(): unknown {
    this.joins++;
    // One rebalance (or loss) per heartbeat error set: the next generation's heartbeats are fine.
    this.heartbeatErrorCode = 0;
    return { ...(super.joinGroup() as object), generationId: this.joins, protocolName: this.protocolName };
  }
  protected override offsetCommit(body: Record<string, unknown>): unknown {
    const errorCode = this.commitErrors.shift() ?? 0;
    const topics = body.topics as {
      name: string;
      partitions: { partitionIndex: number; committedOffset: bigint }[];
    }[];
    this.commits.push({
      generationId: body.generationId as number,
      memberId: body.memberId as string,
      offsets: topics.flatMap((topic) =>
        topic.partitions.map(({ partitionIndex, committedOffset }) => `${partitionIndex}:${committedOffset}`),
      ),
      errorCode,
    });
    return {
      topics: topics.map((topic) => ({
        name: topic.name,
        partitions: topic.partitions.map(({ partitionIndex }) => ({ partitionIndex, errorCode })),
      })),
    };
  }
  protected override offsetFetch(): unknown {
    const errorCode = this.offsetFetchErrors.shift() ?? 0;
    if (errorCode !== 0) return { errorCode, topics: [] };
    return {
      errorCode: 0,
      topics: [
        {
          name: 'orders',
          partitions: [0, 1].map((partitionIndex) => ({
            partitionIndex,
            committedOffset: this.committedOffset,
            errorCode: 0,
          })),
        },
      ],
    };
  }
  /** Set: the next Heartbeat is held, unanswered, until `release` is called with its answer. */
  holdNextHeartbeat = false;
  held: { generationId: number; release: (errorCode: number) => void } | undefined;
  protected override heartbeat(body: Record<string, unknown>): unknown {
    if (!this.holdNextHeartbeat) return super.heartbeat(body);
    this.holdNextHeartbeat = false;
    return new Promise((resolve) => {
      this.held = {
        generationId: body.generationId as number,
        release: (errorCode) => resolve({ errorCode }),
      };
    });
  }
  protected fetch(body: ScriptedFetchBody): unknown {
    this.fetches.push(
      body.topics.flatMap((topic) => topic.partitions.map((p) => `${p.partition}@${p.fetchOffset}`)),
    );
    return endlessFetchAnswer(body, recordsPerBatch, 10n);
  }
}

let consumer: Consumer | undefined;
afterEach(async () => {
  await consumer?.disconnect();
  consumer = undefined;
});

/** A member reading `orders`; `read` holds, per partition, the next offset past what it handed on. */
async function start(
  broker: ScriptedBroker,
  config: Partial<ConsumerConfig> = {},
  autoCommitInterval = 60_000,
) {
  consumer = new Consumer(
    broker as unknown as Cluster,
    createLogger(logLevel.NOTHING, () => () => undefined),
    {
      groupId: 'readers',
      maxWaitTimeInMs: 10,
      heartbeatInterval: 5,
      ...config,
    },
  );
  const read = new Map<number, bigint>();
  await consumer.subscribe({ topic: 'orders' });
  await consumer.run({
    autoCommitInterval,
    eachMessage: async ({ partition, message }) => {
      read.set(partition, BigInt(message.offset) + 1n);
    },
  });
  return { member: consumer, read };
}

describe('commits around a rebalance and at stop', () => {
  it('stop(): a commit answered NOT_COORDINATOR goes again to the coordinator found anew, with the same offsets', async () => {
    const broker = new ScriptedBroker();
    const { member, read } = await start(broker);
    await waitFor(
      'records of both partitions read',
      () => (read.get(0) ?? 0n) >= 6n && (read.get(1) ?? 0n) >= 6n,
    );
    const lookups = broker.findCoordinatorCalls;
    broker.commitErrors = [ErrorCode.NOT_COORDINATOR];
    await member.disconnect();
    consumer = undefined;
    expect(broker.commits.map((commit) => commit.errorCode)).toEqual([ErrorCode.NOT_COORDINATOR, 0]);
    const [refused, accepted] = broker.commits as [Commit, Commit];
    expect(accepted.offsets).toEqual(refused.offsets);
    // What was handed on is what the group holds: nothing is read again by the next owner.
    expect([...accepted.offsets].sort()).toEqual([`0:${read.get(0)}`, `1:${read.get(1)}`]);
    expect(accepted).toMatchObject({ generationId: 1, memberId: 'member-1' });
    expect(broker.findCoordinatorCalls).toBeGreaterThan(lookups);
    // Committed before it left.
    expect(broker.apis.slice(broker.apis.lastIndexOf('OffsetCommit'))).toContain('LeaveGroup');
  });

  it('a rebalance: the commit before joining again is retried past NOT_COORDINATOR, in the old generation, before JoinGroup', async () => {
    const broker = new ScriptedBroker();
    const { read } = await start(broker);
    await waitFor(
      'records of both partitions read',
      () => (read.get(0) ?? 0n) >= 6n && (read.get(1) ?? 0n) >= 6n,
    );
    broker.commitErrors = [ErrorCode.NOT_COORDINATOR];
    broker.heartbeatErrorCode = ErrorCode.REBALANCE_IN_PROGRESS;
    await waitFor('joined again', () => broker.joins === 2);
    const secondJoin = broker.apis.lastIndexOf('JoinGroup');
    const beforeJoin = broker.apis.slice(broker.apis.indexOf('OffsetCommit'), secondJoin);
    expect(beforeJoin.filter((api) => api === 'OffsetCommit')).toHaveLength(2);
    const [refused, accepted] = broker.commits as [Commit, Commit];
    expect(refused.errorCode).toBe(ErrorCode.NOT_COORDINATOR);
    expect(accepted).toMatchObject({ errorCode: 0, generationId: 1, offsets: refused.offsets });
  });

  it('a commit refused with ILLEGAL_GENERATION is not sent again', async () => {
    const broker = new ScriptedBroker();
    const { member, read } = await start(broker, {}, 0);
    await waitFor('a commit', () => broker.commits.length > 0 && (read.get(0) ?? 0n) >= 6n);
    const before = broker.commits.length;
    broker.commitErrors = [ErrorCode.ILLEGAL_GENERATION];
    await waitFor('joined again', () => broker.joins === 2);
    const refused = broker.commits[before]!;
    expect(refused.errorCode).toBe(ErrorCode.ILLEGAL_GENERATION);
    // Nothing more in generation 1: not the refused offsets, not any.
    expect(broker.commits.slice(before + 1).filter((commit) => commit.generationId === 1)).toEqual([]);
    await member.disconnect();
    consumer = undefined;
  });

  for (const [name, assigner] of [
    ['eager', PartitionAssigners.roundRobin],
    ['cooperative', PartitionAssigners.cooperativeSticky],
  ] as const) {
    it(`${name}: a member out of its generation (ILLEGAL_GENERATION) reads its partitions again from the group's offsets, not its old positions`, async () => {
      const broker = new ScriptedBroker(assigner.name);
      const { member, read } = await start(broker, { partitionAssigners: [assigner] });
      await waitFor(
        'records of both partitions read',
        () => (read.get(0) ?? 0n) >= 6n && (read.get(1) ?? 0n) >= 6n,
      );
      // Meanwhile the group went on without this member: another one read and committed to 100.
      broker.committedOffset = 100n;
      const fetchesBefore = broker.fetches.length;
      broker.heartbeatErrorCode = ErrorCode.ILLEGAL_GENERATION;
      await waitFor('joined again', () => broker.joins === 2 && member.assignments().length > 0);
      await waitFor('read on in generation 2', () => (read.get(0) ?? 0n) > 100n);
      await member.disconnect();
      consumer = undefined;
      // Nothing of the lost partitions was committed on the way out (the only commits are the one at
      // stop, in generation 2), and nothing behind the group's offsets: no commit rewound them.
      expect(broker.commits.map((commit) => commit.generationId)).toEqual([2]);
      for (const entry of broker.commits[0]!.offsets)
        expect(BigInt(entry.split(':')[1]!)).toBeGreaterThanOrEqual(100n);
      // The first Fetch of generation 2 starts at the group's offsets.
      const fetchesSince = broker.fetches.slice(fetchesBefore);
      const firstFrom100 = fetchesSince.findIndex(
        (fetch) => fetch.includes('0@100') || fetch.includes('1@100'),
      );
      expect(firstFrom100).toBeGreaterThanOrEqual(0);
      for (const fetch of fetchesSince.slice(firstFrom100))
        for (const entry of fetch) expect(BigInt(entry.split('@')[1]!)).toBeGreaterThanOrEqual(100n);
    });
  }

  it('an answer to a heartbeat of the generation before a join is ignored: no rebalance, no partitions lost', async () => {
    const broker = new ScriptedBroker(PartitionAssigners.cooperativeSticky.name);
    const { member, read } = await start(broker, {
      partitionAssigners: [PartitionAssigners.cooperativeSticky],
    });
    const events: string[] = [];
    member.on(member.events.REBALANCING, () => events.push('rebalancing'));
    member.on(member.events.HEARTBEAT, ({ payload }) =>
      events.push(`heartbeat ${payload.groupGenerationId}`),
    );
    await waitFor('records read', () => (read.get(0) ?? 0n) >= 6n);
    // A heartbeat of generation 1 stays out while the next one starts a rebalance...
    broker.holdNextHeartbeat = true;
    await waitFor('a heartbeat held', () => broker.held !== undefined);
    broker.heartbeatErrorCode = ErrorCode.REBALANCE_IN_PROGRESS;
    await waitFor('joined generation 2', () => broker.joins === 2 && events.includes('heartbeat 2'));
    // ...and is answered after it, as a coordinator answers a stale generation.
    const before = events.filter((event) => event === 'rebalancing').length;
    expect(broker.held!.generationId).toBe(1);
    broker.held!.release(ErrorCode.ILLEGAL_GENERATION);
    const heartbeats = events.length;
    await waitFor('another heartbeat answered', () =>
      events.slice(heartbeats).some((event) => event.startsWith('heartbeat')),
    );
    expect(events.filter((event) => event === 'rebalancing')).toHaveLength(before);
    expect(broker.joins).toBe(2);
    expect(member.assignments()).toEqual([{ topic: 'orders', partitions: [0, 1] }]);
  });

  it('the committed offsets after a join are fetched again while the coordinator loads them', async () => {
    const broker = new ScriptedBroker();
    broker.committedOffset = 40n;
    broker.offsetFetchErrors = [ErrorCode.COORDINATOR_LOAD_IN_PROGRESS];
    const { member, read } = await start(broker);
    await waitFor('records read from the committed offsets', () => (read.get(0) ?? 0n) > 40n, {
      timeoutMs: 3_000,
    });
    expect(broker.apis.filter((api) => api === 'OffsetFetch')).toHaveLength(2);
    expect(member.assignments()).toEqual([{ topic: 'orders', partitions: [0, 1] }]);
  });
});

import { ErrorCode } from '@gregor/protocol';
import { describe, expect, it } from 'vitest';
import type { FollowerFetchContext } from './follower-fetch-apply.js';
import {
  failedReplicaFetch,
  type ReplicaFetchPartitionResult,
  type ReplicaFetchRequest,
} from './follower-fetch-serving.js';
import { silentLogger } from './logger.js';
import {
  type FollowedPartition,
  type FollowerReplicas,
  ReplicaFetcherManager,
  type ReplicaFetchResponse,
} from './replica-fetcher.js';
import { ReplicationQuota } from './replication-quota.js';
import { ManualTime, settle } from './testing/index.js';

const settings = {
  brokerId: 2,
  maxWaitMs: 500,
  partitionMaxBytes: 1000,
  responseMaxBytes: 5000,
  backoffMs: 100,
};

/** Broker 2 follows `a-0` and `b-0` from leader 1; every fetch is answered by `respond`. */
function fetcher(
  respond: (request: ReplicaFetchRequest) => ReplicaFetchResponse | Error,
  apply: (result: ReplicaFetchPartitionResult) => Promise<void> = async () => undefined,
  followerQuota?: ReplicationQuota,
) {
  const time = new ManualTime();
  const requests: ReplicaFetchRequest[] = [];
  const timeouts: number[] = [];
  const applied: { context: FollowerFetchContext; result: ReplicaFetchPartitionResult }[] = [];
  const followed: FollowedPartition[] = ['a', 'b'].map((topic) => ({
    topic,
    partition: 0,
    leaderId: 1,
    leaderEpoch: 4,
  }));
  const replicas: FollowerReplicas = {
    followedPartitions: () => followed,
    followerFetchPosition: (topic) => ({
      fetchOffset: topic === 'a' ? 10 : 20,
      lastFetchedEpoch: 3,
      logStartOffset: topic === 'a' ? 2 : 0,
      leaderEpoch: 4,
      leaderId: 1,
    }),
    applyFollowerFetch: async (context, result) => {
      applied.push({ context, result });
      await apply(result);
      return result.errorCode;
    },
  };
  const manager = new ReplicaFetcherManager(
    (leaderId) =>
      leaderId !== 1
        ? undefined
        : {
            fetch: async (request, timeoutMs) => {
              requests.push(request);
              timeouts.push(timeoutMs);
              const answer = respond(request);
              if (answer instanceof Error) throw answer;
              return answer;
            },
            close: () => undefined,
          },
    {
      settings,
      replicas,
      brokerEpoch: () => 9,
      clock: time,
      timers: time,
      logger: silentLogger,
      ...(followerQuota === undefined ? {} : { followerQuota }),
    },
  );
  return { time, requests, timeouts, applied, manager };
}

function ok(request: ReplicaFetchRequest, errorFor: (topic: string) => number = () => ErrorCode.NONE) {
  return {
    errorCode: ErrorCode.NONE,
    partitions: request.partitions.map((wanted) =>
      failedReplicaFetch(wanted.topic, wanted.partition, errorFor(wanted.topic)),
    ),
  };
}

describe('ReplicaFetcher (the follower loop)', () => {
  it('asks the leader from each log end with the last epoch, long-polling, and hands each answer back with what was asked', async () => {
    let answers = 0;
    const { requests, timeouts, applied, manager } = fetcher((request) => {
      answers++;
      // Two rounds, then the leader is gone: the fetcher backs off on a timer the test never moves.
      return answers > 2 ? new Error('unreachable') : ok(request);
    });
    manager.reconcile();
    await settle();
    expect(requests[0]).toEqual({
      replicaId: 2,
      brokerEpoch: 9,
      maxWaitMs: 500,
      minBytes: 1,
      maxBytes: 5000,
      partitions: [
        {
          topic: 'a',
          partition: 0,
          currentLeaderEpoch: 4,
          fetchOffset: 10,
          lastFetchedEpoch: 3,
          logStartOffset: 2,
          partitionMaxBytes: 1000,
        },
        {
          topic: 'b',
          partition: 0,
          currentLeaderEpoch: 4,
          fetchOffset: 20,
          lastFetchedEpoch: 3,
          logStartOffset: 0,
          partitionMaxBytes: 1000,
        },
      ],
    });
    expect(timeouts[0]).toBe(5_500);
    expect(applied.map(({ context }) => context)).toEqual([
      { leaderId: 1, leaderEpoch: 4, fetchOffset: 10 },
      { leaderId: 1, leaderEpoch: 4, fetchOffset: 20 },
      { leaderId: 1, leaderEpoch: 4, fetchOffset: 10 },
      { leaderId: 1, leaderEpoch: 4, fetchOffset: 20 },
    ]);
    await manager.close();
  });

  it('applies the partitions of one response side by side, and fetches again once all are applied', async () => {
    let releaseA: () => void = () => undefined;
    const aApplied = new Promise<void>((resolve) => {
      releaseA = resolve;
    });
    const { requests, applied, manager } = fetcher(
      (request) => (requests.length > 1 ? new Error('unreachable') : ok(request)),
      (result) => (result.topic === 'a' ? aApplied : Promise.resolve()),
    );
    manager.reconcile();
    await settle();
    // a-0 is still being applied; b-0 did not wait for it, and no new fetch went out.
    expect(applied.map(({ result }) => result.topic)).toEqual(['a', 'b']);
    expect(requests).toHaveLength(1);
    releaseA();
    await settle();
    expect(requests).toHaveLength(2);
    await manager.close();
  });

  it('backs off after a failed call, and a partition with an error alone backs off', async () => {
    let calls = 0;
    const { time, requests, manager } = fetcher((request) => {
      calls++;
      if (calls === 1 || calls > 4) return new Error('connection refused');
      return ok(request, (topic) => (topic === 'b' ? ErrorCode.NOT_LEADER_OR_FOLLOWER : ErrorCode.NONE));
    });
    manager.reconcile();
    await settle();
    expect(requests).toHaveLength(1);
    time.advanceMs(99);
    await settle();
    expect(requests).toHaveLength(1);
    time.advanceMs(1);
    await settle();
    // The second call answered; `b` now waits the backoff while `a` is fetched again at once.
    expect(requests.length).toBeGreaterThanOrEqual(3);
    const afterError = requests.slice(2);
    expect(
      afterError.every((request) => request.partitions.map((wanted) => wanted.topic).join() === 'a'),
    ).toBe(true);
    await manager.close();
  });
});

describe('ReplicaFetcher: partitions added while a fetch is parked', () => {
  it('aborts the long poll in flight and fetches the new partition at once, without backing off', async () => {
    const time = new ManualTime();
    const followed: FollowedPartition[] = [{ topic: 'a', partition: 0, leaderId: 1, leaderEpoch: 4 }];
    const replicas: FollowerReplicas = {
      followedPartitions: () => followed,
      followerFetchPosition: () => ({
        fetchOffset: 0,
        lastFetchedEpoch: 3,
        logStartOffset: 0,
        leaderEpoch: 4,
        leaderId: 1,
      }),
      applyFollowerFetch: async () => ErrorCode.NONE,
    };
    // The leader parks every fetch (nothing new to answer): each one ends only when aborted.
    const requests: { topics: string[]; signal: AbortSignal | undefined }[] = [];
    const manager = new ReplicaFetcherManager(
      () => ({
        fetch: (request, _timeoutMs, signal) => {
          requests.push({ topics: request.partitions.map((wanted) => wanted.topic), signal });
          return new Promise((_resolve, reject) => {
            signal?.addEventListener('abort', () => reject(new Error('cancelled')));
          });
        },
        close: () => undefined,
      }),
      { settings, replicas, brokerEpoch: () => 9, clock: time, timers: time, logger: silentLogger },
    );
    manager.reconcile();
    await settle();
    expect(requests.map((request) => request.topics)).toEqual([['a']]);
    // A new topic's partition from the same leader: asked for now, not after a's long poll (500 ms).
    followed.push({ topic: 'b', partition: 0, leaderId: 1, leaderEpoch: 4 });
    manager.reconcile();
    await settle();
    expect(requests[0]!.signal?.aborted).toBe(true);
    expect(requests.map((request) => request.topics)).toEqual([['a'], ['a', 'b']]);
    // The same set again (any other metadata change) leaves the parked fetch alone.
    manager.reconcile();
    await settle();
    expect(requests).toHaveLength(2);
    expect(requests[1]!.signal?.aborted).toBe(false);
    await manager.close();
  });
});

describe('ReplicaFetcher: a partition backing off', () => {
  it('shortens the long poll of the others to its backoff, so that it is fetched again when its backoff ends', async () => {
    let calls = 0;
    const { requests, manager } = fetcher((request) => {
      calls++;
      // The first answer: b's leader has not taken it yet (a new topic); then the leader is gone.
      if (calls > 2) return new Error('unreachable');
      return ok(request, (topic) => (topic === 'b' ? ErrorCode.NOT_LEADER_OR_FOLLOWER : ErrorCode.NONE));
    });
    manager.reconcile();
    await settle();
    expect(requests.map((request) => request.partitions.map((wanted) => wanted.topic))).toEqual([
      ['a', 'b'],
      ['a'],
      ['a'],
    ]);
    // Fetches with both in them wait the whole long poll; a's alone, only until b's backoff ends.
    expect(requests.map((request) => request.maxWaitMs)).toEqual([500, 100, 100]);
    await manager.close();
  });
});

describe('ReplicaFetcher with a follower replication quota (KIP-73)', () => {
  it('leaves throttled partitions out while over quota, counting only their bytes, and fetches them again later', async () => {
    const quota = new ReplicationQuota();
    quota.setRate(1);
    quota.markThrottled('a', '*');
    const { time, requests, manager } = fetcher(
      (request) => {
        // Three answered rounds, then the leader is gone until the test moves the clock.
        if (requests.length >= 3) return new Error('unreachable');
        const answer = ok(request);
        // 100 bytes for each partition, the leader far ahead: only a's count against the quota.
        return {
          ...answer,
          partitions: answer.partitions.map((result) => ({
            ...result,
            logEndOffset: 1000,
            records: Buffer.alloc(100),
          })),
        };
      },
      async () => undefined,
      quota,
    );
    manager.reconcile();
    await settle();
    const topics = (index: number) => requests[index]!.partitions.map((wanted) => wanted.topic);
    expect(requests).toHaveLength(3);
    expect(topics(0)).toEqual(['a', 'b']);
    expect(topics(1)).toEqual(['b']);
    expect(topics(2)).toEqual(['b']);
    expect(quota.measure(time.nowMs())).toBe(100 / 10);
    time.advanceMs(11_000);
    await settle();
    expect(topics(3)).toEqual(['a', 'b']);
    await manager.close();
  });

  it('never leaves out a throttled partition that the last answer left at the leader log end', async () => {
    const quota = new ReplicationQuota();
    quota.setRate(1);
    quota.markThrottled('a', '*');
    const { requests, manager } = fetcher(
      (request) => {
        if (requests.length >= 3) return new Error('unreachable');
        const answer = ok(request);
        // a is at the leader's log end (10, its fetch offset) with 100 bytes counted against the quota.
        return {
          ...answer,
          partitions: answer.partitions.map((result) =>
            result.topic === 'a' ? { ...result, logEndOffset: 10, records: Buffer.alloc(100) } : result,
          ),
        };
      },
      async () => undefined,
      quota,
    );
    manager.reconcile();
    await settle();
    expect(quota.isQuotaExceeded(0)).toBe(true);
    expect(requests.map((request) => request.partitions.map((wanted) => wanted.topic))).toEqual([
      ['a', 'b'],
      ['a', 'b'],
      ['a', 'b'],
    ]);
    await manager.close();
  });
});

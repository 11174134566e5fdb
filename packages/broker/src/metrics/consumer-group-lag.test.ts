import { ErrorCode } from '@gregor/protocol';
import { describe, expect, it } from 'vitest';
import type { HighWatermarkPartition } from '../replication/leader-high-watermarks-grpc.js';
import {
  type ConsumerGroupOffset,
  consumerGroupLags,
  type HighWatermarkReaders,
  mergeLeaderHighWatermarks,
  partitionKey,
  partitionsByLeader,
  readLeaderHighWatermarks,
} from './consumer-group-lag.js';

const offset = (
  groupId: string,
  topic: string,
  partition: number,
  committed: number,
): ConsumerGroupOffset => ({
  groupId,
  topic,
  partition,
  offset: committed,
});

/** orders-0 on broker 1 (this one), orders-1 on 2, orders-2 on 3, payments-0 without a leader. */
const leaders = new Map([
  ['orders-0', 1],
  ['orders-1', 2],
  ['orders-2', 3],
  ['payments-0', -1],
]);
const leaderOf = (topic: string, partition: number) => leaders.get(partitionKey(topic, partition));

const offsets = [
  offset('billing', 'orders', 0, 4),
  offset('billing', 'orders', 1, 10),
  offset('billing', 'orders', 2, 7),
  offset('audit', 'orders', 1, 3),
  offset('billing', 'payments', 0, 1),
  offset('billing', 'unknown', 0, 1),
];

/** A leader's answer: the high watermarks it was given for the partitions it was asked about. */
function answering(highWatermarks: Record<string, number | ErrorCodeAnswer>) {
  return async (partitions: readonly HighWatermarkPartition[]) =>
    partitions.map(({ topic, partition }) => {
      const value = highWatermarks[partitionKey(topic, partition)];
      if (value === undefined || typeof value === 'object')
        return {
          topic,
          partition,
          errorCode: value?.errorCode ?? ErrorCode.NOT_LEADER_OR_FOLLOWER,
          highWatermark: -1,
        };
      return { topic, partition, errorCode: ErrorCode.NONE, highWatermark: value };
    });
}
interface ErrorCodeAnswer {
  readonly errorCode: number;
}

describe('consumer-group lag', () => {
  it('asks each leader once for the distinct partitions it leads, and nobody for leaderless ones', () => {
    const byLeader = partitionsByLeader(offsets, leaderOf);
    expect([...byLeader.keys()].sort()).toEqual([1, 2, 3]);
    expect(byLeader.get(1)).toEqual([{ topic: 'orders', partition: 0 }]);
    // Two groups committed orders-1: it is asked for once.
    expect(byLeader.get(2)).toEqual([{ topic: 'orders', partition: 1 }]);
    expect(byLeader.get(3)).toEqual([{ topic: 'orders', partition: 2 }]);
  });

  it('keeps only high watermarks a leader vouched for, for partitions asked of it', () => {
    const asked = new Map([
      [1, [{ topic: 'orders', partition: 0 }]],
      [2, [{ topic: 'orders', partition: 1 }]],
      [3, [{ topic: 'orders', partition: 2 }]],
    ]);
    const merged = mergeLeaderHighWatermarks(asked, [
      {
        leaderId: 1,
        ok: true,
        partitions: [{ topic: 'orders', partition: 0, errorCode: 0, highWatermark: 9 }],
      },
      {
        leaderId: 2,
        ok: true,
        partitions: [
          // No longer the leader: no value rather than a wrong one.
          { topic: 'orders', partition: 1, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, highWatermark: -1 },
          // Not asked of broker 2.
          { topic: 'orders', partition: 2, errorCode: 0, highWatermark: 50 },
        ],
      },
      { leaderId: 3, ok: false, reason: 'DEADLINE_EXCEEDED' },
    ]);
    expect([...merged]).toEqual([['orders-0', 9]]);
  });

  it('is the high watermark minus the committed offset, at least 0, and absent without a high watermark', () => {
    const lags = consumerGroupLags(
      offsets,
      new Map([
        ['orders-0', 9],
        ['orders-1', 8],
      ]),
    );
    expect(lags).toEqual([
      { groupId: 'billing', topic: 'orders', partition: 0, lag: 5 },
      // Committed past the high watermark (a follower's commit racing, or offsets set by hand): 0.
      { groupId: 'billing', topic: 'orders', partition: 1, lag: 0 },
      { groupId: 'audit', topic: 'orders', partition: 1, lag: 5 },
    ]);
  });

  it('reads local and remote leaders at once and leaves out those that failed or do not lead', async () => {
    const asked: string[] = [];
    let releaseBroker2: () => void = () => undefined;
    const broker2Asked = new Promise<void>((resolve) => {
      releaseBroker2 = resolve;
    });
    const readers: HighWatermarkReaders = {
      localBrokerId: 1,
      readLocal: async (partitions) => {
        asked.push('local');
        // Broker 2 is asked before this answers: the leaders are read in parallel.
        await broker2Asked;
        return answering({ 'orders-0': 12 })(partitions);
      },
      readRemote: async (leaderId, partitions) => {
        asked.push(`remote ${leaderId}`);
        if (leaderId === 2) {
          releaseBroker2();
          return answering({ 'orders-1': 15 })(partitions);
        }
        throw new Error('14 UNAVAILABLE: No connection established');
      },
    };
    const highWatermarks = await readLeaderHighWatermarks(offsets, leaderOf, readers);
    expect(asked).toEqual(['local', 'remote 2', 'remote 3']);
    expect([...highWatermarks].sort()).toEqual([
      ['orders-0', 12],
      ['orders-1', 15],
    ]);
    expect(consumerGroupLags(offsets, highWatermarks)).toEqual([
      { groupId: 'billing', topic: 'orders', partition: 0, lag: 8 },
      { groupId: 'billing', topic: 'orders', partition: 1, lag: 5 },
      { groupId: 'audit', topic: 'orders', partition: 1, lag: 12 },
    ]);
  });

  it('answers nothing for a partition whose leader says it does not lead it', async () => {
    const readers: HighWatermarkReaders = {
      localBrokerId: 1,
      readLocal: answering({ 'orders-0': { errorCode: ErrorCode.OFFSET_NOT_AVAILABLE } }),
      readRemote: async (_leaderId, partitions) => answering({})(partitions),
    };
    expect((await readLeaderHighWatermarks(offsets, leaderOf, readers)).size).toBe(0);
  });
});

import { describe, expect, it } from 'vitest';
import { divergingEpoch, followerTruncationOffset } from './divergence.js';
import {
  formatLeaderEpochCheckpoint,
  LeaderEpochCache,
  parseLeaderEpochCheckpoint,
} from './leader-epoch-cache.js';

describe('LeaderEpochCache', () => {
  it('assigns only newer epochs, and an epoch that wrote nothing is replaced at the same offset', () => {
    const cache = new LeaderEpochCache();
    expect(cache.latestEpoch).toBe(-1);
    expect(cache.assign(0, 0)).toBe(true);
    expect(cache.assign(0, 5)).toBe(false);
    expect(cache.assign(2, 10)).toBe(true);
    expect(cache.assign(3, 10)).toBe(true);
    expect(cache.entries).toEqual([
      { epoch: 0, startOffset: 0 },
      { epoch: 3, startOffset: 10 },
    ]);
    expect(cache.latestEpoch).toBe(3);
  });

  it('endOffsetFor answers as Kafka: the largest epoch at or below, ending where the next starts', () => {
    const cache = new LeaderEpochCache([
      { epoch: 1, startOffset: 0 },
      { epoch: 3, startOffset: 10 },
      { epoch: 5, startOffset: 20 },
    ]);
    // Older than every known epoch: it ends where the first known epoch starts (Kafka's rule).
    expect(cache.endOffsetFor(0, 30)).toEqual({ epoch: 0, endOffset: 0 });
    expect(cache.endOffsetFor(1, 30)).toEqual({ epoch: 1, endOffset: 10 });
    expect(cache.endOffsetFor(2, 30)).toEqual({ epoch: 1, endOffset: 10 });
    expect(cache.endOffsetFor(4, 30)).toEqual({ epoch: 3, endOffset: 20 });
    expect(cache.endOffsetFor(5, 30)).toEqual({ epoch: 5, endOffset: 30 });
    expect(cache.endOffsetFor(9, 30)).toEqual({ epoch: 5, endOffset: 30 });
    expect(cache.endOffsetFor(-1, 30)).toEqual({ epoch: -1, endOffset: -1 });
  });

  it('truncates from the end and from the start', () => {
    const cache = new LeaderEpochCache([
      { epoch: 1, startOffset: 0 },
      { epoch: 3, startOffset: 10 },
      { epoch: 5, startOffset: 20 },
    ]);
    const version = cache.version;
    expect(cache.truncateFromEnd(20)).toBe(true);
    expect(cache.latestEpoch).toBe(3);
    expect(cache.truncateFromEnd(25)).toBe(false);
    expect(cache.truncateFromStart(12)).toBe(true);
    expect(cache.entries).toEqual([{ epoch: 3, startOffset: 12 }]);
    expect(cache.version).toBeGreaterThan(version);
    expect(cache.epochForOffset(15)).toBe(3);
    expect(cache.epochForOffset(5)).toBe(-1);
  });

  it('refuses out-of-order entries', () => {
    expect(
      () =>
        new LeaderEpochCache([
          { epoch: 2, startOffset: 5 },
          { epoch: 1, startOffset: 6 },
        ]),
    ).toThrow();
    const cache = new LeaderEpochCache([{ epoch: 2, startOffset: 5 }]);
    expect(() => cache.assign(3, 4)).toThrow();
  });

  it('round-trips the leader-epoch-checkpoint text format', () => {
    const entries = [
      { epoch: 0, startOffset: 0 },
      { epoch: 4, startOffset: 120 },
    ];
    const text = formatLeaderEpochCheckpoint(entries);
    expect(text).toBe('0\n2\n0 0\n4 120\n');
    expect(parseLeaderEpochCheckpoint(text)).toEqual(entries);
    expect(parseLeaderEpochCheckpoint('1\n0\n')).toBeUndefined();
    expect(parseLeaderEpochCheckpoint('0\n2\n0 0\n')).toBeUndefined();
    expect(parseLeaderEpochCheckpoint('0\n2\n4 0\n1 5\n')).toBeUndefined();
  });
});

describe('divergence', () => {
  // Leader: epoch 0 wrote [0, 10), epoch 2 wrote [10, 30).
  const leader = new LeaderEpochCache([
    { epoch: 0, startOffset: 0 },
    { epoch: 2, startOffset: 10 },
  ]);

  it('lets a follower whose log is a prefix of the leader fetch on', () => {
    expect(divergingEpoch(leader, 30, 10, 0)).toBeUndefined();
    expect(divergingEpoch(leader, 30, 25, 2)).toBeUndefined();
    expect(divergingEpoch(leader, 30, 0, -1)).toBeUndefined();
  });

  it('names the leader epoch end when the follower holds records the leader lacks', () => {
    // A follower that led epoch 1 and wrote [10, 14) before it lost leadership.
    const follower = new LeaderEpochCache([
      { epoch: 0, startOffset: 0 },
      { epoch: 1, startOffset: 10 },
    ]);
    const diverging = divergingEpoch(leader, 30, 14, follower.latestEpoch);
    expect(diverging).toEqual({ epoch: 0, endOffset: 10 });
    expect(followerTruncationOffset(diverging!, follower, 14)).toBe(10);
  });

  it('truncates a follower past the leader in the same epoch to the leader end of that epoch', () => {
    // The follower holds epoch-0 records [10, 12) that the new leader (epoch 2) never received.
    const follower = new LeaderEpochCache([{ epoch: 0, startOffset: 0 }]);
    const diverging = divergingEpoch(leader, 30, 12, 0);
    expect(diverging).toEqual({ epoch: 0, endOffset: 10 });
    expect(followerTruncationOffset(diverging!, follower, 12)).toBe(10);
    // After truncation the next fetch (10, epoch 0) no longer diverges.
    expect(divergingEpoch(leader, 30, 10, 0)).toBeUndefined();
  });

  it('never truncates a follower above its own log end', () => {
    const follower = new LeaderEpochCache([{ epoch: 0, startOffset: 0 }]);
    expect(followerTruncationOffset({ epoch: 0, endOffset: 50 }, follower, 7)).toBe(7);
  });

  it('settles in rounds when the follower never saw the leader epoch', () => {
    // Leader: 0@0, 3@10. Follower: 0@0, 1@8, 2@9 (two failed leaderships).
    const leaderCache = new LeaderEpochCache([
      { epoch: 0, startOffset: 0 },
      { epoch: 3, startOffset: 10 },
    ]);
    const follower = new LeaderEpochCache([
      { epoch: 0, startOffset: 0 },
      { epoch: 1, startOffset: 8 },
      { epoch: 2, startOffset: 9 },
    ]);
    let logEnd = 12;
    for (let round = 0; round < 5; round++) {
      const diverging = divergingEpoch(leaderCache, 40, logEnd, follower.latestEpoch);
      if (diverging === undefined) break;
      logEnd = followerTruncationOffset(diverging, follower, logEnd);
      follower.truncateFromEnd(logEnd);
    }
    expect(logEnd).toBe(8);
    expect(follower.latestEpoch).toBe(0);
    expect(divergingEpoch(leaderCache, 40, logEnd, follower.latestEpoch)).toBeUndefined();
  });
});

import { ErrorCode } from '@gregor/protocol';
import { beforeEach, describe, expect, it } from 'vitest';
import { Partition, type PartitionRegistration } from './partition.js';
import { BatchOffsets } from './testing/index.js';

let log: BatchOffsets;

beforeEach(() => {
  log = new BatchOffsets();
});

function state(
  leader: number,
  leaderEpoch: number,
  isr: number[],
  replicas = [1, 2, 3],
  partitionEpoch = leaderEpoch,
): PartitionRegistration {
  return { leader, leaderEpoch, partitionEpoch, replicas, isr };
}

function append(count: number): void {
  log.append(count);
}

describe('Partition high watermark', () => {
  it('with replication factor 1 follows the log end offset', () => {
    const partition = new Partition('t', 'id', 0, log, 1, state(1, 0, [1], [1]));
    partition.makeLeader(state(1, 0, [1], [1]), 0);
    expect(partition.highWatermark).toBe(0);
    append(3);
    expect(partition.onLeaderAppend()).toBe(true);
    expect(partition.highWatermark).toBe(3);
  });

  it('is the smallest log end offset over the ISR, and waits for followers not heard from', () => {
    const partition = new Partition('t', 'id', 0, log, 1, state(1, 0, [1, 2, 3]));
    partition.makeLeader(state(1, 0, [1, 2, 3]), 0);
    append(5);
    partition.onLeaderAppend();
    expect(partition.highWatermark).toBe(0);
    expect(partition.recordFollowerFetch(2, 5, 10)).toBe(false);
    expect(partition.highWatermark).toBe(0);
    expect(partition.recordFollowerFetch(3, 4, 10)).toBe(true);
    expect(partition.highWatermark).toBe(4);
    expect(partition.recordFollowerFetch(3, 5, 20)).toBe(true);
    expect(partition.highWatermark).toBe(5);
    expect(partition.followerLastFetchMs(3)).toBe(20);
  });

  it('ignores replicas outside the ISR', () => {
    const partition = new Partition('t', 'id', 0, log, 1, state(1, 0, [1, 2]));
    partition.makeLeader(state(1, 0, [1, 2]), 0);
    append(2);
    partition.recordFollowerFetch(2, 2, 0);
    expect(partition.highWatermark).toBe(2);
    expect(partition.recordFollowerFetch(3, 0, 0)).toBe(false);
    expect(partition.highWatermark).toBe(2);
  });

  it('never moves backwards when a follower reports less', () => {
    const partition = new Partition('t', 'id', 0, log, 1, state(1, 0, [1, 2]));
    partition.makeLeader(state(1, 0, [1, 2]), 0);
    append(4);
    partition.recordFollowerFetch(2, 4, 0);
    expect(partition.highWatermark).toBe(4);
    expect(partition.recordFollowerFetch(2, 1, 0)).toBe(false);
    expect(partition.highWatermark).toBe(4);
  });

  it('a new leader moves it only once the ISR covers the start of its own epoch', () => {
    append(5);
    const partition = new Partition('t', 'id', 0, log, 1, state(2, 0, [1, 2]));
    partition.makeFollower(state(2, 0, [1, 2]));
    partition.makeLeader(state(1, 1, [1, 2]), 0);
    expect(partition.leaderEpochStartOffset).toBe(5);
    expect(partition.recordFollowerFetch(2, 3, 0)).toBe(false);
    expect(partition.highWatermark).toBe(0);
    expect(partition.recordFollowerFetch(2, 5, 0)).toBe(true);
    expect(partition.highWatermark).toBe(5);
  });

  it('a new leader tells clients no offsets until its high watermark reaches the start of its epoch', () => {
    // The old leader had given out a high watermark of 5; the new one starts at 0 and must not
    // answer ListOffsets with it (the high watermark a client sees would go backwards).
    append(5);
    const partition = new Partition('t', 'id', 0, log, 1, state(2, 0, [1, 2]));
    partition.makeFollower(state(2, 0, [1, 2]));
    expect(partition.checkOffsetsAvailable()).toBe(ErrorCode.NONE);
    partition.makeLeader(state(1, 1, [1, 2]), 0);
    expect(partition.checkOffsetsAvailable()).toBe(ErrorCode.OFFSET_NOT_AVAILABLE);
    partition.recordFollowerFetch(2, 3, 0);
    expect(partition.checkOffsetsAvailable()).toBe(ErrorCode.OFFSET_NOT_AVAILABLE);
    partition.recordFollowerFetch(2, 5, 0);
    expect(partition.highWatermark).toBe(5);
    expect(partition.checkOffsetsAvailable()).toBe(ErrorCode.NONE);
  });

  it('keeps what followers reported across an ISR-only change in the same epoch', () => {
    const partition = new Partition('t', 'id', 0, log, 1, state(1, 0, [1, 2, 3]));
    partition.makeLeader(state(1, 0, [1, 2, 3]), 0);
    append(3);
    partition.recordFollowerFetch(2, 3, 0);
    expect(partition.highWatermark).toBe(0);
    // Replica 3 leaves the ISR (partition epoch 1, same leader epoch): the HW moves on what 2 said.
    expect(partition.makeLeader(state(1, 0, [1, 2], [1, 2, 3], 1), 0)).toBe(true);
    expect(partition.highWatermark).toBe(3);
  });
});

describe('Partition roles', () => {
  it('follows, or has no role without a leader, and refuses epochs that go back', () => {
    const partition = new Partition('t', 'id', 0, log, 1, state(2, 3, [1, 2]));
    partition.makeFollower(state(2, 3, [1, 2]));
    expect(partition.role).toBe('follower');
    partition.makeFollower(state(-1, 4, [1]));
    expect(partition.role).toBe('none');
    expect(() => partition.makeLeader(state(1, 2, [1, 2]), 0)).toThrow(/epochs went back/);
  });

  it('a follower takes its high watermark from the leader, capped at its own log end', () => {
    append(1);
    append(2);
    const partition = new Partition('t', 'id', 0, log, 1, state(2, 0, [1, 2]));
    partition.makeFollower(state(2, 0, [1, 2]));
    expect(partition.updateFollowerHighWatermark(10)).toBe(true);
    expect(partition.highWatermark).toBe(3);
    // Truncation works in whole batches: the second batch (offsets 1-2) goes.
    log.truncateTo(1);
    partition.onFollowerTruncation();
    expect(partition.highWatermark).toBe(1);
  });

  it('checks a client leader epoch against its own', () => {
    const partition = new Partition('t', 'id', 0, log, 1, state(1, 4, [1]));
    partition.makeLeader(state(1, 4, [1]), 0);
    expect(partition.checkCurrentLeaderEpoch(-1)).toBe(ErrorCode.NONE);
    expect(partition.checkCurrentLeaderEpoch(4)).toBe(ErrorCode.NONE);
    expect(partition.checkCurrentLeaderEpoch(3)).toBe(ErrorCode.FENCED_LEADER_EPOCH);
    expect(partition.checkCurrentLeaderEpoch(5)).toBe(ErrorCode.UNKNOWN_LEADER_EPOCH);
  });
});

describe('Partition ISR decisions', () => {
  const lagMs = 1_000;

  it('a follower is caught up at a fetch reaching the leader log end, or the log end of its previous fetch', () => {
    const partition = new Partition('t', 'id', 0, log, 1, state(1, 0, [1, 2, 3]));
    partition.makeLeader(state(1, 0, [1, 2, 3]), 0);
    append(5);
    partition.onLeaderAppend();
    partition.recordFollowerFetch(2, 5, 100);
    partition.recordFollowerFetch(3, 5, 100);
    // Records keep arriving; follower 2 keeps fetching up to where the leader was at its last fetch.
    append(5);
    partition.recordFollowerFetch(2, 5, 600); // behind the leader's 10, but reached 5 (the LEO at t=100)
    append(5);
    partition.recordFollowerFetch(2, 10, 1_100); // reached 10, the LEO at t=600: caught up at t=600
    expect(partition.maybeShrinkIsr(1_500, lagMs)).toEqual([1, 2]);
    expect(partition.maybeShrinkIsr(1_100, lagMs)).toBeUndefined();
  });

  it('counts only followers caught up within the lag time as live ISR members', () => {
    const partition = new Partition('t', 'id', 0, log, 1, state(1, 0, [1, 2, 3]));
    partition.makeLeader(state(1, 0, [1, 2, 3]), 0);
    append(2);
    partition.onLeaderAppend();
    expect(partition.liveIsrSize(500, lagMs)).toBe(3);
    partition.recordFollowerFetch(2, 2, 900);
    // Follower 3 never fetched after the election: once the lag passes only the leader and 2 count,
    // although the committed ISR still lists three (the shrink may not be able to commit).
    expect(partition.liveIsrSize(1_500, lagMs)).toBe(2);
    expect(partition.isr).toEqual([1, 2, 3]);
    expect(partition.liveIsrSize(2_000, lagMs)).toBe(1);
  });

  it('shrinks a silent follower out after the lag time; the HW waits for it until the change commits', () => {
    const partition = new Partition('t', 'id', 0, log, 1, state(1, 0, [1, 2, 3]));
    partition.makeLeader(state(1, 0, [1, 2, 3]), 0);
    append(4);
    partition.recordFollowerFetch(2, 4, 10);
    expect(partition.highWatermark).toBe(0);
    expect(partition.maybeShrinkIsr(500, lagMs)).toBeUndefined();
    const shrunk = partition.maybeShrinkIsr(1_001, lagMs);
    expect(shrunk).toEqual([1, 2]);
    partition.beginIsrChange(shrunk!);
    // In flight: no second proposal, and the HW still counts follower 3.
    expect(partition.maybeShrinkIsr(2_000, lagMs)).toBeUndefined();
    expect(partition.onLeaderAppend()).toBe(false);
    expect(partition.highWatermark).toBe(0);
    // The image brings the committed ISR: now the HW moves without follower 3.
    expect(partition.makeLeader(state(1, 0, [1, 2], [1, 2, 3], 1), 2_000)).toBe(true);
    expect(partition.highWatermark).toBe(4);
    expect(partition.pendingIsrChange).toBeUndefined();
  });

  it('expands the ISR once a follower reaches the HW; the joining follower counts at once', () => {
    const partition = new Partition('t', 'id', 0, log, 1, state(1, 0, [1, 2]));
    partition.makeLeader(state(1, 0, [1, 2]), 0);
    append(6);
    partition.recordFollowerFetch(2, 6, 10);
    expect(partition.highWatermark).toBe(6);
    partition.recordFollowerFetch(3, 3, 10);
    expect(partition.maybeExpandIsr(3)).toBeUndefined();
    partition.recordFollowerFetch(3, 6, 20);
    const expanded = partition.maybeExpandIsr(3);
    expect(expanded).toEqual([1, 2, 3]);
    const pending = partition.beginIsrChange(expanded!);
    append(2);
    partition.recordFollowerFetch(2, 8, 30);
    // Maximal ISR: follower 3 (at 6) holds the HW back while its addition is in flight.
    expect(partition.highWatermark).toBe(6);
    // Refused: the committed ISR stands again and the HW moves on.
    expect(partition.isrChangeFailed(pending)).toBe(true);
    expect(partition.highWatermark).toBe(8);
    expect(partition.isrChangeFailed(pending)).toBe(false);
  });

  it('starts a new leader epoch in its cache at the log end and starts from a checkpointed HW', () => {
    append(3);
    const partition = new Partition('t', 'id', 0, log, 1, state(1, 2, [1, 2]), { initialHighWatermark: 99 });
    expect(partition.highWatermark).toBe(3);
    partition.makeLeader(state(1, 2, [1, 2]), 0);
    expect(partition.epochCache.entries).toEqual([{ epoch: 2, startOffset: 3 }]);
    expect(partition.epochCache.endOffsetFor(2, partition.logEndOffset)).toEqual({ epoch: 2, endOffset: 3 });
  });
});

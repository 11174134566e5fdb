import { ErrorCode } from '@gregor/protocol';
import { describe, expect, it } from 'vitest';
import { DelayedOperations } from './delayed-operations.js';
import { awaitLowWatermark, decideDeleteRecords } from './delete-records.js';
import { decideFollowerFetch } from './follower-fetch-serving.js';
import { Partition } from './partition.js';
import { BatchOffsets, ManualTime, registration, settle } from './testing/index.js';

/** Leader 1 of [1, 2, 3] with 10 records, all replicated: high watermark 10. */
function replicatedLeader(): { partition: Partition; log: BatchOffsets } {
  const log = new BatchOffsets();
  const partition = new Partition('t', 'id', 0, log, 1, registration(1, 0, [1, 2, 3]));
  partition.makeLeader(registration(1, 0, [1, 2, 3]), 0);
  log.append(10);
  partition.recordFollowerFetch(2, 10, 0, 0);
  partition.recordFollowerFetch(3, 10, 0, 0);
  expect(partition.highWatermark).toBe(10);
  return { partition, log };
}

function fetchFrom(fetchOffset: number, logStartOffset: number) {
  return {
    topic: 't',
    partition: 0,
    currentLeaderEpoch: 0,
    fetchOffset,
    lastFetchedEpoch: 0,
    logStartOffset,
    partitionMaxBytes: 1 << 20,
  };
}

describe('decideDeleteRecords', () => {
  it('advances to the requested offset, or to the high watermark for -1, never past it', () => {
    const { partition, log } = replicatedLeader();
    log.append(5); // not replicated: above the high watermark
    expect(decideDeleteRecords(partition, 4, true)).toEqual({ kind: 'advance', offset: 4 });
    expect(decideDeleteRecords(partition, -1, true)).toEqual({ kind: 'advance', offset: 10 });
    expect(decideDeleteRecords(partition, 11, true)).toEqual({
      kind: 'refused',
      errorCode: ErrorCode.OFFSET_OUT_OF_RANGE,
    });
    expect(decideDeleteRecords(partition, -2, true)).toEqual({
      kind: 'refused',
      errorCode: ErrorCode.OFFSET_OUT_OF_RANGE,
    });
    expect(decideDeleteRecords(partition, 4, false)).toEqual({
      kind: 'refused',
      errorCode: ErrorCode.POLICY_VIOLATION,
    });
  });

  it('refuses on a follower', () => {
    const log = new BatchOffsets();
    const partition = new Partition('t', 'id', 0, log, 2, registration(1, 0, [1, 2]));
    partition.makeFollower(registration(1, 0, [1, 2]));
    expect(decideDeleteRecords(partition, 0, true)).toEqual({
      kind: 'refused',
      errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER,
    });
  });
});

describe('the low watermark', () => {
  it('is the smallest log start offset over the leader and the followers on live brokers, in the ISR or not, unknown until each fetched', () => {
    const log = new BatchOffsets();
    const partition = new Partition('t', 'id', 0, log, 1, registration(1, 0, [1, 2], [1, 2, 3]));
    partition.makeLeader(registration(1, 0, [1, 2], [1, 2, 3]), 0);
    log.append(10);
    const allLive = () => true;
    const brokerThreeFenced = (brokerId: number) => brokerId !== 3;
    expect(partition.lowWatermark(allLive)).toBe(-1);
    partition.recordFollowerFetch(2, 10, 0, 0);
    // replica 3 is outside the ISR but on a live broker: it has not fetched yet
    expect(partition.lowWatermark(allLive)).toBe(-1);
    expect(partition.lowWatermark(brokerThreeFenced)).toBe(0);
    partition.recordFollowerFetch(3, 2, 0, 0);
    expect(partition.lowWatermark(allLive)).toBe(0);
    log.logStartOffset = 6;
    partition.recordFollowerFetch(2, 10, 0, 6);
    // the lagging out-of-ISR follower still starts at 0, so deleted records are not yet gone everywhere
    expect(partition.lowWatermark(allLive)).toBe(0);
    // unless its broker is fenced (Kafka's metadataCache.hasAliveBroker)
    expect(partition.lowWatermark(brokerThreeFenced)).toBe(6);
    partition.recordFollowerFetch(3, 2, 0, 6);
    expect(partition.lowWatermark(allLive)).toBe(6);
  });

  it('answers DeleteRecords once every follower reported the new log start', async () => {
    const time = new ManualTime();
    const delayedOperations = new DelayedOperations(time);
    const { partition, log } = replicatedLeader();
    const wait = {
      delayedOperations,
      stillLeads: (p: Partition, epoch: number) => p.role === 'leader' && p.leaderEpoch === epoch,
      lostLeadershipError: () => ErrorCode.NOT_LEADER_OR_FOLLOWER,
      isLive: () => true,
    };
    log.logStartOffset = 7;
    let outcome: unknown;
    void awaitLowWatermark(partition, 0, 7, 30_000, wait).then((value) => {
      outcome = value;
    });
    const follower2 = decideFollowerFetch(partition, 2, fetchFrom(10, 7), 0);
    expect(follower2).toMatchObject({ kind: 'read', followerLogStartMoved: true });
    expect(decideFollowerFetch(partition, 2, fetchFrom(10, 7), 0)).toMatchObject({
      followerLogStartMoved: false,
    });
    delayedOperations.notify(partition.key);
    await settle();
    expect(outcome).toBeUndefined();
    const follower3 = decideFollowerFetch(partition, 3, fetchFrom(10, 7), 0);
    expect(follower3).toMatchObject({ kind: 'read', followerLogStartMoved: true });
    delayedOperations.notify(partition.key);
    await settle();
    expect(outcome).toEqual({ errorCode: ErrorCode.NONE, lowWatermark: 7 });
  });

  it('times out with REQUEST_TIMED_OUT, and answers the lost leadership', async () => {
    const time = new ManualTime();
    const delayedOperations = new DelayedOperations(time);
    const { partition, log } = replicatedLeader();
    const wait = {
      delayedOperations,
      stillLeads: (p: Partition, epoch: number) => p.role === 'leader' && p.leaderEpoch === epoch,
      lostLeadershipError: () => ErrorCode.NOT_LEADER_OR_FOLLOWER,
      isLive: () => true,
    };
    log.logStartOffset = 5;
    const timedOut = awaitLowWatermark(partition, 0, 5, 1000, wait);
    time.advanceMs(1000);
    expect(await timedOut).toEqual({ errorCode: ErrorCode.REQUEST_TIMED_OUT, lowWatermark: -1 });
    const deposed = awaitLowWatermark(partition, 0, 5, 1000, wait);
    partition.makeFollower(registration(2, 1, [2, 3]));
    delayedOperations.notify(partition.key);
    expect(await deposed).toEqual({ errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, lowWatermark: -1 });
  });
});

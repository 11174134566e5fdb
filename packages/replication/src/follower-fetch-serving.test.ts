import { ErrorCode } from '@gregor/protocol';
import { describe, expect, it } from 'vitest';
import { DelayedOperations } from './delayed-operations.js';
import {
  decideFollowerFetch,
  type LeaderLogRead,
  type ReplicaFetchHost,
  type ReplicaFetchPartitionRequest,
  type ReplicaFetchRequest,
  serveReplicaFetch,
} from './follower-fetch-serving.js';
import { IsrProposals } from './isr-proposals.js';
import { silentLogger } from './logger.js';
import { Partition } from './partition.js';
import { ReplicationQuota, type ThrottledPartitions } from './replication-quota.js';
import { BatchOffsets, batch, ManualTime, registration, settle } from './testing/index.js';

/** Broker 1 leads epoch 2 with ISR [1, 2]; replica 3 is out of it. Epoch 0 wrote 0..4, epoch 2 starts at 5. */
function leader(): { partition: Partition<BatchOffsets>; log: BatchOffsets } {
  const log = new BatchOffsets();
  log.append(5);
  const partition = new Partition('t', 'id', 0, log, 1, registration(2, 0, [1, 2]));
  partition.epochCache.assign(0, 0);
  partition.makeFollower(registration(2, 0, [1, 2]));
  partition.makeLeader(registration(1, 2, [1, 2]), 0);
  return { partition, log };
}

function wanted(
  fetchOffset: number,
  lastFetchedEpoch: number,
  currentLeaderEpoch = 2,
): ReplicaFetchPartitionRequest {
  return {
    topic: 't',
    partition: 0,
    currentLeaderEpoch,
    fetchOffset,
    lastFetchedEpoch,
    logStartOffset: 0,
    partitionMaxBytes: 1 << 20,
  };
}

describe('decideFollowerFetch (the leader, one partition)', () => {
  it('refuses brokers that are not followers of the partition, and leader epochs other than its own', () => {
    const { partition } = leader();
    expect(decideFollowerFetch(partition, 4, wanted(5, 0), 0)).toEqual({
      kind: 'refused',
      errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER,
    });
    expect(decideFollowerFetch(partition, 1, wanted(5, 0), 0).kind).toBe('refused');
    expect(decideFollowerFetch(partition, 2, wanted(5, 0, 1), 0)).toEqual({
      kind: 'refused',
      errorCode: ErrorCode.FENCED_LEADER_EPOCH,
    });
    expect(decideFollowerFetch(partition, 2, wanted(5, 0, 3), 0)).toEqual({
      kind: 'refused',
      errorCode: ErrorCode.UNKNOWN_LEADER_EPOCH,
    });
  });

  it('answers a diverging epoch to a follower holding offsets of an epoch the leader ended earlier, and learns nothing from it', () => {
    const { partition } = leader();
    // The follower wrote offsets 5..7 in epoch 1, which this leader never had: epoch 0 ends at 5 here.
    const decision = decideFollowerFetch(partition, 2, wanted(8, 1), 0);
    expect(decision).toMatchObject({ kind: 'diverging', divergingEpoch: { epoch: 0, endOffset: 5 } });
    expect(partition.highWatermark).toBe(0);
    // Its last epoch predates every epoch the leader knows (retention took epoch 0 here): it diverges
    // where the leader's first epoch starts, not "unknown" (which let stale batches survive).
    partition.epochCache.truncateFromStart(5);
    expect(decideFollowerFetch(partition, 2, wanted(7, 0), 0)).toMatchObject({
      kind: 'diverging',
      divergingEpoch: { epoch: 0, endOffset: 5 },
    });
  });

  it('answers out of range below the log start or past the log end', () => {
    const { partition, log } = leader();
    log.logStartOffset = 2;
    expect(decideFollowerFetch(partition, 2, wanted(1, -1), 0)).toMatchObject({
      kind: 'outOfRange',
      logStartOffset: 2,
    });
    expect(decideFollowerFetch(partition, 2, wanted(9, -1), 0)).toMatchObject({
      kind: 'outOfRange',
      logEndOffset: 5,
    });
  });

  it('counts a fetch that passes every check: the follower holds everything below its offset', () => {
    const { partition } = leader();
    const decision = decideFollowerFetch(partition, 2, wanted(5, 0), 10);
    expect(decision).toEqual({
      kind: 'read',
      fetchOffset: 5,
      leaderEpoch: 2,
      highWatermark: 5,
      highWatermarkMoved: true,
      followerLogStartMoved: true, // its log start was unknown until now
    });
    expect(partition.followerLastFetchMs(2)).toBe(10);
  });
});

/** One leader partition behind a host that reads real batches from `records`. */
function servingHost(records: Buffer[]) {
  const time = new ManualTime();
  const { partition, log } = leader();
  const delayedOperations = new DelayedOperations(time);
  const proposals: (readonly number[])[] = [];
  const host: ReplicaFetchHost<Partition<BatchOffsets>> = {
    clock: time,
    delayedOperations,
    isrProposals: new IsrProposals({
      alterPartition: async (proposal) => {
        proposals.push(proposal.newIsr);
        return { errorCode: ErrorCode.NONE, partitionEpoch: proposal.partitionEpoch + 1 };
      },
      clock: time,
      timers: time,
      logger: silentLogger,
      onHighWatermarkMayHaveMoved: () => undefined,
    }),
    registeredBrokerEpoch: (brokerId) => (brokerId === 3 ? 7 : undefined),
    leaderReplica: (topic) => (topic === 't' ? partition : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION),
    stillLeads: (candidate, leaderEpoch) =>
      candidate.role === 'leader' && candidate.leaderEpoch === leaderEpoch,
    read: async (_partition, fetchOffset): Promise<LeaderLogRead> => ({
      errorCode: ErrorCode.NONE,
      records: Buffer.concat(records.filter((bytes) => bytes.readUInt32BE(4) >= fetchOffset)),
      logStartOffset: log.logStartOffset,
      logEndOffset: log.logEndOffset,
    }),
  };
  return { time, partition, log, host, delayedOperations, proposals };
}

function request(
  replicaId: number,
  fetchOffset: number,
  brokerEpoch = 7,
  maxWaitMs = 500,
): ReplicaFetchRequest {
  return {
    replicaId,
    brokerEpoch,
    maxWaitMs,
    minBytes: 1,
    maxBytes: 1 << 20,
    partitions: [wanted(fetchOffset, fetchOffset === 0 ? -1 : 0)],
  };
}

describe('serveReplicaFetch (the leader, a whole fetch)', () => {
  it('refuses a fetch from an earlier incarnation of the follower', async () => {
    const { host } = servingHost([]);
    const results = await serveReplicaFetch(request(3, 5, 6), host);
    expect(results[0]!.errorCode).toBe(ErrorCode.STALE_BROKER_EPOCH);
  });

  it('long-polls a caught-up follower until the leader appends, then answers with the batch and the high watermark', async () => {
    const records = [batch(0, 5, 0)];
    const { time, partition, log, host, delayedOperations } = servingHost(records);
    let answered: Awaited<ReturnType<typeof serveReplicaFetch>> | undefined;
    void serveReplicaFetch(request(2, 5), host).then((results) => {
      answered = results;
    });
    await settle();
    expect(answered).toBeUndefined();
    expect(delayedOperations.size).toBe(1);
    time.advanceMs(100);
    records.push(batch(5, 2, 2));
    log.append(2);
    partition.onLeaderAppend();
    delayedOperations.notify(partition.key);
    await settle();
    expect(answered).toHaveLength(1);
    expect(answered![0]).toMatchObject({
      errorCode: ErrorCode.NONE,
      highWatermark: 5,
      logEndOffset: 7,
      leaderEpoch: 2,
    });
    expect(answered![0]!.records.equals(records[1]!)).toBe(true);
  });

  it('answers an empty read when the long poll ends, and proposes a caught-up follower for the ISR', async () => {
    const { time, host, proposals, partition } = servingHost([batch(0, 5, 0)]);
    let answered: Awaited<ReturnType<typeof serveReplicaFetch>> | undefined;
    partition.recordFollowerFetch(2, 5, 0);
    void serveReplicaFetch(request(3, 5), host).then((results) => {
      answered = results;
    });
    await settle();
    expect(proposals).toEqual([[1, 2, 3]]);
    time.advanceMs(500);
    await settle();
    expect(answered![0]).toMatchObject({ errorCode: ErrorCode.NONE, highWatermark: 5 });
    expect(answered![0]!.records.length).toBe(0);
  });
});

describe('serveReplicaFetch with a leader replication quota (KIP-73)', () => {
  /** Replica 3 (out of the ISR) and replica 2 (in it) fetch from offset 0 without waiting. */
  function throttledHost(throttled: ThrottledPartitions) {
    const serving = servingHost([batch(0, 5, 0)]);
    const quota = new ReplicationQuota();
    quota.setRate(1);
    quota.markThrottled('t', throttled);
    const host = { ...serving.host, leaderQuota: quota };
    const fetch = async (replicaId: number) =>
      (await serveReplicaFetch(request(replicaId, 0, 7, 0), host))[0]!;
    return { ...serving, quota, fetch };
  }

  it('sends an out-of-sync throttled replica nothing once over quota, and data again when the windows pass', async () => {
    const { time, quota, fetch } = throttledHost('*');
    const first = await fetch(3);
    expect(first.records.length).toBeGreaterThan(0);
    expect(quota.isQuotaExceeded(time.nowMs())).toBe(true);
    const held = await fetch(3);
    expect(held).toMatchObject({ errorCode: ErrorCode.NONE, logStartOffset: 0, logEndOffset: 5 });
    expect(held.records.length).toBe(0);
    time.advanceMs(11_000);
    expect((await fetch(3)).records.equals(first.records)).toBe(true);
  });

  it('never holds back an in-sync replica, but counts its bytes', async () => {
    const { time, quota, fetch } = throttledHost('*');
    await fetch(3);
    expect(quota.isQuotaExceeded(time.nowMs())).toBe(true);
    const before = quota.measure(time.nowMs());
    expect((await fetch(2)).records.length).toBeGreaterThan(0);
    expect(quota.measure(time.nowMs())).toBeGreaterThan(before);
  });

  it('leaves partitions not listed alone and does not count them', async () => {
    const { time, quota, fetch } = throttledHost(new Set([1]));
    await fetch(3);
    expect(quota.measure(time.nowMs())).toBe(0);
    expect((await fetch(3)).records.length).toBeGreaterThan(0);
  });
});

// The leader's appends as follower fetches see them: each append counts as on its way to the log
// until it settles, so a follower fetch woken by the first of several Produce requests in flight
// answers with all of them (@gregor/replication's serveReplicaFetch), on the broker's real logs.

import { ApiKey, ErrorCode, iterateBatches } from '@gregor/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { batchOf } from '../testing/batches.js';
import { LocalClusterFixture, settle } from '../testing/local-cluster-fixture.js';

let cluster: LocalClusterFixture;
afterEach(async () => {
  await cluster.close();
});

async function setUp(): Promise<void> {
  cluster = await LocalClusterFixture.start({ otherBrokerIds: [2] });
  const created = await cluster.request(ApiKey.CreateTopics, 4, {
    topics: [
      {
        name: 'p',
        numPartitions: -1,
        replicationFactor: -1,
        assignments: [{ partitionIndex: 0, brokerIds: [1, 2] }],
        configs: [],
      },
    ],
    timeoutMs: 1000,
    validateOnly: false,
  });
  expect(created.topics[0]!.errorCode).toBe(ErrorCode.NONE);
}

/** Broker 2's replica fetch from `fetchOffset`, long-polling up to 500 ms. */
function followerFetch(fetchOffset: number) {
  const partition = cluster.replicaManager.partition('p', 0)!;
  return cluster.replicaManager.fetchForFollower({
    replicaId: 2,
    brokerEpoch: Number.MAX_SAFE_INTEGER,
    maxWaitMs: 500,
    minBytes: 1,
    maxBytes: 1 << 20,
    partitions: [
      {
        topic: 'p',
        partition: 0,
        currentLeaderEpoch: partition.leaderEpoch,
        fetchOffset,
        lastFetchedEpoch: partition.epochCache.latestEpoch,
        logStartOffset: 0,
        partitionMaxBytes: 1 << 20,
      },
    ],
  });
}

describe('LeaderAppends and follower fetches', () => {
  it('counts appends in flight, and a parked follower fetch answers with every append issued before it woke', async () => {
    await setUp();
    const partition = cluster.replicaManager.partition('p', 0)!;
    const fetched = followerFetch(0);
    await settle(() => cluster.delayedOperations.size === 1);
    // Three Produce requests in flight (acks=1: nothing else waits in the purgatory).
    const appends = ['a', 'b', 'c'].map((value) =>
      cluster.replicaManager.appendRecords(
        [{ topic: 'p', partition: 0, records: batchOf([value]) }],
        1,
        1000,
      ),
    );
    expect(partition.leaderAppendsIssued - partition.leaderAppendsSettled).toBe(3);
    const [result] = await fetched;
    for (const appended of await Promise.all(appends)) expect(appended[0]!.errorCode).toBe(ErrorCode.NONE);
    expect(partition.leaderAppendsIssued).toBe(partition.leaderAppendsSettled);
    expect(result!.errorCode).toBe(ErrorCode.NONE);
    const batches = [...iterateBatches(result!.records)];
    expect(batches.map((batch) => batch.records.map((record) => record.value?.toString()))).toEqual([
      ['a'],
      ['b'],
      ['c'],
    ]);
  });

  it('settles the count of an append that fails', async () => {
    await setUp();
    const partition = cluster.replicaManager.partition('p', 0)!;
    // A batch whose CRC does not match: refused before the log (never issued) ...
    const corrupt = Buffer.from(batchOf(['x']));
    corrupt[corrupt.length - 1]! ^= 0xff;
    const [refused] = await cluster.replicaManager.appendRecords(
      [{ topic: 'p', partition: 0, records: corrupt }],
      1,
      1000,
    );
    expect(refused!.errorCode).toBe(ErrorCode.CORRUPT_MESSAGE);
    expect(partition.leaderAppendsIssued).toBe(0);
    // ... and one that fails in the log: it settles all the same.
    await partition.log.close();
    const [failed] = await cluster.replicaManager.appendRecords(
      [{ topic: 'p', partition: 0, records: batchOf(['y']) }],
      1,
      1000,
    );
    expect(failed!.errorCode).not.toBe(ErrorCode.NONE);
    expect(partition.leaderAppendsIssued).toBe(1);
    expect(partition.leaderAppendsSettled).toBe(1);
  });
});

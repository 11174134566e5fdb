// DeleteRecords on a leader with one follower (broker 2, registered but without a process: the test
// sends its replica fetches): the answer waits until the follower's fetches report the new log start.

import { waitFor } from '@gregor/ground/testing';
import { ApiKey, ErrorCode } from '@gregor/protocol';
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
        name: 'r',
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
  const produced = await cluster.request(ApiKey.Produce, 7, {
    transactionalId: null,
    acks: 1,
    timeoutMs: 1000,
    topics: [{ name: 'r', partitions: [{ partitionIndex: 0, records: batchOf(['a', 'b', 'c', 'd', 'e']) }] }],
  });
  expect(produced.responses[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NONE);
}

/** Broker 2's replica fetch from its log end 5, saying its log start offset. */
async function followerFetch(logStartOffset: number) {
  const partition = cluster.replicaManager.partition('r', 0)!;
  const [result] = await cluster.replicaManager.fetchForFollower({
    replicaId: 2,
    brokerEpoch: Number.MAX_SAFE_INTEGER,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 1 << 20,
    partitions: [
      {
        topic: 'r',
        partition: 0,
        currentLeaderEpoch: partition.leaderEpoch,
        fetchOffset: 5,
        lastFetchedEpoch: partition.epochCache.latestEpoch,
        logStartOffset,
        partitionMaxBytes: 1 << 20,
      },
    ],
  });
  return result!;
}

/** Until a request waits in the purgatory (the log start offset is durable by then). */
async function parked(): Promise<void> {
  await waitFor('a request parked', () => cluster.delayedOperations.size > 0, { intervalMs: 5 });
}

function deleteRecords(offset: bigint) {
  return cluster.request(ApiKey.DeleteRecords, 2, {
    topics: [{ name: 'r', partitions: [{ partitionIndex: 0, offset }] }],
    timeoutMs: 5000,
  });
}

describe('DeleteRecords with a follower', () => {
  it('answers once the in-sync follower reported the new log start offset in a fetch', async () => {
    await setUp();
    expect(cluster.replicaManager.partition('r', 0)!.isr).toEqual([1, 2]);
    // Nothing is committed until the follower fetched: offset 3 is above the high watermark.
    expect((await deleteRecords(3n)).topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    expect(await followerFetch(0)).toMatchObject({ errorCode: 0, highWatermark: 5, logStartOffset: 0 });

    let answered = false;
    const pending = deleteRecords(3n).then((response) => {
      answered = true;
      return response.topics[0]!.partitions[0]!;
    });
    await parked();
    expect(cluster.replicaManager.partition('r', 0)!.logStartOffset).toBe(3);
    // The follower learns the leader's log start from its next fetch's answer...
    expect(await followerFetch(0)).toMatchObject({ errorCode: 0, logStartOffset: 3 });
    await settle(() => true);
    expect(answered).toBe(false);
    // ...and the DeleteRecords is answered once a fetch says the follower moved its own.
    await followerFetch(3);
    expect(await pending).toEqual({ partitionIndex: 0, lowWatermark: 3n, errorCode: ErrorCode.NONE });
  });

  it('times out with REQUEST_TIMED_OUT while the follower does not follow', async () => {
    await setUp();
    await followerFetch(0);
    const pending = deleteRecords(4n);
    // Parked in the purgatory: only then does its timeout run on the manual clock.
    await parked();
    expect(cluster.replicaManager.partition('r', 0)!.logStartOffset).toBe(4);
    cluster.advanceMs(5000);
    expect((await pending).topics[0]!.partitions[0]).toEqual({
      partitionIndex: 0,
      lowWatermark: -1n,
      errorCode: ErrorCode.REQUEST_TIMED_OUT,
    });
  });
});

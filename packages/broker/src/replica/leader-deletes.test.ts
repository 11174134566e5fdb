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

async function setUp(otherBrokerIds: readonly number[] = [2]): Promise<void> {
  cluster = await LocalClusterFixture.start({ otherBrokerIds });
  const created = await cluster.request(ApiKey.CreateTopics, 4, {
    topics: [
      {
        name: 'r',
        numPartitions: -1,
        replicationFactor: -1,
        assignments: [{ partitionIndex: 0, brokerIds: [1, ...otherBrokerIds] }],
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

/** Broker `replicaId`'s replica fetch (broker 2's by default) from `fetchOffset`, saying its log start offset. */
async function followerFetch(logStartOffset: number, replicaId = 2, fetchOffset = 5) {
  const partition = cluster.replicaManager.partition('r', 0)!;
  const [result] = await cluster.replicaManager.fetchForFollower({
    replicaId,
    brokerEpoch: Number.MAX_SAFE_INTEGER,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 1 << 20,
    partitions: [
      {
        topic: 'r',
        partition: 0,
        currentLeaderEpoch: partition.leaderEpoch,
        fetchOffset,
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

  it('waits for every follower on a live broker, in the ISR or not, and not for a fenced one', async () => {
    await setUp([2, 3]);
    // Broker 3 is fenced: it leaves the ISR and does not hold the answer back.
    await cluster.heartbeat(3, { wantFence: true });
    await waitFor(
      'broker 3 out of the ISR',
      () => cluster.replicaManager.partition('r', 0)!.isr.length === 2,
    );
    await followerFetch(0);
    const first = deleteRecords(2n);
    await parked();
    await followerFetch(2);
    expect((await first).topics[0]!.partitions[0]).toEqual({
      partitionIndex: 0,
      lowWatermark: 2n,
      errorCode: ErrorCode.NONE,
    });

    // Unfenced, broker 3 is live but still outside the ISR (it has not fetched): its copy would
    // still hold the deleted records, so the answer waits for its fetch too (Kafka's
    // lowWatermarkIfLeader counts every replica on a live broker).
    await cluster.heartbeat(3, { wantFence: false });
    await waitFor('broker 3 unfenced', () => cluster.replicaManager.image.brokers.get(3)?.fenced === false);
    expect(cluster.replicaManager.partition('r', 0)!.isr).toEqual([1, 2]);
    let answered = false;
    const second = deleteRecords(4n).then((response) => {
      answered = true;
      return response.topics[0]!.partitions[0]!;
    });
    await parked();
    await followerFetch(4);
    await settle(() => true);
    expect(answered).toBe(false);
    // Its fetch from offset 0 is out of range now; like a Kafka follower it restarts at the leader's
    // log start offset, and that fetch reports it.
    expect(await followerFetch(0, 3, 0)).toMatchObject({ errorCode: ErrorCode.OFFSET_OUT_OF_RANGE });
    expect(answered).toBe(false);
    await followerFetch(4, 3, 4);
    expect(await second).toEqual({ partitionIndex: 0, lowWatermark: 4n, errorCode: ErrorCode.NONE });
  });
});

import {
  ApiKey,
  ErrorCode,
  earliestLocalTimestamp,
  earliestTimestamp,
  latestTieredTimestamp,
  latestTimestamp,
  maxTimestamp,
} from '@gregor/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { batchOf } from '../testing/batches.js';
import { LocalClusterFixture } from '../testing/local-cluster-fixture.js';

let cluster: LocalClusterFixture;
afterEach(async () => {
  await cluster.close();
});

async function setUp(): Promise<void> {
  cluster = await LocalClusterFixture.start({ otherBrokerIds: [2] });
  const created = await cluster.request(ApiKey.CreateTopics, 4, {
    topics: [{ name: 't', numPartitions: 4, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 1000,
    validateOnly: false,
  });
  expect(created.topics[0]!.errorCode).toBe(ErrorCode.NONE);
}

function localPartition(): number {
  return cluster
    .image()
    .topic('t')!
    .partitions.findIndex((state) => state.leader === 1);
}

async function produceAt(
  partition: number,
  values: string[],
  timestampMs: number,
  timestampsMs?: readonly number[],
): Promise<void> {
  const response = await cluster.request(ApiKey.Produce, 7, {
    transactionalId: null,
    acks: 1,
    timeoutMs: 1000,
    topics: [
      {
        name: 't',
        partitions: [
          {
            partitionIndex: partition,
            records: batchOf(values, { timestampMs, ...(timestampsMs ? { timestampsMs } : {}) }),
          },
        ],
      },
    ],
  });
  expect(response.responses[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NONE);
}

async function listOffset(partition: number, timestamp: bigint, version = 5, currentLeaderEpoch = -1) {
  const response = await cluster.request(ApiKey.ListOffsets, version, {
    replicaId: -1,
    isolationLevel: 0,
    topics: [
      {
        name: 't',
        partitions: [{ partitionIndex: partition, currentLeaderEpoch, timestamp, maxNumOffsets: 1 }],
      },
    ],
  });
  return response.topics[0]!.partitions[0]!;
}

describe('ListOffsets', () => {
  it('earliest is the log start, latest the high watermark', async () => {
    await setUp();
    const partition = localPartition();
    expect(await listOffset(partition, latestTimestamp)).toMatchObject({
      errorCode: 0,
      offset: 0n,
      timestamp: -1n,
    });
    await produceAt(partition, ['a', 'b', 'c'], 1000);
    expect((await listOffset(partition, earliestTimestamp)).offset).toBe(0n);
    expect((await listOffset(partition, latestTimestamp)).offset).toBe(3n);
  });

  it('by timestamp: the first record whose timestamp reaches it, -1 past the end', async () => {
    await setUp();
    const partition = localPartition();
    await produceAt(partition, ['a', 'b'], 1000); // offsets 0-1, timestamps 1000-1001
    await produceAt(partition, ['c', 'd'], 5000); // offsets 2-3, timestamps 5000-5001
    expect(await listOffset(partition, 500n)).toMatchObject({ offset: 0n, timestamp: 1000n });
    // Inside a batch: the record, not the batch's first offset (as Kafka answers).
    expect(await listOffset(partition, 1001n)).toMatchObject({ offset: 1n, timestamp: 1001n });
    expect(await listOffset(partition, 1002n)).toMatchObject({ offset: 2n, timestamp: 5000n });
    expect(await listOffset(partition, 5001n)).toMatchObject({ offset: 3n, timestamp: 5001n });
    expect(await listOffset(partition, 9000n)).toMatchObject({ errorCode: 0, offset: -1n, timestamp: -1n });
  });

  it('v7+ -3 is the first record with the largest timestamp (first batch on a tie), -1 on an empty log', async () => {
    await setUp();
    const partition = localPartition();
    expect(await listOffset(partition, maxTimestamp, 7)).toMatchObject({
      errorCode: 0,
      offset: -1n,
      timestamp: -1n,
    });
    await produceAt(partition, ['a', 'b', 'c'], 0, [1000, 9000, 3000]); // offsets 0-2
    await produceAt(partition, ['d', 'e'], 0, [9000, 9000]); // offsets 3-4: the same maximum, later
    await produceAt(partition, ['f'], 5000); // offset 5
    for (const version of [7, 8, 9, 10]) {
      expect(await listOffset(partition, maxTimestamp, version)).toMatchObject({
        errorCode: 0,
        offset: 1n,
        timestamp: 9000n,
        leaderEpoch: 0,
      });
    }
    await produceAt(partition, ['g'], 20_000); // offset 6
    expect(await listOffset(partition, maxTimestamp, 10)).toMatchObject({ offset: 6n, timestamp: 20_000n });
  });

  it('v8+ -4 is the log start offset (all of the log is local); v9+ -5 is -1 without remote storage', async () => {
    await setUp();
    const partition = localPartition();
    await produceAt(partition, ['a', 'b', 'c'], 1000);
    const deleted = await cluster.request(ApiKey.DeleteRecords, 2, {
      topics: [{ name: 't', partitions: [{ partitionIndex: partition, offset: 2n }] }],
      timeoutMs: 1000,
    });
    expect(deleted.topics[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NONE);
    expect(await listOffset(partition, earliestLocalTimestamp, 8)).toMatchObject({
      errorCode: 0,
      offset: 2n,
      timestamp: -1n,
    });
    expect(await listOffset(partition, earliestTimestamp, 8)).toMatchObject({ offset: 2n });
    expect(await listOffset(partition, latestTieredTimestamp, 9)).toMatchObject({
      errorCode: 0,
      offset: -1n,
      timestamp: -1n,
      leaderEpoch: -1,
    });
  });

  it('v0 answers in old-style offsets', async () => {
    await setUp();
    const partition = localPartition();
    await produceAt(partition, ['a', 'b'], 1000);
    expect((await listOffset(partition, latestTimestamp, 0)).oldStyleOffsets).toEqual([2n]);
    expect((await listOffset(partition, earliestTimestamp, 0)).oldStyleOffsets).toEqual([0n]);
    expect((await listOffset(partition, 9000n, 0)).oldStyleOffsets).toEqual([]);
  });

  it('answers the leader and epoch errors', async () => {
    await setUp();
    const remote = cluster
      .image()
      .topic('t')!
      .partitions.findIndex((state) => state.leader === 2);
    expect((await listOffset(remote, latestTimestamp)).errorCode).toBe(ErrorCode.NOT_LEADER_OR_FOLLOWER);
    expect((await listOffset(9, latestTimestamp)).errorCode).toBe(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    const partition = localPartition();
    expect((await listOffset(partition, latestTimestamp, 4, 3)).errorCode).toBe(
      ErrorCode.UNKNOWN_LEADER_EPOCH,
    );
    expect((await listOffset(partition, latestTimestamp, 4, 0)).errorCode).toBe(ErrorCode.NONE);
  });

  it('read_committed reads the same as read_uncommitted without transactions', async () => {
    await setUp();
    const partition = localPartition();
    await produceAt(partition, ['a'], 1000);
    const response = await cluster.request(ApiKey.ListOffsets, 2, {
      replicaId: -1,
      isolationLevel: 1,
      topics: [{ name: 't', partitions: [{ partitionIndex: partition, timestamp: latestTimestamp }] }],
    });
    expect(response.topics[0]!.partitions[0]!.offset).toBe(1n);
  });
});

import { ApiKey, ErrorCode, earliestTimestamp } from '@gregor/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { batchOf } from '../testing/batches.js';
import { LocalClusterFixture } from '../testing/local-cluster-fixture.js';

let cluster: LocalClusterFixture;
afterEach(async () => {
  await cluster.close();
});

async function setUp(configs: { name: string; value: string }[] = []): Promise<void> {
  cluster = await LocalClusterFixture.start();
  const created = await cluster.request(ApiKey.CreateTopics, 4, {
    topics: [{ name: 't', numPartitions: 1, replicationFactor: 1, assignments: [], configs }],
    timeoutMs: 1000,
    validateOnly: false,
  });
  expect(created.topics[0]!.errorCode).toBe(ErrorCode.NONE);
}

async function produce(values: string[]): Promise<void> {
  const response = await cluster.request(ApiKey.Produce, 7, {
    transactionalId: null,
    acks: -1,
    timeoutMs: 1000,
    topics: [{ name: 't', partitions: [{ partitionIndex: 0, records: batchOf(values) }] }],
  });
  expect(response.responses[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NONE);
}

async function deleteRecords(offset: bigint, version = 1, partitionIndex = 0) {
  const response = await cluster.request(ApiKey.DeleteRecords, version, {
    topics: [{ name: 't', partitions: [{ partitionIndex, offset }] }],
    timeoutMs: 1000,
  });
  return response.topics[0]!.partitions[0]!;
}

async function earliest(): Promise<bigint> {
  const response = await cluster.request(ApiKey.ListOffsets, 5, {
    replicaId: -1,
    isolationLevel: 0,
    topics: [
      {
        name: 't',
        partitions: [
          { partitionIndex: 0, currentLeaderEpoch: -1, timestamp: earliestTimestamp, maxNumOffsets: 1 },
        ],
      },
    ],
  });
  return response.topics[0]!.partitions[0]!.offset;
}

async function fetchFrom(offset: bigint): Promise<number> {
  const response = await cluster.request(ApiKey.Fetch, 11, {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 1 << 20,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [
      {
        topic: 't',
        partitions: [
          {
            partition: 0,
            currentLeaderEpoch: -1,
            fetchOffset: offset,
            lastFetchedEpoch: -1,
            logStartOffset: -1n,
            partitionMaxBytes: 1 << 20,
          },
        ],
      },
    ],
    forgottenTopicsData: [],
    rackId: '',
  });
  return response.responses[0]!.partitions[0]!.errorCode;
}

describe('DeleteRecords', () => {
  it('moves the log start offset: the low watermark, ListOffsets earliest and reads below it all say so', async () => {
    await setUp();
    await produce(['a', 'b', 'c']);
    await produce(['d', 'e']);
    expect(await deleteRecords(2n)).toEqual({
      partitionIndex: 0,
      lowWatermark: 2n,
      errorCode: ErrorCode.NONE,
    });
    expect(await earliest()).toBe(2n);
    expect(await fetchFrom(1n)).toBe(ErrorCode.OFFSET_OUT_OF_RANGE);
    expect(await fetchFrom(2n)).toBe(ErrorCode.NONE);
    // A lower offset changes nothing; -1 is the high watermark (v2, flexible).
    expect(await deleteRecords(1n)).toMatchObject({ lowWatermark: 2n, errorCode: ErrorCode.NONE });
    expect(await deleteRecords(-1n, 2)).toMatchObject({ lowWatermark: 5n, errorCode: ErrorCode.NONE });
    expect(await earliest()).toBe(5n);
  });

  it('refuses offsets above the high watermark, unknown partitions and compact-only topics', async () => {
    await setUp();
    await produce(['a']);
    expect(await deleteRecords(2n)).toEqual({
      partitionIndex: 0,
      lowWatermark: -1n,
      errorCode: ErrorCode.OFFSET_OUT_OF_RANGE,
    });
    expect(await deleteRecords(0n, 0, 7)).toMatchObject({ errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION });
    expect(await earliest()).toBe(0n);
    await cluster.close();
    await setUp([{ name: 'cleanup.policy', value: 'compact' }]);
    expect(await deleteRecords(0n)).toMatchObject({ errorCode: ErrorCode.POLICY_VIOLATION });
  });
});

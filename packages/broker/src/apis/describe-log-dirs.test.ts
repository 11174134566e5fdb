import { ApiKey, ErrorCode } from '@gregor/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { batchOf } from '../testing/batches.js';
import { LocalClusterFixture } from '../testing/local-cluster-fixture.js';

let cluster: LocalClusterFixture;
afterEach(async () => {
  await cluster.close();
});

async function createTopic(name: string, numPartitions: number): Promise<void> {
  const response = await cluster.request(ApiKey.CreateTopics, 4, {
    topics: [{ name, numPartitions, replicationFactor: 1, assignments: [], configs: [] }],
    timeoutMs: 1000,
    validateOnly: false,
  });
  expect(response.topics[0]!.errorCode).toBe(ErrorCode.NONE);
}

async function produce(topic: string, partition: number, values: string[]): Promise<void> {
  const response = await cluster.request(ApiKey.Produce, 7, {
    transactionalId: null,
    acks: 1,
    timeoutMs: 1000,
    topics: [{ name: topic, partitions: [{ partitionIndex: partition, records: batchOf(values) }] }],
  });
  expect(response.responses[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NONE);
}

function sizeOf(
  response: Awaited<ReturnType<typeof describeLogDirs>>,
  topic: string,
  partition: number,
): bigint | undefined {
  return response.results[0]!.topics.find((entry) => entry.name === topic)?.partitions.find(
    (entry) => entry.partitionIndex === partition,
  )?.partitionSize;
}

function describeLogDirs(version: number, topics: { topic: string; partitions: number[] }[] | null) {
  return cluster.request(ApiKey.DescribeLogDirs, version, { topics });
}

describe('DescribeLogDirs', () => {
  it('lists every partition of the log dir with a size that grows with produce, and no lag on a leader', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('sized', 2);
    const empty = await describeLogDirs(4, null);
    expect(empty.errorCode).toBe(ErrorCode.NONE);
    expect(empty.results).toHaveLength(1);
    expect(empty.results[0]).toMatchObject({ errorCode: ErrorCode.NONE, logDir: cluster.logDir });
    expect(sizeOf(empty, 'sized', 0)).toBe(0n);
    expect(sizeOf(empty, 'sized', 1)).toBe(0n);
    expect(empty.results[0]!.totalBytes).toBeGreaterThan(0n);
    expect(empty.results[0]!.usableBytes).toBeGreaterThan(0n);
    expect(empty.results[0]!.usableBytes).toBeLessThanOrEqual(empty.results[0]!.totalBytes);

    await produce('sized', 0, ['a', 'b', 'c']);
    const once = await describeLogDirs(4, null);
    const first = sizeOf(once, 'sized', 0)!;
    expect(first).toBeGreaterThan(0n);
    expect(sizeOf(once, 'sized', 1)).toBe(0n);
    await produce('sized', 0, ['d']);
    const twice = await describeLogDirs(2, null);
    expect(sizeOf(twice, 'sized', 0)).toBeGreaterThan(first);
    const partition = twice.results[0]!.topics.find((t) => t.name === 'sized')!.partitions[0]!;
    expect(partition).toMatchObject({ offsetLag: 0n, isFutureKey: false });
    // Before v4 the sizes of the file system are not in the response.
    expect(twice.results[0]!.totalBytes).toBe(-1n);
  });

  it('lists only the named partitions, none for unknown ones', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('a', 2);
    await createTopic('b', 1);
    const response = await describeLogDirs(1, [
      { topic: 'a', partitions: [1] },
      { topic: 'missing', partitions: [0] },
    ]);
    expect(response.results[0]!.topics).toEqual([
      {
        name: 'a',
        partitions: [{ partitionIndex: 1, partitionSize: 0n, offsetLag: 0n, isFutureKey: false }],
      },
    ]);
  });

  it('answers a failed log dir with KAFKA_STORAGE_ERROR and no partitions', async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('a', 1);
    cluster.logDirFailures.maybeAddOfflineLogDir(cluster.logDir, 'test: disk gone');
    const response = await describeLogDirs(4, null);
    expect(response.results).toEqual([
      {
        errorCode: ErrorCode.KAFKA_STORAGE_ERROR,
        logDir: cluster.logDir,
        topics: [],
        totalBytes: -1n,
        usableBytes: -1n,
      },
    ]);
  });
});

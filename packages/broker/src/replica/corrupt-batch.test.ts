// A batch whose bytes on disk are damaged (its length field, which no read checked before): storage
// throws CorruptRecordError, and the leader answers CORRUPT_MESSAGE for that partition alone, to a
// consumer's Fetch (the other partitions of the same Fetch are still served) and to a follower's
// replica fetch, as Kafka's ReplicaManager answers a CorruptRecordException. The same damage found
// by a broker process after a clean restart, read by kcat: it/corrupt-batch.integration.test.ts.

import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ApiKey, ErrorCode, iterateBatches } from '@gregor/protocol';
import { afterEach, expect, it } from 'vitest';
import { batchOf } from '../testing/batches.js';
import { LocalClusterFixture } from '../testing/local-cluster-fixture.js';

let cluster: LocalClusterFixture;
afterEach(async () => {
  await cluster.close();
});

async function createTopic(name: string, brokerIds: readonly number[], partitions: number): Promise<void> {
  const response = await cluster.request(ApiKey.CreateTopics, 4, {
    topics: [
      {
        name,
        numPartitions: -1,
        replicationFactor: -1,
        assignments: Array.from({ length: partitions }, (_, partitionIndex) => ({
          partitionIndex,
          brokerIds: [...brokerIds],
        })),
        configs: [],
      },
    ],
    timeoutMs: 1000,
    validateOnly: false,
  });
  expect(response.topics[0]!.errorCode).toBe(ErrorCode.NONE);
}

/** One batch per value, so the partition's `.log` holds them back to back. */
async function produceBatches(
  topic: string,
  partitionIndex: number,
  values: readonly string[],
): Promise<void> {
  for (const value of values) {
    const response = await cluster.request(ApiKey.Produce, 7, {
      transactionalId: null,
      acks: 1,
      timeoutMs: 1000,
      topics: [{ name: topic, partitions: [{ partitionIndex, records: batchOf([value]) }] }],
    });
    expect(response.responses[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NONE);
  }
}

/** Sets the length field of the partition's second batch (at offset 1) to 0, below a header. */
async function damageSecondBatch(topic: string, partitionIndex: number): Promise<void> {
  const log = cluster.replicaManager.partition(topic, partitionIndex)!.log;
  const file = join(log.dir, '00000000000000000000.log');
  const bytes = await readFile(file);
  const secondBatchPosition = 12 + bytes.readInt32BE(8);
  bytes.writeInt32BE(0, secondBatchPosition + 8);
  await writeFile(file, bytes);
}

function valuesOf(records: Buffer): (string | undefined)[] {
  return [...iterateBatches(records)].flatMap((batch) =>
    batch.records.map((record) => record.value?.toString()),
  );
}

function consumerFetch(topic: string, offsets: readonly [partition: number, fetchOffset: number][]) {
  return cluster.request(ApiKey.Fetch, 4, {
    replicaId: -1,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 1 << 20,
    isolationLevel: 0,
    topics: [
      {
        topic,
        partitions: offsets.map(([partition, fetchOffset]) => ({
          partition,
          fetchOffset: BigInt(fetchOffset),
          partitionMaxBytes: 1 << 20,
        })),
      },
    ],
  });
}

it("answers a consumer's Fetch at a damaged batch CORRUPT_MESSAGE for that partition and serves the others", async () => {
  cluster = await LocalClusterFixture.start();
  await createTopic('c', [1], 2);
  await produceBatches('c', 0, ['a', 'b', 'c']);
  await produceBatches('c', 1, ['x', 'y', 'z']);
  await damageSecondBatch('c', 0);

  const fetched = await consumerFetch('c', [
    [0, 1],
    [1, 0],
  ]);
  const [damaged, healthy] = fetched.responses[0]!.partitions;
  expect(damaged).toMatchObject({ partitionIndex: 0, errorCode: ErrorCode.CORRUPT_MESSAGE });
  expect(damaged!.records?.length ?? 0).toBe(0);
  expect(healthy).toMatchObject({ partitionIndex: 1, errorCode: ErrorCode.NONE, highWatermark: 3n });
  expect(valuesOf(healthy!.records!)).toEqual(['x', 'y', 'z']);

  // The batch before the damage is still served, alone: the read stops where the damage starts.
  const before = await consumerFetch('c', [[0, 0]]);
  expect(before.responses[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NONE);
  expect(valuesOf(before.responses[0]!.partitions[0]!.records!)).toEqual(['a']);
});

it("answers a follower's replica fetch at a damaged batch CORRUPT_MESSAGE for that partition", async () => {
  cluster = await LocalClusterFixture.start({ otherBrokerIds: [2] });
  await createTopic('r', [1, 2], 2);
  await produceBatches('r', 0, ['a', 'b', 'c']);
  await produceBatches('r', 1, ['x', 'y', 'z']);
  await damageSecondBatch('r', 0);

  const leaderEpoch = cluster.replicaManager.partition('r', 0)!.leaderEpoch;
  const results = await cluster.replicaManager.fetchForFollower({
    replicaId: 2,
    brokerEpoch: Number.MAX_SAFE_INTEGER,
    maxWaitMs: 0,
    minBytes: 0,
    maxBytes: 1 << 20,
    partitions: [0, 1].map((partition) => ({
      topic: 'r',
      partition,
      currentLeaderEpoch: leaderEpoch,
      fetchOffset: partition === 0 ? 1 : 0,
      lastFetchedEpoch: -1,
      logStartOffset: 0,
      partitionMaxBytes: 1 << 20,
    })),
  });
  const byPartition = new Map(results.map((result) => [result.partition, result]));
  expect(byPartition.get(0)).toMatchObject({ errorCode: ErrorCode.CORRUPT_MESSAGE });
  expect(byPartition.get(0)!.records.length).toBe(0);
  expect(byPartition.get(1)).toMatchObject({ errorCode: ErrorCode.NONE, logEndOffset: 3 });
  expect(valuesOf(byPartition.get(1)!.records)).toEqual(['x', 'y', 'z']);
});

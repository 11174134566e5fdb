import { ApiKey, CompressionType, ErrorCode, encodeRecordBatch } from '@gregor/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { ProducerStateManager } from '../replica/producer-state.js';
import { rebuildProducerState } from '../replica/producer-state-log.js';
import { fixtureStartMs, LocalClusterFixture } from '../testing/local-cluster-fixture.js';

let cluster: LocalClusterFixture;
afterEach(async () => {
  await cluster.close();
});

function producerBatch(
  producerId: number,
  producerEpoch: number,
  baseSequence: number,
  count: number,
  isTransactional = false,
) {
  return encodeRecordBatch({
    partitionLeaderEpoch: -1,
    compression: CompressionType.None,
    producerId,
    producerEpoch,
    baseSequence,
    isTransactional,
    records: Array.from({ length: count }, (_, index) => ({
      key: null,
      value: Buffer.from(`v${baseSequence + index}`),
      timestamp: fixtureStartMs + baseSequence + index,
    })),
  });
}

async function produce(records: Buffer, transactionalId: string | null = null) {
  const response = await cluster.request(ApiKey.Produce, 7, {
    transactionalId,
    acks: -1,
    timeoutMs: 1000,
    topics: [{ name: 'p', partitions: [{ partitionIndex: 0, records }] }],
  });
  expect(response.responses[0]!.partitions[0]!.errorCode).toBe(ErrorCode.NONE);
}

async function createTopic(name: string, assignments: number[][]): Promise<void> {
  const response = await cluster.request(ApiKey.CreateTopics, 4, {
    topics: [
      {
        name,
        numPartitions: -1,
        replicationFactor: -1,
        assignments: assignments.map((brokerIds, partitionIndex) => ({ partitionIndex, brokerIds })),
        configs: [],
      },
    ],
    timeoutMs: 1000,
    validateOnly: false,
  });
  expect(response.topics[0]!.errorCode).toBe(ErrorCode.NONE);
}

function describeProducers(topics: { name: string; partitionIndexes: number[] }[]) {
  return cluster.request(ApiKey.DescribeProducers, 0, { topics });
}

describe('DescribeProducers', () => {
  it("lists the leader's idempotent and transactional producers with their sequence, marker epoch and open transaction", async () => {
    cluster = await LocalClusterFixture.start();
    await createTopic('p', [[1]]);
    await produce(producerBatch(11, 0, 0, 3));
    await produce(producerBatch(11, 0, 3, 1));
    await produce(producerBatch(12, 2, 0, 2, true), 'tx');
    const open = await describeProducers([{ name: 'p', partitionIndexes: [0] }]);
    const partition = open.topics[0]!.partitions[0]!;
    expect(partition).toMatchObject({ partitionIndex: 0, errorCode: ErrorCode.NONE, errorMessage: null });
    expect(partition.activeProducers).toEqual([
      {
        producerId: 11n,
        producerEpoch: 0,
        lastSequence: 3,
        lastTimestamp: BigInt(fixtureStartMs + 3),
        coordinatorEpoch: -1,
        currentTxnStartOffset: -1n,
      },
      {
        producerId: 12n,
        producerEpoch: 2,
        lastSequence: 1,
        lastTimestamp: BigInt(fixtureStartMs + 1),
        coordinatorEpoch: -1,
        currentTxnStartOffset: 4n,
      },
    ]);

    const [markers] = await cluster.replicaManager.writeTxnMarkers(
      [
        {
          producerId: 12,
          producerEpoch: 2,
          commit: true,
          coordinatorEpoch: 5,
          partitions: [{ topic: 'p', partition: 0 }],
        },
      ],
      1000,
    );
    expect(markers![0]!.errorCode).toBe(ErrorCode.NONE);
    const committed = await describeProducers([{ name: 'p', partitionIndexes: [0] }]);
    expect(committed.topics[0]!.partitions[0]!.activeProducers[1]).toMatchObject({
      producerId: 12n,
      coordinatorEpoch: 5,
      currentTxnStartOffset: -1n,
    });
    // A replica that rebuilds its producer state from the log (a restart, a new leader) reads the
    // marker's coordinator epoch from its record, as the leader learnt it when appending.
    const partitionOnLeader = cluster.replicaManager.partition('p', 0)!;
    const rebuilt = new ProducerStateManager();
    await rebuildProducerState(partitionOnLeader.log, rebuilt, cluster.clock.nowMs());
    expect(rebuilt.entries()).toEqual(partitionOnLeader.producerState.entries());
    expect(rebuilt.entry(12)?.coordinatorEpoch).toBe(5);
  });

  it('answers NOT_LEADER_OR_FOLLOWER where another broker leads and UNKNOWN_TOPIC_OR_PARTITION for no partition', async () => {
    cluster = await LocalClusterFixture.start({ otherBrokerIds: [2] });
    await createTopic('elsewhere', [[2]]);
    const response = await describeProducers([
      { name: 'elsewhere', partitionIndexes: [0] },
      { name: 'missing', partitionIndexes: [0] },
    ]);
    expect(response.topics.map((topic) => topic.partitions[0]!.errorCode)).toEqual([
      ErrorCode.NOT_LEADER_OR_FOLLOWER,
      ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
    ]);
    expect(response.topics[0]!.partitions[0]!.activeProducers).toEqual([]);
  });
});

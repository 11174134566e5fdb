// KIP-890 part 1 (transaction.partition.verification.enable, on by default) against two broker
// processes, spoken directly on the wire. A transactional producer's batch to a partition its
// transaction never added, or a late batch after its transaction ended, is refused with
// INVALID_TXN_STATE (TRANSACTION_ABORTABLE at Produce v11+) by the partition's leader after asking
// the transaction coordinator: over the brokers' gRPC when the coordinator is the other broker,
// locally when it is the leader itself. Transactional offsets of a group the transaction never
// added (no AddOffsetsToTxn) are refused the same way by the group coordinator.
// Nothing is stored and no transaction opens on the partition: a read_committed fetch reads past
// it. Batches of added partitions are stored and commit as before. Fails on the old code, where
// the leader appended any transactional batch and the partition's last stable offset stayed at it
// (a hanging transaction no coordinator knew of).

import type { KafkaConnection } from '@gregor/client';
import { waitFor } from '@gregor/ground/testing';
import { ApiKey, decodeRecordBatch, ErrorCode } from '@gregor/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProcessCluster } from '../testing/process-cluster.js';
import { RawClusterClient, requestTimeoutMs } from '../testing/raw-cluster-client.js';
import { RawTransactionalProducer } from '../testing/raw-transactional-producer.js';

const topic = 'txn-verified';
const transactionalId = 'txn-verification-producer';
const waitTimeoutMs = 60_000;

let cluster: ProcessCluster;
let client: RawClusterClient;
let producer: RawTransactionalProducer;
/** The next sequence number per partition. */
const nextSequence = [0, 0];

beforeAll(async () => {
  cluster = await ProcessCluster.start({
    nodeCount: 2,
    properties: {
      'auto.create.topics.enable': 'false',
      'offsets.topic.replication.factor': '1',
      'transaction.state.log.replication.factor': '1',
      'transaction.state.log.min.isr': '1',
      'transaction.state.log.num.partitions': '1',
      'offsets.topic.num.partitions': '1',
    },
  });
  client = new RawClusterClient(cluster);
  const created = await (await client.connection(1)).call(
    ApiKey.CreateTopics,
    3,
    {
      topics: [
        {
          name: topic,
          numPartitions: -1,
          replicationFactor: -1,
          // One partition on each broker: one led by the coordinator, one by the other broker.
          assignments: [
            { partitionIndex: 0, brokerIds: [1] },
            { partitionIndex: 1, brokerIds: [2] },
          ],
          configs: [],
        },
      ],
      timeoutMs: 5_000,
      validateOnly: false,
    },
    requestTimeoutMs,
  );
  expect(created.topics[0]?.errorCode).toBe(ErrorCode.NONE);
  for (const index of [0, 1]) {
    await waitFor(
      'the partition leaders',
      async () => (await client.partition(topic, index))?.leaderId === index + 1,
      {
        timeoutMs: waitTimeoutMs,
        intervalMs: 100,
      },
    );
  }
  producer = await RawTransactionalProducer.init(client, {
    transactionalId,
    viaNodeId: 1,
    waitTimeoutMs,
    detail: () => cluster.tail(40),
  });
});

afterAll(async () => {
  client?.close();
  await cluster?.close();
});

/** The broker that leads `partition` (assigned above). */
const leaderOf = (partition: number): number => partition + 1;

/**
 * One transactional record to the partition's leader (Produce v7, as kafkajs sends, unless
 * `version` says otherwise); the sequence advances when stored.
 */
async function produce(partition: number, value: string, version = 7): Promise<number> {
  const records = producer.batch(nextSequence[partition]!, value);
  const response = await (await client.connection(leaderOf(partition))).call(
    ApiKey.Produce,
    version,
    {
      transactionalId,
      acks: -1,
      timeoutMs: 10_000,
      topics: [{ name: topic, partitions: [{ partitionIndex: partition, records }] }],
    },
    requestTimeoutMs,
  );
  const errorCode = response.responses[0]?.partitions[0]?.errorCode ?? -1;
  if (errorCode === ErrorCode.NONE) nextSequence[partition]! += 1;
  return errorCode;
}

/** A read_committed fetch of the whole partition: its offsets and the committed values it returns. */
async function readCommitted(partition: number) {
  const response = await (await client.connection(leaderOf(partition))).call(
    ApiKey.Fetch,
    11,
    {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 1024 * 1024,
      isolationLevel: 1,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [
        {
          topic,
          partitions: [
            {
              partition,
              currentLeaderEpoch: -1,
              fetchOffset: 0n,
              logStartOffset: -1n,
              partitionMaxBytes: 1024 * 1024,
            },
          ],
        },
      ],
      forgottenTopicsData: [],
      rackId: '',
    },
    requestTimeoutMs,
  );
  const data = response.responses[0]!.partitions[0]!;
  const aborted = (data.abortedTransactions ?? []).map((entry) => Number(entry.firstOffset));
  const values: string[] = [];
  const bytes = data.records ?? Buffer.alloc(0);
  let position = 0;
  while (position + 61 <= bytes.length) {
    const size = bytes.readInt32BE(position + 8) + 12;
    if (position + size > bytes.length) break;
    const batch = decodeRecordBatch(bytes, position);
    if (!batch.header.isControl && !aborted.includes(Number(batch.header.baseOffset))) {
      for (const record of batch.records) values.push(record.value?.toString() ?? '');
    }
    position += size;
  }
  return {
    errorCode: data.errorCode,
    highWatermark: Number(data.highWatermark),
    lastStableOffset: Number(data.lastStableOffset),
    values,
  };
}

/** Waits until the partition's last stable offset reached its high watermark, and reads it. */
async function settled(partition: number) {
  let read = await readCommitted(partition);
  await waitFor(
    `partition ${partition}: no open transaction`,
    async () => {
      read = await readCommitted(partition);
      return read.lastStableOffset === read.highWatermark;
    },
    { timeoutMs: waitTimeoutMs, intervalMs: 100 },
  );
  return read;
}

describe('transaction verification (KIP-890 part 1)', () => {
  it('refuses a partition the transaction never added, on the coordinator and on the other broker', async () => {
    const remote = producer.coordinatorId === 1 ? 1 : 0; // led by the broker that is not the coordinator
    const local = 1 - remote; // led by the coordinator itself
    for (const [added, neverAdded] of [
      [local, remote],
      [remote, local],
    ] as const) {
      await producer.addPartition(topic, added);
      expect(await produce(added, `in-${added}`)).toBe(ErrorCode.NONE);
      expect(await produce(neverAdded, `never-added-${neverAdded}`)).toBe(ErrorCode.INVALID_TXN_STATE);
      // A client that declared it knows the code (Produce v11+, KIP-890) is told to abort.
      expect(await produce(neverAdded, `never-added-${neverAdded}`, 11)).toBe(
        ErrorCode.TRANSACTION_ABORTABLE,
      );
      // Nothing opened on the refused partition: its last stable offset is its high watermark.
      const refused = await readCommitted(neverAdded);
      expect(refused.lastStableOffset).toBe(refused.highWatermark);
      await producer.end(true);
    }
    for (const partition of [0, 1]) {
      expect((await settled(partition)).values).toEqual([`in-${partition}`]);
    }
  });

  it('refuses a late batch after the transaction was aborted: no hanging transaction holds the last stable offset', async () => {
    await producer.addPartition(topic, 0);
    expect(await produce(0, 'aborted')).toBe(ErrorCode.NONE);
    await producer.end(false);
    await settled(0);
    // A batch of the aborted transaction arriving late (a retry the client gave up on).
    expect(await produce(0, 'late')).toBe(ErrorCode.INVALID_TXN_STATE);
    // Other producers' records stay readable for read_committed consumers.
    expect((await client.produce(leaderOf(0), topic, 0, ['plain'], -1)).errorCode).toBe(ErrorCode.NONE);
    const read = await readCommitted(0);
    expect(read.lastStableOffset).toBe(read.highWatermark);
    expect(read.values).toEqual(['in-0', 'plain']);
    // The next transaction adds the partition and its record goes in.
    await producer.addPartition(topic, 0);
    expect(await produce(0, 'next')).toBe(ErrorCode.NONE);
    await producer.end(true);
    expect((await settled(0)).values).toEqual(['in-0', 'plain', 'next']);
  });

  it('refuses transactional offsets of a group the transaction never added: TRANSACTION_ABORTABLE at v4, INVALID_TXN_STATE at v3', async () => {
    const groupId = 'txn-verification-group';
    let groupCoordinator: KafkaConnection | undefined;
    await waitFor(
      'the group coordinator',
      async () => {
        const found = await (await client.connection(1)).call(
          ApiKey.FindCoordinator,
          3,
          { key: groupId, keyType: 0 },
          requestTimeoutMs,
        );
        if (found.errorCode !== ErrorCode.NONE) return false;
        groupCoordinator = await client.connection(found.nodeId);
        return true;
      },
      { timeoutMs: waitTimeoutMs, intervalMs: 200, detail: () => cluster.tail(40) },
    );
    const commitOffsets = async (version: number): Promise<number> => {
      const response = await groupCoordinator!.call(
        ApiKey.TxnOffsetCommit,
        version,
        {
          transactionalId,
          groupId,
          producerId: producer.producerId,
          producerEpoch: producer.producerEpoch,
          generationId: -1,
          memberId: '',
          groupInstanceId: null,
          topics: [
            {
              name: topic,
              partitions: [
                { partitionIndex: 0, committedOffset: 1n, committedLeaderEpoch: -1, committedMetadata: null },
              ],
            },
          ],
        },
        requestTimeoutMs,
      );
      return response.topics[0]?.partitions[0]?.errorCode ?? -1;
    };
    // A transaction is open (a partition added), but not with the group's offsets partition.
    await producer.addPartition(topic, 0);
    expect(await commitOffsets(3)).toBe(ErrorCode.INVALID_TXN_STATE);
    expect(await commitOffsets(4)).toBe(ErrorCode.TRANSACTION_ABORTABLE);
    // AddOffsetsToTxn adds it: the offsets are taken (once the group's partition is loaded).
    const added = await producer.coordinator.call(
      ApiKey.AddOffsetsToTxn,
      1,
      { transactionalId, producerId: producer.producerId, producerEpoch: producer.producerEpoch, groupId },
      requestTimeoutMs,
    );
    expect(added.errorCode).toBe(ErrorCode.NONE);
    await waitFor(
      'the offsets stored',
      async () => {
        const code = await commitOffsets(4);
        if (code === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS) return false;
        expect(code).toBe(ErrorCode.NONE);
        return true;
      },
      { timeoutMs: waitTimeoutMs, intervalMs: 100 },
    );
    await producer.end(true);
  });
});

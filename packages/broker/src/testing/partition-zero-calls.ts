// Raw Kafka calls the multi-process integration tests make about partition 0 of a topic (create it
// on given replicas, produce acks=all to its leader, read it back from any replica, its replicas,
// leader and ISR as a broker reports them), on a connection opened for each call; and the Produce
// and Fetch of partition 0 on a connection the caller holds.

import { ApiKey, KafkaConnection } from '@gregor/client';
import { type WaitForOptions, waitFor } from '@gregor/ground/testing';
import { CompressionType, ErrorCode, encodeRecordBatch, iterateBatches } from '@gregor/protocol';
import type { ProcessCluster } from './process-cluster.js';

/**
 * Produce (v7, acks=all, no transaction) of `records` to partition 0 of `topic` on `connection`,
 * waiting `timeoutMs` on the broker and `callTimeoutMs` for the answer: the partition's answer.
 */
export async function producePartitionZero(
  connection: KafkaConnection,
  topic: string,
  records: Buffer,
  timeoutMs: number,
  callTimeoutMs: number,
) {
  const response = await connection.call(
    ApiKey.Produce,
    7,
    {
      transactionalId: null,
      acks: -1,
      timeoutMs,
      topics: [{ name: topic, partitions: [{ partitionIndex: 0, records }] }],
    },
    callTimeoutMs,
  );
  return response.responses[0]!.partitions[0]!;
}

/**
 * A consumer's Fetch (v11, read_uncommitted, no session, no wait) of partition 0 of `topic` from
 * `fetchOffset`, at most `maxBytes`, on `connection`: the partition's answer.
 */
export async function fetchPartitionZero(
  connection: KafkaConnection,
  topic: string,
  fetchOffset: number,
  maxBytes: number,
  callTimeoutMs: number,
) {
  const fetched = await connection.call(
    ApiKey.Fetch,
    11,
    {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [
        {
          topic,
          partitions: [
            {
              partition: 0,
              currentLeaderEpoch: -1,
              fetchOffset: BigInt(fetchOffset),
              logStartOffset: -1n,
              partitionMaxBytes: maxBytes,
            },
          ],
        },
      ],
      forgottenTopicsData: [],
      rackId: '',
    },
    callTimeoutMs,
  );
  return fetched.responses[0]!.partitions[0]!;
}

/** The calls, on the cluster `cluster()` returns when they run; waits use `waitOptions()`. */
export function partitionZeroCalls(cluster: () => ProcessCluster, waitOptions: () => WaitForOptions) {
  async function withConnection<T>(
    id: number,
    body: (connection: KafkaConnection) => Promise<T>,
  ): Promise<T> {
    const connection = await KafkaConnection.open({
      host: '127.0.0.1',
      port: cluster().node(id).kafkaPort,
      connectTimeoutMs: 2_000,
    });
    try {
      return await body(connection);
    } finally {
      connection.close();
    }
  }

  /** Replicas, leader and ISR of partition 0 as broker `viaId` reports them in Metadata. */
  function partitionState(viaId: number, topic: string) {
    return withConnection(viaId, async (connection) => {
      const metadata = await connection.call(ApiKey.Metadata, 1, { topics: [{ name: topic }] }, 5_000);
      const state = metadata.topics[0]?.partitions.find((p) => p.partitionIndex === 0);
      return {
        replicas: [...(state?.replicaNodes ?? [])],
        leaderId: state?.leaderId ?? -1,
        isr: [...(state?.isrNodes ?? [])].sort(),
      };
    });
  }

  /**
   * Creates `name` with partition 0 on `replicas` (and partitions 1, 2, ... on `laterPartitions`),
   * then waits until partition 0 is led by its first replica with every replica in its ISR.
   */
  async function createTopic(
    name: string,
    replicas: number[],
    configs: { name: string; value: string }[] = [],
    laterPartitions: readonly number[][] = [],
  ): Promise<void> {
    await waitFor(
      `topic ${name} created`,
      () =>
        withConnection(1, async (connection) => {
          const response = await connection.call(
            ApiKey.CreateTopics,
            3,
            {
              topics: [
                {
                  name,
                  numPartitions: -1,
                  replicationFactor: -1,
                  assignments: [replicas, ...laterPartitions].map((brokerIds, partitionIndex) => ({
                    partitionIndex,
                    brokerIds,
                  })),
                  configs,
                },
              ],
              timeoutMs: 10_000,
              validateOnly: false,
            },
            15_000,
          );
          const errorCode = response.topics[0]?.errorCode;
          return errorCode === ErrorCode.NONE || errorCode === ErrorCode.TOPIC_ALREADY_EXISTS
            ? true
            : undefined;
        }).catch(() => undefined),
      waitOptions(),
    );
    await waitFor(
      `${name}-0 led with a full ISR`,
      async () => {
        const state = await partitionState(1, name).catch(() => undefined);
        return state !== undefined && state.leaderId === replicas[0] && state.isr.length === replicas.length
          ? state
          : undefined;
      },
      waitOptions(),
    );
  }

  /** Produces `values` (acks=all) to the partition's current leader; true once acknowledged. */
  async function produce(topic: string, values: readonly string[]): Promise<boolean> {
    const { leaderId } = await partitionState(1, topic);
    if (leaderId < 0) return false;
    const records = encodeRecordBatch({
      partitionLeaderEpoch: -1,
      compression: CompressionType.None,
      records: values.map((value, index) => ({
        key: null,
        value: Buffer.from(value),
        timestamp: Date.now() + index,
      })),
    });
    return withConnection(
      leaderId,
      async (connection) =>
        (await producePartitionZero(connection, topic, records, 10_000, 15_000)).errorCode === ErrorCode.NONE,
    );
  }

  /** Every record value of partition 0 below the high watermark, fetched from broker `id`. */
  async function readAll(id: number, topic: string): Promise<string[]> {
    return withConnection(id, async (connection) => {
      const values: string[] = [];
      for (;;) {
        const partition = await fetchPartitionZero(connection, topic, values.length, 4 * 1024 * 1024, 10_000);
        if (partition.errorCode !== ErrorCode.NONE)
          throw new Error(`fetch from ${id}: error ${partition.errorCode}`);
        const before = values.length;
        for (const batch of iterateBatches(partition.records ?? Buffer.alloc(0))) {
          for (const record of batch.records) {
            if (record.offset >= values.length) {
              values.push(record.value?.toString() ?? '');
            }
          }
        }
        if (values.length === before) return values;
      }
    });
  }

  return { withConnection, partitionState, createTopic, produce, readAll };
}

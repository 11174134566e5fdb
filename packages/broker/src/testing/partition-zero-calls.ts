// Raw Kafka calls the multi-process integration tests make about partition 0 of a topic (create it
// on given replicas, produce acks=all to its leader, read it back from any replica, its replicas,
// leader and ISR as a broker reports them), on a connection opened for each call.

import { ApiKey, KafkaConnection } from '@gregor/client';
import { type WaitForOptions, waitFor } from '@gregor/ground/testing';
import { CompressionType, ErrorCode, encodeRecordBatch, iterateBatches } from '@gregor/protocol';
import type { ProcessCluster } from './process-cluster.js';

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

  async function createTopic(
    name: string,
    replicas: number[],
    configs: { name: string; value: string }[] = [],
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
                  assignments: [{ partitionIndex: 0, brokerIds: replicas }],
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
    return withConnection(leaderId, async (connection) => {
      const response = await connection.call(
        ApiKey.Produce,
        7,
        {
          transactionalId: null,
          acks: -1,
          timeoutMs: 10_000,
          topics: [{ name: topic, partitions: [{ partitionIndex: 0, records }] }],
        },
        15_000,
      );
      return response.responses[0]!.partitions[0]!.errorCode === ErrorCode.NONE;
    });
  }

  /** Every record value of partition 0 below the high watermark, fetched from broker `id`. */
  async function readAll(id: number, topic: string): Promise<string[]> {
    return withConnection(id, async (connection) => {
      const values: string[] = [];
      for (;;) {
        const fetched = await connection.call(
          ApiKey.Fetch,
          11,
          {
            replicaId: -1,
            maxWaitMs: 0,
            minBytes: 0,
            maxBytes: 4 * 1024 * 1024,
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
                    fetchOffset: BigInt(values.length),
                    logStartOffset: -1n,
                    partitionMaxBytes: 4 * 1024 * 1024,
                  },
                ],
              },
            ],
            forgottenTopicsData: [],
            rackId: '',
          },
          10_000,
        );
        const partition = fetched.responses[0]!.partitions[0]!;
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

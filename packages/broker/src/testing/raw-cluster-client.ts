// A small Kafka client over KafkaConnection for the replication integration tests: exact control
// of acks, batches and which broker is asked (kafkajs retries and reroutes on its own, which hides
// what the broker answered). Every call is bounded by a timeout.

import { KafkaConnection } from '@gregor/client';
import { ApiKey, CompressionType, decodeRecordBatch, ErrorCode, encodeRecordBatch } from '@gregor/protocol';
import type { ProcessCluster } from './process-cluster.js';

export const requestTimeoutMs = 10_000;

export interface PartitionView {
  readonly leaderId: number;
  readonly leaderEpoch: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  /** Replicas whose broker is down or whose log dir failed. */
  readonly offlineReplicas: readonly number[];
}

export interface ProduceOutcome {
  readonly errorCode: number;
  readonly baseOffset: number;
}

/** The producer fields of an idempotent producer's batch. */
export interface IdempotentProducer {
  readonly producerId: number;
  readonly producerEpoch: number;
}

export interface FetchedRecord {
  readonly offset: number;
  readonly value: string;
}

export class RawClusterClient {
  private readonly connections = new Map<number, KafkaConnection>();

  constructor(private readonly cluster: ProcessCluster) {}

  private isRunning(nodeId: number): boolean {
    const child = this.cluster.node(nodeId).process;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  }

  async connection(nodeId: number): Promise<KafkaConnection> {
    const existing = this.connections.get(nodeId);
    // A broker may close a connection after answering on it (a Metadata answer given without its
    // leader lease): reconnect, as a client does, instead of failing every later call on it.
    if (existing !== undefined && !existing.isClosed) return existing;
    const opened = await KafkaConnection.open({
      host: '127.0.0.1',
      port: this.cluster.node(nodeId).kafkaPort,
      connectTimeoutMs: 2_000,
    });
    this.connections.set(nodeId, opened);
    return opened;
  }

  /** Forgets a connection after an error, so the next call reconnects. */
  drop(nodeId: number): void {
    this.connections.get(nodeId)?.close();
    this.connections.delete(nodeId);
  }

  /** The partition as the first running node that answers sees it. */
  async partition(
    topic: string,
    index: number,
    viaIds?: readonly number[],
  ): Promise<PartitionView | undefined> {
    const candidates = viaIds ?? this.cluster.nodes.map((node) => node.id).filter((id) => this.isRunning(id));
    for (const nodeId of candidates) {
      try {
        const connection = await this.connection(nodeId);
        const metadata = await connection.call(
          ApiKey.Metadata,
          7,
          { topics: [{ name: topic }], allowAutoTopicCreation: false },
          requestTimeoutMs,
        );
        const state = metadata.topics[0]?.partitions.find((p) => p.partitionIndex === index);
        if (state === undefined) continue;
        return {
          leaderId: state.leaderId,
          leaderEpoch: state.leaderEpoch,
          replicas: state.replicaNodes,
          isr: state.isrNodes,
          offlineReplicas: state.offlineReplicas,
        };
      } catch {
        this.drop(nodeId);
      }
    }
    return undefined;
  }

  async createTopic(
    viaId: number,
    name: string,
    partitions: number,
    replicationFactor: number,
    configs: Record<string, string>,
  ): Promise<number> {
    const connection = await this.connection(viaId);
    const response = await connection.call(
      ApiKey.CreateTopics,
      3,
      {
        topics: [
          {
            name,
            numPartitions: partitions,
            replicationFactor,
            assignments: [],
            configs: Object.entries(configs).map(([configName, value]) => ({ name: configName, value })),
          },
        ],
        timeoutMs: 5_000,
        validateOnly: false,
      },
      requestTimeoutMs,
    );
    return response.topics[0]?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR;
  }

  /** A new idempotent producer id from `nodeId` (InitProducerId v1, what kafkajs sends). */
  async initProducerId(nodeId: number): Promise<{ errorCode: number } & IdempotentProducer> {
    const connection = await this.connection(nodeId);
    const response = await connection.call(
      ApiKey.InitProducerId,
      1,
      { transactionalId: null, transactionTimeoutMs: 60_000, producerId: -1n, producerEpoch: -1 },
      requestTimeoutMs,
    );
    return {
      errorCode: response.errorCode,
      producerId: Number(response.producerId),
      producerEpoch: response.producerEpoch,
    };
  }

  /** One batch of `values` to `leaderId`, Produce v7 (what kafkajs sends). */
  async produce(
    leaderId: number,
    topic: string,
    index: number,
    values: readonly string[],
    acks: number,
    timeoutMs = requestTimeoutMs,
  ): Promise<ProduceOutcome> {
    const records = encodeRecordBatch({
      partitionLeaderEpoch: -1,
      compression: CompressionType.None,
      records: values.map((value) => ({ key: null, value: Buffer.from(value), timestamp: Date.now() })),
    });
    return this.produceRecords(leaderId, topic, index, records, acks, timeoutMs);
  }

  /** `values` as one batch of an idempotent producer, its first record numbered `baseSequence`. */
  static idempotentBatch(
    producer: IdempotentProducer,
    baseSequence: number,
    values: readonly string[],
  ): Buffer {
    return encodeRecordBatch({
      partitionLeaderEpoch: -1,
      compression: CompressionType.None,
      producerId: producer.producerId,
      producerEpoch: producer.producerEpoch,
      baseSequence,
      records: values.map((value) => ({ key: null, value: Buffer.from(value), timestamp: Date.now() })),
    });
  }

  /** A record set as it is (a retry sends the very same bytes), Produce v7. */
  async produceRecords(
    leaderId: number,
    topic: string,
    index: number,
    records: Buffer,
    acks: number,
    timeoutMs = requestTimeoutMs,
  ): Promise<ProduceOutcome> {
    const connection = await this.connection(leaderId);
    const response = await connection.call(
      ApiKey.Produce,
      7,
      {
        transactionalId: null,
        acks,
        timeoutMs,
        topics: [{ name: topic, partitions: [{ partitionIndex: index, records }] }],
      },
      timeoutMs + requestTimeoutMs,
    );
    const result = response.responses[0]?.partitions[0];
    return {
      errorCode: result?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR,
      baseOffset: Number(result?.baseOffset ?? -1n),
    };
  }

  /** Reads every record (read_uncommitted, markers left out) below the high watermark from `nodeId` (it must lead). */
  async readAll(
    nodeId: number,
    topic: string,
    index: number,
  ): Promise<{ errorCode: number; highWatermark: number; records: FetchedRecord[] }> {
    const connection = await this.connection(nodeId);
    const records: FetchedRecord[] = [];
    let offset = 0;
    for (;;) {
      const response = await connection.call(
        ApiKey.Fetch,
        11,
        {
          replicaId: -1,
          maxWaitMs: 0,
          minBytes: 0,
          maxBytes: 16 * 1024 * 1024,
          isolationLevel: 0,
          sessionId: 0,
          sessionEpoch: -1,
          topics: [
            {
              topic,
              partitions: [
                {
                  partition: index,
                  currentLeaderEpoch: -1,
                  fetchOffset: BigInt(offset),
                  logStartOffset: -1n,
                  partitionMaxBytes: 8 * 1024 * 1024,
                },
              ],
            },
          ],
          forgottenTopicsData: [],
          rackId: '',
        },
        requestTimeoutMs,
      );
      const data = response.responses[0]?.partitions[0];
      if (data === undefined)
        return { errorCode: ErrorCode.UNKNOWN_SERVER_ERROR, highWatermark: -1, records };
      const highWatermark = Number(data.highWatermark);
      if (data.errorCode !== ErrorCode.NONE) return { errorCode: data.errorCode, highWatermark, records };
      const bytes = data.records ?? Buffer.alloc(0);
      let position = 0;
      while (position + 61 <= bytes.length) {
        const size = bytes.readInt32BE(position + 8) + 12;
        if (position + size > bytes.length) break;
        const batch = decodeRecordBatch(bytes, position);
        // Transaction markers are not records a producer wrote.
        for (const record of batch.header.isControl ? [] : batch.records) {
          if (record.offset >= offset)
            records.push({ offset: record.offset, value: record.value?.toString() ?? '' });
        }
        offset = batch.header.lastOffset + 1;
        position += size;
      }
      if (offset >= highWatermark || position === 0)
        return { errorCode: ErrorCode.NONE, highWatermark, records };
    }
  }

  close(): void {
    for (const connection of this.connections.values()) connection.close();
    this.connections.clear();
  }
}

// A transactional producer spoken directly on the wire, for integration tests that must control
// every sequence number, epoch and request version (a real client retries and renumbers on its own,
// which hides what the broker answered). Built on RawClusterClient's connections.

import type { KafkaConnection } from '@gregor/client';
import { waitFor } from '@gregor/ground/testing';
import { ApiKey, CompressionType, ErrorCode, encodeRecordBatch } from '@gregor/protocol';
import { type RawClusterClient, requestTimeoutMs } from './raw-cluster-client.js';

export interface RawTransactionalProducerOptions {
  readonly transactionalId: string;
  /** The node asked for the coordinator. */
  readonly viaNodeId: number;
  /** How long to wait for the coordinator (it loads __transaction_state first) and for markers. */
  readonly waitTimeoutMs: number;
  /** What to show when the coordinator never answers (e.g. the cluster's log tail). */
  readonly detail?: () => string;
}

export class RawTransactionalProducer {
  private constructor(
    readonly transactionalId: string,
    readonly coordinatorId: number,
    readonly coordinator: KafkaConnection,
    readonly producerId: bigint,
    readonly producerEpoch: number,
    private readonly waitTimeoutMs: number,
  ) {}

  /** FindCoordinator and InitProducerId (v3), asked again until the coordinator answers both. */
  static async init(
    client: RawClusterClient,
    options: RawTransactionalProducerOptions,
  ): Promise<RawTransactionalProducer> {
    const { transactionalId, waitTimeoutMs } = options;
    let producer: RawTransactionalProducer | undefined;
    await waitFor(
      'a transactional producer id',
      async () => {
        const found = await (await client.connection(options.viaNodeId)).call(
          ApiKey.FindCoordinator,
          3,
          { key: transactionalId, keyType: 1 },
          requestTimeoutMs,
        );
        if (found.errorCode !== ErrorCode.NONE) return false;
        const coordinator = await client.connection(found.nodeId);
        const init = await coordinator.call(
          ApiKey.InitProducerId,
          3,
          { transactionalId, transactionTimeoutMs: 60_000, producerId: -1n, producerEpoch: -1 },
          requestTimeoutMs,
        );
        if (init.errorCode !== ErrorCode.NONE) return false;
        producer = new RawTransactionalProducer(
          transactionalId,
          found.nodeId,
          coordinator,
          init.producerId,
          init.producerEpoch,
          waitTimeoutMs,
        );
        return true;
      },
      { timeoutMs: waitTimeoutMs, intervalMs: 200, ...(options.detail ? { detail: options.detail } : {}) },
    );
    return producer!;
  }

  /**
   * AddPartitionsToTxn (v3) of one partition, asked again while the previous transaction's markers
   * are being written (CONCURRENT_TRANSACTIONS); throws on any other refusal.
   */
  async addPartition(topic: string, partition: number): Promise<void> {
    await waitFor(
      'AddPartitionsToTxn',
      async () => {
        const response = await this.coordinator.call(
          ApiKey.AddPartitionsToTxn,
          3,
          {
            transactionalId: this.transactionalId,
            producerId: this.producerId,
            producerEpoch: this.producerEpoch,
            topics: [{ name: topic, partitions: [partition] }],
          },
          requestTimeoutMs,
        );
        const code = response.resultsByTopicV3AndBelow[0]?.resultsByPartition[0]?.partitionErrorCode;
        if (code === ErrorCode.CONCURRENT_TRANSACTIONS) return false;
        if (code !== ErrorCode.NONE)
          throw new Error(`AddPartitionsToTxn of ${topic}-${partition}: error ${code}`);
        return true;
      },
      { timeoutMs: this.waitTimeoutMs, intervalMs: 50 },
    );
  }

  /** EndTxn (v1); throws unless the coordinator takes it. */
  async end(committed: boolean): Promise<void> {
    const response = await this.coordinator.call(
      ApiKey.EndTxn,
      1,
      {
        transactionalId: this.transactionalId,
        producerId: this.producerId,
        producerEpoch: this.producerEpoch,
        committed,
      },
      requestTimeoutMs,
    );
    if (response.errorCode !== ErrorCode.NONE) throw new Error(`EndTxn: error ${response.errorCode}`);
  }

  /** A transactional batch of one record of this producer at `baseSequence`. */
  batch(baseSequence: number, value: string): Buffer {
    return encodeRecordBatch({
      partitionLeaderEpoch: -1,
      compression: CompressionType.None,
      producerId: Number(this.producerId),
      producerEpoch: this.producerEpoch,
      baseSequence,
      isTransactional: true,
      records: [{ key: null, value: Buffer.from(value), timestamp: Date.now() }],
    });
  }
}

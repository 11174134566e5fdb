// A one-broker cluster for producer tests whose leader answers Produce itself, in Kafka's order: a
// batch larger than the topic's max.message.bytes is refused MESSAGE_TOO_LARGE (LogValidator, before
// anything else), then an idempotent batch whose sequence is not the next of its producer is refused
// OUT_OF_ORDER_SEQUENCE_NUMBER (a producer the partition does not know yet may start anywhere) (a resend of the last one is answered DUPLICATE_SEQUENCE_NUMBER), and
// the rest is appended to the partition's log. Answers come a turn of the event loop later, so the
// sender has several batches in flight, as against a real leader. Transactions: the coordinator
// answers AddPartitionsToTxn and EndTxn at once and the log keeps each record's producer id.

import { ApiKey, ErrorCode, readBatchHeader } from '@gregor/protocol';
import { fetchedRecords } from '../consumer/fetch-records.js';
import { resolveRetry } from '../retry.js';

export interface LoggedRecord {
  readonly offset: number;
  readonly value: string;
  readonly producerId: number;
  readonly sequence: number;
}

export interface ProduceAnswer {
  readonly partition: number;
  readonly records: number;
  readonly bytes: number;
  readonly baseSequence: number;
  readonly errorCode: number;
}

interface ProducerState {
  epoch: number;
  /** The next sequence the leader takes from this producer. */
  nextSequence: number;
  lastBaseSequence: number;
  lastBaseOffset: number;
}

export class SizeLimitedProduceCluster {
  readonly retry = resolveRetry({ retries: 0, initialRetryTime: 1, maxRetryTime: 2 });
  /** Every batch the leader answered, in order, with its answer. */
  readonly answers: ProduceAnswer[] = [];
  readonly logs = new Map<number, LoggedRecord[]>();
  private readonly producers = new Map<string, ProducerState>();
  private nextProducerId = 7;

  constructor(
    private readonly partitionCount: number,
    /** The topic's max.message.bytes: the largest batch (on the wire) the leader appends. */
    readonly maxMessageBytes: number,
  ) {}

  async connect(): Promise<void> {}
  disconnect(): void {}
  async ensureTopics(): Promise<void> {}
  addTargetTopics(): void {}
  async refreshMetadata(): Promise<void> {}
  async findCoordinator(): Promise<number> {
    return 1;
  }
  /** The classic transaction protocol: transaction.version is not finalized at 2 here. */
  async finalizedFeatureLevel(): Promise<number> {
    return 0;
  }
  leaderFor(): number {
    return 1;
  }
  topicMetadata(topic: string) {
    return {
      name: topic,
      partitions: Array.from({ length: this.partitionCount }, (_, partitionId) => ({
        partitionErrorCode: 0,
        partitionId,
        leader: 1,
        leaderEpoch: 0,
        replicas: [1],
        isr: [1],
        offlineReplicas: [],
      })),
    };
  }

  log(partition: number): LoggedRecord[] {
    let log = this.logs.get(partition);
    if (log === undefined) {
      log = [];
      this.logs.set(partition, log);
    }
    return log;
  }

  sendAny(apiKey: number, body: Record<string, unknown>): Promise<unknown> {
    return this.send(1, apiKey, body);
  }

  /** No topic ids: Produce goes by name. */
  topicIdOf(): string | undefined {
    return undefined;
  }
  sendVersioned(
    nodeId: number,
    apiKey: number,
    body: (version: number) => Record<string, unknown>,
    _timeoutMs?: number,
    maxVersion = 8,
  ): Promise<unknown> {
    return this.send(nodeId, apiKey, body(maxVersion));
  }
  send(_nodeId: number, apiKey: number, body: Record<string, unknown>): Promise<unknown> {
    switch (apiKey) {
      case ApiKey.InitProducerId:
        // A new producer id each time: a producer that left a gap starts its sequences again at 0.
        return Promise.resolve({ errorCode: 0, producerId: BigInt(this.nextProducerId++), producerEpoch: 0 });
      case ApiKey.AddPartitionsToTxn:
        return Promise.resolve({
          resultsByTopicV3AndBelow: (body.topics as { name: string; partitions: number[] }[]).map(
            (topic) => ({
              name: topic.name,
              resultsByPartition: topic.partitions.map((partitionIndex) => ({
                partitionIndex,
                partitionErrorCode: 0,
              })),
            }),
          ),
        });
      case ApiKey.EndTxn:
        return Promise.resolve({ errorCode: 0 });
      case ApiKey.Produce:
        return new Promise((resolve) => setImmediate(() => resolve(this.produce(body))));
      default:
        return Promise.reject(new Error(`unexpected request ${apiKey}`));
    }
  }

  private produce(body: Record<string, unknown>) {
    const topics = body.topics as {
      name: string;
      partitions: { partitionIndex: number; records: Buffer }[];
    }[];
    return {
      responses: topics.map((topic) => ({
        name: topic.name,
        partitions: topic.partitions.map(({ partitionIndex, records }) => {
          const { errorCode, baseOffset } = this.append(partitionIndex, records);
          return {
            partitionIndex,
            errorCode,
            baseOffset: BigInt(baseOffset),
            logAppendTimeMs: -1n,
            logStartOffset: 0n,
            errorMessage: null,
          };
        }),
      })),
    };
  }

  private append(partition: number, records: Buffer): { errorCode: number; baseOffset: number } {
    const header = readBatchHeader(records);
    const answer = (errorCode: number, baseOffset = -1) => {
      this.answers.push({
        partition,
        records: header.recordsCount,
        bytes: header.sizeBytes,
        baseSequence: header.baseSequence,
        errorCode,
      });
      return { errorCode, baseOffset };
    };
    if (header.sizeBytes > this.maxMessageBytes) return answer(ErrorCode.MESSAGE_TOO_LARGE);
    const log = this.log(partition);
    if (header.producerId >= 0) {
      const key = `${partition}:${header.producerId}`;
      // A producer the partition does not know may start at any sequence (Kafka since 2.5, KIP-360,
      // and Gregor's leader): its first batch to arrive sets where the rest must follow.
      const known = this.producers.get(key);
      const state = known ?? {
        epoch: header.producerEpoch,
        nextSequence: header.baseSequence,
        lastBaseSequence: -1,
        lastBaseOffset: -1,
      };
      if (header.baseSequence === state.lastBaseSequence) {
        return answer(ErrorCode.DUPLICATE_SEQUENCE_NUMBER, state.lastBaseOffset);
      }
      if (header.baseSequence !== state.nextSequence) return answer(ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
      state.nextSequence = header.baseSequence + header.recordsCount;
      state.lastBaseSequence = header.baseSequence;
      state.lastBaseOffset = log.length;
      this.producers.set(key, state);
    }
    const baseOffset = log.length;
    const messages = fetchedRecords(records, 0n, null).messages;
    messages.forEach((message, index) => {
      log.push({
        offset: baseOffset + index,
        value: message.value!.toString(),
        producerId: header.producerId,
        sequence: header.producerId >= 0 ? header.baseSequence + index : -1,
      });
    });
    return answer(ErrorCode.NONE, baseOffset);
  }
}

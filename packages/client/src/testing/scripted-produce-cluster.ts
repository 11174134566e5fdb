// A cluster of one broker for producer tests: it leads every partition, answers InitProducerId at
// once and holds each Produce request until the test answers it, so a test sees exactly what is in
// flight at each step.

import { ApiKey } from '@gregor/protocol';
import { fetchedRecords } from '../consumer/fetch-records.js';
import { resolveRetry } from '../retry.js';

export interface ProduceCall {
  /** The Produce version the request was sent at. */
  readonly version: number;
  /** The first topic's name (below v13) or id (v13). */
  readonly topic: string;
  /** Each partition's batch: its values, and the buffer the request carried it in. */
  readonly partitions: { partition: number; values: string[]; records: Buffer }[];
  readonly answer: (errorCode?: number) => void;
}

export interface ScriptedProduceClusterOptions {
  /** The topic ids the metadata gives (none by default: Produce by name). */
  readonly topicIds?: ReadonlyMap<string, string>;
  /** The highest Produce version the broker serves (13 by default). */
  readonly produceVersionMax?: number;
}

/**
 * One broker leading `partitionCount` partitions; Produce answers wait for the test. A Produce at
 * v13 names its topics by id, and is answered by id (with empty names), as a broker does.
 */
export class ScriptedProduceCluster {
  readonly retry = resolveRetry({ retries: 0, initialRetryTime: 1, maxRetryTime: 2 });
  readonly produces: ProduceCall[] = [];
  private nextOffset = 0n;
  constructor(
    private readonly partitionCount: number,
    private readonly options: ScriptedProduceClusterOptions = {},
  ) {}
  topicIdOf(topic: string): string | undefined {
    return this.options.topicIds?.get(topic);
  }
  async connect(): Promise<void> {}
  disconnect(): void {}
  async ensureTopics(): Promise<void> {}
  addTargetTopics(): void {}
  async refreshMetadata(): Promise<void> {}
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
  sendAny(apiKey: number, body: Record<string, unknown>): Promise<unknown> {
    return this.send(1, apiKey, body);
  }
  sendVersioned(
    nodeId: number,
    apiKey: number,
    body: (version: number) => Record<string, unknown>,
    _timeoutMs?: number,
    maxVersion = 8,
  ): Promise<unknown> {
    const version = Math.min(maxVersion, this.options.produceVersionMax ?? 13);
    return this.send(nodeId, apiKey, body(version), version);
  }
  send(_nodeId: number, apiKey: number, body: Record<string, unknown>, version = 8): Promise<unknown> {
    if (apiKey === ApiKey.InitProducerId)
      return Promise.resolve({ errorCode: 0, producerId: 7n, producerEpoch: 0 });
    if (apiKey !== ApiKey.Produce) return Promise.reject(new Error(`unexpected request ${apiKey}`));
    const topics = body.topics as {
      name: string;
      topicId?: string;
      partitions: { partitionIndex: number; records: Buffer }[];
    }[];
    const byId = version >= 13;
    return new Promise((resolve) => {
      this.produces.push({
        version,
        topic: byId ? topics[0]!.topicId! : topics[0]!.name,
        partitions: topics[0]!.partitions.map(({ partitionIndex, records }) => ({
          partition: partitionIndex,
          values: fetchedRecords(records, 0n, null).messages.map((message) => message.value!.toString()),
          records,
        })),
        answer: (errorCode = 0) => {
          const baseOffset = this.nextOffset;
          this.nextOffset += 1000n;
          resolve({
            responses: topics.map((topic) => ({
              name: byId ? '' : topic.name,
              ...(byId ? { topicId: topic.topicId } : {}),
              partitions: topic.partitions.map(({ partitionIndex }) => ({
                partitionIndex,
                errorCode,
                baseOffset,
                logAppendTimeMs: -1n,
                logStartOffset: 0n,
                errorMessage: null,
              })),
            })),
          });
        },
      });
    });
  }
  /** Answers every Produce not answered yet. */
  answerAll(): number {
    const calls = this.produces.splice(0);
    for (const call of calls) call.answer();
    return calls.length;
  }
}

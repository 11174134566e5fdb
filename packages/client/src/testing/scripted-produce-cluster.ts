// A cluster of one broker for producer tests: it leads every partition, answers InitProducerId at
// once and holds each Produce request until the test answers it, so a test sees exactly what is in
// flight at each step.

import { ApiKey } from '@gregor/protocol';
import { fetchedRecords } from '../consumer/fetch-records.js';
import { resolveRetry } from '../retry.js';

export interface ProduceCall {
  readonly partitions: { partition: number; values: string[] }[];
  readonly answer: (errorCode?: number) => void;
}

/** One broker leading `partitionCount` partitions; Produce answers wait for the test. */
export class ScriptedProduceCluster {
  readonly retry = resolveRetry({ retries: 0, initialRetryTime: 1, maxRetryTime: 2 });
  readonly produces: ProduceCall[] = [];
  private nextOffset = 0n;
  constructor(private readonly partitionCount: number) {}
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
  send(_nodeId: number, apiKey: number, body: Record<string, unknown>): Promise<unknown> {
    if (apiKey === ApiKey.InitProducerId)
      return Promise.resolve({ errorCode: 0, producerId: 7n, producerEpoch: 0 });
    if (apiKey !== ApiKey.Produce) return Promise.reject(new Error(`unexpected request ${apiKey}`));
    const topics = body.topics as {
      name: string;
      partitions: { partitionIndex: number; records: Buffer }[];
    }[];
    return new Promise((resolve) => {
      this.produces.push({
        partitions: topics[0]!.partitions.map(({ partitionIndex, records }) => ({
          partition: partitionIndex,
          values: fetchedRecords(records, 0n, null).messages.map((message) => message.value!.toString()),
        })),
        answer: (errorCode = 0) => {
          const baseOffset = this.nextOffset;
          this.nextOffset += 1000n;
          resolve({
            responses: topics.map((topic) => ({
              name: topic.name,
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

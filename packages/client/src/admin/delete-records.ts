// kafkajs's deleteTopicRecords over DeleteRecords: each partition's request goes to its leader
// ('-1' deletes up to the high watermark); a leader that moved is asked again after a metadata
// refresh. Partitions the leaders refuse are reported together in a KafkaJSDeleteTopicRecordsError.

import { ApiKey, ErrorCode } from '@gregor/protocol';
import type { Cluster } from '../cluster.js';
import { KafkaJSDeleteTopicRecordsError, KafkaJSError, KafkaJSProtocolError } from '../errors.js';
import { withRetry } from '../retry.js';

/** How long a leader may wait for its followers to reach the new log start (Kafka's admin default). */
export const deleteRecordsTimeoutMs = 30_000;

export async function deleteTopicRecords(
  cluster: Cluster,
  topic: string,
  partitions: readonly { readonly partition: number; readonly offset: string }[],
): Promise<void> {
  if (topic === '') throw new KafkaJSError(`Invalid topic "${topic}"`);
  if (partitions.length === 0) throw new KafkaJSError('Invalid partitions');
  await cluster.ensureTopics([topic]);
  let remaining = [...partitions];
  const refused: { partition: number; offset: string; error: KafkaJSProtocolError }[] = [];
  await withRetry(
    cluster.retry,
    async () => {
      const byLeader = new Map<number, { partition: number; offset: string }[]>();
      for (const entry of remaining) {
        const leader = cluster
          .topicMetadata(topic)
          ?.partitions.find((p) => p.partitionId === entry.partition)?.leader;
        if (leader === undefined || leader < 0) {
          throw new KafkaJSProtocolError(ErrorCode.LEADER_NOT_AVAILABLE, `${topic}[${entry.partition}]`);
        }
        byLeader.set(leader, [...(byLeader.get(leader) ?? []), entry]);
      }
      const retry: { partition: number; offset: string }[] = [];
      let retriable: KafkaJSProtocolError | undefined;
      await Promise.all(
        [...byLeader].map(async ([leader, entries]) => {
          const response = await cluster.send(
            leader,
            ApiKey.DeleteRecords,
            {
              topics: [
                {
                  name: topic,
                  partitions: entries.map((entry) => ({
                    partitionIndex: entry.partition,
                    offset: BigInt(entry.offset),
                  })),
                },
              ],
              timeoutMs: deleteRecordsTimeoutMs,
            },
            deleteRecordsTimeoutMs + 5_000,
          );
          for (const result of response.topics[0]?.partitions ?? []) {
            if (result.errorCode === ErrorCode.NONE) continue;
            const entry = entries.find((candidate) => candidate.partition === result.partitionIndex)!;
            const error = new KafkaJSProtocolError(result.errorCode, `${topic}[${result.partitionIndex}]`);
            if (error.retriable) {
              retry.push(entry);
              retriable = error;
            } else refused.push({ ...entry, error });
          }
        }),
      );
      remaining = retry;
      if (retriable !== undefined) throw retriable;
    },
    () => cluster.refreshMetadata([topic]),
  );
  if (refused.length > 0) throw new KafkaJSDeleteTopicRecordsError(topic, refused);
}

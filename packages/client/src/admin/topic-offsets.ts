// ListOffsets for every partition of a topic, asked of each partition's leader: earliest (-2),
// latest (-1) or the first offset at or after a timestamp. Retried with a metadata refresh when a
// leader moved.

import { ApiKey, ErrorCode } from '@gregor/protocol';
import type { Cluster } from '../cluster.js';
import { KafkaJSProtocolError } from '../errors.js';
import { withRetry } from '../retry.js';

/** Each partition's offset for `timestamp` (-1 when a timestamp is past every record), by partition. */
export async function listTopicOffsets(
  cluster: Cluster,
  topic: string,
  timestamp: bigint,
): Promise<Map<number, bigint>> {
  await cluster.ensureTopics([topic]);
  return withRetry(
    cluster.retry,
    async () => {
      const byLeader = new Map<number, number[]>();
      for (const partition of cluster.topicMetadata(topic)!.partitions) {
        byLeader.set(partition.leader, [...(byLeader.get(partition.leader) ?? []), partition.partitionId]);
      }
      const result = new Map<number, bigint>();
      await Promise.all(
        [...byLeader].map(async ([leader, partitions]) => {
          if (leader < 0) throw new KafkaJSProtocolError(ErrorCode.LEADER_NOT_AVAILABLE, topic);
          const response = await cluster.send(leader, ApiKey.ListOffsets, {
            replicaId: -1,
            isolationLevel: 0,
            topics: [
              {
                name: topic,
                partitions: partitions.map((partitionIndex) => ({
                  partitionIndex,
                  currentLeaderEpoch: -1,
                  timestamp,
                  maxNumOffsets: 1,
                })),
              },
            ],
          });
          for (const partition of response.topics[0]?.partitions ?? []) {
            if (partition.errorCode !== 0)
              throw new KafkaJSProtocolError(partition.errorCode, `${topic}[${partition.partitionIndex}]`);
            result.set(partition.partitionIndex, partition.offset);
          }
        }),
      );
      return new Map([...result].sort((a, b) => a[0] - b[0]));
    },
    () => cluster.refreshMetadata([topic]),
  );
}

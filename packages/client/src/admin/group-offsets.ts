// A group's committed offsets, read and changed from outside the group, as kafkajs's admin and
// Kafka's kafka-consumer-groups.sh do: OffsetFetch and OffsetCommit at the group's coordinator. A
// commit from outside carries no member (generation -1), which the coordinator accepts only while
// the group is Empty; earliest/latest are resolved to real offsets before they are committed, so
// any client reading the group later starts there.

import { ApiKey, ErrorCode, earliestTimestamp, latestTimestamp } from '@gregor/protocol';
import type { Cluster } from '../cluster.js';
import { KafkaJSError, KafkaJSProtocolError } from '../errors.js';
import { withRetry } from '../retry.js';
import { listTopicOffsets } from './topic-offsets.js';

export interface FetchOffsetsPartition {
  readonly partition: number;
  /** The committed offset, '-1' where the group committed none. */
  readonly offset: string;
  readonly metadata: string | null;
}

export interface TopicOffsets {
  readonly topic: string;
  readonly partitions: FetchOffsetsPartition[];
}

/** The group's committed offsets of `topics` (every partition), or of every topic it committed. */
export async function fetchGroupOffsets(
  cluster: Cluster,
  groupId: string,
  topics: readonly string[] | undefined,
  resolveOffsets: boolean,
): Promise<TopicOffsets[]> {
  if (topics !== undefined) await cluster.ensureTopics(topics);
  const fetched = await withRetry(cluster.retry, async () => {
    const coordinator = await cluster.findCoordinator(groupId);
    const response = await cluster.sendVersioned(coordinator, ApiKey.OffsetFetch, (version) => ({
      groupId,
      topics:
        topics === undefined
          ? null
          : topics.map((name) => ({
              name,
              partitionIndexes: cluster
                .topicMetadata(name)!
                .partitions.map((partition) => partition.partitionId),
            })),
      groups: [],
      // Stable offsets need v7; against an older broker Java's consumer asks without, as here.
      requireStable: version >= 7,
    }));
    if (response.errorCode !== 0)
      throw new KafkaJSProtocolError(response.errorCode, `offsets of group ${groupId}`);
    return response.topics.map((topic) => ({
      topic: topic.name,
      partitions: topic.partitions.map((partition) => {
        if (partition.errorCode !== 0)
          throw new KafkaJSProtocolError(partition.errorCode, `${topic.name}[${partition.partitionIndex}]`);
        return {
          partition: partition.partitionIndex,
          offset: String(partition.committedOffset),
          metadata: partition.metadata,
        };
      }),
    }));
  });
  const ordered = fetched
    .map((topic) => ({ ...topic, partitions: topic.partitions.sort((a, b) => a.partition - b.partition) }))
    .sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0));
  if (!resolveOffsets) return ordered;
  // As kafkajs: -1 (nothing committed, or "latest") reads as the partition's end, -2 as its start.
  return Promise.all(
    ordered.map(async ({ topic, partitions }) => {
      const needs = (offset: string) => partitions.some((partition) => partition.offset === offset);
      const [low, high] = await Promise.all([
        needs('-2') ? listTopicOffsets(cluster, topic, earliestTimestamp) : undefined,
        needs('-1') ? listTopicOffsets(cluster, topic, latestTimestamp) : undefined,
      ]);
      return {
        topic,
        partitions: partitions.map((partition) => {
          const resolved =
            partition.offset === '-2'
              ? low?.get(partition.partition)
              : partition.offset === '-1'
                ? high?.get(partition.partition)
                : undefined;
          return resolved === undefined ? partition : { ...partition, offset: String(resolved) };
        }),
      };
    }),
  );
}

/**
 * Commits `partitions` of `topic` for a group with no running member. An offset of -2 or -1 is the
 * partition's earliest or latest offset, looked up first.
 */
export async function setGroupOffsets(
  cluster: Cluster,
  groupId: string,
  topic: string,
  partitions: readonly { readonly partition: number; readonly offset: string }[],
): Promise<void> {
  const wanted = partitions.map(({ partition, offset }) => {
    const value = BigInt(offset);
    if (value < -2n) throw new KafkaJSError(`cannot set ${topic}[${partition}] to offset ${offset}`);
    return { partition, offset: value };
  });
  const needs = (special: bigint) => wanted.some((entry) => entry.offset === special);
  const [low, high] = await Promise.all([
    needs(-2n) ? listTopicOffsets(cluster, topic, earliestTimestamp) : undefined,
    needs(-1n) ? listTopicOffsets(cluster, topic, latestTimestamp) : undefined,
  ]);
  const resolved = wanted.map(({ partition, offset }) => {
    const value = offset === -2n ? low?.get(partition) : offset === -1n ? high?.get(partition) : offset;
    if (value === undefined)
      throw new KafkaJSProtocolError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `${topic}[${partition}]`);
    return { partition, offset: value };
  });
  await withRetry(cluster.retry, async () => {
    const coordinator = await cluster.findCoordinator(groupId);
    const response = await cluster.send(coordinator, ApiKey.OffsetCommit, {
      groupId,
      generationId: -1,
      memberId: '',
      groupInstanceId: null,
      topics: [
        {
          name: topic,
          partitions: resolved.map(({ partition, offset }) => ({
            partitionIndex: partition,
            committedOffset: offset,
            committedLeaderEpoch: -1,
            commitTimestamp: -1n,
            committedMetadata: null,
          })),
        },
      ],
    });
    for (const responseTopic of response.topics) {
      for (const partition of responseTopic.partitions) {
        if (partition.errorCode === ErrorCode.UNKNOWN_MEMBER_ID) {
          // Only an Empty group takes a commit without a member: say why, as kafkajs does.
          throw new KafkaJSError(`The consumer group ${groupId} must have no running instances`);
        }
        if (partition.errorCode !== 0)
          throw new KafkaJSProtocolError(
            partition.errorCode,
            `committing ${topic}[${partition.partitionIndex}]`,
          );
      }
    }
  });
}

/** Moves every partition of `topic` to its earliest (or latest) offset for a group with no running member. */
export async function resetGroupOffsets(
  cluster: Cluster,
  groupId: string,
  topic: string,
  earliest: boolean,
): Promise<void> {
  const offsets = await listTopicOffsets(cluster, topic, earliest ? earliestTimestamp : latestTimestamp);
  await setGroupOffsets(
    cluster,
    groupId,
    topic,
    [...offsets].map(([partition, offset]) => ({ partition, offset: String(offset) })),
  );
}

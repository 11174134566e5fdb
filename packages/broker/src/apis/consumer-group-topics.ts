// The topics a KIP-848 consumer group's subscriptions resolve against: the metadata image's
// non-internal topics, with their wire topic ids and partition counts. Built once per image.

import { type ConsumerTopicsImage, consumerTopicsImage } from '@gregor/group';
import type { MetadataImage } from '@gregor/metadata';
import { internalTopicNames } from './metadata.js';
import { topicIdToWire } from './topic-ids.js';

const built = new WeakMap<MetadataImage, ConsumerTopicsImage>();

export function consumerTopicsOf(image: MetadataImage): ConsumerTopicsImage {
  let topics = built.get(image);
  if (topics === undefined) {
    topics = consumerTopicsImage(
      [...image.topics.values()]
        .filter((topic) => !internalTopicNames.has(topic.name))
        .map((topic) => ({
          topicId: topicIdToWire(topic.topicId),
          name: topic.name,
          partitionCount: topic.partitions.length,
        })),
    );
    built.set(image, topics);
  }
  return topics;
}

/**
 * Whether the KIP-848 consumer group protocol is on: group.version finalized at 1 or more, as
 * Kafka's brokers decide (a new cluster starts at 1). Off, ConsumerGroupHeartbeat and
 * ConsumerGroupDescribe are left out of ApiVersions and answer UNSUPPORTED_VERSION.
 */
export function consumerGroupProtocolEnabled(image: MetadataImage): boolean {
  return image.finalizedFeatureLevel('group.version') >= 1;
}

/** Kafka's message when the consumer group protocol is off. */
export const consumerGroupProtocolDisabledMessage =
  'The new group coordinator is not enabled: group.version is not finalized at 1 or more.';

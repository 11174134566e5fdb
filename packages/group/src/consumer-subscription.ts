// The topics of a consumer's subscription, from the metadata a member of a "consumer" group joins
// with (Kafka's ConsumerProtocolSubscription, every version starts the same way):
//   Subscription v0+ => version int16 [topics string] user_data(nullable bytes) ...
// OffsetDelete refuses partitions of topics a member subscribes to (GROUP_SUBSCRIBED_TO_TOPIC).

import { DecodeError, Reader } from '@gregor/protocol';

/** Topics one subscription may list; more is corrupt bytes, not a consumer. */
export const subscriptionTopicsMax = 100_000;

/** The subscribed topics, or null when the bytes are not a consumer subscription. */
export function subscribedTopicsOf(metadata: Buffer): string[] | null {
  try {
    const reader = new Reader(metadata);
    reader.int16();
    const count = reader.int32();
    if (count < 0 || count > subscriptionTopicsMax) return null;
    const topics: string[] = [];
    for (let i = 0; i < count; i++) topics.push(reader.string());
    return topics;
  } catch (error) {
    if (error instanceof DecodeError) return null;
    throw error;
  }
}

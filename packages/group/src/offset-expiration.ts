// Which committed offsets of a KIP-848 consumer group have expired (Kafka's
// OffsetMetadataManager.cleanupExpiredOffsets with ConsumerGroup's expiration condition): an offset
// of a topic no member subscribes to expires `offsets.retention.minutes` after its commit, or at its
// own expire timestamp when the commit carried one (OffsetCommit v1-4's retention time). Offsets
// being committed or held by an open transaction do not expire, and keep the group from being
// all-expired; so does every offset of a subscribed topic.

import type { Group } from './group.js';
import type { OffsetCommitValue } from './offsets-records.js';

export interface ExpiredOffset {
  readonly topic: string;
  readonly partition: number;
  /** The value that expired: a commit replacing it meanwhile keeps the partition's offset. */
  readonly value: OffsetCommitValue;
}

/** Kafka's OffsetExpirationConditionImpl.isOffsetExpired with the commit timestamp as base. */
export function isOffsetExpired(value: OffsetCommitValue, nowMs: number, retentionMs: number): boolean {
  if (value.expireTimestampMs !== -1) return nowMs >= value.expireTimestampMs;
  return nowMs - value.commitTimestampMs >= retentionMs;
}

/**
 * The expired offsets of the group whose offsets `holder` keeps (undefined: it has none), and
 * whether every offset expired with nothing pending, which lets an empty group be deleted.
 */
export function expiredOffsets(
  holder: Group | undefined,
  isSubscribed: (topic: string) => boolean,
  nowMs: number,
  retentionMs: number,
): { expired: ExpiredOffset[]; allExpired: boolean } {
  if (holder === undefined) return { expired: [], allExpired: true };
  const pending = new Set(holder.pendingCommitKeys().map((key) => key.id));
  let allExpired = pending.size === 0 && holder.pendingTransactionalOffsets.size === 0;
  const expired: ExpiredOffset[] = [];
  for (const { topic, partition, value } of holder.allCommittedOffsets()) {
    if (
      !isSubscribed(topic) &&
      isOffsetExpired(value, nowMs, retentionMs) &&
      !pending.has(`${topic}\u0000${partition}`) &&
      !holder.hasPendingTransactionalOffset(topic, partition)
    ) {
      expired.push({ topic, partition, value });
    } else {
      allExpired = false;
    }
  }
  return { expired, allExpired };
}

// Which committed offsets of a group have expired (Kafka's OffsetMetadataManager.cleanupExpiredOffsets
// with each group type's OffsetExpirationCondition), and whether all did, which lets an Empty group
// be deleted. An offset expires `offsets.retention.minutes` after its condition's base timestamp, or
// at its own expire timestamp when the commit carried one (OffsetCommit v1-4's retention time).
// Offsets of a subscribed topic, being committed, or held by an open transaction do not expire, and
// keep the group from being all-expired.
//
// The base timestamp, by group type and state:
//   - a KIP-848 consumer group (ConsumerGroup.offsetExpirationCondition): the commit's, for topics no
//     member subscribes to by name or regex;
//   - a classic group with a protocol type (members joined it once; ClassicGroup's condition):
//       Empty: when it became Empty (its current-state timestamp, as the log's GroupMetadataValue
//         holds it), or the commit's when that is later (see `classicExpirationCondition`);
//       Stable with protocol type "consumer" and readable subscriptions: the commit's, for topics
//         no member subscribes to;
//       otherwise (rebalancing, or members of another protocol type): nothing expires;
//   - a classic group without a protocol type (standalone commits: assign() and commit, an admin's
//     offsets): the commit's.

import type { Group } from './group.js';
import { noTimestamp, type OffsetCommitValue } from './offsets-records.js';

export interface ExpiredOffset {
  readonly topic: string;
  readonly partition: number;
  /** The value that expired: a commit replacing it meanwhile keeps the partition's offset. */
  readonly value: OffsetCommitValue;
}

/** Kafka's OffsetExpirationCondition: where an offset's retention starts, and which topics are in use. */
export interface ExpirationCondition {
  readonly retentionBaseMs: (value: OffsetCommitValue) => number;
  readonly isSubscribed: (topic: string) => boolean;
}

const commitTimestampOf = (value: OffsetCommitValue): number => value.commitTimestampMs;

/** A KIP-848 consumer group's condition: retention from each commit, subscribed topics kept. */
export function consumerExpirationCondition(isSubscribed: (topic: string) => boolean): ExpirationCondition {
  return { retentionBaseMs: commitTimestampOf, isSubscribed };
}

/**
 * Kafka's ClassicGroup.offsetExpirationCondition, or null when none of the group's offsets may expire
 * in its current state. `subscribedTopics` is asked only for a Stable "consumer" group: the topics its
 * members subscribe to, 'all' when that cannot be known (unreadable subscriptions).
 *
 * One difference, on purpose: an Empty group's offset committed after the group became Empty (an
 * assign()-and-commit consumer or an admin resetting offsets) is kept a full retention from its own
 * commit. Kafka counts from the Empty transition alone, so it may expire such a commit at the next
 * cycle.
 */
export function classicExpirationCondition(
  group: Group,
  subscribedTopics: () => ReadonlySet<string> | 'all',
): ExpirationCondition | null {
  const nothingSubscribed = (): boolean => false;
  if (group.protocolType === null)
    return { retentionBaseMs: commitTimestampOf, isSubscribed: nothingSubscribed };
  if (group.is('Empty')) {
    // A GroupMetadataValue before v2 has no timestamp (noTimestamp, -1): the commit's counts, as Kafka.
    const emptySinceMs = group.stateTimestampMs;
    return {
      retentionBaseMs: (value) => Math.max(emptySinceMs, value.commitTimestampMs),
      isSubscribed: nothingSubscribed,
    };
  }
  if (group.is('Stable') && group.protocolType === 'consumer') {
    const topics = subscribedTopics();
    if (topics === 'all') return null;
    return { retentionBaseMs: commitTimestampOf, isSubscribed: (topic) => topics.has(topic) };
  }
  return null;
}

/** Kafka's OffsetExpirationConditionImpl.isOffsetExpired. */
export function isOffsetExpired(
  value: OffsetCommitValue,
  nowMs: number,
  retentionMs: number,
  retentionBaseMs: number = value.commitTimestampMs,
): boolean {
  if (value.expireTimestampMs !== noTimestamp) return nowMs >= value.expireTimestampMs;
  return nowMs - retentionBaseMs >= retentionMs;
}

/**
 * The expired offsets of the group whose offsets `holder` keeps (undefined: it has none), and
 * whether every offset expired with nothing pending, which lets an empty group be deleted.
 */
export function expiredOffsets(
  holder: Group | undefined,
  condition: ExpirationCondition,
  nowMs: number,
  retentionMs: number,
): { expired: ExpiredOffset[]; allExpired: boolean } {
  if (holder === undefined) return { expired: [], allExpired: true };
  const pending = new Set(holder.pendingCommitKeys().map((key) => key.id));
  let allExpired = pending.size === 0 && holder.pendingTransactionalOffsets.size === 0;
  const expired: ExpiredOffset[] = [];
  for (const { topic, partition, value } of holder.allCommittedOffsets()) {
    if (
      !condition.isSubscribed(topic) &&
      isOffsetExpired(value, nowMs, retentionMs, condition.retentionBaseMs(value)) &&
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

// Where a follower's log split from its leader's, decided from leader-epoch caches (KIP-101,
// KIP-595's DivergingEpoch in Fetch, as Kafka's Partition.fetchRecords and
// AbstractFetcherThread.truncateOnFetchResponse do it). Pure functions over the caches' entries.
//
// The follower sends (fetchOffset = its log end, lastFetchedEpoch = the latest epoch in its cache).
// The leader looks up the largest epoch <= lastFetchedEpoch in its own cache and where that epoch
// ends. If the leader's epoch is older than the follower's, or ends before fetchOffset, the follower
// holds offsets the leader does not (written by a leader that lost them, or never committed):
// the leader answers DivergingEpoch {epoch, endOffset} instead of records. The follower truncates
// to where the two agree and fetches again; each round removes at least one epoch from the follower,
// so a few rounds settle even long histories of failed leaders.

import { type EpochEndOffset, type LeaderEpochCache, undefinedEpoch } from './leader-epoch-cache.js';

/**
 * Leader side: the diverging epoch to send back, or undefined when the follower's log is a prefix
 * of this leader's (or the check cannot be made: a follower with an empty cache sends -1, and a
 * leader with an empty cache leaves the fetch to the offset range checks). A follower whose last
 * epoch is older than every epoch the leader knows diverges where the leader's first epoch starts.
 */
export function divergingEpoch(
  leaderCache: LeaderEpochCache,
  leaderLogEndOffset: number,
  fetchOffset: number,
  lastFetchedEpoch: number,
): EpochEndOffset | undefined {
  if (lastFetchedEpoch === undefinedEpoch) return undefined;
  const leaderEnd = leaderCache.endOffsetFor(lastFetchedEpoch, leaderLogEndOffset);
  if (leaderEnd.epoch === undefinedEpoch) return undefined;
  if (leaderEnd.epoch < lastFetchedEpoch || leaderEnd.endOffset < fetchOffset) return leaderEnd;
  return undefined;
}

/**
 * Follower side: the offset to truncate to after the leader answered `diverging`. If the follower
 * has the same epoch, both logs agree up to the smaller of the two end offsets. If it does not (it
 * never saw that epoch), it keeps what ends its own largest epoch below, capped at the leader's end
 * offset; its next fetch then names that older epoch and the leader checks again.
 * The result never exceeds the follower's log end.
 */
export function followerTruncationOffset(
  diverging: EpochEndOffset,
  followerCache: LeaderEpochCache,
  followerLogEndOffset: number,
): number {
  const own = followerCache.endOffsetFor(diverging.epoch, followerLogEndOffset);
  if (own.epoch === undefinedEpoch) {
    // Every epoch this follower knows is newer than the leader's: only what the leader holds below
    // its end offset can be kept, and the next round decides from the shorter log.
    return Math.min(diverging.endOffset, followerLogEndOffset);
  }
  return Math.min(diverging.endOffset, own.endOffset, followerLogEndOffset);
}

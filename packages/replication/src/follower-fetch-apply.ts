// The follower's side of replication: how one partition of a fetch response is applied (Kafka's
// AbstractFetcherThread.processFetchRequest / truncateOnFetchResponse).
//
// `planFollowerFetch` decides, response in, plan out: drop a response the partition has moved past
// (new epoch, new leader, its log changed since the fetch was sent), back off on an error, truncate
// where the logs diverged, truncate to the leader's log end or start over at its log start when out
// of range, or append the batches (after the epochs they start) and follow the leader's high
// watermark. `applyFollowerFetch` carries a plan out through a FollowerLogWriter in the order
// durability needs: a truncation before the caches forget what it removed, and the epochs of new
// batches durable in the leader-epoch checkpoint before the batches are appended, so a crash after
// the append still knows them and the next fetch never names an older epoch.

import { ErrorCode, readBatchHeader } from '@gregor/protocol';
import { followerTruncationOffset } from './divergence.js';
import type { ReplicaFetchPartitionResult } from './follower-fetch-serving.js';
import type { EpochEntry } from './leader-epoch-cache.js';
import type { Partition } from './partition.js';

/** What the follower asked for, so a late response is applied only to the log it was meant for. */
export interface FollowerFetchContext {
  readonly leaderId: number;
  readonly leaderEpoch: number;
  readonly fetchOffset: number;
}

export type FollowerFetchPlan =
  /** A response for a fetch the partition has moved past: dropped, the next fetch asks again. */
  | { readonly kind: 'stale' }
  /** The leader answered an error: this partition backs off. */
  | { readonly kind: 'backOff'; readonly errorCode: number }
  | { readonly kind: 'truncate'; readonly offset: number; readonly why: string }
  /** Kafka's truncateFullyAndStartAt: an empty log starting at `offset`. */
  | { readonly kind: 'truncateFullyAndStartAt'; readonly offset: number; readonly why: string }
  | {
      readonly kind: 'append';
      /** Epochs that start in `records` and that the cache does not hold yet, in order. */
      readonly newEpochs: readonly EpochEntry[];
      /** Possibly empty: then only the high watermark is followed. */
      readonly records: Buffer;
      readonly highWatermark: number;
      /** The leader's log start offset, which the follower's follows (DeleteRecords). */
      readonly logStartOffset: number;
    };

/** Follower side, one partition: what to do with `result`, the answer to the fetch in `context`. */
export function planFollowerFetch(
  partition: Partition,
  context: FollowerFetchContext,
  result: ReplicaFetchPartitionResult,
): FollowerFetchPlan {
  if (
    partition.role !== 'follower' ||
    partition.leaderId !== context.leaderId ||
    partition.leaderEpoch !== context.leaderEpoch ||
    partition.logEndOffset !== context.fetchOffset
  ) {
    return { kind: 'stale' };
  }
  const logEndOffset = partition.logEndOffset;
  if (result.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) {
    if (logEndOffset > result.logEndOffset) {
      // Ahead of the leader with no epoch to compare (an empty cache, or an unclean election):
      // what the leader lacks cannot be committed.
      return { kind: 'truncate', offset: result.logEndOffset, why: 'offset out of range' };
    }
    // Behind the leader's log start: start over from there.
    return { kind: 'truncateFullyAndStartAt', offset: result.logStartOffset, why: 'offset out of range' };
  }
  if (result.errorCode !== ErrorCode.NONE) return { kind: 'backOff', errorCode: result.errorCode };
  if (result.divergingEpoch !== undefined) {
    return {
      kind: 'truncate',
      offset: followerTruncationOffset(result.divergingEpoch, partition.epochCache, logEndOffset),
      why: `diverging epoch ${result.divergingEpoch.epoch}`,
    };
  }
  return {
    kind: 'append',
    newEpochs: epochsStartingIn(result.records, partition.epochCache.latestEpoch),
    records: result.records,
    highWatermark: result.highWatermark,
    logStartOffset: result.logStartOffset,
  };
}

/** The epochs newer than `latestEpoch` that batches of `records` start, with their first offsets. */
export function epochsStartingIn(records: Buffer, latestEpoch: number): EpochEntry[] {
  const epochs: EpochEntry[] = [];
  let latest = latestEpoch;
  let position = 0;
  while (position < records.length) {
    const header = readBatchHeader(records, position);
    if (header.partitionLeaderEpoch > latest) {
      epochs.push({ epoch: header.partitionLeaderEpoch, startOffset: header.baseOffset });
      latest = header.partitionLeaderEpoch;
    }
    position += header.sizeBytes;
  }
  return epochs;
}

/** The I/O a plan needs: the broker's PartitionLog and checkpoint files, or the simulation's. */
export interface FollowerLogWriter {
  truncateTo(offset: number): Promise<void>;
  truncateFullyAndStartAt(offset: number): Promise<void>;
  /** After a truncation: what else follows the log's contents (the broker's producer state). */
  afterTruncation(): Promise<void>;
  /** Writes the epoch cache to the leader-epoch checkpoint if it changed; durable once resolved. */
  persistEpochCache(): Promise<void>;
  /** Appends whole batches that keep the leader's offsets and epochs. */
  appendAsFollower(records: Buffer): Promise<void>;
  /** Raises the log's start offset to `offset` (at most its log end), durably. */
  incrementLogStartOffset(offset: number): Promise<void>;
}

export type FollowerFetchApplied =
  | { readonly kind: 'stale' }
  | { readonly kind: 'backOff'; readonly errorCode: number }
  | { readonly kind: 'truncated'; readonly why: string }
  /** Batches appended (maybe none), the leader's high watermark and log start offset followed. */
  | {
      readonly kind: 'appended';
      readonly highWatermarkMoved: boolean;
      readonly logStartOffsetMoved: boolean;
    };

/**
 * Plans and carries out one partition of a fetch response. The caller makes sure nothing else
 * writes the partition's log meanwhile (the broker's exclusive section per partition).
 */
export async function applyFollowerFetch(
  partition: Partition,
  context: FollowerFetchContext,
  result: ReplicaFetchPartitionResult,
  writer: FollowerLogWriter,
): Promise<FollowerFetchApplied> {
  const plan = planFollowerFetch(partition, context, result);
  switch (plan.kind) {
    case 'stale':
    case 'backOff':
      return plan;
    case 'truncate':
    case 'truncateFullyAndStartAt':
      if (plan.kind === 'truncate') await writer.truncateTo(plan.offset);
      else await writer.truncateFullyAndStartAt(plan.offset);
      partition.onFollowerTruncation();
      await writer.afterTruncation();
      await writer.persistEpochCache();
      return { kind: 'truncated', why: plan.why };
    case 'append': {
      if (plan.records.length > 0) {
        for (const { epoch, startOffset } of plan.newEpochs)
          partition.assignEpochFromBatch(epoch, startOffset);
        await writer.persistEpochCache();
        await writer.appendAsFollower(plan.records);
      }
      const highWatermarkMoved = partition.updateFollowerHighWatermark(plan.highWatermark);
      // Kafka's follower: the leader's log start offset, never past this replica's high watermark
      // (a record deleted on the leader is committed, so it is below the high watermark here too
      // once this replica has it; until then the next fetch brings it).
      const logStartOffset = Math.min(plan.logStartOffset, partition.highWatermark);
      const logStartOffsetMoved = logStartOffset > partition.logStartOffset;
      if (logStartOffsetMoved) {
        await writer.incrementLogStartOffset(logStartOffset);
        partition.onLogStartOffsetMoved();
        await writer.persistEpochCache();
      }
      return { kind: 'appended', highWatermarkMoved, logStartOffsetMoved };
    }
  }
}

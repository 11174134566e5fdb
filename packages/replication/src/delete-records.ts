// The leader's side of DeleteRecords (Kafka's Partition.deleteRecordsOnLeader and
// DelayedDeleteRecords): the requested offset (-1: the high watermark) becomes the leader's log
// start offset if it is at most the high watermark, and the answer waits in the purgatory until the
// low watermark (the smallest log start offset over the leader and its followers on live brokers,
// in the ISR or not, which learn the leader's from their fetches and report theirs in the next one)
// reaches it, the leadership is lost or the request times out.

import { ErrorCode } from '@gregor/protocol';
import type { ReplicationWait } from './acks.js';
import type { Partition } from './partition.js';

/** The request offset that means "up to the high watermark". */
export const deleteRecordsHighWatermarkOffset = -1;

export type DeleteRecordsDecision =
  | { readonly kind: 'refused'; readonly errorCode: number }
  /** Raise the leader's log start offset to `offset`, then await the low watermark. */
  | { readonly kind: 'advance'; readonly offset: number };

/**
 * Leader side, one partition: where the log start offset goes for a request to delete below
 * `requestedOffset`. `deletePolicy`: the topic's cleanup.policy includes "delete" (Kafka refuses
 * DeleteRecords on a compact-only topic with POLICY_VIOLATION).
 */
export function decideDeleteRecords(
  partition: Partition,
  requestedOffset: number,
  deletePolicy: boolean,
): DeleteRecordsDecision {
  if (partition.role !== 'leader') return { kind: 'refused', errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER };
  if (!deletePolicy) return { kind: 'refused', errorCode: ErrorCode.POLICY_VIOLATION };
  const offset =
    requestedOffset === deleteRecordsHighWatermarkOffset ? partition.highWatermark : requestedOffset;
  if (offset < 0 || offset > partition.highWatermark) {
    return { kind: 'refused', errorCode: ErrorCode.OFFSET_OUT_OF_RANGE };
  }
  return { kind: 'advance', offset };
}

export interface DeleteRecordsOutcome {
  readonly errorCode: number;
  /** The low watermark reached, -1 on error. */
  readonly lowWatermark: number;
}

/**
 * After the leader of `leaderEpoch` moved its log start offset to `offset`: NONE with the low
 * watermark once every replica on a live broker (`wait.isLive`) starts at or above `offset`,
 * otherwise the error to answer (REQUEST_TIMED_OUT after `timeoutMs`, as Kafka's DelayedDeleteRecords).
 */
export async function awaitLowWatermark<P extends Partition>(
  partition: P,
  leaderEpoch: number,
  offset: number,
  timeoutMs: number,
  wait: Pick<ReplicationWait<P>, 'delayedOperations' | 'stillLeads' | 'lostLeadershipError'> & {
    /** Kafka's metadataCache.hasAliveBroker: registered and not fenced. */
    readonly isLive: (brokerId: number) => boolean;
  },
): Promise<DeleteRecordsOutcome> {
  const reached = await wait.delayedOperations.waitUntil(
    [partition.key],
    timeoutMs,
    () => !wait.stillLeads(partition, leaderEpoch) || partition.lowWatermark(wait.isLive) >= offset,
  );
  if (!wait.stillLeads(partition, leaderEpoch)) {
    return { errorCode: wait.lostLeadershipError(partition), lowWatermark: -1 };
  }
  if (!reached) return { errorCode: ErrorCode.REQUEST_TIMED_OUT, lowWatermark: -1 };
  return { errorCode: ErrorCode.NONE, lowWatermark: partition.lowWatermark(wait.isLive) };
}

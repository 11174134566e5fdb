// The leader's side of replication: what it answers a follower's fetch (Kafka's
// Partition.fetchRecords for a follower, and ReplicaManager.fetchMessages' long poll).
//
// Per partition, `decideFollowerFetch` is the decision, request in, outcome out: refuse (not a
// replica, or a stale or future leader epoch), a diverging epoch (the follower holds offsets this
// leader does not: it must truncate, and nothing is learnt of its log end), out of range, or read
// from the fetch offset; only then is the follower's fetch counted (its log end, the high watermark,
// a possible ISR expansion). `serveReplicaFetch` runs it over a whole request, reads what it decided
// through the host (the broker's logs, the simulation's in-memory ones) and long-polls: it answers
// once there are `minBytes`, any error or divergence, or `maxWaitMs` passed, waking whenever a
// requested partition's log end, high watermark or leadership changes.

import type { Clock } from '@gregor/ground';
import { ErrorCode } from '@gregor/protocol';
import type { DelayedOperations } from './delayed-operations.js';
import { divergingEpoch } from './divergence.js';
import type { IsrProposals } from './isr-proposals.js';
import type { EpochEndOffset } from './leader-epoch-cache.js';
import type { Partition } from './partition.js';
import type { ReplicationQuota } from './replication-quota.js';

/** Partitions a follower fetch may name; more is a broken peer, not load. */
export const replicaFetchPartitionsMax = 100_000;

export interface ReplicaFetchPartitionRequest {
  readonly topic: string;
  readonly partition: number;
  readonly currentLeaderEpoch: number;
  /** The follower's log end offset. */
  readonly fetchOffset: number;
  /** Epoch of the follower's last batch, -1 when it has none. */
  readonly lastFetchedEpoch: number;
  /** The follower's log start offset (what the leader's low watermark waits for), -1 if unknown. */
  readonly logStartOffset: number;
  readonly partitionMaxBytes: number;
}

export interface ReplicaFetchRequest {
  readonly replicaId: number;
  readonly brokerEpoch: number;
  readonly maxWaitMs: number;
  readonly minBytes: number;
  readonly maxBytes: number;
  readonly partitions: readonly ReplicaFetchPartitionRequest[];
}

export interface ReplicaFetchPartitionResult {
  readonly topic: string;
  readonly partition: number;
  readonly errorCode: number;
  readonly highWatermark: number;
  readonly logStartOffset: number;
  readonly logEndOffset: number;
  readonly divergingEpoch: EpochEndOffset | undefined;
  readonly leaderEpoch: number;
  /** Whole record batches, as the leader stores them. */
  readonly records: Buffer;
}

export type FollowerFetchDecision =
  | { readonly kind: 'refused'; readonly errorCode: number }
  | {
      readonly kind: 'diverging';
      readonly divergingEpoch: EpochEndOffset;
      readonly highWatermark: number;
      readonly logStartOffset: number;
      readonly logEndOffset: number;
      readonly leaderEpoch: number;
    }
  | {
      readonly kind: 'outOfRange';
      readonly logStartOffset: number;
      readonly logEndOffset: number;
      readonly leaderEpoch: number;
    }
  | {
      readonly kind: 'read';
      readonly fetchOffset: number;
      readonly leaderEpoch: number;
      /** As it stands with this fetch counted. */
      readonly highWatermark: number;
      /** Waiters on the partition (acks=all produces, consumers, long polls) should look again. */
      readonly highWatermarkMoved: boolean;
      /** The follower reported another log start offset (the low watermark may have moved): DeleteRecords waiters look again. */
      readonly followerLogStartMoved: boolean;
    };

/**
 * Leader side, one partition: the answer to `replicaId`'s fetch of `wanted`. A fetch that passes
 * every check is counted at once (the follower holds everything below its fetch offset).
 */
export function decideFollowerFetch(
  partition: Partition,
  replicaId: number,
  wanted: ReplicaFetchPartitionRequest,
  nowMs: number,
): FollowerFetchDecision {
  if (
    partition.role !== 'leader' ||
    !partition.replicas.includes(replicaId) ||
    replicaId === partition.localBrokerId
  ) {
    return { kind: 'refused', errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER };
  }
  const epochError = partition.checkCurrentLeaderEpoch(wanted.currentLeaderEpoch);
  if (epochError !== ErrorCode.NONE) return { kind: 'refused', errorCode: epochError };
  const leaderEpoch = partition.leaderEpoch;
  const logStartOffset = partition.logStartOffset;
  const logEndOffset = partition.logEndOffset;
  const diverging = divergingEpoch(
    partition.epochCache,
    logEndOffset,
    wanted.fetchOffset,
    wanted.lastFetchedEpoch,
  );
  if (diverging !== undefined) {
    // Nothing about the follower's LEO is learnt: the offsets it holds past the split are not ours.
    return {
      kind: 'diverging',
      divergingEpoch: diverging,
      highWatermark: partition.highWatermark,
      logStartOffset,
      logEndOffset,
      leaderEpoch,
    };
  }
  if (wanted.fetchOffset < logStartOffset || wanted.fetchOffset > logEndOffset) {
    return { kind: 'outOfRange', logStartOffset, logEndOffset, leaderEpoch };
  }
  const followerLogStartBefore = partition.followerLogStartOffset(replicaId);
  const highWatermarkMoved = partition.recordFollowerFetch(
    replicaId,
    wanted.fetchOffset,
    nowMs,
    wanted.logStartOffset,
  );
  return {
    kind: 'read',
    fetchOffset: wanted.fetchOffset,
    leaderEpoch,
    highWatermark: partition.highWatermark,
    highWatermarkMoved,
    followerLogStartMoved: partition.followerLogStartOffset(replicaId) !== followerLogStartBefore,
  };
}

/** What the leader's log gave for a read: whole batches, or why not. */
export type LeaderLogRead =
  | {
      readonly errorCode: typeof ErrorCode.NONE;
      readonly records: Buffer;
      readonly logStartOffset: number;
      readonly logEndOffset: number;
    }
  | { readonly errorCode: number; readonly logStartOffset: number; readonly logEndOffset: number };

/** What serving a follower fetch needs from the broker (or the simulated broker) it runs in. */
export interface ReplicaFetchHost<P extends Partition> {
  readonly clock: Clock;
  readonly delayedOperations: DelayedOperations;
  readonly isrProposals: IsrProposals;
  /**
   * This broker's leader-side replication quota (KIP-73); absent or inactive (no throttled
   * partition) costs the fetch nothing.
   */
  readonly leaderQuota?: ReplicationQuota;
  /** The broker epoch `brokerId` is registered with in this broker's metadata; undefined if unknown. */
  registeredBrokerEpoch(brokerId: number): number | undefined;
  /** The local replica of the partition if this broker leads it, otherwise the error to answer. */
  leaderReplica(topic: string, partition: number): P | number;
  /** Whether `partition` still leads in `leaderEpoch` (it may have changed during an await). */
  stillLeads(partition: P, leaderEpoch: number): boolean;
  /**
   * Whole batches from `fetchOffset` on, at most `maxBytes` unless the first batch alone is larger
   * (it is returned whole). Failures are answered as error codes, never thrown.
   */
  read(partition: P, fetchOffset: number, maxBytes: number): Promise<LeaderLogRead>;
}

interface Watched<P extends Partition> {
  readonly partition: P;
  readonly leaderEpoch: number;
  readonly highWatermark: number;
  readonly logStartOffset: number;
  readonly fetchOffset: number;
}

/**
 * Serves a follower's fetch: per partition the decision above, then the batches from the fetch
 * offset (up to the log end, not the high watermark: followers copy everything), with the high
 * watermark as it stands after this fetch counted. Waits up to maxWaitMs while there are fewer
 * than minBytes, waking when a requested partition's log end, high watermark or log start moves
 * (a follower learns the leader's log start offset from the answer).
 */
export async function serveReplicaFetch<P extends Partition>(
  request: ReplicaFetchRequest,
  host: ReplicaFetchHost<P>,
): Promise<ReplicaFetchPartitionResult[]> {
  if (request.partitions.length > replicaFetchPartitionsMax) {
    return request.partitions.map((wanted) =>
      failedReplicaFetch(wanted.topic, wanted.partition, ErrorCode.INVALID_REQUEST),
    );
  }
  const registeredEpoch = host.registeredBrokerEpoch(request.replicaId);
  if (registeredEpoch !== undefined && registeredEpoch > request.brokerEpoch) {
    // A fetch from an earlier incarnation of that broker (it restarted since): its offsets are stale.
    return request.partitions.map((wanted) =>
      failedReplicaFetch(wanted.topic, wanted.partition, ErrorCode.STALE_BROKER_EPOCH),
    );
  }
  const deadlineMs = host.clock.nowMs() + Math.max(0, request.maxWaitMs);
  for (;;) {
    const { results, watched } = await readForFollower(request, host);
    let bytes = 0;
    let answerNow = false;
    for (const result of results) {
      bytes += result.records.length;
      if (result.errorCode !== ErrorCode.NONE || result.divergingEpoch !== undefined) answerNow = true;
    }
    const remainingMs = deadlineMs - host.clock.nowMs();
    if (bytes >= Math.max(1, request.minBytes) || answerNow || remainingMs <= 0 || watched.length === 0) {
      return results;
    }
    const changed = await host.delayedOperations.waitUntil(
      watched.map((entry) => entry.partition.key),
      remainingMs,
      () =>
        watched.some(
          (entry) =>
            !host.stillLeads(entry.partition, entry.leaderEpoch) ||
            entry.partition.logEndOffset > entry.fetchOffset ||
            entry.partition.highWatermark !== entry.highWatermark ||
            entry.partition.logStartOffset !== entry.logStartOffset,
        ),
    );
    if (!changed) return (await readForFollower(request, host)).results;
  }
}

async function readForFollower<P extends Partition>(
  request: ReplicaFetchRequest,
  host: ReplicaFetchHost<P>,
): Promise<{ results: ReplicaFetchPartitionResult[]; watched: Watched<P>[] }> {
  const results: ReplicaFetchPartitionResult[] = [];
  const watched: Watched<P>[] = [];
  let remainingBytes = request.maxBytes;
  // KIP-74, as for consumers: the first partition with data returns at least one whole batch.
  let firstWithData = true;
  for (const wanted of request.partitions) {
    const failed = (errorCode: number) => failedReplicaFetch(wanted.topic, wanted.partition, errorCode);
    const partition = host.leaderReplica(wanted.topic, wanted.partition);
    if (typeof partition === 'number') {
      results.push(failed(partition));
      continue;
    }
    const nowMs = host.clock.nowMs();
    const decision = decideFollowerFetch(partition, request.replicaId, wanted, nowMs);
    if (decision.kind === 'refused') {
      results.push(failed(decision.errorCode));
      continue;
    }
    if (decision.kind === 'diverging') {
      results.push({
        ...failed(ErrorCode.NONE),
        highWatermark: decision.highWatermark,
        logStartOffset: decision.logStartOffset,
        logEndOffset: decision.logEndOffset,
        divergingEpoch: decision.divergingEpoch,
        leaderEpoch: decision.leaderEpoch,
      });
      continue;
    }
    if (decision.kind === 'outOfRange') {
      results.push({
        ...failed(ErrorCode.OFFSET_OUT_OF_RANGE),
        logStartOffset: decision.logStartOffset,
        logEndOffset: decision.logEndOffset,
        leaderEpoch: decision.leaderEpoch,
      });
      continue;
    }
    // The fetch moved the high watermark: acks=all produces, consumers and long polls look again;
    // or the follower's log start offset changed: DeleteRecords requests look again.
    if (decision.highWatermarkMoved || decision.followerLogStartMoved) {
      host.delayedOperations.notify(partition.key);
    }
    host.isrProposals.maybeExpand(partition, request.replicaId, nowMs);
    const quota = host.leaderQuota;
    const throttled = quota?.active === true && quota.isThrottled(wanted.topic, wanted.partition);
    if (throttled && !partition.isr.includes(request.replicaId) && quota!.isQuotaExceeded(nowMs)) {
      // Over the leader quota (Kafka's shouldLeaderThrottle): no records for this out-of-sync
      // replica. The long poll waits for data past what the log holds now, not for the data this
      // answer leaves out, so a throttled follower is not answered in a busy loop.
      watched.push({
        partition,
        leaderEpoch: decision.leaderEpoch,
        highWatermark: decision.highWatermark,
        logStartOffset: partition.logStartOffset,
        fetchOffset: partition.logEndOffset,
      });
      results.push({
        ...failed(ErrorCode.NONE),
        highWatermark: decision.highWatermark,
        logStartOffset: partition.logStartOffset,
        logEndOffset: partition.logEndOffset,
        leaderEpoch: decision.leaderEpoch,
      });
      continue;
    }
    const limitBytes = Math.max(0, Math.min(wanted.partitionMaxBytes, remainingBytes));
    const read = await host.read(partition, decision.fetchOffset, limitBytes);
    if (read.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) {
      results.push({
        ...failed(ErrorCode.OFFSET_OUT_OF_RANGE),
        logStartOffset: read.logStartOffset,
        logEndOffset: read.logEndOffset,
        leaderEpoch: decision.leaderEpoch,
      });
      continue;
    }
    if (!('records' in read)) {
      results.push(failed(read.errorCode));
      continue;
    }
    let records = read.records;
    if (records.length > limitBytes && !firstWithData) records = emptyRecords;
    if (records.length > 0) firstWithData = false;
    remainingBytes -= records.length;
    // The bytes sent for throttled partitions count against the leader quota (Kafka records them
    // for every throttled partition, in sync or not).
    if (throttled && records.length > 0) quota!.record(records.length, host.clock.nowMs());
    watched.push({
      partition,
      leaderEpoch: decision.leaderEpoch,
      highWatermark: decision.highWatermark,
      logStartOffset: read.logStartOffset,
      fetchOffset: decision.fetchOffset,
    });
    results.push({
      topic: wanted.topic,
      partition: wanted.partition,
      errorCode: ErrorCode.NONE,
      highWatermark: decision.highWatermark,
      logStartOffset: read.logStartOffset,
      logEndOffset: read.logEndOffset,
      divergingEpoch: undefined,
      leaderEpoch: decision.leaderEpoch,
      records,
    });
  }
  return { results, watched };
}

const emptyRecords = Buffer.alloc(0);

export function failedReplicaFetch(
  topic: string,
  partition: number,
  errorCode: number,
): ReplicaFetchPartitionResult {
  return {
    topic,
    partition,
    errorCode,
    highWatermark: -1,
    logStartOffset: -1,
    logEndOffset: -1,
    divergingEpoch: undefined,
    leaderEpoch: -1,
    records: emptyRecords,
  };
}

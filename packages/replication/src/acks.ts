// The leader's side of acks=all (Kafka's DelayedProduce and the min.insync.replicas checks): before
// the append, enough in-sync replicas the leader can vouch for now; after it, a wait in the
// purgatory until the high watermark covers the appended records, the leadership is lost or the
// request times out, and the in-sync count checked again.

import type { Clock } from '@gregor/ground';
import { ErrorCode } from '@gregor/protocol';
import type { DelayedOperations } from './delayed-operations.js';
import type { Partition } from './partition.js';

export interface AcksOutcome {
  readonly errorCode: number;
  readonly errorMessage: string | null;
}

const acknowledged: AcksOutcome = { errorCode: ErrorCode.NONE, errorMessage: null };

/**
 * Before an acks=all append: NOT_ENOUGH_REPLICAS when fewer ISR members than min.insync.replicas
 * have caught up within the lag time (the ISR on paper may be larger while its shrink cannot commit).
 */
export function checkEnoughReplicas(
  partition: Partition,
  nowMs: number,
  replicaLagTimeMaxMs: number,
  minInsyncReplicas: number,
): AcksOutcome {
  const liveIsr = partition.liveIsrSize(nowMs, replicaLagTimeMaxMs);
  if (liveIsr >= minInsyncReplicas) return acknowledged;
  return {
    errorCode: ErrorCode.NOT_ENOUGH_REPLICAS,
    errorMessage: `${liveIsr} of ISR ${JSON.stringify(partition.isr)} in sync, below min.insync.replicas ${minInsyncReplicas}`,
  };
}

export interface ReplicationWait<P extends Partition = Partition> {
  readonly clock: Clock;
  readonly replicaLagTimeMaxMs: number;
  readonly delayedOperations: DelayedOperations;
  /** Whether `partition` still leads in `leaderEpoch`. */
  readonly stillLeads: (partition: P, leaderEpoch: number) => boolean;
  /** Why a partition that led stopped leading (NOT_LEADER_OR_FOLLOWER, or KAFKA_STORAGE_ERROR). */
  readonly lostLeadershipError: (partition: P) => number;
}

/**
 * After an acks=all append in `leaderEpoch` that ended at `requiredHighWatermark` (exclusive):
 * NONE once the high watermark covers it, otherwise the error to answer.
 */
export async function awaitReplication<P extends Partition>(
  partition: P,
  leaderEpoch: number,
  requiredHighWatermark: number,
  timeoutMs: number,
  minInsyncReplicas: number,
  wait: ReplicationWait<P>,
): Promise<AcksOutcome> {
  const covered = await wait.delayedOperations.waitUntil(
    [partition.key],
    timeoutMs,
    () => !wait.stillLeads(partition, leaderEpoch) || partition.highWatermark >= requiredHighWatermark,
  );
  if (!wait.stillLeads(partition, leaderEpoch)) {
    return { errorCode: wait.lostLeadershipError(partition), errorMessage: null };
  }
  if (!covered) {
    return {
      errorCode: ErrorCode.REQUEST_TIMED_OUT,
      errorMessage: 'the ISR did not replicate the records in time',
    };
  }
  if (partition.liveIsrSize(wait.clock.nowMs(), wait.replicaLagTimeMaxMs) < minInsyncReplicas) {
    return {
      errorCode: ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
      errorMessage: `ISR shrank to ${partition.isr.length}, below min.insync.replicas ${minInsyncReplicas}`,
    };
  }
  return acknowledged;
}

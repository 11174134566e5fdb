// DeleteRecords on the leader (Kafka's ReplicaManager.deleteRecords with its DelayedDeleteRecords):
// per partition, @gregor/replication's decision (the offset, -1 for the high watermark, at most the
// high watermark), the log start offset raised and made durable (log-start-offset-checkpoint, the
// leader-epoch checkpoint trimmed to it), then a wait in the purgatory until every in-sync follower
// reported the same log start in its fetches (the low watermark), leadership is lost or the request
// times out. Segments wholly below the new log start go at the next retention run.

import { ErrorCode, KafkaError } from '@gregor/protocol';
import { awaitLowWatermark, decideDeleteRecords } from '@gregor/replication';
import { LogClosedError } from '@gregor/storage';
import type { DelayedOperations } from '../delayed/delayed-operations.js';
import type { Logger } from '../logging.js';
import { descriptorsExhausted, type LocalReplicas } from './local-replicas.js';

export interface DeleteRecordsRequest {
  readonly topic: string;
  readonly partition: number;
  /** Delete every record below this offset; -1: below the high watermark. */
  readonly offset: number;
}

export interface DeleteRecordsResult {
  readonly topic: string;
  readonly partition: number;
  readonly errorCode: number;
  /** The low watermark once every in-sync replica starts there; -1 on error. */
  readonly lowWatermark: number;
}

export interface LeaderDeletesOptions {
  readonly replicas: LocalReplicas;
  readonly delayedOperations: DelayedOperations;
  readonly logger: Logger;
}

export class LeaderDeletes {
  constructor(private readonly options: LeaderDeletesOptions) {}

  deleteRecords(
    requests: readonly DeleteRecordsRequest[],
    timeoutMs: number,
  ): Promise<DeleteRecordsResult[]> {
    return Promise.all(requests.map((request) => this.deleteOne(request, timeoutMs)));
  }

  private async deleteOne(request: DeleteRecordsRequest, timeoutMs: number): Promise<DeleteRecordsResult> {
    const { replicas, delayedOperations, logger } = this.options;
    const failed = (errorCode: number): DeleteRecordsResult => ({
      topic: request.topic,
      partition: request.partition,
      errorCode,
      lowWatermark: -1,
    });
    const lookup = replicas.lookupLeader(request.topic, request.partition);
    if (!lookup.ok) return failed(lookup.errorCode);
    const partition = lookup.partition;
    const leaderEpoch = partition.leaderEpoch;
    const deletePolicy = partition.log.config.cleanupPolicy.includes('delete');
    const decision = decideDeleteRecords(partition, request.offset, deletePolicy);
    if (decision.kind === 'refused') return failed(decision.errorCode);
    try {
      // In the partition's exclusive section: no role change runs beside the move.
      const moved = await replicas.exclusive(partition.key, async () => {
        if (!replicas.stillLeads(partition, leaderEpoch)) return false;
        if (!(await partition.log.incrementLogStartOffset(decision.offset))) return false;
        partition.onLogStartOffsetMoved();
        await replicas.persistEpochCache(partition);
        return true;
      });
      if (moved) {
        logger.info({ partition: partition.key, logStartOffset: decision.offset }, 'records deleted');
      }
    } catch (error) {
      if (error instanceof LogClosedError) return failed(ErrorCode.NOT_LEADER_OR_FOLLOWER);
      if (descriptorsExhausted(error)) {
        replicas.setAsideIfLogNeedsReopen(partition, error);
        return failed(ErrorCode.KAFKA_STORAGE_ERROR);
      }
      if (error instanceof KafkaError) {
        if (error.code === ErrorCode.KAFKA_STORAGE_ERROR) replicas.onStorageError(partition, error);
        return failed(error.code);
      }
      throw error;
    }
    if (!replicas.stillLeads(partition, leaderEpoch)) return failed(replicas.lostLeadershipError(partition));
    // Followers parked in a long poll answer now and learn the new log start offset.
    delayedOperations.notify(partition.key);
    const outcome = await awaitLowWatermark(partition, leaderEpoch, decision.offset, timeoutMs, {
      delayedOperations,
      stillLeads: (led, epoch) => replicas.stillLeads(led, epoch),
      lostLeadershipError: (led) => replicas.lostLeadershipError(led),
      // The image at each check: a follower's broker fenced meanwhile no longer holds the answer.
      isLive: (brokerId) => {
        const broker = replicas.image.brokers.get(brokerId);
        return broker !== undefined && !broker.fenced;
      },
    });
    return { ...failed(outcome.errorCode), lowWatermark: outcome.lowWatermark };
  }
}

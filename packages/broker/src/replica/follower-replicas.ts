// The partitions this broker follows, as its fetchers see them (Kafka's AbstractFetcherThread's
// partition side): where each one's next fetch starts, and the application of a response through
// @gregor/replication's applyFollowerFetch over the real PartitionLog, the leader-epoch checkpoint
// and the producer state. Each application runs in the partition's exclusive section.

import type { Clock } from '@gregor/ground';
import { ErrorCode, KafkaError } from '@gregor/protocol';
import {
  applyFollowerFetch,
  type FollowedPartition,
  type FollowerFetchContext,
  type FollowerFetchPosition,
  type FollowerLogWriter,
  type FollowerReplicas as FollowerReplicasView,
  type ReplicaFetchPartitionResult,
} from '@gregor/replication';
import { LogClosedError, UnexpectedAppendOffsetError } from '@gregor/storage';
import type { DelayedOperations } from '../delayed/delayed-operations.js';
import type { Logger } from '../logging.js';
import { descriptorsExhausted, type LocalReplicas } from './local-replicas.js';
import type { Partition } from './partition.js';
import { applyRecordSet, syncProducerStateAfterTruncation } from './producer-state-log.js';

export interface FollowerReplicasOptions {
  readonly replicas: LocalReplicas;
  readonly clock: Clock;
  readonly delayedOperations: DelayedOperations;
  readonly logger: Logger;
}

export class FollowerReplicas implements FollowerReplicasView {
  constructor(private readonly options: FollowerReplicasOptions) {}

  /** The partitions this broker follows, each with the leader to fetch from. */
  followedPartitions(): FollowedPartition[] {
    const followed: FollowedPartition[] = [];
    const { replicas } = this.options;
    if (replicas.closed) return followed;
    for (const partition of replicas.partitions.values()) {
      if (partition.role !== 'follower') continue;
      followed.push({
        topic: partition.topic,
        partition: partition.index,
        leaderId: partition.leaderId,
        leaderEpoch: partition.leaderEpoch,
      });
    }
    return followed;
  }

  /** What the next fetch for `topic-partition` asks for; undefined when this broker does not follow it. */
  followerFetchPosition(topic: string, index: number): FollowerFetchPosition | undefined {
    const { replicas } = this.options;
    const partition = replicas.get(`${topic}-${index}`);
    if (partition === undefined || partition.role !== 'follower' || replicas.closed) return undefined;
    return {
      fetchOffset: partition.logEndOffset,
      lastFetchedEpoch: partition.epochCache.latestEpoch,
      logStartOffset: partition.logStartOffset,
      leaderEpoch: partition.leaderEpoch,
      leaderId: partition.leaderId,
    };
  }

  /**
   * Applies one partition of a fetch response from this broker's leader: truncate on divergence (or
   * out of range), else append the batches as they are, then follow the leader's high watermark.
   * Returns the error code the fetcher backs off on (NONE when the partition may be fetched again
   * at once). A response for a fetch the partition has moved past is dropped.
   */
  applyFollowerFetch(context: FollowerFetchContext, result: ReplicaFetchPartitionResult): Promise<number> {
    const key = `${result.topic}-${result.partition}`;
    const { replicas, logger } = this.options;
    return replicas.exclusive(key, async () => {
      const partition = replicas.get(key);
      if (partition === undefined || replicas.closed) return ErrorCode.NONE;
      try {
        const applied = await applyFollowerFetch(partition, context, result, this.writerFor(partition));
        if (applied.kind === 'backOff') return applied.errorCode;
        if (applied.kind === 'truncated') {
          logger.info(
            {
              partition: partition.key,
              logEndOffset: partition.logEndOffset,
              leaderEpoch: partition.leaderEpoch,
              why: applied.why,
            },
            'follower truncated its log',
          );
        }
        if (applied.kind === 'appended') this.options.delayedOperations.notify(partition.key);
        return ErrorCode.NONE;
      } catch (error) {
        if (error instanceof LogClosedError) return ErrorCode.NOT_LEADER_OR_FOLLOWER;
        if (descriptorsExhausted(error)) {
          logger.warn({ partition: key, err: error }, 'fetched records not applied: no file descriptor');
          replicas.setAsideIfLogNeedsReopen(partition, error);
          return ErrorCode.KAFKA_STORAGE_ERROR;
        }
        // A full disk, or a dir that just failed (the channel took the replica offline).
        if (error instanceof KafkaError && error.code === ErrorCode.KAFKA_STORAGE_ERROR) {
          logger.warn({ partition: key, err: error }, 'fetched records not stored');
          return ErrorCode.KAFKA_STORAGE_ERROR;
        }
        if (error instanceof UnexpectedAppendOffsetError || error instanceof KafkaError) {
          logger.warn({ partition: key, err: error }, 'fetched records not appended');
          return ErrorCode.CORRUPT_MESSAGE;
        }
        throw error;
      }
    });
  }

  /** The partition's log, checkpoint and producer state, as a plan needs them. */
  private writerFor(partition: Partition): FollowerLogWriter {
    const { replicas, clock } = this.options;
    const log = partition.log;
    return {
      truncateTo: (offset) => log.truncateTo(offset),
      truncateFullyAndStartAt: (offset) => log.truncateFullyAndStartAt(offset),
      afterTruncation: async () => {
        await syncProducerStateAfterTruncation(log, partition.producerState, clock.nowMs());
      },
      persistEpochCache: () => replicas.persistEpochCache(partition),
      appendAsFollower: async (records) => {
        await log.appendAsFollower(records);
        applyRecordSet(partition.producerState, records, clock.nowMs());
      },
      incrementLogStartOffset: async (offset) => {
        await log.incrementLogStartOffset(offset);
      },
    };
  }
}

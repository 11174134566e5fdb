// What the local replicas hold, as the admin APIs describe it: DescribeLogDirs (Kafka's
// ReplicaManager.describeLogDirs) and DescribeProducers (Kafka's Partition.activeProducerState).

import { ErrorCode } from '@gregor/protocol';
import type { LocalReplicas } from './local-replicas.js';
import type { LogStore } from './log-store.js';

/** One producer of a partition, as DescribeProducers reports it. */
export interface ActiveProducer {
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly lastSequence: number;
  readonly lastTimestampMs: number;
  readonly coordinatorEpoch: number;
  readonly currentTxnStartOffset: number;
}

export interface LogDirDescription {
  readonly logDir: string;
  readonly offline: boolean;
  readonly partitions: readonly {
    readonly topic: string;
    readonly partition: number;
    readonly sizeBytes: number;
    readonly offsetLag: number;
    /** A future replica (AlterReplicaLogDirs) copying into this dir. */
    readonly isFuture: boolean;
  }[];
}

/**
 * DescribeLogDirs: every log dir with its partitions (all, or those `selected` names), each with its
 * size and Kafka's offset lag, max(high watermark - log end offset, 0) (-1 for a log no local
 * replica owns). A failed dir lists nothing. A future replica moving into a dir (AlterReplicaLogDirs)
 * is listed there with isFuture and, as in Kafka, its lag behind the current log's end.
 */
export function describeLogDirs(
  logStore: LogStore,
  replicas: LocalReplicas,
  selected: ReadonlyMap<string, ReadonlySet<number>> | null,
): LogDirDescription[] {
  const wanted = (log: { topic: string; partition: number }): boolean =>
    selected === null || selected.get(log.topic)?.has(log.partition) === true;
  return logStore.logDirs().map(({ logDir, offline, logs, futures }) => ({
    logDir,
    offline,
    partitions: [
      ...logs.filter(wanted).map((log) => {
        const replica = replicas.get(`${log.topic}-${log.partition}`);
        return {
          topic: log.topic,
          partition: log.partition,
          sizeBytes: log.sizeBytes,
          offsetLag: replica === undefined ? -1 : Math.max(replica.highWatermark - log.logEndOffset, 0),
          isFuture: false,
        };
      }),
      ...futures.filter(wanted).map((future) => ({
        topic: future.topic,
        partition: future.partition,
        sizeBytes: future.sizeBytes,
        offsetLag: future.offsetLag,
        isFuture: true,
      })),
    ],
  }));
}

/**
 * DescribeProducers: the producers the partition's producer state holds, here where it leads
 * (NOT_LEADER_OR_FOLLOWER elsewhere, UNKNOWN_TOPIC_OR_PARTITION for no such partition), each with
 * its epoch, last sequence and timestamp, the coordinator epoch of its last marker and the first
 * offset of its open transaction (-1 for none), as Kafka's Partition.activeProducerState.
 */
export function describeProducers(
  replicas: LocalReplicas,
  topic: string,
  index: number,
): { errorCode: number; producers: ActiveProducer[] } {
  const lookup = replicas.lookupLeader(topic, index);
  if (!lookup.ok) return { errorCode: lookup.errorCode, producers: [] };
  const state = lookup.partition.producerState;
  const ongoing = state.ongoingTransactions();
  return {
    errorCode: ErrorCode.NONE,
    producers: state.entries().map((entry) => ({
      producerId: entry.producerId,
      producerEpoch: entry.producerEpoch,
      lastSequence: entry.batches.at(-1)?.lastSequence ?? -1,
      lastTimestampMs: entry.lastTimestampMs,
      coordinatorEpoch: entry.coordinatorEpoch,
      currentTxnStartOffset: ongoing.get(entry.producerId) ?? -1,
    })),
  };
}

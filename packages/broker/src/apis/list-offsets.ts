// ListOffsets (key 2), versions 0-10; flexible from 6.
//   Request  => replica_id isolation_level(2+)
//               [topics => name [partitions => partition_index current_leader_epoch(4+) timestamp
//                 max_num_offsets(v0 only)]] timeout_ms(10+)
//   Response => throttle_time_ms(2+)
//               [topics => name [partitions => partition_index error_code [old_style_offsets](v0 only)
//                 timestamp(1+) offset(1+) leader_epoch(4+)]]
//
// Timestamp -2 is the log start offset, -1 the end a consumer may read to: the high watermark for
// read_uncommitted, the last stable offset for read_committed (isolation_level 1); any other the
// first offset of the first batch whose largest timestamp is at or after it, below that end, else
// offset -1. -3 (v7+) is the first record carrying the log's largest timestamp, below that end;
// -4 (v8+) the log start offset, as all of a Gregor log is local; -5 (v9+) offset -1 with epoch -1,
// which Kafka answers when remote storage is not enabled. v10's timeout_ms bounds reads from remote
// storage, of which there are none: it is ignored. v0 answers in
// old_style_offsets: that offset alone (at most max_num_offsets, so none for 0), nothing when none
// was found. The leader epoch (v4+) is the epoch that wrote the offset, from the partition's leader
// epoch cache (-1 when none is known). replica_id is ignored: followers use gRPC, so every caller
// here is a consumer.

import { type ApiKey, ErrorCode, type RequestBody, type ResponseInput } from '@gregor/protocol';
import type { RequestContext } from './api-handler.js';
import { AclOperation, answerPermittedTopicPartitions } from './authorization.js';

type Key = typeof ApiKey.ListOffsets;
type Response = ResponseInput<Key>;

export async function handleListOffsets(
  body: RequestBody<Key>,
  apiVersion: number,
  context: RequestContext,
): Promise<Response> {
  // DESCRIBE on the topic, as Kafka checks it: refused partitions are TOPIC_AUTHORIZATION_FAILED.
  const topics = await answerPermittedTopicPartitions(
    context,
    AclOperation.DESCRIBE,
    body.topics,
    (partitions) =>
      context.broker.replicaManager.listOffsets(
        partitions.map(({ topic, partition }) => ({
          topic,
          partition: partition.partitionIndex,
          timestamp: Number(partition.timestamp),
          currentLeaderEpoch: partition.currentLeaderEpoch,
        })),
        body.isolationLevel,
      ),
    (partition, result) => {
      if (apiVersion === 0) {
        const found =
          result.errorCode === ErrorCode.NONE && result.offset >= 0 && partition.maxNumOffsets > 0;
        return {
          partitionIndex: result.partition,
          errorCode: result.errorCode,
          oldStyleOffsets: found ? [BigInt(result.offset)] : [],
        };
      }
      return {
        partitionIndex: result.partition,
        errorCode: result.errorCode,
        oldStyleOffsets: [],
        timestamp: BigInt(result.timestamp),
        offset: BigInt(result.offset),
        ...(apiVersion >= 4 ? { leaderEpoch: result.leaderEpoch } : {}),
      };
    },
    (partition) => ({
      partitionIndex: partition.partitionIndex,
      errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
      oldStyleOffsets: [],
      timestamp: -1n,
      offset: -1n,
      leaderEpoch: -1,
    }),
  );
  return { throttleTimeMs: 0, topics };
}

// OffsetForLeaderEpoch (key 23), versions 0-4; flexible from 4.
//   Request  => replica_id(3+) [topics => topic [partitions => partition current_leader_epoch(2+)
//                 leader_epoch]]
//   Response => throttle_time_ms(2+) [topics => topic [partitions => error_code partition
//                 leader_epoch(1+) end_offset]]
//
// For consumers (KIP-320): at each partition's leader, the end offset of the largest epoch <= the
// one asked, so a consumer finds out that the log it read was truncated (after an unclean
// election). Followers replicate over gRPC and never send this; every replica id is answered from
// the leader (NOT_LEADER_OR_FOLLOWER elsewhere), FENCED_LEADER_EPOCH / UNKNOWN_LEADER_EPOCH when the
// client's current epoch is stale or ahead.
//
// Authorization as Kafka's (KIP-320): CLUSTER_ACTION on the cluster (replicas) answers every topic,
// else each topic needs DESCRIBE; the partitions of the others are TOPIC_AUTHORIZATION_FAILED with
// no epoch or offset, whether or not the topic exists.

import { type ApiKey, ErrorCode, type RequestBody, type ResponseInput } from '@gregor/protocol';
import type { RequestContext } from './api-handler.js';
import { AclOperation, authorizedOnCluster, authorizedOnTopic } from './authorization.js';

type Key = typeof ApiKey.OffsetForLeaderEpoch;

export async function handleOffsetForLeaderEpoch(
  body: RequestBody<Key>,
  _apiVersion: number,
  context: RequestContext,
): Promise<ResponseInput<Key>> {
  const clusterAction = authorizedOnCluster(context, AclOperation.CLUSTER_ACTION);
  const authorized = (topic: string) =>
    clusterAction || authorizedOnTopic(context, AclOperation.DESCRIBE, topic);
  const allowed = body.topics.map((topic) => authorized(topic.topic));
  const results = context.broker.replicaManager.epochEndOffsets(
    body.topics
      .filter((_topic, index) => allowed[index])
      .flatMap((topic) =>
        topic.partitions.map((partition) => ({
          topic: topic.topic,
          partition: partition.partition,
          currentLeaderEpoch: partition.currentLeaderEpoch,
          leaderEpoch: partition.leaderEpoch,
        })),
      ),
  );
  let next = 0;
  return {
    throttleTimeMs: 0,
    topics: body.topics.map((topic, index) => ({
      topic: topic.topic,
      partitions: topic.partitions.map((partition) => {
        if (!allowed[index]) {
          return {
            errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
            partition: partition.partition,
            leaderEpoch: -1,
            endOffset: -1n,
          };
        }
        const result = results[next++]!;
        return {
          errorCode: result.errorCode,
          partition: partition.partition,
          leaderEpoch: result.leaderEpoch,
          endOffset: BigInt(result.endOffset),
        };
      }),
    })),
  };
}

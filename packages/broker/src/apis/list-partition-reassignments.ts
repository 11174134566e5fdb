// ListPartitionReassignments (key 46), version 0; flexible from 0.
//   Request  => timeout_ms [topics => name [partition_indexes]](nullable)
//   Response => throttle_time_ms error_code error_message(nullable)
//               [topics => name [partitions => partition_index [replicas] [adding_replicas]
//                 [removing_replicas]]]
//
// The reassignments in progress, from this broker's metadata image: every broker applies the same
// log, and an AlterPartitionReassignments answered by this broker is already applied here. Null
// topics list every one; partitions that do not exist or are not moving are left out, as in Kafka.
// Needs DESCRIBE on CLUSTER with an authorizer.

import { listPartitionReassignments } from '@gregor/metadata';
import { type ApiKey, ErrorCode, type RequestBody, type ResponseInput } from '@gregor/protocol';
import type { RequestContext } from './api-handler.js';
import { AclOperation, authorizedOnCluster } from './authorization.js';

type Key = typeof ApiKey.ListPartitionReassignments;
type Response = ResponseInput<Key>;

export async function handleListPartitionReassignments(
  body: RequestBody<Key>,
  _apiVersion: number,
  context: RequestContext,
): Promise<Response> {
  if (!authorizedOnCluster(context, AclOperation.DESCRIBE)) {
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
      errorMessage: 'Authorization failed.',
      topics: [],
    };
  }
  const listings =
    body.topics === null
      ? null
      : body.topics.map((topic) => ({ topicName: topic.name, partitionIndexes: topic.partitionIndexes }));
  const topics = new Map<string, Response['topics'][number]['partitions']>();
  for (const ongoing of listPartitionReassignments(context.broker.metadata.image(), listings)) {
    let partitions = topics.get(ongoing.topicName);
    if (partitions === undefined) {
      partitions = [];
      topics.set(ongoing.topicName, partitions);
    }
    partitions.push({
      partitionIndex: ongoing.partitionIndex,
      replicas: [...ongoing.replicas],
      addingReplicas: [...ongoing.addingReplicas],
      removingReplicas: [...ongoing.removingReplicas],
    });
  }
  return {
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    errorMessage: null,
    topics: [...topics].map(([name, partitions]) => ({ name, partitions })),
  };
}

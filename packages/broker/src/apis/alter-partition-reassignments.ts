// AlterPartitionReassignments (key 45), versions 0-1; flexible from 0.
//   Request  => timeout_ms allow_replication_factor_change(1+)
//               [topics => name [partitions => partition_index replicas(nullable)]]
//   Response => throttle_time_ms allow_replication_factor_change(1+) error_code error_message(nullable)
//               [responses => name [partitions => partition_index error_code error_message(nullable)]]
//
// Through the active controller, which records each partition's move in the metadata log (KIP-455,
// metadata's partition-reassignment.ts): the replica set becomes target ∪ current, the added
// replicas catch up and join the ISR, then the set becomes the target and the removed replicas
// delete their logs. Null replicas cancel a reassignment (NO_REASSIGNMENT_IN_PROGRESS when none
// is). Each partition succeeds or fails on its own. Needs ALTER on CLUSTER with an authorizer,
// as in Kafka; a refusal answers every partition with CLUSTER_AUTHORIZATION_FAILED.

import type { AlterPartitionReassignmentsRequest } from '@gregor/metadata';
import { type ApiKey, ErrorCode, type RequestBody, type ResponseInput } from '@gregor/protocol';
import type { RequestContext } from './api-handler.js';
import { AclOperation, authorizedOnCluster } from './authorization.js';
import { isFailure } from './broker-context.js';

type Key = typeof ApiKey.AlterPartitionReassignments;
type Response = ResponseInput<Key>;

/** Kafka's default timeout, used when a client sends none (0 or less). */
export const reassignmentTimeoutMsDefault = 60_000;
/** Partitions one request may name; more is a broken client. */
export const reassignedPartitionsPerRequestMax = 100_000;

interface PartitionOutcome {
  readonly topicName: string;
  readonly partitionIndex: number;
  readonly errorCode: number;
  readonly errorMessage: string | null;
}

function byTopic(outcomes: readonly PartitionOutcome[]): Response['responses'] {
  const topics = new Map<string, Response['responses'][number]['partitions']>();
  for (const outcome of outcomes) {
    let partitions = topics.get(outcome.topicName);
    if (partitions === undefined) {
      partitions = [];
      topics.set(outcome.topicName, partitions);
    }
    partitions.push({
      partitionIndex: outcome.partitionIndex,
      errorCode: outcome.errorCode,
      errorMessage: outcome.errorMessage,
    });
  }
  return [...topics].map(([name, partitions]) => ({ name, partitions }));
}

export async function handleAlterPartitionReassignments(
  body: RequestBody<Key>,
  apiVersion: number,
  context: RequestContext,
): Promise<Response> {
  const allowReplicationFactorChange = apiVersion >= 1 ? body.allowReplicationFactorChange : true;
  const named = body.topics.flatMap((topic) =>
    topic.partitions.map((partition) => ({
      topicName: topic.name,
      partitionIndex: partition.partitionIndex,
    })),
  );
  const failAll = (errorCode: number, errorMessage: string): Response => ({
    throttleTimeMs: 0,
    allowReplicationFactorChange,
    errorCode,
    errorMessage,
    responses: byTopic(named.map((partition) => ({ ...partition, errorCode, errorMessage }))),
  });
  if (!authorizedOnCluster(context, AclOperation.ALTER)) {
    return failAll(ErrorCode.CLUSTER_AUTHORIZATION_FAILED, 'Authorization failed.');
  }
  if (named.length > reassignedPartitionsPerRequestMax) {
    return failAll(
      ErrorCode.INVALID_REQUEST,
      `more than ${reassignedPartitionsPerRequestMax} partitions in one AlterPartitionReassignments request`,
    );
  }
  const request: AlterPartitionReassignmentsRequest = {
    topics: body.topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.map((partition) => ({
        partitionIndex: partition.partitionIndex,
        replicas: partition.replicas,
      })),
    })),
    allowReplicationFactorChange,
  };
  const outcome = await context.broker.controller.alterPartitionReassignments(request, {
    timeoutMs: body.timeoutMs > 0 ? body.timeoutMs : reassignmentTimeoutMsDefault,
  });
  if (isFailure(outcome)) return failAll(outcome.errorCode, outcome.errorMessage);
  return {
    throttleTimeMs: 0,
    allowReplicationFactorChange,
    errorCode: ErrorCode.NONE,
    errorMessage: null,
    responses: byTopic(outcome),
  };
}

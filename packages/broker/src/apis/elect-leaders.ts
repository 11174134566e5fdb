// ElectLeaders (key 43), versions 0-2; flexible from 2.
//   Request  => election_type(1+) [topic_partitions => topic [partition_id]](nullable) timeout_ms
//   Response => throttle_time_ms error_code(1+)
//               [replica_election_results => topic [partition_result => partition_id error_code
//                 error_message(nullable)]]
//
// Through the active controller, which decides and commits the elections as one metadata batch:
// PREFERRED moves leadership to the first replica when it is alive and in the ISR
// (ELECTION_NOT_NEEDED when it already leads, PREFERRED_LEADER_NOT_AVAILABLE otherwise); UNCLEAN
// gives a leaderless partition a leader, from outside the ISR when no ISR member is alive
// (ELECTION_NOT_NEEDED when it has a leader, ELIGIBLE_LEADERS_NOT_AVAILABLE when no replica is
// alive). A null partition list means every partition; then only elections that happened or failed
// are answered. v0 is always PREFERRED. Needs ALTER on CLUSTER with an authorizer, as in Kafka.

import type { ElectionType, TopicPartitionName } from '@gregor/metadata';
import {
  type ApiKey,
  ErrorCode,
  electionType as electionTypeCode,
  errorName,
  type RequestBody,
  type ResponseInput,
} from '@gregor/protocol';
import type { RequestContext } from './api-handler.js';
import { AclOperation, authorizedOnCluster } from './authorization.js';
import { isFailure } from './broker-context.js';

type Key = typeof ApiKey.ElectLeaders;
type Response = ResponseInput<Key>;

/** Kafka's default ElectLeaders timeout, used when a client sends none (0 or less). */
export const electLeadersTimeoutMsDefault = 60_000;
/** Partitions one request may name; more is a broken client. */
export const electedPartitionsPerRequestMax = 100_000;

interface PartitionOutcome extends TopicPartitionName {
  readonly errorCode: number;
  readonly errorMessage: string | null;
}

function byTopic(outcomes: readonly PartitionOutcome[]): Response['replicaElectionResults'] {
  const topics = new Map<string, Response['replicaElectionResults'][number]['partitionResult']>();
  for (const outcome of outcomes) {
    let results = topics.get(outcome.topicName);
    if (results === undefined) {
      results = [];
      topics.set(outcome.topicName, results);
    }
    results.push({
      partitionId: outcome.partitionIndex,
      errorCode: outcome.errorCode,
      errorMessage: outcome.errorMessage,
    });
  }
  return [...topics].map(([topic, partitionResult]) => ({ topic, partitionResult }));
}

/** The partitions named, each once (Kafka reads them into a set). */
function namedPartitions(body: RequestBody<Key>): TopicPartitionName[] | null {
  if (body.topicPartitions === null) return null;
  const seen = new Set<string>();
  const partitions: TopicPartitionName[] = [];
  for (const topic of body.topicPartitions) {
    for (const partitionIndex of topic.partitionId) {
      const key = `${topic.topic}\u0000${partitionIndex}`;
      if (seen.has(key)) continue;
      seen.add(key);
      partitions.push({ topicName: topic.topic, partitionIndex });
    }
  }
  return partitions;
}

export async function handleElectLeaders(
  body: RequestBody<Key>,
  apiVersion: number,
  context: RequestContext,
): Promise<Response> {
  const partitions = namedPartitions(body);
  const failAll = (errorCode: number, errorMessage: string): Response => ({
    throttleTimeMs: 0,
    ...(apiVersion >= 1 ? { errorCode } : {}),
    replicaElectionResults: byTopic(
      (partitions ?? []).map((partition) => ({ ...partition, errorCode, errorMessage })),
    ),
  });
  if (!authorizedOnCluster(context, AclOperation.ALTER)) {
    return failAll(ErrorCode.CLUSTER_AUTHORIZATION_FAILED, 'Authorization failed.');
  }
  const type: ElectionType | undefined =
    apiVersion === 0 || body.electionType === electionTypeCode.preferred
      ? 'preferred'
      : body.electionType === electionTypeCode.unclean
        ? 'unclean'
        : undefined;
  if (type === undefined) {
    return failAll(ErrorCode.INVALID_REQUEST, `unknown election type ${body.electionType}`);
  }
  if (partitions !== null && partitions.length > electedPartitionsPerRequestMax) {
    return failAll(
      ErrorCode.INVALID_REQUEST,
      `more than ${electedPartitionsPerRequestMax} partitions in one ElectLeaders request`,
    );
  }
  const outcome = await context.broker.controller.electLeaders(type, partitions, {
    timeoutMs: body.timeoutMs > 0 ? body.timeoutMs : electLeadersTimeoutMsDefault,
  });
  if (isFailure(outcome)) return failAll(outcome.errorCode, outcome.errorMessage);
  return {
    throttleTimeMs: 0,
    ...(apiVersion >= 1 ? { errorCode: ErrorCode.NONE } : {}),
    replicaElectionResults: byTopic(
      outcome.map((result) => ({
        ...result,
        errorMessage: result.errorCode === ErrorCode.NONE ? null : errorName(result.errorCode),
      })),
    ),
  };
}

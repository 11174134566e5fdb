// AlterReplicaLogDirs (key 34), versions 1-2 (Kafka 4.0 removed v0, KIP-896); flexible from 2.
//   Request  => [dirs => path [topics => name [partitions]]]
//   Response => throttle_time_ms [results => topic_name [partitions => partition_index error_code]]
//
// Moves this broker's replicas between its `log.dirs` (KIP-113), as Kafka's
// ReplicaManager.alterReplicaLogDirs: for each partition, a dir that is not one of log.dirs is
// LOG_DIR_NOT_FOUND, an offline one KAFKA_STORAGE_ERROR; a partition the metadata does not know is
// UNKNOWN_TOPIC_OR_PARTITION, one not hosted here REPLICA_NOT_AVAILABLE; a replica already in the
// dir is NONE with nothing to do; otherwise NONE once a future replica started copying there
// (storage's log-dir-move.ts), which DescribeLogDirs reports with is_future_key until it is
// swapped in. Needs ALTER on CLUSTER with an authorizer, as in Kafka's KafkaApis; a refusal
// answers every partition with CLUSTER_AUTHORIZATION_FAILED.

import { randomUUID } from 'node:crypto';
import { type ApiKey, ErrorCode, type RequestBody, type ResponseInput } from '@gregor/protocol';
import type { RequestContext } from './api-handler.js';
import { AclOperation, authorizedOnCluster } from './authorization.js';

type Key = typeof ApiKey.AlterReplicaLogDirs;
type Response = ResponseInput<Key>;

/** Partitions one request may name; more is a broken client (the rest are not attempted). */
export const alteredLogDirPartitionsPerRequestMax = 100_000;

interface Outcome {
  readonly topicName: string;
  readonly partitionIndex: number;
  readonly errorCode: number;
}

function byTopic(outcomes: readonly Outcome[]): Response['results'] {
  const topics = new Map<string, Response['results'][number]['partitions']>();
  for (const { topicName, partitionIndex, errorCode } of outcomes) {
    let partitions = topics.get(topicName);
    if (partitions === undefined) {
      partitions = [];
      topics.set(topicName, partitions);
    }
    partitions.push({ partitionIndex, errorCode });
  }
  return [...topics].map(([topicName, partitions]) => ({ topicName, partitions }));
}

export async function handleAlterReplicaLogDirs(
  body: RequestBody<Key>,
  _apiVersion: number,
  context: RequestContext,
): Promise<Response> {
  const asked = body.dirs.flatMap((dir) =>
    dir.topics.flatMap((topic) =>
      topic.partitions.map((partitionIndex) => ({ logDir: dir.path, topicName: topic.name, partitionIndex })),
    ),
  );
  if (!authorizedOnCluster(context, AclOperation.ALTER)) {
    return {
      throttleTimeMs: 0,
      results: byTopic(
        asked.map((entry) => ({ ...entry, errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED })),
      ),
    };
  }
  const outcomes: Outcome[] = [];
  for (const [i, { logDir, topicName, partitionIndex }] of asked.entries()) {
    const errorCode =
      i < alteredLogDirPartitionsPerRequestMax
        ? await context.broker.replicaManager.alterReplicaLogDir(
            topicName,
            partitionIndex,
            logDir,
            randomUUID().replaceAll('-', ''),
          )
        : ErrorCode.OPERATION_NOT_ATTEMPTED;
    outcomes.push({ topicName, partitionIndex, errorCode });
  }
  return { throttleTimeMs: 0, results: byTopic(outcomes) };
}

// kafkajs's alterPartitionReassignments and listPartitionReassignments (KIP-455), sent to the
// controller the metadata names and sent again after a metadata refresh when it answers
// NOT_CONTROLLER (or another retriable error, or the connection drops). Input is checked as kafkajs
// checks it, with its messages; refusals are its errors: KafkaJSAlterPartitionReassignmentsError for
// the request, a KafkaJSAggregateError of them (each with topic and partition) for partitions.

import { ApiKey } from '@gregor/protocol';
import type { Cluster } from '../cluster.js';
import {
  KafkaJSAggregateError,
  KafkaJSAlterPartitionReassignmentsError,
  KafkaJSNonRetriableError,
  KafkaJSProtocolError,
} from '../errors.js';
import { withRetry } from '../retry.js';

export interface PartitionReassignment {
  readonly topic: string;
  readonly partitionAssignment: readonly {
    readonly partition: number;
    readonly replicas: readonly number[];
  }[];
}

export interface TopicPartitions {
  readonly topic: string;
  readonly partitions: readonly number[];
}

/**
 * One partition being moved. kafkajs's types say `partitionIndex`, its decoder returns `partition`:
 * both are here, so code written against either keeps working.
 */
export interface OngoingPartitionReassignment {
  readonly partition: number;
  readonly partitionIndex: number;
  readonly replicas: number[];
  readonly addingReplicas: number[];
  readonly removingReplicas: number[];
}

/** As above: kafkajs's types say `topic`, its decoder returns `name`; both are here. */
export interface OngoingTopicReassignment {
  readonly name: string;
  readonly topic: string;
  readonly partitions: OngoingPartitionReassignment[];
}

export interface ListPartitionReassignmentsResponse {
  readonly topics: OngoingTopicReassignment[];
}

function checkTopicNames(topics: readonly { readonly topic: string }[]): void {
  if (topics.some(({ topic }) => typeof topic !== 'string'))
    throw new KafkaJSNonRetriableError('Invalid topics array, the topic names have to be a valid string');
  if (new Set(topics.map(({ topic }) => topic)).size < topics.length)
    throw new KafkaJSNonRetriableError(
      'Invalid topics array, it cannot have multiple entries for the same topic',
    );
}

function checkReassignments(topics: readonly PartitionReassignment[]): void {
  if (!Array.isArray(topics)) throw new KafkaJSNonRetriableError(`Invalid topics array ${topics}`);
  checkTopicNames(topics);
  for (const { topic, partitionAssignment } of topics) {
    if (!Array.isArray(partitionAssignment))
      throw new KafkaJSNonRetriableError(
        `Invalid partitions array: ${partitionAssignment} for topic: ${topic}`,
      );
    for (const { partition, replicas } of partitionAssignment) {
      if (typeof partition !== 'number' || partition < 0)
        throw new KafkaJSNonRetriableError(`Invalid partitions index: ${partition} for topic: ${topic}`);
      if (!Array.isArray(replicas))
        throw new KafkaJSNonRetriableError(
          `Invalid replica assignment: ${replicas} for topic: ${topic} on partition: ${partition}`,
        );
      if (replicas.some((replica) => typeof replica !== 'number' || replica < 0))
        throw new KafkaJSNonRetriableError(
          `Invalid replica assignment: ${replicas} for topic: ${topic} on partition: ${partition}. Replicas must be a non negative number`,
        );
    }
  }
}

function checkTopicPartitions(topics: readonly TopicPartitions[]): void {
  if (!Array.isArray(topics)) throw new KafkaJSNonRetriableError(`Invalid topics array ${topics}`);
  checkTopicNames(topics);
  for (const { topic, partitions } of topics) {
    if (!Array.isArray(partitions))
      throw new KafkaJSNonRetriableError(`Invalid partition array: ${partitions} for topic: ${topic}`);
    if (partitions.some((partition) => typeof partition !== 'number' || partition < 0))
      throw new KafkaJSNonRetriableError(
        `Invalid partition array: ${partitions} for topic: ${topic}. The partition indices have to be a valid number greater than 0.`,
      );
  }
}

/** The controller the metadata names (refreshed first), else any broker, which forwards. */
async function controllerOf(cluster: Cluster): Promise<number | undefined> {
  await cluster.refreshMetadata();
  return cluster.controller >= 0 ? cluster.controller : undefined;
}

export async function alterPartitionReassignments(
  cluster: Cluster,
  topics: readonly PartitionReassignment[],
  timeoutMs: number,
): Promise<void> {
  checkReassignments(topics);
  const body = {
    timeoutMs,
    // v1's flag (KIP-860): kafkajs sends v0, which always allows a change of replica count.
    allowReplicationFactorChange: true,
    topics: topics.map(({ topic, partitionAssignment }) => ({
      name: topic,
      partitions: partitionAssignment.map(({ partition, replicas }) => ({
        partitionIndex: partition,
        replicas: [...replicas],
      })),
    })),
  };
  const response = await withRetry(cluster.retry, async () => {
    const controller = await controllerOf(cluster);
    const answer =
      controller === undefined
        ? await cluster.sendAny(ApiKey.AlterPartitionReassignments, body, timeoutMs + 5_000)
        : await cluster.send(controller, ApiKey.AlterPartitionReassignments, body, timeoutMs + 5_000);
    if (answer.errorCode !== 0)
      throw new KafkaJSAlterPartitionReassignmentsError(
        answer.errorCode,
        undefined,
        undefined,
        answer.errorMessage ?? undefined,
      );
    return answer;
  });
  const refused = response.responses.flatMap(({ name, partitions }) =>
    partitions
      .filter((partition) => partition.errorCode !== 0)
      .map(
        (partition) =>
          new KafkaJSAlterPartitionReassignmentsError(
            partition.errorCode,
            name,
            partition.partitionIndex,
            partition.errorMessage ?? undefined,
          ),
      ),
  );
  if (refused.length > 0) throw new KafkaJSAggregateError('Errors altering partition reassignments', refused);
}

export async function listPartitionReassignments(
  cluster: Cluster,
  topics: readonly TopicPartitions[] | null,
  timeoutMs: number,
): Promise<ListPartitionReassignmentsResponse> {
  if (topics !== null) checkTopicPartitions(topics);
  const body = {
    timeoutMs,
    topics:
      topics === null
        ? null
        : topics.map(({ topic, partitions }) => ({ name: topic, partitionIndexes: [...partitions] })),
  };
  const response = await withRetry(cluster.retry, async () => {
    const controller = await controllerOf(cluster);
    const answer =
      controller === undefined
        ? await cluster.sendAny(ApiKey.ListPartitionReassignments, body, timeoutMs + 5_000)
        : await cluster.send(controller, ApiKey.ListPartitionReassignments, body, timeoutMs + 5_000);
    if (answer.errorCode !== 0)
      throw new KafkaJSProtocolError(answer.errorCode, answer.errorMessage ?? 'ListPartitionReassignments');
    return answer;
  });
  return {
    topics: response.topics.map(({ name, partitions }) => ({
      name,
      topic: name,
      partitions: partitions.map((partition) => ({
        partition: partition.partitionIndex,
        partitionIndex: partition.partitionIndex,
        replicas: [...partition.replicas],
        addingReplicas: [...partition.addingReplicas],
        removingReplicas: [...partition.removingReplicas],
      })),
    })),
  };
}

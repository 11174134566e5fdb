// Fetch (key 1), versions 0-12; flexible from 12.
//   Request  => cluster_id(tag 0, 12+) replica_id max_wait_ms min_bytes max_bytes(3+)
//               isolation_level(4+) session_id(7+) session_epoch(7+)
//               [topics => topic [partitions => partition current_leader_epoch(9+) fetch_offset
//                 last_fetched_epoch(12+) log_start_offset(5+) partition_max_bytes]]
//               [forgotten_topics_data => topic [partitions]](7+) rack_id(11+)
//   Response => throttle_time_ms(1+) error_code(7+) session_id(7+)
//               [responses => topic [partitions => partition_index error_code high_watermark
//                 last_stable_offset(4+) log_start_offset(5+)
//                 diverging_epoch(tag 0) current_leader(tag 1) snapshot_id(tag 2)
//                 [aborted_transactions => producer_id first_offset](4+, nullable)
//                 preferred_read_replica(11+) records]]
//
// Consumers only. Replication between Gregor brokers runs over gRPC (replication/), so a replica_id >= 0
// on this port is served like a consumer: it reads below the high watermark and never moves it.
// isolation_level 1 (read_committed) reads below the last stable offset and lists the aborted
// transactions the range overlaps; consumers drop those records and skip control batches.
// Fetch sessions (KIP-227, fetch-sessions/fetch-session-cache.ts): epoch -1 (librdkafka, kafkajs)
// is a sessionless full fetch answered with session id 0; epoch 0 is a full fetch that creates a
// session when the cache has room (its id is in the answer); a later epoch with that id carries only
// the changed partitions and is answered with only the partitions that have something new. A full
// fetch closes the session it names. Records are an empty buffer, never null (librdkafka reads a
// null record set as a parse failure).

import { type ApiKey, ErrorCode, type RequestBody, type ResponseInput } from '@gregor/protocol';
import {
  type CachedPartition,
  type FetchSessionContext,
  invalidSessionId,
  type SessionPartitionRequest,
} from '../fetch-sessions/fetch-session-cache.js';
import { quotaClientOf } from '../quotas/client-quotas.js';
import { type FetchPartitionResult, IsolationLevel } from '../replica/local-reads.js';
import type { RequestContext } from './api-handler.js';
import { AclOperation, authorizedOnCluster, authorizedOnTopic } from './authorization.js';

type Key = typeof ApiKey.Fetch;
type Response = ResponseInput<Key>;
type PartitionResponse = Response['responses'][number]['partitions'][number];

/** Versions before 7 have no session fields: every fetch of theirs is sessionless. */
const sessionsFromVersion = 7;

interface Answered {
  readonly topic: string;
  readonly errorCode: number;
  readonly highWatermark: number;
  readonly lastStableOffset: number;
  readonly logStartOffset: number;
  readonly recordsBytes: number;
  readonly response: PartitionResponse;
}

export async function handleFetch(
  body: RequestBody<Key>,
  apiVersion: number,
  context: RequestContext,
): Promise<Response> {
  const failed = (errorCode: number): Response => ({
    throttleTimeMs: 0,
    errorCode,
    sessionId: invalidSessionId,
    responses: [],
  });
  if (body.replicaId >= 0 && !authorizedOnCluster(context, AclOperation.CLUSTER_ACTION)) {
    return failed(ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
  }
  const { broker } = context;
  const requested: SessionPartitionRequest[] = body.topics.flatMap((topic) =>
    topic.partitions.map((partition) => ({
      topic: topic.topic,
      partition: partition.partition,
      fetchOffset: Number(partition.fetchOffset),
      currentLeaderEpoch: partition.currentLeaderEpoch,
      partitionMaxBytes: partition.partitionMaxBytes,
    })),
  );
  const fetchContext: FetchSessionContext =
    apiVersion < sessionsFromVersion
      ? { kind: 'sessionless', partitions: requested }
      : broker.fetchSessions.newContext(
          {
            sessionId: body.sessionId,
            sessionEpoch: body.sessionEpoch,
            partitions: requested,
            forgotten: body.forgottenTopicsData,
          },
          broker.clock.nowMs(),
        );
  if (fetchContext.kind === 'error') return failed(fetchContext.errorCode);
  // What is read: the request's partitions, or for an incremental fetch every partition of the session.
  const cachedOrder: CachedPartition[] =
    fetchContext.kind === 'incremental' ? [...fetchContext.session.partitions.values()] : [];
  const toRead: readonly SessionPartitionRequest[] =
    fetchContext.kind === 'incremental' ? cachedOrder : fetchContext.partitions;
  const answered = await readPartitions(body, apiVersion, context, toRead);

  let sessionId = invalidSessionId;
  let answer: readonly Answered[] = answered;
  if (fetchContext.kind === 'full') {
    sessionId = broker.fetchSessions.createSession(
      toRead.map((request, index) => ({ request, result: answered[index]! })),
      broker.clock.nowMs(),
    );
  } else if (fetchContext.kind === 'incremental') {
    sessionId = fetchContext.session.id;
    answer = broker.fetchSessions.incrementalAnswer(
      fetchContext.session,
      cachedOrder.map((cached, index) => ({ cached, result: answered[index]! })),
    );
  }
  // BytesOutPerSec: record bytes returned to consumers, by topic.
  const bytesByTopic = new Map<string, number>();
  for (const { topic, recordsBytes } of answer) {
    bytesByTopic.set(topic, (bytesByTopic.get(topic) ?? 0) + recordsBytes);
  }
  for (const [topic, bytes] of bytesByTopic) {
    if (bytes > 0) broker.metrics.fetchedByConsumer(topic, bytes);
  }
  return {
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    sessionId,
    responses: fetchContext.kind === 'incremental' ? grouped(answer) : inRequestOrder(body, answered),
  };
}

/** A full or sessionless answer keeps the request's topic entries, one for one. */
function inRequestOrder(body: RequestBody<Key>, answered: readonly Answered[]): Response['responses'] {
  let next = 0;
  return body.topics.map((topic) => ({
    topic: topic.topic,
    partitions: topic.partitions.map(() => answered[next++]!.response),
  }));
}

/** As Kafka's FetchResponse: consecutive partitions of one topic share a topic entry. */
function grouped(answer: readonly Answered[]): Response['responses'] {
  const responses: { topic: string; partitions: PartitionResponse[] }[] = [];
  for (const { topic, response } of answer) {
    const last = responses[responses.length - 1];
    if (last !== undefined && last.topic === topic) last.partitions.push(response);
    else responses.push({ topic, partitions: [response] });
  }
  return responses;
}

/** Reads the partitions, in order: one answer each (refused topics get TOPIC_AUTHORIZATION_FAILED). */
async function readPartitions(
  body: RequestBody<Key>,
  apiVersion: number,
  context: RequestContext,
  partitions: readonly SessionPartitionRequest[],
): Promise<Answered[]> {
  const { broker } = context;
  // READ on the topic, as Kafka checks it: refused partitions are TOPIC_AUTHORIZATION_FAILED.
  const denied = new Set(
    [...new Set(partitions.map((partition) => partition.topic))].filter(
      (name) => !authorizedOnTopic(context, AclOperation.READ, name),
    ),
  );
  const readCommitted = body.isolationLevel === IsolationLevel.readCommitted;
  const results = await broker.replicaManager.fetchRecords({
    maxWaitMs: body.maxWaitMs,
    minBytes: body.minBytes,
    // A consumer with a consumer_byte_rate gets no more than its quota window allows, as in Kafka.
    maxBytes: Math.min(
      body.maxBytes,
      broker.quotas?.fetch.maxValueInQuotaWindow(quotaClientOf(context.connection, context.clientId)) ??
        Number.POSITIVE_INFINITY,
    ),
    isolationLevel: body.isolationLevel,
    partitions: partitions
      .filter((partition) => !denied.has(partition.topic))
      .map((partition) => ({
        topic: partition.topic,
        partition: partition.partition,
        fetchOffset: partition.fetchOffset,
        currentLeaderEpoch: partition.currentLeaderEpoch,
        partitionMaxBytes: partition.partitionMaxBytes,
      })),
  });
  let next = 0;
  return partitions.map((partition) => {
    if (denied.has(partition.topic)) {
      return {
        topic: partition.topic,
        errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
        highWatermark: -1,
        lastStableOffset: -1,
        logStartOffset: -1,
        recordsBytes: 0,
        response: {
          partitionIndex: partition.partition,
          errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
          highWatermark: -1n,
          lastStableOffset: -1n,
          logStartOffset: -1n,
          abortedTransactions: null,
          preferredReadReplica: -1,
          records: null,
        },
      };
    }
    const result = results[next++]!;
    return {
      topic: partition.topic,
      errorCode: result.errorCode,
      highWatermark: result.highWatermark,
      lastStableOffset: result.lastStableOffset,
      logStartOffset: result.logStartOffset,
      recordsBytes: result.records.length,
      response: partitionResponse(result, apiVersion, readCommitted),
    };
  });
}

function partitionResponse(
  result: FetchPartitionResult,
  apiVersion: number,
  readCommitted: boolean,
): PartitionResponse {
  const leaderMoved =
    result.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER ||
    result.errorCode === ErrorCode.FENCED_LEADER_EPOCH;
  return {
    partitionIndex: result.partition,
    errorCode: result.errorCode,
    highWatermark: BigInt(result.highWatermark),
    lastStableOffset: BigInt(result.lastStableOffset),
    logStartOffset: BigInt(result.logStartOffset),
    // A tagged field (v12+): tells the client where the partition went without a Metadata round trip.
    ...(leaderMoved && result.currentLeader.leaderId >= 0 && apiVersion >= 12
      ? { currentLeader: { ...result.currentLeader } }
      : {}),
    // Kafka sends null for read_uncommitted and the list for read_committed.
    abortedTransactions:
      result.abortedTransactions?.map(({ producerId, firstOffset }) => ({
        producerId: BigInt(producerId),
        firstOffset: BigInt(firstOffset),
      })) ?? (readCommitted ? [] : null),
    preferredReadReplica: -1,
    records: result.records,
  };
}

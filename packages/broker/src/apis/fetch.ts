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
// No fetch sessions (KIP-227): session epoch -1 (librdkafka, kafkajs: full fetch, no session) and 0
// (asks for a session) both get a full answer with session id 0, i.e. "no session created", and
// the client keeps sending full fetches; an incremental fetch (epoch > 0 or a session id) gets
// FETCH_SESSION_ID_NOT_FOUND. Records are an empty buffer, never null (librdkafka reads a null
// record set as a parse failure).

import { type ApiKey, ErrorCode, type RequestBody, type ResponseInput } from '@gregor/protocol';
import { quotaClientOf } from '../quotas/client-quotas.js';
import { IsolationLevel } from '../replica/local-reads.js';
import type { RequestContext } from './api-handler.js';
import { AclOperation, authorizedOnCluster, authorizedOnTopic } from './authorization.js';

type Key = typeof ApiKey.Fetch;
type Response = ResponseInput<Key>;

const sessionlessEpoch = -1;
const newSessionEpoch = 0;

export async function handleFetch(
  body: RequestBody<Key>,
  apiVersion: number,
  context: RequestContext,
): Promise<Response> {
  if (
    body.sessionId !== 0 ||
    (body.sessionEpoch !== sessionlessEpoch && body.sessionEpoch !== newSessionEpoch)
  ) {
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND,
      sessionId: 0,
      responses: [],
    };
  }
  if (body.replicaId >= 0 && !authorizedOnCluster(context, AclOperation.CLUSTER_ACTION)) {
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
      sessionId: 0,
      responses: [],
    };
  }
  // READ on the topic, as Kafka checks it: refused partitions are TOPIC_AUTHORIZATION_FAILED.
  const denied = new Set(
    body.topics
      .map((topic) => topic.topic)
      .filter((name) => !authorizedOnTopic(context, AclOperation.READ, name)),
  );
  const allowedTopics = body.topics.filter((topic) => !denied.has(topic.topic));
  const readCommitted = body.isolationLevel === IsolationLevel.readCommitted;
  const results = await context.broker.replicaManager.fetchRecords({
    maxWaitMs: body.maxWaitMs,
    minBytes: body.minBytes,
    // A consumer with a consumer_byte_rate gets no more than its quota window allows, as in Kafka.
    maxBytes: Math.min(
      body.maxBytes,
      context.broker.quotas?.fetch.maxValueInQuotaWindow(
        quotaClientOf(context.connection, context.clientId),
      ) ?? Number.POSITIVE_INFINITY,
    ),
    isolationLevel: body.isolationLevel,
    partitions: allowedTopics.flatMap((topic) =>
      topic.partitions.map((partition) => ({
        topic: topic.topic,
        partition: partition.partition,
        fetchOffset: Number(partition.fetchOffset),
        currentLeaderEpoch: partition.currentLeaderEpoch,
        partitionMaxBytes: partition.partitionMaxBytes,
      })),
    ),
  });
  // BytesOutPerSec: record bytes returned to consumers, once per topic of the request.
  let next = 0;
  for (const topic of allowedTopics) {
    let bytes = 0;
    for (let index = 0; index < topic.partitions.length; index++) bytes += results[next++]!.records.length;
    if (bytes > 0) context.broker.metrics.fetchedByConsumer(topic.topic, bytes);
  }
  next = 0;
  return {
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    sessionId: 0,
    responses: body.topics.map((topic) => ({
      topic: topic.topic,
      partitions: topic.partitions.map((partition) => {
        if (denied.has(topic.topic)) {
          return {
            partitionIndex: partition.partition,
            errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
            highWatermark: -1n,
            lastStableOffset: -1n,
            logStartOffset: -1n,
            abortedTransactions: null,
            preferredReadReplica: -1,
            records: null,
          };
        }
        const result = results[next++]!;
        const leaderMoved =
          result.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER ||
          result.errorCode === ErrorCode.FENCED_LEADER_EPOCH;
        return {
          partitionIndex: result.partition,
          errorCode: result.errorCode,
          highWatermark: result.highWatermark,
          lastStableOffset: result.lastStableOffset,
          logStartOffset: result.logStartOffset,
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
      }),
    })),
  };
}

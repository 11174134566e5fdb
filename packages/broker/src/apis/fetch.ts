// Fetch (key 1), versions 0-18; flexible from 12.
//   Request  => cluster_id(tag 0, 12+) replica_id(0-14) replica_state(tag 1, 15+)
//               max_wait_ms min_bytes max_bytes(3+) isolation_level(4+) session_id(7+) session_epoch(7+)
//               [topics => topic(0-12) topic_id(13+) [partitions => partition current_leader_epoch(9+)
//                 fetch_offset last_fetched_epoch(12+) log_start_offset(5+) partition_max_bytes
//                 replica_directory_id(tag 0, 17+) high_watermark(tag 1, 18+)]]
//               [forgotten_topics_data => topic(7-12) topic_id(13+) [partitions]](7+) rack_id(11+)
//   Response => throttle_time_ms(1+) error_code(7+) session_id(7+)
//               [responses => topic(0-12) topic_id(13+) [partitions => partition_index error_code
//                 high_watermark last_stable_offset(4+) log_start_offset(5+)
//                 diverging_epoch(tag 0) current_leader(tag 1) snapshot_id(tag 2)
//                 [aborted_transactions => producer_id first_offset](4+, nullable)
//                 preferred_read_replica(11+) records]]
//               node_endpoints(tag 0, 16+)
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
// Topic ids (v13+, KIP-516): topics are named by id in the request, the answer and the session; an
// id is resolved against the metadata image each time it is read, so a partition of an id this
// broker does not know (or no longer knows: the topic was deleted) is answered UNKNOWN_TOPIC_ID.
// v15 carries the replica id in replica_state (KIP-903). From v16 (KIP-951) an answer that names a
// partition's current leader (NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH) also carries that
// leader's endpoint on the request's listener, so the client need not ask Metadata first.

import type { MetadataImage } from '@gregor/metadata';
import {
  type ApiKey,
  ErrorCode,
  fetchTopicIdVersionMin,
  type RequestBody,
  type ResponseInput,
  zeroUuid,
} from '@gregor/protocol';
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
import { liveBrokers } from './metadata.js';
import { topicIdFromWire } from './topic-ids.js';

type Key = typeof ApiKey.Fetch;
type Response = ResponseInput<Key>;
type PartitionResponse = Response['responses'][number]['partitions'][number];

/** Versions before 7 have no session fields: every fetch of theirs is sessionless. */
const sessionsFromVersion = 7;
/** From this version on, an answer naming current leaders carries their endpoints (KIP-951). */
const nodeEndpointsFromVersion = 16;

/**
 * The id of the replica that sends the fetch, or -1 for a consumer: replica_id before v15,
 * replica_state's replica_id from v15 (KIP-903); each holds -1 in the versions without it.
 */
export function fetchReplicaId(body: RequestBody<Key>): number {
  return body.replicaId >= 0 ? body.replicaId : body.replicaState.replicaId;
}

interface Answered {
  /** The topic's name ('' for a topic id this broker does not know). */
  readonly topic: string;
  /** The topic id the request named it by (v13+), else the zero uuid. */
  readonly topicId: string;
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
  if (fetchReplicaId(body) >= 0 && !authorizedOnCluster(context, AclOperation.CLUSTER_ACTION)) {
    return failed(ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
  }
  const { broker } = context;
  const usesTopicIds = apiVersion >= fetchTopicIdVersionMin;
  // A request by id leaves the name empty; readPartitions resolves the id each time it reads.
  const requested: SessionPartitionRequest[] = body.topics.flatMap((topic) =>
    topic.partitions.map((partition) => ({
      topic: usesTopicIds ? '' : topic.topic,
      topicId: usesTopicIds ? topic.topicId : zeroUuid,
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
            usesTopicIds,
            partitions: requested,
            forgotten: usesTopicIds
              ? body.forgottenTopicsData.map((topic) => ({ ...topic, topic: '' }))
              : body.forgottenTopicsData.map((topic) => ({ ...topic, topicId: zeroUuid })),
          },
          broker.clock.nowMs(),
        );
  if (fetchContext.kind === 'error') return failed(fetchContext.errorCode);
  // What is read: the request's partitions, or for an incremental fetch every partition of the session.
  const cachedOrder: CachedPartition[] =
    fetchContext.kind === 'incremental' ? [...fetchContext.session.partitions.values()] : [];
  const toRead: readonly SessionPartitionRequest[] =
    fetchContext.kind === 'incremental' ? cachedOrder : fetchContext.partitions;
  const answered = await readPartitions(body, apiVersion, context, broker.metadata.image(), toRead);

  let sessionId = invalidSessionId;
  let answer: readonly Answered[] = answered;
  if (fetchContext.kind === 'full') {
    sessionId = broker.fetchSessions.createSession(
      toRead.map((request, index) => ({ request, result: answered[index]! })),
      usesTopicIds,
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
    // The image of now, not of before a long poll: the leaders named are those of the read.
    ...(apiVersion >= nodeEndpointsFromVersion
      ? nodeEndpoints(broker.metadata.image(), context, answer)
      : {}),
  };
}

/** KIP-951: the endpoints of the current leaders the answer names, on the request's listener. */
function nodeEndpoints(
  image: MetadataImage,
  context: RequestContext,
  answer: readonly Answered[],
): Pick<Response, 'nodeEndpoints'> {
  const leaders = new Set<number>();
  for (const { response } of answer) {
    const leaderId = response.currentLeader?.leaderId ?? -1;
    if (leaderId >= 0) leaders.add(leaderId);
  }
  if (leaders.size === 0) return {};
  return {
    nodeEndpoints: liveBrokers(image, context.connection.listenerName).filter((broker) =>
      leaders.has(broker.nodeId),
    ),
  };
}

/** Resolves topic ids (32 hex digits) to names in one image, each id once per request. */
function topicNameResolver(image: MetadataImage): (topicId: string) => string | undefined {
  const resolved = new Map<string, string | undefined>();
  return (wireTopicId) => {
    if (resolved.has(wireTopicId)) return resolved.get(wireTopicId);
    const topicId = topicIdFromWire(wireTopicId);
    const name = topicId === null ? undefined : image.topicById(topicId)?.name;
    resolved.set(wireTopicId, name);
    return name;
  };
}

/** A full or sessionless answer keeps the request's topic entries, one for one. */
function inRequestOrder(body: RequestBody<Key>, answered: readonly Answered[]): Response['responses'] {
  let next = 0;
  return body.topics.map((topic) => ({
    topic: topic.topic,
    topicId: topic.topicId,
    partitions: topic.partitions.map(() => answered[next++]!.response),
  }));
}

/** As Kafka's FetchResponse: consecutive partitions of one topic share a topic entry. */
function grouped(answer: readonly Answered[]): Response['responses'] {
  const responses: { topic: string; topicId: string; partitions: PartitionResponse[] }[] = [];
  for (const { topic, topicId, response } of answer) {
    const last = responses[responses.length - 1];
    if (last !== undefined && last.topic === topic && last.topicId === topicId)
      last.partitions.push(response);
    else responses.push({ topic, topicId, partitions: [response] });
  }
  return responses;
}

/**
 * Reads the partitions, in order: one answer each (a topic id not in the image gets UNKNOWN_TOPIC_ID,
 * a refused topic TOPIC_AUTHORIZATION_FAILED).
 */
async function readPartitions(
  body: RequestBody<Key>,
  apiVersion: number,
  context: RequestContext,
  image: MetadataImage,
  partitions: readonly SessionPartitionRequest[],
): Promise<Answered[]> {
  const { broker } = context;
  const nameOf = topicNameResolver(image);
  const names = partitions.map((partition) =>
    partition.topicId === zeroUuid ? partition.topic : nameOf(partition.topicId),
  );
  // READ on the topic, as Kafka checks it: refused partitions are TOPIC_AUTHORIZATION_FAILED.
  const denied = new Set(
    [...new Set(names)].filter(
      (name): name is string => name !== undefined && !authorizedOnTopic(context, AclOperation.READ, name),
    ),
  );
  const readable = (name: string | undefined): name is string => name !== undefined && !denied.has(name);
  const readCommitted = body.isolationLevel === IsolationLevel.readCommitted;
  const toRead = partitions.flatMap((partition, index) => {
    const topic = names[index];
    if (!readable(topic)) return [];
    return [
      {
        topic,
        partition: partition.partition,
        fetchOffset: partition.fetchOffset,
        currentLeaderEpoch: partition.currentLeaderEpoch,
        partitionMaxBytes: partition.partitionMaxBytes,
      },
    ];
  });
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
    partitions: toRead,
  });
  let next = 0;
  return partitions.map((partition, index) => {
    const topic = names[index];
    if (!readable(topic)) {
      const errorCode =
        topic === undefined ? ErrorCode.UNKNOWN_TOPIC_ID : ErrorCode.TOPIC_AUTHORIZATION_FAILED;
      return {
        topic: topic ?? '',
        topicId: partition.topicId,
        errorCode,
        highWatermark: -1,
        lastStableOffset: -1,
        logStartOffset: -1,
        recordsBytes: 0,
        response: {
          partitionIndex: partition.partition,
          errorCode,
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
      topic,
      topicId: partition.topicId,
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

// Produce (key 0), versions 0-13; flexible from 9. v13 names topics by id: produce-topic-ids.ts
// resolves them to names before this handler.
//   Request  => transactional_id(3+, nullable) acks timeout_ms
//               [topics => name [partitions => partition_index records]]
//   Response => [responses => name [partitions => partition_index error_code base_offset
//                 log_append_time_ms(2+) log_start_offset(5+)
//                 [record_errors => batch_index batch_index_error_message](8+) error_message(8+)
//                 current_leader(tag 0, 10+)]]
//               throttle_time_ms(1+) node_endpoints(tag 0, 10+)
//
// acks 1 answers after the leader's append, -1 once the ISR has the records (the high watermark
// covers them), 0 gets no response at all (a NoResponse; if a partition failed, one that closes the
// connection, as Kafka does, so the producer notices and refreshes its metadata; the reason logged
// names the failed partitions and their errors, as Kafka's log line does). Only RecordBatch v2
// (magic 2) is accepted: older message formats are CORRUPT_MESSAGE.
//
// A partition refused for some of its records (keyless ones on a compacted topic) lists them from
// v8 on (KIP-467): record_errors with each one's index in its batch and message, and error_message.
// Nothing of the batch is appended; the client can tell those records from the rest (librdkafka
// fails them as INVALID_RECORD and the others as _INVALID_DIFFERENT_RECORD, for the application to
// send again).
//
// From v10 (KIP-951) a partition answered NOT_LEADER_OR_FOLLOWER names its current leader and epoch
// from this broker's metadata image, and node_endpoints gives each such leader's endpoint on the
// listener the request came in on, as Kafka's KafkaApis does: the producer can move there without a
// Metadata round trip. No leader: no current_leader; a leader not live or without that listener: no
// endpoint, as in Kafka. v11
// differs from v10 only in the errors a client may see: TRANSACTION_ABORTABLE (KIP-890).
// It does verify (KIP-890 part 1): a classic (v3-11) transactional producer's first batch on a
// partition is appended only if the coordinator of `transactional_id` says the partition is in its
// ongoing transaction (replica/leader-appends.ts), else TRANSACTION_ABORTABLE (v11+) or
// INVALID_TXN_STATE (v3-10), as Kafka answers by version. v12 keeps v11's layout and
// is transactions v2 (KIP-890 part 2): the producer sent no AddPartitionsToTxn, and the first batch
// on a partition has the coordinator add the partition to its transaction before it is appended.
//
// What was appended is counted per topic for metrics (MessagesInPerSec, BytesInPerSec): records as
// the append's validation counted them, bytes as received, once per topic of the request.

import { isBrokerActive } from '@gregor/metadata';
import {
  type ApiKey,
  BatchField,
  batchHeaderBytes,
  batchLogOverheadBytes,
  ErrorCode,
  errorName,
  type RecordError,
  type RequestBody,
  type ResponseInput,
} from '@gregor/protocol';
import { produceTransactionAbortableVersion } from '../replica/transaction-verification.js';
import { NoResponse, type RequestContext } from './api-handler.js';
import { AclOperation, authorizedOnTopic } from './authorization.js';
import { authorizedOnTransactionalId } from './txn-authorization.js';

type Key = typeof ApiKey.Produce;
type Response = ResponseInput<Key>;
type PartitionResponse = Response['responses'][number]['partitions'][number];

const validAcks: ReadonlySet<number> = new Set([0, 1, -1]);

/** The first version that names the current leader of a moved partition (KIP-951). */
const currentLeaderVersion = 10;

/** Produce v12+: the transactions-v2 producer adds its partitions through its produces (KIP-890). */
export const produceTransactionsV2Version = 12;

export async function handleProduce(
  body: RequestBody<Key>,
  apiVersion: number,
  context: RequestContext,
): Promise<Response | NoResponse> {
  const errorPartition = (
    partitionIndex: number,
    errorCode: number,
    message: string | null,
    recordErrors: readonly RecordError[] = [],
  ): PartitionResponse => ({
    partitionIndex,
    errorCode,
    baseOffset: -1,
    logAppendTimeMs: -1,
    logStartOffset: -1,
    // Both present from v8 on (KIP-467); ignorable, so older versions drop them.
    recordErrors: recordErrors.map((error) => ({
      batchIndex: error.batchIndex,
      batchIndexErrorMessage: error.message,
    })),
    errorMessage: message,
  });
  if (!validAcks.has(body.acks)) {
    return {
      throttleTimeMs: 0,
      responses: body.topics.map((topic) => ({
        name: topic.name,
        partitions: topic.partitions.map((partition) =>
          errorPartition(partition.partitionIndex, ErrorCode.INVALID_REQUIRED_ACKS, `acks ${body.acks}`),
        ),
      })),
    };
  }
  // A transactional produce needs WRITE on its transactional id, as Kafka checks it first.
  if (
    body.transactionalId !== null &&
    !authorizedOnTransactionalId(context, AclOperation.WRITE, body.transactionalId)
  ) {
    return {
      throttleTimeMs: 0,
      responses: body.topics.map((topic) => ({
        name: topic.name,
        partitions: topic.partitions.map((partition) =>
          errorPartition(
            partition.partitionIndex,
            ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
            'Transactional Id authorization failed.',
          ),
        ),
      })),
    };
  }
  // WRITE on the topic, as Kafka checks it: refused partitions are TOPIC_AUTHORIZATION_FAILED.
  const denied = new Set(
    body.topics
      .map((topic) => topic.name)
      .filter((name) => !authorizedOnTopic(context, AclOperation.WRITE, name)),
  );
  const requests = body.topics.flatMap((topic) =>
    (denied.has(topic.name) ? [] : topic.partitions).map((partition) => ({
      topic: topic.name,
      partition: partition.partitionIndex,
      records: partition.records,
      transactionalId: body.transactionalId,
      addToTransaction: apiVersion >= produceTransactionsV2Version,
      transactionAbortable: apiVersion >= produceTransactionAbortableVersion,
    })),
  );
  const results = await context.broker.replicaManager.appendRecords(requests, body.acks, body.timeoutMs);
  recordAppended(requests, results, context);
  let next = 0;
  const response: Response = {
    throttleTimeMs: 0,
    responses: body.topics.map((topic) => ({
      name: topic.name,
      partitions: topic.partitions.map((partition) => {
        if (denied.has(topic.name)) {
          return errorPartition(partition.partitionIndex, ErrorCode.TOPIC_AUTHORIZATION_FAILED, null);
        }
        const result = results[next++]!;
        if (result.errorCode !== ErrorCode.NONE) {
          return errorPartition(result.partition, result.errorCode, result.errorMessage, result.recordErrors);
        }
        return {
          partitionIndex: result.partition,
          errorCode: ErrorCode.NONE,
          baseOffset: result.baseOffset,
          logAppendTimeMs: result.logAppendTimeMs,
          logStartOffset: result.logStartOffset,
        };
      }),
    })),
  };
  if (
    apiVersion >= currentLeaderVersion &&
    results.some((result) => result.errorCode === ErrorCode.NOT_LEADER_OR_FOLLOWER)
  ) {
    addCurrentLeaders(response, context);
  }
  if (body.acks === 0) {
    const failures = produceResponseFailures(response);
    return failures === undefined
      ? new NoResponse()
      : new NoResponse(`a Produce with acks=0 failed: ${failures}`);
  }
  return response;
}

/**
 * KIP-951: each NOT_LEADER_OR_FOLLOWER partition with a leader gets it and its epoch from the
 * metadata image, and node_endpoints each such leader's endpoint on the client's listener, when the
 * leader is live and has one (as Kafka's getCurrentLeader and alive-broker lookup do).
 */
function addCurrentLeaders(response: Response, context: RequestContext): void {
  const image = context.broker.metadata.image();
  const listenerName = context.connection.listenerName;
  const nodeEndpoints = new Map<
    number,
    { nodeId: number; host: string; port: number; rack: string | null }
  >();
  for (const topic of response.responses) {
    const partitions = image.topic(topic.name ?? '')?.partitions;
    for (const partition of topic.partitions) {
      if (partition.errorCode !== ErrorCode.NOT_LEADER_OR_FOLLOWER) continue;
      const state = partitions?.[partition.partitionIndex];
      if (state === undefined || state.leader < 0) continue;
      partition.currentLeader = { leaderId: state.leader, leaderEpoch: state.leaderEpoch };
      const registration = image.broker(state.leader);
      const endpoint = isBrokerActive(registration)
        ? registration!.listeners.find((listener) => listener.name === listenerName)
        : undefined;
      if (endpoint === undefined) continue;
      nodeEndpoints.set(state.leader, {
        nodeId: state.leader,
        host: endpoint.host,
        port: endpoint.port,
        rack: registration!.rack,
      });
    }
  }
  response.nodeEndpoints = [...nodeEndpoints.values()].sort((a, b) => a.nodeId - b.nodeId);
}

/** Partitions shown in the close reason of a failed acks=0 Produce; the rest are counted. */
const failuresNamedMax = 5;

/**
 * The failed partitions of a Produce response with their errors ("t-0 NOT_LEADER_OR_FOLLOWER"), or
 * undefined when none failed. With acks=0 the connection is then closed, and this is the reason
 * logged, as Kafka logs "Topic and partition to exceptions" when it closes one.
 */
function produceResponseFailures(response: Response): string | undefined {
  const failures = response.responses.flatMap((topic) =>
    topic.partitions
      .filter((partition) => partition.errorCode !== ErrorCode.NONE)
      .map(
        (partition) =>
          `${topic.name ?? 'topic id'}-${partition.partitionIndex} ${errorName(partition.errorCode)}`,
      ),
  );
  if (failures.length === 0) return undefined;
  const named = failures.slice(0, failuresNamedMax).join(', ');
  return failures.length > failuresNamedMax
    ? `${named} and ${failures.length - failuresNamedMax} more`
    : named;
}

/**
 * Counts what the leader appended, per topic of the request (topics come grouped, in order): records
 * as its validation counted them, bytes as received.
 */
function recordAppended(
  requests: readonly { readonly topic: string; readonly records: Buffer | null }[],
  results: readonly { readonly errorCode: number; readonly recordCount: number }[],
  context: RequestContext,
): void {
  let topic: string | undefined;
  let messages = 0;
  let bytes = 0;
  for (let index = 0; index < requests.length; index++) {
    const request = requests[index]!;
    if (request.topic !== topic) {
      if (topic !== undefined && bytes > 0) context.broker.metrics.produced(topic, messages, bytes);
      topic = request.topic;
      messages = 0;
      bytes = 0;
    }
    const result = results[index]!;
    if (result.errorCode !== ErrorCode.NONE || request.records === null) continue;
    messages += result.recordCount;
    bytes += request.records.length;
  }
  if (topic !== undefined && bytes > 0) context.broker.metrics.produced(topic, messages, bytes);
}

/** The records of the batches in `records`, from their headers (for benchmarks of the recording cost). */
export function recordCountOf(records: Buffer): number {
  let count = 0;
  let position = 0;
  while (position + batchHeaderBytes <= records.length) {
    count += records.readInt32BE(position + BatchField.recordsCount);
    position += batchLogOverheadBytes + records.readInt32BE(position + BatchField.batchLength);
  }
  return count;
}

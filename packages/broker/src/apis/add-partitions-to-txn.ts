// AddPartitionsToTxn (key 24), versions 0-5; flexible from 3.
//   Request v0-3 => transactional_id producer_id producer_epoch [topics => name [partitions]]
//   Request v4+  => [transactions => transactional_id producer_id producer_epoch verify_only
//                     [topics => name [partitions]]]
//   Response v0-3 => throttle_time_ms
//                    [results_by_topic_v3_and_below => name
//                      [results_by_partition => partition_index partition_error_code]]
//   Response v4+  => throttle_time_ms error_code
//                    [results_by_transaction => transactional_id [topic_results => (as v0-3)]]
//
// Adds partitions to the producer's transaction at its coordinator (@gregor/txn). Every partition
// gets the coordinator's answer; a partition whose topic does not exist gets
// UNKNOWN_TOPIC_OR_PARTITION and the others OPERATION_NOT_ATTEMPTED, as in Kafka.
// v4+ are for brokers (KIP-890; Kafka's leaders ask their coordinators with them, Gregor's leaders
// over gRPC): each transaction of the batch is answered on its own, as v0-3 answers its one; with
// verify_only nothing is added and each partition is answered whether it is in the ongoing
// transaction (the coordinator's verifyPartitions: NONE, or not in it: INVALID_TXN_STATE, which v5
// answers TRANSACTION_ABORTABLE as Kafka's KIP-890 coordinator does). CLUSTER_ACTION on the
// cluster is checked by the authorization wrapper (txn-authorization.ts), no per-id or per-topic
// WRITE, as in Kafka.

import { type ApiKey, ErrorCode, type RequestBody, type ResponseInput } from '@gregor/protocol';
import type { TransactionCoordinatorDriver } from '../transactions/transaction-coordinator-driver.js';
import type { ApiHandler, RequestContext } from './api-handler.js';
import { producerFencedFor } from './txn-errors.js';

type Key = typeof ApiKey.AddPartitionsToTxn;
type Response = ResponseInput<Key>;
type TopicResult = Response['resultsByTopicV3AndBelow'][number];

/** The first version only brokers send: a batch of transactions, verify_only. */
export const addPartitionsToTxnBrokerVersionMin = 4;
/** The first version that may carry TRANSACTION_ABORTABLE. */
const transactionAbortableVersionMin = 5;

interface TransactionToAdd {
  readonly transactionalId: string;
  readonly producerId: bigint;
  readonly producerEpoch: number;
  readonly verifyOnly: boolean;
  readonly topics: readonly { readonly name: string; readonly partitions: readonly number[] }[];
}

export function createAddPartitionsToTxnHandler(transactions: TransactionCoordinatorDriver): ApiHandler<Key> {
  return async (body: RequestBody<Key>, apiVersion: number, context: RequestContext): Promise<Response> => {
    if (apiVersion < addPartitionsToTxnBrokerVersionMin) {
      const topicResults = await answerTransaction(transactions, context, apiVersion, {
        ...body,
        verifyOnly: false,
      });
      return { throttleTimeMs: 0, resultsByTopicV3AndBelow: topicResults };
    }
    const resultsByTransaction = await Promise.all(
      body.transactions.map(async (transaction) => ({
        transactionalId: transaction.transactionalId,
        topicResults: await answerTransaction(transactions, context, apiVersion, transaction),
      })),
    );
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      resultsByTransaction,
      resultsByTopicV3AndBelow: [],
    };
  };
}

async function answerTransaction(
  transactions: TransactionCoordinatorDriver,
  context: RequestContext,
  apiVersion: number,
  transaction: TransactionToAdd,
): Promise<TopicResult[]> {
  const image = context.broker.metadata.image();
  const unknown = (topic: string, partition: number): boolean =>
    image.topic(topic)?.partitions[partition] === undefined;
  const anyUnknown = transaction.topics.some(({ name, partitions }) =>
    partitions.some((p) => unknown(name, p)),
  );
  const question = {
    transactionalId: transaction.transactionalId,
    producerId: Number(transaction.producerId),
    producerEpoch: transaction.producerEpoch,
    partitions: transaction.topics.map(({ name, partitions }) => ({ topic: name, partitions })),
  };
  const answer = (errorOf: (topic: string, partition: number) => number): TopicResult[] =>
    transaction.topics.map(({ name, partitions }) => ({
      name,
      resultsByPartition: partitions.map((partitionIndex) => ({
        partitionIndex,
        partitionErrorCode: errorOf(name, partitionIndex),
      })),
    }));
  if (anyUnknown) {
    return answer((topic, partition) =>
      unknown(topic, partition) ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : ErrorCode.OPERATION_NOT_ATTEMPTED,
    );
  }
  if (transaction.verifyOnly) {
    const verified = new Map(
      transactions.transactions
        .verifyPartitions(question)
        .map(({ topic, partition, errorCode }) => [`${topic}\u0000${partition}`, errorCode]),
    );
    return answer((topic, partition) => {
      const errorCode = verified.get(`${topic}\u0000${partition}`) ?? ErrorCode.UNKNOWN_SERVER_ERROR;
      return errorCode === ErrorCode.INVALID_TXN_STATE && apiVersion >= transactionAbortableVersionMin
        ? ErrorCode.TRANSACTION_ABORTABLE
        : errorCode;
    });
  }
  const response = await transactions.request('AddPartitionsToTxn', (coordinator, requestId, nowMs) =>
    coordinator.addPartitionsToTxn(requestId, question, nowMs),
  );
  const errorCode = producerFencedFor(response.errorCode, apiVersion, 2);
  return answer(() => errorCode);
}

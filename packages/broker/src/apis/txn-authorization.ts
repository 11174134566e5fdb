// The transaction APIs' authorization on the transactional id, as Kafka's KafkaApis checks it:
// WRITE on the TRANSACTIONAL_ID resource for AddPartitionsToTxn, AddOffsetsToTxn, EndTxn and
// TxnOffsetCommit (and, in their own handlers, InitProducerId with an id and a transactional
// Produce); DESCRIBE for DescribeTransactions (per id) and ListTransactions (ids the principal may
// not describe are left out). A refusal is TRANSACTIONAL_ID_AUTHORIZATION_FAILED. AddPartitionsToTxn
// also needs WRITE on each topic: if one is refused, nothing is added, the refused partitions answer
// TOPIC_AUTHORIZATION_FAILED and the others OPERATION_NOT_ATTEMPTED; its v4+ (brokers' batches,
// KIP-890) needs CLUSTER_ACTION on the cluster instead, refused with CLUSTER_AUTHORIZATION_FAILED
// as the top-level error (Kafka's error response for v4+). AddOffsetsToTxn needs READ on the
// group. Each wrapper answers a refusal itself and otherwise calls the API's handler.

import { type ApiKey, ErrorCode } from '@gregor/protocol';
import { addPartitionsToTxnBrokerVersionMin } from './add-partitions-to-txn.js';
import type { ApiHandler, RequestContext } from './api-handler.js';
import {
  AclOperation,
  AclResourceType,
  authorized,
  authorizedOnCluster,
  authorizedOnGroup,
  authorizedOnTopic,
} from './authorization.js';

const refused = ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED;

export function authorizedOnTransactionalId(
  context: RequestContext,
  operation: number,
  transactionalId: string,
): boolean {
  return authorized(context, operation, AclResourceType.TRANSACTIONAL_ID, transactionalId);
}

export function addPartitionsToTxnAuthorized(
  handler: ApiHandler<typeof ApiKey.AddPartitionsToTxn>,
): ApiHandler<typeof ApiKey.AddPartitionsToTxn> {
  return (body, version, context) => {
    if (version >= addPartitionsToTxnBrokerVersionMin) {
      if (authorizedOnCluster(context, AclOperation.CLUSTER_ACTION)) return handler(body, version, context);
      return Promise.resolve({
        throttleTimeMs: 0,
        errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
        resultsByTransaction: [],
        resultsByTopicV3AndBelow: [],
      });
    }
    const answerEach = (errorOf: (topic: string) => number) => ({
      throttleTimeMs: 0,
      resultsByTopicV3AndBelow: body.topics.map((topic) => ({
        name: topic.name,
        resultsByPartition: topic.partitions.map((partitionIndex) => ({
          partitionIndex,
          partitionErrorCode: errorOf(topic.name),
        })),
      })),
    });
    if (!authorizedOnTransactionalId(context, AclOperation.WRITE, body.transactionalId)) {
      return Promise.resolve(answerEach(() => refused));
    }
    const deniedTopics = new Set(
      body.topics
        .map((topic) => topic.name)
        .filter((name) => !authorizedOnTopic(context, AclOperation.WRITE, name)),
    );
    if (deniedTopics.size > 0) {
      return Promise.resolve(
        answerEach((topic) =>
          deniedTopics.has(topic) ? ErrorCode.TOPIC_AUTHORIZATION_FAILED : ErrorCode.OPERATION_NOT_ATTEMPTED,
        ),
      );
    }
    return handler(body, version, context);
  };
}

export function addOffsetsToTxnAuthorized(
  handler: ApiHandler<typeof ApiKey.AddOffsetsToTxn>,
): ApiHandler<typeof ApiKey.AddOffsetsToTxn> {
  return (body, version, context) => {
    if (!authorizedOnTransactionalId(context, AclOperation.WRITE, body.transactionalId)) {
      return Promise.resolve({ throttleTimeMs: 0, errorCode: refused });
    }
    if (!authorizedOnGroup(context, AclOperation.READ, body.groupId)) {
      return Promise.resolve({ throttleTimeMs: 0, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED });
    }
    return handler(body, version, context);
  };
}

export function endTxnAuthorized(
  handler: ApiHandler<typeof ApiKey.EndTxn>,
): ApiHandler<typeof ApiKey.EndTxn> {
  return (body, version, context) =>
    authorizedOnTransactionalId(context, AclOperation.WRITE, body.transactionalId)
      ? handler(body, version, context)
      : Promise.resolve({ throttleTimeMs: 0, errorCode: refused });
}

/** WRITE on the transactional id first; the group and topic checks are the wrapped handler's. */
export function txnOffsetCommitTransactionalIdAuthorized(
  handler: ApiHandler<typeof ApiKey.TxnOffsetCommit>,
): ApiHandler<typeof ApiKey.TxnOffsetCommit> {
  return (body, version, context) =>
    authorizedOnTransactionalId(context, AclOperation.WRITE, body.transactionalId)
      ? handler(body, version, context)
      : Promise.resolve({
          throttleTimeMs: 0,
          topics: body.topics.map((topic) => ({
            name: topic.name,
            partitions: topic.partitions.map((partition) => ({
              partitionIndex: partition.partitionIndex,
              errorCode: refused,
            })),
          })),
        });
}

export function describeTransactionsAuthorized(
  handler: ApiHandler<typeof ApiKey.DescribeTransactions>,
): ApiHandler<typeof ApiKey.DescribeTransactions> {
  return async (body, version, context) => {
    const allowed = body.transactionalIds.filter((id) =>
      authorizedOnTransactionalId(context, AclOperation.DESCRIBE, id),
    );
    const answered =
      allowed.length === 0
        ? { throttleTimeMs: 0, transactionStates: [] }
        : await handler({ ...body, transactionalIds: allowed }, version, context);
    if (!('transactionStates' in answered)) return answered;
    const byId = new Map((answered.transactionStates ?? []).map((state) => [state.transactionalId, state]));
    return {
      ...answered,
      transactionStates: body.transactionalIds.map(
        (transactionalId) =>
          byId.get(transactionalId) ?? {
            errorCode: refused,
            transactionalId,
            transactionState: '',
            transactionTimeoutMs: 0,
            transactionStartTimeMs: -1n,
            producerId: -1n,
            producerEpoch: -1,
            topics: [],
          },
      ),
    };
  };
}

export function listTransactionsAuthorized(
  handler: ApiHandler<typeof ApiKey.ListTransactions>,
): ApiHandler<typeof ApiKey.ListTransactions> {
  return async (body, version, context) => {
    const answered = await handler(body, version, context);
    if (!('transactionStates' in answered)) return answered;
    return {
      ...answered,
      transactionStates: (answered.transactionStates ?? []).filter((state) =>
        authorizedOnTransactionalId(context, AclOperation.DESCRIBE, state.transactionalId ?? ''),
      ),
    };
  };
}

// FindCoordinator (key 10), versions 0-6; flexible from 3. Version 4 batches keys (KIP-699); 5 and
// 6 keep its layout (5 adds an error clients may see, 6 the share coordinator key type).
//   Request  v0-3 => key key_type(1+)
//   Request  v4   => key_type [coordinator_keys]
//   Response v0-3 => throttle_time_ms(1+) error_code error_message(1+, nullable) node_id host port
//   Response v4   => throttle_time_ms
//                    [coordinators => key node_id host port error_code error_message(nullable)]
//
// The coordinator of group G is the leader of `__consumer_offsets` partition
// abs(javaStringHashCode(G)) % partitions, as in Kafka, so every broker names the same one. The
// first FindCoordinator of a cluster creates the topic; until the group's partition has a leader
// that clients can reach on the listener the request came in on (Kafka answers with the leader's
// endpoint of that listener, and COORDINATOR_NOT_AVAILABLE when it has none), the answer is
// COORDINATOR_NOT_AVAILABLE (retriable). A transactional id (key type 1) is coordinated the same
// way by the leader of its `__transaction_state` partition, created on first use. Gregor has no share
// groups, so a share coordinator key (type 2) gets INVALID_REQUEST, as Kafka answers it while share
// groups are not enabled; so does any other key type.

import { coordinatorPartitionFor } from '@gregor/group';
import { type ApiKey, ErrorCode, type RequestBody, type ResponseInput } from '@gregor/protocol';
import type { GroupCoordinatorDriver } from '../groups/group-coordinator-driver.js';
import { offsetsTopicName } from '../groups/offsets-topic.js';
import {
  type TransactionCoordinatorDriver,
  transactionStateTopicName,
} from '../transactions/transaction-coordinator-driver.js';
import type { ApiHandler, RequestContext } from './api-handler.js';
import { AclOperation, authorizedOnGroup } from './authorization.js';
import { authorizedOnTransactionalId } from './txn-authorization.js';

type Key = typeof ApiKey.FindCoordinator;
type Response = ResponseInput<Key>;

const groupKeyType = 0;
const transactionKeyType = 1;
const shareKeyType = 2;
/** Keys one v4 request may name; more is a broken client, not load. */
export const coordinatorKeysPerRequestMax = 10_000;

interface Coordinator {
  readonly key: string;
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
  readonly errorCode: number;
  readonly errorMessage: string | null;
}

export function createFindCoordinatorHandler(
  groups: GroupCoordinatorDriver,
  transactions?: TransactionCoordinatorDriver,
): ApiHandler<Key> {
  return async (body: RequestBody<Key>, apiVersion: number, context: RequestContext): Promise<Response> => {
    const keys = apiVersion >= 4 ? body.coordinatorKeys : [body.key];
    let coordinators: Coordinator[];
    if (keys.length > coordinatorKeysPerRequestMax) {
      coordinators = keys.map((key) => failed(key, ErrorCode.INVALID_REQUEST, 'too many coordinator keys'));
    } else if (body.keyType === transactionKeyType) {
      if (transactions === undefined) {
        coordinators = keys.map((key) =>
          failed(key, ErrorCode.COORDINATOR_NOT_AVAILABLE, 'no transaction coordinator'),
        );
      } else {
        await transactions.topicCreator.ensure(context.broker);
        coordinators = keys.map((key) =>
          authorizedOnTransactionalId(context, AclOperation.DESCRIBE, key)
            ? partitionLeader(
                key,
                transactionStateTopicName,
                (partitions) =>
                  transactions.transactions.config.transactionStatePartitionCount === partitions
                    ? transactions.partitionFor(key)
                    : coordinatorPartitionFor(key, partitions),
                context,
              )
            : failed(
                key,
                ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
                'Transactional Id authorization failed.',
              ),
        );
      }
    } else if (body.keyType === shareKeyType) {
      coordinators = keys.map((key) =>
        failed(key, ErrorCode.INVALID_REQUEST, 'Share groups are not enabled on this cluster.'),
      );
    } else if (body.keyType !== groupKeyType) {
      coordinators = keys.map((key) => failed(key, ErrorCode.INVALID_REQUEST, `key type ${body.keyType}`));
    } else {
      await groups.offsetsTopicCreator.ensure(context.broker);
      coordinators = keys.map((key) =>
        authorizedOnGroup(context, AclOperation.DESCRIBE, key)
          ? partitionLeader(
              key,
              offsetsTopicName,
              (partitions) => coordinatorPartitionFor(key, partitions),
              context,
            )
          : failed(key, ErrorCode.GROUP_AUTHORIZATION_FAILED, 'Group authorization failed.'),
      );
    }
    if (apiVersion >= 4) {
      // The v0-3 fields are absent from v4: their zero values, which the encoder leaves out.
      return { throttleTimeMs: 0, errorCode: 0, nodeId: 0, host: '', port: 0, coordinators };
    }
    const only = coordinators[0]!;
    return {
      throttleTimeMs: 0,
      errorCode: only.errorCode,
      errorMessage: only.errorMessage,
      nodeId: only.nodeId,
      host: only.host,
      port: only.port,
    };
  };
}

function failed(key: string, errorCode: number, errorMessage: string): Coordinator {
  return { key, nodeId: -1, host: '', port: -1, errorCode, errorMessage };
}

/**
 * The leader of the key's partition of an internal topic (the group's offsets partition, the
 * transactional id's transaction state partition), with its endpoint on the listener the client uses.
 */
function partitionLeader(
  groupId: string,
  topicName: string,
  partitionFor: (partitionCount: number) => number,
  context: RequestContext,
): Coordinator {
  const broker = context.broker;
  const image = broker.metadata.image();
  const topic = image.topic(topicName);
  if (topic === undefined || topic.partitions.length === 0) {
    return failed(groupId, ErrorCode.COORDINATOR_NOT_AVAILABLE, `${topicName} is not available`);
  }
  const partitionIndex = partitionFor(topic.partitions.length);
  const leaderId = topic.partitions[partitionIndex]?.leader ?? -1;
  const registration = leaderId < 0 ? undefined : image.broker(leaderId);
  const endpoint = registration?.listeners.find(
    (listener) => listener.name === context.connection.listenerName,
  );
  if (registration === undefined || registration.fenced || endpoint === undefined) {
    return failed(
      groupId,
      ErrorCode.COORDINATOR_NOT_AVAILABLE,
      `${topicName} partition ${partitionIndex} has no leader`,
    );
  }
  return {
    key: groupId,
    nodeId: leaderId,
    host: endpoint.host,
    port: endpoint.port,
    errorCode: ErrorCode.NONE,
    errorMessage: null,
  };
}

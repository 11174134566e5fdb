// ConsumerGroupHeartbeat (key 68), versions 0-1; flexible from 0 (KIP-848).
//   Request  => group_id member_id member_epoch instance_id(nullable) rack_id(nullable)
//               rebalance_timeout_ms [subscribed_topic_names](nullable)
//               subscribed_topic_regex(1+, nullable) server_assignor(nullable)
//               [topic_partitions => topic_id [partitions]](nullable)
//   Response => throttle_time_ms error_code error_message(nullable) member_id(nullable)
//               member_epoch heartbeat_interval_ms assignment(nullable) => [topic_partitions]
//
// The whole protocol of a KIP-848 consumer: join (epoch 0), heartbeat with the owned partitions,
// leave (-1, or -2 for a static member's restart). The coordinator assigns on the server; the
// subscriptions resolve against this broker's metadata image when the request arrives. v0 members
// get their id from the coordinator, v1 members bring their own (KIP-1082).

import { type ApiKey, ErrorCode, type RequestBody, type ResponseInput } from '@gregor/protocol';
import type { GroupCoordinatorDriver } from '../groups/group-coordinator-driver.js';
import type { ApiHandler, RequestContext } from './api-handler.js';
import {
  consumerGroupProtocolDisabledMessage,
  consumerGroupProtocolEnabled,
  consumerTopicsOf,
} from './consumer-group-topics.js';
import { clientHost } from './join-group.js';

type Key = typeof ApiKey.ConsumerGroupHeartbeat;
type Response = ResponseInput<Key>;

export function createConsumerGroupHeartbeatHandler(groups: GroupCoordinatorDriver): ApiHandler<Key> {
  return async (body: RequestBody<Key>, apiVersion: number, context: RequestContext): Promise<Response> => {
    const image = context.broker.metadata.image();
    if (!consumerGroupProtocolEnabled(image)) {
      return {
        throttleTimeMs: 0,
        errorCode: ErrorCode.UNSUPPORTED_VERSION,
        errorMessage: consumerGroupProtocolDisabledMessage,
        memberId: null,
        memberEpoch: 0,
        heartbeatIntervalMs: 0,
        assignment: null,
      };
    }
    const topics = consumerTopicsOf(image);
    const response = await groups.request('ConsumerGroupHeartbeat', (coordinator, requestId, nowMs) =>
      coordinator.consumerGroupHeartbeat(
        requestId,
        {
          apiVersion,
          groupId: body.groupId,
          memberId: body.memberId,
          memberEpoch: body.memberEpoch,
          instanceId: body.instanceId,
          rackId: body.rackId,
          rebalanceTimeoutMs: body.rebalanceTimeoutMs,
          subscribedTopicNames: body.subscribedTopicNames,
          subscribedTopicRegex: body.subscribedTopicRegex,
          serverAssignor: body.serverAssignor,
          topicPartitions: body.topicPartitions,
          clientId: context.clientId ?? '',
          clientHost: clientHost(context.connection.remoteAddress),
        },
        topics,
        nowMs,
      ),
    );
    return {
      throttleTimeMs: 0,
      errorCode: response.errorCode,
      errorMessage: response.errorMessage,
      memberId: response.memberId,
      memberEpoch: response.memberEpoch,
      heartbeatIntervalMs: response.heartbeatIntervalMs,
      assignment:
        response.assignment === null
          ? null
          : {
              topicPartitions: response.assignment.topicPartitions.map((t) => ({
                topicId: t.topicId,
                partitions: [...t.partitions],
              })),
            },
    };
  };
}

// DescribeCluster (key 60), versions 0-1; flexible from 0.
//   Request  => include_cluster_authorized_operations endpoint_type(1+)
//   Response => throttle_time_ms error_code error_message(nullable) endpoint_type(1+) cluster_id
//               controller_id [brokers => broker_id host port rack(nullable)]
//               cluster_authorized_operations
//
// The same brokers and controller id as Metadata gives (unfenced brokers with an endpoint on the
// request's listener; the controller id a live broker). Every Gregor listener is a broker endpoint:
// asking it for controllers is MISMATCHED_ENDPOINT_TYPE, any other type UNSUPPORTED_ENDPOINT_TYPE,
// as Kafka's brokers answer. cluster_authorized_operations, when asked, is the bit field of the
// operations the principal may perform on the cluster (every cluster operation without an
// authorizer), 0 without DESCRIBE on the cluster, as Kafka answers; "omitted" when not asked and
// in the refusals of an endpoint type.

import {
  type ApiKey,
  authorizedOperationsOmitted,
  describeClusterEndpointType,
  ErrorCode,
  type RequestBody,
  type ResponseInput,
} from '@gregor/protocol';
import type { RequestContext } from './api-handler.js';
import { advertisedControllerId, clusterAuthorizedOperations, liveBrokers } from './metadata.js';

type Key = typeof ApiKey.DescribeCluster;

export async function handleDescribeCluster(
  body: RequestBody<Key>,
  _apiVersion: number,
  context: RequestContext,
): Promise<ResponseInput<Key>> {
  const broker = context.broker;
  const base = {
    throttleTimeMs: 0,
    endpointType: body.endpointType,
    clusterId: broker.clusterId,
    clusterAuthorizedOperations: authorizedOperationsOmitted,
  };
  if (body.endpointType !== describeClusterEndpointType.brokers) {
    const mismatched = body.endpointType === describeClusterEndpointType.controllers;
    return {
      ...base,
      errorCode: mismatched ? ErrorCode.MISMATCHED_ENDPOINT_TYPE : ErrorCode.UNSUPPORTED_ENDPOINT_TYPE,
      errorMessage: mismatched
        ? 'The request was sent to an endpoint of type BROKER, but we wanted an endpoint of type CONTROLLER'
        : `Unsupported endpoint type ${body.endpointType}`,
      controllerId: -1,
      brokers: [],
    };
  }
  const brokers = liveBrokers(broker.metadata.image(), context.connection.listenerName);
  return {
    ...base,
    ...(body.includeClusterAuthorizedOperations
      ? { clusterAuthorizedOperations: clusterAuthorizedOperations(context) }
      : {}),
    errorCode: ErrorCode.NONE,
    errorMessage: null,
    controllerId: advertisedControllerId(broker.metadata.controllerId(), brokers),
    brokers: brokers.map((entry) => ({
      brokerId: entry.nodeId,
      host: entry.host,
      port: entry.port,
      rack: entry.rack,
    })),
  };
}

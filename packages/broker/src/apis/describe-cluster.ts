// DescribeCluster (key 60), versions 0-2; flexible from 0.
//   Request  => include_cluster_authorized_operations endpoint_type(1+) include_fenced_brokers(2+)
//   Response => throttle_time_ms error_code error_message(nullable) endpoint_type(1+) cluster_id
//               controller_id [brokers => broker_id host port rack(nullable) is_fenced(2+)]
//               cluster_authorized_operations
//
// The same brokers and controller id as Metadata gives (unfenced brokers with an endpoint on the
// request's listener; the controller id a live broker). Every Gregor listener is a broker endpoint:
// asking it for controllers is MISMATCHED_ENDPOINT_TYPE, any other type UNSUPPORTED_ENDPOINT_TYPE,
// as Kafka's brokers answer. cluster_authorized_operations, when asked, is the bit field of the
// operations the principal may perform on the cluster (every cluster operation without an
// authorizer), 0 without DESCRIBE on the cluster, as Kafka answers; "omitted" when not asked and
// in the refusals of an endpoint type. v2 asked to include fenced brokers adds the registered
// brokers that are fenced (with an endpoint on the listener), marked is_fenced (KIP-1073).

import type { MetadataImage } from '@gregor/metadata';
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
/** A broker as Metadata lists it: id, endpoint on the request's listener, rack. */
type BrokerEntry = ReturnType<typeof liveBrokers>[number];

export async function handleDescribeCluster(
  body: RequestBody<Key>,
  apiVersion: number,
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
  const image = broker.metadata.image();
  const brokers = liveBrokers(image, context.connection.listenerName);
  const fenced =
    apiVersion >= 2 && body.includeFencedBrokers ? fencedBrokers(image, context.connection.listenerName) : [];
  return {
    ...base,
    ...(body.includeClusterAuthorizedOperations
      ? { clusterAuthorizedOperations: clusterAuthorizedOperations(context) }
      : {}),
    errorCode: ErrorCode.NONE,
    errorMessage: null,
    controllerId: advertisedControllerId(broker.metadata.controllerId(), brokers),
    brokers: [
      ...brokers.map((entry) => ({ ...describedBroker(entry), isFenced: false })),
      ...fenced.map((entry) => ({ ...describedBroker(entry), isFenced: true })),
    ].sort((a, b) => a.brokerId - b.brokerId),
  };
}

function describedBroker(entry: BrokerEntry): {
  brokerId: number;
  host: string;
  port: number;
  rack: string | null;
} {
  return { brokerId: entry.nodeId, host: entry.host, port: entry.port, rack: entry.rack ?? null };
}

/** The fenced brokers with an endpoint on `listenerName`, as Metadata would list them if they were live. */
function fencedBrokers(image: MetadataImage, listenerName: string): BrokerEntry[] {
  const fenced: BrokerEntry[] = [];
  for (const registration of image.brokers.values()) {
    if (!registration.fenced) continue;
    const endpoint = registration.listeners.find((listener) => listener.name === listenerName);
    if (endpoint === undefined) continue;
    fenced.push({
      nodeId: registration.brokerId,
      host: endpoint.host,
      port: endpoint.port,
      rack: registration.rack,
    });
  }
  return fenced;
}

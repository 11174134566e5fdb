// WriteTxnMarkers (key 27), versions 0-1; flexible from 1.
//   Request  => [markers => producer_id producer_epoch transaction_result
//                 [topics => name [partition_indexes]] coordinator_epoch]
//   Response => [markers => producer_id [topics => name [partitions => partition_index error_code]]]
//
// Kafka's inter-broker API: each marker is appended as a control batch to the named partitions this
// broker leads (acks=all). Gregor's coordinators send markers over the internal gRPC service
// (transactions/txn-markers-grpc.ts), which runs the same ReplicaManager.writeTxnMarkers; this
// handler serves the Kafka form of it (tools, tests), to principals with CLUSTER_ACTION on the cluster.

import { type ApiKey, ErrorCode, type RequestBody, type ResponseInput } from '@gregor/protocol';
import { txnMarkerReplicationTimeoutMs } from '../transactions/txn-markers-grpc.js';
import type { RequestContext } from './api-handler.js';
import { AclOperation, authorizedOnCluster } from './authorization.js';

type Key = typeof ApiKey.WriteTxnMarkers;
type Response = ResponseInput<Key>;

export async function handleWriteTxnMarkers(
  body: RequestBody<Key>,
  _apiVersion: number,
  context: RequestContext,
): Promise<Response> {
  // An inter-broker API: CLUSTER_ACTION on the cluster, as Kafka checks it.
  if (!authorizedOnCluster(context, AclOperation.CLUSTER_ACTION)) {
    return {
      markers: body.markers.map((marker) => ({
        producerId: marker.producerId,
        topics: marker.topics.map(({ name, partitionIndexes }) => ({
          name,
          partitions: partitionIndexes.map((partitionIndex) => ({
            partitionIndex,
            errorCode: ErrorCode.CLUSTER_AUTHORIZATION_FAILED,
          })),
        })),
      })),
    };
  }
  const results = await context.broker.replicaManager.writeTxnMarkers(
    body.markers.map((marker) => ({
      producerId: Number(marker.producerId),
      producerEpoch: marker.producerEpoch,
      commit: marker.transactionResult,
      coordinatorEpoch: marker.coordinatorEpoch,
      partitions: marker.topics.flatMap(({ name, partitionIndexes }) =>
        partitionIndexes.map((partition) => ({ topic: name, partition })),
      ),
    })),
    txnMarkerReplicationTimeoutMs,
  );
  return {
    markers: body.markers.map((marker, index) => {
      const byPartition = results[index]!;
      let next = 0;
      return {
        producerId: marker.producerId,
        topics: marker.topics.map(({ name, partitionIndexes }) => ({
          name,
          partitions: partitionIndexes.map((partitionIndex) => ({
            partitionIndex,
            errorCode: byPartition[next++]?.errorCode ?? ErrorCode.UNKNOWN_SERVER_ERROR,
          })),
        })),
      };
    }),
  };
}

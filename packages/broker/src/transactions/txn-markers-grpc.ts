// The TxnMarkers service (proto/transactions.proto) on a node's internal gRPC server, and the
// client a transaction coordinator writes markers with. The service maps the wire request to the
// ReplicaManager's writeTxnMarkers and back; like replication it shares the CONTROLLER listener (a
// leader's address is its address in controller.quorum.voters). Its VerifyPartitionsInTransaction
// (KIP-890) is served by this node's transaction coordinator, for partition leaders that ask it.

import { ErrorCode } from '@gregor/protocol';
import type { VerifiedPartition, VerifyPartitionsRequest } from '@gregor/txn';
import * as grpc from '@grpc/grpc-js';
import { PeerClients } from '../grpc/peer-clients.js';
import { serviceClient } from '../grpc/protos.js';
import type { Logger } from '../logging.js';
import type { ReplicaManager } from '../replica/replica-manager.js';
import type { TxnMarkerPartitionResult, TxnMarkerRequest } from '../replica/txn-marker-appends.js';

const protoFile = 'transactions.proto';
const serviceName = 'gregor.transactions.TxnMarkers';

/** How long a leader waits for a marker to be replicated before answering REQUEST_TIMED_OUT. */
export const txnMarkerReplicationTimeoutMs = 10_000;
/** Markers one request may carry; more is a broken peer. */
export const txnMarkersPerRequestMax = 10_000;
/** Partitions one verification may name; more is a broken peer. */
export const verifiedPartitionsPerRequestMax = 10_000;

interface WireTopicPartition {
  topic: string;
  partition: number;
}

interface WireTxnMarker {
  producerId: number;
  producerEpoch: number;
  commit: boolean;
  coordinatorEpoch: number;
  partitions: WireTopicPartition[];
}

interface WireWriteTxnMarkersRequest {
  clusterId: string;
  markers: WireTxnMarker[];
}

interface WireWriteTxnMarkersResponse {
  errorCode: number;
  markers: { partitions: { topic: string; partition: number; errorCode: number }[] }[];
}

interface WireVerifyPartitionsRequest {
  clusterId: string;
  transactionalId: string;
  producerId: number;
  producerEpoch: number;
  partitions: WireTopicPartition[];
  addToTransaction: boolean;
}

/** This node's transaction coordinator, answering another leader's question itself (no forwarding). */
export interface LocalTransactionVerifier {
  /** Per partition, in order: NONE, or the coordinator's error. Adds them with `addToTransaction`. */
  verifyHere(request: VerifyPartitionsRequest, addToTransaction: boolean): Promise<VerifiedPartition[]>;
}

interface WireVerifyPartitionsResponse {
  errorCode: number;
  partitions: VerifiedPartition[];
}

export function registerTxnMarkersService(
  server: grpc.Server,
  clusterId: string,
  replicaManager: () => ReplicaManager | undefined,
  transactions: () => LocalTransactionVerifier | undefined,
  logger: Logger,
): void {
  const implementation: grpc.UntypedServiceImplementation = {
    VerifyPartitionsInTransaction: (
      call: grpc.ServerUnaryCall<WireVerifyPartitionsRequest, WireVerifyPartitionsResponse>,
      callback: grpc.sendUnaryData<WireVerifyPartitionsResponse>,
    ) => {
      const request = call.request;
      if (request.clusterId !== clusterId) {
        callback(null, { errorCode: ErrorCode.INCONSISTENT_CLUSTER_ID, partitions: [] });
        return;
      }
      if (request.partitions.length > verifiedPartitionsPerRequestMax) {
        callback(null, { errorCode: ErrorCode.INVALID_REQUEST, partitions: [] });
        return;
      }
      const coordinator = transactions();
      const verify: VerifyPartitionsRequest = {
        transactionalId: request.transactionalId,
        producerId: request.producerId,
        producerEpoch: request.producerEpoch,
        partitions: request.partitions.map(({ topic, partition }) => ({ topic, partitions: [partition] })),
      };
      if (coordinator === undefined) {
        callback(null, {
          errorCode: ErrorCode.NONE,
          partitions: request.partitions.map((p) => ({ ...p, errorCode: ErrorCode.NOT_COORDINATOR })),
        });
        return;
      }
      coordinator.verifyHere(verify, request.addToTransaction === true).then(
        (partitions) => callback(null, { errorCode: ErrorCode.NONE, partitions }),
        (error: unknown) => {
          logger.warn({ err: error }, 'transaction verification failed');
          callback(null, {
            errorCode: ErrorCode.NONE,
            partitions: request.partitions.map((p) => ({ ...p, errorCode: ErrorCode.UNKNOWN_SERVER_ERROR })),
          });
        },
      );
    },
    WriteTxnMarkers: (
      call: grpc.ServerUnaryCall<WireWriteTxnMarkersRequest, WireWriteTxnMarkersResponse>,
      callback: grpc.sendUnaryData<WireWriteTxnMarkersResponse>,
    ) => {
      const request = call.request;
      const manager = replicaManager();
      if (request.clusterId !== clusterId) {
        callback(null, { errorCode: ErrorCode.INCONSISTENT_CLUSTER_ID, markers: [] });
        return;
      }
      if (manager === undefined || request.markers.length > txnMarkersPerRequestMax) {
        callback(null, {
          errorCode: manager === undefined ? ErrorCode.NOT_LEADER_OR_FOLLOWER : ErrorCode.INVALID_REQUEST,
          markers: [],
        });
        return;
      }
      manager.writeTxnMarkers(request.markers, txnMarkerReplicationTimeoutMs).then(
        (results) =>
          callback(null, {
            errorCode: ErrorCode.NONE,
            markers: results.map((partitions) => ({ partitions })),
          }),
        (error: unknown) => {
          logger.error({ err: error }, 'writing transaction markers failed');
          callback({ code: grpc.status.INTERNAL, details: String(error) });
        },
      );
    },
  };
  server.addService(serviceClient(protoFile, serviceName).service, implementation);
}

type WriteMethod = (
  request: WireWriteTxnMarkersRequest,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null, response: WireWriteTxnMarkersResponse) => void,
) => void;

type VerifyMethod = (
  request: WireVerifyPartitionsRequest,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null, response: WireVerifyPartitionsResponse) => void,
) => void;

/** Clients of the TxnMarkers service of other brokers, one per broker. */
export class TxnMarkersClients {
  private readonly clients: PeerClients;

  constructor(
    private readonly clusterId: string,
    credentials: grpc.ChannelCredentials,
  ) {
    this.clients = new PeerClients(serviceClient(protoFile, serviceName), credentials, 'transaction marker');
  }

  /** Writes `markers` on broker `nodeId` at `address`; rejects on a transport failure. */
  write(
    nodeId: number,
    address: string,
    markers: readonly TxnMarkerRequest[],
    timeoutMs: number,
  ): Promise<TxnMarkerPartitionResult[][]> {
    const method = this.clients.method<WriteMethod>(nodeId, address, 'WriteTxnMarkers');
    const request: WireWriteTxnMarkersRequest = {
      clusterId: this.clusterId,
      markers: markers.map((marker) => ({
        producerId: marker.producerId,
        producerEpoch: marker.producerEpoch,
        commit: marker.commit,
        coordinatorEpoch: marker.coordinatorEpoch,
        partitions: marker.partitions.map(({ topic, partition }) => ({ topic, partition })),
      })),
    };
    return new Promise((resolve, reject) => {
      method(
        request,
        new grpc.Metadata(),
        { deadline: Date.now() + Math.max(1, timeoutMs) },
        (error, response) => {
          if (error !== null) reject(error);
          else if (response.errorCode !== ErrorCode.NONE) {
            resolve(
              markers.map((marker) =>
                marker.partitions.map((p) => ({ ...p, errorCode: response.errorCode })),
              ),
            );
          } else resolve(response.markers.map((marker) => marker.partitions));
        },
      );
    });
  }

  /**
   * Asks the transaction coordinator on broker `nodeId` whether the partitions are in the producer's
   * ongoing transaction (KIP-890): one error code per partition, in request order. Rejects on a
   * transport failure.
   */
  verify(
    nodeId: number,
    address: string,
    request: VerifyPartitionsRequest,
    timeoutMs: number,
    addToTransaction = false,
  ): Promise<VerifiedPartition[]> {
    const method = this.clients.method<VerifyMethod>(nodeId, address, 'VerifyPartitionsInTransaction');
    const partitions = request.partitions.flatMap(({ topic, partitions: ids }) =>
      ids.map((partition) => ({ topic, partition })),
    );
    const wire: WireVerifyPartitionsRequest = {
      clusterId: this.clusterId,
      transactionalId: request.transactionalId,
      producerId: request.producerId,
      producerEpoch: request.producerEpoch,
      partitions,
      addToTransaction,
    };
    return new Promise((resolve, reject) => {
      method(
        wire,
        new grpc.Metadata(),
        { deadline: Date.now() + Math.max(1, timeoutMs) },
        (error, response) => {
          if (error !== null) reject(error);
          else if (response.errorCode !== ErrorCode.NONE) {
            resolve(partitions.map((p) => ({ ...p, errorCode: response.errorCode })));
          } else resolve(response.partitions);
        },
      );
    });
  }

  close(): void {
    this.clients.close();
  }
}

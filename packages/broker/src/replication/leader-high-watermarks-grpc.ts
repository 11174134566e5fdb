// The LeaderHighWatermarks service (proto/replication.proto) on a node's internal gRPC server, and
// the client a group coordinator's node reads the high watermarks of other leaders with, for
// kafka_consumergroup_lag. The leader answers what a client's ListOffsets(latest, read_uncommitted)
// would get (ReplicaManager.listOffsets: the leader's high watermark, refused when this broker does
// not lead the partition or no longer holds its leader lease), which is what kafka-exporter reads.
//
// Like replication and transaction markers it shares the CONTROLLER listener and its credentials:
// a leader's address is its address in controller.quorum.voters, and with mutual TLS the caller
// presents its node certificate. The call names no node, so a trusted certificate is enough.

import { ErrorCode } from '@gregor/protocol';
import * as grpc from '@grpc/grpc-js';
import { PeerClients } from '../grpc/peer-clients.js';
import { serviceClient } from '../grpc/protos.js';
import type { Logger } from '../logging.js';
import type { ReplicaManager } from '../replica/replica-manager.js';

const protoFile = 'replication.proto';
const serviceName = 'gregor.replication.LeaderHighWatermarks';

/** Partitions one ListHighWatermarks call may name; more is a broken peer (INVALID_REQUEST). */
export const highWatermarkPartitionsPerRequestMax = 10_000;

export interface HighWatermarkPartition {
  readonly topic: string;
  readonly partition: number;
}

export interface PartitionHighWatermark {
  readonly topic: string;
  readonly partition: number;
  readonly errorCode: number;
  /** -1 on error. */
  readonly highWatermark: number;
}

interface WireListHighWatermarksRequest {
  clusterId: string;
  partitions: { topic: string; partition: number }[];
}

interface WireListHighWatermarksResponse {
  errorCode: number;
  partitions: PartitionHighWatermark[];
}

/** ListOffsets' "latest" timestamp: the high watermark under read_uncommitted. */
const latestTimestamp = -1;
/** No leader-epoch check: the caller asks whoever the image names, whatever its epoch. */
const anyLeaderEpoch = -1;

/** This broker's answer for the partitions it leads (the service's, and the caller's own partitions). */
export async function localHighWatermarks(
  manager: ReplicaManager,
  partitions: readonly HighWatermarkPartition[],
): Promise<PartitionHighWatermark[]> {
  const results = await manager.listOffsets(
    partitions.map(({ topic, partition }) => ({
      topic,
      partition,
      timestamp: latestTimestamp,
      currentLeaderEpoch: anyLeaderEpoch,
    })),
  );
  return results.map(({ topic, partition, errorCode, offset }) => ({
    topic,
    partition,
    errorCode,
    highWatermark: errorCode === ErrorCode.NONE ? offset : -1,
  }));
}

export function registerLeaderHighWatermarksService(
  server: grpc.Server,
  clusterId: string,
  replicaManager: () => ReplicaManager | undefined,
  logger: Logger,
): void {
  const implementation: grpc.UntypedServiceImplementation = {
    ListHighWatermarks: (
      call: grpc.ServerUnaryCall<WireListHighWatermarksRequest, WireListHighWatermarksResponse>,
      callback: grpc.sendUnaryData<WireListHighWatermarksResponse>,
    ) => {
      const request = call.request;
      const manager = replicaManager();
      if (request.clusterId !== clusterId) {
        callback(null, { errorCode: ErrorCode.INCONSISTENT_CLUSTER_ID, partitions: [] });
        return;
      }
      if (request.partitions.length > highWatermarkPartitionsPerRequestMax) {
        callback(null, { errorCode: ErrorCode.INVALID_REQUEST, partitions: [] });
        return;
      }
      if (manager === undefined) {
        callback(null, { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, partitions: [] });
        return;
      }
      localHighWatermarks(manager, request.partitions).then(
        (partitions) => callback(null, { errorCode: ErrorCode.NONE, partitions }),
        (error: unknown) => {
          logger.error({ err: error }, 'reading high watermarks for another node failed');
          callback({ code: grpc.status.INTERNAL, details: String(error) });
        },
      );
    },
  };
  server.addService(serviceClient(protoFile, serviceName).service, implementation);
}

type ListMethod = (
  request: WireListHighWatermarksRequest,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null, response: WireListHighWatermarksResponse) => void,
) => void;

/** Clients of the LeaderHighWatermarks service of other brokers, one per broker. */
export class LeaderHighWatermarksClients {
  private readonly clients: PeerClients;

  constructor(
    private readonly clusterId: string,
    credentials: grpc.ChannelCredentials,
  ) {
    this.clients = new PeerClients(serviceClient(protoFile, serviceName), credentials, 'high-watermark');
  }

  /**
   * The high watermarks of `partitions` from broker `nodeId` at `address`, one entry per partition
   * in order (an error code per partition it does not lead); rejects on a transport failure or when
   * `timeoutMs` passes first.
   */
  async list(
    nodeId: number,
    address: string,
    partitions: readonly HighWatermarkPartition[],
    timeoutMs: number,
  ): Promise<PartitionHighWatermark[]> {
    const method = this.clients.method<ListMethod>(nodeId, address, 'ListHighWatermarks');
    const deadline = Date.now() + Math.max(1, timeoutMs);
    const chunks: HighWatermarkPartition[][] = [];
    for (let start = 0; start < partitions.length; start += highWatermarkPartitionsPerRequestMax)
      chunks.push(partitions.slice(start, start + highWatermarkPartitionsPerRequestMax));
    const answers = await Promise.all(
      chunks.map(
        (chunk) =>
          new Promise<PartitionHighWatermark[]>((resolve, reject) => {
            const request: WireListHighWatermarksRequest = {
              clusterId: this.clusterId,
              partitions: chunk.map(({ topic, partition }) => ({ topic, partition })),
            };
            method(request, new grpc.Metadata(), { deadline }, (error, response) => {
              if (error !== null) reject(error);
              else if (response.errorCode !== ErrorCode.NONE)
                resolve(
                  chunk.map(({ topic, partition }) => ({
                    topic,
                    partition,
                    errorCode: response.errorCode,
                    highWatermark: -1,
                  })),
                );
              else resolve(response.partitions);
            });
          }),
      ),
    );
    return answers.flat();
  }

  close(): void {
    this.clients.close();
  }
}

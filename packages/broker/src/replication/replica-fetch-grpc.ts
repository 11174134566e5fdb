// The ReplicaFetch service (proto/replication.proto) on a node's internal gRPC server, and the
// transport a follower's fetcher calls it with. This file only maps wire messages to the
// ReplicaManager's leader-side fetch and back; the decisions live in @gregor/replication.
//
// Replication shares the CONTROLLER listener: every Gregor node is a quorum voter
// (process.roles=broker,controller), so a leader's replica fetch address is its voter address in
// controller.quorum.voters, and Raft, the controller and replication share one gRPC server per node.

import { ErrorCode } from '@gregor/protocol';
import type {
  ReplicaFetchPartitionResult,
  ReplicaFetchRequest,
  ReplicaFetchResponse,
  ReplicaFetchTransport,
} from '@gregor/replication';
import * as grpc from '@grpc/grpc-js';
import { internalChannelOptions, serviceClient } from '../grpc/protos.js';
import type { Logger } from '../logging.js';
import { type BrokerMetrics, noBrokerMetrics } from '../metrics/broker-metrics.js';
import type { ReplicaManager } from '../replica/replica-manager.js';

const protoFile = 'replication.proto';
const serviceName = 'gregor.replication.ReplicaFetch';

/** Longest long poll a leader holds a follower's fetch, whatever the follower asks for. */
export const replicaFetchWaitMsMax = 30_000;

/** The wire shapes, as @grpc/proto-loader presents them (camelCase, defaults filled, longs as numbers). */
export interface WirePartitionFetch {
  topic: string;
  partition: number;
  currentLeaderEpoch: number;
  fetchOffset: number;
  lastFetchedEpoch: number;
  logStartOffset: number;
  partitionMaxBytes: number;
}

export interface WireReplicaFetchRequest {
  clusterId: string;
  replicaId: number;
  brokerEpoch: number;
  maxWaitMs: number;
  minBytes: number;
  maxBytes: number;
  partitions: WirePartitionFetch[];
}

export interface WirePartitionData {
  topic: string;
  partition: number;
  errorCode: number;
  highWatermark: number;
  logStartOffset: number;
  logEndOffset: number;
  divergingEpoch: { epoch: number; endOffset: number } | null;
  hasDivergingEpoch: boolean;
  leaderEpoch: number;
  records: Buffer;
}

export interface WireReplicaFetchResponse {
  errorCode: number;
  partitions: WirePartitionData[];
}

/** Follower fetches are counted and timed as Kafka's FetchFollower requests (no API version: gRPC). */
export const followerFetchRequestName = 'FetchFollower';

export function registerReplicaFetchService(
  server: grpc.Server,
  clusterId: string,
  replicaManager: () => ReplicaManager | undefined,
  logger: Logger,
  metrics: BrokerMetrics = noBrokerMetrics,
): void {
  const implementation: grpc.UntypedServiceImplementation = {
    Fetch: (
      call: grpc.ServerUnaryCall<WireReplicaFetchRequest, WireReplicaFetchResponse>,
      callback: grpc.sendUnaryData<WireReplicaFetchResponse>,
    ) => {
      const request = call.request;
      const manager = replicaManager();
      if (request.clusterId !== clusterId) {
        callback(null, { errorCode: ErrorCode.INCONSISTENT_CLUSTER_ID, partitions: [] });
        return;
      }
      if (manager === undefined) {
        callback(null, { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, partitions: [] });
        return;
      }
      const startMs = metrics.nowMs();
      manager.fetchForFollower(fromWireRequest(request)).then(
        (results) => {
          metrics.requestCompleted(followerFetchRequestName, -1, startMs, metrics.nowMs());
          callback(null, { errorCode: ErrorCode.NONE, partitions: results.map(toWirePartitionData) });
        },
        (error: unknown) => {
          logger.error({ err: error, replicaId: request.replicaId }, 'replica fetch failed');
          callback({ code: grpc.status.INTERNAL, details: String(error) });
        },
      );
    },
  };
  server.addService(serviceClient(protoFile, serviceName).service, implementation);
}

export function fromWireRequest(request: WireReplicaFetchRequest): ReplicaFetchRequest {
  return {
    replicaId: request.replicaId,
    brokerEpoch: request.brokerEpoch,
    maxWaitMs: Math.min(Math.max(0, request.maxWaitMs), replicaFetchWaitMsMax),
    minBytes: request.minBytes,
    maxBytes: request.maxBytes,
    partitions: request.partitions.map((wanted) => ({
      topic: wanted.topic,
      partition: wanted.partition,
      currentLeaderEpoch: wanted.currentLeaderEpoch,
      fetchOffset: wanted.fetchOffset,
      lastFetchedEpoch: wanted.lastFetchedEpoch,
      partitionMaxBytes: wanted.partitionMaxBytes,
    })),
  };
}

export function toWirePartitionData(result: ReplicaFetchPartitionResult): WirePartitionData {
  return {
    topic: result.topic,
    partition: result.partition,
    errorCode: result.errorCode,
    highWatermark: result.highWatermark,
    logStartOffset: result.logStartOffset,
    logEndOffset: result.logEndOffset,
    divergingEpoch: result.divergingEpoch ?? null,
    hasDivergingEpoch: result.divergingEpoch !== undefined,
    leaderEpoch: result.leaderEpoch,
    records: result.records,
  };
}

export function fromWirePartitionData(data: WirePartitionData): ReplicaFetchPartitionResult {
  return {
    topic: data.topic,
    partition: data.partition,
    errorCode: data.errorCode,
    highWatermark: data.highWatermark,
    logStartOffset: data.logStartOffset,
    logEndOffset: data.logEndOffset,
    divergingEpoch:
      data.hasDivergingEpoch && data.divergingEpoch !== null
        ? { epoch: data.divergingEpoch.epoch, endOffset: data.divergingEpoch.endOffset }
        : undefined,
    leaderEpoch: data.leaderEpoch,
    records: data.records ?? Buffer.alloc(0),
  };
}

type FetchMethod = (
  request: WireReplicaFetchRequest,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (error: grpc.ServiceError | null, response: WireReplicaFetchResponse) => void,
) => void;

/** A leader's current gRPC target (`host:port`; it changes when a node restarts on a new port). */
export type LeaderAddressOf = (nodeId: number) => string | undefined;

export function toWireRequest(clusterId: string, request: ReplicaFetchRequest): WireReplicaFetchRequest {
  return {
    clusterId,
    replicaId: request.replicaId,
    brokerEpoch: request.brokerEpoch,
    maxWaitMs: request.maxWaitMs,
    minBytes: request.minBytes,
    maxBytes: request.maxBytes,
    partitions: request.partitions.map((wanted) => ({
      topic: wanted.topic,
      partition: wanted.partition,
      currentLeaderEpoch: wanted.currentLeaderEpoch,
      fetchOffset: wanted.fetchOffset,
      lastFetchedEpoch: wanted.lastFetchedEpoch,
      logStartOffset: -1,
      partitionMaxBytes: wanted.partitionMaxBytes,
    })),
  };
}

/**
 * A fetcher's way to one leader: a channel to its ReplicaFetch service at its current address (a
 * new channel when the leader restarted on another port).
 */
export class GrpcReplicaFetchTransport implements ReplicaFetchTransport {
  private client: ReplicaFetchClient | undefined;
  private target: string | undefined;

  constructor(
    private readonly leaderId: number,
    private readonly addressOf: LeaderAddressOf,
    private readonly clusterId: string,
  ) {}

  async fetch(request: ReplicaFetchRequest, timeoutMs: number): Promise<ReplicaFetchResponse> {
    const client = this.clientForLeader();
    if (client === undefined) throw new Error(`leader ${this.leaderId} has no known address`);
    const response = await client.fetch(toWireRequest(this.clusterId, request), timeoutMs);
    return { errorCode: response.errorCode, partitions: response.partitions.map(fromWirePartitionData) };
  }

  close(): void {
    this.client?.close();
    this.client = undefined;
    this.target = undefined;
  }

  private clientForLeader(): ReplicaFetchClient | undefined {
    const target = this.addressOf(this.leaderId);
    if (target !== this.target) {
      this.client?.close();
      this.client = target === undefined ? undefined : new ReplicaFetchClient(target);
      this.target = target;
    }
    return this.client;
  }
}

/** One channel to one leader's ReplicaFetch service. */
export class ReplicaFetchClient {
  private readonly client: grpc.Client;

  constructor(address: string) {
    const Client = serviceClient(protoFile, serviceName);
    this.client = new Client(address, grpc.credentials.createInsecure(), internalChannelOptions);
  }

  fetch(request: WireReplicaFetchRequest, timeoutMs: number): Promise<WireReplicaFetchResponse> {
    const method = (this.client as unknown as Record<string, FetchMethod>).Fetch!.bind(this.client);
    return new Promise((resolve, reject) => {
      method(
        request,
        new grpc.Metadata(),
        { deadline: Date.now() + Math.max(1, timeoutMs) },
        (error, response) => {
          if (error !== null) reject(error);
          else resolve(response);
        },
      );
    });
  }

  close(): void {
    this.client.close();
  }
}

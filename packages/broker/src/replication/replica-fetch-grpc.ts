// The ReplicaFetch service (proto/replication.proto) on a node's internal gRPC server, and the
// transport a follower's fetcher calls it with. This file only maps wire messages to the
// ReplicaManager's leader-side fetch and back; the decisions live in @gregor/replication.
//
// A fetcher talks to its leader on one long-lived bidirectional stream: it writes a fetch, the
// leader answers that fetch with one message, and only then is the next fetch written (the pull
// model of a unary call, without a new HTTP/2 stream, headers and trailers per fetch). A fetch that
// is not answered within its deadline, or any stream error, ends the stream; the next fetch opens
// a new one.
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

/**
 * The follower's HTTP/2 receive window (stream and connection) on its replica fetch channel. With
 * HTTP/2's 64 KiB default a leader's answer of ~500 KiB (one produce batch of the bench:client
 * 1 KiB acks=all cell) is sent 64 KiB at a time, each part waiting for a WINDOW_UPDATE from the
 * follower's event loop: about 15 round trips between two busy processes inside every acks=all
 * round. 16 MiB holds replica.fetch.response.max.bytes (10 MiB by default) in one go; the answer
 * is in the leader's memory anyway, so the window only decides how soon it reaches the follower.
 * Under sustained acks=1 load the 64 KiB window let followers fall ~150 MB behind and out of the
 * ISR after ~45 s (bench:sustained; @gregor/replication README, "The followers' receive window
 * under sustained load"); with this one they stayed within a few MB.
 */
export const replicaFetchReceiveWindowBytes = 16 * 1024 * 1024;

/** The replica fetch channel's options: the internal ones and the receive window above. */
export const replicaFetchChannelOptions: grpc.ChannelOptions = {
  ...internalChannelOptions,
  'grpc-node.flow_control_window': replicaFetchReceiveWindowBytes,
};

/** Longest long poll a leader holds a follower's fetch, whatever the follower asks for. */
export const replicaFetchWaitMsMax = 30_000;
/**
 * Fetches a leader holds unanswered on one stream. A fetcher writes its next fetch only after the
 * answer to the last one, so a second one is a broken peer: its stream is ended.
 */
export const replicaFetchStreamFetchesInFlightMax = 1;

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
  /** The answer to one fetch: the whole-request refusals here, the rest from the replica manager. */
  const answer = async (request: WireReplicaFetchRequest): Promise<WireReplicaFetchResponse> => {
    const manager = replicaManager();
    if (request.clusterId !== clusterId) {
      return { errorCode: ErrorCode.INCONSISTENT_CLUSTER_ID, partitions: [] };
    }
    if (manager === undefined) return { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, partitions: [] };
    const startMs = metrics.nowMs();
    const results = await manager.fetchForFollower(fromWireRequest(request));
    metrics.requestCompleted(followerFetchRequestName, -1, startMs, metrics.nowMs());
    return { errorCode: ErrorCode.NONE, partitions: results.map(toWirePartitionData) };
  };
  const implementation: grpc.UntypedServiceImplementation = {
    FetchStream: (call: grpc.ServerDuplexStream<WireReplicaFetchRequest, WireReplicaFetchResponse>) => {
      let inFlight = 0;
      let ended = false;
      const end = (error?: { code: grpc.status; details: string }) => {
        if (ended) return;
        ended = true;
        // grpc-js sends the status of an 'error' emitted on the call, then ends it.
        if (error === undefined) call.end();
        else call.emit('error', error);
      };
      call.on('data', (request: WireReplicaFetchRequest) => {
        if (ended) return;
        if (inFlight >= replicaFetchStreamFetchesInFlightMax) {
          end({
            code: grpc.status.RESOURCE_EXHAUSTED,
            details: 'a fetch was written before the last one was answered',
          });
          return;
        }
        inFlight++;
        answer(request).then(
          (response) => {
            inFlight--;
            if (!ended && !call.cancelled) call.write(response);
          },
          (error: unknown) => {
            inFlight--;
            logger.error({ err: error, replicaId: request.replicaId }, 'replica fetch failed');
            end({ code: grpc.status.INTERNAL, details: String(error) });
          },
        );
      });
      // The follower closed its side (its fetcher stopped): end ours.
      call.on('end', () => end());
      // The follower went away or cancelled (a fetch past its deadline): nothing more to answer.
      call.on('error', () => {
        ended = true;
      });
      call.on('cancelled', () => {
        ended = true;
      });
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
      logStartOffset: wanted.logStartOffset,
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
      logStartOffset: wanted.logStartOffset,
      partitionMaxBytes: wanted.partitionMaxBytes,
    })),
  };
}

/**
 * A fetcher's way to one leader: a stream to its ReplicaFetch service at its current address (a new
 * channel when the leader restarted on another port), carrying one fetch at a time.
 */
export class GrpcReplicaFetchTransport implements ReplicaFetchTransport {
  private client: ReplicaFetchClient | undefined;
  private target: string | undefined;
  private stream: ReplicaFetchStream | undefined;

  constructor(
    private readonly leaderId: number,
    private readonly addressOf: LeaderAddressOf,
    private readonly clusterId: string,
    private readonly credentials: grpc.ChannelCredentials,
  ) {}

  async fetch(
    request: ReplicaFetchRequest,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<ReplicaFetchResponse> {
    const client = this.clientForLeader();
    if (client === undefined) throw new Error(`leader ${this.leaderId} has no known address`);
    if (this.stream === undefined || this.stream.ended) this.stream = client.openStream();
    const response = await this.stream.fetch(toWireRequest(this.clusterId, request), timeoutMs, signal);
    return { errorCode: response.errorCode, partitions: response.partitions.map(fromWirePartitionData) };
  }

  close(): void {
    this.stream?.end(new Error('replica fetch transport closed'));
    this.stream = undefined;
    this.client?.close();
    this.client = undefined;
    this.target = undefined;
  }

  private clientForLeader(): ReplicaFetchClient | undefined {
    const target = this.addressOf(this.leaderId);
    if (target !== this.target) {
      this.stream?.end(new Error(`leader ${this.leaderId} moved to ${target}`));
      this.stream = undefined;
      this.client?.close();
      this.client = target === undefined ? undefined : new ReplicaFetchClient(target, this.credentials);
      this.target = target;
    }
    return this.client;
  }
}

type FetchStreamMethod = (
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
) => grpc.ClientDuplexStream<WireReplicaFetchRequest, WireReplicaFetchResponse>;

interface PendingFetch {
  readonly resolve: (response: WireReplicaFetchResponse) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
  /** Removes the abort listener of the fetch's signal, if it had one. */
  readonly release: () => void;
}

/**
 * One stream of fetches to one leader. At most one fetch is pending; an answer resolves it. A fetch
 * past its deadline or aborted by its signal, an unexpected message or any stream error or end
 * rejects the pending fetch and ends the stream for good (the transport opens another: a stream
 * carries one fetch at a time, so an abandoned long poll cannot be told from the next answer).
 */
export class ReplicaFetchStream {
  private pending: PendingFetch | undefined;
  private endedValue = false;

  constructor(
    private readonly call: grpc.ClientDuplexStream<WireReplicaFetchRequest, WireReplicaFetchResponse>,
  ) {
    call.on('data', (response: WireReplicaFetchResponse) => {
      const pending = this.pending;
      if (pending === undefined) {
        this.end(new Error('the leader answered a fetch that was not asked'));
        return;
      }
      this.pending = undefined;
      clearTimeout(pending.timer);
      pending.release();
      pending.resolve(response);
    });
    call.on('error', (error: Error) => this.end(error));
    call.on('end', () => this.end(new Error('the leader ended the replica fetch stream')));
  }

  get ended(): boolean {
    return this.endedValue;
  }

  fetch(
    request: WireReplicaFetchRequest,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<WireReplicaFetchResponse> {
    if (this.endedValue) return Promise.reject(new Error('replica fetch stream ended'));
    if (this.pending !== undefined) return Promise.reject(new Error('a fetch is already pending'));
    if (signal?.aborted === true) return Promise.reject(new Error('replica fetch aborted'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => this.end(new Error(`replica fetch not answered within ${timeoutMs} ms`)),
        Math.max(1, timeoutMs),
      );
      const onAbort = () => this.end(new Error('replica fetch aborted'));
      signal?.addEventListener('abort', onAbort, { once: true });
      const release = () => signal?.removeEventListener('abort', onAbort);
      this.pending = { resolve, reject, timer, release };
      this.call.write(request);
    });
  }

  /** Ends the stream (cancelling it on the leader) and rejects a pending fetch with `error`. */
  end(error: Error): void {
    if (this.endedValue) return;
    this.endedValue = true;
    const pending = this.pending;
    this.pending = undefined;
    if (pending !== undefined) {
      clearTimeout(pending.timer);
      pending.release();
      pending.reject(error);
    }
    this.call.cancel();
  }
}

/** One channel to one leader's ReplicaFetch service. */
export class ReplicaFetchClient {
  private readonly client: grpc.Client;

  constructor(address: string, credentials: grpc.ChannelCredentials) {
    const Client = serviceClient(protoFile, serviceName);
    this.client = new Client(address, credentials, replicaFetchChannelOptions);
  }

  openStream(): ReplicaFetchStream {
    const method = (this.client as unknown as Record<string, FetchStreamMethod>).FetchStream!.bind(
      this.client,
    );
    return new ReplicaFetchStream(method(new grpc.Metadata(), {}));
  }

  close(): void {
    this.client.close();
  }
}

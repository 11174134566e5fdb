// The broker's replica fetchers: @gregor/replication's ReplicaFetcherManager (one fetcher per leader
// broker, the loop itself) over gRPC (replica-fetch-grpc.ts), Node's clock and timers, and this
// broker's follower replicas.

import { systemClock, systemTimers } from '@gregor/ground';
import {
  type ReplicaFetcherSettings as FetcherLoopSettings,
  ReplicaFetcherManager as FetcherLoops,
} from '@gregor/replication';
import type { ChannelCredentials } from '@grpc/grpc-js';
import type { Logger } from '../logging.js';
import type { ReplicaManager } from '../replica/replica-manager.js';
import { GrpcReplicaFetchTransport, type LeaderAddressOf } from './replica-fetch-grpc.js';

export type { LeaderAddressOf } from './replica-fetch-grpc.js';

export interface ReplicaFetcherSettings extends FetcherLoopSettings {
  /** Sent with every fetch: a leader of another cluster refuses it. */
  readonly clusterId: string;
  /** How fetchers dial their leaders' controller listeners (internal-credentials.ts). */
  readonly credentials: ChannelCredentials;
}

/** Keeps one fetcher per leader broker, each carrying the partitions this broker follows from it. */
export class ReplicaFetcherManager {
  private readonly loops: FetcherLoops;

  constructor(
    settings: ReplicaFetcherSettings,
    addressOf: LeaderAddressOf,
    replicaManager: ReplicaManager,
    brokerEpoch: () => number,
    logger: Logger,
  ) {
    this.loops = new FetcherLoops(
      (leaderId) =>
        addressOf(leaderId) === undefined
          ? undefined
          : new GrpcReplicaFetchTransport(leaderId, addressOf, settings.clusterId, settings.credentials),
      {
        settings,
        replicas: replicaManager.followerReplicas,
        brokerEpoch,
        clock: systemClock,
        timers: systemTimers,
        logger,
        followerQuota: replicaManager.replicationThrottles.follower,
      },
    );
  }

  /** Follows the replica manager's current set of followed partitions. */
  reconcile(): void {
    this.loops.reconcile();
  }

  close(): Promise<void> {
    return this.loops.close();
  }
}

// The leader's side of a follower's fetch, as the broker runs it: @gregor/replication's
// serveReplicaFetch (the per-partition decisions and the long poll) over this broker's local
// replicas, its metadata image and its real logs.

import type { Clock } from '@gregor/ground';
import { ErrorCode, KafkaError } from '@gregor/protocol';
import {
  type IsrProposals,
  type LeaderLogRead,
  type ReplicaFetchHost,
  type ReplicaFetchPartitionResult,
  type ReplicaFetchRequest,
  type ReplicationQuota,
  serveReplicaFetch,
} from '@gregor/replication';
import { LogClosedError } from '@gregor/storage';
import type { DelayedOperations } from '../delayed/delayed-operations.js';
import type { LocalReplicas } from './local-replicas.js';
import type { Partition } from './partition.js';

export interface ReplicaFetchServingOptions {
  readonly replicas: LocalReplicas;
  readonly clock: Clock;
  readonly delayedOperations: DelayedOperations;
  readonly isrProposals: IsrProposals;
  /** This broker's leader-side replication quota (replication-throttles.ts). */
  readonly leaderQuota: ReplicationQuota;
}

export class ReplicaFetchServing implements ReplicaFetchHost<Partition> {
  readonly clock: Clock;
  readonly delayedOperations: DelayedOperations;
  readonly isrProposals: IsrProposals;
  readonly leaderQuota: ReplicationQuota;
  private readonly replicas: LocalReplicas;

  constructor(options: ReplicaFetchServingOptions) {
    this.clock = options.clock;
    this.delayedOperations = options.delayedOperations;
    this.isrProposals = options.isrProposals;
    this.leaderQuota = options.leaderQuota;
    this.replicas = options.replicas;
  }

  /** A follower's fetch (see serveReplicaFetch): answered with whole batches, divergences or errors. */
  fetchForFollower(request: ReplicaFetchRequest): Promise<ReplicaFetchPartitionResult[]> {
    return serveReplicaFetch(request, this);
  }

  registeredBrokerEpoch(brokerId: number): number | undefined {
    return this.replicas.image.broker(brokerId)?.brokerEpoch;
  }

  leaderReplica(topic: string, index: number): Partition | number {
    const lookup = this.replicas.lookupLocalLeader(topic, index);
    return lookup.ok ? lookup.partition : lookup.errorCode;
  }

  stillLeads(partition: Partition, leaderEpoch: number): boolean {
    return this.replicas.stillLeads(partition, leaderEpoch);
  }

  async read(partition: Partition, fetchOffset: number, maxBytes: number): Promise<LeaderLogRead> {
    try {
      return await partition.log.read(fetchOffset, maxBytes);
    } catch (error) {
      const unread = { logStartOffset: -1, logEndOffset: -1 };
      if (error instanceof LogClosedError) return { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, ...unread };
      // A failed log dir (KafkaStorageError) or no descriptor left (TooManyOpenFilesError).
      if (error instanceof KafkaError) {
        this.replicas.onStorageError(partition, error);
        return { errorCode: error.code, ...unread };
      }
      throw error;
    }
  }
}

// The partition replicas this broker holds, and whether each one is served: what the data path's
// parts (leader appends, local reads, follower fetches, the metadata reconciliation) share.
//
// Two ways a local replica stops being served, kept apart on purpose:
// - OFFLINE (Kafka's sense): its log dir failed (the LogDirFailureChannel; Kafka's
//   ReplicaManager.handleLogDirFailure). It answers KAFKA_STORAGE_ERROR, follows no leader, is
//   reported to the controller (offline-replicas.ts), which moves its leadership away, and stays
//   offline until the process restarts.
// - SET ASIDE: its log could not be opened, or its role could not change, for a reason that may
//   pass, above all no file descriptor left (EMFILE/ENFILE: the process's limit, not the disk). It
//   answers NOT_LEADER_OR_FOLLOWER, is not reported as a failed dir, and is tried again every
//   maintenance run (every second) and with each image, until it opens.
//
// Every follower-side log change and every role change of a partition runs in that partition's
// exclusive section (`exclusive`), so a fetch response can never write into a log that has just
// become leader, and a new leader's epoch is in its leader-epoch-checkpoint (`persistEpochCache`)
// before it appends a single record of that epoch.

import { MetadataImage } from '@gregor/metadata';
import { ErrorCode, type KafkaError } from '@gregor/protocol';
import type { IsrProposals } from '@gregor/replication';
import {
  asTooManyOpenFiles,
  isDescriptorExhaustion,
  isIoError,
  KafkaStorageError,
  type LogDirFailureChannel,
  TooManyOpenFilesError,
} from '@gregor/storage';
import type { DelayedOperations } from '../delayed/delayed-operations.js';
import type { Logger } from '../logging.js';
import { writeLeaderEpochCheckpoint } from './leader-epoch-checkpoint-file.js';
import { OfflineReplicas } from './offline-replicas.js';
import type { Partition } from './partition.js';

export interface LeaderAndEpoch {
  readonly leaderId: number;
  readonly leaderEpoch: number;
}

export const noLeaderAndEpoch: LeaderAndEpoch = { leaderId: -1, leaderEpoch: -1 };

/**
 * Whether this broker may act as a leader now (the node's BrokerLease: heartbeats answered by the
 * controller within the session timeout). Without it a leader in the image answers clients
 * NOT_LEADER_OR_FOLLOWER; followers still fetch from it.
 */
export interface LeaderLease {
  held(): boolean;
}

/** For a broker with no controller session to lose (an in-process broker beside its controller). */
export const permanentLeaderLease: LeaderLease = Object.freeze({ held: () => true });

export type LeaderLookup =
  | { readonly ok: true; readonly partition: Partition; readonly currentLeader: LeaderAndEpoch }
  | { readonly ok: false; readonly errorCode: number; readonly currentLeader: LeaderAndEpoch };

/** A set-aside replica: its topic's id, and what failed last (logged once, then at debug level). */
interface SetAsideReplica {
  readonly topicId: string;
  readonly error: unknown;
}

export interface LocalReplicasOptions {
  readonly brokerId: number;
  readonly delayedOperations: DelayedOperations;
  /** ISR changes of the partitions this broker leads: a replica that stops being served forgets its own. */
  readonly isrProposals: IsrProposals;
  readonly logger: Logger;
  /** Where failed dirs of the broker's own files (checkpoints) are reported; the LogManager's channel. */
  readonly logDirFailureChannel?: LogDirFailureChannel;
  /** Called when the set of followed partitions may have changed (a replica went offline or aside). */
  readonly onFollowersChanged?: () => void;
  /** Whether this broker may answer clients as leader; `permanentLeaderLease` when absent. */
  readonly leaderLease?: LeaderLease;
}

export class LocalReplicas {
  /** Served replicas, by `<topic>-<index>`. */
  readonly partitions = new Map<string, Partition>();
  /** The last image applied: what the data path answers from. */
  image: MetadataImage = MetadataImage.empty;
  closed = false;
  /** The topic configs each partition's log was last configured from (image maps are shared when unchanged). */
  readonly appliedConfigs = new Map<string, ReadonlyMap<string, string>>();
  /** Per partition key: the tail of its exclusive section (role changes, follower log writes). */
  private readonly exclusiveTails = new Map<string, Promise<void>>();
  /** Per partition key: the epoch-cache version last written to its leader-epoch-checkpoint. */
  private readonly persistedEpochVersions = new Map<string, number>();
  /** OFFLINE replicas: out of `partitions`, reported to the controller, never opened again until a restart. */
  readonly offlineOnFailedDirs = new OfflineReplicas();
  /** SET-ASIDE replicas: out of `partitions`, not reported, tried again at each maintenance run and image. */
  readonly setAsideReplicas = new Map<string, SetAsideReplica>();

  private readonly leaderLease: LeaderLease;

  constructor(private readonly options: LocalReplicasOptions) {
    this.leaderLease = options.leaderLease ?? permanentLeaderLease;
  }

  /** Whether this broker may act as a leader towards clients now (see LeaderLease). */
  leaseHeld(): boolean {
    return this.leaderLease.held();
  }

  get brokerId(): number {
    return this.options.brokerId;
  }

  get(key: string): Partition | undefined {
    return this.partitions.get(key);
  }

  /** Whether `partition` is still the one served under its key. */
  isServed(partition: Partition): boolean {
    return !this.closed && this.partitions.get(partition.key) === partition;
  }

  /** Starts serving a newly opened replica. */
  add(partition: Partition, epochCheckpointed: boolean): void {
    this.partitions.set(partition.key, partition);
    // A restart rewrites (and fsyncs) a partition's checkpoint only if its cache changes.
    if (epochCheckpointed) this.persistedEpochVersions.set(partition.key, partition.epochCache.version);
  }

  /** Stops serving `key` (deleted, offline or set aside): what was known of it goes, waiters wake. */
  remove(key: string): void {
    if (!this.partitions.delete(key)) return;
    this.appliedConfigs.delete(key);
    this.persistedEpochVersions.delete(key);
    this.options.isrProposals.forget(key);
    this.options.delayedOperations.notify(key);
  }

  /**
   * The local replica of `topic-index` if it leads there and holds the leader lease, or why not
   * (with whoever leads per the image): for clients' Produce, Fetch and ListOffsets.
   */
  lookupLeader(topicName: string, index: number): LeaderLookup {
    const lookup = this.lookupLocalLeader(topicName, index);
    if (!lookup.ok || this.leaderLease.held()) return lookup;
    // The image still names this broker, but the controller may have elected another leader.
    return { ok: false, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, currentLeader: noLeaderAndEpoch };
  }

  /**
   * The local replica of `topic-index` if the image makes it leader, lease or not: for followers'
   * fetches, which acknowledge nothing to a client and may still catch up from it.
   */
  lookupLocalLeader(topicName: string, index: number): LeaderLookup {
    const topic = this.image.topic(topicName);
    const state = topic?.partitions[index];
    if (topic === undefined || state === undefined) {
      return { ok: false, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, currentLeader: noLeaderAndEpoch };
    }
    const currentLeader = { leaderId: state.leader, leaderEpoch: state.leaderEpoch };
    if (this.offlineOnFailedDirs.has(`${topicName}-${index}`, topic.topicId)) {
      return { ok: false, errorCode: ErrorCode.KAFKA_STORAGE_ERROR, currentLeader };
    }
    const partition = this.partitions.get(`${topicName}-${index}`);
    if (this.closed || partition === undefined || partition.role !== 'leader') {
      return { ok: false, errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, currentLeader };
    }
    return { ok: true, partition, currentLeader };
  }

  /** Whether `partition` still leads in `leaderEpoch` (it may have changed during an await). */
  stillLeads(partition: Partition, leaderEpoch: number): boolean {
    return this.isServed(partition) && partition.role === 'leader' && partition.leaderEpoch === leaderEpoch;
  }

  /** stillLeads, and the leader lease held: what a client waiting on this leader needs. */
  stillLeadsForClients(partition: Partition, leaderEpoch: number): boolean {
    return this.stillLeads(partition, leaderEpoch) && this.leaderLease.held();
  }

  /** The lease ran out: requests parked on partitions this broker leads wake and answer now. */
  leaseLapsed(): void {
    for (const partition of this.partitions.values()) {
      if (partition.role === 'leader') this.options.delayedOperations.notify(partition.key);
    }
  }

  /** Why a partition this broker led stopped leading: its log dir failed, or leadership moved. */
  lostLeadershipError(partition: Partition): number {
    return this.offlineOnFailedDirs.has(partition.key, partition.topicId)
      ? ErrorCode.KAFKA_STORAGE_ERROR
      : ErrorCode.NOT_LEADER_OR_FOLLOWER;
  }

  /** Runs `operation` after every earlier exclusive operation of `key` (chained, never concurrent). */
  exclusive<T>(key: string, operation: () => Promise<T>): Promise<T> {
    const previous = this.exclusiveTails.get(key) ?? Promise.resolve();
    const run = previous.then(operation);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.exclusiveTails.set(key, tail);
    void tail.then(() => {
      if (this.exclusiveTails.get(key) === tail) this.exclusiveTails.delete(key);
    });
    return run;
  }

  /**
   * Writes the partition's leader-epoch-checkpoint if its cache changed since the last write. Any
   * I/O failure takes the log dir offline: a leader whose epoch is not durable must not append.
   */
  async persistEpochCache(partition: Partition): Promise<void> {
    const version = partition.epochCache.version;
    if (this.persistedEpochVersions.get(partition.key) === version) return;
    try {
      // Never in the middle of a log dir move's swap: the file lands where the log lives after it.
      const entries = partition.epochCache.entries;
      await partition.log.withPartitionDir((dir) => writeLeaderEpochCheckpoint(dir, entries));
    } catch (error) {
      // No descriptor left says nothing about the disk: the caller sets the replica aside.
      const exhaustion = asTooManyOpenFiles(error, partition.log.dir);
      if (exhaustion !== undefined) throw exhaustion;
      if (!isIoError(error)) throw error;
      const reason = `${partition.key}: writing leader-epoch-checkpoint failed: ${error.code}`;
      this.reportLogDirFailure(partition.log.logDir, reason);
      throw new KafkaStorageError(partition.log.logDir, reason);
    }
    this.persistedEpochVersions.set(partition.key, version);
  }

  reportLogDirFailure(logDir: string, reason: string): void {
    if (this.options.logDirFailureChannel !== undefined) {
      this.options.logDirFailureChannel.maybeAddOfflineLogDir(logDir, reason);
    } else {
      this.handleLogDirFailure(logDir, reason);
    }
  }

  /**
   * Kafka's handleLogDirFailure: every replica on `logDir` goes offline. Waiters wake (and answer
   * KAFKA_STORAGE_ERROR), the fetchers stop following those partitions, and the heartbeat reports
   * them until the metadata lists them as offline.
   */
  handleLogDirFailure(logDir: string, reason: string): void {
    const failed = [...this.partitions.values()].filter((partition) => partition.log.logDir === logDir);
    for (const partition of failed) {
      this.takeOfflineForFailedDir(partition.key, partition.topicId, partition.index);
    }
    this.options.logger.error(
      { logDir, reason, offlineReplicas: failed.map((partition) => partition.key) },
      'log dir failed: its replicas are offline until a restart',
    );
    if (failed.length > 0) this.options.onFollowersChanged?.();
  }

  /** Takes `key` OFFLINE: its log dir failed (see the top of this file). */
  takeOfflineForFailedDir(key: string, topicId: string, index: number): void {
    this.remove(key);
    this.offlineOnFailedDirs.add({ key, topicId, partitionIndex: index });
    this.options.delayedOperations.notify(key);
  }

  /** Stops serving `key` until a retry opens it (see SET ASIDE at the top of this file). */
  setReplicaAside(
    key: string,
    topicId: string,
    error: unknown,
    why = 'local replica set aside: not served until it can be opened (retried every maintenance run)',
  ): void {
    this.remove(key);
    const wasSetAside = this.setAsideReplicas.has(key);
    this.setAsideReplicas.set(key, { topicId, error });
    const fields = { partition: key, err: error, descriptorsExhausted: descriptorsExhausted(error) };
    if (wasSetAside) this.options.logger.debug(fields, 'local replica still set aside');
    else this.options.logger.error(fields, why);
  }

  /**
   * After a storage error on a served partition: a log that an operation left halfway for lack of
   * descriptors (`needsReopen`) refuses everything until it is opened again from its files, so the
   * replica is set aside and the retry reopens it.
   */
  setAsideIfLogNeedsReopen(partition: Partition, error: unknown): void {
    if (!partition.log.needsReopen || this.partitions.get(partition.key) !== partition) return;
    this.setReplicaAside(
      partition.key,
      partition.topicId,
      error,
      'local replica set aside: an operation on its log ran out of file descriptors halfway; the log is reopened from its files',
    );
    this.options.onFollowersChanged?.();
  }

  /**
   * A read or append failed in storage (KAFKA_STORAGE_ERROR: a failed log dir, a full disk, no
   * descriptor left): logged, and the replica set aside if its log now needs a reopen.
   */
  onStorageError(partition: Partition, error: KafkaError): void {
    this.options.logger.warn(
      { partition: partition.key, err: error, descriptorsExhausted: descriptorsExhausted(error) },
      'storage error answered to a client',
    );
    this.setAsideIfLogNeedsReopen(partition, error);
  }

  /** Stops serving: every parked request completes now (with errors); logs stay open for the owner to close. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const key of this.partitions.keys()) this.options.delayedOperations.notify(key);
  }
}

/** EMFILE/ENFILE, raw from Node or as storage's TooManyOpenFilesError. */
export function descriptorsExhausted(error: unknown): boolean {
  return error instanceof TooManyOpenFilesError || isDescriptorExhaustion(error);
}

/** `<topic>-<partition>` back into its parts (topics may contain '-'). */
export function splitPartitionKey(key: string): [string, number] {
  const at = key.lastIndexOf('-');
  return [key.slice(0, at), Number(key.slice(at + 1))];
}

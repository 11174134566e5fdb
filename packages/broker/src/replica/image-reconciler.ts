// Making the local replicas match the metadata image (Kafka's ReplicaManager.applyDelta with its
// makeLeaders / makeFollowers): logs created for partitions new to this broker, leadership and ISR
// changes applied where newer than what a partition holds, log configs made again when the topic's
// configs or the broker's dynamic defaults change, and the logs of deleted topics removed. A replica
// that fails is confined: on a failed log dir it goes offline, for any other reason it is set aside
// and retried (see local-replicas.ts). Images are applied one at a time, in order.

import type { Clock } from '@gregor/ground';
import { MetadataImage, type PartitionState, type TopicImage } from '@gregor/metadata';
import { changeRole } from '@gregor/replication';
import {
  forEachConcurrently,
  KafkaStorageError,
  type LogConfig,
  type PartitionLog,
  parseLogConfig,
} from '@gregor/storage';
import type { DelayedOperations } from '../delayed/delayed-operations.js';
import type { Logger } from '../logging.js';
import { type LocalReplicas, splitPartitionKey } from './local-replicas.js';
import type { LogStore } from './log-store.js';
import type { Partition } from './partition.js';
import { effectiveBrokerLogConfig, type PartitionOpener, validStorageOverrides } from './partition-opener.js';

/** Local partitions whose metadata changes are applied at once (log creation, role changes). */
export const partitionApplyConcurrency = 16;
/**
 * Set-aside replicas one maintenance run tries again (the rest wait for the next runs, in turn):
 * each run holds the metadata queue, and hundreds of failing opens must not delay a new image.
 */
export const setAsideRetriesPerRunMax = 64;

export interface ImageReconcilerOptions {
  readonly brokerId: number;
  readonly replicas: LocalReplicas;
  readonly opener: PartitionOpener;
  readonly logStore: LogStore;
  /** Topic defaults from the broker's `log.*` keys; the image's dynamic broker configs apply over them. */
  readonly brokerLogConfig: LogConfig;
  readonly clock: Clock;
  readonly delayedOperations: DelayedOperations;
  readonly logger: Logger;
  /** Called after each image took effect, so the fetchers follow the new set of followed partitions. */
  readonly onFollowersChanged?: () => void;
}

export class ImageReconciler {
  private metadataQueue: Promise<void> = Promise.resolve();
  /**
   * The topic defaults in effect (server.properties under the dynamic broker configs), and the
   * image's dynamic broker configs they were made from: when those change, every log's config is
   * made again, so a topic that does not set a key follows its new default without a restart.
   */
  private brokerDefaults: {
    readonly from: MetadataImage['dynamicBrokerConfigs'] | null;
    readonly config: LogConfig;
  };
  /** Called after each image took effect (the group coordinator follows its offsets-partition leaderships). */
  private readonly imageAppliedListeners: ((image: MetadataImage) => void)[] = [];

  constructor(private readonly options: ImageReconcilerOptions) {
    this.brokerDefaults = { from: null, config: options.brokerLogConfig };
  }

  /** Calls `listener` after every image that took effect, in order, once the local replicas match it. */
  onImageApplied(listener: (image: MetadataImage) => void): void {
    this.imageAppliedListeners.push(listener);
  }

  /** The topic defaults in effect now: server.properties under the dynamic broker configs. */
  get brokerLogDefaults(): LogConfig {
    return this.brokerDefaults.config;
  }

  /**
   * Makes the local replicas match `image`: creates missing logs, applies leadership and ISR changes
   * newer than what each partition holds, updates log configs, deletes partitions that are gone.
   * Calls are serialized; each resolves once its image is in effect.
   */
  applyMetadata(image: MetadataImage): Promise<void> {
    const run = this.metadataQueue.then(() => this.applyMetadataNow(image));
    this.metadataQueue = run.catch(() => undefined);
    return run;
  }

  private async applyMetadataNow(image: MetadataImage): Promise<void> {
    const replicas = this.options.replicas;
    if (replicas.closed) return;
    const nowMs = this.options.clock.nowMs();
    this.followBrokerDefaults(image);
    const wanted = new Set<string>();
    const local: { topic: TopicImage; index: number; topicConfigs: ReadonlyMap<string, string> }[] = [];
    for (const topic of image.topics.values()) {
      const topicConfigs = image.topicConfigs(topic.name);
      for (let index = 0; index < topic.partitions.length; index++) {
        if (!topic.partitions[index]!.replicas.includes(this.options.brokerId)) continue;
        wanted.add(`${topic.name}-${index}`);
        local.push({ topic, index, topicConfigs });
      }
    }
    // Partitions are independent (each has its own exclusive section): applying several at once
    // overlaps their file creations and fsyncs, which matters for a topic of 10,000 partitions.
    await forEachConcurrently(local, partitionApplyConcurrency, ({ topic, index, topicConfigs }) =>
      this.applyPartitionOrSetAside(topic, index, topic.partitions[index]!, topicConfigs, nowMs),
    );
    const gone = [...replicas.partitions.values()].filter((partition) => !wanted.has(partition.key));
    // A set-aside replica of a deleted topic still has its files (and maybe an open log) here.
    const goneSetAside = [...replicas.setAsideReplicas].filter(([key]) => !wanted.has(key));
    for (const [key] of goneSetAside) replicas.setAsideReplicas.delete(key);
    await this.removePartitions(
      gone,
      goneSetAside.map(([key, setAside]) => ({ key, topicId: setAside.topicId })),
    );
    // A deleted partition that was offline here: its files stay on the failed dir until a restart.
    for (const key of [...replicas.offlineOnFailedDirs.keys()])
      if (!wanted.has(key)) replicas.offlineOnFailedDirs.delete(key);
    replicas.image = image;
    this.options.onFollowersChanged?.();
    for (const listener of this.imageAppliedListeners) listener(image);
  }

  /** The topic defaults of `image`; if they changed, every open log gets its config made again. */
  private followBrokerDefaults(image: MetadataImage): void {
    if (this.brokerDefaults.from === image.dynamicBrokerConfigs) return;
    const config = effectiveBrokerLogConfig(
      image,
      this.options.brokerId,
      this.options.brokerLogConfig,
      (name, problem) =>
        this.options.logger.warn({ config: name, problem }, 'dynamic broker config ignored by storage'),
    );
    const changed = JSON.stringify(config) !== JSON.stringify(this.brokerDefaults.config);
    this.brokerDefaults = { from: image.dynamicBrokerConfigs, config };
    if (changed) this.options.replicas.appliedConfigs.clear();
  }

  /**
   * applyPartition, with any failure confined to that replica: on a failed log dir it goes offline
   * (KafkaStorageError); any other failure sets it aside (logged once) to be tried again later.
   * Every other partition keeps being served either way.
   */
  private async applyPartitionOrSetAside(
    topic: TopicImage,
    index: number,
    state: PartitionState,
    topicConfigs: ReadonlyMap<string, string>,
    nowMs: number,
  ): Promise<void> {
    const key = `${topic.name}-${index}`;
    const replicas = this.options.replicas;
    try {
      await this.applyPartition(topic, index, state, topicConfigs, nowMs);
    } catch (error) {
      if (error instanceof KafkaStorageError) {
        this.options.logger.error({ partition: key, err: error }, 'local replica is offline');
        replicas.takeOfflineForFailedDir(key, topic.topicId, index);
        replicas.setAsideReplicas.delete(key);
        return;
      }
      replicas.setReplicaAside(key, topic.topicId, error);
      return;
    }
    if (replicas.partitions.has(key) && replicas.setAsideReplicas.delete(key)) {
      this.options.logger.info({ partition: key }, 'set-aside local replica opened: served again');
    }
  }

  /**
   * Tries the set-aside replicas again against the last image (on the maintenance timer), at most
   * `setAsideRetriesPerRunMax` per run and 16 at a time, and never ahead of an image waiting to be
   * applied: each run takes the metadata queue only briefly, so new images are not starved.
   */
  retrySetAsideReplicas(): Promise<void> {
    const replicas = this.options.replicas;
    if (replicas.setAsideReplicas.size === 0) return Promise.resolve();
    const run = this.metadataQueue.then(async () => {
      if (replicas.closed) return;
      const image = replicas.image;
      const nowMs = this.options.clock.nowMs();
      const due: { topic: TopicImage; index: number; state: PartitionState }[] = [];
      for (const key of [...replicas.setAsideReplicas.keys()]) {
        if (due.length >= setAsideRetriesPerRunMax) break;
        const [topicName, index] = splitPartitionKey(key);
        const topic = image.topic(topicName);
        const state = topic?.partitions[index];
        if (topic === undefined || state === undefined || !state.replicas.includes(this.options.brokerId)) {
          replicas.setAsideReplicas.delete(key);
          continue;
        }
        // Tried in turn: the ones tried now go to the back of the line.
        const entry = replicas.setAsideReplicas.get(key)!;
        replicas.setAsideReplicas.delete(key);
        replicas.setAsideReplicas.set(key, entry);
        due.push({ topic, index, state });
      }
      await forEachConcurrently(due, partitionApplyConcurrency, ({ topic, index, state }) =>
        this.applyPartitionOrSetAside(topic, index, state, image.topicConfigs(topic.name), nowMs),
      );
      this.options.onFollowersChanged?.();
    });
    this.metadataQueue = run.catch(() => undefined);
    return run;
  }

  private async applyPartition(
    topic: TopicImage,
    index: number,
    state: PartitionState,
    topicConfigs: ReadonlyMap<string, string>,
    nowMs: number,
  ): Promise<void> {
    const key = `${topic.name}-${index}`;
    const replicas = this.options.replicas;
    if (replicas.offlineOnFailedDirs.has(key, topic.topicId)) return;
    // A topic made again under the name of one that was offline here is a new partition.
    replicas.offlineOnFailedDirs.delete(key);
    let partition = replicas.get(key);
    if (partition !== undefined && partition.topicId !== topic.topicId) {
      // The topic was deleted and created again under the same name between two images.
      await this.removePartitions([partition]);
      partition = undefined;
    }
    const setAside = replicas.setAsideReplicas.get(key);
    if (partition === undefined && setAside !== undefined && setAside.topicId !== topic.topicId) {
      // The same, while the old topic's replica was set aside: its files must not be taken for ours.
      replicas.setAsideReplicas.delete(key);
      await this.removePartitions([], [{ key, topicId: setAside.topicId }]);
    }
    const changedConfigs = partition === undefined || replicas.appliedConfigs.get(key) !== topicConfigs;
    const overrides = changedConfigs
      ? validStorageOverrides(topicConfigs, this.brokerDefaults.config, (name, problem) =>
          this.options.logger.warn(
            { partition: key, config: name, problem },
            'topic config ignored by storage',
          ),
        )
      : {};
    if (partition === undefined) {
      let log: PartitionLog;
      // New to this broker (not in the image it last acted on, and not the first image at start):
      // only such a replica may be created while a log dir is offline (Kafka's isNew).
      const isNew =
        replicas.image !== MetadataImage.empty &&
        replicas.image.topicById(topic.topicId)?.partitions[index] === undefined;
      try {
        log = await this.options.opener.openLog(
          topic.name,
          index,
          overrides,
          isNew,
          this.brokerDefaults.config,
        );
      } catch (error) {
        if (error instanceof KafkaStorageError) {
          // On a failed dir, or possibly there: offline, and reported as such.
          this.options.logger.error({ partition: key, err: error }, 'local replica is offline');
          replicas.takeOfflineForFailedDir(key, topic.topicId, index);
          replicas.setAsideReplicas.delete(key);
          return;
        }
        // Any other failure to open one log (EMFILE with too many partitions for the process's file
        // limit, above all) sets that replica aside, not the whole broker: it is absent from this
        // broker, so the partition answers NOT_LEADER_OR_FOLLOWER / stays out of the ISR.
        replicas.setReplicaAside(
          key,
          topic.topicId,
          error,
          'cannot open the log of a local replica: set aside, retried every maintenance run',
        );
        return;
      }
      const opened = await this.options.opener.load(topic, index, state, log);
      replicas.add(opened.partition, opened.epochCheckpointed);
      replicas.appliedConfigs.set(key, topicConfigs);
      await replicas.exclusive(key, () => this.transitionOrOffline(opened.partition, state, nowMs, true));
      return;
    }
    if (changedConfigs) {
      partition.log.updateConfig(parseLogConfig(overrides, this.brokerDefaults.config));
      replicas.appliedConfigs.set(key, topicConfigs);
    }
    const existing = partition;
    if (existing.isNewer(state))
      await replicas.exclusive(key, () => this.transitionOrOffline(existing, state, nowMs));
  }

  /** A role change whose leader-epoch checkpoint cannot be written leaves the replica offline. */
  private async transitionOrOffline(
    partition: Partition,
    state: PartitionState,
    nowMs: number,
    initial = false,
  ): Promise<void> {
    try {
      await this.transition(partition, state, nowMs, initial);
    } catch (error) {
      if (!(error instanceof KafkaStorageError)) throw error;
      this.options.logger.error(
        { partition: partition.key, err: error },
        'role change failed: replica offline',
      );
    }
  }

  /** Runs in the partition's exclusive section: no follower write is in progress on its log. */
  private async transition(
    partition: Partition,
    state: PartitionState,
    nowMs: number,
    initial = false,
  ): Promise<void> {
    if (!this.options.replicas.isServed(partition)) return;
    if (!initial && !partition.isNewer(state)) return;
    const before = partition.role;
    await changeRole(partition, state, nowMs, () => this.options.replicas.persistEpochCache(partition));
    if (before !== partition.role) {
      this.options.logger.info(
        { partition: partition.key, role: partition.role, leaderEpoch: state.leaderEpoch },
        'replica role changed',
      );
    }
    // Waiters re-check: a leadership change completes them, a high watermark change may satisfy them.
    this.options.delayedOperations.notify(partition.key);
  }

  /**
   * Deletes local replicas whose topic is gone: the served ones (`gone`) and set-aside ones, whose
   * logs storage may hold too. Their logs go in one batch (storage writes each dir's checkpoints
   * once), so deleting a topic of thousands of partitions does not hold the metadata queue for long.
   */
  private async removePartitions(
    gone: readonly Partition[],
    setAside: readonly { readonly key: string; readonly topicId: string }[] = [],
  ): Promise<void> {
    for (const partition of gone) this.options.replicas.remove(partition.key);
    // A follower write in progress finishes (or fails on the closed log) before the log goes.
    await forEachConcurrently(gone, partitionApplyConcurrency, async (partition) => {
      await this.options.replicas.exclusive(partition.key, async () => undefined);
      this.options.delayedOperations.notify(partition.key);
    });
    const doomed = [
      ...gone.map((partition) => ({
        key: partition.key,
        topic: partition.topic,
        partition: partition.index,
        suffix: partition.topicId,
      })),
      ...setAside.map(({ key, topicId }) => {
        const [topic, partition] = splitPartitionKey(key);
        return { key, topic, partition, suffix: topicId };
      }),
    ];
    if (doomed.length === 0) return;
    await this.options.logStore.deleteLogs(doomed);
    for (const { key } of doomed) this.options.logger.info({ partition: key }, 'replica deleted');
  }
}

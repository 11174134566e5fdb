// Opening a local replica the image assigns to this broker: its log (created if missing, configured
// from the topic's configs over the broker defaults), its leader-epoch cache (from the checkpoint,
// or rebuilt from the batches), its idempotent producers (rebuilt from the log) and the high
// watermark of the last replication-offset-checkpoint.

import { dirname } from 'node:path';
import type { Clock } from '@gregor/ground';
import {
  dynamicBrokerTopicDefaults,
  type MetadataImage,
  type PartitionState,
  type TopicImage,
} from '@gregor/metadata';
import {
  type ConfigProps,
  type LogConfig,
  LogConfigError,
  logConfigDefinitions,
  type PartitionLog,
  parseLogConfig,
  readCheckpointFile,
} from '@gregor/storage';
import { loadLeaderEpochCache } from './leader-epoch-checkpoint-file.js';
import type { LogStore } from './log-store.js';
import { Partition } from './partition.js';
import { ProducerStateManager } from './producer-state.js';
import { rebuildProducerState } from './producer-state-log.js';
import { type CheckpointEntry, highWatermarkCheckpointName } from './replica-maintenance.js';

const storageTopicKeys = new Set(logConfigDefinitions.map((definition) => definition.topicKey));

export interface PartitionOpenerOptions {
  readonly brokerId: number;
  readonly logStore: LogStore;
  readonly brokerLogConfig: LogConfig;
  readonly clock: Clock;
  /** `producer.id.expiration.ms` (Kafka's default, 1 day, when absent). */
  readonly producerIdExpirationMs?: number;
}

export interface OpenedPartition {
  readonly partition: Partition;
  /** Its leader-epoch cache is what the checkpoint file holds (no need to write it again). */
  readonly epochCheckpointed: boolean;
}

export class PartitionOpener {
  /** Per log dir: the high watermarks of replication-offset-checkpoint, read once at start. */
  private readonly checkpointedHighWatermarks = new Map<string, Promise<Map<string, CheckpointEntry>>>();

  constructor(private readonly options: PartitionOpenerOptions) {}

  /**
   * The log of `topic-index`, created with `overrides` if missing. A log on an offline dir, or
   * (unless `isNew`) a missing one while a dir is offline, throws KafkaStorageError.
   */
  async openLog(
    topic: string,
    index: number,
    overrides: ConfigProps,
    isNew: boolean,
    defaults: LogConfig = this.options.brokerLogConfig,
  ): Promise<PartitionLog> {
    const log = await this.options.logStore.getOrCreateLog(topic, index, overrides, { isNew });
    // A log opened at start-up carries whatever config it was opened with: the image decides.
    log.updateConfig(parseLogConfig(overrides, defaults));
    return log;
  }

  /** The Partition over an opened log: its epochs, producers and checkpointed high watermark loaded. */
  async load(
    topic: TopicImage,
    index: number,
    state: PartitionState,
    log: PartitionLog,
  ): Promise<OpenedPartition> {
    const { clock } = this.options;
    const { cache: epochCache, fromCheckpoint } = await loadLeaderEpochCache(log);
    const producerState = new ProducerStateManager(
      this.options.producerIdExpirationMs === undefined
        ? {}
        : { producerIdExpirationMs: this.options.producerIdExpirationMs },
    );
    await rebuildProducerState(log, producerState, clock.nowMs());
    const initialHighWatermark = await this.checkpointedHighWatermark(topic.name, index, dirname(log.dir));
    const partition = new Partition(topic.name, topic.topicId, index, log, this.options.brokerId, state, {
      epochCache,
      producerState,
      ...(initialHighWatermark === undefined ? {} : { initialHighWatermark }),
    });
    return { partition, epochCheckpointed: fromCheckpoint };
  }

  private checkpointedHighWatermark(
    topic: string,
    index: number,
    logDir: string,
  ): Promise<number | undefined> {
    let loading = this.checkpointedHighWatermarks.get(logDir);
    if (loading === undefined) {
      loading = readCheckpointFile(logDir, highWatermarkCheckpointName).catch((error: unknown) => {
        // Not cached: a read that failed (no descriptor left) is tried again by the next replica.
        this.checkpointedHighWatermarks.delete(logDir);
        throw error;
      });
      this.checkpointedHighWatermarks.set(logDir, loading);
    }
    return loading.then((entries) => entries.get(`${topic}-${index}`)?.offset);
  }
}

/**
 * The image's topic configs that storage acts on (others, like unclean.leader.election.enable, are
 * not log configs), key by key: a value the controller accepted but storage refuses (e.g. a
 * segment.bytes below storage's minimum) is left out, so the broker default applies, and reported.
 */
export function validStorageOverrides(
  topicConfigs: ReadonlyMap<string, string>,
  defaults: LogConfig,
  onIgnored: (name: string, problem: string) => void,
): ConfigProps {
  const overrides: Record<string, string> = {};
  for (const [name, value] of topicConfigs) {
    if (!storageTopicKeys.has(name)) continue;
    try {
      parseLogConfig({ [name]: value }, defaults);
      overrides[name] = value;
    } catch (error) {
      if (!(error instanceof LogConfigError)) throw error;
      onIgnored(name, error.message);
    }
  }
  return overrides;
}

/**
 * The topic defaults in effect on broker `brokerId`: the dynamic broker configs of `image` (its own
 * over the cluster-wide default) applied over `staticDefaults` (server.properties over Kafka's
 * defaults). A dynamic value storage cannot take is ignored (reported through `onIgnored`).
 */
export function effectiveBrokerLogConfig(
  image: Pick<MetadataImage, 'brokerConfigs'>,
  brokerId: number,
  staticDefaults: LogConfig,
  onIgnored: (name: string, problem: string) => void,
): LogConfig {
  const dynamic = new Map(Object.entries(dynamicBrokerTopicDefaults(image, brokerId)));
  if (dynamic.size === 0) return staticDefaults;
  return parseLogConfig(validStorageOverrides(dynamic, staticDefaults, onIgnored), staticDefaults);
}

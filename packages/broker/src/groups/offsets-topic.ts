// `__consumer_offsets`: where the group coordinators keep groups and committed offsets. It is created
// on first use (the first FindCoordinator for a group), as Kafka does, with the broker's
// offsets.topic.* settings, and compacted: only the last record per key matters. The transaction
// coordinators' `__transaction_state` is created the same way (transaction.state.log.* settings).

import type { TimerScheduler } from '@gregor/ground';
import type { MetadataImage } from '@gregor/metadata';
import { ErrorCode } from '@gregor/protocol';
import { type BrokerContext, isFailure } from '../apis/broker-context.js';

export const offsetsTopicName = '__consumer_offsets';

/** Kafka's `offsets.topic.segment.bytes` default: small segments so the cleaner can work early. */
export const offsetsTopicSegmentBytesDefault = 100 * 1024 * 1024;

/** How long the controller may take to create the internal topic before the creation is given up, in ms. */
export const offsetsTopicCreateTimeoutMs = 5_000;

/**
 * How long a FindCoordinator waits for the creation it started before it answers
 * COORDINATOR_NOT_AVAILABLE (retriable) and lets the creation go on without it, in ms. Kafka does not
 * wait at all: it asks for the topic and answers COORDINATOR_NOT_AVAILABLE at once. Waiting a little
 * saves the client a retry when creation is quick (one node, few partitions); never waiting longer
 * keeps a request from sitting behind a slow creation (50 partitions on a loaded machine take
 * seconds) for longer than a client's retry would, and from holding up the requests pipelined after
 * it on the same connection.
 */
export const internalTopicCreateWaitMs = 1_000;

export interface OffsetsTopicSettings {
  /** The internal topic's name; `__consumer_offsets` when absent. */
  readonly name?: string;
  /** `offsets.topic.num.partitions` (Kafka's default 50). */
  readonly numPartitions: number;
  /** `offsets.topic.replication.factor` (Kafka's default 3); fewer live brokers lower it. */
  readonly replicationFactor: number;
  /** `offsets.topic.segment.bytes`; Kafka's default (100 MiB) when absent. */
  readonly segmentBytes?: number;
}

/** Brokers that can hold a replica now: registered, unfenced, not shutting down. */
function liveBrokerCount(image: MetadataImage): number {
  let count = 0;
  for (const registration of image.brokers.values()) {
    if (!registration.fenced && !registration.inControlledShutdown) count++;
  }
  return count;
}

/**
 * Creates `__consumer_offsets` if the image does not have it; resolves once it is in this broker's
 * image (or creation failed, which the caller sees as a still-missing topic and answers
 * COORDINATOR_NOT_AVAILABLE, a retriable error). Concurrent callers share one creation.
 */
export class OffsetsTopicCreator {
  private inFlight: Promise<void> | undefined;

  constructor(
    private readonly settings: OffsetsTopicSettings,
    private readonly timers: TimerScheduler,
    /** How long `ensure` waits for a creation before resolving anyway (`internalTopicCreateWaitMs`). */
    private readonly waitMs: number = internalTopicCreateWaitMs,
  ) {
    this.topicName = settings.name ?? offsetsTopicName;
  }

  private readonly topicName: string;

  /**
   * Starts creating the topic if it is missing and no creation is under way; resolves once it is
   * in this broker's image, once creation failed, or after `waitMs`, whichever comes first (the
   * caller then finds the topic still missing and answers COORDINATOR_NOT_AVAILABLE, as Kafka does
   * while its internal topic is being created; the creation goes on).
   */
  ensure(broker: BrokerContext): Promise<void> {
    if (broker.metadata.image().topic(this.topicName) !== undefined) return Promise.resolve();
    if (this.inFlight === undefined) {
      this.inFlight = this.create(broker)
        .catch((error: unknown) => {
          // The controller channel failed (no controller, a broken connection): the topic is still
          // missing, which the next FindCoordinator sees and retries.
          broker.logger.warn({ topic: this.topicName, err: error }, 'internal topic creation failed');
        })
        .finally(() => {
          this.inFlight = undefined;
        });
    }
    const creation = this.inFlight;
    return new Promise<void>((resolve) => {
      const timer = this.timers.schedule(resolve, this.waitMs);
      const done = (): void => {
        timer.cancel();
        resolve();
      };
      void creation.then(done, done);
    });
  }

  private async create(broker: BrokerContext): Promise<void> {
    const liveBrokers = liveBrokerCount(broker.metadata.image());
    // Kafka creates the topic with fewer replicas when fewer brokers are alive (a one-broker test
    // cluster still gets its groups); the configured factor applies once the brokers are there.
    const replicationFactor = Math.max(1, Math.min(this.settings.replicationFactor, liveBrokers));
    const [result] = await broker.controller.createTopics(
      [
        {
          name: this.topicName,
          numPartitions: this.settings.numPartitions,
          replicationFactor,
          configs: [
            { name: 'cleanup.policy', value: 'compact' },
            {
              name: 'segment.bytes',
              value: String(this.settings.segmentBytes ?? offsetsTopicSegmentBytesDefault),
            },
          ],
        },
      ],
      { validateOnly: false, timeoutMs: offsetsTopicCreateTimeoutMs },
    );
    if (result !== undefined && isFailure(result) && result.errorCode !== ErrorCode.TOPIC_ALREADY_EXISTS) {
      broker.logger.warn(
        { topic: this.topicName, errorCode: result.errorCode, message: result.errorMessage },
        'internal topic creation failed',
      );
      return;
    }
    broker.logger.info(
      { topic: this.topicName, partitions: this.settings.numPartitions, replicationFactor },
      'internal topic created',
    );
  }
}

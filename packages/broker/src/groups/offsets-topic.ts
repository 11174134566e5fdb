// `__consumer_offsets`: where the group coordinators keep groups and committed offsets. It is created
// on first use (the first FindCoordinator for a group), as Kafka does, with the broker's
// offsets.topic.* settings, and compacted: only the last record per key matters. The transaction
// coordinators' `__transaction_state` is created the same way (transaction.state.log.* settings).

import type { MetadataImage } from '@gregor/metadata';
import { ErrorCode } from '@gregor/protocol';
import { type BrokerContext, isFailure } from '../apis/broker-context.js';

export const offsetsTopicName = '__consumer_offsets';

/** Kafka's `offsets.topic.segment.bytes` default: small segments so the cleaner can work early. */
export const offsetsTopicSegmentBytesDefault = 100 * 1024 * 1024;

/** How long a FindCoordinator waits for the controller to create the offsets topic, in ms. */
export const offsetsTopicCreateTimeoutMs = 5_000;

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

  constructor(private readonly settings: OffsetsTopicSettings) {
    this.topicName = settings.name ?? offsetsTopicName;
  }

  private readonly topicName: string;

  ensure(broker: BrokerContext): Promise<void> {
    if (broker.metadata.image().topic(this.topicName) !== undefined) return Promise.resolve();
    if (this.inFlight === undefined) {
      this.inFlight = this.create(broker).finally(() => {
        this.inFlight = undefined;
      });
    }
    return this.inFlight;
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

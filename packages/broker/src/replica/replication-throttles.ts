// This broker's replication quotas (KIP-73, Kafka's ReplicationQuotaManager for the leader and the
// follower side), kept in step with the metadata image: the rates from the dynamic broker configs
// leader/follower.replication.throttled.rate (this broker's own, else the cluster default, else
// unthrottled), the throttled partitions from the topic configs
// leader/follower.replication.throttled.replicas entries that name this broker (or `*`). And the
// quota of copies between this broker's log dirs (KIP-113, Kafka's QuotaType.AlterLogDirsReplication):
// its rate from replica.alter.log.dirs.io.max.bytes.per.second, every future replica under it; storage
// paces each copy (log-dir-copy-pacer.ts) by this bound, and this quota measures the bytes copied
// (its byte-rate metric; gregor-node.ts wires the two).

import { dynamicBrokerDefault, type MetadataImage } from '@gregor/metadata';
import {
  parseThrottledReplicas,
  ReplicationQuota,
  replicationThrottleRateUnlimited,
} from '@gregor/replication';

const sides = [
  ['leader.replication.throttled.rate', 'leader.replication.throttled.replicas'],
  ['follower.replication.throttled.rate', 'follower.replication.throttled.replicas'],
] as const;

const alterLogDirsRateKey = 'replica.alter.log.dirs.io.max.bytes.per.second';

export class ReplicationThrottles {
  readonly leader = new ReplicationQuota();
  readonly follower = new ReplicationQuota();
  readonly alterLogDirs = new ReplicationQuota();
  private topicConfigsSeen: MetadataImage['configsByTopic'] | undefined;
  private brokerConfigsSeen: MetadataImage['dynamicBrokerConfigs'] | undefined;

  constructor(private readonly brokerId: number) {}

  /**
   * Bytes/s replicated for throttled partitions on each side, and copied between log dirs, as the
   * quotas measure them (Kafka's kafka.server:type=LeaderReplication / FollowerReplication /
   * AlterLogDirsReplication `byte-rate`).
   */
  byteRates(nowMs: number): {
    readonly leader: number;
    readonly follower: number;
    readonly alterLogDirs: number;
  } {
    return {
      leader: this.leader.measure(nowMs),
      follower: this.follower.measure(nowMs),
      alterLogDirs: this.alterLogDirs.measure(nowMs),
    };
  }

  /** Takes the rates and throttled partitions `image` gives this broker (nothing to do if its configs are the same maps). */
  apply(image: MetadataImage): void {
    if (
      image.configsByTopic === this.topicConfigsSeen &&
      image.dynamicBrokerConfigs === this.brokerConfigsSeen
    ) {
      return;
    }
    this.topicConfigsSeen = image.configsByTopic;
    this.brokerConfigsSeen = image.dynamicBrokerConfigs;
    const quotas = [this.leader, this.follower];
    sides.forEach(([rateKey, replicasKey], side) => {
      const quota = quotas[side]!;
      const rate = dynamicBrokerDefault(image, this.brokerId, rateKey);
      quota.setRate(rate === undefined ? replicationThrottleRateUnlimited : Number(rate));
      const topics = new Set<string>();
      for (const [topic, configs] of image.configsByTopic) {
        const value = configs.get(replicasKey);
        if (value === undefined) continue;
        topics.add(topic);
        quota.markThrottled(topic, parseThrottledReplicas(value, this.brokerId));
      }
      quota.retainTopics(topics);
    });
    const copyRate = dynamicBrokerDefault(image, this.brokerId, alterLogDirsRateKey);
    this.alterLogDirs.setRate(copyRate === undefined ? replicationThrottleRateUnlimited : Number(copyRate));
  }
}

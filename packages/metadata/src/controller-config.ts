// The controller's settings, Kafka's names in camelCase with units last.

import { type DelegationTokenConfig, defaultDelegationTokenConfig } from './delegation-token-control.js';

export interface ControllerConfig extends DelegationTokenConfig {
  /**
   * `broker.session.timeout.ms`: a broker not heard from for this long is fenced, and its partitions
   * get new leaders. Kafka's 9000 ms makes failover slow; see README "Liveness defaults".
   */
  readonly brokerSessionTimeoutMs: number;
  /** `broker.heartbeat.interval.ms`: how often brokers heartbeat; also the controller's longest tick. */
  readonly brokerHeartbeatIntervalMs: number;
  /**
   * How late a tick may run, past the deadline the previous tick asked for, before the controller
   * counts it as its own stall (GC, event-loop lag) and gives sessions about to expire a grace of two
   * heartbeat intervals instead of fencing brokers whose heartbeats were merely queued behind it.
   */
  readonly controllerStallToleranceMs: number;
  /** `unclean.leader.election.enable`, the cluster default; a topic config overrides it. */
  readonly uncleanLeaderElectionEnable: boolean;
  /** `auto.leader.rebalance.enable`: move leadership back to the preferred (first) replica. */
  readonly autoLeaderRebalanceEnable: boolean;
  /** `leader.imbalance.check.interval.seconds`, in ms: how often preferred leaders are restored. */
  readonly leaderImbalanceCheckIntervalMs: number;
  /** `num.partitions`: partitions of a topic created with -1. */
  readonly defaultNumPartitions: number;
  /** `default.replication.factor`: replication factor of a topic created with -1. */
  readonly defaultReplicationFactor: number;
  /**
   * `min.insync.replicas`, the cluster default (a topic config overrides it): a reassignment never
   * completes with fewer in-sync target replicas than this (or than the target has).
   */
  readonly minInsyncReplicas: number;
  /** Producer ids per AllocateProducerIds block (Kafka's ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE). */
  readonly producerIdBlockSize: number;
  /** Partitions a topic may have; every partition costs files and a record in every broker's image. */
  readonly partitionsPerTopicMax: number;
  /**
   * `max.broker.partitions` (KIP-578's name): partition replicas one broker may hold. A CreateTopics
   * or CreatePartitions that would place more on any broker is refused with POLICY_VIOLATION, so a
   * request never asks a broker for more than it was sized to serve.
   */
  readonly partitionsPerBrokerMax: number;
}

/**
 * What one broker holds by default. 20,000 partitions were measured on the 2-core development
 * machine (the broker README: about 12 KiB of memory each, created or reopened in under 30 s, at
 * most half of `ulimit -n` descriptors whatever the count); costs grow linearly, so 50,000 stays
 * within a default Node heap and a start-up of about a minute.
 */
export const maxBrokerPartitionsDefault = 50_000;

export const defaultControllerConfig: ControllerConfig = Object.freeze({
  brokerSessionTimeoutMs: 1500,
  brokerHeartbeatIntervalMs: 250,
  controllerStallToleranceMs: 250,
  uncleanLeaderElectionEnable: false,
  autoLeaderRebalanceEnable: true,
  leaderImbalanceCheckIntervalMs: 5000,
  defaultNumPartitions: 1,
  defaultReplicationFactor: 1,
  minInsyncReplicas: 1,
  producerIdBlockSize: 1000,
  partitionsPerTopicMax: 10_000,
  partitionsPerBrokerMax: maxBrokerPartitionsDefault,
  ...defaultDelegationTokenConfig,
});

/** Why `config` is unusable (empty if it is fine). */
export function controllerConfigProblems(config: ControllerConfig): string[] {
  const problems: string[] = [];
  const positive = (name: keyof ControllerConfig): void => {
    const value = config[name];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
      problems.push(`${name} must be a positive integer, got ${String(value)}`);
    }
  };
  positive('brokerSessionTimeoutMs');
  positive('brokerHeartbeatIntervalMs');
  positive('controllerStallToleranceMs');
  positive('leaderImbalanceCheckIntervalMs');
  positive('defaultNumPartitions');
  positive('defaultReplicationFactor');
  positive('minInsyncReplicas');
  positive('producerIdBlockSize');
  positive('partitionsPerTopicMax');
  positive('partitionsPerBrokerMax');
  positive('delegationTokenMaxLifetimeMs');
  positive('delegationTokenExpiryTimeMs');
  positive('delegationTokenExpiryCheckIntervalMs');
  // One lost or late heartbeat must never fence a broker: a session spans at least two heartbeats.
  if (config.brokerSessionTimeoutMs < 2 * config.brokerHeartbeatIntervalMs) {
    problems.push(
      `brokerSessionTimeoutMs (${config.brokerSessionTimeoutMs}) must be at least twice ` +
        `brokerHeartbeatIntervalMs (${config.brokerHeartbeatIntervalMs})`,
    );
  }
  return problems;
}

// The coordinator's settings, with Kafka's names and defaults where Kafka has them, and a named limit
// on everything that grows with client behaviour.

import { invariant } from '@gregor/ground';

export interface GroupCoordinatorConfig {
  /** `offsets.topic.num.partitions`: fixes which partition coordinates each group. */
  readonly offsetsPartitionCount: number;
  /**
   * `group.initial.rebalance.delay.ms`: a group leaving Empty waits this long for more members before
   * its first generation, so a fleet of consumers starting together rebalances once, not N times.
   */
  readonly initialRebalanceDelayMs: number;
  /** `group.min.session.timeout.ms` / `group.max.session.timeout.ms`: JoinGroup outside → INVALID_SESSION_TIMEOUT. */
  readonly sessionTimeoutMsMin: number;
  readonly sessionTimeoutMsMax: number;
  /**
   * Kafka's NewMemberJoinTimeoutMs: how long a member that joined a rebalance for the first time is
   * kept without a JoinGroup response before it is dropped, so a client that vanished mid-join does
   * not hold the rebalance up for its whole rebalance timeout.
   */
  readonly newMemberJoinTimeoutMs: number;
  /** `group.max.size` (Kafka: unbounded). Joins beyond it get GROUP_MAX_SIZE_REACHED. */
  readonly membersPerGroupMax: number;
  /** Members handed an id by MEMBER_ID_REQUIRED and not yet rejoined, per group (Kafka: unbounded). */
  readonly pendingMembersPerGroupMax: number;
  /**
   * Groups one coordinator creates from requests (Kafka: unbounded). Beyond it, creating a group
   * answers COORDINATOR_NOT_AVAILABLE, which clients retry. Loading a log never refuses a group.
   */
  readonly groupsPerCoordinatorMax: number;
  /** `offset.metadata.max.bytes` (Kafka compares the string's length in UTF-16 units, not bytes). */
  readonly offsetMetadataCharsMax: number;
  /** `group.consumer.heartbeat.interval.ms`: what ConsumerGroupHeartbeat tells KIP-848 members. */
  readonly consumerHeartbeatIntervalMs: number;
  /** `group.consumer.session.timeout.ms`: a KIP-848 member not heard from this long is removed. */
  readonly consumerSessionTimeoutMs: number;
  /** `group.consumer.assignors`: the server-side assignors offered; the first is the default. */
  readonly consumerAssignors: readonly string[];
  /**
   * `group.consumer.max.size` (Kafka: unbounded): members of one KIP-848 consumer group; a new
   * member beyond it gets GROUP_MAX_SIZE_REACHED.
   */
  readonly consumerMembersPerGroupMax: number;
  /**
   * `offsets.retention.minutes` in ms: an Empty classic group's offsets expire this long after it
   * became Empty; a standalone commit's, and one of a topic no member of a Stable consumer group or
   * KIP-848 group subscribes to, this long after the commit (offset-expiration.ts). An Empty group
   * whose offsets all expired is deleted.
   */
  readonly offsetsRetentionMs: number;
  /** `offsets.retention.check.interval.ms`: how often each loaded offsets partition looks for them. */
  readonly offsetsRetentionCheckIntervalMs: number;
}

export const defaultGroupCoordinatorConfig: GroupCoordinatorConfig = {
  offsetsPartitionCount: 50,
  initialRebalanceDelayMs: 3000,
  sessionTimeoutMsMin: 6000,
  sessionTimeoutMsMax: 1_800_000,
  newMemberJoinTimeoutMs: 300_000,
  membersPerGroupMax: 1000,
  pendingMembersPerGroupMax: 1000,
  groupsPerCoordinatorMax: 100_000,
  offsetMetadataCharsMax: 4096,
  consumerHeartbeatIntervalMs: 5000,
  consumerSessionTimeoutMs: 45_000,
  consumerAssignors: ['uniform', 'range'],
  consumerMembersPerGroupMax: 1000,
  offsetsRetentionMs: 7 * 24 * 60 * 60_000,
  offsetsRetentionCheckIntervalMs: 600_000,
};

export function groupCoordinatorConfig(
  overrides: Partial<GroupCoordinatorConfig> = {},
): GroupCoordinatorConfig {
  const config = { ...defaultGroupCoordinatorConfig, ...overrides };
  const positive = (value: number, name: string): void =>
    invariant(Number.isSafeInteger(value) && value > 0, `${name} must be a positive integer, got ${value}`);
  positive(config.offsetsPartitionCount, 'offsetsPartitionCount');
  invariant(
    Number.isSafeInteger(config.initialRebalanceDelayMs) && config.initialRebalanceDelayMs >= 0,
    `initialRebalanceDelayMs must be a non-negative integer, got ${config.initialRebalanceDelayMs}`,
  );
  positive(config.sessionTimeoutMsMin, 'sessionTimeoutMsMin');
  positive(config.sessionTimeoutMsMax, 'sessionTimeoutMsMax');
  invariant(
    config.sessionTimeoutMsMin <= config.sessionTimeoutMsMax,
    'sessionTimeoutMsMin above sessionTimeoutMsMax',
  );
  positive(config.newMemberJoinTimeoutMs, 'newMemberJoinTimeoutMs');
  positive(config.membersPerGroupMax, 'membersPerGroupMax');
  positive(config.pendingMembersPerGroupMax, 'pendingMembersPerGroupMax');
  positive(config.groupsPerCoordinatorMax, 'groupsPerCoordinatorMax');
  positive(config.offsetMetadataCharsMax, 'offsetMetadataCharsMax');
  positive(config.consumerHeartbeatIntervalMs, 'consumerHeartbeatIntervalMs');
  positive(config.consumerSessionTimeoutMs, 'consumerSessionTimeoutMs');
  positive(config.consumerMembersPerGroupMax, 'consumerMembersPerGroupMax');
  positive(config.offsetsRetentionMs, 'offsetsRetentionMs');
  positive(config.offsetsRetentionCheckIntervalMs, 'offsetsRetentionCheckIntervalMs');
  invariant(
    config.consumerAssignors.length > 0 &&
      config.consumerAssignors.every((name) => name === 'uniform' || name === 'range'),
    () => `consumerAssignors must name uniform and/or range, got ${config.consumerAssignors.join(',')}`,
  );
  return config;
}

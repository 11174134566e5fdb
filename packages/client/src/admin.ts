// kafkajs's Admin: topics (create, delete, metadata, offsets) and groups (list, describe). Topic
// changes go to the controller the metadata names (any broker forwards them otherwise); group
// questions go to each group's coordinator, and listGroups asks every broker, as Kafka's admin does.

import { ApiKey, ErrorCode, earliestTimestamp, latestTimestamp } from '@gregor/protocol';
import {
  fetchGroupOffsets,
  resetGroupOffsets,
  setGroupOffsets,
  type TopicOffsets,
} from './admin/group-offsets.js';
import { listTopicOffsets } from './admin/topic-offsets.js';
import type { Cluster, PartitionMetadata } from './cluster.js';
import { KafkaJSError, KafkaJSProtocolError } from './errors.js';
import type { Logger } from './logger.js';
import { withRetry } from './retry.js';

export interface AdminConfig {
  readonly retry?: import('./retry.js').RetryOptions;
}

export interface ITopicConfig {
  readonly topic: string;
  readonly numPartitions?: number;
  readonly replicationFactor?: number;
  readonly replicaAssignment?: readonly { partition: number; replicas: number[] }[];
  readonly configEntries?: readonly { name: string; value: string }[];
}

export interface GroupDescription {
  readonly groupId: string;
  readonly members: {
    memberId: string;
    clientId: string;
    clientHost: string;
    memberMetadata: Buffer;
    memberAssignment: Buffer;
  }[];
  readonly protocol: string;
  readonly protocolType: string;
  readonly state: string;
  readonly errorCode: number;
}

export class Admin {
  constructor(
    private readonly cluster: Cluster,
    private readonly logger: Logger,
    _config: AdminConfig,
  ) {}

  async connect(): Promise<void> {
    await this.cluster.connect();
  }

  async disconnect(): Promise<void> {
    this.cluster.disconnect();
  }

  /** Sends to the controller the metadata names, or any broker when it names none. */
  private async sendToController<K extends typeof ApiKey.CreateTopics | typeof ApiKey.DeleteTopics>(
    apiKey: K,
    body: import('@gregor/protocol').RequestInput<K>,
    timeoutMs: number,
  ) {
    await this.cluster.refreshMetadata();
    const controller = this.cluster.controller;
    return controller >= 0
      ? this.cluster.send(controller, apiKey, body, timeoutMs + 5_000)
      : this.cluster.sendAny(apiKey, body, timeoutMs + 5_000);
  }

  /** Resolves true when every topic was created, false when some already existed. */
  async createTopics(options: {
    readonly topics: readonly ITopicConfig[];
    readonly validateOnly?: boolean;
    readonly waitForLeaders?: boolean;
    readonly timeout?: number;
  }): Promise<boolean> {
    const timeoutMs = options.timeout ?? 5_000;
    const response = await withRetry(this.cluster.retry, () =>
      this.sendToController(
        ApiKey.CreateTopics,
        {
          topics: options.topics.map((topic) => ({
            name: topic.topic,
            numPartitions: topic.replicaAssignment?.length ? -1 : (topic.numPartitions ?? -1),
            replicationFactor: topic.replicaAssignment?.length ? -1 : (topic.replicationFactor ?? -1),
            assignments: (topic.replicaAssignment ?? []).map((entry) => ({
              partitionIndex: entry.partition,
              brokerIds: entry.replicas,
            })),
            configs: (topic.configEntries ?? []).map((entry) => ({ name: entry.name, value: entry.value })),
          })),
          timeoutMs,
          validateOnly: options.validateOnly ?? false,
        },
        timeoutMs,
      ),
    );
    let allCreated = true;
    const errors: string[] = [];
    for (const topic of response.topics) {
      if (topic.errorCode === ErrorCode.TOPIC_ALREADY_EXISTS) allCreated = false;
      else if (topic.errorCode !== 0) {
        errors.push(
          `${topic.name}: ${new KafkaJSProtocolError(topic.errorCode, topic.errorMessage ?? undefined).message}`,
        );
      }
    }
    if (errors.length > 0) throw new KafkaJSError(`createTopics failed: ${errors.join('; ')}`);
    if ((options.waitForLeaders ?? true) && !options.validateOnly) {
      await this.waitForLeaders(options.topics.map((topic) => topic.topic));
    }
    return allCreated;
  }

  private async waitForLeaders(topics: readonly string[]): Promise<void> {
    await withRetry(this.cluster.retry, async () => {
      await this.cluster.refreshMetadata(topics);
      for (const topic of topics) {
        const metadata = this.cluster.topicMetadata(topic);
        if (metadata === undefined || metadata.partitions.some((partition) => partition.leader < 0)) {
          throw new KafkaJSProtocolError(ErrorCode.LEADER_NOT_AVAILABLE, `topic ${topic} has no leader yet`);
        }
      }
    });
  }

  async deleteTopics(options: {
    readonly topics: readonly string[];
    readonly timeout?: number;
  }): Promise<void> {
    const timeoutMs = options.timeout ?? 5_000;
    const response = await withRetry(this.cluster.retry, () =>
      this.sendToController(
        ApiKey.DeleteTopics,
        { topicNames: [...options.topics], topics: [], timeoutMs },
        timeoutMs,
      ),
    );
    const errors = response.responses
      .filter((entry) => entry.errorCode !== 0)
      .map((entry) => `${entry.name}: ${new KafkaJSProtocolError(entry.errorCode).message}`);
    if (errors.length > 0) throw new KafkaJSError(`deleteTopics failed: ${errors.join('; ')}`);
  }

  async listTopics(): Promise<string[]> {
    return (await this.cluster.fetchAllTopics()).map((topic) => topic.name);
  }

  async fetchTopicMetadata(options: { readonly topics?: readonly string[] } = {}): Promise<{
    topics: { name: string; partitions: PartitionMetadata[] }[];
  }> {
    if (options.topics === undefined || options.topics.length === 0) {
      const all = await this.cluster.fetchAllTopics();
      return { topics: all.map((topic) => ({ name: topic.name, partitions: [...topic.partitions] })) };
    }
    await this.cluster.refreshMetadata(options.topics);
    await this.cluster.ensureTopics(options.topics);
    return {
      topics: options.topics.map((name) => ({
        name,
        partitions: [...this.cluster.topicMetadata(name)!.partitions],
      })),
    };
  }

  /** Each partition's earliest (low) and next (high, `offset`) offsets, asked of its leader. */
  async fetchTopicOffsets(
    topic: string,
  ): Promise<{ partition: number; offset: string; high: string; low: string }[]> {
    const [low, high] = await Promise.all([
      listTopicOffsets(this.cluster, topic, earliestTimestamp),
      listTopicOffsets(this.cluster, topic, latestTimestamp),
    ]);
    return [...high].map(([partition, offset]) => ({
      partition,
      offset: String(offset),
      high: String(offset),
      low: String(low.get(partition)),
    }));
  }

  /** For each partition, the first offset whose timestamp is at or after `timestamp`, else its end. */
  async fetchTopicOffsetsByTimestamp(
    topic: string,
    timestamp?: number,
  ): Promise<{ partition: number; offset: string }[]> {
    const [offsets, latest] = await Promise.all([
      listTopicOffsets(this.cluster, topic, timestamp === undefined ? latestTimestamp : BigInt(timestamp)),
      listTopicOffsets(this.cluster, topic, latestTimestamp),
    ]);
    // No record at or after the time: the end of the partition, as kafkajs answers.
    return [...offsets].map(([partition, offset]) => ({
      partition,
      offset: String(offset < 0n ? latest.get(partition) : offset),
    }));
  }

  /**
   * The group's committed offsets: of every partition of `topics` ('-1' where none is committed), or
   * of every topic it committed. `resolveOffsets` turns '-1' into the partition's end, as kafkajs.
   */
  async fetchOffsets(options: {
    readonly groupId: string;
    readonly topics?: readonly string[];
    readonly resolveOffsets?: boolean;
  }): Promise<TopicOffsets[]> {
    return fetchGroupOffsets(this.cluster, options.groupId, options.topics, options.resolveOffsets ?? false);
  }

  /** Commits offsets for a group with no running member ('-2' earliest, '-1' latest). */
  async setOffsets(options: {
    readonly groupId: string;
    readonly topic: string;
    readonly partitions: readonly { readonly partition: number; readonly offset: string }[];
  }): Promise<void> {
    await setGroupOffsets(this.cluster, options.groupId, options.topic, options.partitions);
  }

  /** Moves a group with no running member to the earliest (or latest, the default) offsets of `topic`. */
  async resetOffsets(options: {
    readonly groupId: string;
    readonly topic: string;
    readonly earliest?: boolean;
  }): Promise<void> {
    await resetGroupOffsets(this.cluster, options.groupId, options.topic, options.earliest ?? false);
  }

  /** Every group of every broker. */
  async listGroups(): Promise<{ groups: { groupId: string; protocolType: string }[] }> {
    await this.cluster.refreshMetadata();
    const perBroker = await Promise.all(
      this.cluster.brokers().map((broker) =>
        withRetry(this.cluster.retry, async () => {
          const response = await this.cluster.send(broker.nodeId, ApiKey.ListGroups, { statesFilter: [] });
          if (response.errorCode !== 0) throw new KafkaJSProtocolError(response.errorCode, 'ListGroups');
          return response.groups;
        }),
      ),
    );
    const seen = new Map<string, { groupId: string; protocolType: string }>();
    for (const groups of perBroker) {
      for (const group of groups)
        seen.set(group.groupId, { groupId: group.groupId, protocolType: group.protocolType });
    }
    return { groups: [...seen.values()] };
  }

  async describeGroups(groupIds: readonly string[]): Promise<{ groups: GroupDescription[] }> {
    const groups = await Promise.all(
      groupIds.map((groupId) =>
        withRetry(this.cluster.retry, async () => {
          const coordinator = await this.cluster.findCoordinator(groupId);
          const response = await this.cluster.send(coordinator, ApiKey.DescribeGroups, {
            groups: [groupId],
            includeAuthorizedOperations: false,
          });
          const group = response.groups[0];
          if (group === undefined) throw new KafkaJSError(`no description of group ${groupId}`);
          if (group.errorCode !== 0) throw new KafkaJSProtocolError(group.errorCode, `group ${groupId}`);
          return {
            groupId: group.groupId,
            members: group.members.map((member) => ({
              memberId: member.memberId,
              clientId: member.clientId,
              clientHost: member.clientHost,
              memberMetadata: member.memberMetadata,
              memberAssignment: member.memberAssignment,
            })),
            protocol: group.protocolData,
            protocolType: group.protocolType,
            state: group.groupState,
            errorCode: group.errorCode,
          };
        }),
      ),
    );
    this.logger.debug('described groups', { count: groups.length });
    return { groups };
  }
}

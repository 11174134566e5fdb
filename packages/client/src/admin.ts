// kafkajs's Admin: the cluster (describeCluster, partition reassignments in
// admin/partition-reassignments.ts), topics (create, delete, partitions, metadata, offsets, records in
// admin/delete-records.ts), configs (admin/configs.ts), ACLs (admin/acls.ts) and groups (list, describe, delete, committed offsets in admin/group-offsets.ts). Topic changes go
// to the controller the metadata names (any broker forwards them otherwise); group questions go to
// each group's coordinator, and listGroups asks every broker, as Kafka's admin does.

import { ApiKey, ErrorCode, earliestTimestamp, latestTimestamp } from '@gregor/protocol';
import {
  type AclEntry,
  type AclFilter,
  createAcls,
  type DeleteAclResponse,
  type DescribeAclResponse,
  deleteAcls,
  describeAcls,
} from './admin/acls.js';
import {
  type AlterConfigResponse,
  type AlterConfigsOptions,
  alterConfigs,
  type DescribeConfigResponse,
  describeConfigs,
  type ResourceConfigQuery,
} from './admin/configs.js';
import { deleteTopicRecords } from './admin/delete-records.js';
import {
  fetchGroupOffsets,
  resetGroupOffsets,
  setGroupOffsets,
  type TopicOffsets,
} from './admin/group-offsets.js';
import {
  alterPartitionReassignments,
  type ListPartitionReassignmentsResponse,
  listPartitionReassignments,
  type PartitionReassignment,
  type TopicPartitions,
} from './admin/partition-reassignments.js';
import { listTopicOffsets } from './admin/topic-offsets.js';
import type { Cluster, PartitionMetadata } from './cluster.js';
import { KafkaJSDeleteGroupsError, KafkaJSError, KafkaJSProtocolError } from './errors.js';
import {
  type AdminEventName,
  type AdminEventPayloads,
  adminEvents,
  createInstrumentation,
  type InstrumentationListener,
} from './instrumentation.js';
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
    /** Not in kafkajs: a static member's `group.instance.id` (DescribeGroups v4+), else null. */
    groupInstanceId: string | null;
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
  /** kafkajs's event names, for `on()`. */
  readonly events = adminEvents;

  constructor(
    private readonly cluster: Cluster,
    private readonly logger: Logger,
    _config: AdminConfig,
    private readonly instrumentation = createInstrumentation<AdminEventPayloads>(
      adminEvents,
      'admin.events',
      logger,
    ),
  ) {}

  async connect(): Promise<void> {
    await this.cluster.connect();
    this.instrumentation.emit(adminEvents.CONNECT, undefined);
  }

  async disconnect(): Promise<void> {
    this.cluster.disconnect();
    this.instrumentation.emit(adminEvents.DISCONNECT, undefined);
  }

  /** kafkajs's `admin.on(admin.events.X, listener)`; returns the listener's remover. */
  on<E extends AdminEventName>(
    eventName: E,
    listener: InstrumentationListener<AdminEventPayloads[E]>,
  ): () => void {
    return this.instrumentation.on(eventName, listener);
  }

  /** Sends to the controller the metadata names, or any broker when it names none. */
  private async sendToController<
    K extends typeof ApiKey.CreateTopics | typeof ApiKey.DeleteTopics | typeof ApiKey.CreatePartitions,
  >(apiKey: K, body: import('@gregor/protocol').RequestInput<K>, timeoutMs: number) {
    await this.cluster.refreshMetadata();
    const controller = this.cluster.controller;
    return controller >= 0
      ? this.cluster.send(controller, apiKey, body, timeoutMs + 5_000)
      : this.cluster.sendAny(apiKey, body, timeoutMs + 5_000);
  }

  /** Resolves true when every topic was created, false when some already existed. */
  /** The brokers, controller and cluster id from Metadata, in kafkajs's shape (controller null when none). */
  async describeCluster(): Promise<{
    brokers: { nodeId: number; host: string; port: number }[];
    controller: number | null;
    clusterId: string | null;
  }> {
    const response = await withRetry(this.cluster.retry, () =>
      this.cluster.sendAny(ApiKey.Metadata, {
        topics: [],
        allowAutoTopicCreation: false,
        includeClusterAuthorizedOperations: false,
        includeTopicAuthorizedOperations: false,
      }),
    );
    return {
      brokers: response.brokers.map(({ nodeId, host, port }) => ({ nodeId, host, port })),
      controller: response.controllerId < 0 ? null : response.controllerId,
      clusterId: response.clusterId,
    };
  }

  /**
   * Starts moving partitions to new replicas (KIP-455), at the controller; resolves once the
   * controller accepted every move (the copy goes on in the background: listPartitionReassignments
   * shows it until it completes). Refusals reject as kafkajs's: KafkaJSAlterPartitionReassignmentsError
   * for the whole request, KafkaJSAggregateError of them (with topic and partition) for partitions.
   */
  async alterPartitionReassignments(options: {
    readonly topics: readonly PartitionReassignment[];
    readonly timeout?: number;
  }): Promise<void> {
    await alterPartitionReassignments(this.cluster, options.topics, options.timeout ?? 5_000);
  }

  /** The reassignments in progress, of `topics` or (without) of every topic, asked of the controller. */
  async listPartitionReassignments(
    options: { readonly topics?: readonly TopicPartitions[] | null; readonly timeout?: number } = {},
  ): Promise<ListPartitionReassignmentsResponse> {
    return listPartitionReassignments(this.cluster, options.topics ?? null, options.timeout ?? 5_000);
  }

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
      // Every broker, not only the one asked (as kafkajs does): a DescribeConfigs or Produce sent
      // to another one just after would otherwise find no such topic there yet.
      await this.waitForPartitions(
        options.topics.map((topic) => ({ topic: topic.topic, count: Math.max(1, topic.numPartitions ?? 1) })),
      );
    }
    return allCreated;
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

  /**
   * Grows each topic to `count` partitions (`assignments`: the replicas of each new partition), and
   * refreshes the metadata so they are known here. Resolves true, as kafkajs does.
   */
  async createPartitions(options: {
    readonly topicPartitions: readonly {
      readonly topic: string;
      readonly count: number;
      readonly assignments?: readonly (readonly number[])[];
    }[];
    readonly validateOnly?: boolean;
    readonly timeout?: number;
  }): Promise<boolean> {
    const timeoutMs = options.timeout ?? 5_000;
    const response = await withRetry(this.cluster.retry, () =>
      this.sendToController(
        ApiKey.CreatePartitions,
        {
          topics: options.topicPartitions.map((entry) => ({
            name: entry.topic,
            count: entry.count,
            assignments:
              entry.assignments === undefined
                ? null
                : entry.assignments.map((brokerIds) => ({ brokerIds: [...brokerIds] })),
          })),
          timeoutMs,
          validateOnly: options.validateOnly ?? false,
        },
        timeoutMs,
      ),
    );
    const errors = response.results
      .filter((result) => result.errorCode !== 0)
      .map(
        (result) =>
          `${result.name}: ${new KafkaJSProtocolError(result.errorCode, result.errorMessage ?? undefined).message}`,
      );
    if (errors.length > 0) throw new KafkaJSError(`createPartitions failed: ${errors.join('; ')}`);
    if (!options.validateOnly) await this.waitForPartitions(options.topicPartitions);
    return true;
  }

  /**
   * Until every broker's metadata shows each topic with `count` led partitions: the controller
   * answers once the change is committed, and the other brokers apply it a moment later.
   */
  private async waitForPartitions(
    topics: readonly { readonly topic: string; readonly count: number }[],
  ): Promise<void> {
    await withRetry(this.cluster.retry, async () => {
      await this.cluster.refreshMetadata(topics.map((entry) => entry.topic));
      await Promise.all(
        this.cluster.brokers().map(async (broker) => {
          const response = await this.cluster.send(broker.nodeId, ApiKey.Metadata, {
            topics: topics.map((entry) => ({ name: entry.topic })),
            allowAutoTopicCreation: false,
            includeClusterAuthorizedOperations: false,
            includeTopicAuthorizedOperations: false,
          });
          for (const { topic, count } of topics) {
            const partitions = response.topics.find((entry) => entry.name === topic)?.partitions ?? [];
            if (partitions.length < count || partitions.some((partition) => partition.leaderId < 0)) {
              throw new KafkaJSProtocolError(
                ErrorCode.LEADER_NOT_AVAILABLE,
                `broker ${broker.nodeId} does not show ${count} led partitions of ${topic} yet`,
              );
            }
          }
        }),
      );
    });
    await this.cluster.refreshMetadata(topics.map((entry) => entry.topic));
  }

  async describeConfigs(options: {
    readonly resources: readonly ResourceConfigQuery[];
    readonly includeSynonyms?: boolean;
  }): Promise<DescribeConfigResponse> {
    return describeConfigs(this.cluster, options);
  }

  /**
   * Sets (or, with an entry's `operation`, deletes, appends to, subtracts from) the named configs
   * through IncrementalAlterConfigs; configs not named keep their values. With `incremental: false`,
   * kafkajs's semantics: AlterConfigs replaces each resource's dynamic configs with those named.
   */
  async alterConfigs(options: AlterConfigsOptions): Promise<AlterConfigResponse> {
    return alterConfigs(this.cluster, options);
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

  /** Deletes every record below `offset` ('-1': the high watermark) in each partition, at its leader. */
  async deleteTopicRecords(options: {
    readonly topic: string;
    readonly partitions: readonly { readonly partition: number; readonly offset: string }[];
  }): Promise<void> {
    await deleteTopicRecords(this.cluster, options.topic, options.partitions);
  }

  /** Creates ACL bindings; resolves true, or rejects with the first refusal. */
  async createAcls(options: { readonly acl: readonly AclEntry[] }): Promise<boolean> {
    return createAcls(this.cluster, options.acl);
  }

  /** The ACL bindings a filter matches, by resource. */
  async describeAcls(filter: AclFilter): Promise<DescribeAclResponse> {
    return describeAcls(this.cluster, filter);
  }

  /** Deletes the bindings each filter matches and lists them. */
  async deleteAcls(options: { readonly filters: readonly AclFilter[] }): Promise<DeleteAclResponse> {
    return deleteAcls(this.cluster, options.filters);
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

  /**
   * Deletes Empty groups at their coordinators; resolves with each group's result, or rejects with
   * KafkaJSDeleteGroupsError naming the groups that were not deleted (NON_EMPTY_GROUP...), as kafkajs.
   */
  async deleteGroups(groupIds: readonly string[]): Promise<{ groupId: string; errorCode: number }[]> {
    const byCoordinator = new Map<number, string[]>();
    for (const groupId of groupIds) {
      const coordinator = await this.cluster.findCoordinator(groupId);
      byCoordinator.set(coordinator, [...(byCoordinator.get(coordinator) ?? []), groupId]);
    }
    const results = new Map<string, number>();
    await Promise.all(
      [...byCoordinator].map(async ([coordinator, groups]) => {
        const response = await withRetry(this.cluster.retry, async (attempt) => {
          // A coordinator that moved is found again before the next attempt.
          const node = attempt === 0 ? coordinator : await this.cluster.findCoordinator(groups[0]!);
          const answer = await this.cluster.send(node, ApiKey.DeleteGroups, { groupsNames: groups });
          const retriable = answer.results.find(
            (result) => result.errorCode !== 0 && new KafkaJSProtocolError(result.errorCode).retriable,
          );
          if (retriable !== undefined)
            throw new KafkaJSProtocolError(retriable.errorCode, `deleting group ${retriable.groupId}`);
          return answer;
        });
        for (const result of response.results) results.set(result.groupId, result.errorCode);
      }),
    );
    const answered = groupIds.map((groupId) => ({ groupId, errorCode: results.get(groupId) ?? -1 }));
    const failed = answered.filter((result) => result.errorCode !== 0);
    if (failed.length > 0) {
      throw new KafkaJSDeleteGroupsError(
        failed.map((result) => ({
          ...result,
          error: new KafkaJSProtocolError(result.errorCode, `group ${result.groupId}`),
        })),
      );
    }
    return answered;
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
              groupInstanceId: member.groupInstanceId ?? null,
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

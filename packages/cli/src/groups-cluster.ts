// What `gregor groups`, `gregor get-offsets` and `gregor delete-records` ask of a cluster, over the
// Kafka protocol only (as kafka-consumer-groups.sh, kafka-get-offsets.sh and kafka-delete-records.sh
// do): Metadata for brokers and partition leaders, ListGroups on every broker, FindCoordinator then
// DescribeGroups / OffsetFetch / OffsetCommit / OffsetDelete at the group's coordinator, ListOffsets
// and DeleteRecords at each partition's leader. Retriable coordinator errors (loading, moving) are retried a bounded number
// of times.

import { ApiKey, type KafkaConnection } from '@gregor/client';
import { ErrorCode, errorName } from '@gregor/protocol';
import { openCliConnection, openFirstReachable, ReopeningConnection } from './cli-connection.js';
import { type ClientSecurity, plaintextSecurity } from './client-properties.js';
import type { Address } from './metadata-shell-args.js';

/** Attempts for a request answered with a retriable coordinator error. */
export const coordinatorAttemptsMax = 20;
/** Pause between those attempts. */
export const coordinatorRetryBackoffMs = 250;

const retriableCoordinatorErrors: ReadonlySet<number> = new Set([
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
  ErrorCode.NOT_COORDINATOR,
]);

export class GroupsCommandError extends Error {
  override readonly name = 'GroupsCommandError';
}

export interface DescribedMember {
  readonly memberId: string;
  readonly clientId: string;
  readonly clientHost: string;
  readonly assignment: Buffer;
}

export interface DescribedGroup {
  readonly groupId: string;
  /** Kafka's state names; 'Dead' for a group the coordinator does not know. */
  readonly state: string;
  readonly protocolType: string;
  readonly protocol: string;
  readonly members: readonly DescribedMember[];
}

export interface DeleteRecordsOutcome {
  readonly topic: string;
  readonly partition: number;
  /** What was asked. */
  readonly offset: bigint;
  /** -1 on error. */
  readonly lowWatermark: bigint;
  readonly errorCode: number;
}

export interface TopicPartitionOffset {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
}

interface BrokerAddress {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
}

export class GroupsCluster {
  private readonly connections = new Map<number, ReopeningConnection>();

  private constructor(
    /** The first reachable bootstrap server's connection (any of them again once it closed). */
    private readonly bootstrap: ReopeningConnection,
    private readonly timeoutMs: number,
    private readonly security: ClientSecurity,
  ) {}

  static async connect(
    addresses: readonly Address[],
    timeoutMs: number,
    security: ClientSecurity = plaintextSecurity,
  ): Promise<GroupsCluster> {
    const open = () => openFirstReachable(addresses, { clientId: 'gregor-groups', timeoutMs, security });
    return new GroupsCluster(new ReopeningConnection(open, await open()), timeoutMs, security);
  }

  close(): void {
    this.bootstrap.close();
    for (const connection of this.connections.values()) connection.close();
    this.connections.clear();
  }

  /** Live brokers and, for the topics asked (all when null), each partition's leader. */
  async metadata(topics: readonly string[] | null): Promise<{
    brokers: Map<number, BrokerAddress>;
    topics: Map<string, { errorCode: number; leaders: Map<number, number> }>;
  }> {
    const response = await (await this.bootstrap.get()).call(
      ApiKey.Metadata,
      1,
      { topics: topics === null ? null : topics.map((name) => ({ name })) },
      this.timeoutMs,
    );
    return {
      brokers: new Map(response.brokers.map((broker) => [broker.nodeId, broker])),
      topics: new Map(
        response.topics.map((topic) => [
          // Never null at v1 (only a v12+ request by topic id has null names).
          topic.name ?? '',
          {
            errorCode: topic.errorCode,
            leaders: new Map(
              topic.partitions.map((partition) => [partition.partitionIndex, partition.leaderId]),
            ),
          },
        ]),
      ),
    };
  }

  private connectionTo(broker: BrokerAddress): Promise<KafkaConnection> {
    let connection = this.connections.get(broker.nodeId);
    if (connection === undefined) {
      const options = { clientId: 'gregor-groups', timeoutMs: this.timeoutMs, security: this.security };
      connection = new ReopeningConnection(() =>
        openCliConnection({ ...options, host: broker.host, port: broker.port }),
      );
      this.connections.set(broker.nodeId, connection);
    }
    return connection.get();
  }

  /** Every group of the cluster: ListGroups on each live broker (each lists the groups it coordinates). */
  async listGroups(): Promise<{ groupId: string; state: string }[]> {
    const { brokers } = await this.metadata([]);
    const groups = new Map<string, string>();
    for (const broker of brokers.values()) {
      const connection = await this.connectionTo(broker);
      for (let attempt = 1; ; attempt++) {
        const response = await connection.call(ApiKey.ListGroups, 4, { statesFilter: [] }, this.timeoutMs);
        for (const group of response.groups) groups.set(group.groupId, group.groupState);
        if (response.errorCode === ErrorCode.NONE) break;
        if (
          response.errorCode !== ErrorCode.COORDINATOR_LOAD_IN_PROGRESS ||
          attempt >= coordinatorAttemptsMax
        ) {
          throw new GroupsCommandError(
            `ListGroups on broker ${broker.nodeId}: ${errorName(response.errorCode)}`,
          );
        }
        await pause();
      }
    }
    return [...groups]
      .map(([groupId, state]) => ({ groupId, state }))
      .sort((a, b) => a.groupId.localeCompare(b.groupId));
  }

  /**
   * Runs `operation` at the group's coordinator; when it reports a retriable coordinator error
   * (returned by `errorOf`), finds the coordinator again and retries, a bounded number of times.
   */
  private async atCoordinator<T>(
    groupId: string,
    operation: (connection: KafkaConnection) => Promise<T>,
    errorOf: (result: T) => number,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const found = await (await this.bootstrap.get()).call(
        ApiKey.FindCoordinator,
        2,
        { key: groupId, keyType: 0 },
        this.timeoutMs,
      );
      let errorCode: number = found.errorCode;
      if (errorCode === ErrorCode.NONE) {
        const connection = await this.connectionTo({
          nodeId: found.nodeId,
          host: found.host,
          port: found.port,
        });
        const result = await operation(connection);
        errorCode = errorOf(result);
        if (!retriableCoordinatorErrors.has(errorCode)) return result;
      } else if (!retriableCoordinatorErrors.has(errorCode)) {
        throw new GroupsCommandError(`FindCoordinator for group '${groupId}': ${errorName(errorCode)}`);
      }
      if (attempt >= coordinatorAttemptsMax) {
        throw new GroupsCommandError(`group '${groupId}': coordinator still answers ${errorName(errorCode)}`);
      }
      await pause();
    }
  }

  async describeGroup(groupId: string): Promise<DescribedGroup> {
    const response = await this.atCoordinator(
      groupId,
      (connection) => connection.call(ApiKey.DescribeGroups, 4, { groups: [groupId] }, this.timeoutMs),
      (result) => result.groups[0]?.errorCode ?? ErrorCode.NONE,
    );
    const group = response.groups[0];
    if (group === undefined)
      throw new GroupsCommandError(`DescribeGroups answered no group for '${groupId}'`);
    if (group.errorCode !== ErrorCode.NONE) {
      throw new GroupsCommandError(`DescribeGroups '${groupId}': ${errorName(group.errorCode)}`);
    }
    return {
      groupId,
      state: group.groupState,
      protocolType: group.protocolType,
      protocol: group.protocolData,
      members: group.members.map((member) => ({
        memberId: member.memberId,
        clientId: member.clientId,
        clientHost: member.clientHost,
        assignment: member.memberAssignment,
      })),
    };
  }

  /** Every committed offset of the group. */
  async committedOffsets(groupId: string): Promise<TopicPartitionOffset[]> {
    const response = await this.atCoordinator(
      groupId,
      (connection) => connection.call(ApiKey.OffsetFetch, 5, { groupId, topics: null }, this.timeoutMs),
      (result) => result.errorCode,
    );
    if (response.errorCode !== ErrorCode.NONE) {
      throw new GroupsCommandError(`OffsetFetch '${groupId}': ${errorName(response.errorCode)}`);
    }
    const offsets: TopicPartitionOffset[] = [];
    for (const topic of response.topics) {
      for (const partition of topic.partitions) {
        if (partition.errorCode !== ErrorCode.NONE || partition.committedOffset < 0n) continue;
        offsets.push({
          topic: topic.name,
          partition: partition.partitionIndex,
          offset: partition.committedOffset,
        });
      }
    }
    return offsets;
  }

  /** Each leader's connection with the partitions of `topics` it leads (all, or those in `only`). */
  private async byLeader(
    topics: readonly string[],
    only?: (topic: string, partition: number) => boolean,
  ): Promise<{ connection: KafkaConnection; partitions: { topic: string; partition: number }[] }[]> {
    const metadata = await this.metadata(topics);
    const byLeader = new Map<number, { topic: string; partition: number }[]>();
    for (const [topic, described] of metadata.topics) {
      if (described.errorCode !== ErrorCode.NONE) {
        throw new GroupsCommandError(`topic '${topic}': ${errorName(described.errorCode)}`);
      }
      for (const [partition, leader] of described.leaders) {
        if (only !== undefined && !only(topic, partition)) continue;
        const list = byLeader.get(leader) ?? [];
        list.push({ topic, partition });
        byLeader.set(leader, list);
      }
    }
    const routed: { connection: KafkaConnection; partitions: { topic: string; partition: number }[] }[] = [];
    for (const [leader, partitions] of byLeader) {
      const broker = metadata.brokers.get(leader);
      if (broker === undefined) {
        throw new GroupsCommandError(
          `partition ${partitions[0]!.topic}-${partitions[0]!.partition} has no leader`,
        );
      }
      routed.push({ connection: await this.connectionTo(broker), partitions });
    }
    return routed;
  }

  /** The partitions of `topic`, in order (UNKNOWN_TOPIC_OR_PARTITION is an error). */
  async partitionsOf(topic: string): Promise<number[]> {
    const described = (await this.metadata([topic])).topics.get(topic);
    if (described === undefined || described.errorCode !== ErrorCode.NONE) {
      throw new GroupsCommandError(
        `topic '${topic}': ${errorName(described?.errorCode ?? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION)}`,
      );
    }
    return [...described.leaders.keys()].sort((a, b) => a - b);
  }

  /**
   * The offset of each partition of the topics (those `only` keeps) for `timestamp`, from each
   * partition's leader: -2 the earliest (the log start offset), -1 the latest (the log end offset a
   * consumer sees), otherwise the first offset whose timestamp reaches it (-1 when none does).
   */
  async listOffsets(
    topics: readonly string[],
    timestamp: bigint,
    only?: (topic: string, partition: number) => boolean,
  ): Promise<TopicPartitionOffset[]> {
    if (topics.length === 0) return [];
    const offsets: TopicPartitionOffset[] = [];
    for (const { connection, partitions } of await this.byLeader(topics, only)) {
      const names = [...new Set(partitions.map((entry) => entry.topic))];
      const response = await connection.call(
        ApiKey.ListOffsets,
        1,
        {
          replicaId: -1,
          topics: names.map((name) => ({
            name,
            partitions: partitions
              .filter((entry) => entry.topic === name)
              .map((entry) => ({ partitionIndex: entry.partition, timestamp })),
          })),
        },
        this.timeoutMs,
      );
      for (const topic of response.topics) {
        for (const partition of topic.partitions) {
          if (partition.errorCode !== ErrorCode.NONE) {
            throw new GroupsCommandError(
              `ListOffsets ${topic.name}-${partition.partitionIndex}: ${errorName(partition.errorCode)}`,
            );
          }
          offsets.push({ topic: topic.name, partition: partition.partitionIndex, offset: partition.offset });
        }
      }
    }
    return offsets.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  }

  /**
   * DeleteRecords at each partition's leader: every record below `offset` (-1: the high watermark).
   * Partitions the cluster does not know are answered UNKNOWN_TOPIC_OR_PARTITION here.
   */
  async deleteRecords(
    wanted: readonly TopicPartitionOffset[],
    timeoutMs: number,
  ): Promise<DeleteRecordsOutcome[]> {
    const topics = [...new Set(wanted.map((entry) => entry.topic))];
    const offsetOf = new Map(wanted.map((entry) => [`${entry.topic}\u0000${entry.partition}`, entry.offset]));
    const outcomes: DeleteRecordsOutcome[] = [];
    const metadata = await this.metadata(topics);
    const known = new Set<string>();
    for (const [topic, described] of metadata.topics) {
      if (described.errorCode !== ErrorCode.NONE) continue;
      for (const partition of described.leaders.keys()) known.add(`${topic}\u0000${partition}`);
    }
    for (const entry of wanted) {
      if (!known.has(`${entry.topic}\u0000${entry.partition}`)) {
        outcomes.push({ ...entry, lowWatermark: -1n, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION });
      }
    }
    const routed = await this.byLeader(
      topics.filter((topic) => metadata.topics.get(topic)?.errorCode === ErrorCode.NONE),
      (topic, partition) => offsetOf.has(`${topic}\u0000${partition}`),
    );
    for (const { connection, partitions } of routed) {
      const names = [...new Set(partitions.map((entry) => entry.topic))];
      const response = await connection.call(
        ApiKey.DeleteRecords,
        1,
        {
          topics: names.map((name) => ({
            name,
            partitions: partitions
              .filter((entry) => entry.topic === name)
              .map((entry) => ({
                partitionIndex: entry.partition,
                offset: offsetOf.get(`${name}\u0000${entry.partition}`)!,
              })),
          })),
          timeoutMs,
        },
        // The broker waits up to timeoutMs for the replicas: the call may take that long and more.
        timeoutMs + this.timeoutMs,
      );
      for (const topic of response.topics) {
        for (const partition of topic.partitions) {
          outcomes.push({
            topic: topic.name,
            partition: partition.partitionIndex,
            offset: offsetOf.get(`${topic.name}\u0000${partition.partitionIndex}`) ?? -1n,
            lowWatermark: partition.lowWatermark,
            errorCode: partition.errorCode,
          });
        }
      }
    }
    return outcomes.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  }

  /** OffsetDelete at the group's coordinator: the group's committed offsets of these partitions. */
  async deleteOffsets(
    groupId: string,
    topic: string,
    partitions: readonly number[],
  ): Promise<{ errorCode: number; partitions: { partition: number; errorCode: number }[] }> {
    const response = await this.atCoordinator(
      groupId,
      (connection) =>
        connection.call(
          ApiKey.OffsetDelete,
          0,
          {
            groupId,
            topics: [{ name: topic, partitions: partitions.map((partitionIndex) => ({ partitionIndex })) }],
          },
          this.timeoutMs,
        ),
      (result) => result.errorCode,
    );
    return {
      errorCode: response.errorCode,
      partitions: response.topics
        .flatMap((answered) => answered.partitions)
        .map((p) => ({ partition: p.partitionIndex, errorCode: p.errorCode }))
        .sort((a, b) => a.partition - b.partition),
    };
  }

  /** Commits offsets for a group without members (generation -1, no member id, as an admin does). */
  async commitOffsets(groupId: string, offsets: readonly TopicPartitionOffset[]): Promise<void> {
    const topics = [...new Set(offsets.map((entry) => entry.topic))].map((name) => ({
      name,
      partitions: offsets
        .filter((entry) => entry.topic === name)
        .map((entry) => ({
          partitionIndex: entry.partition,
          committedOffset: entry.offset,
          committedLeaderEpoch: -1,
          committedMetadata: '',
        })),
    }));
    const firstError = (result: { topics: { partitions: { errorCode: number }[] }[] }): number =>
      result.topics.flatMap((topic) => topic.partitions).find((partition) => partition.errorCode !== 0)
        ?.errorCode ?? ErrorCode.NONE;
    const response = await this.atCoordinator(
      groupId,
      (connection) =>
        connection.call(
          ApiKey.OffsetCommit,
          7,
          { groupId, generationId: -1, memberId: '', groupInstanceId: null, topics },
          this.timeoutMs,
        ),
      firstError,
    );
    const errorCode = firstError(response);
    if (errorCode !== ErrorCode.NONE) {
      throw new GroupsCommandError(`OffsetCommit '${groupId}': ${errorName(errorCode)}`);
    }
  }
}

function pause(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, coordinatorRetryBackoffMs));
}

// What the client knows of the cluster: the brokers, each topic's partitions and leaders, one
// connection per broker. Bootstrap tries every configured address in turn; metadata is refreshed
// when a caller reports a stale leader (NOT_LEADER_OR_FOLLOWER, a lost connection...), and refreshes
// that overlap share one request.

import type { ConnectionOptions } from 'node:tls';
import {
  ApiKey,
  coordinatorKeyType,
  ErrorCode,
  type RequestInput,
  type SupportedApiKey,
  zeroUuid,
} from '@gregor/protocol';
import { type BrokerAddress, BrokerConnection, parseBrokerAddress } from './broker-connection.js';
import { isRetriable, KafkaJSConnectionError, KafkaJSError, KafkaJSProtocolError } from './errors.js';
import type { NetworkInstrumentation } from './instrumentation.js';
import type { Logger } from './logger.js';
import { type ResolvedRetry, withRetry } from './retry.js';
import type { SASLOptions } from './sasl/sasl-authenticator.js';

/** The version of each API the client asks for (lowered to what a broker speaks). */
export const preferredVersions = {
  [ApiKey.Produce]: 8,
  // Bodies that name topics (every caller of send()); the consumer asks for v13, by topic id, through
  // sendVersioned once it knows every id. A by-name body at v13 would be answered UNKNOWN_TOPIC_ID.
  [ApiKey.Fetch]: 12,
  [ApiKey.ListOffsets]: 5,
  [ApiKey.Metadata]: 12,
  [ApiKey.OffsetCommit]: 7,
  [ApiKey.OffsetFetch]: 7,
  [ApiKey.FindCoordinator]: 3,
  [ApiKey.JoinGroup]: 6,
  [ApiKey.Heartbeat]: 4,
  [ApiKey.LeaveGroup]: 4,
  [ApiKey.SyncGroup]: 4,
  [ApiKey.DescribeGroups]: 5,
  [ApiKey.ListGroups]: 4,
  [ApiKey.CreateTopics]: 5,
  [ApiKey.DeleteTopics]: 4,
  // v3 carries our producer id and epoch, so an abort that left a record unanswered can bump it (KIP-360).
  [ApiKey.InitProducerId]: 3,
  [ApiKey.AddPartitionsToTxn]: 3,
  [ApiKey.AddOffsetsToTxn]: 3,
  [ApiKey.EndTxn]: 3,
  [ApiKey.TxnOffsetCommit]: 3,
  [ApiKey.DescribeConfigs]: 2,
  [ApiKey.CreatePartitions]: 1,
  [ApiKey.DeleteGroups]: 2,
  [ApiKey.IncrementalAlterConfigs]: 1,
  [ApiKey.AlterConfigs]: 2,
  [ApiKey.DeleteRecords]: 1,
  [ApiKey.CreateAcls]: 1,
  [ApiKey.DescribeAcls]: 1,
  [ApiKey.DeleteAcls]: 1,
  [ApiKey.AlterPartitionReassignments]: 1,
  [ApiKey.ListPartitionReassignments]: 0,
} as const satisfies Partial<Record<SupportedApiKey, number>>;

export interface PartitionMetadata {
  readonly partitionErrorCode: number;
  readonly partitionId: number;
  readonly leader: number;
  readonly leaderEpoch: number;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
  readonly offlineReplicas: readonly number[];
}

export interface TopicMetadata {
  readonly name: string;
  readonly partitions: readonly PartitionMetadata[];
}

export interface ClusterOptions {
  readonly clientId: string;
  readonly brokers: readonly string[];
  readonly connectionTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly retry: ResolvedRetry;
  readonly logger: Logger;
  /** Let a Metadata request for an unknown topic create it, where the broker allows (kafkajs's allowAutoTopicCreation). */
  readonly allowAutoTopicCreation: boolean;
  readonly ssl?: boolean | ConnectionOptions;
  readonly sasl?: SASLOptions;
  /** The owning producer's, consumer's or admin's events, for its connections' network events. */
  readonly instrumentation?: NetworkInstrumentation;
}

export class Cluster {
  private readonly bootstrap: readonly BrokerAddress[];
  private readonly brokerAddresses = new Map<number, BrokerAddress>();
  private readonly connections = new Map<string, Promise<BrokerConnection>>();
  private readonly topics = new Map<string, TopicMetadata>();
  /**
   * Topic ids (Metadata v10+), both ways, for the consumer's Fetch v13+ (KIP-516). Kept when a topic
   * fails a refresh: a fetch session may still have to forget a topic by its id.
   */
  private readonly topicIds = new Map<string, string>();
  private readonly topicNames = new Map<string, string>();
  /** Topics whose metadata every refresh fetches (those a producer or consumer uses). */
  private readonly targetTopics = new Set<string>();
  private refreshing: { readonly topics: ReadonlySet<string>; readonly done: Promise<void> } | undefined;
  private controllerId = -1;
  clusterId: string | null = null;

  constructor(private readonly options: ClusterOptions) {
    if (options.brokers.length === 0) throw new KafkaJSError('no brokers given to bootstrap from');
    this.bootstrap = options.brokers.map(parseBrokerAddress);
  }

  get retry(): ResolvedRetry {
    return this.options.retry;
  }

  async connect(): Promise<void> {
    await this.refreshMetadata();
  }

  disconnect(): void {
    for (const pending of this.connections.values()) {
      pending.then((connection) => connection.close()).catch(() => undefined);
    }
    this.connections.clear();
  }

  private async connectionAt(address: BrokerAddress): Promise<BrokerConnection> {
    const key = `${address.host}:${address.port}`;
    const existing = this.connections.get(key);
    if (existing !== undefined) {
      const connection = await existing.catch(() => undefined);
      if (connection !== undefined && !connection.closed) return connection;
      if (this.connections.get(key) === existing) this.connections.delete(key);
    }
    const opening = BrokerConnection.open(address, {
      clientId: this.options.clientId,
      connectionTimeoutMs: this.options.connectionTimeoutMs,
      requestTimeoutMs: this.options.requestTimeoutMs,
      ssl: this.options.ssl,
      sasl: this.options.sasl,
      instrumentation: this.options.instrumentation,
    });
    this.connections.set(key, opening);
    opening.catch(() => {
      if (this.connections.get(key) === opening) this.connections.delete(key);
    });
    return opening;
  }

  async connectionTo(nodeId: number): Promise<BrokerConnection> {
    const address = this.brokerAddresses.get(nodeId);
    if (address === undefined) {
      throw new KafkaJSConnectionError(`broker ${nodeId} is not in the cluster metadata`);
    }
    return this.connectionAt(address);
  }

  /** Some live broker: a known one first, then the bootstrap list. */
  async anyConnection(): Promise<BrokerConnection> {
    const candidates = [...this.brokerAddresses.values(), ...this.bootstrap];
    const start = Math.floor(Math.random() * candidates.length);
    let lastError: unknown;
    for (let index = 0; index < candidates.length; index++) {
      try {
        return await this.connectionAt(candidates[(start + index) % candidates.length]!);
      } catch (error) {
        // Refused credentials fail the same at every broker: say so instead of trying the rest.
        if (!isRetriable(error)) throw error;
        lastError = error;
      }
    }
    throw new KafkaJSConnectionError(`no broker reachable: ${(lastError as Error | undefined)?.message}`);
  }

  /** The version of `apiKey` that a request to `nodeId` would be sent at, at most `maxVersion`. */
  async versionFor(nodeId: number, apiKey: SupportedApiKey, maxVersion: number): Promise<number> {
    return (await this.connectionTo(nodeId)).version(apiKey, maxVersion);
  }

  /** Sends to one broker by node id, at the negotiated version; returns the response body. */
  async send<K extends SupportedApiKey & keyof typeof preferredVersions>(
    nodeId: number,
    apiKey: K,
    body: RequestInput<K>,
    timeoutMs?: number,
  ) {
    const connection = await this.connectionTo(nodeId);
    return (await connection.send(apiKey, preferredVersions[apiKey], body, timeoutMs)).body;
  }

  /** Like send(), for a body whose fields depend on the version the broker speaks. */
  async sendVersioned<K extends SupportedApiKey & keyof typeof preferredVersions>(
    nodeId: number,
    apiKey: K,
    body: (version: number) => RequestInput<K>,
    timeoutMs?: number,
    /**
     * The highest version `body` can fill: preferredVersions by default; lower while a field of a
     * newer version is unknown, higher for a body that fills a newer one's fields (Fetch by id).
     */
    maxVersion: number = preferredVersions[apiKey],
  ) {
    const connection = await this.connectionTo(nodeId);
    const version = connection.version(apiKey, maxVersion);
    return (await connection.send(apiKey, version, body(version), timeoutMs)).body;
  }

  /**
   * The finalized level of `feature` in broker `nodeId`'s ApiVersions (v3+, KIP-584); 0 when it is
   * not finalized or the broker is older.
   */
  async finalizedFeatureLevel(nodeId: number, feature: string): Promise<number> {
    const connection = await this.connectionTo(nodeId);
    if (connection.version(ApiKey.ApiVersions, 3) < 3) return 0;
    const { body } = await connection.send(ApiKey.ApiVersions, 3, {
      clientSoftwareName: 'gregor-client',
      clientSoftwareVersion: '0',
    });
    return body.finalizedFeatures.find((entry) => entry.name === feature)?.maxVersionLevel ?? 0;
  }

  /** Sends to any broker (metadata, admin requests any broker answers). */
  async sendAny<K extends SupportedApiKey & keyof typeof preferredVersions>(
    apiKey: K,
    body: RequestInput<K>,
    timeoutMs?: number,
  ) {
    const connection = await this.anyConnection();
    return (await connection.send(apiKey, preferredVersions[apiKey], body, timeoutMs)).body;
  }

  addTargetTopics(topics: Iterable<string>): void {
    for (const topic of topics) this.targetTopics.add(topic);
  }

  /** Refreshes the brokers and the target topics; concurrent callers share one request. */
  refreshMetadata(extraTopics: readonly string[] = []): Promise<void> {
    const topics = new Set([...this.targetTopics, ...extraTopics]);
    const inFlight = this.refreshing;
    if (inFlight !== undefined && [...topics].every((topic) => inFlight.topics.has(topic)))
      return inFlight.done;
    const done = (inFlight?.done ?? Promise.resolve())
      .catch(() => undefined)
      .then(() => withRetry(this.options.retry, () => this.fetchMetadata([...topics])))
      .finally(() => {
        if (this.refreshing?.done === done) this.refreshing = undefined;
      });
    this.refreshing = { topics, done };
    return done;
  }

  private async fetchMetadata(topics: readonly string[]): Promise<void> {
    const response = await this.sendAny(ApiKey.Metadata, {
      topics: topics.map((name) => ({ name })),
      allowAutoTopicCreation: this.options.allowAutoTopicCreation,
      includeClusterAuthorizedOperations: false,
      includeTopicAuthorizedOperations: false,
    });
    this.applyMetadata(response);
  }

  /** Metadata of every topic of the cluster (admin's listTopics and fetchTopicMetadata without topics). */
  async fetchAllTopics(): Promise<TopicMetadata[]> {
    const response = await withRetry(this.options.retry, () =>
      this.sendAny(ApiKey.Metadata, {
        topics: null,
        allowAutoTopicCreation: false,
        includeClusterAuthorizedOperations: false,
        includeTopicAuthorizedOperations: false,
      }),
    );
    this.applyMetadata(response);
    return response.topics
      .filter((topic) => topic.errorCode === 0 && topic.name !== null)
      .map((topic) => this.topics.get(topic.name!)!);
  }

  private applyMetadata(response: {
    brokers: readonly { nodeId: number; host: string; port: number }[];
    clusterId: string | null;
    controllerId: number;
    topics: readonly {
      errorCode: number;
      /** Null only for a topic asked for by id (v12+), which this client does not do. */
      name: string | null;
      /** v10+; zeroUuid before, or from a broker without ids. */
      topicId?: string;
      partitions: readonly {
        errorCode: number;
        partitionIndex: number;
        leaderId: number;
        leaderEpoch: number;
        replicaNodes: readonly number[];
        isrNodes: readonly number[];
        offlineReplicas: readonly number[];
      }[];
    }[];
  }): void {
    for (const broker of response.brokers) {
      this.brokerAddresses.set(broker.nodeId, { host: broker.host, port: broker.port });
    }
    this.clusterId = response.clusterId;
    this.controllerId = response.controllerId;
    for (const topic of response.topics) {
      if (topic.name === null) continue;
      if (topic.errorCode !== 0) {
        this.topics.delete(topic.name);
        if (
          topic.errorCode !== ErrorCode.UNKNOWN_TOPIC_OR_PARTITION &&
          topic.errorCode !== ErrorCode.LEADER_NOT_AVAILABLE
        ) {
          this.options.logger.warn('topic metadata error', { topic: topic.name, errorCode: topic.errorCode });
        }
        continue;
      }
      if (topic.topicId !== undefined && topic.topicId !== zeroUuid) {
        // A topic deleted and created again under the same name has a new id.
        const previous = this.topicIds.get(topic.name);
        if (previous !== undefined && previous !== topic.topicId) this.topicNames.delete(previous);
        this.topicIds.set(topic.name, topic.topicId);
        this.topicNames.set(topic.topicId, topic.name);
      }
      this.topics.set(topic.name, {
        name: topic.name,
        partitions: topic.partitions
          .map((partition) => ({
            partitionErrorCode: partition.errorCode,
            partitionId: partition.partitionIndex,
            leader: partition.leaderId,
            leaderEpoch: partition.leaderEpoch,
            replicas: partition.replicaNodes,
            isr: partition.isrNodes,
            offlineReplicas: partition.offlineReplicas,
          }))
          .sort((a, b) => a.partitionId - b.partitionId),
      });
    }
  }

  /** Makes sure the metadata of `topics` is known, refreshing once; throws if one does not exist. */
  async ensureTopics(topics: readonly string[]): Promise<void> {
    this.addTargetTopics(topics);
    await withRetry(this.options.retry, async () => {
      const missing = topics.filter((topic) => !this.topicReady(topic));
      if (missing.length === 0) return;
      await this.refreshMetadata(missing);
      const stillMissing = missing.find((topic) => !this.topicReady(topic));
      if (stillMissing !== undefined) {
        throw new KafkaJSProtocolError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic ${stillMissing}`);
      }
    });
  }

  private topicReady(topic: string): boolean {
    const metadata = this.topics.get(topic);
    return metadata !== undefined && metadata.partitions.length > 0;
  }

  topicMetadata(topic: string): TopicMetadata | undefined {
    return this.topics.get(topic);
  }

  /** The topic's id, once a Metadata answer (v10+) gave one. */
  topicIdOf(topic: string): string | undefined {
    return this.topicIds.get(topic);
  }

  /** The name of the topic with this id, as the last Metadata answer knew it. */
  topicNameOf(topicId: string): string | undefined {
    return this.topicNames.get(topicId);
  }

  partitionCount(topic: string): number {
    return this.topics.get(topic)?.partitions.length ?? 0;
  }

  /** The leader's node id, or -1 when the metadata knows none. */
  leaderFor(topic: string, partition: number): number {
    return this.topics.get(topic)?.partitions[partition]?.leader ?? -1;
  }

  get controller(): number {
    return this.controllerId;
  }

  brokers(): { nodeId: number; host: string; port: number }[] {
    return [...this.brokerAddresses].map(([nodeId, address]) => ({ nodeId, ...address }));
  }

  /** The coordinator of a group (or transactional id): FindCoordinator, retried while it loads. */
  async findCoordinator(key: string, keyType: number = coordinatorKeyType.group): Promise<number> {
    return withRetry(this.options.retry, async () => {
      const response = await this.sendAny(ApiKey.FindCoordinator, { key, keyType, coordinatorKeys: [] });
      if (response.errorCode !== 0)
        throw new KafkaJSProtocolError(response.errorCode, `coordinator of ${key}`);
      this.brokerAddresses.set(response.nodeId, { host: response.host, port: response.port });
      return response.nodeId;
    });
  }
}

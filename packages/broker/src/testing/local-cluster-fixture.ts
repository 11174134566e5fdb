// One broker with everything real except Raft: the real Controller from @gregor/metadata decides,
// its records are applied to a real MetadataImage at once ("committed"), the ReplicaManager applies
// each image to real logs in a temporary directory, and requests go through the real router as
// encoded frames. Time is a ManualClock with ManualTimers, so long polls and acks=all waits end
// when a test moves time. Other brokers can be registered (and unfenced) in the image without a
// process behind them, to lead partitions this broker does not.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { type Clock, ManualClock, ManualTimers, SeededRandom } from '@gregor/ground';
import {
  type AclBinding,
  type AclBindingFilter,
  type AlterClientQuotasRequest,
  type AlterClientQuotasResponse,
  type AlterConfigOperation,
  type AlterPartitionReassignmentsRequest,
  type AlterUserScramCredentialsRequest,
  type AlterUserScramCredentialsResponse,
  applyRecords,
  brokerResourceType,
  Controller,
  type ControllerError,
  type ControllerOutcome,
  type CreateAclsResponse,
  type CreateDelegationTokenRequest,
  type CreateDelegationTokenResponse,
  type CreatePartitionsRequest,
  type CreatePartitionsResponse,
  type CreateTopicRequest,
  type CreateTopicResponse,
  type DelegationTokenExpiryResponse,
  type DeleteAclsResponse,
  type DeleteTopicResponse,
  type ElectionResult,
  type ElectionType,
  type ExpireDelegationTokenRequest,
  type IncrementalAlterConfigsResponse,
  type IncrementalAlterTopicConfigsRequest,
  isControllerError,
  type MetadataImage,
  MetadataImage as MetadataImageClass,
  type MetadataRecord,
  type ReassignmentResult,
  type RenewDelegationTokenRequest,
  type SupportedFeature,
  type TopicPartitionName,
  type TopicSelector,
  type UpdateFeaturesRequest,
  uuidFromBytes,
} from '@gregor/metadata';
import {
  decodeResponse,
  encodeRequest,
  type RequestInput,
  type ResponseBody,
  type SupportedApiKey,
} from '@gregor/protocol';
import { defaultLogConfig, type LogConfig, LogDirFailureChannel, LogManager } from '@gregor/storage';
import pino from 'pino';
import { apiHandlers } from '../apis/api-handlers.js';
import type {
  BrokerContext,
  BrokerMetadata,
  BrokerSettings,
  ControllerChannel,
  ControllerRequestOptions,
  ControllerResults,
  ValidatingRequestOptions,
} from '../apis/broker-context.js';
import { DelayedOperations } from '../delayed/delayed-operations.js';
import {
  FetchSessionCache,
  fetchSessionCachedPartitionsMax,
  fetchSessionCacheSlotsDefault,
  minIncrementalFetchSessionEvictionMs,
} from '../fetch-sessions/fetch-session-cache.js';
import { type BrokerMetrics, noBrokerMetrics } from '../metrics/broker-metrics.js';
import type { ConnectionContext, FrameHandler, HandlerOutcome } from '../network/connection.js';
import type { ProducerIdBlockResult, ProducerIdBlockSource } from '../producer-ids/producer-id-manager.js';
import { kafkaQuotaWindows } from '../quotas/client-quota-manager.js';
import { ClientQuotas } from '../quotas/client-quotas.js';
import type { ContinuationHooks } from '../quotas/request-time-meters.js';
import type { LeaderLease } from '../replica/local-replicas.js';
import { LogManagerStore } from '../replica/log-store.js';
import { ReplicaManager, type ReplicaManagerOptions } from '../replica/replica-manager.js';
import { createRequestRouter } from '../request-router.js';
import type { StandardAuthorizer } from '../security/authorizer.js';
import { ConnectionSession } from '../security/connection-session.js';
import type { KafkaPrincipal } from '../security/kafka-principal.js';

export const fixtureClusterId = 'gregor-fixture-cluster';
export const fixtureListenerName = 'PLAINTEXT';
/** 2023-11-14T22:13:20Z: a fixed, recognisable wall-clock start. */
export const fixtureStartMs = 1_700_000_000_000;

export interface FixtureEndpoint {
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

export interface LocalClusterOptions {
  readonly brokerId?: number;
  /** Brokers registered and unfenced in the image, without a process. */
  readonly otherBrokerIds?: readonly number[];
  /** The port this broker advertises (a real socket server's, for real-client tests); 9000 + id otherwise. */
  readonly advertisedPort?: number;
  readonly advertisedHost?: string;
  /**
   * The endpoints each broker registers, by broker id; by default one PLAINTEXT endpoint at
   * `advertisedHost`/`advertisedPort` for this broker and localhost:9000+id for the others.
   */
  readonly brokerListeners?: (brokerId: number) => readonly FixtureEndpoint[];
  readonly brokerLogConfig?: Partial<LogConfig>;
  /** max.incremental.fetch.session.cache.slots (default 1000). */
  readonly fetchSessionCacheSlots?: number;
  readonly settings?: Partial<Omit<BrokerSettings, 'brokerLogConfig'>>;
  readonly seed?: number;
  /** The way ISR proposals leave this broker (none by default: ISR changes are not proposed). */
  readonly alterPartition?: ReplicaManagerOptions['alterPartition'];
  readonly replicaLagTimeMaxMs?: number;
  /** Where the router and handlers record metrics (nothing is recorded by default). */
  readonly metrics?: BrokerMetrics;
  /** The broker's leader lease (a BrokerLease on a ManualClock, say); held for ever by default. */
  readonly leaderLease?: LeaderLease;
  /** Times requests for request_percentage (the fixture's ManualClock by default: they take no time). */
  readonly requestClock?: Clock;
  /** Follow requests' continuations for request_percentage (v8's promise hooks by default). */
  readonly continuationHooks?: ContinuationHooks;
  /** authorizer.class.name's authorizer (every request is allowed without one). */
  readonly authorizer?: StandardAuthorizer;
  /** The features and levels the broker advertises and the controller accepts (features.ts's by default). */
  readonly supportedFeatures?: readonly SupportedFeature[];
  /** A second log dir, `<logDir>/second-log-dir` (AlterReplicaLogDirs tests); one log dir by default. */
  readonly secondLogDir?: boolean;
}

function incarnationId(brokerId: number): string {
  const bytes = Buffer.alloc(16);
  bytes.writeUInt32BE(brokerId, 0);
  bytes[6] = 0x40;
  bytes[8] = 0x80;
  bytes[15] = 1;
  return uuidFromBytes(bytes);
}

export class LocalClusterFixture implements ControllerChannel, BrokerMetadata {
  readonly clock = new ManualClock(fixtureStartMs);
  readonly timers = new ManualTimers(this.clock);
  readonly delayedOperations = new DelayedOperations(this.timers);
  /** Every log line (pino JSON), for tests that check what was logged. */
  readonly logLines: string[] = [];
  readonly logger = pino(
    { level: 'debug' },
    new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        this.logLines.push(chunk.toString());
        done();
      },
    }),
  );
  private imageValue: MetadataImage = MetadataImageClass.empty;
  /** Offset of the next metadata record: what a broker reports as caught up. */
  private metadataLogEndOffset = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private controller!: Controller;
  private logManager!: LogManager;
  /** Where the fixture's logs report failed log dirs (the replica manager listens, as in a node). */
  readonly logDirFailures = new LogDirFailureChannel();
  replicaManager!: ReplicaManager;
  context!: BrokerContext;
  router!: FrameHandler;
  private readonly brokerEpochs = new Map<number, number>();
  private nextCorrelationId = 1;
  private connection: ConnectionContext = {
    connectionId: 1,
    remoteAddress: '127.0.0.1:50000',
    listenerName: fixtureListenerName,
  };

  private constructor(
    readonly brokerId: number,
    readonly logDir: string,
  ) {}

  static async start(options: LocalClusterOptions = {}): Promise<LocalClusterFixture> {
    const brokerId = options.brokerId ?? 1;
    const logDir = await mkdtemp(join(tmpdir(), 'gregor-broker-'));
    const fixture = new LocalClusterFixture(brokerId, logDir);
    const brokerLogConfig: LogConfig = { ...defaultLogConfig, ...options.brokerLogConfig };
    const logDirs = options.secondLogDir === true ? [logDir, join(logDir, 'second-log-dir')] : [logDir];
    fixture.logManager = await LogManager.open({
      config: { logDirs, defaults: brokerLogConfig },
      clock: fixture.clock,
      logDirFailureChannel: fixture.logDirFailures,
    });
    fixture.replicaManager = new ReplicaManager({
      brokerId,
      logStore: new LogManagerStore(fixture.logManager),
      brokerLogConfig,
      clock: fixture.clock,
      timers: fixture.timers,
      delayedOperations: fixture.delayedOperations,
      logger: fixture.logger,
      logDirFailureChannel: fixture.logDirFailures,
      ...(options.alterPartition === undefined ? {} : { alterPartition: options.alterPartition }),
      ...(options.replicaLagTimeMaxMs === undefined
        ? {}
        : { replicaLagTimeMaxMs: options.replicaLagTimeMaxMs }),
      ...(options.leaderLease === undefined ? {} : { leaderLease: options.leaderLease }),
    });
    const settings: BrokerSettings = {
      numPartitions: 1,
      defaultReplicationFactor: 1,
      autoCreateTopicsEnable: true,
      deleteTopicEnable: true,
      describedConfigs: [
        { name: 'broker.id', value: String(brokerId), source: 'static-broker-config', isSensitive: false },
        { name: 'num.partitions', value: '1', source: 'default', isSensitive: false },
      ],
      ...options.settings,
      brokerLogConfig,
    };
    fixture.context = {
      brokerId,
      clusterId: fixtureClusterId,
      settings,
      metadata: fixture,
      controller: fixture,
      replicaManager: fixture.replicaManager,
      fetchSessions: new FetchSessionCache(
        {
          slots: options.fetchSessionCacheSlots ?? fetchSessionCacheSlotsDefault,
          evictionMs: minIncrementalFetchSessionEvictionMs,
          cachedPartitionsMax: fetchSessionCachedPartitionsMax,
        },
        new SeededRandom(options.seed ?? 42),
      ),
      clock: fixture.clock,
      logger: fixture.logger,
      metrics: options.metrics ?? noBrokerMetrics,
      ...(options.authorizer === undefined ? {} : { authorizer: options.authorizer }),
      ...(options.supportedFeatures === undefined ? {} : { supportedFeatures: options.supportedFeatures }),
      quotas: new ClientQuotas(
        kafkaQuotaWindows,
        () => fixture.image().clientQuotas,
        fixture.clock,
        options.metrics ?? noBrokerMetrics,
        options.requestClock ?? fixture.clock,
        options.continuationHooks,
      ),
    };
    fixture.router = createRequestRouter(fixture.context, apiHandlers());

    const activation = Controller.activate({
      image: fixture.imageValue,
      controllerId: brokerId,
      controllerEpoch: 1,
      clusterId: fixtureClusterId,
      nowMs: fixture.clock.nowMs(),
      metadataLogEndOffset: 0,
      random: new SeededRandom(options.seed ?? 42),
      secretBytes: (byteCount) => Buffer.alloc(byteCount, 42),
      config: {
        defaultNumPartitions: settings.numPartitions,
        defaultReplicationFactor: settings.defaultReplicationFactor,
      },
      ...(options.supportedFeatures === undefined ? {} : { supportedFeatures: options.supportedFeatures }),
    });
    fixture.controller = activation.controller;
    await fixture.commit(activation.records);
    const listenersOf =
      options.brokerListeners ??
      ((id: number): readonly FixtureEndpoint[] => [
        id === brokerId
          ? {
              name: fixtureListenerName,
              host: options.advertisedHost ?? 'localhost',
              port: options.advertisedPort ?? 9000 + id,
            }
          : { name: fixtureListenerName, host: 'localhost', port: 9000 + id },
      ]);
    for (const id of [brokerId, ...(options.otherBrokerIds ?? [])]) {
      await fixture.registerAndUnfence(id, listenersOf(id));
    }
    return fixture;
  }

  private async registerAndUnfence(brokerId: number, endpoints: readonly FixtureEndpoint[]): Promise<void> {
    const registration = this.committed(
      this.controller.registerBroker(
        {
          brokerId,
          clusterId: fixtureClusterId,
          incarnationId: incarnationId(brokerId),
          listeners: endpoints.map((endpoint) => ({ ...endpoint, securityProtocol: 0 })),
          rack: null,
        },
        this.clock.nowMs(),
        this.metadataLogEndOffset,
      ),
    );
    await this.commit(registration.records);
    this.brokerEpochs.set(brokerId, registration.response.brokerEpoch);
    await this.heartbeat(brokerId, { wantFence: false });
  }

  private committed<R>(outcome: ControllerOutcome<R>): { records: readonly MetadataRecord[]; response: R } {
    if (isControllerError(outcome)) throw new Error(`fixture set-up failed: ${outcome.errorMessage}`);
    return outcome;
  }

  /** "Commits" a batch: applies it to the image and then to the replica manager, as a broker would. */
  private async commit(records: readonly MetadataRecord[]): Promise<void> {
    if (records.length === 0) return;
    this.imageValue = applyRecords(this.imageValue, records);
    this.metadataLogEndOffset += records.length;
    await this.replicaManager.applyMetadata(this.imageValue);
  }

  /**
   * The metadata barrier a coordinator driver takes: here a change is applied as it is committed,
   * so once the operations queued before the call are done, everything committed is applied.
   */
  readonly metadataBarrier = { confirm: (): Promise<boolean> => this.serialized(async () => true) };

  /** One controller operation at a time, as the quorum serializes them. */
  private serialized<T>(operation: () => Promise<T>): Promise<T> {
    const run = this.queue.then(operation);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private runEach<Q, R>(
    requests: readonly Q[],
    decide: (request: Q) => ControllerOutcome<R>,
  ): Promise<ControllerResults<R>> {
    return this.serialized(async () => {
      const results: (R | { errorCode: number; errorMessage: string })[] = [];
      for (const request of requests) {
        const outcome = decide(request);
        if (isControllerError(outcome)) {
          results.push(outcome);
          continue;
        }
        await this.commit(outcome.records);
        results.push(outcome.response);
      }
      return results;
    });
  }

  // --- BrokerMetadata -------------------------------------------------------------------------------

  image(): MetadataImage {
    return this.imageValue;
  }

  appliedOffset(): number {
    return this.metadataLogEndOffset - 1;
  }

  controllerId(): number {
    return this.imageValue.controller?.controllerId ?? -1;
  }

  // --- ControllerChannel ----------------------------------------------------------------------------

  createTopics(
    requests: readonly CreateTopicRequest[],
    options: ValidatingRequestOptions,
  ): Promise<ControllerResults<CreateTopicResponse>> {
    return this.runEach(requests, (request) =>
      this.controller.createTopic(request, { validateOnly: options.validateOnly }),
    );
  }

  deleteTopics(
    selectors: readonly TopicSelector[],
    _options: ControllerRequestOptions,
  ): Promise<ControllerResults<DeleteTopicResponse>> {
    return this.runEach(selectors, (selector) => this.controller.deleteTopic(selector));
  }

  createPartitions(
    requests: readonly CreatePartitionsRequest[],
    options: ValidatingRequestOptions,
  ): Promise<ControllerResults<CreatePartitionsResponse>> {
    return this.runEach(requests, (request) =>
      this.controller.createPartitions(request, { validateOnly: options.validateOnly }),
    );
  }

  incrementalAlterConfigs(
    requests: readonly IncrementalAlterTopicConfigsRequest[],
    options: ValidatingRequestOptions,
  ): Promise<ControllerResults<IncrementalAlterConfigsResponse>> {
    return this.runEach(requests, (request) =>
      this.controller.incrementalAlterTopicConfigs(request, { validateOnly: options.validateOnly }),
    );
  }

  async alterUserScramCredentials(
    request: AlterUserScramCredentialsRequest,
    _options: ControllerRequestOptions,
  ): Promise<AlterUserScramCredentialsResponse | ControllerError> {
    const [result] = await this.runEach([request], (one) => this.controller.alterUserScramCredentials(one));
    return result!;
  }

  async createDelegationToken(
    request: CreateDelegationTokenRequest,
    _options: ControllerRequestOptions,
  ): Promise<CreateDelegationTokenResponse | ControllerError> {
    const [result] = await this.runEach([request], (one) =>
      this.controller.createDelegationToken(one, this.clock.nowMs()),
    );
    return result!;
  }

  async renewDelegationToken(
    request: RenewDelegationTokenRequest,
    _options: ControllerRequestOptions,
  ): Promise<DelegationTokenExpiryResponse | ControllerError> {
    const [result] = await this.runEach([request], (one) =>
      this.controller.renewDelegationToken(one, this.clock.nowMs()),
    );
    return result!;
  }

  async expireDelegationToken(
    request: ExpireDelegationTokenRequest,
    _options: ControllerRequestOptions,
  ): Promise<DelegationTokenExpiryResponse | ControllerError> {
    const [result] = await this.runEach([request], (one) =>
      this.controller.expireDelegationToken(one, this.clock.nowMs()),
    );
    return result!;
  }

  async createAcls(
    bindings: readonly AclBinding[],
    _options: ControllerRequestOptions,
  ): Promise<CreateAclsResponse | ControllerError> {
    const [result] = await this.runEach([bindings], (all) => this.controller.createAcls(all));
    return result!;
  }

  async deleteAcls(
    filters: readonly AclBindingFilter[],
    _options: ControllerRequestOptions,
  ): Promise<DeleteAclsResponse | ControllerError> {
    const [result] = await this.runEach([filters], (all) => this.controller.deleteAcls(all));
    return result!;
  }

  async electLeaders(
    electionType: ElectionType,
    partitions: readonly TopicPartitionName[] | null,
    _options: ControllerRequestOptions,
  ): Promise<readonly ElectionResult[] | ControllerError> {
    const [result] = await this.runEach([partitions], (named) =>
      this.controller.electLeaders(electionType, named),
    );
    return result!;
  }

  async alterPartitionReassignments(
    request: AlterPartitionReassignmentsRequest,
    _options: ControllerRequestOptions,
  ): Promise<readonly ReassignmentResult[] | ControllerError> {
    const [result] = await this.runEach([request], (one) => this.controller.alterPartitionReassignments(one));
    return result!;
  }

  async unregisterBroker(
    brokerId: number,
    _options: ControllerRequestOptions,
  ): Promise<Record<string, never> | ControllerError> {
    const [result] = await this.runEach([brokerId], (one) => this.controller.unregisterBroker(one));
    return result!;
  }

  async updateFeatures(
    request: UpdateFeaturesRequest,
    _options: ControllerRequestOptions,
  ): Promise<Record<string, never> | ControllerError> {
    const [result] = await this.runEach([request], (one) => this.controller.updateFeatures(one));
    return 'errorCode' in result! ? result : {};
  }

  async alterClientQuotas(
    request: AlterClientQuotasRequest,
    _options: ControllerRequestOptions,
  ): Promise<AlterClientQuotasResponse | ControllerError> {
    const [result] = await this.runEach([request], (one) => this.controller.alterClientQuotas(one));
    return result!;
  }

  /** Closes every idle log file descriptor (they reopen on demand). */
  closeIdleLogFiles(): Promise<void> {
    return this.logManager.closeIdleFiles();
  }

  /** Shorthand for tests: set (value) or delete (null) topic configs through the controller. */
  async alterTopicConfigs(topicName: string, changes: Record<string, string | null>): Promise<void> {
    const operations: AlterConfigOperation[] = Object.entries(changes).map(([name, value]) => ({
      name,
      operation: value === null ? 'delete' : 'set',
      value,
    }));
    const [result] = await this.incrementalAlterConfigs([{ topicName, operations }], {
      validateOnly: false,
      timeoutMs: 1000,
    });
    if (result === undefined || 'errorCode' in result)
      throw new Error(`alter configs failed: ${JSON.stringify(result)}`);
  }

  /** Shorthand for tests: set (value) or delete (null) dynamic broker configs ('' or a broker id). */
  async alterBrokerConfigs(resourceName: string, changes: Record<string, string | null>): Promise<void> {
    const operations: AlterConfigOperation[] = Object.entries(changes).map(([name, value]) => ({
      name,
      operation: value === null ? 'delete' : 'set',
      value,
    }));
    const [result] = await this.incrementalAlterConfigs(
      [{ topicName: resourceName, operations, resourceType: brokerResourceType }],
      { validateOnly: false, timeoutMs: 1000 },
    );
    if (result === undefined || 'errorCode' in result)
      throw new Error(`alter broker configs failed: ${JSON.stringify(result)}`);
  }

  /**
   * A broker heartbeat through the controller: `wantFence` fences the broker (its leaderships move to
   * other ISR members, it leaves every ISR); without it a fenced, caught-up broker is unfenced and
   * leaderless partitions it replicates get it as leader.
   */
  heartbeat(
    brokerId: number,
    options: {
      readonly wantFence: boolean;
      /** Replicas on a failed log dir of the broker (the heartbeat's offline replicas). */
      readonly offlineReplicas?: readonly { topicId: string; partitionIndex: number }[];
    },
  ): Promise<void> {
    return this.serialized(async () => {
      const brokerEpoch = this.brokerEpochs.get(brokerId);
      if (brokerEpoch === undefined) throw new Error(`broker ${brokerId} is not registered`);
      const outcome = this.committed(
        this.controller.brokerHeartbeat(
          {
            brokerId,
            brokerEpoch,
            currentMetadataOffset: this.metadataLogEndOffset - 1,
            wantFence: options.wantFence,
            wantShutDown: false,
            offlineLogDirs: options.offlineReplicas === undefined ? [] : ['failed-dir'],
            offlineReplicas: options.offlineReplicas ?? [],
          },
          this.clock.nowMs(),
          this.metadataLogEndOffset,
        ),
      );
      await this.commit(outcome.records);
    });
  }

  /** Producer id blocks from the in-process controller, committed like any controller change. */
  producerIdBlockSource(): ProducerIdBlockSource {
    return {
      allocateBlock: () =>
        this.serialized(async (): Promise<ProducerIdBlockResult> => {
          const brokerEpoch = this.brokerEpochs.get(this.brokerId) ?? -1;
          const outcome = this.controller.allocateProducerIds({ brokerId: this.brokerId, brokerEpoch });
          if (isControllerError(outcome)) {
            return { ok: false, errorCode: outcome.errorCode, message: outcome.errorMessage };
          }
          await this.commit(outcome.records);
          return { ok: true, block: outcome.response };
        }),
    };
  }

  // --- Requests -------------------------------------------------------------------------------------

  /**
   * The principal later requests run as (as if the connection were SSL with a client certificate
   * mapped to it); undefined goes back to a PLAINTEXT connection's User:ANONYMOUS.
   */
  actAs(principal: KafkaPrincipal | undefined): void {
    const { session: _previous, ...connection } = this.connection;
    this.connection =
      principal === undefined
        ? connection
        : { ...connection, session: new ConnectionSession('SSL', principal) };
  }

  /** Sends one request frame through the router and returns its raw outcome. */
  send<K extends SupportedApiKey>(
    apiKey: K,
    apiVersion: number,
    body: RequestInput<K>,
    listenerName = fixtureListenerName,
  ): Promise<HandlerOutcome> {
    return this.sendFrame(
      encodeRequest(apiKey, apiVersion, this.nextCorrelationId++, 'fixture-client', body),
      listenerName,
    );
  }

  /** A frame as if it arrived on a connection of the listener `listenerName` (PLAINTEXT by default). */
  async sendFrame(frame: Buffer, listenerName = fixtureListenerName): Promise<HandlerOutcome> {
    return this.router(frame, { ...this.connection, listenerName });
  }

  /** Sends a request and decodes its response; fails the test if there is none or it does not decode. */
  async request<K extends SupportedApiKey>(
    apiKey: K,
    apiVersion: number,
    body: RequestInput<K>,
    listenerName = fixtureListenerName,
  ): Promise<ResponseBody<K>> {
    const outcome = await this.send(apiKey, apiVersion, body, listenerName);
    return decodeOutcome(apiKey, apiVersion, outcome);
  }

  /** Moves time: due timers (long polls, acks=all waits) fire. */
  advanceMs(deltaMs: number): void {
    this.timers.advanceMs(deltaMs);
  }

  async close(): Promise<void> {
    this.replicaManager.close();
    this.delayedOperations.expireAll();
    await this.logManager.close();
    await rm(this.logDir, { recursive: true, force: true });
  }
}

export function decodeOutcome<K extends SupportedApiKey>(
  apiKey: K,
  apiVersion: number,
  outcome: HandlerOutcome,
): ResponseBody<K> {
  if (outcome.kind !== 'respond') throw new Error(`expected a response, got ${JSON.stringify(outcome)}`);
  const decoded = decodeResponse(apiKey, apiVersion, outcome.response);
  if (!decoded.ok) throw new Error(`response does not decode: ${decoded.message}`);
  return decoded.body;
}

/** Lets pending I/O and promise callbacks run until `done()` holds (a request parked, a file written). */
export async function settle(done: () => boolean, turnsMax = 10_000): Promise<void> {
  for (let turn = 0; turn < turnsMax; turn++) {
    if (done()) return;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  throw new Error(`condition not reached after ${turnsMax} event-loop turns`);
}

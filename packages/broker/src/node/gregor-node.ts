// One Gregor node (process.roles=broker,controller): a voter of the metadata quorum, a broker that
// follows the committed metadata, and, while it leads the quorum, the active controller.
//
// Start-up order matters: meta.properties is checked before any data is touched; the internal
// gRPC server (Raft, controller, replication) starts before Raft so peers can reach it; the broker
// registers fenced, applies the metadata log, and opens its Kafka listeners only once the
// controller has unfenced it (as Kafka's BrokerServer does), so clients never see a broker that
// does not yet know the cluster.

import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import type { MetadataImage } from '@gregor/metadata';
import { ApiKey, ErrorCode } from '@gregor/protocol';
import { createRaftDriver, FAST_FAILOVER_TIMEOUTS, NotLeaderError, type RaftDriver } from '@gregor/raft';
import { LogManager, systemClock } from '@gregor/storage';
import * as grpc from '@grpc/grpc-js';
import type { BrokerContext, DescribedBrokerConfig } from '../apis/broker-context.js';
import { createInitProducerIdHandler } from '../apis/init-producer-id.js';
import type { BrokerConfig } from '../config/broker-config.js';
import { DelayedOperations, systemTimerScheduler } from '../delayed/delayed-operations.js';
import { groupApiHandlers } from '../groups/group-api-handlers.js';
import { GroupCoordinatorDriver } from '../groups/group-coordinator-driver.js';
import { ControllerClient, registerControllerService } from '../grpc/controller-grpc.js';
import { internalServerOptions } from '../grpc/protos.js';
import type { Logger } from '../logging.js';
import { logGrpcAcceptErrors } from '../network/accept-errors.js';
import { SocketServer } from '../network/socket-server.js';
import { controllerProducerIdSource } from '../producer-ids/controller-producer-id-source.js';
import { ProducerIdManager } from '../producer-ids/producer-id-manager.js';
import { ControllerRpcDispatcher } from '../quorum/controller-rpc.js';
import { MetadataPublisher } from '../quorum/metadata-publisher.js';
import { OffsetWatermark } from '../quorum/offset-watermark.js';
import { type MetadataLog, QuorumController } from '../quorum/quorum-controller.js';
import { LogManagerStore } from '../replica/log-store.js';
import {
  type AlterPartitionOutcome,
  type AlterPartitionProposal,
  ReplicaManager,
} from '../replica/replica-manager.js';
import { registerReplicaFetchService } from '../replication/replica-fetch-grpc.js';
import { ReplicaFetcherManager } from '../replication/replica-fetcher.js';
import { createRequestRouter } from '../request-router.js';
import { BrokerLifecycle } from './broker-lifecycle.js';
import { ensureMetaProperties } from './meta-properties.js';
import { DescriptorExhaustionWatch, storageOpenFilesMax } from './open-file-limit.js';
import { QuorumControllerChannel } from './quorum-controller-channel.js';

/** Kafka's controlled.shutdown.max.retries × retry.backoff, roughly: how long leaderships may take to move. */
export const controlledShutdownTimeoutMs = 10_000;
/** How often the replica manager's retention/flush/checkpoint maintenance is checked. */
const maintenanceIntervalMs = 1_000;
/** Floor of the ISR-expiration check period (replica.lag.time.max.ms / 2 otherwise). */
const isrCheckIntervalMsMin = 100;
/** How long one AlterPartition may take, redirects and retries included. */
const alterPartitionTimeoutMs = 5_000;
/** Kafka's security protocol id for PLAINTEXT (the only one served today). */
const plaintextSecurityProtocol = 0;
/** The directory of the metadata log under metadata.log.dir, as KRaft names it. */
export const metadataLogDirName = '__cluster_metadata-0';

export interface NodeAddresses {
  readonly kafka: readonly { name: string; host: string; port: number }[];
}

function raftMetadataLog(driver: RaftDriver): MetadataLog {
  return {
    propose: (payload, timeoutMs) => driver.propose(payload, { timeoutMs }),
    status: () => {
      const status = driver.status();
      return {
        leaderId: status.leaderId,
        epoch: status.epoch,
        highWatermark: status.highWatermark,
        logEndOffset: status.logEndOffset,
        isLeader: status.role === 'leader',
      };
    },
    onLeaderChange: (listener) => {
      driver.onLeaderChange(listener);
    },
  };
}

export class GregorNode {
  private grpcServer: grpc.Server | undefined;
  private raft: RaftDriver | undefined;
  private publisher = new MetadataPublisher();
  /** Metadata applied by this broker: image published AND replica manager caught up with it. */
  private readonly brokerApplied = new OffsetWatermark();
  private brokerImage: MetadataImage = this.publisher.image;
  private quorumController: QuorumController | undefined;
  private controllerClient: ControllerClient | undefined;
  private logManager: LogManager | undefined;
  private replicaManager: ReplicaManager | undefined;
  private groupCoordinator: GroupCoordinatorDriver | undefined;
  private fetcherManager: ReplicaFetcherManager | undefined;
  private isrTimer: NodeJS.Timeout | undefined;
  private delayedOperations: DelayedOperations | undefined;
  private lifecycle: BrokerLifecycle | undefined;
  private socketServer: SocketServer | undefined;
  private maintenanceTimer: NodeJS.Timeout | undefined;
  private cleanerTimer: NodeJS.Timeout | undefined;
  private metadataChain: Promise<void> = Promise.resolve();
  private stopping = false;

  constructor(
    readonly config: BrokerConfig,
    private readonly logger: Logger,
  ) {}

  get nodeId(): number {
    return this.config.settings.nodeId;
  }

  /** Starts every part; resolves once the broker is unfenced and its Kafka listeners accept clients. */
  async start(): Promise<NodeAddresses> {
    const { settings } = this.config;
    const metadataDir =
      settings.metadataLogDir !== '' ? settings.metadataLogDir : this.config.log.logDirs[0]!;
    for (const dir of new Set([...this.config.log.logDirs, metadataDir])) {
      ensureMetaProperties(dir, settings.clusterId, settings.nodeId);
    }
    this.logger.info(
      { clusterId: settings.clusterId, logDirs: this.config.log.logDirs, metadataDir },
      'starting Gregor node',
    );

    const openFilesMax = storageOpenFilesMax(settings.logOpenFilesMax, this.logger);

    // Internal gRPC server: Raft, the controller service and (issue 5) replica fetching.
    const server = new grpc.Server(internalServerOptions);
    this.grpcServer = server;
    const listener = this.config.controllerListener;
    const bindHost = listener.host === '' ? '0.0.0.0' : listener.host;
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(`${bindHost}:${listener.port}`, grpc.ServerCredentials.createInsecure(), (error) =>
        error === null
          ? resolve()
          : reject(new Error(`cannot bind ${listener.name} ${bindHost}:${listener.port}: ${error.message}`)),
      ),
    );
    if (!logGrpcAcceptErrors(server, listener.name, this.logger)) {
      this.logger.warn(
        { listener: listener.name },
        'cannot watch the gRPC listener for accept errors (grpc-js internals changed); EMFILE there may stop the node',
      );
    }

    // The replica manager follows the published metadata; the broker-applied watermark moves only
    // once it has acted on an image, so heartbeats and admin answers never run ahead of the logs.
    this.logManager = await LogManager.open({
      config: this.config.log,
      clock: systemClock,
      openFilesMax,
      onLogOpenFailure: (partition, error) =>
        this.logger.error(
          { partition, err: error },
          'cannot open the log of a local replica at start-up; it stays offline until it can',
        ),
    });
    this.delayedOperations = new DelayedOperations();
    const replicaManager = new ReplicaManager({
      brokerId: settings.nodeId,
      logStore: new LogManagerStore(this.logManager),
      brokerLogConfig: this.config.log.defaults,
      clock: systemClock,
      delayedOperations: this.delayedOperations,
      logger: this.logger.child({ component: 'replica-manager' }),
      retentionCheckIntervalMs: settings.logRetentionCheckIntervalMs,
      replicaLagTimeMaxMs: settings.replicaLagTimeMaxMs,
      producerIdExpirationMs: settings.producerIdExpirationMs,
      highWatermarkCheckpointIntervalMs: settings.replicaHighWatermarkCheckpointIntervalMs,
      alterPartition: (proposal) => this.alterPartition(proposal),
      onFollowersChanged: () => this.fetcherManager?.reconcile(),
    });
    this.replicaManager = replicaManager;
    // Created before any image is applied: it follows the offsets partitions this broker leads.
    this.groupCoordinator = new GroupCoordinatorDriver({
      brokerId: settings.nodeId,
      replicaManager,
      clock: systemClock,
      timers: systemTimerScheduler,
      random: { nextInt: (maxExclusive: number) => randomInt(maxExclusive) },
      logger: this.logger.child({ component: 'group-coordinator' }),
      offsetsTopic: {
        numPartitions: settings.offsetsTopicNumPartitions,
        replicationFactor: settings.offsetsTopicReplicationFactor,
        segmentBytes: settings.offsetsTopicSegmentBytes,
      },
      groupInitialRebalanceDelayMs: settings.groupInitialRebalanceDelayMs,
    });
    // Followers fetch from their leaders over the CONTROLLER listener: every node is a voter, so a
    // leader's replication address is its address in controller.quorum.voters.
    registerReplicaFetchService(server, settings.clusterId, () => this.replicaManager, this.logger);
    this.fetcherManager = new ReplicaFetcherManager(
      {
        brokerId: settings.nodeId,
        clusterId: settings.clusterId,
        maxWaitMs: settings.replicaFetchWaitMaxMs,
        partitionMaxBytes: settings.replicaFetchMaxBytes,
        responseMaxBytes: settings.replicaFetchResponseMaxBytes,
        backoffMs: settings.replicaFetchBackoffMs,
      },
      this.config.voters.map((voter) => ({ nodeId: voter.id, host: voter.host, port: voter.port })),
      replicaManager,
      () => this.lifecycle?.brokerEpoch ?? -1,
      this.logger.child({ component: 'replica-fetcher' }),
    );
    // Kafka's isr-expiration task runs every replica.lag.time.max.ms / 2.
    this.isrTimer = setInterval(
      () => replicaManager.shrinkLaggingIsrs(Date.now()),
      Math.max(isrCheckIntervalMsMin, Math.floor(settings.replicaLagTimeMaxMs / 2)),
    );
    this.publisher.onImage((image, _previous, appliedOffset) => {
      this.metadataChain = this.metadataChain.then(async () => {
        await replicaManager.applyMetadata(image);
        this.brokerImage = image;
        this.brokerApplied.advanceTo(appliedOffset);
      });
    });

    const raftLogger = this.logger.child({ component: 'raft' });
    this.raft = await createRaftDriver({
      nodeId: settings.nodeId,
      clusterId: settings.clusterId,
      voters: this.config.voters,
      dataDir: join(metadataDir, metadataLogDirName),
      timeouts: {
        ...FAST_FAILOVER_TIMEOUTS,
        electionTimeoutMs: settings.electionTimeoutMs,
        fetchTimeoutMs: settings.fetchTimeoutMs,
      },
      stateMachine: {
        apply: (entries) => this.publisher.apply(entries),
        snapshot: () => this.publisher.snapshot(),
        restore: (bytes, id) => this.publisher.restore(bytes, id.endOffset),
      },
      logger: raftLogger,
      grpcServer: server,
      onFatalError: (error) => {
        this.logger.fatal({ err: error }, 'metadata log failed; exiting');
        process.exit(70);
      },
    });
    this.raft.onLeaderChange((change) =>
      this.logger.info(
        { leaderId: change.leaderId, epoch: change.epoch, local: change.isLocalLeader },
        'metadata quorum leader',
      ),
    );

    const controller = new QuorumController({
      nodeId: settings.nodeId,
      clusterId: settings.clusterId,
      log: raftMetadataLog(this.raft),
      publisher: this.publisher,
      config: {
        brokerSessionTimeoutMs: settings.brokerSessionTimeoutMs,
        brokerHeartbeatIntervalMs: settings.brokerHeartbeatIntervalMs,
        uncleanLeaderElectionEnable: settings.uncleanLeaderElectionEnable,
        autoLeaderRebalanceEnable: settings.autoLeaderRebalanceEnable,
        defaultNumPartitions: settings.numPartitions,
        defaultReplicationFactor: settings.defaultReplicationFactor,
        partitionsPerBrokerMax: settings.maxBrokerPartitions,
      },
      random: { nextInt: (maxExclusive: number) => Math.floor(Math.random() * maxExclusive) },
      nowMs: () => Date.now(),
      logger: this.logger.child({ component: 'controller' }),
    });
    this.quorumController = controller;
    const dispatcher = new ControllerRpcDispatcher(
      settings.nodeId,
      settings.clusterId,
      controller,
      this.publisher,
      this.logger.child({ component: 'controller' }),
    );
    registerControllerService(server, dispatcher, this.logger);
    const raft = this.raft;
    this.controllerClient = new ControllerClient({
      nodeId: settings.nodeId,
      clusterId: settings.clusterId,
      voters: this.config.voters.map((voter) => ({ nodeId: voter.id, host: voter.host, port: voter.port })),
      local: dispatcher,
      knownLeaderId: () => raft.status().leaderId,
      logger: this.logger,
    });

    this.lifecycle = new BrokerLifecycle({
      brokerId: settings.nodeId,
      listeners: this.config.advertisedListeners
        .filter((advertised) => this.config.kafkaListeners.some((own) => own.name === advertised.name))
        .map((advertised) => ({
          name: advertised.name,
          host: advertised.host === '' ? 'localhost' : advertised.host,
          port: advertised.port,
          securityProtocol: plaintextSecurityProtocol,
        })),
      rack: null,
      heartbeatIntervalMs: settings.brokerHeartbeatIntervalMs,
      client: this.controllerClient,
      appliedMetadataOffset: () => this.brokerApplied.offset,
      logger: this.logger.child({ component: 'lifecycle' }),
    });
    this.lifecycle.start();
    await this.lifecycle.whenUnfenced();

    const context = this.brokerContext();
    this.socketServer = new SocketServer(
      createRequestRouter(context, {
        ...groupApiHandlers(this.groupCoordinator),
        [ApiKey.InitProducerId]: createInitProducerIdHandler(
          new ProducerIdManager(
            controllerProducerIdSource(
              this.controllerClient,
              settings.nodeId,
              () => this.lifecycle?.brokerEpoch ?? -1,
            ),
          ),
        ),
      }),
      settings.socketRequestMaxBytes,
      this.logger,
    );
    const bound = await this.socketServer.listen(this.config.kafkaListeners);
    const descriptorWatch = new DescriptorExhaustionWatch(this.logger);
    this.maintenanceTimer = setInterval(() => {
      void replicaManager.maintenance(Date.now()).catch((error: unknown) => {
        this.logger.error({ err: error }, 'log maintenance failed');
      });
      void descriptorWatch.check().catch((error: unknown) => {
        this.logger.error({ err: error }, 'file descriptor check failed');
      });
    }, maintenanceIntervalMs);
    // The log cleaner (compacted topics, __consumer_offsets first of all) every log.cleaner.backoff.ms,
    // never past a partition's high watermark: what is not replicated yet may still be truncated.
    const logManager = this.logManager;
    this.cleanerTimer = setInterval(() => {
      void logManager
        .runCleaner({
          upperBoundOffset: (log) => replicaManager.partition(log.topic, log.partition)?.highWatermark ?? 0,
        })
        .catch((error: unknown) => {
          this.logger.error({ err: error }, 'log cleaner failed');
        });
    }, logManager.cleanerConfig.backoffMs);
    this.logger.info({ nodeId: settings.nodeId }, 'Gregor node started');
    return { kafka: bound };
  }

  /** Sends a partition leader's ISR proposal to the active controller. */
  private async alterPartition(proposal: AlterPartitionProposal): Promise<AlterPartitionOutcome> {
    const client = this.controllerClient;
    const brokerEpoch = this.lifecycle?.brokerEpoch ?? -1;
    if (client === undefined || brokerEpoch < 0)
      return { errorCode: ErrorCode.NOT_CONTROLLER, partitionEpoch: -1 };
    const response = await client.call(
      'AlterPartition',
      {
        brokerId: this.nodeId,
        brokerEpoch,
        topicId: proposal.topicId,
        partitionIndex: proposal.partitionIndex,
        leaderEpoch: proposal.leaderEpoch,
        partitionEpoch: proposal.partitionEpoch,
        newIsr: [...proposal.newIsr],
      },
      alterPartitionTimeoutMs,
    );
    const errorCode =
      response.status.errorCode !== ErrorCode.NONE ? response.status.errorCode : response.partitionErrorCode;
    return { errorCode, partitionEpoch: errorCode === ErrorCode.NONE ? response.partitionEpoch : -1 };
  }

  private brokerContext(): BrokerContext {
    const { settings } = this.config;
    const raft = this.raft!;
    return {
      brokerId: settings.nodeId,
      clusterId: settings.clusterId,
      listenerName: this.config.kafkaListeners[0]!.name,
      settings: {
        numPartitions: settings.numPartitions,
        defaultReplicationFactor: settings.defaultReplicationFactor,
        autoCreateTopicsEnable: settings.autoCreateTopicsEnable,
        brokerLogConfig: this.config.log.defaults,
        describedConfigs: this.describedConfigs(),
      },
      metadata: {
        image: () => this.brokerImage,
        controllerId: () => raft.status().leaderId ?? -1,
      },
      controller: new QuorumControllerChannel(this.controllerClient!, {
        image: () => this.brokerImage,
        waitForOffset: (offset, timeoutMs) => this.brokerApplied.waitFor(offset, timeoutMs),
      }),
      replicaManager: this.replicaManager!,
      clock: systemClock,
      logger: this.logger.child({ component: 'kafka-api' }),
    };
  }

  private describedConfigs(): DescribedBrokerConfig[] {
    return [...this.config.raw.entries()].map(([name, value]) => ({
      name,
      value,
      source: 'static-broker-config' as const,
      isSensitive: false,
    }));
  }

  /**
   * Clean shutdown: hand leaderships over (controlled shutdown), stop serving clients, close logs
   * with a clean-shutdown marker, leave the quorum.
   */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.lifecycle !== undefined) {
      const handedOver = await this.lifecycle.shutDown(controlledShutdownTimeoutMs);
      this.logger.info(
        { handedOver },
        handedOver ? 'leaderships handed over' : 'controlled shutdown did not finish',
      );
    }
    if (this.maintenanceTimer !== undefined) clearInterval(this.maintenanceTimer);
    if (this.cleanerTimer !== undefined) clearInterval(this.cleanerTimer);
    if (this.isrTimer !== undefined) clearInterval(this.isrTimer);
    this.groupCoordinator?.close();
    await this.socketServer?.close();
    await this.fetcherManager?.close();
    this.delayedOperations?.expireAll();
    this.replicaManager?.close();
    await this.metadataChain.catch(() => undefined);
    // Kafka checkpoints high watermarks on clean shutdown, so a restart starts from them.
    await this.replicaManager?.checkpointHighWatermarks().catch((error: unknown) => {
      this.logger.error({ err: error }, 'high-watermark checkpoint failed at shutdown');
    });
    await this.logManager?.close();
    this.quorumController?.close();
    this.controllerClient?.close();
    await this.raft?.close().catch((error: unknown) => {
      if (!(error instanceof NotLeaderError)) throw error;
    });
    this.publisher.close();
    this.brokerApplied.close();
    await new Promise<void>((resolve) => {
      if (this.grpcServer === undefined) resolve();
      else this.grpcServer.tryShutdown(() => resolve());
    });
    this.logger.info('Gregor node stopped');
  }
}

// One Gregor node (process.roles=broker,controller): a voter of the metadata quorum, a broker that
// follows the committed metadata, and, while it leads the quorum, the active controller.
//
// Start-up order matters: meta.properties is checked before any data is touched; the internal
// gRPC server (Raft, controller, replication) starts before Raft so peers can reach it; the broker
// registers fenced, applies the metadata log, and opens its Kafka listeners only once the
// controller has unfenced it (as Kafka's BrokerServer does), so clients never see a broker that
// does not yet know the cluster. With gregor.metrics.port set, the metrics endpoint (/metrics,
// /healthz, /readyz) is bound with the other listeners, so probes are answered from the start.

import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import { type Clock, monotonicClock, systemClock, systemRandom, systemTimers } from '@gregor/ground';
import {
  type ControllerError,
  controllerError,
  type MetadataImage,
  offlineLogDirsPerHeartbeatMax,
  offlineReplicasPerHeartbeatMax,
} from '@gregor/metadata';
import { ErrorCode } from '@gregor/protocol';
import { createRaftDriver, FAST_FAILOVER_TIMEOUTS, NotLeaderError, type RaftDriver } from '@gregor/raft';
import { LogDirFailureChannel, LogManager } from '@gregor/storage';
import * as grpc from '@grpc/grpc-js';
import { apiHandlers } from '../apis/api-handlers.js';
import type { BrokerContext, DescribedBrokerConfig } from '../apis/broker-context.js';
import {
  type BrokerConfig,
  consumerAssignorName,
  describedBrokerSettings,
  type ListenerSpec,
  securityProtocolIds,
} from '../config/broker-config.js';
import { DelayedOperations } from '../delayed/delayed-operations.js';
import {
  FetchSessionCache,
  fetchSessionCachedPartitionsMax,
  minIncrementalFetchSessionEvictionMs,
} from '../fetch-sessions/fetch-session-cache.js';
import { GroupCoordinatorDriver } from '../groups/group-coordinator-driver.js';
import { offsetsTopicName } from '../groups/offsets-topic.js';
import { ControllerClient, registerControllerService } from '../grpc/controller-grpc.js';
import { internalGrpcCredentials } from '../grpc/internal-credentials.js';
import { ownCertificateProblem, peerNodeIdentityInterceptor } from '../grpc/peer-node-identity.js';
import { internalServerOptions } from '../grpc/protos.js';
import type { Logger } from '../logging.js';
import { type BrokerMetrics, BrokerMetricsRecorder, noBrokerMetrics } from '../metrics/broker-metrics.js';
import {
  type ConsumerGroupOffset,
  leaderHighWatermarkTimeoutMs,
  readLeaderHighWatermarks,
} from '../metrics/consumer-group-lag.js';
import { isrChanges } from '../metrics/isr-changes.js';
import { MetricsHttpServer } from '../metrics/metrics-http-server.js';
import {
  createMetricsExporter,
  KafkaBrokerState,
  type MetricsExporter,
  type RaftMetricsStatus,
} from '../metrics/prometheus-exporter.js';
import { type Readiness, readiness } from '../metrics/readiness.js';
import { logGrpcAcceptErrors, logGrpcTlsHandshakeFailures } from '../network/accept-errors.js';
import type { FrameHandler, HandlerOutcome } from '../network/connection.js';
import { SocketServer } from '../network/socket-server.js';
import { TlsFileReloader } from '../network/tls-file-reloader.js';
import { controllerProducerIdSource } from '../producer-ids/controller-producer-id-source.js';
import { ProducerIdManager } from '../producer-ids/producer-id-manager.js';
import { ControllerRpcDispatcher, type QuorumView } from '../quorum/controller-rpc.js';
import { MetadataPublisher } from '../quorum/metadata-publisher.js';
import { OffsetWatermark } from '../quorum/offset-watermark.js';
import { type MetadataLog, majorityFetchedWithin, QuorumController } from '../quorum/quorum-controller.js';
import { ClientQuotas } from '../quotas/client-quotas.js';
import { ConnectionQuotas, ipConnectionRateOf } from '../quotas/connection-quotas.js';
import { LogManagerStore } from '../replica/log-store.js';
import {
  type AlterPartitionOutcome,
  type AlterPartitionProposal,
  ReplicaManager,
} from '../replica/replica-manager.js';
import {
  LeaderHighWatermarksClients,
  localHighWatermarks,
  registerLeaderHighWatermarksService,
} from '../replication/leader-high-watermarks-grpc.js';
import { registerReplicaFetchService } from '../replication/replica-fetch-grpc.js';
import { ReplicaFetcherManager } from '../replication/replica-fetcher.js';
import { createRequestRouter } from '../request-router.js';
import { parseSuperUsers, StandardAuthorizer } from '../security/authorizer.js';
import { delegationTokenCredential, delegationTokenSecretKey } from '../security/delegation-tokens.js';
import { SaslAuthenticator } from '../security/sasl-authenticator.js';
import { TransactionCoordinatorDriver } from '../transactions/transaction-coordinator-driver.js';
import { registerTxnMarkersService } from '../transactions/txn-markers-grpc.js';
import { formatListeners, writeBoundListeners } from './bound-listeners.js';
import { BrokerLease } from './broker-lease.js';
import { BrokerLifecycle } from './broker-lifecycle.js';
import { watchEventLoopStalls } from './event-loop-stall-watch.js';
import { checkLogDirUsable } from './log-dir-check.js';
import { ensureMetaProperties } from './meta-properties.js';
import { MetadataBarrier } from './metadata-barrier.js';
import { DescriptorExhaustionWatch, storageOpenFilesMax } from './open-file-limit.js';
import { QuorumControllerChannel } from './quorum-controller-channel.js';
import { VoterAddresses } from './voter-addresses.js';

/** Kafka's controlled.shutdown.max.retries × retry.backoff, roughly: how long leaderships may take to move. */
export const controlledShutdownTimeoutMs = 10_000;
/** How often the replica manager's retention/flush/checkpoint maintenance is checked. */
const maintenanceIntervalMs = 1_000;
/** Floor of the ISR-expiration check period (replica.lag.time.max.ms / 2 otherwise). */
const isrCheckIntervalMsMin = 100;
/**
 * Times requests for request_percentage: monotonicClock is whole milliseconds, and most requests take
 * a fraction of one, which would then count as nothing.
 */
const requestTimeClock: Clock = Object.freeze({ nowMs: () => performance.now() });
/** How long one AlterPartition may take, redirects and retries included. */
const alterPartitionTimeoutMs = 5_000;
/** The directory of the metadata log under metadata.log.dir, as KRaft names it. */
export const metadataLogDirName = '__cluster_metadata-0';

export interface NodeAddresses {
  readonly kafka: readonly { name: string; host: string; port: number }[];
}

export interface GregorNodeOptions {
  /**
   * What the node does when it cannot go on (its metadata log failed, or every log dir, or the
   * metadata log dir): exit the process with `exitCode`, as Kafka halts, unless told otherwise.
   * Several nodes in one process (@gregor/testkit) must not take the process down with them.
   */
  readonly halt?: (exitCode: number, reason: string) => void;
}

/** Exit codes of a halted node. */
export const haltExitCode = { storageLost: 1, metadataLogFailed: 70 } as const;

const exitProcess = (exitCode: number): void => {
  process.exit(exitCode);
};

/** The quorum while this node's Raft leads it, its times turned from Raft's clock into wall-clock ms. */
function quorumViewOf(driver: RaftDriver | undefined): QuorumView | undefined {
  const description = driver?.describeQuorum();
  if (description === undefined) return undefined;
  const wallMinusRaftMs = Date.now() - description.clockNowMs;
  const wallMs = (raftMs: number): number => (raftMs < 0 ? -1 : Math.round(raftMs + wallMinusRaftMs));
  return {
    leaderId: description.leaderId,
    leaderEpoch: description.epoch,
    highWatermark: description.highWatermark,
    voters: description.voters.map((voter) => ({
      replicaId: voter.replicaId,
      logEndOffset: voter.logEndOffset,
      lastFetchTimestamp: wallMs(voter.lastFetchMs),
      lastCaughtUpTimestamp: wallMs(voter.lastCaughtUpMs),
    })),
  };
}

/** DescribeQuorum from whichever node leads the quorum (the controller client follows redirects). */
async function describeQuorumAtLeader(
  client: ControllerClient,
  timeoutMs: number,
): Promise<QuorumView | ControllerError> {
  const response = await client.call('DescribeQuorum', {}, timeoutMs);
  if (response.status.errorCode !== ErrorCode.NONE) {
    return controllerError(response.status.errorCode, response.status.errorMessage);
  }
  return response;
}

function raftMetadataLog(driver: RaftDriver, metrics: BrokerMetrics): MetadataLog {
  return {
    // Kafka's raft-metrics commit-latency: from the leader's append to the entry's commit.
    propose: (payload, timeoutMs) => {
      const startMs = metrics.nowMs();
      return driver.propose(payload, { timeoutMs }).then((committed) => {
        const endMs = metrics.nowMs();
        metrics.metadataCommitted(endMs - startMs, endMs);
        return committed;
      });
    },
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
    leadershipConfirmedWithin: (maxAgeMs) => {
      const quorum = driver.describeQuorum();
      return quorum !== undefined && majorityFetchedWithin(quorum, maxAgeMs);
    },
  };
}

export class GregorNode {
  private grpcServer: grpc.Server | undefined;
  /** Watches the controller listener's keystore and truststore files (SSL only). */
  private controllerTlsReloader: TlsFileReloader | undefined;
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
  private transactionCoordinator: TransactionCoordinatorDriver | undefined;
  private fetcherManager: ReplicaFetcherManager | undefined;
  /** Other leaders' high watermarks, for the consumer-group lag of the groups this node coordinates. */
  private highWatermarkClients: LeaderHighWatermarksClients | undefined;
  private isrTimer: NodeJS.Timeout | undefined;
  private delayedOperations: DelayedOperations | undefined;
  private lifecycle: BrokerLifecycle | undefined;
  private socketServer: SocketServer | undefined;
  private voterAddresses: VoterAddresses | undefined;
  /** Kafka requests wait here until the broker is unfenced (the listeners are bound before that). */
  private readonly requestGate = new RequestGate();
  private stopStallWatch: (() => void) | undefined;
  private maintenanceTimer: NodeJS.Timeout | undefined;
  private cleanerTimer: NodeJS.Timeout | undefined;
  private metadataChain: Promise<void> = Promise.resolve();
  private stopping = false;
  private readonly halt: (exitCode: number, reason: string) => void;
  private logDirFailures: LogDirFailureChannel | undefined;
  /** What the request path records: a recorder when gregor.metrics.port is on, else nothing. */
  private readonly metrics: BrokerMetrics;
  /** Consumers' incremental fetch sessions, kept for the node's life as Kafka's FetchManager keeps them. */
  private readonly fetchSessions: FetchSessionCache;
  private readonly metricsExporter: MetricsExporter | undefined;
  private metricsServer: MetricsHttpServer | undefined;

  constructor(
    readonly config: BrokerConfig,
    private readonly logger: Logger,
    options: GregorNodeOptions = {},
  ) {
    this.halt = options.halt ?? exitProcess;
    const { settings } = config;
    this.fetchSessions = new FetchSessionCache(
      {
        slots: settings.maxIncrementalFetchSessionCacheSlots,
        evictionMs: minIncrementalFetchSessionEvictionMs,
        cachedPartitionsMax: fetchSessionCachedPartitionsMax,
      },
      systemRandom,
    );
    if (settings.metricsPort < 0) {
      this.metrics = noBrokerMetrics;
      return;
    }
    const recorder = new BrokerMetricsRecorder(
      { windowMs: settings.metricsSampleWindowMs, samples: settings.metricsNumSamples },
      () => performance.now(),
      (topic) => this.brokerImage.topic(topic) !== undefined,
    );
    this.metrics = recorder;
    this.metricsExporter = createMetricsExporter({
      brokerId: settings.nodeId,
      recorder,
      image: () => this.brokerImage,
      isReplicaOffline: (topic, partition) => this.replicaManager?.isOffline(topic, partition) ?? false,
      minInsyncReplicas: (topic) => {
        const value = Number(this.brokerImage.topicConfigs(topic).get('min.insync.replicas'));
        const defaults = this.replicaManager?.brokerLogDefaults ?? config.log.defaults;
        return Number.isInteger(value) && value >= 1 ? value : defaults.minInsyncReplicas;
      },
      offlineLogDirCount: () => this.logDirFailures?.offlineLogDirs.length ?? 0,
      // The quotas run on systemClock, as the replica manager and fetcher give it to them.
      replicationThrottledByteRates: () =>
        this.replicaManager?.replicationThrottles.byteRates(systemClock.nowMs()) ?? {
          leader: 0,
          follower: 0,
          alterLogDirs: 0,
        },
      brokerState: () => this.brokerState(),
      requestMemory: () => {
        const pool = this.socketServer?.requestMemory;
        return {
          capacityBytes: settings.queuedMaxRequestBytes,
          usedBytes: pool?.reservedBytes ?? 0,
          usedBytesMax: pool?.reservedBytesMax ?? 0,
          waitingConnections: pool?.waitingCount ?? 0,
        };
      },
      fetchSessions: () => ({
        sessions: this.fetchSessions.sessionCount,
        cachedPartitions: this.fetchSessions.cachedPartitionCount,
        evictions: this.fetchSessions.evictionCount,
      }),
      raftStatus: (): RaftMetricsStatus =>
        this.raft?.status() ?? {
          role: 'follower',
          epoch: 0,
          leaderId: undefined,
          votedFor: undefined,
          highWatermark: 0,
          logEndOffset: 0,
        },
      isActiveController: () => this.quorumController?.isActive ?? false,
      consumerGroupOffsets: (limit) => this.groupCoordinator?.committedOffsets(limit) ?? [],
      leaderHighWatermarks: (offsets) => this.leaderHighWatermarks(offsets),
    });
  }

  get nodeId(): number {
    return this.config.settings.nodeId;
  }

  /** Starts every part; resolves once the broker is unfenced and its Kafka listeners accept clients. */
  async start(): Promise<NodeAddresses> {
    const { settings } = this.config;
    const metadataDir =
      settings.metadataLogDir !== '' ? settings.metadataLogDir : this.config.log.logDirs[0]!;
    for (const { key, reason } of this.config.keysWithoutEffect) {
      this.logger.warn({ key }, `${key} has no effect in Gregor: ${reason}`);
    }
    for (const { name, reason } of this.config.ignoredEnvironmentVariables) {
      this.logger.warn({ variable: name }, `environment variable ${name} is ignored: ${reason}`);
    }
    this.stopStallWatch = watchEventLoopStalls({ clock: monotonicClock, logger: this.logger });
    const dirs = [...new Set([...this.config.log.logDirs, metadataDir])];
    // Before anything creates them: a recursive mkdir under /proc never returns.
    for (const dir of dirs) checkLogDirUsable(dir);
    for (const dir of dirs) ensureMetaProperties(dir, settings.clusterId, settings.nodeId);
    this.logger.info(
      { clusterId: settings.clusterId, logDirs: this.config.log.logDirs, metadataDir },
      'starting Gregor node',
    );

    // The nofile soft limit is raised before anything opens a descriptor; storage's budget is sized
    // from it.
    const openFilesMax = storageOpenFilesMax(settings.logOpenFilesMax, this.logger);

    // Every listener is bound first, so a port 0 is known before anything is announced: the internal
    // gRPC server (Raft, the controller service, replica fetching) and the Kafka listeners, which
    // accept connections at once but answer only once the broker is unfenced (as Kafka's acceptors).
    const listener = this.config.controllerListener;
    // With mutual TLS a call that names a node must come from that node's certificate.
    const server = new grpc.Server(
      this.config.controllerTls?.tls.clientAuth === 'required'
        ? {
            ...internalServerOptions,
            interceptors: [peerNodeIdentityInterceptor(listener.name, this.logger)],
          }
        : internalServerOptions,
    );
    this.grpcServer = server;
    const internalCredentials = internalGrpcCredentials(this.config.controllerTls);
    const bindHost = listener.host === '' ? '0.0.0.0' : listener.host;
    const controllerPort = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`${bindHost}:${listener.port}`, internalCredentials.server, (error, port) =>
        error === null
          ? resolve(port)
          : reject(new Error(`cannot bind ${listener.name} ${bindHost}:${listener.port}: ${error.message}`)),
      ),
    );
    if (!logGrpcAcceptErrors(server, listener.name, this.logger)) {
      this.logger.warn(
        { listener: listener.name },
        'cannot watch the gRPC listener for accept errors (grpc-js internals changed); EMFILE there may stop the node',
      );
    }
    const controllerTls = this.config.controllerTls?.tls;
    const ownCertificate =
      controllerTls?.clientAuth === 'required'
        ? ownCertificateProblem(controllerTls.secureContext, settings.nodeId)
        : undefined;
    if (ownCertificate !== undefined) this.logger.error({ listener: listener.name }, ownCertificate);
    if (this.config.controllerTls === undefined) {
      this.logger.info(
        { listener: listener.name },
        `listener ${listener.name} serves the nodes' gRPC in PLAINTEXT: unencrypted and unauthenticated, for local development (map it to SSL for TLS between nodes)`,
      );
    } else {
      this.logger.info(
        { listener: listener.name, security: internalCredentials.description },
        `listener ${listener.name} serves the nodes' gRPC over TLS; peers are dialled with the same keystore`,
      );
      const { replaceTls } = internalCredentials;
      if (replaceTls !== undefined && this.config.controllerTls !== undefined) {
        this.controllerTlsReloader = new TlsFileReloader(
          replaceTls,
          listener.name,
          this.config.controllerTls.tls,
          this.logger,
        );
        this.controllerTlsReloader.start();
      }
      if (!logGrpcTlsHandshakeFailures(server, listener.name, this.logger)) {
        this.logger.warn(
          { listener: listener.name },
          'cannot watch the gRPC listener for refused TLS handshakes (grpc-js internals changed); they will not be logged',
        );
      }
    }
    this.socketServer = new SocketServer(
      this.requestGate.handler,
      {
        frameMaxBytes: settings.socketRequestMaxBytes,
        requestMemoryBytes: settings.queuedMaxRequestBytes,
        sendBufferBytes: settings.socketSendBufferBytes,
        receiveBufferBytes: settings.socketReceiveBufferBytes,
        listenBacklog: settings.socketListenBacklogSize,
        saslServerMaxReceiveBytes: settings.saslServerMaxReceiveSize,
      },
      this.logger,
      {
        quotas: new ConnectionQuotas(
          this.config.connectionLimits,
          { samples: settings.quotaWindowNum, windowMs: settings.quotaWindowSizeSeconds * 1000 },
          ipConnectionRateOf(() => this.brokerImage.clientQuotas),
        ),
        clock: monotonicClock,
        timers: systemTimers,
      },
      this.metrics,
    );
    const boundKafka = await this.socketServer.listen(this.config.kafkaListeners, (name) => {
      const tls = this.config.listenerTls.get(name);
      return {
        protocol: this.config.listenerSecurityProtocols.get(name) ?? 'PLAINTEXT',
        ...(tls === undefined ? {} : { tls }),
      };
    });
    for (const [name, tls] of this.config.listenerTls) {
      this.logger.info(
        { listener: name, keystore: tls.description, clientAuth: tls.clientAuth },
        `listener ${name} serves TLS`,
      );
    }
    const bound: ListenerSpec[] = [...boundKafka, { ...listener, port: controllerPort }];
    const exporter = this.metricsExporter;
    if (exporter !== undefined) {
      // On the first Kafka listener's host: every interface when it names none (as in a container).
      this.metricsServer = await MetricsHttpServer.listen(
        this.config.kafkaListeners[0]!.host,
        settings.metricsPort,
        {
          metrics: async () => ({ contentType: exporter.contentType, text: await exporter.render() }),
          readiness: () => this.readiness(),
        },
        this.logger.child({ component: 'metrics' }),
      );
    }
    const metricsPort = this.metricsServer?.port;
    writeBoundListeners(metadataDir, bound, metricsPort);
    this.logger.info({ listeners: formatListeners(bound), metricsPort }, 'bound listeners');
    if (metricsPort !== undefined)
      this.logger.info({ metricsPort }, `metrics on port ${metricsPort}: /metrics, /healthz, /readyz`);
    this.voterAddresses = await VoterAddresses.open({
      nodeId: settings.nodeId,
      voters: this.config.voters,
      boundPort: controllerPort,
      file: settings.controllerQuorumVotersFile,
      logger: this.logger.child({ component: 'voters' }),
    });
    const voterAddresses = this.voterAddresses;
    const addressOf = (nodeId: number) => voterAddresses.addressOf(nodeId);

    // The replica manager follows the published metadata; the broker-applied watermark moves only
    // once it has acted on an image, so heartbeats and admin answers never run ahead of the logs.
    const logDirFailures = new LogDirFailureChannel();
    this.logDirFailures = logDirFailures;
    this.logManager = await LogManager.open({
      config: this.config.log,
      clock: systemClock,
      openFilesMax,
      onLogOpenFailure: (partition, error) =>
        this.logger.error(
          { partition, err: error },
          'cannot open the log of a local replica at start-up; it stays offline until it can',
        ),
      logDirFailureChannel: logDirFailures,
      // replica.alter.log.dirs.io.max.bytes.per.second, as the replica manager follows it from the
      // image (no move starts before the replica manager exists); counted on the quotas' clock.
      logDirCopyThrottle: {
        rateBytesPerSecond: () =>
          this.replicaManager?.replicationThrottles.alterLogDirs.boundBytesPerSecond ??
          Number.POSITIVE_INFINITY,
        recordCopied: (bytes) =>
          this.replicaManager?.replicationThrottles.alterLogDirs.record(bytes, systemClock.nowMs()),
      },
      timers: systemTimers,
    });
    this.haltIfStorageLost(logDirFailures, metadataDir);
    this.delayedOperations = new DelayedOperations(systemTimers);
    const leaderLease = new BrokerLease(monotonicClock, settings.brokerSessionTimeoutMs);
    const replicaManager = new ReplicaManager({
      brokerId: settings.nodeId,
      logStore: new LogManagerStore(this.logManager),
      brokerLogConfig: this.config.log.defaults,
      clock: systemClock,
      timers: systemTimers,
      delayedOperations: this.delayedOperations,
      logger: this.logger.child({ component: 'replica-manager' }),
      retentionCheckIntervalMs: settings.logRetentionCheckIntervalMs,
      replicaLagTimeMaxMs: settings.replicaLagTimeMaxMs,
      producerIdExpirationMs: settings.producerIdExpirationMs,
      highWatermarkCheckpointIntervalMs: settings.replicaHighWatermarkCheckpointIntervalMs,
      alterPartition: (proposal) => this.alterPartition(proposal),
      onFollowersChanged: () => this.fetcherManager?.reconcile(),
      logDirFailureChannel: logDirFailures,
      leaderLease,
    });
    // After the replica manager's own listener: its replicas on the dir are offline by now, so the
    // heartbeat sent at once reports them (KIP-858's OfflineLogDirs).
    logDirFailures.onLogDirFailure(() => {
      this.haltIfStorageLost(logDirFailures, metadataDir);
      this.lifecycle?.heartbeatNow();
    });
    this.replicaManager = replicaManager;
    // Created before any image is applied: it follows the offsets partitions this broker leads.
    const groupLogger = this.logger.child({ component: 'group-coordinator' });
    this.groupCoordinator = new GroupCoordinatorDriver({
      brokerId: settings.nodeId,
      replicaManager,
      clock: systemClock,
      timers: systemTimers,
      random: { nextInt: (maxExclusive: number) => randomInt(maxExclusive) },
      logger: groupLogger,
      offsetsTopic: {
        numPartitions: settings.offsetsTopicNumPartitions,
        replicationFactor: settings.offsetsTopicReplicationFactor,
        segmentBytes: settings.offsetsTopicSegmentBytes,
      },
      groupInitialRebalanceDelayMs: settings.groupInitialRebalanceDelayMs,
      coordinatorConfig: {
        sessionTimeoutMsMin: settings.groupMinSessionTimeoutMs,
        sessionTimeoutMsMax: settings.groupMaxSessionTimeoutMs,
        consumerHeartbeatIntervalMs: settings.groupConsumerHeartbeatIntervalMs,
        consumerSessionTimeoutMs: settings.groupConsumerSessionTimeoutMs,
        consumerMembersPerGroupMax: settings.groupConsumerMaxSize,
        offsetsRetentionMs: settings.offsetsRetentionMinutes * 60_000,
        offsetsRetentionCheckIntervalMs: settings.offsetsRetentionCheckIntervalMs,
        consumerAssignors: settings.groupConsumerAssignors.flatMap(
          (name) => consumerAssignorName(name) ?? [],
        ),
      },
      metadataBarrier: new MetadataBarrier(
        {
          partitionLeaders: async (timeoutMs) => {
            // Kafka requests are served only once unfenced, after the controller client exists.
            const client = this.controllerClient;
            if (client === undefined) return undefined;
            const response = await client.call('MetadataBarrier', { topic: offsetsTopicName }, timeoutMs);
            if (response.status.errorCode !== ErrorCode.NONE) return undefined;
            return new Map(
              response.partitions.map(({ partitionIndex, leaderId, leaderEpoch }) => [
                partitionIndex,
                { leaderId, leaderEpoch },
              ]),
            );
          },
        },
        settings.nodeId,
        settings.brokerSessionTimeoutMs,
        (why) =>
          groupLogger.warn(
            { why },
            'metadata barrier failed: reads of committed offsets answer NOT_COORDINATOR',
          ),
      ),
    });
    // Transaction markers travel over the same internal gRPC server as replication.
    registerTxnMarkersService(
      server,
      settings.clusterId,
      () => this.replicaManager,
      () => this.transactionCoordinator,
      this.logger,
    );
    // So do the high watermarks another node's consumer-group lag needs from the partitions led here.
    registerLeaderHighWatermarksService(server, settings.clusterId, () => this.replicaManager, this.logger);
    if (this.metricsExporter !== undefined)
      this.highWatermarkClients = new LeaderHighWatermarksClients(
        settings.clusterId,
        internalCredentials.channel,
      );
    // Followers fetch from their leaders over the CONTROLLER listener: every node is a voter, so a
    // leader's replication address is its address in controller.quorum.voters.
    registerReplicaFetchService(
      server,
      settings.clusterId,
      () => this.replicaManager,
      this.logger,
      this.metrics,
    );
    this.fetcherManager = new ReplicaFetcherManager(
      {
        brokerId: settings.nodeId,
        clusterId: settings.clusterId,
        maxWaitMs: settings.replicaFetchWaitMaxMs,
        partitionMaxBytes: settings.replicaFetchMaxBytes,
        responseMaxBytes: settings.replicaFetchResponseMaxBytes,
        backoffMs: settings.replicaFetchBackoffMs,
        credentials: internalCredentials.channel,
      },
      addressOf,
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
        this.countIsrChanges(this.brokerImage, image);
        this.brokerImage = image;
        this.brokerApplied.advanceTo(appliedOffset);
      });
    });

    const raftLogger = this.logger.child({ component: 'raft' });
    this.raft = await createRaftDriver({
      nodeId: settings.nodeId,
      clusterId: settings.clusterId,
      voters: voterAddresses.voters,
      transport: { addressOf, credentials: internalCredentials.channel },
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
        if (this.stopping) return;
        this.logger.fatal({ err: error }, 'metadata log failed; exiting');
        this.halt(haltExitCode.metadataLogFailed, 'metadata log failed');
      },
    });
    let lastLeaderEpoch = -1;
    this.raft.onLeaderChange((change) => {
      this.logger.info(
        { leaderId: change.leaderId, epoch: change.epoch, local: change.isLocalLeader },
        'metadata quorum leader',
      );
      if (change.leaderId !== undefined && change.epoch !== lastLeaderEpoch) {
        lastLeaderEpoch = change.epoch;
        this.metrics.newActiveController();
      }
    });

    const controller = new QuorumController({
      nodeId: settings.nodeId,
      clusterId: settings.clusterId,
      log: raftMetadataLog(this.raft, this.metrics),
      publisher: this.publisher,
      config: {
        brokerSessionTimeoutMs: settings.brokerSessionTimeoutMs,
        brokerHeartbeatIntervalMs: settings.brokerHeartbeatIntervalMs,
        uncleanLeaderElectionEnable: settings.uncleanLeaderElectionEnable,
        autoLeaderRebalanceEnable: settings.autoLeaderRebalanceEnable,
        defaultNumPartitions: settings.numPartitions,
        defaultReplicationFactor: settings.defaultReplicationFactor,
        minInsyncReplicas: this.config.log.defaults.minInsyncReplicas,
        partitionsPerBrokerMax: settings.maxBrokerPartitions,
        delegationTokenMaxLifetimeMs: settings.delegationTokenMaxLifetimeMs,
        delegationTokenExpiryTimeMs: settings.delegationTokenExpiryTimeMs,
        delegationTokenExpiryCheckIntervalMs: settings.delegationTokenExpiryCheckIntervalMs,
      },
      random: systemRandom,
      nowMs: () => Date.now(),
      leadershipMaxAgeMs: settings.fetchTimeoutMs,
      logger: this.logger.child({ component: 'controller' }),
    });
    this.quorumController = controller;
    const dispatcher = new ControllerRpcDispatcher(
      settings.nodeId,
      settings.clusterId,
      controller,
      this.publisher,
      this.config.voters.map((voter) => voter.id),
      this.logger.child({ component: 'controller' }),
      () => quorumViewOf(this.raft),
    );
    registerControllerService(server, dispatcher, this.logger);
    const raft = this.raft;
    this.controllerClient = new ControllerClient({
      nodeId: settings.nodeId,
      clusterId: settings.clusterId,
      voterIds: this.config.voters.map((voter) => voter.id),
      addressOf,
      local: dispatcher,
      knownLeaderId: () => raft.status().leaderId,
      credentials: internalCredentials.channel,
      logger: this.logger,
    });

    this.lifecycle = new BrokerLifecycle({
      brokerId: settings.nodeId,
      listeners: this.config.advertisedListeners
        .filter((advertised) => boundKafka.some((own) => own.name === advertised.name))
        .map((advertised) => ({
          name: advertised.name,
          host: advertised.host === '' ? 'localhost' : advertised.host,
          // Port 0 advertises the port the listener bound, as Kafka does.
          port:
            advertised.port === 0
              ? boundKafka.find((own) => own.name === advertised.name)!.port
              : advertised.port,
          securityProtocol:
            securityProtocolIds[this.config.listenerSecurityProtocols.get(advertised.name) ?? 'PLAINTEXT'],
        })),
      rack: settings.brokerRack === '' ? null : settings.brokerRack,
      heartbeatIntervalMs: settings.brokerHeartbeatIntervalMs,
      client: this.controllerClient,
      appliedMetadataOffset: () => this.brokerApplied.offset,
      offlineLogDirs: () => {
        const reported = this.brokerImage.broker(settings.nodeId)?.offlineLogDirs ?? [];
        return {
          logDirs: logDirFailures.offlineLogDirs
            .map((failure) => failure.logDir)
            .filter((logDir) => !reported.includes(logDir))
            .slice(0, offlineLogDirsPerHeartbeatMax),
          replicas: replicaManager.unreportedOfflineReplicas(offlineReplicasPerHeartbeatMax),
        };
      },
      lease: leaderLease,
      onLeaseLapsed: () => replicaManager.leaseLapsed(),
      onLeaseHeld: () => replicaManager.leaseRegained(),
      logger: this.logger.child({ component: 'lifecycle' }),
    });
    this.lifecycle.start();
    await this.lifecycle.whenUnfenced();

    const context = this.brokerContext();
    const producerIds = new ProducerIdManager(
      controllerProducerIdSource(
        this.controllerClient,
        settings.nodeId,
        () => this.lifecycle?.brokerEpoch ?? -1,
      ),
    );
    this.transactionCoordinator = new TransactionCoordinatorDriver({
      brokerId: settings.nodeId,
      clusterId: settings.clusterId,
      replicaManager,
      producerIds,
      clock: systemClock,
      timers: systemTimers,
      logger: this.logger.child({ component: 'transaction-coordinator' }),
      topic: {
        numPartitions: settings.transactionStateLogNumPartitions,
        replicationFactor: settings.transactionStateLogReplicationFactor,
        segmentBytes: settings.transactionStateLogSegmentBytes,
      },
      transactionMaxTimeoutMs: settings.transactionMaxTimeoutMs,
      transactionalIdExpirationMs: settings.transactionalIdExpirationMs,
      transactionalIdCleanupIntervalMs: settings.transactionRemoveExpiredTransactionCleanupIntervalMs,
      offsetsTopicNumPartitions: settings.offsetsTopicNumPartitions,
      addressOf,
      credentials: internalCredentials.channel,
    });
    // KIP-890 part 1: leaders ask the coordinator before a producer's first transactional batch.
    // KIP-890 part 2: transactions-v2 produces (v12+) are added to their transaction through it.
    replicaManager.useTransactionVerifier(
      this.transactionCoordinator,
      settings.transactionPartitionVerificationEnable,
    );
    this.requestGate.open(
      createRequestRouter(
        context,
        apiHandlers({
          sasl: new SaslAuthenticator(
            this.config.listenerSasl,
            (user, mechanism) => context.metadata.image().userScramCredentials(user).get(mechanism),
            () => context.metadata.image().clusterSecret,
            () => context.clock.nowMs(),
            (tokenId) =>
              delegationTokenCredential(
                context.metadata.image(),
                delegationTokenSecretKey(context.settings),
                tokenId,
              ),
          ),
          groups: this.groupCoordinator,
          producerIds,
          transactions: this.transactionCoordinator,
          quorum: {
            describe: (timeoutMs) => describeQuorumAtLeader(this.controllerClient!, timeoutMs),
            nodes: () => {
              const listener = this.config.controllerListener;
              return (this.voterAddresses?.voters ?? []).map((voter) => ({
                nodeId: voter.id,
                listeners: [{ name: listener.name, host: voter.host, port: voter.port }],
              }));
            },
          },
        }),
      ),
    );
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
    return { kafka: boundKafka };
  }

  /**
   * Kafka halts a broker whose every log dir failed, or whose metadata log dir did: it can serve
   * nothing (or cannot keep the metadata log), and a restart is what brings a dir back.
   */
  private haltIfStorageLost(failures: LogDirFailureChannel, metadataDir: string): void {
    const offline = failures.offlineLogDirs;
    const allFailed = this.config.log.logDirs.every((logDir) => failures.isOffline(logDir));
    // A node being stopped or killed closes its files: what fails afterwards is not a disk.
    if (this.stopping || (!allFailed && !failures.isOffline(metadataDir))) return;
    const reason = allFailed
      ? 'every log dir failed; halting (Kafka shuts the broker down)'
      : 'the metadata log dir failed; halting';
    this.logger.fatal({ offlineLogDirs: offline, metadataDir }, reason);
    this.halt(haltExitCode.storageLost, reason);
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
      settings: {
        numPartitions: settings.numPartitions,
        defaultReplicationFactor: settings.defaultReplicationFactor,
        autoCreateTopicsEnable: settings.autoCreateTopicsEnable,
        deleteTopicEnable: settings.deleteTopicEnable,
        maxRequestPartitionSizeLimit: settings.maxRequestPartitionSizeLimit,
        brokerLogConfig: this.config.log.defaults,
        describedConfigs: this.describedConfigs(),
        delegationTokenSecretKey: settings.delegationTokenSecretKey || settings.delegationTokenMasterKey,
      },
      metadata: {
        image: () => this.brokerImage,
        controllerId: () => raft.status().leaderId ?? -1,
        appliedOffset: () => this.brokerApplied.offset,
      },
      controller: new QuorumControllerChannel(this.controllerClient!, {
        image: () => this.brokerImage,
        waitForOffset: (offset, timeoutMs) => this.brokerApplied.waitFor(offset, timeoutMs),
      }),
      replicaManager: this.replicaManager!,
      fetchSessions: this.fetchSessions,
      clock: systemClock,
      logger: this.logger.child({ component: 'kafka-api' }),
      metrics: this.metrics,
      quotas: new ClientQuotas(
        { samples: settings.quotaWindowNum, windowMs: settings.quotaWindowSizeSeconds * 1000 },
        () => this.brokerImage.clientQuotas,
        monotonicClock,
        this.metrics,
        requestTimeClock,
      ),
      ...(settings.authorizerClassName === ''
        ? {}
        : {
            authorizer: new StandardAuthorizer(
              {
                superUsers: parseSuperUsers(settings.superUsers),
                allowEveryoneIfNoAclFound: settings.allowEveryoneIfNoAclFound,
              },
              () => this.brokerImage.acls,
            ),
          }),
    };
  }

  /** ISR shrinks and expands for metrics; never in the way of applying the metadata. */
  private countIsrChanges(previous: MetadataImage, next: MetadataImage): void {
    if (this.metrics === noBrokerMetrics) return;
    try {
      const changes = isrChanges(previous, next, this.nodeId);
      for (let count = 0; count < changes.shrinks; count++) this.metrics.isrChanged('shrink');
      for (let count = 0; count < changes.expands; count++) this.metrics.isrChanged('expand');
    } catch (error) {
      this.logger.error({ err: error }, 'counting ISR changes failed');
    }
  }

  /** `/readyz`: registered, unfenced, heartbeats answered, Kafka listeners serving. */
  private readiness(): Readiness {
    const lifecycle = this.lifecycle;
    const registration = this.brokerImage.broker(this.nodeId);
    const current = registration !== undefined && registration.brokerEpoch === lifecycle?.brokerEpoch;
    return readiness({
      lifecycleState: lifecycle?.state ?? 'starting',
      imageSays: !current ? 'unregistered' : registration.fenced ? 'fenced' : 'unfenced',
      heartbeatAnsweredAgoMs: lifecycle?.answeredAgoMs(Date.now()),
      sessionTimeoutMs: this.config.settings.brokerSessionTimeoutMs,
      listenersServing: this.requestGate.serving && !this.stopping,
    });
  }

  /** Kafka's BrokerState for the lifecycle's state. */
  private brokerState(): number {
    switch (this.lifecycle?.state ?? 'starting') {
      case 'starting':
        return KafkaBrokerState.starting;
      case 'fenced':
        return KafkaBrokerState.recovery;
      case 'running':
        return KafkaBrokerState.running;
      case 'shutting-down':
        return KafkaBrokerState.pendingControlledShutdown;
      case 'stopped':
        return KafkaBrokerState.shuttingDown;
    }
  }

  private describedConfigs(): DescribedBrokerConfig[] {
    // Secrets (delegation.token.secret.key) are described without their value, as Kafka's
    // PASSWORD keys are.
    return describedBrokerSettings(this.config).map((config) => ({
      ...config,
      isSensitive: config.type === 'password',
    }));
  }

  /**
   * The high watermarks of the partitions of `offsets`, each from the broker the applied image names
   * as its leader: this one's replica manager, or the others over gRPC, all at once and bounded by
   * leaderHighWatermarkTimeoutMs (consumer-group-lag.ts).
   */
  private leaderHighWatermarks(
    offsets: readonly ConsumerGroupOffset[],
  ): Promise<ReadonlyMap<string, number>> {
    const manager = this.replicaManager;
    const clients = this.highWatermarkClients;
    const addresses = this.voterAddresses;
    if (manager === undefined || clients === undefined || addresses === undefined || offsets.length === 0)
      return Promise.resolve(new Map());
    const image = this.brokerImage;
    return readLeaderHighWatermarks(
      offsets,
      (topic, partition) => image.topic(topic)?.partitions[partition]?.leader,
      {
        localBrokerId: this.nodeId,
        readLocal: (partitions) => localHighWatermarks(manager, partitions),
        readRemote: (leaderId, partitions) => {
          const address = addresses.addressOf(leaderId);
          if (address === undefined)
            return Promise.reject(new Error(`node ${leaderId} is not in controller.quorum.voters`));
          return clients.list(leaderId, address, partitions, leaderHighWatermarkTimeoutMs).catch((error) => {
            // The series are left out of this scrape; the node's own health shows in its metrics.
            this.logger.debug(
              { leaderId, err: error },
              'no high watermarks from a leader for consumer-group lag',
            );
            throw error;
          });
        },
      },
    );
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
    this.stopStallWatch?.();
    if (this.maintenanceTimer !== undefined) clearInterval(this.maintenanceTimer);
    if (this.cleanerTimer !== undefined) clearInterval(this.cleanerTimer);
    if (this.isrTimer !== undefined) clearInterval(this.isrTimer);
    this.groupCoordinator?.close();
    this.transactionCoordinator?.close();
    this.requestGate.shut();
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
    this.highWatermarkClients?.close();
    this.voterAddresses?.close();
    await this.raft?.close().catch((error: unknown) => {
      if (!(error instanceof NotLeaderError)) throw error;
    });
    this.publisher.close();
    this.brokerApplied.close();
    await new Promise<void>((resolve) => {
      this.controllerTlsReloader?.stop();
      if (this.grpcServer === undefined) resolve();
      else this.grpcServer.tryShutdown(() => resolve());
    });
    // Last: probes and scrapes are answered (not ready) for as long as the node runs.
    await this.metricsServer?.close();
    this.logger.info('Gregor node stopped');
  }

  /**
   * Stops at once, as close to kill -9 as a node inside a shared process can come: no controlled
   * shutdown (peers find out by its silence, and the controller fences it when its session times
   * out), no flush, no checkpoint, no clean-shutdown marker (the next start recovers every log as
   * after a crash). Connections are cut first, so nothing more is answered or sent.
   * Unlike kill -9: writes already handed to the operating system complete (a killed process's do
   * too: they sit in the page cache), and an operation already under way on a log or the Raft store
   * finishes before its files close, where a killed process would stop in the middle of it.
   */
  async kill(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.stopStallWatch?.();
    if (this.maintenanceTimer !== undefined) clearInterval(this.maintenanceTimer);
    if (this.cleanerTimer !== undefined) clearInterval(this.cleanerTimer);
    if (this.isrTimer !== undefined) clearInterval(this.isrTimer);
    this.lifecycle?.close();
    this.requestGate.shut();
    const socketsClosed = this.socketServer?.close();
    const metricsClosed = this.metricsServer?.close();
    this.controllerTlsReloader?.stop();
    this.grpcServer?.forceShutdown();
    this.controllerClient?.close();
    this.highWatermarkClients?.close();
    this.quorumController?.close();
    this.voterAddresses?.close();
    this.groupCoordinator?.close();
    this.transactionCoordinator?.close();
    this.replicaManager?.close();
    this.delayedOperations?.expireAll();
    await socketsClosed;
    await metricsClosed;
    await this.fetcherManager?.close();
    await this.raft?.close().catch(() => undefined);
    await this.logManager?.abandon();
    this.publisher.close();
    this.brokerApplied.close();
    this.logger.info('Gregor node killed');
  }
}

/**
 * Holds Kafka requests that arrive before the broker serves (its listeners are bound early, so their
 * ports are known at registration) and passes them to the router once it is open.
 */
class RequestGate {
  private router: FrameHandler | undefined;
  private shutBeforeServing = false;
  /** Bounded by the listeners' limits: connectionsPerListenerMax, and requests in flight per connection. */
  private readonly waiting: { resolve: (handler: FrameHandler) => void }[] = [];

  readonly handler: FrameHandler = (frame, context) => {
    if (this.router !== undefined) return this.router(frame, context);
    return new Promise<FrameHandler>((resolve) => this.waiting.push({ resolve })).then((router) =>
      router(frame, context),
    );
  };

  open(router: FrameHandler): void {
    this.router = router;
    for (const { resolve } of this.waiting.splice(0)) resolve(router);
  }

  /** The broker's router answers requests. */
  get serving(): boolean {
    return this.router !== undefined && !this.shutBeforeServing;
  }

  /** Stopping before the broker served: what waits gets its connection closed. */
  shut(): void {
    if (this.router !== undefined) return;
    this.shutBeforeServing = true;
    this.open(async (): Promise<HandlerOutcome> => ({ kind: 'close', reason: 'broker is shutting down' }));
  }
}

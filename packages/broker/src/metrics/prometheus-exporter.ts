// The node's Prometheus metrics (prom-client), under the names Kafka's JMX exporter produces with
// Strimzi's rules (`lowercaseOutputName`, kafka.<domain><type=T, name=N, k=v><>Attribute →
// kafka_<domain>_<t>_<n>{k="v"}), so dashboards and alerts written for Kafka work unchanged, plus
// kafka-exporter's consumer-group series and prom-client's Node.js defaults (event-loop lag, heap,
// GC, CPU, file descriptors).
//
// Nothing here runs on the request path: every value is read at scrape time (the metrics' `collect`
// callbacks) from the recorder's plain numbers (broker-metrics.ts) and from state the node keeps
// anyway (the applied metadata image, the Raft status, the group coordinator's committed offsets).
// prom-client is imported by this file only, and loaded by the first exporter: a node with
// gregor.metrics.port off (the default) never holds its code.

import { createRequire } from 'node:module';
import type { MetadataImage } from '@gregor/metadata';
import type { Counter as PromCounter, Gauge as PromGauge, Registry } from 'prom-client';
import type { BrokerMetricsRecorder, ClientQuotaType, ListenerConnectionCounters } from './broker-metrics.js';
import {
  type ConsumerGroupLag,
  type ConsumerGroupOffset,
  consumerGroupLags,
  leaderHighWatermarkTimeoutMs,
} from './consumer-group-lag.js';

/** The Raft status the raft-metrics read (a subset of `@gregor/raft`'s RaftStatus). */
export interface RaftMetricsStatus {
  readonly role: 'follower' | 'prospective' | 'candidate' | 'leader';
  readonly epoch: number;
  readonly leaderId: number | undefined;
  readonly votedFor: number | undefined;
  readonly highWatermark: number;
  readonly logEndOffset: number;
}

export type { ConsumerGroupOffset };

export interface RequestMemoryStats {
  readonly capacityBytes: number;
  readonly usedBytes: number;
  readonly usedBytesMax: number;
  readonly waitingConnections: number;
}

/** What the exporter reads at scrape time; the node implements it with closures over its parts. */
export interface MetricsSources {
  readonly brokerId: number;
  readonly recorder: BrokerMetricsRecorder;
  /** The metadata image this broker has applied. */
  image(): MetadataImage;
  /** Whether this broker's replica of the partition is offline (its log dir failed). */
  isReplicaOffline(topic: string, partition: number): boolean;
  /** min.insync.replicas in force for the topic. */
  minInsyncReplicas(topic: string): number;
  offlineLogDirCount(): number;
  /** Kafka's BrokerState code (kafka.server:type=KafkaServer,name=BrokerState). */
  brokerState(): number;
  /**
   * The request memory pool (queued.max.request.bytes; kafka.network:type=SocketServer): its
   * capacity (-1 unbounded), the bytes reserved now and at most so far, and the connections whose
   * next frame waits for memory (their reads paused).
   */
  requestMemory(): RequestMemoryStats;
  /**
   * Bytes/s this broker sent followers of throttled partitions (leader) and fetched for throttled
   * partitions (follower), as its replication quotas measure them (KIP-73), and copied between its
   * log dirs (alterLogDirs, KIP-113).
   */
  replicationThrottledByteRates(): {
    readonly leader: number;
    readonly follower: number;
    readonly alterLogDirs: number;
  };
  /** The incremental fetch session cache (kafka.server:type=FetchSessionCache). */
  fetchSessions(): { sessions: number; cachedPartitions: number; evictions: number };
  raftStatus(): RaftMetricsStatus;
  /** This node is the active controller (leads the quorum and has caught up with its log). */
  isActiveController(): boolean;
  /** Committed offsets of the groups this node coordinates, at most `limit` of them. */
  consumerGroupOffsets(limit: number): readonly ConsumerGroupOffset[];
  /**
   * The high watermarks of the partitions `offsets` name, by partitionKey (consumer-group-lag.ts),
   * each as the partition's current leader answers it, this broker or another; a partition whose
   * leader is unknown, failed, did not answer in time or does not lead it is absent. Never rejects.
   */
  leaderHighWatermarks(offsets: readonly ConsumerGroupOffset[]): Promise<ReadonlyMap<string, number>>;
}

/** Kafka's BrokerState values (org.apache.kafka.metadata.BrokerState). */
export const KafkaBrokerState = {
  notRunning: 0,
  starting: 1,
  recovery: 2,
  running: 3,
  pendingControlledShutdown: 6,
  shuttingDown: 7,
} as const;

/**
 * The percentiles of TotalTimeMs as Strimzi's rule names them: Yammer's 50thPercentile ...
 * 999thPercentile attributes become quantile="0.50" ... "0.999".
 */
export const totalTimeQuantiles: readonly { readonly label: string; readonly fraction: number }[] = [
  { label: '0.50', fraction: 0.5 },
  { label: '0.75', fraction: 0.75 },
  { label: '0.95', fraction: 0.95 },
  { label: '0.98', fraction: 0.98 },
  { label: '0.99', fraction: 0.99 },
  { label: '0.999', fraction: 0.999 },
];

/** Consumer-group series (kafka_consumergroup_lag and _current_offset) one scrape may carry. */
export const consumerGroupSeriesMax = 10_000;

interface ReplicaCounts {
  partitions: number;
  leaders: number;
  underReplicated: number;
  underMinIsr: number;
  offline: number;
}

interface ControllerCounts {
  topics: number;
  partitions: number;
  offlinePartitions: number;
  activeBrokers: number;
  fencedBrokers: number;
  preferredReplicaImbalance: number;
}

export interface MetricsExporter {
  /** The Prometheus text format of every series, read now. */
  render(): Promise<string>;
  /** The Content-Type of `render()`'s text. */
  readonly contentType: string;
}

const require = createRequire(import.meta.url);
let promClientModule: typeof import('prom-client') | undefined;

function promClient(): typeof import('prom-client') {
  promClientModule ??= require('prom-client') as typeof import('prom-client');
  return promClientModule;
}

/** Every series the node exports, in one registry of its own (nodes in one process stay apart). */
export function createMetricsExporter(sources: MetricsSources): MetricsExporter {
  const { Counter, Gauge, Registry } = promClient();
  const registry = new Registry();
  const { recorder, brokerId } = sources;
  const registers = [registry];
  // Each render is one scrape: what several series of a scrape share is read once per scrape.
  let scrape = 0;
  let forgottenAt = -1;
  const forgetDeletedTopics = () => {
    if (forgottenAt === scrape) return;
    forgottenAt = scrape;
    const image = sources.image();
    recorder.forgetTopics((topic) => image.topic(topic) !== undefined);
  };

  // Derived from the image once per scrape (several gauges share a pass), and only again when the
  // image changed: images are immutable, so the reference says it all.
  let replicaCountsFor: { image: MetadataImage; offlineDirs: number; counts: ReplicaCounts } | undefined;
  const replicaCounts = (): ReplicaCounts => {
    const image = sources.image();
    const offlineDirs = sources.offlineLogDirCount();
    if (replicaCountsFor?.image === image && replicaCountsFor.offlineDirs === offlineDirs)
      return replicaCountsFor.counts;
    const counts = countReplicas(image, brokerId, sources);
    replicaCountsFor = { image, offlineDirs, counts };
    return counts;
  };
  let controllerCountsFor: { image: MetadataImage; counts: ControllerCounts } | undefined;
  const controllerCounts = (): ControllerCounts => {
    const image = sources.image();
    if (controllerCountsFor?.image !== image)
      controllerCountsFor = { image, counts: countForController(image) };
    return controllerCountsFor.counts;
  };

  // --- kafka.server:type=BrokerTopicMetrics ------------------------------------------------------
  const topicCounter = (name: string, help: string, field: 'messagesIn' | 'bytesIn' | 'bytesOut') =>
    new Counter({
      name,
      help,
      labelNames: ['topic'],
      registers,
      collect() {
        forgetDeletedTopics();
        this.reset();
        this.inc(recorder.allTopics[field]);
        for (const [topic, counters] of recorder.topics) this.inc({ topic }, counters[field]);
      },
    });
  topicCounter(
    'kafka_server_brokertopicmetrics_messagesin_total',
    'Records appended by this broker as leader for Produce requests, per topic; without a topic label, all topics (MessagesInPerSec).',
    'messagesIn',
  );
  topicCounter(
    'kafka_server_brokertopicmetrics_bytesin_total',
    'Record-batch bytes of Produce requests this broker appended as leader (BytesInPerSec).',
    'bytesIn',
  );
  topicCounter(
    'kafka_server_brokertopicmetrics_bytesout_total',
    'Record-batch bytes this broker returned to consumer Fetch requests; replication is not counted (BytesOutPerSec).',
    'bytesOut',
  );

  // --- kafka.network:type=RequestMetrics ---------------------------------------------------------
  new Counter({
    name: 'kafka_network_requestmetrics_requests_total',
    help: 'Requests handled, by Kafka request name and version (RequestsPerSec). Fetch is also counted as FetchConsumer; follower fetches (gRPC) as FetchFollower.',
    labelNames: ['request', 'version'],
    registers,
    collect() {
      this.reset();
      for (const [request, counters] of recorder.requests) {
        for (const [version, count] of counters.byVersion) {
          // Follower fetches are gRPC calls: no Kafka API version to name.
          this.inc(version < 0 ? { request } : { request, version: String(version) }, count);
        }
      }
    },
  });
  new Gauge({
    name: 'kafka_network_requestmetrics_totaltimems',
    help: 'Request time in ms from receipt to response, percentiles over the last metrics.num.samples × metrics.sample.window.ms (TotalTimeMs); within 9% of the true value.',
    labelNames: ['request', 'quantile'],
    registers,
    collect() {
      this.reset();
      const nowMs = recorder.nowMs();
      const fractions = totalTimeQuantiles.map((quantile) => quantile.fraction);
      for (const [request, counters] of recorder.requests) {
        const values = counters.totalTimeMs.measure(fractions, nowMs);
        totalTimeQuantiles.forEach((quantile, index) => {
          this.set({ request, quantile: quantile.label }, values[index]!);
        });
      }
    },
  });
  new Counter({
    name: 'kafka_network_requestmetrics_totaltimems_count',
    help: 'Requests timed in kafka_network_requestmetrics_totaltimems, since start (TotalTimeMs Count).',
    labelNames: ['request'],
    registers,
    collect() {
      this.reset();
      for (const [request, counters] of recorder.requests) this.inc({ request }, counters.count);
    },
  });
  new Counter({
    name: 'kafka_network_requestmetrics_totaltimems_sum',
    help: 'Milliseconds spent in the requests of kafka_network_requestmetrics_totaltimems_count, since start (average: rate(_sum) / rate(_count)).',
    labelNames: ['request'],
    registers,
    collect() {
      this.reset();
      for (const [request, counters] of recorder.requests)
        this.inc({ request }, Math.max(0, counters.totalTimeMsSum));
    },
  });

  // --- kafka.server:type=Produce|Fetch|Request,user=...,client-id=... (client quotas) --------------
  const throttleGauge = (name: string, quota: ClientQuotaType, help: string) =>
    new Gauge({
      name,
      help,
      labelNames: ['user', 'client_id'],
      registers,
      collect() {
        this.reset();
        const nowMs = recorder.nowMs();
        for (const times of recorder.throttledClients.values()) {
          if (times.quota !== quota) continue;
          const { avg } = times.throttleTimeMs.measure(nowMs);
          if (!Number.isNaN(avg)) this.set({ user: times.user, client_id: times.clientId }, avg);
        }
      },
    });
  throttleGauge(
    'kafka_server_produce_throttle_time',
    'Produce',
    'Average throttle time in ms of the Produce requests of a client over its producer_byte_rate, over the last metrics.num.samples × metrics.sample.window.ms; absent when it was not throttled then (throttle-time).',
  );
  throttleGauge(
    'kafka_server_fetch_throttle_time',
    'Fetch',
    'Average throttle time in ms of the Fetch requests of a consumer over its consumer_byte_rate, over the last metrics.num.samples × metrics.sample.window.ms; absent when it was not throttled then (throttle-time).',
  );
  throttleGauge(
    'kafka_server_request_throttle_time',
    'Request',
    'Average throttle time in ms of the requests of a client over its request_percentage, over the last metrics.num.samples × metrics.sample.window.ms; absent when it was not throttled then (throttle-time).',
  );

  // --- kafka.server:type=ReplicaManager ----------------------------------------------------------
  const replicaGauge = (name: string, help: string, field: keyof ReplicaCounts) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(replicaCounts()[field]);
      },
    });
  replicaGauge(
    'kafka_server_replicamanager_partitioncount',
    'Partitions with a replica on this broker (PartitionCount).',
    'partitions',
  );
  replicaGauge(
    'kafka_server_replicamanager_leadercount',
    'Partitions this broker leads (LeaderCount).',
    'leaders',
  );
  replicaGauge(
    'kafka_server_replicamanager_underreplicatedpartitions',
    'Partitions this broker leads whose ISR is smaller than their replica set (UnderReplicatedPartitions).',
    'underReplicated',
  );
  replicaGauge(
    'kafka_server_replicamanager_underminisrpartitioncount',
    'Partitions this broker leads whose ISR is smaller than min.insync.replicas (UnderMinIsrPartitionCount).',
    'underMinIsr',
  );
  replicaGauge(
    'kafka_server_replicamanager_offlinereplicacount',
    'Replicas on this broker that are offline because their log dir failed (OfflineReplicaCount).',
    'offline',
  );
  new Counter({
    name: 'kafka_server_replicamanager_isrshrinks_total',
    help: 'Times the ISR of a partition this broker leads got smaller (IsrShrinksPerSec), whether this broker or the controller (fencing a broker) removed the replica.',
    registers,
    collect() {
      this.reset();
      this.inc(recorder.isrShrinks);
    },
  });
  new Counter({
    name: 'kafka_server_replicamanager_isrexpands_total',
    help: 'Times the ISR of a partition this broker leads got larger (IsrExpandsPerSec).',
    registers,
    collect() {
      this.reset();
      this.inc(recorder.isrExpands);
    },
  });

  new Gauge({
    name: 'kafka_log_logmanager_offlinelogdirectorycount',
    help: 'Log dirs of this broker that failed (OfflineLogDirectoryCount).',
    registers,
    collect() {
      this.set(sources.offlineLogDirCount());
    },
  });
  new Gauge({
    name: 'kafka_server_kafkaserver_brokerstate',
    help: "Kafka's BrokerState code: 1 starting, 2 recovery (registered, fenced), 3 running, 6 pending controlled shutdown, 0 not running.",
    registers,
    collect() {
      this.set(sources.brokerState());
    },
  });

  // --- kafka.network:type=SocketServer: the request memory pool ---------------------------------
  new Gauge({
    name: 'kafka_network_socketserver_memorypoolavailable',
    help: 'Bytes of queued.max.request.bytes not reserved by requests in flight; +Inf when unbounded (MemoryPoolAvailable).',
    registers,
    collect() {
      const { capacityBytes, usedBytes } = sources.requestMemory();
      this.set(capacityBytes < 0 ? Number.POSITIVE_INFINITY : capacityBytes - usedBytes);
    },
  });
  new Gauge({
    name: 'kafka_network_socketserver_memorypoolused',
    help: 'Bytes reserved by requests in flight, each from its size header on (MemoryPoolUsed).',
    registers,
    collect() {
      this.set(sources.requestMemory().usedBytes);
    },
  });
  // Not in Kafka, whose pool is not strict: the peak shows the bound held between two scrapes.
  new Gauge({
    name: 'gregor_request_memory_used_max_bytes',
    help: 'The most bytes requests in flight ever reserved at once, since start; never above queued.max.request.bytes.',
    registers,
    collect() {
      this.set(sources.requestMemory().usedBytesMax);
    },
  });
  new Gauge({
    name: 'gregor_request_memory_waiting_connections',
    help: 'Client connections whose next frame waits for request memory, their reads paused (Kafka mutes them).',
    registers,
    collect() {
      this.set(sources.requestMemory().waitingConnections);
    },
  });

  // --- kafka.server:type=LeaderReplication / FollowerReplication: throttled replication (KIP-73) --
  // Kafka's ReplicationQuotaManager sensors: attribute byte-rate, the quota's own rate of the bytes
  // replicated for throttled partitions only (the rate leader/follower.replication.throttled.rate bounds).
  new Gauge({
    name: 'kafka_server_leaderreplication_byte_rate',
    help: 'Bytes/s this broker sent followers of throttled partitions (LeaderReplication byte-rate).',
    registers,
    collect() {
      this.set(sources.replicationThrottledByteRates().leader);
    },
  });
  new Gauge({
    name: 'kafka_server_followerreplication_byte_rate',
    help: 'Bytes/s this broker fetched as a follower for throttled partitions (FollowerReplication byte-rate).',
    registers,
    collect() {
      this.set(sources.replicationThrottledByteRates().follower);
    },
  });
  // kafka.server:type=AlterLogDirsReplication: the same sensor on the quota of copies between log
  // dirs (replica.alter.log.dirs.io.max.bytes.per.second bounds it); every future replica counts.
  new Gauge({
    name: 'kafka_server_alterlogdirsreplication_byte_rate',
    help: 'Bytes/s this broker copied into future replicas moving between its log dirs (AlterLogDirsReplication byte-rate).',
    registers,
    collect() {
      this.set(sources.replicationThrottledByteRates().alterLogDirs);
    },
  });

  // --- kafka.server:type=FetchSessionCache ------------------------------------------------------
  new Gauge({
    name: 'kafka_server_fetchsessioncache_numincrementalfetchsessions',
    help: 'Incremental fetch sessions (KIP-227) this broker keeps (NumIncrementalFetchSessions).',
    registers,
    collect() {
      this.set(sources.fetchSessions().sessions);
    },
  });
  new Gauge({
    name: 'kafka_server_fetchsessioncache_numincrementalfetchpartitionscached',
    help: 'Partitions of all incremental fetch sessions together (NumIncrementalFetchPartitionsCached).',
    registers,
    collect() {
      this.set(sources.fetchSessions().cachedPartitions);
    },
  });
  new Counter({
    name: 'kafka_server_fetchsessioncache_incrementalfetchsessionevictions_total',
    help: 'Fetch sessions evicted to make room for new ones (IncrementalFetchSessionEvictionsPerSec).',
    registers,
    collect() {
      this.reset();
      this.inc(sources.fetchSessions().evictions);
    },
  });

  // --- kafka.controller:type=KafkaController -----------------------------------------------------
  // Cluster-wide counts are reported by the active controller only (0 elsewhere), so the sum over
  // every node, which dashboards and alerts take, counts each partition once.
  new Gauge({
    name: 'kafka_controller_kafkacontroller_activecontrollercount',
    help: '1 on the active controller, 0 elsewhere; the sum over the cluster should be 1 (ActiveControllerCount).',
    registers,
    collect() {
      this.set(sources.isActiveController() ? 1 : 0);
    },
  });
  const controllerGauge = (name: string, help: string, field: keyof ControllerCounts) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(sources.isActiveController() ? controllerCounts()[field] : 0);
      },
    });
  controllerGauge(
    'kafka_controller_kafkacontroller_offlinepartitionscount',
    'Partitions without a leader; reported by the active controller, 0 elsewhere (OfflinePartitionsCount).',
    'offlinePartitions',
  );
  controllerGauge(
    'kafka_controller_kafkacontroller_globaltopiccount',
    'Topics in the cluster; reported by the active controller, 0 elsewhere (GlobalTopicCount).',
    'topics',
  );
  controllerGauge(
    'kafka_controller_kafkacontroller_globalpartitioncount',
    'Partitions in the cluster; reported by the active controller, 0 elsewhere (GlobalPartitionCount).',
    'partitions',
  );
  controllerGauge(
    'kafka_controller_kafkacontroller_activebrokercount',
    'Registered, unfenced brokers; reported by the active controller, 0 elsewhere (ActiveBrokerCount).',
    'activeBrokers',
  );
  controllerGauge(
    'kafka_controller_kafkacontroller_fencedbrokercount',
    'Registered, fenced brokers; reported by the active controller, 0 elsewhere (FencedBrokerCount).',
    'fencedBrokers',
  );
  controllerGauge(
    'kafka_controller_kafkacontroller_preferredreplicaimbalancecount',
    'Partitions not led by their first replica; reported by the active controller, 0 elsewhere (PreferredReplicaImbalanceCount).',
    'preferredReplicaImbalance',
  );
  new Gauge({
    name: 'kafka_controller_kafkacontroller_newactivecontrollerscount',
    help: 'Times this node saw a new active controller (a new quorum leader or epoch) since it started (NewActiveControllersCount).',
    registers,
    collect() {
      this.set(recorder.newActiveControllers);
    },
  });

  // --- kafka.server:type=raft-metrics ------------------------------------------------------------
  const raftGauge = (name: string, help: string, read: (status: RaftMetricsStatus) => number) =>
    new Gauge({
      name: `kafka_server_raftmetrics_${name}`,
      help,
      registers,
      collect() {
        this.set(read(sources.raftStatus()));
      },
    });
  raftGauge(
    'current_leader',
    'The metadata quorum leader this node knows of, -1 for none.',
    (status) => status.leaderId ?? -1,
  );
  raftGauge('current_epoch', 'The metadata quorum epoch this node is in.', (status) => status.epoch);
  raftGauge(
    'current_vote',
    'The voter this node voted for in the current epoch, -1 for none.',
    (status) => status.votedFor ?? -1,
  );
  raftGauge('high_watermark', 'The metadata log offset known committed.', (status) => status.highWatermark);
  raftGauge('log_end_offset', 'The end offset of this node’s metadata log.', (status) => status.logEndOffset);
  new Gauge({
    name: 'kafka_server_raftmetrics_current_state',
    help: 'This node’s role in the metadata quorum: 1 on the series whose current_state label names it (leader, candidate, prospective, voted, follower, unattached).',
    labelNames: ['current_state'],
    registers,
    collect() {
      this.reset();
      this.set({ current_state: raftStateName(sources.raftStatus()) }, 1);
    },
  });
  new Gauge({
    name: 'kafka_server_raftmetrics_commit_latency_avg',
    help: 'Average ms from a metadata entry proposed on this node (as quorum leader) to its commit, over the sample windows; NaN without commits.',
    registers,
    collect() {
      this.set(recorder.metadataCommitLatency.measure(recorder.nowMs()).avg);
    },
  });
  new Gauge({
    name: 'kafka_server_raftmetrics_commit_latency_max',
    help: 'Largest ms from a metadata entry proposed on this node (as quorum leader) to its commit, over the sample windows; NaN without commits.',
    registers,
    collect() {
      this.set(recorder.metadataCommitLatency.measure(recorder.nowMs()).max);
    },
  });

  // --- kafka.server:type=socket-server-metrics,listener=L,networkProcessor=N ---------------------
  // Strimzi's rule keeps `listener` and `networkProcessor` as labels and turns the attribute's
  // dashes into underscores; `-total` attributes are counters, the rest gauges. Gregor serves
  // every connection on one event loop: network processor 0.
  const socketServerLabels = (listener: string) => ({ listener, networkProcessor: '0' });
  const socketServerSeries = (
    attribute: string,
    kind: 'counter' | 'gauge',
    help: string,
    read: (counters: ListenerConnectionCounters, nowMs: number) => number,
  ) => {
    const options = {
      name: `kafka_server_socket_server_metrics_${attribute}`,
      help,
      labelNames: ['listener', 'networkProcessor'] as const,
      registers,
    };
    const collect = function (
      this: PromCounter<'listener' | 'networkProcessor'> | PromGauge<'listener' | 'networkProcessor'>,
    ) {
      this.reset();
      const nowMs = recorder.nowMs();
      for (const [listener, counters] of recorder.listeners) {
        const value = read(counters, nowMs);
        if (this instanceof Counter) this.inc(socketServerLabels(listener), value);
        else this.set(socketServerLabels(listener), value);
      }
    };
    return kind === 'counter' ? new Counter({ ...options, collect }) : new Gauge({ ...options, collect });
  };
  socketServerSeries(
    'connection_count',
    'gauge',
    'Client connections open on the listener now (connection-count).',
    (c) => c.connections,
  );
  socketServerSeries(
    'connection_creation_total',
    'counter',
    'Client connections the listener accepted, since start (connection-creation-total).',
    (c) => c.connectionsCreated,
  );
  socketServerSeries(
    'connection_creation_rate',
    'gauge',
    'Client connections accepted per second over the sample windows (connection-creation-rate).',
    (c, nowMs) => c.connectionCreationRate.measure(nowMs),
  );
  socketServerSeries(
    'connection_close_total',
    'counter',
    'Client connections of the listener that closed, since start (connection-close-total).',
    (c) => c.connectionsClosed,
  );
  socketServerSeries(
    'connection_close_rate',
    'gauge',
    'Client connections closed per second over the sample windows (connection-close-rate).',
    (c, nowMs) => c.connectionCloseRate.measure(nowMs),
  );
  socketServerSeries(
    'successful_authentication_total',
    'counter',
    'Successful authentications: SASL exchanges, TLS handshakes, and PLAINTEXT connections, which Kafka counts as authenticated (successful-authentication-total).',
    (c) => c.successfulAuthentications,
  );
  socketServerSeries(
    'failed_authentication_total',
    'counter',
    'Failed authentications: refused SASL exchanges and mechanisms, failed or refused TLS handshakes (failed-authentication-total).',
    (c) => c.failedAuthentications,
  );
  socketServerSeries(
    'successful_reauthentication_total',
    'counter',
    'Successful SASL re-authentications (KIP-368) (successful-reauthentication-total).',
    (c) => c.successfulReauthentications,
  );
  socketServerSeries(
    'failed_reauthentication_total',
    'counter',
    'Failed SASL re-authentications (KIP-368) (failed-reauthentication-total).',
    (c) => c.failedReauthentications,
  );
  socketServerSeries(
    'reauthentication_latency_avg',
    'gauge',
    'Average ms from a re-authentication’s SaslHandshake to its success, over the sample windows; NaN without any (reauthentication-latency-avg).',
    (c, nowMs) => c.reauthenticationLatencyMs.measure(nowMs).avg,
  );
  socketServerSeries(
    'reauthentication_latency_max',
    'gauge',
    'Largest ms from a re-authentication’s SaslHandshake to its success, over the sample windows; NaN without any (reauthentication-latency-max).',
    (c, nowMs) => c.reauthenticationLatencyMs.measure(nowMs).max,
  );

  // --- kafka-exporter's consumer groups ----------------------------------------------------------
  // Computed by the group coordinator's node for the groups it owns: the committed offset and how
  // far the partition's high watermark, as its leader answers it, is ahead of it (consumer-group-lag.ts).
  let groupOffsetsAt: { scrape: number; offsets: readonly ConsumerGroupOffset[] } | undefined;
  const groupOffsets = (): readonly ConsumerGroupOffset[] => {
    if (groupOffsetsAt?.scrape !== scrape)
      groupOffsetsAt = { scrape, offsets: sources.consumerGroupOffsets(consumerGroupSeriesMax) };
    return groupOffsetsAt.offsets;
  };
  let groupLagsAt: { scrape: number; lags: Promise<ConsumerGroupLag[]> } | undefined;
  const groupLags = (): Promise<ConsumerGroupLag[]> => {
    if (groupLagsAt?.scrape !== scrape) {
      const offsets = groupOffsets();
      groupLagsAt = {
        scrape,
        lags: sources
          .leaderHighWatermarks(offsets)
          .then((highWatermarks) => consumerGroupLags(offsets, highWatermarks)),
      };
    }
    return groupLagsAt.lags;
  };
  new Gauge({
    name: 'kafka_consumergroup_current_offset',
    help: 'Committed offset of a consumer group on a partition, reported by the group’s coordinator.',
    labelNames: ['consumergroup', 'topic', 'partition'],
    registers,
    collect() {
      this.reset();
      for (const { groupId, topic, partition, offset } of groupOffsets())
        this.set({ consumergroup: groupId, topic, partition: String(partition) }, offset);
    },
  });
  new Gauge({
    name: 'kafka_consumergroup_lag',
    help: `High watermark (from the partition’s leader) minus committed offset of a consumer group on a partition, at least 0, reported by the group’s coordinator; absent in a scrape where the partition has no leader or its leader did not answer within ${leaderHighWatermarkTimeoutMs / 1000} s.`,
    labelNames: ['consumergroup', 'topic', 'partition'],
    registers,
    async collect() {
      const lags = await groupLags();
      this.reset();
      for (const { groupId, topic, partition, lag } of lags)
        this.set({ consumergroup: groupId, topic, partition: String(partition) }, lag);
    },
  });

  const processMetrics = processRegistry();
  return {
    contentType: registry.contentType,
    render: async () => {
      scrape++;
      return (await registry.metrics()) + (await processMetrics.metrics());
    },
  };
}

let processRegistryValue: Registry | undefined;

/**
 * prom-client's defaults (CPU, memory, heap, event-loop lag, GC) describe the process, and their
 * observers cannot be stopped: one registry per process, whatever number of nodes it runs.
 */
function processRegistry(): Registry {
  if (processRegistryValue === undefined) {
    const { collectDefaultMetrics, Registry } = promClient();
    processRegistryValue = new Registry();
    collectDefaultMetrics({ register: processRegistryValue });
  }
  return processRegistryValue;
}

function countReplicas(image: MetadataImage, brokerId: number, sources: MetricsSources): ReplicaCounts {
  const counts: ReplicaCounts = { partitions: 0, leaders: 0, underReplicated: 0, underMinIsr: 0, offline: 0 };
  for (const topic of image.topics.values()) {
    let minIsr: number | undefined;
    topic.partitions.forEach((partition, index) => {
      if (!partition.replicas.includes(brokerId)) return;
      counts.partitions++;
      if (sources.isReplicaOffline(topic.name, index)) counts.offline++;
      if (partition.leader !== brokerId) return;
      counts.leaders++;
      if (partition.isr.length < partition.replicas.length) counts.underReplicated++;
      minIsr ??= sources.minInsyncReplicas(topic.name);
      if (partition.isr.length < minIsr) counts.underMinIsr++;
    });
  }
  return counts;
}

function countForController(image: MetadataImage): ControllerCounts {
  const counts: ControllerCounts = {
    topics: image.topics.size,
    partitions: 0,
    offlinePartitions: 0,
    activeBrokers: 0,
    fencedBrokers: 0,
    preferredReplicaImbalance: 0,
  };
  for (const topic of image.topics.values()) {
    for (const partition of topic.partitions) {
      counts.partitions++;
      if (partition.leader < 0) counts.offlinePartitions++;
      else if (partition.leader !== partition.replicas[0]) counts.preferredReplicaImbalance++;
    }
  }
  for (const broker of image.brokers.values()) {
    if (broker.fenced) counts.fencedBrokers++;
    else counts.activeBrokers++;
  }
  return counts;
}

/** Kafka's names for a KRaft node's state (raft-metrics current-state). */
export function raftStateName(status: RaftMetricsStatus): string {
  switch (status.role) {
    case 'leader':
      return 'leader';
    case 'candidate':
      return 'candidate';
    case 'prospective':
      return 'prospective';
    case 'follower':
      if (status.leaderId !== undefined) return 'follower';
      return status.votedFor !== undefined ? 'voted' : 'unattached';
  }
}

// The node's configuration: Kafka's key names and meanings, from a server.properties file and the
// environment (which wins: KAFKA_* and CLUSTER_ID in the apache/kafka image's convention, then
// GREGOR_CFG_*; see environment.ts). Log settings (`log.*`) are validated by the
// storage package's table. Every other key Kafka documents is accepted with its value checked
// against Kafka's type, and named once at start-up as having no effect here (with the reason); a
// key Kafka does not have stops start-up, with a suggestion. All bad keys are reported at once.

import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { maxBrokerPartitionsDefault, rackLengthMax } from '@gregor/metadata';
import { parseQuorumVoters, type QuorumVoter } from '@gregor/raft';
import {
  type BrokerLogConfig,
  isBrokerLogConfigKey,
  LogConfigError,
  logConfigDoc,
  parseBrokerLogConfig,
} from '@gregor/storage';
import { fetchSessionCacheSlotsDefault } from '../fetch-sessions/fetch-session-cache.js';
import { externalMemoryGrowthBytesMin } from '../node/external-memory-gc.js';
import { openFilesMaxFloor } from '../node/open-file-limit.js';
import { type ConnectionLimits, canonicalIp, connectionLimitNone } from '../quotas/connection-quotas.js';
import { jaasFilePathFromKafkaOpts, parseJaasFile } from '../security/jaas-config.js';
import {
  bool,
  ConfigError,
  type ConfigKeyDef,
  ConfigProblems,
  int,
  list,
  long,
  oneOf,
  resolveConfig,
  str,
} from './config-def.js';
import {
  type ControllerListenerTls,
  controllerListenerTls,
  endpointIdentificationKey,
} from './controller-listener-tls.js';
import { type IgnoredVariable, settingsFromEnvironment } from './environment.js';
import { type KafkaKeyType, kafkaBrokerKeyTypes } from './kafka-broker-keys.js';
import {
  checkKafkaValue,
  kafkaKeyType,
  suggestKey,
  withoutEffectReason,
} from './kafka-keys-without-effect.js';
import {
  isSaslKeyWithEffect,
  jaasFileConfigKey,
  type ListenerSasl,
  listenerSasl,
  type StaticJaasConfig,
} from './listener-sasl.js';
import { type ListenerTls, listenerTls, tlsKeysWithEffect } from './listener-tls.js';
import { parseProperties } from './properties.js';

export interface ListenerSpec {
  readonly name: string;
  /** '' binds every interface, IPv4 and IPv6. */
  readonly host: string;
  readonly port: number;
}

/** A group.consumer.assignors entry as the coordinator names it, or null for an unknown assignor. */
export function consumerAssignorName(name: string): 'uniform' | 'range' | null {
  const short = name.replace(/^org\.apache\.kafka\.coordinator\.group\.assignor\./, '').toLowerCase();
  if (short === 'uniform' || short === 'uniformassignor') return 'uniform';
  if (short === 'range' || short === 'rangeassignor') return 'range';
  return null;
}

const listenerPattern = /^([A-Za-z][A-Za-z0-9_]*):\/\/(\[[^\]]*\]|[^:/]*):(\d{1,5})$/;

export function parseListeners(key: string, entries: readonly string[]): ListenerSpec[] {
  const listeners = entries.map((entry) => {
    const match = listenerPattern.exec(entry);
    if (match === null) throw new ConfigError(key, `'${entry}' is not NAME://host:port`);
    const port = Number(match[3]);
    if (port > 65535) throw new ConfigError(key, `port ${port} in '${entry}' is out of range`);
    const host = match[2]!.replace(/^\[|\]$/g, '');
    return { name: match[1]!.toUpperCase(), host, port };
  });
  const names = new Set<string>();
  for (const listener of listeners) {
    if (names.has(listener.name)) throw new ConfigError(key, `listener name ${listener.name} appears twice`);
    names.add(listener.name);
  }
  return listeners;
}

/** Kafka's security protocols, with the ids that broker registrations carry. */
export const securityProtocolIds = { PLAINTEXT: 0, SSL: 1, SASL_PLAINTEXT: 2, SASL_SSL: 3 } as const;
export type SecurityProtocol = keyof typeof securityProtocolIds;

function isSecurityProtocol(name: string): name is SecurityProtocol {
  return Object.hasOwn(securityProtocolIds, name);
}

/** listener.security.protocol.map: `NAME:PROTOCOL` pairs, each name once. */
export function parseSecurityProtocolMap(text: string): Map<string, SecurityProtocol> {
  const key = 'listener.security.protocol.map';
  const map = new Map<string, SecurityProtocol>();
  for (const entry of text.split(',').map((item) => item.trim())) {
    if (entry === '') continue;
    const match = /^([A-Za-z][A-Za-z0-9_]*):([A-Za-z_]+)$/.exec(entry);
    if (match === null) throw new ConfigError(key, `'${entry}' is not LISTENER_NAME:SECURITY_PROTOCOL`);
    const name = match[1]!.toUpperCase();
    const protocol = match[2]!.toUpperCase();
    if (!isSecurityProtocol(protocol)) {
      throw new ConfigError(
        key,
        `'${match[2]}' in '${entry}' is not one of ${Object.keys(securityProtocolIds).join(', ')}`,
      );
    }
    if (map.has(name)) throw new ConfigError(key, `listener name ${name} appears twice`);
    map.set(name, protocol);
  }
  return map;
}

/** controller.quorum.voters through the Raft package's parser, refusals named after the key. */
function voterList(text: string): readonly QuorumVoter[] {
  const parsed = parseQuorumVoters(text);
  if (parsed.ok) return parsed.voters;
  const key = 'controller.quorum.voters';
  switch (parsed.error.kind) {
    case 'empty':
      throw new ConfigError(key, 'names no voter');
    case 'bad-entry':
      throw new ConfigError(key, `'${parsed.error.entry}' ${parsed.error.reason}`);
    case 'duplicate-id':
      throw new ConfigError(key, `node id ${parsed.error.id} appears twice`);
  }
}

/**
 * queued.max.request.bytes when not set. Kafka's default is -1 (no limit), which lets a few clients
 * that each send most of a frame of socket.request.max.bytes pin gigabytes. 256 MiB holds two
 * requests of the default socket.request.max.bytes (100 MiB) at once and still leaves 56 MiB for the
 * small requests of every other client meanwhile.
 */
export const queuedMaxRequestBytesDefault = 256 * 1024 * 1024;
/** Kafka's listener.security.protocol.map default. */
const securityProtocolMapDefault =
  'PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL';

/** Both names Kafka gives its ACL authorizer; Gregor's is the same semantics over its metadata log. */
const authorizerClassNames = [
  'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
  'kafka.security.authorizer.AclAuthorizer',
];

/** max.connections.per.ip.overrides as a map by canonical IP, or why it cannot be read. */
export function parseConnectionsPerIpOverrides(text: string): Map<string, number> | string {
  const overrides = new Map<string, number>();
  for (const entry of text.split(',').map((item) => item.trim())) {
    if (entry === '') continue;
    const colon = entry.lastIndexOf(':');
    const ip = entry.slice(0, colon).trim();
    const count = entry.slice(colon + 1).trim();
    if (colon < 0 || !/^\d+$/.test(count) || Number(count) > connectionLimitNone) {
      return `'${entry}' is not ip:count`;
    }
    if (isIP(ip) === 0) return `'${ip}' in '${entry}' is not an IP address (host names are not resolved)`;
    overrides.set(canonicalIp(ip), Number(count));
  }
  return overrides;
}

/** The per-listener connection keys that take effect: listener.name.<l>.max.connections and .max.connection.creation.rate. */
const listenerConnectionKeys: ReadonlySet<string> = new Set([
  'max.connections',
  'max.connection.creation.rate',
]);

/**
 * Kafka's GroupCoordinatorConfig checks of the KIP-848 timeouts, with its messages: the min/max
 * bounds are consistent and hold the group-level defaults, and a member heartbeats within its session.
 * (Kafka also checks per-group overrides against the bounds; Gregor has none.)
 */
function consumerGroupTimeoutProblems(settings: {
  readonly groupConsumerSessionTimeoutMs: number;
  readonly groupConsumerMinSessionTimeoutMs: number;
  readonly groupConsumerMaxSessionTimeoutMs: number;
  readonly groupConsumerHeartbeatIntervalMs: number;
  readonly groupConsumerMinHeartbeatIntervalMs: number;
  readonly groupConsumerMaxHeartbeatIntervalMs: number;
}): ConfigError[] {
  const heartbeat = 'group.consumer.heartbeat.interval.ms';
  const minHeartbeat = 'group.consumer.min.heartbeat.interval.ms';
  const maxHeartbeat = 'group.consumer.max.heartbeat.interval.ms';
  const session = 'group.consumer.session.timeout.ms';
  const minSession = 'group.consumer.min.session.timeout.ms';
  const maxSession = 'group.consumer.max.session.timeout.ms';
  const s = settings;
  const checks: [boolean, string, string][] = [
    [
      s.groupConsumerMaxHeartbeatIntervalMs >= s.groupConsumerMinHeartbeatIntervalMs,
      maxHeartbeat,
      `must be greater than or equal to ${minHeartbeat}`,
    ],
    [
      s.groupConsumerHeartbeatIntervalMs >= s.groupConsumerMinHeartbeatIntervalMs,
      heartbeat,
      `must be greater than or equal to ${minHeartbeat}`,
    ],
    [
      s.groupConsumerHeartbeatIntervalMs <= s.groupConsumerMaxHeartbeatIntervalMs,
      heartbeat,
      `must be less than or equal to ${maxHeartbeat}`,
    ],
    [
      s.groupConsumerMaxSessionTimeoutMs >= s.groupConsumerMinSessionTimeoutMs,
      maxSession,
      `must be greater than or equal to ${minSession}`,
    ],
    [
      s.groupConsumerSessionTimeoutMs >= s.groupConsumerMinSessionTimeoutMs,
      session,
      `must be greater than or equal to ${minSession}`,
    ],
    [
      s.groupConsumerSessionTimeoutMs <= s.groupConsumerMaxSessionTimeoutMs,
      session,
      `must be less than or equal to ${maxSession}`,
    ],
    [
      s.groupConsumerHeartbeatIntervalMs < s.groupConsumerSessionTimeoutMs,
      heartbeat,
      `must be less than ${session}`,
    ],
  ];
  return checks.flatMap(([holds, key, message]) => (holds ? [] : [new ConfigError(key, message)]));
}

function withoutEffect<T>(def: ConfigKeyDef<T>, reason: string): ConfigKeyDef<T> {
  return { ...def, withoutEffect: reason };
}

const definitions = {
  nodeId: int('node.id', undefined, 'This node id, unique in the cluster.', { min: 0 }),
  brokerId: withoutEffect(
    int('broker.id', -1, "Kafka's older name for the node id; must equal node.id when set.", { min: -1 }),
    'Gregor identifies the node by node.id, which broker.id must equal',
  ),
  brokerRack: str(
    'broker.rack',
    '',
    'Rack of this broker: carried by its registration, shown to clients in Metadata; empty: none.',
    (rack) => (rack.length > rackLengthMax ? `must be at most ${rackLengthMax} characters` : undefined),
  ),
  processRoles: list('process.roles', undefined, 'broker, controller, or both.', (roles) =>
    roles.length === 0 || roles.some((role) => role !== 'broker' && role !== 'controller')
      ? `must list broker and/or controller, got '${roles.join(',')}'`
      : undefined,
  ),
  clusterId: str(
    'cluster.id',
    undefined,
    'The cluster id every node shares (Kafka formats it into meta.properties).',
    (id) => (/^[A-Za-z0-9_-]{1,64}$/.test(id) ? undefined : 'must be 1-64 characters of [A-Za-z0-9_-]'),
  ),
  listeners: list('listeners', ['PLAINTEXT://:9092', 'CONTROLLER://:9192'], 'NAME://host:port listeners.'),
  advertisedListeners: list(
    'advertised.listeners',
    [],
    'Addresses given to clients; defaults to the listeners.',
  ),
  controllerListenerNames: list(
    'controller.listener.names',
    ['CONTROLLER'],
    'Listener(s) serving gRPC (quorum, controller, replication).',
  ),
  listenerSecurityProtocolMap: str(
    'listener.security.protocol.map',
    securityProtocolMapDefault,
    'LISTENER_NAME:SECURITY_PROTOCOL pairs (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL).',
  ),
  interBrokerListenerName: withoutEffect(
    str('inter.broker.listener.name', '', 'The listener brokers would use between themselves.'),
    'brokers replicate over gRPC on the controller listener (the controller.quorum.voters addresses)',
  ),
  controllerQuorumVoters: str(
    'controller.quorum.voters',
    undefined,
    'id@host:port of every voter (gRPC addresses); port 0: learned at start-up.',
  ),
  controllerQuorumVotersFile: str(
    'gregor.controller.quorum.voters.file',
    '',
    'A file holding the controller.quorum.voters value, re-read when it changes: how voters that bind port 0 learn each other.',
  ),
  metadataLogDir: str('metadata.log.dir', '', 'Where the metadata log lives; defaults to the first log dir.'),
  numPartitions: int('num.partitions', 1, 'Partitions of an auto-created topic.', { min: 1 }),
  defaultReplicationFactor: int(
    'default.replication.factor',
    1,
    'Replication factor of an auto-created topic.',
    {
      min: 1,
    },
  ),
  minInsyncReplicas: int('min.insync.replicas', 1, 'ISR size acks=all needs.', { min: 1 }),
  autoCreateTopicsEnable: bool(
    'auto.create.topics.enable',
    true,
    'Create unknown topics on Metadata and Produce.',
  ),
  deleteTopicEnable: bool(
    'delete.topic.enable',
    true,
    'Allow DeleteTopics; false answers it with TOPIC_DELETION_DISABLED.',
  ),
  messageMaxBytes: int(
    'message.max.bytes',
    1048588,
    'Largest record batch accepted (topic: max.message.bytes).',
    {
      min: 0,
    },
  ),
  messageTimestampType: oneOf(
    'log.message.timestamp.type',
    'CreateTime',
    ['CreateTime', 'LogAppendTime'],
    'Timestamp type.',
  ),
  socketRequestMaxBytes: int('socket.request.max.bytes', 100 * 1024 * 1024, 'Largest request frame.', {
    min: 1024,
  }),
  queuedMaxRequestBytes: long(
    'queued.max.request.bytes',
    queuedMaxRequestBytesDefault,
    'Bytes that requests read but not yet answered may hold, all connections together (-1: no limit).',
    { min: -1 },
  ),
  socketSendBufferBytes: int(
    'socket.send.buffer.bytes',
    102400,
    'SO_SNDBUF of client connections (-1: the OS default).',
    { min: -1 },
  ),
  socketReceiveBufferBytes: int(
    'socket.receive.buffer.bytes',
    102400,
    'SO_RCVBUF of client connections (-1: the OS default).',
    { min: -1 },
  ),
  socketListenBacklogSize: int(
    'socket.listen.backlog.size',
    50,
    'Connections the kernel queues per listener before they are accepted.',
    { min: 1 },
  ),
  brokerSessionTimeoutMs: int('broker.session.timeout.ms', 1500, 'A broker silent this long is fenced.', {
    min: 10,
  }),
  brokerHeartbeatIntervalMs: int('broker.heartbeat.interval.ms', 250, 'How often a broker heartbeats.', {
    min: 5,
  }),
  electionTimeoutMs: int(
    'controller.quorum.election.timeout.ms',
    500,
    'Raft election timeout (randomised in [T, 2T)).',
    {
      min: 10,
    },
  ),
  fetchTimeoutMs: int(
    'controller.quorum.fetch.timeout.ms',
    1000,
    'A follower that hears no leader this long campaigns.',
    {
      min: 20,
    },
  ),
  replicaLagTimeMaxMs: long(
    'replica.lag.time.max.ms',
    30000,
    'A follower not caught up this long leaves the ISR.',
    {
      min: 1,
    },
  ),
  producerIdExpirationMs: long(
    'producer.id.expiration.ms',
    86400000,
    'A partition forgets an idempotent producer whose last batch is this old.',
    { min: 1 },
  ),
  replicaFetchWaitMaxMs: int('replica.fetch.wait.max.ms', 500, 'Follower long-poll time.', { min: 0 }),
  replicaFetchMaxBytes: int('replica.fetch.max.bytes', 1048576, 'Bytes per partition per replica fetch.', {
    min: 1,
  }),
  replicaFetchResponseMaxBytes: int(
    'replica.fetch.response.max.bytes',
    10485760,
    'Bytes per replica fetch.',
    { min: 1 },
  ),
  replicaFetchBackoffMs: int('replica.fetch.backoff.ms', 100, 'Pause after a failed replica fetch.', {
    min: 0,
  }),
  uncleanLeaderElectionEnable: bool(
    'unclean.leader.election.enable',
    false,
    'Let a non-ISR replica lead (may lose data).',
  ),
  autoLeaderRebalanceEnable: bool(
    'auto.leader.rebalance.enable',
    true,
    'Move leadership back to preferred replicas.',
  ),
  offsetsTopicNumPartitions: int('offsets.topic.num.partitions', 50, 'Partitions of __consumer_offsets.', {
    min: 1,
  }),
  offsetsTopicReplicationFactor: int(
    'offsets.topic.replication.factor',
    3,
    'Replication of __consumer_offsets.',
    {
      min: 1,
    },
  ),
  offsetsTopicSegmentBytes: int(
    'offsets.topic.segment.bytes',
    104857600,
    'Segment size of __consumer_offsets (small, so compaction starts early).',
    { min: 14 },
  ),
  transactionStateLogNumPartitions: int(
    'transaction.state.log.num.partitions',
    50,
    'Partitions of __transaction_state.',
    { min: 1 },
  ),
  transactionStateLogReplicationFactor: int(
    'transaction.state.log.replication.factor',
    3,
    'Replication of __transaction_state (fewer live brokers lower it at creation).',
    { min: 1 },
  ),
  transactionStateLogSegmentBytes: int(
    'transaction.state.log.segment.bytes',
    104857600,
    'Segment size of __transaction_state.',
    { min: 14 },
  ),
  transactionMaxTimeoutMs: int(
    'transaction.max.timeout.ms',
    900000,
    'The longest transaction.timeout.ms a producer may ask for (INVALID_TRANSACTION_TIMEOUT beyond).',
    { min: 1 },
  ),
  transactionalIdExpirationMs: int(
    'transactional.id.expiration.ms',
    604800000,
    'A transactional id without a transaction in progress (Empty, CompleteCommit, CompleteAbort) and not updated for this long is removed from __transaction_state.',
    { min: 1 },
  ),
  transactionPartitionVerificationEnable: bool(
    'transaction.partition.verification.enable',
    true,
    "KIP-890 part 1: a partition leader asks the transaction coordinator whether a partition is in a producer's ongoing transaction before appending that producer's first transactional batch to it; a partition not added is refused with INVALID_TXN_STATE.",
  ),
  transactionRemoveExpiredTransactionCleanupIntervalMs: int(
    'transaction.remove.expired.transaction.cleanup.interval.ms',
    3600000,
    'How often the transaction coordinator removes expired transactional ids.',
    { min: 1 },
  ),
  groupInitialRebalanceDelayMs: int(
    'group.initial.rebalance.delay.ms',
    3000,
    'Wait for more members of a new group.',
    {
      min: 0,
    },
  ),
  groupConsumerAssignors: list(
    'group.consumer.assignors',
    ['uniform', 'range'],
    "Server-side assignors of KIP-848 consumer groups, the first the default: uniform, range (or Kafka's UniformAssignor, RangeAssignor class names).",
    (names) =>
      names.length > 0 && names.every((name) => consumerAssignorName(name) !== null)
        ? undefined
        : `must list uniform and/or range, got '${names.join(',')}'`,
  ),
  groupConsumerHeartbeatIntervalMs: int(
    'group.consumer.heartbeat.interval.ms',
    5000,
    'The heartbeat interval ConsumerGroupHeartbeat gives KIP-848 consumers.',
    { min: 1 },
  ),
  groupConsumerSessionTimeoutMs: int(
    'group.consumer.session.timeout.ms',
    45000,
    'A KIP-848 consumer not heard from this long leaves its group.',
    { min: 1 },
  ),
  groupConsumerMinSessionTimeoutMs: int(
    'group.consumer.min.session.timeout.ms',
    45000,
    'Lowest group.consumer.session.timeout.ms allowed (checked at start-up, as Kafka does).',
    { min: 1 },
  ),
  groupConsumerMaxSessionTimeoutMs: int(
    'group.consumer.max.session.timeout.ms',
    60000,
    'Highest group.consumer.session.timeout.ms allowed (checked at start-up, as Kafka does).',
    { min: 1 },
  ),
  groupConsumerMinHeartbeatIntervalMs: int(
    'group.consumer.min.heartbeat.interval.ms',
    5000,
    'Lowest group.consumer.heartbeat.interval.ms allowed (checked at start-up, as Kafka does).',
    { min: 1 },
  ),
  groupConsumerMaxHeartbeatIntervalMs: int(
    'group.consumer.max.heartbeat.interval.ms',
    15000,
    'Highest group.consumer.heartbeat.interval.ms allowed (checked at start-up, as Kafka does).',
    { min: 1 },
  ),
  offsetsRetentionMinutes: int(
    'offsets.retention.minutes',
    10080,
    "Committed offsets expire this long after their group became Empty (classic groups), or after their commit (standalone commits, and topics no member of a Stable consumer group or KIP-848 group subscribes to); an Empty group whose offsets all expired is deleted (Kafka's rules).",
    { min: 1 },
  ),
  offsetsRetentionCheckIntervalMs: long(
    'offsets.retention.check.interval.ms',
    600000,
    'How often each group coordinator looks for expired offsets and Empty groups left without any (offsets.retention.minutes).',
    { min: 1 },
  ),
  groupConsumerMaxSize: int(
    'group.consumer.max.size',
    1000,
    "Members a KIP-848 consumer group may hold; a new member beyond it gets GROUP_MAX_SIZE_REACHED (Kafka's default is unbounded, Gregor's a limit).",
    { min: 1 },
  ),
  groupMinSessionTimeoutMs: int(
    'group.min.session.timeout.ms',
    6000,
    'Shortest session timeout a JoinGroup may ask for (INVALID_SESSION_TIMEOUT below).',
    { min: 1 },
  ),
  groupMaxSessionTimeoutMs: int(
    'group.max.session.timeout.ms',
    1800000,
    'Longest session timeout a JoinGroup may ask for (INVALID_SESSION_TIMEOUT above).',
    { min: 1 },
  ),
  logRetentionCheckIntervalMs: long('log.retention.check.interval.ms', 300000, 'How often retention runs.', {
    min: 1,
  }),
  logFlushSchedulerIntervalMs: long(
    'log.flush.scheduler.interval.ms',
    1000,
    'How often flush.ms is checked.',
    {
      min: 1,
    },
  ),
  metricsPort: int(
    'gregor.metrics.port',
    -1,
    'HTTP port serving /metrics (Prometheus), /healthz and /readyz; -1: off, 0: a port the OS chooses.',
    { min: -1, max: 65535 },
  ),
  metricsSampleWindowMs: long(
    'metrics.sample.window.ms',
    30000,
    'Length of one sample window of the windowed metrics (averages, maxima, request-time percentiles).',
    { min: 1 },
  ),
  maxRequestPartitionSizeLimit: int(
    'max.request.partition.size.limit',
    2000,
    'The most partitions one DescribeTopicPartitions response carries (a request asking for more gets this many and a cursor).',
    { min: 1 },
  ),
  quotaWindowNum: int(
    'quota.window.num',
    11,
    'Samples the client quota rates (producer_byte_rate, consumer_byte_rate, request_percentage) and the connection creation rates are measured over.',
    { min: 1 },
  ),
  quotaWindowSizeSeconds: int(
    'quota.window.size.seconds',
    1,
    'Length of one sample of the client quota and connection creation rates; also the longest request_percentage or connection-rate throttle.',
    { min: 1 },
  ),
  maxConnections: int(
    'max.connections',
    connectionLimitNone,
    'Open connections the Kafka listeners take in all; at the limit, new ones wait until one closes (per listener too: listener.name.<l>.max.connections).',
    { min: 0 },
  ),
  maxIncrementalFetchSessionCacheSlots: int(
    'max.incremental.fetch.session.cache.slots',
    fetchSessionCacheSlotsDefault,
    'Incremental fetch sessions (KIP-227) this broker keeps; when full, a new one replaces one idle for two minutes, or one older than that with fewer partitions, else the consumer fetches without a session. 0 disables sessions.',
    { min: 0 },
  ),
  maxConnectionsPerIp: int(
    'max.connections.per.ip',
    connectionLimitNone,
    'Open connections one IP address may have; a connection past it is closed at once.',
    { min: 0 },
  ),
  maxConnectionsPerIpOverrides: str(
    'max.connections.per.ip.overrides',
    '',
    'Per-IP exceptions to max.connections.per.ip: ip:count,ip:count (IP addresses, not host names).',
    (value) => {
      const parsed = parseConnectionsPerIpOverrides(value);
      return typeof parsed === 'string' ? parsed : undefined;
    },
  ),
  maxConnectionCreationRate: int(
    'max.connection.creation.rate',
    connectionLimitNone,
    'New connections per second the Kafka listeners accept in all; above it, accepting waits (per listener too: listener.name.<l>.max.connection.creation.rate).',
    { min: 0 },
  ),
  metricsNumSamples: int(
    'metrics.num.samples',
    2,
    'Sample windows the windowed metrics keep: they cover the last num.samples windows.',
    { min: 1 },
  ),
  replicaHighWatermarkCheckpointIntervalMs: long(
    'replica.high.watermark.checkpoint.interval.ms',
    5000,
    'How often high watermarks are checkpointed.',
    { min: 1 },
  ),
  logOpenFilesMax: {
    name: 'gregor.log.open.files.max',
    type: 'int',
    defaultValue: -1,
    doc:
      'File descriptors storage keeps open at once (segment, index and checkpoint files, least ' +
      'recently used closed first); -1: half of the open-file limit (ulimit -n, raised to the hard ' +
      'limit at start-up). Must stay below that limit.',
    validate: (value: number) =>
      value === -1 || value >= openFilesMaxFloor
        ? undefined
        : `must be -1 (half of the open-file limit) or at least ${openFilesMaxFloor}, got ${value}`,
  } satisfies ConfigKeyDef<number>,
  externalMemoryGcGrowthBytes: {
    name: 'gregor.external.memory.gc.growth.bytes',
    type: 'long',
    defaultValue: -1,
    doc:
      'A mark-compact when external memory (Buffers) grew by this many bytes since it was last at ' +
      'its lowest, at most once a second: malloc then keeps less of the freed Buffers resident, at ' +
      'a CPU cost (packages/broker/README.md, "Resident memory at steady load"); -1: off, V8 alone ' +
      'decides (it collects after 64 MB of growth).',
    validate: (value: number) =>
      value === -1 || value >= externalMemoryGrowthBytesMin
        ? undefined
        : `must be -1 (off) or at least ${externalMemoryGrowthBytesMin}, got ${value}`,
  } satisfies ConfigKeyDef<number>,
  saslServerMaxReceiveSize: int(
    'sasl.server.max.receive.size',
    524288,
    'Largest frame a SASL connection may send before it has authenticated (then socket.request.max.bytes).',
    { min: 1 },
  ),
  authorizerClassName: str(
    'authorizer.class.name',
    '',
    "The authorizer: Kafka's StandardAuthorizer (ACLs in the metadata log); empty: every request allowed.",
    (name) =>
      name === '' || authorizerClassNames.includes(name)
        ? undefined
        : `must be empty or ${authorizerClassNames.join(' or ')} (Gregor cannot load Java classes)`,
  ),
  superUsers: str('super.users', '', 'Principals allowed everything: User:a;User:b.'),
  allowEveryoneIfNoAclFound: bool(
    'allow.everyone.if.no.acl.found',
    false,
    'Whether a resource no ACL covers is open to every principal.',
  ),
  delegationTokenSecretKey: str(
    'delegation.token.secret.key',
    '',
    'The secret that signs delegation tokens (KIP-48), the same on every broker; empty: delegation tokens are disabled.',
  ),
  delegationTokenMasterKey: str(
    'delegation.token.master.key',
    '',
    "Kafka's deprecated name of delegation.token.secret.key, used when that key is empty.",
  ),
  delegationTokenMaxLifetimeMs: long(
    'delegation.token.max.lifetime.ms',
    7 * 24 * 60 * 60 * 1000,
    'No delegation token lives longer than this, however often it is renewed.',
    { min: 1 },
  ),
  delegationTokenExpiryTimeMs: long(
    'delegation.token.expiry.time.ms',
    24 * 60 * 60 * 1000,
    'How long a delegation token lives unless renewed (its renewal period when none is asked for).',
    { min: 1 },
  ),
  delegationTokenExpiryCheckIntervalMs: long(
    'delegation.token.expiry.check.interval.ms',
    60 * 60 * 1000,
    'How often the active controller removes expired delegation tokens.',
    { min: 1 },
  ),
  maxBrokerPartitions: int(
    'max.broker.partitions',
    maxBrokerPartitionsDefault,
    'Partition replicas one broker may hold; CreateTopics/CreatePartitions beyond it are refused (KIP-578).',
    { min: 1 },
  ),
} as const;

/** Every key this table reads (Gregor's own keys and the Kafka keys it acts on or checks). */
const tableKeys: ReadonlySet<string> = new Set(Object.values(definitions).map((def) => def.name));

export type BrokerSettings = ReturnType<typeof resolveConfig<typeof definitions>>['values'];

export interface BrokerConfig {
  readonly settings: BrokerSettings;
  readonly log: BrokerLogConfig;
  readonly listeners: readonly ListenerSpec[];
  readonly advertisedListeners: readonly ListenerSpec[];
  /** Kafka listeners (everything but the controller listener). */
  readonly kafkaListeners: readonly ListenerSpec[];
  readonly controllerListener: ListenerSpec;
  readonly voters: readonly QuorumVoter[];
  readonly isController: boolean;
  /** The security protocol of every listener. */
  readonly listenerSecurityProtocols: ReadonlyMap<string, SecurityProtocol>;
  /** The TLS settings of every SSL and SASL_SSL listener, by listener name. */
  readonly listenerTls: ReadonlyMap<string, ListenerTls>;
  /** The SASL settings of every SASL_PLAINTEXT and SASL_SSL listener, by listener name. */
  readonly listenerSasl: ReadonlyMap<string, ListenerSasl>;
  /** The TLS of the nodes' own gRPC when the controller listener is SSL; undefined: PLAINTEXT. */
  readonly controllerTls: ControllerListenerTls | undefined;
  /** max.connections, max.connections.per.ip[.overrides], max.connection.creation.rate, also per listener. */
  readonly connectionLimits: ConnectionLimits;
  /** Kafka keys that were set but do nothing in Gregor, with why; logged once at start-up. */
  readonly keysWithoutEffect: readonly KeyWithoutEffect[];
  /** Every key given explicitly, for DescribeConfigs' sources. */
  readonly explicitKeys: ReadonlySet<string>;
  /** KAFKA_* variables of the apache/kafka image that are not settings; logged once at start-up. */
  readonly ignoredEnvironmentVariables: readonly IgnoredVariable[];
  readonly raw: ReadonlyMap<string, string>;
}

export interface KeyWithoutEffect {
  readonly key: string;
  readonly reason: string;
}

/**
 * Reads `--config FILE` (if any) and the environment (KAFKA_*, CLUSTER_ID, GREGOR_CFG_*), the
 * environment winning. A refused key that came from a variable is reported with the variable's name.
 */
export function loadBrokerConfig(
  configFile: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): BrokerConfig {
  const merged = new Map<string, string>();
  if (configFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(configFile, 'utf8');
    } catch (error) {
      throw new ConfigError('--config', `cannot read ${configFile}: ${(error as Error).message}`);
    }
    for (const [key, value] of parseProperties(text)) merged.set(key, value);
  }
  const environment = settingsFromEnvironment(env);
  if (environment.conflicts.length > 0) {
    throw new ConfigError(
      environment.conflicts.map(({ key, variables }) => ({
        key,
        message: `${key}: set to different values by ${variables.join(' and ')}`,
      })),
    );
  }
  for (const [key, value] of environment.properties) merged.set(key, value);
  const jaas = staticJaasConfig(env);
  try {
    return { ...brokerConfigFrom(merged, jaas), ignoredEnvironmentVariables: environment.ignored };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw new ConfigError(
      error.problems.map((problem) => {
        const variable = environment.sources.get(problem.key);
        return variable === undefined
          ? problem
          : { key: problem.key, message: `${problem.message} (from environment variable ${variable})` };
      }),
    );
  }
}

/**
 * The JAAS file named by -Djava.security.auth.login.config in KAFKA_OPTS, read and parsed; what
 * SASL listeners fall back to when no sasl.jaas.config key gives their login module, as a Kafka
 * broker started by kafka-server-start.sh (or the apache/kafka image) with that KAFKA_OPTS would.
 */
export function staticJaasConfig(env: NodeJS.ProcessEnv): StaticJaasConfig | undefined {
  const path = jaasFilePathFromKafkaOpts(env.KAFKA_OPTS);
  if (path === undefined) return undefined;
  const where = `${jaasFileConfigKey} (from KAFKA_OPTS)`;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(where, `cannot read the JAAS file ${path}: ${(error as Error).message}`);
  }
  try {
    return { path, file: parseJaasFile(text) };
  } catch (error) {
    throw new ConfigError(where, `${path}: ${(error as Error).message}`);
  }
}

export function brokerConfigFrom(raw: ReadonlyMap<string, string>, jaas?: StaticJaasConfig): BrokerConfig {
  // First every key on its own: unknown keys, values of the wrong type or out of range.
  const problems = new ConfigProblems();
  const tableRaw = new Map<string, string>();
  const logProps: Record<string, string> = {};
  const keysWithoutEffect: KeyWithoutEffect[] = [];
  for (const [key, value] of raw) {
    if (tableKeys.has(key)) {
      tableRaw.set(key, value);
    } else if (isBrokerLogConfigKey(key)) {
      logProps[key] = value;
      problems.check(() => parseLogProps({ [key]: value }));
    } else {
      const type = kafkaKeyType(key);
      if (type === undefined) {
        const suggestion = suggestKey(key, [...tableKeys, ...kafkaBrokerKeyTypes.keys()]);
        problems.add(
          new ConfigError(
            key,
            `unknown configuration key${suggestion === undefined ? '' : `; did you mean '${suggestion}'?`}`,
          ),
        );
        continue;
      }
      const problem = checkKafkaValue(type, value);
      if (problem !== undefined) problems.add(new ConfigError(key, problem));
      else if (
        !tlsKeysWithEffect.has(unprefixedKey(key)) &&
        unprefixedKey(key) !== endpointIdentificationKey &&
        !isSaslKeyWithEffect(key) &&
        !(key.startsWith('listener.name.') && listenerConnectionKeys.has(unprefixedKey(key)))
      ) {
        keysWithoutEffect.push({ key, reason: withoutEffectReason(key) });
      }
    }
  }
  for (const def of Object.values(definitions) as ConfigKeyDef<unknown>[]) {
    if (def.withoutEffect !== undefined && tableRaw.has(def.name)) {
      keysWithoutEffect.push({ key: def.name, reason: def.withoutEffect });
    }
  }
  if (logProps['log.dirs'] === undefined && logProps['log.dir'] === undefined) {
    problems.add(new ConfigError('log.dirs', 'is required but not set'));
  }
  const resolved = problems.check(() => resolveConfig(definitions, tableRaw));
  const log = problems.check(() => parseLogProps(logProps));
  problems.throwIfAny();
  const settings = resolved!.values;

  // Then what the keys say together.
  const listeners = problems.check(() => parseListeners('listeners', settings.listeners)) ?? [];
  const advertised =
    settings.advertisedListeners.length > 0
      ? (problems.check(() => parseListeners('advertised.listeners', settings.advertisedListeners)) ?? [])
      : listeners;
  if (settings.listeners.length === 0) {
    problems.add(new ConfigError('listeners', 'must name a Kafka listener and the controller listener'));
  }
  const controllerNames = new Set(settings.controllerListenerNames.map((name) => name.toUpperCase()));
  const controllerListener = listeners.find((listener) => controllerNames.has(listener.name));
  if (controllerListener === undefined && listeners.length > 0) {
    problems.add(
      new ConfigError(
        'controller.listener.names',
        `no listener in 'listeners' is named ${[...controllerNames].join(',')}`,
      ),
    );
  }
  const kafkaListeners = listeners.filter((listener) => !controllerNames.has(listener.name));
  const roles = new Set(settings.processRoles);
  if (roles.has('broker') && listeners.length > 0 && kafkaListeners.length === 0) {
    problems.add(
      new ConfigError('listeners', 'a broker needs a Kafka listener besides the controller listener'),
    );
  }
  if (!roles.has('controller')) {
    // KRaft brokers follow the metadata log as observers; Gregor's Raft has no observers yet.
    problems.add(
      new ConfigError(
        'process.roles',
        'every Gregor node must include the controller role (broker,controller)',
      ),
    );
  }
  for (const listener of advertised) {
    if (listeners.length > 0 && !listeners.some((own) => own.name === listener.name)) {
      problems.add(
        new ConfigError('advertised.listeners', `listener ${listener.name} is not in 'listeners'`),
      );
    }
  }
  const listenerSecurityProtocols =
    problems.check(() =>
      resolveSecurityProtocols(
        listeners,
        controllerNames,
        settings.listenerSecurityProtocolMap,
        raw.has('listener.security.protocol.map'),
      ),
    ) ?? new Map<string, SecurityProtocol>();
  const tlsListeners = listeners.filter((listener) => {
    const protocol = listenerSecurityProtocols.get(listener.name);
    return protocol === 'SSL' || protocol === 'SASL_SSL';
  });
  const tlsByListener = new Map<string, ListenerTls>();
  for (const listener of tlsListeners) {
    const tls = problems.check(() => listenerTls(raw, listener.name));
    if (tls !== undefined) tlsByListener.set(listener.name, tls);
  }
  const controllerTlsSettings =
    controllerListener === undefined ? undefined : tlsByListener.get(controllerListener.name);
  const controllerTls =
    controllerTlsSettings === undefined
      ? undefined
      : problems.check(() => controllerListenerTls(raw, controllerListener!.name, controllerTlsSettings));
  const saslListeners = listeners.filter((listener) => {
    const protocol = listenerSecurityProtocols.get(listener.name);
    return protocol === 'SASL_PLAINTEXT' || protocol === 'SASL_SSL';
  });
  const saslByListener = new Map<string, ListenerSasl>();
  for (const listener of saslListeners) {
    const sasl = problems.check(() => listenerSasl(raw, listener.name, jaas));
    if (sasl !== undefined) saslByListener.set(listener.name, sasl);
  }
  for (const key of raw.keys()) {
    if (isSaslKeyWithEffect(key)) {
      const prefix = /^listener\.name\.([^.]+)\./.exec(key);
      const usedBy =
        prefix === null ? saslListeners : saslListeners.filter((l) => l.name.toLowerCase() === prefix[1]);
      if (usedBy.length === 0) {
        keysWithoutEffect.push({ key, reason: 'no listener it applies to is SASL_PLAINTEXT or SASL_SSL' });
      }
    }
    const prefix = /^listener\.name\.([^.]+)\./.exec(key);
    if (prefix !== null && !listeners.some((listener) => listener.name.toLowerCase() === prefix[1])) {
      problems.add(new ConfigError(key, `names listener '${prefix[1]}', which is not in 'listeners'`));
    } else if (unprefixedKey(key) === endpointIdentificationKey) {
      const controllerName = controllerListener?.name.toLowerCase();
      if (controllerTlsSettings === undefined || (prefix !== null && prefix[1] !== controllerName)) {
        keysWithoutEffect.push({
          key,
          reason:
            "only the nodes' own gRPC clients check a server's hostname, and they do so only when the controller listener is SSL",
        });
      }
    } else if (tlsKeysWithEffect.has(unprefixedKey(key))) {
      const usedBy =
        prefix === null ? tlsListeners : tlsListeners.filter((l) => l.name.toLowerCase() === prefix[1]);
      if (usedBy.length === 0) {
        keysWithoutEffect.push({ key, reason: 'no listener it applies to is SSL or SASL_SSL' });
      } else if (
        unprefixedKey(key) === 'ssl.principal.mapping.rules' &&
        usedBy.every((listener) => listener === controllerListener)
      ) {
        keysWithoutEffect.push({
          key,
          reason: 'the controller listener serves gRPC between nodes, whose calls carry no principal',
        });
      }
    }
  }
  if (settings.interBrokerListenerName !== '') {
    const name = settings.interBrokerListenerName.toUpperCase();
    if (raw.has('security.inter.broker.protocol')) {
      problems.add(
        new ConfigError(
          'inter.broker.listener.name',
          'cannot be set together with security.inter.broker.protocol (as in Kafka)',
        ),
      );
    } else if (controllerNames.has(name)) {
      problems.add(
        new ConfigError(
          'inter.broker.listener.name',
          `${name} is a controller listener (controller.listener.names)`,
        ),
      );
    } else if (listeners.length > 0 && !advertised.some((listener) => listener.name === name)) {
      problems.add(
        new ConfigError('inter.broker.listener.name', `${name} is not one of the advertised listeners`),
      );
    }
  }
  if (settings.brokerId !== -1 && settings.brokerId !== settings.nodeId) {
    problems.add(
      new ConfigError(
        'broker.id',
        `is ${settings.brokerId} but node.id is ${settings.nodeId}; they must match`,
      ),
    );
  }
  if (
    settings.queuedMaxRequestBytes !== -1 &&
    settings.queuedMaxRequestBytes < settings.socketRequestMaxBytes
  ) {
    // Kafka's SimpleMemoryPool refuses the same: a request of the largest size could never be read.
    problems.add(
      new ConfigError(
        'queued.max.request.bytes',
        `${settings.queuedMaxRequestBytes === 0 ? 'cannot be 0' : `is ${settings.queuedMaxRequestBytes}`}; it must be -1 or at least socket.request.max.bytes (${settings.socketRequestMaxBytes})`,
      ),
    );
  }
  const voters = problems.check(() => voterList(settings.controllerQuorumVoters)) ?? [];
  if (voters.length > 0 && !voters.some((voter) => voter.id === settings.nodeId)) {
    problems.add(
      new ConfigError('controller.quorum.voters', `node.id ${settings.nodeId} is not among the voters`),
    );
  }
  // Port 0 for this node is its CONTROLLER listener's bound port; a peer's can only come from the file.
  const unknownPeer = voters.find((voter) => voter.port === 0 && voter.id !== settings.nodeId);
  if (unknownPeer !== undefined && settings.controllerQuorumVotersFile === '') {
    throw new ConfigError(
      'controller.quorum.voters',
      `voter ${unknownPeer.id} has port 0, which needs gregor.controller.quorum.voters.file`,
    );
  }
  if (settings.groupMinSessionTimeoutMs > settings.groupMaxSessionTimeoutMs) {
    throw new ConfigError('group.min.session.timeout.ms', 'must not be above group.max.session.timeout.ms');
  }
  for (const problem of consumerGroupTimeoutProblems(settings)) problems.add(problem);
  if (settings.brokerSessionTimeoutMs < 2 * settings.brokerHeartbeatIntervalMs) {
    problems.add(
      new ConfigError('broker.session.timeout.ms', 'must be at least twice broker.heartbeat.interval.ms'),
    );
  }
  if (settings.maxConnectionsPerIp === 0 && settings.maxConnectionsPerIpOverrides.trim() === '') {
    // Kafka refuses the same: no IP could ever connect.
    problems.add(
      new ConfigError('max.connections.per.ip', 'is 0, so max.connections.per.ip.overrides must be set'),
    );
  }
  const listenerMaxConnections = new Map<string, number>();
  const listenerMaxConnectionCreationRate = new Map<string, number>();
  for (const [key, value] of raw) {
    const match = /^listener\.name\.([^.]+)\.(max\.connections|max\.connection\.creation\.rate)$/.exec(key);
    const listener = listeners.find((one) => one.name.toLowerCase() === match?.[1]);
    if (match === null || listener === undefined) continue;
    const limit = Number(value.trim());
    if (limit < 0) problems.add(new ConfigError(key, 'must not be negative'));
    else if (match[2] === 'max.connections') listenerMaxConnections.set(listener.name, limit);
    else listenerMaxConnectionCreationRate.set(listener.name, limit);
  }
  problems.throwIfAny();
  const overrides = parseConnectionsPerIpOverrides(settings.maxConnectionsPerIpOverrides);
  return {
    settings,
    log: log!,
    listeners,
    advertisedListeners: advertised,
    kafkaListeners,
    controllerListener: controllerListener!,
    voters,
    isController: roles.has('controller'),
    listenerSecurityProtocols,
    listenerTls: tlsByListener,
    listenerSasl: saslByListener,
    controllerTls,
    connectionLimits: {
      maxConnections: settings.maxConnections,
      maxConnectionsPerIp: settings.maxConnectionsPerIp,
      maxConnectionsPerIpOverrides: typeof overrides === 'string' ? new Map() : overrides,
      maxConnectionCreationRate: settings.maxConnectionCreationRate,
      listenerMaxConnections,
      listenerMaxConnectionCreationRate,
    },
    keysWithoutEffect,
    explicitKeys: new Set(raw.keys()),
    ignoredEnvironmentVariables: [],
    raw,
  };
}

function parseLogProps(props: Record<string, string>): BrokerLogConfig {
  try {
    return parseBrokerLogConfig(props);
  } catch (error) {
    if (error instanceof LogConfigError) throw new ConfigError(error.key, error.message);
    throw error;
  }
}

/** A key without its `listener.name.<listener>.` prefix (and SASL mechanism part), if it has one. */
export function unprefixedKey(key: string): string {
  const match = /^listener\.name\.[^.]+\.(.+)$/.exec(key);
  return match === null ? key : match[1]!;
}

/**
 * Each listener's protocol: its entry in listener.security.protocol.map, else its own name when
 * that is a protocol (PLAINTEXT://...), else PLAINTEXT for a controller listener when the map was
 * not set (Kafka's KRaft default). The controller listener serves gRPC between nodes: PLAINTEXT or
 * SSL (nodes authenticate each other with certificates), never SASL.
 */
function resolveSecurityProtocols(
  listeners: readonly ListenerSpec[],
  controllerNames: ReadonlySet<string>,
  mapText: string,
  mapSetExplicitly: boolean,
): Map<string, SecurityProtocol> {
  const map = parseSecurityProtocolMap(mapText);
  const resolved = new Map<string, SecurityProtocol>();
  const problems = new ConfigProblems();
  for (const listener of listeners) {
    const protocol =
      map.get(listener.name) ??
      (isSecurityProtocol(listener.name) ? listener.name : undefined) ??
      (controllerNames.has(listener.name) && !mapSetExplicitly ? 'PLAINTEXT' : undefined);
    if (protocol === undefined) {
      problems.add(
        new ConfigError(
          'listener.security.protocol.map',
          `listener ${listener.name} has no security protocol; add ${listener.name}:PLAINTEXT`,
        ),
      );
    } else if (
      (protocol === 'SASL_PLAINTEXT' || protocol === 'SASL_SSL') &&
      controllerNames.has(listener.name)
    ) {
      problems.add(
        new ConfigError(
          'listener.security.protocol.map',
          `controller listener ${listener.name} is ${protocol}, but it serves gRPC between nodes (quorum, controller, replication), where nodes prove who they are with certificates, not SASL: use SSL (with ssl.client.auth=required for mutual TLS) or PLAINTEXT`,
        ),
      );
    } else {
      resolved.set(listener.name, protocol);
    }
  }
  problems.throwIfAny();
  return resolved;
}

/**
 * The broker configs DescribeConfigs reports for this broker: every key of the table that has an
 * effect (set, or at its default) and every log key that was set. Keys accepted without effect are
 * left out, so a client never reads one as being in force.
 */
export interface DescribedBrokerSetting {
  readonly name: string;
  readonly value: string;
  readonly source: 'static-broker-config' | 'default';
  /** Kafka's ConfigDef type of the key (undefined for Gregor's own `gregor.*` keys). */
  readonly type: KafkaKeyType | undefined;
  readonly documentation: string | null;
}

export function describedBrokerSettings(config: BrokerConfig): DescribedBrokerSetting[] {
  const described: DescribedBrokerSetting[] = [];
  for (const [property, def] of Object.entries(definitions) as [string, ConfigKeyDef<unknown>][]) {
    if (def.withoutEffect !== undefined) continue;
    const value = (config.settings as Record<string, unknown>)[property];
    described.push({
      name: def.name,
      value: Array.isArray(value) ? value.join(',') : String(value),
      source: config.raw.has(def.name) ? 'static-broker-config' : 'default',
      type: kafkaBrokerKeyTypes.get(def.name),
      documentation: def.doc,
    });
  }
  for (const [name, value] of config.raw) {
    if (!tableKeys.has(name) && isBrokerLogConfigKey(name)) {
      described.push({
        name,
        value,
        source: 'static-broker-config',
        type: kafkaBrokerKeyTypes.get(name),
        documentation: logConfigDoc(name) ?? null,
      });
    }
  }
  return described;
}

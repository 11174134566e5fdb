// The node's configuration: Kafka's key names and meanings, from a server.properties file and
// GREGOR_CFG_* environment variables (which win). Log settings (`log.*`) are validated by the
// storage package's table. Anything unknown or malformed stops start-up with the key's name.

import { readFileSync } from 'node:fs';
import { maxBrokerPartitionsDefault } from '@gregor/metadata';
import { parseQuorumVoters, type QuorumVoter } from '@gregor/raft';
import {
  type BrokerLogConfig,
  isBrokerLogConfigKey,
  LogConfigError,
  parseBrokerLogConfig,
} from '@gregor/storage';
import { openFilesMaxFloor } from '../node/open-file-limit.js';
import {
  bool,
  ConfigError,
  type ConfigKeyDef,
  int,
  list,
  long,
  oneOf,
  resolveConfig,
  str,
} from './config-def.js';
import { parseProperties, propertiesFromEnvironment } from './properties.js';

export interface ListenerSpec {
  readonly name: string;
  /** '' binds every interface, IPv4 and IPv6. */
  readonly host: string;
  readonly port: number;
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

const definitions = {
  nodeId: int('node.id', undefined, 'This node id, unique in the cluster.', { min: 0 }),
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
  controllerQuorumVoters: str(
    'controller.quorum.voters',
    undefined,
    'id@host:port of every voter (gRPC addresses).',
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
  groupInitialRebalanceDelayMs: int(
    'group.initial.rebalance.delay.ms',
    3000,
    'Wait for more members of a new group.',
    {
      min: 0,
    },
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
  maxBrokerPartitions: int(
    'max.broker.partitions',
    maxBrokerPartitionsDefault,
    'Partition replicas one broker may hold; CreateTopics/CreatePartitions beyond it are refused (KIP-578).',
    { min: 1 },
  ),
  metricsPort: int('gregor.metrics.port', -1, 'Prometheus /metrics on this port (-1: off).', {
    min: -1,
    max: 65535,
  }),
} as const;

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
  /** Every key given explicitly, for DescribeConfigs' sources. */
  readonly explicitKeys: ReadonlySet<string>;
  readonly raw: ReadonlyMap<string, string>;
}

/** Reads `--config FILE` (if any) and GREGOR_CFG_* variables, env winning. */
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
  for (const [key, value] of propertiesFromEnvironment(env)) merged.set(key, value);
  return brokerConfigFrom(merged);
}

export function brokerConfigFrom(raw: ReadonlyMap<string, string>): BrokerConfig {
  const { values: settings } = resolveConfig(definitions, raw, {
    isKnownElsewhere: (key) => isBrokerLogConfigKey(key),
  });
  const logProps: Record<string, string> = {};
  for (const [key, value] of raw) if (isBrokerLogConfigKey(key)) logProps[key] = value;
  if (logProps['log.dirs'] === undefined && logProps['log.dir'] === undefined) {
    throw new ConfigError('log.dirs', 'is required but not set');
  }
  let log: BrokerLogConfig;
  try {
    log = parseBrokerLogConfig(logProps);
  } catch (error) {
    if (error instanceof LogConfigError) throw new ConfigError(error.key, error.message);
    throw error;
  }

  const listeners = parseListeners('listeners', settings.listeners);
  const advertised =
    settings.advertisedListeners.length > 0
      ? parseListeners('advertised.listeners', settings.advertisedListeners)
      : listeners;
  const controllerNames = new Set(settings.controllerListenerNames.map((name) => name.toUpperCase()));
  const controllerListener = listeners.find((listener) => controllerNames.has(listener.name));
  if (controllerListener === undefined) {
    throw new ConfigError(
      'controller.listener.names',
      `no listener in 'listeners' is named ${[...controllerNames].join(',')}`,
    );
  }
  const kafkaListeners = listeners.filter((listener) => !controllerNames.has(listener.name));
  const roles = new Set(settings.processRoles);
  if (roles.has('broker') && kafkaListeners.length === 0) {
    throw new ConfigError('listeners', 'a broker needs a Kafka listener besides the controller listener');
  }
  if (!roles.has('controller')) {
    // KRaft brokers follow the metadata log as observers; Gregor's Raft has no observers yet.
    throw new ConfigError(
      'process.roles',
      'every Gregor node must include the controller role (broker,controller)',
    );
  }
  for (const listener of advertised) {
    if (!listeners.some((own) => own.name === listener.name)) {
      throw new ConfigError('advertised.listeners', `listener ${listener.name} is not in 'listeners'`);
    }
  }
  const voters = voterList(settings.controllerQuorumVoters);
  if (!voters.some((voter) => voter.id === settings.nodeId)) {
    throw new ConfigError('controller.quorum.voters', `node.id ${settings.nodeId} is not among the voters`);
  }
  if (settings.brokerSessionTimeoutMs < 2 * settings.brokerHeartbeatIntervalMs) {
    throw new ConfigError('broker.session.timeout.ms', 'must be at least twice broker.heartbeat.interval.ms');
  }
  return {
    settings,
    log,
    listeners,
    advertisedListeners: advertised,
    kafkaListeners,
    controllerListener,
    voters,
    isController: roles.has('controller'),
    explicitKeys: new Set(raw.keys()),
    raw,
  };
}

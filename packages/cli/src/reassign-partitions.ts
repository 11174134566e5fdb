// `gregor reassign-partitions`: kafka-reassign-partitions.sh, with its flags, files and output.
//   gregor reassign-partitions --bootstrap-server host:port[,...] [--timeout-ms N]
//       (--generate --topics-to-move-json-file F --broker-list 1,2,3
//        | --execute --reassignment-json-file F [--additional] [--throttle BYTES_PER_S]
//                    [--replica-alter-log-dirs-throttle BYTES_PER_S]
//        | --verify --reassignment-json-file F [--preserve-throttles]
//        | --cancel --reassignment-json-file F
//        | --list)
// Over the Kafka protocol: Metadata for the current replicas, AlterPartitionReassignments (v0, as
// Kafka's AdminClient sends it) to start and cancel, ListPartitionReassignments for what is moving.
// --throttle (KIP-73, as kafka-reassign-partitions.sh): IncrementalAlterConfigs sets
// leader/follower.replication.throttled.rate on every broker of the moving partitions' old and new
// replicas, leader.replication.throttled.replicas to the old replicas and
// follower.replication.throttled.replicas to the added ones; --verify removes them all once every
// partition of the file is done (unless --preserve-throttles). A file's log_dirs entry other than
// "any" moves that replica to that log dir of its broker: --execute sends AlterReplicaLogDirs to
// each broker concerned, --verify reads DescribeLogDirs. --replica-alter-log-dirs-throttle (KIP-113)
// sets replica.alter.log.dirs.io.max.bytes.per.second on the brokers of those replicas; --verify
// removes it from every broker, with the other throttles, once the reassignments and the moves
// between log dirs are all done.

import { readFile } from 'node:fs/promises';
import { ApiKey, type KafkaConnection } from '@gregor/client';
import { alterConfigOpType, configResourceType, ErrorCode, errorName } from '@gregor/protocol';
import {
  AdminCommandError,
  type AdminSession,
  parseFlags,
  usageExitCode,
  withAdminSession,
} from './admin-session.js';
import { commandConfigHelp, parseConnectionFlags } from './connection-flags.js';
import type { TextOutput } from './dump-log.js';
import type { Address } from './metadata-shell-args.js';
import {
  formatReassignmentJson,
  type PartitionReplicas,
  parseBrokerList,
  parseReassignmentJson,
  parseTopicsToMoveJson,
  proposeReassignment,
  type ReplicaLogDir,
  replicaLogDirs,
} from './reassign-partitions-json.js';
import { optionsOrUsageExit } from './usage.js';

/** Kafka's AdminClient default.api.timeout.ms. */
export const reassignDefaultTimeoutMs = 60_000;
/** Longest accepted --timeout-ms: a larger value is a typo, not a wish. */
export const reassignTimeoutMsMax = 600_000;

export const reassignPartitionsUsage = `Usage: gregor reassign-partitions --bootstrap-server host:port[,host:port...] [--timeout-ms N]
    [--command-config FILE]
    --generate --topics-to-move-json-file FILE --broker-list 1,2,3 [--disable-rack-aware]
  | --execute --reassignment-json-file FILE [--additional] [--throttle BYTES_PER_S]
              [--replica-alter-log-dirs-throttle BYTES_PER_S]
  | --verify --reassignment-json-file FILE [--preserve-throttles]
  | --cancel --reassignment-json-file FILE
  | --list

Moves partitions between brokers, like kafka-reassign-partitions.sh:
  --generate  prints the current assignment of the topics and a proposal that spreads them over
              --broker-list (nothing is changed)
  --execute   starts the reassignments of the file; prints the current assignment to roll back to
              (--additional: even while other reassignments are in progress; --throttle: caps
              the replication of the moving replicas at BYTES_PER_S per broker, leader and
              follower side, until --verify removes the throttle;
              --replica-alter-log-dirs-throttle: caps the copy of the replicas the file moves
              between log dirs at BYTES_PER_S per broker, until --verify removes it)
  --verify    tells, per partition of the file, whether its reassignment is complete (and its
              moves between log dirs); once all are, removes the throttles (--preserve-throttles:
              keeps them)
  --cancel    cancels the file's reassignments that are in progress (back to the old replicas)
  --list      lists the reassignments in progress
Reassignment file: {"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1,2]}]}
  optional "log_dirs":["/data/b","any"] per partition: a path moves that replica to that log dir
  of its broker (AlterReplicaLogDirs; --verify tells whether it is there), "any" leaves it
Topics file:       {"version":1,"topics":[{"topic":"t"}]}
Placement is rack-unaware (--disable-rack-aware changes nothing).

${commandConfigHelp}
Exit codes: 0 ok, 1 a partition failed (or cluster unreachable), 2 usage error.
`;

type Action =
  | { readonly kind: 'generate'; readonly topicsFile: string; readonly brokerIds: readonly number[] }
  | {
      readonly kind: 'execute';
      readonly file: string;
      readonly additional: boolean;
      /** Bytes/s; undefined: no throttle. */
      readonly throttle: number | undefined;
      /** Bytes/s of copies between log dirs; undefined: no throttle. */
      readonly logDirThrottle: number | undefined;
    }
  | { readonly kind: 'verify'; readonly file: string; readonly preserveThrottles: boolean }
  | { readonly kind: 'cancel'; readonly file: string }
  | { readonly kind: 'list' };

export interface ReassignPartitionsArgs {
  readonly bootstrap: Address[];
  readonly timeoutMs: number;
  readonly action: Action;
}

const actionFlags = ['--generate', '--execute', '--verify', '--cancel', '--list'] as const;
const logDirThrottleFlag = '--replica-alter-log-dirs-throttle';

/** A throttle flag's bytes/s (a whole number >= 1), or why it is not one. */
function parseBytesPerSecond(flag: string, text: string | undefined): number | undefined | string {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < 1) {
    return `${flag} must be a number of bytes per second, not '${text}'`;
  }
  return value;
}

export function parseReassignPartitionsArgs(
  args: readonly string[],
): ReassignPartitionsArgs | 'help' | string {
  const parsed = parseFlags(
    args,
    new Set([
      '--bootstrap-server',
      '--command-config',
      '--timeout-ms',
      '--reassignment-json-file',
      '--topics-to-move-json-file',
      '--broker-list',
      '--throttle',
      logDirThrottleFlag,
    ]),
    new Set([...actionFlags, '--additional', '--disable-rack-aware', '--preserve-throttles']),
  );
  if (typeof parsed === 'string') return parsed;
  const { flags, positional } = parsed;
  if (positional.length > 0) return `unexpected '${positional.join(' ')}'`;
  const connection = parseConnectionFlags(flags, reassignDefaultTimeoutMs, reassignTimeoutMsMax);
  if (typeof connection === 'string') return connection;
  const chosen = actionFlags.filter((flag) => flags.has(flag));
  if (chosen.length !== 1) {
    return 'Command must include exactly one action: --generate, --execute, --verify, --cancel or --list';
  }
  const action = chosen[0]!;
  const file = flags.get('--reassignment-json-file');
  const topicsFile = flags.get('--topics-to-move-json-file');
  const brokerListText = flags.get('--broker-list');
  const allowed: Record<(typeof actionFlags)[number], readonly string[]> = {
    // Placement is rack-unaware anyway: Gregor's replica placement does not use racks.
    '--generate': ['--topics-to-move-json-file', '--broker-list', '--disable-rack-aware'],
    '--execute': ['--reassignment-json-file', '--additional', '--throttle', logDirThrottleFlag],
    '--verify': ['--reassignment-json-file', '--preserve-throttles'],
    '--cancel': ['--reassignment-json-file'],
    '--list': [],
  };
  for (const flag of [
    '--reassignment-json-file',
    '--topics-to-move-json-file',
    '--broker-list',
    '--additional',
    '--disable-rack-aware',
    '--throttle',
    logDirThrottleFlag,
    '--preserve-throttles',
  ]) {
    if (flags.has(flag) && !allowed[action].includes(flag)) return `${flag} is not valid with ${action}`;
  }
  switch (action) {
    case '--generate': {
      if (topicsFile === undefined) return '--generate needs --topics-to-move-json-file';
      if (brokerListText === undefined) return '--generate needs --broker-list';
      const brokerIds = parseBrokerList(brokerListText);
      if (typeof brokerIds === 'string') return brokerIds;
      return { ...connection, action: { kind: 'generate', topicsFile, brokerIds } };
    }
    case '--list':
      return { ...connection, action: { kind: 'list' } };
    default: {
      if (file === undefined) return `${action} needs --reassignment-json-file`;
      if (action === '--execute') {
        const throttle = parseBytesPerSecond('--throttle', flags.get('--throttle'));
        if (typeof throttle === 'string') return throttle;
        const logDirThrottle = parseBytesPerSecond(logDirThrottleFlag, flags.get(logDirThrottleFlag));
        if (typeof logDirThrottle === 'string') return logDirThrottle;
        const additional = flags.has('--additional');
        return { ...connection, action: { kind: 'execute', file, additional, throttle, logDirThrottle } };
      }
      if (action === '--verify') {
        const preserveThrottles = flags.has('--preserve-throttles');
        return { ...connection, action: { kind: 'verify', file, preserveThrottles } };
      }
      return { ...connection, action: { kind: 'cancel', file } };
    }
  }
}

const partitionName = (topic: string, partition: number) => `${topic}-${partition}`;

/** The current replicas of every partition of `topics` (Metadata v1); unknown topics fail. */
async function currentAssignment(
  connection: KafkaConnection,
  topics: readonly string[],
  timeoutMs: number,
): Promise<PartitionReplicas[]> {
  const metadata = await connection.call(
    ApiKey.Metadata,
    1,
    { topics: topics.map((name) => ({ name })) },
    timeoutMs,
  );
  const result: PartitionReplicas[] = [];
  for (const topic of metadata.topics) {
    if (topic.errorCode !== ErrorCode.NONE) {
      throw new AdminCommandError(`Topic ${topic.name}: ${errorName(topic.errorCode)}`);
    }
    const partitions = [...topic.partitions].sort((a, b) => a.partitionIndex - b.partitionIndex);
    for (const partition of partitions) {
      result.push({
        topic: topic.name ?? '', // never null before Metadata v12
        partition: partition.partitionIndex,
        replicas: [...partition.replicaNodes],
      });
    }
  }
  return result;
}

/** The reassignments in progress of the partitions named (all when null), by partition name. */
async function ongoingReassignments(
  session: AdminSession,
  partitions: readonly PartitionReplicas[] | null,
): Promise<Map<string, { replicas: number[]; addingReplicas: number[]; removingReplicas: number[] }>> {
  let topics: { name: string; partitionIndexes: number[] }[] | null = null;
  if (partitions !== null) {
    const byTopic = new Map<string, number[]>();
    for (const { topic, partition } of partitions)
      byTopic.set(topic, [...(byTopic.get(topic) ?? []), partition]);
    topics = [...byTopic].map(([name, partitionIndexes]) => ({ name, partitionIndexes }));
  }
  const response = await session.bootstrap.call(
    ApiKey.ListPartitionReassignments,
    0,
    { timeoutMs: session.timeoutMs, topics },
    session.timeoutMs + 5_000,
  );
  if (response.errorCode !== ErrorCode.NONE) {
    throw new AdminCommandError(
      `ListPartitionReassignments: ${errorName(response.errorCode)}${response.errorMessage === null ? '' : `: ${response.errorMessage}`}`,
    );
  }
  const ongoing = new Map<
    string,
    { replicas: number[]; addingReplicas: number[]; removingReplicas: number[] }
  >();
  for (const topic of response.topics) {
    for (const partition of topic.partitions)
      ongoing.set(partitionName(topic.name, partition.partitionIndex), partition);
  }
  return ongoing;
}

/** AlterPartitionReassignments for `partitions` (null replicas: cancel); the names that failed, with why. */
async function alterReassignments(
  session: AdminSession,
  partitions: readonly { topic: string; partition: number; replicas: readonly number[] | null }[],
): Promise<{ succeeded: string[]; failed: string[] }> {
  const byTopic = new Map<string, { partitionIndex: number; replicas: number[] | null }[]>();
  for (const { topic, partition, replicas } of partitions) {
    const entry = { partitionIndex: partition, replicas: replicas === null ? null : [...replicas] };
    byTopic.set(topic, [...(byTopic.get(topic) ?? []), entry]);
  }
  const response = await session.bootstrap.call(
    ApiKey.AlterPartitionReassignments,
    0,
    {
      timeoutMs: session.timeoutMs,
      topics: [...byTopic].map(([name, entries]) => ({ name, partitions: entries })),
    },
    session.timeoutMs + 5_000,
  );
  if (response.errorCode !== ErrorCode.NONE) {
    throw new AdminCommandError(
      `AlterPartitionReassignments: ${errorName(response.errorCode)}${response.errorMessage === null ? '' : `: ${response.errorMessage}`}`,
    );
  }
  const succeeded: string[] = [];
  const failed: string[] = [];
  for (const topic of response.responses) {
    for (const partition of topic.partitions) {
      const name = partitionName(topic.name, partition.partitionIndex);
      if (partition.errorCode === ErrorCode.NONE) succeeded.push(name);
      else failed.push(`${name}: ${errorName(partition.errorCode)}: ${partition.errorMessage ?? ''}`);
    }
  }
  return { succeeded, failed };
}

async function readReassignmentFile(path: string): Promise<PartitionReplicas[]> {
  const parsed = parseReassignmentJson(await readText(path));
  if (typeof parsed === 'string') throw new UsageFailure(`${path}: ${parsed}`);
  return parsed;
}

class UsageFailure extends Error {}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageFailure(`cannot read ${path}: ${(error as Error).message}`);
  }
}

const uniqueTopics = (partitions: readonly PartitionReplicas[]) => [
  ...new Set(partitions.map((p) => p.topic)),
];

async function generate(session: AdminSession, topics: readonly string[], brokerIds: readonly number[]) {
  const current = await currentAssignment(session.bootstrap, topics, session.timeoutMs);
  const proposed = proposeReassignment(current, brokerIds);
  if (typeof proposed === 'string') throw new AdminCommandError(proposed);
  session.out.write(`Current partition replica assignment\n${formatReassignmentJson(current)}\n\n`);
  session.out.write(`Proposed partition reassignment configuration\n${formatReassignmentJson(proposed)}\n`);
  return 0;
}

/** One IncrementalAlterConfigs resource: SET (a value) or DELETE (null) of each key. */
interface ConfigResourceChange {
  readonly resourceType: number;
  readonly resourceName: string;
  readonly configs: ReadonlyMap<string, string | null>;
}

const throttleRateKeys = ['leader.replication.throttled.rate', 'follower.replication.throttled.rate'];
/** The bound on copies between a broker's log dirs (KIP-113). */
const logDirThrottleKey = 'replica.alter.log.dirs.io.max.bytes.per.second';
const throttledReplicasKeys = [
  'leader.replication.throttled.replicas',
  'follower.replication.throttled.replicas',
];

/**
 * kafka-reassign-partitions.sh's throttle for moving `current` to `target`: per topic, the leader
 * side throttles the current replicas of the moving partitions (any of them may lead) and the
 * follower side the replicas being added; every broker of either set gets both rates.
 */
export function throttleConfigs(
  current: readonly PartitionReplicas[],
  target: readonly PartitionReplicas[],
  bytesPerSecond: number,
): ConfigResourceChange[] {
  const currentOf = new Map(current.map((p) => [partitionName(p.topic, p.partition), p.replicas]));
  const leaderEntries = new Map<string, string[]>();
  const followerEntries = new Map<string, string[]>();
  const brokers = new Set<number>();
  for (const { topic, partition, replicas } of target) {
    const existing = currentOf.get(partitionName(topic, partition)) ?? [];
    if (existing.length === replicas.length && existing.every((id, i) => replicas[i] === id)) continue;
    const leader = leaderEntries.get(topic) ?? [];
    const follower = followerEntries.get(topic) ?? [];
    for (const id of existing) leader.push(`${partition}:${id}`);
    for (const id of replicas) if (!existing.includes(id)) follower.push(`${partition}:${id}`);
    leaderEntries.set(topic, leader);
    followerEntries.set(topic, follower);
    for (const id of [...existing, ...replicas]) brokers.add(id);
  }
  const changes: ConfigResourceChange[] = [];
  for (const [topic, leader] of leaderEntries) {
    changes.push({
      resourceType: configResourceType.topic,
      resourceName: topic,
      configs: new Map([
        [throttledReplicasKeys[0]!, leader.join(',')],
        [throttledReplicasKeys[1]!, followerEntries.get(topic)!.join(',')],
      ]),
    });
  }
  for (const id of [...brokers].sort((a, b) => a - b)) {
    changes.push({
      resourceType: configResourceType.broker,
      resourceName: String(id),
      configs: new Map(throttleRateKeys.map((key) => [key, String(bytesPerSecond)])),
    });
  }
  return changes;
}

/**
 * kafka-reassign-partitions.sh's --replica-alter-log-dirs-throttle: the bound on every broker with
 * a replica the file moves between log dirs.
 */
export function logDirThrottleConfigs(
  moves: readonly ReplicaLogDir[],
  bytesPerSecond: number,
): ConfigResourceChange[] {
  return [...new Set(moves.map((move) => move.brokerId))]
    .sort((a, b) => a - b)
    .map((id) => ({
      resourceType: configResourceType.broker,
      resourceName: String(id),
      configs: new Map([[logDirThrottleKey, String(bytesPerSecond)]]),
    }));
}

/** IncrementalAlterConfigs of `changes` in one request; any resource refused fails the command. */
async function alterConfigs(session: AdminSession, changes: readonly ConfigResourceChange[]): Promise<void> {
  if (changes.length === 0) return;
  const response = await session.bootstrap.call(
    ApiKey.IncrementalAlterConfigs,
    1,
    {
      resources: changes.map((change) => ({
        resourceType: change.resourceType,
        resourceName: change.resourceName,
        configs: [...change.configs].map(([name, value]) => ({
          name,
          configOperation: value === null ? alterConfigOpType.delete : alterConfigOpType.set,
          value,
        })),
      })),
      validateOnly: false,
    },
    session.timeoutMs,
  );
  const failed = response.responses.filter((result) => result.errorCode !== ErrorCode.NONE);
  if (failed.length > 0) {
    throw new AdminCommandError(
      `IncrementalAlterConfigs: ${failed.map((result) => `${result.resourceName}: ${errorName(result.errorCode)}: ${result.errorMessage ?? ''}`).join('; ')}`,
    );
  }
}

/** Whether any of `topics` sets leader/follower.replication.throttled.replicas (DescribeConfigs v1). */
async function anyTopicThrottled(session: AdminSession, topics: readonly string[]): Promise<boolean> {
  const response = await session.bootstrap.call(
    ApiKey.DescribeConfigs,
    1,
    {
      resources: topics.map((topic) => ({
        resourceType: configResourceType.topic,
        resourceName: topic,
        configurationKeys: throttledReplicasKeys,
      })),
      includeSynonyms: false,
    },
    session.timeoutMs,
  );
  return response.results.some(
    (result) =>
      result.errorCode === ErrorCode.NONE &&
      result.configs.some((config) => config.value !== null && config.value !== ''),
  );
}

/** Kafka's DescribeConfigsResponse.ConfigSource DYNAMIC_BROKER_CONFIG: set for this one broker. */
const dynamicBrokerConfigSource = 2;

/**
 * Whether any of `brokerIds` has its own replica.alter.log.dirs.io.max.bytes.per.second (what
 * --execute sets): DescribeConfigs v1 to each broker, which answers for itself only.
 */
async function anyBrokerLogDirThrottled(
  session: AdminSession,
  brokerIds: readonly number[],
): Promise<boolean> {
  const addresses = await brokerAddresses(session);
  for (const id of brokerIds) {
    const address = addresses.get(id);
    if (address === undefined) continue;
    const connection = await session.connect(address.host, address.port);
    const response = await connection.call(
      ApiKey.DescribeConfigs,
      1,
      {
        resources: [
          {
            resourceType: configResourceType.broker,
            resourceName: String(id),
            configurationKeys: [logDirThrottleKey],
          },
        ],
        includeSynonyms: false,
      },
      session.timeoutMs,
    );
    const throttled = response.results.some(
      (result) =>
        result.errorCode === ErrorCode.NONE &&
        result.configs.some((config) => config.configSource === dynamicBrokerConfigSource),
    );
    if (throttled) return true;
  }
  return false;
}

/** Every broker id in the cluster (Metadata v1). */
async function clusterBrokerIds(session: AdminSession): Promise<number[]> {
  const metadata = await session.bootstrap.call(ApiKey.Metadata, 1, { topics: [] }, session.timeoutMs);
  return metadata.brokers.map((broker) => broker.nodeId).sort((a, b) => a - b);
}

async function execute(
  session: AdminSession,
  target: readonly PartitionReplicas[],
  additional: boolean,
  throttle: number | undefined,
  logDirThrottle: number | undefined,
) {
  if (!additional && (await ongoingReassignments(session, null)).size > 0) {
    throw new AdminCommandError(
      'Cannot execute because there is an existing partition assignment.  Use --additional to override ' +
        'this and create a new partition assignment in addition to the existing one. The --list ' +
        'command can be used to see the existing assignment.',
    );
  }
  const current = await currentAssignment(session.bootstrap, uniqueTopics(target), session.timeoutMs);
  const wanted = new Set(target.map(({ topic, partition }) => partitionName(topic, partition)));
  const missing = [...wanted].filter(
    (name) => !current.some(({ topic, partition }) => partitionName(topic, partition) === name),
  );
  if (missing.length > 0) throw new AdminCommandError(`Unable to find partition(s): ${missing.join(', ')}`);
  const rollback = current.filter(({ topic, partition }) => wanted.has(partitionName(topic, partition)));
  session.out.write(
    `Current partition replica assignment\n\n${formatReassignmentJson(rollback)}\n\n` +
      'Save this to use as the --reassignment-json-file option during rollback\n',
  );
  const moves = replicaLogDirs(target);
  if (throttle !== undefined || logDirThrottle !== undefined) {
    session.out.write(
      'Warning: You must run --verify periodically, until the reassignment completes, to ensure the throttle is removed.\n',
    );
  }
  if (throttle !== undefined) {
    await alterConfigs(session, throttleConfigs(rollback, target, throttle));
    session.out.write(`The inter-broker throttle limit was set to ${throttle} B/s\n`);
  }
  if (logDirThrottle !== undefined) {
    await alterConfigs(session, logDirThrottleConfigs(moves, logDirThrottle));
    session.out.write(`The replica-alter-dir throttle limit was set to ${logDirThrottle} B/s\n`);
  }
  const { succeeded, failed } = await alterReassignments(session, target);
  if (succeeded.length > 0) {
    session.out.write(
      `Successfully started partition reassignment${succeeded.length > 1 ? 's' : ''} for ${succeeded.join(',')}\n`,
    );
  }
  const failedMoves = moves.length === 0 ? [] : await alterReplicaLogDirs(session, moves);
  if (failed.length === 0 && failedMoves.length === 0) return 0;
  throw new AdminCommandError(
    [
      ...(failed.length > 0 ? [`Error reassigning partition(s):\n${failed.join('\n')}`] : []),
      ...(failedMoves.length > 0
        ? [`Error moving replica(s) between log dirs:\n${failedMoves.join('\n')}`]
        : []),
    ].join('\n'),
  );
}

/** Kafka's TopicPartitionReplica string. */
const replicaName = ({ topic, partition, brokerId }: ReplicaLogDir) => `${topic}-${partition}-${brokerId}`;

/** Each broker's address from Metadata v1. */
async function brokerAddresses(session: AdminSession): Promise<Map<number, { host: string; port: number }>> {
  const metadata = await session.bootstrap.call(ApiKey.Metadata, 1, { topics: [] }, session.timeoutMs);
  return new Map(metadata.brokers.map((broker) => [broker.nodeId, { host: broker.host, port: broker.port }]));
}

/**
 * The file's log_dirs: AlterReplicaLogDirs v2 to each broker for its replicas that name a dir, as
 * kafka-reassign-partitions.sh does after the reassignment; prints the replicas whose move
 * started and returns a line per refused one. A replica its broker does not have yet
 * (REPLICA_NOT_AVAILABLE, an added replica not created yet) is refused: run --execute again once
 * the reassignment has created it (Kafka retries until its timeout).
 */
async function alterReplicaLogDirs(
  session: AdminSession,
  moves: readonly ReplicaLogDir[],
): Promise<string[]> {
  const addresses = await brokerAddresses(session);
  const started: string[] = [];
  const failed: string[] = [];
  for (const brokerId of [...new Set(moves.map((move) => move.brokerId))]) {
    const mine = moves.filter((move) => move.brokerId === brokerId);
    const address = addresses.get(brokerId);
    if (address === undefined) {
      for (const move of mine) failed.push(`${replicaName(move)}: broker ${brokerId} is not in the cluster`);
      continue;
    }
    const connection = await session.connect(address.host, address.port);
    const byDir = new Map<string, Map<string, number[]>>();
    for (const { topic, partition, logDir } of mine) {
      const topics = byDir.get(logDir) ?? new Map<string, number[]>();
      topics.set(topic, [...(topics.get(topic) ?? []), partition]);
      byDir.set(logDir, topics);
    }
    const response = await connection.call(
      ApiKey.AlterReplicaLogDirs,
      2,
      {
        dirs: [...byDir].map(([path, topics]) => ({
          path,
          topics: [...topics].map(([name, partitions]) => ({ name, partitions })),
        })),
      },
      session.timeoutMs,
    );
    for (const result of response.results) {
      for (const { partitionIndex, errorCode } of result.partitions) {
        const name = `${result.topicName}-${partitionIndex}-${brokerId}`;
        if (errorCode === ErrorCode.NONE) started.push(name);
        else failed.push(`${name}: ${errorName(errorCode)}`);
      }
    }
  }
  if (started.length > 0) {
    session.out.write(
      `Successfully started log directory move${started.length > 1 ? 's' : ''} for: ${started.join(',')}\n`,
    );
  }
  return failed;
}

/**
 * --verify of the file's log_dirs, as kafka-reassign-partitions.sh: DescribeLogDirs v4 of each
 * broker says where each replica is and whether a future replica is copying; returns how many
 * are not where the file puts them and not moving there, and how many are moving there.
 */
async function verifyReplicaLogDirs(
  session: AdminSession,
  moves: readonly ReplicaLogDir[],
): Promise<{ mismatched: number; moving: number }> {
  const addresses = await brokerAddresses(session);
  let mismatched = 0;
  let moving = 0;
  const lines: string[] = [];
  for (const move of moves) {
    const address = addresses.get(move.brokerId);
    const placement: { logDir: string; isFuture: boolean }[] = [];
    if (address !== undefined) {
      const connection = await session.connect(address.host, address.port);
      const response = await connection.call(
        ApiKey.DescribeLogDirs,
        4,
        { topics: [{ topic: move.topic, partitions: [move.partition] }] },
        session.timeoutMs,
      );
      for (const dir of response.results) {
        for (const topic of dir.topics) {
          for (const partition of topic.partitions) {
            if (topic.name === move.topic && partition.partitionIndex === move.partition) {
              placement.push({ logDir: dir.logDir, isFuture: partition.isFutureKey });
            }
          }
        }
      }
    }
    const current = placement.find((entry) => !entry.isFuture);
    const future = placement.find((entry) => entry.isFuture);
    if (current?.logDir === move.logDir) {
      lines.push(`Reassignment of replica ${replicaName(move)} completed successfully.`);
    } else if (future?.logDir === move.logDir) {
      moving += 1;
      lines.push(`Reassignment of replica ${replicaName(move)} is still in progress.`);
    } else if (current === undefined) {
      mismatched += 1;
      lines.push(
        `Partition ${move.topic}-${move.partition} is not found in any live log dir on broker ${move.brokerId}. ` +
          'There is likely an offline log directory on the broker.',
      );
    } else {
      mismatched += 1;
      lines.push(
        `Partition ${move.topic}-${move.partition} on broker ${move.brokerId} is not being moved from log dir ${current.logDir} to ${move.logDir}.`,
      );
    }
  }
  session.out.write(`\nReassignment of replica log directories:\n${lines.join('\n')}\n`);
  return { mismatched, moving };
}

async function verify(
  session: AdminSession,
  target: readonly PartitionReplicas[],
  preserveThrottles: boolean,
) {
  const ongoing = await ongoingReassignments(session, target);
  const current = await currentAssignment(session.bootstrap, uniqueTopics(target), session.timeoutMs);
  const replicasOf = new Map(
    current.map(({ topic, partition, replicas }) => [partitionName(topic, partition), replicas]),
  );
  session.out.write('Status of partition reassignment:\n');
  let mismatched = 0;
  for (const { topic, partition, replicas } of target) {
    const name = partitionName(topic, partition);
    if (ongoing.has(name)) {
      session.out.write(`Reassignment of partition ${name} is still in progress.\n`);
      continue;
    }
    const now = replicasOf.get(name);
    if (
      now !== undefined &&
      now.length === replicas.length &&
      now.every((id, index) => replicas[index] === id)
    ) {
      session.out.write(`Reassignment of partition ${name} is completed.\n`);
      continue;
    }
    mismatched += 1;
    session.out.write(
      now === undefined
        ? `Partition ${name} does not exist.\n`
        : `There is no active reassignment of partition ${name}, but replica set is ${now.join(',')} rather than ${replicas.join(',')}.\n`,
    );
  }
  const moves = replicaLogDirs(target);
  const logDirs =
    moves.length === 0 ? { mismatched: 0, moving: 0 } : await verifyReplicaLogDirs(session, moves);
  if (mismatched > 0)
    throw new AdminCommandError(`${mismatched} partition(s) are not where the file puts them`);
  if (logDirs.mismatched > 0) {
    throw new AdminCommandError(
      `${logDirs.mismatched} replica(s) are not in the log dirs the file puts them in`,
    );
  }
  // Done: as kafka-reassign-partitions.sh, the throttled replicas go from the file's topics and the
  // rates (and the bound on copies between log dirs) from every broker, when one of those topics
  // has a throttle or a broker of the file's log dir moves has the bound (Kafka 2.x prints
  // "Throttle was removed." only when it removed one).
  const inProgress =
    logDirs.moving > 0 || target.some(({ topic, partition }) => ongoing.has(partitionName(topic, partition)));
  if (
    !inProgress &&
    !preserveThrottles &&
    ((await anyTopicThrottled(session, uniqueTopics(target))) ||
      (await anyBrokerLogDirThrottled(session, [...new Set(moves.map((move) => move.brokerId))])))
  ) {
    const deleted = (keys: readonly string[]) => new Map(keys.map((key) => [key, null]));
    await alterConfigs(session, [
      ...uniqueTopics(target).map((topic) => ({
        resourceType: configResourceType.topic,
        resourceName: topic,
        configs: deleted(throttledReplicasKeys),
      })),
      ...(await clusterBrokerIds(session)).map((id) => ({
        resourceType: configResourceType.broker,
        resourceName: String(id),
        configs: deleted([...throttleRateKeys, logDirThrottleKey]),
      })),
    ]);
    session.out.write('Throttle was removed.\n');
  }
  return 0;
}

async function cancel(session: AdminSession, target: readonly PartitionReplicas[]) {
  const ongoing = await ongoingReassignments(session, target);
  const active = target.filter(({ topic, partition }) => ongoing.has(partitionName(topic, partition)));
  if (active.length === 0) {
    session.out.write('None of the specified partition reassignments are active.\n');
    return 0;
  }
  const { succeeded, failed } = await alterReassignments(
    session,
    active.map(({ topic, partition }) => ({ topic, partition, replicas: null })),
  );
  if (succeeded.length > 0) {
    session.out.write(`Successfully cancelled partition reassignments for: ${succeeded.join(',')}\n`);
  }
  if (failed.length === 0) return 0;
  throw new AdminCommandError(`Error cancelling partition reassignment(s):\n${failed.join('\n')}`);
}

async function list(session: AdminSession) {
  const ongoing = await ongoingReassignments(session, null);
  if (ongoing.size === 0) {
    session.out.write('No partition reassignments found.\n');
    return 0;
  }
  session.out.write('Current partition reassignments:\n');
  for (const [name, { replicas, addingReplicas, removingReplicas }] of ongoing) {
    session.out.write(
      `${name}: replicas: ${replicas.join(',')}. adding: ${addingReplicas.join(',')}. removing: ${removingReplicas.join(',')}.\n`,
    );
  }
  return 0;
}

export async function runReassignPartitions(
  args: readonly string[],
  out: TextOutput,
  err: TextOutput,
): Promise<number> {
  const parsed = optionsOrUsageExit(
    'reassign-partitions',
    reassignPartitionsUsage,
    parseReassignPartitionsArgs(args),
    out,
    err,
  );
  if (typeof parsed === 'number') return parsed;
  const { action } = parsed;
  let target: PartitionReplicas[] = [];
  let topics: string[] = [];
  try {
    if (action.kind === 'generate') {
      const names = parseTopicsToMoveJson(await readText(action.topicsFile));
      if (!Array.isArray(names)) throw new UsageFailure(`${action.topicsFile}: ${names.problem}`);
      topics = names;
    } else if (action.kind !== 'list') {
      target = await readReassignmentFile(action.file);
    }
  } catch (error) {
    if (!(error instanceof UsageFailure)) throw error;
    err.write(`gregor reassign-partitions: ${error.message}\n`);
    return usageExitCode;
  }
  return withAdminSession({ ...parsed, clientId: 'gregor-reassign-partitions', out, err }, (session) => {
    switch (action.kind) {
      case 'generate':
        return generate(session, topics, action.brokerIds);
      case 'execute':
        return execute(session, target, action.additional, action.throttle, action.logDirThrottle);
      case 'verify':
        return verify(session, target, action.preserveThrottles);
      case 'cancel':
        return cancel(session, target);
      case 'list':
        return list(session);
    }
  });
}

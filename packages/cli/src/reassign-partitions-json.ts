// The files of kafka-reassign-partitions.sh, read and written as Kafka does, and its --generate
// proposal. Pure: no I/O.
//   reassignment file:     {"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1,2],
//                           "log_dirs":["any","/data/b"]}]}   (log_dirs optional: "any" or a
//                           log dir of that replica's broker, moved there with AlterReplicaLogDirs)
//   topics-to-move file:   {"version":1,"topics":[{"topic":"t"}]}

import { assignReplicas } from '@gregor/metadata';

type Random = Parameters<typeof assignReplicas>[1];

/** Kafka's --generate starts its placement at a random broker; replays are not needed here. */
const mathRandom: Random = { nextInt: (maxExclusive) => Math.floor(Math.random() * maxExclusive) };

/** Partitions one reassignment file may list; more is a mistake, not a plan. */
export const reassignmentFilePartitionsMax = 100_000;
/** Topics one topics-to-move file may list. */
export const topicsToMoveMax = 10_000;

export interface PartitionReplicas {
  readonly topic: string;
  readonly partition: number;
  readonly replicas: readonly number[];
  /** Per replica, the log dir it should be in, or "any" (the file's log_dirs; absent: all "any"). */
  readonly logDirs?: readonly string[];
}

/** The log_dirs entry that leaves a replica in whatever log dir its broker chose. */
export const anyLogDir = 'any';

/** A replica of the file that names a log dir: `<topic>-<partition>-<broker>` as Kafka prints it. */
export interface ReplicaLogDir {
  readonly topic: string;
  readonly partition: number;
  readonly brokerId: number;
  readonly logDir: string;
}

/** The replicas of `partitions` whose log_dirs entry names a dir, in file order. */
export function replicaLogDirs(partitions: readonly PartitionReplicas[]): ReplicaLogDir[] {
  return partitions.flatMap(({ topic, partition, replicas, logDirs }) =>
    replicas.flatMap((brokerId, index) => {
      const logDir = logDirs?.[index] ?? anyLogDir;
      return logDir === anyLogDir ? [] : [{ topic, partition, brokerId, logDir }];
    }),
  );
}

function parseJson(text: string): unknown | { readonly problem: string } {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    return { problem: `not JSON: ${(error as Error).message}` };
  }
}

function isProblem(value: unknown): value is { readonly problem: string } {
  return typeof value === 'object' && value !== null && 'problem' in value;
}

function checkVersion(document: Record<string, unknown>): string | null {
  const version = document.version ?? 1;
  return version === 1 ? null : `Not supported version field value ${JSON.stringify(version)}`;
}

const isBrokerId = (id: unknown): id is number => Number.isInteger(id) && (id as number) >= 0;

/**
 * Kafka's reassignment JSON (version 1), checked as ReassignPartitionsCommand checks it: each
 * partition once, replicas a non-empty list of distinct broker ids, log_dirs (when given) one per
 * replica, each "any" or a path. A message saying what is wrong otherwise.
 */
export function parseReassignmentJson(text: string): PartitionReplicas[] | string {
  const document = parseJson(text);
  if (isProblem(document)) return document.problem;
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    return 'expected {"version":1,"partitions":[{"topic":...,"partition":...,"replicas":[...]}]}';
  }
  const record = document as Record<string, unknown>;
  const versionProblem = checkVersion(record);
  if (versionProblem !== null) return versionProblem;
  const partitions = record.partitions;
  if (!Array.isArray(partitions)) return 'expected a "partitions" list';
  if (partitions.length === 0) return 'Partition reassignment list cannot be empty';
  if (partitions.length > reassignmentFilePartitionsMax) {
    return `more than ${reassignmentFilePartitionsMax} partitions`;
  }
  const seen = new Set<string>();
  const result: PartitionReplicas[] = [];
  for (const entry of partitions) {
    const { topic, partition, replicas, log_dirs: logDirs } = (entry ?? {}) as Record<string, unknown>;
    if (
      typeof topic !== 'string' ||
      topic === '' ||
      !Number.isInteger(partition) ||
      (partition as number) < 0
    ) {
      return `bad entry ${JSON.stringify(entry)}: expected {"topic": string, "partition": integer, "replicas": [...]}`;
    }
    const name = `${topic}-${partition}`;
    if (!Array.isArray(replicas) || !replicas.every(isBrokerId)) {
      return `Partition ${name}: "replicas" must be a list of broker ids`;
    }
    if (replicas.length === 0) return `Partition replica list cannot be empty for ${name}`;
    if (new Set(replicas).size !== replicas.length) {
      return `Duplicate replica assignment found: ${name} -> ${replicas.join(',')}`;
    }
    if (logDirs !== undefined) {
      if (!Array.isArray(logDirs) || logDirs.length !== replicas.length) {
        return `Partition ${name}: "log_dirs" must list one entry per replica`;
      }
      if (!logDirs.every((dir) => typeof dir === 'string' && dir !== '')) {
        return `Partition ${name}: "log_dirs" entries must be "any" or a log dir path`;
      }
    }
    if (seen.has(name)) return `Duplicate partition ${name} in the reassignment file`;
    seen.add(name);
    result.push({
      topic,
      partition: partition as number,
      replicas,
      // All "any" is the same as none (the rollback file Kafka prints has them).
      ...(logDirs === undefined || logDirs.every((dir) => dir === anyLogDir)
        ? {}
        : { logDirs: logDirs as string[] }),
    });
  }
  return result;
}

/** Kafka's topics-to-move JSON: the topic names, or a message saying what is wrong. */
export function parseTopicsToMoveJson(text: string): string[] | { readonly problem: string } {
  const document = parseJson(text);
  if (isProblem(document)) return document;
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    return { problem: 'expected {"version":1,"topics":[{"topic":...}]}' };
  }
  const record = document as Record<string, unknown>;
  const versionProblem = checkVersion(record);
  if (versionProblem !== null) return { problem: versionProblem };
  const topics = record.topics;
  if (!Array.isArray(topics)) return { problem: 'expected a "topics" list' };
  if (topics.length === 0) return { problem: 'List of topics to reassign contains no topics' };
  if (topics.length > topicsToMoveMax) return { problem: `more than ${topicsToMoveMax} topics` };
  const names: string[] = [];
  for (const entry of topics) {
    const topic = (entry as { topic?: unknown } | null)?.topic;
    if (typeof topic !== 'string' || topic === '') {
      return { problem: `bad entry ${JSON.stringify(entry)}: expected {"topic": string}` };
    }
    if (names.includes(topic))
      return { problem: `List of topics to reassign contains duplicate entries: ${topic}` };
    names.push(topic);
  }
  return names;
}

/** --broker-list "1,2,3": distinct broker ids, or a message. */
export function parseBrokerList(text: string): number[] | string {
  const ids = text.split(',').map((part) => part.trim());
  const parsed = ids.map(Number);
  if (!ids.every((id) => /^\d+$/.test(id)) || !parsed.every(isBrokerId)) {
    return `--broker-list must be comma-separated broker ids, got '${text}'`;
  }
  if (new Set(parsed).size !== parsed.length) return `--broker-list contains duplicate entries: '${text}'`;
  return parsed;
}

/** The version 1 file, as Kafka prints it: one line, every replica's log dir "any". */
export function formatReassignmentJson(partitions: readonly PartitionReplicas[]): string {
  return JSON.stringify({
    version: 1,
    partitions: partitions.map(({ topic, partition, replicas }) => ({
      topic,
      partition,
      replicas,
      log_dirs: replicas.map(() => 'any'),
    })),
  });
}

/**
 * --generate: each topic's partitions placed on `brokerIds` with its current replication factor,
 * as Kafka places them (rack-unaware, a random start). A message when a topic has more replicas
 * than there are brokers.
 */
export function proposeReassignment(
  current: readonly PartitionReplicas[],
  brokerIds: readonly number[],
  random: Random = mathRandom,
): PartitionReplicas[] | string {
  const byTopic = new Map<string, PartitionReplicas[]>();
  for (const partition of current)
    byTopic.set(partition.topic, [...(byTopic.get(partition.topic) ?? []), partition]);
  const proposed: PartitionReplicas[] = [];
  for (const [topic, partitions] of byTopic) {
    const sorted = [...partitions].sort((a, b) => a.partition - b.partition);
    const replicationFactor = sorted[0]!.replicas.length;
    if (replicationFactor > brokerIds.length) {
      return `Replication factor: ${replicationFactor} larger than available brokers: ${brokerIds.length}.`;
    }
    const placement = assignReplicas(
      {
        brokerIds,
        partitionCount: sorted.at(-1)!.partition + 1,
        replicationFactor,
        firstPartitionIndex: 0,
        fixedStartIndex: null,
      },
      random,
    );
    for (const { partition } of sorted) proposed.push({ topic, partition, replicas: placement[partition]! });
  }
  return proposed;
}

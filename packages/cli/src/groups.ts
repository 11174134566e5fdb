// `gregor groups`: list, describe, reset and delete the offsets of consumer groups, with the output of
// kafka-consumer-groups.sh (the same columns, '-' where there is nothing), so runbooks carry over.

import { ErrorCode, errorName } from '@gregor/protocol';
import { withCliConnection } from './cli-connection.js';
import type { TextOutput } from './dump-log.js';
import { type GroupsCommand, groupsUsage, parseGroupsArgs, type ResetTarget } from './groups-args.js';
import {
  type DescribedGroup,
  GroupsCluster,
  GroupsCommandError,
  type TopicPartitionOffset,
} from './groups-cluster.js';
import { AssignmentDecodeError, decodeConsumerAssignment } from './groups-consumer-protocol.js';
import { runOrUsageExit } from './usage.js';

const _usageExitCode = 2;
const failureExitCode = 1;

export async function runGroups(args: readonly string[], out: TextOutput, err: TextOutput): Promise<number> {
  const parsed = runOrUsageExit('groups', groupsUsage, parseGroupsArgs(args), out, err);
  if (typeof parsed === 'number') return parsed;
  const { bootstrap, timeoutMs, security, command } = parsed.options;
  return withCliConnection(
    () => GroupsCluster.connect(bootstrap, timeoutMs, security),
    err,
    (cluster) => runCommand(cluster, command, out, err),
    [GroupsCommandError, AssignmentDecodeError],
  );
}

async function runCommand(
  cluster: GroupsCluster,
  command: GroupsCommand,
  out: TextOutput,
  err: TextOutput,
): Promise<number> {
  switch (command.kind) {
    case 'list': {
      for (const group of await cluster.listGroups()) out.write(`${group.groupId}\n`);
      return 0;
    }
    case 'describe':
      return describe(cluster, command.groupId, out, err);
    case 'reset-offsets':
      return resetOffsets(cluster, command, out, err);
    case 'delete-offsets':
      return deleteOffsets(cluster, command, out, err);
  }
}

/** One row per partition the group holds or has committed: GROUP TOPIC PARTITION ... CLIENT-ID. */
export interface LagRow {
  readonly group: string;
  readonly topic: string;
  readonly partition: string;
  readonly currentOffset: string;
  readonly logEndOffset: string;
  readonly lag: string;
  readonly consumerId: string;
  readonly host: string;
  readonly clientId: string;
}

export const lagColumns = [
  'GROUP',
  'TOPIC',
  'PARTITION',
  'CURRENT-OFFSET',
  'LOG-END-OFFSET',
  'LAG',
  'CONSUMER-ID',
  'HOST',
  'CLIENT-ID',
] as const;

function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/** The lag table of kafka-consumer-groups.sh --describe, from what the cluster answered. */
export function lagRows(
  group: DescribedGroup,
  committed: readonly TopicPartitionOffset[],
  logEnds: readonly TopicPartitionOffset[],
): LagRow[] {
  const holder = new Map<string, DescribedGroup['members'][number]>();
  const partitions = new Map<string, { topic: string; partition: number }>();
  const membersWithout: DescribedGroup['members'][number][] = [];
  for (const member of group.members) {
    const assignment = decodeConsumerAssignment(member.assignment);
    let held = 0;
    for (const entry of assignment.partitions) {
      for (const partition of entry.partitions) {
        holder.set(partitionKey(entry.topic, partition), member);
        partitions.set(partitionKey(entry.topic, partition), { topic: entry.topic, partition });
        held++;
      }
    }
    if (held === 0) membersWithout.push(member);
  }
  const committedBy = new Map(
    committed.map((entry) => [partitionKey(entry.topic, entry.partition), entry.offset]),
  );
  for (const entry of committed) partitions.set(partitionKey(entry.topic, entry.partition), entry);
  const endBy = new Map(logEnds.map((entry) => [partitionKey(entry.topic, entry.partition), entry.offset]));
  const rows = [...partitions.values()]
    .sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition)
    .map(({ topic, partition }): LagRow => {
      const key = partitionKey(topic, partition);
      const current = committedBy.get(key);
      const end = endBy.get(key);
      const member = holder.get(key);
      return {
        group: group.groupId,
        topic,
        partition: String(partition),
        currentOffset: current === undefined ? '-' : String(current),
        logEndOffset: end === undefined ? '-' : String(end),
        lag: current === undefined || end === undefined ? '-' : String(end > current ? end - current : 0n),
        consumerId: member?.memberId ?? '-',
        host: member?.clientHost ?? '-',
        clientId: member?.clientId ?? '-',
      };
    });
  for (const member of membersWithout) {
    rows.push({
      group: group.groupId,
      topic: '-',
      partition: '-',
      currentOffset: '-',
      logEndOffset: '-',
      lag: '-',
      consumerId: member.memberId,
      host: member.clientHost,
      clientId: member.clientId,
    });
  }
  return rows;
}

/** Left-aligned columns separated by at least one space, as Kafka's tool prints them. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, column) =>
    Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!)))
      .join(' ')
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

async function describe(
  cluster: GroupsCluster,
  groupId: string,
  out: TextOutput,
  err: TextOutput,
): Promise<number> {
  const group = await cluster.describeGroup(groupId);
  const committed = await cluster.committedOffsets(groupId);
  if (group.state === 'Dead' && committed.length === 0) {
    err.write(`Error: Consumer group '${groupId}' does not exist.\n`);
    return failureExitCode;
  }
  const assignedTopics = group.members.flatMap((member) =>
    decodeConsumerAssignment(member.assignment).partitions.map((entry) => entry.topic),
  );
  const topics = [...new Set([...committed.map((entry) => entry.topic), ...assignedTopics])].sort();
  const logEnds = await cluster.listOffsets(topics, -1n);
  out.write(
    `Group '${groupId}' is ${group.state}` +
      `${group.protocol === '' ? '' : ` (${group.protocolType}/${group.protocol})`}` +
      ` with ${group.members.length} member(s).\n\n`,
  );
  if (group.members.length === 0) out.write(`Consumer group '${groupId}' has no active members.\n\n`);
  const rows = lagRows(group, committed, logEnds).map((row) => [
    row.group,
    row.topic,
    row.partition,
    row.currentOffset,
    row.logEndOffset,
    row.lag,
    row.consumerId,
    row.host,
    row.clientId,
  ]);
  out.write(formatTable(lagColumns, rows));
  return 0;
}

/** Kafka clamps a requested offset into the partition's range, and so do we. */
export function resetOffsetFor(target: ResetTarget, earliest: bigint, latest: bigint): bigint {
  switch (target.kind) {
    case 'earliest':
      return earliest;
    case 'latest':
      return latest;
    case 'offset':
      return target.offset < earliest ? earliest : target.offset > latest ? latest : target.offset;
  }
}

/** Group states whose offsets an admin may reset: nobody consumes (Kafka's "inactive"). */
const resettableStates: ReadonlySet<string> = new Set(['Empty', 'Dead']);

async function resetOffsets(
  cluster: GroupsCluster,
  command: Extract<GroupsCommand, { kind: 'reset-offsets' }>,
  out: TextOutput,
  err: TextOutput,
): Promise<number> {
  const group = await cluster.describeGroup(command.groupId);
  if (!resettableStates.has(group.state)) {
    err.write(
      `Error: Assignments can only be reset if the group '${command.groupId}' is inactive, but the current state is ${group.state}.\n`,
    );
    return failureExitCode;
  }
  const earliest = await cluster.listOffsets([command.topic], -2n);
  const latest = new Map(
    (await cluster.listOffsets([command.topic], -1n)).map((entry) => [entry.partition, entry.offset]),
  );
  const plan: TopicPartitionOffset[] = earliest.map((entry) => ({
    topic: entry.topic,
    partition: entry.partition,
    offset: resetOffsetFor(command.target, entry.offset, latest.get(entry.partition) ?? entry.offset),
  }));
  if (command.execute) await cluster.commitOffsets(command.groupId, plan);
  out.write(
    formatTable(
      ['GROUP', 'TOPIC', 'PARTITION', 'NEW-OFFSET'],
      plan.map((entry) => [command.groupId, entry.topic, String(entry.partition), String(entry.offset)]),
    ),
  );
  if (!command.execute) err.write('Dry run: nothing was committed; add --execute to commit these offsets.\n');
  return 0;
}

/** What kafka-consumer-groups.sh --delete-offsets says of a group-level error. */
function deleteOffsetsGroupError(groupId: string, errorCode: number): string {
  switch (errorCode) {
    case ErrorCode.GROUP_ID_NOT_FOUND:
      return `'${groupId}' does not exist.`;
    case ErrorCode.INVALID_GROUP_ID:
      return `'${groupId}' is not valid.`;
    case ErrorCode.NON_EMPTY_GROUP:
      return `Deleting offsets of a consumer group '${groupId}' is forbidden if the group is not empty.`;
    default:
      return `Encounter some unknown error: ${errorName(errorCode)}`;
  }
}

async function deleteOffsets(
  cluster: GroupsCluster,
  command: Extract<GroupsCommand, { kind: 'delete-offsets' }>,
  out: TextOutput,
  err: TextOutput,
): Promise<number> {
  const partitions = command.partitions ?? (await cluster.partitionsOf(command.topic));
  const result = await cluster.deleteOffsets(command.groupId, command.topic, partitions);
  if (result.errorCode !== ErrorCode.NONE) {
    err.write(`Error: ${deleteOffsetsGroupError(command.groupId, result.errorCode)}\n`);
    return failureExitCode;
  }
  const failed = result.partitions.some((partition) => partition.errorCode !== ErrorCode.NONE);
  if (failed) err.write('Error: Encounter some partition level error, see the follow-up details:\n');
  else
    out.write(`Request succeed for deleting offsets with topic ${command.topic} group ${command.groupId}\n`);
  out.write(
    `\n${formatTable(
      ['TOPIC', 'PARTITION', 'STATUS'],
      result.partitions.map((partition) => [
        command.topic,
        String(partition.partition),
        partition.errorCode === ErrorCode.NONE ? 'Successful' : `Error: ${errorName(partition.errorCode)}`,
      ]),
    )}`,
  );
  return failed ? failureExitCode : 0;
}

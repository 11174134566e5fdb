// `gregor topics`: create, list, describe, alter (partitions) and delete topics with kafka-topics.sh's
// output, over the Kafka protocol (CreateTopics, Metadata, DescribeTopicPartitions, DescribeConfigs,
// CreatePartitions, DeleteTopics), so runbooks carry over.

import { ApiKey, type KafkaConnection } from '@gregor/client';
import { configResourceType, ErrorCode, errorName, type ResponseBody } from '@gregor/protocol';
import { failureExitCode, openFirstReachable, withCliConnection } from './cli-connection.js';
import type { TextOutput } from './dump-log.js';
import { parseTopicsArgs, type TopicsCommand, topicsUsage } from './topics-args.js';
import { runOrUsageExit } from './usage.js';

const _usageExitCode = 2;
const topicConfigSource = 1;

export async function runTopics(args: readonly string[], out: TextOutput, err: TextOutput): Promise<number> {
  const parsed = runOrUsageExit('topics', topicsUsage, parseTopicsArgs(args), out, err);
  if (typeof parsed === 'number') return parsed;
  const { bootstrap, timeoutMs, security, command } = parsed.options;
  return withCliConnection(
    () => openFirstReachable(bootstrap, { clientId: 'gregor-topics', timeoutMs, security }),
    err,
    async (connection) => {
      const failure = await runCommand(connection, timeoutMs, command, out);
      if (failure === null) return 0;
      err.write(`Error: ${failure}\n`);
      return failureExitCode;
    },
  );
}

const failureText = (errorCode: number, message: string | null | undefined): string =>
  `${errorName(errorCode)}${message ? `: ${message}` : ''}`;

/** Runs the command; returns null on success, else what went wrong (the broker's error). */
async function runCommand(
  connection: KafkaConnection,
  timeoutMs: number,
  command: TopicsCommand,
  out: TextOutput,
): Promise<string | null> {
  switch (command.kind) {
    case 'create': {
      const response = await connection.call(
        ApiKey.CreateTopics,
        7,
        {
          topics: [
            {
              name: command.topic,
              numPartitions: command.partitions,
              replicationFactor: command.replicationFactor,
              assignments: command.replicaAssignment.map((brokerIds, partitionIndex) => ({
                partitionIndex,
                brokerIds: [...brokerIds],
              })),
              configs: command.configs.map((config) => ({ ...config })),
            },
          ],
          timeoutMs,
          validateOnly: false,
        },
        timeoutMs,
      );
      const result = response.topics[0]!;
      if (result.errorCode === ErrorCode.TOPIC_ALREADY_EXISTS && command.ifNotExists) return null;
      if (result.errorCode !== ErrorCode.NONE) return failureText(result.errorCode, result.errorMessage);
      out.write(`Created topic ${command.topic}.\n`);
      return null;
    }
    case 'list': {
      const response = await connection.call(ApiKey.Metadata, 1, { topics: null }, timeoutMs);
      for (const name of response.topics.map((topic) => topic.name).sort()) out.write(`${name}\n`);
      return null;
    }
    case 'describe':
      return describe(connection, timeoutMs, command.topic, command.partitionSizeLimitPerResponse, out);
    case 'alter': {
      const response = await connection.call(
        ApiKey.CreatePartitions,
        1,
        {
          topics: [{ name: command.topic, count: command.partitions, assignments: null }],
          timeoutMs,
          validateOnly: false,
        },
        timeoutMs,
      );
      const result = response.results[0]!;
      return result.errorCode === ErrorCode.NONE ? null : failureText(result.errorCode, result.errorMessage);
    }
    case 'delete': {
      const response = await connection.call(
        ApiKey.DeleteTopics,
        5,
        { topicNames: [command.topic], timeoutMs },
        timeoutMs,
      );
      const result = response.responses[0]!;
      return result.errorCode === ErrorCode.NONE ? null : failureText(result.errorCode, result.errorMessage);
    }
  }
}

/** One described topic: its partitions as DescribeTopicPartitions (or Metadata) gives them. */
interface DescribedTopic {
  readonly name: string;
  readonly errorCode: number;
  readonly partitions: {
    readonly partitionIndex: number;
    readonly leaderId: number;
    readonly replicaNodes: readonly number[];
    readonly isrNodes: readonly number[];
  }[];
}

/**
 * The topics and their partitions through DescribeTopicPartitions, `limit` partitions per request,
 * following next_cursor until the last page, as Kafka's admin client does for kafka-topics.sh
 * --describe (a topic cut by a page continues on the next one). Kafka's admin client falls back to
 * Metadata when a broker does not serve DescribeTopicPartitions; Gregor's brokers do.
 */
async function describeTopicPartitions(
  connection: KafkaConnection,
  timeoutMs: number,
  topic: string | null,
  limit: number,
): Promise<DescribedTopic[]> {
  const byName = new Map<string, DescribedTopic>();
  let cursor: { topicName: string; partitionIndex: number } | null = null;
  // Each page carries at least one partition or ends the listing, so this ends; the bound catches
  // a broker whose cursor does not move.
  for (let page = 0; page < describePagesMax; page++) {
    const response: ResponseBody<typeof ApiKey.DescribeTopicPartitions> = await connection.call(
      ApiKey.DescribeTopicPartitions,
      0,
      { topics: topic === null ? [] : [{ name: topic }], responsePartitionLimit: limit, cursor },
      timeoutMs,
    );
    for (const described of response.topics) {
      const name = described.name ?? '';
      const entry: DescribedTopic = byName.get(name) ?? {
        name,
        errorCode: described.errorCode,
        partitions: [],
      };
      entry.partitions.push(...described.partitions);
      byName.set(name, entry);
    }
    const next = response.nextCursor;
    if (next === null) return [...byName.values()];
    if (
      cursor !== null &&
      next.topicName === cursor.topicName &&
      next.partitionIndex === cursor.partitionIndex
    ) {
      throw new Error(
        `DescribeTopicPartitions: the cursor did not move from ${next.topicName}-${next.partitionIndex}`,
      );
    }
    cursor = next;
  }
  throw new Error(`DescribeTopicPartitions: more than ${describePagesMax} pages`);
}

/** The most DescribeTopicPartitions pages one describe follows. */
const describePagesMax = 100_000;

/** kafka-topics.sh --describe: a line per topic, then one per partition. */
async function describe(
  connection: KafkaConnection,
  timeoutMs: number,
  topic: string | null,
  partitionSizeLimit: number,
  out: TextOutput,
): Promise<string | null> {
  const topics = await describeTopicPartitions(connection, timeoutMs, topic, partitionSizeLimit);
  for (const described of [...topics].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    if (described.errorCode !== ErrorCode.NONE)
      return failureText(described.errorCode, `topic ${described.name}`);
    const configs = await connection.call(
      ApiKey.DescribeConfigs,
      1,
      {
        resources: [
          { resourceType: configResourceType.topic, resourceName: described.name, configurationKeys: null },
        ],
        includeSynonyms: false,
      },
      timeoutMs,
    );
    const own = configs.results[0]!.configs.filter((config) => config.configSource === topicConfigSource)
      .map((config) => `${config.name}=${config.value}`)
      .join(',');
    const partitions = [...described.partitions].sort((a, b) => a.partitionIndex - b.partitionIndex);
    const replicationFactor = partitions[0]?.replicaNodes.length ?? 0;
    out.write(
      `Topic: ${described.name}\tPartitionCount: ${partitions.length}\tReplicationFactor: ${replicationFactor}\tConfigs: ${own}\n`,
    );
    for (const partition of partitions) {
      out.write(
        `\tTopic: ${described.name}\tPartition: ${partition.partitionIndex}\tLeader: ${partition.leaderId}\t` +
          `Replicas: ${partition.replicaNodes.join(',')}\tIsr: ${partition.isrNodes.join(',')}\n`,
      );
    }
  }
  return null;
}

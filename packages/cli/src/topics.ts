// `gregor topics`: create, list, describe, alter (partitions) and delete topics with kafka-topics.sh's
// output, over the Kafka protocol (CreateTopics, Metadata, DescribeConfigs, CreatePartitions,
// DeleteTopics), so runbooks carry over.

import { ApiKey, type KafkaConnection } from '@gregor/client';
import { configResourceType, ErrorCode, errorName } from '@gregor/protocol';
import { openFirstReachable } from './cli-connection.js';
import type { TextOutput } from './dump-log.js';
import { parseTopicsArgs, type TopicsCommand, topicsUsage } from './topics-args.js';

const usageExitCode = 2;
const failureExitCode = 1;
const topicConfigSource = 1;

export async function runTopics(args: readonly string[], out: TextOutput, err: TextOutput): Promise<number> {
  const parsed = parseTopicsArgs(args);
  if (parsed.kind === 'help') {
    out.write(topicsUsage);
    return 0;
  }
  if (parsed.kind === 'usage-error') {
    err.write(`gregor topics: ${parsed.message}\n${topicsUsage}`);
    return usageExitCode;
  }
  const { bootstrap, timeoutMs, security, command } = parsed.options;
  let connection: KafkaConnection;
  try {
    connection = await openFirstReachable(bootstrap, { clientId: 'gregor-topics', timeoutMs, security });
  } catch (error) {
    err.write(`Error: ${(error as Error).message}\n`);
    return failureExitCode;
  }
  try {
    const failure = await runCommand(connection, timeoutMs, command, out);
    if (failure === null) return 0;
    err.write(`Error: ${failure}\n`);
    return failureExitCode;
  } catch (error) {
    if (!(error instanceof Error && error.name === 'KafkaConnectionError')) throw error;
    err.write(`Error: ${error.message}\n`);
    return failureExitCode;
  } finally {
    connection.close();
  }
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
      return describe(connection, timeoutMs, command.topic, out);
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

/** kafka-topics.sh --describe: a line per topic, then one per partition. */
async function describe(
  connection: KafkaConnection,
  timeoutMs: number,
  topic: string | null,
  out: TextOutput,
): Promise<string | null> {
  const metadata = await connection.call(
    ApiKey.Metadata,
    1,
    { topics: topic === null ? null : [{ name: topic }] },
    timeoutMs,
  );
  // Names are never null before Metadata v12 (only a request by topic id has null names).
  const named = metadata.topics.map((entry) => ({ ...entry, name: entry.name ?? '' }));
  for (const described of named.sort((a, b) => (a.name < b.name ? -1 : 1))) {
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

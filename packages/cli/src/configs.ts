// `gregor configs`: describe and alter topic and broker configs with kafka-configs.sh's output, over
// the Kafka protocol (DescribeConfigs with synonyms, IncrementalAlterConfigs), so runbooks carry over.

import { ApiKey, KafkaConnection } from '@gregor/client';
import { alterConfigOpType, configResourceType, ErrorCode, errorName } from '@gregor/protocol';
import { type ConfigsCommand, configsUsage, parseConfigsArgs } from './configs-args.js';
import type { TextOutput } from './dump-log.js';
import type { Address } from './metadata-shell-args.js';

const usageExitCode = 2;
const failureExitCode = 1;

/** Kafka's ConfigSource names (DescribeConfigsResponse), as kafka-configs.sh prints them. */
const configSourceNames: Readonly<Record<number, string>> = {
  0: 'UNKNOWN',
  1: 'DYNAMIC_TOPIC_CONFIG',
  2: 'DYNAMIC_BROKER_CONFIG',
  3: 'DYNAMIC_DEFAULT_BROKER_CONFIG',
  4: 'STATIC_BROKER_CONFIG',
  5: 'DEFAULT_CONFIG',
  6: 'DYNAMIC_BROKER_LOGGER_CONFIG',
};

export interface DescribedConfig {
  readonly name: string;
  readonly value: string | null;
  readonly source: number;
  readonly isSensitive: boolean;
  readonly synonyms: readonly {
    readonly name: string;
    readonly value: string | null;
    readonly source: number;
  }[];
}

/** kafka-configs.sh's describe output for the configs given (the caller picks which to show). */
export function formatDescribedConfigs(
  entityType: 'topics' | 'brokers',
  entityName: string,
  configs: readonly DescribedConfig[],
): string {
  const entity = entityType === 'topics' ? `topic ${entityName}` : `broker ${entityName}`;
  const kind = entityType === 'topics' ? 'Dynamic configs' : 'All configs';
  const lines = [`${kind} for ${entity} are:`];
  for (const config of configs) {
    const value = config.isSensitive ? null : config.value;
    const synonyms = config.synonyms
      .map((synonym) => `${configSourceNames[synonym.source] ?? 'UNKNOWN'}:${synonym.name}=${synonym.value}`)
      .join(', ');
    lines.push(`  ${config.name}=${value} sensitive=${config.isSensitive} synonyms={${synonyms}}`);
  }
  return `${lines.join('\n')}\n`;
}

export async function runConfigs(args: readonly string[], out: TextOutput, err: TextOutput): Promise<number> {
  const parsed = parseConfigsArgs(args);
  if (parsed.kind === 'help') {
    out.write(configsUsage);
    return 0;
  }
  if (parsed.kind === 'usage-error') {
    err.write(`gregor configs: ${parsed.message}\n${configsUsage}`);
    return usageExitCode;
  }
  const { bootstrap, timeoutMs, command } = parsed.options;
  let connection: KafkaConnection;
  try {
    connection = await connect(bootstrap, timeoutMs);
  } catch (error) {
    err.write(`Error: ${(error as Error).message}\n`);
    return failureExitCode;
  }
  try {
    return await runCommand(connection, timeoutMs, command, out, err);
  } catch (error) {
    if (!(error instanceof Error && error.name === 'KafkaConnectionError')) throw error;
    err.write(`Error: ${error.message}\n`);
    return failureExitCode;
  } finally {
    connection.close();
  }
}

async function connect(addresses: readonly Address[], timeoutMs: number): Promise<KafkaConnection> {
  const failures: string[] = [];
  for (const address of addresses) {
    try {
      return await KafkaConnection.open({
        host: address.host,
        port: address.port,
        clientId: 'gregor-configs',
        connectTimeoutMs: timeoutMs,
      });
    } catch (error) {
      failures.push(`${address.host}:${address.port}: ${(error as Error).message}`);
    }
  }
  throw new Error(`no bootstrap server reachable (${failures.join('; ')})`);
}

async function runCommand(
  connection: KafkaConnection,
  timeoutMs: number,
  command: ConfigsCommand,
  out: TextOutput,
  err: TextOutput,
): Promise<number> {
  const resourceType = command.entityType === 'topics' ? configResourceType.topic : configResourceType.broker;
  if (command.kind === 'describe') {
    const response = await connection.call(
      ApiKey.DescribeConfigs,
      4,
      {
        resources: [{ resourceType, resourceName: command.entityName, configurationKeys: null }],
        includeSynonyms: true,
        includeDocumentation: false,
      },
      timeoutMs,
    );
    const result = response.results[0]!;
    if (result.errorCode !== ErrorCode.NONE) {
      err.write(`Error: ${errorName(result.errorCode)}: ${result.errorMessage ?? ''}\n`);
      return failureExitCode;
    }
    // As kafka-configs.sh: a topic shows what is set on it; a broker shows all its configs.
    const shown = result.configs.filter(
      (config) => command.entityType === 'brokers' || config.configSource === 1,
    );
    out.write(
      formatDescribedConfigs(
        command.entityType,
        command.entityName,
        shown.map((config) => ({ ...config, source: config.configSource })),
      ),
    );
    return 0;
  }
  const response = await connection.call(
    ApiKey.IncrementalAlterConfigs,
    1,
    {
      resources: [
        {
          resourceType,
          resourceName: command.entityName,
          configs: [
            ...command.set.map((entry) => ({
              name: entry.name,
              configOperation: alterConfigOpType.set,
              value: entry.value,
            })),
            ...command.remove.map((name) => ({
              name,
              configOperation: alterConfigOpType.delete,
              value: null,
            })),
          ],
        },
      ],
      validateOnly: false,
    },
    timeoutMs,
  );
  const result = response.responses[0]!;
  if (result.errorCode !== ErrorCode.NONE) {
    err.write(`Error: ${errorName(result.errorCode)}: ${result.errorMessage ?? ''}\n`);
    return failureExitCode;
  }
  out.write(
    `Completed updating config for ${command.entityType === 'topics' ? 'topic' : 'broker'} ${command.entityName}.\n`,
  );
  return 0;
}

// `gregor configs`: describe and alter topic and broker configs, and client quotas, with
// kafka-configs.sh's output, over the Kafka protocol (DescribeConfigs with synonyms,
// IncrementalAlterConfigs; DescribeClientQuotas, AlterClientQuotas), so runbooks carry over.

import { ApiKey, type KafkaConnection } from '@gregor/client';
import { alterConfigOpType, configResourceType, ErrorCode, errorName } from '@gregor/protocol';
import { openFirstReachable, withCliConnection } from './cli-connection.js';
import type { ClientSecurity } from './client-properties.js';
import {
  type ConfigsCommand,
  configsUsage,
  type ParsedConfigsArgs,
  parseConfigsArgs,
  parseQuotasArgs,
  type QuotaEntityArg,
  quotasUsage,
} from './configs-args.js';
import type { TextOutput } from './dump-log.js';
import { runOrUsageExit } from './usage.js';

const _usageExitCode = 2;
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

const configSourceDynamicTopic = 1;
const configSourceDynamicBroker = 2;
const configSourceDynamicDefaultBroker = 3;

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

/**
 * kafka-configs.sh's describe output for the configs given (the caller picks which to show): `all`
 * for --all, else the dynamic ones; entity name '' of brokers is the cluster-wide default.
 */
export function formatDescribedConfigs(
  entityType: 'topics' | 'brokers',
  entityName: string,
  configs: readonly DescribedConfig[],
  all = false,
): string {
  const entity = entityType === 'topics' ? `topic ${entityName}` : `broker ${entityName}`;
  const kind = all ? 'All configs' : 'Dynamic configs';
  const heading =
    entityType === 'brokers' && entityName === ''
      ? 'Default configs for brokers in the cluster are:'
      : `${kind} for ${entity} are:`;
  const lines = [heading];
  for (const config of configs) {
    const value = config.isSensitive ? null : config.value;
    const synonyms = config.synonyms
      .map((synonym) => `${configSourceNames[synonym.source] ?? 'UNKNOWN'}:${synonym.name}=${synonym.value}`)
      .join(', ');
    lines.push(`  ${config.name}=${value} sensitive=${config.isSensitive} synonyms={${synonyms}}`);
  }
  return `${lines.join('\n')}\n`;
}

/** How kafka-configs.sh names a quota entity: `user-principal 'alice', client-id 'app'`. */
export function formatQuotaEntity(
  entity: readonly { readonly entityType: string; readonly entityName: string | null }[],
): string {
  const typeNames: Readonly<Record<string, string>> = {
    user: 'user-principal',
    'client-id': 'client-id',
    ip: 'ip',
  };
  return entity
    .map(({ entityType, entityName }) => {
      const type = typeNames[entityType] ?? entityType;
      return entityName === null ? `the default ${type}` : `${type} '${entityName}'`;
    })
    .join(', ');
}

/** A quota value as Kafka prints a double: `1024.0`, `12.5`. */
export function formatQuotaValue(value: number): string {
  return Number.isInteger(value) ? value.toFixed(1) : String(value);
}

export function runConfigs(args: readonly string[], out: TextOutput, err: TextOutput): Promise<number> {
  return runParsed('configs', configsUsage, parseConfigsArgs(args), out, err);
}

/** `gregor quotas describe|alter`: client quotas only, through the same commands as configs. */
export function runQuotas(args: readonly string[], out: TextOutput, err: TextOutput): Promise<number> {
  return runParsed('quotas', quotasUsage, parseQuotasArgs(args), out, err);
}

async function runParsed(
  name: string,
  usage: string,
  parsed: ParsedConfigsArgs,
  out: TextOutput,
  err: TextOutput,
): Promise<number> {
  const run = runOrUsageExit(name, usage, parsed, out, err);
  if (typeof run === 'number') return run;
  const { bootstrap, timeoutMs, security, command } = run.options;
  return withCliConnection(
    () => openFirstReachable(bootstrap, { clientId: `gregor-${name}`, timeoutMs, security }),
    err,
    (connection) => runCommand(connection, { timeoutMs, security }, command, out, err),
  );
}

/** How the command reaches a broker besides the bootstrap connection. */
interface Reach {
  readonly timeoutMs: number;
  readonly security: ClientSecurity;
}

async function runCommand(
  connection: KafkaConnection,
  reach: Reach,
  command: ConfigsCommand,
  out: TextOutput,
  err: TextOutput,
): Promise<number> {
  const { timeoutMs } = reach;
  if (command.kind === 'describe-quotas')
    return describeQuotas(connection, timeoutMs, command.entity, out, err);
  if (command.kind === 'alter-quotas') {
    const response = await connection.call(
      ApiKey.AlterClientQuotas,
      1,
      {
        entries: [
          {
            entity: command.entity.map((c) => ({ entityType: c.entityType, entityName: c.entityName })),
            ops: [
              ...command.set.map((entry) => ({ key: entry.name, value: entry.value, remove: false })),
              ...command.remove.map((key) => ({ key, value: 0, remove: true })),
            ],
          },
        ],
        validateOnly: false,
      },
      timeoutMs,
    );
    const result = response.entries[0]!;
    if (result.errorCode !== ErrorCode.NONE) {
      err.write(`Error: ${errorName(result.errorCode)}: ${result.errorMessage ?? ''}\n`);
      return failureExitCode;
    }
    out.write(`Completed updating config for entity: ${formatQuotaEntity(command.entity)}.\n`);
    return 0;
  }
  const resourceType = command.entityType === 'topics' ? configResourceType.topic : configResourceType.broker;
  if (command.kind === 'describe') {
    // A broker's own configs are described by that broker, as kafka-configs.sh asks it.
    const brokerConnection =
      command.entityType === 'brokers' && command.entityName !== ''
        ? await connectToBroker(connection, Number(command.entityName), reach)
        : connection;
    if (typeof brokerConnection === 'string') {
      err.write(`Error: ${brokerConnection}\n`);
      return failureExitCode;
    }
    const response = await brokerConnection.call(
      ApiKey.DescribeConfigs,
      4,
      {
        resources: [{ resourceType, resourceName: command.entityName, configurationKeys: null }],
        includeSynonyms: true,
        includeDocumentation: false,
      },
      timeoutMs,
    );
    if (brokerConnection !== connection) brokerConnection.close();
    const result = response.results[0]!;
    if (result.errorCode !== ErrorCode.NONE) {
      err.write(`Error: ${errorName(result.errorCode)}: ${result.errorMessage ?? ''}\n`);
      return failureExitCode;
    }
    // As kafka-configs.sh: without --all, only what is set on the entity itself.
    const ownSource =
      command.entityType === 'topics'
        ? configSourceDynamicTopic
        : command.entityName === ''
          ? configSourceDynamicDefaultBroker
          : configSourceDynamicBroker;
    const shown = result.configs.filter((config) => command.all || config.configSource === ownSource);
    out.write(
      formatDescribedConfigs(
        command.entityType,
        command.entityName,
        shown.map((config) => ({ ...config, source: config.configSource })),
        command.all,
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
    command.entityType === 'brokers' && command.entityName === ''
      ? 'Completed updating default config for brokers in the cluster.\n'
      : `Completed updating config for ${command.entityType === 'topics' ? 'topic' : 'broker'} ${command.entityName}.\n`,
  );
  return 0;
}

/** A connection to broker `brokerId`, found in the cluster's metadata, or why there is none. */
async function connectToBroker(
  bootstrap: KafkaConnection,
  brokerId: number,
  reach: Reach,
): Promise<KafkaConnection | string> {
  const metadata = await bootstrap.call(ApiKey.Metadata, 1, { topics: [] }, reach.timeoutMs);
  const broker = metadata.brokers.find((candidate) => candidate.nodeId === brokerId);
  if (broker === undefined) {
    const known = metadata.brokers.map((candidate) => candidate.nodeId).sort((a, b) => a - b);
    return `broker ${brokerId} is not in the cluster (brokers: ${known.join(',')})`;
  }
  return openFirstReachable([{ host: broker.host, port: broker.port }], {
    clientId: 'gregor-configs',
    ...reach,
  });
}

/** Match types of DescribeClientQuotas: an exact name, the default entity, any of the type. */
const matchExact = 0;
const matchDefault = 1;
const matchSpecified = 2;

async function describeQuotas(
  connection: KafkaConnection,
  timeoutMs: number,
  entity: readonly QuotaEntityArg[],
  out: TextOutput,
  err: TextOutput,
): Promise<number> {
  // As kafka-configs.sh: only entities made of exactly the types given (a strict filter).
  const response = await connection.call(
    ApiKey.DescribeClientQuotas,
    1,
    {
      components: entity.map(({ entityType, entityName }) => ({
        entityType,
        matchType:
          entityName === undefined ? matchSpecified : entityName === null ? matchDefault : matchExact,
        match: entityName ?? null,
      })),
      strict: true,
    },
    timeoutMs,
  );
  if (response.errorCode !== ErrorCode.NONE) {
    err.write(`Error: ${errorName(response.errorCode)}: ${response.errorMessage ?? ''}\n`);
    return failureExitCode;
  }
  for (const entry of response.entries ?? []) {
    const values = entry.values.map((value) => `${value.key}=${formatQuotaValue(value.value)}`).join(',');
    out.write(`Quota configs for ${formatQuotaEntity(entry.entity)} are ${values}\n`);
  }
  return 0;
}

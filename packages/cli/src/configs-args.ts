// Command-line arguments of `gregor configs`, kafka-configs.sh's everyday subset:
//   gregor configs --bootstrap-server host:port[,...] describe --entity-type topics|brokers
//                  (--entity-name N | --entity-default) [--all]
//   gregor configs --bootstrap-server host:port[,...] alter --entity-type topics|brokers
//                  (--entity-name N | --entity-default) [--add-config k=v[,k=v...]] [--delete-config k[,k...]]
// (--entity-default for brokers: the cluster-wide dynamic default)
// and client quotas, for users, clients (client ids) and ips, a user and a client together by giving
// both (kafka-configs.sh's `--entity-type users --entity-name U --entity-type clients --entity-name C`),
// a default entity with --entity-default. --describe and --alter may stand for the command, as in
// kafka-configs.sh.
// `gregor quotas describe|alter` takes the same flags for client quotas only (users, clients,
// ips): the same parser, with the topic and broker entity types refused.

import type { ClientSecurity } from './client-properties.js';
import { commandConfigHelp, parseConnectionFlags } from './connection-flags.js';
import type { Address } from './metadata-shell-args.js';

export type ConfigEntityType = 'topics' | 'brokers';

/** kafka-configs.sh's quota entity types and Kafka's names for them. */
export const quotaEntityTypes: Readonly<Record<string, string>> = {
  users: 'user',
  clients: 'client-id',
  ips: 'ip',
};

export interface QuotaEntityArg {
  /** Kafka's entity type: user, client-id or ip. */
  readonly entityType: string;
  /** A name; null: the default entity (--entity-default); undefined: any of the type (describe only). */
  readonly entityName: string | null | undefined;
}

export type ConfigsCommand =
  | {
      readonly kind: 'describe';
      readonly entityType: ConfigEntityType;
      /** A topic, a broker id, or '' for the brokers' cluster-wide default (--entity-default). */
      readonly entityName: string;
      /** --all: every config with its source, not only the dynamic ones set. */
      readonly all: boolean;
    }
  | {
      readonly kind: 'alter';
      readonly entityType: ConfigEntityType;
      readonly entityName: string;
      readonly set: readonly { readonly name: string; readonly value: string }[];
      readonly remove: readonly string[];
    }
  | { readonly kind: 'describe-quotas'; readonly entity: readonly QuotaEntityArg[] }
  | {
      readonly kind: 'alter-quotas';
      readonly entity: readonly { readonly entityType: string; readonly entityName: string | null }[];
      readonly set: readonly { readonly name: string; readonly value: number }[];
      readonly remove: readonly string[];
    };

export type ParsedConfigsArgs =
  | {
      readonly kind: 'options';
      readonly options: {
        readonly bootstrap: readonly Address[];
        readonly timeoutMs: number;
        readonly security: ClientSecurity;
        readonly command: ConfigsCommand;
      };
    }
  | { readonly kind: 'help' }
  | { readonly kind: 'usage-error'; readonly message: string };

export const configsDefaultTimeoutMs = 30_000;
/** Longest accepted --timeout-ms: a larger value is a typo, not a wish. */
export const configsTimeoutMsMax = 600_000;

export const configsUsage = `Usage: gregor configs --bootstrap-server host:port[,host:port...] [--timeout-ms N]
       [--command-config FILE] <command>

Topic and broker configs, and client quotas, like kafka-configs.sh:
  describe --entity-type topics|brokers --entity-name NAME|--entity-default [--all]
                             the dynamic configs set on the topic, the broker or (brokers with
                             --entity-default) the cluster-wide default, with their synonyms;
                             --all: every config and where its value comes from
  alter --entity-type topics|brokers --entity-name NAME|--entity-default
        [--add-config k=v[,k=v...]] [--delete-config k[,k...]]
                             sets and removes topic configs, or dynamic broker configs (for one
                             broker, or cluster-wide with --entity-default), in one
                             IncrementalAlterConfigs request: all of them apply, or none does
  describe --entity-type users|clients|ips [--entity-name NAME | --entity-default] [...]
                             the client quotas of the entity (every one of the type without a name)
  alter --entity-type users|clients|ips --entity-name NAME|--entity-default [...]
        [--add-config producer_byte_rate=N,...] [--delete-config k[,k...]]
                             sets and removes quotas (producer_byte_rate, consumer_byte_rate,
                             request_percentage; connection_creation_rate for ips) in one
                             AlterClientQuotas request; a user and a client id together by
                             giving both
  --describe and --alter may be written for the command, as kafka-configs.sh takes them.

${commandConfigHelp}
Exit codes: 0 ok, 1 failure (the broker's error is printed), 2 usage error.
`;

export function parseConfigsArgs(args: readonly string[]): ParsedConfigsArgs {
  const usageError = (message: string): ParsedConfigsArgs => ({ kind: 'usage-error', message });
  const flags = new Map<string, string>();
  const positional: string[] = [];
  /** --entity-type, --entity-name and --entity-default in order: quota entities take several. */
  const entityFlags: { flag: string; value: string | null }[] = [];
  const valueFlags = new Set([
    '--bootstrap-server',
    '--command-config',
    '--timeout-ms',
    '--entity-type',
    '--entity-name',
    '--add-config',
    '--delete-config',
  ]);
  for (let index = 0; index < args.length; index++) {
    const arg = args[index]!;
    if (arg === '--help' || arg === '-h') return { kind: 'help' };
    if (arg === '--describe' || arg === '--alter') {
      positional.push(arg.slice(2));
      continue;
    }
    if (arg === '--all') {
      flags.set(arg, 'true');
      continue;
    }
    if (arg === '--entity-default') {
      entityFlags.push({ flag: arg, value: null });
      continue;
    }
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const equals = arg.indexOf('=');
    const flag = equals < 0 ? arg : arg.slice(0, equals);
    if (!valueFlags.has(flag)) return usageError(`unknown option '${flag}'`);
    const value = equals >= 0 ? arg.slice(equals + 1) : args[++index];
    if (value === undefined || value === '') return usageError(`${flag} needs a value`);
    if (flag === '--entity-type' || flag === '--entity-name') entityFlags.push({ flag, value });
    flags.set(flag, value);
  }
  const connection = parseConnectionFlags(flags, configsDefaultTimeoutMs, configsTimeoutMsMax);
  if (typeof connection === 'string') return usageError(connection);
  const { bootstrap, timeoutMs, security } = connection;
  const [name, ...rest] = positional;
  if (name === undefined) return usageError('a command is required: describe or alter');
  if (name !== 'describe' && name !== 'alter') return usageError(`unknown command '${name}'`);
  if (rest.length > 0) return usageError(`unexpected '${rest.join(' ')}'`);
  const options = (command: ConfigsCommand): ParsedConfigsArgs => ({
    kind: 'options',
    options: { bootstrap: bootstrap as Address[], timeoutMs, security, command },
  });
  const entityType = flags.get('--entity-type');
  const isQuotaEntity = entityFlags.some(
    ({ flag, value }) => flag === '--entity-type' && quotaEntityTypes[value ?? ''] !== undefined,
  );
  if (isQuotaEntity) {
    const quotaCommand = parseQuotaCommand(name, entityFlags, flags);
    return typeof quotaCommand === 'string' ? usageError(quotaCommand) : options(quotaCommand);
  }
  if (entityType !== 'topics' && entityType !== 'brokers') {
    return usageError(
      `--entity-type must be topics, brokers, users, clients or ips, got '${entityType ?? ''}'`,
    );
  }
  const isDefault = entityFlags.some(({ flag }) => flag === '--entity-default');
  if (isDefault && entityType !== 'brokers') return usageError('--entity-default goes with brokers here');
  if (isDefault && flags.has('--entity-name')) {
    return usageError('--entity-name and --entity-default cannot both be given');
  }
  const entityName = isDefault ? '' : flags.get('--entity-name');
  if (entityName === undefined) return usageError('--entity-name or --entity-default is required');
  if (entityType === 'brokers' && !isDefault && !/^\d+$/.test(entityName)) {
    return usageError(`--entity-name of a broker is its id, got '${entityName}'`);
  }
  if (name === 'describe') {
    if (flags.has('--add-config') || flags.has('--delete-config')) {
      return usageError('--add-config and --delete-config go with alter, not describe');
    }
    return options({ kind: 'describe', entityType, entityName, all: flags.has('--all') });
  }
  if (flags.has('--all')) return usageError('--all goes with describe');
  const set: { name: string; value: string }[] = [];
  for (const pair of (flags.get('--add-config') ?? '').split(',').filter((text) => text !== '')) {
    const equals = pair.indexOf('=');
    if (equals <= 0) return usageError(`--add-config: expected key=value, got '${pair}'`);
    set.push({ name: pair.slice(0, equals), value: pair.slice(equals + 1) });
  }
  const remove = (flags.get('--delete-config') ?? '').split(',').filter((text) => text !== '');
  if (set.length === 0 && remove.length === 0)
    return usageError('alter needs --add-config or --delete-config');
  return options({ kind: 'alter', entityType, entityName, set, remove });
}

/** The quota entity and changes, or what is wrong with them. */
function parseQuotaCommand(
  command: 'describe' | 'alter',
  entityFlags: readonly { flag: string; value: string | null }[],
  flags: ReadonlyMap<string, string>,
): ConfigsCommand | string {
  const entity: QuotaEntityArg[] = [];
  for (const { flag, value } of entityFlags) {
    if (flag === '--entity-type') {
      const entityType = quotaEntityTypes[value ?? ''];
      if (entityType === undefined)
        return `--entity-type ${value} cannot be combined with quota entity types`;
      if (entity.some((component) => component.entityType === entityType))
        return `--entity-type ${value} given twice`;
      entity.push({ entityType, entityName: undefined });
      continue;
    }
    const last = entity.at(-1);
    if (last === undefined || last.entityName !== undefined) return `${flag} must follow an --entity-type`;
    entity[entity.length - 1] = { entityType: last.entityType, entityName: value };
  }
  if (command === 'describe') {
    if (flags.has('--add-config') || flags.has('--delete-config'))
      return '--add-config and --delete-config go with alter, not describe';
    return { kind: 'describe-quotas', entity };
  }
  const named: { entityType: string; entityName: string | null }[] = [];
  for (const component of entity) {
    if (component.entityName === undefined)
      return `alter needs --entity-name or --entity-default for each --entity-type`;
    named.push({ entityType: component.entityType, entityName: component.entityName });
  }
  const set: { name: string; value: number }[] = [];
  for (const pair of (flags.get('--add-config') ?? '').split(',').filter((text) => text !== '')) {
    const equals = pair.indexOf('=');
    if (equals <= 0) return `--add-config: expected key=value, got '${pair}'`;
    const value = Number(pair.slice(equals + 1));
    if (pair.slice(equals + 1).trim() === '' || !Number.isFinite(value))
      return `--add-config: a quota value is a number, got '${pair}'`;
    set.push({ name: pair.slice(0, equals), value });
  }
  const remove = (flags.get('--delete-config') ?? '').split(',').filter((text) => text !== '');
  if (set.length === 0 && remove.length === 0) return 'alter needs --add-config or --delete-config';
  return { kind: 'alter-quotas', entity: named, set, remove };
}

export const quotasUsage = `Usage: gregor quotas --bootstrap-server host:port[,host:port...] [--timeout-ms N]
       [--command-config FILE] describe|alter <entity> [--add-config k=v[,k=v...]] [--delete-config k[,k...]]

Client quotas, with kafka-configs.sh's flags (the same as gregor configs --entity-type users|clients|ips):
  <entity> is --entity-type users|clients|ips followed by --entity-name NAME or --entity-default;
  give users and clients together for a quota of one user's client id.
  describe --entity-type users|clients|ips [--entity-name NAME | --entity-default] [...]
                             the client quotas of the entity, or of every entity of the type when
                             no name is given (DescribeClientQuotas)
  alter --entity-type users|clients|ips --entity-name NAME|--entity-default [...]
        [--add-config producer_byte_rate=N,...] [--delete-config k[,k...]]
                             sets and removes quotas in one AlterClientQuotas request:
                             producer_byte_rate and consumer_byte_rate (bytes per second),
                             request_percentage (percent of one request thread),
                             connection_creation_rate (ips only)
  --describe and --alter may be written for the command, as kafka-configs.sh takes them.

Examples:
  gregor quotas --bootstrap-server localhost:9092 alter --entity-type clients --entity-name reports \\
      --add-config producer_byte_rate=1048576,consumer_byte_rate=2097152
  gregor quotas --bootstrap-server localhost:9092 describe --entity-type users --entity-name alice \\
      --entity-type clients --entity-default

${commandConfigHelp}
Exit codes: 0 ok, 1 failure (the broker's error is printed), 2 usage error.
`;

/** The values of every --entity-type flag, in order (`--entity-type X` and `--entity-type=X`). */
function entityTypeValues(args: readonly string[]): string[] {
  const values: string[] = [];
  for (let index = 0; index < args.length; index++) {
    const arg = args[index]!;
    if (arg === '--entity-type') values.push(args[index + 1] ?? '');
    else if (arg.startsWith('--entity-type=')) values.push(arg.slice('--entity-type='.length));
  }
  return values;
}

/** `gregor quotas`: the client-quota half of `gregor configs`, refusing topics and brokers. */
export function parseQuotasArgs(args: readonly string[]): ParsedConfigsArgs {
  const usageError = (message: string): ParsedConfigsArgs => ({ kind: 'usage-error', message });
  if (args.includes('--help') || args.includes('-h')) return { kind: 'help' };
  const entityTypes = entityTypeValues(args);
  const known = Object.keys(quotaEntityTypes).join(', ');
  for (const value of entityTypes) {
    if (value === '') return usageError('--entity-type needs a value: users, clients or ips');
    if (value === 'topics' || value === 'brokers')
      return usageError(
        `--entity-type ${value}: gregor quotas sets client quotas (${known}); ${value} configs are under gregor configs`,
      );
    if (quotaEntityTypes[value] === undefined)
      return usageError(`--entity-type must be ${known}, got '${value}'`);
  }
  if (args.includes('--all')) return usageError('--all goes with topic and broker configs (gregor configs)');
  const parsed = parseConfigsArgs(args);
  // Checked after the command and connection flags, so their errors come first, as in configs
  // (whose own message for a missing --entity-type would offer topics and brokers too).
  if (
    entityTypes.length === 0 &&
    (parsed.kind === 'options' ||
      (parsed.kind === 'usage-error' && parsed.message.startsWith('--entity-type')))
  )
    return usageError('--entity-type users, clients or ips is required');
  return parsed;
}

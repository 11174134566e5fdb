// Command-line arguments of `gregor configs`, kafka-configs.sh's everyday subset:
//   gregor configs --bootstrap-server host:port[,...] describe --entity-type topics|brokers --entity-name N
//   gregor configs --bootstrap-server host:port[,...] alter --entity-type topics --entity-name N
//                  [--add-config k=v[,k=v...]] [--delete-config k[,k...]]

import { parseConnectionFlags } from './connection-flags.js';
import type { Address } from './metadata-shell-args.js';

export type ConfigEntityType = 'topics' | 'brokers';

export type ConfigsCommand =
  | { readonly kind: 'describe'; readonly entityType: ConfigEntityType; readonly entityName: string }
  | {
      readonly kind: 'alter';
      readonly entityType: ConfigEntityType;
      readonly entityName: string;
      readonly set: readonly { readonly name: string; readonly value: string }[];
      readonly remove: readonly string[];
    };

export type ParsedConfigsArgs =
  | {
      readonly kind: 'options';
      readonly options: {
        readonly bootstrap: readonly Address[];
        readonly timeoutMs: number;
        readonly command: ConfigsCommand;
      };
    }
  | { readonly kind: 'help' }
  | { readonly kind: 'usage-error'; readonly message: string };

export const configsDefaultTimeoutMs = 30_000;
/** Longest accepted --timeout-ms: a larger value is a typo, not a wish. */
export const configsTimeoutMsMax = 600_000;

export const configsUsage = `Usage: gregor configs --bootstrap-server host:port[,host:port...] [--timeout-ms N] <command>

Topic and broker configs, like kafka-configs.sh:
  describe --entity-type topics|brokers --entity-name NAME
                             the configs set on the topic (or broker), with their synonyms
  alter --entity-type topics --entity-name NAME [--add-config k=v[,k=v...]] [--delete-config k[,k...]]
                             sets and removes topic configs in one IncrementalAlterConfigs request:
                             all of them apply, or none does

Exit codes: 0 ok, 1 failure (the broker's error is printed), 2 usage error.
`;

export function parseConfigsArgs(args: readonly string[]): ParsedConfigsArgs {
  const usageError = (message: string): ParsedConfigsArgs => ({ kind: 'usage-error', message });
  const flags = new Map<string, string>();
  const positional: string[] = [];
  const valueFlags = new Set([
    '--bootstrap-server',
    '--timeout-ms',
    '--entity-type',
    '--entity-name',
    '--add-config',
    '--delete-config',
  ]);
  for (let index = 0; index < args.length; index++) {
    const arg = args[index]!;
    if (arg === '--help' || arg === '-h') return { kind: 'help' };
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const equals = arg.indexOf('=');
    const flag = equals < 0 ? arg : arg.slice(0, equals);
    if (!valueFlags.has(flag)) return usageError(`unknown option '${flag}'`);
    const value = equals >= 0 ? arg.slice(equals + 1) : args[++index];
    if (value === undefined || value === '') return usageError(`${flag} needs a value`);
    flags.set(flag, value);
  }
  const connection = parseConnectionFlags(flags, configsDefaultTimeoutMs, configsTimeoutMsMax);
  if (typeof connection === 'string') return usageError(connection);
  const { bootstrap, timeoutMs } = connection;
  const [name, ...rest] = positional;
  if (name === undefined) return usageError('a command is required: describe or alter');
  if (name !== 'describe' && name !== 'alter') return usageError(`unknown command '${name}'`);
  if (rest.length > 0) return usageError(`unexpected '${rest.join(' ')}'`);
  const entityType = flags.get('--entity-type');
  if (entityType !== 'topics' && entityType !== 'brokers') {
    return usageError(`--entity-type must be topics or brokers, got '${entityType ?? ''}'`);
  }
  const entityName = flags.get('--entity-name');
  if (entityName === undefined) return usageError('--entity-name is required');
  const options = (command: ConfigsCommand): ParsedConfigsArgs => ({
    kind: 'options',
    options: { bootstrap: bootstrap as Address[], timeoutMs, command },
  });
  if (name === 'describe') {
    if (flags.has('--add-config') || flags.has('--delete-config')) {
      return usageError('--add-config and --delete-config go with alter, not describe');
    }
    return options({ kind: 'describe', entityType, entityName });
  }
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

// Command-line arguments of `gregor groups`, kafka-consumer-groups.sh's everyday subset:
//   gregor groups --bootstrap-server host:port[,...] list
//   gregor groups --bootstrap-server host:port[,...] describe <group>
//   gregor groups --bootstrap-server host:port[,...] reset-offsets --group G --topic T
//                 (--to-earliest | --to-latest | --to-offset N) [--execute]
//   gregor groups --bootstrap-server host:port[,...] --delete-offsets --group G --topic T[:P,P...]
// Kafka's flag forms --list, --describe, --reset-offsets and --delete-offsets name the command too.

import type { ClientSecurity } from './client-properties.js';
import { commandConfigHelp, parseConnectionFlags } from './connection-flags.js';
import type { Address } from './metadata-shell-args.js';

export type ResetTarget =
  | { readonly kind: 'earliest' }
  | { readonly kind: 'latest' }
  | { readonly kind: 'offset'; readonly offset: bigint };

export type GroupsCommand =
  | { readonly kind: 'list' }
  | { readonly kind: 'describe'; readonly groupId: string }
  | {
      readonly kind: 'reset-offsets';
      readonly groupId: string;
      readonly topic: string;
      readonly target: ResetTarget;
      /** Without --execute the new offsets are only printed (a dry run, as Kafka's tool does). */
      readonly execute: boolean;
    }
  | {
      readonly kind: 'delete-offsets';
      readonly groupId: string;
      readonly topic: string;
      /** Undefined: every partition of the topic. */
      readonly partitions: readonly number[] | undefined;
    };

export interface GroupsOptions {
  readonly bootstrap: readonly Address[];
  readonly timeoutMs: number;
  readonly security: ClientSecurity;
  readonly command: GroupsCommand;
}

export type ParsedGroupsArgs =
  | { readonly kind: 'options'; readonly options: GroupsOptions }
  | { readonly kind: 'help' }
  | { readonly kind: 'usage-error'; readonly message: string };

export const groupsDefaultTimeoutMs = 10_000;
/** Longest accepted --timeout-ms: a larger value is a typo, not a wish. */
export const groupsTimeoutMsMax = 600_000;

export const groupsUsage = `Usage: gregor groups --bootstrap-server host:port[,host:port...] [--timeout-ms N]
       [--command-config FILE] <command>

Consumer groups, like kafka-consumer-groups.sh:
  list                       every group of the cluster, one per line
  describe <group>           members and, per partition, the committed offset, the log end
                             offset, the lag, and the member that holds it
  reset-offsets --group G --topic T (--to-earliest | --to-latest | --to-offset N) [--execute]
                             new committed offsets for every partition of T; only for a group
                             without members. Prints the plan; commits it with --execute.
  delete-offsets --group G --topic T[:P,P...]
                             deletes the group's committed offsets of T (or of the partitions
                             listed); refused for topics a member of the group consumes.

${commandConfigHelp}
Exit codes: 0 ok, 1 failure (unknown group, active group, cluster unreachable), 2 usage error.
`;

export function parseGroupsArgs(args: readonly string[]): ParsedGroupsArgs {
  const usageError = (message: string): ParsedGroupsArgs => ({ kind: 'usage-error', message });
  const flags = new Map<string, string>();
  const switches = new Set<string>();
  const positional: string[] = [];
  const valueFlags = new Set([
    '--bootstrap-server',
    '--command-config',
    '--timeout-ms',
    '--group',
    '--topic',
    '--to-offset',
  ]);
  const switchFlags = new Set(['--to-earliest', '--to-latest', '--execute', '--dry-run']);
  // kafka-consumer-groups.sh names the command with a flag.
  const commandFlags = new Set(['--list', '--describe', '--reset-offsets', '--delete-offsets']);
  for (let index = 0; index < args.length; index++) {
    const arg = args[index]!;
    if (arg === '--help' || arg === '-h') return { kind: 'help' };
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    if (commandFlags.has(arg)) {
      positional.unshift(arg.slice(2));
      continue;
    }
    const equals = arg.indexOf('=');
    const flag = equals < 0 ? arg : arg.slice(0, equals);
    if (switchFlags.has(flag)) {
      switches.add(flag);
      continue;
    }
    if (!valueFlags.has(flag)) return usageError(`unknown option '${flag}'`);
    const value = equals >= 0 ? arg.slice(equals + 1) : args[++index];
    if (value === undefined || value === '') return usageError(`${flag} needs a value`);
    flags.set(flag, value);
  }
  const connection = parseConnectionFlags(flags, groupsDefaultTimeoutMs, groupsTimeoutMsMax);
  if (typeof connection === 'string') return usageError(connection);
  const { bootstrap, timeoutMs, security } = connection;
  const [name, ...rest] = positional;
  const options = (command: GroupsCommand): ParsedGroupsArgs => ({
    kind: 'options',
    options: { bootstrap: bootstrap as Address[], timeoutMs, security, command },
  });
  switch (name) {
    case 'list':
      if (rest.length > 0) return usageError(`list takes no arguments, got '${rest.join(' ')}'`);
      return options({ kind: 'list' });
    case 'describe': {
      const groupId = rest[0] ?? flags.get('--group');
      if (groupId === undefined || rest.length > 1) return usageError('describe needs exactly one group');
      return options({ kind: 'describe', groupId });
    }
    case 'reset-offsets': {
      const groupId = flags.get('--group');
      const topic = flags.get('--topic');
      if (groupId === undefined || topic === undefined)
        return usageError('reset-offsets needs --group and --topic');
      if (rest.length > 0) return usageError(`unexpected '${rest.join(' ')}'`);
      const targets: ResetTarget[] = [];
      if (switches.has('--to-earliest')) targets.push({ kind: 'earliest' });
      if (switches.has('--to-latest')) targets.push({ kind: 'latest' });
      const offsetText = flags.get('--to-offset');
      if (offsetText !== undefined) {
        if (!/^\d+$/.test(offsetText))
          return usageError(`--to-offset must be a non-negative integer, got '${offsetText}'`);
        targets.push({ kind: 'offset', offset: BigInt(offsetText) });
      }
      if (targets.length !== 1)
        return usageError('give exactly one of --to-earliest, --to-latest, --to-offset N');
      if (switches.has('--execute') && switches.has('--dry-run'))
        return usageError('--execute and --dry-run exclude each other');
      return options({
        kind: 'reset-offsets',
        groupId,
        topic,
        target: targets[0]!,
        execute: switches.has('--execute'),
      });
    }
    case 'delete-offsets': {
      const groupId = flags.get('--group');
      const topicText = flags.get('--topic');
      if (groupId === undefined || topicText === undefined)
        return usageError('delete-offsets needs --group and --topic');
      if (rest.length > 0) return usageError(`unexpected '${rest.join(' ')}'`);
      const colon = topicText.lastIndexOf(':');
      if (colon < 0)
        return options({ kind: 'delete-offsets', groupId, topic: topicText, partitions: undefined });
      const partitionsText = topicText.slice(colon + 1);
      if (!/^\d+(,\d+)*$/.test(partitionsText) || colon === 0)
        return usageError(`--topic: expected topic or topic:partition[,partition...], got '${topicText}'`);
      return options({
        kind: 'delete-offsets',
        groupId,
        topic: topicText.slice(0, colon),
        partitions: partitionsText.split(',').map(Number),
      });
    }
    case undefined:
      return usageError('a command is required: list, describe, reset-offsets or delete-offsets');
    default:
      return usageError(`unknown command '${name}'`);
  }
}

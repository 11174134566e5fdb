// Command-line arguments of `gregor topics`, kafka-topics.sh's everyday subset:
//   gregor topics --bootstrap-server host:port[,...] create --topic T [--partitions N]
//                 [--replication-factor R] [--replica-assignment 1:2,2:3] [--config k=v]... [--if-not-exists]
//   gregor topics --bootstrap-server host:port[,...] list
//   gregor topics --bootstrap-server host:port[,...] describe [--topic T]
//                 [--partition-size-limit-per-response N]
//   gregor topics --bootstrap-server host:port[,...] alter --topic T --partitions N
//   gregor topics --bootstrap-server host:port[,...] delete --topic T

import type { ClientSecurity } from './client-properties.js';
import { commandConfigHelp, parseConnectionFlags } from './connection-flags.js';
import type { Address } from './metadata-shell-args.js';

export type TopicsCommand =
  | {
      readonly kind: 'create';
      readonly topic: string;
      /** -1: the cluster's default, as kafka-topics.sh sends when the flag is left out. */
      readonly partitions: number;
      readonly replicationFactor: number;
      /** Per partition, its replicas (leader first); empty: the controller places them. */
      readonly replicaAssignment: readonly (readonly number[])[];
      readonly configs: readonly { readonly name: string; readonly value: string }[];
      readonly ifNotExists: boolean;
    }
  | { readonly kind: 'list' }
  | {
      readonly kind: 'describe';
      readonly topic: string | null;
      /** DescribeTopicPartitions' response_partition_limit: the partitions one response carries. */
      readonly partitionSizeLimitPerResponse: number;
    }
  | { readonly kind: 'alter'; readonly topic: string; readonly partitions: number }
  | { readonly kind: 'delete'; readonly topic: string };

export type ParsedTopicsArgs =
  | {
      readonly kind: 'options';
      readonly options: {
        readonly bootstrap: readonly Address[];
        readonly timeoutMs: number;
        readonly security: ClientSecurity;
        readonly command: TopicsCommand;
      };
    }
  | { readonly kind: 'help' }
  | { readonly kind: 'usage-error'; readonly message: string };

export const topicsDefaultTimeoutMs = 30_000;
/** kafka-topics.sh's --partition-size-limit-per-response default. */
export const describePartitionSizeLimitDefault = 2000;
/** Longest accepted --timeout-ms: a larger value is a typo, not a wish. */
export const topicsTimeoutMsMax = 600_000;

export const topicsUsage = `Usage: gregor topics --bootstrap-server host:port[,host:port...] [--timeout-ms N]
       [--command-config FILE] <command>

Topics, like kafka-topics.sh:
  create --topic T [--partitions N] [--replication-factor R] [--replica-assignment 1:2,2:3]
         [--config k=v]... [--if-not-exists]
                             a new topic; without counts, the cluster's defaults. A replica
                             assignment lists each partition's brokers, leader first.
  list                       every topic, one per line
  describe [--topic T] [--partition-size-limit-per-response N]
                             partitions with leader, replicas and ISR, and the topic's own configs,
                             fetched N partitions per DescribeTopicPartitions request (default 2000)
  alter --topic T --partitions N
                             grows the topic to N partitions
  delete --topic T           deletes the topic

${commandConfigHelp}
Exit codes: 0 ok, 1 failure (the broker's error is printed), 2 usage error.
`;

function positiveInteger(text: string): number | null {
  return /^\d+$/.test(text) && Number(text) >= 1 && Number(text) <= 0x7fffffff ? Number(text) : null;
}

export function parseTopicsArgs(args: readonly string[]): ParsedTopicsArgs {
  const usageError = (message: string): ParsedTopicsArgs => ({ kind: 'usage-error', message });
  const flags = new Map<string, string>();
  const configs: { name: string; value: string }[] = [];
  const switches = new Set<string>();
  const positional: string[] = [];
  const valueFlags = new Set([
    '--bootstrap-server',
    '--command-config',
    '--timeout-ms',
    '--topic',
    '--partitions',
    '--replication-factor',
    '--replica-assignment',
    '--config',
    '--partition-size-limit-per-response',
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
    if (flag === '--if-not-exists') {
      switches.add(flag);
      continue;
    }
    if (!valueFlags.has(flag)) return usageError(`unknown option '${flag}'`);
    const value = equals >= 0 ? arg.slice(equals + 1) : args[++index];
    if (value === undefined || value === '') return usageError(`${flag} needs a value`);
    if (flag === '--config') {
      const at = value.indexOf('=');
      if (at <= 0) return usageError(`--config: expected key=value, got '${value}'`);
      configs.push({ name: value.slice(0, at), value: value.slice(at + 1) });
    } else {
      flags.set(flag, value);
    }
  }
  const connection = parseConnectionFlags(flags, topicsDefaultTimeoutMs, topicsTimeoutMsMax);
  if (typeof connection === 'string') return usageError(connection);
  const { bootstrap, timeoutMs, security } = connection;
  const [name, ...rest] = positional;
  if (rest.length > 0) return usageError(`unexpected '${rest.join(' ')}'`);
  const options = (command: TopicsCommand): ParsedTopicsArgs => ({
    kind: 'options',
    options: { bootstrap: bootstrap as Address[], timeoutMs, security, command },
  });
  const topic = flags.get('--topic');
  const count = (flag: string): number | null | undefined => {
    const text = flags.get(flag);
    return text === undefined ? undefined : positiveInteger(text);
  };
  switch (name) {
    case 'create': {
      if (topic === undefined) return usageError('create needs --topic');
      const partitions = count('--partitions');
      const replicationFactor = count('--replication-factor');
      if (partitions === null) return usageError(`--partitions must be a positive integer`);
      if (replicationFactor === null) return usageError(`--replication-factor must be a positive integer`);
      const assignmentText = flags.get('--replica-assignment');
      const replicaAssignment: number[][] = [];
      if (assignmentText !== undefined) {
        if (partitions !== undefined || replicationFactor !== undefined) {
          return usageError('--replica-assignment excludes --partitions and --replication-factor');
        }
        for (const part of assignmentText.split(',')) {
          const brokers = part.split(':').map((id) => (/^\d+$/.test(id) ? Number(id) : Number.NaN));
          if (brokers.some(Number.isNaN)) {
            return usageError(
              `--replica-assignment: expected broker ids like 1:2,2:3, got '${assignmentText}'`,
            );
          }
          replicaAssignment.push(brokers);
        }
      }
      return options({
        kind: 'create',
        topic,
        partitions: partitions ?? -1,
        replicationFactor: replicationFactor ?? -1,
        replicaAssignment,
        configs,
        ifNotExists: switches.has('--if-not-exists'),
      });
    }
    case 'list':
      return options({ kind: 'list' });
    case 'describe': {
      const limit = count('--partition-size-limit-per-response');
      if (limit === null) return usageError('--partition-size-limit-per-response must be a positive integer');
      return options({
        kind: 'describe',
        topic: topic ?? null,
        partitionSizeLimitPerResponse: limit ?? describePartitionSizeLimitDefault,
      });
    }
    case 'alter': {
      const partitions = count('--partitions');
      if (topic === undefined || partitions === undefined)
        return usageError('alter needs --topic and --partitions');
      if (partitions === null) return usageError('--partitions must be a positive integer');
      return options({ kind: 'alter', topic, partitions });
    }
    case 'delete':
      if (topic === undefined) return usageError('delete needs --topic');
      return options({ kind: 'delete', topic });
    case undefined:
      return usageError('a command is required: create, list, describe, alter or delete');
    default:
      return usageError(`unknown command '${name}'`);
  }
}

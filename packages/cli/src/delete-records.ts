// `gregor delete-records`, Gregor's kafka-delete-records.sh, over the Kafka protocol: DeleteRecords
// at each partition's leader, every record below the offset the JSON file gives (-1: below the high
// watermark).
//   gregor delete-records --bootstrap-server host:port[,...] --offset-json-file F [--timeout-ms N] [--command-config FILE]
// F is Kafka's format: {"partitions": [{"topic": "t", "partition": 0, "offset": 6}], "version": 1}.

import { readFileSync } from 'node:fs';
import { ErrorCode, errorName } from '@gregor/protocol';
import { withCliConnection } from './cli-connection.js';
import type { ClientSecurity } from './client-properties.js';
import { commandConfigHelp, parseConnectionFlags, readValueFlags } from './connection-flags.js';
import type { TextOutput } from './dump-log.js';
import { GroupsCluster, GroupsCommandError, type TopicPartitionOffset } from './groups-cluster.js';
import type { Address } from './metadata-shell-args.js';
import { runOrUsageExit } from './usage.js';

/** Kafka's AdminClient default.api.timeout.ms, how long the leaders may wait for their replicas. */
export const deleteRecordsDefaultTimeoutMs = 60_000;
/** Longest accepted --timeout-ms: a larger value is a typo, not a wish. */
export const deleteRecordsTimeoutMsMax = 600_000;
/** Partitions one offset file may name; more is a mistake, not a plan. */
export const offsetFilePartitionsMax = 100_000;

export const deleteRecordsUsage = `Usage: gregor delete-records --bootstrap-server host:port[,host:port...]
                             --offset-json-file F [--timeout-ms N]

Deletes the records below the given offset of each partition, like kafka-delete-records.sh. F:
  {"partitions": [{"topic": "orders", "partition": 0, "offset": 6}], "version": 1}
An offset of -1 deletes up to the high watermark.
${commandConfigHelp}`;

export interface DeleteRecordsOptions {
  readonly bootstrap: readonly Address[];
  readonly timeoutMs: number;
  readonly security: ClientSecurity;
  readonly offsetJsonFile: string;
}

export type ParsedDeleteRecordsArgs =
  | { readonly kind: 'options'; readonly options: DeleteRecordsOptions }
  | { readonly kind: 'help' }
  | { readonly kind: 'usage-error'; readonly message: string };

export function parseDeleteRecordsArgs(args: readonly string[]): ParsedDeleteRecordsArgs {
  const usageError = (message: string): ParsedDeleteRecordsArgs => ({ kind: 'usage-error', message });
  const valueFlags = new Set([
    '--bootstrap-server',
    '--command-config',
    '--timeout-ms',
    '--offset-json-file',
  ]);
  const flags = readValueFlags(args, valueFlags);
  if (flags === 'help') return { kind: 'help' };
  if ('usageError' in flags) return usageError(flags.usageError);
  const connection = parseConnectionFlags(flags, deleteRecordsDefaultTimeoutMs, deleteRecordsTimeoutMsMax);
  if (typeof connection === 'string') return usageError(connection);
  const offsetJsonFile = flags.get('--offset-json-file');
  if (offsetJsonFile === undefined) return usageError('--offset-json-file is required');
  return { kind: 'options', options: { ...connection, offsetJsonFile } };
}

/** Kafka's offset JSON file, checked as kafka-delete-records.sh checks it; a message when it is wrong. */
export function parseOffsetJson(text: string): TopicPartitionOffset[] | string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return `not JSON: ${(error as Error).message}`;
  }
  if (typeof json !== 'object' || json === null) return 'expected an object with "partitions"';
  const { version, partitions } = json as { version?: unknown; partitions?: unknown };
  if (version !== undefined && version !== 1) return `unsupported version ${JSON.stringify(version)} (1 is)`;
  if (!Array.isArray(partitions)) return 'expected "partitions" to be an array';
  if (partitions.length > offsetFilePartitionsMax) {
    return `${partitions.length} partitions, more than ${offsetFilePartitionsMax}`;
  }
  const wanted: TopicPartitionOffset[] = [];
  const seen = new Set<string>();
  for (const [index, entry] of partitions.entries()) {
    const { topic, partition, offset } = (entry ?? {}) as Record<string, unknown>;
    if (typeof topic !== 'string' || topic === '') return `partitions[${index}]: "topic" must be a name`;
    if (!Number.isSafeInteger(partition) || (partition as number) < 0) {
      return `partitions[${index}]: "partition" must be a non-negative integer`;
    }
    if (!Number.isSafeInteger(offset) || (offset as number) < -1) {
      return `partitions[${index}]: "offset" must be an integer of at least -1`;
    }
    const key = `${topic}-${partition}`;
    if (seen.has(key)) return `partition ${key} is named twice`;
    seen.add(key);
    wanted.push({ topic, partition: partition as number, offset: BigInt(offset as number) });
  }
  if (wanted.length === 0) return 'no partitions to delete from';
  return wanted;
}

export async function runDeleteRecords(
  args: readonly string[],
  out: TextOutput,
  err: TextOutput,
): Promise<number> {
  const parsed = runOrUsageExit('delete-records', deleteRecordsUsage, parseDeleteRecordsArgs(args), out, err);
  if (typeof parsed === 'number') return parsed;
  const { bootstrap, timeoutMs, security, offsetJsonFile } = parsed.options;
  let text: string;
  try {
    text = readFileSync(offsetJsonFile, 'utf8');
  } catch (error) {
    err.write(`Error: cannot read ${offsetJsonFile}: ${(error as Error).message}\n`);
    return 1;
  }
  const wanted = parseOffsetJson(text);
  if (typeof wanted === 'string') {
    err.write(`Error: ${offsetJsonFile}: ${wanted}\n`);
    return 1;
  }
  return withCliConnection(
    () => GroupsCluster.connect(bootstrap, timeoutMs, security),
    err,
    async (cluster) => {
      out.write('Executing records delete operation\n');
      const outcomes = await cluster.deleteRecords(wanted, timeoutMs);
      out.write('Records delete operation completed:\n');
      for (const outcome of outcomes) {
        const partition = `${outcome.topic}-${outcome.partition}`;
        out.write(
          outcome.errorCode === ErrorCode.NONE
            ? `partition: ${partition}\tlow_watermark: ${outcome.lowWatermark}\n`
            : `partition: ${partition}\terror: ${errorName(outcome.errorCode)}\n`,
        );
      }
      return outcomes.every((outcome) => outcome.errorCode === ErrorCode.NONE) ? 0 : 1;
    },
    [GroupsCommandError],
  );
}

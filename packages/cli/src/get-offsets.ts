// `gregor get-offsets`, Gregor's kafka-get-offsets.sh (Kafka's GetOffsetShell), over the Kafka
// protocol: ListOffsets at each partition's leader, one `topic:partition:offset` line per partition.
//   gregor get-offsets --bootstrap-server host:port[,...] --topic T [--partitions 0,1]
//                      [--time -1|-2|latest|earliest|<ms>] [--timeout-ms N] [--command-config FILE]
// --time -1 (the default) is the latest offset, -2 the earliest (the log start offset, which
// DeleteRecords moves), any other the first offset whose timestamp reaches it (empty when none does).

import { withCliConnection } from './cli-connection.js';
import type { ClientSecurity } from './client-properties.js';
import { commandConfigHelp, parseConnectionFlags, readValueFlags } from './connection-flags.js';
import type { TextOutput } from './dump-log.js';
import { GroupsCluster, GroupsCommandError } from './groups-cluster.js';
import type { Address } from './metadata-shell-args.js';
import { runOrUsageExit } from './usage.js';

export const getOffsetsDefaultTimeoutMs = 10_000;
/** Longest accepted --timeout-ms: a larger value is a typo, not a wish. */
export const getOffsetsTimeoutMsMax = 600_000;

export const getOffsetsUsage = `Usage: gregor get-offsets --bootstrap-server host:port[,host:port...] --topic T
                          [--partitions P,P...] [--time -1|-2|latest|earliest|<ms>] [--timeout-ms N]
                          [--command-config FILE]

Offsets of a topic's partitions, one topic:partition:offset line each, like kafka-get-offsets.sh:
--time -1 / latest (default) the log end offset, -2 / earliest the log start offset, a timestamp in
ms the first offset whose record timestamp is at or after it (nothing after the colon if none).
${commandConfigHelp}`;

export interface GetOffsetsOptions {
  readonly bootstrap: readonly Address[];
  readonly timeoutMs: number;
  readonly security: ClientSecurity;
  readonly topic: string;
  readonly partitions: readonly number[] | undefined;
  readonly timestamp: bigint;
}

export type ParsedGetOffsetsArgs =
  | { readonly kind: 'options'; readonly options: GetOffsetsOptions }
  | { readonly kind: 'help' }
  | { readonly kind: 'usage-error'; readonly message: string };

export function parseGetOffsetsArgs(args: readonly string[]): ParsedGetOffsetsArgs {
  const usageError = (message: string): ParsedGetOffsetsArgs => ({ kind: 'usage-error', message });
  const valueFlags = new Set([
    '--bootstrap-server',
    '--command-config',
    '--timeout-ms',
    '--topic',
    '--partitions',
    '--time',
  ]);
  const flags = readValueFlags(args, valueFlags);
  if (flags === 'help') return { kind: 'help' };
  if ('usageError' in flags) return usageError(flags.usageError);
  const connection = parseConnectionFlags(flags, getOffsetsDefaultTimeoutMs, getOffsetsTimeoutMsMax);
  if (typeof connection === 'string') return usageError(connection);
  const topic = flags.get('--topic');
  if (topic === undefined) return usageError('--topic is required');
  const partitionsText = flags.get('--partitions');
  if (partitionsText !== undefined && !/^\d+(,\d+)*$/.test(partitionsText)) {
    return usageError(`--partitions: expected P[,P...], got '${partitionsText}'`);
  }
  const timeText = flags.get('--time') ?? '-1';
  const timestamp =
    timeText === 'latest'
      ? -1n
      : timeText === 'earliest'
        ? -2n
        : /^(-1|-2|\d+)$/.test(timeText)
          ? BigInt(timeText)
          : null;
  if (timestamp === null)
    return usageError(`--time: expected -1, -2, latest, earliest or a timestamp in ms, got '${timeText}'`);
  return {
    kind: 'options',
    options: {
      ...connection,
      topic,
      partitions: partitionsText?.split(',').map(Number),
      timestamp,
    },
  };
}

export async function runGetOffsets(
  args: readonly string[],
  out: TextOutput,
  err: TextOutput,
): Promise<number> {
  const parsed = runOrUsageExit('get-offsets', getOffsetsUsage, parseGetOffsetsArgs(args), out, err);
  if (typeof parsed === 'number') return parsed;
  const { bootstrap, timeoutMs, security, topic, partitions, timestamp } = parsed.options;
  return withCliConnection(
    () => GroupsCluster.connect(bootstrap, timeoutMs, security),
    err,
    async (cluster) => {
      const wanted = partitions === undefined ? undefined : new Set(partitions);
      const offsets = await cluster.listOffsets([topic], timestamp, (_topic, partition) =>
        wanted === undefined ? true : wanted.has(partition),
      );
      for (const entry of offsets) {
        // A timestamp no record reaches has no offset: Kafka's tool prints nothing after the colon.
        out.write(
          `${entry.topic}:${entry.partition}:${timestamp >= 0n && entry.offset < 0n ? '' : entry.offset}\n`,
        );
      }
      const missing = partitions?.filter(
        (partition) => !offsets.some((entry) => entry.partition === partition),
      );
      if (missing !== undefined && missing.length > 0) {
        err.write(`Error: ${topic} has no partition ${missing.join(', ')} (UNKNOWN_TOPIC_OR_PARTITION)\n`);
        return 1;
      }
      return 0;
    },
    [GroupsCommandError],
  );
}

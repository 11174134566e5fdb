// `gregor leader-election`: kafka-leader-election.sh, with its flags and output.
//   gregor leader-election --bootstrap-server host:port[,...] --election-type PREFERRED|UNCLEAN
//       (--topic T --partition P | --all-topic-partitions | --path-to-json-file F)
// One ElectLeaders v2 to any broker, which hands it to the active controller. The JSON file is
// Kafka's: {"partitions": [{"topic": "t", "partition": 0}, ...]}.

import { readFile } from 'node:fs/promises';
import { ApiKey } from '@gregor/client';
import { ErrorCode, electionType as electionTypeCode, errorName } from '@gregor/protocol';
import { AdminCommandError, parseFlags, usageExitCode, withAdminSession } from './admin-session.js';
import { parseConnectionFlags, securityFlagHelp } from './connection-flags.js';
import type { TextOutput } from './dump-log.js';
import type { Address } from './metadata-shell-args.js';
import { optionsOrUsageExit } from './usage.js';

export const leaderElectionDefaultTimeoutMs = 60_000;
/** The longest --timeout-ms accepted (10 minutes). */
export const leaderElectionTimeoutMsMax = 600_000;
/** Partitions a JSON file may list; more is not a file meant for this tool. */
export const leaderElectionJsonPartitionsMax = 100_000;

export const leaderElectionUsage = `Usage: gregor leader-election --bootstrap-server host:port[,host:port...] [--timeout-ms N]
    [--admin.config FILE]
    --election-type PREFERRED|UNCLEAN
    (--topic T --partition P | --all-topic-partitions | --path-to-json-file FILE)

Leader elections, like kafka-leader-election.sh:
  PREFERRED  moves leadership to the first replica where it is alive and in the ISR
  UNCLEAN    gives a leaderless partition a leader, from outside the ISR when no ISR member is alive
             (it may lack acknowledged records)
The JSON file: {"partitions": [{"topic": "t", "partition": 0}, ...]}

${securityFlagHelp('--admin.config')}
Exit codes: 0 ok, 1 some partition could not be elected (or cluster unreachable), 2 usage error.
`;

type ElectionType = 'PREFERRED' | 'UNCLEAN';
type Target =
  | { readonly kind: 'all' }
  | { readonly kind: 'partitions'; readonly partitions: readonly { topic: string; partition: number }[] }
  | { readonly kind: 'file'; readonly path: string };

interface Parsed {
  readonly bootstrap: Address[];
  readonly timeoutMs: number;
  readonly electionType: ElectionType;
  readonly target: Target;
}

export function parseLeaderElectionArgs(args: readonly string[]): Parsed | 'help' | string {
  const parsed = parseFlags(
    args,
    new Set([
      '--bootstrap-server',
      '--admin.config',
      '--timeout-ms',
      '--election-type',
      '--topic',
      '--partition',
      '--path-to-json-file',
    ]),
    new Set(['--all-topic-partitions']),
  );
  if (typeof parsed === 'string') return parsed;
  const { flags, positional } = parsed;
  if (positional.length > 0) return `unexpected '${positional.join(' ')}'`;
  const connection = parseConnectionFlags(
    flags,
    leaderElectionDefaultTimeoutMs,
    leaderElectionTimeoutMsMax,
    '--admin.config',
  );
  if (typeof connection === 'string') return connection;
  const typeText = flags.get('--election-type');
  if (typeText === undefined) return '--election-type is required (PREFERRED or UNCLEAN)';
  const electionType = typeText.toUpperCase();
  if (electionType !== 'PREFERRED' && electionType !== 'UNCLEAN') {
    return `--election-type must be PREFERRED or UNCLEAN, got '${typeText}'`;
  }
  const topic = flags.get('--topic');
  const partitionText = flags.get('--partition');
  const path = flags.get('--path-to-json-file');
  const all = flags.has('--all-topic-partitions');
  const chosen = [topic !== undefined, all, path !== undefined].filter(Boolean).length;
  if (chosen !== 1) {
    return 'exactly one of --topic (with --partition), --all-topic-partitions or --path-to-json-file is required';
  }
  if (partitionText !== undefined && topic === undefined) return '--partition needs --topic';
  let target: Target;
  if (topic !== undefined) {
    if (partitionText === undefined) return '--topic needs --partition';
    const partition = Number(partitionText);
    if (!Number.isInteger(partition) || partition < 0 || partition > 0x7fffffff) {
      return `--partition must be a non-negative integer, got '${partitionText}'`;
    }
    target = { kind: 'partitions', partitions: [{ topic, partition }] };
  } else if (all) {
    target = { kind: 'all' };
  } else {
    target = { kind: 'file', path: path! };
  }
  return { ...connection, electionType, target };
}

/** Kafka's election JSON file, or a message saying what is wrong with it. */
export function parseElectionJson(text: string): { topic: string; partition: number }[] | string {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    return `not JSON: ${(error as Error).message}`;
  }
  const partitions = (document as { partitions?: unknown } | null)?.partitions;
  if (!Array.isArray(partitions)) return 'expected {"partitions": [{"topic": ..., "partition": ...}, ...]}';
  if (partitions.length > leaderElectionJsonPartitionsMax) {
    return `more than ${leaderElectionJsonPartitionsMax} partitions`;
  }
  const result: { topic: string; partition: number }[] = [];
  const seen = new Set<string>();
  for (const entry of partitions) {
    const { topic, partition } = (entry ?? {}) as { topic?: unknown; partition?: unknown };
    if (
      typeof topic !== 'string' ||
      typeof partition !== 'number' ||
      !Number.isInteger(partition) ||
      partition < 0
    ) {
      return `bad entry ${JSON.stringify(entry)}: expected {"topic": string, "partition": integer}`;
    }
    const key = `${topic}-${partition}`;
    if (seen.has(key)) return `duplicate partition ${key}`;
    seen.add(key);
    result.push({ topic, partition });
  }
  return result;
}

export async function runLeaderElection(
  args: readonly string[],
  out: TextOutput,
  err: TextOutput,
): Promise<number> {
  const parsed = optionsOrUsageExit(
    'leader-election',
    leaderElectionUsage,
    parseLeaderElectionArgs(args),
    out,
    err,
  );
  if (typeof parsed === 'number') return parsed;
  let partitions: readonly { topic: string; partition: number }[] | null = null;
  if (parsed.target.kind === 'partitions') partitions = parsed.target.partitions;
  if (parsed.target.kind === 'file') {
    let text: string;
    try {
      text = await readFile(parsed.target.path, 'utf8');
    } catch (error) {
      err.write(`gregor leader-election: cannot read ${parsed.target.path}: ${(error as Error).message}\n`);
      return usageExitCode;
    }
    const fromFile = parseElectionJson(text);
    if (typeof fromFile === 'string') {
      err.write(`gregor leader-election: ${parsed.target.path}: ${fromFile}\n`);
      return usageExitCode;
    }
    partitions = fromFile;
  }
  return withAdminSession({ ...parsed, clientId: 'gregor-leader-election', out, err }, async (session) => {
    const byTopic = new Map<string, number[]>();
    for (const { topic, partition } of partitions ?? []) {
      byTopic.set(topic, [...(byTopic.get(topic) ?? []), partition]);
    }
    const response = await session.bootstrap.call(
      ApiKey.ElectLeaders,
      2,
      {
        electionType:
          parsed.electionType === 'PREFERRED' ? electionTypeCode.preferred : electionTypeCode.unclean,
        topicPartitions:
          partitions === null ? null : [...byTopic].map(([topic, partitionId]) => ({ topic, partitionId })),
        timeoutMs: session.timeoutMs,
      },
      session.timeoutMs + 5_000,
    );
    if (response.errorCode !== ErrorCode.NONE) {
      throw new AdminCommandError(`ElectLeaders: ${errorName(response.errorCode)}`);
    }
    const succeeded: string[] = [];
    const notNeeded: string[] = [];
    const failed: string[] = [];
    for (const { topic, partitionResult } of response.replicaElectionResults) {
      for (const result of partitionResult) {
        const name = `${topic}-${result.partitionId}`;
        if (result.errorCode === ErrorCode.NONE) succeeded.push(name);
        else if (result.errorCode === ErrorCode.ELECTION_NOT_NEEDED) notNeeded.push(name);
        else {
          const message = result.errorMessage ?? errorName(result.errorCode);
          failed.push(
            `Error completing leader election (${parsed.electionType}) for partition: ${name}: ${errorName(result.errorCode)}: ${message}`,
          );
        }
      }
    }
    if (succeeded.length > 0) {
      session.out.write(
        `Successfully completed leader election (${parsed.electionType}) for partitions ${succeeded.join(', ')}\n`,
      );
    }
    if (notNeeded.length > 0) {
      session.out.write(`Valid replica already elected for partitions ${notNeeded.join(', ')}\n`);
    }
    if (failed.length === 0) return 0;
    for (const line of failed) session.out.write(`${line}\n`);
    throw new AdminCommandError(`${failed.length} replica(s) could not be elected`);
  });
}

// `gregor log-dirs`: kafka-log-dirs.sh --describe, with its output (two lines, then the JSON).
//   gregor log-dirs --bootstrap-server host:port[,...] --describe [--topic-list a,b] [--broker-list 1,2]
// Metadata gives the brokers; each is asked DescribeLogDirs v4 for every partition, and the topics of
// --topic-list are kept, as Kafka's tool filters them. A failed log dir shows Kafka's exception class
// as its error.

import { ApiKey } from '@gregor/client';
import { ErrorCode, errorName } from '@gregor/protocol';
import { AdminCommandError, parseFlags, withAdminSession } from './admin-session.js';
import { commandConfigHelp, parseConnectionFlags } from './connection-flags.js';
import type { TextOutput } from './dump-log.js';
import type { Address } from './metadata-shell-args.js';
import { optionsOrUsageExit } from './usage.js';

export const logDirsDefaultTimeoutMs = 10_000;
/** The longest --timeout-ms accepted (10 minutes). */
export const logDirsTimeoutMsMax = 600_000;

export const logDirsUsage = `Usage: gregor log-dirs --bootstrap-server host:port[,host:port...] [--timeout-ms N]
    [--command-config FILE] --describe
    [--topic-list topic1,topic2] [--broker-list 1,2]

The log directories of the brokers, like kafka-log-dirs.sh: per broker and log dir its error and
each partition's size in bytes, offset lag and whether it is a future log, as JSON.

${commandConfigHelp}
Exit codes: 0 ok, 1 failure (unknown broker, cluster unreachable), 2 usage error.
`;

/** Kafka's exception class for an error code, as kafka-log-dirs.sh prints a log dir's error. */
const exceptionClassOf: Readonly<Record<number, string>> = {
  [ErrorCode.KAFKA_STORAGE_ERROR]: 'org.apache.kafka.common.errors.KafkaStorageException',
};

interface Parsed {
  readonly bootstrap: Address[];
  readonly timeoutMs: number;
  readonly topics: readonly string[];
  readonly brokerIds: readonly number[] | null;
}

export function parseLogDirsArgs(args: readonly string[]): Parsed | 'help' | string {
  const parsed = parseFlags(
    args,
    new Set(['--bootstrap-server', '--command-config', '--timeout-ms', '--topic-list', '--broker-list']),
    new Set(['--describe']),
  );
  if (typeof parsed === 'string') return parsed;
  const { flags, positional } = parsed;
  if (positional.length > 0) return `unexpected '${positional.join(' ')}'`;
  const connection = parseConnectionFlags(flags, logDirsDefaultTimeoutMs, logDirsTimeoutMsMax);
  if (typeof connection === 'string') return connection;
  if (!flags.has('--describe')) return '--describe is required';
  const topics = (flags.get('--topic-list') ?? '').split(',').filter((topic) => topic !== '');
  const brokerText = flags.get('--broker-list');
  let brokerIds: number[] | null = null;
  if (brokerText !== undefined) {
    brokerIds = brokerText.split(',').map(Number);
    if (!brokerIds.every((id) => Number.isInteger(id) && id >= 0)) {
      return `--broker-list: expected broker ids like 1,2,3, got '${brokerText}'`;
    }
  }
  return { ...connection, topics, brokerIds };
}

export async function runLogDirs(args: readonly string[], out: TextOutput, err: TextOutput): Promise<number> {
  const parsed = optionsOrUsageExit('log-dirs', logDirsUsage, parseLogDirsArgs(args), out, err);
  if (typeof parsed === 'number') return parsed;
  return withAdminSession({ ...parsed, clientId: 'gregor-log-dirs', out, err }, async (session) => {
    const metadata = await session.bootstrap.call(ApiKey.Metadata, 1, { topics: [] }, session.timeoutMs);
    const known = metadata.brokers.map((broker) => broker.nodeId).sort((a, b) => a - b);
    const wanted = parsed.brokerIds ?? known;
    const missing = wanted.filter((id) => !known.includes(id));
    if (missing.length > 0) {
      throw new AdminCommandError(
        `The given brokers do not exist from --broker-list: ${missing.join(',')}. Current existent brokers: ${known.join(',')}`,
      );
    }
    session.out.write('Querying brokers for log directories information\n');
    const brokers = [];
    for (const brokerId of wanted) {
      const broker = metadata.brokers.find((entry) => entry.nodeId === brokerId)!;
      const connection = await session.connect(broker.host, broker.port);
      const response = await connection.call(ApiKey.DescribeLogDirs, 4, { topics: null }, session.timeoutMs);
      if (response.errorCode !== ErrorCode.NONE) {
        throw new AdminCommandError(
          `DescribeLogDirs on broker ${brokerId}: ${errorName(response.errorCode)}`,
        );
      }
      brokers.push({
        broker: brokerId,
        logDirs: response.results.map((dir) => ({
          logDir: dir.logDir,
          error:
            dir.errorCode === ErrorCode.NONE
              ? null
              : (exceptionClassOf[dir.errorCode] ?? errorName(dir.errorCode)),
          partitions: dir.topics
            .filter((topic) => parsed.topics.length === 0 || parsed.topics.includes(topic.name))
            .flatMap((topic) =>
              topic.partitions.map((partition) => ({
                partition: `${topic.name}-${partition.partitionIndex}`,
                size: Number(partition.partitionSize),
                offsetLag: Number(partition.offsetLag),
                isFuture: partition.isFutureKey,
              })),
            ),
        })),
      });
    }
    session.out.write(`Received log directory information from brokers ${wanted.join(',')}\n`);
    session.out.write(`${JSON.stringify({ version: 1, brokers })}\n`);
    return 0;
  });
}

// `gregor consume`, Gregor's kafka-console-consumer.sh, on @gregor/client. Two ways to read, as
// Kafka's tool has:
//   - as a group member (subscribe): with --group G, offsets are committed (what was printed, also
//     at the end); without it, a throw-away group console-consumer-NNNNN that commits nothing, as
//     Kafka's tool does. --from-beginning starts where nothing is committed at the earliest offset.
//   - one partition, no group (assign): --partition P [--offset N|earliest|latest].
// It stops after --max-messages, after --timeout-ms without a record, or on SIGINT, and then prints
// "Processed a total of N messages" on stderr.

import {
  ApiKey,
  Cluster,
  type Consumer,
  type FetchedMessage,
  fetchedRecords,
  Kafka,
  KafkaJSProtocolError,
  logLevel,
  resolveRetry,
} from '@gregor/client';
import { ErrorCode, earliestTimestamp, latestTimestamp } from '@gregor/protocol';
import { isKafkaClientFailure } from './cli-connection.js';
import { type ClientSecurity, kafkaSecurityConfig, readToolConfig } from './client-properties.js';
import { integerIn, keyValues, readConsoleFlags } from './console-flags.js';
import {
  type ConsoleRecord,
  type FormatterSettings,
  formatRecord,
  jsonRecord,
  parseFormatterProperties,
} from './console-formatter.js';
import { type ConsoleInput, parseBootstrap } from './console-producer.js';
import type { TextOutput } from './dump-log.js';
import { runOrUsageExit } from './usage.js';

export const consumeUsage = `Usage: gregor consume --bootstrap-server host:port[,host:port...] --topic T
                      [--group G | --partition P [--offset N|earliest|latest]] [--from-beginning]
                      [--max-messages N] [--timeout-ms N] [--isolation-level read_uncommitted|read_committed]
                      [--property k=v]... [--json] [--consumer.config FILE]

Prints the records of topic T, like kafka-console-consumer.sh, until --max-messages, --timeout-ms
without a record, or SIGINT; then "Processed a total of N messages" on stderr.

  --group G              read as a member of group G and commit what was printed (without it, a
                         group of its own that commits nothing)
  --partition P          read partition P alone, without a group, from --offset (default latest,
                         earliest with --from-beginning)
  --from-beginning       start at the earliest offset where the group has none committed
  --isolation-level      read_uncommitted (default, as Kafka's tool) or read_committed
  --property print.key=true, print.timestamp=true, print.offset=true, print.partition=true,
             print.headers=true, print.value=false, key.separator=S (default a tab),
             line.separator=S, headers.separator=S (default ','), null.literal=S (default null)
  --consumer.config FILE how to reach a secured listener (Kafka's client properties):
                         security.protocol, ssl.truststore.location, ssl.keystore.location (PEM),
                         sasl.mechanism (PLAIN, SCRAM-SHA-256/512), sasl.jaas.config;
                         --command-config FILE is the same flag
  --json                 one JSON object per record (Gregor's): topic, partition, offset, timestamp,
                         timestampType, key, value, headers; bytes that are not UTF-8 as {"base64":...}
                         (--formatter json says the same)

Exit codes: 0 done (also after --timeout-ms or SIGINT), 1 unknown topic or unreachable cluster,
2 usage error.
`;

/** How long one Fetch waits for records: also how quickly an idle reader notices SIGINT. */
const fetchMaxWaitMs = 500;
const partitionMaxBytes = 1_048_576;

export type StartOffset = bigint | 'earliest' | 'latest';

export interface ConsumeOptions {
  readonly bootstrap: readonly string[];
  /** From --consumer.config. */
  readonly security: ClientSecurity;
  readonly topic: string;
  readonly group: string | undefined;
  readonly partition: number | undefined;
  readonly offset: StartOffset | undefined;
  readonly fromBeginning: boolean;
  readonly maxMessages: number | undefined;
  readonly timeoutMs: number | undefined;
  readonly readUncommitted: boolean;
  /** null: --json. */
  readonly formatter: FormatterSettings | null;
}

export type ParsedConsumeArgs =
  | { readonly kind: 'options'; readonly options: ConsumeOptions }
  | { readonly kind: 'help' }
  | { readonly kind: 'usage-error'; readonly message: string };

const intMax = 2_147_483_647;

export function parseConsumeArgs(args: readonly string[]): ParsedConsumeArgs {
  const usageError = (message: string): ParsedConsumeArgs => ({ kind: 'usage-error', message });
  const flags = readConsoleFlags(args, {
    values: new Set([
      '--bootstrap-server',
      '--consumer.config',
      '--command-config',
      '--topic',
      '--group',
      '--partition',
      '--offset',
      '--max-messages',
      '--timeout-ms',
      '--isolation-level',
      '--formatter',
    ]),
    switches: new Set(['--from-beginning', '--json']),
    repeated: new Set(['--property']),
  });
  if (flags === 'help') return { kind: 'help' };
  if ('usageError' in flags) return usageError(flags.usageError);
  const bootstrapText = flags.values.get('--bootstrap-server');
  if (bootstrapText === undefined) return usageError('--bootstrap-server is required');
  const bootstrap = parseBootstrap(bootstrapText);
  if (typeof bootstrap === 'string') return usageError(bootstrap);
  const config = readToolConfig(flags.values, '--consumer.config', []);
  if (typeof config === 'string') return usageError(config);
  const topic = flags.values.get('--topic');
  if (topic === undefined) return usageError('--topic is required');
  const fromBeginning = flags.switches.has('--from-beginning');
  const number = (flag: string, min: number): number | undefined | string => {
    const text = flags.values.get(flag);
    if (text === undefined) return undefined;
    return integerIn(text, min, intMax) ?? `${flag} must be an integer in [${min}, ${intMax}], got '${text}'`;
  };
  const partition = number('--partition', 0);
  if (typeof partition === 'string') return usageError(partition);
  const maxMessages = number('--max-messages', 1);
  if (typeof maxMessages === 'string') return usageError(maxMessages);
  const timeoutMs = number('--timeout-ms', 1);
  if (typeof timeoutMs === 'string') return usageError(timeoutMs);
  const group = flags.values.get('--group');
  const offsetText = flags.values.get('--offset');
  let offset: StartOffset | undefined;
  if (offsetText !== undefined) {
    if (partition === undefined) return usageError('The partition is required when offset is specified.');
    if (fromBeginning) return usageError('Options from-beginning and offset cannot be specified together.');
    if (offsetText === 'earliest' || offsetText === 'latest') offset = offsetText;
    else if (/^\d+$/.test(offsetText)) offset = BigInt(offsetText);
    else
      return usageError(
        `--offset must be a non-negative number, 'earliest' or 'latest', got '${offsetText}'`,
      );
  }
  if (group !== undefined && partition !== undefined) {
    return usageError('--group and --partition cannot be used together: a group assigns its partitions');
  }
  const isolation = flags.values.get('--isolation-level') ?? 'read_uncommitted';
  if (isolation !== 'read_uncommitted' && isolation !== 'read_committed') {
    return usageError(`--isolation-level must be read_uncommitted or read_committed, got '${isolation}'`);
  }
  const formatterName = flags.values.get('--formatter');
  const json = flags.switches.has('--json') || formatterName === 'json';
  if (
    formatterName !== undefined &&
    formatterName !== 'json' &&
    !/(^|\.)DefaultMessageFormatter$/.test(formatterName)
  ) {
    return usageError(
      `--formatter must be json or kafka.tools.DefaultMessageFormatter, got '${formatterName}'`,
    );
  }
  const properties = keyValues('--property', flags.repeated.get('--property'));
  if (typeof properties === 'string') return usageError(properties);
  if (json && properties.size > 0) return usageError('--property does not apply to --json');
  const formatter = json ? null : parseFormatterProperties(properties);
  if (typeof formatter === 'string') return usageError(formatter);
  return {
    kind: 'options',
    options: {
      bootstrap,
      topic,
      group,
      partition,
      offset,
      fromBeginning,
      maxMessages,
      timeoutMs,
      readUncommitted: isolation === 'read_uncommitted',
      formatter,
      security: config.security,
    },
  };
}

/** Why reading stopped. */
type Stop = 'max-messages' | 'timeout' | 'interrupted';

/** Counts and prints records, and knows when to stop (--max-messages, --timeout-ms, SIGINT). */
class ConsoleSink {
  count = 0;
  readonly stopped: Promise<Stop>;
  private stop: (reason: Stop) => void = () => undefined;
  private done = false;
  private timer: NodeJS.Timeout | undefined;

  /** Runs once, at the moment reading stops (the group member pauses its partitions there). */
  onStop: () => void = () => undefined;

  constructor(
    private readonly options: ConsumeOptions,
    private readonly out: TextOutput,
    interrupted: Promise<void>,
  ) {
    this.stopped = new Promise((resolve) => {
      this.stop = (reason) => {
        if (this.done) return;
        this.done = true;
        if (this.timer !== undefined) clearTimeout(this.timer);
        this.onStop();
        resolve(reason);
      };
    });
    void interrupted.then(() => this.stop('interrupted'));
    this.armTimeout();
  }

  get finished(): boolean {
    return this.done;
  }

  /** Prints the record unless reading has stopped; false once no more may be printed. */
  print(topic: string, partition: number, message: FetchedMessage): boolean {
    if (this.done) return false;
    const record: ConsoleRecord = { topic, partition, ...message };
    const formatter = this.options.formatter;
    this.out.write(formatter === null ? jsonRecord(record) : formatRecord(record, formatter));
    this.count++;
    this.armTimeout();
    if (this.options.maxMessages !== undefined && this.count >= this.options.maxMessages) {
      this.stop('max-messages');
      return false;
    }
    return true;
  }

  /** Ends the run whatever stopped it (an error too), so no timer is left behind. */
  finish(): void {
    this.stop('interrupted');
  }

  private armTimeout(): void {
    const { timeoutMs } = this.options;
    if (timeoutMs === undefined || this.done) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.stop('timeout'), timeoutMs);
  }
}

export async function runConsume(
  args: readonly string[],
  out: TextOutput,
  err: TextOutput,
  input: Pick<ConsoleInput, 'interrupted'>,
): Promise<number> {
  const parsed = runOrUsageExit('consume', consumeUsage, parseConsumeArgs(args), out, err);
  if (typeof parsed === 'number') return parsed;
  const options = parsed.options;
  const sink = new ConsoleSink(options, out, input.interrupted);
  let code = 0;
  try {
    const stop =
      options.partition === undefined
        ? await consumeAsMember(options, sink)
        : await consumePartition(options, options.partition, sink);
    if (stop === 'timeout') {
      err.write(
        `Error processing message, terminating consumer process: no message for ${options.timeoutMs} ms (--timeout-ms)\n`,
      );
    }
  } catch (error) {
    if (!isKafkaClientFailure(error)) throw error;
    err.write(`Error: ${error.message}\n`);
    code = 1;
  } finally {
    sink.finish();
  }
  err.write(`Processed a total of ${sink.count} messages\n`);
  return code;
}

/** A record that arrived after reading stopped: not printed, so it must not count as consumed. */
class NotPrintedError extends Error {
  override name = 'NotPrintedError';
}

/** Reads as a member of a group (subscribe), committing only with --group, as Kafka's tool does. */
async function consumeAsMember(options: ConsumeOptions, sink: ConsoleSink): Promise<Stop> {
  // Kafka's tool makes up console-consumer-<0..99999> when no group is given.
  const groupId = options.group ?? `console-consumer-${Math.floor(Math.random() * 100_000)}`;
  const kafka = new Kafka({
    brokers: options.bootstrap,
    clientId: 'console-consumer',
    logLevel: logLevel.NOTHING,
    ...kafkaSecurityConfig(options.security),
  });
  const consumer: Consumer = kafka.consumer({
    groupId,
    readUncommitted: options.readUncommitted,
    allowAutoTopicCreation: false,
    maxWaitTimeInMs: fetchMaxWaitMs,
  });
  await consumer.connect();
  // Paused at once when reading stops: the records a fetch brought past the last one printed are
  // not handed on, so what the group commits at the end is exactly what was printed.
  sink.onStop = () => consumer.pause([{ topic: options.topic }]);
  try {
    await consumer.subscribe({ topic: options.topic, fromBeginning: options.fromBeginning });
    await consumer.run({
      autoCommit: options.group !== undefined,
      eachMessage: async ({ topic, partition, message }) => {
        if (sink.finished) throw new NotPrintedError();
        sink.print(topic, partition, message);
      },
    });
    return await sink.stopped;
  } finally {
    await consumer.disconnect();
  }
}

type Retry = ReturnType<typeof resolveRetry>;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Reads one partition without a group (assign), from --offset. */
async function consumePartition(
  options: ConsumeOptions,
  partition: number,
  sink: ConsoleSink,
): Promise<Stop> {
  const retry: Retry = resolveRetry();
  const cluster = new Cluster({
    clientId: 'console-consumer',
    brokers: options.bootstrap,
    connectionTimeoutMs: 1_000,
    requestTimeoutMs: 30_000,
    retry,
    logger: new Kafka({ brokers: options.bootstrap, logLevel: logLevel.NOTHING }).logger(),
    allowAutoTopicCreation: false,
    ...kafkaSecurityConfig(options.security),
  });
  const { topic } = options;
  const isolationLevel = options.readUncommitted ? 0 : 1;
  const stopped = sink.stopped.then(() => undefined);
  try {
    await cluster.connect();
    await cluster.ensureTopics([topic]);
    const partitions = cluster.partitionCount(topic);
    if (partition >= partitions) {
      throw new KafkaJSProtocolError(
        ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
        `topic ${topic} has no partition ${partition} (it has ${partitions})`,
      );
    }
    const start = options.offset ?? (options.fromBeginning ? 'earliest' : 'latest');
    const lookUp = (which: 'earliest' | 'latest') =>
      listOffset(
        cluster,
        topic,
        partition,
        which === 'earliest' ? earliestTimestamp : latestTimestamp,
        isolationLevel,
      );
    let offset = typeof start === 'bigint' ? start : await lookUp(start);
    while (!sink.finished) {
      const leader = cluster.leaderFor(topic, partition);
      const response =
        leader < 0
          ? undefined
          : await Promise.race([
              cluster.send(
                leader,
                ApiKey.Fetch,
                fetchBody(topic, partition, offset, isolationLevel),
                fetchMaxWaitMs + 30_000,
              ),
              stopped,
            ]);
      if (sink.finished) break;
      const data = response?.responses[0]?.partitions[0];
      if (data === undefined || data.errorCode !== ErrorCode.NONE) {
        if (data?.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) {
          // As Kafka's tool (auto.offset.reset=latest): an offset past the log waits at its end.
          offset = await lookUp('latest');
          continue;
        }
        // No leader, or it moved: a leader election takes a moment.
        await cluster.refreshMetadata([topic]).catch(() => undefined);
        await Promise.race([sleep(retry.initialRetryTime), stopped]);
        continue;
      }
      const { messages, nextOffset } = fetchedRecords(data.records, offset, data.abortedTransactions);
      offset = nextOffset;
      for (const message of messages) {
        if (!sink.print(topic, partition, message)) break;
      }
    }
    return await sink.stopped;
  } finally {
    cluster.disconnect();
  }
}

async function listOffset(
  cluster: Cluster,
  topic: string,
  partition: number,
  timestamp: bigint,
  isolationLevel: number,
): Promise<bigint> {
  const leader = cluster.leaderFor(topic, partition);
  if (leader < 0) throw new KafkaJSProtocolError(ErrorCode.LEADER_NOT_AVAILABLE, `${topic}-${partition}`);
  const response = await cluster.send(leader, ApiKey.ListOffsets, {
    replicaId: -1,
    isolationLevel,
    topics: [
      {
        name: topic,
        partitions: [{ partitionIndex: partition, currentLeaderEpoch: -1, timestamp, maxNumOffsets: 1 }],
      },
    ],
  });
  const answer = response.topics[0]?.partitions[0];
  if (answer === undefined) throw new KafkaJSProtocolError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, topic);
  if (answer.errorCode !== ErrorCode.NONE)
    throw new KafkaJSProtocolError(answer.errorCode, `${topic}-${partition}`);
  return answer.offset;
}

function fetchBody(topic: string, partition: number, fetchOffset: bigint, isolationLevel: number) {
  return {
    replicaId: -1,
    maxWaitMs: fetchMaxWaitMs,
    minBytes: 1,
    maxBytes: partitionMaxBytes,
    isolationLevel,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [
      {
        topic,
        partitions: [
          {
            partition,
            currentLeaderEpoch: -1,
            fetchOffset,
            lastFetchedEpoch: -1,
            logStartOffset: -1n,
            partitionMaxBytes,
          },
        ],
      },
    ],
    forgottenTopicsData: [],
    rackId: '',
  };
}

// `gregor perf-test producer|consumer`: kafka-producer-perf-test.sh and kafka-consumer-perf-test.sh
// on @gregor/client, with their flags and output (perf-stats.ts computes the figures).
//   producer: --num-records records of --record-size random capital letters (one payload, as Kafka's
//     tool), no key, sent as fast as --throughput allows (-1: no limit); a line every ~5 s and the
//     total with latency percentiles. Latency is from send() to its acknowledgement.
//   consumer: reads --messages records as a member of --group from the earliest offset (the latest
//     with --from-latest) and prints Kafka's header and row; --timeout ms without a record ends it
//     early with Kafka's warning.

import { Kafka, logLevel } from '@gregor/client';
import { isKafkaClientFailure } from './cli-connection.js';
import { type ClientSecurity, kafkaSecurityConfig, readToolConfig } from './client-properties.js';
import { integerIn, keyValues, readConsoleFlags } from './console-flags.js';
import { type ConsoleInput, parseBootstrap } from './console-producer.js';
import type { TextOutput } from './dump-log.js';
import { consumerPerfHeader, consumerPerfLine, ProducerPerfStats } from './perf-stats.js';
import {
  kafkaConfigFor,
  type ProducerSettings,
  parseProducerProperties,
  producerPropertyNames,
} from './producer-properties.js';
import { SendWindow } from './send-window.js';
import { runOrUsageExit } from './usage.js';

export const perfTestUsage = `Usage: gregor perf-test producer --topic T --num-records N --record-size BYTES --throughput N|-1
                               [--bootstrap-server B] [--producer-props k=v [k=v...]]
                               [--producer.config FILE]
       gregor perf-test consumer --bootstrap-server B --topic T --messages N [--group G]
                               [--from-latest] [--timeout MS] [--hide-header] [--consumer.config FILE]

producer (kafka-producer-perf-test.sh): sends N records of BYTES random capital letters, at most
  --throughput records/s (-1: unthrottled); prints "N records sent, X records/sec (Y MB/sec), Z ms avg
  latency, W ms max latency." about every 5 s, then the totals with the 50th, 95th, 99th and 99.9th
  latency percentiles (exact over a sample of at most 500,000 latencies, as Kafka's tool).
  The bootstrap servers come from --bootstrap-server or bootstrap.servers in --producer-props;
  --producer-props takes acks, compression.type, linger.ms, batch.size, buffer.memory,
  max.request.size, delivery.timeout.ms, request.timeout.ms, enable.idempotence, retries, client.id.
consumer (kafka-consumer-perf-test.sh): reads N records in group G (default perf-consumer-NNNNN) from
  the earliest offset (latest with --from-latest) and prints start.time, end.time,
  data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms,
  fetch.MB.sec, fetch.nMsg.sec. --timeout (default 10000) ms without a record ends it early.
--producer.config / --consumer.config FILE: Kafka's client properties (the producer's settings above,
  which --producer-props override, and how to reach a secured listener: security.protocol,
  ssl.truststore.location, ssl.keystore.location (PEM), sasl.mechanism, sasl.jaas.config);
  --command-config FILE is the same flag.

Exit codes: 0 done, 1 a record failed or the cluster is unreachable, 2 usage error.
`;

const intMax = 2_147_483_647;
/** Sends handed to the producer and not yet answered; past this the sender waits for one. */
const pendingSendsMax = 10_000;
/** How often the consumer test looks whether the group has assigned its partitions. */
const assignmentPollMs = 5;

export interface ProducerPerfOptions {
  readonly bootstrap: readonly string[];
  readonly topic: string;
  readonly numRecords: number;
  readonly recordSize: number;
  /** Records per second; -1 unthrottled. */
  readonly throughput: number;
  readonly settings: ProducerSettings;
  /** From --producer.config. */
  readonly security: ClientSecurity;
}

export interface ConsumerPerfOptions {
  readonly bootstrap: readonly string[];
  readonly topic: string;
  readonly messages: number;
  readonly group: string | undefined;
  readonly fromLatest: boolean;
  readonly timeoutMs: number;
  readonly hideHeader: boolean;
  /** From --consumer.config. */
  readonly security: ClientSecurity;
}

export type ParsedPerfTestArgs =
  | { readonly kind: 'producer'; readonly options: ProducerPerfOptions }
  | { readonly kind: 'consumer'; readonly options: ConsumerPerfOptions }
  | { readonly kind: 'help' }
  | { readonly kind: 'usage-error'; readonly message: string };

export function parsePerfTestArgs(args: readonly string[]): ParsedPerfTestArgs {
  const [which, ...rest] = args;
  if (which === undefined || which === '--help' || which === '-h') return { kind: 'help' };
  if (which === 'producer') return parseProducerPerfArgs(rest);
  if (which === 'consumer') return parseConsumerPerfArgs(rest);
  return { kind: 'usage-error', message: `expected producer or consumer, got '${which}'` };
}

function required(
  values: ReadonlyMap<string, string>,
  flag: string,
  min: number,
): number | { readonly message: string } {
  const text = values.get(flag);
  if (text === undefined) return { message: `${flag} is required` };
  return (
    integerIn(text, min, intMax) ?? {
      message: `${flag} must be an integer in [${min}, ${intMax}], got '${text}'`,
    }
  );
}

function parseProducerPerfArgs(args: readonly string[]): ParsedPerfTestArgs {
  const usageError = (message: string): ParsedPerfTestArgs => ({ kind: 'usage-error', message });
  const flags = readConsoleFlags(args, {
    values: new Set([
      '--bootstrap-server',
      '--topic',
      '--num-records',
      '--record-size',
      '--throughput',
      '--producer.config',
      '--command-config',
    ]),
    lists: new Set(['--producer-props']),
    switches: new Set(['--print-metrics']),
  });
  if (flags === 'help') return { kind: 'help' };
  if ('usageError' in flags) return usageError(flags.usageError);
  if (flags.switches.has('--print-metrics')) {
    return usageError('--print-metrics is not supported: @gregor/client keeps no Java producer metrics');
  }
  const topic = flags.values.get('--topic');
  if (topic === undefined) return usageError('--topic is required');
  const numRecords = required(flags.values, '--num-records', 1);
  if (typeof numRecords !== 'number') return usageError(numRecords.message);
  const recordSize = required(flags.values, '--record-size', 1);
  if (typeof recordSize !== 'number') return usageError(recordSize.message);
  const throughputText = flags.values.get('--throughput');
  if (throughputText === undefined) return usageError('--throughput is required (-1 for no limit)');
  const throughput = throughputText === '-1' ? -1 : integerIn(throughputText, 1, intMax);
  if (throughput === null) {
    return usageError(`--throughput must be -1 or an integer in [1, ${intMax}], got '${throughputText}'`);
  }
  const properties = keyValues('--producer-props', flags.repeated.get('--producer-props'));
  if (typeof properties === 'string') return usageError(properties);
  const config = readToolConfig(flags.values, '--producer.config', producerPropertyNames);
  if (typeof config === 'string') return usageError(config);
  // As kafka-producer-perf-test.sh: --producer-props wins over the file.
  const settings = parseProducerProperties('--producer-props', new Map([...config.others, ...properties]));
  if (typeof settings === 'string') return usageError(settings);
  const bootstrapText = flags.values.get('--bootstrap-server') ?? settings.bootstrapServers;
  if (bootstrapText === undefined) {
    return usageError('--bootstrap-server or bootstrap.servers in --producer-props is required');
  }
  const bootstrap = parseBootstrap(bootstrapText);
  if (typeof bootstrap === 'string') return usageError(bootstrap);
  return {
    kind: 'producer',
    options: { bootstrap, topic, numRecords, recordSize, throughput, settings, security: config.security },
  };
}

function parseConsumerPerfArgs(args: readonly string[]): ParsedPerfTestArgs {
  const usageError = (message: string): ParsedPerfTestArgs => ({ kind: 'usage-error', message });
  const flags = readConsoleFlags(args, {
    values: new Set([
      '--bootstrap-server',
      '--topic',
      '--messages',
      '--group',
      '--timeout',
      '--consumer.config',
      '--command-config',
    ]),
    switches: new Set(['--from-latest', '--hide-header']),
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
  const messages = required(flags.values, '--messages', 1);
  if (typeof messages !== 'number') return usageError(messages.message);
  const timeoutText = flags.values.get('--timeout') ?? '10000';
  const timeoutMs = integerIn(timeoutText, 1, intMax);
  if (timeoutMs === null)
    return usageError(`--timeout must be an integer in [1, ${intMax}], got '${timeoutText}'`);
  return {
    kind: 'consumer',
    options: {
      bootstrap,
      topic,
      messages,
      group: flags.values.get('--group'),
      fromLatest: flags.switches.has('--from-latest'),
      timeoutMs,
      hideHeader: flags.switches.has('--hide-header'),
      security: config.security,
    },
  };
}

export async function runPerfTest(
  args: readonly string[],
  out: TextOutput,
  err: TextOutput,
  input: Pick<ConsoleInput, 'interrupted'>,
): Promise<number> {
  const parsed = runOrUsageExit('perf-test', perfTestUsage, parsePerfTestArgs(args), out, err);
  if (typeof parsed === 'number') return parsed;
  try {
    return parsed.kind === 'producer'
      ? await producerPerf(parsed.options, out, err, input.interrupted)
      : await consumerPerf(parsed.options, out, err, input.interrupted);
  } catch (error) {
    if (!isKafkaClientFailure(error)) throw error;
    err.write(`Error: ${error.message}\n`);
    return 1;
  }
}

/** Capital letters, as Kafka's tool fills its payload. */
function randomPayload(size: number): Buffer {
  const payload = Buffer.alloc(size);
  for (let index = 0; index < size; index++) payload[index] = 65 + Math.floor(Math.random() * 26);
  return payload;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function producerPerf(
  options: ProducerPerfOptions,
  out: TextOutput,
  err: TextOutput,
  interrupted: Promise<void>,
): Promise<number> {
  const kafka = new Kafka(
    kafkaConfigFor(options.bootstrap, options.settings, 'perf-producer-client', options.security),
  );
  const producer = kafka.producer(options.settings.producer);
  await producer.connect();
  const payload = randomPayload(options.recordSize);
  let stop = false;
  void interrupted.then(() => {
    stop = true;
  });
  let failed = 0;
  const startMs = Date.now();
  const stats = new ProducerPerfStats(options.numRecords, startMs);
  const unanswered = new SendWindow(pendingSendsMax);
  try {
    for (let iteration = 0; iteration < options.numRecords && !stop && failed === 0; iteration++) {
      if (options.throughput > 0) {
        // Kafka's ThroughputThrottler: no faster than `throughput` records per second on average.
        const dueMs = startMs + (iteration * 1000) / options.throughput;
        const waitMs = dueMs - Date.now();
        if (waitMs > 0) await sleep(waitMs);
      }
      const sendMs = Date.now();
      const sent = producer
        .send({ topic: options.topic, acks: options.settings.acks, messages: [{ value: payload }] })
        .then(
          () => {
            const nowMs = Date.now();
            const line = stats.record(iteration, nowMs - sendMs, payload.length, nowMs);
            if (line !== undefined) out.write(`${line}\n`);
          },
          (error: unknown) => {
            if (failed++ === 0)
              err.write(`Error: a record was not acknowledged: ${(error as Error).message}\n`);
          },
        );
      await unanswered.add(sent);
    }
    await producer.flush();
    await unanswered.drain();
  } finally {
    await producer.disconnect().catch(() => undefined);
  }
  out.write(`${stats.total(Date.now())}\n`);
  return failed > 0 ? 1 : 0;
}

async function consumerPerf(
  options: ConsumerPerfOptions,
  out: TextOutput,
  err: TextOutput,
  interrupted: Promise<void>,
): Promise<number> {
  const groupId = options.group ?? `perf-consumer-${Math.floor(Math.random() * 100_000)}`;
  const kafka = new Kafka({
    brokers: options.bootstrap,
    clientId: 'perf-consumer-client',
    logLevel: logLevel.NOTHING,
    ...kafkaSecurityConfig(options.security),
  });
  const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false, maxWaitTimeInMs: 500 });
  await consumer.connect();
  let messages = 0;
  let bytes = 0;
  let finish: (reason: 'done' | 'timeout' | 'interrupted') => void = () => undefined;
  const finished = new Promise<'done' | 'timeout' | 'interrupted'>((resolve) => {
    finish = resolve;
  });
  void interrupted.then(() => finish('interrupted'));
  let timer: NodeJS.Timeout | undefined;
  const armTimeout = () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = setTimeout(() => finish('timeout'), options.timeoutMs);
  };
  let endMs = 0;
  let rebalanceMs = 0;
  let over = false;
  const startMs = Date.now();
  try {
    await consumer.subscribe({ topic: options.topic, fromBeginning: !options.fromLatest });
    armTimeout();
    await consumer.run({
      eachMessage: async ({ message }) => {
        if (messages >= options.messages) throw new Error('past --messages: left for the next reader');
        messages++;
        bytes += message.size;
        armTimeout();
        if (messages >= options.messages) {
          consumer.pause([{ topic: options.topic }]);
          finish('done');
        }
      },
    });
    const assigned = (async () => {
      while (!over && consumer.assignments().length === 0) await sleep(assignmentPollMs);
      if (!over) rebalanceMs = Date.now() - startMs;
    })();
    const reason = await finished;
    endMs = Date.now();
    over = true;
    await assigned;
    if (reason === 'timeout' && messages < options.messages) {
      err.write(
        `WARNING: Exiting before consuming the expected number of messages: timeout (${options.timeoutMs} ms) exceeded. You can use the --timeout option to increase the timeout.\n`,
      );
    }
  } finally {
    over = true;
    if (timer !== undefined) clearTimeout(timer);
    finish('interrupted');
    await consumer.disconnect();
  }
  if (!options.hideHeader) out.write(`${consumerPerfHeader}\n`);
  out.write(`${consumerPerfLine({ startMs, endMs, bytes, messages, rebalanceMs })}\n`);
  return 0;
}

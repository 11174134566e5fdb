// `gregor produce`, Gregor's kafka-console-producer.sh, on @gregor/client's producer: one record
// per input line (stdin, or --file), split into headers, key and value as Kafka's LineMessageReader
// does (console-line-reader.ts). Records are sent as they are read (batched by the producer) and
// flushed at the end of the input or on SIGINT; --sync sends each one alone and waits for it.
// A record that fails is reported with Kafka's "Error when sending message..." line; the exit code
// is then 1 (Kafka's tool only logs it). --sync stops at the first failure, as Kafka's does.

import { createReadStream } from 'node:fs';
import { Kafka, type Message, type Producer } from '@gregor/client';
import { type ClientSecurity, readToolConfig } from './client-properties.js';
import { integerIn, keyValues, readConsoleFlags } from './console-flags.js';
import {
  LineParseError,
  type LineReaderSettings,
  LineTooLongError,
  parseLine,
  parseLineReaderProperties,
  readLines,
} from './console-line-reader.js';
import type { TextOutput } from './dump-log.js';
import {
  kafkaConfigFor,
  type ProducerSettings,
  parseProducerProperties,
  producerPropertyNames,
} from './producer-properties.js';
import { SendWindow } from './send-window.js';
import { runOrUsageExit } from './usage.js';

export const produceUsage = `Usage: gregor produce --bootstrap-server host:port[,host:port...] --topic T
                      [--file FILE] [--property k=v]... [--producer-property k=v]...
                      [--producer.config FILE] [--partition N] [--sync]

Reads records from stdin (or --file), one per line, and sends them to topic T, like
kafka-console-producer.sh. The input ends at end of file or on SIGINT; what was read is flushed first.

  --property parse.key=true        a key before key.separator (default a tab)
  --property parse.headers=true    headers before headers.delimiter (default a tab), as
                                   k1:v1,k2:v2 (headers.separator ',', headers.key.separator ':')
  --property ignore.error=true     a line without the separator has no key (headers) instead of failing
  --property null.marker=M         a key, value or header value equal to M is null
  --producer-property k=v          the producer's settings: acks, compression.type, linger.ms
                                   (default 1000, as Kafka's tool), batch.size, buffer.memory,
                                   max.request.size, delivery.timeout.ms, request.timeout.ms,
                                   enable.idempotence, retries, client.id
  --producer.config FILE           the same settings from a properties file (--producer-property
                                   wins), and how to reach a secured listener: security.protocol,
                                   ssl.truststore.location, ssl.keystore.location (PEM),
                                   sasl.mechanism (PLAIN, SCRAM-SHA-256/512), sasl.jaas.config;
                                   --command-config FILE is the same flag
  --partition N                    every record to partition N (Gregor's; Kafka's tool has none)
  --sync                           send each record alone and wait for its acknowledgement

Exit codes: 0 every record acknowledged, 1 a record failed or the cluster is unreachable, 2 usage error.
`;

/** The console producer's own defaults, Kafka's ConsoleProducer's (--timeout 1000 is its linger.ms). */
const consoleProducerDefaults = { 'linger.ms': '1000' };
/** Sends handed to the producer and not yet answered; past this the reader waits. */
const pendingSendsMax = 10_000;

export interface ProduceOptions {
  readonly bootstrap: readonly string[];
  readonly topic: string;
  readonly file: string | undefined;
  readonly partition: number | undefined;
  readonly sync: boolean;
  readonly lineReader: LineReaderSettings;
  readonly producer: ProducerSettings;
  /** From --producer.config. */
  readonly security: ClientSecurity;
}

export type ParsedProduceArgs =
  | { readonly kind: 'options'; readonly options: ProduceOptions }
  | { readonly kind: 'help' }
  | { readonly kind: 'usage-error'; readonly message: string };

export function parseProduceArgs(args: readonly string[]): ParsedProduceArgs {
  const usageError = (message: string): ParsedProduceArgs => ({ kind: 'usage-error', message });
  const flags = readConsoleFlags(args, {
    values: new Set([
      '--bootstrap-server',
      '--topic',
      '--file',
      '--partition',
      '--producer.config',
      '--command-config',
    ]),
    switches: new Set(['--sync']),
    repeated: new Set(['--property', '--producer-property']),
  });
  if (flags === 'help') return { kind: 'help' };
  if ('usageError' in flags) return usageError(flags.usageError);
  const topic = flags.values.get('--topic');
  if (topic === undefined) return usageError('--topic is required');
  const properties = keyValues('--property', flags.repeated.get('--property'));
  if (typeof properties === 'string') return usageError(properties);
  const lineReader = parseLineReaderProperties(properties);
  if (typeof lineReader === 'string') return usageError(lineReader);
  const producerProperties = keyValues('--producer-property', flags.repeated.get('--producer-property'));
  if (typeof producerProperties === 'string') return usageError(producerProperties);
  const config = readToolConfig(flags.values, '--producer.config', producerPropertyNames);
  if (typeof config === 'string') return usageError(config);
  // As kafka-console-producer.sh: --producer-property wins over the file.
  const producer = parseProducerProperties(
    '--producer-property',
    new Map([...config.others, ...producerProperties]),
    consoleProducerDefaults,
  );
  if (typeof producer === 'string') return usageError(producer);
  const bootstrapText = flags.values.get('--bootstrap-server') ?? producer.bootstrapServers;
  if (bootstrapText === undefined) return usageError('--bootstrap-server is required');
  const bootstrap = parseBootstrap(bootstrapText);
  if (typeof bootstrap === 'string') return usageError(bootstrap);
  const partitionText = flags.values.get('--partition');
  const partition = partitionText === undefined ? undefined : integerIn(partitionText, 0, 2_147_483_647);
  if (partition === null) return usageError(`--partition must be a partition number, got '${partitionText}'`);
  return {
    kind: 'options',
    options: {
      bootstrap,
      topic,
      file: flags.values.get('--file'),
      partition,
      sync: flags.switches.has('--sync'),
      lineReader,
      producer,
      security: config.security,
    },
  };
}

/** `host:port[,host:port...]` as the client takes it, or the message of a usage error. */
export function parseBootstrap(text: string): string[] | string {
  const addresses = text.split(',');
  if (!addresses.every((address) => /^[^:\s]+:\d{1,5}$/.test(address))) {
    return `--bootstrap-server: expected host:port[,host:port...], got '${text}'`;
  }
  return addresses;
}

/** Where the lines come from, and how a run is interrupted; the CLI passes stdin and SIGINT. */
export interface ConsoleInput {
  readonly stdin: AsyncIterable<Buffer | string>;
  /** Resolves when the user interrupts (SIGINT): stop reading, flush, exit. */
  readonly interrupted: Promise<void>;
}

export async function runProduce(
  args: readonly string[],
  out: TextOutput,
  err: TextOutput,
  input: ConsoleInput,
): Promise<number> {
  const parsed = runOrUsageExit('produce', produceUsage, parseProduceArgs(args), out, err);
  if (typeof parsed === 'number') return parsed;
  const options = parsed.options;
  const kafka = new Kafka(
    kafkaConfigFor(options.bootstrap, options.producer, 'console-producer', options.security),
  );
  const producer = kafka.producer(options.producer.producer);
  try {
    await producer.connect();
  } catch (error) {
    err.write(`Error: cannot connect to ${options.bootstrap.join(',')}: ${(error as Error).message}\n`);
    return 1;
  }
  let failed = 0;
  const unanswered = new SendWindow(pendingSendsMax);
  try {
    const source = options.file === undefined ? input.stdin : createReadStream(options.file);
    const lineBytesMax = options.producer.producer.maxRequestSize ?? 1_048_576;
    let lineNumber = 0;
    for await (const line of readLines(source, lineBytesMax, input.interrupted)) {
      lineNumber++;
      const message = toMessage(parseLine(line, lineNumber, options.lineReader), options.partition);
      const sent = send(producer, options, message).then(
        () => undefined,
        (error: unknown) => {
          failed++;
          err.write(`${sendErrorLine(options.topic, message, error)}\n`);
        },
      );
      if (options.sync) {
        await sent;
        if (failed > 0) break;
        continue;
      }
      await unanswered.add(sent);
    }
  } catch (error) {
    if (
      !(error instanceof LineParseError) &&
      !(error instanceof LineTooLongError) &&
      (error as NodeJS.ErrnoException).code === undefined
    ) {
      throw error;
    }
    err.write(`Error: ${(error as Error).message}\n`);
    failed++;
  } finally {
    // The records read before the end, an error or SIGINT are sent now, lingering or not, and
    // answered before the producer goes.
    await producer.flush().catch(() => undefined);
    await unanswered.drain();
    await producer.disconnect().catch((error: unknown) => {
      failed++;
      err.write(`Error: ${(error as Error).message}\n`);
    });
  }
  return failed > 0 ? 1 : 0;
}

function toMessage(record: ReturnType<typeof parseLine>, partition: number | undefined): Message {
  const headers: Record<string, (Buffer | string)[]> = {};
  for (const header of record.headers) {
    // kafkajs's header type has no null, but the client encodes a null value as null (length -1),
    // which is what null.marker asks for.
    const values = headers[header.key] ?? [];
    values.push(header.value as string);
    headers[header.key] = values;
  }
  return {
    key: record.key,
    value: record.value,
    headers,
    ...(partition === undefined ? {} : { partition }),
  };
}

function send(producer: Producer, options: ProduceOptions, message: Message): Promise<unknown> {
  return producer.send({ topic: options.topic, acks: options.producer.acks, messages: [message] });
}

/** Kafka's ErrorLoggingCallback line. */
export function sendErrorLine(topic: string, message: Message, error: unknown): string {
  const size = (part: Buffer | string | null | undefined) =>
    part === null || part === undefined ? 'null' : `${Buffer.byteLength(part)} bytes`;
  return `Error when sending message to topic ${topic} with key: ${size(message.key)}, value: ${size(message.value)} with error: ${(error as Error).message}`;
}

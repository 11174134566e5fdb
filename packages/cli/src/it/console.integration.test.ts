// `gregor produce`, `gregor consume` and `gregor perf-test` as processes (packages/cli/dist/main.js,
// so `npm run build` must have run) against three Gregor nodes, each a process of its own
// (replication factor 3), each tool checked with an independent client: what `gregor produce` wrote
// is read back with kcat (librdkafka) and kafkajs, keys and headers included; what kafkajs wrote is printed by `gregor consume`; a group's offsets
// committed by `gregor consume` are read with kafkajs's admin.

import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { waitFor } from '@gregor/ground/testing';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runProduce } from '../console-producer.js';
import { BrokerProcesses, cliPath } from '../testing/broker-processes.js';

let cluster: BrokerProcesses;
let kafka: Kafka;
let bootstrap: string;
let dir: string;

beforeAll(async () => {
  cluster = await BrokerProcesses.start(3, {
    'group.initial.rebalance.delay.ms': '0',
    'default.replication.factor': '3',
    'offsets.topic.replication.factor': '3',
    'offsets.topic.num.partitions': '3',
    'min.insync.replicas': '2',
    'transaction.state.log.num.partitions': '3',
    'transaction.state.log.replication.factor': '3',
  });
  bootstrap = cluster.bootstrapServers.join(',');
  kafka = new Kafka({
    clientId: 'cli-console',
    brokers: cluster.bootstrapServers,
    logLevel: logLevel.NOTHING,
  });
  dir = mkdtempSync(join(tmpdir(), 'gregor-cli-console-'));
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    topics: [
      { topic: 'typed', numPartitions: 1 },
      { topic: 'spread', numPartitions: 3 },
      { topic: 'from-kafkajs', numPartitions: 2 },
      { topic: 'perf', numPartitions: 2 },
      { topic: 'interrupted', numPartitions: 1 },
      { topic: 'transactional', numPartitions: 1 },
    ],
  });
  await admin.disconnect();
}, 60_000);

afterAll(async () => {
  await cluster?.stop();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

interface Run {
  readonly code: number | null;
  readonly out: string;
  readonly err: string;
}

/** `gregor <args>` as a process, `stdin` written to it and closed. */
function gregor(args: readonly string[], stdin = ''): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const child = execFile('node', [cliPath, ...args], { maxBuffer: 64 * 1024 * 1024 }, (error, out, err) => {
      if (error !== null && typeof error.code !== 'number') reject(error);
      else resolvePromise({ code: error === null ? 0 : (error.code as number), out, err });
    });
    child.stdin!.end(stdin);
  });
}

/** The waits below: 20 s, a probe every 20 ms (ground's default). */
const waits = { timeoutMs: 20_000 };

function kcat(args: readonly string[]): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    execFile('kcat', ['-b', bootstrap, ...args], (error, out, err) => {
      if (error) reject(new Error(`kcat ${args.join(' ')}: ${error.message}\n${err}`));
      else resolvePromise(out);
    });
  });
}

describe('gregor produce', () => {
  it('sends one record per line with keys and headers as parse.key/parse.headers read them; kcat reads them back', async () => {
    const input =
      'h1:a,h2:b\tk1\tfirst value\nh1:c\tk2\tsecond\twith a tab\nh3:\tk3\tempty header value, CRLF\r\n';
    const run = await gregor(
      [
        'produce',
        '--bootstrap-server',
        bootstrap,
        '--topic',
        'typed',
        '--property',
        'parse.key=true',
        '--property',
        'parse.headers=true',
        '--producer-property',
        'linger.ms=5',
      ],
      input,
    );
    expect(run).toEqual({ code: 0, out: '', err: '' });
    const read = await kcat(['-C', '-t', 'typed', '-o', 'beginning', '-e', '-q', '-f', '%o|%k|%s|%h\n']);
    expect(read).toBe(
      '0|k1|first value|h1=a,h2=b\n1|k2|second\twith a tab|h1=c\n2|k3|empty header value, CRLF|h3=\n',
    );
  });

  it('sends every record to --partition, with --sync and a file, and kafkajs sees the same keys', async () => {
    const file = join(dir, 'records.txt');
    writeFileSync(file, 'a=1\nb=2\nc=3');
    const run = await gregor([
      'produce',
      '--bootstrap-server',
      bootstrap,
      '--topic',
      'spread',
      '--file',
      file,
      '--partition',
      '2',
      '--sync',
      '--property',
      'parse.key=true',
      '--property',
      'key.separator==',
      '--producer-property',
      'acks=1',
    ]);
    expect(run).toEqual({ code: 0, out: '', err: '' });
    const admin = kafka.admin();
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets('spread');
    await admin.disconnect();
    expect(offsets.map(({ partition, high }) => [partition, high]).sort()).toEqual([
      [0, '0'],
      [1, '0'],
      [2, '3'],
    ]);
    const seen: string[] = [];
    const consumer = kafka.consumer({ groupId: 'check-spread', maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topic: 'spread', fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        seen.push(`${partition}:${message.key}=${message.value}`);
      },
    });
    await waitFor('kafkajs to read 3 records', () => seen.length >= 3, waits);
    await consumer.disconnect();
    expect(seen).toEqual(['2:a=1', '2:b=2', '2:c=3']);
  });

  it('flushes what it read when interrupted (SIGINT), though linger.ms has not passed', async () => {
    const stdin = new Readable({ read() {} });
    stdin.push('k\tbuffered until the interrupt\n');
    let interrupt: () => void = () => undefined;
    const interrupted = new Promise<void>((resolveInterrupt) => {
      interrupt = resolveInterrupt;
    });
    const err: string[] = [];
    const run = runProduce(
      [
        '--bootstrap-server',
        bootstrap,
        '--topic',
        'interrupted',
        '--property',
        'parse.key=true',
        '--producer-property',
        'linger.ms=600000',
      ],
      { write: () => undefined },
      { write: (text: string) => err.push(text) },
      { stdin, interrupted },
    );
    // The line has been taken from stdin (and handed to the producer, which lingers on it).
    await waitFor(
      'the line to be read',
      () => stdin.readableLength === 0 && stdin.readableFlowing !== null,
      waits,
    );
    interrupt();
    expect(await run).toBe(0);
    expect(err.join('')).toBe('');
    expect(await kcat(['-C', '-t', 'interrupted', '-o', 'beginning', '-e', '-q', '-f', '%k|%s\n'])).toBe(
      'k|buffered until the interrupt\n',
    );
  });

  it('fails with the line that has no key separator, and with a partition the topic does not have', async () => {
    const noSeparator = await gregor(
      ['produce', '--bootstrap-server', bootstrap, '--topic', 'typed', '--property', 'parse.key=true'],
      'no separator here\n',
    );
    expect(noSeparator.code).toBe(1);
    expect(noSeparator.err).toContain("No key separator found on line number 1: 'no separator here'");
    const badPartition = await gregor(
      ['produce', '--bootstrap-server', bootstrap, '--topic', 'typed', '--partition', '7', '--sync'],
      'x\n',
    );
    expect(badPartition.code).toBe(1);
    expect(badPartition.err).toMatch(
      /^Error when sending message to topic typed with key: null, value: 1 bytes with error: /,
    );
  });
});

describe('gregor consume', () => {
  const printAll = [
    '--property',
    'print.key=true',
    '--property',
    'print.offset=true',
    '--property',
    'print.partition=true',
    '--property',
    'print.headers=true',
  ];

  beforeAll(async () => {
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await producer.send({
      topic: 'from-kafkajs',
      messages: [
        { key: 'k0', value: 'v0', partition: 0, headers: { trace: 't0', tenant: 'acme' } },
        { key: null, value: 'v1', partition: 0 },
        { key: 'k2', value: 'v2', partition: 0, headers: { trace: 't2' } },
        { key: 'k3', value: 'v3', partition: 0 },
        { key: 'k4', value: 'v4', partition: 0 },
      ],
    });
    await producer.disconnect();
  });

  it('prints what kafkajs wrote with keys, headers, offsets; --max-messages stops; --group commits what was printed', async () => {
    const base = [
      'consume',
      '--bootstrap-server',
      bootstrap,
      '--topic',
      'from-kafkajs',
      '--group',
      'printer',
    ];
    const first = await gregor([...base, '--from-beginning', '--max-messages', '3', ...printAll]);
    expect(first).toEqual({
      code: 0,
      out:
        'Partition:0\tOffset:0\ttrace:t0,tenant:acme\tk0\tv0\n' +
        'Partition:0\tOffset:1\tNO_HEADERS\tnull\tv1\n' +
        'Partition:0\tOffset:2\ttrace:t2\tk2\tv2\n',
      err: 'Processed a total of 3 messages\n',
    });
    const admin = kafka.admin();
    await admin.connect();
    const committed = await admin.fetchOffsets({ groupId: 'printer', topics: ['from-kafkajs'] });
    await admin.disconnect();
    expect(committed[0]!.partitions.sort((a, b) => a.partition - b.partition).map((p) => p.offset)).toEqual([
      '3',
      // Partition 1 is empty: its position, 0, is committed too, as the Java consumer commits.
      '0',
    ]);
    // The group goes on from its committed offset.
    const second = await gregor([...base, '--max-messages', '2', '--property', 'print.offset=true']);
    expect(second).toEqual({
      code: 0,
      out: 'Offset:3\tv3\nOffset:4\tv4\n',
      err: 'Processed a total of 2 messages\n',
    });
  });

  it('reads one partition from --offset without a group, as JSON', async () => {
    const run = await gregor([
      'consume',
      '--bootstrap-server',
      bootstrap,
      '--topic',
      'from-kafkajs',
      '--partition',
      '0',
      '--offset',
      '2',
      '--max-messages',
      '1',
      '--json',
    ]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.out)).toMatchObject({
      topic: 'from-kafkajs',
      partition: 0,
      offset: 2,
      timestampType: 'CreateTime',
      key: 'k2',
      value: 'v2',
      headers: [{ key: 'trace', value: 't2' }],
    });
    expect(run.err).toBe('Processed a total of 1 messages\n');
  });

  it('stops after --timeout-ms without a record, and names an unknown partition', async () => {
    const idle = await gregor([
      'consume',
      '--bootstrap-server',
      bootstrap,
      '--topic',
      'from-kafkajs',
      '--partition',
      '1',
      '--timeout-ms',
      '500',
    ]);
    expect(idle).toEqual({
      code: 0,
      out: '',
      err:
        'Error processing message, terminating consumer process: no message for 500 ms (--timeout-ms)\n' +
        'Processed a total of 0 messages\n',
    });
    const unknown = await gregor([
      'consume',
      '--bootstrap-server',
      bootstrap,
      '--topic',
      'from-kafkajs',
      '--partition',
      '9',
    ]);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain('topic from-kafkajs has no partition 9 (it has 2)');
  });

  it('leaves out an aborted transaction with --isolation-level read_committed, and prints it by default', async () => {
    const producer = kafka.producer({
      transactionalId: 'console-txn',
      idempotent: true,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    const aborted = await producer.transaction();
    await aborted.send({ topic: 'transactional', messages: [{ value: 'aborted', partition: 0 }] });
    await aborted.abort();
    const committed = await producer.transaction();
    await committed.send({ topic: 'transactional', messages: [{ value: 'committed', partition: 0 }] });
    await committed.commit();
    await producer.disconnect();
    const read = (isolation: string, maxMessages: string) =>
      gregor([
        'consume',
        '--bootstrap-server',
        bootstrap,
        '--topic',
        'transactional',
        '--partition',
        '0',
        '--offset',
        'earliest',
        '--isolation-level',
        isolation,
        '--max-messages',
        maxMessages,
        '--property',
        'print.offset=true',
      ]);
    // Offset 1 is the abort marker, 3 the commit marker: control records are never printed.
    expect((await read('read_committed', '1')).out).toBe('Offset:2\tcommitted\n');
    expect((await read('read_uncommitted', '2')).out).toBe('Offset:0\taborted\nOffset:2\tcommitted\n');
  });

  it('exits cleanly on SIGINT with the total on stderr', async () => {
    const child = spawn('node', [
      cliPath,
      'consume',
      '--bootstrap-server',
      bootstrap,
      '--topic',
      'from-kafkajs',
      '--from-beginning',
    ]);
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
    const exited = new Promise<number | null>((resolveExit) =>
      child.on('close', (code) => resolveExit(code)),
    );
    await waitFor('the five records to be printed', () => out.split('\n').length > 5, waits);
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(out).toBe('v0\nv1\nv2\nv3\nv4\n');
    expect(err).toBe('Processed a total of 5 messages\n');
  });
});

describe('gregor perf-test', () => {
  it('producer writes exactly --num-records records and prints the percentiles line; consumer reads them', async () => {
    const produced = await gregor([
      'perf-test',
      'producer',
      '--topic',
      'perf',
      '--num-records',
      '1500',
      '--record-size',
      '64',
      '--throughput',
      '-1',
      '--producer-props',
      `bootstrap.servers=${bootstrap}`,
      'acks=all',
      'batch.size=4096',
    ]);
    expect(produced.code).toBe(0);
    expect(produced.err).toBe('');
    const lines = produced.out.trimEnd().split('\n');
    expect(lines.at(-1)).toMatch(
      /^1500 records sent, \d+\.\d{6} records\/sec \(\d+\.\d{2} MB\/sec\), \d+\.\d{2} ms avg latency, \d+\.\d{2} ms max latency, \d+ ms 50th, \d+ ms 95th, \d+ ms 99th, \d+ ms 99\.9th\.$/,
    );
    for (const line of lines.slice(0, -1)) {
      expect(line).toMatch(
        /^\d+ records sent, \d+\.\d records\/sec \(\d+\.\d{2} MB\/sec\), \d+\.\d ms avg latency, \d+\.\d ms max latency\.$/,
      );
    }
    const admin = kafka.admin();
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets('perf');
    await admin.disconnect();
    expect(offsets.reduce((sum, { high }) => sum + Number(high), 0)).toBe(1500);
    const read = await gregor([
      'perf-test',
      'consumer',
      '--bootstrap-server',
      bootstrap,
      '--topic',
      'perf',
      '--messages',
      '1500',
      '--group',
      'perf-reader',
    ]);
    expect(read.code).toBe(0);
    const [header, row] = read.out.trimEnd().split('\n');
    expect(header).toBe(
      'start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec',
    );
    const columns = row!.split(', ');
    expect(columns).toHaveLength(10);
    // 1500 records of 64 bytes and no key.
    expect(columns[2]).toBe(((1500 * 64) / 1024 / 1024).toFixed(4));
    expect(columns[4]).toBe('1500');
  });
});

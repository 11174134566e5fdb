#!/usr/bin/env node
// Gregor's own client against kafkajs 2.2.4, @platformatic/kafka 1.x and kcat (librdkafka, the
// native reference), in one run against the same three-node Gregor cluster (broker processes,
// replication factor 3, three partitions per topic). Prints figures, asserts nothing but that kcat
// stored every record it was given.
//
//   producer throughput  every Node client sends the same records the same way: sends of
//                        `recordsPerSend` records, `sendsInFlight` sends awaited together, no keys,
//                        no compression; 100-byte and 1 KiB values, acks=1 and acks=all (-1);
//                        records/s and MB/s of values, each cell on a fresh topic, timed from the
//                        first send to the last acknowledgement (connecting excluded); the topic's
//                        offsets are checked to hold exactly the records sent. 800,000 x 100 B and
//                        200,000 x 1 KiB per cell (4x the counts before 2026-12-07): a cell of
//                        under a second moved 3-5x from run to run, mostly with how much of the
//                        followers' copying (RF 3) fell inside it rather than after it (acks=1
//                        does not wait for them), so the cells are long enough for the followers'
//                        share of the 2 cores to show (client README, "The 1 KiB acks=1 swing"). Each client runs
//                        with its producer defaults (gregor: lingerMs 0, each send() at once as
//                        kafkajs's, since 2026-12-07 (5, Java's and librdkafka's, before), and
//                        batchSize 1,000,000 bytes, librdkafka's); gregor-java16k is gregor with Java's batch.size (16 KiB,
//                        gregor's default until session s9); gregor-tuned is gregor's send() set
//                        for this load (lingerMs 0, batchSize 256 KiB; since lingerMs 0 became the
//                        default it differs from gregor only in batch size)
//   kcat -P              the native reference for the same cells: kcat -P -l <file> (one record a
//                        line, random letters and digits, the same count and size) with librdkafka's
//                        own batching set like gregor-stream's (linger.ms=5, batch.size=256 KiB, no
//                        compression, its sticky partitioner for keyless records) and acks=1 / all;
//                        timed from spawning kcat to its exit, which comes after every record's
//                        delivery report, so process start, connecting and metadata count against
//                        it (the Node rows exclude connecting); the topic's offsets are checked to
//                        hold exactly the records sent. One row per librdkafka: Debian's kcat on its
//                        librdkafka 2.0.2, and the same kcat on librdkafka 2.15.1 when
//                        scripts/build-librdkafka.sh has built it into .cache/ (else skipped)
//   consumer throughput  each client reads one 1 KiB topic from the beginning in a new group;
//                        timed from its first record to its last (group joining excluded). kcat -C
//                        -e (assigned all partitions, no group; fetch.wait.max.ms=100 as the others'
//                        maxWaitTime) prints each record's offset; its stdout is block-buffered, so
//                        its rate is the records between its first chunk of output and its last
//                        but one over the time between them (the last comes at exit, after the
//                        wait for the end of every partition). gregor reads with run({ eachBatch }),
//                        gregor-each-message and kafkajs-each-message with run({ eachMessage }),
//                        kafkajs with eachBatch, platformatic with its stream; with ROUNDS the
//                        consumer clients alternate too (each in a new group) and tables take medians
//   produce latency      gregor, kafkajs and platformatic with their producer defaults (each
//                        sends each send() at once; gregor lingered 5 ms, as Java's client does,
//                        until 2026-12-07), one send() of one 1 KiB record per record, acks=all, open
//                        loop at a fixed rate (a slow acknowledgement does not delay the next send;
//                        sends that fall behind the schedule go out at once): after a warm-up,
//                        `latencySeconds` at each of `latencyRates`; p50 / p99 / max of the time
//                        from calling send() to its promise resolving, in ms, and the achieved rate
//                        (records over the time from the first scheduled send to the last
//                        acknowledgement); "kept up" when that is at least 95% of the target
//   gregor-stream        our streaming API: the same records piped through
//                        pipeline(Readable.from(records), producer.stream({ topic, acks })), and
//                        read with `for await (const batch of consumer.batches())`; no latency cell
//                        (a stream has no per-record send)
//
// The ratios printed last are gregor's (and gregor-tuned's and gregor-stream's) producer
// throughput over kafkajs's, platformatic's and kcat's in each cell; the aim (issue #16) is at least
// 3x kafkajs and above 1x platformatic in every producer cell. Then the same figures as markdown tables for the README.
//
// Usage: npm run bench:client   (builds first; about 5-12 minutes on a 2-core machine)
//        node scripts/bench-client.mjs [--quick]   (after npm run build; --quick: smaller cells and
//                                                   3 s latency runs, about 2-3 minutes)
//        CLIENTS=gregor,kafkajs,kcat node scripts/bench-client.mjs   (only those clients; the names
//        are gregor, gregor-java16k, gregor-tuned, gregor-stream, gregor-each-message, kafkajs,
//        kafkajs-each-message, platformatic, kcat, kcat-current; the -each-message ones only consume)
//        CONSUME_RECORDS=n: the consumer cell's record count (default 50,000; 10,000 with --quick)
//        CELLS=1024:1 ROUNDS=10 PARTS=produce WINDOWS=1 SCALE=n GREGOR_CLIENT=<index.js>: one
//        cell, n rounds (tables take medians), some parts, what each cell cost, n x the records,
//        another client build for the gregor rows (see the constants below)
// Run it on a quiet machine: two shared cores under other work move cells by 2-3x.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Kafka as KafkaJs, logLevel as kafkajsLogLevel } from 'kafkajs';
import { BenchCluster } from './lib/bench-cluster.mjs';
import { waitForCluster } from './lib/kafka-probe.mjs';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
// GREGOR_CLIENT=<a client build's index.js> runs the gregor rows on that build (an old dist copied
// under .cache/, for before/after runs against the same brokers' code); default this tree's.
const { Kafka, logLevel } = await import(
  process.env.GREGOR_CLIENT === undefined
    ? '../packages/client/dist/index.js'
    : pathToFileURL(process.env.GREGOR_CLIENT).href
);
const quick = process.argv.includes('--quick');
/** CELLS=1024:1,100:-1 runs only those producer cells (value bytes:acks); default all four. */
const cellFilter = process.env.CELLS?.split(',').map((cell) => cell.trim());
/** ROUNDS=n runs each producer cell n times, each on a fresh topic (the spread of one cell). */
const rounds = Number(process.env.ROUNDS ?? 1);
/** PARTS=produce,consume,latency (the default: all) picks the parts that run. */
const parts = new Set((process.env.PARTS ?? 'produce,consume,latency').split(','));
/** WINDOWS=1 prints, per Node producer cell, the spread of its windows' times. */
const windowStats = process.env.WINDOWS === '1';
/** SCALE=n multiplies the producer cells' record counts (to try how long a cell must be). */
const scale = Number(process.env.SCALE ?? 1);
const recordsBySize = Object.fromEntries(
  Object.entries(quick ? { 100: 30_000, 1024: 10_000 } : { 100: 800_000, 1024: 200_000 }).map(
    ([size, count]) => [size, Math.round(count * scale)],
  ),
);
/** CONSUME_RECORDS=n: the consumer cell's record count (a 50,000-record cell lasts well under a second). */
const consumeRecords = Number(process.env.CONSUME_RECORDS ?? (quick ? 10_000 : 50_000));
const recordsPerSend = 100;
const sendsInFlight = 20;
const partitions = 3;
/** Target rates of the latency cells, records/s. */
const latencyRates = [1_000, 5_000];
const latencySeconds = quick ? 3 : 10;
/** Sends at the target rate before the measured ones: connections, metadata, JIT. */
const latencyWarmUpSeconds = quick ? 0.5 : 1;
const latencyValueBytes = 1024;
/** "kept up": the achieved rate is at least this share of the target. */
const keptUpShare = 0.95;
/** How long a latency cell may wait for its last acknowledgements after its last send. */
const latencyDrainMsMax = 120_000;
/** A kcat run that takes longer than this is killed and its cell reported as failed. */
const kcatTimeoutMs = 300_000;
/** How long the high watermark may take to reach the records kcat was acknowledged. */
const storedWaitMsMax = 30_000;
const storedPollMs = 100;
/** kcat's producer batching, set as gregor-stream's (lingerMs 5, batchSize 256 KiB). */
const kcatLingerMs = 5;
const kcatBatchBytes = 256 * 1024;
/** The librdkafka scripts/build-librdkafka.sh builds (packages/broker/src/testing/current-librdkafka.ts). */
const currentLibrdkafkaVersion = '2.15.1';

function packageVersion(name) {
  try {
    return JSON.parse(readFileSync(join(repoRoot, 'node_modules', name, 'package.json'), 'utf8')).version;
  } catch {
    return '?';
  }
}

let platformatic;
try {
  platformatic = await import('@platformatic/kafka');
} catch (error) {
  console.log(`@platformatic/kafka not loadable (${error.message}): its rows are skipped`);
}

/** The librdkafka version kcat reports under `env`, or undefined when kcat does not run. */
function kcatLibrdkafkaVersion(env) {
  return new Promise((done) => {
    const child = spawn('kcat', ['-V'], { env, stdio: ['ignore', 'pipe', 'ignore'] });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.on('error', () => done(undefined));
    child.on('close', () => done(/librdkafka (\d+\.\d+\.\d+)/.exec(output)?.[1]));
  });
}

/**
 * The kcat builds to run, by client name: Debian's kcat on its own librdkafka, and the same kcat on
 * the current librdkafka through LD_LIBRARY_PATH (librdkafka.so.1 is ABI-stable) when it is built.
 */
async function findKcats() {
  const kcats = {};
  const debianVersion = await kcatLibrdkafkaVersion(process.env);
  if (debianVersion === undefined) console.log('kcat not found: its rows are skipped');
  else kcats.kcat = { env: process.env, label: `kcat (rdkafka ${debianVersion})` };
  const currentDir = join(
    process.env.LIBRDKAFKA_CACHE_DIR ?? join(repoRoot, '.cache', 'librdkafka'),
    currentLibrdkafkaVersion,
  );
  const libDir = join(currentDir, 'lib');
  if (
    debianVersion !== undefined &&
    existsSync(join(libDir, 'librdkafka.so.1')) &&
    existsSync(join(currentDir, '.complete'))
  ) {
    const env = { ...process.env, LD_LIBRARY_PATH: libDir };
    const version = await kcatLibrdkafkaVersion(env);
    if (version === currentLibrdkafkaVersion)
      kcats['kcat-current'] = { env, label: `kcat (rdkafka ${version})` };
    else console.log(`kcat on ${libDir} reports librdkafka ${version}: its rows are skipped`);
  } else if (debianVersion !== undefined) {
    console.log(
      `librdkafka ${currentLibrdkafkaVersion} is not built (bash scripts/build-librdkafka.sh): kcat-current rows are skipped`,
    );
  }
  return kcats;
}

const kcats = await findKcats();

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

function values(count, bytes) {
  // A pool of random values, reused: the clients pay for sending, not for making records.
  const pool = Array.from({ length: 1_000 }, () => randomBytes(bytes));
  return Array.from({ length: count }, (_, index) => pool[index % pool.length]);
}

/** kcat -l's input: `count` lines of `bytes` random letters and digits (kcat splits on newlines). */
function recordFile(dir, count, bytes) {
  const alphabet = Buffer.from('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789');
  const pool = Array.from({ length: 1_000 }, () => {
    const line = randomBytes(bytes + 1);
    for (let index = 0; index < bytes; index++) line[index] = alphabet[line[index] % alphabet.length];
    line[bytes] = 0x0a;
    return line;
  });
  const path = join(dir, `records-${count}x${bytes}.txt`);
  writeFileSync(path, Buffer.concat(Array.from({ length: count }, (_, index) => pool[index % pool.length])));
  return path;
}

/**
 * Runs kcat to its exit; `onStdout(chunk)` sees its output. Rejects with its last stderr lines when
 * it exits non-zero or outlives `kcatTimeoutMs`.
 */
function runKcat(args, env, onStdout = () => {}) {
  return new Promise((done, fail) => {
    const child = spawn('kcat', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stdout.on('data', onStdout);
    child.stderr.on('data', (chunk) => {
      stderr = (stderr + chunk).slice(-2_000);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), kcatTimeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      fail(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) done();
      else
        fail(
          new Error(`kcat exited with ${signal ?? code}: ${stderr.trim().split('\n').slice(-3).join(' | ')}`),
        );
    });
  });
}

/**
 * Throws unless `topic` comes to hold exactly `count` records: a figure for lost records means
 * nothing. The high watermark trails an acks=1 producer's acknowledgements until the followers have
 * the records, so it is asked again until it reaches `count` or `storedWaitMsMax` passes.
 */
async function checkStored(admin, topic, count) {
  const deadline = performance.now() + storedWaitMsMax;
  for (;;) {
    const offsets = await admin.fetchTopicOffsets(topic);
    const stored = offsets.reduce((sum, { high, low }) => sum + Number(high) - Number(low), 0);
    if (stored === count) return;
    if (stored > count || performance.now() > deadline) {
      throw new Error(`${topic} holds ${stored} records, ${count} were sent`);
    }
    await sleep(storedPollMs);
  }
}

async function kcatProduce(kcat, bootstrap, topic, file, acks) {
  const started = performance.now();
  await runKcat(
    [
      '-b',
      bootstrap.join(','),
      '-P',
      '-t',
      topic,
      '-l',
      file,
      '-X',
      `acks=${acks === -1 ? 'all' : acks}`,
      '-X',
      `linger.ms=${kcatLingerMs}`,
      '-X',
      `batch.size=${kcatBatchBytes}`,
      '-X',
      'compression.codec=none',
    ],
    kcat.env,
  );
  return (performance.now() - started) / 1000;
}

async function kcatConsume(kcat, bootstrap, topic, count) {
  /** [performance.now(), records read so far] at each chunk of kcat's output. */
  const chunks = [];
  let seen = 0;
  await runKcat(
    [
      '-b',
      bootstrap.join(','),
      '-C',
      '-t',
      topic,
      '-o',
      'beginning',
      '-e',
      '-q',
      '-f',
      '%o\n',
      '-X',
      'fetch.wait.max.ms=100',
    ],
    kcat.env,
    (chunk) => {
      for (const byte of chunk) if (byte === 0x0a) seen++;
      chunks.push([performance.now(), seen]);
    },
  );
  if (seen !== count) throw new Error(`kcat read ${seen} of ${count} records from ${topic}`);
  // kcat's stdout is block-buffered: a chunk arrives when its buffer fills, as the last record in
  // it is read, except the last chunk, which comes at exit, after kcat has waited for the end of
  // every partition. So the rate is over the records of the chunks between the first and the last.
  if (chunks.length < 3) throw new Error(`kcat's output came in ${chunks.length} chunks: too few to time`);
  const [firstAt, firstSeen] = chunks[0];
  const [lastAt, lastSeen] = chunks[chunks.length - 2];
  return { seconds: (lastAt - firstAt) / 1000, records: lastSeen - firstSeen };
}

/** Each window's time in ms, of the last timedSends() (WINDOWS=1). */
let windowTimesMs = [];

async function timedSends(records, sendOne) {
  windowTimesMs = [];
  const started = performance.now();
  for (let start = 0; start < records.length; start += recordsPerSend * sendsInFlight) {
    const windowStarted = performance.now();
    const window = [];
    for (let send = 0; send < sendsInFlight; send++) {
      const from = start + send * recordsPerSend;
      if (from >= records.length) break;
      window.push(sendOne(records.slice(from, from + recordsPerSend)));
    }
    await Promise.all(window);
    windowTimesMs.push(performance.now() - windowStarted);
  }
  return (performance.now() - started) / 1000;
}

/** CPU ms of a process so far (utime + stime of /proc/<pid>/stat), or NaN. */
function processCpuMs(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10; // clock ticks of 10 ms
  } catch {
    return Number.NaN;
  }
}

/** The machine's iowait and idle so far, ms (/proc/stat's cpu line, ticks of 10 ms). */
function machineIdleMs() {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
  return { idle: Number(fields[4]) * 10, iowait: Number(fields[5]) * 10 };
}

/**
 * WINDOWS=1: what a cell cost beyond its wall time: CPU ms of each broker and of this process,
 * the machine's idle and iowait ms, and the brokers' GC pauses when they run with
 * BENCH_NODE_ARGS=--trace-gc (its lines in their output).
 */
function cellCosts(cluster) {
  const nodes = cluster.nodes.map((node) => ({
    node,
    cpuMs: processCpuMs(node.child?.pid),
    outputAt: node.output.length,
  }));
  const ownCpu = process.cpuUsage();
  const machine = machineIdleMs();
  return () => {
    const own = process.cpuUsage(ownCpu);
    const now = machineIdleMs();
    const brokers = nodes.map(({ node, cpuMs, outputAt }) => {
      const trace = node.output.slice(Math.min(outputAt, node.output.length)).join('');
      let gcMs = 0;
      let marks = 0;
      for (const match of trace.matchAll(
        /(Scavenge|Mark-Compact|Minor Mark-Compact)[^,]*, ([\d.]+) \/ [\d.]+ ms/g,
      )) {
        gcMs += Number(match[2]);
        if (match[1] === 'Mark-Compact') marks++;
      }
      return `n${node.id} cpu ${processCpuMs(node.child?.pid) - cpuMs} gc ${gcMs.toFixed(0)}${marks > 0 ? ` (${marks} mark-compact)` : ''}`;
    });
    return (
      `    ms: ${brokers.join(', ')}; bench cpu ${((own.user + own.system) / 1000).toFixed(0)}; ` +
      `machine idle ${now.idle - machine.idle} iowait ${now.iowait - machine.iowait}`
    );
  };
}

/** The spread of the last cell's window times: min / p50 / p90 / max and the slow ones' share. */
function describeWindows() {
  const sorted = [...windowTimesMs].sort((a, b) => a - b);
  if (sorted.length === 0) return '';
  const total = sorted.reduce((sum, ms) => sum + ms, 0);
  const p50 = percentile(sorted, 0.5);
  const slow = sorted.filter((ms) => ms > 3 * p50);
  const slowMs = slow.reduce((sum, ms) => sum + ms, 0);
  return (
    `    ${sorted.length} windows, ms: min ${sorted[0].toFixed(1)} p50 ${p50.toFixed(1)} ` +
    `p90 ${percentile(sorted, 0.9).toFixed(1)} max ${sorted[sorted.length - 1].toFixed(1)}; ` +
    `${slow.length} over 3x p50 took ${slowMs.toFixed(0)} of ${total.toFixed(0)} ms; ` +
    `in order: ${windowTimesMs.map((ms) => ms.toFixed(0)).join(' ')}`
  );
}

const producers = {
  async gregor(bootstrap, topic, records, acks) {
    // The producer's defaults, as kafkajs and platformatic run with theirs: lingerMs 0 (each send()
    // at once, as kafkajs's; 5 until 2026-12-07) and librdkafka's batchSize of 1,000,000 bytes.
    const producer = new Kafka({ brokers: bootstrap, logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
    const seconds = await timedSends(records, (chunk) =>
      producer.send({ topic, acks, messages: chunk.map((value) => ({ value })) }),
    );
    await producer.disconnect();
    return seconds;
  },
  async 'gregor-java16k'(bootstrap, topic, records, acks) {
    // The defaults but Java's batch.size (16384), gregor's default until session s9: the figures
    // the default batchSize is chosen against.
    const kafka = new Kafka({ brokers: bootstrap, logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ batchSize: 16_384 });
    await producer.connect();
    const seconds = await timedSends(records, (chunk) =>
      producer.send({ topic, acks, messages: chunk.map((value) => ({ value })) }),
    );
    await producer.disconnect();
    return seconds;
  },
  async 'gregor-tuned'(bootstrap, topic, records, acks) {
    const kafka = new Kafka({ brokers: bootstrap, logLevel: logLevel.NOTHING });
    // Set for this load (kafkajs and platformatic have no such settings: every send() goes at
    // once): the windows are awaited whole, so lingering would only delay each window's last
    // batches, and a window's 2,000 records fill batches of 256 KiB.
    const producer = kafka.producer({ lingerMs: 0, batchSize: 256 * 1024 });
    await producer.connect();
    const seconds = await timedSends(records, (chunk) =>
      producer.send({ topic, acks, messages: chunk.map((value) => ({ value })) }),
    );
    await producer.disconnect();
    return seconds;
  },
  async 'gregor-stream'(bootstrap, topic, records, acks) {
    const kafka = new Kafka({ brokers: bootstrap, logLevel: logLevel.NOTHING });
    // No windows here: the stream is fed as fast as the buffer memory lets it, so batches fill up
    // while lingerMs 5 holds them (the default until 2026-12-07, kept here so that this row stays
    // what it was measured as and kcat's settings stay its: linger.ms=5, batch.size=256 KiB).
    const producer = kafka.producer({ lingerMs: 5, batchSize: 256 * 1024 });
    await producer.connect();
    const started = performance.now();
    await pipeline(Readable.from(records.map((value) => ({ value }))), producer.stream({ topic, acks }));
    const seconds = (performance.now() - started) / 1000;
    await producer.disconnect();
    return seconds;
  },
  async kafkajs(bootstrap, topic, records, acks) {
    const kafka = new KafkaJs({ brokers: bootstrap, logLevel: kafkajsLogLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    const seconds = await timedSends(records, (chunk) =>
      producer.send({ topic, acks, messages: chunk.map((value) => ({ value })) }),
    );
    await producer.disconnect();
    return seconds;
  },
  async platformatic(bootstrap, topic, records, acks) {
    const producer = new platformatic.Producer({
      clientId: 'bench',
      bootstrapBrokers: bootstrap,
      acks,
      serializers: { key: (v) => v, value: (v) => v, headerKey: (v) => v, headerValue: (v) => v },
    });
    const seconds = await timedSends(records, (chunk) =>
      producer.send({ acks, messages: chunk.map((value) => ({ topic, value })) }),
    );
    await producer.close();
    return seconds;
  },
};

/**
 * A kafkajs-shaped group consumer (gregor's or kafkajs's `kafka`) reading `count` records with
 * run({ eachBatch }) or run({ eachMessage }); seconds from its first record to its last.
 */
async function timeGroupConsumer(kafka, group, topic, count, handler) {
  const consumer = kafka.consumer({ groupId: `${group}-${Date.now()}`, maxWaitTimeInMs: 100 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const seconds = await new Promise((resolve) => {
    let seen = 0;
    let first = 0;
    const saw = (records) => {
      if (seen === 0) first = performance.now();
      seen += records;
      if (seen >= count) resolve((performance.now() - first) / 1000);
    };
    consumer.run(
      handler === 'eachBatch'
        ? { eachBatch: async ({ batch }) => saw(batch.messages.length) }
        : { eachMessage: async () => saw(1) },
    );
  });
  await consumer.disconnect();
  return seconds;
}

const gregorKafka = (bootstrap) => new Kafka({ brokers: bootstrap, logLevel: logLevel.NOTHING });
const kafkajsKafka = (bootstrap) => new KafkaJs({ brokers: bootstrap, logLevel: kafkajsLogLevel.NOTHING });

const consumers = {
  gregor: (bootstrap, topic, count) =>
    timeGroupConsumer(gregorKafka(bootstrap), 'bench-gregor', topic, count, 'eachBatch'),
  async 'gregor-stream'(bootstrap, topic, count) {
    const consumer = gregorKafka(bootstrap).consumer({
      groupId: `bench-gregor-stream-${Date.now()}`,
      maxWaitTimeInMs: 100,
    });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    let seen = 0;
    let first = 0;
    let seconds = 0;
    for await (const batch of consumer.batches()) {
      if (seen === 0) first = performance.now();
      seen += batch.messages.length;
      if (seen >= count) {
        seconds = (performance.now() - first) / 1000;
        break;
      }
    }
    await consumer.disconnect();
    return seconds;
  },
  'gregor-each-message': (bootstrap, topic, count) =>
    timeGroupConsumer(gregorKafka(bootstrap), 'bench-gregor-each', topic, count, 'eachMessage'),
  'kafkajs-each-message': (bootstrap, topic, count) =>
    timeGroupConsumer(kafkajsKafka(bootstrap), 'bench-kafkajs-each', topic, count, 'eachMessage'),
  kafkajs: (bootstrap, topic, count) =>
    timeGroupConsumer(kafkajsKafka(bootstrap), 'bench-kafkajs', topic, count, 'eachBatch'),
  async platformatic(bootstrap, topic, count) {
    const consumer = new platformatic.Consumer({
      groupId: `bench-platformatic-${Date.now()}`,
      clientId: 'bench',
      bootstrapBrokers: bootstrap,
      maxWaitTime: 100,
    });
    const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: true });
    let seen = 0;
    let first = 0;
    let seconds = 0;
    for await (const _message of stream) {
      if (seen === 0) first = performance.now();
      seen++;
      if (seen >= count) {
        seconds = (performance.now() - first) / 1000;
        break;
      }
    }
    await stream.close();
    await consumer.close(true);
    return seconds;
  },
};

/**
 * One send() per record, each client with its producer defaults and acks=all: what an application
 * that produces each record as it comes gets. `open` connects; `send(value)` resolves on the ack.
 */
const latencyProducers = {
  async gregor(bootstrap, topic) {
    const producer = new Kafka({ brokers: bootstrap, logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
    return {
      send: (value) => producer.send({ topic, acks: -1, messages: [{ value }] }),
      close: () => producer.disconnect(),
    };
  },
  async kafkajs(bootstrap, topic) {
    const kafka = new KafkaJs({ brokers: bootstrap, logLevel: kafkajsLogLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    return {
      send: (value) => producer.send({ topic, acks: -1, messages: [{ value }] }),
      close: () => producer.disconnect(),
    };
  },
  async platformatic(bootstrap, topic) {
    const producer = new platformatic.Producer({
      clientId: 'bench',
      bootstrapBrokers: bootstrap,
      acks: -1,
      serializers: { key: (v) => v, value: (v) => v, headerKey: (v) => v, headerValue: (v) => v },
    });
    return {
      send: (value) => producer.send({ acks: -1, messages: [{ topic, value }] }),
      close: () => producer.close(),
    };
  },
};

function percentile(sorted, fraction) {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))];
}

/**
 * Sends `seconds * rate` records on an open-loop schedule (record i is due at start + i / rate;
 * every due record is sent at once, so a send that is late does not push back the rest) and
 * resolves with each send's time to its acknowledgement, in ms, and when the last one came.
 */
async function fixedRateSends(producer, rate, seconds, pool) {
  const count = Math.round(rate * seconds);
  const intervalMs = 1000 / rate;
  const latenciesMs = [];
  const pending = [];
  let failures = 0;
  let lastAck = 0;
  const started = performance.now();
  let next = 0;
  while (next < count) {
    const due = Math.min(count, Math.floor((performance.now() - started) / intervalMs) + 1);
    for (; next < due; next++) {
      const sentAt = performance.now();
      pending.push(
        producer.send(pool[next % pool.length]).then(
          () => {
            lastAck = performance.now();
            latenciesMs.push(lastAck - sentAt);
          },
          () => {
            failures++;
          },
        ),
      );
    }
    if (next < count) await sleep(Math.max(0, started + next * intervalMs - performance.now()));
  }
  let timer;
  const drained = await Promise.race([
    Promise.all(pending).then(() => true),
    new Promise((done) => {
      timer = setTimeout(() => done(false), latencyDrainMsMax);
    }),
  ]);
  clearTimeout(timer);
  if (!drained)
    throw new Error(
      `${count - latenciesMs.length - failures} sends unanswered ${latencyDrainMsMax} ms after the last`,
    );
  if (failures > 0) throw new Error(`${failures} of ${count} sends failed`);
  return { latenciesMs, seconds: (lastAck - started) / 1000 };
}

async function latencyCell(client, bootstrap, topic, rate) {
  const producer = await latencyProducers[client](bootstrap, topic);
  try {
    const pool = values(1_000, latencyValueBytes);
    await fixedRateSends(producer, rate, latencyWarmUpSeconds, pool);
    const { latenciesMs, seconds } = await fixedRateSends(producer, rate, latencySeconds, pool);
    latenciesMs.sort((a, b) => a - b);
    return {
      achievedRate: latenciesMs.length / seconds,
      p50Ms: percentile(latenciesMs, 0.5),
      p99Ms: percentile(latenciesMs, 0.99),
      maxMs: latenciesMs[latenciesMs.length - 1],
    };
  } finally {
    await producer.close();
  }
}

/** The innermost cause of a client's failure: its protocol error where it has one. */
function describeError(error) {
  let inner = error;
  while (inner?.errors?.length > 0) inner = inner.errors[0];
  return `${error.message}${inner !== error ? ` (${inner.message})` : ''}`;
}

const nodeClients = [
  'gregor',
  'gregor-java16k',
  'gregor-tuned',
  'gregor-stream',
  'gregor-each-message',
  'kafkajs',
  'kafkajs-each-message',
  ...(platformatic ? ['platformatic'] : []),
];
const clients = (process.env.CLIENTS?.split(',') ?? [...nodeClients, 'kcat', 'kcat-current']).filter(
  (client) => nodeClients.includes(client) || kcats[client] !== undefined,
);
const latencyClients = clients.filter((client) => latencyProducers[client] !== undefined);

const label = (client) =>
  kcats[client]?.label ??
  {
    kafkajs: `kafkajs ${packageVersion('kafkajs')}`,
    'kafkajs-each-message': `kafkajs ${packageVersion('kafkajs')} eachMessage`,
    platformatic: `platformatic ${packageVersion('@platformatic/kafka')}`,
  }[client] ??
  client;
const clientWidth = 22;
const acksName = (acks) => (acks === -1 ? 'all' : String(acks));
const integer = (n) => Math.round(n).toLocaleString('en');
const ms = (n) => n.toFixed(2);

/** A producer cell's rate: the median of its rounds (the one figure without ROUNDS). */
function medianRate(produced, client, size, acks) {
  return median(
    produced.filter((f) => f.client === client && f.size === size && f.acks === acks).map((f) => f.rate),
  );
}

/** The median of some rates; undefined for none. */
function median(values) {
  const rates = [...values].sort((a, b) => a - b);
  if (rates.length === 0) return undefined;
  const middle = Math.floor(rates.length / 2);
  return rates.length % 2 === 1 ? rates[middle] : (rates[middle - 1] + rates[middle]) / 2;
}

/** Throughput figures as markdown, one row per client, and the latency cells, for the README. */
function markdownTables(produced, consumed, latencies) {
  const cells = [100, 1024].flatMap((size) => [1, -1].map((acks) => ({ size, acks })));
  const sizeName = (size) => (size === 100 ? '100 B' : '1 KiB');
  const lines = [
    `| records/s | ${cells.map(({ size, acks }) => `${sizeName(size)} acks=${acksName(acks)}`).join(' | ')} | consume 1 KiB |`,
    `| --- | ${cells.map(() => '---:').join(' | ')} | ---: |`,
  ];
  for (const client of clients) {
    const row = cells.map(({ size, acks }) => {
      const rate = medianRate(produced, client, size, acks);
      return rate === undefined ? '' : integer(rate);
    });
    const consume = median(consumed.filter((f) => f.client === client).map((f) => f.rate));
    lines.push(
      `| ${label(client)} | ${row.join(' | ')} | ${consume === undefined ? '' : integer(consume)} |`,
    );
  }
  if (latencies.length > 0) {
    lines.push(
      '',
      `| produce latency, ${latencyValueBytes} B, acks=all, one send() per record | target/s | achieved/s | p50 ms | p99 ms | max ms |`,
      '| --- | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const { client, rate, achievedRate, p50Ms, p99Ms, maxMs } of latencies) {
      lines.push(
        `| ${label(client)} | ${integer(rate)} | ${integer(achievedRate)} | ${ms(p50Ms)} | ${ms(p99Ms)} | ${ms(maxMs)} |`,
      );
    }
  }
  return lines.join('\n');
}

async function main() {
  const workDir = mkdtempSync(join(tmpdir(), 'gregor-bench-client-'));
  const cluster = await BenchCluster.start({
    nodeCount: 3,
    properties: { 'num.partitions': String(partitions), 'default.replication.factor': '3' },
    readyTimeoutMs: 60_000,
  });
  const bootstrap = cluster.nodes.map((node) => node.address);
  try {
    await waitForCluster(bootstrap, 3, 60_000);
    const admin = new Kafka({ brokers: bootstrap, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    /** Each cell starts with all three nodes serving, on a fresh topic with three replicas. */
    const freshTopic = async (topic) => {
      // On a loaded machine a node can miss its heartbeats and be fenced for a while.
      await waitForCluster(bootstrap, 3, 120_000);
      await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 3 }] });
    };
    console.log(
      `three Gregor nodes, ${partitions} partitions per topic, replication factor 3${quick ? ' (quick)' : ''}; ` +
        `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}, ` +
        `load average ${loadavg()[0].toFixed(1)} at the start`,
    );
    console.log(
      `Node clients: sends of ${recordsPerSend} records, ${sendsInFlight} sends in flight; ` +
        `kcat: -P -l <file>, linger.ms=${kcatLingerMs}, batch.size=${kcatBatchBytes}, timed spawn to exit\n`,
    );
    console.log(`${'producer'.padEnd(clientWidth)}  value   acks   records/s        MB/s`);
    const produced = [];
    for (const size of parts.has('produce') ? [100, 1024] : []) {
      const sizeCells = [1, -1].filter((acks) => cellFilter?.includes(`${size}:${acks}`) ?? true);
      if (sizeCells.length === 0) continue;
      const records = values(recordsBySize[size], size);
      const file = clients.some((client) => kcats[client])
        ? recordFile(workDir, records.length, size)
        : undefined;
      for (const acks of sizeCells) {
        // With ROUNDS, each round runs every client once, so the clients alternate.
        for (let round = 1; round <= rounds; round++) {
          for (const client of clients.filter((name) => kcats[name] !== undefined || producers[name])) {
            const topic = `produce-${client}-${size}-${acksName(acks)}${rounds > 1 ? `-${round}` : ''}`;
            const cell = `${label(client).padEnd(clientWidth)} ${String(size).padStart(5)} B ${acksName(acks).padStart(6)}`;
            await freshTopic(topic);
            const costs = windowStats ? cellCosts(cluster) : undefined;
            let seconds;
            let costLine;
            try {
              if (kcats[client] !== undefined) {
                seconds = await kcatProduce(kcats[client], bootstrap, topic, file, acks);
                await checkStored(admin, topic, records.length);
              } else {
                seconds = await producers[client](bootstrap, topic, records, acks);
                costLine = costs?.();
                const sent = windowStats ? cellCosts(cluster) : undefined;
                const sentAt = performance.now();
                // Every row's figure is for records the topic then holds, the Node clients' too.
                await checkStored(admin, topic, records.length);
                if (sent !== undefined)
                  costLine += `\n    until stored (+${(performance.now() - sentAt).toFixed(0)} ms):${sent().slice(7)}`;
              }
            } catch (error) {
              console.log(`${cell}  failed: ${describeError(error)}`);
              continue;
            }
            const rate = records.length / seconds;
            produced.push({ client, size, acks, rate });
            console.log(
              `${cell} ${integer(rate).padStart(11)} ${((rate * size) / 1e6).toFixed(1).padStart(11)}`,
            );
            if (windowStats && kcats[client] === undefined && client !== 'gregor-stream') {
              const [{ partitions: layout }] = (await admin.fetchTopicMetadata({ topics: [topic] })).topics;
              const offsets = await admin.fetchTopicOffsets(topic);
              const spread = layout
                .sort((a, b) => a.partitionId - b.partitionId)
                .map(
                  ({ partitionId, leader }) =>
                    `p${partitionId}@${leader}:${offsets.find((o) => o.partition === partitionId)?.high}`,
                );
              console.log(
                `${describeWindows()}\n    partition@leader:records ${spread.join(' ')}\n${costLine}`,
              );
            }
          }
        }
      }
    }

    const consumeTopic = 'consume-1k';
    if (parts.has('consume')) {
      await freshTopic(consumeTopic);
      await producers['gregor-tuned'](bootstrap, consumeTopic, values(consumeRecords, 1024), -1);
      console.log(`\n${'consumer'.padEnd(clientWidth)}  value   records/s        MB/s`);
    }
    const consumed = [];
    // gregor-java16k and gregor-tuned are producer settings only: their consumer is gregor's.
    // With ROUNDS, each round runs every client once (each in a new group), so the clients alternate.
    for (let round = 1; round <= (parts.has('consume') ? rounds : 0); round++) {
      for (const client of clients.filter(
        (name) => kcats[name] !== undefined || consumers[name] !== undefined,
      )) {
        const cell = `${label(client).padEnd(clientWidth)} ${'1024'.padStart(5)} B`;
        let rate;
        try {
          if (kcats[client] !== undefined) {
            const { seconds, records } = await kcatConsume(
              kcats[client],
              bootstrap,
              consumeTopic,
              consumeRecords,
            );
            rate = records / seconds;
          } else {
            rate = consumeRecords / (await consumers[client](bootstrap, consumeTopic, consumeRecords));
          }
        } catch (error) {
          console.log(`${cell}  failed: ${describeError(error)}`);
          continue;
        }
        consumed.push({ client, rate });
        console.log(`${cell} ${integer(rate).padStart(11)} ${((rate * 1024) / 1e6).toFixed(1).padStart(11)}`);
      }
    }

    console.log(
      `\nproduce latency: ${latencyValueBytes} B records, acks=all, one send() per record, producer defaults, ` +
        `${latencySeconds} s per rate after ${latencyWarmUpSeconds} s of warm-up`,
    );
    console.log(
      `${'client'.padEnd(clientWidth)}  target/s  achieved/s  kept up    p50 ms    p99 ms    max ms`,
    );
    const latencies = [];
    for (const rate of parts.has('latency') ? latencyRates : []) {
      for (const client of latencyClients) {
        const cell = `${label(client).padEnd(clientWidth)} ${integer(rate).padStart(9)}`;
        const topic = `latency-${client}-${rate}`;
        await freshTopic(topic);
        let figures;
        try {
          figures = await latencyCell(client, bootstrap, topic, rate);
        } catch (error) {
          console.log(`${cell}  failed: ${describeError(error)}`);
          continue;
        }
        latencies.push({ client, rate, ...figures });
        const keptUp = figures.achievedRate >= rate * keptUpShare ? 'yes' : 'no';
        console.log(
          `${cell} ${integer(figures.achievedRate).padStart(11)} ${keptUp.padStart(8)} ${ms(figures.p50Ms).padStart(9)} ${ms(figures.p99Ms).padStart(9)} ${ms(figures.maxMs).padStart(9)}`,
        );
      }
    }

    console.log(
      `\nproducer throughput ratios${rounds > 1 ? ` (medians of ${rounds} rounds)` : ''} (aim: gregor >= 3x kafkajs and > 1x platformatic in every cell):`,
    );
    const rateOf = (client, size, acks) => medianRate(produced, client, size, acks);
    const references = ['kafkajs', 'platformatic', 'kcat', 'kcat-current'];
    for (const size of [100, 1024]) {
      for (const acks of [1, -1]) {
        for (const ours of ['gregor', 'gregor-java16k', 'gregor-tuned', 'gregor-stream']) {
          const rate = rateOf(ours, size, acks);
          if (rate === undefined) continue;
          const ratios = references
            .filter((reference) => rateOf(reference, size, acks) !== undefined)
            .map((reference) => `${ours}/${reference} ${(rate / rateOf(reference, size, acks)).toFixed(2)}x`);
          if (ratios.length === 0) continue;
          console.log(
            `  ${String(size).padStart(5)} B acks=${acksName(acks).padEnd(3)}  ${ratios.join(', ')}`,
          );
        }
      }
    }
    console.log(`\nload average ${loadavg()[0].toFixed(1)} at the end\n\nmarkdown:\n`);
    console.log(markdownTables(produced, consumed, latencies));
    await admin.disconnect();
  } finally {
    await cluster.close();
    rmSync(workDir, { recursive: true, force: true });
  }
}

await main();
process.exit(0);

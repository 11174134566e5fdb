#!/usr/bin/env node
// Gregor's own client against kafkajs 2.2.4 and @platformatic/kafka 1.x, in one run against the
// same three-node Gregor cluster (broker processes, replication factor 3, three partitions per
// topic). Prints figures, asserts nothing.
//
//   producer throughput  every client sends the same records the same way: sends of
//                        `recordsPerSend` records, `sendsInFlight` sends awaited together, no keys,
//                        no compression; 100-byte and 1 KiB values, acks=1 and acks=all (-1);
//                        records/s and MB/s of values, each cell on a fresh topic
//   consumer throughput  each client reads one 1 KiB topic from the beginning in a new group;
//                        timed from its first record to its last (group joining excluded)
//   gregor-stream        our streaming API: the same records piped through
//                        pipeline(Readable.from(records), producer.stream({ topic, acks })), and
//                        read with `for await (const batch of consumer.batches())`
//
// Usage: npm run bench:client   (builds first)
//        node scripts/bench-client.mjs [--quick]   (after npm run build; --quick: smaller runs)
//        CLIENTS=gregor,kafkajs node scripts/bench-client.mjs   (only those clients)

import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Kafka as KafkaJs, logLevel as kafkajsLogLevel } from 'kafkajs';
import { Kafka, logLevel } from '../packages/client/dist/index.js';
import { BenchCluster } from './lib/bench-cluster.mjs';
import { waitForCluster } from './lib/kafka-probe.mjs';

const quick = process.argv.includes('--quick');
const recordsBySize = quick ? { 100: 30_000, 1024: 10_000 } : { 100: 200_000, 1024: 50_000 };
const consumeRecords = quick ? 10_000 : 50_000;
const recordsPerSend = 100;
const sendsInFlight = 20;
const partitions = 3;

let platformatic;
try {
  platformatic = await import('@platformatic/kafka');
} catch (error) {
  console.log(`@platformatic/kafka not loadable (${error.message}): its rows are skipped`);
}

function values(count, bytes) {
  // A pool of random values, reused: the clients pay for sending, not for making records.
  const pool = Array.from({ length: 1_000 }, () => randomBytes(bytes));
  return Array.from({ length: count }, (_, index) => pool[index % pool.length]);
}

async function timedSends(records, sendOne) {
  const started = performance.now();
  for (let start = 0; start < records.length; start += recordsPerSend * sendsInFlight) {
    const window = [];
    for (let send = 0; send < sendsInFlight; send++) {
      const from = start + send * recordsPerSend;
      if (from >= records.length) break;
      window.push(sendOne(records.slice(from, from + recordsPerSend)));
    }
    await Promise.all(window);
  }
  return (performance.now() - started) / 1000;
}

const producers = {
  async gregor(bootstrap, topic, records, acks) {
    const kafka = new Kafka({ brokers: bootstrap, logLevel: logLevel.NOTHING });
    // The windows are awaited whole, so lingering would only delay each window's last batches; the
    // records of one window are batched together anyway (they are appended before the sender runs).
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
    // while lingerMs (the default 5 ms) holds them.
    const producer = kafka.producer({ batchSize: 256 * 1024 });
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

const consumers = {
  async gregor(bootstrap, topic, count) {
    const kafka = new Kafka({ brokers: bootstrap, logLevel: logLevel.NOTHING });
    const consumer = kafka.consumer({ groupId: `bench-gregor-${Date.now()}`, maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const seconds = await new Promise((resolve) => {
      let seen = 0;
      let first = 0;
      consumer.run({
        eachBatch: async ({ batch }) => {
          if (seen === 0) first = performance.now();
          seen += batch.messages.length;
          if (seen >= count) resolve((performance.now() - first) / 1000);
        },
      });
    });
    await consumer.disconnect();
    return seconds;
  },
  async 'gregor-stream'(bootstrap, topic, count) {
    const kafka = new Kafka({ brokers: bootstrap, logLevel: logLevel.NOTHING });
    const consumer = kafka.consumer({ groupId: `bench-gregor-stream-${Date.now()}`, maxWaitTimeInMs: 100 });
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
  async kafkajs(bootstrap, topic, count) {
    const kafka = new KafkaJs({ brokers: bootstrap, logLevel: kafkajsLogLevel.NOTHING });
    const consumer = kafka.consumer({ groupId: `bench-kafkajs-${Date.now()}`, maxWaitTimeInMs: 100 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const seconds = await new Promise((resolve) => {
      let seen = 0;
      let first = 0;
      consumer.run({
        eachBatch: async ({ batch }) => {
          if (seen === 0) first = performance.now();
          seen += batch.messages.length;
          if (seen >= count) resolve((performance.now() - first) / 1000);
        },
      });
    });
    await consumer.disconnect();
    return seconds;
  },
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

/** The innermost cause of a client's failure: its protocol error where it has one. */
function describeError(error) {
  let inner = error;
  while (inner?.errors?.length > 0) inner = inner.errors[0];
  return `${error.message}${inner !== error ? ` (${inner.message})` : ''}`;
}

const clients = process.env.CLIENTS?.split(',') ?? [
  'gregor',
  'gregor-stream',
  'kafkajs',
  ...(platformatic ? ['platformatic'] : []),
];

async function main() {
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
    console.log(
      `three Gregor nodes, ${partitions} partitions per topic, replication factor 3${quick ? ' (quick)' : ''}`,
    );
    console.log(`sends of ${recordsPerSend} records, ${sendsInFlight} sends in flight\n`);
    console.log('producer        value   acks   records/s        MB/s');
    const figures = [];
    for (const size of [100, 1024]) {
      const records = values(recordsBySize[size], size);
      for (const acks of [1, -1]) {
        for (const client of clients) {
          const topic = `produce-${client}-${size}-${acks === -1 ? 'all' : acks}`;
          // On a loaded machine a node can miss its heartbeats and be fenced for a while: each cell
          // starts with all three serving, so every topic gets three replicas.
          await waitForCluster(bootstrap, 3, 120_000);
          await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 3 }] });
          let seconds;
          try {
            seconds = await producers[client](bootstrap, topic, records, acks);
          } catch (error) {
            console.log(
              `${client.padEnd(14)} ${String(size).padStart(5)} B ${String(acks === -1 ? 'all' : acks).padStart(6)}  failed: ${describeError(error)}`,
            );
            continue;
          }
          const rate = records.length / seconds;
          figures.push({ client, size, acks, rate });
          console.log(
            `${client.padEnd(14)} ${String(size).padStart(5)} B ${String(acks === -1 ? 'all' : acks).padStart(6)} ${Math.round(rate).toLocaleString('en').padStart(11)} ${((rate * size) / 1e6).toFixed(1).padStart(11)}`,
          );
        }
      }
    }
    const consumeTopic = 'consume-1k';
    await waitForCluster(bootstrap, 3, 120_000);
    await admin.createTopics({
      topics: [{ topic: consumeTopic, numPartitions: partitions, replicationFactor: 3 }],
    });
    await producers.gregor(bootstrap, consumeTopic, values(consumeRecords, 1024), -1);
    console.log('\nconsumer        value   records/s        MB/s');
    for (const client of clients) {
      const seconds = await consumers[client](bootstrap, consumeTopic, consumeRecords);
      const rate = consumeRecords / seconds;
      console.log(
        `${client.padEnd(14)} ${'1024'.padStart(5)} B ${Math.round(rate).toLocaleString('en').padStart(11)} ${((rate * 1024) / 1e6).toFixed(1).padStart(11)}`,
      );
    }
    console.log('\nproducer throughput relative to kafkajs:');
    for (const { client, size, acks, rate } of figures) {
      if (client === 'kafkajs') continue;
      const base = figures.find((f) => f.client === 'kafkajs' && f.size === size && f.acks === acks)?.rate;
      if (base === undefined) continue;
      console.log(
        `  ${client.padEnd(14)} ${String(size).padStart(5)} B acks=${acks === -1 ? 'all' : acks}: ${(rate / base).toFixed(2)}x`,
      );
    }
    await admin.disconnect();
  } finally {
    await cluster.close();
  }
}

await main();
process.exit(0);

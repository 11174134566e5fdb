#!/usr/bin/env node
// Many partitions on one broker: how long 20,000 partitions (replication factor 1) take to create,
// to come back after a clean restart (SIGTERM) and after kill -9, and what the broker holds while it
// serves them: open file descriptors (/proc/<pid>/fd) and resident memory (VmRSS, VmHWM). Figures,
// not a test: it prints a table and asserts nothing beyond the data being readable.
//
//   create    CreateTopics for topics of 10,000 partitions (the controller's per-topic cap) until
//             every sampled partition takes a Produce
//   restart   process start until every sampled partition serves its records again
//
// Usage: npm run bench:partitions
//        BENCH_PARTITIONS=20000 BENCH_SAMPLE=200 node scripts/bench-partitions.mjs

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiKey, decodeRecordBatch, encodeRecordBatch } from '../packages/protocol/dist/index.js';
import { BenchCluster } from './lib/bench-cluster.mjs';
import { openConnection } from './lib/bench-producer.mjs';

const partitionCount = Number(process.env.BENCH_PARTITIONS ?? 20_000);
const sampleCount = Number(process.env.BENCH_SAMPLE ?? 200);
/** The controller's partitionsPerTopicMax. */
const partitionsPerTopic = 10_000;
const requestTimeoutMs = 120_000;
const convergeTimeoutMs = 600_000;

const topics = [];
for (let first = 0; first < partitionCount; first += partitionsPerTopic) {
  topics.push({
    name: `many-${topics.length}`,
    partitions: Math.min(partitionsPerTopic, partitionCount - first),
  });
}
/** Partitions spread over the whole range, first and last of each topic included. */
const sample = [];
for (let i = 0; i < sampleCount; i++) {
  const global = Math.min(
    partitionCount - 1,
    Math.round((i * (partitionCount - 1)) / Math.max(1, sampleCount - 1)),
  );
  sample.push({
    topic: topics[Math.floor(global / partitionsPerTopic)].name,
    index: global % partitionsPerTopic,
  });
}

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

function processFigures(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  // utime and stime, in clock ticks (100 per second on Linux), after the command name in parentheses.
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return {
    fds: readdirSync(`/proc/${pid}/fd`).length,
    rssMiB: kib('VmRSS') / 1024,
    hwmMiB: kib('VmHWM') / 1024,
    cpuSeconds: (Number(stat[11]) + Number(stat[12])) / 100,
  };
}

async function produceOne(connection, { topic, index }, value) {
  const records = encodeRecordBatch({
    records: [{ key: null, value: Buffer.from(value), timestamp: Date.now() }],
  });
  const response = await connection.call(
    ApiKey.Produce,
    7,
    {
      transactionalId: null,
      acks: 1,
      timeoutMs: 10_000,
      topics: [{ name: topic, partitions: [{ partitionIndex: index, records }] }],
    },
    requestTimeoutMs,
  );
  return response.responses[0].partitions[0].errorCode;
}

async function fetchValues(connection, { topic, index }) {
  const response = await connection.call(
    ApiKey.Fetch,
    4,
    {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 1 << 20,
      isolationLevel: 0,
      topics: [{ topic, partitions: [{ partition: index, fetchOffset: 0n, partitionMaxBytes: 1 << 20 }] }],
    },
    requestTimeoutMs,
  );
  const data = response.responses[0].partitions[0];
  if (data.errorCode !== 0) return { errorCode: data.errorCode, values: [] };
  const values = [];
  const bytes = data.records ?? Buffer.alloc(0);
  for (let at = 0; at + 61 <= bytes.length; ) {
    const size = bytes.readInt32BE(at + 8) + 12;
    for (const record of decodeRecordBatch(bytes, at).records) values.push(record.value?.toString());
    at += size;
  }
  return { errorCode: 0, values };
}

/** Polls until every sampled partition answers `check` with true. */
async function untilSample(address, check) {
  const deadline = Date.now() + convergeTimeoutMs;
  let pending = [...sample];
  let connection = await openConnection(address);
  while (pending.length > 0) {
    if (Date.now() > deadline) throw new Error(`${pending.length} sampled partitions not ready`);
    const still = [];
    for (const partition of pending) {
      try {
        if (!(await check(connection, partition))) still.push(partition);
      } catch {
        still.push(partition);
        connection.close();
        connection = await openConnection(address);
      }
    }
    pending = still;
    if (pending.length > 0) await sleep(200);
  }
  connection.close();
}

const recordValue = ({ topic, index }) => `${topic}/${index}`;

const cluster = await BenchCluster.start({ nodeCount: 1, readyTimeoutMs: convergeTimeoutMs });
const node = cluster.node(1);
try {
  const idle = processFigures(node.child.pid);
  console.log(
    `broker up: ${idle.fds} fds, ${idle.rssMiB.toFixed(0)} MiB RSS; creating ${partitionCount} partitions`,
  );

  const createStarted = performance.now();
  const admin = await openConnection(node.address);
  for (const topic of topics) {
    const response = await admin.call(
      ApiKey.CreateTopics,
      3,
      {
        topics: [
          {
            name: topic.name,
            numPartitions: topic.partitions,
            replicationFactor: 1,
            assignments: [],
            configs: [],
          },
        ],
        timeoutMs: 60_000,
        validateOnly: false,
      },
      requestTimeoutMs,
    );
    const errorCode = response.topics[0].errorCode;
    if (errorCode !== 0 && errorCode !== 7 /* REQUEST_TIMED_OUT: created, still being applied */)
      throw new Error(`CreateTopics ${topic.name}: error ${errorCode} ${response.topics[0].errorMessage}`);
  }
  admin.close();
  const partitionDirs = () =>
    readdirSync(join(node.dataDir, 'logs')).filter((name) => /^many-\d+-\d+$/.test(name)).length;
  while (partitionDirs() < partitionCount) await sleep(200);
  await untilSample(
    node.address,
    async (connection, partition) => (await produceOne(connection, partition, recordValue(partition))) === 0,
  );
  const createSeconds = (performance.now() - createStarted) / 1000;
  const created = processFigures(node.child.pid);

  const rows = [
    [
      `create ${partitionCount} partitions → every sampled one takes a Produce`,
      createSeconds,
      created,
      created.cpuSeconds - idle.cpuSeconds,
    ],
  ];
  for (const how of ['clean', 'kill -9']) {
    if (how === 'clean') {
      const exited = new Promise((done) => node.child.once('exit', done));
      node.child.kill('SIGTERM');
      await exited;
      node.child = undefined;
    } else {
      await cluster.kill(1);
    }
    const started = performance.now();
    await cluster.restart(1);
    await cluster.waitReady(convergeTimeoutMs);
    await untilSample(node.address, async (connection, partition) => {
      const { errorCode, values } = await fetchValues(connection, partition);
      return errorCode === 0 && values[0] === recordValue(partition);
    });
    const figures = processFigures(node.child.pid);
    rows.push([
      `restart after ${how === 'clean' ? 'SIGTERM' : 'kill -9'} → every sampled one serves its record`,
      (performance.now() - started) / 1000,
      figures,
      figures.cpuSeconds,
    ]);
  }

  console.log(
    `\n${partitionCount} partitions, replication factor 1, one broker; ${sampleCount} sampled partitions`,
  );
  console.log('| step | seconds | broker CPU s | open fds | RSS MiB | peak RSS MiB |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  console.log(
    `| idle broker, no topic | | | ${idle.fds} | ${idle.rssMiB.toFixed(0)} | ${idle.hwmMiB.toFixed(0)} |`,
  );
  for (const [label, seconds, figures, cpuSeconds] of rows) {
    console.log(
      `| ${label} | ${seconds.toFixed(1)} | ${cpuSeconds.toFixed(1)} | ${figures.fds} | ${figures.rssMiB.toFixed(0)} | ${figures.hwmMiB.toFixed(0)} |`,
    );
  }
  const limits = /Max open files\s+(\d+)\s+(\d+)/.exec(
    readFileSync(`/proc/${node.child.pid}/limits`, 'utf8'),
  );
  console.log(
    `\nbroker nofile limit ${limits?.[1]} (hard ${limits?.[2]}); storage keeps at most half of it open`,
  );
} finally {
  await cluster.close();
}
